//! Teardown (`jprov destroy`, `plan --destroy`): what to stop, delete, restore and reload so that nothing
//! jprov set up for a profile is left on its hosts.
//!
//! Planned from the same desired state apply works from: `desired::build` with `Options::destroy` (every
//! item apply may have made, a certificate that is not due included), walked item by item and compared with
//! the facts. There is no second list of paths. Offline (no facts), hosts are assumed to hold everything,
//! all of it made by jprov. Pure, like apply's plan.
//!
//! What apply made and what it replaced is known from its records on the host: the first time apply writes
//! a path it keeps what was there (`original/NAME`, or `NAME.absent` when nothing was), and it records each
//! account it creates. A path or account without such a record is not jprov's and is left alone.

use crate::desired::{
    has_jprov_tag, is_tagged, without_tagged_line, DesiredState, HostState, World,
};
use crate::diff;
use crate::facts::{Facts, FileFact};
use crate::plan::{self, Change, FileRemoval, HostPlan, Plan, Removal};
use crate::resource::*;

/// The teardown plan of `desired` (built with `Options::destroy`); without facts offline.
pub fn compute(
    profile: &str,
    method: &str,
    desired: &DesiredState,
    facts: World,
    addresses: &PerRole<String>,
) -> Plan {
    plan::assemble(profile, method, desired, facts, addresses, true, plan_host)
}

/// One host's teardown, in the order it runs: stop services and tunnels (a round of their own, on every
/// host), then files (restore or delete, validate, reload), certificates, keys and accounts, and last
/// (again a round of its own) jprov's records.
pub fn plan_host(host: &HostState, facts: Option<&Facts>, address: String) -> HostPlan {
    let mut stops = vec![];
    let mut removals = vec![];
    let mut later = vec![];
    let mut accounts = vec![];
    let mut notes = vec![];
    for item in &host.items {
        match item {
            Item::Unit(unit) if unit_file(host, unit).is_some() => {
                stops.extend(stop_unit(unit, facts));
                removals.extend(remove_made(unit, facts));
            }
            // Not jprov's unit (Debian's certbot.timer): never touched.
            Item::Unit(_) => {}
            Item::Tunnel(tunnel) => stops.extend(stop_tunnel(tunnel, facts)),
            Item::Files(group) => removals.extend(remove_group(group, facts, &mut notes)),
            Item::Certificate(certificate) => {
                later.extend(remove_certificate(certificate, facts, &mut notes))
            }
            Item::KeyPair(key) => later.extend(remove_key(key, facts)),
            Item::Account(account) => {
                accounts.extend(remove_account(host, account, facts, &mut notes))
            }
            Item::Linger(user) => {
                if facts.map_or(true, |f| f.linger == Some(true)) {
                    notes.push(format!(
                        "left as is: lingering for {user} (it may have been on before jprov); \
                         `loginctl disable-linger {user}` turns it off"
                    ));
                }
            }
            // Commands run because apply needs them now (fetching a certificate): nothing to undo.
            Item::Command(_) => {}
        }
    }
    let mut changes = stops;
    changes.extend(removals);
    if let Some(facts) = facts {
        let pending = plan::pending_reloads(facts, &changes);
        changes.extend(pending);
    }
    changes.extend(later);
    changes.extend(accounts);
    if facts.map_or(true, |f| f.state) {
        changes.push(Change::Forget {
            reason:
                "they are the last thing jprov left for the profile once everything else is gone \
                     from every host"
                    .into(),
        });
    }
    HostPlan {
        role: host.role,
        address,
        changes,
        notes,
        checks: vec![],
        problems: vec![],
        sshd_intent: vec![],
        facts_digest: String::new(),
    }
}

/// The unit file jprov manages for `unit`, if any (Debian's `certbot.timer` has none: never touched).
fn unit_file<'a>(host: &'a HostState, unit: &Unit) -> Option<&'a ManagedFile> {
    host.items.iter().find_map(|item| match item {
        Item::Files(group) if group.reload == Some(Service::Systemd(unit.scope)) => group
            .files
            .iter()
            .find(|f| f.path.rsplit('/').next() == Some(unit.name.as_str())),
        _ => None,
    })
}

fn stop_unit(unit: &Unit, facts: Option<&Facts>) -> Option<Change> {
    let reason = match facts {
        None => "jprov installed it".to_string(),
        Some(facts) => {
            let fact = facts.unit(unit.scope, &unit.name)?;
            let enabled = fact.enabled.starts_with("enabled") || fact.enabled.starts_with("linked");
            let active = !matches!(fact.active.as_str(), "inactive" | "unknown" | "");
            match (enabled, active) {
                (false, false) => return None,
                (true, false) => format!("it is {}", fact.enabled),
                (false, true) => format!("it is {}", fact.active),
                (true, true) => format!("it is {} and {}", fact.enabled, fact.active),
            }
        }
    };
    Some(Change::StopUnit {
        name: unit.name.clone(),
        scope: unit.scope,
        label: unit.label.clone(),
        reason,
    })
}

/// The files a unit's runs wrote (the certificate copies the fetch timer makes), once it is stopped.
fn remove_made(unit: &Unit, facts: Option<&Facts>) -> Option<Change> {
    let files: Vec<FileRemoval> = unit
        .makes
        .iter()
        .filter(|path| facts.map_or(true, |f| *f.file(path) != FileFact::Missing))
        .map(|path| delete(path, &format!("{} ({}) made it", unit.label, unit.name)))
        .collect();
    if files.is_empty() {
        return None;
    }
    Some(Change::RemoveFiles {
        label: format!("what {} made", unit.label),
        dirs: jprov_dirs(files.iter().map(|f| f.path.as_str())),
        files,
        validate: None,
        reload: None,
    })
}

fn stop_tunnel(tunnel: &TunnelProcess, facts: Option<&Facts>) -> Option<Change> {
    let running = match facts {
        None => true,
        Some(facts) => facts.tunnels.get(&tunnel.pid_file)?.running,
    };
    Some(Change::StopTunnel {
        user: tunnel.user.clone(),
        pid_file: tunnel.pid_file.clone(),
        running,
        reason: if running {
            "jprov started it (apply --start-tunnel)".into()
        } else {
            "the tunnel jprov started has exited; its pid file is left".into()
        },
    })
}

fn remove_group(
    group: &FileGroup,
    facts: Option<&Facts>,
    notes: &mut Vec<String>,
) -> Option<Change> {
    let mut files: Vec<FileRemoval> = vec![];
    for file in &group.files {
        let removal = match &file.line_tag {
            Some(tag) => remove_line(file, tag, facts, notes),
            None => remove_whole(&file.path, facts, file.secrecy),
        };
        files.extend(removal);
    }
    for link in &group.links {
        files.extend(remove_whole(&link.path, facts, Secrecy::Public));
    }
    if files.is_empty() {
        return None;
    }
    let dirs = jprov_dirs(
        files
            .iter()
            .filter(|f| matches!(f.how, Removal::Delete))
            .map(|f| f.path.as_str()),
    );
    Some(Change::RemoveFiles {
        label: group.label.clone(),
        files,
        validate: group.validate,
        reload: group.reload,
        dirs,
    })
}

fn delete(path: &str, reason: &str) -> FileRemoval {
    FileRemoval {
        path: path.to_string(),
        how: Removal::Delete,
        reason: reason.to_string(),
        diff: String::new(),
    }
}

fn text(fact: &FileFact) -> Option<String> {
    match fact {
        FileFact::File { content, .. } => Some(String::from_utf8_lossy(content).into_owned()),
        _ => None,
    }
}

/// A file or link jprov owns whole: deleted if jprov created it, the original put back if it replaced one.
fn remove_whole(path: &str, facts: Option<&Facts>, secrecy: Secrecy) -> Option<FileRemoval> {
    let Some(facts) = facts else {
        return Some(delete(path, "jprov created it"));
    };
    let current = facts.file(path);
    match facts.original(path) {
        Some(FileFact::Missing) => {
            (*current != FileFact::Missing).then(|| delete(path, "jprov created it"))
        }
        Some(original) if original == current => None,
        Some(original) => {
            let diff = match original {
                FileFact::Symlink { target } => format!("    (the link to {target} comes back)\n"),
                _ => diff::unified(
                    path,
                    text(current).as_deref(),
                    &text(original).unwrap_or_default(),
                    secrecy,
                ),
            };
            Some(FileRemoval {
                path: path.to_string(),
                how: Removal::Restore {
                    original: text(original),
                },
                reason: "jprov replaced it: what was there before comes back".into(),
                diff,
            })
        }
        None if facts.written_by_jprov(path) && *current != FileFact::Missing => Some(delete(
            path,
            "jprov wrote it and kept no record of what was there before (an older jprov)",
        )),
        // Not jprov's: apply never wrote it.
        None => None,
    }
}

/// A shared file: only jprov's line goes. The file itself goes only if nothing but jprov lines ever was in
/// it (jprov created it, or it held other profiles' lines only).
fn remove_line(
    file: &ManagedFile,
    tag: &str,
    facts: Option<&Facts>,
    notes: &mut Vec<String>,
) -> Option<FileRemoval> {
    let path = file.path.as_str();
    let Some(facts) = facts else {
        return Some(FileRemoval {
            path: path.to_string(),
            how: Removal::RemoveLine {
                tag: tag.to_string(),
                file: file.clone(),
            },
            reason: "the other lines stay as they are".into(),
            diff: String::new(),
        });
    };
    let FileFact::File {
        mode,
        owner,
        group,
        content,
    } = facts.file(path)
    else {
        return None;
    };
    let Ok(text) = std::str::from_utf8(content) else {
        notes.push(format!(
            "{path} is not UTF-8 text: jprov leaves it as it is; remove the line ending in {tag} yourself"
        ));
        return None;
    };
    if !text.split_inclusive('\n').any(|line| is_tagged(line, tag)) {
        return None;
    }
    let rest = without_tagged_line(text, tag);
    let only_jprov_before = match facts.original(path) {
        Some(FileFact::Missing) => true,
        Some(FileFact::File { content, .. }) => {
            !content.is_empty() && String::from_utf8_lossy(content).lines().all(has_jprov_tag)
        }
        _ => false,
    };
    if rest.trim().is_empty() && only_jprov_before {
        return Some(delete(
            path,
            "only jprov's line is in it, and nothing but jprov's lines ever was",
        ));
    }
    Some(FileRemoval {
        path: path.to_string(),
        diff: diff::unified(path, Some(text), &rest, file.secrecy),
        how: Removal::RemoveLine {
            tag: tag.to_string(),
            file: ManagedFile {
                path: path.to_string(),
                content: Content::Known(rest),
                mode: *mode,
                owner: owner.clone(),
                group: group.clone(),
                dir_mode: file.dir_mode,
                secrecy: file.secrecy,
                line_tag: file.line_tag.clone(),
            },
        },
        reason: "the other lines stay as they are".into(),
    })
}

fn remove_certificate(
    certificate: &Certificate,
    facts: Option<&Facts>,
    notes: &mut Vec<String>,
) -> Option<Change> {
    match certificate.source {
        CertificateSource::Acme => {
            if facts.map_or(true, |f| {
                f.certificates.contains_key(&certificate.fullchain)
            }) {
                notes.push(format!(
                    "kept: the certificate certbot obtained for {domain} ({fullchain}): the CA limits how \
                     often it issues one, and it may serve other things. certbot keeps trying to renew it; to delete \
                     it: `certbot delete --cert-name {domain}`",
                    domain = certificate.domain,
                    fullchain = certificate.fullchain,
                ));
            }
            remove_webroot(certificate.directory.as_ref()?, facts)
        }
        CertificateSource::SelfSigned => {
            let files: Vec<String> = certificate
                .renames
                .iter()
                .map(|r| r.to.clone())
                .filter(|path| {
                    facts.map_or(true, |f| {
                        f.exists.contains(path) || f.certificates.contains_key(path)
                    })
                })
                .collect();
            if files.is_empty() {
                return None;
            }
            Some(Change::RemoveCertificate {
                domain: certificate.domain.clone(),
                dirs: jprov_dirs(files.iter().map(String::as_str)),
                files,
                reason: "jprov generated it".into(),
            })
        }
    }
}

/// The webroot apply made for certbot's http-01 challenges (nginx-proxy): certbot puts its challenge
/// files in `.well-known/acme-challenge/` there and removes them; the directories go when empty, with
/// their parent when no other profile's webroot is left in it.
fn remove_webroot(webroot: &Directory, facts: Option<&Facts>) -> Option<Change> {
    let root = &webroot.path;
    if facts.is_some_and(|f| !f.exists.contains(root)) {
        return None;
    }
    let mut dirs = vec![
        format!("{root}/.well-known/acme-challenge"),
        format!("{root}/.well-known"),
        root.clone(),
    ];
    dirs.extend(jprov_dirs([root.as_str()]));
    Some(Change::RemoveFiles {
        label: "certbot's webroot for the ACME challenge (jprov made it)".into(),
        files: vec![],
        validate: None,
        reload: None,
        dirs,
    })
}

fn remove_key(key: &KeyPair, facts: Option<&Facts>) -> Option<Change> {
    let public = format!("{}.pub", key.path);
    let present = facts.map_or(true, |f| {
        f.public_key(&key.path).is_some()
            || f.exists.contains(&key.path)
            || f.exists.contains(&public)
    });
    present.then(|| Change::RemoveKey {
        path: key.path.clone(),
        reason: format!("jprov generated it (comment {})", key.comment),
    })
}

fn remove_account(
    host: &HostState,
    account: &Account,
    facts: Option<&Facts>,
    notes: &mut Vec<String>,
) -> Option<Change> {
    if facts.is_some_and(|f| f.accounts.get(&account.name) != Some(&true)) {
        return None;
    }
    let name = &account.name;
    let reason = match &account.shared_keys {
        Some(keys) => {
            let tag = host
                .items
                .iter()
                .find_map(|item| match item {
                    Item::Files(group) => group.files.iter().find(|f| f.path == *keys),
                    _ => None,
                })
                .and_then(|f| f.line_tag.clone())
                .unwrap_or_default();
            let others = facts
                .and_then(|f| text(f.file(keys)))
                .map(|content| {
                    without_tagged_line(&content, &tag)
                        .lines()
                        .filter(|line| has_jprov_tag(line))
                        .count()
                })
                .unwrap_or(0);
            if others > 0 {
                notes.push(format!(
                    "kept: account {name}, shared by profiles: {keys} still has {others} other profile line(s)"
                ));
                return None;
            }
            format!("no other profile has a key in {keys} (checked again on the host)")
        }
        None if facts.map_or(true, |f| f.account_created_by_jprov(name)) => {
            "jprov created it".to_string()
        }
        None => {
            notes.push(format!(
                "left alone: account {name} (jprov has no record of creating it); `userdel {name}` removes it"
            ));
            return None;
        }
    };
    Some(Change::RemoveAccount {
        name: name.clone(),
        remove_home: account.create_home && account.shared_keys.is_none(),
        home: account.home.clone(),
        reason,
        shared_keys: account.shared_keys.clone(),
    })
}

/// Whether a directory name is one jprov gives (`jprov`, `jprov-cert`, `jprov-acme`, ...).
fn jprov_named(dir: &str) -> bool {
    let name = dir.rsplit('/').next().unwrap_or(dir);
    name == "jprov" || name.starts_with("jprov-")
}

/// The directories jprov named that hold `paths`: each path's ancestors up to the outermost one with a
/// jprov name (`/etc/jprov/tls/NAME` for `/etc/jprov/tls/NAME/fullchain.pem`), deepest first. Removed if
/// empty once the paths are gone.
pub fn jprov_dirs<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut dirs: Vec<String> = vec![];
    for path in paths {
        let mut ancestors = vec![];
        let mut rest = path;
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if parent.is_empty() {
                break;
            }
            ancestors.push(parent);
            rest = parent;
        }
        if let Some(top) = ancestors.iter().rposition(|d| jprov_named(d)) {
            for dir in &ancestors[..=top] {
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_string());
                }
            }
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    dirs
}

#[cfg(test)]
mod tests;
