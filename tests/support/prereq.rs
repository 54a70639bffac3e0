//! What the tests need from the machine, and what happens when it is missing.
//!
//! `tests/run.sh` installs every prerequisite (Debian packages, the Python venv) and exports
//! `JPROV_TEST_REQUIRE_ALL=1`: under it a missing prerequisite fails the test, so a skip can never pass
//! for a pass. Run by hand without it (`cargo test --test offline`, or as a user without root), a test
//! whose prerequisite is missing prints `skipped: WHY` and returns.
//!
//! Python is stricter still: every test that runs Python runs the venv `tests/run.sh` creates
//! (`target/test-venv`, named by `JPROV_TEST_PYTHON`), never the system `python3`, and fails without it.

use std::process::Command;
use std::sync::Mutex;

/// Set by tests/run.sh: every prerequisite was installed, nothing may be skipped.
pub const REQUIRE_ALL: &str = "JPROV_TEST_REQUIRE_ALL";

/// The test venv's interpreter, exported by tests/run.sh.
pub const PYTHON: &str = "JPROV_TEST_PYTHON";

/// Whether this run must not skip anything (tests/run.sh).
pub fn all_required() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A test cannot run here because `why`. Under tests/run.sh that is a failure (panics); otherwise prints
/// `skipped: WHY` to stderr and returns, and the caller returns too.
pub fn skip(why: &str) {
    if all_required() {
        panic!(
            "{why}.\n{REQUIRE_ALL} is set (tests/run.sh installs every prerequisite): a test that cannot \
             run fails instead of being skipped"
        );
    }
    eprintln!("skipped: {why}");
}

/// The test venv's Python, checked to import every module in `modules`. Panics (naming tests/run.sh)
/// when `JPROV_TEST_PYTHON` is unset or the interpreter lacks a module: never falls back to python3.
pub fn python(modules: &[&str]) -> String {
    static CHECKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let setup =
        "bash tests/run.sh creates the venv target/test-venv (jupyter_server, ipykernel, tornado, \
                 jupyterlab, jupyter-collaboration, pycrdt from PyPI) and exports JPROV_TEST_PYTHON; to run a single test by hand: \
                 JPROV_TEST_PYTHON=$PWD/target/test-venv/bin/python cargo test --test NAME";
    let python = match std::env::var(PYTHON) {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "{PYTHON} is not set: this test runs the test venv's Python, never python3. {setup}"
        ),
    };
    let import = format!("import {}", modules.join(", "));
    let key = format!("{python}\n{import}");
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if !checked.contains(&key) {
        let out = Command::new(&python)
            .args(["-c", &import])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON}={python} ({e}). {setup}"));
        assert!(
            out.status.success(),
            "{PYTHON}={python} cannot `{import}`: {}\n{setup}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        checked.push(key);
    }
    python
}
