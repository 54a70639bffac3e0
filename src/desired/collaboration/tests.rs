use super::*;
use crate::desired::tests::{profile, queries, world};

/// The workstation's state for `p` with these facts (none: offline).
fn workstation(p: &Profile, facts: Option<&Facts>) -> HostState {
    let desired = build(p, world(None, facts), &Templates::new(), Options::default()).unwrap();
    desired.hosts[Role::Workstation].clone()
}

/// Workstation facts whose `program` runs in `interpreter` (a virtualenv's or not) with `versions`.
fn python_facts(
    program: &str,
    interpreter: Option<&str>,
    virtualenv: bool,
    versions: &[(&str, Option<&str>)],
) -> Facts {
    let fact = PythonFact {
        interpreter: interpreter.map(str::to_string),
        virtualenv,
        versions: (versions.iter())
            .map(|(name, version)| (name.to_string(), version.map(str::to_string)))
            .collect(),
    };
    Facts {
        systemd: true,
        pythons: [(program.to_string(), fact)].into_iter().collect(),
        ..Facts::default()
    }
}

fn venv_profile() -> Profile {
    let mut p = profile("rf-rtc");
    p.jupyter.virtualenv = Some("/opt/jupyter".to_string().try_into().unwrap());
    p
}

const PROGRAM: &str = "/opt/jupyter/bin/jupyter";
const PYTHON: &str = "/opt/jupyter/bin/python3";

#[test]
fn the_query_asks_the_programs_python_only_with_collaboration() {
    let p = venv_profile();
    let asked = &queries(&p)[Role::Workstation].pythons;
    assert_eq!(
        asked,
        &[crate::facts::PythonQuery {
            program: PROGRAM.into(),
            distributions: vec!["jupyterlab".into(), "jupyter_collaboration".into()],
        }]
    );
    assert!(queries(&profile("rf")).iter().all(|q| q.pythons.is_empty()));
    assert!(queries(&p)[Role::Server].pythons.is_empty());
}

#[test]
fn offline_plan_notes_what_collaboration_means_and_that_the_check_is_online() {
    let host = workstation(&venv_profile(), None);
    assert!(host.problems.is_empty(), "{:?}", host.problems);
    let notes = host.notes.join("\n");
    assert!(
        notes.contains("can run any code as alice on the workstation"),
        "{notes}"
    );
    assert!(
        notes.contains(&format!("whether {PROGRAM} runs with JupyterLab >= 4")),
        "{notes}"
    );
    assert!(notes.contains("not offline"), "{notes}");
    // Without collaborators, every login is anonymous: plan says so.
    assert!(notes.contains("\"Anonymous ...\""), "{notes}");
    // Off: nothing said, nothing asked.
    let off = workstation(&profile("rf"), None);
    assert!(
        !off.notes.join("\n").contains("collaboration"),
        "{:?}",
        off.notes
    );
}

#[test]
fn an_environment_with_both_has_no_problem_and_shows_the_versions() {
    let facts = python_facts(
        PROGRAM,
        Some(PYTHON),
        true,
        &[
            ("jupyterlab", Some("4.6.6")),
            ("jupyter_collaboration", Some("5.0.4")),
        ],
    );
    let host = workstation(&venv_profile(), Some(&facts));
    assert!(host.problems.is_empty(), "{:?}", host.problems);
    let notes = host.notes.join("\n");
    assert!(
        notes.contains(&format!(
            "{PROGRAM} runs {PYTHON} with JupyterLab 4.6.6 and jupyter-collaboration 5.0.4"
        )),
        "{notes}"
    );
    assert!(notes.contains("can run any code as alice"), "{notes}");
}

#[test]
fn a_missing_or_old_package_is_a_problem_with_the_install_command() {
    let install = format!("`{PYTHON} -m pip install 'jupyterlab>=4' 'jupyter-collaboration>=4'`");
    for (versions, has) in [
        (
            [
                ("jupyterlab", Some("4.0.0")),
                ("jupyter_collaboration", None),
            ],
            "JupyterLab 4.0.0 and no jupyter-collaboration",
        ),
        (
            [("jupyterlab", None), ("jupyter_collaboration", None)],
            "no JupyterLab and no jupyter-collaboration",
        ),
        (
            [
                ("jupyterlab", Some("3.6.8")),
                ("jupyter_collaboration", Some("1.2.1")),
            ],
            "JupyterLab 3.6.8 and jupyter-collaboration 1.2.1",
        ),
        (
            [
                ("jupyterlab", Some("4.6.6")),
                ("jupyter_collaboration", Some("3.1.2")),
            ],
            "JupyterLab 4.6.6 and jupyter-collaboration 3.1.2",
        ),
    ] {
        let facts = python_facts(PROGRAM, Some(PYTHON), true, &versions);
        let host = workstation(&venv_profile(), Some(&facts));
        let [problem] = &host.problems[..] else {
            panic!("{has}: {:?}", host.problems)
        };
        assert!(problem.contains(&format!("which has {has}")), "{problem}");
        assert!(problem.contains(&install), "{problem}");
    }
}

#[test]
fn a_system_python_gets_a_virtualenv_and_an_unknown_one_says_why() {
    let facts = python_facts(
        "/usr/bin/jupyter",
        Some("/usr/bin/python3"),
        false,
        &[
            ("jupyterlab", Some("3.6.3")),
            ("jupyter_collaboration", None),
        ],
    );
    let mut p = profile("rf-rtc");
    p.jupyter.command = Some("/usr/bin/jupyter".to_string().try_into().unwrap());
    let host = workstation(&p, Some(&facts));
    let problems = host.problems.join("\n");
    assert!(
        problems.contains(
            "`python3 -m venv /home/alice/jupyter-venv && /home/alice/jupyter-venv/bin/pip install \
             'jupyterlab>=4' 'jupyter-collaboration>=4'`, and set jupyter.virtualenv: /home/alice/jupyter-venv"
        ),
        "{problems}"
    );
    let facts = python_facts(PROGRAM, None, false, &[]);
    let host = workstation(&venv_profile(), Some(&facts));
    assert!(
        host.problems
            .join("\n")
            .contains("no Python was found that runs"),
        "{:?}",
        host.problems
    );
    let facts = python_facts(PROGRAM, Some(PYTHON), false, &[]);
    let host = workstation(&venv_profile(), Some(&facts));
    assert!(
        host.problems
            .join("\n")
            .contains("could not list its packages"),
        "{:?}",
        host.problems
    );
}

#[test]
fn the_config_turns_collaboration_on_or_off_as_the_profile_says() {
    let config = |p: &Profile| -> String {
        let host = workstation(p, None);
        let l = Layout::new(p);
        (host.items.iter())
            .find_map(|item| match item {
                Item::Files(group) => group.files.iter().find(|f| f.path == l.jupyter_config),
                _ => None,
            })
            .and_then(|file| match &file.content {
                Content::Known(text) => Some(text.clone()),
                _ => None,
            })
            .expect("Jupyter's config")
    };
    let on = config(&venv_profile());
    assert!(
        on.contains("\nc.YDocExtension.disable_rtc = False\n"),
        "{on}"
    );
    let off = config(&profile("rf"));
    assert!(
        off.contains("\nc.YDocExtension.disable_rtc = True\n"),
        "{off}"
    );
    for config in [on, off] {
        assert!(
            config.contains("\nc.IdentityProvider.cookie_options = {'samesite': 'Lax'}\n"),
            "{config}"
        );
    }
}

#[test]
fn versions_compare_by_their_leading_number() {
    for (version, want) in [
        ("4.6.6", Some(4)),
        ("4.0.0rc1", Some(4)),
        ("10.1", Some(10)),
        ("1!4.2", Some(4)),
        ("3", Some(3)),
        ("x.1", None),
        ("", None),
    ] {
        assert_eq!(major(version), want, "{version}");
    }
}
