//! End-to-end tests in the lab of tests/lab (real booted Debian hosts in network
//! namespaces, real ACME). Needs root: without it they fail under tests/run.sh and say `skipped`
//! otherwise (`support::prereq`). Python is the test venv's. See tests/lab/README.md.
//!
//! `lab_selftest` proves the lab with tests/lab/selftest.sh. The jprov tests each get a fresh lab
//! (one lab at a time: LAB_LOCK), run `jprov plan`/`apply` from the ctl namespace (the tunnel and
//! Jupyter become systemd services), run tests/lab/laptop_check.py from the laptop, then break things
//! (kill the tunnel, restart sshd, renew the certificate, change the config) and check the laptop again;
//! a third proves the lockout guard on a booted systemd server. The lab always comes down (Drop).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/lab.sh");
const SELFTEST_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/selftest.sh");
const LAPTOP_CHECK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/laptop_check.py");
const COLLAB_CHECK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/collab_check.py");
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

/// Whether the lab can run here. When it cannot: fails under tests/run.sh (`prereq::skip`), else
/// prints `skipped: WHY` and the test returns. `JPROV_SKIP_E2E=1` asks for the skip, and is refused
/// under tests/run.sh like any other.
fn lab_can_run() -> bool {
    let why = if std::env::var_os("JPROV_SKIP_E2E").is_some() {
        "JPROV_SKIP_E2E is set"
    } else if !cfg!(target_os = "linux") {
        "the e2e lab needs Linux"
    } else if !is_root() {
        "the e2e lab needs root (network namespaces, overlay mounts, systemd-nspawn); \
         run as root: cargo test --test e2e"
    } else {
        return true;
    };
    support::prereq::skip(why);
    false
}

/// The test venv's Python with what laptop_check.py imports (tornado comes with jupyter_server).
fn laptop_python() -> String {
    support::prereq::python(&["tornado", "jupyter_server", "ipykernel"])
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
        self.laptop_check_with(url, password, &[])
    }

    /// `laptop_check` with more of laptop_check.py's options (`--basic-auth-file FILE`).
    fn laptop_check_with(&self, url: &str, password: &str, options: &[&str]) -> Output {
        let out = self.lab(&["acme-root", self.path().to_str().unwrap()]);
        assert!(out.status.success(), "{}", show("lab.sh acme-root", &out));
        let root = self.path().join("acme-root.pem");
        self.cmd_in("laptop", &laptop_python())
            .arg(LAPTOP_CHECK_PY)
            .args(["--url", url, "--password", password, "--cafile"])
            .arg(root)
            .args(options)
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
    if !lab_can_run() {
        return;
    }
    let python = laptop_python();
    let _turn = one_lab_at_a_time();
    let lab = Lab::up("jpe2e");
    let out = Command::new("bash")
        .arg(SELFTEST_SH)
        .arg(lab.path())
        .env("LAB_NAME", &lab.name)
        .env(support::prereq::PYTHON, &python)
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
        support::prereq::skip("JPROV_SKIP_E2E is set");
        return;
    }
    let python = laptop_python();
    let out = Command::new("bash")
        .arg(LAPTOP_CHECK_LOCAL_SH)
        .env(support::prereq::PYTHON, &python)
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

// ---------------------------------------------------------------------------------------------
// jprov in the lab: a laptop runs code in a kernel through what jprov set up.
// ---------------------------------------------------------------------------------------------

/// One lab at a time: each boots two systemd hosts, and the machine has 2 cores.
static LAB_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_lab_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    // A panicking test poisons the lock; the next test still gets its turn.
    LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const JPROV: &str = env!("CARGO_BIN_EXE_jprov");
const PASSWORD: &str = "e2e-correct-horse";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Method {
    ReverseForward,
    NginxProxy,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::ReverseForward => "reverse-forward",
            Method::NginxProxy => "nginx-proxy",
        }
    }
}

impl Lab {
    /// `bash -c SCRIPT` in a host or namespace (see `cmd_in`).
    fn sh(&self, host: &str, script: &str) -> Output {
        self.cmd_in(host, "bash")
            .args(["-c", script])
            .output()
            .expect("lab.sh exec")
    }

    /// Like `sh`, but the script must succeed; returns its trimmed stdout.
    fn sh_ok(&self, host: &str, script: &str) -> String {
        let out = self.sh(host, script);
        assert!(
            out.status.success(),
            "{}",
            show(&format!("{host}: {script}"), &out)
        );
        text(&out.stdout).trim().to_string()
    }

    /// jprov ARGS PROFILE from the ctl namespace, without an agent (keys come from the profile).
    fn jprov(&self, args: &[&str], profile: &Path, env: &[(&str, &str)]) -> Output {
        let mut c = self.cmd_in("ctl", JPROV);
        c.args(support::approved(args))
            .arg(profile)
            .env_remove("SSH_AUTH_SOCK");
        for (k, v) in env {
            c.env(k, v);
        }
        let t0 = std::time::Instant::now();
        let out = c.output().expect("run jprov in ctl");
        eprintln!(
            "jprov {} -> {} in {:.1} s",
            args.join(" "),
            out.status,
            t0.elapsed().as_secs_f64()
        );
        out
    }

    /// Can `user` log in to the server over SSH from ctl, right now, with the admin key?
    fn ssh_login_works(&self, user: &str) -> bool {
        self.ssh_runs(user, "true")
    }

    /// Does `ssh USER@server.lab COMMAND` from ctl, with the admin key, succeed right now?
    fn ssh_runs(&self, user: &str, command: &str) -> bool {
        let key = self.path().join("keys/admin");
        let kh = self.path().join("known_hosts");
        self.cmd_in("ctl", "ssh")
            .args(["-i"])
            .arg(key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", kh.display()))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=5",
            ])
            .arg(format!("{user}@server.lab"))
            .arg(command)
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// What to look at when a jprov step failed: the hosts' sshd/nginx logs and the tunnel's log.
    fn host_logs(&self, profile_name: &str) -> String {
        let mut s = String::new();
        let server = format!(
            "journalctl -u ssh -u nginx -u 'jprov-*' --no-pager -n 80; \
             for f in /var/lib/jprov-tunnel/jprov-{profile_name}-tunnel.log /var/log/letsencrypt/letsencrypt.log; do \
               [ -f $f ] && {{ echo \"--- $f\"; tail -n 40 $f; }}; done; true"
        );
        let ws = format!(
            "journalctl -u ssh --no-pager -n 40; journalctl _UID=1000 --no-pager -n 80; \
             f=/home/alice/.local/state/jprov/{profile_name}-tunnel.log; \
             [ -f $f ] && {{ echo \"--- $f\"; tail -n 40 $f; }}; true"
        );
        for (host, script) in [("server", server), ("workstation", ws)] {
            let out = self.sh(host, &script);
            s.push_str(&format!(
                "=== {host} logs\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            ));
        }
        s
    }

    /// MainPID of a unit on a machine ("0" when it is not running).
    fn main_pid(&self, host: &str, unit: &str) -> String {
        self.sh_ok(host, &format!("systemctl show -p MainPID --value {unit}"))
    }
}

/// `jprov ARGS` (a hash-password command) with the password on stdin (not a terminal: one line): the hash.
fn hashed_by_jprov(args: &[&str], password: &str) -> String {
    use std::io::Write;
    let what = format!("jprov {}", args.join(" "));
    let mut child = Command::new(JPROV)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect(&what);
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&what, &out));
    text(&out.stdout).trim().to_string()
}

/// `jprov hash-password` with the password on stdin.
fn hash_password(password: &str) -> String {
    let hash = hashed_by_jprov(&["hash-password"], password);
    assert!(
        hash.starts_with("argon2:") || hash.starts_with("sha1:"),
        "not a hash: {hash}"
    );
    hash
}

/// The issue's profile for the lab, written into the lab DIR.
fn write_profile(lab: &Lab, name: &str, method: Method, tls: &str) -> PathBuf {
    let dir = lab.path();
    let port = match method {
        Method::ReverseForward => 8888,
        Method::NginxProxy => 8889,
    };
    let profile = format!(
        "name: {name}\n\
         method: {m}\n\
         domain: jupyter.lab\n\
         server:\n  host: server.lab\n  user: admin\n  sudo: true\n  identity_file: {key}\n\
         workstation:\n  host: workstation.lab\n  user: alice\n  identity_file: {key}\n  certificate_refresh: 10s\n\
         jupyter:\n  app: server\n  command: /opt/jupyter/bin/jupyter\n  port: 8888\n  password_hash: \"{hash}\"\n\
         {tls}\
         tunnel:\n  port: {port}\n\
         known_hosts: {kh}\n",
        m = method.name(),
        key = dir.join("keys/admin").display(),
        hash = hash_password(PASSWORD),
        kh = dir.join("known_hosts").display(),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, profile).unwrap();
    path
}

/// `systemctl --user` as alice, from a root shell on the workstation.
const ALICE_SYSTEMCTL: &str =
    "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user";

const LETSENCRYPT: &str = "tls:\n  letsencrypt:\n    email: admin@jupyter.lab\n    \
                           server: https://acme.lab:14000/dir\n    ca_bundle: /etc/jprov-lab/pebble-ca.pem\n";

/// The admin's one-time step on a workstation where the user may not enable lingering themselves (no
/// polkit rule): allow exactly `loginctl enable-linger alice` through sudo. jprov does the rest.
fn admin_allows_lingering(lab: &Lab) {
    lab.sh_ok(
        "workstation",
        "echo 'alice ALL=(root) NOPASSWD: /usr/bin/loginctl enable-linger alice' > /etc/sudoers.d/jprov-linger \
         && chmod 440 /etc/sudoers.d/jprov-linger && visudo -cq",
    );
}

/// How long the laptop waited for the kernel check to pass again after `break_it` (polling every 0.5 s,
/// giving up after `limit`).
fn recovery_time(lab: &Lab, url: &str, limit: std::time::Duration) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if lab.laptop_check(url, PASSWORD).status.success() {
            return Some(start.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    None
}

/// Wait (up to 60 s) until Jupyter listens on the workstation's 127.0.0.1:8888.
fn jupyter_listens(lab: &Lab) -> Output {
    lab.sh(
        "workstation",
        "for i in $(seq 120); do (exec 3<>/dev/tcp/127.0.0.1/8888) 2>/dev/null && exit 0; sleep 0.5; done; exit 1",
    )
}

/// The serial number of the certificate the laptop is served at `host:port`.
fn served_serial(lab: &Lab, port: u16) -> String {
    let out = lab.sh(
        "laptop",
        &format!(
            "echo | timeout 5 openssl s_client -connect jupyter.lab:{port} -servername jupyter.lab 2>/dev/null \
             | openssl x509 -noout -serial"
        ),
    );
    text(&out.stdout).trim().to_string()
}

/// Steps 1–7 of the issue for one method, in a lab of its own, then what must keep working for months:
/// a dead tunnel, a restarted peer, a renewed certificate, a changed config.
fn laptop_runs_a_kernel_through(method: Method) {
    if !lab_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let (lab_name, name, url, port) = match method {
        Method::ReverseForward => ("jpe2erf", "e2e-rf", "https://jupyter.lab:8888/", 8888),
        Method::NginxProxy => ("jpe2enp", "e2e-np", "https://jupyter.lab/", 443),
    };
    let lab = Lab::up(lab_name);
    let t_up = t_start.elapsed();

    // The base image installs nginx, enabled, so it listens on the server's port 80. A reverse-forward
    // server typically has no web server, and certbot --standalone needs port 80: stop it first.
    let nginx_active = lab.sh("server", "systemctl is-active nginx");
    let nginx_was_active = text(&nginx_active.stdout).trim() == "active";
    eprintln!("server: nginx active in the base: {nginx_was_active}");
    let profile = write_profile(&lab, name, method, LETSENCRYPT);
    let fail = |what: &str, out: &Output| -> String {
        format!("{}\n{}", show(what, out), lab.host_logs(name))
    };
    // 1. Before the hosts are ready, plan says what stands in the way, and apply would change nothing:
    //    alice may not enable lingering yet, and (reverse-forward) certbot --standalone could not answer
    //    the challenge with nginx on port 80.
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(3),
        "{}",
        fail("plan (hosts not ready)", &plan)
    );
    let planned = text(&plan.stdout);
    assert!(
        planned.contains("PROBLEM: systemd stops alice's services when alice logs out")
            && planned.contains("sudo loginctl enable-linger alice"),
        "{}",
        fail("plan (hosts not ready)", &plan)
    );
    if method == Method::ReverseForward && nginx_was_active {
        assert!(
            planned.contains("PROBLEM: nginx listens on the server's port 80"),
            "{}",
            fail("plan (nginx on :80)", &plan)
        );
        lab.sh_ok(
            "server",
            "systemctl disable --now nginx && ! systemctl is-active -q nginx",
        );
    }
    admin_allows_lingering(&lab);

    // 2. plan, then apply, from ctl: no manual step after it.
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(plan.status.code(), Some(2), "{}", fail("jprov plan", &plan));
    let planned = text(&plan.stdout);
    for shown in [
        "enable and start the tunnel",
        "enable and start Jupyter",
        "enable lingering for alice",
    ] {
        assert!(planned.contains(shown), "plan lacks {shown:?}:\n{planned}");
    }
    let t_apply = std::time::Instant::now();
    let apply = lab.jprov(&["apply"], &profile, &[]);
    let t_apply = t_apply.elapsed();
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("jprov apply", &apply)
    );
    println!("{}", text(&apply.stdout));
    // A real certificate from pebble through http-01, the way the method wants it.
    let mode = match method {
        Method::ReverseForward => "authenticator = standalone",
        Method::NginxProxy => "authenticator = webroot",
    };
    let renewal = lab.sh_ok(
        "server",
        "cat /etc/letsencrypt/renewal/jupyter.lab.conf && \
         openssl x509 -in /etc/letsencrypt/live/jupyter.lab/fullchain.pem -noout -issuer -ext subjectAltName",
    );
    assert!(renewal.contains(mode), "{renewal}");
    assert!(renewal.contains("acme.lab:14000"), "{renewal}");
    assert!(
        renewal.contains("Pebble"),
        "not issued by pebble: {renewal}"
    );
    assert!(renewal.contains("DNS:jupyter.lab"), "{renewal}");

    // 3. Jupyter runs as alice's service, lingering, reading the config jprov wrote.
    let jupyter_unit = format!("jprov-{name}-jupyter.service");
    let tunnel_unit = format!("jprov-{name}-tunnel.service");
    let (tunnel_host, tunnel_sc) = match method {
        Method::ReverseForward => ("workstation", ALICE_SYSTEMCTL),
        Method::NginxProxy => ("server", "systemctl"),
    };
    let owner = lab.sh_ok(
        "workstation",
        &format!(
            "{ALICE_SYSTEMCTL} is-enabled {jupyter_unit} >/dev/null && \
             ps -o user= -p $({ALICE_SYSTEMCTL} show -p MainPID --value {jupyter_unit}) && \
             test -e /var/lib/systemd/linger/alice && echo lingering"
        ),
    );
    assert_eq!(owner, "alice\nlingering", "Jupyter's service");
    let listening = jupyter_listens(&lab);
    assert!(
        listening.status.success(),
        "Jupyter never listened on 127.0.0.1:8888\n{}",
        lab.host_logs(name)
    );

    // 4. The laptop: TLS against the ACME root, auth, wrong password, a kernel computing 42.
    let t_check = std::time::Instant::now();
    let check = lab.laptop_check(url, PASSWORD);
    let t_check = t_check.elapsed();
    println!("{}", text(&check.stdout));
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py", &check)
    );
    let out = text(&check.stdout);
    for step in [
        "tls",
        "unauth",
        "wrong-login",
        "login",
        "kernel-start",
        "execute",
        "kernel-stop",
    ] {
        assert!(
            out.contains(&format!("ok   {step}:")),
            "{step} missing:\n{out}"
        );
    }
    assert!(out.contains("'42'"), "{out}");
    // The same checker with a wrong password must fail, at login.
    let wrong = lab.laptop_check(url, "not-the-e2e-password");
    assert!(
        !wrong.status.success(),
        "{}",
        show("laptop_check.py (wrong password)", &wrong)
    );
    assert!(
        text(&wrong.stdout).contains("FAIL login"),
        "{}",
        show("laptop_check.py (wrong password)", &wrong)
    );

    // 5. A second apply changes nothing and restarts nothing.
    let tunnel_pid = || {
        lab.sh_ok(
            tunnel_host,
            &format!(
                "p=$({tunnel_sc} show -p MainPID --value {tunnel_unit}) && [ \"$(cat /proc/$p/comm)\" = ssh ] && echo $p"
            ),
        )
    };
    let jupyter_pid = || {
        lab.sh_ok(
            "workstation",
            &format!("{ALICE_SYSTEMCTL} show -p MainPID --value {jupyter_unit}"),
        )
    };
    let pids = || {
        (
            lab.main_pid("server", "ssh"),
            lab.main_pid("server", "nginx"),
            tunnel_pid(),
            jupyter_pid(),
        )
    };
    let before = pids();
    assert_ne!(before.0, "0", "sshd not running on the server");
    if method == Method::NginxProxy {
        assert_ne!(before.1, "0", "nginx not running on the server");
    }
    let again = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        fail("second apply", &again)
    );
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        fail("second apply", &again)
    );
    let after = pids();
    assert_eq!(
        before, after,
        "(sshd, nginx, tunnel, Jupyter) PIDs changed by a no-op apply"
    );
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        fail("plan after apply", &plan)
    );

    // 6. Success went through the tunnel: the laptop cannot reach the workstation at all
    //    (and, as a control, does reach the server).
    let reach = |host: &str, port: u16| {
        lab.sh(
            "laptop",
            &format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}'"),
        )
        .status
        .success()
    };
    assert!(
        reach("server.lab", 22),
        "control: the laptop must reach server.lab:22"
    );
    assert!(
        !reach("workstation.lab", 22),
        "the laptop reaches workstation.lab:22"
    );
    assert!(
        !reach("workstation.lab", 8888),
        "the laptop reaches workstation.lab:8888"
    );

    // 7. GatewayPorts only for the tunnel account.
    if method == Method::ReverseForward {
        let gw = |user: &str| {
            lab.sh_ok(
                "server",
                &format!(
                    "sshd -T -C user={user},host=x,addr=10.77.0.40 | grep -i '^gatewayports '"
                ),
            )
        };
        assert_eq!(gw("admin"), "gatewayports no");
        assert_eq!(gw("jprov-tunnel"), "gatewayports clientspecified");
    }

    if method == Method::NginxProxy {
        layers_in_front_of_nginx_proxy(&lab, &profile, name, url);
    }

    // 8. The tunnel comes back by itself: after its ssh is killed, and after the peer's sshd restarts
    //    and drops the session. systemd restarts it after RestartSec (10 s); allow for one more retry.
    let limit = std::time::Duration::from_secs(30);
    let peer = match method {
        Method::ReverseForward => ("server", "jprov-tunnel"),
        Method::NginxProxy => ("workstation", "alice"),
    };
    let killed = tunnel_pid();
    lab.sh_ok(tunnel_host, &format!("kill {killed}"));
    let t_kill = recovery_time(&lab, url, limit).unwrap_or_else(|| {
        panic!(
            "no recovery within {limit:?} after killing the tunnel\n{}",
            lab.host_logs(name)
        )
    });
    assert_ne!(tunnel_pid(), killed, "the same ssh process?");
    lab.sh_ok(
        peer.0,
        &format!("systemctl restart ssh && pkill -u {} -x sshd; true", peer.1),
    );
    let t_peer = recovery_time(&lab, url, limit).unwrap_or_else(|| {
        panic!(
            "no recovery within {limit:?} after restarting the {}'s sshd\n{}",
            peer.0,
            lab.host_logs(name)
        )
    });
    // Jupyter crashing (SIGKILL: no clean exit) is restarted by systemd too.
    let crashed = jupyter_pid();
    lab.sh_ok("workstation", &format!("kill -KILL {crashed}"));
    let t_jupyter = recovery_time(&lab, url, limit).unwrap_or_else(|| {
        panic!(
            "no recovery within {limit:?} after Jupyter was killed\n{}",
            lab.host_logs(name)
        )
    });
    assert_ne!(jupyter_pid(), crashed, "the same Jupyter process?");
    eprintln!(
        "e2e {}: kernel check passes again {:.1} s after the tunnel's ssh was killed, {:.1} s after the {}'s sshd restarted, {:.1} s after Jupyter was killed",
        method.name(),
        t_kill.as_secs_f64(),
        t_peer.as_secs_f64(),
        peer.0,
        t_jupyter.as_secs_f64()
    );

    // 9. Renewal with nobody running jprov: certbot renews on the server (forced: pebble's certificates
    //    are not near expiry), and the laptop is served the new certificate — fetched by the workstation's
    //    timer (reverse-forward) or reloaded by certbot's deploy hook (nginx-proxy).
    let old_serial = served_serial(&lab, port);
    assert!(old_serial.starts_with("serial="), "{old_serial}");
    let jupyter_before_renewal = jupyter_pid();
    lab.sh_ok(
        "server",
        "certbot renew --force-renewal --cert-name jupyter.lab --no-random-sleep-on-renew -q",
    );
    let t_renew = std::time::Instant::now();
    let mut new_serial = old_serial.clone();
    while new_serial == old_serial || new_serial.is_empty() {
        assert!(
            t_renew.elapsed() < std::time::Duration::from_secs(60),
            "still serving {old_serial} 60 s after the renewal\n{}",
            lab.host_logs(name)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        new_serial = served_serial(&lab, port);
    }
    let t_renew = t_renew.elapsed();
    let check = lab.laptop_check(url, PASSWORD);
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py after renewal", &check)
    );
    // The new certificate reached the laptop without a restart: Jupyter (and its kernels) lived through it.
    assert_eq!(
        jupyter_pid(),
        jupyter_before_renewal,
        "a renewal must not restart Jupyter"
    );
    eprintln!(
        "e2e {}: renewed certificate served {:.1} s after certbot renew ({old_serial} -> {new_serial})",
        method.name(),
        t_renew.as_secs_f64()
    );
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        fail("plan after renewal", &plan)
    );

    // 10. A changed config restarts Jupyter, and only then: a new password works after one apply.
    let jupyter_before = jupyter_pid();
    let text_before = std::fs::read_to_string(&profile).unwrap();
    let new_hash = hash_password("a-new-e2e-password");
    let changed = text_before.replace(
        &text_before
            .lines()
            .find(|l| l.contains("password_hash"))
            .unwrap()
            .to_string(),
        &format!("  password_hash: \"{new_hash}\""),
    );
    std::fs::write(&profile, changed).unwrap();
    let apply = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("apply (new password)", &apply)
    );
    assert!(
        text(&apply.stdout).contains("restart Jupyter"),
        "{}",
        fail("apply (new password)", &apply)
    );
    assert_ne!(jupyter_pid(), jupyter_before, "Jupyter was not restarted");
    let listening = jupyter_listens(&lab);
    assert!(listening.status.success(), "{}", lab.host_logs(name));
    let check = lab.laptop_check(url, "a-new-e2e-password");
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py (new password)", &check)
    );

    // 11. destroy: the plan lists the services' teardown, and afterwards nothing of the setup is left on
    //     the booted hosts (units stopped, disabled and gone; accounts gone; the public port closed), a
    //     destroy plan is empty, and apply builds it all again.
    let plan = lab.jprov(&["plan", "--destroy"], &profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        fail("plan --destroy", &plan)
    );
    assert!(
        text(&plan.stdout).contains(&format!("disable --now {tunnel_unit}")),
        "{}",
        fail("plan --destroy", &plan)
    );
    let destroy = lab.jprov(&["destroy"], &profile, &[]);
    assert_eq!(
        destroy.status.code(),
        Some(0),
        "{}",
        fail("destroy", &destroy)
    );
    let gone = lab.sh_ok(
        "workstation",
        &format!(
            "{ALICE_SYSTEMCTL} list-unit-files 'jprov-*' --no-legend | wc -l; \
             ls /home/alice/.config/systemd/user | wc -l; pgrep -u alice -x ssh | wc -l; \
             test -e /home/alice/.jupyter/jupyter_server_config.py && echo config || echo no-config"
        ),
    );
    assert_eq!(gone, "0\n0\n0\nno-config", "left on the workstation");
    let gone = lab.sh_ok(
        "server",
        "systemctl list-unit-files 'jprov-*' --no-legend | wc -l; \
             getent passwd jprov-tunnel jprov-cert | wc -l; \
             ls /etc/ssh/sshd_config.d /etc/nginx /etc/nginx/sites-enabled /etc/letsencrypt/renewal-hooks/deploy | grep -c jprov; \
             sshd -T -C user=admin,host=x,addr=10.77.0.50 | grep -i '^gatewayports '; \
             ls -d /var/lib/jprov* 2>/dev/null || echo 'no /var/lib/jprov*'",
    );
    // /var/lib/jprov* went too: records, accounts' homes, the bundle, certbot's webroot (nginx-proxy); and
    // the htpasswd file the layers left (nginx-proxy, /etc/nginx/jprov-NAME.htpasswd).
    assert_eq!(
        gone, "0\n0\n0\ngatewayports no\nno /var/lib/jprov*",
        "left on the server"
    );
    assert!(
        !lab.laptop_check(url, "a-new-e2e-password").status.success(),
        "the laptop still reaches Jupyter after destroy"
    );
    assert!(lab.ssh_login_works("admin"), "admin locked out by destroy");
    let plan = lab.jprov(&["plan", "--destroy"], &profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        fail("plan --destroy after destroy", &plan)
    );
    let apply = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("apply after destroy", &apply)
    );
    assert!(
        jupyter_listens(&lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let check = lab.laptop_check(url, "a-new-e2e-password");
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py after destroy and apply", &check)
    );

    // 12. reverse-forward: a new public port changes the server's sshd drop-in and the workstation's tunnel
    //     unit in one apply; the tunnel restarts only after sshd was reloaded, and the laptop gets in there.
    if method == Method::ReverseForward {
        collaborators_edit_one_notebook(&lab, &profile, name);
        let text_before = std::fs::read_to_string(&profile).unwrap();
        std::fs::write(
            &profile,
            text_before.replace("tunnel:\n  port: 8888\n", "tunnel:\n  port: 8890\n"),
        )
        .unwrap();
        let apply = lab.jprov(&["apply"], &profile, &[]);
        assert_eq!(
            apply.status.code(),
            Some(0),
            "{}",
            fail("apply (new tunnel port)", &apply)
        );
        let applied = text(&apply.stdout);
        assert!(
            applied.contains("reload ssh") && applied.contains("restart the tunnel"),
            "{}",
            fail("apply (new tunnel port)", &apply)
        );
        assert!(
            jupyter_listens(&lab).status.success(),
            "{}",
            lab.host_logs(name)
        );
        let check = lab.laptop_check("https://jupyter.lab:8890/", "a-new-e2e-password");
        assert!(
            check.status.success(),
            "{}",
            fail("laptop_check.py on the new port", &check)
        );
    }

    eprintln!(
        "e2e {}: lab up {:.1} s, apply {:.1} s, laptop_check {:.1} s, total before teardown {:.1} s",
        method.name(),
        t_up.as_secs_f64(),
        t_apply.as_secs_f64(),
        t_check.as_secs_f64(),
        t_start.elapsed().as_secs_f64()
    );
}

/// Real-time collaboration on the reverse-forward lab. First plan refuses a workstation environment without
/// the extension (a virtualenv with only jupyter-core), naming the install command, and apply changes
/// nothing; then two collaborators with `collaboration: true` and JupyterLab from /opt/jupyter: plan notes
/// what that means, apply restarts Jupyter, collab_check.py from the laptop (through the tunnel, trusting
/// the ACME root) proves both edit one notebook and see each other's names, a second apply changes nothing.
fn collaborators_edit_one_notebook(lab: &Lab, profile: &Path, name: &str) {
    let t_start = std::time::Instant::now();
    let fail = |what: &str, out: &Output| format!("{}\n{}", show(what, out), lab.host_logs(name));
    let original = std::fs::read_to_string(profile).unwrap();
    let jupyter = "  app: server\n  command: /opt/jupyter/bin/jupyter\n";
    assert!(original.contains(jupyter), "{original}");
    let people = [
        ("ada", "ada-e2e-own-secret", "Ada Lovelace"),
        ("bob", "bob-e2e-own-secret", "Bob O'Brien"),
    ];
    let collaborators: String = (people.iter())
        .map(|(username, password, name)| {
            format!(
                "    - name: \"{name}\"\n      username: {username}\n      password_hash: \"{}\"\n",
                hash_password(password)
            )
        })
        .collect();
    let with_command = |command: &str| {
        original.replace(
            jupyter,
            &format!(
                "  app: lab\n  command: {command}\n  collaboration: true\n  collaborators:\n{collaborators}"
            ),
        )
    };
    let config = "sha256sum /home/alice/.jupyter/jupyter_server_config.py";
    let config_before = lab.sh_ok("workstation", config);

    // An environment without JupyterLab and the extension: a problem, with the command that installs them.
    lab.sh_ok(
        "workstation",
        "python3 -m venv /opt/plain && /opt/plain/bin/pip install -q --no-index --find-links /opt/lab-wheels jupyter-core",
    );
    std::fs::write(profile, with_command("/opt/plain/bin/jupyter")).unwrap();
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(3),
        "{}",
        fail("plan (no extension)", &plan)
    );
    let planned = text(&plan.stdout);
    let problem = (planned.lines())
        .find(|l| l.contains("PROBLEM: jupyter.collaboration needs JupyterLab >= 4"))
        .unwrap_or_else(|| panic!("{}", fail("plan (no extension)", &plan)));
    println!("{problem}");
    assert!(
        problem.contains("which has no JupyterLab and no jupyter-collaboration")
            && problem.contains("/opt/plain/bin/python")
            && problem.contains("-m pip install 'jupyterlab>=4' 'jupyter-collaboration>=4'"),
        "{problem}"
    );
    let apply = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(3),
        "{}",
        fail("apply (no extension)", &apply)
    );
    assert_eq!(
        lab.sh_ok("workstation", config),
        config_before,
        "apply changed the config"
    );
    let t_problem = t_start.elapsed();

    // /opt/jupyter has both: plan notes what collaboration means, apply restarts Jupyter as JupyterLab.
    std::fs::write(profile, with_command("/opt/jupyter/bin/jupyter")).unwrap();
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        fail("plan (collaboration)", &plan)
    );
    let planned = text(&plan.stdout);
    for note in [
        "note: jupyter.collaboration: the owner and 2 collaborators edit the same notebooks at once, and each \
         of them can run any code as alice on the workstation",
        "with JupyterLab 4.6.6 and jupyter-collaboration 5.0.4",
    ] {
        assert!(planned.contains(note), "{note}:\n{planned}");
    }
    for line in planned
        .lines()
        .filter(|l| l.contains("note: jupyter.collaboration"))
    {
        println!("{line}");
    }
    let apply = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("apply (collaboration)", &apply)
    );
    assert!(
        text(&apply.stdout).contains("restart Jupyter"),
        "{}",
        fail("apply", &apply)
    );
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let t_apply = t_start.elapsed();

    // Both collaborators, from the laptop, through the tunnel.
    let out = lab.lab(&["acme-root", lab.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", show("lab.sh acme-root", &out));
    let python = support::prereq::python(&["tornado", "pycrdt"]);
    let mut check = lab.cmd_in("laptop", &python);
    check
        .arg(COLLAB_CHECK_PY)
        .args(["--url", "https://jupyter.lab:8888/", "--cafile"])
        .arg(lab.path().join("acme-root.pem"))
        .args(["--rtc", "on"]);
    for (username, password, name) in people {
        check.args(["--person", username, password, name]);
    }
    let t_check = std::time::Instant::now();
    let out = check.output().expect("run collab_check.py");
    let t_check = t_check.elapsed();
    println!("{}", text(&out.stdout));
    assert!(out.status.success(), "{}", fail("collab_check.py", &out));
    assert!(
        text(&out.stdout).contains("ada sees \"Bob O'Brien\", bob sees 'Ada Lovelace'"),
        "{}",
        fail("collab_check.py", &out)
    );

    // A second apply changes nothing, and Jupyter keeps running.
    let unit = format!("jprov-{name}-jupyter.service");
    let pid = || {
        lab.sh_ok(
            "workstation",
            &format!("{ALICE_SYSTEMCTL} show -p MainPID --value {unit}"),
        )
    };
    let before = pid();
    let again = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        fail("second apply", &again)
    );
    assert!(
        text(&again.stdout).contains("No changes"),
        "{}",
        fail("second apply", &again)
    );
    assert_eq!(pid(), before, "a no-op apply restarted Jupyter");
    eprintln!(
        "e2e collaboration: {:.1} s in all (problem shown and refused after {:.1} s, applied and \
         listening after {:.1} s, collab_check.py {:.1} s)",
        t_start.elapsed().as_secs_f64(),
        t_problem.as_secs_f64(),
        t_apply.as_secs_f64(),
        t_check.as_secs_f64()
    );
}

/// `jprov hash-password --htpasswd` with the password on stdin.
fn htpasswd_hash(password: &str) -> String {
    let hash = hashed_by_jprov(&["hash-password", "--htpasswd"], password);
    assert!(hash.starts_with("$2b$"), "not a bcrypt hash: {hash}");
    hash
}

/// The status nginx gives ctl (10.77.0.50) for `https://jupyter.lab/login`, and with `credentials_file`
/// (a curl config holding `user = ...`, never argv) when given.
fn status_from_ctl(lab: &Lab, credentials_file: Option<&Path>) -> String {
    let root = lab.path().join("acme-root.pem");
    let credentials = credentials_file.map_or(String::new(), |f| format!("-K {}", f.display()));
    lab.sh_ok(
        "ctl",
        &format!(
            "curl -sS -o /dev/null -w '%{{http_code}}' --max-time 10 --cacert {} {credentials} \
             https://jupyter.lab/login",
            root.display()
        ),
    )
}

/// Issue 11's layers on nginx-proxy: a profile with `access.allow` = the laptop's address only and basic
/// auth for the owner shows them in the plan, applies, and converges; ctl (outside the allow-list) gets
/// 403 with or without credentials, the laptop 401 without or with wrong ones, and with both the kernel
/// check passes. Then the profile without them takes them away again (the htpasswd keeps no account).
fn layers_in_front_of_nginx_proxy(lab: &Lab, profile: &Path, name: &str, url: &str) {
    let t0 = std::time::Instant::now();
    let fail = |what: &str, out: &Output| format!("{}\n{}", show(what, out), lab.host_logs(name));
    let original = std::fs::read_to_string(profile).unwrap();
    let basic_password = "e2e-basic-auth-staple";
    let hash = htpasswd_hash(basic_password);
    let htpasswd = format!("/etc/nginx/jprov-{name}.htpasswd");
    std::fs::write(
        profile,
        format!(
            "{original}access:\n  basic_auth:\n    - username: alice\n      htpasswd_hash: \"{hash}\"\n  \
             allow: [10.77.0.40]\n"
        ),
    )
    .unwrap();
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        fail("plan (layers)", &plan)
    );
    let planned = text(&plan.stdout);
    for shown in [
        format!("    + create {htpasswd} (0640 root:www-data): missing\n"),
        "    +alice: ********\n".to_string(),
        "    +        allow 10.77.0.40;\n".to_string(),
        "    +        deny all;\n".to_string(),
        format!("    +        auth_basic_user_file {htpasswd};\n"),
    ] {
        assert!(planned.contains(&shown), "plan lacks {shown:?}:\n{planned}");
    }
    assert!(
        !planned.contains(&hash[7..]),
        "the plan shows the hash:\n{planned}"
    );
    let apply = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("apply (layers)", &apply)
    );
    assert!(!text(&apply.stdout).contains(&hash[7..]));
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        fail("plan after apply (layers)", &plan)
    );
    let owner = lab.sh_ok("server", &format!("stat -c '%a %U:%G' {htpasswd}"));
    assert_eq!(owner, "640 root:www-data");

    // ctl is outside the allow-list: 403, right credentials or not.
    let credentials = lab.path().join("ctl-basic-auth.curlrc");
    std::fs::write(&credentials, format!("user = \"alice:{basic_password}\"\n")).unwrap();
    assert_eq!(status_from_ctl(lab, None), "403");
    assert_eq!(status_from_ctl(lab, Some(&credentials)), "403");
    // The laptop: 401 without or with wrong credentials (laptop_check's basic-auth step), and with both a
    // kernel runs. The credentials reach laptop_check in a file, never its argv.
    let basic_auth_file = lab.path().join("laptop-basic-auth");
    std::fs::write(&basic_auth_file, format!("alice:{basic_password}\n")).unwrap();
    let file = basic_auth_file.to_str().unwrap();
    let check = lab.laptop_check_with(url, PASSWORD, &["--basic-auth-file", file]);
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py (layers)", &check)
    );
    let out = text(&check.stdout);
    for step in ["basic-auth", "login", "execute"] {
        assert!(
            out.contains(&format!("ok   {step}:")),
            "{step} missing:\n{out}"
        );
    }
    let without = lab.laptop_check(url, PASSWORD);
    assert!(
        text(&without.stdout).contains("FAIL login: GET login answered 401"),
        "{}",
        show("laptop_check.py without basic auth", &without)
    );

    // Taken away again: the plan shows them go, the file keeps no account, everyone reaches Jupyter's login.
    std::fs::write(profile, &original).unwrap();
    let apply = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        fail("apply (no layers)", &apply)
    );
    let applied = text(&apply.stdout);
    assert!(
        applied.contains("    -        auth_basic_user_file")
            && applied.contains("    -alice: ********"),
        "{}",
        fail("apply (no layers)", &apply)
    );
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        fail("plan after apply (no layers)", &plan)
    );
    let accounts = lab.sh_ok("server", &format!("grep -c : {htpasswd} || true"));
    assert_eq!(accounts, "0", "an account is left in {htpasswd}");
    assert_eq!(status_from_ctl(lab, None), "200");
    let check = lab.laptop_check(url, PASSWORD);
    assert!(
        check.status.success(),
        "{}",
        fail("laptop_check.py (no layers)", &check)
    );
    eprintln!(
        "e2e nginx-proxy: the access layers applied, proven and taken away in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn laptop_runs_a_kernel_through_reverse_forward() {
    laptop_runs_a_kernel_through(Method::ReverseForward);
}

#[test]
fn laptop_runs_a_kernel_through_nginx_proxy() {
    laptop_runs_a_kernel_through(Method::NginxProxy);
}

/// A profile and the same profile with another tunnel port: moving between them changes sshd's drop-in.
fn tunnel_port_versions(profile: &Path) -> [String; 2] {
    let first = std::fs::read_to_string(profile).unwrap();
    let tunnel = "tunnel:\n  port: 8888\n";
    assert!(first.contains(tunnel), "{first}");
    let second = first.replace(tunnel, "tunnel:\n  port: 8890\n");
    [first, second]
}

/// The lockout guard on a real systemd host: jprov's own fresh-login proof restores, and when jprov
/// dies right after the reload, the systemd-run timer restores by itself.
#[test]
fn lockout_guard_on_a_booted_systemd_server() {
    if !lab_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let lab = Lab::up("jpe2elo");
    admin_allows_lingering(&lab);
    let name = "e2e-lockout";
    // TLS files (no ACME needed): a self-signed certificate on the workstation, where Jupyter reads it.
    lab.sh_ok(
        "workstation",
        "mkdir -p /etc/jprov-e2e && openssl req -x509 -noenc -days 3 -newkey rsa:2048 -subj /CN=jupyter.lab \
         -keyout /etc/jprov-e2e/key.pem -out /etc/jprov-e2e/cert.pem 2>/dev/null && chmod 644 /etc/jprov-e2e/key.pem",
    );
    let profile = write_profile(
        &lab,
        name,
        Method::ReverseForward,
        "tls:\n  files:\n    cert: /etc/jprov-e2e/cert.pem\n    key: /etc/jprov-e2e/key.pem\n",
    );
    // The real drop-in with one line in front that shuts the admin out (valid for `sshd -t`).
    let templates = support::lockout_templates(lab.path());
    let templates = templates.to_str().unwrap().to_string();
    let dropin = format!("/etc/ssh/sshd_config.d/01-jprov-{name}.conf");
    let dropin_absent = || {
        lab.sh("server", &format!("test ! -e {dropin}"))
            .status
            .success()
    };
    assert!(
        lab.ssh_login_works("admin"),
        "control: admin logs in before"
    );

    // (a) jprov proves a fresh login after the reload, sees it fail, restores.
    let out = lab.jprov(&["apply"], &profile, &[("JPROV_TEMPLATE_DIR", &templates)]);
    let stderr = text(&out.stderr);
    let fail = |what: &str, out: &Output| format!("{}\n{}", show(what, out), lab.host_logs(name));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        fail("apply (lockout)", &out)
    );
    assert!(
        stderr.contains("a fresh login as admin failed")
            && stderr.contains("restored the previous sshd files"),
        "{}",
        fail("apply (lockout)", &out)
    );
    assert!(
        lab.ssh_login_works("admin"),
        "admin locked out after (a)\n{}",
        lab.host_logs(name)
    );
    assert!(
        dropin_absent(),
        "the harmful drop-in is still there after (a)"
    );

    // (b) jprov dies right after the reload: the systemd-run timer restores without anyone's help.
    let started = std::time::Instant::now();
    let out = lab.jprov(
        &["apply", "--lockout-guard-seconds", "10"],
        &profile,
        &[
            ("JPROV_TEMPLATE_DIR", &templates),
            ("JPROV_FAULT", "exit-after-sshd-reload"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        fail("apply (fault)", &out)
    );
    assert!(
        !lab.ssh_login_works("admin"),
        "right after the harmful reload the admin should be locked out\n{}",
        lab.host_logs(name)
    );
    // Refused by the harmful drop-in, not by an sshd busy re-executing after the reload.
    let denied = lab.sh_ok("server", "journalctl -u ssh --no-pager");
    assert!(
        denied.contains("admin from 10.77.0.50 not allowed because listed in DenyUsers"),
        "{denied}"
    );
    assert!(
        !dropin_absent(),
        "the harmful drop-in should be in place until the guard fires"
    );
    // It is the systemd timer path that is armed (the host runs systemd).
    let timer = lab.sh(
        "server",
        &format!("systemctl is-active jprov-guard-{name}.timer"),
    );
    assert_eq!(
        text(&timer.stdout).trim(),
        "active",
        "{}",
        fail("guard timer", &timer)
    );
    let deadline = started + std::time::Duration::from_secs(40);
    while !lab.ssh_login_works("admin") {
        assert!(
            std::time::Instant::now() < deadline,
            "the guard did not restore access within 40 s\n{}",
            lab.host_logs(name)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let waited = started.elapsed().as_secs_f64();
    eprintln!("lockout guard restored admin access {waited:.1} s after jprov started");
    assert!(
        waited >= 9.0,
        "restored after {waited:.1} s, before the guard's 10 s"
    );
    assert!(dropin_absent(), "the guard left the harmful drop-in");
    let journal = lab.sh_ok("server", "journalctl -t jprov --no-pager");
    assert!(journal.contains("lockout guard: restored"), "{journal}");
    // With the real templates the same profile applies, and jprov proves a fresh login itself.
    let out = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        fail("apply (real templates)", &out)
    );
    assert!(
        text(&out.stdout).contains("a fresh login works after the sshd reload"),
        "{}",
        fail("apply (real templates)", &out)
    );
    assert!(!dropin_absent(), "the real drop-in was not written");
    assert!(lab.ssh_login_works("admin"));

    // (c) The stale guard: an apply with good files stops right after the reload; the rerun at once
    //     changes nothing in sshd, yet must disarm the timer, so that nothing moves after its delay.
    let versions = tunnel_port_versions(&profile);
    std::fs::write(&profile, &versions[1]).unwrap();
    let guard = ["--lockout-guard-seconds", "6"];
    let out = lab.jprov(
        &[&["apply"][..], &guard[..]].concat(),
        &profile,
        &[("JPROV_FAULT", "exit-after-sshd-reload")],
    );
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        fail("apply (stale)", &out)
    );
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert!(
        plan.status.code() == Some(2)
            && text(&plan.stdout).contains("disarm the lockout guard (pending"),
        "{}",
        fail("plan with an armed guard", &plan)
    );
    let out = lab.jprov(&[&["apply"][..], &guard[..]].concat(), &profile, &[]);
    assert!(
        out.status.success() && text(&out.stdout).contains("lockout guard disarmed"),
        "{}",
        fail("apply (resolves the guard)", &out)
    );
    let timer = lab.sh(
        "server",
        &format!("systemctl is-active jprov-guard-{name}.timer"),
    );
    assert_ne!(
        text(&timer.stdout).trim(),
        "active",
        "the timer is still armed"
    );
    std::thread::sleep(std::time::Duration::from_secs(7));
    let late = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(
        late.status.code(),
        Some(0),
        "{}",
        fail("plan past the guard's delay", &late)
    );

    // (d) SIGKILL at a few moments spread over an apply, and (e) the connection to the server cut (a TCP
    //     reset from ctl's firewall) after a few byte counts; the hosts alternate between two tunnel ports.
    //     After each: the same checks as the loopback sweeps (tests/interruptions.rs), on systemd's guard.
    let apply_args = [&["apply"][..], &guard[..]].concat();
    let after_interruption = |what: &str| {
        lab.sh_ok("server", "sshd -t");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !(lab.ssh_runs("root", "true") && lab.ssh_runs("admin", "sudo -n true")) {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: a login fails\n{}",
                lab.host_logs(name)
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let rerun = lab.jprov(&apply_args, &profile, &[]);
        assert!(rerun.status.success(), "{what}: {}", fail("rerun", &rerun));
        std::thread::sleep(std::time::Duration::from_secs(7));
        let late = lab.jprov(&["plan"], &profile, &[]);
        assert_eq!(
            late.status.code(),
            Some(0),
            "{what}: {}",
            fail("plan past the guard's delay", &late)
        );
    };
    let server_ip = lab.sh_ok("ctl", "getent hosts server.lab | cut -d' ' -f1");
    let firewall = |rules: &str| lab.sh_ok("ctl", &rules.replace("SERVER", &server_ip));
    // The bytes jprov sends the server in a whole apply, counted by ctl's firewall.
    firewall("iptables -F OUTPUT && iptables -A OUTPUT -p tcp -d SERVER --dport 22 -j ACCEPT");
    let started = std::time::Instant::now();
    std::fs::write(&profile, &versions[0]).unwrap();
    let whole = lab.jprov(&apply_args, &profile, &[]);
    assert!(
        whole.status.success(),
        "{}",
        fail("apply (measured)", &whole)
    );
    let whole = started.elapsed();
    let sent: u64 = firewall("iptables -L OUTPUT -v -x -n | awk '$3 == \"ACCEPT\" {print $2}'")
        .parse()
        .unwrap();
    firewall("iptables -F OUTPUT");
    let mut at = 0;
    for fraction in [0.2, 0.45, 0.7, 0.9] {
        at = 1 - at;
        std::fs::write(&profile, &versions[at]).unwrap();
        let mut child = lab
            .cmd_in("ctl", JPROV)
            .args(support::approved(&apply_args))
            .arg(&profile)
            .env_remove("SSH_AUTH_SOCK")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = whole.mul_f64(fraction);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        after_interruption(&format!("SIGKILL after {delay:?} of {whole:?}"));
    }
    for fraction in [0.3, 0.6, 0.85] {
        at = 1 - at;
        std::fs::write(&profile, &versions[at]).unwrap();
        let quota = (sent as f64 * fraction) as u64;
        firewall(&format!(
            "iptables -A OUTPUT -p tcp -d SERVER --dport 22 -m quota --quota {quota} -j ACCEPT && \
             iptables -A OUTPUT -p tcp -d SERVER --dport 22 -j REJECT --reject-with tcp-reset"
        ));
        let cut = lab.jprov(&apply_args, &profile, &[]);
        firewall("iptables -F OUTPUT");
        assert!(
            !cut.status.success(),
            "{}",
            fail("apply through the cut", &cut)
        );
        after_interruption(&format!("connection cut after {quota} of {sent} bytes"));
    }
    eprintln!(
        "e2e lockout: total before teardown {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// The methods without a forwarding server: local-forward (the laptop's own ssh -L, through the server as
// a jump host) and lan (a second laptop on the workstation's network connects directly).

/// A profile for a method with no server of its own; `extra` is appended (the method's own section).
fn write_serverless_profile(lab: &Lab, name: &str, method: &str, extra: &str) -> PathBuf {
    let dir = lab.path();
    let profile = format!(
        "name: {name}\n\
         method: {method}\n\
         workstation:\n  host: workstation.lab\n  user: alice\n  identity_file: {key}\n\
         jupyter:\n  app: server\n  command: /opt/jupyter/bin/jupyter\n  port: 8888\n  password_hash: \"{hash}\"\n\
         {extra}\
         known_hosts: {kh}\n",
        key = dir.join("keys/admin").display(),
        hash = hash_password(PASSWORD),
        kh = dir.join("known_hosts").display(),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, profile).unwrap();
    path
}

impl Lab {
    /// laptop_check.py from `host` against URL, trusting `cafile` (none: an http URL).
    fn check_from(&self, host: &str, url: &str, password: &str, cafile: Option<&Path>) -> Output {
        let mut c = self.cmd_in(host, &laptop_python());
        c.arg(LAPTOP_CHECK_PY)
            .args(["--url", url, "--password", password]);
        if let Some(cafile) = cafile {
            c.arg("--cafile").arg(cafile);
        }
        c.output().expect("run laptop_check.py")
    }

    /// The laptop's own ssh set-up, as a user has it in ~/.ssh/config: the lab's key and its pinned
    /// host keys. A wrapper named `ssh` first on PATH hands it to the real ssh with -F (ssh reads the
    /// passwd entry's home, not $HOME, so a config can't be put there), and -F reaches the -J hop too.
    fn laptop_ssh_wrapper(&self) -> PathBuf {
        let dir = self.path().join("laptop-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let config = self.path().join("laptop-ssh-config");
        std::fs::write(
            &config,
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n",
                self.path().join("keys/admin").display(),
                self.path().join("known_hosts").display()
            ),
        )
        .unwrap();
        let wrapper = dir.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                config.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }
}

/// The certificate the workstation serves on its LAN address, as lanlaptop receives it, written to the lab
/// DIR's `file` once its SHA-256 fingerprint is the one jprov `printed` (what a colleague compares before
/// trusting it).
fn compared_lan_certificate(lab: &Lab, printed: &str, file: &str) -> PathBuf {
    // Jupyter's service was started by apply; it takes a few seconds to listen (longer on a loaded
    // machine).
    lab.sh_ok(
        "lanlaptop",
        "for i in $(seq 120); do (exec 3<>/dev/tcp/workstation.lab/8888) 2>/dev/null && exit 0; sleep 0.5; done; exit 1",
    );
    let served = lab.sh_ok(
        "lanlaptop",
        "echo | timeout 5 openssl s_client -connect workstation.lab:8888 -servername workstation.lab \
         2>/dev/null | openssl x509",
    );
    let certificate = lab.path().join(file);
    std::fs::write(&certificate, format!("{served}\n")).unwrap();
    let fingerprint = lab.sh_ok(
        "lanlaptop",
        &format!(
            "openssl x509 -noout -fingerprint -sha256 -in {}",
            certificate.display()
        ),
    );
    assert!(
        fingerprint.ends_with(printed),
        "{fingerprint} vs printed {printed}"
    );
    certificate
}

/// The SHA-256 fingerprint jprov printed ("...: AB:CD:..."), from apply's output.
fn printed_fingerprint(out: &str) -> String {
    // Apply's (the last): plan, before the certificate exists, can only say that apply will tell it.
    let line = (out.lines())
        .rev()
        .find(|l| l.contains("SHA-256 fingerprint"))
        .unwrap_or_else(|| panic!("no fingerprint in:\n{out}"));
    line.rsplit(' ').next().unwrap().trim().to_string()
}

/// Apply, a second plan with no changes, then destroy, for a profile of the lab.
fn apply_converges(lab: &Lab, profile: &Path, name: &str) -> String {
    let plan = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(plan.status.code(), Some(2), "{}", show("plan", &plan));
    let apply = lab.jprov(&["apply"], profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}\n{}",
        show("apply", &apply),
        lab.host_logs(name)
    );
    let again = lab.jprov(&["plan"], profile, &[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        show("plan after apply", &again)
    );
    format!("{}{}", text(&plan.stdout), text(&apply.stdout))
}

fn destroyed(lab: &Lab, profile: &Path, name: &str) {
    let destroy = lab.jprov(&["destroy"], profile, &[]);
    assert_eq!(
        destroy.status.code(),
        Some(0),
        "{}",
        show("destroy", &destroy)
    );
    let left = lab.sh_ok(
        "workstation",
        &format!(
            "ls /home/alice/.jupyter/jupyter_server_config.py \
             /home/alice/.config/systemd/user/jprov-{name}-jupyter.service \
             /home/alice/.local/share/jprov/{name} 2>/dev/null; true"
        ),
    );
    assert_eq!(left, "", "destroy left {left}");
    let plan = lab.jprov(&["plan", "--destroy"], profile, &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        show("plan --destroy after destroy", &plan)
    );
}

#[test]
fn laptops_reach_jupyter_without_a_server() {
    if !lab_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let lab = Lab::up("jpe2ews");
    admin_allows_lingering(&lab);

    // local-forward: jprov changes only the workstation; the laptop runs the forward through the server.
    let name = "e2e-lf";
    let profile = write_serverless_profile(
        &lab,
        name,
        "local-forward",
        &format!(
            "server:\n  host: server.lab\n  user: admin\n  identity_file: {}\n",
            lab.path().join("keys/admin").display()
        ),
    );
    let profile_text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        profile_text.replace("  user: alice\n", "  user: alice\n  jump: server\n"),
    )
    .unwrap();
    let shown = apply_converges(&lab, &profile, name);
    assert!(
        shown.contains("ssh -N -L 8888:localhost:8888")
            && shown.contains("-J admin@server.lab:22 alice@workstation.lab")
            && shown.contains("LocalForward 8888 localhost:8888"),
        "{shown}"
    );
    assert!(
        jupyter_listens(&lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let listening = lab.sh_ok("workstation", "ss -Hltn 'sport = :8888' | awk '{print $4}'");
    assert_eq!(
        listening, "127.0.0.1:8888",
        "Jupyter must listen on loopback only"
    );
    // The server was only a hop: jprov keeps no state there and wrote none of its files.
    lab.sh_ok(
        "server",
        "test ! -e /var/lib/jprov && ! ls /etc/ssh/sshd_config.d /etc/nginx/sites-enabled | grep -q jprov",
    );

    // `jprov tunnel` on the laptop runs that command, with the laptop's own ssh config, and reconnects.
    let wrapper = lab.laptop_ssh_wrapper();
    let mut tunnel = lab
        .cmd_in("laptop", JPROV)
        .args(["tunnel", "--retry-seconds", "1"])
        .arg(&profile)
        .env("PATH", format!("{}:/usr/bin:/bin", wrapper.display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = "http://localhost:8888/";
    let up = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let check = lab.check_from("laptop", url, PASSWORD, None);
            if check.status.success() {
                let out = text(&check.stdout);
                assert!(
                    out.contains("'42'") && out.contains("ok   wrong-login"),
                    "{out}"
                );
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: {}",
                show("laptop_check.py through the forward", &check)
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    };
    up("the laptop's forward");
    let forwarders = format!(
        "pgrep -f -- '-F {}/laptop-ssh-config -N -L'",
        lab.path().display()
    );
    let first = lab.sh_ok("laptop", &forwarders);
    lab.sh_ok(
        "laptop",
        &format!(
            "pkill -f -- '-F {}/laptop-ssh-config -N -L'",
            lab.path().display()
        ),
    );
    up("the forward after ssh was killed");
    let second = lab.sh_ok("laptop", &forwarders);
    assert_ne!(first, second, "jprov tunnel did not start a new ssh");
    unsafe { libc::kill(tunnel.id() as i32, libc::SIGTERM) };
    let status = tunnel.wait().unwrap();
    assert!(status.success(), "jprov tunnel after SIGTERM: {status}");
    destroyed(&lab, &profile, name);

    // lan: the workstation's own network; only the second laptop is on it.
    let name = "e2e-lan";
    let profile = write_serverless_profile(
        &lab,
        name,
        "lan",
        "domain: workstation.lab\nlan:\n  address: 10.77.0.20\n",
    );
    let shown = apply_converges(&lab, &profile, name);
    assert!(shown.contains("must let their machines in"), "{shown}");
    let printed = printed_fingerprint(&shown);
    // The colleague compares the certificate they are served with the fingerprint jprov printed, and
    // trusts exactly that certificate.
    let cafile = compared_lan_certificate(&lab, &printed, "lan-certificate.pem");
    let url = "https://workstation.lab:8888/";
    let check = lab.check_from("lanlaptop", url, PASSWORD, Some(&cafile));
    assert!(
        check.status.success(),
        "{}",
        show("laptop_check.py on the LAN", &check)
    );
    assert!(
        text(&check.stdout).contains("'42'"),
        "{}",
        text(&check.stdout)
    );
    // Jupyter's Host check stands: the bare address is not one of its names.
    let login_with_host = |host: &str| {
        lab.sh_ok(
            "lanlaptop",
            &format!(
                "curl -s -o /dev/null -w '%{{http_code}}' --cacert {} -H 'Host: {host}' \
                 https://workstation.lab:8888/login; true",
                cafile.display()
            ),
        )
    };
    assert_eq!(login_with_host("workstation.lab:8888"), "200");
    assert_eq!(
        login_with_host("10.77.0.20:8888"),
        "403",
        "the address as Host"
    );
    // The first laptop is not on that network: it cannot connect at all.
    let outside = lab.sh(
        "laptop",
        "curl -sk --max-time 5 https://10.77.0.20:8888/ >/dev/null",
    );
    assert!(
        !outside.status.success(),
        "the laptop outside the LAN reached Jupyter"
    );
    destroyed(&lab, &profile, name);
    eprintln!(
        "e2e without a server: {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// ngrok: no agent can be installed here and ngrok's cloud is unreachable. What is proven on the booted
// workstation: plan's checks of the agent and the secret files, and apply up to the agent's start:
// systemd installs, enables and starts the unit as alice, with NGROK_AUTHTOKEN from the EnvironmentFile,
// after ExecStartPre assembled the configuration with the credentials in the runtime directory. The
// program started is a stand-in (STAND_IN below), not ngrok: it records how it was run and exits 1.

/// Where the stand-in lives, and what it is: it serves nothing and pretends nothing.
const STAND_IN: &str = "/opt/ngrok-stand-in/ngrok";
const STAND_IN_SH: &str = r#"#!/bin/sh
# A stand-in for the ngrok agent, NOT ngrok (tests/e2e.rs): records how systemd ran it, then exits 1.
umask 077
rec=/home/alice/ngrok-stand-in
{ printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\n'
  printf 'uid=%s\n' "$(id -u)"
  printf '%s\n' "${NGROK_AUTHTOKEN:+NGROK_AUTHTOKEN=$NGROK_AUTHTOKEN}"
  for f in "$@"; do case $f in /*) printf 'config=%s mode=%s dir=%s\n' "$f" "$(stat -c %a "$f")" "$(stat -c %a "${f%/*}")";; esac; done
} > "$rec/run.tmp" && mv -f "$rec/run.tmp" "$rec/run"
eval "config=\${$#}"
cp "$config" "$rec/config.tmp" && mv -f "$rec/config.tmp" "$rec/config"
exit 1
"#;
const NGROK_TOKEN: &str = "NGROK_AUTHTOKEN=e2e-stand-in-token-not-a-real-one";
const NGROK_CREDENTIAL: &str = "ada:e2e basic-auth password";

#[test]
fn ngrok_agent_unit_starts_with_its_assembled_configuration_on_a_booted_workstation() {
    if !lab_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let lab = Lab::up("jpe2eng");
    admin_allows_lingering(&lab);
    let name = "e2e-ng";
    let unit = format!("jprov-{name}-ngrok.service");
    let (token_file, credentials_file) = (
        "/home/alice/.config/jprov/ngrok-authtoken",
        "/home/alice/.config/jprov/ngrok-basic-auth",
    );
    let profile = write_serverless_profile(
        &lab,
        name,
        "ngrok",
        &format!(
            "domain: jupyter-e2e.ngrok.app\nngrok:\n  authtoken_file: {token_file}\n  \
             basic_auth_file: {credentials_file}\n  command: {STAND_IN}\naccess:\n  allow: [10.77.0.0/24]\n"
        ),
    );
    // Nothing there yet: the agent and both files are problems, and nothing is written.
    let plan = lab.jprov(&["plan"], &profile, &[]);
    let shown = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(3), "{}", show("plan", &plan));
    for problem in [
        format!("PROBLEM: the ngrok service would run {STAND_IN}, which is not an executable file"),
        format!("PROBLEM: ngrok.authtoken_file {token_file} is not on the workstation"),
        format!("PROBLEM: ngrok.basic_auth_file {credentials_file} is not on the workstation"),
    ] {
        assert!(shown.contains(&problem), "{problem}\n{shown}");
    }
    // The user's files of secrets (0600), and the stand-in where the profile's ngrok.command says.
    lab.sh_ok(
        "workstation",
        &format!(
            "runuser -u alice -- sh -c \"umask 077 && mkdir -p /home/alice/.config/jprov /home/alice/ngrok-stand-in && \
             printf '%s\\n' '{NGROK_TOKEN}' > {token_file} && printf '%s\\n' '{NGROK_CREDENTIAL}' > {credentials_file}\" && \
             install -d /opt/ngrok-stand-in && cat > {STAND_IN} <<'EOF'\n{STAND_IN_SH}EOF\nchmod 755 {STAND_IN}"
        ),
    );
    // apply goes as far as starting the agent; the stand-in exits at once, so the unit is not active
    // 2 s later, and apply says so (exit 1). Everything before that step is done.
    let apply = lab.jprov(&["apply"], &profile, &[]);
    let said = format!("{}{}", text(&apply.stdout), text(&apply.stderr));
    assert_eq!(apply.status.code(), Some(1), "{}", show("apply", &apply));
    assert!(
        said.contains(&format!("{unit} is ")) && said.contains(" after starting"),
        "{said}"
    );
    for secret in ["e2e-stand-in-token", "e2e basic-auth password"] {
        assert!(!said.contains(secret), "apply printed a secret: {said}");
    }
    assert!(
        jupyter_listens(&lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let enabled = lab.sh_ok(
        "workstation",
        &format!("{ALICE_SYSTEMCTL} is-enabled {unit}"),
    );
    assert_eq!(enabled, "enabled");
    // What systemd ran: as alice, with the token from the EnvironmentFile, the configuration
    // ExecStartPre assembled in the runtime directory (0600 in 0700), its credentials filled in.
    let run = lab.sh_ok(
        "workstation",
        "for i in $(seq 50); do [ -f /home/alice/ngrok-stand-in/run ] && break; sleep 0.2; done; \
         cat /home/alice/ngrok-stand-in/run",
    );
    let runtime = format!("/run/user/1000/jprov-{name}-ngrok/ngrok.yml");
    assert!(
        run.contains(&format!("argv: start --all --config {runtime}\n"))
            && run.contains("uid=1000\n")
            && run.contains(&format!("{NGROK_TOKEN}\n"))
            && run.contains(&format!("config={runtime} mode=600 dir=700")),
        "{run}"
    );
    let assembled: serde_yaml::Value =
        serde_yaml::from_str(&lab.sh_ok("workstation", "cat /home/alice/ngrok-stand-in/config"))
            .unwrap();
    let errors = support::ngrok_schema::validate(&assembled);
    assert!(errors.is_empty(), "{errors:?}");
    let policy = &assembled["endpoints"][0]["traffic_policy"]["on_http_request"];
    assert_eq!(
        policy[0]["actions"][0]["config"]["allow"][0],
        "10.77.0.0/24"
    );
    assert_eq!(
        policy[1]["actions"][0]["config"]["credentials"][0],
        NGROK_CREDENTIAL
    );
    // The main process the unit ran exited 1: the stand-in, and systemd restarts it (Restart=always).
    let main = lab.sh_ok(
        "workstation",
        &format!("{ALICE_SYSTEMCTL} show -p ExecMainStatus -p Restart --value {unit}"),
    );
    assert_eq!(
        main.split_whitespace().collect::<Vec<_>>(),
        ["always", "1"],
        "{main}"
    );
    // Jupyter behind it takes the endpoint's Host, and no other.
    let login_with_host = |host: &str| {
        lab.sh_ok(
            "workstation",
            &format!(
                "curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {host}' http://127.0.0.1:8888/login; true"
            ),
        )
    };
    assert_eq!(login_with_host("jupyter-e2e.ngrok.app"), "200");
    assert_eq!(login_with_host("evil.example"), "403");

    // A bad credentials file stops the start before the agent: ExecStartPre refuses it by line, without
    // the password, and the stand-in is not run again.
    lab.sh_ok(
        "workstation",
        &format!(
            "rm /home/alice/ngrok-stand-in/run && printf 'ada:7chars!\\n' > {credentials_file} && \
             {ALICE_SYSTEMCTL} restart {unit}; sleep 1; true"
        ),
    );
    let result = lab.sh_ok(
        "workstation",
        &format!("{ALICE_SYSTEMCTL} show -p Result --value {unit}"),
    );
    assert_eq!(result, "exit-code");
    let refused = lab.sh_ok(
        "workstation",
        "journalctl _UID=1000 --no-pager -o cat | grep 'ngrok-basic-auth: line 1'; \
         test ! -e /home/alice/ngrok-stand-in/run && echo not-run",
    );
    assert!(
        refused.contains(&format!(
            "{credentials_file}: line 1: ngrok needs a password of 8 to 128 characters"
        )) && refused.ends_with("not-run")
            && !refused.contains("7chars"),
        "{refused}"
    );

    // Readable by others: plan says so before anything changes.
    lab.sh_ok("workstation", &format!("chmod 644 {credentials_file}"));
    let plan = lab.jprov(&["plan"], &profile, &[]);
    assert_eq!(plan.status.code(), Some(3), "{}", show("plan", &plan));
    assert!(text(&plan.stdout).contains("has mode 0644"));

    // destroy stops the agent (systemd removes its runtime directory) and removes what apply wrote; the
    // user's files of secrets stay.
    destroyed(&lab, &profile, name);
    let left = lab.sh_ok(
        "workstation",
        &format!(
            "ls -d /run/user/1000/jprov-{name}-ngrok /home/alice/.config/systemd/user/{unit} 2>/dev/null; \
             cat {token_file}"
        ),
    );
    assert_eq!(left, NGROK_TOKEN);
    eprintln!("e2e ngrok: {:.1} s", t_start.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// jprov verify from the laptops: what a collaborator's machine sees, with no access to the hosts. After
// each method that runs here it passes; against set-ups broken on purpose it fails, naming the check.

impl Lab {
    /// `jprov verify ARGS PROFILE` run in `host`'s namespace (a laptop), with the lab's password file.
    fn verify(&self, host: &str, profile: &Path, args: &[&str]) -> Output {
        let password = self.path().join("verify-password");
        std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
        let t0 = std::time::Instant::now();
        let out = self
            .cmd_in(host, JPROV)
            .arg("verify")
            .arg("--password-file")
            .arg(&password)
            .args(args)
            .arg(profile)
            .output()
            .expect("run jprov verify");
        eprintln!(
            "{host}: jprov verify {} -> {} in {:.1} s",
            args.join(" "),
            out.status,
            t0.elapsed().as_secs_f64()
        );
        println!("{}", text(&out.stdout));
        out
    }
}

impl Lab {
    /// `verify`, again every second until it passes or 30 s are over (a service just started); the last.
    fn verify_until_passes(&self, host: &str, profile: &Path, args: &[&str]) -> Output {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = self.verify(host, profile, args);
            if out.status.success() || std::time::Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// The report line of check `name` starts with `mark` (✓ ✗ ⚠ -); returns the line.
fn check_is(out: &Output, name: &str, mark: &str) -> String {
    let stdout = text(&out.stdout);
    let line = (stdout.lines())
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{name}: ")))
        })
        .unwrap_or_else(|| panic!("no check {name}:\n{}", show("jprov verify", out)));
    assert!(
        line.starts_with(mark),
        "{name} is not {mark}:\n{}",
        show("jprov verify", out)
    );
    line.to_string()
}

/// verify passed every check (exit 0, no ✗ and no skip), including `names`.
fn verify_passed(out: &Output, names: &[&str]) {
    assert_eq!(out.status.code(), Some(0), "{}", show("jprov verify", out));
    for name in names {
        check_is(out, name, "✓");
    }
    let stdout = text(&out.stdout);
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("✗ ") || l.starts_with("- ")),
        "{stdout}"
    );
    assert!(stdout.contains("printed \"42\""), "{stdout}");
    assert!(
        !stdout.contains(PASSWORD),
        "the password is shown:\n{stdout}"
    );
}

/// Reload nginx and wait until its old workers stop taking requests (`systemctl reload` returns once the
/// master has the signal, before it has read the new configuration).
const NGINX_RELOADED: &str = "old=$(pgrep -d ' ' -f '^nginx: worker process$'); systemctl reload nginx; \
     for i in $(seq 100); do busy=; for p in $old; do \
     [ \"$(ps -o args= -p $p)\" = 'nginx: worker process' ] && busy=1; done; [ -z \"$busy\" ] && break; \
     sleep 0.1; done";

/// The checks every method with TLS passes.
const VERIFY_TLS: [&str; 14] = [
    "resolve",
    "connect",
    "tls-trust",
    "tls-name",
    "tls-expiry",
    "tls-protocol",
    "plain-http",
    "unauthenticated-api",
    "wrong-password",
    "login",
    "session-cookie",
    "kernel-start",
    "kernel-execute",
    "kernel-stop",
];

#[test]
fn verify_from_a_laptop_passes_and_names_what_is_broken() {
    if !lab_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let lab = Lab::up("jpe2evf");
    admin_allows_lingering(&lab);
    let out = lab.lab(&["acme-root", lab.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", show("lab.sh acme-root", &out));
    let t = std::time::Instant::now();
    verify_nginx_proxy(&lab);
    eprintln!(
        "verify e2e, nginx-proxy: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    verify_reverse_forward(&lab);
    eprintln!(
        "verify e2e, reverse-forward: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    verify_lan(&lab);
    eprintln!("verify e2e, lan: {:.1} s", t.elapsed().as_secs_f64());
    eprintln!("verify e2e: {:.1} s", t_start.elapsed().as_secs_f64());
}

/// nginx-proxy with Let's Encrypt (pebble) and basic auth: passes; then the live site without its
/// basic auth, without the websocket headers, with another name's certificate, and Jupyter without its
/// password: each fails at its check; apply puts it back.
fn verify_nginx_proxy(lab: &Lab) {
    let name = "e2e-vf";
    let profile = write_profile(lab, name, Method::NginxProxy, LETSENCRYPT);
    let root = lab.path().join("acme-root.pem");
    let ca = ["--ca-file", root.to_str().unwrap()];
    let basic_password = "e2e-verify-basic-staple";
    let original = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        format!(
            "{original}access:\n  basic_auth:\n    - username: alice\n      htpasswd_hash: \"{}\"\n",
            htpasswd_hash(basic_password)
        ),
    )
    .unwrap();
    apply_converges(lab, &profile, name);
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let basic_file = lab.path().join("verify-basic-auth");
    std::fs::write(&basic_file, format!("alice:{basic_password}\n")).unwrap();
    let mut with_basic = ca.to_vec();
    with_basic.extend(["--basic-auth-file", basic_file.to_str().unwrap()]);
    let out = lab.verify("laptop", &profile, &with_basic);
    let mut expected = VERIFY_TLS.to_vec();
    expected.extend(["hsts", "basic-auth", "basic-auth-login"]);
    verify_passed(&out, &expected);
    assert!(check_is(&out, "tls-trust", "✓").contains("Pebble"));
    assert!(check_is(&out, "plain-http", "✓").contains("redirects to https://jupyter.lab/"));
    let mut json_args = with_basic.clone();
    json_args.push("--json");
    let json = lab.verify("laptop", &profile, &json_args);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(
        (report["passed"].as_bool(), json.status.code()),
        (Some(true), Some(0))
    );
    // Without the basic-auth credentials and no terminal to ask on, nothing is sent.
    let out = lab.verify("laptop", &profile, &ca);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--basic-auth-file"),
        "{}",
        show("verify", &out)
    );

    let site = format!("/etc/nginx/sites-available/jprov-{name}");
    lab.sh_ok("server", &format!("cp {site} /root/site.jprov"));
    let broken = |what: &str, edit: &str| {
        lab.sh_ok(
            "server",
            &format!("cp /root/site.jprov {site} && {edit} && nginx -t -q && {NGINX_RELOADED}"),
        );
        eprintln!("broken: {what}");
        lab.verify("laptop", &profile, &with_basic)
    };
    // The profile says basic auth; the live site lacks it.
    let out = broken("no auth_basic", &format!("sed -i '/auth_basic/d' {site}"));
    assert_eq!(out.status.code(), Some(1), "{}", show("verify", &out));
    check_is(&out, "basic-auth", "✗");
    check_is(&out, "login", "-");
    // Without the Upgrade/Connection headers: the login works, the websocket does not.
    let edit =
        format!("sed -i '/proxy_set_header Upgrade/d; /proxy_set_header Connection/d' {site}");
    let out = broken("no websocket headers", &edit);
    assert_eq!(out.status.code(), Some(1), "{}", show("verify", &out));
    for ok in [
        "basic-auth",
        "login",
        "session-cookie",
        "kernel-start",
        "kernel-stop",
    ] {
        check_is(&out, ok, "✓");
    }
    assert!(check_is(&out, "kernel-execute", "✗").contains("answered 400"));
    // Another name's certificate (self-signed, trusted as its own root): the name check fails.
    lab.sh_ok(
        "server",
        "mkdir -p /root/other && openssl req -x509 -noenc -days 30 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
         -subj /CN=other.lab -addext subjectAltName=DNS:other.lab -keyout /root/other/key.pem \
         -out /root/other/cert.pem 2>/dev/null",
    );
    let other = lab.path().join("other-cert.pem");
    std::fs::write(
        &other,
        lab.sh_ok("server", "cat /root/other/cert.pem") + "\n",
    )
    .unwrap();
    let edit = format!(
        "sed -i 's#ssl_certificate .*#ssl_certificate /root/other/cert.pem;#; \
         s#ssl_certificate_key .*#ssl_certificate_key /root/other/key.pem;#' {site}"
    );
    // Against pebble's root both the chain and the name fail; with the certificate itself as the root,
    // only the name.
    let out = broken("another name's certificate", &edit);
    assert_eq!(out.status.code(), Some(1), "{}", show("verify", &out));
    check_is(&out, "tls-trust", "✗");
    check_is(&out, "tls-name", "✗");
    check_is(&out, "basic-auth", "-");
    let basic = basic_file.to_str().unwrap();
    let other_ca = [
        "--ca-file",
        other.to_str().unwrap(),
        "--basic-auth-file",
        basic,
    ];
    let out = lab.verify("laptop", &profile, &other_ca);
    assert_eq!(out.status.code(), Some(1), "{}", show("verify", &out));
    check_is(&out, "tls-trust", "✓");
    assert!(check_is(&out, "tls-name", "✗").contains("DNS:other.lab"));
    check_is(&out, "basic-auth", "-");
    // One apply puts jprov's site back (only the site differs), and verify passes again.
    let apply = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        show("apply (repair)", &apply)
    );
    verify_passed(
        &lab.verify("laptop", &profile, &with_basic),
        &["basic-auth"],
    );

    // Jupyter with its password taken out of the live config and password_required off: anyone is in.
    let config = "/home/alice/.jupyter/jupyter_server_config.py";
    lab.sh_ok(
        "workstation",
        &format!(
            "sed -i \"s/^c.PasswordIdentityProvider.hashed_password = .*/c.PasswordIdentityProvider.hashed_password = ''/; \
             s/password_required = True/password_required = False/\" {config} && \
             {ALICE_SYSTEMCTL} restart jprov-{name}-jupyter.service"
        ),
    );
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let out = lab.verify("laptop", &profile, &with_basic);
    assert_eq!(out.status.code(), Some(1), "{}", show("verify", &out));
    check_is(&out, "basic-auth", "✓");
    assert!(check_is(&out, "unauthenticated-api", "✗").contains("answered 200"));
    check_is(&out, "wrong-password", "✗");
    let apply = lab.jprov(&["apply"], &profile, &[]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        show("apply (repair)", &apply)
    );
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let fixed = lab.verify("laptop", &profile, &with_basic);
    check_is(&fixed, "unauthenticated-api", "✓");
    assert_eq!(fixed.status.code(), Some(0), "{}", show("verify", &fixed));
    destroyed(lab, &profile, name);
}

/// reverse-forward with Let's Encrypt for server.lab: passes from the laptop, which has no route to
/// the workstation; from ctl, which reaches the workstation's SSH, `workstation-ssh-closed` fails.
fn verify_reverse_forward(lab: &Lab) {
    let name = "e2e-vr";
    lab.sh_ok(
        "server",
        "systemctl disable --now nginx && ! systemctl is-active -q nginx",
    );
    let profile = write_profile(lab, name, Method::ReverseForward, LETSENCRYPT);
    let source = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        source.replace("domain: jupyter.lab\n", "domain: server.lab\n"),
    )
    .unwrap();
    apply_converges(lab, &profile, name);
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let root = lab.path().join("acme-root.pem");
    let ca = ["--ca-file", root.to_str().unwrap()];
    // Jupyter (a user unit just started) and the tunnel may need a moment.
    let out = lab.verify_until_passes("laptop", &profile, &ca);
    let mut expected = VERIFY_TLS.to_vec();
    expected.extend(["workstation-ssh-closed", "workstation-jupyter-closed"]);
    verify_passed(&out, &expected);
    assert!(check_is(&out, "connect", "✓").contains("10.77.0.10:8888"));
    assert!(check_is(&out, "workstation-ssh-closed", "✓").contains("workstation.lab:22"));
    let out = lab.verify("ctl", &profile, &ca);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify from ctl", &out)
    );
    assert!(check_is(&out, "workstation-ssh-closed", "✗").contains("accepts connections from here"));
    // Jupyter listens on the workstation's loopback only: not even ctl reaches it.
    check_is(&out, "workstation-jupyter-closed", "✓");
    check_is(&out, "kernel-execute", "✓");
    destroyed(lab, &profile, name);
}

/// lan, self-signed: from the second laptop, with the fingerprint apply printed, it passes; without it
/// the certificate is refused and nothing is sent.
fn verify_lan(lab: &Lab) {
    let name = "e2e-vl";
    let profile = write_serverless_profile(
        lab,
        name,
        "lan",
        "domain: workstation.lab\nlan:\n  address: 10.77.0.20\n",
    );
    let shown = apply_converges(lab, &profile, name);
    let printed = printed_fingerprint(&shown);
    let pin = ["--fingerprint", printed.as_str()];
    lab.sh_ok(
        "workstation",
        "for i in $(seq 120); do (exec 3<>/dev/tcp/10.77.0.20/8888) 2>/dev/null && exit 0; sleep 0.5; done; exit 1",
    );
    // The lab's base image runs Debian's nginx, which serves its default page on the workstation's port
    // 80 in plain http: verify names it, and passes once the administrator stops it.
    let out = lab.verify("lanlaptop", &profile, &pin);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (nginx on :80)", &out)
    );
    let plain = check_is(&out, "plain-http", "✗");
    assert!(
        plain.contains("http://workstation.lab/ answers 200 in plain text"),
        "{plain}"
    );
    check_is(&out, "kernel-execute", "✓");
    lab.sh_ok("workstation", "systemctl disable --now nginx");
    let out = lab.verify("lanlaptop", &profile, &pin);
    verify_passed(&out, &VERIFY_TLS);
    assert!(check_is(&out, "tls-trust", "✓").contains(&printed));
    let out = lab.verify("lanlaptop", &profile, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (no pin)", &out)
    );
    assert!(check_is(&out, "tls-trust", "✗").contains(&printed));
    check_is(&out, "login", "-");
    destroyed(lab, &profile, name);
}

// ---------------------------------------------------------------------------------------------
// Issue 14: the laptop is a real browser. tests/lab/browser_check.py runs headless Chromium (Debian's) in a
// laptop's network namespace and uses JupyterLab through each method the lab can run, as a collaborator
// would: it trusts what they would trust, answers basic auth, logs in through the form, computes 42 in a
// new notebook, finds it saved after a reload, and (reverse-forward, with collaboration) two people edit
// one notebook and see each other's names. One lab for all four methods, one after the other.

const BROWSER_CHECK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/browser_check.py");

/// Where the screenshots stay after the test (the lab DIR goes when it passes): target/tmp/browser.
fn browser_artefacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// Chromium and NSS's certutil, which tests/run.sh installs: a failure there when missing, else a skip.
fn browser_can_run() -> bool {
    for (path, package) in [
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/certutil", "libnss3-tools"),
    ] {
        if !Path::new(path).exists() {
            support::prereq::skip(&format!(
                "{path} is missing (Debian's {package}, which tests/run.sh installs)"
            ));
            return false;
        }
    }
    true
}

/// The URL jprov tells people to open: the JSON plan's `reach.url` (offline: it needs no host).
fn reached_url(profile: &Path) -> String {
    let out = Command::new(JPROV)
        .args(["plan", "--offline", "--json"])
        .arg(profile)
        .output()
        .expect("jprov plan --offline --json");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", show("jprov plan --offline --json", &out)));
    plan["reach"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no reach.url: {plan}"))
        .to_string()
}

/// A profile's `jupyter.app: server` line replaced by `app: lab` and `more` (lines of the jupyter section).
fn as_jupyterlab(profile: &Path, more: &str) {
    let text = std::fs::read_to_string(profile).unwrap();
    assert!(text.contains("  app: server\n"), "{text}");
    std::fs::write(
        profile,
        text.replace("  app: server\n", &format!("  app: lab\n{more}")),
    )
    .unwrap();
}

/// browser_check.py from `host` (laptop or lanlaptop) against `url` of `profile` (its name), with its
/// screenshots named `name` in `browser_artefacts()`; `options` are its other flags. Returns its output,
/// which must show every step of a person's use of a notebook; prints the screenshots' paths.
fn browser_from(
    lab: &Lab,
    host: &str,
    url: &str,
    (name, profile): (&str, &str),
    options: &[&str],
) -> String {
    let artefacts = browser_artefacts();
    let t0 = std::time::Instant::now();
    let out = run_browser_check(lab, host, url, (name, PASSWORD), options);
    let shown = text(&out.stdout);
    println!("{shown}");
    assert!(
        out.status.success(),
        "{}\nChromium's log: {}\n{}",
        show("browser_check.py", &out),
        artefacts.join(format!("{name}-chromium.log")).display(),
        lab.host_logs(profile)
    );
    for step in [
        "login-page",
        "wrong-login",
        "login",
        "notebook",
        "execute: 6*7 -> 42",
        "saved",
        "reload",
    ] {
        assert!(shown.contains(&format!("ok   {step}")), "{step}?\n{shown}");
    }
    for shot in shown
        .lines()
        .filter_map(|l| l.strip_prefix("ok   screenshot: "))
    {
        let png = std::fs::read(shot).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is no PNG");
        eprintln!("screenshot ({name}): {shot}");
    }
    eprintln!(
        "browser_check.py ({name}) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    shown
}

/// browser_check.py from `host` against `url`, logging in with `password`, screenshots named `name`.
fn run_browser_check(
    lab: &Lab,
    host: &str,
    url: &str,
    (name, password): (&str, &str),
    options: &[&str],
) -> Output {
    lab.cmd_in(host, &laptop_python())
        .arg(BROWSER_CHECK_PY)
        .args(["--url", url, "--password", password, "--name", name])
        .arg("--artefacts")
        .arg(browser_artefacts())
        .args(options)
        .output()
        .expect("run browser_check.py")
}

/// pebble's current root, as the laptop trusts it: DIR/acme-root.pem.
fn acme_root(lab: &Lab) -> String {
    let out = lab.lab(&["acme-root", lab.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", show("lab.sh acme-root", &out));
    lab.path().join("acme-root.pem").display().to_string()
}

/// reverse-forward with Let's Encrypt (pebble), JupyterLab with collaboration and two collaborators:
/// the owner's notebook, then Ada and Bob on it at once.
fn browser_through_reverse_forward(lab: &Lab) {
    let name = "e2e-br-rf";
    // certbot --standalone answers on the server's port 80, where the base's nginx listens.
    lab.sh_ok("server", "systemctl disable --now nginx");
    let profile = write_profile(lab, name, Method::ReverseForward, LETSENCRYPT);
    let people = [
        ("ada", "ada-e2e-own-secret", "Ada Lovelace"),
        ("bob", "bob-e2e-own-secret", "Bob O'Brien"),
    ];
    let collaborators: String = (people.iter())
        .map(|(username, password, name)| {
            format!(
                "    - name: \"{name}\"\n      username: {username}\n      password_hash: \"{}\"\n",
                hash_password(password)
            )
        })
        .collect();
    as_jupyterlab(
        &profile,
        &format!("  collaboration: true\n  collaborators:\n{collaborators}"),
    );
    apply_converges(lab, &profile, name);
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let url = reached_url(&profile);
    assert_eq!(url, "https://jupyter.lab:8888/");
    let ca = acme_root(lab);
    let mut options = vec!["--ca", &ca, "--username", "alice"];
    for (username, password, name) in &people {
        options.extend(["--person", username, password, name]);
    }
    let shown = browser_from(lab, "laptop", &url, ("reverse-forward", name), &options);
    for seen in [
        "ok   untrusted: without the trust: net::ERR_CERT_AUTHORITY_INVALID",
        "ok   rtc-edit: ada typed '# typed by ada', bob sees",
        "ok   rtc-edit: bob typed '# typed by bob', ada sees",
        "ada's panel lists [\"Bob O'Brien\"]; bob's panel lists ['Ada Lovelace']",
    ] {
        assert!(shown.contains(seen), "{seen}?\n{shown}");
    }
    destroyed(lab, &profile, name);
}

/// nginx-proxy with Let's Encrypt, an unguessable base_url, the laptop alone on the allow-list, and basic
/// auth for the owner.
fn browser_through_nginx_proxy(lab: &Lab) {
    let name = "e2e-br-np";
    lab.sh_ok("server", "systemctl enable --now nginx");
    let profile = write_profile(lab, name, Method::NginxProxy, LETSENCRYPT);
    let base_url = Command::new(JPROV).arg("base-url").output().unwrap();
    let base_url = text(&base_url.stdout).trim().to_string();
    assert!(base_url.starts_with("/j-"), "{base_url}");
    as_jupyterlab(&profile, &format!("  base_url: {base_url}\n"));
    let basic_password = "e2e-browser-basic-auth";
    let profile_text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        format!(
            "{profile_text}access:\n  basic_auth:\n    - username: alice\n      htpasswd_hash: \"{}\"\n  \
             allow: [10.77.0.40]\n",
            htpasswd_hash(basic_password)
        ),
    )
    .unwrap();
    apply_converges(lab, &profile, name);
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let url = reached_url(&profile);
    assert_eq!(url, format!("https://jupyter.lab{base_url}"));
    let credentials = lab.path().join("browser-basic-auth");
    std::fs::write(&credentials, format!("alice:{basic_password}\n")).unwrap();
    let ca = acme_root(lab);
    let options = [
        "--ca",
        &ca,
        "--basic-auth-file",
        credentials.to_str().unwrap(),
    ];
    let shown = browser_from(lab, "laptop", &url, ("nginx-proxy", name), &options);
    assert!(
        shown.contains("ok   basic-auth: a wrong password for alice: asked again, then '401 Authorization Required'"),
        "{shown}"
    );
    destroyed(lab, &profile, name);
}

/// Kills and reaps a child (here `jprov tunnel` on the laptop) when dropped, also after a failed assert.
struct StopOnDrop(std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// local-forward through the server as a jump host: the laptop's `jprov tunnel` runs its ssh -L, and the
/// browser opens http://localhost:8888/ on the laptop.
fn browser_through_local_forward(lab: &Lab) {
    let name = "e2e-br-lf";
    let server = format!(
        "server:\n  host: server.lab\n  user: admin\n  identity_file: {}\n",
        lab.path().join("keys/admin").display()
    );
    let profile = write_serverless_profile(lab, name, "local-forward", &server);
    let profile_text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        profile_text.replace("  user: alice\n", "  user: alice\n  jump: server\n"),
    )
    .unwrap();
    as_jupyterlab(&profile, "");
    apply_converges(lab, &profile, name);
    assert!(
        jupyter_listens(lab).status.success(),
        "{}",
        lab.host_logs(name)
    );
    let wrapper = lab.laptop_ssh_wrapper();
    let tunnel = lab
        .cmd_in("laptop", JPROV)
        .args(["tunnel", "--retry-seconds", "1"])
        .arg(&profile)
        .env("PATH", format!("{}:/usr/bin:/bin", wrapper.display()))
        .spawn()
        .unwrap();
    let tunnel = StopOnDrop(tunnel);
    lab.sh_ok(
        "laptop",
        "for i in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/8888) 2>/dev/null && exit 0; sleep 0.5; done; exit 1",
    );
    let url = reached_url(&profile);
    assert_eq!(url, "http://localhost:8888/");
    browser_from(lab, "laptop", &url, ("local-forward", name), &[]);
    drop(tunnel);
    destroyed(lab, &profile, name);
}

/// lan: the second laptop, on the workstation's network, trusts the self-signed certificate it is served
/// once its fingerprint is the one jprov printed.
fn browser_on_the_lan(lab: &Lab) {
    let name = "e2e-br-lan";
    let profile = write_serverless_profile(
        lab,
        name,
        "lan",
        "domain: workstation.lab\nlan:\n  address: 10.77.0.20\n",
    );
    as_jupyterlab(&profile, "");
    let printed = printed_fingerprint(&apply_converges(lab, &profile, name));
    let certificate = compared_lan_certificate(lab, &printed, "browser-lan-certificate.pem");
    let url = reached_url(&profile);
    assert_eq!(url, "https://workstation.lab:8888/");
    let options = ["--server-certificate", certificate.to_str().unwrap()];
    let shown = browser_from(lab, "lanlaptop", &url, ("lan", name), &options);
    assert!(shown.contains("ok   untrusted"), "{shown}");

    // The check fails where it should: with a wrong password at the login form, and trusting another
    // certificate for the same name (one made here) before the login page.
    let wrong = run_browser_check(
        lab,
        "lanlaptop",
        &url,
        ("lan-wrong-password", "not-it"),
        &options,
    );
    assert!(
        !wrong.status.success()
            && text(&wrong.stdout)
                .contains("FAIL login: the login form answered with the login form again"),
        "{}",
        show("browser_check.py with a wrong password", &wrong)
    );
    println!("{}", text(&wrong.stdout));
    let other = lab.path().join("browser-other-certificate.pem");
    lab.sh_ok(
        "lanlaptop",
        &format!(
            "openssl req -x509 -noenc -days 2 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=workstation.lab \
             -addext subjectAltName=DNS:workstation.lab -keyout /dev/null -out {} 2>/dev/null",
            other.display()
        ),
    );
    let options = ["--server-certificate", other.to_str().unwrap()];
    let wrong = run_browser_check(
        lab,
        "lanlaptop",
        &url,
        ("lan-other-certificate", PASSWORD),
        &options,
    );
    assert!(
        !wrong.status.success()
            && text(&wrong.stdout)
                .contains("FAIL login-page: https://workstation.lab:8888/: net::ERR_CERT_"),
        "{}",
        show("browser_check.py trusting another certificate", &wrong)
    );
    println!("{}", text(&wrong.stdout));
    destroyed(lab, &profile, name);
}

#[test]
fn a_browser_uses_jupyterlab_through_each_method() {
    if !lab_can_run() || !browser_can_run() {
        return;
    }
    let _turn = one_lab_at_a_time();
    let t_start = std::time::Instant::now();
    let artefacts = browser_artefacts();
    let _ = std::fs::remove_dir_all(&artefacts);
    std::fs::create_dir_all(&artefacts).unwrap();
    let lab = Lab::up("jpe2ebr");
    admin_allows_lingering(&lab);
    let mut times = Vec::new();
    for (method, phase) in [
        (
            "reverse-forward",
            browser_through_reverse_forward as fn(&Lab),
        ),
        ("nginx-proxy", browser_through_nginx_proxy),
        ("local-forward", browser_through_local_forward),
        ("lan", browser_on_the_lan),
    ] {
        let t0 = std::time::Instant::now();
        phase(&lab);
        times.push(format!("{method} {:.1} s", t0.elapsed().as_secs_f64()));
    }
    eprintln!(
        "e2e browser: {:.1} s in all ({}); screenshots in {}",
        t_start.elapsed().as_secs_f64(),
        times.join(", "),
        artefacts.display()
    );
}
