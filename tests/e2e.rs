//! End-to-end tests in the lab of tests/lab (real booted Debian hosts in network
//! namespaces, real ACME). Needs root; skips itself otherwise. See tests/lab/README.md.
//!
//! Today: bring a lab up, prove it with tests/lab/selftest.sh, always bring it down.
//! Later: `jprov apply` from the ctl namespace + tests/lab/laptop_check.py from the laptop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/lab.sh");
const SELFTEST_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/selftest.sh");

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Returns why the e2e tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if std::env::var_os("JPROV_SKIP_E2E").is_some() {
        return Some("JPROV_SKIP_E2E is set".into());
    }
    if !cfg!(target_os = "linux") {
        return Some("e2e lab needs Linux".into());
    }
    if !is_root() {
        return Some(
            "e2e lab needs root (network namespaces, overlay mounts, systemd-nspawn); \
             run as root: cargo test --test e2e"
                .into(),
        );
    }
    None
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A running lab. `lab.sh down` runs on drop, whatever happened (also after a failed `up`).
/// When the test failed, DIR (logs, keys, env) is kept and its path printed.
struct Lab {
    name: String,
    dir: Option<tempfile::TempDir>,
}

impl Lab {
    fn up(name: &str) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix(&format!("jprov-{name}-"))
            .tempdir()
            .expect("temp dir");
        let lab = Lab {
            name: name.to_string(),
            dir: Some(dir),
        };
        let t0 = std::time::Instant::now();
        let out = lab.lab(&["up", lab.path().to_str().unwrap()]);
        assert!(out.status.success(), "{}", show("lab.sh up", &out));
        eprintln!(
            "lab {name} up in {:.1} s at {}",
            t0.elapsed().as_secs_f64(),
            lab.path().display()
        );
        lab
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    fn lab(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(LAB_SH)
            .args(args)
            .env("LAB_NAME", &self.name)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run lab.sh")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let dir: PathBuf = self.path().to_path_buf();
        let out = self.lab(&["down", dir.to_str().unwrap()]);
        let down_ok = out.status.success();
        if !down_ok {
            eprintln!("{}", show("lab.sh down", &out));
        }
        let d = self.dir.take().unwrap();
        if std::thread::panicking() || !down_ok {
            // Keep logs for the post-mortem; never delete through a mount that is still there.
            eprintln!("lab directory kept: {}", d.keep().display());
        }
    }
}

#[test]
fn lab_selftest() {
    if let Some(why) = skip_reason() {
        println!("skipped: {why}");
        return;
    }
    let lab = Lab::up("jpe2e");
    let out = Command::new("bash")
        .arg(SELFTEST_SH)
        .arg(lab.path())
        .env("LAB_NAME", &lab.name)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run selftest.sh");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", show("selftest.sh", &out));
}
