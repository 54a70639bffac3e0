//! The profile: the YAML file a user keeps in git, parsed and validated.
//!
//! All of YAML handling lives here (serde_yaml is deprecated upstream; keeping it in one module keeps a swap
//! cheap). Every error names the file, the line and the field, and never the value (`errors`). The text is
//! bounded and checked before serde_yaml reads it (`source`).

mod access;
mod errors;
mod source;

pub use access::{Access, BasicAuthAccount};
pub use errors::ProfileError;
pub use source::{MAX_BYTES, MAX_DEPTH};

use crate::value::{
    AbsPath, BaseUrl, CertDays, DisplayName, Domain, Email, HostName, HttpsUrl, IpAddress,
    LocalPath, PasswordHash, Port, ProfileName, Size, TimeSpan, UserName,
};
use serde::{Deserialize, Serialize};
use source::Outline;
use std::fmt;
use std::path::{Path, PathBuf};

/// The most entries a list in a profile may have: 12,000 `tls.self_signed.addresses` would make an
/// openssl argument longer than Linux allows, and nobody needs more than a few.
pub const MAX_LIST_ENTRIES: usize = 64;

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: ProfileName,
    pub method: Method,
    /// The public name browsers use: required by the methods with a forwarding server (and ngrok), optional
    /// for lan (a name collaborators' machines resolve to `lan.address`), refused by local-forward.
    pub domain: Option<Domain>,
    /// The forwarding server: required by reverse-forward and nginx-proxy; for the other methods only a
    /// jump host (`workstation.jump: server`), never changed.
    pub server: Option<Server>,
    pub workstation: Workstation,
    pub jupyter: Jupyter,
    /// Required by the methods with a forwarding server; lan defaults to `self_signed`; local-forward and
    /// ngrok have none (the ssh forward, or ngrok, encrypts).
    pub tls: Option<Tls>,
    #[serde(default)]
    pub tunnel: Tunnel,
    /// Only for nginx-proxy.
    pub nginx: Option<Nginx>,
    /// Only for lan: where Jupyter listens for collaborators on the workstation's network.
    pub lan: Option<Lan>,
    /// Layers in front of Jupyter's login (basic auth, an allow-list), for the methods that can enforce them.
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
    /// Only for ngrok: the agent on the workstation, and the files there that hold its secrets.
    pub ngrok: Option<Ngrok>,
    /// The pinned known_hosts file (relative to the profile's directory); default `known_hosts` there.
    pub known_hosts: Option<LocalPath>,
}

/// What validation guarantees the methods with a forwarding server (`Method::has_server`): only their code
/// calls these, so a missing section there is a bug in validation, not in the profile.
impl Profile {
    pub fn server(&self) -> &Server {
        self.server
            .as_ref()
            .expect("validated: the method has a server")
    }

    pub fn domain(&self) -> &Domain {
        self.domain
            .as_ref()
            .expect("validated: the method has a domain")
    }

    /// The name a certificate jprov makes is for: the domain, or for lan without one the LAN address.
    pub fn certificate_name(&self) -> String {
        match (&self.domain, &self.lan) {
            (Some(domain), _) => domain.to_string(),
            (None, Some(lan)) => lan.address.to_string(),
            (None, None) => {
                unreachable!("validated: a method with a certificate has a name for it")
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    ReverseForward,
    NginxProxy,
    LocalForward,
    Lan,
    Ngrok,
}

impl Method {
    /// Whether the method configures a forwarding server (and so needs `server:`, `domain:` and `tls:`).
    pub fn has_server(self) -> bool {
        match self {
            Method::ReverseForward | Method::NginxProxy => true,
            Method::LocalForward | Method::Lan | Method::Ngrok => false,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::ReverseForward => "reverse-forward",
            Method::NginxProxy => "nginx-proxy",
            Method::LocalForward => "local-forward",
            Method::Lan => "lan",
            Method::Ngrok => "ngrok",
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub host: HostName,
    /// Unset: jprov's own connection uses ssh's `Port` for the host (`ssh -G`), and the hosts' ssh (the
    /// tunnel, the certificate fetch) dials 22.
    pub port: Option<Port>,
    pub user: UserName,
    /// Run privileged steps through `sudo -n` (the admin user is not root).
    #[serde(default)]
    pub sudo: bool,
    /// A private key file on this machine; default: whatever `ssh -G` and the agent offer.
    pub identity_file: Option<LocalPath>,
}

/// method lan: Jupyter listens on one of the workstation's own addresses, for collaborators on its LAN or VPN.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lan {
    /// The workstation's address on that network (Jupyter binds to it, and it is in the certificate).
    pub address: IpAddress,
}

/// method ngrok: the ngrok agent runs on the workstation as its user and serves the profile's `domain` (an
/// ngrok domain of the user's account) over https. Its secrets stay on the workstation: the profile names
/// the files that hold them there, and jprov never reads them.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ngrok {
    /// A file on the workstation with the line `NGROK_AUTHTOKEN=...`, which the agent's service reads
    /// (systemd's `EnvironmentFile`). Mode 0600: plan reports a problem otherwise.
    pub authtoken_file: AbsPath,
    /// A file on the workstation with `user:password` lines (mode 0600) for ngrok's `basic-auth`; ngrok's
    /// policy takes plaintext credentials, so they are put into the agent's configuration on the
    /// workstation when the agent starts.
    pub basic_auth_file: Option<AbsPath>,
    /// The agent's executable; default `ngrok`, looked up in systemd's PATH.
    pub command: Option<AbsPath>,
}

impl Ngrok {
    /// The agent's executable as systemd runs it.
    pub fn executable(&self) -> String {
        self.command
            .as_ref()
            .map_or_else(|| "ngrok".to_string(), |c| c.to_string())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workstation {
    pub host: WorkstationHost,
    /// Like `server.port`.
    pub port: Option<Port>,
    /// The account Jupyter runs as; jprov logs in as this user.
    pub user: UserName,
    /// The user's home directory; default /home/USER (/root for root).
    pub home: Option<AbsPath>,
    /// `server`: reach the workstation through the forwarding server (like ssh -J).
    pub jump: Option<Jump>,
    pub identity_file: Option<LocalPath>,
    /// reverse-forward with letsencrypt: how often the workstation checks the server for a renewed
    /// certificate.
    #[serde(default = "default_certificate_refresh")]
    pub certificate_refresh: TimeSpan,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Jump {
    Server,
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
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
    #[schemars(skip)]
    pub password: Option<PlaintextPassword>,
    /// The `jupyter` executable on the workstation; default `jupyter` on PATH.
    pub command: Option<AbsPath>,
    /// A virtualenv on the workstation to run Jupyter from (its bin/jupyter, with the venv on PATH).
    pub virtualenv: Option<AbsPath>,
    /// People besides the owner, each logging in with a username and a password of their own; the
    /// owner logs in as `workstation.user` with `password_hash`.
    #[serde(default, deserialize_with = "bounded_list")]
    pub collaborators: Vec<Collaborator>,
    /// Real-time collaboration: everyone who logs in edits the same documents at once (JupyterLab 4 with
    /// the `jupyter-collaboration` package, which plan checks the workstation has); needs `app: lab`.
    #[serde(default)]
    pub collaboration: bool,
}

/// One person who logs in to Jupyter as themselves: `name` is what cursors and the user list show.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collaborator {
    pub name: DisplayName,
    pub username: UserName,
    pub password_hash: PasswordHash,
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

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
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
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    letsencrypt: Option<LetsencryptSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<FilesSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_signed: Option<SelfSignedSection>,
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LetsencryptSection {
    email: Email,
    server: Option<HttpsUrl>,
    ca_bundle: Option<AbsPath>,
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FilesSection {
    cert: AbsPath,
    key: AbsPath,
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SelfSignedSection {
    #[serde(default = "default_cert_days")]
    days: CertDays,
    #[serde(default, deserialize_with = "bounded_list")]
    addresses: Vec<IpAddress>,
}

/// A list of at most [`MAX_LIST_ENTRIES`]; the entry after the last allowed one is not even read.
fn bounded_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_LIST_ENTRIES} entries")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut entries = Vec::new();
            while entries.len() < MAX_LIST_ENTRIES {
                match seq.next_element()? {
                    Some(entry) => entries.push(entry),
                    None => return Ok(entries),
                }
            }
            match seq.next_element::<serde::de::IgnoredAny>()? {
                None => Ok(entries),
                Some(_) => Err(serde::de::Error::custom(format!(
                    "more than {MAX_LIST_ENTRIES} entries (the limit)"
                ))),
            }
        }
    }
    deserializer.deserialize_seq(Bounded(std::marker::PhantomData))
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

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tunnel {
    /// The dedicated, locked-down account on the server.
    #[serde(default = "default_tunnel_account")]
    pub account: UserName,
    /// The port on the server: public for reverse-forward, loopback (nginx's upstream) for nginx-proxy.
    #[serde(default = "default_jupyter_port")]
    pub port: Port,
    /// The address the tunnel's opener dials (and reverse-forward's certificate fetch): the server as the
    /// workstation resolves it (reverse-forward), the workstation as the server does (nginx-proxy).
    /// Default: `server.host` / `workstation.host`, which may be an alias only the admin's ssh config knows.
    pub peer_address: Option<HostName>,
}

impl Default for Tunnel {
    fn default() -> Self {
        Tunnel {
            peer_address: None,
            account: default_tunnel_account(),
            port: default_jupyter_port(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
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

/// The port a host's own ssh dials (a tunnel, a fetch, the laptop's forward) when the profile names none:
/// jprov's connections use ssh's resolved `Port` instead, which only the admin's ssh config knows.
pub const DEFAULT_SSH_PORT: u16 = 22;

impl Server {
    /// The port the hosts' ssh dials to reach the server.
    pub fn ssh_port(&self) -> u16 {
        self.port.map_or(DEFAULT_SSH_PORT, Port::get)
    }
}

impl Workstation {
    /// The port the server's and the laptop's ssh dial to reach the workstation.
    pub fn ssh_port(&self) -> u16 {
        self.port.map_or(DEFAULT_SSH_PORT, Port::get)
    }
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
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        resolve_local_path(&self.path, path.as_ref())
    }

    /// The pinned known_hosts file: the profile's `known_hosts`, by default `known_hosts` next to it.
    pub fn pinned_known_hosts(&self) -> PathBuf {
        match &self.profile.known_hosts {
            Some(file) => self.resolve(file),
            None => self.resolve("known_hosts"),
        }
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
    let bytes = std::fs::read(path)
        .map_err(|e| ProfileError::whole(path, format!("cannot read the profile: {e}")))?;
    from_bytes(&bytes, path)
}

/// A profile from the bytes of the file at `path`: parsed, validated, and with the local paths ssh will be
/// given checked after they are resolved.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<LoadedProfile, ProfileError> {
    check_size(bytes.len(), path)?;
    let source = std::str::from_utf8(bytes).map_err(|e| not_utf8(bytes, e, path))?;
    let (profile, outline) = parse_outlined(source, path)?;
    use sha1::Digest;
    let loaded = LoadedProfile {
        profile,
        path: path.to_path_buf(),
        digest: hex::encode(sha1::Sha1::digest(bytes)),
    };
    check_resolved_ssh_paths(&loaded, &outline)?;
    Ok(loaded)
}

fn check_size(len: usize, file: &Path) -> Result<(), ProfileError> {
    if len > MAX_BYTES {
        return Err(ProfileError::whole(
            file,
            format!("the profile is {len} bytes, more than the limit of {MAX_BYTES} (64 KiB)"),
        ));
    }
    Ok(())
}

/// The line, column and field of the first byte that is not UTF-8.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error, file: &Path) -> ProfileError {
    let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to there");
    let line = valid.matches('\n').count() + 1;
    let column = valid.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let (outline, _) = source::scan(valid);
    ProfileError {
        file: file.to_path_buf(),
        line: Some(line),
        column: Some(column),
        field: outline.field_on(line),
        message: "a byte that is not UTF-8 text: save the profile as UTF-8".into(),
    }
}

/// ssh reads `UserKnownHostsFile` as a list split at whitespace, and expands `%` tokens and `~` there and
/// in `-i`: the path jprov hands it, with the profile's directory or HOME in front, must still be one
/// file to ssh. The profile's own text is checked by `LocalPath`; this checks what was put in front.
fn check_resolved_ssh_paths(lp: &LoadedProfile, outline: &Outline) -> Result<(), ProfileError> {
    let p = &lp.profile;
    let files = [
        (
            "server.identity_file",
            (p.server.as_ref())
                .and_then(|s| s.identity_file.as_ref())
                .map(|f| lp.resolve(f)),
        ),
        (
            "workstation.identity_file",
            p.workstation.identity_file.as_ref().map(|f| lp.resolve(f)),
        ),
        ("known_hosts", Some(lp.pinned_known_hosts())),
    ];
    for (field, file) in files {
        let Some(file) = file else { continue };
        let one_file = file.to_str().is_some_and(|f| {
            !f.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '%' | '"' | '\'' | '\\')
            })
        });
        if !one_file {
            return Err(ProfileError::at_field(
                &lp.path,
                outline,
                field,
                "with the profile's directory (or HOME) in front, this path has whitespace, a quote, a \
                 backslash, '%' or a byte that is not UTF-8, and ssh would not read it as one file: move \
                 the profile, or give an absolute path without them"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The line a field (`jupyter.password_hash`, `jupyter.collaborators[1].password_hash`) starts on in a
/// profile's text, for messages about a profile that loaded (`jprov check`).
pub fn field_line(source: &str, field: &str) -> Option<usize> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    source::scan(source).0.locate(field).map(|(line, _)| line)
}

/// Parse and validate a profile's text; `file` is only used in errors.
pub fn parse(source: &str, file: &Path) -> Result<Profile, ProfileError> {
    parse_outlined(source, file).map(|(profile, _)| profile)
}

fn parse_outlined(source: &str, file: &Path) -> Result<(Profile, Outline), ProfileError> {
    check_size(source.len(), file)?;
    // A byte-order mark is allowed before the first key, not only before a comment.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let (outline, checked) = source::scan(source);
    checked.map_err(|problem| ProfileError::from_problem(file, problem))?;
    // serde_path_to_error knows the exact field of every error, including our own validation errors, for
    // which serde_yaml reports only the enclosing mapping.
    let mut profile: Profile =
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(source))
            .map_err(|e| errors::yaml_error(&outline, &e, file))?;
    check_consistency(&profile).map_err(|conflict| {
        // The first of the conflicting fields the text has (the others may be defaults).
        let field = (conflict.fields.iter())
            .find(|f| outline.locate(f).is_some())
            .unwrap_or(&conflict.fields[0]);
        ProfileError::at_field(file, &outline, field, conflict.message)
    })?;
    if profile.method == Method::Lan && profile.tls.is_none() {
        profile.tls = Some(Tls::SelfSigned {
            days: default_cert_days(),
            addresses: vec![],
        });
    }
    Ok((profile, outline))
}

/// Two or more fields that cannot be as they are together, most likely culprit first.
struct Conflict {
    fields: Vec<&'static str>,
    message: String,
}

fn conflict(fields: &[&'static str], message: impl Into<String>) -> Result<(), Conflict> {
    Err(Conflict {
        fields: fields.to_vec(),
        message: message.into(),
    })
}

/// The server account a reverse-forward workstation fetches renewed certificates as, shared by every
/// profile on the server (`Layout` names it there). A profile refuses it as any of its own accounts.
pub const CERTIFICATE_ACCOUNT: &str = "jprov-cert";

/// Names of the server's accounts and directories jprov uses for jobs of its own: the tunnel account's
/// home is `/var/lib/ACCOUNT`, so it must not be one of these.
const RESERVED_FOR_THE_TUNNEL: &[(&str, &str)] = &[
    (
        CERTIFICATE_ACCOUNT,
        "the account workstations fetch certificates as",
    ),
    ("jprov", "/var/lib/jprov holds jprov's backups and journal"),
    (
        "jprov-acme",
        "/var/lib/jprov-acme holds nginx-proxy's ACME challenges",
    ),
];

/// The accounts: none is one jprov creates for another job, and the tunnel account is nobody else's.
fn check_accounts(p: &Profile) -> Result<(), Conflict> {
    let tunnel = p.tunnel.account.as_str();
    if let Some((_, job)) = RESERVED_FOR_THE_TUNNEL
        .iter()
        .find(|(name, _)| *name == tunnel)
    {
        return conflict(
            &["tunnel.account"],
            format!("this name is jprov's own ({job}); choose another tunnel account"),
        );
    }
    let server_user = p.server.as_ref().map(|s| &s.user);
    for (field, user) in [
        ("server.user", server_user),
        ("workstation.user", Some(&p.workstation.user)),
    ] {
        if user.is_some_and(|u| u.as_str() == CERTIFICATE_ACCOUNT) {
            return conflict(
                &[field],
                format!(
                    "{CERTIFICATE_ACCOUNT} is the account jprov creates for fetching certificates, with keys \
                     that can do nothing else; use another account"
                ),
            );
        }
    }
    if server_user == Some(&p.tunnel.account) {
        return conflict(
            &["tunnel.account", "server.user"],
            "the tunnel account must not be the admin user (server.user): jprov locks it down (no shell, \
             forwarding only)",
        );
    }
    if p.tunnel.account == p.workstation.user {
        return conflict(
            &["tunnel.account", "workstation.user"],
            "the tunnel account must not be the workstation user Jupyter runs as (workstation.user): jprov \
             creates it locked down (no shell, forwarding only)",
        );
    }
    if tunnel == "root" {
        return conflict(&["tunnel.account"], "the tunnel account must not be root");
    }
    Ok(())
}

/// Every Jupyter login has its own username: the owner's is `workstation.user`.
fn check_collaborators(p: &Profile) -> Result<(), Conflict> {
    let people = &p.jupyter.collaborators;
    for (i, person) in people.iter().enumerate() {
        let field: &'static str = collaborator_username_field(i);
        if person.username == p.workstation.user {
            return conflict(
                &[field],
                "this username is the owner's (workstation.user, who logs in with jupyter.password_hash); \
                 give the collaborator another",
            );
        }
        if people[..i].iter().any(|o| o.username == person.username) {
            return conflict(
                &[field],
                "a second collaborator with this username; each needs their own",
            );
        }
    }
    Ok(())
}

/// `jupyter.collaborators[i].username` as the `&'static str` a `Conflict` names: at most
/// `MAX_LIST_ENTRIES` of them exist, each made once.
fn collaborator_username_field(i: usize) -> &'static str {
    static FIELDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let fields = FIELDS.get_or_init(|| {
        (0..MAX_LIST_ENTRIES)
            .map(|i| format!("jupyter.collaborators[{i}].username"))
            .collect()
    });
    &fields[i]
}

/// Rules that involve more than one field.
fn check_consistency(p: &Profile) -> Result<(), Conflict> {
    check_accounts(p)?;
    check_collaborators(p)?;
    if p.jupyter.collaboration && p.jupyter.app != App::Lab {
        return conflict(
            &["jupyter.collaboration", "jupyter.app"],
            "real-time collaboration needs JupyterLab: set jupyter.app to lab (the default), or remove \
             jupyter.collaboration",
        );
    }
    access::check_access(p)?;
    if p.workstation.host == WorkstationHost::Local && p.workstation.jump.is_some() {
        return conflict(
            &["workstation.jump"],
            "a local workstation is not reached through a jump host",
        );
    }
    if p.jupyter.command.is_some() && p.jupyter.virtualenv.is_some() {
        return conflict(
            &["jupyter.virtualenv"],
            "give either jupyter.command or jupyter.virtualenv, not both",
        );
    }
    check_sections(p)?;
    match p.method {
        Method::ReverseForward => check_reverse_forward(p),
        Method::NginxProxy => check_nginx_proxy(p),
        Method::LocalForward => check_local_forward(p),
        Method::Lan => check_lan(p),
        Method::Ngrok => check_ngrok(p),
    }
}

/// The sections each method needs, and the ones that belong to another method.
fn check_sections(p: &Profile) -> Result<(), Conflict> {
    let method = p.method;
    let needs = |field: &'static str, present: bool, why: &str| match present {
        true => Ok(()),
        false => conflict(
            &["method", field],
            format!("method {method} needs `{field}:` ({why})"),
        ),
    };
    if method.has_server() {
        needs(
            "server",
            p.server.is_some(),
            "the forwarding server jprov configures",
        )?;
        needs("domain", p.domain.is_some(), "the public name browsers use")?;
        needs(
            "tls",
            p.tls.is_some(),
            "how the public name gets its certificate",
        )?;
    }
    if p.workstation.jump.is_some() && p.server.is_none() {
        return conflict(
            &["workstation.jump", "server"],
            "`jump: server` needs a `server:` section: the host jprov reaches the workstation through",
        );
    }
    if p.nginx.is_some() && method != Method::NginxProxy {
        return conflict(
            &["nginx"],
            "nginx settings apply only to method nginx-proxy",
        );
    }
    if p.lan.is_some() != (method == Method::Lan) {
        return match p.lan {
            Some(_) => conflict(&["lan"], "the lan section applies only to method lan"),
            None => conflict(
                &["method", "lan"],
                "method lan needs `lan:` with `address:`, the workstation's address collaborators reach",
            ),
        };
    }
    if p.ngrok.is_some() != (method == Method::Ngrok) {
        return match p.ngrok {
            Some(_) => conflict(&["ngrok"], "the ngrok section applies only to method ngrok"),
            None => conflict(
                &["method", "ngrok"],
                "method ngrok needs `ngrok:` with `authtoken_file:`, the file on the workstation that holds \
                 NGROK_AUTHTOKEN",
            ),
        };
    }
    Ok(())
}

fn check_reverse_forward(p: &Profile) -> Result<(), Conflict> {
    if p.tunnel.port.get() < 1024 {
        return conflict(
            &["tunnel.port"],
            "reverse-forward needs a port of 1024 or more: sshd lets only root listen on lower ports",
        );
    }
    Ok(())
}

fn check_nginx_proxy(p: &Profile) -> Result<(), Conflict> {
    if p.workstation.host == WorkstationHost::Local {
        return conflict(
            &["workstation.host"],
            "nginx-proxy needs the workstation's SSH address: the server opens the tunnel to it",
        );
    }
    let nginx = p.nginx.clone().unwrap_or_default();
    if p.tunnel.port == nginx.https_port || p.tunnel.port == nginx.http_port {
        return conflict(
            &["tunnel.port"],
            format!(
                "port {} is taken by nginx on the server; choose another loopback port",
                p.tunnel.port
            ),
        );
    }
    if nginx.https_port == nginx.http_port {
        return conflict(
            &["nginx.http_port", "nginx.https_port"],
            "nginx needs different ports for http and https",
        );
    }
    Ok(())
}

/// local-forward: the laptop's own `ssh -L` reaches Jupyter on the workstation's loopback, so there is
/// nothing public to name or certify.
fn check_local_forward(p: &Profile) -> Result<(), Conflict> {
    if p.workstation.host == WorkstationHost::Local {
        return conflict(
            &["workstation.host"],
            "local-forward needs the workstation's SSH address: the laptop's ssh -L connects to it",
        );
    }
    if p.tls.is_some() {
        return conflict(
            &["tls"],
            "local-forward serves Jupyter on the workstation's loopback as http: the ssh forward encrypts \
             the way from the laptop; remove tls",
        );
    }
    if p.domain.is_some() {
        return conflict(
            &["domain"],
            "local-forward is reached at http://localhost on the laptop; there is no public name: remove \
             domain",
        );
    }
    Ok(())
}

/// lan: Jupyter itself serves TLS on the LAN address, with a certificate no public CA can issue for it.
fn check_lan(p: &Profile) -> Result<(), Conflict> {
    if matches!(p.tls, Some(Tls::Letsencrypt { .. })) {
        return conflict(
            &["tls.letsencrypt"],
            "a LAN address cannot answer Let's Encrypt's challenge from the internet: use tls.self_signed \
             (the default for lan; collaborators compare its fingerprint) or tls.files",
        );
    }
    Ok(())
}

/// ngrok: the agent serves an https endpoint on an ngrok domain and terminates TLS at ngrok's edge.
fn check_ngrok(p: &Profile) -> Result<(), Conflict> {
    let ngrok = p.ngrok.as_ref().expect("checked by check_sections");
    if p.domain.is_none() {
        return conflict(
            &["method", "domain"],
            "method ngrok needs `domain:`, the ngrok domain of your account the endpoint serves \
             (https://DOMAIN), e.g. one reserved in ngrok's dashboard",
        );
    }
    if p.tls.is_some() {
        return conflict(
            &["tls"],
            "ngrok terminates TLS at its edge with its own certificate for the domain, and Jupyter serves \
             plain http on the workstation's loopback to the agent: remove tls",
        );
    }
    if ngrok.basic_auth_file.as_ref() == Some(&ngrok.authtoken_file) {
        return conflict(
            &["ngrok.basic_auth_file"],
            "the basic-auth credentials need a file of their own, not ngrok.authtoken_file",
        );
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;

/// The profile's JSON Schema, from the types serde reads (what `jprov schema` prints and
/// `profiles/profile.schema.json` holds): editors complete and check fields with it. The rules that span
/// fields and the values' own checks (`value.rs`) stay jprov's: the schema knows shapes, names and kinds.
pub fn json_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(Profile)).expect("schemas serialize");
    schema["title"] = "jprov profile".into();
    schema
}
