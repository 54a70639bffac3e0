//! Hashes made by jprov must be accepted by the real jupyter_server (`passwd_check`), and hashes
//! made by jupyter_server must be accepted by jprov.
//!
//! Runs the test venv's Python (`JPROV_TEST_PYTHON`, made by tests/run.sh; never python3) with
//! jupyter_server 2.x. Missing it is a failure, not a skip.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use jprov::password::{hash_password, looks_like_hash, verify_password, HashScheme};

const UNICODE_PASSWORD: &str = "łe¶ŧ←↓→";

/// Exit status of the Python snippets when jupyter_server cannot be imported.
const NO_JUPYTER: i32 = 3;

const IMPORT: &str = r#"
import os, sys
try:
    from jupyter_server.auth.security import passwd, passwd_check
except Exception as e:
    print(f"cannot import jupyter_server.auth.security: {e!r}", file=sys.stderr)
    sys.exit(3)
"#;

/// Run a Python snippet (after the import preamble) with `env` and `stdin`; return
/// (exit code, stdout). Panics with setup instructions when Python or jupyter_server is missing.
fn run_python(snippet: &str, env: &[(&str, &str)], stdin: &str) -> (i32, String) {
    let py = support::prereq::python(&["jupyter_server"]);
    let mut cmd = Command::new(&py);
    cmd.arg("-c")
        .arg(format!("{IMPORT}{snippet}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the test venv's Python `{py}` ({e})"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code != NO_JUPYTER,
        "the test venv's Python `{py}` cannot import jupyter_server.auth.security: {stderr}"
    );
    assert!(
        code == 0 || code == 1,
        "`{py}` failed with status {code}: {stderr}"
    );
    (code, String::from_utf8(out.stdout).unwrap())
}

/// What the real `jupyter_server.auth.security.passwd_check` says. The hash comes in through
/// the environment and the password through stdin, both as UTF-8 bytes (never argv).
fn jupyter_accepts(hash: &str, password: &str) -> bool {
    let snippet = r#"
h = os.environb[b"JPROV_TEST_HASH"].decode("utf-8")
p = sys.stdin.buffer.read().decode("utf-8")
sys.exit(0 if passwd_check(h, p) is True else 1)
"#;
    run_python(snippet, &[("JPROV_TEST_HASH", hash)], password).0 == 0
}

/// A hash made by the real `jupyter_server.auth.security.passwd`.
fn jupyter_hash(password: &str, algorithm: &str) -> String {
    let snippet = r#"
p = sys.stdin.buffer.read().decode("utf-8")
sys.stdout.write(passwd(p, os.environ["JPROV_TEST_ALGORITHM"]))
"#;
    let (code, out) = run_python(snippet, &[("JPROV_TEST_ALGORITHM", algorithm)], password);
    assert_eq!(code, 0);
    out
}

#[test]
fn jupyter_accepts_our_argon2_hashes() {
    for pw in ["mypassword", UNICODE_PASSWORD] {
        let h = hash_password(pw, HashScheme::Argon2).unwrap();
        assert!(jupyter_accepts(&h, pw), "jupyter_server rejected {h}");
        assert!(
            !jupyter_accepts(&h, "wrong password"),
            "jupyter_server accepted {h} for a wrong password"
        );
    }
}

#[test]
fn jupyter_accepts_our_sha1_hashes() {
    for pw in ["mypassword", UNICODE_PASSWORD] {
        let h = hash_password(pw, HashScheme::Sha1).unwrap();
        assert!(jupyter_accepts(&h, pw), "jupyter_server rejected {h}");
        assert!(
            !jupyter_accepts(&h, "wrong password"),
            "jupyter_server accepted {h} for a wrong password"
        );
    }
}

#[test]
fn the_check_itself_tells_right_from_wrong() {
    // Guards the harness: a known vector passes, its neighbour does not.
    let h = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
    assert!(jupyter_accepts(h, "mypassword"));
    assert!(!jupyter_accepts(h, "mypassworD"));
}

#[test]
fn we_accept_jupyters_hashes() {
    for algorithm in ["argon2", "sha1"] {
        let h = jupyter_hash(UNICODE_PASSWORD, algorithm);
        assert!(
            h.starts_with(&format!("{algorithm}:")),
            "unexpected hash from jupyter_server: {h}"
        );
        assert!(looks_like_hash(&h), "looks_like_hash rejected {h}");
        assert!(verify_password(&h, UNICODE_PASSWORD).unwrap(), "{h}");
        assert!(!verify_password(&h, "wrong password").unwrap(), "{h}");
    }
}
