//! Plan and apply for a whole profile: gather facts, compute, validate on the hosts, run, repeat until
//! converged.

use crate::desired::Options;
use crate::error::Error;
use crate::host::fault;
use crate::host::hosts::{in_parallel, Host};
use crate::host::progress::Progress;
use crate::host::validate::check_candidates;
use crate::plan::{self, Change, Plan};
use crate::profile::LoadedProfile;
use crate::protocol::{self, Failure, GuardReply, Outcome};
use crate::render::Templates;
use crate::resource::{PerRole, Role};
use crate::script::{self, GuardAction, Root};
use std::io::Write;

pub use crate::host::hosts::{targets, Hosts};

/// Apply settings beyond the desired state.
#[derive(Clone, Copy, Debug)]
pub struct ApplySettings {
    pub options: Options,
    /// Seconds after which the on-host lockout guard restores the previous sshd files unless disarmed.
    pub guard_seconds: u32,
    /// Progress lines name the profile (an invocation with several profiles).
    pub name_profile: bool,
    /// Print the first round's plan (an invocation with several profiles showed them all already).
    pub show_plan: bool,
}

pub fn plan_online(
    lp: &LoadedProfile,
    templates: &Templates,
    hosts: &mut Hosts,
    options: Options,
) -> Result<Plan, Error> {
    let facts = hosts.gather(templates, lp)?;
    plan_from_facts(lp, templates, hosts, facts, options)
}

/// The plan from facts already gathered (by this profile alone, or with every profile sharing its hosts),
/// validated on the hosts.
pub fn plan_from_facts(
    lp: &LoadedProfile,
    templates: &Templates,
    hosts: &mut Hosts,
    facts: PerRole<crate::facts::Facts>,
    options: Options,
) -> Result<Plan, Error> {
    let mut plan =
        plan::of_profile::compute(lp, templates, facts.as_ref(), &hosts.addresses(), options)?;
    for host in hosts.connected.iter_mut() {
        let Some(host_plan) = plan.hosts.get_mut(host.role) else {
            continue;
        };
        let found = check_candidates(templates, host, host_plan, options.destroy)?;
        host_plan.checks.extend(found.checks);
        host_plan.problems.extend(found.problems);
    }
    Ok(plan)
}

/// What apply says once a fresh plan has no changes left (`destroy`: of a teardown).
pub fn converged(destroy: bool) -> &'static str {
    match destroy {
        true => "Destroyed: nothing jprov set up for the profile is left on the hosts.",
        false => "Applied: the hosts match the profile.",
    }
}

/// Rounds before giving up: key generation and certificates make content for later rounds.
const MAX_ROUNDS: usize = 5;

/// Apply until a fresh plan shows no changes. Prints the first plan and a line per host per round.
pub fn apply(
    lp: &LoadedProfile,
    templates: &Templates,
    hosts: &mut Hosts,
    settings: ApplySettings,
    saved: Option<&crate::saved_plan::SavedPlan>,
    approve: &mut dyn FnMut(&Plan, &mut dyn Write) -> Result<(), Error>,
    out: &mut dyn Write,
) -> Result<Plan, Error> {
    let options = settings.options;
    for round in 1..=MAX_ROUNDS {
        let plan = plan_online(lp, templates, hosts, options)?;
        // Several profiles: every plan was shown, and checked against the saved one, before any applies;
        // what the first round finds must still be what was shown and approved.
        if round == 1 {
            if settings.show_plan {
                let _ = write!(out, "{plan}");
            }
            if let Some(saved) = saved {
                saved.check_plan(&plan)?;
                if settings.show_plan {
                    let _ = writeln!(
                        out,
                        "The hosts and the changes are exactly those of the saved plan."
                    );
                }
            }
        }
        if plan.has_problems() {
            return Err(Error::PlanProblems(problem_summary(&plan)));
        }
        // What was shown is what the round runs: the approval is for this plan, not a recomputed one.
        if round == 1 && plan.has_changes() {
            approve(&plan, out)?;
        }
        if !plan.has_changes() {
            let _ = writeln!(out, "{}", converged(plan.destroy));
            return Ok(plan);
        }
        let round = Round {
            number: round,
            profile: lp.profile.name.as_str(),
            guard_seconds: settings.guard_seconds,
            name_profile: settings.name_profile,
        };
        run_round(&round, hosts, &plan, out)?;
    }
    let plan = plan_online(lp, templates, hosts, options)?;
    if plan.has_changes() {
        return Err(Error::NotConverged {
            rounds: MAX_ROUNDS,
            pending: pending_summary(&plan),
        });
    }
    Ok(plan)
}

/// One round of an apply.
struct Round<'a> {
    number: usize,
    profile: &'a str,
    guard_seconds: u32,
    /// Progress lines name the profile too (an invocation with several).
    name_profile: bool,
}

impl Round<'_> {
    /// A host as progress lines name it.
    fn who(&self, role: Role) -> String {
        match self.name_profile {
            true => format!("{}/{role}", self.profile),
            false => role.to_string(),
        }
    }
}

/// A round runs the lowest phase left on any host (`plan::phase`): late changes (tunnels, services) wait
/// until nothing else is left, so they find their peer configured and their files in place; a teardown
/// stops services everywhere first and forgets jprov's records last.
fn lowest_phase(plan: &Plan) -> u8 {
    plan.hosts
        .iter()
        .flat_map(|h| h.changes.iter())
        .filter(|c| c.is_actionable())
        .map(Change::phase)
        .min()
        .unwrap_or(plan::phase::MAIN)
}

/// Run the round's script on every host at once, then resolve every lockout guard armed now or left
/// armed by an earlier apply, then report each host's outcome (or its error).
fn run_round(
    round: &Round,
    hosts: &mut Hosts,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let phase = lowest_phase(plan);
    let run = script::Run {
        profile: round.profile,
        guard_seconds: round.guard_seconds,
        root: Root::HOST,
    };
    let mut scripts = PerRole::new();
    for host_plan in &plan.hosts {
        scripts.insert(host_plan.role, script::apply(&run, host_plan, phase)?);
    }
    // A guard an earlier apply left armed is resolved in this round even when no script runs.
    let guards_left = plan.hosts.as_ref().map(|_, host_plan| {
        host_plan
            .changes
            .iter()
            .any(|c| matches!(c, Change::ResolveGuard { .. }))
    });
    if scripts.iter().all(Option::is_none) && !guards_left.iter().any(|left| *left) {
        return Err(Error::NotConverged {
            rounds: round.number,
            pending: pending_summary(plan),
        });
    }
    // Each host's script and the resolution of its guard, one host at a time per login: other profiles of
    // the invocation may share this host (a fleet's server), and their scripts must not interleave.
    let results = in_parallel(hosts.connected.as_mut(), |role, host| {
        let script = scripts.get(role).and_then(Option::as_ref);
        let labels = |script: &script::ApplyScript| {
            let changes = &plan.host(role).changes;
            (script.steps.iter())
                .map(|&i| crate::plan::step_label(&changes[i]))
                .collect()
        };
        let lock = host.changes_lock();
        let _held = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut progress = script.map(|s| Progress::start(round.who(role), labels(s)));
        let result = run_apply_script(host, script.map(|s| s.text.as_str()), &mut progress);
        // Every guard armed now or left from before is resolved before any error of the round is
        // returned: a guard nobody resolves would later undo files that may be exactly what the profile
        // wants.
        let armed = matches!(&result, Ok(Some(outcome)) if outcome.guard_armed);
        let mut said = Vec::new();
        let resolved = match armed || guards_left.get(role) == Some(&true) {
            true => resolve_guard(round.profile, host, armed, &mut said),
            false => Ok(()),
        };
        (result, resolved, said)
    });
    let mut first_error = None;
    let mut outcomes = vec![];
    // A guard's failure (a lockout prevented) says more than a script's: it comes first.
    for (role, (result, resolved, said)) in results.into_entries() {
        let _ = out.write_all(&said);
        if let Err(e) = resolved {
            first_error.get_or_insert(e);
        }
        outcomes.push((role, result));
    }
    for (role, result) in outcomes {
        match result {
            Ok(Some(outcome)) => {
                let _ = writeln!(out, "round {}: {}", round.number, describe(role, &outcome));
            }
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// A host's lockout guard is armed: sshd was just reloaded with new files (`just_armed`), or an earlier apply
/// left the guard armed. Prove a fresh login, then disarm it; if the login fails, have it restore at once.
fn resolve_guard(
    profile: &str,
    host: &mut Host,
    just_armed: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if just_armed && fault::injected("exit-after-sshd-reload") {
        let _ = writeln!(
            out,
            "{}: exiting right after the sshd reload",
            fault::FAULT_ENV
        );
        let _ = out.flush();
        std::process::exit(9);
    }
    let proof = host.prove_fresh_login();
    let action = if proof.is_err() {
        GuardAction::Fire
    } else {
        GuardAction::Disarm
    };
    let output = host.run(&script::guard(Root::HOST, profile, action)?)?;
    let role = host.role;
    let reply = protocol::parse_guard_reply(&output.stdout);
    match (proof, reply) {
        (Ok(()), GuardReply::Disarmed) => {
            let _ = writeln!(
                out,
                "{role}: a fresh login works after the sshd reload; lockout guard disarmed"
            );
            Ok(())
        }
        (Ok(()), GuardReply::Kept) => {
            let _ = writeln!(
                out,
                "{role}: a fresh login works; the lockout guard stays armed until the pending sshd reload is proven too"
            );
            Ok(())
        }
        (Ok(()), GuardReply::Gone) => {
            let _ = writeln!(
                out,
                "{role}: the lockout guard fired before jprov could disarm it (it put back the previous sshd files); planning again"
            );
            Ok(())
        }
        (Err(reason), GuardReply::Fired) => Err(Error::LockoutPrevented {
            role,
            user: host.login_user(),
            reason,
        }),
        (Err(reason), _) => Err(Error::Apply {
            role,
            message: format!(
                "a fresh login failed after the sshd reload ({reason}) and restoring the previous files failed too: {}. \
                 The on-host guard will try again; keep this session open.",
                output.stderr.trim()
            ),
        }),
        (Ok(()), reply) => Err(Error::Apply {
            role,
            message: format!(
                "disarming the lockout guard failed ({reply:?}): {}",
                output.stderr.trim()
            ),
        }),
    }
}

fn run_apply_script(
    host: &mut Host,
    script: Option<&str>,
    progress: &mut Option<Progress>,
) -> Result<Option<Outcome>, Error> {
    let Some(script) = script else {
        return Ok(None);
    };
    let output = host.run_watching(script, &mut |line| {
        if let Some(progress) = progress {
            progress.line(line);
        }
    })?;
    let outcome = protocol::parse_outcome(&output.stdout);
    match outcome.failure {
        Some(Failure::Invalid { program, output }) => Err(Error::Invalid {
            role: host.role,
            program,
            output,
        }),
        Some(Failure::Error(message)) => Err(Error::Apply {
            role: host.role,
            message,
        }),
        Some(Failure::Unknown(unknown)) => Err(Error::Apply {
            role: host.role,
            message: format!("the apply script printed what jprov does not know ({unknown})"),
        }),
        None if !outcome.finished => Err(Error::Apply {
            role: host.role,
            message: format!(
                "the apply script stopped early (exit {}): {}",
                output.status,
                output.stderr.trim().chars().take(2000).collect::<String>()
            ),
        }),
        None => Ok(Some(outcome)),
    }
}

/// A one-line account of a host's round, for the apply log.
fn describe(role: Role, outcome: &Outcome) -> String {
    let reloads = if outcome.reloaded.is_empty() {
        String::new()
    } else {
        format!("; reloaded {}", outcome.reloaded.join(", "))
    };
    format!("{role}: {} step(s) done{reloads}", outcome.steps_done)
}

fn problem_summary(plan: &Plan) -> String {
    plan.hosts
        .iter()
        .flat_map(|h| {
            h.problems
                .iter()
                .map(move |p| format!("  {}: {p}\n", h.role))
        })
        .collect()
}

fn pending_summary(plan: &Plan) -> String {
    let mut text = String::new();
    for host in &plan.hosts {
        for change in &host.changes {
            let what = match change {
                Change::WriteFiles { files, .. } => files
                    .iter()
                    .map(|f| format!("{} ({})", f.path, f.reason))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => format!("{other:?}").chars().take(200).collect(),
            };
            text.push_str(&format!("  {}: {what}\n", host.role));
        }
    }
    text
}
