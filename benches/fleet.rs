//! Benchmark: a research group's fleet, one forwarding server and N workstations with a reverse-forward
//! profile each, planned and applied with no changes in ONE invocation (`jprov plan P1 ... PN`), against the
//! floor of the same connection pattern done in-process with ssh2.
//!
//!     cargo bench --bench fleet           (as root: starts 32 sshd test hosts in mount namespaces)
//!
//! Configurations, measured in interleaved rounds (round r runs each once, the order rotated by r), medians:
//! - `jprov plan` and `jprov apply --yes` of 1, 10 and 30 workstation profiles behind one server;
//! - the floor for the same hosts: a thread per host does TCP connect (TCP_NODELAY), SSH handshake, the host
//!   key compared with the pinned known_hosts, the same key's login, one `true` exec, close; wall time of
//!   the whole parallel set (the floor the goals are stated for);
//! - the same floor acknowledging at once after the login, as jprov's sessions do (non-blocking, with
//!   TCP_QUICKACK before every wait): the blocking floor pays a delayed ACK at its first channel;
//! - that floor with each exec running, instead of `true`, the on-host commands a plan cannot do
//!   without (sshd -T for each user whose settings it checks, ss where it asks about a port), and with
//!   each exec running jprov's own facts script for that host: where the floor stops and the hosts' own
//!   work starts, and how much of a plan is the hosts' rather than jprov's;
//! - a workstation reached through the server (`workstation.jump: server`) against a direct one, next to
//!   the floor of one `direct-tcpip` channel open on an established session to the server;
//! - jprov's peak memory (its resident high-water mark at exit, from a few traced runs after the timed ones).
//!
//! The goals are printed beside the figures, never asserted. A jprov that cannot take several profiles in
//! one invocation gets, in the N > 1 rows, what it needs instead of a figure (its exit status and stderr
//! tell). The hosts are converged before timing with one single-profile `jprov apply --yes P` each.

#[path = "../tests/support/mod.rs"]
mod support;

use jprov::facts::FactQuery;
use jprov::password::{hash_password, HashScheme};
use jprov::profile::{Jump, Method, Profile};
use jprov::render::Templates;
use jprov::resource::Role;
use std::io::Read;
use std::net::TcpStream;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::profiles::{self, valid, Hosts};
use support::setup::{add_sudo_admin, make_test_certificate};
use support::TestHost;

/// Rounds unless `JPROV_BENCH_ROUNDS` sets another number (never fewer than 7: a median of fewer says little).
const DEFAULT_ROUNDS: usize = 9;
const MIN_ROUNDS: usize = 7;
/// Workstations per fleet size; the server comes on top.
const SIZES: [usize; 3] = [1, 10, 30];
const WORKSTATIONS: usize = 30;
/// Hosts started at once: the machine's cores are shared, and each start runs ssh-keygen twice.
const STARTERS: usize = 4;
/// Traced runs per jprov configuration for its peak memory.
const PEAK_RUNS: usize = 3;
const GOAL_MEMORY_KB: i64 = 30 * 1024;

/// One login the floor makes, as jprov's profile names it.
#[derive(Clone)]
struct Login {
    port: u16,
    user: &'static str,
    key: PathBuf,
    /// The host key's algorithm and blob as pinned in the fleet's known_hosts.
    algorithm: String,
    pinned: Vec<u8>,
}

/// The hosts, the profiles for them (all in one directory, with one known_hosts pinning every host).
struct Fleet {
    server: TestHost,
    workstations: Vec<TestHost>,
    /// The workstation reached through the server.
    jumped: TestHost,
    _dir: tempfile::TempDir,
    /// ws-01 ... ws-30.
    profiles: Vec<PathBuf>,
    jumped_profile: PathBuf,
    known_hosts: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Config {
    /// `jprov plan` of the first N workstation profiles.
    Plan(usize),
    /// `jprov apply --yes` of the first N, with no changes.
    Apply(usize),
    /// The floor for the server and the first N workstations.
    Floor(usize),
    /// The floor, after the login acknowledging at once before every wait as jprov does (TCP_QUICKACK:
    /// without it the first channel's reply waits ~40 ms for a delayed ACK, see src/host/session.rs).
    QuickFloor(usize),
    /// The floor's logins, each exec running the on-host commands a plan of the first N profiles cannot do
    /// without (`required_commands`): where the floor stops and the hosts' own work starts.
    Commands(usize),
    /// As `Commands`, only the `sshd -T`s: what is left of them without `ss`, which these hosts (no
    /// systemd) are asked only for what plan and apply say about the tunnel and Jupyter being up.
    SshdCommands(usize),
    /// The floor's logins, each exec running jprov's own facts script for that host (rendered by jprov's
    /// library from the same queries, the server's merged for all N): the hosts' share of a plan, without
    /// jprov's own work (its ssh config lookups, parsing, planning).
    Scripts(usize),
    /// `jprov plan` of the one jumped workstation's profile.
    JumpedPlan,
    /// One direct-tcpip channel open on an established session to the server.
    ChannelOpen,
}

/// What a configuration has measured so far, or why it stopped.
#[derive(Default)]
struct Measured {
    wall: Vec<Duration>,
    peak_kb: i64,
    server_logins: Vec<usize>,
    /// Set when jprov cannot do it (yet) or failed: no figure then.
    stopped: Option<String>,
}

/// One finished jprov process.
struct Run {
    wall: Duration,
    code: Option<i32>,
    stderr: String,
    stdout: String,
    peak_kb: Option<i64>,
}

fn main() {
    let started = Instant::now();
    let rounds = std::env::var("JPROV_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .max(MIN_ROUNDS);
    let Some(fleet) = Fleet::start() else {
        eprintln!("benchmark needs root (it starts test hosts)");
        return;
    };
    println!(
        "fleet: 1 server, {WORKSTATIONS} workstations + 1 behind the server, started and profiled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let converging = Instant::now();
    fleet.check();
    println!(
        "`jprov check` of the {} profiles together: no error (none collides on the server)",
        WORKSTATIONS + 1
    );
    fleet.converge();
    println!(
        "converged with one `jprov apply --yes P` per profile in {:.1} s",
        converging.elapsed().as_secs_f64()
    );

    // JPROV_BENCH_HOLD=SECONDS (900 when not a number): keep the converged hosts up that long instead of
    // timing, to look at one run closely (strace, the scripts); the profiles' directory is printed.
    if let Some(hold) = std::env::var_os("JPROV_BENCH_HOLD") {
        let seconds = hold.to_str().and_then(|s| s.parse().ok()).unwrap_or(900);
        eprintln!(
            "holding the hosts for {seconds} s; profiles in {}",
            fleet.profiles[0].parent().unwrap().display()
        );
        std::thread::sleep(Duration::from_secs(seconds));
        return;
    }
    let mut configs = vec![];
    for n in SIZES {
        configs.extend([
            Config::Plan(n),
            Config::Apply(n),
            Config::Floor(n),
            Config::QuickFloor(n),
            Config::SshdCommands(n),
            Config::Commands(n),
            Config::Scripts(n),
        ]);
    }
    configs.extend([Config::JumpedPlan, Config::ChannelOpen]);
    let hop = fleet.admin_session();
    let mut measured: Vec<Measured> = configs.iter().map(|_| Measured::default()).collect();
    let timing = Instant::now();
    // Round 0 warms up (caches, sshd's first fork of each host) and finds what jprov cannot do yet.
    for round in 0..=rounds {
        for i in 0..configs.len() {
            let at = (i + round) % configs.len();
            let m = &mut measured[at];
            if m.stopped.is_none() {
                fleet.measure(configs[at], &hop, m, round > 0);
            }
        }
    }
    let timed = timing.elapsed();
    for (config, m) in configs.iter().zip(&mut measured) {
        fleet.measure_peak(*config, m);
    }

    report(&configs, &measured, rounds);
    println!(
        "\nrun time: {:.1} s in all (hosts and convergence {:.1} s, {rounds} rounds + a warm-up {:.1} s)",
        started.elapsed().as_secs_f64(),
        (started.elapsed() - timed).as_secs_f64(),
        timed.as_secs_f64()
    );
}

impl Fleet {
    fn start() -> Option<Fleet> {
        let names: Vec<String> = std::iter::once("fleet-server".to_string())
            .chain((1..=WORKSTATIONS).map(|i| format!("fleet-ws{i:02}")))
            .chain(std::iter::once("fleet-wsjump".to_string()))
            .collect();
        let mut hosts = start_hosts(&names)?.into_iter();
        let server = hosts.next().unwrap();
        let mut workstations: Vec<TestHost> = hosts.collect();
        let jumped = workstations.pop().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let known_hosts = dir.path().join("known_hosts");
        let lines: Vec<String> = std::iter::once(&server)
            .chain(&workstations)
            .chain([&jumped])
            .map(|h| h.known_hosts_line() + "\n")
            .collect();
        std::fs::write(&known_hosts, lines.concat()).unwrap();

        let ports = profiles::free_ports::<{ 2 * (WORKSTATIONS + 1) }>();
        let mut profile_files = vec![];
        for (i, ws) in workstations.iter().chain([&jumped]).enumerate() {
            let jumps = i == WORKSTATIONS;
            let name = match jumps {
                false => format!("ws-{:02}", i + 1),
                true => "ws-jump".to_string(),
            };
            let mut p = profiles::for_hosts(
                Method::ReverseForward,
                &Hosts {
                    server_port: server.port(),
                    server_key: server.client_key(),
                    workstation_port: ws.port(),
                    workstation_key: ws.client_key(),
                    jupyter_port: ports[2 * i],
                    tunnel_port: ports[2 * i + 1],
                    nginx_ports: None,
                },
            );
            fleet_member(&mut p, &name, jumps);
            let file = dir.path().join(format!("{name}.yaml"));
            profiles::write(&file, &p);
            profile_files.push(file);
        }
        let jumped_profile = profile_files.pop().unwrap();
        Some(Fleet {
            server,
            workstations,
            jumped,
            _dir: dir,
            profiles: profile_files,
            jumped_profile,
            known_hosts,
        })
    }

    fn all_profiles(&self) -> Vec<PathBuf> {
        let mut all = self.profiles.clone();
        all.push(self.jumped_profile.clone());
        all
    }

    /// `jprov check` of every profile together: the fleet must not collide on the server
    /// (`profiles-collide`), and its hashes are argon2 and unshared, as a real fleet's.
    fn check(&self) {
        let run = run_jprov(&["check"], &self.all_profiles(), false);
        assert_eq!(
            run.code,
            Some(0),
            "jprov check of the fleet:\n{}{}",
            run.stdout,
            run.stderr
        );
    }

    /// One single-profile apply per profile (what jprov does today), then each plan must be empty: the
    /// profiles share the server, so the last apply must not have undone an earlier one.
    fn converge(&self) {
        for profile in self.all_profiles() {
            let run = run_jprov(&["apply", "--yes"], std::slice::from_ref(&profile), false);
            assert_eq!(
                run.code,
                Some(0),
                "jprov apply {}:\n{}{}",
                profile.display(),
                run.stdout,
                run.stderr
            );
        }
        for profile in self.all_profiles() {
            let run = run_jprov(&["plan"], std::slice::from_ref(&profile), false);
            assert_eq!(
                run.code,
                Some(0),
                "the fleet did not converge: jprov plan {}:\n{}{}",
                profile.display(),
                run.stdout,
                run.stderr
            );
        }
    }

    /// A logged-in session to the server as admin, for the channel-open floor (opened once).
    fn admin_session(&self) -> ssh2::Session {
        let (session, _) = login(&self.login(&self.server, "admin")).unwrap();
        session
    }

    fn login(&self, host: &TestHost, user: &'static str) -> Login {
        let pinned = std::fs::read_to_string(&self.known_hosts).unwrap();
        let prefix = format!("[127.0.0.1]:{} ", host.port());
        let line = (pinned.lines())
            .find_map(|l| l.strip_prefix(&prefix))
            .expect("the host is pinned");
        let (algorithm, blob) = line.split_once(' ').unwrap();
        use base64::Engine;
        Login {
            port: host.port(),
            user,
            key: host.client_key().to_path_buf(),
            algorithm: algorithm.to_string(),
            pinned: base64::engine::general_purpose::STANDARD
                .decode(blob.trim())
                .unwrap(),
        }
    }

    /// The logins of the server and the first `n` workstations.
    fn logins(&self, n: usize) -> Vec<Login> {
        std::iter::once(self.login(&self.server, "admin"))
            .chain(
                self.workstations[..n]
                    .iter()
                    .map(|w| self.login(w, "alice")),
            )
            .collect()
    }

    /// What each login of `logins(n)` runs instead of `true`: `work` of the query jprov gathers there (the
    /// server's merged from the first `n` profiles', each workstation's its profile's), as `(command,
    /// stdin)`, under `sudo -n` where the profile says so (the server), as jprov runs its facts script.
    fn host_work(&self, n: usize, work: fn(&FactQuery) -> String) -> Vec<(String, String)> {
        let templates = Templates::new();
        let queries: Vec<_> = (self.profiles[..n].iter())
            .map(|path| {
                let loaded = jprov::profile::load(path).unwrap();
                jprov::desired::fact_queries(&loaded.profile, &templates).unwrap()
            })
            .collect();
        let server: Vec<&FactQuery> = queries.iter().map(|q| &q[Role::Server]).collect();
        std::iter::once(("sudo -n sh -s", work(&jprov::desired::merged(&server))))
            .chain(
                queries
                    .iter()
                    .map(|q| ("sh -s", work(&q[Role::Workstation]))),
            )
            .map(|(command, stdin)| (command.to_string(), stdin))
            .collect()
    }

    /// The jprov command line of a configuration (none for the floors).
    fn jprov_args(&self, config: Config) -> Option<(&'static [&'static str], &[PathBuf])> {
        match config {
            Config::Plan(n) => Some((&["plan"], &self.profiles[..n])),
            Config::Apply(n) => Some((&["apply", "--yes"], &self.profiles[..n])),
            Config::JumpedPlan => Some((&["plan"], std::slice::from_ref(&self.jumped_profile))),
            Config::Floor(_)
            | Config::QuickFloor(_)
            | Config::Commands(_)
            | Config::SshdCommands(_)
            | Config::Scripts(_)
            | Config::ChannelOpen => None,
        }
    }

    fn measure(&self, config: Config, hop: &ssh2::Session, m: &mut Measured, keep: bool) {
        let wall = match (config, self.jprov_args(config)) {
            (_, Some((args, profiles))) => self.measure_jprov(args, profiles, m, keep),
            (Config::Floor(n), None) => Some(floor(&self.logins(n), &[], false)),
            (Config::QuickFloor(n), None) => Some(floor(&self.logins(n), &[], true)),
            (Config::SshdCommands(n), None) => Some(floor(
                &self.logins(n),
                &self.host_work(n, sshd_commands),
                true,
            )),
            (Config::Commands(n), None) => Some(floor(
                &self.logins(n),
                &self.host_work(n, required_commands),
                true,
            )),
            (Config::Scripts(n), None) => Some(floor(
                &self.logins(n),
                &self.host_work(n, facts_script),
                true,
            )),
            (_, None) => Some(channel_open(hop, self.jumped.port())),
        };
        if let (Some(wall), true) = (wall, keep) {
            m.wall.push(wall);
        }
    }

    /// Runs jprov once; records the server logins it made; stops the configuration when jprov cannot do it
    /// or did not find the fleet converged.
    fn measure_jprov(
        &self,
        args: &[&str],
        profiles: &[PathBuf],
        m: &mut Measured,
        keep: bool,
    ) -> Option<Duration> {
        let log = self.server.dir().join("share/sshd.log");
        let before = file_len(&log);
        let run = run_jprov(args, profiles, false);
        if let Some(why) = refusal(args, profiles.len(), &run) {
            m.stopped = Some(why);
            return None;
        }
        if keep {
            m.server_logins.push(
                read_from(&log, before)
                    .matches("Accepted publickey for admin")
                    .count(),
            );
        }
        Some(run.wall)
    }

    /// jprov's peak memory in a configuration: the most of `PEAK_RUNS` traced runs, after the timed ones.
    fn measure_peak(&self, config: Config, m: &mut Measured) {
        let Some((args, profiles)) = self.jprov_args(config) else {
            return;
        };
        for _ in 0..PEAK_RUNS {
            if m.stopped.is_some() {
                return;
            }
            let run = run_jprov(args, profiles, true);
            m.stopped = refusal(args, profiles.len(), &run);
            m.peak_kb = m.peak_kb.max(run.peak_kb.unwrap_or(0));
        }
    }
}

/// Start `names` as test hosts, a few at a time, in order; `None` when test hosts cannot run here.
fn start_hosts(names: &[String]) -> Option<Vec<TestHost>> {
    let next = AtomicUsize::new(0);
    let started: Mutex<Vec<Option<Option<TestHost>>>> =
        Mutex::new((0..names.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..STARTERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(name) = names.get(i) else { return };
                let host = TestHost::start(name);
                if let Some(host) = &host {
                    match i {
                        0 => add_sudo_admin(host),
                        _ => {
                            host.add_user("alice");
                            make_test_certificate(host);
                        }
                    }
                }
                started.lock().unwrap()[i] = Some(host);
            });
        }
    });
    started
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::flatten)
        .collect()
}

/// A workstation profile of the fleet: its own name, tunnel account, and argon2 hash of a password of its
/// own (`jprov check` refuses the test profiles' shared legacy hash, as it would a real fleet's).
fn fleet_member(p: &mut Profile, name: &str, jumps: bool) {
    p.name = valid(name);
    p.tunnel.account = valid(&format!("jprov-{name}"));
    let mut secret = [0u8; 16];
    getrandom::getrandom(&mut secret).unwrap();
    let hash = hash_password(&hex::encode(secret), HashScheme::Argon2).unwrap();
    p.jupyter.password_hash = valid(&hash);
    if jumps {
        p.workstation.jump = Some(Jump::Server);
    }
}

/// `jprov ARGS PROFILES` without an ssh agent (the profiles' identity files log in), timed from spawn to
/// reaping. With `peak`, traced to its exit for its peak memory (`peak_memory_kb`), in runs of their own
/// that are not timed.
fn run_jprov(args: &[&str], profiles: &[PathBuf], peak: bool) -> Run {
    let mut command = Command::new(support::jprov_bin());
    command
        .args(args)
        .args(profiles)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if peak {
        // SAFETY: between fork and exec only ptrace, which is async-signal-safe, runs.
        unsafe {
            command.pre_exec(|| match libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            })
        };
    }
    let start = Instant::now();
    let mut child = command.spawn().expect("spawn jprov");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (code, peak_kb) = match peak {
        false => (child.wait().unwrap().code(), None),
        true => {
            let (code, peak_kb) = peak_memory_kb(child.id() as libc::pid_t);
            // Reaped by the trace; this only tells std so.
            let _ = child.try_wait();
            (code, Some(peak_kb))
        }
    };
    let wall = start.elapsed();
    Run {
        wall,
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_kb,
    }
}

/// Follows a child that asked to be traced until it exits: its exit status, and the high-water mark of
/// its resident memory (`VmHWM`) read when it is about to exit, its memory still mapped. Not getrusage's
/// ru_maxrss: the kernel counts in it the memory of the process that called exec (this benchmark, through
/// vfork), so it reports the larger of the two.
fn peak_memory_kb(pid: libc::pid_t) -> (Option<i32>, i64) {
    let mut status = 0;
    let mut peak = 0;
    let null = std::ptr::null_mut::<libc::c_void>();
    // SAFETY: waitpid and ptrace on our own stopped child; status is a plain int.
    unsafe {
        // The stop after exec.
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        assert!(libc::WIFSTOPPED(status), "jprov did not stop after exec");
        let options = (libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL) as usize;
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            pid,
            null,
            options as *mut libc::c_void,
        );
        libc::ptrace(libc::PTRACE_CONT, pid, null, null);
        loop {
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            if libc::WIFEXITED(status) {
                return (Some(libc::WEXITSTATUS(status)), peak);
            }
            if libc::WIFSIGNALED(status) {
                return (None, peak);
            }
            let exiting = status >> 8 == (libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8));
            let forward = match exiting {
                true => {
                    peak = vm_hwm_kb(pid);
                    0
                }
                // A signal for jprov (SIGCHLD of its `ssh -G`, ...): deliver it.
                false => libc::WSTOPSIG(status) as usize,
            };
            libc::ptrace(libc::PTRACE_CONT, pid, null, forward as *mut libc::c_void);
        }
    }
}

fn vm_hwm_kb(pid: libc::pid_t) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (status.lines())
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Why a run gives no figure: jprov does not take several profiles yet (clap refuses the second), or it
/// failed or found changes (a no-change benchmark needs a converged fleet).
fn refusal(args: &[&str], profiles: usize, run: &Run) -> Option<String> {
    if run.code == Some(0) {
        return None;
    }
    let first = run
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if profiles > 1 && run.code == Some(1) && run.stderr.contains("unexpected argument") {
        // clap names the path it refused: the bench's temp dir, not worth a column's width.
        let said = first.split(" '").next().unwrap_or(first);
        return Some(format!(
            "needs `jprov {} P...` (this jprov: exit 1, \"{said}\")",
            args.join(" ")
        ));
    }
    eprintln!(
        "jprov {} ({profiles} profiles) exited {:?}:\n{}{}",
        args.join(" "),
        run.code,
        run.stdout,
        run.stderr
    );
    Some(format!("FAILED: exit {:?}: {first}", run.code))
}

/// The floor of a fleet's connection pattern: every login at once, a thread each; the wall time of the
/// whole set. Each login runs `true`, or its `(command, stdin)` of `work` when there is one; `quick`: after
/// the login, non-blocking with quick ACKs as jprov (`run_quick`).
fn floor(logins: &[Login], work: &[(String, String)], quick: bool) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (logins.iter().enumerate())
            .map(|(i, l)| scope.spawn(move || login_and_run(l, work.get(i), quick)))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    start.elapsed()
}

fn login_and_run(l: &Login, work: Option<&(String, String)>, quick: bool) {
    let (session, tcp) = login(l).unwrap_or_else(|e| panic!("floor, port {}: {e}", l.port));
    let (command, stdin) = match work {
        None => ("true", ""),
        Some((command, stdin)) => (command.as_str(), stdin.as_str()),
    };
    match quick {
        true => run_quick(&session, tcp.as_raw_fd(), command, stdin.as_bytes()),
        false => run_blocking(&session, command, stdin.as_bytes()),
    }
    session.set_blocking(true);
    session.disconnect(None, "", None).unwrap();
}

/// One exec, blocking: libssh2 waits in its own reads (a delayed ACK can stall them).
fn run_blocking(session: &ssh2::Session, command: &str, stdin: &[u8]) {
    use std::io::Write;
    let mut channel = session.channel_session().unwrap();
    channel.exec(command).unwrap();
    // The scripts read all of their stdin before they print anything (one brace group): no deadlock.
    channel.write_all(stdin).unwrap();
    channel.send_eof().unwrap();
    let mut sink = vec![];
    channel.read_to_end(&mut sink).unwrap();
    channel.wait_close().unwrap();
    assert_eq!(channel.exit_status().unwrap(), 0);
}

/// Until `call` no longer says it would block, waiting on the socket in between.
fn until_done<T>(wait: &dyn Fn(), mut call: impl FnMut() -> Result<T, ssh2::Error>) -> T {
    loop {
        match call() {
            Ok(value) => return value,
            Err(e) if e.code() == ssh2::ErrorCode::Session(-37) => wait(),
            Err(e) => panic!("floor: {e}"),
        }
    }
}

/// One exec, non-blocking: every call that would block waits on the socket, TCP_QUICKACK set first (as
/// jprov's sessions do).
fn run_quick(session: &ssh2::Session, socket: RawFd, command: &str, stdin: &[u8]) {
    use std::io::{ErrorKind, Write};
    session.set_blocking(false);
    let wait = || {
        let on: libc::c_int = 1;
        let events = match session.block_directions() {
            ssh2::BlockDirections::Inbound => libc::POLLIN,
            _ => libc::POLLIN | libc::POLLOUT,
        };
        let mut polled = libc::pollfd {
            fd: socket,
            events,
            revents: 0,
        };
        // SAFETY: an int option and one pollfd on this session's own socket.
        unsafe {
            libc::setsockopt(
                socket,
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            libc::poll(&mut polled, 1, 10);
        }
    };
    let mut channel = until_done(&wait, || session.channel_session());
    until_done(&wait, || channel.exec(command));
    let mut written = 0;
    while written < stdin.len() {
        match channel.write(&stdin[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => wait(),
            Err(e) => panic!("floor, stdin: {e}"),
        }
    }
    until_done(&wait, || channel.send_eof());
    let mut buffer = [0u8; 32 * 1024];
    loop {
        match channel.read(&mut buffer) {
            Ok(0) if channel.eof() => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => wait(),
            Err(e) => panic!("floor, stdout: {e}"),
        }
    }
    until_done(&wait, || channel.wait_close());
    assert_eq!(channel.exit_status().unwrap(), 0);
}

/// TCP connect with TCP_NODELAY, handshake asking only for the pinned key type (as jprov does), the key
/// compared byte for byte with the pinned one, login with the profile's key.
fn login(l: &Login) -> Result<(ssh2::Session, TcpStream), String> {
    let tcp = TcpStream::connect(("127.0.0.1", l.port)).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut session = ssh2::Session::new().map_err(|e| e.to_string())?;
    session.set_tcp_stream(tcp.try_clone().map_err(|e| e.to_string())?);
    session
        .method_pref(ssh2::MethodType::HostKey, &l.algorithm)
        .map_err(|e| e.to_string())?;
    session.handshake().map_err(|e| e.to_string())?;
    let (key, _) = session.host_key().ok_or("no host key")?;
    if key != l.pinned.as_slice() {
        return Err("the host key is not the pinned one".into());
    }
    session
        .userauth_pubkey_file(l.user, None, &l.key, None)
        .map_err(|e| e.to_string())?;
    Ok((session, tcp))
}

/// The on-host commands a plan cannot do without, for `query` on these hosts (no systemd): sshd's effective
/// settings for every user whose settings the plan checks (one `sshd -T` each, all at once, as the facts
/// script runs them), and the listening sockets when a port is asked (one `ss`). No file is read, nothing
/// is encoded or printed.
fn required_commands(query: &FactQuery) -> String {
    let mut script = sshd_commands(query);
    if !query.listeners.is_empty() {
        script += "ss -ltnpH >/dev/null 2>&1\n";
    }
    script
}

/// `required_commands` without `ss`: one `sshd -T` per user whose settings the plan checks, all at once.
fn sshd_commands(query: &FactQuery) -> String {
    let mut script = String::from("PATH=\"$PATH:/usr/sbin:/sbin\"\n");
    for user in &query.sshd_users {
        script += &format!(
            "sshd -T -f /etc/ssh/sshd_config -C user={user},host=jprov-check,addr=192.0.2.1 >/dev/null 2>&1 &\n"
        );
    }
    script + "wait\n"
}

/// jprov's facts script for `query`, as `jprov plan` sends it.
fn facts_script(query: &FactQuery) -> String {
    jprov::script::facts(&Templates::new(), query).unwrap()
}

/// One direct-tcpip channel to the workstation's sshd opened (the server connects to it) and closed.
fn channel_open(hop: &ssh2::Session, port: u16) -> Duration {
    let start = Instant::now();
    let mut channel = hop.channel_direct_tcpip("127.0.0.1", port, None).unwrap();
    let wall = start.elapsed();
    channel.close().unwrap();
    wall
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The file's text from byte `offset` on.
fn read_from(path: &Path, offset: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text
}

fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied()
}

/// A configuration's median, or why it has none (a run that stopped it counts even after good samples).
fn figure(m: &Measured) -> Result<Duration, String> {
    match &m.stopped {
        Some(why) => Err(why.clone()),
        None => median(&m.wall).ok_or_else(|| "no samples".into()),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn report(configs: &[Config], measured: &[Measured], rounds: usize) {
    let get = |c: Config| &measured[configs.iter().position(|x| *x == c).unwrap()];
    println!("\nmedians of {rounds} interleaved rounds (no-change runs; floor: ssh2 in-process, a thread per host)\n");
    println!("| configuration | jprov median | floor median | ratio | goal | floor with quick ACKs | ratio to it |");
    println!("|---|---|---|---|---|---|---|");
    for (what, cmd) in [
        ("plan", Config::Plan as fn(usize) -> Config),
        ("apply --yes", Config::Apply),
    ] {
        for n in SIZES {
            let goal = match n {
                1 => Some(1.3),
                WORKSTATIONS => Some(1.5),
                _ => None,
            };
            ratio_row(
                &format!(
                    "`jprov {what}`, {n} workstation(s) + server: {} hosts",
                    n + 1
                ),
                get(cmd(n)),
                (get(Config::Floor(n)), get(Config::QuickFloor(n))),
                goal,
            );
        }
    }
    jump_row(
        get(Config::Plan(1)),
        get(Config::JumpedPlan),
        get(Config::ChannelOpen),
    );
    for (what, n) in [
        ("plan", 1),
        ("apply --yes", 1),
        ("plan", WORKSTATIONS),
        ("apply --yes", WORKSTATIONS),
    ] {
        let m = get(match what {
            "plan" => Config::Plan(n),
            _ => Config::Apply(n),
        });
        let goal = match n {
            WORKSTATIONS => "< 30 MB",
            _ => "— (31 hosts: < 30 MB)",
        };
        let figure = match &m.stopped {
            Some(why) => why.clone(),
            None => format!("{:.1} MB", m.peak_kb as f64 / 1024.0),
        };
        let met =
            (m.stopped.is_none() && n == WORKSTATIONS).then(|| verdict(m.peak_kb < GOAL_MEMORY_KB));
        println!(
            "| peak memory (VmHWM, most of 3 runs) of `jprov {what}`, {} hosts | {figure} | | | {goal}{} |",
            n + 1,
            met.unwrap_or_default()
        );
    }
    breakdown(&get);
    println!(
        "\nevery configuration: min / median / max, peak memory, admin logins on the server per run"
    );
    for (c, m) in configs.iter().zip(measured) {
        let mut sorted = m.wall.clone();
        sorted.sort();
        let line = match (&m.stopped, sorted.first(), sorted.last()) {
            (Some(why), _, _) => why.clone(),
            (None, Some(min), Some(max)) => {
                let mut line = format!(
                    "{} / {} / {}",
                    ms(*min),
                    ms(median(&sorted).unwrap()),
                    ms(*max)
                );
                if m.peak_kb > 0 {
                    let logins =
                        m.server_logins.iter().sum::<usize>() as f64 / m.server_logins.len() as f64;
                    line += &format!(", {:.1} MB, {logins:.1} logins", m.peak_kb as f64 / 1024.0);
                }
                line
            }
            _ => "no samples".into(),
        };
        println!("  {:<16} {line}", format!("{c:?}"));
    }
}

/// Where a no-change plan's time goes, per fleet size: the floor, the floor with the on-host commands a
/// plan cannot do without, the floor with jprov's facts scripts (the hosts' whole share), and jprov; each
/// with its ratio to the floor. The goals of the first table cannot be met where the commands alone exceed
/// them.
fn breakdown<'a>(get: &dyn Fn(Config) -> &'a Measured) {
    println!(
        "\nwhere a no-change plan's time goes (medians; ratio to the floor with quick ACKs, as jprov's \
         sessions and the two columns after it have them)\n"
    );
    println!("| hosts | floor with quick ACKs | + the sshd -T alone | + on-host commands a plan cannot do without (sshd -T, ss) | + jprov's facts scripts | `jprov plan` |");
    println!("|---|---|---|---|---|---|");
    for n in SIZES {
        let Ok(floor) = figure(get(Config::QuickFloor(n))) else {
            continue;
        };
        let cell = |c: Config| match figure(get(c)) {
            Ok(d) => format!("{} ({:.2}×)", ms(d), d.as_secs_f64() / floor.as_secs_f64()),
            Err(why) => why,
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            n + 1,
            ms(floor),
            cell(Config::SshdCommands(n)),
            cell(Config::Commands(n)),
            cell(Config::Scripts(n)),
            cell(Config::Plan(n))
        );
    }
}

fn verdict(met: bool) -> &'static str {
    match met {
        true => " (met)",
        false => " (NOT met)",
    }
}

/// jprov against the floor the goal is stated for (TCP_NODELAY, blocking), with its verdict, and against
/// the same floor with quick ACKs, which jprov's sessions have and the goal's floor lacks.
fn ratio_row(
    what: &str,
    jprov: &Measured,
    (floor, quick): (&Measured, &Measured),
    goal: Option<f64>,
) {
    let goal_text = goal.map_or("—".to_string(), |g| format!("≤ {g}×"));
    let (j, f, q) = match (figure(jprov), figure(floor), figure(quick)) {
        (Ok(j), Ok(f), Ok(q)) => (j, f, q),
        (j, f, q) => {
            let [j, f, q] = [j, f, q].map(|d| d.map_or_else(|why| why, ms));
            println!("| {what} | {j} | {f} | | {goal_text} | {q} | |");
            return;
        }
    };
    let ratio = j.as_secs_f64() / f.as_secs_f64();
    let met = goal.map(|g| verdict(ratio <= g)).unwrap_or_default();
    println!(
        "| {what} | {} | {} | {ratio:.2}× | {goal_text}{met} | {} | {:.2}× |",
        ms(j),
        ms(f),
        ms(q),
        j.as_secs_f64() / q.as_secs_f64()
    );
}

/// The jumped workstation's plan against the direct one's: the difference is what the jump costs, beside
/// the floor of one channel open. Two verdicts: the logins (the jumped plan logs in to the server no more
/// often than the direct one: the channel rides on jprov's one session there), and the time (within 5 ms
/// of one channel open more; a difference of medians cannot resolve less). The time includes that the
/// workstation's handshake can only start once the server's login is done.
fn jump_row(direct: &Measured, jumped: &Measured, open: &Measured) {
    let what = "`jprov plan`, 1 workstation through the server (jump) minus a direct one";
    let goal = "≈ 1 channel open more";
    let (d, j, o) = match (figure(direct), figure(jumped), figure(open)) {
        (Ok(d), Ok(j), Ok(o)) => (d, j, o),
        (d, j, o) => {
            let why = [d.err(), j.err(), o.err()].into_iter().flatten().next();
            println!("| {what} | {} | | | {goal} |", why.unwrap_or_default());
            return;
        }
    };
    let extra = j.as_secs_f64() - d.as_secs_f64();
    let logins =
        |m: &Measured| m.server_logins.iter().sum::<usize>() as f64 / m.server_logins.len() as f64;
    let (jl, dl) = (logins(jumped), logins(direct));
    let in_time = extra <= o.as_secs_f64() + 0.005;
    println!(
        "| {what} ({} − {}) | {:.1} ms | {} (one channel open) | {:.1}× | {goal}: logins{} ({jl:.1} server logins per plan, direct {dl:.1}), time{} |",
        ms(j),
        ms(d),
        extra * 1000.0,
        ms(o),
        extra / o.as_secs_f64(),
        verdict(jl <= dl),
        verdict(in_time),
    );
}
