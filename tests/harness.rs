//! Tests of the test harness itself (tests/support/test_host.rs): real sshd servers in private
//! mount namespaces, reached with the real OpenSSH client.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use support::TestHost;

/// `ssh -i KEY -o UserKnownHostsFile=KNOWN_HOSTS -o StrictHostKeyChecking=yes -p PORT USER@127.0.0.1 CMD`
fn strict_ssh(host: &TestHost, known_hosts: &Path, user: &str, cmd: &str) -> Output {
    host.ssh_with_known_hosts(user, known_hosts)
        .arg(cmd)
        .output()
        .expect("run ssh")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn describe(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A known_hosts file (outside any host) holding `line`.
fn known_hosts_file(dir: &Path, line: &str) -> PathBuf {
    let path = dir.join("known_hosts");
    fs::write(&path, format!("{line}\n")).unwrap();
    path
}

/// A name no real file or user on the machine has.
fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

/// Live (non-zombie) state of a PID: `None` when gone or a zombie.
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn two_hosts_start_in_parallel_and_accept_strict_ssh_as_root() {
    let started = Instant::now();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| (TestHost::start("alpha"), started.elapsed()));
        let b = s.spawn(|| (TestHost::start("beta"), started.elapsed()));
        (a.join().unwrap(), b.join().unwrap())
    });
    let ((Some(a), ta), (Some(b), tb)) = (a, b) else {
        return;
    };
    eprintln!("startup: alpha {ta:?}, beta {tb:?} (in parallel)");
    assert_ne!(a.port(), b.port());
    assert_ne!(
        a.known_hosts_line(),
        b.known_hosts_line(),
        "each host has its own key"
    );

    let tmp = tempfile::tempdir().unwrap();
    for host in [&a, &b] {
        let line = host.known_hosts_line();
        assert!(
            line.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 AAAA", host.port())),
            "{line}"
        );
        let mode = fs::metadata(host.client_key()).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        let kh = known_hosts_file(tmp.path(), &line);
        let out = strict_ssh(host, &kh, "root", "id -u");
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(stdout(&out), "0");

        // The config jprov will find: Debian's shape, valid for `sshd -t`, no foreign drop-ins.
        let config = String::from_utf8(host.read_file("/etc/ssh/sshd_config").unwrap()).unwrap();
        assert_eq!(
            config.lines().next(),
            Some("Include /etc/ssh/sshd_config.d/*.conf")
        );
        assert!(config.contains(&format!("\nPort {}\n", host.port())));
        assert!(config.contains("\nUsePAM yes\n"));
        let check = host.exec("sshd -t && ls -A /etc/ssh/sshd_config.d | wc -l && ls /etc/ssh");
        assert!(check.status.success(), "{}", describe(&check));
        let listing = stdout(&check);
        assert!(
            listing.starts_with("0\n"),
            "sshd_config.d not empty: {listing}"
        );
        assert!(
            !listing.contains("rsa") && !listing.contains("ecdsa"),
            "{listing}"
        );
        // The same through the helper command.
        let out = host
            .ssh("root")
            .arg("hostname >/dev/null && echo ok")
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "ok", "{}", describe(&out));
    }
}

#[test]
fn a_host_starts_well_under_a_second() {
    let started = Instant::now();
    let Some(h) = TestHost::start("quick") else {
        return;
    };
    let took = started.elapsed();
    eprintln!("startup: {took:?}");
    // Generous bound for loaded CI machines; typically ~50 ms.
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    assert!(TcpStream::connect(("127.0.0.1", h.port())).is_ok());
}

#[test]
fn files_written_inside_are_private_to_the_host() {
    let Some(a) = TestHost::start("private-a") else {
        return;
    };
    let Some(b) = TestHost::start("private-b") else {
        return;
    };
    let name = unique("jprov-harness-");
    let path = format!("/etc/{name}");
    a.write_file(&path, b"inside A\n", 0o640);

    assert_eq!(a.read_file(&path).as_deref(), Some(&b"inside A\n"[..]));
    assert_eq!(a.exec_ok(&format!("stat -c %a {path}")).trim(), "640");
    assert!(!Path::new(&path).exists(), "{path} leaked to the machine");
    assert_eq!(b.read_file(&path), None, "{path} leaked to host B");
    // Over SSH too: the session sees the namespace's files.
    let kh = a.write_known_hosts();
    let out = strict_ssh(&a, &kh, "root", &format!("cat {path}"));
    assert_eq!(stdout(&out), "inside A", "{}", describe(&out));

    // Nested writes, /var, /root, /tmp and /run are private as well.
    for p in [
        format!("/etc/ssh/sshd_config.d/{name}.conf"),
        format!("/var/lib/{name}/state"),
        format!("/root/{name}"),
        format!("/tmp/{name}"),
        format!("/run/{name}"),
    ] {
        a.write_file(&p, b"x", 0o600);
        assert!(a.read_file(&p).is_some());
        assert!(!Path::new(&p).exists(), "{p} leaked to the machine");
        assert_eq!(b.read_file(&p), None, "{p} leaked to host B");
    }
    // The machine's sshd_config is not the host's.
    let outside = fs::read("/etc/ssh/sshd_config").unwrap_or_default();
    assert_ne!(a.read_file("/etc/ssh/sshd_config").unwrap(), outside);
    // Existing machine files are visible read-through (lower layer).
    assert_eq!(
        a.read_file("/etc/debian_version").unwrap(),
        fs::read("/etc/debian_version").unwrap()
    );
}

#[test]
fn add_user_allows_ssh_as_that_user() {
    let Some(h) = TestHost::start("users") else {
        return;
    };
    let user = unique("jph");
    h.add_user(&user);
    let kh = h.write_known_hosts();
    let out = strict_ssh(&h, &kh, &user, "id -un; echo $HOME; echo $SHELL");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout(&out), format!("{user}\n/home/{user}\n/bin/bash"));
    // Only inside the host.
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    assert!(
        !passwd.lines().any(|l| l.starts_with(&format!("{user}:"))),
        "user leaked"
    );
    assert!(!Path::new(&format!("/home/{user}")).exists());
    // An unknown user is refused.
    let out = strict_ssh(&h, &kh, "nosuchuser", "true");
    assert!(!out.status.success());
}

#[test]
fn sighup_reload_applies_drop_ins_and_keeps_ssh_working() {
    let Some(h) = TestHost::start("reload") else {
        return;
    };
    let kh = h.write_known_hosts();
    assert_eq!(h.sshd_reload_count(), 0);
    let pid = h.sshd_pid().expect("sshd pid");
    assert_eq!(comm(pid), "sshd");

    // What jprov does: drop-in, validate, reload with SIGHUP.
    h.write_file(
        "/etc/ssh/sshd_config.d/50-test.conf",
        b"PermitRootLogin no\n",
        0o644,
    );
    let effective = h.exec_ok("sshd -t && sshd -T -C user=root,host=x,addr=127.0.0.1");
    assert!(effective.contains("permitrootlogin no"), "{effective}");
    // Not applied before the reload.
    assert_eq!(stdout(&strict_ssh(&h, &kh, "root", "id -u")), "0");

    let out = h.exec(r#"kill -HUP "$(cat /run/sshd.pid)""#);
    assert!(out.status.success(), "{}", describe(&out));
    h.wait_sshd_reloads(1);
    assert_eq!(h.sshd_reload_count(), 1, "{}", h.sshd_log());
    assert_eq!(h.sshd_pid(), Some(pid), "sshd re-execs in place: same PID");
    let denied = strict_ssh(&h, &kh, "root", "id -u");
    assert!(
        !denied.status.success(),
        "root still allowed: {}",
        describe(&denied)
    );
    let user = unique("jpr");
    h.add_user(&user);
    let out = strict_ssh(&h, &kh, &user, "id -un");
    assert_eq!(stdout(&out), user, "{}", describe(&out));

    // Undo through the helper: back to root login.
    h.exec_ok("rm /etc/ssh/sshd_config.d/50-test.conf");
    h.reload_sshd();
    assert_eq!(h.sshd_reload_count(), 2);
    let out = strict_ssh(&h, &kh, "root", "id -u");
    assert_eq!(stdout(&out), "0", "{}", describe(&out));
    assert!(h.sshd_log().contains("Received SIGHUP; restarting."));
}

#[test]
fn rotate_host_key_breaks_strict_host_key_checking() {
    let Some(h) = TestHost::start("rotate") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let old_line = h.known_hosts_line();
    let kh = known_hosts_file(tmp.path(), &old_line);
    assert!(strict_ssh(&h, &kh, "root", "true").status.success());

    h.rotate_host_key();
    let new_line = h.known_hosts_line();
    assert_ne!(new_line, old_line);
    let out = strict_ssh(&h, &kh, "root", "true");
    assert!(
        !out.status.success(),
        "old key still accepted: {}",
        describe(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            && err.contains("Host key verification failed"),
        "{err}"
    );
    let kh = known_hosts_file(tmp.path(), &new_line);
    let out = strict_ssh(&h, &kh, "root", "id -u");
    assert_eq!(stdout(&out), "0", "{}", describe(&out));
}

#[test]
fn nginx_starts_validates_and_reloads() {
    let Some(h) = TestHost::start("nginx") else {
        return;
    };
    assert_eq!(h.nginx_master_pid(), None);
    h.start_nginx();
    let pid = h.nginx_master_pid().expect("nginx master pid");
    assert_eq!(comm(pid), "nginx");
    assert!(h.namespace_pids().contains(&pid));

    let out = h.exec("nginx -t");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test is successful"));

    // It serves the default site on its own port.
    let port = h.nginx_port().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 "), "{reply}");
    assert!(reply.contains("Server: nginx"), "{reply}");

    // A site written inside, then `nginx -s reload`, is served by the same master.
    h.write_file(
        "/etc/nginx/sites-enabled/harness",
        format!("server {{ listen 127.0.0.1:{port}; server_name harness.test; return 204; }}\n")
            .as_bytes(),
        0o644,
    );
    let out = h.exec("nginx -t && nginx -s reload");
    assert!(out.status.success(), "{}", describe(&out));
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(b"GET / HTTP/1.0\r\nHost: harness.test\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        if reply.starts_with("HTTP/1.1 204") {
            break;
        }
        assert!(Instant::now() < deadline, "reload not applied: {reply}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(h.nginx_master_pid(), Some(pid));
    assert!(!Path::new("/etc/nginx/sites-enabled/harness").exists());
}

/// Starts a host with sshd, nginx, an SSH session and a detached process; returns what must
/// disappear with it.
fn busy_host(name: &str) -> Option<(TestHost, Vec<u32>, std::process::Child)> {
    let h = TestHost::start(name)?;
    h.start_nginx();
    h.exec_ok("setsid sleep 600 </dev/null >/dev/null 2>&1 &");
    let kh = h.write_known_hosts();
    let session = Command::new("ssh")
        .arg("-F")
        .arg("/dev/null")
        .arg("-i")
        .arg(h.client_key())
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", kh.display()))
        .arg("-p")
        .arg(h.port().to_string())
        .args(["root@127.0.0.1", "exec sleep 601"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let pids = loop {
        let pids = h.namespace_pids();
        let names: Vec<String> = pids.iter().map(|p| comm(*p)).collect();
        let n_sleep = names.iter().filter(|n| *n == "sleep").count();
        // anchor + detached + session
        if n_sleep >= 3 && names.iter().any(|n| n == "nginx") && names.iter().any(|n| n == "sshd") {
            break pids;
        }
        assert!(Instant::now() < deadline, "processes missing: {names:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Some((h, pids, session))
}

#[test]
fn drop_kills_every_process_of_the_namespace() {
    let Some((h, pids, mut session)) = busy_host("drop") else {
        return;
    };
    let dir = h.dir().to_owned();
    assert!(pids.iter().all(|p| alive(*p)));
    drop(h);
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left alive: {left:?}");
    assert!(!dir.exists(), "temp dir {} not removed", dir.display());
    // The client's session ended with the server.
    assert!(!session.wait().unwrap().success());
}

#[test]
fn drop_cleans_up_when_the_test_panics() {
    let record = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let Some((h, pids, session)) = busy_host("panic") else {
            return;
        };
        *record.lock().unwrap() = Some((pids, h.dir().to_owned(), session));
        panic!("test failure while the host runs");
    });
    let Some((pids, dir, mut session)) = record.into_inner().unwrap() else {
        return;
    };
    assert!(result.is_err());
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left alive after panic: {left:?}");
    assert!(!dir.exists());
    let _ = session.wait();
}

/// This very test binary run as `nobody` (copied where nobody can read it: the build directory may
/// be under a 0700 home), with `JPROV_HARNESS_AS_NOBODY` so it only calls `TestHost::start`.
fn as_nobody(test: &str, require_all: bool) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("harness");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("JPROV_HARNESS_AS_NOBODY", "1")
        .env_remove(support::prereq::REQUIRE_ALL)
        .current_dir("/")
        .stdin(Stdio::null());
    if require_all {
        cmd.env(support::prereq::REQUIRE_ALL, "1");
    }
    // The copy was open for writing here; a child another test thread forks meanwhile holds that fd
    // until it execs, and exec of a file open for writing fails (ETXTBSY). It passes in a moment.
    for _ in 0..20 {
        let out = cmd.output().unwrap();
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{} stayed busy (ETXTBSY) for 2 s", exe.display())
}

#[test]
fn start_skips_when_not_root_but_fails_under_tests_run_sh() {
    // As `nobody`: TestHost::start prints the skip line and returns None, or (tests/run.sh) fails.
    if std::env::var_os("JPROV_HARNESS_AS_NOBODY").is_some() {
        assert!(TestHost::start("nobody").is_none());
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || which::which("setpriv").is_err() {
        support::prereq::skip("needs root and setpriv (util-linux) to switch to nobody");
        return;
    }
    let test = "start_skips_when_not_root_but_fails_under_tests_run_sh";
    let out = as_nobody(test, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        err.contains("skipped: TestHost needs root"),
        "{}",
        describe(&out)
    );

    let out = as_nobody(test, true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        err.contains("TestHost needs root")
            && err.contains("JPROV_TEST_REQUIRE_ALL is set")
            && !err.contains("skipped:"),
        "{}",
        describe(&out)
    );
}

#[test]
fn jprov_bin_is_the_built_binary() {
    let bin = support::jprov_bin();
    assert!(bin.is_file(), "{}", bin.display());
    assert_eq!(bin.file_name().unwrap(), "jprov");
}
