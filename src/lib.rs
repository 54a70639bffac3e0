//! jprov: provision secure remote access to Jupyter from one YAML profile.
//! See ARCHITECTURE.md for the code map.

pub mod argv;
pub mod cli;
pub mod desired;
pub mod diff;
pub mod error;
pub mod facts;
pub mod host;
pub mod init;
pub mod layout;
pub mod lint;
pub mod password;
pub mod plan;
pub mod profile;
pub mod protocol;
pub mod render;
pub mod resource;
pub mod saved_plan;
pub mod script;
pub mod value;
pub mod verify;

pub fn run() -> std::process::ExitCode {
    cli::main()
}
