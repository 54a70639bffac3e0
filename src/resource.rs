//! What jprov manages on a host: the vocabulary shared by desired state, facts and plans.

use serde::Serialize;

mod per_role;
pub use per_role::PerRole;

/// Which host of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Server,
    Workstation,
}

impl Role {
    /// Every role, in the order plans list hosts.
    pub const ALL: [Role; 2] = [Role::Server, Role::Workstation];

    fn index(self) -> usize {
        match self {
            Role::Server => 0,
            Role::Workstation => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Workstation => "workstation",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing jprov wants on a host, in the order it must be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Account(Account),
    KeyPair(KeyPair),
    Files(FileGroup),
    Certificate(Certificate),
    Tunnel(TunnelProcess),
    /// Let the workstation user's systemd services run without a login session.
    Linger(String),
    /// A command run during apply because the facts say it is needed now.
    Command(Command),
    /// A systemd unit kept enabled and running.
    Unit(Unit),
}

/// A system account with no password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub home: String,
    pub create_home: bool,
    /// `/usr/sbin/nologin`, unless the account's keys carry a forced command (which sshd runs through the
    /// login shell).
    pub shell: String,
    /// An account several profiles share (the certificate account): the keys file whose `jprov:` lines
    /// are its users. `jprov destroy` removes it only when no other profile's line is left there.
    pub shared_keys: Option<String>,
}

/// An ed25519 key pair generated on the host; the private key never leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    pub path: String,
    pub owner: String,
    pub comment: String,
}

/// Files that are written together, validated together and then make one service reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileGroup {
    /// What the files are, for people: "sshd drop-in", "nginx site".
    pub label: String,
    pub files: Vec<ManagedFile>,
    pub links: Vec<Symlink>,
    pub validate: Option<Validation>,
    pub reload: Option<Service>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedFile {
    pub path: String,
    pub content: Content,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Mode for parent directories jprov has to create.
    pub dir_mode: u32,
    pub secrecy: Secrecy,
    /// `Some(tag)`: the file is shared (the user's authorized_keys, the certificate account's keys): jprov
    /// owns only the line ending in `tag` (`jprov:PROFILE`) and keeps every other line. `None`: jprov owns
    /// the whole file.
    pub line_tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Known(String),
    /// Depends on something another step makes during apply (a generated key, a new certificate).
    Pending(String),
}

/// How much of a file's content may be shown in plans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrecy {
    Public,
    /// Lines containing one of these markers have everything after the marker masked.
    MaskAfter(&'static [&'static str]),
    /// Nothing of the content is ever shown (private keys).
    Hidden,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symlink {
    pub path: String,
    pub target: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validation {
    Sshd,
    Nginx,
}

/// Serialized as its `as_str` name (scripts and the plan's JSON compare it to "ssh", "systemd-user").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Ssh,
    Nginx,
    /// systemd itself re-reading unit files (`systemctl [--user] daemon-reload`).
    Systemd(UnitScope),
}

impl Serialize for Service {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Which systemd instance a unit belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitScope {
    /// The system manager (`/etc/systemd/system`), driven as root.
    System,
    /// The login user's own manager (`~/.config/systemd/user`), driven as that user.
    User,
}

impl UnitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitScope::System => "system",
            UnitScope::User => "user",
        }
    }

    /// `systemctl` or `systemctl --user`.
    pub fn systemctl(self) -> &'static str {
        match self {
            UnitScope::System => "systemctl",
            UnitScope::User => "systemctl --user",
        }
    }
}

/// A systemd unit jprov keeps enabled and active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// `jprov-NAME-tunnel.service`.
    pub name: String,
    pub scope: UnitScope,
    /// Files whose change restarts the unit (its own unit file, the configuration it reads).
    pub restart_on: Vec<String>,
    /// Files the unit's runs write (the certificate copies the fetch timer's service makes): jprov's to
    /// remove with the unit.
    pub makes: Vec<String>,
    /// What the unit is, for people.
    pub label: String,
}

/// A command apply runs because the facts show it is needed (a certificate to fetch now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What it does, for people: "fetch the certificate from the server".
    pub label: String,
    pub argv: Vec<String>,
    pub reason: String,
}

impl Validation {
    /// The program that checks the configuration (`PROGRAM -t`); also its name in scripts.
    pub fn program(self) -> &'static str {
        match self {
            Validation::Sshd => "sshd",
            Validation::Nginx => "nginx",
        }
    }
}

impl Service {
    /// How this service's configuration is checked before it is reloaded.
    pub fn validation(self) -> Option<Validation> {
        match self {
            Service::Ssh => Some(Validation::Sshd),
            Service::Nginx => Some(Validation::Nginx),
            Service::Systemd(_) => None,
        }
    }

    /// Its name in scripts, the journal and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ssh => "ssh",
            Service::Nginx => "nginx",
            Service::Systemd(UnitScope::System) => "systemd",
            Service::Systemd(UnitScope::User) => "systemd-user",
        }
    }
}

/// A certificate jprov makes on this host with one command: certbot (ACME) or openssl (self-signed). It is
/// made when the host has none at `fullchain` or it expires within 30 days (the `certificates` fact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub domain: String,
    pub source: CertificateSource,
    /// The full command line (argv).
    pub command: Vec<String>,
    /// The certificate chain the command makes, for the plan and the facts.
    pub fullchain: String,
    /// Ensured (created, mode and owner set) before the command runs; the command runs in it.
    pub directory: Option<Directory>,
    /// The umask the command runs with.
    pub umask: u32,
    /// Files the command writes beside their final path, renamed into place once it succeeded, so a
    /// half-written key never sits at the final path.
    pub renames: Vec<Rename>,
    /// The service that reads the certificate and must reload to serve a new one (nginx; Jupyter is a
    /// unit restarted through `Unit::restart_on`).
    pub reload: Option<Service>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateSource {
    /// certbot, from an ACME CA (Let's Encrypt).
    Acme,
    /// openssl, on the host that terminates TLS.
    SelfSigned,
}

impl Certificate {
    /// What the command does, for people: "generate a self-signed certificate for jupyter.lan".
    pub fn how(&self) -> String {
        match self.source {
            CertificateSource::Acme => {
                format!("request a certificate for {} with certbot", self.domain)
            }
            CertificateSource::SelfSigned => {
                format!("generate a self-signed certificate for {}", self.domain)
            }
        }
    }

    /// The program, for error messages.
    pub fn program(&self) -> &'static str {
        match self.source {
            CertificateSource::Acme => "certbot",
            CertificateSource::SelfSigned => "openssl",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    pub path: String,
    pub mode: u32,
    pub owner: String,
    /// Empty: the owner's primary group.
    pub group: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub mode: u32,
}

/// An SSH tunnel process kept running by jprov (`apply --start-tunnel`, or `jprov tunnel` in the foreground).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelProcess {
    /// Account that runs it.
    pub user: String,
    pub argv: Vec<String>,
    /// The private key file in `argv` (`-i`), generated on the opener by apply.
    pub key_file: String,
    /// The pinned known_hosts file in `argv` (`UserKnownHostsFile`), written on the opener by apply.
    pub known_hosts: String,
    pub pid_file: String,
    /// Start it during apply (the user asked); otherwise only print it.
    pub start: bool,
}

/// What sshd must effectively do for a user once jprov's files are in place (checked with `sshd -T -C`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshdExpectation {
    pub user: String,
    pub keyword: &'static str,
    pub want: String,
}

impl SshdExpectation {
    /// Whether sshd's printed value means what we want (`sshd -T` prints `PermitListen 8888` as `*:8888`).
    pub fn is_met_by(&self, have: &str) -> bool {
        let normalize = |v: &str| -> Vec<String> {
            v.split_whitespace()
                .map(|t| t.trim_start_matches("*:").to_ascii_lowercase())
                .collect()
        };
        normalize(have) == normalize(&self.want)
    }
}

/// The sshd keywords jprov reads back, as an extended regex alternation.
pub const SSHD_KEYWORDS: &str =
    "gatewayports|allowtcpforwarding|permitlisten|permittty|x11forwarding|allowagentforwarding|authorizedkeysfile";
