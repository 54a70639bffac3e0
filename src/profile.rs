//! The profile: the YAML file a user keeps in git, parsed and validated.
//!
//! All of YAML handling lives here (serde_yaml is deprecated upstream; keeping it in one module keeps a swap
//! cheap). Every error names the file, the line and the field.

use crate::value::{
    AbsPath, BaseUrl, CertDays, Domain, Email, HostName, HttpsUrl, IpAddress, PasswordHash, Port,
    ProfileName, Size, TimeSpan, UserName,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: ProfileName,
    pub method: Method,
    pub domain: Domain,
    pub server: Server,
    pub workstation: Workstation,
    pub jupyter: Jupyter,
    pub tls: Tls,
    #[serde(default)]
    pub tunnel: Tunnel,
    /// Only for nginx-proxy.
    pub nginx: Option<Nginx>,
    /// The pinned known_hosts file (relative to the profile's directory); default `known_hosts` there.
    pub known_hosts: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    ReverseForward,
    NginxProxy,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::ReverseForward => "reverse-forward",
            Method::NginxProxy => "nginx-proxy",
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub host: HostName,
    #[serde(default = "default_ssh_port")]
    pub port: Port,
    pub user: UserName,
    /// Run privileged steps through `sudo -n` (the admin user is not root).
    #[serde(default)]
    pub sudo: bool,
    /// A private key file on this machine; default: whatever `ssh -G` and the agent offer.
    pub identity_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workstation {
    pub host: WorkstationHost,
    #[serde(default = "default_ssh_port")]
    pub port: Port,
    /// The account Jupyter runs as; jprov logs in as this user.
    pub user: UserName,
    /// The user's home directory; default /home/USER (/root for root).
    pub home: Option<AbsPath>,
    /// `server`: reach the workstation through the forwarding server (like ssh -J).
    pub jump: Option<Jump>,
    pub identity_file: Option<PathBuf>,
    /// reverse-forward with letsencrypt: how often the workstation checks the server for a renewed
    /// certificate.
    #[serde(default = "default_certificate_refresh")]
    pub certificate_refresh: TimeSpan,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum WorkstationHost {
    /// jprov runs on the workstation itself.
    Local,
    Remote(HostName),
}

impl TryFrom<String> for WorkstationHost {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "local" {
            Ok(WorkstationHost::Local)
        } else {
            HostName::try_from(s).map(WorkstationHost::Remote)
        }
    }
}

impl From<WorkstationHost> for String {
    fn from(h: WorkstationHost) -> String {
        match h {
            WorkstationHost::Local => "local".into(),
            WorkstationHost::Remote(h) => h.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jump {
    Server,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Jupyter {
    #[serde(default)]
    pub app: App,
    #[serde(default = "default_jupyter_port")]
    pub port: Port,
    #[serde(default = "default_base_url")]
    pub base_url: BaseUrl,
    pub password_hash: PasswordHash,
    /// Refused with a hint: present only so the error can point at it.
    #[serde(default, skip_serializing)]
    pub password: Option<PlaintextPassword>,
    /// The `jupyter` executable on the workstation; default `jupyter` on PATH.
    pub command: Option<AbsPath>,
    /// A virtualenv on the workstation to run Jupyter from (its bin/jupyter, with the venv on PATH).
    pub virtualenv: Option<AbsPath>,
}

impl Jupyter {
    /// The `jupyter` executable the service runs.
    pub fn executable(&self) -> String {
        match (&self.command, &self.virtualenv) {
            (Some(command), _) => command.to_string(),
            (None, Some(venv)) => format!("{}/bin/jupyter", venv.as_str().trim_end_matches('/')),
            (None, None) => "jupyter".to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum App {
    #[default]
    Lab,
    Notebook,
    Server,
}

impl App {
    pub fn subcommand(self) -> &'static str {
        match self {
            App::Lab => "lab",
            App::Notebook => "notebook",
            App::Server => "server",
        }
    }
}

/// Never holds a value: deserializing one is always an error, so a plaintext password can't slip in.
#[derive(Clone, Debug)]
pub enum PlaintextPassword {}

impl<'de> Deserialize<'de> for PlaintextPassword {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Err(serde::de::Error::custom(
            "plaintext passwords are refused; run `jprov hash-password` and put its output in jupyter.password_hash",
        ))
    }
}

/// How TLS is set up: exactly one of `letsencrypt:`, `files:` or `self_signed:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(try_from = "TlsSection", into = "TlsSection")]
pub enum Tls {
    /// Obtain a certificate with certbot on the server.
    Letsencrypt {
        email: Email,
        /// Another ACME directory (staging, a test server); default Let's Encrypt production.
        server: Option<HttpsUrl>,
        /// A CA bundle on the server that certbot trusts for `server` (a private ACME directory).
        ca_bundle: Option<AbsPath>,
    },
    /// Certificate and key already on the host that terminates TLS (the server for nginx-proxy, the
    /// workstation for reverse-forward).
    Files { cert: AbsPath, key: AbsPath },
    /// A self-signed certificate generated on the host that terminates TLS (for hosts without a public
    /// name); renewed 30 days before it expires.
    SelfSigned {
        days: CertDays,
        /// IP addresses added to the subjectAltName, besides the domain.
        addresses: Vec<IpAddress>,
    },
}

/// The YAML shape of `tls:` (serde_yaml would otherwise want `!letsencrypt` tags, which nobody guesses).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    letsencrypt: Option<LetsencryptSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<FilesSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_signed: Option<SelfSignedSection>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LetsencryptSection {
    email: Email,
    server: Option<HttpsUrl>,
    ca_bundle: Option<AbsPath>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FilesSection {
    cert: AbsPath,
    key: AbsPath,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SelfSignedSection {
    #[serde(default = "default_cert_days")]
    days: CertDays,
    #[serde(default)]
    addresses: Vec<IpAddress>,
}

impl TryFrom<TlsSection> for Tls {
    type Error = String;
    fn try_from(s: TlsSection) -> Result<Tls, String> {
        match (s.letsencrypt, s.files, s.self_signed) {
            (Some(l), None, None) => Ok(Tls::Letsencrypt {
                email: l.email,
                server: l.server,
                ca_bundle: l.ca_bundle,
            }),
            (None, Some(f), None) => Ok(Tls::Files { cert: f.cert, key: f.key }),
            (None, None, Some(s)) => Ok(Tls::SelfSigned {
                days: s.days,
                addresses: s.addresses,
            }),
            _ => Err("give exactly one of `letsencrypt:` (email, optional server), `files:` (cert, key) \
                      or `self_signed:` (optional days, addresses)"
                .into()),
        }
    }
}

impl From<Tls> for TlsSection {
    fn from(t: Tls) -> TlsSection {
        match t {
            Tls::Letsencrypt {
                email,
                server,
                ca_bundle,
            } => TlsSection {
                letsencrypt: Some(LetsencryptSection {
                    email,
                    server,
                    ca_bundle,
                }),
                files: None,
                self_signed: None,
            },
            Tls::Files { cert, key } => TlsSection {
                letsencrypt: None,
                files: Some(FilesSection { cert, key }),
                self_signed: None,
            },
            Tls::SelfSigned { days, addresses } => TlsSection {
                letsencrypt: None,
                files: None,
                self_signed: Some(SelfSignedSection { days, addresses }),
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tunnel {
    /// The dedicated, locked-down account on the server.
    #[serde(default = "default_tunnel_account")]
    pub account: UserName,
    /// The port on the server: public for reverse-forward, loopback (nginx's upstream) for nginx-proxy.
    #[serde(default = "default_jupyter_port")]
    pub port: Port,
}

impl Default for Tunnel {
    fn default() -> Self {
        Tunnel {
            account: default_tunnel_account(),
            port: default_jupyter_port(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nginx {
    #[serde(default = "default_https_port")]
    pub https_port: Port,
    #[serde(default = "default_http_port")]
    pub http_port: Port,
    #[serde(default = "default_body_size")]
    pub client_max_body_size: Size,
}

impl Default for Nginx {
    fn default() -> Self {
        Nginx {
            https_port: default_https_port(),
            http_port: default_http_port(),
            client_max_body_size: default_body_size(),
        }
    }
}

fn default_ssh_port() -> Port {
    Port::new(22)
}
fn default_jupyter_port() -> Port {
    Port::new(8888)
}
fn default_https_port() -> Port {
    Port::new(443)
}
fn default_http_port() -> Port {
    Port::new(80)
}
fn default_cert_days() -> CertDays {
    CertDays::DEFAULT
}
fn default_base_url() -> BaseUrl {
    BaseUrl::try_from("/".to_string()).expect("valid")
}
fn default_tunnel_account() -> UserName {
    UserName::try_from("jprov-tunnel".to_string()).expect("valid")
}
fn default_certificate_refresh() -> TimeSpan {
    TimeSpan::try_from("6h".to_string()).expect("valid")
}
fn default_body_size() -> Size {
    Size::try_from("512m".to_string()).expect("valid")
}

/// A profile that could not be used, with where and why.
#[derive(Debug, PartialEq, Eq)]
pub struct ProfileError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProfileError {}

/// A profile together with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedProfile {
    pub profile: Profile,
    pub path: PathBuf,
    /// The SHA-1 of the file's bytes: saved plans record it so apply can tell the profile changed.
    pub digest: String,
}

impl LoadedProfile {
    /// A path from the profile, relative to the profile's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolve_local_path(&self.path, path)
    }

    /// The pinned known_hosts file: the profile's `known_hosts`, by default `known_hosts` next to it.
    pub fn pinned_known_hosts(&self) -> PathBuf {
        self.resolve(
            self.profile
                .known_hosts
                .as_deref()
                .unwrap_or(Path::new("known_hosts")),
        )
    }
}

fn resolve_local_path(profile_path: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    match profile_path.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

pub fn load(path: &Path) -> Result<LoadedProfile, ProfileError> {
    let bytes = std::fs::read(path).map_err(|e| ProfileError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        field: None,
        message: format!("cannot read the profile: {e}"),
    })?;
    let source = String::from_utf8(bytes).map_err(|_| ProfileError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        field: None,
        message: "the profile is not UTF-8 text".into(),
    })?;
    let profile = parse(&source, path)?;
    use sha1::Digest;
    let digest = hex::encode(sha1::Sha1::digest(source.as_bytes()));
    Ok(LoadedProfile {
        profile,
        path: path.to_path_buf(),
        digest,
    })
}

/// Parse and validate a profile's text; `file` is only used in errors.
pub fn parse(source: &str, file: &Path) -> Result<Profile, ProfileError> {
    // serde_path_to_error knows the exact field of every error, including our own validation errors, for
    // which serde_yaml reports only the enclosing mapping.
    let profile: Profile =
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(source))
            .map_err(|e| yaml_error(source, &e, file))?;
    check_consistency(&profile).map_err(|(field, message)| {
        let (line, column) = locate(source, &field).unzip();
        ProfileError {
            file: file.to_path_buf(),
            line,
            column,
            field: Some(field),
            message,
        }
    })?;
    Ok(profile)
}

fn yaml_error(
    source: &str,
    e: &serde_path_to_error::Error<serde_yaml::Error>,
    file: &Path,
) -> ProfileError {
    let inner = e.inner();
    let mut message = inner.to_string();
    // serde_yaml appends " at line L column C" and may prefix a path; we print both up front instead.
    if let Some(loc) = inner.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(' ') && !prefix.is_empty() && !rest.is_empty() {
            message = rest.to_string();
        }
    }
    let path = e.path().to_string();
    let field = (path != ".").then_some(path);
    let located = field.as_deref().and_then(|f| locate(source, f));
    let (line, column) = match (located, inner.location()) {
        // An unknown key is reported where it stands, which serde_yaml knows and the path doesn't.
        (_, Some(loc)) if message.starts_with("unknown field") => {
            (Some(loc.line()), Some(loc.column()))
        }
        (Some((line, column)), _) => (Some(line), Some(column)),
        (None, Some(loc)) => (Some(loc.line()), Some(loc.column())),
        (None, None) => (None, None),
    };
    ProfileError {
        file: file.to_path_buf(),
        line,
        column,
        field,
        message,
    }
}

/// Rules that involve more than one field. Returns (dotted field, message).
fn check_consistency(p: &Profile) -> Result<(), (String, String)> {
    let err = |field: &str, message: String| Err((field.to_string(), message));
    if p.tunnel.account == p.server.user {
        return err(
            "tunnel.account",
            format!(
                "the tunnel account must not be the admin user {:?}: jprov locks it down (no shell, forwarding only)",
                p.server.user.as_str()
            ),
        );
    }
    if p.tunnel.account.as_str() == "root" {
        return err(
            "tunnel.account",
            "the tunnel account must not be root".into(),
        );
    }
    if p.workstation.host == WorkstationHost::Local && p.workstation.jump.is_some() {
        return err(
            "workstation.jump",
            "a local workstation is not reached through a jump host".into(),
        );
    }
    if p.jupyter.command.is_some() && p.jupyter.virtualenv.is_some() {
        return err(
            "jupyter.virtualenv",
            "give either jupyter.command or jupyter.virtualenv, not both".into(),
        );
    }
    match p.method {
        Method::ReverseForward => {
            if p.nginx.is_some() {
                return err(
                    "nginx",
                    "nginx settings apply only to method nginx-proxy".into(),
                );
            }
            if p.tunnel.port.get() < 1024 {
                return err(
                    "tunnel.port",
                    "reverse-forward needs a port of 1024 or more: sshd lets only root listen on lower ports".into(),
                );
            }
        }
        Method::NginxProxy => {
            if p.workstation.host == WorkstationHost::Local {
                return err(
                    "workstation.host",
                    "nginx-proxy needs the workstation's SSH address: the server opens the tunnel to it".into(),
                );
            }
            let nginx = p.nginx.clone().unwrap_or_default();
            if p.tunnel.port == nginx.https_port || p.tunnel.port == nginx.http_port {
                return err(
                    "tunnel.port",
                    format!(
                        "port {} is taken by nginx on the server; choose another loopback port",
                        p.tunnel.port
                    ),
                );
            }
            if nginx.https_port == nginx.http_port {
                return err(
                    "nginx.http_port",
                    "nginx needs different ports for http and https".into(),
                );
            }
        }
    }
    Ok(())
}

/// Find the line and column of a dotted field in block-style YAML (best effort; None if not found). The
/// last part may index a sequence (`tls.self_signed.addresses[1]`): its item in a block sequence, or the
/// key's line for a flow sequence.
fn locate(source: &str, dotted: &str) -> Option<(usize, usize)> {
    let mut want = dotted.split('.').peekable();
    let mut key = want.next()?;
    let mut min_indent = 0usize;
    let lines: Vec<&str> = source.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent < min_indent {
            return None;
        }
        let (name, item) = match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            Some((name, n)) => (name, Some(n.parse::<usize>().ok()?)),
            None => (key, None),
        };
        let is_key = trimmed
            .strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with(':'));
        if is_key {
            match (want.next(), item) {
                (None, None) => return Some((index + 1, indent + 1)),
                (None, Some(n)) => return locate_item(&lines, index, indent, n),
                (Some(_), Some(_)) => return None,
                (Some(next), None) => {
                    key = next;
                    min_indent = indent + 1;
                }
            }
        }
    }
    None
}

/// Item `n` of the sequence under the key on line `key_line` (0-based) with indent `key_indent`.
fn locate_item(
    lines: &[&str],
    key_line: usize,
    key_indent: usize,
    n: usize,
) -> Option<(usize, usize)> {
    let after_colon = lines[key_line].split_once(':')?.1.trim();
    if !after_colon.is_empty() && !after_colon.starts_with('#') {
        // A flow sequence on the key's line.
        return Some((key_line + 1, key_indent + 1));
    }
    let mut seen = 0;
    for (index, line) in lines.iter().enumerate().skip(key_line + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let is_item = trimmed == "-" || trimmed.starts_with("- ");
        if indent < key_indent || (indent == key_indent && !is_item) {
            return None;
        }
        if is_item {
            if seen == n {
                return Some((index + 1, indent + 1));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests;
