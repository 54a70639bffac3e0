//! Support code shared by the integration tests (`mod support;` in each test crate).
//!
//! `test_host` starts real OpenSSH servers, each in a private mount namespace with
//! copy-on-write `/etc`, `/home`, `/root` and `/var`, so tests can let `jprov` configure
//! "hosts" for real without touching the machine. `prereq` says what a missing prerequisite does (fail
//! under tests/run.sh, else skip) and gives every test the test venv's Python.

#![allow(dead_code)]

pub mod cut_proxy;
pub mod prereq;
pub mod setup;
pub mod test_host;

#[allow(unused_imports)]
pub use test_host::TestHost;

use std::path::PathBuf;

/// The `jprov` binary Cargo built for this integration-test run.
pub fn jprov_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jprov"))
}

/// Templates whose sshd drop-in is the real one with `DenyUsers admin` in front: valid for `sshd -t`, but it
/// locks the admin out. Returns the directory for `JPROV_TEMPLATE_DIR`.
pub fn lockout_templates(dir: &std::path::Path) -> PathBuf {
    let templates = dir.join("lockout-templates");
    std::fs::create_dir_all(&templates).unwrap();
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/sshd_dropin.conf.j2"
    ))
    .unwrap();
    std::fs::write(
        templates.join("sshd_dropin.conf.j2"),
        format!("DenyUsers admin\n{real}"),
    )
    .unwrap();
    templates
}
