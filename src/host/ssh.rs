//! SSH connections with ssh2: OpenSSH's own view of the client config (`ssh -G`), host keys verified against
//! known_hosts before anything is sent, and authentication with the agent or key files.

use crate::host::connections::{Connections, Resolved};
use crate::host::exec::{KeyRefusal, TransportError};
use crate::host::jump::Carrier;
use crate::host::known_hosts::{self, HostKey, Verdict};
use crate::host::session::SshConnection;
use ssh2::Session;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// The host as written in the profile (may be an ~/.ssh/config alias).
    pub host: String,
    /// The profile's port; `None`: ssh's `Port` for the host (`ssh -G`), as `ssh HOST` would use.
    pub port: Option<u16>,
    /// The profile's user; `None` (a ProxyJump hop that names none): ssh's `User` for the host.
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// known_hosts files checked before the user's and the system's (the profile's pinned file).
    pub pinned_known_hosts: Option<PathBuf>,
    /// Record an unknown host's key in the pinned file (or the user's known_hosts) instead of refusing.
    pub accept_new_host_key: bool,
    /// Reach this host through another one (a channel of jprov's session to it). Set: the profile's
    /// `jump: server`, or an earlier hop of ssh's ProxyJump chain; it wins over ssh's ProxyJump.
    pub jump: Option<Box<Target>>,
    /// How long to wait for the TCP connection and for the SSH handshake and login; `None`: ssh's
    /// `ConnectTimeout` for the host, else `DEFAULT_CONNECT_TIMEOUT`.
    pub connect_timeout: Option<Duration>,
    /// `-F FILE`: read instead of ~/.ssh/config, by `ssh -G` and by the jumps' ssh.
    pub ssh_config: Option<PathBuf>,
}

/// The connect and handshake timeout when neither `--connect-timeout` nor ssh's `ConnectTimeout` sets one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Target {
    /// `user@host:port`, or `user@host` while ssh's config decides the port.
    pub fn display(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        match self.port {
            Some(port) => format!("{user}{}:{port}", self.host),
            None => format!("{user}{}", self.host),
        }
    }

    /// `ssh -F FILE` when the command line named one.
    fn config_args(&self) -> Vec<String> {
        (self.ssh_config.iter())
            .flat_map(|file| ["-F".to_string(), file.display().to_string()])
            .collect()
    }
}

/// What OpenSSH would use for a host, from `ssh -G` (honours ~/.ssh/config, Match blocks included).
#[derive(Debug, Default)]
pub(super) struct ClientConfig {
    pub hostname: Option<String>,
    /// `Port`: the profile's when it sets one (`ssh -G -p`), else the config's, else 22.
    pub port: u16,
    /// `User`: the profile's when it sets one (`ssh -G -l`), else the config's, else the local user.
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    known_hosts_files: Vec<PathBuf>,
    host_key_alias: Option<String>,
    connect_timeout: Option<Duration>,
    /// `ProxyJump`: the hops to go through, `[user@]host[:port]` comma-separated (the profile's `jump:
    /// server` wins).
    proxy_jump: Option<String>,
    /// `IdentitiesOnly yes`: of the agent's keys, only those of `identity_files`.
    identities_only: bool,
    /// `CertificateFile`: user certificates to present with the identity files' keys.
    certificate_files: Vec<PathBuf>,
    agent: AgentSocket,
}

/// `IdentityAgent`: where ssh finds its agent.
#[derive(Debug, Default, PartialEq)]
enum AgentSocket {
    /// `SSH_AUTH_SOCK`, ssh's default.
    #[default]
    FromEnvironment,
    /// A socket of its own (1Password, Secretive, a second agent).
    Path(PathBuf),
    /// `IdentityAgent none`: no agent at all.
    Disabled,
}

impl ClientConfig {
    /// The profile's or the command line's timeout wins; otherwise ssh's, otherwise the default.
    fn timeout(&self, target: &Target) -> Duration {
        target
            .connect_timeout
            .or(self.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// What `ssh HOST` would use for the target; `Err` with ssh's own message when its config is broken.
pub(super) fn client_config(target: &Target) -> Result<ClientConfig, String> {
    let Ok(ssh) = which::which("ssh") else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        return Ok(ClientConfig {
            port: target.port.unwrap_or(crate::profile::DEFAULT_SSH_PORT),
            user: (target.user.clone())
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_default(),
            identity_files: ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|f| home.join(".ssh").join(f))
                .collect(),
            known_hosts_files: vec![
                home.join(".ssh/known_hosts"),
                "/etc/ssh/ssh_known_hosts".into(),
            ],
            ..ClientConfig::default()
        });
    };
    let mut command = Command::new(ssh);
    command.args(target.config_args()).arg("-G");
    if let Some(port) = target.port {
        command.args(["-p", &port.to_string()]);
    }
    if let Some(user) = &target.user {
        command.args(["-l", user]);
    }
    let output = command
        .args(["--", &target.host])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ssh -G`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`ssh -G {}` (how ssh's config resolves it) failed: {}",
            target.host,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(read_client_config(&String::from_utf8_lossy(&output.stdout)))
}

/// `ssh -G`'s output, the keys jprov honours.
fn read_client_config(text: &str) -> ClientConfig {
    let mut config = ClientConfig {
        port: crate::profile::DEFAULT_SSH_PORT,
        ..ClientConfig::default()
    };
    let home = std::env::var("HOME").unwrap_or_default();
    let expand = |p: &str| {
        PathBuf::from(
            p.strip_prefix("~/")
                .map_or(p.to_string(), |rest| format!("{home}/{rest}")),
        )
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        match key {
            "hostname" => config.hostname = Some(value.to_string()),
            "user" => config.user = value.to_string(),
            "identityfile" => config.identity_files.push(expand(value)),
            "userknownhostsfile" | "globalknownhostsfile" => config
                .known_hosts_files
                .extend(value.split_whitespace().map(expand)),
            "hostkeyalias" if value != "none" => config.host_key_alias = Some(value.to_string()),
            "port" => config.port = value.parse().unwrap_or(config.port),
            "proxyjump" if value != "none" => config.proxy_jump = Some(value.to_string()),
            "identitiesonly" => config.identities_only = value == "yes",
            "certificatefile" => config.certificate_files.push(expand(value)),
            "identityagent" => {
                config.agent = match value {
                    "none" => AgentSocket::Disabled,
                    "SSH_AUTH_SOCK" => AgentSocket::FromEnvironment,
                    path => AgentSocket::Path(expand(path)),
                }
            }
            "connecttimeout" => {
                config.connect_timeout = value
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
            }
            _ => {}
        }
    }
    config
}

/// A TCP (or jumped) transport to the target, not yet speaking SSH, and the socket it runs over;
/// blocking calls on it give up after `timeout` until `establish` lifts it once logged in.
fn open_session(
    resolved: &Resolved,
    hostname: &str,
    timeout: Duration,
    connections: &Connections,
) -> Result<(Session, RawFd, Option<Carrier>), String> {
    let mut session = Session::new().map_err(|e| e.to_string())?;
    let port = resolved.config.port;
    let Some(hop) = &resolved.via else {
        let address = (hostname, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {hostname}: {e}"))?
            .next()
            .ok_or_else(|| format!("{hostname} has no address"))?;
        let stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                timed_out(timeout)
            } else {
                e.to_string()
            }
        })?;
        // libssh2 leaves Nagle on: each connection then pays two or three ~40 ms stalls (Nagle against
        // delayed ACKs) in the key exchange and before an exec's reply.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        keep_alive(&stream);
        let socket = stream.as_raw_fd();
        session.set_tcp_stream(stream);
        session.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
        return Ok((session, socket, None));
    };
    // A channel of the session jprov has (or makes now) to the hop, whose key it verified as for any
    // connection.
    let through = connections
        .connect(hop)
        .map_err(|e| format!("through {}: {e}", hop.display()))?;
    let (stream, carrier) = Carrier::open(through, hostname, port)?;
    let socket = stream.as_raw_fd();
    session.set_tcp_stream(stream);
    session.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
    Ok((session, socket, Some(carrier)))
}

/// TCP keepalive on the connection: a peer that vanished (a host powered off mid-apply) ends the session
/// after about a minute of silence instead of never.
fn keep_alive(stream: &TcpStream) {
    let fd = stream.as_raw_fd();
    let set = |level, name, value: libc::c_int| {
        // SAFETY: setsockopt reads an int of the given size from a valid pointer; fd is open.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 30);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 10);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
}

/// The host `target` is reached through: the profile's jump or an earlier hop (set on the target), else
/// the last hop of ssh's `ProxyJump`, itself reached through the hops before it.
pub(super) fn hop_of(target: &Target, config: &ClientConfig) -> Option<Target> {
    if let Some(jump) = &target.jump {
        return Some((**jump).clone());
    }
    let mut via: Option<Target> = None;
    for hop in config.proxy_jump.as_deref()?.split(',') {
        let (user, host, port) = parse_hop(hop.trim());
        via = Some(Target {
            host,
            port,
            user,
            identity_file: None,
            jump: via.map(Box::new),
            ..target.clone()
        });
    }
    via
}

/// A ProxyJump hop: `[user@]host[:port]`, or the URI form `ssh://[user@]host[:port]`; `[v6]:port` too.
fn parse_hop(hop: &str) -> (Option<String>, String, Option<u16>) {
    let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
    let (user, rest) = match hop.rsplit_once('@') {
        Some((user, rest)) => (Some(user.to_string()), rest),
        None => (None, hop),
    };
    if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (user, host.to_string(), port);
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (user, host.to_string(), Some(port)),
            Err(_) => (user, rest.to_string(), None),
        },
        _ => (user, rest.to_string(), None),
    }
}

/// What a connection that did not answer in time says: which limit, and how to change it.
fn timed_out(timeout: Duration) -> String {
    format!(
        "no answer within {} s (the connect timeout: --connect-timeout, or ConnectTimeout in the ssh config)",
        timeout.as_secs()
    )
}

/// libssh2's LIBSSH2_ERROR_TIMEOUT: a blocking call waited out the session's timeout.
fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(-9)
}

/// libssh2's "timed out waiting" (LIBSSH2_ERROR_TIMEOUT) in words, other errors as they are.
fn ssh_failure(what: &str, e: &ssh2::Error, timeout: Duration) -> String {
    if is_timeout(e) {
        format!("{what}: {}", timed_out(timeout))
    } else {
        format!("{what}: {e}")
    }
}

/// Say on stderr which host jprov is waiting for, when connecting takes longer than a moment. Dropped
/// once connected (or failed): the notice is then never printed.
struct WaitNotice(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl WaitNotice {
    fn start(display: &str, timeout: Duration) -> WaitNotice {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, display) = (done.clone(), display.to_string());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            if !flag.load(std::sync::atomic::Ordering::SeqCst) && timeout > Duration::from_secs(2) {
                eprintln!(
                    "jprov: waiting for {display} (giving up after {} s)",
                    timeout.as_secs()
                );
            }
        });
        WaitNotice(done)
    }
}

impl Drop for WaitNotice {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Every host key the target offers (one handshake per key type), without logging in, and the names the
/// host is listed under in known_hosts (most specific first). Jumped: each handshake through a channel of
/// the one session to the hop.
pub fn fetch_host_keys(
    target: &Target,
    connections: &Connections,
) -> Result<(Vec<HostKey>, Vec<String>), TransportError> {
    let unreachable = |reason: String| TransportError::Unreachable {
        target: target.display(),
        reason,
    };
    let resolved = connections.resolve(target, 0)?;
    let config = &resolved.config;
    let hostname = (config.hostname.clone()).unwrap_or_else(|| target.host.clone());
    let timeout = config.timeout(target);
    let _notice = WaitNotice::start(&target.display(), timeout);
    let mut keys = vec![];
    for algorithm in [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "rsa-sha2-512",
    ] {
        let (mut session, _socket, mut carrier) =
            open_session(&resolved, &hostname, timeout, connections).map_err(unreachable)?;
        let _ = session.method_pref(ssh2::MethodType::HostKey, algorithm);
        match session.handshake() {
            // A host that never answers would cost the timeout once per key type: once is enough.
            Err(e) if is_timeout(&e) => {
                return Err(unreachable(ssh_failure("SSH handshake", &e, timeout)))
            }
            Err(_) => {}
            Ok(()) => {
                if let Some((blob, _)) = session.host_key() {
                    keys.push(HostKey {
                        algorithm: key_algorithm(blob),
                        blob: blob.to_vec(),
                    });
                }
            }
        }
        drop(session);
        drop(carrier.take());
    }
    if keys.is_empty() {
        return Err(unreachable("no SSH handshake succeeded".into()));
    }
    Ok((keys, names_for(target, config)))
}

fn names_for(target: &Target, config: &ClientConfig) -> Vec<String> {
    let hostname = config
        .hostname
        .clone()
        .unwrap_or_else(|| target.host.clone());
    match &config.host_key_alias {
        Some(alias) => vec![alias.clone()],
        None => {
            let mut names = vec![known_hosts::lookup_name(&target.host, config.port)];
            if hostname != target.host {
                names.push(known_hosts::lookup_name(&hostname, config.port));
            }
            names
        }
    }
}

/// The known_hosts files a target's key is checked against: the profile's pinned file first.
fn known_files(target: &Target, config: &ClientConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = target.pinned_known_hosts.iter().cloned().collect();
    files.extend(config.known_hosts_files.iter().cloned());
    files
}

/// A session made for another asker, checked under this target's own names and pinned file before it
/// is used for this one.
pub(super) fn verify_again(
    target: &Target,
    config: &ClientConfig,
    key: &HostKey,
) -> Result<(), TransportError> {
    let names = names_for(target, config);
    verify_host_key(target, &known_files(target, config), &names, key)
}

/// A logged-in session to `target`, its host key verified first.
pub(super) fn establish(
    target: &Target,
    resolved: &Resolved,
    connections: &Connections,
) -> Result<SshConnection, TransportError> {
    let config = &resolved.config;
    let display = format!("{}@{}:{}", config.user, target.host, config.port);
    let unreachable = |reason: String| TransportError::Unreachable {
        target: display.clone(),
        reason,
    };
    let hostname = (config.hostname.clone()).unwrap_or_else(|| target.host.clone());
    let timeout = config.timeout(target);
    let _notice = WaitNotice::start(&display, timeout);
    let (mut session, socket, carrier) =
        open_session(resolved, &hostname, timeout, connections).map_err(unreachable)?;

    // Only ask for key types we can verify: libssh2 compares just the type it negotiated.
    let known_files = known_files(target, config);
    let names = names_for(target, config);
    let algorithms = known_hosts::known_algorithms(&known_files, &names);
    if !algorithms.is_empty() {
        let preference = algorithms
            .iter()
            .map(|a| match a.as_str() {
                "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(",");
        let _ = session.method_pref(ssh2::MethodType::HostKey, &preference);
    }
    session
        .handshake()
        .map_err(|e| unreachable(ssh_failure("SSH handshake failed", &e, timeout)))?;

    let (blob, _) = session
        .host_key()
        .ok_or_else(|| unreachable("the server sent no host key".into()))?;
    let host_key = HostKey {
        algorithm: key_algorithm(blob),
        blob: blob.to_vec(),
    };
    verify_host_key(target, &known_files, &names, &host_key)?;

    authenticate(&session, target, config)?;
    // Scripts such as certbot may take minutes: no timeout on calls; TCP's keepalive (set on the socket)
    // notices a dead peer instead. libssh2's own keepalive is not used: its packet may be left half-sent,
    // which would block every other sender of a shared session.
    session.set_timeout(0);
    Ok(SshConnection::new(
        session, socket, host_key, display, carrier,
    ))
}

/// The algorithm name stored at the start of an SSH key blob.
fn key_algorithm(blob: &[u8]) -> String {
    let len = blob
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    blob.get(4..4 + len)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn verify_host_key(
    target: &Target,
    files: &[PathBuf],
    names: &[String],
    key: &HostKey,
) -> Result<(), TransportError> {
    let name = &names[0];
    let refusal = match known_hosts::check(files, names, key) {
        Verdict::Trusted { .. } => return Ok(()),
        Verdict::Revoked { file, line } => KeyRefusal::Revoked {
            name: target.display(),
            key: key.clone(),
            file,
            line,
        },
        Verdict::Changed { known } => KeyRefusal::Changed {
            name: name.clone(),
            key: key.clone(),
            known,
        },
        Verdict::Unknown if target.accept_new_host_key => {
            let file = target.pinned_known_hosts.clone().unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".ssh/known_hosts")
            });
            known_hosts::record(&file, name, key).map_err(|error| KeyRefusal::CannotRecord {
                name: name.clone(),
                file: file.clone(),
                error: error.into(),
            })?;
            eprintln!(
                "jprov: recorded new host key for {name} ({} {}) in {}",
                key.algorithm,
                key.fingerprint(),
                file.display()
            );
            return Ok(());
        }
        Verdict::Unknown => KeyRefusal::Unknown {
            name: name.clone(),
            key: key.clone(),
            pinned: target.pinned_known_hosts.clone(),
        },
    };
    Err(refusal.into())
}

fn authenticate(
    session: &Session,
    target: &Target,
    config: &ClientConfig,
) -> Result<(), TransportError> {
    let user = config.user.as_str();
    let mut tried = vec![];
    if let Some(file) = &target.identity_file {
        // As ssh does: the agent's copy of that key first (it may be passphrase-protected on disk).
        if agent_has_authenticated(
            session,
            config,
            user,
            &public_blobs(std::slice::from_ref(file)),
        ) {
            return Ok(());
        }
        let certificate = certificate_for(file, config);
        return match session.userauth_pubkey_file(user, certificate.as_deref(), file, None) {
            Ok(()) if session.authenticated() => Ok(()),
            Ok(()) => Err(auth_error(
                target,
                format!("key {} was not accepted", file.display()),
            )),
            Err(e) => Err(auth_error(target, key_error(file, &e))),
        };
    }
    if let Some(mut agent) = agent(session, &config.agent) {
        if agent.connect().is_ok() && agent.list_identities().is_ok() {
            // IdentitiesOnly: the agent may hold many keys, and sshd ends the login after a few
            // ("too many authentication failures"): offer only those of the identity files.
            let allowed = config
                .identities_only
                .then(|| public_blobs(&config.identity_files));
            for identity in agent.identities().unwrap_or_default() {
                if allowed
                    .as_ref()
                    .is_some_and(|a| !a.contains(&identity.blob().to_vec()))
                {
                    continue;
                }
                if agent.userauth(user, &identity).is_ok() && session.authenticated() {
                    return Ok(());
                }
            }
            tried.push("the keys in ssh-agent".to_string());
        }
    }
    for file in config.identity_files.iter().filter(|f| f.exists()) {
        let certificate = certificate_for(file, config);
        match session.userauth_pubkey_file(user, certificate.as_deref(), file, None) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push(file.display().to_string()),
            Err(e) => tried.push(key_error(file, &e)),
        }
    }
    Err(auth_error(
        target,
        if tried.is_empty() {
            "no SSH key found: start ssh-agent with your key, or set identity_file in the profile"
                .into()
        } else {
            format!("tried {}", tried.join("; "))
        },
    ))
}

/// The user certificate ssh would present with the key in `file`: a `CertificateFile` for it, else
/// `FILE-cert.pub` beside it (ssh's default), when there is one.
fn certificate_for(file: &Path, config: &ClientConfig) -> Option<PathBuf> {
    let beside = PathBuf::from(format!("{}-cert.pub", file.display()));
    let blob = |path: &Path| -> Option<Vec<u8>> {
        use base64::Engine;
        let text = std::fs::read_to_string(path).ok()?;
        base64::engine::general_purpose::STANDARD
            .decode(text.split_whitespace().nth(1)?)
            .ok()
    };
    // A certificate names the public key it certifies; match it against the key's .pub when there is one.
    let public = blob(Path::new(&format!("{}.pub", file.display())));
    let certifies = |cert: &Path| match (&public, blob(cert)) {
        (Some(public), Some(cert)) => {
            certificate_key(&cert).is_some_and(|key| public.ends_with(key))
        }
        (None, Some(_)) => true,
        _ => false,
    };
    (config.certificate_files.iter())
        .find(|cert| cert.exists() && certifies(cert))
        .cloned()
        .or_else(|| beside.exists().then_some(beside))
}

/// The certified public key's own fields inside an OpenSSH certificate blob (after its type and nonce),
/// enough to compare with the key's blob tail. Only ed25519 is read precisely; other types match loosely.
fn certificate_key(cert: &[u8]) -> Option<&[u8]> {
    let mut rest = cert;
    let mut take = || -> Option<&[u8]> {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let field = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some(field)
    };
    let kind = take()?;
    let _nonce = take()?;
    match kind {
        b"ssh-ed25519-cert-v01@openssh.com" => take(),
        _ => Some(&[]),
    }
}

/// Whether one of the agent's keys among `only` (by blob) logged `user` in.
fn agent_has_authenticated(
    session: &Session,
    config: &ClientConfig,
    user: &str,
    only: &[Vec<u8>],
) -> bool {
    let Some(mut agent) = agent(session, &config.agent) else {
        return false;
    };
    if agent.connect().is_err() || agent.list_identities().is_err() {
        return false;
    }
    (agent.identities().unwrap_or_default().iter())
        .filter(|identity| only.contains(&identity.blob().to_vec()))
        .any(|identity| agent.userauth(user, identity).is_ok() && session.authenticated())
}

/// The agent ssh would ask (`IdentityAgent`): the environment's, a socket of its own, or none.
fn agent(session: &Session, socket: &AgentSocket) -> Option<ssh2::Agent> {
    let mut agent = session.agent().ok()?;
    match socket {
        AgentSocket::Disabled => return None,
        AgentSocket::FromEnvironment => {
            std::env::var_os("SSH_AUTH_SOCK")?;
        }
        AgentSocket::Path(path) => agent.set_identity_path(path).ok()?,
    }
    Some(agent)
}

/// The key blobs of `FILE.pub` beside each identity file (what IdentitiesOnly lets the agent offer).
fn public_blobs(files: &[PathBuf]) -> Vec<Vec<u8>> {
    use base64::Engine;
    (files.iter())
        .filter_map(|file| std::fs::read_to_string(format!("{}.pub", file.display())).ok())
        .filter_map(|line| {
            let blob = line.split_whitespace().nth(1)?;
            base64::engine::general_purpose::STANDARD.decode(blob).ok()
        })
        .collect()
}

fn auth_error(target: &Target, reason: String) -> TransportError {
    TransportError::Auth {
        target: target.display(),
        reason,
    }
}

fn key_error(file: &Path, e: &ssh2::Error) -> String {
    let message = e.message();
    // libssh2 reports a wrong or missing passphrase this way.
    if message.contains("Unsupported private key")
        || message.contains("Wrong passphrase")
        || message.contains("decrypt")
    {
        format!(
            "{}: the key seems to be passphrase-protected; add it to ssh-agent (ssh-add {})",
            file.display(),
            file.display()
        )
    } else {
        format!("{}: {message}", file.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxyjump_hops_are_read_as_ssh_writes_them() {
        let user = |u: &str| Some(u.to_string());
        assert_eq!(parse_hop("bastion"), (None, "bastion".into(), None));
        assert_eq!(
            parse_hop("admin@bastion:2222"),
            (user("admin"), "bastion".into(), Some(2222))
        );
        assert_eq!(
            parse_hop("ssh://admin@bastion:2222"),
            (user("admin"), "bastion".into(), Some(2222))
        );
        assert_eq!(
            parse_hop("[2001:db8::1]:2200"),
            (None, "2001:db8::1".into(), Some(2200))
        );
        // A bare IPv6 address has colons but no port.
        assert_eq!(parse_hop("2001:db8::1"), (None, "2001:db8::1".into(), None));
        // A user name may hold an @ (ssh splits at the last one).
        assert_eq!(parse_hop("a@b@host"), (user("a@b"), "host".into(), None));
    }

    #[test]
    fn a_proxyjump_chain_reaches_each_hop_through_the_one_before() {
        let target = Target {
            host: "ws".into(),
            port: None,
            ssh_config: None,
            user: Some("alice".into()),
            identity_file: Some("/k".into()),
            pinned_known_hosts: Some("/pinned".into()),
            accept_new_host_key: false,
            jump: None,
            connect_timeout: None,
        };
        let config = ClientConfig {
            proxy_jump: Some("first,admin@second:2222".into()),
            ..ClientConfig::default()
        };
        let last = hop_of(&target, &config).expect("a hop");
        assert_eq!((last.host.as_str(), last.port), ("second", Some(2222)));
        assert_eq!(last.user.as_deref(), Some("admin"));
        // A hop's key is checked against the profile's pinned file; its identity is ssh's, not the host's.
        assert_eq!(last.pinned_known_hosts, target.pinned_known_hosts);
        assert_eq!(last.identity_file, None);
        let first = last.jump.as_deref().expect("through the first hop");
        assert_eq!(
            (first.host.as_str(), first.user.as_deref()),
            ("first", None)
        );
        assert!(first.jump.is_none());
        // The profile's jump wins over ssh's ProxyJump.
        let jumped = Target {
            jump: Some(Box::new(first.clone())),
            ..target.clone()
        };
        assert_eq!(
            hop_of(&jumped, &config).map(|h| h.host),
            Some("first".into())
        );
        assert!(hop_of(&target, &ClientConfig::default()).is_none());
    }

    #[test]
    fn ssh_config_values_jprov_honours_are_read_from_ssh_g() {
        let config = read_client_config(
            "user admin\nhostname 10.0.0.1\nconnecttimeout 4\nhostkeyalias none\nidentityfile ~/.ssh/id_x\n",
        );
        assert_eq!(config.hostname.as_deref(), Some("10.0.0.1"));
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(4)));
        assert_eq!(config.host_key_alias, None);
        // ssh prints `none` when nothing sets it: jprov's default then.
        assert_eq!(
            read_client_config("connecttimeout none\n").connect_timeout,
            None
        );
        let target = |timeout| Target {
            host: "h".into(),
            port: Some(22),
            ssh_config: None,
            user: Some("u".into()),
            identity_file: None,
            pinned_known_hosts: None,
            accept_new_host_key: false,
            jump: None,
            connect_timeout: timeout,
        };
        // The command line wins over ssh's value, which wins over the default.
        assert_eq!(
            config.timeout(&target(Some(Duration::from_secs(2)))),
            Duration::from_secs(2)
        );
        assert_eq!(config.timeout(&target(None)), Duration::from_secs(4));
        assert_eq!(
            ClientConfig::default().timeout(&target(None)),
            DEFAULT_CONNECT_TIMEOUT
        );
    }
}
