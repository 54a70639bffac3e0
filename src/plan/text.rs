//! The plan as text, for people: what `jprov plan` prints.

use super::*;
use std::fmt;

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
        if let Some(tunnel) = &self.tunnel {
            writeln!(
                f,
                "Tunnel, opened by the {} as {}:",
                tunnel.opened_by, tunnel.user
            )?;
            writeln!(f, "  {}", tunnel.command)?;
            if let Some(service) = &tunnel.service {
                writeln!(f, "  as a service: {service}")?;
            }
        }
        writeln!(f, "Jupyter on the workstation: {}", self.jupyter_command)?;
        if let Some(service) = &self.jupyter_service {
            writeln!(f, "  as a service: {service}")?;
        }
        write_reach(f, &self.reach)?;
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

/// The URL, and each step on its own bullet (a snippet's lines indented under it).
pub(crate) fn write_reach(f: &mut dyn fmt::Write, reach: &crate::desired::Reach) -> fmt::Result {
    writeln!(f, "Browsers open: {}", reach.url)?;
    for step in &reach.steps {
        let mut lines = step.lines();
        writeln!(f, "  - {}", lines.next().unwrap_or(""))?;
        for line in lines {
            writeln!(f, "      {line}")?;
        }
    }
    Ok(())
}

fn write_change(f: &mut fmt::Formatter<'_>, change: &Change) -> fmt::Result {
    match change {
        Change::WriteFiles {
            label,
            files,
            links,
            validate,
            reload,
        } => write_files(f, label, files, links, *validate, *reload),
        Change::RemoveFiles {
            label,
            files,
            validate,
            reload,
            dirs,
        } => write_removals(f, label, files, *validate, *reload, dirs),
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
            write_dirs(f, "then ", dirs)?;
            writeln!(f, "    because {reason}")
        }
        other => {
            let (headline, reason) = headline(other);
            writeln!(f, "  {headline}")?;
            match reason {
                Some(reason) => writeln!(f, "    because {reason}"),
                None => Ok(()),
            }
        }
    }
}

/// The one line that says what a simple change does, and its reason when it shows one.
fn headline(change: &Change) -> (String, Option<&str>) {
    match change {
        Change::CreateAccount {
            name, home, shell, ..
        } => {
            let shell = if shell.ends_with("nologin") {
                "no login shell".to_string()
            } else {
                format!("shell {shell} for its keys' forced commands")
            };
            (format!("+ create account {name} (home {home}, no password, {shell})"), None)
        }
        Change::GenerateKey { path, owner, .. } => (
            format!("+ generate ed25519 key pair {path} (owner {owner}; the private key stays on this host)"),
            None,
        ),
        Change::Reload { service, reason } => (
            format!("! validate and reload {} (pending)", service.as_str()),
            Some(reason),
        ),
        Change::ResolveGuard { reason, .. } => (
            "! prove a fresh login, then disarm the lockout guard (pending; restored at once if the login fails)"
                .into(),
            Some(reason),
        ),
        Change::StartTunnel {
            user,
            command,
            reason,
            ..
        } => (format!("! start tunnel as {user}: {command}"), Some(reason)),
        Change::EnableLinger { user, reason } => (
            format!("! enable lingering for {user} (loginctl enable-linger; tried as {user}, then with sudo -n)"),
            Some(reason),
        ),
        Change::RunCommand {
            label,
            command,
            reason,
            ..
        } => (format!("! {label}: {command}"), Some(reason)),
        Change::Unit { reason, .. } => (unit_headline(change), Some(reason)),
        Change::StopUnit { .. }
        | Change::StopTunnel { .. }
        | Change::RemoveKey { .. }
        | Change::RemoveAccount { .. }
        | Change::Forget { .. } => teardown_headline(change),
        Change::WriteFiles { .. }
        | Change::RemoveFiles { .. }
        | Change::ObtainCertificate { .. }
        | Change::RemoveCertificate { .. } => unreachable!("write_change writes these in full"),
    }
}

/// `headline` of a teardown's simple changes.
fn teardown_headline(change: &Change) -> (String, Option<&str>) {
    match change {
        Change::StopUnit {
            name,
            scope,
            label,
            reason,
        } => (
            format!("- stop and disable {label}: {} disable --now {name}", scope.systemctl()),
            Some(reason),
        ),
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
            (format!("- {what} its pid file {pid_file} and log"), Some(reason))
        }
        Change::RemoveKey { path, reason } => (
            format!("- delete the key pair {path} and {path}.pub"),
            Some(reason),
        ),
        Change::RemoveAccount {
            name,
            remove_home,
            home,
            reason,
            ..
        } => {
            let what = if *remove_home {
                format!("- delete account {name} and its home {home}: userdel -r {name}")
            } else {
                format!("- delete account {name}: userdel {name}")
            };
            (what, Some(reason))
        }
        Change::Forget { reason } => (
            "- forget the profile: remove jprov's records of it on this host (the originals and backups \
             apply kept, the journal)"
                .into(),
            Some(reason),
        ),
        _ => unreachable!("headline writes the others"),
    }
}

/// `! enable and restart LABEL: systemctl enable NAME; systemctl restart NAME`.
fn unit_headline(change: &Change) -> String {
    let Change::Unit {
        name,
        scope,
        label,
        enable,
        action,
        ..
    } = change
    else {
        unreachable!("a unit change")
    };
    let verbs: Vec<&str> = enable
        .then_some("enable")
        .into_iter()
        .chain(action.map(UnitAction::as_str))
        .collect();
    let commands: Vec<String> = verbs
        .iter()
        .map(|verb| format!("{} {verb} {name}", scope.systemctl()))
        .collect();
    format!("! {} {label}: {}", verbs.join(" and "), commands.join("; "))
}

fn write_files(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    files: &[FileChange],
    links: &[LinkChange],
    validate: Option<Validation>,
    reload: Option<Service>,
) -> fmt::Result {
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
            writeln!(f, "    then {} daemon-reload", scope.systemctl())
        }
        Some(s) => writeln!(
            f,
            "    then reload {} (a reload, never a restart)",
            s.as_str()
        ),
        None => Ok(()),
    }
}

fn write_removals(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    files: &[FileRemoval],
    validate: Option<Validation>,
    reload: Option<Service>,
    dirs: &[String],
) -> fmt::Result {
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
        Some(Service::Systemd(scope)) => writeln!(f, "    then {} daemon-reload", scope.systemctl())?,
        Some(s) => writeln!(f, "    then reload {}", s.as_str())?,
        None => {}
    }
    // Directories alone (certbot's webroot) come first, not "then".
    write_dirs(f, if files.is_empty() { "" } else { "then " }, dirs)
}

fn write_dirs(f: &mut fmt::Formatter<'_>, then: &str, dirs: &[String]) -> fmt::Result {
    if dirs.is_empty() {
        return Ok(());
    }
    writeln!(
        f,
        "    {then}remove these directories if empty: {}",
        dirs.join(", ")
    )
}

/// What a change does in one line, for apply's progress: the first line the plan shows for it, without
/// its marker.
pub fn step_label(change: &Change) -> String {
    struct Shown<'a>(&'a Change);
    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_change(f, self.0)
        }
    }
    let shown = Shown(change).to_string();
    let first = shown.lines().next().unwrap_or("").trim();
    let label = first
        .strip_prefix(['+', '~', '!', '-'])
        .unwrap_or(first)
        .trim()
        .trim_end_matches(':');
    label.chars().take(120).collect()
}
