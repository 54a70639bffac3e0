//! What jprov manages on a host: the vocabulary shared by desired state, facts and plans.

use serde::Serialize;

/// Which host of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Server,
    Workstation,
}

impl Role {
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
}

/// A system account with no password and no login shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub home: String,
    pub create_home: bool,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Ssh,
    Nginx,
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
    pub fn validation(self) -> Validation {
        match self {
            Service::Ssh => Validation::Sshd,
            Service::Nginx => Validation::Nginx,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ssh => "ssh",
            Service::Nginx => "nginx",
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

/// An SSH tunnel process kept running by jprov (`apply --start-tunnel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelProcess {
    /// Account that runs it.
    pub user: String,
    pub argv: Vec<String>,
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
