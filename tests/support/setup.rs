//! Two test hosts (a server with a sudo admin, a workstation with user alice), a profile for them (a
//! `Profile` value, written to `DIR/profile.yaml`), and the jprov binary: shared by tests/hosts.rs,
//! tests/without_systemd.rs, tests/interruptions.rs and benches/plan.rs. jprov runs against them as `Step`s
//! (tests/support/step.rs). benches/fleet.rs makes its many hosts with `add_sudo_admin` and
//! `make_test_certificate`.

use super::expect::Normalize;
use super::profiles::{self, Hosts};
use super::step::{Replan, Step};
use super::test_host::TestHost;
use jprov::profile::{Profile, WorkstationHost};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use jprov::profile::Method;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    profiles::free_ports::<1>()[0]
}

/// Require exit `code`; return stdout. On mismatch, show both streams. For commands a test runs inside a
/// host (jprov installed there); jprov run by the test itself goes through `Step`.
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

/// Which of the two hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Server,
    Workstation,
}

/// A server and a workstation, a profile for them, and the jprov binary.
pub struct Setup {
    pub server: TestHost,
    pub workstation: TestHost,
    pub dir: tempfile::TempDir,
    /// `DIR/profile.yaml`, always what `profile()` returns.
    pub profile_file: PathBuf,
    profile: RefCell<Profile>,
}

impl Setup {
    pub fn new(method: Method) -> Option<Setup> {
        Setup::with_server(TestHost::start("server")?, method)
    }

    /// Like `new`, with a server host started by the caller (e.g. to put a proxy in front of it first).
    pub fn with_server(server: TestHost, method: Method) -> Option<Setup> {
        let workstation = TestHost::start("workstation")?;
        workstation.add_user("alice");
        add_sudo_admin(&server);
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
        let tls_host = match method {
            Method::ReverseForward | Method::LocalForward | Method::Lan | Method::Ngrok => {
                &workstation
            }
            Method::NginxProxy => &server,
        };
        make_test_certificate(tls_host);
        let [jupyter_port, tunnel_port, https, http] = profiles::free_ports::<4>();
        let profile = profiles::for_hosts(
            method,
            &Hosts {
                server_port: server.port(),
                server_key: server.client_key(),
                workstation_port: workstation.port(),
                workstation_key: workstation.client_key(),
                jupyter_port,
                tunnel_port,
                nginx_ports: (method == Method::NginxProxy).then_some((https, http)),
            },
        );
        let profile_file = dir.path().join("profile.yaml");
        profiles::write(&profile_file, &profile);
        Some(Setup {
            server,
            workstation,
            dir,
            profile_file,
            profile: RefCell::new(profile),
        })
    }

    /// The profile as it is now.
    pub fn profile(&self) -> Profile {
        self.profile.borrow().clone()
    }

    /// Replace the profile (and its file).
    pub fn set_profile(&self, profile: Profile) {
        profiles::write(&self.profile_file, &profile);
        *self.profile.borrow_mut() = profile;
    }

    /// Change the profile (and its file): `s.edit_profile(|p| p.tunnel.port = Port::new(40123))`.
    pub fn edit_profile(&self, edit: impl FnOnce(&mut Profile)) {
        let mut profile = self.profile();
        edit(&mut profile);
        self.set_profile(profile);
    }

    /// The tunnel's port on the server in the profile as it is now.
    pub fn tunnel_port(&self) -> u16 {
        self.profile.borrow().tunnel.port.get()
    }

    /// A free port that no field of the profile uses yet (for an edit that moves one).
    pub fn fresh_port(&self) -> u16 {
        let used = self.profile_ports();
        loop {
            let port = free_port();
            if !used.iter().any(|(p, _)| *p == port) {
                return port;
            }
        }
    }

    pub fn host(&self, role: Role) -> &TestHost {
        match role {
            Role::Server => &self.server,
            Role::Workstation => &self.workstation,
        }
    }

    /// `jprov ARGS PROFILE`, without an ssh agent (authentication must come from the profile's
    /// identity_file). For the few callers that drive the process themselves (kill it, time it);
    /// everything else runs a `Step`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(super::jprov_bin());
        command.args(super::approved(args)).arg(&self.profile_file);
        command.env_remove("SSH_AUTH_SOCK");
        command
    }

    /// `jprov ARGS PROFILE`, checked as the step says (by default: exit 0).
    pub fn run(&self, args: &[&str]) -> Step<'_> {
        Step::new(self, args, true)
    }

    /// `jprov apply ARGS PROFILE`: exit 0, then a plan that must show no changes (exit 0).
    pub fn apply(&self, args: &[&str]) -> Step<'_> {
        let mut all = vec!["apply"];
        all.extend_from_slice(args);
        self.run(&all).replans(Replan::Setup)
    }

    /// `jprov destroy ARGS PROFILE`: exit 0, then a teardown plan that must be empty (exit 0).
    pub fn destroy(&self, args: &[&str]) -> Step<'_> {
        let mut all = vec!["destroy"];
        all.extend_from_slice(args);
        self.run(&all).replans(Replan::Teardown)
    }

    /// `jprov ARGS` with no profile added: the arguments name the profiles (several in one invocation).
    pub fn run_args(&self, args: &[&str]) -> Step<'_> {
        Step::new(self, args, false)
    }

    /// `jprov apply SAVED` (a saved plan: no profile argument). Say `.replans(...)` for the plan after it.
    pub fn apply_saved(&self, saved: &Path) -> Step<'_> {
        Step::new(self, &["apply", saved.to_str().unwrap()], false)
    }

    /// What differs from run to run in jprov's output, by name: this setup's directories and ports.
    pub fn normalize(&self) -> Normalize {
        let mut normalize = Normalize::default()
            .text(self.dir.path().display().to_string(), "[DIR]")
            .text(self.server.dir().display().to_string(), "[SERVER_DIR]")
            .text(
                self.workstation.dir().display().to_string(),
                "[WORKSTATION_DIR]",
            );
        for (port, name) in self.profile_ports() {
            normalize = normalize.number(port, name);
        }
        let profile_port = self.profile.borrow().server().port.map(|port| port.get());
        if profile_port.is_some_and(|port| port != self.server.port()) {
            normalize = normalize.number(self.server.port(), "[SERVER_SSHD_PORT]");
        }
        normalize
    }

    /// The ports of the profile that the test picked, with their names in normalized output.
    fn profile_ports(&self) -> Vec<(u16, &'static str)> {
        let p = self.profile.borrow();
        // The hosts' ports even where the profile leaves them to ssh's config.
        let mut ports = vec![
            (
                p.server()
                    .port
                    .map_or(self.server.port(), |port| port.get()),
                "[SERVER_PORT]",
            ),
            (p.jupyter.port.get(), "[JUPYTER_PORT]"),
            (p.tunnel.port.get(), "[TUNNEL_PORT]"),
        ];
        if let WorkstationHost::Remote(_) = p.workstation.host {
            let port = p
                .workstation
                .port
                .map_or(self.workstation.port(), |port| port.get());
            ports.push((port, "[WORKSTATION_PORT]"));
        }
        if let Some(nginx) = &p.nginx {
            ports.push((nginx.https_port.get(), "[HTTPS_PORT]"));
            ports.push((nginx.http_port.get(), "[HTTP_PORT]"));
        }
        ports
    }

    pub fn sshd_setting(&self, user: &str, key: &str) -> String {
        let out = self.server.exec_ok(&format!(
            "sshd -T -C user={user},host=laptop,addr=192.0.2.1 | grep -i '^{key} '"
        ));
        out.trim().to_string()
    }
}

/// The server's account `admin`, which the test profiles log in as. The admin is not root: every privileged
/// step goes through `sudo -n`.
pub fn add_sudo_admin(server: &TestHost) {
    server.add_user("admin");
    server.exec_ok("echo 'admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/admin && chmod 0440 /etc/sudoers.d/admin");
}

/// The certificate the test profiles' `tls.files` name, on the host that terminates TLS.
pub fn make_test_certificate(host: &TestHost) {
    host.exec_ok(
        "mkdir -p /etc/jprov-test && openssl req -x509 -noenc -days 30 -newkey rsa:2048 -subj /CN=jupyter.test \
         -addext subjectAltName=DNS:jupyter.test -keyout /etc/jprov-test/key.pem -out /etc/jprov-test/cert.pem 2>/dev/null \
         && chmod 644 /etc/jprov-test/key.pem",
    );
}
