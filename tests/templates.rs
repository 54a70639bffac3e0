//! The templates, checked by the programs that read them: sshd, nginx, jupyter_server (and curl,
//! openssl, ssh-keygen around them). Nothing is mocked; everything runs on loopback in temp dirs.
//!
//! Missing programs are failures, not skips: the suite's setup installs them. Python is the test
//! venv's (`support::prereq::python`).

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use jprov::render::Templates;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Path of `program`, or a failure naming the package that provides it.
fn require(program: &str, package: &str) -> PathBuf {
    if let Ok(path) = which::which(program) {
        return path;
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(program);
        if path.is_file() {
            return path;
        }
    }
    panic!("`{program}` not found: install the `{package}` package (the test suite's setup does)");
}

/// The test venv's Python (never python3), checked to have jupyter_server and traitlets.
fn require_python() -> String {
    support::prereq::python(&["jupyter_server", "traitlets"])
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed\n{}", text(&out));
    out
}

fn render(name: &str, ctx: Value) -> String {
    Templates::new()
        .render(name, ctx)
        .unwrap_or_else(|e| panic!("{e:#?}"))
}

fn assert_header(rendered: &str, profile: Option<&str>) {
    let first = rendered.lines().next().unwrap_or_default();
    let expected = match profile {
        Some(p) => format!("# Managed by jprov for profile {p}; edits will be overwritten."),
        None => "# Managed by jprov; edits will be overwritten.".to_string(),
    };
    assert_eq!(first, expected);
    assert!(rendered.ends_with('\n'));
}

/// A world-readable temp dir (nginx workers and sshd may not run as root).
fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// A loopback port free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills and reaps the child when dropped, also when an assertion fails first.
struct KillOnDrop {
    child: Child,
    what: &'static str,
    log: Option<PathBuf>,
}

impl KillOnDrop {
    fn spawn(cmd: &mut Command, what: &'static str, log: Option<PathBuf>) -> Self {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
        KillOnDrop { child, what, log }
    }

    /// Fails if the process has exited (showing its log).
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = self
                .log
                .as_ref()
                .and_then(|p| fs::read_to_string(p).ok())
                .unwrap_or_default();
            panic!("{} exited early with {status}\n{log}", self.what);
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Self-signed certificate for `domain`; returns (cert, key).
fn self_signed(dir: &Path, domain: &str) -> (PathBuf, PathBuf) {
    let openssl = require("openssl", "openssl");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    run_ok(
        Command::new(openssl)
            .args(["req", "-x509", "-noenc", "-days", "2", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:P-256", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", &format!("/CN={domain}")])
            .args(["-addext", &format!("subjectAltName=DNS:{domain}")]),
    );
    (cert, key)
}

fn curl() -> Command {
    let mut cmd = Command::new(require("curl", "curl"));
    cmd.args(["-sS", "--max-time", "5", "--noproxy", "*"]);
    cmd
}

// ---------------------------------------------------------------------------------------------
// authorized_keys line

const PUBKEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbQ3vCkaVXtxMP6yFbnBeq1wHlOQ7rqQAhWLdGyUpWq";

#[test]
fn authorized_key_reverse_forward() {
    let line = render(
        "authorized_key",
        json!({"method": "reverse-forward", "profile": "lab", "port": 8888, "public_key": PUBKEY}),
    );
    assert_eq!(
        line,
        format!("restrict,port-forwarding,permitlisten=\"8888\" {PUBKEY} jprov:lab\n")
    );
}

#[test]
fn authorized_key_nginx_proxy() {
    let line = render(
        "authorized_key",
        json!({"method": "nginx-proxy", "profile": "gpu-box", "port": 8889, "public_key": PUBKEY}),
    );
    assert_eq!(
        line,
        format!("restrict,port-forwarding,permitopen=\"localhost:8889\" {PUBKEY} jprov:gpu-box\n")
    );
}

#[test]
fn authorized_key_rejects_unknown_method() {
    let err = Templates::new().render(
        "authorized_key",
        json!({"method": "ngrok", "profile": "x", "port": 1, "public_key": PUBKEY}),
    );
    assert!(err.is_err(), "rendered {err:?}");
}

#[test]
fn authorized_key_is_accepted_by_ssh_keygen() {
    // ssh-keygen -l reads authorized_keys lines, options included.
    let keygen = require("ssh-keygen", "openssh-client");
    let dir = tempdir();
    run_ok(
        Command::new(&keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("id")),
    );
    let public = fs::read_to_string(dir.path().join("id.pub")).unwrap();
    let public: Vec<&str> = public.split_whitespace().take(2).collect();
    for method in ["reverse-forward", "nginx-proxy"] {
        let line = render(
            "authorized_key",
            json!({"method": method, "profile": "lab", "port": 8888, "public_key": public.join(" ")}),
        );
        let file = dir.path().join("authorized_keys");
        fs::write(&file, &line).unwrap();
        let out = run_ok(Command::new(&keygen).arg("-lf").arg(&file));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("jprov:lab (ED25519)"),
            "{}",
            text(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// sshd drop-in

const TUNNEL: &str = "jprov-tunnel";

struct SshdSetup {
    dir: tempfile::TempDir,
    sshd: PathBuf,
}

impl SshdSetup {
    /// A Debian-like main config: the drop-in directory is included first, then the
    /// distribution's own global settings (some of which the Match block must override, and
    /// some of which are not allowed inside Match, so a leaking Match block would fail).
    fn new(dropin: &str) -> Self {
        let sshd = require("sshd", "openssh-server");
        let keygen = require("ssh-keygen", "openssh-client");
        // sshd -t/-T refuse to run without it; Debian's ssh.service creates it at start.
        if !Path::new("/run/sshd").is_dir() {
            fs::create_dir_all("/run/sshd").unwrap_or_else(|e| {
                panic!(
                    "sshd needs /run/sshd (privilege separation dir) and it cannot be created: {e}"
                )
            });
        }
        let dir = tempdir();
        let d = dir.path();
        run_ok(
            Command::new(keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join("host_ed25519")),
        );
        fs::create_dir(d.join("sshd_config.d")).unwrap();
        fs::write(d.join("sshd_config.d/50-jprov-lab.conf"), dropin).unwrap();
        let main = format!(
            "Include {d}/sshd_config.d/*.conf\n\
             HostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\n\
             KbdInteractiveAuthentication no\n\
             UsePAM yes\n\
             X11Forwarding yes\n\
             PrintMotd no\n\
             AcceptEnv LANG LC_*\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n",
            d = d.display()
        );
        fs::write(d.join("sshd_config"), main).unwrap();
        SshdSetup { dir, sshd }
    }

    fn test(&self) -> Output {
        run(Command::new(&self.sshd)
            .arg("-t")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config")))
    }

    /// The effective configuration for a connection by `user`, as "keyword value" lines.
    fn effective(&self, user: &str) -> Vec<String> {
        let out = run_ok(
            Command::new(&self.sshd)
                .arg("-T")
                .arg("-f")
                .arg(self.dir.path().join("sshd_config"))
                .arg("-C")
                .arg(format!("user={user},host=client.example,addr=127.0.0.1")),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn sshd_context() -> Value {
    json!({
        "profile": "lab",
        "tunnel_account": TUNNEL,
        "tunnel_port": 8888,
        "authorized_keys_file": "/etc/ssh/jprov/jprov-tunnel.keys",
    })
}

fn assert_has(lines: &[String], expected: &str) {
    assert!(
        lines.iter().any(|l| l == expected),
        "missing `{expected}` in sshd -T output:\n{}",
        lines.join("\n")
    );
}

#[test]
fn sshd_dropin_is_valid_and_scoped_to_the_tunnel_account() {
    let dropin = render("sshd_dropin.conf", sshd_context());
    assert_header(&dropin, Some("lab"));
    // Nothing outside the Match block: every non-comment line before it is blank.
    let before_match = dropin
        .split(&format!("Match User {TUNNEL}\n"))
        .next()
        .unwrap();
    assert_ne!(before_match, dropin, "no Match block:\n{dropin}");
    assert!(
        before_match
            .lines()
            .all(|l| l.is_empty() || l.starts_with('#')),
        "settings outside the Match block:\n{dropin}"
    );
    // One Match block, no second one that would re-open the global section.
    assert_eq!(
        dropin.lines().filter(|l| l.starts_with("Match ")).count(),
        1,
        "{dropin}"
    );

    let setup = SshdSetup::new(&dropin);
    let out = setup.test();
    assert!(
        out.status.success(),
        "sshd -t rejects\n{dropin}\n{}",
        text(&out)
    );

    let tunnel = setup.effective(TUNNEL);
    for expected in [
        "gatewayports clientspecified",
        "permitlisten *:8888", // port only means any listen address
        "allowtcpforwarding remote",
        "allowstreamlocalforwarding no",
        "permitopen none",
        "permittty no",
        "x11forwarding no",
        "allowagentforwarding no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "authenticationmethods publickey",
        "clientaliveinterval 30",
        "clientalivecountmax 3",
        "authorizedkeysfile /etc/ssh/jprov/jprov-tunnel.keys",
        "forcecommand /bin/false",
    ] {
        assert_has(&tunnel, expected);
    }

    // Everyone else keeps the main configuration.
    let other = setup.effective("someoneelse");
    for expected in [
        "gatewayports no",
        "permitlisten any",
        "allowtcpforwarding yes",
        "permittty yes",
        "x11forwarding yes",
        "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2",
    ] {
        assert_has(&other, expected);
    }
    assert_has(&other, "forcecommand none");
}

#[test]
fn sshd_rejects_a_broken_dropin() {
    // The check above can fail: sshd -t notices bad keywords and keywords not allowed in Match.
    let dropin = render("sshd_dropin.conf", sshd_context());
    for (bad, complaint) in [
        (
            "\tGatewayPorts sometimes\n",
            "unsupported option \"sometimes\"",
        ),
        (
            "\tPort 2222\n",
            "Directive 'Port' is not allowed within a Match block",
        ),
        (
            "\tNoSuchKeyword yes\n",
            "Bad configuration option: NoSuchKeyword",
        ),
    ] {
        let setup = SshdSetup::new(&format!("{dropin}{bad}"));
        let out = setup.test();
        assert!(
            !out.status.success(),
            "sshd -t accepted a drop-in ending with {bad:?}\n{}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(complaint),
            "{}",
            text(&out)
        );
    }
}

/// Listening TCP sockets on `port` from /proc/net/tcp{,6}, as hex local addresses.
fn listeners(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in fs::read_to_string(file).unwrap_or_default().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 3 && fields[3] == "0A" {
                if let Some((addr, p)) = fields[1].split_once(':') {
                    if u16::from_str_radix(p, 16) == Ok(port) {
                        found.push(addr.to_string());
                    }
                }
            }
        }
    }
    found
}

#[test]
fn sshd_dropin_and_key_carry_a_real_tunnel() {
    // A real sshd with the drop-in and the authorized_keys line, and a real `ssh -N -R`.
    // The tunnel account must exist: `nobody` stands in for it. sshd must run as root.
    let ssh = require("ssh", "openssh-client");
    let keygen = require("ssh-keygen", "openssh-client");
    let tunnel_port = free_port();
    let ssh_port = free_port();
    let target = echo_upstream();
    let dropin = render(
        "sshd_dropin.conf",
        json!({
            "profile": "lab",
            "tunnel_account": "nobody",
            "tunnel_port": tunnel_port,
            "authorized_keys_file": "/will/be/replaced",
        }),
    );
    let setup = SshdSetup::new("");
    let d = setup.dir.path();
    let keys = d.join("tunnel.keys");
    fs::write(
        d.join("sshd_config.d/50-jprov-lab.conf"),
        dropin.replace("/will/be/replaced", &keys.display().to_string()),
    )
    .unwrap();
    // Test-only additions: a loopback port, no PAM, and StrictModes off because the temp dir
    // lives under the world-writable /tmp (jprov's real keys file is under root-owned /etc/ssh).
    let main = fs::read_to_string(d.join("sshd_config")).unwrap();
    let main = main.replace("UsePAM yes\n", "UsePAM no\nStrictModes no\n");
    fs::write(
        d.join("sshd_config"),
        format!("Port {ssh_port}\nListenAddress 127.0.0.1\n{main}"),
    )
    .unwrap();
    run_ok(
        Command::new(keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("id")),
    );
    let public = fs::read_to_string(d.join("id.pub")).unwrap();
    let public: Vec<&str> = public.split_whitespace().take(2).collect();
    let line = render(
        "authorized_key",
        json!({"method": "reverse-forward", "profile": "lab", "port": tunnel_port,
               "public_key": public.join(" ")}),
    );
    fs::write(&keys, line).unwrap();

    let mut sshd = KillOnDrop::spawn(
        Command::new(&setup.sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(d.join("sshd.log")).unwrap()),
        "sshd",
        Some(d.join("sshd.log")),
    );
    wait_for_port(ssh_port, &mut sshd);

    let client = |forward: &str, extra: &[&str]| {
        let mut cmd = Command::new(&ssh);
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(d.join("id"))
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args([
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ExitOnForwardFailure=yes",
            ])
            .args(["-o", "LogLevel=ERROR", "-p", &ssh_port.to_string()])
            .args(extra)
            .args(["-R", forward, "nobody@127.0.0.1"])
            .stdin(Stdio::null());
        cmd
    };
    let log = d.join("ssh.log");
    let mut tunnel = KillOnDrop::spawn(
        client(&format!(":{tunnel_port}:127.0.0.1:{target}"), &["-N"])
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap()),
        "ssh -R",
        Some(log),
    );
    wait_for_port(tunnel_port, &mut tunnel);
    // GatewayPorts clientspecified + `-R :PORT`: bound on all interfaces, not loopback only.
    let bound = listeners(tunnel_port);
    assert!(
        bound
            .iter()
            .any(|a| a == "00000000" || a == "00000000000000000000000000000000"),
        "tunnel port bound only on {bound:?}"
    );
    let mut conn = TcpStream::connect(("127.0.0.1", tunnel_port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(conn, "GET /through-the-tunnel HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    let _ = conn.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(
        header(&resp, "X-Seen-Path"),
        Some("/through-the-tunnel"),
        "{resp}"
    );

    // Any other listen port is refused, and so is running a command.
    let other = format!(":{}:127.0.0.1:{target}", free_port());
    let out = run(client(&other, &["-N"]).arg("-o").arg("ConnectTimeout=5"));
    assert!(!out.status.success(), "second port allowed\n{}", text(&out));
    let out = run(client(&other, &[]).arg("id"));
    assert!(!out.status.success(), "command ran\n{}", text(&out));
    tunnel.assert_running();
    sshd.assert_running();
}

// ---------------------------------------------------------------------------------------------
// nginx site

struct NginxSetup {
    dir: tempfile::TempDir,
    nginx: PathBuf,
}

impl NginxSetup {
    /// A prefix dir with an nginx.conf that includes the given sites at http level, like
    /// Debian's (which also sets obsolete ssl_protocols at http level).
    fn new(sites: &[String]) -> Self {
        let nginx = require("nginx", "nginx");
        let dir = tempdir();
        let d = dir.path();
        let mut includes = String::new();
        for (i, site) in sites.iter().enumerate() {
            fs::write(d.join(format!("site{i}.conf")), site).unwrap();
            includes.push_str(&format!("    include {}/site{i}.conf;\n", d.display()));
        }
        let conf = format!(
            "error_log {d}/error.log;\n\
             pid {d}/nginx.pid;\n\
             worker_processes 1;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log {d}/access.log;\n\
             \x20   client_body_temp_path {d}/client_body;\n\
             \x20   proxy_temp_path {d}/proxy;\n\
             \x20   fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n\
             \x20   scgi_temp_path {d}/scgi;\n\
             \x20   ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n\
             \x20   ssl_prefer_server_ciphers on;\n\
             {includes}}}\n",
            d = d.display()
        );
        fs::write(d.join("nginx.conf"), conf).unwrap();
        NginxSetup { dir, nginx }
    }

    fn command(&self) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(&self.nginx);
        cmd.arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(d.join("nginx.conf"));
        cmd
    }

    fn test(&self) -> Output {
        run(self.command().arg("-t"))
    }

    fn assert_valid(&self) {
        let out = self.test();
        let d = self.dir.path();
        let mut sites = String::new();
        for entry in fs::read_dir(d).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("site") {
                sites.push_str(&fs::read_to_string(entry.path()).unwrap());
            }
        }
        assert!(
            out.status.success(),
            "nginx -t failed\n{}\n{sites}",
            text(&out)
        );
    }
}

fn nginx_context(dir: &Path, profile: &str, domain: &str, tls_ready: bool) -> Value {
    json!({
        "profile": profile,
        "domain": domain,
        "https_port": 443,
        "http_port": 80,
        "upstream_port": 18888,
        "base_url": "/",
        "tls_ready": tls_ready,
        "cert_file": dir.join("cert.pem"),
        "key_file": dir.join("key.pem"),
        "acme_webroot": dir.join("acme"),
        "client_max_body_size": "512m",
        "access": {"htpasswd": null, "allow": []},
    })
}

#[test]
fn nginx_site_before_certificate_serves_only_acme() {
    let certs = tempdir(); // empty: no certificate exists yet
    let site = render(
        "nginx_site.conf",
        nginx_context(certs.path(), "lab", "jupyter.example.org", false),
    );
    assert_header(&site, Some("lab"));
    assert!(
        !site.contains("ssl"),
        "TLS settings before a certificate:\n{site}"
    );
    assert!(!site.contains("proxy_pass"), "{site}");
    assert!(
        site.contains("location ^~ /.well-known/acme-challenge/"),
        "{site}"
    );
    NginxSetup::new(&[site]).assert_valid();
}

#[test]
fn nginx_site_with_tls_is_valid() {
    let dir = tempdir();
    self_signed(dir.path(), "jupyter.example.org");
    let mut ctx = nginx_context(dir.path(), "lab", "jupyter.example.org", true);
    ctx["base_url"] = json!("/jupyter/");
    let site = render("nginx_site.conf", ctx);
    assert_header(&site, Some("lab"));
    for expected in [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_tickets off;",
        "add_header Strict-Transport-Security \"max-age=63072000\" always;",
        "map $http_upgrade $jprov_lab_connection_upgrade {",
        "proxy_set_header Connection $jprov_lab_connection_upgrade;",
        "proxy_set_header Host $http_host;",
        "location /jupyter/ {",
        "proxy_pass http://127.0.0.1:18888;",
        "client_max_body_size 512m;",
        "return 301 https://jupyter.example.org$request_uri;",
    ] {
        assert!(site.contains(expected), "missing `{expected}`:\n{site}");
    }
    assert!(!site.contains("ssl_stapling"), "{site}");
    // Every TLS directive is inside a server block (not at http level).
    let before_server = site.split("server {").next().unwrap();
    assert!(!before_server.contains("ssl_"), "{site}");
    NginxSetup::new(&[site]).assert_valid();
}

#[test]
fn nginx_two_profiles_coexist() {
    let dir = tempdir();
    self_signed(dir.path(), "a.example.org");
    let a = render(
        "nginx_site.conf",
        nginx_context(dir.path(), "lab-a", "a.example.org", true),
    );
    let b = render(
        "nginx_site.conf",
        nginx_context(dir.path(), "lab-b", "b.example.org", true),
    );
    let c = render(
        "nginx_site.conf",
        nginx_context(dir.path(), "lab-c", "c.example.org", false),
    );
    assert!(a.contains("$jprov_lab_a_connection_upgrade"));
    assert!(b.contains("$jprov_lab_b_connection_upgrade"));
    NginxSetup::new(&[a.clone(), b, c]).assert_valid();

    // nginx does not reject a map variable declared twice (the last map silently wins), so a
    // shared name would let one site's map change another's: the names must differ by profile.
}

/// A tiny HTTP upstream that answers every request with the request's headers echoed as
/// `X-Seen-<name>` response headers; an Upgrade request gets `101 Switching Protocols`.
fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = echo_one(stream);
            });
        }
    });
    port
}

fn echo_one(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut seen = String::new();
    let mut upgrade = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
            seen.push_str(&format!("X-Seen-{}: {}\r\n", name.trim(), value.trim()));
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    seen.push_str(&format!("X-Seen-Path: {path}\r\n"));
    let mut stream = stream;
    if upgrade {
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{seen}\r\n"
        )?;
        // Act as an echoing tunnel until the client goes away.
        let mut buf = [0u8; 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n])?;
        }
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n{seen}\r\nok"
    )?;
    Ok(())
}

fn wait_for_port(port: u16, guard: &mut KillOnDrop) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        guard.assert_running();
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("{} did not listen on port {port}", guard.what);
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn nginx_site_proxies_http_and_websockets() {
    let domain = "jupyter.example.org";
    let dir = tempdir();
    let (cert, _) = self_signed(dir.path(), domain);
    let upstream = echo_upstream();
    let (http_port, https_port) = (free_port(), free_port());
    let mut ctx = nginx_context(dir.path(), "lab", domain, true);
    ctx["http_port"] = json!(http_port);
    ctx["https_port"] = json!(https_port);
    ctx["upstream_port"] = json!(upstream);
    ctx["base_url"] = json!("/jupyter/");
    let site = render("nginx_site.conf", ctx);
    let setup = NginxSetup::new(&[site]);
    setup.assert_valid();
    let challenge = dir.path().join("acme/.well-known/acme-challenge");
    fs::create_dir_all(&challenge).unwrap();
    fs::write(challenge.join("tok123"), "tok123.thumb").unwrap();

    let mut nginx = KillOnDrop::spawn(
        // One process (no master/worker split), so killing it leaves nothing behind.
        setup
            .command()
            .args(["-g", "daemon off; master_process off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "nginx",
        Some(setup.dir.path().join("error.log")),
    );
    wait_for_port(https_port, &mut nginx);
    wait_for_port(http_port, &mut nginx);

    let resolve = [
        "--resolve".to_string(),
        format!("{domain}:{https_port}:127.0.0.1"),
        "--resolve".to_string(),
        format!("{domain}:{http_port}:127.0.0.1"),
    ];
    let https = format!("https://{domain}:{https_port}");

    // Port 80: ACME challenge served, everything else redirected to https with the port kept.
    let out = run_ok(curl().args(&resolve).arg(format!(
        "http://{domain}:{http_port}/.well-known/acme-challenge/tok123"
    )));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok123.thumb");
    let out = run_ok(
        curl()
            .args(&resolve)
            .args(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
            .arg(format!("http://{domain}:{http_port}/jupyter/tree?x=1")),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("301 {https}/jupyter/tree?x=1")
    );

    // Plain request: reaches the upstream with the forwarding headers; HSTS on the response.
    let out = run_ok(
        curl()
            .args(&resolve)
            .arg("--cacert")
            .arg(&cert)
            .args(["-D", "-", "-o", "/dev/null"])
            .arg(format!("{https}/jupyter/api/status")),
    );
    let resp = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(
        header(&resp, "Strict-Transport-Security"),
        Some("max-age=63072000"),
        "{resp}"
    );
    assert_eq!(
        header(&resp, "X-Seen-Host"),
        Some(format!("{domain}:{https_port}").as_str()),
        "{resp}"
    );
    assert_eq!(
        header(&resp, "X-Seen-X-Forwarded-Proto"),
        Some("https"),
        "{resp}"
    );
    assert_eq!(header(&resp, "X-Seen-X-Scheme"), Some("https"), "{resp}");
    assert_eq!(
        header(&resp, "X-Seen-X-Real-IP"),
        Some("127.0.0.1"),
        "{resp}"
    );
    assert_eq!(header(&resp, "X-Seen-Connection"), Some("close"), "{resp}");
    assert_eq!(
        header(&resp, "X-Seen-Path"),
        Some("/jupyter/api/status"),
        "{resp}"
    );

    // Outside base_url: nothing is proxied; / redirects to base_url.
    let out = run_ok(
        curl()
            .args(&resolve)
            .arg("--cacert")
            .arg(&cert)
            .args(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
            .arg(format!("{https}/")),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("302 {https}/jupyter/")
    );
    let out = run_ok(
        curl()
            .args(&resolve)
            .arg("--cacert")
            .arg(&cert)
            .args(["-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{https}/etc/passwd")),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");

    // TLS 1.1 is refused even though the http level (like Debian's) enables it.
    let out = run(curl()
        .args(&resolve)
        .arg("--cacert")
        .arg(&cert)
        .args(["--tlsv1.1", "--tls-max", "1.1", "-o", "/dev/null"])
        .arg(format!("{https}/jupyter/")));
    assert!(!out.status.success(), "TLS 1.1 accepted\n{}", text(&out));

    // Websocket upgrade: 101 from the upstream, which saw Upgrade/Connection/Host intact.
    // curl does not speak websocket here: it prints the 101 headers and the time limit ends it.
    let out = run(curl()
        .args(&resolve)
        .arg("--cacert")
        .arg(&cert)
        .args(["--http1.1", "-D", "-", "-o", "/dev/null", "--max-time", "2"])
        .args(["-H", "Upgrade: websocket", "-H", "Connection: Upgrade"])
        .args(["-H", "Sec-WebSocket-Version: 13"])
        .args(["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        .arg(format!("{https}/jupyter/api/kernels/k1/channels")));
    let resp = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(resp.starts_with("HTTP/1.1 101"), "{}", text(&out));
    assert_eq!(header(&resp, "X-Seen-Upgrade"), Some("websocket"), "{resp}");
    assert_eq!(
        header(&resp, "X-Seen-Connection"),
        Some("upgrade"),
        "{resp}"
    );
    assert_eq!(
        header(&resp, "X-Seen-Host"),
        Some(format!("{domain}:{https_port}").as_str()),
        "{resp}"
    );
    assert_eq!(
        header(&resp, "X-Seen-Sec-WebSocket-Key"),
        Some("dGhlIHNhbXBsZSBub25jZQ=="),
        "{resp}"
    );
    nginx.assert_running();
}

// ---------------------------------------------------------------------------------------------
// The access layers: basic auth and the allow-list, checked by the real nginx

/// Made by Debian 12's libxcrypt (`crypt_gensalt` with `$6$` and `$y$`, then `crypt`) for "mypassword": the
/// other two schemes the profile accepts (src/password/htpasswd.rs), which jprov itself never makes.
const SHA512_CRYPT: &str = "$6$cjWe9/47xZI71xVn$OQiVL5aFkX2OJ4GTVaRC35vBchiq4fWe7I2bz81h/.ghDjesQOQ8neHJ/2efB84tk0oLqlpb8DXGbfYfJdUZt.";
const YESCRYPT: &str = "$y$j9T$XpqTppngQAMPbmY5Jetx.0$KckcqXYyZnxForMNra.BYMdjYMMGzXcBd8ECVuC9nc7";

/// `jprov hash-password --htpasswd` itself, the password on stdin.
fn htpasswd_hash_from_the_cli(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jprov"))
        .args(["hash-password", "--htpasswd"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn nginx_checks_basic_auth_of_every_accepted_scheme_behind_the_allow_list() {
    let domain = "jupyter.example.org";
    let dir = tempdir();
    let d = dir.path();
    let (cert, _) = self_signed(d, domain);
    let alice = htpasswd_hash_from_the_cli("alice's basic-auth pw");
    assert!(alice.starts_with("$2b$10$"), "{alice}");
    let htpasswd = d.join("jprov-lab.htpasswd");
    let accounts = json!([
        {"username": "alice", "hash": alice},
        {"username": "bob", "hash": SHA512_CRYPT},
        {"username": "carol", "hash": YESCRYPT},
    ]);
    let file = render(
        "nginx_htpasswd",
        json!({"profile": "lab", "accounts": accounts}),
    );
    assert!(
        file.starts_with("# Managed by jprov for profile lab;"),
        "{file}"
    );
    fs::write(&htpasswd, file).unwrap();
    let upstream = echo_upstream();
    let (http_port, https_port) = (free_port(), free_port());
    let mut ctx = nginx_context(d, "lab", domain, true);
    ctx["http_port"] = json!(http_port);
    ctx["https_port"] = json!(https_port);
    ctx["upstream_port"] = json!(upstream);
    ctx["base_url"] = json!("/jupyter/");
    // Only 127.0.0.2 (and a network that is not this one) may connect; curl comes from 127.0.0.1
    // unless told otherwise.
    ctx["access"] = json!({"htpasswd": htpasswd, "allow": ["127.0.0.2", "192.0.2.0/24"]});
    let site = render("nginx_site.conf", ctx);
    let setup = NginxSetup::new(&[site]);
    setup.assert_valid();
    let challenge = d.join("acme/.well-known/acme-challenge");
    fs::create_dir_all(&challenge).unwrap();
    fs::write(challenge.join("tok"), "tok.thumb").unwrap();
    let mut nginx = KillOnDrop::spawn(
        setup
            .command()
            .args(["-g", "daemon off; master_process off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "nginx",
        Some(setup.dir.path().join("error.log")),
    );
    wait_for_port(https_port, &mut nginx);
    wait_for_port(http_port, &mut nginx);

    // The status and headers of a GET from `source` with `credentials` (user:password, or none).
    let get = |source: &str, path: &str, credentials: Option<&str>| -> (String, String) {
        let mut cmd = curl();
        cmd.arg("--resolve")
            .arg(format!("{domain}:{https_port}:127.0.0.1"))
            .arg("--cacert")
            .arg(&cert)
            .args(["--interface", source, "-D", "-", "-o", "/dev/null"]);
        if let Some(credentials) = credentials {
            cmd.args(["-u", credentials]);
        }
        let out = run_ok(cmd.arg(format!("https://{domain}:{https_port}{path}")));
        let head = String::from_utf8_lossy(&out.stdout).to_string();
        (
            head.split_whitespace().nth(1).unwrap_or("").to_string(),
            head,
        )
    };
    let right = "alice:alice's basic-auth pw";
    // Outside the allow-list: 403, right credentials or not, the redirect to base_url too.
    for path in ["/jupyter/api/status", "/"] {
        for credentials in [None, Some(right)] {
            assert_eq!(
                get("127.0.0.1", path, credentials).0,
                "403",
                "{path} {credentials:?}"
            );
        }
    }
    // Inside it: no, wrong or someone else's credentials are 401 with the challenge.
    for credentials in [
        None,
        Some("alice:wrong"),
        Some("alice:"),
        Some("alice:mypassword"),
        Some("bob:alice's basic-auth pw"),
        Some("dave:alice's basic-auth pw"),
    ] {
        let (status, head) = get("127.0.0.2", "/jupyter/api/status", credentials);
        assert_eq!(status, "401", "{credentials:?}\n{head}");
        assert_eq!(
            header(&head, "WWW-Authenticate"),
            Some("Basic realm=\"Jupyter\""),
            "{head}"
        );
    }
    assert_eq!(get("127.0.0.2", "/", None).0, "401");
    // The right ones reach Jupyter: bcrypt from jprov, sha512-crypt and yescrypt from libxcrypt, all checked
    // by nginx (crypt(3)), and the password itself never reaches the upstream.
    for credentials in [right, "bob:mypassword", "carol:mypassword"] {
        let (status, head) = get("127.0.0.2", "/jupyter/api/status", Some(credentials));
        assert_eq!(status, "200", "{credentials}\n{head}");
        assert_eq!(header(&head, "X-Seen-Authorization"), None, "{head}");
        assert_eq!(
            header(&head, "X-Seen-Path"),
            Some("/jupyter/api/status"),
            "{head}"
        );
    }
    let (status, head) = get("127.0.0.2", "/", Some(right));
    assert_eq!(
        (status.as_str(), header(&head, "Location")),
        (
            "302",
            Some(format!("https://{domain}:{https_port}/jupyter/").as_str())
        ),
        "{head}"
    );
    // Port 80 stays open to everyone for the ACME challenge (Let's Encrypt connects from anywhere).
    let out = run_ok(
        curl()
            .arg("--resolve")
            .arg(format!("{domain}:{http_port}:127.0.0.1"))
            .arg(format!(
                "http://{domain}:{http_port}/.well-known/acme-challenge/tok"
            )),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok.thumb");
    nginx.assert_running();
}

// ---------------------------------------------------------------------------------------------
// Jupyter server config

const HASH: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a"; // "mypassword"
const DOMAIN: &str = "jupyter.example.org";

fn jupyter_context(method: &str, port: u16, certs: &Path) -> Value {
    let (certfile, keyfile) = if method == "reverse-forward" {
        (json!(certs.join("cert.pem")), json!(certs.join("key.pem")))
    } else {
        (Value::Null, Value::Null)
    };
    // What the methods' `Exposure` gives the template (src/desired/methods/*.rs).
    json!({
        "method": method,
        "reached_through": format!("Reachable only through {method}."),
        "ip": "127.0.0.1",
        "port": port,
        "base_url": "/",
        "public_url": format!("https://{DOMAIN}:8443/"),
        "password_hash": HASH,
        "owner": "alice",
        "owner_literal": "\"alice\"",
        "collaborators": [],
        "local_hostnames": ["localhost", DOMAIN],
        "allow_remote_access": false,
        "collaboration": false,
        "certfile": certfile,
        "keyfile": keyfile,
        "trust_xheaders": method == "nginx-proxy",
        // Both methods: browsers reach them over TLS (desired/access.rs).
        "secure_cookies": true,
    })
}

/// The config as traitlets loads it, as JSON: {"Class": {"trait": value}}.
fn load_with_traitlets(py: &str, file: &Path) -> Value {
    let script = r#"
import json, sys, os
from traitlets.config.loader import PyFileConfigLoader
path = sys.argv[1]
cfg = PyFileConfigLoader(os.path.basename(path), path=os.path.dirname(path)).load_config()
print(json.dumps({k: dict(v) for k, v in cfg.items()}))
"#;
    let out = run_ok(Command::new(py).arg("-c").arg(script).arg(file));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn jupyter_config_loads_with_traitlets() {
    let py = require_python();
    let dir = tempdir();
    for method in ["reverse-forward", "nginx-proxy"] {
        let config = render(
            "jupyter_server_config.py",
            jupyter_context(method, 8888, dir.path()),
        );
        assert_header(&config, None);
        assert!(!config.contains("allow_origin"), "{config}");
        // Stated, and off: local_hostnames does the job on loopback.
        assert!(config.contains("allow_remote_access = False"), "{config}");
        let file = dir.path().join("jupyter_server_config.py");
        fs::write(&file, &config).unwrap();
        let c = load_with_traitlets(&py, &file);
        let s = &c["ServerApp"];
        assert_eq!(s["ip"], "127.0.0.1");
        assert_eq!(s["port"], 8888);
        assert_eq!(s["port_retries"], 0);
        assert_eq!(s["open_browser"], false);
        assert_eq!(s["base_url"], "/");
        assert_eq!(s["local_hostnames"], json!(["localhost", DOMAIN]));
        assert_eq!(s["allow_remote_access"], false);
        assert_eq!(s["custom_display_url"], format!("https://{DOMAIN}:8443/"));
        let p = &c["PasswordIdentityProvider"];
        assert_eq!(p["hashed_password"], HASH);
        assert_eq!(p["password_required"], true);
        assert_eq!(p["allow_password_change"], false);
        assert_eq!(c["IdentityProvider"]["token"], "");
        assert_eq!(
            c["IdentityProvider"]["cookie_options"],
            json!({"samesite": "Lax"})
        );
        assert_eq!(c["YDocExtension"]["disable_rtc"], true);
        if method == "reverse-forward" {
            assert_eq!(s["certfile"], json!(dir.path().join("cert.pem")));
            assert_eq!(s["keyfile"], json!(dir.path().join("key.pem")));
            assert!(s.get("trust_xheaders").is_none(), "{c}");
        } else {
            assert_eq!(s["trust_xheaders"], true);
            assert!(s.get("certfile").is_none(), "{c}");
            assert!(s.get("keyfile").is_none(), "{c}");
        }
    }
}

#[test]
fn jupyter_config_turns_real_time_collaboration_on_only_when_asked() {
    let py = require_python();
    let dir = tempdir();
    let mut ctx = jupyter_context("reverse-forward", 8888, dir.path());
    ctx["collaboration"] = json!(true);
    let file = dir.path().join("jupyter_server_config.py");
    fs::write(&file, render("jupyter_server_config.py", ctx)).unwrap();
    let c = load_with_traitlets(&py, &file);
    assert_eq!(c["YDocExtension"]["disable_rtc"], false, "{c}");
    assert_eq!(
        c["IdentityProvider"]["cookie_options"],
        json!({"samesite": "Lax"})
    );
}

#[test]
fn jupyter_config_header_names_the_profile_when_given() {
    let dir = tempdir();
    let mut ctx = jupyter_context("nginx-proxy", 8888, dir.path());
    ctx["profile"] = json!("lab");
    ctx["public_url"] = json!(format!("https://{DOMAIN}/jupyter/"));
    ctx["base_url"] = json!("/jupyter/");
    let config = render("jupyter_server_config.py", ctx);
    assert_header(&config, Some("lab"));
    assert!(config.contains(&format!("custom_display_url = 'https://{DOMAIN}/jupyter/'")));
}

#[test]
fn jupyter_server_accepts_the_public_name_only() {
    let py = require_python();
    let dir = tempdir();
    let d = dir.path();
    let (cert, _) = self_signed(d, DOMAIN);
    let port = free_port();
    let config_dir = d.join("config");
    fs::create_dir(&config_dir).unwrap();
    let config = render(
        "jupyter_server_config.py",
        jupyter_context("reverse-forward", port, d),
    );
    fs::write(config_dir.join("jupyter_server_config.py"), config).unwrap();
    fs::create_dir(d.join("notebooks")).unwrap();
    let log = d.join("jupyter.log");

    let mut server = KillOnDrop::spawn(
        Command::new(&py)
            .args(["-m", "jupyter_server"])
            // Only for the test (this machine runs it as root); not part of the template.
            .arg("--allow-root")
            .current_dir(d.join("notebooks"))
            .env("JUPYTER_CONFIG_DIR", &config_dir)
            .env("JUPYTER_DATA_DIR", d.join("data"))
            .env("JUPYTER_RUNTIME_DIR", d.join("runtime"))
            .env("JUPYTER_PLATFORM_DIRS", "1")
            .env_remove("JUPYTER_TOKEN")
            .env_remove("JUPYTER_TOKEN_FILE")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(d.join("jupyter.err")).unwrap()),
        "jupyter_server",
        Some(d.join("jupyter.err")),
    );
    wait_for_port(port, &mut server);

    // The tunnel delivers the browser's bytes unchanged: TLS for DOMAIN, Host DOMAIN:public_port.
    let base = format!("https://{DOMAIN}:{port}");
    let request = |host: &str, path: &str, extra: &[&str]| -> (String, String) {
        let out = run_ok(
            curl()
                .arg("--resolve")
                .arg(format!("{DOMAIN}:{port}:127.0.0.1"))
                .arg("--cacert")
                .arg(&cert)
                .args(["-H", &format!("Host: {host}")])
                .args(extra)
                .args(["-D", "-", "-o", "/dev/null"])
                .arg(format!("{base}{path}")),
        );
        let resp = String::from_utf8_lossy(&out.stdout).to_string();
        let status = resp.split_whitespace().nth(1).unwrap_or("").to_string();
        (status, resp)
    };

    let public = format!("{DOMAIN}:8443");
    let (status, resp) = request(&public, "/login", &[]);
    assert_eq!(status, "200", "{resp}");
    let (status, resp) = request(DOMAIN, "/login", &[]);
    assert_eq!(status, "200", "{resp}");
    // The API wants a login: no token grants access.
    let (status, resp) = request(&public, "/api/contents", &[]);
    assert_eq!(status, "403", "{resp}");

    // An unrelated name (DNS rebinding) is refused.
    for host in [
        "attacker.example.net:8443",
        "attacker.example.net",
        "jupyter.example.org.evil.net",
    ] {
        let (status, resp) = request(host, "/login", &[]);
        assert_eq!(status, "403", "Host {host} accepted\n{resp}");
    }

    // And the password logs in: cookie jar, _xsrf from the login page, POST with the Origin a
    // browser would send.
    let jar = d.join("cookies");
    let page = run_ok(
        curl()
            .arg("--resolve")
            .arg(format!("{DOMAIN}:{port}:127.0.0.1"))
            .arg("--cacert")
            .arg(&cert)
            .args(["-H", &format!("Host: {public}"), "-c"])
            .arg(&jar)
            .arg(format!("{base}/login")),
    );
    let page = String::from_utf8_lossy(&page.stdout).to_string();
    assert!(
        page.contains("type=\"password\""),
        "no password field:\n{page}"
    );
    let xsrf = fs::read_to_string(&jar)
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7 && f[5] == "_xsrf").then(|| f[6].to_string())
        })
        .expect("no _xsrf cookie");
    let login = |password: &str| {
        let out = run_ok(
            curl()
                .arg("--resolve")
                .arg(format!("{DOMAIN}:{port}:127.0.0.1"))
                .arg("--cacert")
                .arg(&cert)
                .args(["-H", &format!("Host: {public}")])
                .args(["-H", &format!("Origin: https://{public}")])
                .arg("-b")
                .arg(&jar)
                .args(["--data-urlencode", &format!("password={password}")])
                .args(["--data-urlencode", &format!("_xsrf={xsrf}")])
                .args(["-D", "-", "-o", "/dev/null"])
                .arg(format!("{base}/login?next=%2F")),
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let wrong = login("not-my-password");
    assert!(!wrong.contains("Set-Cookie: username-"), "{wrong}");
    let right = login("mypassword");
    assert!(right.starts_with("HTTP/1.1 302"), "{right}");
    assert!(right.contains("Set-Cookie: username-"), "{right}");
    server.assert_running();
}

/// The scratch directory of the user units in `unit_files_pass_systemd_analyze_verify`.
const USER_UNIT_DIR: &str = "user-units";

/// Every unit file and script jprov puts on a systemd host, as `desired::build` renders them for the
/// example profiles with units of their own (Jupyter from a virtualenv; ngrok's `command` an executable
/// file, the agent itself is not installed here), is accepted by `systemd-analyze verify`: it parses,
/// every setting is known, and every ExecStart and ExecStartPre program exists and is executable.
#[test]
fn unit_files_pass_systemd_analyze_verify() {
    use jprov::desired::{build, Options, World};
    use jprov::resource::{Content, Item};
    let analyze = require("systemd-analyze", "systemd");
    let dir = tempdir();
    let venv = dir.path().join("venv");
    fs::create_dir_all(venv.join("bin")).unwrap();
    let jupyter = venv.join("bin/jupyter");
    fs::write(&jupyter, "#!/bin/sh\n").unwrap();
    make_executable(&jupyter);
    // Only for the verification: systemd checks that ExecStart's program exists. No agent runs here.
    let ngrok = dir.path().join("bin/ngrok");
    fs::create_dir_all(ngrok.parent().unwrap()).unwrap();
    fs::write(&ngrok, "#!/bin/sh\nexit 1\n").unwrap();
    make_executable(&ngrok);
    let home = dir.path().join("home");
    for example in ["reverse-forward", "nginx-proxy", "ngrok"] {
        let source = fs::read_to_string(format!(
            "{}/profiles/{example}.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace(
            "  user: alice",
            &format!("  user: alice\n  home: {}", home.display()),
        )
        .replace(
            "jupyter:\n",
            &format!("jupyter:\n  virtualenv: {}\n", venv.display()),
        )
        .replace(
            "  # command: /usr/local/bin/ngrok",
            &format!("  command: {}", ngrok.display()),
        );
        let profile = jprov::profile::parse(&source, Path::new(example)).unwrap();
        let desired = build(
            &profile,
            World::default(),
            &Templates::new(),
            Options::default(),
        )
        .unwrap();
        let mut units = vec![];
        for host in &desired.hosts {
            for item in &host.items {
                let Item::Files(group) = item else { continue };
                for file in &group.files {
                    let Content::Known(content) = &file.content else {
                        continue;
                    };
                    let is_unit = file.path.ends_with(".service") || file.path.ends_with(".timer");
                    let is_script = file.path.ends_with("/fetch-certificate")
                        || file.path.ends_with("/assemble-ngrok-config");
                    if !(is_unit || is_script) {
                        continue;
                    }
                    // A script's first line is its #! line.
                    let header_at = if is_script {
                        content.find('\n').unwrap() + 1
                    } else {
                        0
                    };
                    assert_header(&content[header_at..], Some(profile.name.as_str()));
                    // Unit files go to a scratch directory; the fetch script to its own path (under the
                    // temporary home), where its service's ExecStart names it.
                    let path = if is_unit {
                        let name = Path::new(&file.path).file_name().unwrap();
                        let scope = match file.path.contains("/.config/systemd/user/") {
                            true => USER_UNIT_DIR,
                            false => "system",
                        };
                        let unit_dir = dir.path().join(format!("units-{example}/{scope}"));
                        fs::create_dir_all(&unit_dir).unwrap();
                        unit_dir.join(name)
                    } else {
                        PathBuf::from(&file.path)
                    };
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    fs::write(&path, content).unwrap();
                    if is_script {
                        make_executable(&path);
                        let syntax = run(Command::new("sh").arg("-n").arg(&path));
                        assert!(syntax.status.success(), "{}", text(&syntax));
                    } else {
                        units.push(path);
                    }
                }
            }
        }
        // reverse-forward: tunnel, Jupyter, certificate service and timer; nginx-proxy: tunnel, Jupyter;
        // ngrok: Jupyter and the agent (with its ExecStartPre script).
        let expected = if example == "reverse-forward" { 4 } else { 2 };
        assert_eq!(units.len(), expected, "{example}: {units:?}");
        // The workstation's units are the user's: verified by a user manager's rules (%t is
        // XDG_RUNTIME_DIR, a scratch directory here: no user manager runs).
        let runtime = dir.path().join("runtime");
        fs::create_dir_all(&runtime).unwrap();
        for unit in &units {
            let mut verify = Command::new(&analyze);
            if unit.to_string_lossy().contains(USER_UNIT_DIR) {
                verify.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
            }
            let out = run(verify
                .args(["verify", "--man=no"])
                .arg(unit)
                .env("SYSTEMD_LOG_LEVEL", "notice"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            // `User=` naming an account jprov creates on the server is not there on this machine.
            let complaints: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.contains("Failed to resolve user") && !l.trim().is_empty())
                .collect();
            assert!(
                out.status.success() && complaints.is_empty(),
                "{}: {}\n{}",
                example,
                unit.display(),
                text(&out)
            );
        }
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The facts script of every example profile, for both hosts, renders and is valid sh; run here (it only
/// reads), it ends with its end marker and parses.
#[test]
fn facts_scripts_of_the_examples_render_run_and_parse() {
    for example in [
        "reverse-forward",
        "nginx-proxy",
        "self-signed",
        "collaboration",
    ] {
        let path = format!("{}/profiles/{example}.yaml", env!("CARGO_MANIFEST_DIR"));
        let profile = jprov::profile::load(Path::new(&path)).unwrap().profile;
        let queries = jprov::desired::fact_queries(&profile, &Templates::new()).unwrap();
        for (role, query) in queries.into_entries() {
            let script = jprov::script::facts(&Templates::new(), &query)
                .unwrap_or_else(|e| panic!("{example} {role}: {e:#?}"));
            let mut child = Command::new("sh")
                .arg("-s")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let facts =
                jprov::protocol::parse_facts(&stdout, &String::from_utf8_lossy(&out.stderr))
                    .unwrap_or_else(|e| panic!("{example} {role}: {e}\n{}", text(&out)));
            if role == jprov::resource::Role::Workstation {
                assert!(
                    facts
                        .executables
                        .contains_key(&profile.jupyter.executable()),
                    "{example}: {stdout}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A name per person: collaborators log in as themselves

/// A collaborator as the builder hands them to the template (JSON string literals).
fn person(username: &str, name: &str, hash: &str) -> Value {
    let literal = |s: &str| serde_json::to_string(s).unwrap();
    json!({"username": literal(username), "name": literal(name), "hash": literal(hash)})
}

/// A real jupyter_server on loopback, from a config rendered for nginx-proxy (plain HTTP, xheaders
/// trusted: the method where forged proxy headers would matter most). The runtime dir, and so the
/// cookie secret, survive a restart as they do on a workstation.
struct PeopleServer {
    dir: PathBuf,
    port: u16,
    _server: KillOnDrop,
}

impl PeopleServer {
    fn start(py: &str, dir: &Path, collaborators: Value) -> Self {
        let port = free_port();
        let config_dir = dir.join("config");
        fs::create_dir_all(&config_dir).unwrap();
        fs::create_dir_all(dir.join("notebooks")).unwrap();
        let mut ctx = jupyter_context("nginx-proxy", port, dir);
        ctx["collaborators"] = collaborators;
        // curl talks plain http here, and keeps no Secure cookie over it: the cookies' flags are
        // `jupyter_cookies_are_secure_and_http_only_on_every_tls_method`'s, the logins this test's.
        ctx["secure_cookies"] = json!(false);
        let config = render("jupyter_server_config.py", ctx);
        fs::write(config_dir.join("jupyter_server_config.py"), config).unwrap();
        let err = dir.join(format!("jupyter-{port}.err"));
        let mut server = KillOnDrop::spawn(
            Command::new(py)
                .args(["-m", "jupyter_server", "--allow-root"])
                .current_dir(dir.join("notebooks"))
                .env("JUPYTER_CONFIG_DIR", &config_dir)
                .env("JUPYTER_DATA_DIR", dir.join("data"))
                .env("JUPYTER_RUNTIME_DIR", dir.join("runtime"))
                .env("JUPYTER_PLATFORM_DIRS", "1")
                .env_remove("JUPYTER_TOKEN")
                .env_remove("JUPYTER_TOKEN_FILE")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&err).unwrap()),
            "jupyter_server",
            Some(err),
        );
        wait_for_port(port, &mut server);
        PeopleServer {
            dir: dir.to_path_buf(),
            port,
            _server: server,
        }
    }

    /// curl against this server as a browser of the public name, with `jar` as its cookies.
    fn curl(&self, jar: &Path) -> Command {
        let mut cmd = curl();
        cmd.args(["-H", &format!("Host: {DOMAIN}")])
            .args(["-H", &format!("Origin: http://{DOMAIN}")])
            .arg("-b")
            .arg(jar)
            .arg("-c")
            .arg(jar);
        cmd
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A fresh cookie jar holding the login page's _xsrf cookie, and that page.
    fn browser(&self, name: &str) -> (PathBuf, String, String) {
        let jar = self.dir.join(format!("jar-{name}-{}", self.port));
        let page = run_ok(self.curl(&jar).arg(self.url("/login")));
        let page = String::from_utf8_lossy(&page.stdout).to_string();
        let xsrf = fs::read_to_string(&jar)
            .unwrap()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 7 && f[5] == "_xsrf").then(|| f[6].to_string())
            })
            .expect("no _xsrf cookie");
        (jar, xsrf, page)
    }

    /// Posts the login form; whether it logged in (a redirect with the login cookie).
    fn login(&self, jar: &Path, xsrf: &str, username: &str, password: &str) -> bool {
        let out = run_ok(
            self.curl(jar)
                .args(["--data-urlencode", &format!("username={username}")])
                .args(["--data-urlencode", &format!("password={password}")])
                .args(["--data-urlencode", &format!("_xsrf={xsrf}")])
                .args(["-D", "-", "-o", "/dev/null"])
                .arg(self.url("/login?next=%2F")),
        );
        let head = String::from_utf8_lossy(&out.stdout).to_string();
        let ok = head.starts_with("HTTP/1.1 302") && head.contains("Set-Cookie: username-");
        assert!(ok || head.starts_with("HTTP/1.1 401"), "{head}");
        ok
    }

    /// `/api/me`: the status and, when 200, the identity Jupyter gives this browser.
    fn me(&self, jar: &Path, extra: &[&str]) -> (String, Value) {
        let out = run_ok(
            self.curl(jar)
                .args(extra)
                .args(["-w", "\n%{http_code}"])
                .arg(self.url("/api/me")),
        );
        let out = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, status) = out.rsplit_once('\n').unwrap();
        let identity = match status {
            "200" => serde_json::from_str::<Value>(body).unwrap()["identity"].clone(),
            _ => Value::Null,
        };
        (status.to_string(), identity)
    }

    /// Logs `username` in with `password` in a fresh browser and returns its jar and name.
    fn logged_in(&self, username: &str, password: &str) -> (PathBuf, Value) {
        let (jar, xsrf, _) = self.browser(username);
        assert!(self.login(&jar, &xsrf, username, password), "{username}");
        let (status, identity) = self.me(&jar, &[]);
        assert_eq!(status, "200", "{username}");
        (jar, identity)
    }
}

fn assert_named(identity: &Value, username: &str, name: &str) {
    assert_eq!(identity["username"], username, "{identity}");
    assert_eq!(identity["name"], name, "{identity}");
    assert_eq!(identity["display_name"], name, "{identity}");
}

fn hash(password: &str, scheme: jprov::password::HashScheme) -> String {
    jprov::password::hash_password(password, scheme).unwrap()
}

#[test]
fn each_collaborator_logs_in_as_themselves_and_nothing_else_grants_a_name() {
    use jprov::password::HashScheme::{Argon2, Sha1};
    let py = require_python();
    let dir = tempdir();
    let d = dir.path();
    let ada = person("ada", "Ada Lovelace", &hash("ada's secret", Argon2));
    let bob = person(
        "bob",
        "Bob O'Brien \"the\" <b>",
        &hash("bob's secret", Sha1),
    );
    let server = PeopleServer::start(&py, d, json!([ada.clone(), bob]));

    let (_, _, page) = server.browser("page");
    assert!(
        page.contains("name=\"username\"") && page.contains("type=\"password\""),
        "{page}"
    );
    let (ada_jar, identity) = server.logged_in("ada", "ada's secret");
    assert_named(&identity, "ada", "Ada Lovelace");
    let (bob_jar, identity) = server.logged_in("bob", "bob's secret");
    assert_named(&identity, "bob", "Bob O'Brien \"the\" <b>");
    // The owner: workstation.user, or no username at all (the login form before collaborators).
    let (_, identity) = server.logged_in("alice", "mypassword");
    assert_named(&identity, "alice", "alice");
    let (_, identity) = server.logged_in("", "mypassword");
    assert_named(&identity, "alice", "alice");

    // Wrong passwords, unknown people, and one person's password as another are refused.
    let (jar, xsrf, _) = server.browser("stranger");
    for (username, password) in [
        ("ada", "bob's secret"),
        ("bob", "ada's secret"),
        ("alice", "ada's secret"),
        ("", "ada's secret"),
        ("ada", "mypassword"),
        ("ada", ""),
        ("carol", "ada's secret"),
        ("Ada Lovelace", "ada's secret"),
    ] {
        assert!(
            !server.login(&jar, &xsrf, username, password),
            "{username}: {password}"
        );
    }
    // Nothing another local account can send to the loopback port grants a login or a name.
    let forged_cookie = format!(
        "Cookie: username-{}={}",
        DOMAIN.replace('.', "-"),
        r#"{"username": "ada", "name": "Ada Lovelace"}"#
    );
    for forged in [
        vec!["-H", "X-Forwarded-User: ada"],
        vec!["-H", "X-Remote-User: ada", "-H", "Remote-User: ada"],
        vec!["-H", "Authorization: token ada"],
        vec!["-H", "Authorization: token "],
        vec!["-H", "Authorization: Basic YWRhOmFkYSdzIHNlY3JldA=="],
        vec!["-H", forged_cookie.as_str()],
    ] {
        let (status, identity) = server.me(&jar, &forged);
        assert_eq!(
            (status.as_str(), &identity),
            ("403", &Value::Null),
            "{forged:?}"
        );
    }
    let (status, _) = server.me(&jar, &["-G", "--data-urlencode", "token="]);
    assert_eq!(status, "403");
    // A logged-in person cannot rename themselves: names come from the profile.
    let rename = run(server
        .curl(&ada_jar)
        .args(["-X", "PATCH", "-H", "Content-Type: application/json"])
        .args([
            "-H",
            &format!("X-XSRFToken: {}", jar_value(&ada_jar, "_xsrf")),
        ])
        .args([
            "-d",
            r#"{"name": "Bob O'Brien", "display_name": "Bob O'Brien"}"#,
        ])
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(server.url("/api/me")));
    assert_ne!(
        String::from_utf8_lossy(&rename.stdout),
        "200",
        "{}",
        text(&rename)
    );
    let (_, identity) = server.me(&ada_jar, &[]);
    assert_named(&identity, "ada", "Ada Lovelace");

    // Bob is removed from the profile; Jupyter restarts with the new config (same cookie secret).
    drop(server);
    let server = PeopleServer::start(&py, d, json!([ada]));
    let (status, _) = server.me(&bob_jar, &[]);
    assert_eq!(status, "403", "bob's old cookie still works");
    let (jar, xsrf, _) = server.browser("bob-again");
    assert!(!server.login(&jar, &xsrf, "bob", "bob's secret"));
    let (status, identity) = server.me(&ada_jar, &[]);
    assert_eq!(status, "200", "ada's cookie outlives bob's removal");
    assert_named(&identity, "ada", "Ada Lovelace");

    // Ada's password changes: her old cookie ends too. Then nobody is left but the owner.
    let ada2 = person("ada", "Ada Lovelace", &hash("new secret", Sha1));
    drop(server);
    let server = PeopleServer::start(&py, d, json!([ada2]));
    assert_eq!(
        server.me(&ada_jar, &[]).0,
        "403",
        "a changed password keeps the old cookie"
    );
    let (ada_jar, _) = server.logged_in("ada", "new secret");
    drop(server);
    let server = PeopleServer::start(&py, d, json!([]));
    assert_eq!(
        server.me(&ada_jar, &[]).0,
        "403",
        "removed last, still logged in"
    );
    let (jar, xsrf, _) = server.browser("ada-last");
    assert!(!server.login(&jar, &xsrf, "", "new secret"));
    assert!(server.login(&jar, &xsrf, "", "mypassword"));
}

/// A cookie's value from a curl cookie jar.
fn jar_value(jar: &Path, name: &str) -> String {
    fs::read_to_string(jar)
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7 && f[5] == name).then(|| f[6].to_string())
        })
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

// ---------------------------------------------------------------------------------------------
// Cookies: Secure wherever browsers reach Jupyter over TLS

/// A real jupyter_server on loopback with `config`, in `dir` (its own config, data and runtime dirs).
fn start_jupyter(py: &str, dir: &Path, config: &str) -> KillOnDrop {
    let config_dir = dir.join("config");
    fs::create_dir_all(&config_dir).unwrap();
    fs::create_dir_all(dir.join("notebooks")).unwrap();
    fs::write(config_dir.join("jupyter_server_config.py"), config).unwrap();
    let err = dir.join("jupyter.err");
    KillOnDrop::spawn(
        Command::new(py)
            .args(["-m", "jupyter_server", "--allow-root"])
            .current_dir(dir.join("notebooks"))
            .env("JUPYTER_CONFIG_DIR", &config_dir)
            .env("JUPYTER_DATA_DIR", dir.join("data"))
            .env("JUPYTER_RUNTIME_DIR", dir.join("runtime"))
            .env("JUPYTER_PLATFORM_DIRS", "1")
            .env_remove("JUPYTER_TOKEN")
            .env_remove("JUPYTER_TOKEN_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err).unwrap()),
        "jupyter_server",
        Some(err),
    )
}

/// The `Set-Cookie` header of the cookie whose name starts with `name` in a response's headers.
fn set_cookie<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let v = v.trim();
        (n.eq_ignore_ascii_case("set-cookie") && v.starts_with(name)).then_some(v)
    })
}

/// Which of `Secure` and `HttpOnly` a `Set-Cookie` value carries.
fn flags(set_cookie: &str) -> (bool, bool) {
    let attributes: Vec<String> = (set_cookie.split(';').skip(1))
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    (
        attributes.iter().any(|a| a == "secure"),
        attributes.iter().any(|a| a == "httponly"),
    )
}

/// The cookies Jupyter sets for the login page and a login, as a browser of the public name gets them:
/// (the _xsrf cookie's flags, the login cookie's flags). `scheme_header`: what nginx adds (X-Scheme).
fn cookie_flags(
    base: &str,
    curl_args: &[String],
    extra: &[&str],
    login: &[(&str, &str)],
) -> [(bool, bool); 2] {
    let head = |args: &[String]| {
        let out = run_ok(curl().args(curl_args).args(extra).args(args).args([
            "-D",
            "-",
            "-o",
            "/dev/null",
        ]));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let page = head(&[format!("{base}/login")]);
    let xsrf_cookie =
        set_cookie(&page, "_xsrf=").unwrap_or_else(|| panic!("no _xsrf cookie:\n{page}"));
    let xsrf = xsrf_cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("_xsrf="))
        .unwrap()
        .to_string();
    let mut form = vec![
        "-H".to_string(),
        format!("Cookie: _xsrf={xsrf}"),
        "--data-urlencode".to_string(),
        format!("_xsrf={xsrf}"),
    ];
    for (key, value) in login {
        form.extend(["--data-urlencode".to_string(), format!("{key}={value}")]);
    }
    form.push(format!("{base}/login?next=%2F"));
    let logged_in = head(&form);
    assert!(
        logged_in.starts_with("HTTP/1.1 302"),
        "login refused:\n{logged_in}"
    );
    // Named after the Host: username-jupyter-example-org[-PORT].
    let login_cookie = set_cookie(&logged_in, "username-")
        .unwrap_or_else(|| panic!("no login cookie:\n{logged_in}"));
    [flags(xsrf_cookie), flags(login_cookie)]
}

#[test]
fn jupyter_cookies_are_secure_and_http_only_on_every_tls_method() {
    let py = require_python();
    let dir = tempdir();
    let d = dir.path();
    let (cert, _) = self_signed(d, DOMAIN);
    let ada = person(
        "ada",
        "Ada Lovelace",
        &hash("ada's secret", jprov::password::HashScheme::Sha1),
    );
    // (method, with Ada, jprov's secure_cookies). Ada's login goes through JprovIdentityProvider, which
    // inherits the cookie settings like Jupyter's own provider: once is enough.
    let cases = [
        ("reverse-forward", false, true),
        ("nginx-proxy", false, true),
        ("nginx-proxy", true, true),
        // The control: what Jupyter decides by itself, without jprov's settings.
        ("nginx-proxy", false, false),
    ];
    const SECURE_HTTP_ONLY: [(bool, bool); 2] = [(true, false), (true, true)];
    for (i, (method, with_ada, secure_cookies)) in cases.into_iter().enumerate() {
        let port = free_port();
        let mut ctx = jupyter_context(method, port, d);
        ctx["collaborators"] = if with_ada { json!([ada]) } else { json!([]) };
        ctx["secure_cookies"] = json!(secure_cookies);
        let config = render("jupyter_server_config.py", ctx);
        let mut server = start_jupyter(&py, &d.join(format!("server-{i}")), &config);
        wait_for_port(port, &mut server);
        let login: &[(&str, &str)] = match with_ada {
            false => &[("password", "mypassword")],
            true => &[("username", "ada"), ("password", "ada's secret")],
        };
        let case = format!("{method}, collaborators: {with_ada}, secure_cookies: {secure_cookies}");
        if method == "reverse-forward" {
            // Jupyter serves TLS itself.
            let tls = [
                "--resolve".to_string(),
                format!("{DOMAIN}:{port}:127.0.0.1"),
                "--cacert".to_string(),
                cert.display().to_string(),
            ];
            let base = format!("https://{DOMAIN}:{port}");
            let extra = [
                "-H",
                "Host: jupyter.example.org:8443",
                "-H",
                "Origin: https://jupyter.example.org:8443",
            ];
            assert_eq!(
                cookie_flags(&base, &tls, &extra, login),
                SECURE_HTTP_ONLY,
                "{case}"
            );
            continue;
        }
        // nginx-proxy: plain http behind nginx; with and without the X-Scheme nginx sends.
        let base = format!("http://127.0.0.1:{port}");
        let host = ["-H".to_string(), format!("Host: {DOMAIN}")];
        for scheme in [None, Some("https")] {
            let mut extra = vec!["-H".to_string(), format!("Origin: https://{DOMAIN}")];
            if let Some(scheme) = scheme {
                extra.extend(["-H".to_string(), format!("X-Scheme: {scheme}")]);
            }
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let want = match (secure_cookies, scheme) {
                (true, _) => SECURE_HTTP_ONLY,
                // Jupyter's own choice: the login cookie is Secure only on a request it sees as https
                // (trust_xheaders), the _xsrf cookie never.
                (false, None) => [(false, false), (false, true)],
                (false, Some(_)) => [(false, false), (true, true)],
            };
            let got = cookie_flags(&base, &host, &extra, login);
            assert_eq!(got, want, "{case}, X-Scheme {scheme:?}");
        }
        server.assert_running();
    }
}
