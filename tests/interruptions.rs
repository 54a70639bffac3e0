//! Interruption sweeps on real sshd hosts (loopback, no systemd: the guard's sleeper kind): jprov is killed
//! with SIGKILL at many moments spread over an apply, and its SSH connection to the server is cut after many
//! byte counts. After each interruption the managed files are each wholly old or new, `sshd -t` passes, root
//! and the admin (with sudo) can log in, a rerun converges, and a plan made after the lockout guard's delay
//! still shows no changes: no stale guard undoes the rerun. Needs root (see tests/support/test_host.rs).
//!
//! Each point moves the hosts between two versions of one profile (two tunnel ports), so every point
//! changes sshd's drop-in and reloads sshd under the guard.

mod support;

use jprov::profile::Profile;
use jprov::value::Port;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::cut_proxy::CutProxy;
use support::setup::{Method, Setup};
use support::TestHost;

/// Short, so that a stale guard fires while the test watches.
const GUARD_SECONDS: u64 = 2;

/// Every managed path's content per host, in one converged version (`None`: absent).
type Snapshot = BTreeMap<(String, String), Option<Vec<u8>>>;

struct Sweep {
    s: Setup,
    /// The two versions of the profile; `s.profile()` is the one being applied.
    versions: [Profile; 2],
    snapshots: [Snapshot; 2],
    /// Managed paths per host role ("server", "workstation").
    paths: Vec<(String, String)>,
    /// Which version the hosts are at.
    at: usize,
    /// Points at which an earlier, interrupted run had left the lockout guard armed.
    stale_guards: usize,
}

fn guard_args() -> [String; 2] {
    ["--lockout-guard-seconds".into(), GUARD_SECONDS.to_string()]
}

impl Sweep {
    /// Hosts converged on version 0, then on version 1 (recording both), with `server_port` standing for
    /// the server's sshd port in the profile (a proxy in front of it, or sshd itself).
    fn new() -> Option<Sweep> {
        Sweep::with_server(TestHost::start("server")?, None)
    }

    fn with_server(server: TestHost, server_port: Option<u16>) -> Option<Sweep> {
        let s = Setup::with_server(server, Method::ReverseForward)?;
        if let Some(port) = server_port {
            s.edit_profile(|p| p.server.as_mut().unwrap().port = Some(Port::new(port)));
            // The proxy's address carries the server's host key.
            let pins = s.dir.path().join("known_hosts");
            let mut known = std::fs::read_to_string(&pins).unwrap();
            known.push_str(&format!("{}\n", s.server.known_hosts_line_at(port)));
            std::fs::write(&pins, known).unwrap();
        }
        let first = s.profile();
        let mut second = first.clone();
        second.tunnel.port = Port::new(s.fresh_port());
        let mut sweep = Sweep {
            s,
            versions: [first, second],
            snapshots: [Snapshot::new(), Snapshot::new()],
            paths: vec![],
            at: 0,
            stale_guards: 0,
        };
        sweep.converge_on(0);
        sweep.paths = sweep.managed_paths();
        sweep.snapshots[0] = sweep.snapshot();
        sweep.converge_on(1);
        sweep.snapshots[1] = sweep.snapshot();
        assert_ne!(
            sweep.snapshots[0], sweep.snapshots[1],
            "the two versions must differ on the hosts"
        );
        Some(sweep)
    }

    fn select(&self, version: usize) {
        self.s.set_profile(self.versions[version].clone());
    }

    /// The apply a sweep interrupts: a process of its own, to kill or to watch.
    fn apply_command(&self) -> Command {
        let guard = guard_args();
        let mut args = vec!["apply"];
        args.extend(guard.iter().map(String::as_str));
        let mut command = self.s.command(&args);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Apply `version` to convergence (apply, then a plan that must be empty).
    fn converge_on(&mut self, version: usize) -> String {
        self.select(version);
        let applied = self
            .s
            .apply(&guard_args().each_ref().map(String::as_str))
            .run()
            .stdout;
        self.at = version;
        applied
    }

    /// Every path jprov manages on the hosts, as the teardown plan lists them.
    fn managed_paths(&self) -> Vec<(String, String)> {
        let plan = self
            .s
            .run(&["plan", "--destroy", "--json"])
            .status(2)
            .run()
            .json();
        let mut paths = vec![];
        for host in plan["hosts"].as_array().unwrap() {
            let role = host["role"].as_str().unwrap().to_string();
            for change in host["changes"].as_array().unwrap() {
                for file in change["files"].as_array().into_iter().flatten() {
                    if let Some(path) = file["path"].as_str() {
                        paths.push((role.clone(), path.to_string()));
                    }
                }
            }
        }
        assert!(
            paths.iter().any(|(_, p)| p.contains("sshd_config.d")),
            "the sshd drop-in must be among {paths:?}"
        );
        paths
    }

    fn host(&self, role: &str) -> &TestHost {
        match role {
            "server" => &self.s.server,
            _ => &self.s.workstation,
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.paths
            .iter()
            .map(|(role, path)| {
                (
                    (role.clone(), path.clone()),
                    self.host(role).read_file(path),
                )
            })
            .collect()
    }

    /// The checks after one interruption (`what` names it in failures), then a rerun and a late plan.
    fn check_and_rerun(&mut self, target: usize, what: &str) {
        let now = self.snapshot();
        for (key, content) in &now {
            assert!(
                *content == self.snapshots[0][key] || *content == self.snapshots[1][key],
                "{what}: {}:{} is neither the old nor the new version",
                key.0,
                key.1
            );
        }
        let sshd_t = self.s.server.exec("/usr/sbin/sshd -t");
        assert!(
            sshd_t.status.success(),
            "{what}: sshd -t fails: {}",
            String::from_utf8_lossy(&sshd_t.stderr)
        );
        for (user, command) in [("root", "true"), ("admin", "sudo -n true")] {
            assert!(
                self.s.server.logs_in(user, command),
                "{what}: {user} cannot log in (and run `{command}`)\n{}",
                self.s.server.sshd_log()
            );
        }
        let rerun = self.converge_on(target);
        if rerun.contains("disarm the lockout guard (pending") {
            self.stale_guards += 1;
        }
        // Past the delay of any guard the interrupted run armed: a stale guard would have fired by now.
        std::thread::sleep(Duration::from_secs(GUARD_SECONDS + 1));
        self.s
            .run(&["plan"])
            .note(format!("{what}: a plan after the guard's delay"))
            // Converged: the whole text is compared in tests/hosts.rs; here, that nothing is left.
            .stdout_contains("No changes")
            .run();
        assert_eq!(
            self.snapshot(),
            self.snapshots[target],
            "{what}: the hosts moved after the rerun converged"
        );
    }
}

#[test]
fn killing_jprov_at_any_moment_of_an_apply_leaves_the_hosts_safe_and_a_rerun_converges() {
    let Some(mut sweep) = Sweep::new() else {
        return;
    };
    // How long a whole apply takes (version 1 -> 0), to spread the kills over it.
    let started = Instant::now();
    sweep.converge_on(0);
    let whole = started.elapsed();
    const POINTS: u32 = 10;
    for i in 0..POINTS {
        let target = 1 - sweep.at;
        sweep.select(target);
        let delay = whole.mul_f64((f64::from(i) + 0.5) / f64::from(POINTS));
        let mut child = sweep.apply_command().spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        sweep.check_and_rerun(target, &format!("SIGKILL after {delay:?} of {whole:?}"));
    }
    eprintln!(
        "kill sweep: {POINTS} points over a {whole:?} apply; {} left the lockout guard armed",
        sweep.stale_guards
    );
    assert!(
        sweep.stale_guards > 0,
        "no kill left the guard armed: the sweep missed the moments that matter"
    );
}

#[test]
fn cutting_the_connection_after_any_byte_leaves_the_hosts_safe_and_a_rerun_converges() {
    // The server is reached through a proxy that cuts the connection it is armed for after N bytes; the
    // proxy starts before the hosts, so the profile names it from the first apply on.
    let Some(server) = TestHost::start("server") else {
        return;
    };
    let mut proxy = CutProxy::start(server.port());
    let Some(mut sweep) = Sweep::with_server(server, Some(proxy.port())) else {
        return;
    };
    // The bytes of a whole apply's main connection (version 1 -> 0).
    proxy.arm(None);
    sweep.converge_on(0);
    let whole = proxy.counted_bytes();
    assert!(whole > 10_000, "a whole apply moved only {whole} bytes");
    const POINTS: u64 = 12;
    let mut cuts: Vec<u64> = (0..POINTS)
        .map(|i| whole * (2 * i + 1) / (2 * POINTS))
        .collect();
    // And densely through the key exchange and authentication.
    cuts.extend([200, 1_500, 4_000]);
    for cut in &cuts {
        let target = 1 - sweep.at;
        sweep.select(target);
        proxy.arm(Some(*cut));
        let mut child = sweep.apply_command().spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "jprov hangs after a cut at {cut} bytes"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sweep.check_and_rerun(
            target,
            &format!("connection cut after {cut} of {whole} bytes"),
        );
    }
    eprintln!(
        "cut sweep: {} points over {whole} bytes; {} left the lockout guard armed",
        cuts.len(),
        sweep.stale_guards
    );
    assert!(
        sweep.stale_guards > 0,
        "no cut left the guard armed: the sweep missed the moments that matter"
    );
}
