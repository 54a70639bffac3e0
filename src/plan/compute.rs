//! Computing a plan: the desired state compared with the facts, host by host.

use super::*;
use crate::argv::{argv_digest, shell_words};
use crate::desired::{DesiredState, HostState, World};
use crate::diff;
use crate::facts::{Facts, FileFact};

/// Compare the desired state with the facts. Without facts (offline): "nothing there yet".
pub fn compute(
    profile: &str,
    method: &str,
    desired: &DesiredState,
    facts: World,
    addresses: &PerRole<String>,
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
    facts: World,
    addresses: &PerRole<String>,
    destroy: bool,
    plan_host: impl Fn(&HostState, Option<&Facts>, String) -> HostPlan,
) -> Plan {
    let hosts = desired
        .hosts
        .entries()
        .map(|(role, host)| {
            let host_facts = facts.get(role).copied();
            let address = addresses.get(role).cloned().unwrap_or_default();
            let mut host_plan = plan_host(host, host_facts, address);
            host_plan.changes.extend(host_facts.and_then(resolve_guard));
            host_plan.facts_digest = host_facts.map(Facts::managed_digest).unwrap_or_default();
            (role, host_plan)
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        profile: profile.to_string(),
        method: method.to_string(),
        offline: facts.is_empty(),
        destroy,
        hosts,
        tunnel: desired.tunnel.as_ref().map(|tunnel| TunnelSummary {
            opened_by: tunnel.opener,
            user: tunnel.process.user.clone(),
            command: shell_words(&tunnel.process.argv),
            service: desired.tunnel_service.clone(),
            running: desired.tunnel_running.clone(),
        }),
        reach: desired.reach.clone(),
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
        let change = match item {
            Item::Account(a) => account_change(a, facts),
            Item::KeyPair(k) => key_change(k, facts),
            Item::Files(group) => files_change(group, facts),
            Item::Certificate(c) => Some(certificate_change(c, facts)),
            Item::Tunnel(t) => tunnel_change(t, facts),
            Item::Linger(user) => match linger_change(user, facts) {
                Ok(change) => change,
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            },
            Item::Command(c) => Some(Change::RunCommand {
                label: c.label.clone(),
                command: shell_words(&c.argv),
                reason: c.reason.clone(),
                argv: c.argv.clone(),
            }),
            Item::Unit(unit) => unit_change(unit, facts, &changes, &mut notes),
        };
        changes.extend(change);
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

fn account_change(a: &Account, facts: &Facts) -> Option<Change> {
    (facts.accounts.get(&a.name) != Some(&true)).then(|| Change::CreateAccount {
        name: a.name.clone(),
        home: a.home.clone(),
        shell: a.shell.clone(),
        create_home: a.create_home,
    })
}

fn key_change(k: &KeyPair, facts: &Facts) -> Option<Change> {
    facts
        .public_key(&k.path)
        .is_none()
        .then(|| Change::GenerateKey {
            path: k.path.clone(),
            owner: k.owner.clone(),
            comment: k.comment.clone(),
        })
}

/// The group's files and links that differ from what is there.
fn files_change(group: &FileGroup, facts: &Facts) -> Option<Change> {
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
    if files.is_empty() && links.is_empty() {
        return None;
    }
    Some(Change::WriteFiles {
        label: group.label.clone(),
        files,
        links,
        validate: group.validate,
        reload: group.reload,
    })
}

/// The desired state holds a certificate only when one is due (missing, or expiring within 30 days).
fn certificate_change(c: &Certificate, facts: &Facts) -> Change {
    Change::ObtainCertificate {
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
    }
}

/// A tunnel apply starts (`--start-tunnel`) when it is not running, or runs an older command.
fn tunnel_change(t: &TunnelProcess, facts: &Facts) -> Option<Change> {
    if !t.start {
        return None;
    }
    let digest = argv_digest(&t.argv);
    let reason = match facts.tunnels.get(&t.pid_file) {
        Some(f) if f.running && f.argv_digest == digest => return None,
        Some(f) if f.running => "the tunnel command changed: restart it",
        _ => "the tunnel is not running",
    };
    Some(Change::StartTunnel {
        user: t.user.clone(),
        command: shell_words(&t.argv),
        reason: reason.into(),
        argv: t.argv.clone(),
        pid_file: t.pid_file.clone(),
    })
}

/// Lingering to turn on, or (`Err`) the problem when the user may not turn it on.
fn linger_change(user: &str, facts: &Facts) -> Result<Option<Change>, String> {
    if facts.linger == Some(false) && facts.linger_by_sudo == Some(false) {
        return Err(format!(
            "systemd stops {user}'s services when {user} logs out unless lingering is on, and {user} may \
             not turn it on (no polkit rule, no sudo for it). Ask an administrator to run once: \
             sudo loginctl enable-linger {user} (or to allow exactly that in sudoers: \
             {user} ALL=(root) NOPASSWD: /usr/bin/loginctl enable-linger {user}); then apply again."
        ));
    }
    Ok((facts.linger != Some(true)).then(|| Change::EnableLinger {
        user: user.to_string(),
        reason: "without it systemd stops the user's services when the user logs out".into(),
    }))
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
