//! The plan: every change jprov would make, per host, with the reason. A value that can be shown as text,
//! printed as versioned JSON (secrets redacted), and applied.

use crate::argv::{argv_digest, shell_words};
use crate::desired::{DesiredState, HostState};
use crate::diff;
use crate::facts::{Facts, FileFact};
use crate::resource::*;
use serde::Serialize;
use std::fmt;

pub mod of_profile;

/// Bumped when the JSON form changes incompatibly. 2: the `run-certbot` change became `obtain-certificate`
/// (with `source`: `acme` or `self-signed`).
pub const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub profile: String,
    pub method: String,
    /// Planned without contacting hosts: against "nothing there yet", or for a teardown "everything there".
    pub offline: bool,
    /// A teardown plan (`plan --destroy`, `jprov destroy`): its changes remove what apply set up.
    pub destroy: bool,
    pub hosts: Vec<HostPlan>,
    /// The tunnel, as its opener runs it.
    pub tunnel: TunnelSummary,
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

/// When a change runs, relative to the others of the same plan on every host: each round runs only the
/// changes of the lowest phase any host has left, so a phase starts once the earlier ones are done
/// everywhere.
pub mod phase {
    /// Teardown: stop the services and tunnels first, on every host (an account with a live session can't
    /// be removed; a tunnel should not outlive its peer's configuration).
    pub const STOP: u8 = 0;
    pub const MAIN: u8 = 1;
    /// Processes that need their peer configured (tunnels), and what must run after the last file is in
    /// place.
    pub const LATE: u8 = 2;
    /// Teardown: forget jprov's records, once everything else succeeded.
    pub const LAST: u8 = 3;
}

impl Change {
    /// See `phase`. Unit starts and restarts are late too: a restarted tunnel must find its peer already
    /// reloaded. The apply script of the round that writes a unit's files records the restart in the
    /// on-host journal first (`restarts_to_record`), so it is not lost between rounds or runs.
    pub fn phase(&self) -> u8 {
        match self {
            Change::StopUnit { .. } | Change::StopTunnel { .. } => phase::STOP,
            Change::StartTunnel { .. } | Change::RunCommand { .. } | Change::Unit { .. } => {
                phase::LATE
            }
            Change::Forget { .. } => phase::LAST,
            _ => phase::MAIN,
        }
    }

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

    pub fn host(&self, role: Role) -> &HostPlan {
        self.hosts
            .iter()
            .find(|h| h.role == role)
            .expect("both roles are always planned")
    }
}

/// Compare the desired state with the facts. `facts` is `None` offline ("nothing there yet").
pub fn compute(
    profile: &str,
    method: &str,
    desired: &DesiredState,
    facts: [(Role, Option<&Facts>); 2],
    addresses: [(Role, String); 2],
) -> Plan {
    let empty = Facts::default();
    assemble(
        profile,
        method,
        desired,
        facts,
        addresses,
        false,
        |host, facts, address| plan_host(host, facts.unwrap_or(&empty), address),
    )
}

/// A plan from one `plan_host` per host: `compute`'s for apply, `destroy::compute`'s for a teardown.
pub(crate) fn assemble(
    profile: &str,
    method: &str,
    desired: &DesiredState,
    facts: [(Role, Option<&Facts>); 2],
    addresses: [(Role, String); 2],
    destroy: bool,
    plan_host: impl Fn(&HostState, Option<&Facts>, String) -> HostPlan,
) -> Plan {
    let hosts = desired
        .hosts
        .iter()
        .map(|host| {
            let host_facts = facts
                .iter()
                .find(|(r, _)| *r == host.role)
                .and_then(|(_, f)| *f);
            let address = addresses
                .iter()
                .find(|(r, _)| *r == host.role)
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
            let mut host_plan = plan_host(host, host_facts, address);
            host_plan.changes.extend(host_facts.and_then(resolve_guard));
            host_plan.facts_digest = host_facts.map(Facts::managed_digest).unwrap_or_default();
            host_plan
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        profile: profile.to_string(),
        method: method.to_string(),
        offline: facts.iter().all(|(_, f)| f.is_none()),
        destroy,
        hosts,
        tunnel: TunnelSummary {
            opened_by: desired.tunnel_opener,
            user: desired.tunnel.user.clone(),
            command: shell_words(&desired.tunnel.argv),
            service: desired.tunnel_service.clone(),
            running: desired.tunnel_running.clone(),
        },
        jupyter_command: shell_words(&desired.jupyter_command),
        jupyter_service: desired.jupyter_service.clone(),
        jupyter_running: desired.jupyter_running.clone(),
    }
}

/// An armed guard left by an earlier apply is a pending change of its own, for apply and destroy alike:
/// unresolved, it would undo sshd files that may by now be exactly what the profile wants.
fn resolve_guard(facts: &Facts) -> Option<Change> {
    let guard = facts.guard?;
    let reason = if guard.ticking {
        "an earlier apply reloaded sshd and stopped before proving a fresh login; unless a login is proven, \
         its guard restores the sshd files that apply replaced"
    } else {
        "an earlier apply reloaded sshd and stopped before proving a fresh login; its guard can no longer \
         fire by itself (the host restarted, or its timer was stopped)"
    };
    Some(Change::ResolveGuard {
        ticking: guard.ticking,
        reason: reason.into(),
    })
}

/// The SHA-256 of what jprov writes at a path, as the host library's `path_digest` computes it of what is
/// there: the lockout guard restores only paths that still hold what an unproven apply wrote.
pub fn content_digest(content: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content))
}

/// `content_digest` of a symbolic link, as `path_digest` computes it.
pub fn link_digest(target: &str) -> String {
    content_digest(format!("link:{target}").as_bytes())
}

fn plan_host(host: &HostState, facts: &Facts, address: String) -> HostPlan {
    let mut changes = vec![];
    let mut notes = host.notes.clone();
    let mut problems = host.problems.clone();
    for item in &host.items {
        match item {
            Item::Account(a) => {
                if facts.accounts.get(&a.name) != Some(&true) {
                    changes.push(Change::CreateAccount {
                        name: a.name.clone(),
                        home: a.home.clone(),
                        shell: a.shell.clone(),
                        create_home: a.create_home,
                    });
                }
            }
            Item::KeyPair(k) => {
                if facts.public_key(&k.path).is_none() {
                    changes.push(Change::GenerateKey {
                        path: k.path.clone(),
                        owner: k.owner.clone(),
                        comment: k.comment.clone(),
                    });
                }
            }
            Item::Files(group) => {
                let files: Vec<FileChange> = group
                    .files
                    .iter()
                    .filter_map(|f| file_change(f, facts))
                    .collect();
                let links: Vec<LinkChange> = group
                    .links
                    .iter()
                    .filter_map(|l| link_change(l, facts))
                    .collect();
                if !files.is_empty() || !links.is_empty() {
                    changes.push(Change::WriteFiles {
                        label: group.label.clone(),
                        files,
                        links,
                        validate: group.validate,
                        reload: group.reload,
                    });
                }
            }
            Item::Certificate(c) => changes.push(Change::ObtainCertificate {
                domain: c.domain.clone(),
                source: c.source,
                how: c.how(),
                command: shell_words(&c.command),
                fullchain: c.fullchain.clone(),
                reason: match facts.certificates.get(&c.fullchain) {
                    Some(_) => "the certificate expires within 30 days".into(),
                    None => format!("no certificate for {} yet", c.domain),
                },
                certificate: c.clone(),
            }),
            Item::Tunnel(t) if t.start => {
                let digest = argv_digest(&t.argv);
                let reason = match facts.tunnels.get(&t.pid_file) {
                    Some(f) if f.running && f.argv_digest == digest => continue,
                    Some(f) if f.running => "the tunnel command changed: restart it",
                    _ => "the tunnel is not running",
                };
                changes.push(Change::StartTunnel {
                    user: t.user.clone(),
                    command: shell_words(&t.argv),
                    reason: reason.into(),
                    argv: t.argv.clone(),
                    pid_file: t.pid_file.clone(),
                });
            }
            Item::Tunnel(_) => {}
            Item::Linger(user)
                if facts.linger == Some(false) && facts.linger_by_sudo == Some(false) =>
            {
                problems.push(format!(
                    "systemd stops {user}'s services when {user} logs out unless lingering is on, and {user} may \
                     not turn it on (no polkit rule, no sudo for it). Ask an administrator to run once: \
                     sudo loginctl enable-linger {user} (or to allow exactly that in sudoers: \
                     {user} ALL=(root) NOPASSWD: /usr/bin/loginctl enable-linger {user}); then apply again."
                ));
            }
            Item::Linger(user) => {
                if facts.linger != Some(true) {
                    changes.push(Change::EnableLinger {
                        user: user.clone(),
                        reason:
                            "without it systemd stops the user's services when the user logs out"
                                .into(),
                    });
                }
            }
            Item::Command(c) => changes.push(Change::RunCommand {
                label: c.label.clone(),
                command: shell_words(&c.argv),
                reason: c.reason.clone(),
                argv: c.argv.clone(),
            }),
            Item::Unit(unit) => {
                if let Some(change) = unit_change(unit, facts, &changes, &mut notes) {
                    changes.push(change);
                }
            }
        }
    }
    changes.extend(pending_reloads(facts, &changes));
    // With sshd's files unchanged, what sshd does now is what it will do: check it against the intent.
    let sshd_changes = changes.iter().any(|c| {
        matches!(
            c,
            Change::WriteFiles {
                validate: Some(Validation::Sshd),
                ..
            }
        )
    });
    if !sshd_changes && !facts.sshd.effective.is_empty() {
        problems.extend(sshd_problems(&host.sshd_intent, &facts.sshd));
    }
    HostPlan {
        role: host.role,
        address,
        changes,
        notes,
        checks: vec![],
        problems,
        sshd_intent: host.sshd_intent.clone(),
        facts_digest: String::new(),
    }
}

/// Files written by an apply (or destroy) that stopped before its reload look converged; the on-host
/// journal remembers the reload. Those not already done by one of `changes`.
pub(crate) fn pending_reloads(facts: &Facts, changes: &[Change]) -> Vec<Change> {
    [
        Service::Ssh,
        Service::Nginx,
        Service::Systemd(UnitScope::System),
        Service::Systemd(UnitScope::User),
    ]
    .into_iter()
    .filter(|service| {
        facts.pending_reloads.iter().any(|s| s == service.as_str())
            && !changes.iter().any(|c| c.reloads() == Some(*service))
    })
    .map(|service| Change::Reload {
        service,
        reason: "an earlier run wrote its files but stopped before reloading".into(),
    })
    .collect()
}

/// The restarts a host's plan will do in its late round: the apply script of every round records them in
/// the on-host journal before it writes anything, and the restart clears its record.
pub fn restarts_to_record(host: &HostPlan) -> Vec<String> {
    host.changes
        .iter()
        .filter_map(|c| match c {
            Change::Unit {
                name,
                action: Some(UnitAction::Restart),
                ..
            } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// What a unit needs: enabling, a start (not running), a restart (a file it reads changes in this plan,
/// or an earlier apply recorded one it did not get to).
fn unit_change(
    unit: &Unit,
    facts: &Facts,
    changes: &[Change],
    notes: &mut Vec<String>,
) -> Option<Change> {
    let fact = facts.unit(unit.scope, &unit.name);
    let enabled = fact.is_some_and(|f| f.enabled == "enabled");
    let state = fact.map_or("unknown", |f| f.active.as_str());
    // `activating` is also a unit waiting out RestartSec after a failure: systemd is on it.
    let running = matches!(state, "active" | "activating" | "reloading");
    if state == "activating" {
        notes.push(format!(
            "{} ({}) is starting or waiting to restart after a failure: `{} status {}` shows why",
            unit.label,
            unit.name,
            unit.scope.systemctl(),
            unit.name
        ));
    }
    let changed: Vec<&str> = changes
        .iter()
        .flat_map(|c| match c {
            Change::WriteFiles { files, .. } => files
                .iter()
                // Content only: a fixed mode or owner changes nothing the service reads.
                .filter(|f| matches!(f.action, FileAction::Create | FileAction::Update))
                .map(|f| f.path.as_str())
                .collect(),
            Change::ObtainCertificate { fullchain, .. } => vec![fullchain.as_str()],
            _ => vec![],
        })
        .filter(|path| unit.restart_on.iter().any(|p| p == path))
        .collect();
    let recorded = facts.pending_restarts.contains(&unit.name);
    let (action, why) = match (running, changed.is_empty()) {
        (false, _) if state == "failed" => (Some(UnitAction::Start), "it has failed".into()),
        (false, _) => (Some(UnitAction::Start), "it is not running".into()),
        (true, false) => (
            Some(UnitAction::Restart),
            format!("{} changes", changed.join(" and ")),
        ),
        (true, true) if recorded => (
            Some(UnitAction::Restart),
            "an earlier apply changed what it reads and had not restarted it yet".into(),
        ),
        (true, true) => (None, String::new()),
    };
    if enabled && action.is_none() {
        return None;
    }
    let reason = match (enabled, action) {
        (false, None) => "it is not enabled (it would not start at boot)".to_string(),
        (false, Some(_)) => format!("it is not enabled, and {why}"),
        (true, _) => why,
    };
    Some(Change::Unit {
        name: unit.name.clone(),
        scope: unit.scope,
        label: unit.label.clone(),
        enable: !enabled,
        action,
        reason,
    })
}

/// Where sshd's effective settings differ from the intent, and which config lines are responsible.
pub fn sshd_problems(intent: &[SshdExpectation], view: &crate::facts::SshdView) -> Vec<String> {
    intent
        .iter()
        .filter_map(|e| {
            let have = view.effective.get(&(e.user.clone(), e.keyword.to_string()))?;
            if e.is_met_by(have) {
                return None;
            }
            let setters: Vec<&str> = view
                .sources
                .iter()
                .filter(|line| {
                    let text = line.splitn(3, ':').nth(2).unwrap_or("");
                    text.trim_start().to_ascii_lowercase().starts_with(e.keyword)
                })
                .map(String::as_str)
                .collect();
            let hint = match setters.first() {
                Some(_) => format!(
                    " Lines setting {}, in the order sshd reads them: {}. Among Match blocks that apply to {}, \
                     the first value read wins: remove the earlier one or make its Match exclude {}.",
                    e.keyword,
                    setters.join(" | "),
                    e.user,
                    e.user
                ),
                None => String::new(),
            };
            Some(format!(
                "sshd gives {} `{} {}`, but jprov needs `{} {}`.{hint}",
                e.user, e.keyword, have, e.keyword, e.want
            ))
        })
        .collect()
}

fn file_change(f: &ManagedFile, facts: &Facts) -> Option<FileChange> {
    let mode = format!("{:04o}", f.mode);
    let owner = if f.group.is_empty() {
        f.owner.clone()
    } else {
        format!("{}:{}", f.owner, f.group)
    };
    let change = |action, reason: String, diff: String| FileChange {
        path: f.path.clone(),
        action,
        reason,
        mode: mode.clone(),
        owner: owner.clone(),
        diff,
        file: f.clone(),
    };
    let current = facts.file(&f.path);
    let Content::Known(new) = &f.content else {
        let Content::Pending(what) = &f.content else {
            unreachable!()
        };
        return Some(change(
            FileAction::Pending,
            format!("written once jprov has {what}"),
            String::new(),
        ));
    };
    match current {
        FileFact::Missing => Some(change(
            FileAction::Create,
            "missing".into(),
            diff::unified(&f.path, None, new, f.secrecy),
        )),
        FileFact::Symlink { .. } | FileFact::Other(_) => Some(change(
            FileAction::Update,
            "something other than a regular file is there; it will be replaced".into(),
            diff::unified(&f.path, None, new, f.secrecy),
        )),
        FileFact::File {
            mode: have_mode,
            owner: have_owner,
            group: have_group,
            content,
        } => {
            let old = String::from_utf8_lossy(content);
            if old != new.as_str() {
                return Some(change(
                    FileAction::Update,
                    "content differs".into(),
                    diff::unified(&f.path, Some(&old), new, f.secrecy),
                ));
            }
            let mut wrong = vec![];
            if *have_mode != f.mode {
                wrong.push(format!("mode {have_mode:04o} -> {:04o}", f.mode));
            }
            if *have_owner != f.owner || (!f.group.is_empty() && *have_group != f.group) {
                wrong.push(format!("owner {have_owner}:{have_group} -> {owner}"));
            }
            (!wrong.is_empty()).then(|| change(FileAction::Fix, wrong.join(", "), String::new()))
        }
    }
}

fn link_change(l: &Symlink, facts: &Facts) -> Option<LinkChange> {
    let reason = match facts.file(&l.path) {
        FileFact::Symlink { target } if *target == l.target => return None,
        FileFact::Symlink { target } => format!("points to {target}"),
        FileFact::Missing => "missing".into(),
        _ => "something other than a link is there".into(),
    };
    Some(LinkChange {
        path: l.path.clone(),
        target: l.target.clone(),
        reason,
    })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.offline, self.destroy) {
            (false, _) => "",
            (true, false) => " (offline: against hosts with nothing on them yet)",
            (true, true) => " (offline: against hosts with everything on them, all made by jprov)",
        };
        let what = if self.destroy { "Destroy plan" } else { "Plan" };
        writeln!(
            f,
            "{what} for profile {} ({}){mode}",
            self.profile, self.method
        )?;
        for host in &self.hosts {
            writeln!(f)?;
            writeln!(f, "{} {}", host.role, host.address)?;
            if host.changes.is_empty() {
                writeln!(f, "  no changes")?;
            }
            for change in &host.changes {
                write_change(f, change)?;
            }
            for note in &host.notes {
                writeln!(f, "  note: {note}")?;
            }
            for check in &host.checks {
                writeln!(f, "  checked: {check}")?;
            }
            for problem in &host.problems {
                writeln!(f, "  PROBLEM: {problem}")?;
            }
        }
        writeln!(f)?;
        if self.destroy {
            return match self.change_count() {
                0 => writeln!(
                    f,
                    "Nothing to remove: nothing jprov set up for the profile is on the hosts."
                ),
                n => writeln!(f, "{n} change{} to apply.", if n == 1 { "" } else { "s" }),
            };
        }
        writeln!(
            f,
            "Tunnel, opened by the {} as {}:",
            self.tunnel.opened_by, self.tunnel.user
        )?;
        writeln!(f, "  {}", self.tunnel.command)?;
        if let Some(service) = &self.tunnel.service {
            writeln!(f, "  as a service: {service}")?;
        }
        writeln!(f, "Jupyter on the workstation: {}", self.jupyter_command)?;
        if let Some(service) = &self.jupyter_service {
            writeln!(f, "  as a service: {service}")?;
        }
        writeln!(f)?;
        if self.has_problems() {
            writeln!(
                f,
                "The plan has problems (PROBLEM above): apply would not give the intended result."
            )?;
        }
        match self.change_count() {
            0 if self.has_problems() => writeln!(
                f,
                "No changes to files, but the hosts do not do what the profile wants."
            ),
            0 => writeln!(f, "No changes: the hosts match the profile."),
            n => writeln!(f, "{n} change{} to apply.", if n == 1 { "" } else { "s" }),
        }
    }
}

fn write_change(f: &mut fmt::Formatter<'_>, change: &Change) -> fmt::Result {
    match change {
        Change::CreateAccount {
            name, home, shell, ..
        } => {
            let shell = if shell.ends_with("nologin") {
                "no login shell".to_string()
            } else {
                format!("shell {shell} for its keys' forced commands")
            };
            writeln!(
                f,
                "  + create account {name} (home {home}, no password, {shell})"
            )
        }
        Change::GenerateKey { path, owner, .. } => {
            writeln!(f, "  + generate ed25519 key pair {path} (owner {owner}; the private key stays on this host)")
        }
        Change::WriteFiles {
            label,
            files,
            links,
            validate,
            reload,
        } => {
            writeln!(f, "  ~ {label}:")?;
            for file in files {
                let sign = match file.action {
                    FileAction::Create => "+ create",
                    FileAction::Update => "~ update",
                    FileAction::Fix => "~ fix",
                    FileAction::Pending => "+ later",
                };
                writeln!(
                    f,
                    "    {sign} {} ({} {}): {}",
                    file.path, file.mode, file.owner, file.reason
                )?;
                f.write_str(&file.diff)?;
            }
            for link in links {
                writeln!(
                    f,
                    "    + link {} -> {}: {}",
                    link.path, link.target, link.reason
                )?;
            }
            if let Some(v) = validate {
                writeln!(
                    f,
                    "    then validate with `{} -t` (the previous files are restored if it fails)",
                    v.program()
                )?;
            }
            match reload {
                Some(Service::Systemd(scope)) => {
                    writeln!(f, "    then {} daemon-reload", scope.systemctl())?
                }
                Some(s) => writeln!(
                    f,
                    "    then reload {} (a reload, never a restart)",
                    s.as_str()
                )?,
                None => {}
            }
            Ok(())
        }
        Change::Reload { service, reason } => {
            writeln!(f, "  ! validate and reload {} (pending)", service.as_str())?;
            writeln!(f, "    because {reason}")
        }
        Change::ResolveGuard { reason, .. } => {
            writeln!(
                f,
                "  ! prove a fresh login, then disarm the lockout guard (pending; restored at once if the login fails)"
            )?;
            writeln!(f, "    because {reason}")
        }
        Change::ObtainCertificate {
            how,
            command,
            fullchain,
            reason,
            certificate,
            ..
        } => {
            writeln!(f, "  ! {how}: {command}")?;
            writeln!(f, "    making {fullchain}, because {reason}")?;
            if let Some(service) = certificate.reload {
                writeln!(
                    f,
                    "    then reload {} so it serves the new certificate",
                    service.as_str()
                )?;
            }
            Ok(())
        }
        Change::StartTunnel {
            user,
            command,
            reason,
            ..
        } => {
            writeln!(f, "  ! start tunnel as {user}: {command}")?;
            writeln!(f, "    because {reason}")
        }
        Change::EnableLinger { user, reason } => {
            writeln!(
                f,
                "  ! enable lingering for {user} (loginctl enable-linger; tried as {user}, then with sudo -n)"
            )?;
            writeln!(f, "    because {reason}")
        }
        Change::RunCommand {
            label,
            command,
            reason,
            ..
        } => {
            writeln!(f, "  ! {label}: {command}")?;
            writeln!(f, "    because {reason}")
        }
        Change::Unit {
            name,
            scope,
            label,
            enable,
            action,
            reason,
        } => {
            let verbs: Vec<&str> = enable
                .then_some("enable")
                .into_iter()
                .chain(action.map(UnitAction::as_str))
                .collect();
            let commands: Vec<String> = verbs
                .iter()
                .map(|verb| format!("{} {verb} {name}", scope.systemctl()))
                .collect();
            writeln!(
                f,
                "  ! {} {label}: {}",
                verbs.join(" and "),
                commands.join("; ")
            )?;
            writeln!(f, "    because {reason}")
        }
        Change::StopUnit {
            name,
            scope,
            label,
            reason,
        } => {
            writeln!(
                f,
                "  - stop and disable {label}: {} disable --now {name}",
                scope.systemctl()
            )?;
            writeln!(f, "    because {reason}")
        }
        Change::StopTunnel {
            user,
            pid_file,
            running,
            reason,
        } => {
            let what = if *running {
                format!("stop the tunnel running as {user}, then remove")
            } else {
                "remove".to_string()
            };
            writeln!(f, "  - {what} its pid file {pid_file} and log")?;
            writeln!(f, "    because {reason}")
        }
        Change::RemoveFiles {
            label,
            files,
            validate,
            reload,
            dirs,
        } => {
            writeln!(f, "  - {label}:")?;
            for file in files {
                let what = match &file.how {
                    Removal::Delete => format!("- delete {}", file.path),
                    Removal::Restore { .. } => format!("~ restore the original {}", file.path),
                    Removal::RemoveLine { tag, .. } => {
                        format!("~ remove the line tagged {tag} from {}", file.path)
                    }
                };
                writeln!(f, "    {what}: {}", file.reason)?;
                f.write_str(&file.diff)?;
            }
            if let Some(v) = validate {
                writeln!(
                    f,
                    "    then validate with `{} -t` (the files are put back if it fails)",
                    v.program()
                )?;
            }
            match reload {
                Some(Service::Ssh) => writeln!(
                    f,
                    "    then reload ssh (a reload, never a restart), under the lockout guard: a fresh login \
                     must work, or the files are put back"
                )?,
                Some(Service::Systemd(scope)) => {
                    writeln!(f, "    then {} daemon-reload", scope.systemctl())?
                }
                Some(s) => writeln!(f, "    then reload {}", s.as_str())?,
                None => {}
            }
            if !dirs.is_empty() {
                // Directories alone (certbot's webroot) come first, not "then".
                let then = if files.is_empty() { "" } else { "then " };
                writeln!(
                    f,
                    "    {then}remove these directories if empty: {}",
                    dirs.join(", ")
                )?;
            }
            Ok(())
        }
        Change::RemoveCertificate {
            domain,
            files,
            dirs,
            reason,
        } => {
            writeln!(
                f,
                "  - delete the self-signed certificate for {domain}: {}",
                files.join(", ")
            )?;
            if !dirs.is_empty() {
                writeln!(
                    f,
                    "    then remove these directories if empty: {}",
                    dirs.join(", ")
                )?;
            }
            writeln!(f, "    because {reason}")
        }
        Change::RemoveKey { path, reason } => {
            writeln!(f, "  - delete the key pair {path} and {path}.pub")?;
            writeln!(f, "    because {reason}")
        }
        Change::RemoveAccount {
            name,
            remove_home,
            home,
            reason,
            ..
        } => {
            if *remove_home {
                writeln!(
                    f,
                    "  - delete account {name} and its home {home}: userdel -r {name}"
                )?;
            } else {
                writeln!(f, "  - delete account {name}: userdel {name}")?;
            }
            writeln!(f, "    because {reason}")
        }
        Change::Forget { reason } => {
            writeln!(
                f,
                "  - forget the profile: remove jprov's records of it on this host (the originals and \
                 backups apply kept, the journal)"
            )?;
            writeln!(f, "    because {reason}")
        }
    }
}
