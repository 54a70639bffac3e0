//! jprov: provision secure remote access to Jupyter from one YAML profile.
//! See ARCHITECTURE.md for the code map.

pub mod apply;
pub mod cli;
pub mod desired;
pub mod destroy;
pub mod diff;
pub mod engine;
pub mod facts;
pub mod known_hosts;
pub mod layout;
pub mod password;
pub mod plan;
pub mod profile;
pub mod render;
pub mod resource;
pub mod saved_plan;
pub mod ssh;
pub mod transport;
pub mod trust;
pub mod tunnel;
pub mod value;

pub fn run() -> std::process::ExitCode {
    cli::main()
}
