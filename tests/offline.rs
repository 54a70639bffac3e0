//! The CLI without hosts: offline plans (compared with golden files), JSON, profile errors, hash-password,
//! `jprov tunnel`'s refusals. Needs no root.
//!
//! Every run goes through the `Test` builder (tests/support/test.rs): exit status and exact output, with the
//! test's temporary directory shown as `[TMP]` and the source tree as `[REPO]`.

mod support;

use jprov::profile::WorkstationHost;
use support::profiles::{example, example_hash_digests, example_names, self_signed, valid};
use support::test::Test;

/// The four offline plans of every example: (arguments after `plan --offline`, golden file suffix).
const PLAN_KINDS: [(&[&str], &str); 4] = [
    (&[], "txt"),
    (&["--json"], "json"),
    (&["--destroy"], "destroy.txt"),
    (&["--destroy", "--json"], "destroy.json"),
];

/// tests/golden/plans/NAME.SUFFIX for profiles/NAME.yaml.
fn golden_plan(example: &str, suffix: &str) -> String {
    format!("plans/{}.{suffix}", example.trim_end_matches(".yaml"))
}

#[test]
fn offline_plans_of_every_example_match_their_golden_files() {
    let mut expected = vec![];
    for name in example_names() {
        for (args, suffix) in PLAN_KINDS {
            let golden = golden_plan(&name, suffix);
            Test::new()
                .example(&name)
                .args(["plan", "--offline"])
                .args(args.iter().copied())
                .status(2)
                .stdout_golden(&golden)
                .stderr("")
                .run();
            expected.push(golden);
        }
    }
    // The golden file of an example that is gone would be kept, and reviewed, for nothing.
    let dir = support::golden::path("plans");
    let mut stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| format!("plans/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| !expected.contains(f))
        .collect();
    stale.sort();
    assert_eq!(
        stale,
        Vec::<String>::new(),
        "stale golden files in {}",
        dir.display()
    );
}

/// What each example's plan must say, whatever its golden file holds: the golden files show every change in
/// review, these lines are the ones a change must not lose.
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
        let mut test = Test::new().example(name).args(["plan", "--offline"]);
        for needle in must_show {
            test = test.stdout_contains(*needle);
        }
        for digest in example_hash_digests(name) {
            test = test.stdout_lacks(digest);
        }
        test.status(2)
            .stdout_contains("hashed_password = '********'")
            .run();
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
        let mut profile = example(name);
        profile.tls = self_signed(None, &["10.0.0.5"]);
        let plan = Test::new()
            .profile(&profile)
            .args(["plan", "--offline"])
            .status(2)
            .stdout_lacks("certbot certonly")
            .run();
        let keyout = fullchain.replace("fullchain.pem", "privkey.pem.new");
        let command = format!(
            "openssl req -x509 -noenc -days 365 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
             -keyout {keyout} -out {fullchain}.new -subj '/CN=jupyter"
        );
        let mine = section(&plan.stdout, on);
        assert!(
            mine.contains("  ! generate a self-signed certificate for jupyter.")
                && mine.contains(&command)
                && mine.contains(",IP:10.0.0.5'")
                && mine.contains(&format!("making {fullchain}, because no certificate")),
            "{name}: the {on} generates it:\n{}",
            plan.stdout
        );
        assert!(
            !section(&plan.stdout, other).contains("openssl"),
            "{name}: not on the {other}:\n{}",
            plan.stdout
        );

        let plan = Test::new()
            .profile(&profile)
            .args(["plan", "--offline", "--json"])
            .status(2)
            .run()
            .json();
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
    let mut test = Test::new()
        .example("nginx-proxy.yaml")
        .args(["plan", "--offline", "--json"]);
    for digest in example_hash_digests("nginx-proxy.yaml") {
        test = test.stdout_lacks(digest);
    }
    let plan = test.status(2).run().json();
    assert_eq!(plan["format_version"], 3);
    assert_eq!(plan["offline"], true);
    assert_eq!(plan["hosts"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_profiles_name_file_line_and_field() {
    // Text edits of the example, not `Profile` values: these profiles are not valid ones (a value no type
    // holds, an unknown key, a wrong type), and the errors must name the line of the user's file.
    let good =
        std::fs::read_to_string(support::profiles::example_path("reverse-forward.yaml")).unwrap();
    for (edit, error) in [
        (
            good.replace("domain: jupyter.example.org", "domain: \"x.org; rm -rf /\""),
            ":5:1: domain: invalid domain: ';' at character 6; use a lowercase DNS name such as \
             \"jupyter.example.net\"",
        ),
        (
            good.replace("  sudo: true", "  sudo: true\n  hots: x"),
            ":11:3: server.hots: unknown field `hots`, expected one of `host`, `port`, `user`, `sudo`, \
             `identity_file`; did you mean `host`?",
        ),
        (
            good.replace("  port: 22\n", "  port: [22]\n"),
            ":8:3: server.port: this is a list, but it must be a port number from 1 to 65535",
        ),
        (
            good.replace("  sudo: true ", "  sudo: maybe "),
            ":10:3: server.sudo: this is text, but it must be true or false",
        ),
        // Indented one space too far: the line that is wrong is named, in words about indentation.
        (
            good.replace("  user: alice ", "   user: alice "),
            ":13:4: workstation.user: this line is not indented like the keys beside it (YAML nests by \
             indentation): indent it with as many spaces as its neighbours",
        ),
        (
            good.replace(
                "  password_hash:",
                "  password: s3cret-typed-here\n  password_hash:",
            ),
            ":19:3: jupyter.password: plaintext passwords are refused; run `jprov hash-password` and put \
             its output in jupyter.password_hash",
        ),
    ] {
        assert_ne!(edit, good, "the edit for {error:?} matched nothing");
        // Exact stderr: the secret typed under the wrong key is not echoed; nothing is planned.
        Test::new()
            .profile_text(&edit)
            .args(["plan", "--offline"])
            .status(1)
            .stdout("")
            .stderr(format!("error: [TMP]/profile.yaml{error}\n"))
            .run();
    }
}

#[test]
fn hash_password_reads_stdin_and_the_hash_verifies() {
    let password = "a passphrase of 27 chars łe¶";
    for (args, prefix) in [
        (
            &["hash-password"][..],
            "argon2:$argon2id$v=19$m=10240,t=10,p=8$",
        ),
        (&["hash-password", "--sha1"][..], "sha1:"),
    ] {
        let out = Test::new()
            .args(args.iter().copied())
            .stdin(&format!("{password}\n"))
            .stdout_contains(prefix)
            .stderr("")
            .run();
        let hash = out.stdout.trim();
        assert!(hash.starts_with(prefix), "{hash}");
        assert!(jprov::password::verify_password(hash, password).unwrap());
        assert!(!jprov::password::verify_password(hash, "a passphrase of 27 chars łe").unwrap());
    }
    // An empty password is refused.
    Test::new()
        .arg("hash-password")
        .stdin("\n")
        .status(1)
        .stdout("")
        .stderr("error: the password is empty; choose a non-empty password\n")
        .run();
}

/// A Jupyter password of 16 characters or fewer, a basic-auth one of 10 or fewer, is refused without
/// saying anything of it; `--allow-short` hashes it and says so on stderr.
#[test]
fn hash_password_refuses_short_passwords_unless_allowed() {
    for (args, short, long) in [
        (
            &["hash-password"][..],
            "sixteen-chars-ok",
            "seventeen-chars-ok",
        ),
        (
            &["hash-password", "--sha1"][..],
            "łe¶ŧ←↓→",
            "seventeen-chars-ok",
        ),
        (
            &["hash-password", "--htpasswd"][..],
            "ten-chars!",
            "eleven-chars",
        ),
    ] {
        let what = match args.contains(&"--htpasswd") {
            true => "a basic-auth password needs more than 10 characters",
            false => "a Jupyter password needs more than 16 characters",
        };
        Test::new()
            .args(args.iter().copied())
            .stdin(&format!("{short}\n"))
            .status(1)
            .stdout("")
            .stderr_contains(format!("error: {what}, and this one has"))
            .stderr_contains("--allow-short")
            .stderr_lacks(short)
            .run();
        let allowed = Test::new()
            .args(args.iter().copied())
            .arg("--allow-short")
            .stdin(&format!("{short}\n"))
            .stderr_contains("warning: --allow-short: hashing a ")
            .stderr_lacks(short)
            .run();
        let hash = allowed.stdout.trim();
        let verified = match args.contains(&"--htpasswd") {
            true => jprov::password::htpasswd::verify_bcrypt(hash, short).unwrap(),
            false => jprov::password::verify_password(hash, short).unwrap(),
        };
        assert!(verified, "{hash}");
        // One character more passes without a word.
        Test::new()
            .args(args.iter().copied())
            .stdin(&format!("{long}\n"))
            .stderr("")
            .run();
    }
}

/// With `--profile`, a password whose hash the profile holds (any login's, Jupyter's or basic auth's) is
/// refused, naming the field and never the password; a new one is hashed.
#[test]
fn hash_password_refuses_a_password_the_profile_holds() {
    let (jupyter, ada, basic) = (
        "the owner's long password",
        "ada's own long password",
        "alice-basic-pw",
    );
    let hash =
        |p: &str| jprov::password::hash_password(p, jprov::password::HashScheme::Argon2).unwrap();
    let mut profile = example("layers.yaml");
    profile.jupyter.password_hash = valid(&hash(jupyter));
    profile.jupyter.collaborators[0].password_hash = valid(&hash(ada));
    profile.access.basic_auth.as_mut().unwrap()[0].htpasswd_hash =
        valid(&jprov::password::htpasswd::hash_password(basic).unwrap());
    for (args, password, field) in [
        (
            &["hash-password"][..],
            ada,
            "jupyter.collaborators[0].password_hash (ada's login)",
        ),
        (
            &["hash-password", "--htpasswd"][..],
            jupyter,
            "jupyter.password_hash (alice's login)",
        ),
        (
            &["hash-password"][..],
            basic,
            "access.basic_auth[0].htpasswd_hash (alice's login)",
        ),
    ] {
        let test = Test::new().args(args.iter().copied());
        let profile_file = test.dir().join("profile.yaml");
        support::profiles::write(&profile_file, &profile);
        test.arg("--allow-short")
            .arg("--profile")
            .arg(&profile_file)
            .stdin(&format!("{password}\n"))
            .status(1)
            .stdout("")
            .stderr_contains(format!(
                "the profile already holds a hash of this password, in {field}"
            ))
            .stderr_lacks(password)
            .run();
    }
    let test = Test::new().arg("hash-password");
    let profile_file = test.dir().join("profile.yaml");
    support::profiles::write(&profile_file, &profile);
    let out = test
        .arg("--profile")
        .arg(&profile_file)
        .stdin("a password nobody used before\n")
        .stderr("")
        .run();
    assert!(out.stdout.starts_with("argon2:"), "{}", out.stdout);
}

fn current_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
        // Exact stderr: nothing started (no "running `ssh"), and it names what to run where.
        Test::new()
            .arg("tunnel")
            .example(name)
            .status(1)
            .stdout("")
            .stderr(format!(
                "error: the tunnel runs as {user} on the {host} (the host that opens it), but this is {}: \
                 run it there as {user}, e.g. `sudo -u {user} jprov tunnel [REPO]/profiles/{name}`\n",
                current_user(),
            ))
            .run();
    }
}

#[test]
fn tunnel_without_the_key_says_to_apply_first() {
    let test = Test::new();
    let mut profile = example("reverse-forward.yaml");
    profile.workstation.host = WorkstationHost::Local;
    profile.workstation.user = valid(&current_user());
    profile.workstation.home = Some(valid(&test.dir().join("home").display().to_string()));
    profile.workstation.jump = None;
    // Exact stderr: nothing started (no "running `ssh").
    test.profile(&profile)
        .arg("tunnel")
        .status(1)
        .stdout("")
        .stderr(
            "error: cannot read the tunnel's key [TMP]/home/.ssh/jprov-lab-reverse-tunnel: No such file or \
             directory (os error 2). Run `jprov apply [TMP]/profile.yaml` first (it creates it on the \
             workstation), and run `jprov tunnel` on the workstation\n",
        )
        .run();
}

#[test]
fn tunnel_retry_seconds_must_be_positive() {
    Test::new()
        .args(["tunnel", "--retry-seconds", "0"])
        .example("reverse-forward.yaml")
        // A usage error: 1, never 2 (which a CI reads from plan as "changes pending").
        .status(1)
        .stdout("")
        .stderr(
            "error: invalid value '0' for '--retry-seconds <SECONDS>': 0 is not in 1..=4294967295\n\n\
             For more information, try '--help'.\n",
        )
        .run();
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
        let mut test = Test::new().example(name).args(["plan", "--destroy", "--offline"]);
        for needle in must_show {
            test = test.stdout_contains(*needle);
        }
        for digest in example_hash_digests(name) {
            test = test.stdout_lacks(digest);
        }
        // Debian's certbot timer is not jprov's: never stopped.
        let plan = test
            .status(2)
            .stdout_lacks("certbot.timer")
            .run();
        // On each host: services stop first, jprov's records go last.
        for role in ["server", "workstation"] {
            let host = section(&plan.stdout, role);
            let changes: Vec<&str> = host.lines().filter(|l| l.starts_with("  - ")).collect();
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

        let plan = Test::new()
            .example(name)
            .args(["plan", "--destroy", "--offline", "--json"])
            .status(2)
            .run()
            .json();
        assert_eq!(
            (plan["destroy"].clone(), plan["offline"].clone()),
            (true.into(), true.into())
        );
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
    Test::new()
        .args(["plan", "--destroy", "--start-tunnel", "--offline"])
        .example("reverse-forward.yaml")
        .status(1)
        .stdout("")
        .stderr(
            "error: the argument '--destroy' cannot be used with '--start-tunnel'\n\n\
             Usage: jprov plan --destroy --offline <PROFILE>...\n\n\
             For more information, try '--help'.\n",
        )
        .run();
    // An offline plan, of a teardown or not, cannot be saved for apply (it was not made against the
    // hosts), and the error says that.
    for destroy in [&[][..], &["--destroy"]] {
        let test = Test::new();
        let saved = test.dir().join("plan.json");
        test.args(["plan", "--offline", "-o"])
            .arg(&saved)
            .args(destroy.iter().copied())
            .example("reverse-forward.yaml")
            .status(1)
            .stdout("")
            .stderr(
                "error: cannot save the plan to [TMP]/plan.json: offline plans can't be saved (a saved plan \
                 records the state of the hosts, which an offline plan never saw); run `jprov plan -o FILE` \
                 against the hosts\n",
            )
            .absent(&saved)
            .run();
    }
}

/// The exit-code contract CI relies on: 2 means "changes pending" from plan and nothing else; a usage
/// error is 1; help and version are 0 (README, Exit codes).
#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    for (args, why) in [
        (&["plna"][..], "an unknown command"),
        (
            &["plan", "--ofline", "profiles/reverse-forward.yaml"],
            "an unknown flag",
        ),
        (&["plan"], "a missing argument"),
        (&[], "no command at all"),
        (
            &["apply", "--lockout-guard-seconds", "soon", "p.yaml"],
            "a bad value",
        ),
    ] {
        let ran = Test::new()
            .args(args.iter().copied())
            .status(1)
            .stdout("")
            .run();
        assert!(
            ran.stderr.contains("Usage:") || ran.stderr.contains("For more information"),
            "{why}: {}",
            ran.stderr
        );
    }
    for args in [
        &["--help"][..],
        &["--version"],
        &["plan", "--help"],
        &["help"],
    ] {
        let ran = Test::new()
            .args(args.iter().copied())
            .status(0)
            .stderr("")
            .run();
        assert!(ran.stdout.contains("jprov"), "{args:?}: {}", ran.stdout);
    }
    // And a plan with changes is the one 2 (the examples against empty hosts).
    Test::new()
        .args(["plan", "--offline"])
        .example("reverse-forward.yaml")
        .status(2)
        .stdout_contains("changes to apply.")
        .run();
}

/// A server that accepts TCP but never speaks SSH: plan and trust give up after the connect timeout
/// (`--connect-timeout`; ssh's ConnectTimeout is read by the unit tests of `ssh -G`'s parsing, since ssh
/// takes its config from the passwd home, not from a test's HOME), name the host, and exit 4. Before, plan waited 30 s
/// and trust 150 s without a word.
#[test]
fn a_host_that_never_answers_is_given_up_on_after_the_connect_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Connections are accepted by the kernel (backlog) and never answered.
    let profile = server_on_loopback(port);
    let no_answer = |seconds: u32| {
        format!(
            "error: server: cannot reach admin@127.0.0.1:{port}: SSH handshake failed: no answer within \
             {seconds} s (the connect timeout: --connect-timeout, or ConnectTimeout in the ssh config)\n"
        )
    };
    let started = std::time::Instant::now();
    let ran = Test::new()
        .args(["plan", "--connect-timeout", "3"])
        .profile(&profile)
        .status(4)
        .stdout("")
        .stderr_contains(format!(
            "jprov: waiting for admin@127.0.0.1:{port} (giving up after 3 s)\n"
        ))
        .stderr_contains(no_answer(3))
        .run();
    let took = started.elapsed();
    assert!(
        took.as_secs_f64() >= 2.9 && took.as_secs_f64() < 8.0,
        "took {took:?}: {}",
        ran.stderr
    );
    // trust too (it tries one handshake per key type, but gives up on a host that never answers at once).
    let started = std::time::Instant::now();
    Test::new()
        .args(["trust", "--connect-timeout", "1"])
        .profile(&profile)
        .status(4)
        .stderr_contains("SSH handshake: no answer within 1 s")
        .run();
    assert!(
        started.elapsed().as_secs() < 5,
        "trust took {:?}",
        started.elapsed()
    );
    drop(silent);
}

/// Every long flag jprov defines, from the one clap definition (`--help` and `--version` aside).
fn defined_flags() -> std::collections::BTreeSet<String> {
    fn walk(command: &clap::Command, flags: &mut std::collections::BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                if long != "help" && long != "version" {
                    flags.insert(format!("--{long}"));
                }
            }
            // Aliases shown in --help (--auto-approve) are flags users type as well.
            for alias in arg.get_visible_aliases().into_iter().flatten() {
                flags.insert(format!("--{alias}"));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, flags);
        }
    }
    let mut flags = std::collections::BTreeSet::new();
    walk(&jprov::cli::command(), &mut flags);
    flags
}

#[test]
fn the_readme_names_exactly_the_flags_jprov_defines() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let usage = readme
        .split_once("\n## Usage\n")
        .and_then(|(_, rest)| rest.split_once("\n### Reading a plan"))
        .map(|(usage, _)| usage)
        .expect("README has a Usage section before Reading a plan");
    let named: std::collections::BTreeSet<String> = usage
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(|word| word.trim_end_matches('-').to_string())
        .collect();
    // clap's own --help and --version may be named too.
    let named: std::collections::BTreeSet<String> = named
        .into_iter()
        .filter(|flag| flag != "--help" && flag != "--version")
        .collect();
    let defined = defined_flags();
    assert!(defined.len() > 8, "{defined:?}");
    let missing: Vec<_> = defined.difference(&named).collect();
    let unknown: Vec<_> = named.difference(&defined).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README's Usage section and the clap definitions disagree: not in the README {missing:?}, \
         not defined {unknown:?}"
    );
    for sub in jprov::cli::command().get_subcommands() {
        assert!(
            usage.contains(&format!("jprov {}", sub.get_name())),
            "README's Usage lacks `jprov {}`",
            sub.get_name()
        );
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    let flags = defined_flags();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let ran = Test::new()
            .args(["completions", shell])
            .status(0)
            .stderr("")
            .run();
        // Flags as each shell spells them (fish: `-l connect-timeout`).
        for word in [
            "plan",
            "apply",
            "destroy",
            "trust",
            "connect-timeout",
            "offline",
        ] {
            assert!(ran.stdout.contains(word), "{shell} completion lacks {word}");
        }
        if shell == "bash" {
            // bash itself reads it, and completes `jprov pl` to plan and `jprov plan --off` to --offline.
            let script = format!(
                "{}\nCOMP_WORDS=(jprov pl); COMP_CWORD=1; _jprov jprov pl jprov; echo \"${{COMPREPLY[*]}}\"\n\
                 COMP_WORDS=(jprov plan --off); COMP_CWORD=2; _jprov jprov --off plan; echo \"${{COMPREPLY[*]}}\"\n",
                ran.stdout
            );
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                said,
                "plan\n--offline\n",
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Outside the test's own directory, which goes when the run is checked.
    let man1 = tempfile::tempdir().unwrap();
    let pages = man1.path();
    Test::new().arg("man").arg(pages).status(0).stderr("").run();
    let page = |name: &str| {
        std::fs::read_to_string(pages.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert!(page("jprov.1").contains(".TH jprov 1"));
    // A page per command, each with its flags, as roff spells them (`\-\-offline`).
    for (command, flag) in [
        ("plan", "offline"),
        ("apply", "start\\-tunnel"),
        ("trust", "connect\\-timeout"),
    ] {
        let text = page(&format!("jprov-{command}.1"));
        assert!(
            text.contains(flag),
            "jprov-{command}.1 lacks {flag}:\n{text}"
        );
    }
    for command in ["destroy", "tunnel", "hash-password", "completions", "man"] {
        page(&format!("jprov-{command}.1"));
    }
    assert!(!flags.is_empty());
}

/// `plan --json` is for machines: its errors are JSON on stdout too (with the format version), and the
/// exit code is the one the error has; people still get the message on stderr.
#[test]
fn with_json_errors_are_json_too() {
    let bad = Test::new()
        .args(["plan", "--offline", "--json"])
        .profile_text("name: x\nmethod: reverse-forward\ndomain: a..b\n")
        .status(1)
        .stderr_contains("domain: invalid domain")
        .run();
    let json = bad.json();
    assert_eq!(json["format_version"], jprov::plan::FORMAT_VERSION);
    assert_eq!(json["error"]["exit_code"], 1);
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(":3:1: domain: invalid domain"),
        "{message}"
    );
    // A host nobody answers for: the unreachable code, 4, in the JSON and as the exit status.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let profile = server_on_loopback(port);
    let unreachable = Test::new()
        .args(["plan", "--json"])
        .profile(&profile)
        .status(4)
        .run();
    assert_eq!(
        unreachable.json()["error"]["exit_code"],
        4,
        "{}",
        unreachable.stdout
    );
}

/// The reverse-forward example with its server at `127.0.0.1:port` and jprov on the workstation itself: a
/// profile whose only connection is one the test controls.
fn server_on_loopback(port: u16) -> jprov::profile::Profile {
    let mut profile = support::profiles::example("reverse-forward.yaml");
    profile.server.as_mut().unwrap().host = support::profiles::valid("127.0.0.1");
    profile.server.as_mut().unwrap().port =
        Some(jprov::value::Port::try_from(u32::from(port)).unwrap());
    profile.workstation.host = jprov::profile::WorkstationHost::Local;
    profile.workstation.jump = None;
    profile
}

/// profiles/profile.schema.json is what `jprov schema` generates from the Rust types (rewritten with
/// JPROV_UPDATE_GOLDEN=1), every example names it for editors and passes it (Python's jsonschema, from the
/// test venv, as editors' validators do), and the schema is strict: an unknown key fails it.
#[test]
fn the_shipped_json_schema_is_generated_and_every_example_passes_it() {
    let shipped = support::profiles::example_path("profile.schema.json");
    let generated = Test::new().args(["schema"]).run().stdout;
    if support::golden::updating() {
        std::fs::write(&shipped, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&shipped).unwrap();
    assert!(
        on_disk == generated,
        "{}",
        support::golden::diff("profiles/profile.schema.json", &on_disk, &generated)
    );
    let python = support::prereq::python(&["jsonschema"]);
    let validate = |yaml: &str| -> std::process::Output {
        let value: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
        let mut child = std::process::Command::new(&python)
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))",
            ])
            .arg(&shipped)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let input = serde_json::to_vec(&value).unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        child.wait_with_output().unwrap()
    };
    for name in example_names() {
        let text = std::fs::read_to_string(support::profiles::example_path(&name)).unwrap();
        assert!(
            // Last: editors find the modeline anywhere, and the examples' line numbers stay as errors cite them.
            text.ends_with("\n# yaml-language-server: $schema=profile.schema.json\n"),
            "{name} does not name the schema"
        );
        let out = validate(&text);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mistyped = text.replacen("\nworkstation:\n", "\nworkstation:\n  hots: x\n", 1);
        assert_ne!(mistyped, text);
        assert!(
            !validate(&mistyped).status.success(),
            "{name}: an unknown key passed the schema"
        );
    }
}

/// Several profiles in one invocation, offline (what CI runs for a fleet): a directory of them, each plan
/// under its header, JSON with one entry per profile, the exit code of one; a profile named twice is one;
/// profiles that collide on a shared host are an error naming both files and the field, before anything;
/// a directory without profiles is an error.
#[test]
fn several_profiles_are_planned_together_and_collisions_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    std::fs::create_dir(&fleet).unwrap();
    let base =
        std::fs::read_to_string(support::profiles::example_path("reverse-forward.yaml")).unwrap();
    std::fs::write(fleet.join("alice.yaml"), &base).unwrap();
    let bob = base
        .replace("name: lab-reverse", "name: lab-bob")
        .replace("host: workstation.internal", "host: bob-ws.internal")
        .replace("account: jprov-tunnel ", "account: jprov-tunnel-bob ")
        .replace(
            "  port: 8888                         # public",
            "  port: 8889                         # public",
        );
    std::fs::write(fleet.join("bob.yaml"), &bob).unwrap();
    let dir = fleet.to_str().unwrap().to_string();
    let alice = fleet.join("alice.yaml").to_str().unwrap().to_string();
    let ran = Test::new()
        .args(["plan", "--offline", &dir, &alice])
        .status(2)
        .stdout_contains(format!("== lab-reverse ({alice}) =="))
        .stdout_contains(format!("== lab-bob ({dir}/bob.yaml) =="))
        .run();
    assert_eq!(
        ran.stdout.matches("== lab-reverse").count(),
        1,
        "{}",
        ran.stdout
    );
    let ran = Test::new()
        .args(["plan", "--offline", "--json", &dir])
        .status(2)
        .run();
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let entries = json["profiles"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["plan"]["profile"], "lab-bob");
    // Bob takes Alice's tunnel port on the shared server.
    std::fs::write(
        fleet.join("bob.yaml"),
        bob.replace("  port: 8889 ", "  port: 8888 "),
    )
    .unwrap();
    Test::new()
        .args(["plan", "--offline", &dir])
        .status(1)
        .stderr_contains("the profiles collide on a shared host")
        .stderr_contains(
            "fleet/bob.yaml: tunnel.port: port 8888 on the server gateway.example.org is taken by",
        )
        .stdout("")
        .run();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    Test::new()
        .args(["plan", "--offline", empty.to_str().unwrap()])
        .status(1)
        .stderr_contains("holds no profile (*.yaml or *.yml)")
        .run();
}
