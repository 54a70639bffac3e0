//! The apply script: a host's planned changes of one phase as calls of the library's steps.
//!
//! One script per host per round: one SSH exec, and the on-host steps (write, validate, restore, reload)
//! don't depend on the connection staying up between them. Every change maps to its steps in one
//! exhaustive match (`steps_of`): a new kind of change does not compile until it has its script.

use super::{assemble, guard_fire_program, Lines, Root, ScriptError};
use crate::argv::argv_digest;
use crate::plan::{
    content_digest, link_digest, restarts_to_record, Change, FileAction, FileChange, FileRemoval,
    HostPlan, LinkChange, Removal, UnitAction,
};
use crate::resource::{Certificate, Content, Service, UnitScope, Validation};

/// What every apply script of a run shares.
#[derive(Clone, Copy, Debug)]
pub struct Run<'a> {
    pub profile: &'a str,
    /// Seconds after which the on-host lockout guard restores the previous sshd files unless disarmed.
    pub guard_seconds: u32,
    pub root: Root<'a>,
}

/// A round's script for one host, and which of the host's changes it runs.
#[derive(Clone, Debug)]
pub struct ApplyScript {
    pub text: String,
    /// The positions in `HostPlan::changes` of the changes it runs, in order: `jprov-done N` follows the
    /// Nth of them.
    pub steps: Vec<usize>,
}

/// The script applying `host`'s actionable changes of `phase` (see `plan::phase`: a round runs the lowest
/// phase left on any host); `None` when there is nothing for a script to do now.
pub fn apply(run: &Run, host: &HostPlan, phase: u8) -> Result<Option<ApplyScript>, ScriptError> {
    let mut body = Lines::default();
    body.call("apply_begin", &[])?;
    for unit in restarts_to_record(host) {
        body.call("record_restart", &[&unit])?;
    }
    body.raw(&fire_writer(run.root)?);
    let mut steps = 0;
    let mut positions = vec![];
    for (position, change) in
        (host.changes.iter().enumerate()).filter(|(_, c)| c.is_actionable() && c.phase() == phase)
    {
        let mut step = Lines::default();
        let Some(kind) = steps_of(run, change, &mut step)? else {
            continue;
        };
        steps += 1;
        positions.push(position);
        body.comment(&format!("step {steps}: {kind}"));
        body.raw(&step.into_text());
        body.call("say_done", &[&steps.to_string()])?;
    }
    if steps == 0 {
        return Ok(None);
    }
    body.call("check_started", &[])?;
    body.call("say_finished", &[])?;
    let about = format!(
        "jprov apply script for profile {} on the {}. Runs with `sh -s` (possibly under sudo -n).",
        run.profile, host.role
    );
    let text = assemble(&about, run.root, run.profile, &body.into_text())?;
    Ok(Some(ApplyScript {
        text,
        steps: positions,
    }))
}

/// `guard_write_fire`, which the library's `guard_arm` calls: prints the guard's fire program.
fn fire_writer(root: Root) -> Result<String, ScriptError> {
    const END: &str = "JPROV_GUARD_FIRE";
    let program = guard_fire_program(root)?;
    assert!(
        !program.lines().any(|l| l == END),
        "the fire program must not end its here-document"
    );
    Ok(format!(
        "# The lockout guard's fire program (host_lib.sh's guard_arm writes it into the guard's directory).\n\
         guard_write_fire() {{\n  cat <<'{END}'\n{program}{END}\n}}\n"
    ))
}

/// The steps of `change` into `s`, and what kind of step it is; `None` for a change the engine does itself.
/// Exhaustive: a new change does not compile until it is placed here.
fn steps_of(
    run: &Run,
    change: &Change,
    s: &mut Lines,
) -> Result<Option<&'static str>, ScriptError> {
    let kind = match change {
        Change::CreateAccount { .. }
        | Change::GenerateKey { .. }
        | Change::WriteFiles { .. }
        | Change::Reload { .. }
        | Change::ObtainCertificate { .. }
        | Change::StartTunnel { .. }
        | Change::EnableLinger { .. }
        | Change::RunCommand { .. }
        | Change::Unit { .. } => setup_steps(run, change, s)?,
        Change::StopUnit { .. }
        | Change::StopTunnel { .. }
        | Change::RemoveFiles { .. }
        | Change::RemoveCertificate { .. }
        | Change::RemoveKey { .. }
        | Change::RemoveAccount { .. }
        | Change::Forget { .. } => teardown_steps(run, change, s)?,
        // The engine resolves the guard after the round's scripts: the proof is a new connection.
        Change::ResolveGuard { .. } => return Ok(None),
    };
    Ok(Some(kind))
}

/// `steps_of` for the changes that set things up.
fn setup_steps(run: &Run, change: &Change, s: &mut Lines) -> Result<&'static str, ScriptError> {
    let root = run.root;
    Ok(match change {
        Change::CreateAccount {
            name,
            home,
            shell,
            create_home,
        } => {
            let create = yes_no(*create_home);
            s.call("create_account", &[name, &root.path(home), shell, create])?;
            "account"
        }
        Change::GenerateKey {
            path,
            owner,
            comment,
        } => {
            s.call("generate_key", &[&root.path(path), owner, comment])?;
            "key pair"
        }
        Change::WriteFiles {
            files,
            links,
            validate,
            reload,
            ..
        } => {
            write_files(run, files, links, *validate, *reload, s)?;
            "files"
        }
        Change::Reload { service, .. } => {
            reload_pending(run, *service, s)?;
            "pending reload"
        }
        Change::ObtainCertificate { certificate, .. } => {
            obtain_certificate(root, certificate, s)?;
            "certificate"
        }
        Change::StartTunnel {
            user,
            argv,
            pid_file,
            ..
        } => {
            let head = [user.clone(), root.path(pid_file), argv_digest(argv)];
            s.call_list("start_tunnel", head.iter().chain(argv))?;
            "tunnel"
        }
        Change::EnableLinger { user, .. } => {
            s.call("enable_linger", &[user])?;
            "lingering"
        }
        Change::RunCommand { label, argv, .. } => {
            s.call_list("run_command", std::iter::once(label).chain(argv))?;
            "command"
        }
        Change::Unit {
            name,
            scope,
            enable,
            action,
            ..
        } => {
            unit(*scope, name, *enable, *action, s)?;
            "unit"
        }
        _ => unreachable!("steps_of sends only setup changes here"),
    })
}

/// `steps_of` for the changes of a teardown.
fn teardown_steps(run: &Run, change: &Change, s: &mut Lines) -> Result<&'static str, ScriptError> {
    let root = run.root;
    Ok(match change {
        Change::StopUnit { name, scope, .. } => {
            s.call("stop_unit", &[scope.as_str(), name])?;
            "stop unit"
        }
        Change::StopTunnel { pid_file, .. } => {
            s.call("stop_tunnel", &[&root.path(pid_file)])?;
            "stop tunnel"
        }
        Change::RemoveFiles {
            files,
            validate,
            reload,
            dirs,
            ..
        } => {
            remove_files(run, files, *validate, *reload, s)?;
            remove_dirs(root, dirs, s)?;
            "remove files"
        }
        Change::RemoveCertificate { files, dirs, .. } => {
            s.call_list("remove_certificate", files.iter().map(|f| root.path(f)))?;
            remove_dirs(root, dirs, s)?;
            "remove certificate"
        }
        Change::RemoveKey { path, .. } => {
            s.call("remove_key", &[&root.path(path)])?;
            "remove key pair"
        }
        Change::RemoveAccount {
            name,
            remove_home,
            shared_keys,
            ..
        } => {
            let keys = shared_keys.as_deref().map(|k| root.path(k));
            let home = yes_no(*remove_home);
            s.call("remove_account", &[name, home, &keys.unwrap_or_default()])?;
            "remove account"
        }
        Change::Forget { .. } => {
            s.call("forget", &[])?;
            "forget"
        }
        _ => unreachable!("steps_of sends only teardown changes here"),
    })
}

fn unit(
    scope: UnitScope,
    name: &str,
    enable: bool,
    action: Option<UnitAction>,
    s: &mut Lines,
) -> Result<(), ScriptError> {
    if enable {
        s.call("unit_enable", &[scope.as_str(), name])?;
    }
    if let Some(action) = action {
        s.call("unit_start", &[scope.as_str(), action.as_str(), name])?;
    }
    Ok(())
}

fn yes_no(yes: bool) -> &'static str {
    if yes {
        "yes"
    } else {
        "no"
    }
}

fn service_word(service: Option<Service>) -> &'static str {
    service.map_or("", Service::as_str)
}

fn validation_word(validation: Option<Validation>) -> &'static str {
    validation.map_or("", Validation::program)
}

/// A file group: its reload in the journal, every path backed up, the guard armed for sshd's files, the
/// writes, then validation (which restores the group and exits 3 on failure) and the reload.
fn write_files(
    run: &Run,
    files: &[FileChange],
    links: &[LinkChange],
    validate: Option<Validation>,
    reload: Option<Service>,
    s: &mut Lines,
) -> Result<(), ScriptError> {
    let root = run.root;
    let files: Vec<(&FileChange, &str)> = files
        .iter()
        .filter(|f| !matches!(f.action, FileAction::Pending))
        .map(|f| match &f.file.content {
            Content::Known(content) => (f, content.as_str()),
            Content::Pending(_) => unreachable!("a file that is not pending has its content"),
        })
        .collect();
    s.call("group_begin", &[service_word(reload)])?;
    for path in files
        .iter()
        .map(|(f, _)| &f.path)
        .chain(links.iter().map(|l| &l.path))
    {
        s.call("backup", &[&root.path(path)])?;
    }
    if reload == Some(Service::Ssh) {
        // Armed before the first write: whenever this run stops from here on, the guard restores.
        let mut arm = vec![run.guard_seconds.to_string()];
        for (f, content) in &files {
            arm.extend([root.path(&f.path), content_digest(content.as_bytes())]);
        }
        for l in links {
            arm.extend([root.path(&l.path), link_digest(&l.target)]);
        }
        s.call_list("guard_arm", arm)?;
    }
    for (f, content) in &files {
        let m = &f.file;
        let (mode, dir_mode) = (format!("{:o}", m.mode), format!("{:o}", m.dir_mode));
        let path = root.path(&f.path);
        s.call(
            "put_file",
            &[&path, &mode, &m.owner, &m.group, &dir_mode, *content],
        )?;
    }
    for l in links {
        s.call("put_link", &[&root.path(&l.path), &l.target])?;
    }
    validate_and_reload(run, validate, reload, s)
}

/// The end of a file group: validate (unless nothing validates it), reload, and say the guard is armed.
fn validate_and_reload(
    run: &Run,
    validate: Option<Validation>,
    reload: Option<Service>,
    s: &mut Lines,
) -> Result<(), ScriptError> {
    if let Some(validation) = validate {
        s.call("validate", &[validation.program(), service_word(reload)])?;
    }
    if let Some(service) = reload {
        s.call("reload", &[service.as_str()])?;
    }
    if reload == Some(Service::Ssh) {
        s.call("say_guard_armed", &[&run.guard_seconds.to_string()])?;
    }
    Ok(())
}

/// A teardown's file group: like `write_files`, each path deleted, restored or rewritten.
fn remove_files(
    run: &Run,
    files: &[FileRemoval],
    validate: Option<Validation>,
    reload: Option<Service>,
    s: &mut Lines,
) -> Result<(), ScriptError> {
    let root = run.root;
    s.call("group_begin", &[service_word(reload)])?;
    for f in files {
        s.call("backup", &[&root.path(&f.path), "destroy"])?;
    }
    if reload == Some(Service::Ssh) {
        let mut arm = vec![run.guard_seconds.to_string()];
        for f in files {
            let digest = match &f.how {
                Removal::Delete => "absent".to_string(),
                Removal::Restore { .. } => "original".to_string(),
                Removal::RemoveLine { file, .. } => content_digest(known(&file.content).as_bytes()),
            };
            arm.extend([root.path(&f.path), digest]);
        }
        s.call_list("guard_arm", arm)?;
    }
    for f in files {
        let path = root.path(&f.path);
        match &f.how {
            Removal::Delete => s.call("remove_path", &[&path])?,
            Removal::Restore { .. } => s.call("restore_original", &[&path])?,
            Removal::RemoveLine { file, .. } => {
                let mode = format!("{:o}", file.mode);
                let content = known(&file.content);
                s.call(
                    "put_file",
                    &[&path, &mode, &file.owner, &file.group, "700", content],
                )?
            }
        }
    }
    validate_and_reload(run, validate, reload, s)
}

fn known(content: &Content) -> &str {
    match content {
        Content::Known(text) => text,
        Content::Pending(_) => unreachable!("a line is removed from content the facts read"),
    }
}

fn remove_dirs(root: Root, dirs: &[String], s: &mut Lines) -> Result<(), ScriptError> {
    if dirs.is_empty() {
        return Ok(());
    }
    s.call_list("remove_dirs", dirs.iter().map(|d| root.path(d)))
}

/// A reload an interrupted apply left pending; sshd's under the guard that run armed.
fn reload_pending(run: &Run, service: Service, s: &mut Lines) -> Result<(), ScriptError> {
    s.call("group_begin", &[""])?;
    s.call("validate", &[validation_word(service.validation())])?;
    if service == Service::Ssh {
        s.call("reload_pending_ssh", &[&run.guard_seconds.to_string()])
    } else {
        s.call("reload", &[service.as_str()])
    }
}

/// certbot or openssl in the certificate's directory, its files renamed into place, then the reload.
fn obtain_certificate(root: Root, c: &Certificate, s: &mut Lines) -> Result<(), ScriptError> {
    if let Some(d) = &c.directory {
        s.call(
            "own_dir",
            &[
                &root.path(&d.path),
                &format!("{:o}", d.mode),
                &d.owner,
                &d.group,
            ],
        )?;
    }
    let dir = c
        .directory
        .as_ref()
        .map(|d| root.path(&d.path))
        .unwrap_or_default();
    let mut args = vec![c.program().to_string(), format!("{:03o}", c.umask), dir];
    args.extend(c.renames.iter().map(|r| root.path(&r.from)));
    args.push("--".into());
    args.extend(c.command.iter().cloned());
    s.call_list("obtain_certificate", args)?;
    let (owner, group) = c
        .directory
        .as_ref()
        .map_or(("", ""), |d| (d.owner.as_str(), d.group.as_str()));
    for r in &c.renames {
        let mode = format!("{:o}", r.mode);
        s.call(
            "place_new",
            &[&root.path(&r.from), &root.path(&r.to), &mode, owner, group],
        )?;
    }
    if let Some(service) = c.reload {
        s.call("group_begin", &[""])?;
        s.call("validate", &[validation_word(service.validation())])?;
        s.call("reload", &[service.as_str()])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
