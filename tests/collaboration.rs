//! Real-time collaboration, proven locally (no root): a real `jupyter lab` from the test venv on loopback,
//! running the configuration jprov renders for a profile with two collaborators and
//! `jupyter.collaboration: true`, and tests/lab/collab_check.py as the two people's browsers (the login
//! form, the collaboration endpoints, the Y sync and awareness protocols). Also the facts script's probe of
//! a program's Python environment, against real interpreters.
//!
//! Python is the test venv's (`support::prereq::python`), with JupyterLab, jupyter-collaboration and pycrdt.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jprov::desired::{self, Options, World};
use jprov::facts::{FactQuery, PythonFact, PythonQuery};
use jprov::layout::Layout;
use jprov::password::{hash_password, HashScheme};
use jprov::profile::{Collaborator, Profile, Tls};
use jprov::render::Templates;
use jprov::resource::{Content, Item};
use support::profiles::{example, valid};

const COLLAB_CHECK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/collab_check.py");

/// The test venv's Python, with what `jupyter lab`, jupyter-collaboration and collab_check.py import.
fn python() -> String {
    support::prereq::python(&[
        "jupyterlab",
        "jupyter_server_ydoc",
        "jupyter_collaboration",
        "pycrdt",
        "tornado",
    ])
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Kills and reaps the child when dropped, also when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    support::profiles::free_ports::<1>()[0]
}

/// A self-signed certificate for 127.0.0.1 (the address collab_check.py connects to): (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-noenc", "-days", "2", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (the test suite's setup installs it)");
    assert!(out.status.success(), "{}", show("openssl", &out));
    (cert, key)
}

/// Someone who logs in: (username, password, name).
type Person = (&'static str, &'static str, &'static str);

const ADA: Person = ("ada", "ada's own secret", "Ada Lovelace");
const BOB: Person = ("bob", "bob's own secret", "Bob O'Brien");
/// The owner: workstation.user of the example.
const OWNER: Person = ("alice", "mypassword", "alice");

/// The reverse-forward example as a workstation here runs it: Jupyter on `port` serving TLS from
/// `cert`/`key`, the test venv's `jupyter`, with `people` and collaboration on or off.
fn profile(
    python: &str,
    port: u16,
    tls: &(PathBuf, PathBuf),
    people: &[Person],
    on: bool,
) -> Profile {
    let mut p = example("reverse-forward.yaml");
    // The example's hash is of a password nobody knows: the owner gets one of a known password.
    p.jupyter.password_hash = valid(&hash_password(OWNER.1, HashScheme::Argon2).unwrap());
    p.jupyter.port = jprov::value::Port::new(port);
    let jupyter = Path::new(python).with_file_name("jupyter");
    p.jupyter.command = Some(valid(&jupyter.display().to_string()));
    p.jupyter.collaboration = on;
    p.tls = Some(Tls::Files {
        cert: valid(&tls.0.display().to_string()),
        key: valid(&tls.1.display().to_string()),
    });
    p.jupyter.collaborators = (people.iter())
        .map(|(username, password, name)| Collaborator {
            name: valid(name),
            username: valid(username),
            password_hash: valid(&hash_password(password, HashScheme::Argon2).unwrap()),
        })
        .collect();
    p
}

/// What jprov puts on the workstation for `p` (offline: the config needs no facts), and the command its
/// service runs.
fn rendered(p: &Profile) -> (String, Vec<String>) {
    let d = desired::build(p, World::new(), &Templates::new(), Options::default()).unwrap();
    let path = Layout::new(p).jupyter_config;
    let config = (d.host(jprov::resource::Role::Workstation).items.iter())
        .filter_map(|item| match item {
            Item::Files(group) => group.files.iter().find(|f| f.path == path),
            _ => None,
        })
        .find_map(|file| match &file.content {
            Content::Known(text) => Some(text.clone()),
            _ => None,
        })
        .expect("Jupyter's config in the desired state");
    (config, d.jupyter_command)
}

/// `jupyter lab` as jprov's service runs it (its argv), reading the config jprov rendered for `p`, with
/// its own config, data and runtime directories under `dir` (kept across restarts, as on a workstation).
fn start_lab(dir: &Path, p: &Profile) -> KillOnDrop {
    let (config, argv) = rendered(p);
    assert_eq!(argv[1], "lab", "{argv:?}");
    for sub in ["config", "notebooks", "home"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("config/jupyter_server_config.py"), config).unwrap();
    let log = dir.join(format!("jupyter-{}.log", p.jupyter.port.get()));
    let t0 = Instant::now();
    let mut lab = KillOnDrop(
        Command::new(&argv[0])
            .args(&argv[1..])
            .arg("--allow-root")
            .current_dir(dir.join("notebooks"))
            .env("HOME", dir.join("home"))
            .env("JUPYTER_CONFIG_DIR", dir.join("config"))
            .env("JUPYTER_DATA_DIR", dir.join("data"))
            .env("JUPYTER_RUNTIME_DIR", dir.join("runtime"))
            .env("JUPYTER_PLATFORM_DIRS", "1")
            .env_remove("JUPYTER_TOKEN")
            .env_remove("JUPYTER_TOKEN_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}")),
    );
    let port = p.jupyter.port.get();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = lab.0.try_wait() {
            panic!(
                "jupyter lab exited with {status}\n{}",
                fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "jupyter lab never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "jupyter lab listening after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    lab
}

/// collab_check.py against the lab on `port`; `args` name the people and what to expect.
fn collab_check(python: &str, port: u16, cert: &Path, args: &[&str]) -> Output {
    let t0 = Instant::now();
    let out = Command::new(python)
        .arg(COLLAB_CHECK_PY)
        .args(["--url", &format!("https://127.0.0.1:{port}/"), "--cafile"])
        .arg(cert)
        .args(args)
        .output()
        .expect("run collab_check.py");
    eprintln!(
        "collab_check.py {} in {:.1} s",
        out.status,
        t0.elapsed().as_secs_f64()
    );
    out
}

fn person_args(people: &[Person]) -> Vec<&'static str> {
    (people.iter())
        .flat_map(|(username, password, name)| ["--person", username, password, name])
        .collect()
}

#[test]
fn two_collaborators_edit_one_notebook_and_see_each_others_names() {
    let python = python();
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tls = certificate(d);
    let port = free_port();
    let with_both = profile(&python, port, &tls, &[ADA, BOB], true);
    let lab = start_lab(d, &with_both);
    let mut args = person_args(&[ADA, BOB]);
    args.extend(["--rtc", "on"]);
    let out = collab_check(&python, port, &tls.0, &args);
    let log = || fs::read_to_string(d.join(format!("jupyter-{port}.log"))).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{}",
        show("collab_check.py", &out),
        log()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    print!("{stdout}");
    for step in [
        "tls",
        "login ada",
        "login bob",
        "frontend",
        "notebook",
        "session ada",
        "session bob",
        "sync ada",
        "sync bob",
        "edit",
        "awareness",
        "saved",
    ] {
        assert!(
            stdout.contains(&format!("ok   {step}:")),
            "{step}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("ada sees \"Bob O'Brien\", bob sees 'Ada Lovelace'"),
        "{stdout}"
    );
    // The document store upstream keeps beside the notebooks (README: what collaboration writes).
    assert!(d.join("notebooks/.jupyter_ystore.db").exists(), "{}", log());
    drop(lab);

    // Bob is removed from the profile and collaboration turned off; Jupyter restarts with the new config:
    // Bob's login is refused, Ada's works, and JupyterLab's page tells the frontend not to collaborate.
    let ada_only = profile(&python, port, &tls, &[ADA], false);
    let lab = start_lab(d, &ada_only);
    let mut args = vec!["--refused", BOB.0, BOB.1];
    args.extend(person_args(&[ADA]));
    args.extend(["--rtc", "off"]);
    let out = collab_check(&python, port, &tls.0, &args);
    assert!(
        out.status.success(),
        "{}\n{}",
        show("collab_check.py", &out),
        log()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    print!("{stdout}");
    assert!(stdout.contains("ok   refused bob:"), "{stdout}");
    assert!(stdout.contains("disableRTC=True"), "{stdout}");
    drop(lab);

    // The check itself fails where names are Jupyter's anonymous ones: without collaborators the owner's
    // login is an "Anonymous ..." user.
    let nobody = profile(&python, port, &tls, &[], true);
    let lab = start_lab(d, &nobody);
    let out = collab_check(&python, port, &tls.0, &person_args(&[OWNER]));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{}", show("collab_check.py", &out));
    assert!(
        stdout.contains("FAIL login alice: expected alice named 'alice'")
            && stdout.contains("'name': 'Anonymous "),
        "{}",
        show("collab_check.py", &out)
    );
    drop(lab);
    eprintln!(
        "collaboration test: {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
}

/// The facts script's probe of `programs`' Python environments, run here (it only reads), parsed.
fn python_facts(programs: &[String], distributions: &[&str]) -> (Vec<PythonFact>, Duration) {
    let query = FactQuery {
        pythons: (programs.iter())
            .map(|program| PythonQuery {
                program: program.clone(),
                distributions: distributions.iter().map(|d| d.to_string()).collect(),
            })
            .collect(),
        ..FactQuery::default()
    };
    let script = jprov::script::facts(&Templates::new(), &query).unwrap();
    let t0 = Instant::now();
    let mut child = Command::new("sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    let facts = jprov::protocol::parse_facts(
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", show("facts", &out)));
    let found = (programs.iter())
        .map(|program| facts.pythons[program].clone())
        .collect();
    (found, took)
}

fn script(path: &Path, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn the_facts_name_the_python_a_program_runs_and_the_versions_it_sees() {
    let python = python();
    let venv_jupyter = Path::new(&python).with_file_name("jupyter");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shebang_python = fs::read_to_string(&venv_jupyter).unwrap();
    let shebang_python = shebang_python
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("#!");
    let programs = [
        venv_jupyter.display().to_string(),
        // pip's trampoline for an interpreter path too long for a `#!` line.
        script(
            &d.join("long/jupyter"),
            &format!("#!/bin/sh\n'''exec' \"{shebang_python}\" \"$0\" \"$@\"\n' '''\nimport sys\n"),
        ),
        script(&d.join("env/jupyter"), "#!/usr/bin/env python3\n"),
        // A wrapper that names no Python, with none beside it.
        script(&d.join("wrapper/jupyter"), "#!/bin/bash\nexec true\n"),
        // An interpreter that talks on its way in (a sitecustomize) still reports.
        script(
            &d.join("noisy/jupyter"),
            &format!("#!{}\n", d.join("noisy/python-noisy").display()),
        ),
        // One that cannot say.
        script(
            &d.join("broken/jupyter"),
            &format!("#!{}\n", d.join("broken/python3").display()),
        ),
        d.join("missing/jupyter").display().to_string(),
    ];
    script(
        &d.join("noisy/python-noisy"),
        &format!(
            "#!/bin/sh\necho 'hello jprov-version jupyterlab 99'\nexec {shebang_python} \"$@\"\n"
        ),
    );
    script(&d.join("broken/python3"), "#!/bin/sh\nexit 1\n");
    let names = [
        "jupyterlab",
        "jupyter_collaboration",
        "no-such-distribution",
    ];
    let (found, took) = python_facts(&programs, &names);
    eprintln!(
        "facts script probing {} programs: {:.2} s",
        programs.len(),
        took.as_secs_f64()
    );
    let [venv, long, env, wrapper, noisy, broken, missing] = &found[..] else {
        unreachable!()
    };
    for (what, fact) in [("venv", venv), ("trampoline", long), ("noisy", noisy)] {
        assert_eq!(
            fact.interpreter.as_deref(),
            Some(if what == "noisy" {
                d.join("noisy/python-noisy").display().to_string()
            } else {
                shebang_python.to_string()
            })
            .as_deref(),
            "{what}: {fact:?}"
        );
        let lab = fact.versions["jupyterlab"].as_deref().unwrap_or("");
        assert!(lab.starts_with("4."), "{what}: {fact:?}");
        assert!(
            fact.versions["jupyter_collaboration"].is_some(),
            "{what}: {fact:?}"
        );
        assert_eq!(fact.versions["no-such-distribution"], None, "{what}");
    }
    assert!(venv.virtualenv && long.virtualenv, "{venv:?} {long:?}");
    // `env python3` is looked up in systemd's PATH: the system's Python, not a virtualenv's.
    let system = ["/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3"];
    assert!(
        env.interpreter
            .as_deref()
            .is_some_and(|i| system.contains(&i)),
        "{env:?}"
    );
    assert!(!env.virtualenv, "{env:?}");
    assert_eq!(env.versions.len(), 3, "{env:?}");
    for fact in [wrapper, missing] {
        assert_eq!(fact, &PythonFact::default(), "nothing found");
    }
    assert!(
        broken.interpreter.is_some() && broken.versions.is_empty(),
        "{broken:?}"
    );
}
