//! Two test hosts (a server with a sudo admin, a workstation with user alice), a profile for them, and
//! the jprov binary: shared by tests/hosts.rs and benches/plan.rs.

use super::test_host::TestHost;
use std::path::PathBuf;
use std::process::Output;

const HASH: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Require exit `code`; return stdout. On mismatch, show both streams.
pub fn expect_exit(out: &Output, code: i32) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}{}",
        text(&out.stderr)
    );
    stdout
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Copy the jprov binary into `host` as `DIR/jprov` (mode 0755) and return that path: the build directory
/// may not be visible inside a host (its /tmp is private). `DIR` must be under a directory the host
/// overlays (`/home`, `/var`, ...) or its own `/tmp`, so the machine is untouched.
pub fn install_jprov(host: &TestHost, dir: &str) -> String {
    let binary = std::fs::read(super::jprov_bin()).unwrap();
    let path = format!("{dir}/jprov");
    host.write_file(&path, &binary, 0o755);
    path
}

/// A server and a workstation, a profile for them, and the jprov binary.
pub struct Setup {
    pub server: TestHost,
    pub workstation: TestHost,
    pub dir: tempfile::TempDir,
    pub profile: PathBuf,
    pub tunnel_port: u16,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Method {
    ReverseForward,
    NginxProxy,
}

impl Setup {
    pub fn new(method: Method) -> Option<Setup> {
        Setup::with_server(TestHost::start("server")?, method)
    }

    /// Like `new`, with a server host started by the caller (e.g. to put a proxy in front of it first).
    pub fn with_server(server: TestHost, method: Method) -> Option<Setup> {
        let workstation = TestHost::start("workstation")?;
        workstation.add_user("alice");
        // The admin is not root: every privileged step goes through `sudo -n`.
        server.add_user("admin");
        server.exec_ok("echo 'admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/admin && chmod 0440 /etc/sudoers.d/admin");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("known_hosts"),
            format!(
                "{}\n{}\n",
                server.known_hosts_line(),
                workstation.known_hosts_line()
            ),
        )
        .unwrap();
        let tls_host = if method == Method::ReverseForward {
            &workstation
        } else {
            &server
        };
        tls_host.exec_ok(
            "mkdir -p /etc/jprov-test && openssl req -x509 -noenc -days 30 -newkey rsa:2048 -subj /CN=jupyter.test \
             -addext subjectAltName=DNS:jupyter.test -keyout /etc/jprov-test/key.pem -out /etc/jprov-test/cert.pem 2>/dev/null \
             && chmod 644 /etc/jprov-test/key.pem",
        );
        let tunnel_port = free_port();
        let (method_name, nginx) = match method {
            Method::ReverseForward => ("reverse-forward", String::new()),
            Method::NginxProxy => (
                "nginx-proxy",
                format!(
                    "nginx:\n  https_port: {}\n  http_port: {}\n",
                    free_port(),
                    free_port()
                ),
            ),
        };
        let profile = format!(
            "name: t-{method_name}\nmethod: {method_name}\ndomain: jupyter.test\n\
             server:\n  host: 127.0.0.1\n  port: {sp}\n  user: admin\n  sudo: true\n  identity_file: {key}\n\
             workstation:\n  host: 127.0.0.1\n  port: {wp}\n  user: alice\n  identity_file: {wkey}\n\
             jupyter:\n  port: {jp}\n  password_hash: \"{HASH}\"\n\
             tls:\n  files:\n    cert: /etc/jprov-test/cert.pem\n    key: /etc/jprov-test/key.pem\n\
             tunnel:\n  port: {tunnel_port}\n{nginx}known_hosts: known_hosts\n",
            sp = server.port(),
            wp = workstation.port(),
            key = server.client_key().display(),
            wkey = workstation.client_key().display(),
            jp = free_port(),
        );
        let path = dir.path().join("profile.yaml");
        std::fs::write(&path, profile).unwrap();
        Some(Setup {
            server,
            workstation,
            dir,
            profile: path,
            tunnel_port,
        })
    }

    /// Replace the profile's `tls:` section (the test certificate files) with `section`, e.g.
    /// `"tls:\n  self_signed: {}\n"`.
    pub fn set_tls(&self, section: &str) {
        let profile = std::fs::read_to_string(&self.profile).unwrap();
        let files =
            "tls:\n  files:\n    cert: /etc/jprov-test/cert.pem\n    key: /etc/jprov-test/key.pem\n";
        assert!(profile.contains(files), "{profile}");
        std::fs::write(&self.profile, profile.replace(files, section)).unwrap();
    }

    /// A value of the profile, by its key (`"https_port"`): the first line `  KEY: VALUE`.
    pub fn profile_value(&self, key: &str) -> String {
        let profile = std::fs::read_to_string(&self.profile).unwrap();
        profile
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no {key} in {profile}"))
            .to_string()
    }

    pub fn jprov(&self, args: &[&str]) -> Output {
        self.jprov_with(args, &[])
    }

    /// Run jprov (profile appended), require exit `code`, return stdout; on mismatch show both streams.
    pub fn expect(&self, args: &[&str], code: i32) -> String {
        expect_exit(&self.jprov(args), code)
    }

    /// jprov with exactly these arguments (no profile appended).
    pub fn jprov_raw(&self, args: &[&std::ffi::OsStr]) -> Output {
        std::process::Command::new(super::jprov_bin())
            .args(args)
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    }

    pub fn jprov_with(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut command = std::process::Command::new(super::jprov_bin());
        command.args(args).arg(&self.profile);
        command.envs(env.iter().copied());
        // No agent: authentication must come from the profile's identity_file.
        command.env_remove("SSH_AUTH_SOCK");
        command.output().unwrap()
    }

    /// Apply, require success, then re-plan: a converged host must show zero changes (exit 0).
    pub fn apply(&self, args: &[&str]) -> String {
        let mut all = vec!["apply"];
        all.extend_from_slice(args);
        let out = self.jprov(&all);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "apply failed:\n{stdout}\n{}",
            text(&out.stderr)
        );
        let mut plan_args = vec!["plan"];
        if args.contains(&"--start-tunnel") {
            plan_args.push("--start-tunnel");
        }
        let plan = self.jprov(&plan_args);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "a plan right after apply must show no changes:\n{}{}",
            text(&plan.stdout),
            text(&plan.stderr)
        );
        stdout
    }

    pub fn sshd_setting(&self, user: &str, key: &str) -> String {
        let out = self.server.exec_ok(&format!(
            "sshd -T -C user={user},host=laptop,addr=192.0.2.1 | grep -i '^{key} '"
        ));
        out.trim().to_string()
    }
}
