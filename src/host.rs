//! The imperative shell: everything that touches a host or a process. Nothing outside this folder (and
//! `cli.rs`, which wires it up) may import it: the core from profile to plan stays pure (ARCHITECTURE.md).

pub mod connections;
pub mod engine;
pub mod exec;
pub mod fault;
pub mod fleet;
pub mod hosts;
pub mod jump;
pub mod known_hosts;
pub mod progress;
pub mod session;
pub mod ssh;
pub mod transport;
pub mod trust;
pub mod tunnel;
pub mod validate;
pub mod workspace;
