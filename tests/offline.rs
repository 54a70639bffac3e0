//! The CLI without hosts: offline plans, JSON, profile errors, hash-password. Needs no root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn jprov(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jprov"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn offline_plans_of_the_examples_show_every_file_and_exit_2() {
    for (name, must_show) in [
        (
            "reverse-forward.yaml",
            &[
                "sshd_config.d/01-jprov-lab-reverse.conf",
                "GatewayPorts clientspecified",
                "jupyter_server_config.py",
                "-R :8888:localhost:8888",
                "--standalone",
            ][..],
        ),
        (
            "nginx-proxy.yaml",
            &[
                "sites-available/jprov-lab-proxy",
                "sites-enabled/jprov-lab-proxy",
                "acme-challenge",
                "trust_xheaders",
                "--webroot",
                "-L 127.0.0.1:8889:localhost:8888",
            ][..],
        ),
        (
            "self-signed.yaml",
            &[
                "generate a self-signed certificate for jupyter.lan: openssl req -x509",
                "c.ServerApp.certfile = '/home/alice/.local/share/jprov/lab-lan/fullchain.pem'",
            ][..],
        ),
    ] {
        let out = jprov(
            &["plan", "--offline", example(name).to_str().unwrap()],
            None,
        );
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: {stdout}{}",
            text(&out.stderr)
        );
        for needle in must_show {
            assert!(
                stdout.contains(needle),
                "{name}: plan lacks {needle:?}:\n{stdout}"
            );
        }
        assert!(
            !stdout.contains("a68df677475c2b47b6e86d0467eec97ac5f4b85a"),
            "the password hash leaked:\n{stdout}"
        );
        assert!(stdout.contains("hashed_password ********"), "{stdout}");
    }
}

/// The text plan's section for one host ("server ..." or "workstation ...").
fn section<'a>(plan: &'a str, role: &str) -> &'a str {
    let start = plan
        .find(&format!("\n{role} "))
        .unwrap_or_else(|| panic!("no {role} section:\n{plan}"));
    let rest = &plan[start + 1..];
    let end = ["\nworkstation ", "\nTunnel, opened by"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn self_signed_certificates_are_generated_on_the_host_that_terminates_tls() {
    let dir = tempfile::tempdir().unwrap();
    for (name, on, other, fullchain) in [
        (
            "self-signed.yaml",
            "workstation",
            "server",
            "/home/alice/.local/share/jprov/lab-lan/fullchain.pem",
        ),
        (
            "nginx-proxy.yaml",
            "server",
            "workstation",
            "/etc/jprov/tls/lab-proxy/fullchain.pem",
        ),
    ] {
        let source = std::fs::read_to_string(example(name)).unwrap();
        let tls = source.find("tls:\n").unwrap();
        let after = tls + source[tls..].find("\ntunnel:").unwrap() + 1;
        let profile = format!(
            "{}tls:\n  self_signed:\n    addresses: [10.0.0.5]\n{}",
            &source[..tls],
            &source[after..]
        );
        let path = dir.path().join(name);
        std::fs::write(&path, profile).unwrap();

        let out = jprov(&["plan", "--offline", path.to_str().unwrap()], None);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}{}", text(&out.stderr));
        let keyout = fullchain.replace("fullchain.pem", "privkey.pem.new");
        let command = format!(
            "openssl req -x509 -noenc -days 365 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
             -keyout {keyout} -out {fullchain}.new -subj '/CN=jupyter"
        );
        let mine = section(&stdout, on);
        assert!(
            mine.contains("  ! generate a self-signed certificate for jupyter.")
                && mine.contains(&command)
                && mine.contains(",IP:10.0.0.5'")
                && mine.contains(&format!("making {fullchain}, because no certificate")),
            "{name}: the {on} generates it:\n{stdout}"
        );
        assert!(
            !section(&stdout, other).contains("openssl"),
            "{name}: not on the {other}:\n{stdout}"
        );
        assert!(!stdout.contains("certbot certonly"), "{stdout}");

        let out = jprov(
            &["plan", "--offline", "--json", path.to_str().unwrap()],
            None,
        );
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let certificate_changes: Vec<(String, serde_json::Value)> = plan["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| {
                h["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|c| c["kind"] == "obtain-certificate")
                    .map(move |c| (h["role"].as_str().unwrap().to_string(), c.clone()))
            })
            .collect();
        let [(role, change)] = &certificate_changes[..] else {
            panic!("{name}: one certificate change: {certificate_changes:?}")
        };
        assert_eq!(role, on);
        assert_eq!(change["source"], "self-signed");
        assert_eq!(change["fullchain"], fullchain);
        assert!(
            change["command"]
                .as_str()
                .unwrap()
                .starts_with("openssl req -x509 -noenc"),
            "{change}"
        );
    }
}

#[test]
fn json_plan_is_versioned_and_redacted() {
    let out = jprov(
        &[
            "plan",
            "--offline",
            "--json",
            example("nginx-proxy.yaml").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan["format_version"], 2);
    assert_eq!(plan["offline"], true);
    assert_eq!(plan["hosts"].as_array().unwrap().len(), 2);
    assert!(!stdout.contains("a68df677475c2b47b6e86d0467eec97ac5f4b85a"));
}

#[test]
fn bad_profiles_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(example("reverse-forward.yaml")).unwrap();
    for (edit, expect) in [
        (
            good.replace("domain: jupyter.example.org", "domain: \"x.org; rm -rf /\""),
            ":5:1: domain: invalid domain",
        ),
        (
            good.replace("  sudo: true", "  sudo: true\n  hots: x"),
            ":11:3: server.hots: unknown field `hots`",
        ),
        (
            good.replace("  port: 22\n", "  port: [22]\n"),
            ":8:3: server.port: invalid type",
        ),
        (
            good.replace(
                "  password_hash:",
                "  password: s3cret-typed-here\n  password_hash:",
            ),
            ":19:3: jupyter.password: plaintext passwords are refused",
        ),
    ] {
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, &edit).unwrap();
        let out = jprov(&["plan", "--offline", path.to_str().unwrap()], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{}{expect}", path.display())),
            "expected {expect:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("s3cret-typed-here"));
        assert!(
            out.stdout.is_empty(),
            "nothing is planned from a bad profile"
        );
    }
}

#[test]
fn hash_password_reads_stdin_and_the_hash_verifies() {
    for (args, prefix) in [
        (
            &["hash-password"][..],
            "argon2:$argon2id$v=19$m=10240,t=10,p=8$",
        ),
        (&["hash-password", "--sha1"][..], "sha1:"),
    ] {
        let out = jprov(args, Some("łe¶ŧ←↓→\n"));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let hash = text(&out.stdout).trim().to_string();
        assert!(hash.starts_with(prefix), "{hash}");
        assert!(jprov::password::verify_password(&hash, "łe¶ŧ←↓→").unwrap());
        assert!(!jprov::password::verify_password(&hash, "łe¶ŧ←↓").unwrap());
    }
    let out = jprov(&["hash-password"], Some("\n"));
    assert_eq!(out.status.code(), Some(1), "an empty password is refused");
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    text(&out.stdout).trim().to_string()
}

#[test]
fn tunnel_refuses_the_wrong_user_and_names_the_right_one_and_host() {
    for (name, user, host) in [
        ("reverse-forward.yaml", "alice", "workstation"),
        ("nginx-proxy.yaml", "jprov-tunnel", "server"),
    ] {
        if current_user() == user {
            eprintln!("skipped {name}: this test runs as {user}");
            continue;
        }
        let profile = example(name);
        let out = jprov(&["tunnel", profile.to_str().unwrap()], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "the tunnel runs as {user} on the {host} (the host that opens it), but this is {}: \
                 run it there as {user}, e.g. `sudo -u {user} jprov tunnel {}`",
                current_user(),
                profile.display()
            )),
            "{name}: {stderr}"
        );
        assert!(
            !stderr.contains("running `ssh"),
            "nothing started: {stderr}"
        );
    }
}

#[test]
fn tunnel_without_the_key_says_to_apply_first() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let profile = std::fs::read_to_string(example("reverse-forward.yaml"))
        .unwrap()
        .replace(
            "  host: workstation.internal ",
            "  host: local # was workstation.internal ",
        )
        .replace(
            "  user: alice ",
            &format!("  user: {}\n  home: {} #", current_user(), home.display()),
        )
        .replace("  jump: server ", "  # jump: server ");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, profile).unwrap();
    let out = jprov(&["tunnel", path.to_str().unwrap()], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let key = home.join(".ssh/jprov-lab-reverse-tunnel");
    assert!(
        stderr.contains(&format!("cannot read the tunnel's key {}: ", key.display()))
            && stderr.contains(&format!(
                "Run `jprov apply {}` first (it creates it on the workstation)",
                path.display()
            )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("running `ssh"),
        "nothing started: {stderr}"
    );
}

#[test]
fn tunnel_retry_seconds_must_be_positive() {
    let profile = example("reverse-forward.yaml");
    let out = jprov(
        &["tunnel", "--retry-seconds", "0", profile.to_str().unwrap()],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("invalid value '0' for '--retry-seconds <SECONDS>'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn offline_destroy_plans_show_the_whole_teardown_of_systemd_hosts() {
    for (name, must_show) in [
        (
            "reverse-forward.yaml",
            &[
                "Destroy plan for profile lab-reverse (reverse-forward) (offline: against hosts with everything on them, all made by jprov)",
                "  - stop and disable the tunnel: systemctl --user disable --now jprov-lab-reverse-tunnel.service",
                "  - stop and disable Jupyter: systemctl --user disable --now jprov-lab-reverse-jupyter.service",
                "  - stop and disable the certificate fetch timer: systemctl --user disable --now jprov-lab-reverse-certificate.timer",
                "    - delete /home/alice/.config/systemd/user/jprov-lab-reverse-tunnel.service: jprov created it",
                "    - delete /home/alice/.config/systemd/user/jprov-lab-reverse-certificate.timer: jprov created it",
                "    then systemctl --user daemon-reload",
                "    - delete /etc/ssh/sshd_config.d/01-jprov-lab-reverse.conf: jprov created it",
                "    then reload ssh (a reload, never a restart), under the lockout guard",
                "    ~ remove the line tagged jprov:lab-reverse from /etc/ssh/jprov/jprov-cert.keys",
                "  - delete account jprov-tunnel: userdel jprov-tunnel",
                "`certbot delete --cert-name jupyter.example.org`",
                "`loginctl disable-linger alice`",
            ][..],
        ),
        (
            "nginx-proxy.yaml",
            &[
                "  - stop and disable the tunnel: systemctl disable --now jprov-lab-proxy-tunnel.service",
                "    - delete /etc/systemd/system/jprov-lab-proxy-tunnel.service: jprov created it",
                "    then systemctl daemon-reload",
                "    - delete /etc/nginx/sites-enabled/jprov-lab-proxy: jprov created it",
                "    then validate with `nginx -t` (the files are put back if it fails)",
                "    ~ remove the line tagged jprov:lab-proxy from /home/alice/.ssh/authorized_keys: the other lines stay as they are",
                "  - delete account jprov-tunnel and its home /var/lib/jprov-tunnel: userdel -r jprov-tunnel",
                "  - stop and disable Jupyter: systemctl --user disable --now jprov-lab-proxy-jupyter.service",
            ][..],
        ),
        (
            "self-signed.yaml",
            &[
                "  - delete the self-signed certificate for jupyter.lan: /home/alice/.local/share/jprov/lab-lan/privkey.pem, /home/alice/.local/share/jprov/lab-lan/fullchain.pem",
            ][..],
        ),
    ] {
        let out = jprov(
            &["plan", "--destroy", "--offline", example(name).to_str().unwrap()],
            None,
        );
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{}", text(&out.stderr));
        for needle in must_show {
            assert!(stdout.contains(needle), "{name}: plan lacks {needle:?}:\n{stdout}");
        }
        // Debian's certbot timer is not jprov's: never stopped.
        assert!(!stdout.contains("certbot.timer"), "{name}: {stdout}");
        assert!(!stdout.contains("a68df677475c2b47b6e86d0467eec97ac5f4b85a"));
        // On each host: services stop first, jprov's records go last.
        for role in ["server", "workstation"] {
            let host = section(&stdout, role);
            let changes: Vec<&str> = host
                .lines()
                .filter(|l| l.starts_with("  - "))
                .collect();
            assert!(
                changes.last().is_some_and(|l| l.starts_with("  - forget the profile")),
                "{name} {role}: {host}"
            );
            let first_other = changes
                .iter()
                .position(|l| !l.starts_with("  - stop and disable"))
                .unwrap();
            assert!(
                changes[first_other..]
                    .iter()
                    .all(|l| !l.starts_with("  - stop and disable")),
                "{name} {role}: {host}"
            );
        }

        let out = jprov(
            &["plan", "--destroy", "--offline", "--json", example(name).to_str().unwrap()],
            None,
        );
        assert_eq!(out.status.code(), Some(2));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((plan["destroy"].clone(), plan["offline"].clone()), (true.into(), true.into()));
        let kinds: Vec<String> = plan["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| h["changes"].as_array().unwrap().iter())
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .collect();
        for kind in ["stop-unit", "remove-files", "remove-key", "remove-account", "forget"] {
            assert!(kinds.iter().any(|k| k == kind), "{name}: {kinds:?}");
        }
    }
}

#[test]
fn destroy_plans_refuse_what_they_cannot_do() {
    let profile = example("reverse-forward.yaml");
    let out = jprov(
        &[
            "plan",
            "--destroy",
            "--start-tunnel",
            "--offline",
            profile.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
    // An offline plan, of a teardown or not, cannot be saved for apply (it was not made against the
    // hosts), and the error says that.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    for destroy in [true, false] {
        let mut args = vec!["plan", "--offline", "-o", saved.to_str().unwrap()];
        if destroy {
            args.push("--destroy");
        }
        args.push(profile.to_str().unwrap());
        let out = jprov(&args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(&format!(
                "cannot save the plan to {}: offline plans can't be saved",
                saved.display()
            )),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!saved.exists());
    }
}
