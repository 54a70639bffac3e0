//! `plan`, `apply` and `destroy` of several profiles in one invocation: which files the arguments name,
//! the collision check before any host is contacted, output grouped per profile, one approval for all, and
//! the exit codes combined as for one profile.

use super::{tell_after_apply, Approval, ConnectArgs, GuardArgs, PlanOutput};
use crate::desired::Options;
use crate::error::{exit, Error};
use crate::host::fleet::Fleet;
use crate::plan::Plan;
use crate::profile::{self, LoadedProfile};
use crate::render::Templates;
use crate::saved_plan::{self, SavedPlan};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The profile files the arguments name: each file as it is, each directory's `*.yaml` and `*.yml` files
/// in name order.
pub(super) fn profile_paths(arguments: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut paths = vec![];
    for argument in arguments {
        if !argument.is_dir() {
            paths.push(argument.clone());
            continue;
        }
        let entries = std::fs::read_dir(argument).map_err(|error| Error::Output {
            what: format!("the directory {}", argument.display()),
            error,
        })?;
        let mut found: Vec<PathBuf> = (entries.filter_map(Result::ok))
            .map(|entry| entry.path())
            .filter(|path| {
                path.is_file()
                    && matches!(
                        path.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml")
                    )
            })
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds no profile (*.yaml or *.yml)",
                argument.display()
            )));
        }
        found.sort();
        paths.extend(found);
    }
    // A profile named twice (`profiles/ profiles/alice.yaml`) is one profile, not a collision with itself.
    let mut seen = std::collections::HashSet::new();
    paths.retain(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())));
    Ok(paths)
}

/// `jprov plan ARGS`: one profile as always, several together.
pub(super) fn plan(
    arguments: &[PathBuf],
    offline: bool,
    connect: &ConnectArgs,
    options: Options,
    how: &PlanOutput,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    match profile_paths(arguments)?.as_slice() {
        [one] => super::plan(one, offline, connect, options, how, templates, stdout),
        paths => Run::new(paths, templates, connect)?.plan(offline, options, how, stdout),
    }
}

/// `jprov apply ARGS`: one profile or saved plan as always; several profiles, or a saved plan of several,
/// together.
pub(super) fn apply(
    arguments: &[PathBuf],
    start_tunnel: bool,
    connect: &ConnectArgs,
    guard: &GuardArgs,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let options = Options {
        start_tunnel,
        destroy: false,
    };
    match saved_or_paths(arguments)? {
        Given::One(path) => super::apply_profile_or_saved_plan(
            &path,
            start_tunnel,
            connect,
            guard,
            templates,
            stdout,
        ),
        Given::Saved(saved) => {
            let run = Run::of_saved(&saved, templates, connect)?;
            run.apply(saved[0].options(), guard, Some(&saved), stdout)
        }
        Given::Several(paths) => {
            Run::new(&paths, templates, connect)?.apply(options, guard, None, stdout)
        }
    }
}

/// `jprov destroy ARGS`.
pub(super) fn destroy(
    arguments: &[PathBuf],
    connect: &ConnectArgs,
    guard: &GuardArgs,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let paths = profile_paths(arguments)?;
    if let [profile] = paths.as_slice() {
        return super::destroy(profile, connect, guard, templates, stdout);
    }
    let options = Options {
        start_tunnel: false,
        destroy: true,
    };
    Run::new(&paths, templates, connect)?.apply(options, guard, None, stdout)
}

/// What `jprov apply` was given.
pub(super) enum Given {
    /// One profile, or a plan of one profile saved with `plan -o`.
    One(PathBuf),
    /// A plan of several profiles saved with `plan -o`.
    Saved(Vec<SavedPlan>),
    Several(Vec<PathBuf>),
}

pub(super) fn saved_or_paths(arguments: &[PathBuf]) -> Result<Given, Error> {
    if let [one] = arguments {
        if let Some(saved) = saved_plan::load_all(one) {
            return Ok(Given::Saved(saved));
        }
    }
    let paths = profile_paths(arguments)?;
    Ok(match <[PathBuf; 1]>::try_from(paths) {
        Ok([one]) => Given::One(one),
        Err(paths) => Given::Several(paths),
    })
}

/// Several profiles, loaded and checked against each other.
pub(super) struct Run<'a> {
    profiles: Vec<LoadedProfile>,
    templates: &'a Templates,
    connect: &'a ConnectArgs,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        paths: &[PathBuf],
        templates: &'a Templates,
        connect: &'a ConnectArgs,
    ) -> Result<Run<'a>, Error> {
        let profiles = (paths.iter())
            .map(|path| profile::load(path))
            .collect::<Result<Vec<_>, _>>()?;
        refuse_collisions(&profiles)?;
        Ok(Run {
            profiles,
            templates,
            connect,
        })
    }

    /// The profiles of a saved plan, each unchanged since it was saved.
    pub(super) fn of_saved(
        saved: &[SavedPlan],
        templates: &'a Templates,
        connect: &'a ConnectArgs,
    ) -> Result<Run<'a>, Error> {
        let paths: Vec<PathBuf> = saved.iter().map(|s| s.profile.clone()).collect();
        let run = Run::new(&paths, templates, connect)?;
        for (lp, saved) in run.profiles.iter().zip(saved) {
            saved.check_profile(&lp.digest)?;
        }
        Ok(run)
    }

    /// `jprov plan P1 P2 ...`.
    pub(super) fn plan(
        &self,
        offline: bool,
        options: Options,
        how: &PlanOutput,
        stdout: &mut dyn Write,
    ) -> Result<u8, Error> {
        let plans: Vec<Result<Plan, Error>> = match offline {
            true => (self.profiles.iter())
                .map(|lp| crate::plan::of_profile::offline(lp, self.templates, options))
                .map(|plan| plan.map_err(Error::from))
                .collect(),
            false => Fleet::connect(&self.profiles, &self.connect.connecting()).plan(
                &self.profiles,
                self.templates,
                options,
            ),
        };
        if let Some(file) = &how.save {
            self.save(file, &plans, options)?;
        }
        match how.json {
            true => self.write_json(&plans, stdout),
            false => self.write_text(&plans, stdout),
        }
        Ok(combined(plans.iter().map(plan_code)))
    }

    /// Save every profile's plan in one file, or none when any profile has no plan.
    fn save(
        &self,
        file: &Path,
        plans: &[Result<Plan, Error>],
        options: Options,
    ) -> Result<(), Error> {
        let mut saved = vec![];
        for (lp, plan) in self.profiles.iter().zip(plans) {
            let Ok(plan) = plan else {
                return Err(Error::Usage(format!(
                    "the plan was not saved to {}: {} has no plan (see its error)",
                    file.display(),
                    lp.path.display()
                )));
            };
            saved.push(saved_plan::of(&lp.path, &lp.digest, plan, options));
        }
        Ok(saved_plan::save_all(file, saved)?)
    }

    fn write_text(&self, plans: &[Result<Plan, Error>], stdout: &mut dyn Write) {
        for (lp, plan) in self.profiles.iter().zip(plans) {
            let _ = writeln!(stdout, "{}", header(lp));
            match plan {
                Ok(plan) => {
                    let _ = write!(stdout, "{plan}");
                }
                Err(error) => {
                    let _ = writeln!(stdout, "error: {error}");
                    eprintln!("error: {}: {error}", lp.path.display());
                }
            }
            let _ = writeln!(stdout);
        }
    }

    fn write_json(&self, plans: &[Result<Plan, Error>], stdout: &mut dyn Write) {
        let entries: Vec<serde_json::Value> = (self.profiles.iter().zip(plans))
            .map(|(lp, plan)| match plan {
                Ok(plan) => serde_json::json!({"profile": lp.path, "plan": plan}),
                Err(error) => {
                    eprintln!("error: {}: {error}", lp.path.display());
                    serde_json::json!({"profile": lp.path, "error": {
                        "message": error.to_string(), "exit_code": error.exit_code()}})
                }
            })
            .collect();
        let value = serde_json::json!({
            "format_version": crate::plan::FORMAT_VERSION,
            "profiles": entries,
        });
        let text = serde_json::to_string_pretty(&value).expect("JSON values serialize");
        let _ = writeln!(stdout, "{text}");
    }

    /// `jprov apply P1 P2 ...`, `jprov destroy P1 P2 ...`, or `jprov apply FILE` with a saved plan of
    /// several profiles. Every plan is shown first; nothing is changed anywhere unless every profile has a
    /// plan without problems (and, saved, exactly the saved one), and the changes are approved once.
    pub(super) fn apply(
        &self,
        options: Options,
        guard: &GuardArgs,
        saved: Option<&[SavedPlan]>,
        stdout: &mut dyn Write,
    ) -> Result<u8, Error> {
        let command = if options.destroy { "destroy" } else { "apply" };
        let approval = Approval::of(guard.yes, saved.is_some(), command)?;
        let mut fleet = Fleet::connect(&self.profiles, &self.connect.connecting());
        let plans = fleet.plan(&self.profiles, self.templates, options);
        self.write_text(&plans, stdout);
        let code = combined(plans.iter().map(plan_code));
        if code != exit::OK && code != exit::CHANGES {
            let _ = writeln!(
                stdout,
                "Nothing was changed on any host: every profile needs a plan without errors or problems."
            );
            return Ok(code);
        }
        let plans: Vec<Plan> = plans.into_iter().map(|p| p.expect("no errors")).collect();
        if let Some(saved) = saved {
            for (saved, plan) in saved.iter().zip(&plans) {
                saved.check_plan(plan)?;
            }
            let _ = writeln!(
                stdout,
                "The hosts and the changes are exactly those of the saved plan."
            );
        }
        if plans.iter().any(Plan::has_changes) {
            approval.approve(stdout)?;
        }
        let expected: Vec<Option<SavedPlan>> = (self.profiles.iter().zip(&plans))
            .map(|(lp, plan)| {
                (plan.has_changes()).then(|| saved_plan::of(&lp.path, &lp.digest, plan, options))
            })
            .collect();
        let settings = crate::host::engine::ApplySettings {
            options,
            guard_seconds: guard.lockout_guard_seconds.max(1),
            name_profile: true,
            show_plan: false,
        };
        let applied = fleet.apply(&self.profiles, self.templates, settings, &expected);
        let mut codes = vec![];
        for ((lp, plan), applied) in self.profiles.iter().zip(&plans).zip(applied) {
            let _ = writeln!(stdout, "{}", header(lp));
            // A profile without changes was not applied: it says what one profile's apply says.
            let unchanged = || {
                let said = format!("{}\n", crate::host::engine::converged(options.destroy));
                (Ok(plan.clone()), said.into_bytes())
            };
            let (result, said) = applied.unwrap_or_else(unchanged);
            let _ = stdout.write_all(&said);
            match result {
                Ok(plan) => {
                    tell_after_apply(&plan, options, stdout);
                    codes.push(exit::OK);
                }
                Err(error) => {
                    let _ = writeln!(stdout, "error: {error}");
                    eprintln!("error: {}: {error}", lp.path.display());
                    codes.push(error.exit_code());
                }
            }
            let _ = writeln!(stdout);
        }
        Ok(combined(codes.into_iter()))
    }
}

fn header(lp: &LoadedProfile) -> String {
    format!("== {} ({}) ==", lp.profile.name, lp.path.display())
}

/// Profiles that would take the same thing on a shared host (a port, an account, a site, a name) are an
/// error before any host is contacted, offline too.
fn refuse_collisions(profiles: &[LoadedProfile]) -> Result<(), Error> {
    let refs: Vec<&LoadedProfile> = profiles.iter().collect();
    let found = crate::lint::fleet::conflicts(&refs);
    if found.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = (found.iter())
        .map(|(_, f)| {
            let file = f.file.as_deref().unwrap_or("");
            let field = f.field.as_deref().unwrap_or("");
            format!("  {file}: {field}: {}", f.finding)
        })
        .collect();
    Err(Error::Usage(format!(
        "the profiles collide on a shared host; nothing was contacted:\n{}",
        lines.join("\n")
    )))
}

fn plan_code(plan: &Result<Plan, Error>) -> u8 {
    match plan {
        Ok(plan) if plan.has_problems() => exit::INVALID,
        Ok(plan) if plan.has_changes() => exit::CHANGES,
        Ok(_) => exit::OK,
        Err(error) => error.exit_code(),
    }
}

/// Several profiles' exit codes as one: an error's (the first), else validation failed, else changes
/// pending, else success.
fn combined(codes: impl Iterator<Item = u8>) -> u8 {
    let codes: Vec<u8> = codes.collect();
    let error = codes
        .iter()
        .find(|c| matches!(**c, exit::ERROR | exit::UNREACHABLE));
    match error {
        Some(code) => *code,
        None => codes.into_iter().max().unwrap_or(exit::OK),
    }
}
