//! Turning a host's planned changes into one on-host script, and reading back what it did.
//!
//! One script per host per round: one SSH exec, and the on-host steps (write, validate, restore, reload)
//! don't depend on the connection staying up between them.

use crate::argv::argv_digest;
use crate::facts::hex_text;
use crate::plan::{content_digest, link_digest, Change, FileAction, HostPlan, Removal};
use crate::render::{self, RenderError, Templates};
use crate::resource::{Content, Role};
use serde_json::{json, Value};

/// The script applying `host`'s actionable changes of `phase` (see `plan::phase`: a round runs the lowest
/// phase left on any host); `None` when there is nothing to do now.
pub fn script(
    templates: &Templates,
    profile: &str,
    host: &HostPlan,
    phase: u8,
    guard_seconds: u32,
) -> Result<Option<String>, RenderError> {
    let ops: Vec<Value> = host
        .changes
        .iter()
        .filter(|c| c.is_actionable() && c.phase() == phase)
        .filter_map(op)
        .collect();
    if ops.is_empty() {
        return Ok(None);
    }
    templates
        .render(
            "apply.sh",
            json!({
                "profile": profile,
                "role": host.role.as_str(),
                "ops": ops,
                "guard_seconds": guard_seconds,
                "restarts": crate::plan::restarts_to_record(host),
                "lib": render::HOST_LIB,
                "fire_program": render::guard_fire_program(),
            }),
        )
        .map(Some)
}

/// The script step of a change; `None` for a change the engine does itself (`ResolveGuard`).
fn op(change: &Change) -> Option<Value> {
    let op = match change {
        Change::CreateAccount {
            name,
            home,
            shell,
            create_home,
        } => {
            json!({"op": "account", "name": name, "home": home, "shell": shell, "create_home": create_home})
        }
        Change::GenerateKey {
            path,
            owner,
            comment,
        } => {
            json!({"op": "keypair", "path": path, "owner": owner, "comment": comment})
        }
        Change::WriteFiles {
            files,
            links,
            validate,
            reload,
            ..
        } => {
            let files: Vec<Value> = files
                .iter()
                .filter(|f| !matches!(f.action, FileAction::Pending))
                .map(|f| {
                    let Content::Known(content) = &f.file.content else {
                        unreachable!("pending files are filtered out")
                    };
                    json!({
                        "path": f.file.path,
                        "mode": format!("{:o}", f.file.mode),
                        "owner": f.file.owner,
                        "group": f.file.group,
                        "dir_mode": format!("{:o}", f.file.dir_mode),
                        "content": content,
                        "digest": content_digest(content.as_bytes()),
                    })
                })
                .collect();
            let links: Vec<Value> = links
                .iter()
                .map(|l| json!({"path": l.path, "target": l.target, "digest": link_digest(&l.target)}))
                .collect();
            json!({"op": "files", "files": files, "links": links, "validate": validate, "reload": reload})
        }
        Change::Reload { service, .. } => {
            json!({"op": "reload", "validate": service.validation(), "reload": service})
        }
        Change::ObtainCertificate { certificate, .. } => {
            let dir = certificate.directory.as_ref().map(|d| {
                json!({"path": d.path, "mode": format!("{:o}", d.mode), "owner": d.owner, "group": d.group})
            });
            let renames: Vec<Value> = certificate
                .renames
                .iter()
                .map(|r| json!({"from": r.from, "to": r.to, "mode": format!("{:o}", r.mode)}))
                .collect();
            json!({
                "op": "certificate",
                "program": certificate.program(),
                "argv": certificate.command,
                "dir": dir,
                "umask": format!("{:03o}", certificate.umask),
                "renames": renames,
                "reload": certificate.reload,
                "validate": certificate.reload.and_then(|s| s.validation()),
            })
        }
        Change::StartTunnel {
            user,
            argv,
            pid_file,
            ..
        } => {
            json!({"op": "tunnel", "user": user, "argv": argv, "pid_file": pid_file, "digest": argv_digest(argv)})
        }
        Change::EnableLinger { user, .. } => json!({"op": "linger", "user": user}),
        Change::RunCommand { label, argv, .. } => {
            json!({"op": "run", "label": label, "argv": argv})
        }
        Change::Unit {
            name,
            scope,
            enable,
            action,
            ..
        } => json!({
            "op": "unit",
            "name": name,
            "systemctl": scope.systemctl(),
            "enable": enable,
            "action": action.map(|a| a.as_str()),
        }),
        Change::StopUnit { name, scope, .. } => {
            json!({"op": "stop-unit", "name": name, "systemctl": scope.systemctl()})
        }
        Change::StopTunnel { pid_file, .. } => json!({"op": "stop-tunnel", "pid_file": pid_file}),
        Change::RemoveFiles {
            files,
            validate,
            reload,
            dirs,
            ..
        } => {
            let files: Vec<Value> = files
                .iter()
                .map(|f| match &f.how {
                    Removal::Delete => {
                        json!({"path": f.path, "action": "delete", "digest": "absent"})
                    }
                    Removal::Restore { .. } => json!({"path": f.path, "action": "restore"}),
                    Removal::RemoveLine { file, .. } => {
                        let Content::Known(content) = &file.content else {
                            unreachable!("a line is removed from content the facts read")
                        };
                        json!({
                            "path": f.path,
                            "action": "write",
                            "mode": format!("{:o}", file.mode),
                            "owner": file.owner,
                            "group": file.group,
                            "content": content,
                            "digest": content_digest(content.as_bytes()),
                        })
                    }
                })
                .collect();
            json!({"op": "remove-files", "files": files, "validate": validate, "reload": reload, "dirs": dirs})
        }
        Change::RemoveCertificate { files, dirs, .. } => {
            json!({"op": "remove-certificate", "files": files, "dirs": dirs})
        }
        Change::RemoveKey { path, .. } => json!({"op": "remove-key", "path": path}),
        Change::RemoveAccount {
            name,
            remove_home,
            shared_keys,
            ..
        } => {
            json!({"op": "remove-account", "name": name, "remove_home": remove_home, "shared_keys": shared_keys})
        }
        Change::Forget { .. } => json!({"op": "forget"}),
        Change::ResolveGuard { .. } => return None,
    };
    Some(op)
}

/// What an apply script reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub steps_done: usize,
    pub reloaded: Vec<String>,
    pub finished: bool,
    /// The lockout guard is armed: sshd was reloaded with new files.
    pub guard_armed: bool,
    pub failure: Option<Failure>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// `sshd -t` or `nginx -t` refused the new files; they were restored.
    Invalid {
        program: String,
        output: String,
    },
    Error(String),
}

pub fn parse_outcome(stdout: &str) -> Outcome {
    let mut outcome = Outcome::default();
    for line in stdout.lines() {
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("jprov-done"), Some(n), None) => {
                outcome.steps_done = n.parse().unwrap_or(outcome.steps_done)
            }
            (Some("jprov-reloaded"), Some(service), None) => {
                outcome.reloaded.push(service.to_string())
            }
            (Some("jprov-finished"), None, None) => outcome.finished = true,
            (Some("jprov-guard-armed"), Some(_), None) => outcome.guard_armed = true,
            (Some("jprov-invalid"), Some(program), output) => {
                outcome.failure = Some(Failure::Invalid {
                    program: program.to_string(),
                    output: hex_text(output.unwrap_or("")),
                })
            }
            (Some("jprov-error"), Some(message), None) => {
                outcome.failure = Some(Failure::Error(hex_text(message)))
            }
            _ => {}
        }
    }
    outcome
}

/// A one-line account of a host's round, for the apply log.
pub fn describe(role: Role, outcome: &Outcome) -> String {
    let reloads = if outcome.reloaded.is_empty() {
        String::new()
    } else {
        format!("; reloaded {}", outcome.reloaded.join(", "))
    };
    format!("{role}: {} step(s) done{reloads}", outcome.steps_done)
}

/// The script that disarms (`fire == false`) or fires the lockout guard of `profile`.
pub fn guard_script(
    templates: &Templates,
    profile: &str,
    fire: bool,
) -> Result<String, RenderError> {
    templates.render(
        "guard.sh",
        json!({
            "profile": profile,
            "action": if fire { "fire" } else { "disarm" },
            "lib": render::HOST_LIB,
        }),
    )
}

/// What the guard's control script (`guard_script`) reported.
#[derive(Debug, PartialEq, Eq)]
pub enum GuardReply {
    /// Disarmed: it will not fire.
    Disarmed,
    /// Left armed: sshd still has a reload pending (in the on-host journal), so the files on disk are not yet
    /// what sshd runs and a login proves nothing about them.
    Kept,
    /// There was no guard any more: it fired before jprov got to it.
    Gone,
    /// It restored the previous files (and reloaded sshd if they pass `sshd -t`).
    Fired,
    /// Anything else: the script failed (`jprov-error ...`) or said nothing.
    Failed(String),
}

pub fn parse_guard_reply(stdout: &str) -> GuardReply {
    for line in stdout.lines() {
        let reply = match line.split_once(' ').unwrap_or((line, "")) {
            ("jprov-guard-disarmed", "") => GuardReply::Disarmed,
            ("jprov-guard-kept", "") => GuardReply::Kept,
            ("jprov-guard-gone", "") => GuardReply::Gone,
            ("jprov-guard-fired", "") => GuardReply::Fired,
            ("jprov-error", message) => GuardReply::Failed(hex_text(message)),
            _ => continue,
        };
        return reply;
    }
    GuardReply::Failed("the guard script reported nothing".into())
}
