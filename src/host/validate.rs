//! Plan-time validation on the host: the plan's candidate files staged in a scratch copy of the host's
//! configuration and checked by the real `sshd -t` / `nginx -t`, and sshd's effective settings with them.
//! The live files are not touched. The result is a value the caller adds to the host's plan.

use crate::error::Error;
use crate::facts::{self, CheckReport};
use crate::host::fault;
use crate::host::hosts::Host;
use crate::plan::{self, Change, HostPlan, Removal};
use crate::render::Templates;
use crate::resource::{Content, SshdExpectation, Validation};
use serde_json::{json, Value};

/// What validating a host's candidates found.
#[derive(Debug, Default)]
pub struct Findings {
    /// What was checked and passed ("`sshd -t` passes with the new files ...").
    pub checks: Vec<String>,
    /// Why the result would not be what the profile wants.
    pub problems: Vec<String>,
}

/// Validate `host_plan`'s candidate files on `host`; `destroy`: the candidates are a teardown's.
pub fn check_candidates(
    templates: &Templates,
    host: &mut Host,
    host_plan: &HostPlan,
    destroy: bool,
) -> Result<Findings, Error> {
    let [sshd, nginx] = candidates(&host_plan.changes);
    if (sshd.is_empty() && nginx.is_empty()) || fault::injected("skip-plan-validation") {
        return Ok(Findings::default());
    }
    let mut users: Vec<&str> = host_plan
        .sshd_intent
        .iter()
        .map(|e| e.user.as_str())
        .collect();
    users.dedup();
    let staged_sshd = !sshd.is_empty();
    let script = templates.render(
        "check.sh",
        json!({
            "sshd": sshd,
            "nginx": nginx,
            "sshd_users": users,
            "sshd_keywords": crate::resource::SSHD_KEYWORDS,
        }),
    )?;
    let output = host.run(&script)?;
    let report = facts::parse_check(&output.stdout);
    if !report.complete {
        return Ok(Findings {
            checks: vec![],
            problems: vec![format!(
                "validating the new files on the host did not finish: {}",
                output.stderr.trim()
            )],
        });
    }
    Ok(findings(
        &report,
        staged_sshd.then_some(host_plan.sshd_intent.as_slice()),
        destroy,
    ))
}

/// The candidates to stage, for sshd and for nginx: each `{path, content}` or `{path, remove: true}`.
fn candidates(changes: &[Change]) -> [Vec<Value>; 2] {
    let mut candidates: [Vec<Value>; 2] = [vec![], vec![]];
    let slot = |validation: &Validation| match validation {
        Validation::Sshd => 0,
        Validation::Nginx => 1,
    };
    for change in changes {
        match change {
            Change::WriteFiles {
                files,
                validate: Some(validation),
                ..
            } => candidates[slot(validation)].extend(files.iter().filter_map(|file| {
                match &file.file.content {
                    Content::Known(content) => Some(json!({"path": file.path, "content": content})),
                    Content::Pending(_) => None,
                }
            })),
            Change::RemoveFiles {
                files,
                validate: Some(validation),
                ..
            } => candidates[slot(validation)].extend(
                files
                    .iter()
                    .filter_map(|file| removal_candidate(&file.path, &file.how)),
            ),
            _ => {}
        }
    }
    candidates
}

/// What a path holds once a teardown removed it; `None` when there is nothing to stage.
fn removal_candidate(path: &str, how: &Removal) -> Option<Value> {
    match how {
        Removal::Delete => Some(json!({"path": path, "remove": true})),
        Removal::Restore {
            original: Some(content),
        } => Some(json!({"path": path, "content": content})),
        // A link comes back: nothing to stage.
        Removal::Restore { original: None } => None,
        Removal::RemoveLine { file, .. } => match &file.content {
            Content::Known(content) => Some(json!({"path": path, "content": content})),
            Content::Pending(_) => None,
        },
    }
}

/// Turn the check script's report into findings; `sshd_intent` when sshd's files were staged.
fn findings(
    report: &CheckReport,
    sshd_intent: Option<&[SshdExpectation]>,
    destroy: bool,
) -> Findings {
    let mut found = Findings::default();
    let with = if destroy {
        "once jprov's files are removed"
    } else {
        "with the new files"
    };
    for (program, failure) in &report.validations {
        match failure {
            None => found.checks.push(format!(
                "`{program} -t` passes {with} (staged; live files untouched)"
            )),
            Some(out) => found.problems.push(format!(
                "`{program} -t` rejects the configuration {with}:\n{}",
                out.trim()
            )),
        }
    }
    if let Some(intent) = sshd_intent {
        let problems = plan::sshd_problems(intent, &report.sshd);
        if problems.is_empty() && !intent.is_empty() {
            found.checks.push(
                "sshd's effective settings (sshd -T) with the new files match the intent".into(),
            );
        }
        found.problems.extend(problems);
    }
    found
}
