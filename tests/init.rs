//! `jprov init`: for each method, the flags write a profile that loads, passes `jprov check` and plans
//! offline, with a `.gitignore` that keeps keys, certificates and tokens out of git (asked of git itself);
//! it never overwrites a profile, names a flag it needs, holds the password to the policy and never shows
//! it; on a real terminal (util-linux `script`) it asks instead. Needs no root.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use support::test::Test;

const PASSWORD: &str = "correct horse battery staple";

/// The flags each method needs, and whether the password comes from a file (else standard input).
const METHODS: &[(&str, &[&str], bool)] = &[
    (
        "reverse-forward",
        &[
            "--server",
            "admin@gateway.example.org",
            "--workstation",
            "workstation.internal",
            "--jump",
            "--user",
            "alice",
            "--domain",
            "jupyter.example.org",
            "--tls",
            "letsencrypt",
            "--email",
            "admin@example.org",
        ],
        false,
    ),
    (
        "nginx-proxy",
        &[
            "--server",
            "root@203.0.113.7:2222",
            "--workstation",
            "10.0.0.20",
            "--user",
            "alice",
            "--domain",
            "jupyter.example.org",
            "--tls",
            "self-signed",
        ],
        true,
    ),
    (
        "local-forward",
        &[
            "--server",
            "admin@gateway.example.org",
            "--workstation",
            "workstation.internal:2200",
            "--user",
            "alice",
        ],
        false,
    ),
    (
        "lan",
        &[
            "--workstation",
            "local",
            "--user",
            "alice",
            "--lan-address",
            "192.168.10.20",
            "--domain",
            "jupyter.lan",
            "--tls",
            "files",
            "--tls-cert",
            "/etc/ssl/jupyter.pem",
            "--tls-key",
            "/etc/ssl/jupyter.key",
        ],
        true,
    ),
    (
        "ngrok",
        &[
            "--workstation",
            "workstation.internal",
            "--user",
            "alice",
            "--domain",
            "jupyter-lab.ngrok.app",
        ],
        false,
    ),
];

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

/// `jprov check` has no error for the profile, and `plan --offline` plans it (exit 2, nothing on stderr).
fn passes_check_and_plan(profile: &Path) {
    let checked = Test::new()
        .args(["check", "--json"])
        .arg(profile)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status(0)
        .stdout_lacks(PASSWORD)
        .run()
        .json();
    assert_eq!(checked["profiles"][0]["errors"], 0, "{checked:#}");
    Test::new()
        .args(["plan", "--offline"])
        .arg(profile)
        .status(2)
        .stderr("")
        .stdout_lacks(PASSWORD)
        .run();
}

#[test]
fn init_writes_a_profile_for_each_method_that_passes_check_and_plan() {
    let started = std::time::Instant::now();
    for (method, flags, from_file) in METHODS {
        // The test's own directory: a `Test`'s goes when it has run.
        let kept = tempfile::tempdir().unwrap();
        let dir = kept.path().to_path_buf();
        let test = Test::new();
        assert!(git(&dir, &["init", "-q"]).status.success());
        let profile = dir.join(format!("profiles/{method}.yaml"));
        let mut test = test
            .args(["init", "--method", method, "--name", &format!("t-{method}")])
            .args(flags.iter().copied());
        if *from_file {
            let file = dir.join("password");
            std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
            test = test.arg("--password-file").arg(file);
        } else {
            test = test.stdin(&format!("{PASSWORD}\n"));
        }
        let out = test
            .arg(&profile)
            .status(0)
            .stderr("")
            .stdout_contains(format!("wrote {}\n", profile.display()))
            .stdout_contains("jprov plan ")
            .stdout_lacks(PASSWORD)
            .run()
            .stdout;
        let trust = !flags.contains(&"local") || flags.contains(&"--server");
        assert_eq!(out.contains("jprov trust "), trust, "{out}");
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(!text.contains(PASSWORD), "{text}");
        let loaded = jprov::profile::load(&profile).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(loaded.profile.method.to_string(), *method);
        let hash = loaded.profile.jupyter.password_hash.as_str();
        assert!(
            hash.starts_with("argon2:$argon2id$v=19$m=10240,t=10,p=8$"),
            "{hash}"
        );
        assert!(jprov::password::verify_password(hash, PASSWORD).unwrap());
        passes_check_and_plan(&profile);
        keeps_secrets_out_of_git(&dir, &profile);
    }
    println!(
        "init for {} methods: {:?}",
        METHODS.len(),
        started.elapsed()
    );
}

/// What the `.gitignore` beside the profile does, asked of git: every kind of key, certificate and token
/// file `jprov check` looks for is ignored; the profile, its known_hosts and public keys are not.
fn keeps_secrets_out_of_git(dir: &Path, profile: &Path) {
    let beside = profile.parent().unwrap();
    assert!(beside.join(".gitignore").is_file());
    for name in [
        "server.key",
        "fullchain.pem",
        "privkey.pem",
        "cert.crt",
        "id_ed25519",
        "id_rsa",
        "bundle.p12",
        "ngrok-authtoken",
        "ngrok-basic-auth",
        "jprov-x.htpasswd",
        "keys/tunnel.key",
    ] {
        let out = git(
            dir,
            &[
                "check-ignore",
                "-q",
                &beside.join(name).display().to_string(),
            ],
        );
        assert!(out.status.success(), "{name} is not ignored");
    }
    for name in [
        "known_hosts",
        "id_ed25519.pub",
        profile.file_name().unwrap().to_str().unwrap(),
    ] {
        let out = git(
            dir,
            &[
                "check-ignore",
                "-q",
                &beside.join(name).display().to_string(),
            ],
        );
        assert!(!out.status.success(), "{name} is ignored");
    }
}

#[test]
fn init_never_overwrites_names_what_it_needs_and_holds_the_password_to_the_policy() {
    let flags = METHODS[0].1;
    let kept = tempfile::tempdir().unwrap();
    let profile = kept.path().join("mine.yaml");
    std::fs::write(&profile, "mine\n").unwrap();
    Test::new()
        .args(["init", "--method", "reverse-forward"])
        .args(flags.iter().copied())
        .arg(&profile)
        .stdin(&format!("{PASSWORD}\n"))
        .status(1)
        .stdout("")
        .stderr(format!(
            "error: {} exists: jprov init never overwrites a profile; give another path, or remove it \
             first\n",
            profile.display()
        ))
        .run();
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), "mine\n");
    // In a directory, NAME.yaml: there too.
    let test = Test::new();
    std::fs::write(test.dir().join("jupyter.yaml"), "mine\n").unwrap();
    let dir = test.dir().to_path_buf();
    test.args(["init", "--method", "reverse-forward"])
        .args(flags.iter().copied())
        .arg(&dir)
        .stdin(&format!("{PASSWORD}\n"))
        .status(1)
        .stderr_contains("jupyter.yaml exists: jprov init never overwrites a profile")
        .run();
    // Without a terminal, what is missing is named by its flag; a bad value by its flag, not repeated.
    Test::new()
        .args(["init", "--user", "alice"])
        .status(1)
        .stderr_contains("error: --method is needed (standard input is not a terminal")
        .run();
    Test::new()
        .args([
            "init",
            "--method",
            "nginx-proxy",
            "--server",
            "gateway.example.org",
        ])
        .status(1)
        .stderr("error: --server: give the admin account too: USER@HOST[:PORT]\n")
        .run();
    Test::new()
        .args([
            "init",
            "--method",
            "local-forward",
            "--domain",
            "jupyter.example.org",
        ])
        .args([
            "--server",
            "a@b.example.org",
            "--workstation",
            "w.example.org",
            "--user",
            "alice",
        ])
        .status(1)
        .stderr("error: --domain: method local-forward takes none\n")
        .run();
    Test::new()
        .args(["init", "--method", "lan", "--server", "a@b.example.org"])
        .args(["--workstation", "local"])
        .status(1)
        .stderr(
            "error: --server: for method lan a server is only a jump host, and a local workstation needs \
             none\n",
        )
        .run();
    Test::new()
        .args([
            "init",
            "--method",
            "reverse-forward",
            "--server",
            "admin@x.example.org",
        ])
        .args([
            "--workstation",
            "w.example.org",
            "--user",
            "alice",
            "--domain",
            "j;id.example.org",
        ])
        .status(1)
        .stderr_contains("error: --domain: invalid domain")
        .stderr_lacks("j;id")
        .run();
    // A short password is refused (nothing written); --allow-short writes it and says so.
    let test = Test::new();
    let profile = test.dir().join("short.yaml");
    test.args(["init", "--method", "reverse-forward"])
        .args(flags.iter().copied())
        .arg(&profile)
        .stdin("too-short\n")
        .status(1)
        .stderr_contains("a Jupyter password needs more than 16 characters")
        .stderr_lacks("too-short")
        .absent(&profile)
        .run();
    let kept = tempfile::tempdir().unwrap();
    let profile = kept.path().join("short.yaml");
    let gitignore = kept.path().join(".gitignore");
    std::fs::write(&gitignore, "notes/\n*.key").unwrap();
    Test::new()
        .args(["init", "--method", "reverse-forward", "--allow-short"])
        .args(flags.iter().copied())
        .arg(&profile)
        .stdin("too-short\n")
        .stderr_contains("warning: --allow-short")
        .stdout_contains("patterns to ")
        .run();
    // The user's .gitignore keeps its lines; jprov's missing ones are added once.
    let ignore = std::fs::read_to_string(&gitignore).unwrap();
    assert!(
        ignore.starts_with("notes/\n*.key\n# Added by `jprov init`"),
        "{ignore}"
    );
    assert_eq!(
        ignore.lines().filter(|l| *l == "*.key").count(),
        1,
        "{ignore}"
    );
    assert!(ignore.contains("\n*.pem\n"), "{ignore}");
}

/// A real terminal: `script` runs jprov init on a pseudo-terminal, and the test answers each question once
/// it is shown (the passwords only after a pause, once jprov has turned the terminal's echo off).
#[test]
fn init_asks_on_a_terminal() {
    let kept = tempfile::tempdir().unwrap();
    let profile = kept.path().join("asked.yaml");
    let command = format!(
        "{} init {}",
        support::jprov_bin().display(),
        profile.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let answers = [
        ("or ngrok [reverse-forward]: ", "nginx-proxy", false),
        ("digits, -) [jupyter]: ", "asked", false),
        ("(its admin account): ", "admin@gateway.example.org", false),
        ("when jprov runs on it: ", "workstation.internal", false),
        ("yes or no [no]: ", "yes", false),
        ("(jprov logs in as it)", "alice", false),
        ("(it points at the server): ", "jupyter.example.org", false),
        ("self-signed, files: ", "letsencrypt", false),
        ("(expiry notices): ", "admin@example.org", false),
        ("Password: ", PASSWORD, true),
        ("Repeat password: ", PASSWORD, true),
    ];
    let mut seen = 0;
    for (prompt, answer, secret) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
            if let Some(at) = text[seen..].find(prompt) {
                seen += at + prompt.len();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {prompt:?} in:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if secret {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        writeln!(stdin, "{answer}").unwrap();
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains(PASSWORD),
        "the password was shown:\n{shown}"
    );
    assert!(shown.contains("Next:"), "{shown}");
    let text = std::fs::read_to_string(&profile).unwrap();
    let p = jprov::profile::load(&profile).unwrap().profile;
    assert_eq!(p.method, jprov::profile::Method::NginxProxy);
    assert_eq!(p.name.as_str(), "asked");
    assert_eq!(p.workstation.jump, Some(jprov::profile::Jump::Server));
    assert!(
        jprov::password::verify_password(p.jupyter.password_hash.as_str(), PASSWORD).unwrap(),
        "{text}"
    );
    passes_check_and_plan(&profile);
}
