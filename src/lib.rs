//! jprov: provision secure remote access to Jupyter from one YAML profile.
//! See ARCHITECTURE.md for the code map.

pub mod password;
pub mod render;

use std::process::ExitCode;

pub fn run() -> ExitCode {
    ExitCode::SUCCESS
}
