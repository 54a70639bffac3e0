//! Plan and apply for a whole profile: gather facts, compute, validate on the hosts, run, repeat until
//! converged.

use crate::desired::Options;
use crate::error::Error;
use crate::host::fault;
use crate::host::hosts::Host;
use crate::host::validate::check_candidates;
use crate::plan::{self, Change, Plan};
use crate::profile::LoadedProfile;
use crate::protocol::{self, Failure, GuardReply, Outcome};
use crate::render::Templates;
use crate::resource::Role;
use crate::script::{self, GuardAction, Root};
use std::io::Write;

pub use crate::host::hosts::{targets, Hosts};

/// Apply settings beyond the desired state.
#[derive(Clone, Copy, Debug)]
pub struct ApplySettings {
    pub options: Options,
    /// Seconds after which the on-host lockout guard restores the previous sshd files unless disarmed.
    pub guard_seconds: u32,
}

pub fn plan_online(
    lp: &LoadedProfile,
    templates: &Templates,
    hosts: &mut Hosts,
    options: Options,
) -> Result<Plan, Error> {
    let (server, workstation) = hosts.gather(templates, lp)?;
    let addresses = [
        (Role::Server, hosts.server.address.clone()),
        (Role::Workstation, hosts.workstation.address.clone()),
    ];
    let mut plan = plan::of_profile::compute(
        lp,
        templates,
        Some((&server, &workstation)),
        addresses,
        options,
    )?;
    for host in [&mut hosts.server, &mut hosts.workstation] {
        let host_plan = plan
            .hosts
            .iter_mut()
            .find(|h| h.role == host.role)
            .expect("planned");
        let found = check_candidates(templates, host, host_plan, options.destroy)?;
        host_plan.checks.extend(found.checks);
        host_plan.problems.extend(found.problems);
    }
    Ok(plan)
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
    out: &mut dyn Write,
) -> Result<Plan, Error> {
    let options = settings.options;
    let name = lp.profile.name.as_str();
    for round in 1..=MAX_ROUNDS {
        let plan = plan_online(lp, templates, hosts, options)?;
        if round == 1 {
            let _ = write!(out, "{plan}");
            if let Some(saved) = saved {
                saved.check_plan(&plan)?;
                let _ = writeln!(
                    out,
                    "The hosts and the changes are exactly those of the saved plan."
                );
            }
        }
        if plan.has_problems() {
            return Err(Error::PlanProblems(problem_summary(&plan)));
        }
        if !plan.has_changes() {
            let done = if plan.destroy {
                "Destroyed: nothing jprov set up for the profile is left on the hosts."
            } else {
                "Applied: the hosts match the profile."
            };
            let _ = writeln!(out, "{done}");
            return Ok(plan);
        }
        // A round runs the lowest phase left on any host (`plan::phase`): late changes (tunnels, services)
        // wait until nothing else is left, so they find their peer configured and their files in place; a
        // teardown stops services everywhere first and forgets jprov's records last.
        let phase = plan
            .hosts
            .iter()
            .flat_map(|h| h.changes.iter())
            .filter(|c| c.is_actionable())
            .map(Change::phase)
            .min()
            .unwrap_or(plan::phase::MAIN);
        let run = script::Run {
            profile: name,
            guard_seconds: settings.guard_seconds,
            root: Root::HOST,
        };
        let scripts = [Role::Server, Role::Workstation]
            .map(|role| script::apply(&run, plan.host(role), phase));
        let [server_script, workstation_script] = scripts;
        let (server_script, workstation_script) = (server_script?, workstation_script?);
        // A guard an earlier apply left armed is resolved in this round even when no script runs.
        let guard_left = |role| {
            plan.host(role)
                .changes
                .iter()
                .any(|c| matches!(c, Change::ResolveGuard { .. }))
        };
        let guards_left = [guard_left(Role::Server), guard_left(Role::Workstation)];
        if server_script.is_none() && workstation_script.is_none() && !guards_left.contains(&true) {
            return Err(Error::NotConverged {
                rounds: round,
                pending: pending_summary(&plan),
            });
        }
        let (server, workstation) = (&mut hosts.server, &mut hosts.workstation);
        let results = std::thread::scope(|s| {
            let server = s.spawn(|| run_apply_script(server, server_script.as_deref()));
            let workstation = run_apply_script(workstation, workstation_script.as_deref());
            [server.join().expect("apply thread"), workstation]
        });
        // Every guard armed now or left from before is resolved before any error of the round is returned:
        // a guard nobody resolves would later undo files that may be exactly what the profile wants.
        let mut outcomes = vec![];
        for ((host, result), guard_left) in [&mut hosts.server, &mut hosts.workstation]
            .into_iter()
            .zip(results)
            .zip(guards_left)
        {
            let armed = matches!(&result, Ok(Some(outcome)) if outcome.guard_armed);
            if armed || guard_left {
                resolve_guard(name, host, armed, out)?;
            }
            outcomes.push((host.role, result));
        }
        for (role, result) in outcomes {
            if let Some(outcome) = result? {
                let _ = writeln!(out, "round {round}: {}", describe(role, &outcome));
            }
        }
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

fn run_apply_script(host: &mut Host, script: Option<&str>) -> Result<Option<Outcome>, Error> {
    let Some(script) = script else {
        return Ok(None);
    };
    let output = host.run(script)?;
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
