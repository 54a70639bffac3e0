//! Plan-time validation on the host: the plan's candidate files staged in a scratch copy of the host's
//! configuration and checked by the real `sshd -t` / `nginx -t`, and sshd's effective settings with them.
//! The live files are not touched. The result is a value the caller adds to the host's plan.

use crate::error::Error;
use crate::host::fault;
use crate::host::hosts::Host;
use crate::plan::{self, HostPlan};
use crate::protocol::{self, CheckReport};
use crate::render::Templates;
use crate::resource::SshdExpectation;

/// What validating a host's candidates found.
#[derive(Debug, Default)]
pub struct Findings {
    /// What was checked and passed ("`sshd -t` passes with the new files ...").
    pub checks: Vec<String>,
    /// Why the result would not be what the profile wants.
    pub problems: Vec<String>,
}

impl Findings {
    fn problem(problem: String) -> Findings {
        Findings {
            checks: vec![],
            problems: vec![problem],
        }
    }
}

/// Validate `host_plan`'s candidate files on `host`; `destroy`: the candidates are a teardown's.
pub fn check_candidates(
    templates: &Templates,
    host: &mut Host,
    host_plan: &HostPlan,
    destroy: bool,
) -> Result<Findings, Error> {
    if fault::injected("skip-plan-validation") {
        return Ok(Findings::default());
    }
    let mut users: Vec<&str> = host_plan
        .sshd_intent
        .iter()
        .map(|e| e.user.as_str())
        .collect();
    users.dedup();
    let Some(script) = crate::script::check(templates, &host_plan.changes, &users)? else {
        return Ok(Findings::default());
    };
    let output = host.run(&script.text)?;
    let report = match protocol::parse_check(&output.stdout) {
        Ok(report) => report,
        Err(unknown) => {
            return Ok(Findings::problem(format!(
                "validating the new files on the host printed what jprov does not know ({unknown})"
            )))
        }
    };
    if let Some(message) = &report.error {
        return Ok(Findings::problem(format!(
            "validating the new files on the host failed: {message}"
        )));
    }
    if !report.complete {
        return Ok(Findings::problem(format!(
            "validating the new files on the host did not finish: {}",
            output.stderr.trim()
        )));
    }
    Ok(findings(
        &report,
        script
            .staged_sshd
            .then_some(host_plan.sshd_intent.as_slice()),
        destroy,
    ))
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
