//! End-to-end tests in the lab of tests/lab (real booted Debian hosts in network
//! namespaces, real ACME). Needs root; skips itself otherwise. See tests/lab/README.md.
//!
//! Today: bring a lab up, prove it with tests/lab/selftest.sh, always bring it down.
//! Later: `jprov apply` from the ctl namespace + tests/lab/laptop_check.py from the laptop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/lab.sh");
const SELFTEST_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/selftest.sh");
const LAPTOP_CHECK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/laptop_check.py");
const LAPTOP_CHECK_LOCAL_SH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/lab/laptop_check_local.sh"
);

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

    /// A value from DIR/env (e.g. "LAB_SSH_KEY", "LAB_NS_CTL", "LAB_KNOWN_HOSTS").
    fn env(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.path().join("env")).expect("DIR/env");
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| {
                v.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('\'')
                    .to_string()
            })
            .unwrap_or_else(|| panic!("{key} not in DIR/env"))
    }

    /// A command running in one of the lab's hosts: server|workstation (as root, nsenter)
    /// or acme|laptop|ctl (ip netns exec, with the lab's /etc/hosts).
    fn cmd_in(&self, host: &str, program: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(LAB_SH)
            .args(["exec", host, program])
            .env("LAB_NAME", &self.name)
            .env("LAB_DIR", self.path())
            .stdin(std::process::Stdio::null());
        c
    }

    /// laptop_check.py from the laptop against URL, trusting pebble's current root.
    fn laptop_check(&self, url: &str, password: &str) -> Output {
        let out = self.lab(&["acme-root", self.path().to_str().unwrap()]);
        assert!(out.status.success(), "{}", show("lab.sh acme-root", &out));
        let root = self.path().join("acme-root.pem");
        self.cmd_in("laptop", "python3")
            .arg(LAPTOP_CHECK_PY)
            .args(["--url", url, "--password", password, "--cafile"])
            .arg(root)
            .output()
            .expect("run laptop_check.py")
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

    // The helpers later jprov tests use: selftest left a reverse tunnel on :8888.
    assert_eq!(lab.env("LAB_JUPYTER_NAME"), "jupyter.lab");
    let st = lab
        .cmd_in("server", "systemctl")
        .arg("is-system-running")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "running");
    let out = lab.laptop_check("https://jupyter.lab:8888/", "mypassword");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", show("laptop_check.py", &out));
}

/// The checker itself: passes against a local jupyter_server, fails at the right step with a
/// wrong CA, a wrong password, and behind a proxy that breaks websockets. No root needed.
#[test]
fn laptop_check_proves_itself() {
    if std::env::var_os("JPROV_SKIP_E2E").is_some() {
        println!("skipped: JPROV_SKIP_E2E is set");
        return;
    }
    let have = Command::new("python3")
        .args(["-c", "import jupyter_server, ipykernel, tornado"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        println!("skipped: python3 lacks jupyter_server/ipykernel/tornado");
        return;
    }
    let out = Command::new("bash")
        .arg(LAPTOP_CHECK_LOCAL_SH)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run laptop_check_local.sh");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}",
        show("laptop_check_local.sh", &out)
    );
}
