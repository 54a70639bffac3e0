//! `jprov check`, the offline security lint: every example passes it; each finding fires on a profile
//! crafted for it (in a temporary git repository for the findings about git) and names where, never the
//! secret; the JSON's shape; the layers. Needs no root and no hosts.

mod support;

use jprov::password::{hash_password, HashScheme};
use std::path::Path;
use support::profiles::{example, example_names, example_path, to_yaml, valid};
use support::test::Test;

/// A key that pins both hosts of the reverse-forward example (any key: check only looks for the names).
const PINS: &str = "gateway.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6pE0hXyJk3JX0h4v0n2xkqWQj6mLk2cCw5Yq2h3d9a\n\
                    workstation.internal ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq1bqj6b0wq8aB3u7s9Y0m8lE2o2r9C4n0Ww9yQ0m1x\n";

/// Secrets the crafted profiles and files hold; no output may contain any of them.
const PASSWORD: &str = "hunter2-in-a-comment";
const COMMENTED_PASSWORD: &str = "the owner's long secret";
const NGROK_TOKEN: &str = "2Nt7Q1H3ZvX5bqWabcdefGHIJKL_5ZQxyzABCDEFghijk1234";
const KEY_BODY: &str = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository in the test's directory with `files` (path, content) committed.
fn committed(test: &Test, files: &[(&str, &str)]) {
    git(test.dir(), &["init", "-q"]);
    for (path, content) in files {
        let path = test.dir().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    git(test.dir(), &["add", "-A"]);
    git(
        test.dir(),
        &["commit", "-q", "-m", "files", "--allow-empty"],
    );
}

/// `jprov check --json` with git's configuration the test's own, and no secret in either stream.
fn check(test: Test) -> Test {
    let mut test = test
        .args(["check", "--json"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for secret in [PASSWORD, COMMENTED_PASSWORD, NGROK_TOKEN, KEY_BODY] {
        test = test.stdout_lacks(secret).stderr_lacks(secret);
    }
    test
}

/// (severity, code, file, line, field) of each finding of the only profile checked, files relative to
/// the test's directory.
fn findings(json: &serde_json::Value, dir: &Path) -> Vec<(String, String, String, String, String)> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.replace(&format!("{}/", dir.display()), ""),
        other => other.to_string(),
    };
    let profiles = json["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 1);
    (profiles[0]["findings"].as_array().unwrap().iter())
        .map(|f| {
            (
                text(&f["severity"]),
                text(&f["code"]),
                text(&f["file"]),
                text(&f["line"]),
                text(&f["field"]),
            )
        })
        .collect()
}

fn has(
    found: &[(String, String, String, String, String)],
    severity: &str,
    code: &str,
    place: &str,
) {
    let hit = found.iter().any(|(s, c, file, line, field)| {
        s == severity
            && c == code
            && [format!("{file}:{line}"), file.clone(), field.clone()].contains(&place.to_string())
    });
    assert!(hit, "no {severity} {code} at {place} in {found:#?}");
}

fn lacks(found: &[(String, String, String, String, String)], code: &str) {
    assert!(
        !found.iter().any(|(_, c, ..)| c == code),
        "unexpected {code} in {found:#?}"
    );
}

/// The reverse-forward example's text with the owner's hash of `password` instead.
fn example_text_with_owner(password: &str) -> String {
    let text = std::fs::read_to_string(example_path("reverse-forward.yaml")).unwrap();
    let p = example("reverse-forward.yaml");
    text.replace(
        p.jupyter.password_hash.as_str(),
        &hash_password(password, HashScheme::Argon2).unwrap(),
    )
}

#[test]
fn every_example_passes_check() {
    let started = std::time::Instant::now();
    let names = example_names();
    // One at a time: the examples are alternatives for the same made-up hosts, which checked together
    // would take the same tunnel account and ports there (see the fleet test below).
    let mut reports = vec![];
    for name in &names {
        let json = Test::new()
            .args(["check", "--json"])
            .arg(example_path(name))
            .status(0)
            .stderr("")
            .run()
            .json();
        assert_eq!(json["format_version"], 1);
        reports.extend(json["profiles"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(reports.len(), names.len());
    for report in &reports {
        assert_eq!(report["errors"], 0, "{report:#}");
        let errors: Vec<_> = (report["findings"].as_array().unwrap().iter())
            .filter(|f| f["severity"] == "error")
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // The examples pin no hosts (their hosts are made up): the one warning each may have.
        for finding in report["findings"].as_array().unwrap() {
            assert_eq!(finding["code"], "unpinned-host-keys", "{finding:#}");
        }
    }
    // And as text, each with its layers (two examples: each check verifies its hashes again).
    let out = Test::new()
        .arg("check")
        .arg(example_path("lan.yaml"))
        .arg(example_path("reverse-forward.yaml"))
        .status(0)
        .stderr("")
        .run()
        .stdout;
    assert_eq!(out.matches("  layers:\n").count(), 2, "{out}");
    assert!(out.contains(": 0 errors, 1 warning, 0 notes\n"), "{out}");
    println!("check of {} examples: {:?}", names.len(), started.elapsed());
}

/// Profiles checked together that share a host must not take the same things there: a second
/// reverse-forward profile for the same server and workstation collides on the tunnel account, the public
/// port and Jupyter's port, each error naming the field and the other profile; given its own, it is clean.
#[test]
fn profiles_checked_together_must_not_collide_on_a_shared_host() {
    let first = std::fs::read_to_string(example_path("reverse-forward.yaml")).unwrap();
    let second = first.replace("name: lab-reverse", "name: lab-reverse-two");
    assert_ne!(first, second);
    let test = Test::new();
    let (a, b) = (test.dir().join("a.yaml"), test.dir().join("b.yaml"));
    std::fs::write(&a, &first).unwrap();
    std::fs::write(&b, &second).unwrap();
    let json = Test::new()
        .args(["check", "--json"])
        .arg(&a)
        .arg(&b)
        .status(1)
        .run()
        .json();
    let reports = json["profiles"].as_array().unwrap();
    assert_eq!(reports[0]["errors"], 0, "{:#}", reports[0]);
    let collisions: Vec<String> = (reports[1]["findings"].as_array().unwrap().iter())
        .filter(|f| f["code"] == "profiles-collide")
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        collisions,
        ["tunnel.account", "tunnel.port", "jupyter.port"],
        "{:#}",
        reports[1]
    );
    let message = (reports[1]["findings"].as_array().unwrap().iter())
        .find(|f| f["code"] == "profiles-collide")
        .and_then(|f| f["finding"].as_str())
        .unwrap();
    assert!(message.contains("a.yaml"), "{message}");
    // Its own account and ports: no collision.
    let own = second
        .replace(
            "  port: 8888                         # public port",
            "  port: 8890                         # public port",
        )
        .replace(
            "  port: 8888                         # Jupyter's",
            "  port: 8891                         # Jupyter's",
        )
        .replace("  account: jprov-tunnel ", "  account: jprov-tunnel-two ");
    std::fs::write(&b, &own).unwrap();
    Test::new().args(["check"]).arg(&a).arg(&b).status(0).run();
}

#[test]
fn a_clean_profile_in_git_with_pinned_hosts_has_no_finding_and_every_layer_it_has() {
    let test = Test::new();
    committed(&test, &[("known_hosts", PINS), (".gitignore", "*.key\n")]);
    let test = check(test).profile_text(&example_text_with_owner("a long password nobody knows"));
    let json = test.status(0).run().json();
    let report = &json["profiles"][0];
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    let layers: Vec<(String, String)> = (report["layers"].as_array().unwrap().iter())
        .map(|l| {
            (
                l["layer"].as_str().unwrap().into(),
                l["present"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("password", "yes"),
        ("TLS", "yes"),
        ("public TLS", "yes"),
        ("basic auth", "no"),
        ("IP allow-list", "no"),
        ("obscurity", "no"),
        ("pinned host keys", "yes"),
    ];
    assert_eq!(
        layers,
        expected.map(|(l, p)| (l.to_string(), p.to_string())),
        "{report:#}"
    );
    for layer in report["layers"].as_array().unwrap() {
        assert!(!layer["protects_against"].as_str().unwrap().is_empty());
    }
}

#[test]
fn secrets_in_the_profile_are_found_by_line_and_never_shown() {
    let test = Test::new();
    committed(&test, &[("known_hosts", PINS)]);
    let text = format!(
        "{}# password: {PASSWORD}\n# the owner's is \"{COMMENTED_PASSWORD}\"\n# NGROK_AUTHTOKEN={NGROK_TOKEN}\n",
        example_text_with_owner(COMMENTED_PASSWORD)
    );
    let lines = text.lines().count();
    let dir = test.dir().to_path_buf();
    let json = check(test).profile_text(&text).status(1).run().json();
    let found = findings(&json, &dir);
    let file = |line: usize| format!("profile.yaml:{line}");
    has(&found, "error", "plaintext-secret", &file(lines - 2));
    has(&found, "error", "plaintext-secret", &file(lines));
    // The quoted word is the owner's password: named by field and line.
    assert!(
        found
            .iter()
            .any(|(_, c, _, line, field)| c == "plaintext-secret"
                && field == "jupyter.password_hash"
                && *line == (lines - 1).to_string()),
        "{found:#?}"
    );
}

#[test]
fn secrets_in_files_git_tracks_beside_the_profile_are_found() {
    let test = Test::new();
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"
    );
    committed(
        &test,
        &[
            ("known_hosts", PINS),
            ("notes/backup-of-the-key", &key),
            (
                "ngrok.env",
                &format!("# the agent's\nNGROK_AUTHTOKEN={NGROK_TOKEN}\n"),
            ),
            (
                "README.md",
                &format!("Log in with\n\npassword: {PASSWORD}\n"),
            ),
        ],
    );
    let dir = test.dir().to_path_buf();
    let json = check(test)
        .profile_text(&example_text_with_owner("a long password nobody knows"))
        .status(1)
        .run()
        .json();
    let found = findings(&json, &dir);
    has(
        &found,
        "error",
        "plaintext-secret",
        "notes/backup-of-the-key:1",
    );
    has(&found, "error", "plaintext-secret", "ngrok.env:2");
    has(&found, "error", "plaintext-secret", "README.md:3");
    // The tracked key is reported by its line, not a second time as a file.
    lacks(&found, "key-file-not-ignored");
}

#[test]
fn key_and_certificate_files_git_would_commit_are_found_until_ignored() {
    let test = Test::new();
    committed(&test, &[("known_hosts", PINS)]);
    let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for (path, content) in [
        ("tls/server.key", "not read: named like a key"),
        ("tls/fullchain.pem", certificate),
        (
            "keys/admin",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        ("keys/admin.pub", "ssh-ed25519 AAAA admin"),
    ] {
        let path = test.dir().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let mut profile = example("reverse-forward.yaml");
    profile.server.as_mut().unwrap().identity_file = Some(valid("keys/admin"));
    // Not there: nothing for git to commit.
    profile.workstation.identity_file = Some(valid("missing-key"));
    let text = to_yaml(&profile);
    let dir = test.dir().to_path_buf();
    let json = check(test).profile_text(&text).status(1).run().json();
    let found = findings(&json, &dir);
    has(&found, "error", "key-file-not-ignored", "tls/server.key");
    has(
        &found,
        "warning",
        "key-file-not-ignored",
        "tls/fullchain.pem",
    );
    has(&found, "error", "key-file-not-ignored", "keys/admin");
    assert!(!found.iter().any(|f| f.2.ends_with(".pub")), "{found:#?}");

    // Ignored, they are git's no more; the identity file is then checked with git check-ignore.
    let test = Test::new();
    committed(
        &test,
        &[
            ("known_hosts", PINS),
            (".gitignore", "*.key\n*.pem\n/keys/\n"),
        ],
    );
    for path in ["tls/server.key", "tls/fullchain.pem", "keys/admin"] {
        let path = test.dir().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }
    let json = check(test).profile_text(&text).status(0).run().json();
    assert_eq!(
        json["profiles"][0]["findings"],
        serde_json::json!([]),
        "{json:#}"
    );
}

#[test]
fn an_identity_file_outside_the_profiles_directory_but_in_the_work_tree_is_found() {
    let test = Test::new();
    committed(&test, &[("profiles/known_hosts", PINS)]);
    std::fs::create_dir_all(test.dir().join("keys")).unwrap();
    std::fs::write(test.dir().join("keys/admin"), "x").unwrap();
    let mut profile = example("reverse-forward.yaml");
    let key = test.dir().join("keys/admin");
    profile.server.as_mut().unwrap().identity_file = Some(valid(&key.display().to_string()));
    let profile_file = test.dir().join("profiles/mine.yaml");
    support::profiles::write(&profile_file, &profile);
    let json = check(test).arg(&profile_file).status(1).run().json();
    let found = findings(&json, Path::new("/"));
    assert!(
        found.iter().any(|(s, c, file, _, field)| s == "error"
            && c == "key-file-not-ignored"
            && file.ends_with("/keys/admin")
            && field == "server.identity_file"),
        "{found:#?}"
    );
}

#[test]
fn weak_and_shared_hashes_are_found_for_every_login() {
    let test = Test::new();
    committed(&test, &[("known_hosts", PINS)]);
    let weak = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"a weak hash's password", &salt)
            .unwrap();
        format!("argon2:{phc}")
    };
    let mut profile = example("layers.yaml");
    profile.jupyter.password_hash = valid(&hash_password("x", HashScheme::Sha1).unwrap());
    let ada = hash_password("ada's long password!", HashScheme::Argon2).unwrap();
    profile.jupyter.collaborators[0].password_hash = valid(&ada);
    let mut bob = profile.jupyter.collaborators[0].clone();
    bob.username = valid("bob");
    bob.name = valid("Bob");
    let mut carol = bob.clone();
    carol.username = valid("carol");
    carol.password_hash = valid(&weak);
    profile.jupyter.collaborators.extend([bob, carol]);
    let cheap_bcrypt = bcrypt::hash_with_salt("alice's basic pw", 4, [7u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    profile.access.basic_auth.as_mut().unwrap()[0].htpasswd_hash = valid(&cheap_bcrypt);
    let json = check(test)
        .profile_text(&to_yaml(&profile))
        .status(1)
        .run()
        .json();
    let found = findings(&json, Path::new("/"));
    has(&found, "error", "legacy-hash", "jupyter.password_hash");
    has(
        &found,
        "error",
        "same-hash",
        "jupyter.collaborators[1].password_hash",
    );
    has(
        &found,
        "error",
        "weak-argon2",
        "jupyter.collaborators[2].password_hash",
    );
    has(
        &found,
        "warning",
        "weak-bcrypt",
        "access.basic_auth[0].htpasswd_hash",
    );
    // Located at their lines in the text.
    assert!(
        found
            .iter()
            .all(|f| f.1 == "unpinned-host-keys" || !f.3.is_empty()),
        "{found:#?}"
    );
    assert_eq!(
        found.iter().filter(|f| f.1 == "same-hash").count(),
        1,
        "{found:#?}"
    );
    // Two basic-auth accounts with one hash: the profile itself refuses it, and check says where.
    let test = Test::new();
    let mut profile = example("layers.yaml");
    let accounts = profile.access.basic_auth.as_mut().unwrap();
    accounts[1].htpasswd_hash = accounts[0].htpasswd_hash.clone();
    let json = check(test)
        .profile_text(&to_yaml(&profile))
        .status(1)
        .run()
        .json();
    let found = findings(&json, Path::new("/"));
    has(
        &found,
        "error",
        "invalid-profile",
        "access.basic_auth[1].htpasswd_hash",
    );
}

/// Templates from JPROV_TEMPLATE_DIR: the real ones with `edit` applied to NAME.
fn overridden(test: &Test, name: &str, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let dir = test.dir().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    let real = std::fs::read_to_string(format!(
        "{}/templates/{name}.j2",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let edited = edit(real.clone());
    assert_ne!(edited, real, "the edit of {name} changed nothing");
    std::fs::write(dir.join(format!("{name}.j2")), edited).unwrap();
    dir
}

#[test]
fn templates_that_turn_tls_or_the_password_off_are_found_in_what_they_render() {
    type Edit = fn(String) -> String;
    let cases: [(&str, &str, Edit, &[&str]); 5] = [
        (
            "nginx-proxy.yaml",
            "nginx_site.conf",
            |t| {
                t.replace(
                    "ssl_protocols TLSv1.2 TLSv1.3;",
                    "ssl_protocols TLSv1 TLSv1.2 TLSv1.3;",
                )
            },
            &["old-tls-protocol"],
        ),
        (
            "nginx-proxy.yaml",
            "nginx_site.conf",
            |t| {
                t.replace(" ssl;", ";")
                    .replace("    ssl_certificate ", "    # ssl_certificate ")
            },
            &["tls-off"],
        ),
        (
            "reverse-forward.yaml",
            "jupyter_server_config.py",
            |t| t.replace("c.ServerApp.certfile", "# c.ServerApp.certfile"),
            &["tls-off"],
        ),
        (
            "lan.yaml",
            "jupyter_server_config.py",
            |t| {
                t.replace("password_required = True", "password_required = False")
                    .replace(
                        "c.IdentityProvider.token = ''",
                        "c.IdentityProvider.token = 'fixed'",
                    )
            },
            &["password-off", "password-off"],
        ),
        (
            "ngrok.yaml",
            "jupyter_server_config.py",
            |t| {
                t.replace(
                    "hashed_password = '{{ password_hash }}'",
                    "hashed_password = ''",
                ) + "c.ServerApp.ssl_options = {'ssl_version': ssl.PROTOCOL_TLSv1}\n"
            },
            &["password-off", "old-tls-protocol"],
        ),
    ];
    for (example_name, template, edit, codes) in cases {
        let test = Test::new();
        let templates = overridden(&test, template, edit);
        let json = check(test)
            .env("JPROV_TEMPLATE_DIR", &templates)
            .arg(example_path(example_name))
            .status(1)
            .run()
            .json();
        let found = findings(&json, Path::new("/"));
        let errors: Vec<&str> = (found.iter())
            .filter(|f| f.0 == "error")
            .map(|f| f.1.as_str())
            .collect();
        assert_eq!(errors, *codes, "{example_name} with {template}: {found:#?}");
        has(
            &found,
            "info",
            "template-override",
            &templates.display().to_string(),
        );
        // Where: the file on its host, and the line for a setting.
        let host_file = (found.iter()).find(|f| f.0 == "error").unwrap();
        assert!(
            host_file.2.starts_with("server:/") || host_file.2.starts_with("workstation:/"),
            "{found:#?}"
        );
    }
    // jprov's own templates render none of it: the examples above pass (every_example_passes_check).
}

#[test]
fn hosts_the_known_hosts_file_does_not_pin_are_found() {
    let test = Test::new();
    committed(&test, &[("known_hosts", PINS.lines().next().unwrap())]);
    let json = check(test)
        .profile_text(&example_text_with_owner("a long password nobody knows"))
        .status(0)
        .run()
        .json();
    let found = findings(&json, Path::new("/"));
    assert_eq!(found.len(), 1, "{found:#?}");
    has(&found, "warning", "unpinned-host-keys", "known_hosts");
    let layer = &json["profiles"][0]["layers"][6];
    assert_eq!(layer["present"], "no");
    assert!(
        layer["detail"]
            .as_str()
            .unwrap()
            .contains("pins no key for workstation.internal"),
        "{layer}"
    );
}

#[test]
fn a_lan_address_the_internet_reaches_is_a_warning() {
    let mut profile = example("lan.yaml");
    profile.lan.as_mut().unwrap().address = valid("10.1.2.3");
    let private = check(Test::new()).profile(&profile).status(0).run().json();
    lacks(&findings(&private, Path::new("/")), "public-lan-address");
    profile.lan.as_mut().unwrap().address = valid("93.184.216.34");
    let json = check(Test::new()).profile(&profile).status(0).run().json();
    let found = findings(&json, Path::new("/"));
    has(&found, "warning", "public-lan-address", "lan.address");
    // Outside git only the profile is scanned, and check says so.
    has(&found, "info", "not-in-git", "");
}

#[test]
fn text_output_names_severity_code_place_risk_and_fix() {
    let mut profile = example("reverse-forward.yaml");
    profile.jupyter.password_hash = valid(&hash_password("x", HashScheme::Sha1).unwrap());
    let out = Test::new()
        .arg("check")
        .profile(&profile)
        .status(1)
        .stderr("")
        .run()
        .stdout;
    assert!(
        out.contains("error[legacy-hash] ") && out.contains(" jupyter.password_hash\n"),
        "{out}"
    );
    assert!(
        out.contains("\n    risk: from a leaked profile one GPU guesses billions"),
        "{out}"
    );
    assert!(
        out.contains("\n    fix: run `jprov hash-password --profile PROFILE`"),
        "{out}"
    );
    assert!(out.contains(": 1 error, 1 warning, 1 note\n"), "{out}");
    // A profile that does not load is a finding, and the next profile is still checked.
    let bad = Test::new().arg("check");
    let bad_file = bad.dir().join("bad.yaml");
    std::fs::write(
        &bad_file,
        "name: x\nmethod: reverse-forward\ndomain: a..b\n",
    )
    .unwrap();
    let out = bad
        .arg(&bad_file)
        .arg(example_path("lan.yaml"))
        .status(1)
        .run()
        .stdout;
    let expected = format!("error[invalid-profile] {}:3 domain\n", bad_file.display());
    assert!(out.contains(&expected), "{out}");
    assert!(out.contains("lab-lan-direct, lan): 0 errors"), "{out}");
}

#[test]
fn the_json_has_a_versioned_shape() {
    let json = check(Test::new())
        .arg(example_path("ngrok.yaml"))
        .status(0)
        .run()
        .json();
    assert_eq!(json["format_version"], jprov::lint::FORMAT_VERSION);
    let report = &json["profiles"][0];
    let keys = sorted_keys(report);
    assert_eq!(
        keys,
        ["errors", "file", "findings", "infos", "layers", "method", "profile", "warnings"]
    );
    assert_eq!(report["profile"], "lab-ngrok");
    assert_eq!(report["method"], "ngrok");
    let finding = &report["findings"][0];
    let keys = sorted_keys(finding);
    assert_eq!(
        keys,
        ["code", "field", "file", "finding", "fix", "line", "risk", "severity"]
    );
    let layer = &report["layers"][0];
    let keys = sorted_keys(layer);
    assert_eq!(keys, ["detail", "layer", "present", "protects_against"]);
    // A usage error is no report: clap's exit 1.
    Test::new()
        .arg("check")
        .status(1)
        .stderr_contains("PROFILE")
        .run();
}

fn sorted_keys(object: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}
