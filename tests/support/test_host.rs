//! Real OpenSSH servers for integration tests, one private file tree each.
//!
//! A [`TestHost`] is an `sshd` running inside its own mount namespace
//! (`unshare --mount --propagation private`). Inside it, overlayfs mounts copy-on-write
//! views over `/etc`, `/home`, `/root` and `/var` (lower = the machine's directory,
//! upper/work = the host's temp dir) and fresh tmpfs mounts replace `/run` and `/tmp`.
//! The network is the machine's: sshd listens on `127.0.0.1:<port>`.
//!
//! So `jprov` (or a test) can write `/etc/ssh/sshd_config.d/x.conf`, run `useradd`,
//! `nginx -s reload`, … on a host for real, and the machine stays untouched.
//!
//! Layout of the host's temp dir (outside):
//! - `<d>.upper`, `<d>.work` for each overlaid directory `d`;
//! - `client_key` (+`.pub`): the key authorized for root (and for [`TestHost::add_user`] users);
//! - `known_hosts`: the host key as it was at start;
//! - `setup.log`: output of the namespace setup script;
//! - `share/`: bind-mounted at `/run/testhost` inside; holds `sshd.log` (`sshd -E`).
//!
//! Processes in the namespace: an anchor (`sleep infinity`, the namespace's first process, our
//! child), `sshd -D` (PID in `/run/sshd.pid`, stable across SIGHUP reloads since sshd re-execs
//! itself in place), and whatever tests start (sessions, nginx, …). Drop kills all of them.

use std::collections::HashSet;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Directories that get a copy-on-write overlay inside each host.
const OVERLAID: [&str; 4] = ["etc", "home", "root", "var"];
const PATH_ENV: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(2);
const RELOAD_LINE: &str = "Received SIGHUP; restarting.";

/// The main `sshd_config` of every host: Debian's shape (drop-ins first, first value wins).
const SSHD_CONFIG: &str = "\
Include /etc/ssh/sshd_config.d/*.conf
ListenAddress 127.0.0.1
Port @PORT@
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
Subsystem sftp internal-sftp
LogLevel VERBOSE
";

/// Runs (as `/bin/sh`) in the new mount namespace; `exec`s into the anchor at the end.
const SETUP_SCRIPT: &str = r#"set -eu
D=@DIR@
for d in etc home root var; do
    mount -t overlay "jprov-host-$d" -o "lowerdir=/$d,upperdir=$D/$d.upper,workdir=$D/$d.work" "/$d"
done
mount -t tmpfs -o mode=0755,size=64m jprov-host-run /run
mkdir -m 0755 /run/sshd /run/testhost
mkdir -m 1777 /run/lock
mount --bind "$D/share" /run/testhost
# The machine's /tmp stays reachable for `share_dir` (a build directory under /tmp), below /run.
mkdir -m 0700 /run/machine-tmp
mount --bind /tmp /run/machine-tmp
mount -t tmpfs -o mode=1777,size=512m jprov-host-tmp /tmp
# Only this host's own configuration: none of the machine's drop-ins or host keys.
rm -rf /etc/ssh/sshd_config.d
mkdir -m 0755 /etc/ssh/sshd_config.d
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$HOST_NAME" -f /etc/ssh/ssh_host_ed25519_key
cp /run/testhost/sshd_config /etc/ssh/sshd_config
chmod 0644 /etc/ssh/sshd_config
install -d -m 0700 /root/.ssh
install -m 0600 /run/testhost/client_key.pub /root/.ssh/authorized_keys
# A fresh Debian root account: the stock dotfiles return early in non-interactive shells
# (the machine's own may do slow work on every `ssh host cmd`).
cp /etc/skel/.bashrc /etc/skel/.profile /root/ 2>/dev/null || true
/usr/sbin/sshd -t
/usr/sbin/sshd -D -E /run/testhost/sshd.log </dev/null >/dev/null 2>&1 &
exec sleep infinity
"#;

/// One throwaway host: a real sshd with a private copy-on-write file tree.
pub struct TestHost {
    name: String,
    port: u16,
    client_key: PathBuf,
    anchor: Child,
    /// An open handle on the mount namespace: keeps it (and its inode number) alive until Drop
    /// has killed every process in it, and lets `nsenter` join it without a live process.
    ns: Option<File>,
    ns_id: String,
    dir: Option<tempfile::TempDir>,
    nginx_port: OnceLock<u16>,
}

enum StartError {
    /// sshd could not bind the chosen port (someone took it): try another.
    PortTaken,
    Fatal(String),
}

impl TestHost {
    /// Starts a host and waits until its sshd accepts connections.
    ///
    /// When the harness cannot run here (not root, `unshare`/`nsenter`/`sshd`/`ssh-keygen` missing,
    /// mount namespaces not permitted): fails under tests/run.sh, else returns `None` after printing
    /// `skipped: <why>` (`prereq::skip`). Panics when the machine should support it but setup fails.
    pub fn start(name: &str) -> Option<TestHost> {
        if let Err(why) = prerequisites() {
            super::prereq::skip(&why);
            return None;
        }
        for _ in 0..8 {
            match Self::try_start(name) {
                Ok(host) => return Some(host),
                Err(StartError::PortTaken) => continue,
                Err(StartError::Fatal(msg)) => panic!("TestHost {name}: {msg}"),
            }
        }
        panic!("TestHost {name}: no free port found after 8 attempts");
    }

    fn try_start(name: &str) -> Result<TestHost, StartError> {
        let fatal = StartError::Fatal;
        let safe_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("jprov-host-{safe_name}-"))
            .tempdir_in(temp_base())
            .map_err(|e| fatal(format!("temp dir: {e}")))?;
        let d = dir.path();
        for sub in OVERLAID {
            for kind in ["upper", "work"] {
                fs::create_dir(d.join(format!("{sub}.{kind}")))
                    .map_err(|e| fatal(format!("mkdir: {e}")))?;
            }
        }
        fs::create_dir(d.join("share")).map_err(|e| fatal(format!("mkdir: {e}")))?;

        let key = d.join("client_key");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("jprov-test@{safe_name}"))
            .arg("-f")
            .arg(&key)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fatal(format!("ssh-keygen: {e}")))?;
        if !out.status.success() {
            return Err(fatal(format!(
                "ssh-keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        fs::copy(d.join("client_key.pub"), d.join("share/client_key.pub"))
            .map_err(|e| fatal(format!("copy key: {e}")))?;

        let port = alloc_port();
        fs::write(
            d.join("share/sshd_config"),
            SSHD_CONFIG.replace("@PORT@", &port.to_string()),
        )
        .map_err(|e| fatal(format!("write config: {e}")))?;
        let script = SETUP_SCRIPT.replace("@DIR@", &sh_quote(&d.to_string_lossy()));
        fs::write(d.join("setup.sh"), script).map_err(|e| fatal(format!("write script: {e}")))?;

        let log = File::create(d.join("setup.log")).map_err(|e| fatal(format!("log: {e}")))?;
        let log2 = log.try_clone().map_err(|e| fatal(format!("log: {e}")))?;
        let mut anchor = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "/bin/sh"])
            .arg(d.join("setup.sh"))
            .env_clear()
            .env("PATH", PATH_ENV)
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("HOST_NAME", &safe_name)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| fatal(format!("spawn unshare: {e}")))?;

        // Wait until sshd listens and has written its PID file.
        let listening = format!("Server listening on 127.0.0.1 port {port}.");
        let pid_file = format!("/proc/{}/root/run/sshd.pid", anchor.id());
        let deadline = Instant::now() + TIMEOUT;
        let outcome = loop {
            if let Ok(Some(status)) = anchor.try_wait() {
                break Err(fatal(format!(
                    "namespace setup exited ({status}):\n{}\n{}",
                    read_lossy(&d.join("setup.log")),
                    read_lossy(&d.join("share/sshd.log"))
                )));
            }
            let sshd_log = read_lossy(&d.join("share/sshd.log"));
            if sshd_log.contains(&listening) && Path::new(&pid_file).exists() {
                break Ok(());
            }
            if sshd_log.contains("Cannot bind any address") || sshd_log.contains("Bind to port") {
                break Err(StartError::PortTaken);
            }
            if Instant::now() > deadline {
                break Err(fatal(format!(
                    "sshd not ready after {TIMEOUT:?}:\n{}\n{sshd_log}",
                    read_lossy(&d.join("setup.log"))
                )));
            }
            sleep(POLL);
        };
        // From here the anchor has unshared (sshd ran inside): its namespace is ours to hold.
        let ns = open_ns(anchor.id());
        let ns_id = ns.as_ref().map(ns_id_of).unwrap_or_default();
        let host = TestHost {
            name: safe_name,
            port,
            client_key: key,
            anchor,
            ns,
            ns_id,
            dir: Some(dir),
            nginx_port: OnceLock::new(),
        };
        outcome?; // on error, dropping `host` cleans up
        if host.ns.is_none() {
            return Err(fatal("cannot open the host's mount namespace".into()));
        }
        host.write_known_hosts();
        Ok(host)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// sshd's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host's temp dir (outside the namespace).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("temp dir").path()
    }

    /// Private ed25519 key (mode 0600, outside the namespace), authorized for root inside and
    /// for every [`add_user`](Self::add_user) user.
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA...` for the host's current key.
    pub fn known_hosts_line(&self) -> String {
        self.known_hosts_line_at(self.port)
    }

    /// Like [`known_hosts_line`](Self::known_hosts_line), for the host reached at another port (a proxy's).
    pub fn known_hosts_line_at(&self, port: u16) -> String {
        let pubkey = self
            .read_file("/etc/ssh/ssh_host_ed25519_key.pub")
            .expect("host key missing inside the namespace");
        let pubkey = String::from_utf8_lossy(&pubkey);
        let mut fields = pubkey.split_whitespace();
        let (kind, blob) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        format!("[127.0.0.1]:{port} {kind} {blob}")
    }

    /// Writes `known_hosts_line()` to `<dir>/known_hosts` (replacing it) and returns the path.
    pub fn write_known_hosts(&self) -> PathBuf {
        let path = self.dir().join("known_hosts");
        fs::write(&path, format!("{}\n", self.known_hosts_line())).expect("write known_hosts");
        path
    }

    /// An `ssh` client command for `user@127.0.0.1:port`, strict about the host key
    /// (`<dir>/known_hosts`, see [`write_known_hosts`](Self::write_known_hosts); written at
    /// start), batch mode, ignoring the machine's ssh config. Append the remote command.
    pub fn ssh(&self, user: &str) -> Command {
        self.ssh_with_known_hosts(user, &self.dir().join("known_hosts"))
    }

    /// Like [`ssh`](Self::ssh), checking the host key against `known_hosts` instead.
    pub fn ssh_with_known_hosts(&self, user: &str, known_hosts: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(self.client_key())
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args(["-o", "ConnectTimeout=10", "-p"])
            .arg(self.port.to_string())
            .arg(format!("{user}@127.0.0.1"))
            .stdin(Stdio::null());
        cmd
    }

    /// Whether `ssh USER@host COMMAND` succeeds, allowing a moment for an sshd that is re-executing after a
    /// reload (it refuses connections for a few milliseconds then); a refused login is an answer at once.
    pub fn logs_in(&self, user: &str, command: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let out = self.ssh(user).arg(command).output().unwrap();
            if out.status.success() {
                return true;
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.contains("Connection refused") || std::time::Instant::now() > deadline {
                eprintln!("{user}@{}: {stderr}", self.name);
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Make a directory of the machine visible inside at the same path. Needed for paths under `/tmp`,
    /// which is private to the host (a clone of the project under /tmp, its test venv...); paths under the
    /// overlaid directories are visible anyway. Panics on failure.
    pub fn share_dir(&self, dir: &Path) {
        let dir = dir.to_str().expect("a UTF-8 path");
        let Some(under_tmp) = dir.strip_prefix("/tmp/") else {
            return;
        };
        self.exec_args_ok(
            r#"set -e
mkdir -p -- "$1"
mount --bind -- "/run/machine-tmp/$2" "$1""#,
            &[dir, under_tmp],
            None,
        );
    }

    /// `useradd -m -s /bin/bash NAME` inside, and authorizes [`client_key`](Self::client_key)
    /// for it. Panics on failure.
    pub fn add_user(&self, name: &str) {
        self.exec_args_ok(
            r#"set -e
useradd -m -s /bin/bash -- "$1"
home=$(getent passwd "$1" | cut -d: -f6)
group=$(id -gn -- "$1")
install -d -m 0700 -o "$1" -g "$group" "$home/.ssh"
install -m 0600 -o "$1" -g "$group" /run/testhost/client_key.pub "$home/.ssh/authorized_keys"
"#,
            &[name],
            None,
        );
    }

    /// Runs `sh -c script` inside the namespace as root (stdin from /dev/null).
    ///
    /// Output is captured until stdout and stderr close: redirect the output of background
    /// daemons started from `script` (`cmd </dev/null >/dev/null 2>&1 &`).
    pub fn exec(&self, script: &str) -> Output {
        self.exec_args(script, &[], None)
    }

    /// Like [`exec`](Self::exec) but panics unless it exits 0; returns stdout.
    pub fn exec_ok(&self, script: &str) -> String {
        self.exec_args_ok(script, &[], None)
    }

    /// `sh -c script sh ARGS...` inside, with `stdin` piped in when given.
    pub fn exec_args(&self, script: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let ns = self.ns.as_ref().expect("namespace handle");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!(
            "--mount=/proc/{}/fd/{}",
            std::process::id(),
            ns.as_raw_fd()
        ))
        .args(["--", "/bin/sh", "-c", script, "sh"])
        .args(args)
        .env_clear()
        .env("PATH", PATH_ENV)
        .env("HOME", "/root")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        match stdin {
            None => {
                cmd.stdin(Stdio::null());
                cmd.output().expect("spawn nsenter")
            }
            Some(input) => {
                cmd.stdin(Stdio::piped());
                let mut child = cmd.spawn().expect("spawn nsenter");
                let mut pipe = child.stdin.take().expect("stdin");
                let input = input.to_vec();
                let writer = std::thread::spawn(move || {
                    let _ = pipe.write_all(&input);
                });
                let out = child.wait_with_output().expect("wait nsenter");
                let _ = writer.join();
                out
            }
        }
    }

    fn exec_args_ok(&self, script: &str, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.exec_args(script, args, stdin);
        assert!(
            out.status.success(),
            "host {}: `{script}` {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Contents of `path` as seen inside the host; `None` when it cannot be read.
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        // Through `nsenter`, not `/proc/PID/root/...`: absolute symlinks (e.g. nginx's
        // sites-enabled/*) would resolve against the *caller's* root there.
        let out = self.exec_args(r#"exec cat -- "$1""#, &[path], None);
        out.status.success().then_some(out.stdout)
    }

    /// Whether `path` exists inside (as anything, a dangling link included).
    pub fn exists(&self, path: &str) -> bool {
        self.exec_args(r#"[ -e "$1" ] || [ -L "$1" ]"#, &[path], None)
            .status
            .success()
    }

    /// Writes `content` to `path` inside (creating parent dirs), then `chmod mode`.
    pub fn write_file(&self, path: &str, content: &[u8], mode: u32) {
        self.exec_args_ok(
            r#"set -e
mkdir -p -- "$(dirname -- "$1")"
cat > "$1"
chmod "$2" -- "$1""#,
            &[path, &format!("{mode:o}")],
            Some(content),
        );
    }

    /// sshd's log (`-E`, LogLevel VERBOSE), e.g. `Received SIGHUP; restarting.` per reload.
    pub fn sshd_log(&self) -> String {
        read_lossy(&self.dir().join("share/sshd.log"))
    }

    /// Number of SIGHUP reloads sshd has logged.
    pub fn sshd_reload_count(&self) -> usize {
        self.sshd_log().matches(RELOAD_LINE).count()
    }

    /// sshd's PID (from `/run/sshd.pid` inside; stays the same across SIGHUP reloads).
    pub fn sshd_pid(&self) -> Option<u32> {
        let raw = self.read_file("/run/sshd.pid")?;
        String::from_utf8_lossy(&raw).trim().parse().ok()
    }

    /// Sends SIGHUP to sshd (as `kill -HUP $(cat /run/sshd.pid)` inside) and waits until it
    /// listens again.
    pub fn reload_sshd(&self) {
        let before = self.sshd_reload_count();
        self.exec_ok(r#"kill -HUP "$(cat /run/sshd.pid)""#);
        self.wait_sshd_ready_after(before + 1);
    }

    /// Waits until sshd has logged at least `reloads` SIGHUP reloads in total and listens
    /// again after the last one (sshd re-execs itself: connections are refused for a few
    /// milliseconds). Use after something else (jprov) reloaded it:
    /// `let n = host.sshd_reload_count(); /* run jprov */ host.wait_sshd_reloads(n + 1);`
    /// (`kill -HUP` returns before sshd handles the signal, so the count can lag behind).
    /// Panics after a timeout, e.g. when the new configuration made sshd exit.
    pub fn wait_sshd_reloads(&self, reloads: usize) {
        self.wait_sshd_ready_after(reloads);
    }

    fn wait_sshd_ready_after(&self, reloads: usize) {
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = self.sshd_log();
            if log.matches(RELOAD_LINE).count() >= reloads
                // Logged after bind()+listen(): no probe connection needed (it would
                // leave "kex_exchange_identification" noise in the log).
                && log.matches(&listening).count() > reloads
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "host {}: sshd not listening after reload #{reloads}:\n{log}",
                self.name
            );
            sleep(POLL);
        }
    }

    /// Replaces the host key with a fresh ed25519 key and reloads sshd (counts as one reload),
    /// so a known_hosts line taken before no longer matches.
    pub fn rotate_host_key(&self) {
        let before = self.sshd_reload_count();
        self.exec_args_ok(
            r#"set -e
rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub
ssh-keygen -q -t ed25519 -N '' -C "root@$1" -f /etc/ssh/ssh_host_ed25519_key
kill -HUP "$(cat /run/sshd.pid)""#,
            &[&self.name],
            None,
        );
        self.wait_sshd_ready_after(before + 1);
    }

    /// Starts nginx inside (daemon, Debian's config) so `nginx -s reload` works. The network is
    /// shared with the machine and the other hosts, so the default site's `listen 80` is moved
    /// to `127.0.0.1:<nginx_port()>` first. Waits until nginx answers. Panics on failure.
    pub fn start_nginx(&self) {
        let port = *self.nginx_port.get_or_init(alloc_port);
        self.exec_args_ok(
            r#"set -e
f=/etc/nginx/sites-available/default
if [ -f "$f" ]; then
    sed -i -e "s/^\([[:space:]]*\)listen 80 default_server;/\1listen 127.0.0.1:$1 default_server;/" \
        -e '/listen \[::\]:80 default_server;/d' "$f"
fi
nginx -t -q
nginx </dev/null >>/run/testhost/nginx-start.log 2>&1 || { cat /run/testhost/nginx-start.log >&2; exit 1; }
"#,
            &[&port.to_string()],
            None,
        );
        let deadline = Instant::now() + TIMEOUT;
        while self.nginx_master_pid().is_none() {
            assert!(
                Instant::now() < deadline,
                "host {}: nginx wrote no PID file",
                self.name
            );
            sleep(POLL);
        }
        wait_for_port(port, TIMEOUT).expect("nginx port");
    }

    /// Port of the default nginx site (after [`start_nginx`](Self::start_nginx)).
    pub fn nginx_port(&self) -> Option<u16> {
        self.nginx_port.get().copied()
    }

    /// PID of the nginx master (from `/run/nginx.pid`), if it runs in this host.
    pub fn nginx_master_pid(&self) -> Option<u32> {
        let raw = self.read_file("/run/nginx.pid")?;
        let pid: u32 = String::from_utf8_lossy(&raw).trim().parse().ok()?;
        self.namespace_pids().contains(&pid).then_some(pid)
    }

    /// PIDs of every live process in the host's mount namespace (found via `/proc/*/ns/mnt`).
    pub fn namespace_pids(&self) -> Vec<u32> {
        ns_pids(&self.ns_id)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if self.ns.is_some() {
            kill_namespace(&self.ns_id);
        }
        let _ = self.anchor.kill();
        let _ = self.anchor.wait();
        // Last reference: the namespace (and its overlay/tmpfs mounts) goes away.
        self.ns = None;
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_owned();
            if let Err(e) = dir.close() {
                eprintln!(
                    "TestHost {}: cannot remove {}: {e}",
                    self.name,
                    path.display()
                );
            }
        }
    }
}

/// Why the harness cannot run here, if it cannot (checked once per process).
fn prerequisites() -> Result<(), String> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return Err("TestHost needs root (mount namespaces, overlayfs, useradd)".into());
            }
            for tool in ["unshare", "nsenter", "ssh-keygen", "ssh"] {
                if which::which_in(tool, Some(PATH_ENV), "/").is_err() {
                    return Err(format!("`{tool}` not found"));
                }
            }
            if !Path::new("/usr/sbin/sshd").exists() {
                return Err("/usr/sbin/sshd not found (openssh-server)".into());
            }
            let probe = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "true"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("unshare: {e}"))?;
            if !probe.status.success() {
                return Err(format!(
                    "unshare --mount not permitted: {}",
                    String::from_utf8_lossy(&probe.stderr).trim()
                ));
            }
            Ok(())
        })
        .clone()
}

/// Where host temp dirs go: `$TMPDIR` unless it lies under a directory the hosts overlay or
/// replace (an overlay's upper dir must not be inside its lower dir; `/run` is hidden).
fn temp_base() -> PathBuf {
    let base = std::env::temp_dir();
    let canon = base.canonicalize().unwrap_or(base.clone());
    let hidden = OVERLAID
        .iter()
        .chain(&["run"])
        .any(|d| canon.starts_with(format!("/{d}")));
    if hidden {
        PathBuf::from("/tmp")
    } else {
        base
    }
}

/// A free TCP port on 127.0.0.1, below the ephemeral range (so outgoing connections don't
/// grab it before our server binds), never handed out twice in this process.
fn alloc_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .clamp(12000, 65535);
    let (first, span) = (10000u32, low - 10000);
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    let used = used.get_or_insert_with(HashSet::new);
    for i in 0..span {
        let port = (first + ((seed as u32).wrapping_add(i) % span)) as u16;
        if used.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            used.insert(port);
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

fn wait_for_port(port: u16, timeout: Duration) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("127.0.0.1:{port}: {e}")),
            Err(_) => sleep(POLL),
        }
    }
}

/// An open handle on `pid`'s mount namespace, if it differs from ours.
fn open_ns(pid: u32) -> Option<File> {
    let ns = File::open(format!("/proc/{pid}/ns/mnt")).ok()?;
    let own = fs::metadata("/proc/self/ns/mnt").ok()?;
    let meta = ns.metadata().ok()?;
    (meta.ino() != own.ino() || meta.dev() != own.dev()).then_some(ns)
}

/// `mnt:[INODE]`, as `readlink /proc/PID/ns/mnt` shows it.
fn ns_id_of(ns: &File) -> String {
    ns.metadata()
        .map(|m| format!("mnt:[{}]", m.ino()))
        .unwrap_or_default()
}

/// Live processes whose mount namespace is `ns_id` (zombies have none and are skipped).
fn ns_pids(ns_id: &str) -> Vec<u32> {
    if ns_id.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .is_ok_and(|l| l.as_os_str() == std::ffi::OsStr::new(ns_id))
        })
        .collect()
}

/// SIGKILLs every process in the namespace until none is left (new ones may be forked while
/// we kill). The caller holds the namespace open, so its inode cannot be reused meanwhile.
fn kill_namespace(ns_id: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pids = ns_pids(ns_id);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            // SAFETY: plain syscall; a PID that has exited meanwhile just gives ESRCH.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        if Instant::now() > deadline {
            eprintln!("TestHost: processes {pids:?} survive SIGKILL");
            return;
        }
        sleep(Duration::from_millis(1));
    }
}

fn read_lossy(path: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
