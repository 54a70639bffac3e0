//! Real-time collaboration (`jupyter.collaboration`), on every method: JupyterLab 4 turns it on when the
//! `jupyter-collaboration` package is installed in Jupyter's environment, so jprov's part is to check that
//! environment (a fact: the versions the program's own Python sees) and to say what collaboration means.
//! The configuration's side is in `jupyter_server_config.py.j2`.

use super::builder::Builder;
use super::*;
use crate::facts::PythonFact;

/// What collaboration needs in Jupyter's environment: (distribution as `importlib.metadata` names it, the
/// name people know, the oldest major version jprov accepts). JupyterLab 4 enables collaboration by
/// installing the package (`--collaborative` is gone); jupyter-collaboration 4 is the oldest line whose
/// protocol and settings (`YDocExtension.disable_rtc`) jprov's configuration and tests use.
const NEEDS: [(&str, &str, u64); 2] = [
    ("jupyterlab", "JupyterLab", 4),
    ("jupyter_collaboration", "jupyter-collaboration", 4),
];

/// How to install what is missing, as pip takes it.
const REQUIREMENTS: &str = "'jupyterlab>=4' 'jupyter-collaboration>=4'";

/// The leading number of a version (`4` of `4.6.6`, `4.0.0rc1`, `1!4.2`); `None` when it has none.
fn major(version: &str) -> Option<u64> {
    let release = version
        .split_once('!')
        .map_or(version, |(_, release)| release);
    release.split('.').next()?.parse().ok()
}

impl Builder<'_> {
    /// With collaboration on: the workstation's notes (what it means; offline, that the check happens
    /// online) and its problems (what its Jupyter environment lacks, with the command that installs it).
    pub(super) fn collaboration(&self, workstation: &mut HostState) {
        if !self.p.jupyter.collaboration {
            return;
        }
        workstation.notes.push(self.collaboration_note());
        if self.p.jupyter.collaborators.is_empty() {
            workstation.notes.push(
                "jupyter.collaboration without jupyter.collaborators: everyone logs in with the owner's \
                 password, and Jupyter names each login \"Anonymous ...\"; list the people in \
                 jupyter.collaborators to give each their name"
                    .to_string(),
            );
        }
        let program = self.p.jupyter.executable();
        let names: Vec<String> = NEEDS.iter().map(|(name, ..)| name.to_string()).collect();
        match self.facts.python(Role::Workstation, &program, &names) {
            None => workstation.notes.push(format!(
                "jupyter.collaboration: whether {program} runs with JupyterLab >= 4 and \
                 jupyter-collaboration >= 4 is checked when plan connects to the workstation (not offline)"
            )),
            Some(python) => match self.environment_problem(&program, python) {
                Some(problem) => workstation.problems.push(problem),
                None => workstation.notes.push(format!(
                    "jupyter.collaboration: {program} runs {} with {}; Jupyter loads collaboration when \
                     it starts",
                    python.interpreter.as_deref().unwrap_or("?"),
                    found(python)
                )),
            },
        }
    }

    /// Everyone who logs in shares the documents and the kernels: code any of them writes runs as the
    /// workstation user.
    fn collaboration_note(&self) -> String {
        let people = match self.p.jupyter.collaborators.len() {
            0 => "everyone with the owner's password".to_string(),
            1 => "the owner and 1 collaborator".to_string(),
            n => format!("the owner and {n} collaborators"),
        };
        format!(
            "jupyter.collaboration: {people} edit the same notebooks at once, and each of them can run any \
             code as {user} on the workstation (their files, keys and Jupyter's own configuration \
             included): give an account only to someone you would give {user}'s shell",
            user = self.p.workstation.user
        )
    }

    /// What the environment lacks for collaboration, and how to install it there; `None` when it has it.
    fn environment_problem(&self, program: &str, python: &PythonFact) -> Option<String> {
        let needs =
            "jupyter.collaboration needs JupyterLab >= 4 and jupyter-collaboration >= 4 where \
                     Jupyter runs";
        let Some(interpreter) = &python.interpreter else {
            return Some(format!(
                "{needs}, but no Python was found that runs {program} (neither its `#!` line nor a python \
                 beside it names one): check jupyter.command or jupyter.virtualenv"
            ));
        };
        if NEEDS
            .iter()
            .any(|(name, ..)| !python.versions.contains_key(*name))
        {
            return Some(format!(
                "{needs}, but {interpreter} (which runs {program}) could not list its packages \
                 (importlib.metadata needs Python 3.8 or later; `{interpreter} -c 'import importlib.metadata'` \
                 shows what fails)"
            ));
        }
        let enough = |(name, _, oldest): &(&str, &str, u64)| {
            let version = python.versions[*name].as_deref();
            version
                .and_then(major)
                .is_some_and(|major| major >= *oldest)
        };
        if NEEDS.iter().all(enough) {
            return None;
        }
        let install = if python.virtualenv {
            format!("install them there: `{interpreter} -m pip install {REQUIREMENTS}`")
        } else {
            // A system Python's packages are the distribution's (pip refuses them: PEP 668).
            let venv = format!("{}/jupyter-venv", self.l.home);
            format!(
                "that is not a virtualenv's Python, so make one for Jupyter: `python3 -m venv {venv} && \
                 {venv}/bin/pip install {REQUIREMENTS}`, and set jupyter.virtualenv: {venv}"
            )
        };
        Some(format!(
            "{needs}; {program} runs {interpreter}, which has {}: {install}, then plan again",
            found(python)
        ))
    }
}

/// What the environment has of each need: "JupyterLab 3.6.3 and no jupyter-collaboration".
fn found(python: &PythonFact) -> String {
    let each: Vec<String> = NEEDS
        .iter()
        .map(|(name, shown, _)| match &python.versions.get(*name) {
            Some(Some(version)) => format!("{shown} {version}"),
            _ => format!("no {shown}"),
        })
        .collect();
    each.join(" and ")
}

#[cfg(test)]
mod tests;
