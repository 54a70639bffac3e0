//! Plan and apply for a whole profile: connect, gather facts, compute, run, repeat until converged.

use crate::apply::{self, Failure, GuardReply};
use crate::desired::{self, Options, World};
use crate::facts::{self, Facts, FactsError};
use crate::plan::{self, Change, Plan};
use crate::profile::{LoadedProfile, ProfileError, WorkstationHost};
use crate::render::{RenderError, Templates};
use crate::resource::Role;
use crate::ssh::{self, Target};
use crate::transport::{Transport, TransportError};
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{role}: {source}")]
    Transport {
        role: Role,
        #[source]
        source: TransportError,
    },
    #[error("{role}: {source}")]
    Facts {
        role: Role,
        #[source]
        source: FactsError,
    },
    #[error("{role}: `{program} -t` rejected the new configuration; the previous files were restored and nothing was reloaded. It said:\n{output}")]
    Invalid {
        role: Role,
        program: String,
        output: String,
    },
    #[error("{role}: apply failed: {message}")]
    Apply { role: Role, message: String },
    #[error("{role}: after the sshd reload a fresh login as {user} failed ({reason}). jprov restored the previous sshd files and reloaded sshd; your access is as before. Nothing in the profile was applied to sshd.")]
    LockoutPrevented {
        role: Role,
        user: String,
        reason: String,
    },
    #[error(transparent)]
    SavedPlan(#[from] crate::saved_plan::SavedPlanError),
    #[error("the plan has problems; nothing was changed:\n{0}")]
    PlanProblems(String),
    #[error("apply stopped after {rounds} rounds with changes still pending:\n{pending}")]
    NotConverged { rounds: usize, pending: String },
}

/// Exit codes, documented in README.md.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const INVALID: u8 = 3;
    pub const UNREACHABLE: u8 = 4;
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Invalid { .. } | RunError::PlanProblems(_) => exit::INVALID,
            RunError::Transport { source, .. } if source.is_unreachable() => exit::UNREACHABLE,
            _ => exit::ERROR,
        }
    }
}

/// A connected host.
pub struct Host {
    pub role: Role,
    pub address: String,
    transport: Transport,
    sudo: bool,
    /// How it was reached, to prove a fresh login after an sshd reload; `None` for this machine.
    target: Option<Target>,
}

impl Host {
    fn run(&mut self, script: &str) -> Result<crate::transport::ExecOutput, RunError> {
        self.transport
            .run_script(script, self.sudo)
            .map_err(|source| RunError::Transport {
                role: self.role,
                source,
            })
    }

    /// After an sshd reload: does a brand-new login (and `sudo -n`) still work with the same credentials?
    fn prove_fresh_login(&self) -> Result<(), String> {
        // jprov runs on this host: sshd's files cannot shut it out.
        let Some(target) = &self.target else {
            return Ok(());
        };
        // sshd re-executes itself on SIGHUP and refuses connections for a moment: retry an unreachable port
        // for a while, never a refused login.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let mut connection = loop {
            match ssh::connect(target) {
                Ok(connection) => break connection,
                Err(TransportError::Unreachable { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let command = if self.sudo { "sudo -n true" } else { "true" };
        let output = connection.exec(command, b"").map_err(|e| e.to_string())?;
        if output.status == 0 {
            Ok(())
        } else {
            Err(format!(
                "`{command}` exited {}: {}",
                output.status,
                output.stderr.trim()
            ))
        }
    }

    fn login_user(&self) -> String {
        self.target
            .as_ref()
            .map_or_else(|| "the local user".into(), |t| t.user.clone())
    }

    fn gather(
        &mut self,
        templates: &Templates,
        query: &facts::FactQuery,
    ) -> Result<Facts, RunError> {
        let script = facts::script(templates, query)?;
        let output = self.run(&script)?;
        let mut facts =
            facts::parse(&output.stdout, &output.stderr).map_err(|source| RunError::Facts {
                role: self.role,
                source,
            })?;
        facts.host_key = self.transport.host_key().map(|k| k.to_line());
        Ok(facts)
    }
}

pub struct Hosts {
    pub server: Host,
    pub workstation: Host,
}

/// Apply settings beyond the desired state.
#[derive(Clone, Copy, Debug)]
pub struct ApplySettings {
    pub options: Options,
    /// Seconds after which the on-host lockout guard restores the previous sshd files unless disarmed.
    pub guard_seconds: u32,
}

/// Fault injection for tests (`JPROV_FAULT`): `exit-after-sshd-reload` makes jprov exit right after sshd
/// was reloaded, as if its connection had died, so the on-host lockout guard can be proven;
/// `skip-plan-validation` skips the plan-time check of candidates, as if the host had changed between that
/// check and the write, so apply's own validate-and-restore can be proven.
const FAULT_ENV: &str = "JPROV_FAULT";

pub fn targets(lp: &LoadedProfile, accept_new_host_keys: bool) -> (Target, Option<Target>) {
    let p = &lp.profile;
    let pinned = Some(lp.pinned_known_hosts());
    let server = Target {
        host: p.server.host.to_string(),
        port: p.server.port.get(),
        user: p.server.user.to_string(),
        identity_file: p.server.identity_file.as_ref().map(|f| lp.resolve(f)),
        pinned_known_hosts: pinned.clone(),
        accept_new_host_key: accept_new_host_keys,
        jump: None,
    };
    let workstation = match &p.workstation.host {
        WorkstationHost::Local => None,
        WorkstationHost::Remote(host) => Some(Target {
            host: host.to_string(),
            port: p.workstation.port.get(),
            user: p.workstation.user.to_string(),
            identity_file: p.workstation.identity_file.as_ref().map(|f| lp.resolve(f)),
            pinned_known_hosts: pinned,
            accept_new_host_key: accept_new_host_keys,
            jump: p.workstation.jump.map(|_| Box::new(server.clone())),
        }),
    };
    (server, workstation)
}

impl Hosts {
    /// Connect to both hosts in parallel; host keys are verified before anything is sent.
    pub fn connect(lp: &LoadedProfile, accept_new_host_keys: bool) -> Result<Hosts, RunError> {
        let (server_target, workstation_target) = targets(lp, accept_new_host_keys);
        let p = &lp.profile;
        let (server, workstation) = std::thread::scope(|s| {
            let server = s.spawn(|| ssh::connect(&server_target));
            let workstation = workstation_target.as_ref().map(ssh::connect);
            (server.join().expect("connect thread"), workstation)
        });
        let server = server.map_err(|source| RunError::Transport {
            role: Role::Server,
            source,
        })?;
        let workstation = match workstation {
            None => Transport::Local,
            Some(w) => Transport::Ssh(Box::new(w.map_err(|source| RunError::Transport {
                role: Role::Workstation,
                source,
            })?)),
        };
        let workstation_address = match &workstation_target {
            None => "local".to_string(),
            Some(t) if t.jump.is_some() => format!("{} (through the server)", t.display()),
            Some(t) => t.display(),
        };
        Ok(Hosts {
            server: Host {
                role: Role::Server,
                address: server_target.display(),
                transport: Transport::Ssh(Box::new(server)),
                sudo: p.server.sudo && p.server.user.as_str() != "root",
                target: Some(server_target),
            },
            workstation: Host {
                role: Role::Workstation,
                address: workstation_address,
                transport: workstation,
                sudo: false,
                target: workstation_target,
            },
        })
    }

    fn gather(
        &mut self,
        templates: &Templates,
        lp: &LoadedProfile,
    ) -> Result<(Facts, Facts), RunError> {
        let [(_, server_query), (_, workstation_query)] = desired::fact_queries(&lp.profile);
        let (server, workstation) = (&mut self.server, &mut self.workstation);
        std::thread::scope(|s| {
            let server = s.spawn(|| server.gather(templates, &server_query));
            let workstation = workstation.gather(templates, &workstation_query);
            Ok((server.join().expect("facts thread")?, workstation?))
        })
    }
}

/// Addresses shown in an offline plan.
fn offline_addresses(lp: &LoadedProfile) -> [(Role, String); 2] {
    let (server, workstation) = targets(lp, false);
    [
        (Role::Server, server.display()),
        (
            Role::Workstation,
            workstation.map_or("local".into(), |w| w.display()),
        ),
    ]
}

fn compute(
    lp: &LoadedProfile,
    templates: &Templates,
    facts: Option<(&Facts, &Facts)>,
    addresses: [(Role, String); 2],
    options: Options,
) -> Result<Plan, RunError> {
    let p = &lp.profile;
    let world = World {
        server: facts.map(|f| f.0),
        workstation: facts.map(|f| f.1),
    };
    let desired = desired::build(p, world, templates, options)?;
    let planner = if options.destroy {
        crate::destroy::compute
    } else {
        plan::compute
    };
    Ok(planner(
        p.name.as_str(),
        &p.method.to_string(),
        &desired,
        [
            (Role::Server, world.server),
            (Role::Workstation, world.workstation),
        ],
        addresses,
    ))
}

pub fn plan_offline(
    lp: &LoadedProfile,
    templates: &Templates,
    options: Options,
) -> Result<Plan, RunError> {
    compute(lp, templates, None, offline_addresses(lp), options)
}

pub fn plan_online(
    lp: &LoadedProfile,
    templates: &Templates,
    hosts: &mut Hosts,
    options: Options,
) -> Result<Plan, RunError> {
    let (server, workstation) = hosts.gather(templates, lp)?;
    let addresses = [
        (Role::Server, hosts.server.address.clone()),
        (Role::Workstation, hosts.workstation.address.clone()),
    ];
    let mut plan = compute(
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
        check_candidates(templates, host, host_plan, options.destroy)?;
    }
    Ok(plan)
}

/// Validate the plan's candidate files on the host, in a scratch copy of its configuration: the live files
/// are not touched. Adds what was checked and any problem to the host's plan.
fn check_candidates(
    templates: &Templates,
    host: &mut Host,
    host_plan: &mut plan::HostPlan,
    destroy: bool,
) -> Result<(), RunError> {
    use crate::plan::Removal;
    use crate::resource::{Content, Validation};
    use serde_json::json;
    let mut candidates: [Vec<serde_json::Value>; 2] = [vec![], vec![]];
    let slot = |validation: &Validation| match validation {
        Validation::Sshd => 0,
        Validation::Nginx => 1,
    };
    for change in &host_plan.changes {
        match change {
            Change::WriteFiles {
                files,
                validate: Some(validation),
                ..
            } => {
                for file in files {
                    if let Content::Known(content) = &file.file.content {
                        candidates[slot(validation)]
                            .push(json!({"path": file.path, "content": content}));
                    }
                }
            }
            Change::RemoveFiles {
                files,
                validate: Some(validation),
                ..
            } => {
                for file in files {
                    let candidate = match &file.how {
                        Removal::Delete => json!({"path": file.path, "remove": true}),
                        Removal::Restore {
                            original: Some(content),
                        } => json!({"path": file.path, "content": content}),
                        // A link comes back: nothing to stage.
                        Removal::Restore { original: None } => continue,
                        Removal::RemoveLine { file: f, .. } => match &f.content {
                            Content::Known(content) => {
                                json!({"path": file.path, "content": content})
                            }
                            Content::Pending(_) => continue,
                        },
                    };
                    candidates[slot(validation)].push(candidate);
                }
            }
            _ => {}
        }
    }
    if candidates.iter().all(Vec::is_empty)
        || std::env::var(FAULT_ENV).as_deref() == Ok("skip-plan-validation")
    {
        return Ok(());
    }
    let [sshd, nginx] = candidates;
    let mut users: Vec<&str> = host_plan
        .sshd_intent
        .iter()
        .map(|e| e.user.as_str())
        .collect();
    users.dedup();
    let script = templates.render(
        "check.sh",
        serde_json::json!({
            "sshd": sshd,
            "nginx": nginx,
            "sshd_users": users,
            "sshd_keywords": crate::resource::SSHD_KEYWORDS,
        }),
    )?;
    let output = host.run(&script)?;
    let report = facts::parse_check(&output.stdout);
    if !report.complete {
        host_plan.problems.push(format!(
            "validating the new files on the host did not finish: {}",
            output.stderr.trim()
        ));
        return Ok(());
    }
    for (program, failure) in &report.validations {
        let with = if destroy {
            "once jprov's files are removed"
        } else {
            "with the new files"
        };
        match failure {
            None => host_plan.checks.push(format!(
                "`{program} -t` passes {with} (staged; live files untouched)"
            )),
            Some(out) => host_plan.problems.push(format!(
                "`{program} -t` rejects the configuration {with}:\n{}",
                out.trim()
            )),
        }
    }
    if !sshd.is_empty() {
        let problems = plan::sshd_problems(&host_plan.sshd_intent, &report.sshd);
        if problems.is_empty() && !host_plan.sshd_intent.is_empty() {
            host_plan.checks.push(
                "sshd's effective settings (sshd -T) with the new files match the intent".into(),
            );
        }
        host_plan.problems.extend(problems);
    }
    Ok(())
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
) -> Result<Plan, RunError> {
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
            return Err(RunError::PlanProblems(problem_summary(&plan)));
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
        let scripts = [Role::Server, Role::Workstation].map(|role| {
            apply::script(
                templates,
                name,
                plan.host(role),
                phase,
                settings.guard_seconds,
            )
        });
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
            return Err(RunError::NotConverged {
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
                resolve_guard(name, templates, host, armed, out)?;
            }
            outcomes.push((host.role, result));
        }
        for (role, result) in outcomes {
            if let Some(outcome) = result? {
                let _ = writeln!(out, "round {round}: {}", apply::describe(role, &outcome));
            }
        }
    }
    let plan = plan_online(lp, templates, hosts, options)?;
    if plan.has_changes() {
        return Err(RunError::NotConverged {
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
    templates: &Templates,
    host: &mut Host,
    just_armed: bool,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    if just_armed && std::env::var(FAULT_ENV).as_deref() == Ok("exit-after-sshd-reload") {
        let _ = writeln!(out, "{FAULT_ENV}: exiting right after the sshd reload");
        let _ = out.flush();
        std::process::exit(9);
    }
    let proof = host.prove_fresh_login();
    let script = apply::guard_script(templates, profile, proof.is_err())?;
    let output = host.run(&script)?;
    let role = host.role;
    let reply = apply::parse_guard_reply(&output.stdout);
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
        (Err(reason), GuardReply::Fired) => Err(RunError::LockoutPrevented {
            role,
            user: host.login_user(),
            reason,
        }),
        (Err(reason), _) => Err(RunError::Apply {
            role,
            message: format!(
                "a fresh login failed after the sshd reload ({reason}) and restoring the previous files failed too: {}. \
                 The on-host guard will try again; keep this session open.",
                output.stderr.trim()
            ),
        }),
        (Ok(()), reply) => Err(RunError::Apply {
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
) -> Result<Option<apply::Outcome>, RunError> {
    let Some(script) = script else {
        return Ok(None);
    };
    let output = host.run(script)?;
    let outcome = apply::parse_outcome(&output.stdout);
    match outcome.failure {
        Some(Failure::Invalid { program, output }) => Err(RunError::Invalid {
            role: host.role,
            program,
            output,
        }),
        Some(Failure::Error(message)) => Err(RunError::Apply {
            role: host.role,
            message,
        }),
        None if !outcome.finished => Err(RunError::Apply {
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
