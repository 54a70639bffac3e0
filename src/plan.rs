//! The plan: every change jprov would make, per host, with the reason. A value that can be shown as text,
//! printed as versioned JSON (secrets redacted), and applied.

use crate::resource::*;
use serde::Serialize;

mod compute;
pub mod destroy;
pub mod of_profile;
pub mod phase;
mod text;

pub(crate) use compute::{assemble, pending_reloads};
pub use compute::{compute, content_digest, link_digest, restarts_to_record, sshd_problems};
pub use text::step_label;
pub(crate) use text::write_reach;

/// Bumped when the JSON form changes incompatibly. 2: the `run-certbot` change became `obtain-certificate`
/// (with `source`: `acme` or `self-signed`). 3: `tunnel` may be `null` (methods without a server), and
/// `reach` says how people reach Jupyter.
pub const FORMAT_VERSION: u32 = 3;

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub profile: String,
    pub method: String,
    /// Planned without contacting hosts: against "nothing there yet", or for a teardown "everything there".
    pub offline: bool,
    /// A teardown plan (`plan --destroy`, `jprov destroy`): its changes remove what apply set up.
    pub destroy: bool,
    /// Listed in role order (the server first), each naming its role.
    pub hosts: PerRole<HostPlan>,
    /// The tunnel between the hosts, as its opener runs it; `None` for the methods without a server.
    pub tunnel: Option<TunnelSummary>,
    /// How people reach Jupyter: the URL, and what to do or tell them first.
    pub reach: crate::desired::Reach,
    /// How to start Jupyter on the workstation.
    pub jupyter_command: String,
    /// `systemctl --user status jprov-NAME-jupyter.service` when Jupyter runs as a service.
    pub jupyter_service: Option<String>,
    /// Without systemd: what shows Jupyter already running (`DesiredState::jupyter_running`).
    pub jupyter_running: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TunnelSummary {
    pub opened_by: Role,
    pub user: String,
    pub command: String,
    /// `systemctl status jprov-NAME-tunnel.service` (or `--user`) when the tunnel runs as a service.
    pub service: Option<String>,
    /// Without systemd: what shows the tunnel already up (`DesiredState::tunnel_running`).
    pub running: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostPlan {
    pub role: Role,
    /// user@host:port, or "local".
    pub address: String,
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    /// Validations done on the host during plan ("`sshd -t` passes with the new files").
    pub checks: Vec<String>,
    /// Why the result would not be what the profile wants (invalid candidates, shadowed settings).
    pub problems: Vec<String>,
    #[serde(skip)]
    pub sshd_intent: Vec<SshdExpectation>,
    /// `Facts::managed_digest` of the host when planned; empty offline.
    pub facts_digest: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    CreateAccount {
        name: String,
        home: String,
        shell: String,
        #[serde(skip)]
        create_home: bool,
    },
    GenerateKey {
        path: String,
        owner: String,
        #[serde(skip)]
        comment: String,
    },
    WriteFiles {
        label: String,
        files: Vec<FileChange>,
        links: Vec<LinkChange>,
        validate: Option<Validation>,
        reload: Option<Service>,
    },
    /// Make a certificate on this host: certbot (ACME) or openssl (self-signed).
    ObtainCertificate {
        domain: String,
        source: CertificateSource,
        /// For people: "generate a self-signed certificate for DOMAIN".
        how: String,
        command: String,
        /// Where the certificate chain ends up.
        fullchain: String,
        reason: String,
        #[serde(skip)]
        certificate: Certificate,
    },
    /// A reload an interrupted apply left pending (recorded in the on-host journal).
    Reload { service: Service, reason: String },
    /// An earlier apply armed the lockout guard and never disarmed it: apply proves a fresh login, then
    /// disarms it (or, if the login fails, has it restore at once). Not a script step: the engine does it
    /// after the round's scripts, since the proof is a new connection from where jprov runs.
    ResolveGuard {
        /// Its timer or sleeper still waits to fire (see `facts::GuardFact`).
        ticking: bool,
        reason: String,
    },
    StartTunnel {
        user: String,
        command: String,
        reason: String,
        #[serde(skip)]
        argv: Vec<String>,
        #[serde(skip)]
        pid_file: String,
    },
    /// `loginctl enable-linger`: the user's services keep running without a login session.
    EnableLinger { user: String, reason: String },
    RunCommand {
        label: String,
        command: String,
        reason: String,
        #[serde(skip)]
        argv: Vec<String>,
    },
    /// Enable a systemd unit and/or start or restart it.
    Unit {
        name: String,
        scope: UnitScope,
        label: String,
        enable: bool,
        action: Option<UnitAction>,
        reason: String,
    },
    // Teardown (`jprov destroy`), planned by `destroy::compute`.
    /// `systemctl [--user] disable --now` a unit jprov installed (its file goes with its file group).
    StopUnit {
        name: String,
        scope: UnitScope,
        label: String,
        reason: String,
    },
    /// Stop a tunnel process jprov started (`apply --start-tunnel`) and remove its pid file and log.
    StopTunnel {
        user: String,
        pid_file: String,
        running: bool,
        reason: String,
    },
    /// Undo a file group: delete what jprov created, restore what it replaced, remove its line from shared
    /// files; then validate and reload as apply does (restoring the group if validation fails).
    RemoveFiles {
        label: String,
        files: Vec<FileRemoval>,
        validate: Option<Validation>,
        reload: Option<Service>,
        /// Directories jprov named (`jprov...`) that held the files: removed if empty afterwards.
        dirs: Vec<String>,
    },
    /// Delete a certificate jprov generated (self-signed) and its key.
    RemoveCertificate {
        domain: String,
        files: Vec<String>,
        dirs: Vec<String>,
        reason: String,
    },
    /// Delete a key pair jprov generated (`PATH` and `PATH.pub`).
    RemoveKey { path: String, reason: String },
    RemoveAccount {
        name: String,
        /// `userdel -r`: the home jprov created with the account goes too.
        remove_home: bool,
        home: String,
        reason: String,
        /// A shared account: removed only if no `jprov:` line is left in this keys file (checked again on
        /// the host).
        shared_keys: Option<String>,
    },
    /// Remove jprov's own records of the profile on the host (backups, originals, journal): the last step,
    /// once nothing else is left on any host.
    Forget { reason: String },
}

/// One path of a `RemoveFiles` change.
#[derive(Clone, Debug, Serialize)]
pub struct FileRemoval {
    pub path: String,
    #[serde(flatten)]
    pub how: Removal,
    pub reason: String,
    /// Unified diff from what is there to what will be (restores and line removals), secrets masked.
    pub diff: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Removal {
    /// Delete the file or link (jprov created it).
    Delete,
    /// Put back what was there before apply first wrote the path (kept on the host by apply).
    Restore {
        /// The original's text when it was a regular file (for plan-time validation).
        #[serde(skip)]
        original: Option<String>,
    },
    /// A shared file: write it back without jprov's line; every other line stays byte for byte.
    RemoveLine {
        tag: String,
        /// The file as it will be (content, and the mode and owner it has now).
        #[serde(skip)]
        file: ManagedFile,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitAction {
    Start,
    Restart,
}

impl UnitAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitAction::Start => "start",
            UnitAction::Restart => "restart",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileAction {
    Create,
    Update,
    /// Mode or owner only.
    Fix,
    /// Will be written once another step has made its content.
    Pending,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    pub action: FileAction,
    pub reason: String,
    pub mode: String,
    pub owner: String,
    /// Unified diff, secrets masked.
    pub diff: String,
    #[serde(skip)]
    pub file: ManagedFile,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkChange {
    pub path: String,
    pub target: String,
    pub reason: String,
}

impl Change {
    /// The service this change reloads after writing or removing its files.
    pub fn reloads(&self) -> Option<Service> {
        match self {
            Change::WriteFiles { reload, .. } | Change::RemoveFiles { reload, .. } => *reload,
            _ => None,
        }
    }

    /// Whether apply can do this change now (its content is known).
    pub fn is_actionable(&self) -> bool {
        match self {
            Change::WriteFiles { files, links, .. } => {
                !links.is_empty()
                    || files
                        .iter()
                        .any(|f| !matches!(f.action, FileAction::Pending))
            }
            _ => true,
        }
    }
}

impl Plan {
    pub fn change_count(&self) -> usize {
        self.hosts.iter().map(|h| h.changes.len()).sum()
    }

    pub fn has_changes(&self) -> bool {
        self.change_count() > 0
    }

    pub fn has_problems(&self) -> bool {
        self.hosts.iter().any(|h| !h.problems.is_empty())
    }

    /// The plan of a host the profile has (panics for one it has not).
    pub fn host(&self, role: Role) -> &HostPlan {
        &self.hosts[role]
    }
}
