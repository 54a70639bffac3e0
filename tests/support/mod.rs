//! Support code shared by the integration tests (`mod support;` in each test crate).
//!
//! `test_host` starts real OpenSSH servers, each in a private mount namespace with
//! copy-on-write `/etc`, `/home`, `/root` and `/var`, so tests can let `jprov` configure
//! "hosts" for real without touching the machine. `prereq` says what a missing prerequisite does (fail
//! under tests/run.sh, else skip) and gives every test the test venv's Python.
//!
//! The builders: `test::Test` runs the binary without hosts; `setup::Setup` makes a server and a workstation
//! and its `Step`s run jprov against them (an apply or destroy step re-plans and requires an empty plan).
//! Both check through `expect` (exit status, exact/contained output after `Normalize`), `golden` keeps
//! expected outputs in tests/golden/, and `profiles` builds test profiles as `jprov::profile::Profile`
//! values.

#![allow(dead_code)]

pub mod cut_proxy;
pub mod expect;
pub mod golden;
pub mod ngrok_schema;
pub mod prereq;
pub mod profiles;
pub mod setup;
pub mod step;
pub mod test;
pub mod test_host;

#[allow(unused_imports)]
pub use test_host::TestHost;

use std::path::PathBuf;

/// ARGS with `--yes` after `apply` or `destroy`: the tests' own runs are approved, never prompted (they
/// have no terminal, where jprov would refuse). The prompt itself is tested on a real terminal
/// (tests/hosts.rs, `apply_and_destroy_ask_on_a_terminal_and_refuse_without_one`).
#[allow(dead_code)]
pub fn approved<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    if matches!(args.first(), Some(&"apply" | &"destroy")) && !args.contains(&"--yes") {
        args.insert(1, "--yes");
    }
    args
}

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
