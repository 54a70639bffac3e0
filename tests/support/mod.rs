//! Support code shared by the integration tests (`mod support;` in each test crate).
//!
//! `test_host` starts real OpenSSH servers, each in a private mount namespace with
//! copy-on-write `/etc`, `/home`, `/root` and `/var`, so tests can let `jprov` configure
//! "hosts" for real without touching the machine.

#![allow(dead_code)]

pub mod setup;
pub mod test_host;

#[allow(unused_imports)]
pub use test_host::TestHost;

use std::path::PathBuf;

/// The `jprov` binary Cargo built for this integration-test run.
pub fn jprov_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jprov"))
}
