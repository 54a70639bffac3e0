//! Method ngrok without an ngrok agent: no v3 agent can be installed here and ngrok's cloud is unreachable,
//! so the configuration jprov renders, and the one its start script assembles with the basic-auth
//! credentials, are checked against ngrok's documented v3 schema (transcribed, with its sources, in
//! tests/support/ngrok_schema.rs), and the start script is run for real (sh and dash, no root) in a
//! temporary directory with sample credentials. The validator itself is shown to refuse wrong field names
//! and values. The unit file is checked by `systemd-analyze verify` in tests/templates.rs.

mod support;

use jprov::desired::{build, Options, World};
use jprov::profile::Profile;
use jprov::render::Templates;
use jprov::resource::{Content, Item, ManagedFile};
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::ngrok_schema::validate;
use support::profiles::{example, valid};

const DOMAIN: &str = "jupyter-lab.ngrok.app";

/// The example, or with `basic_auth: false` without basic auth and allow-list.
fn profile(basic_auth: bool) -> Profile {
    let mut p = example("ngrok.yaml");
    if !basic_auth {
        let ngrok = p.ngrok.as_mut().unwrap();
        ngrok.basic_auth_file = None;
        p.access.allow = None;
    }
    p
}

/// The workstation's files as apply writes them (offline: all of them known).
fn workstation_files(p: &Profile) -> Vec<ManagedFile> {
    let desired = build(p, World::default(), &Templates::new(), Options::default()).unwrap();
    let host = &desired.hosts[jprov::resource::Role::Workstation];
    (host.items.iter())
        .flat_map(|item| match item {
            Item::Files(group) => group.files.clone(),
            _ => vec![],
        })
        .collect()
}

fn content(files: &[ManagedFile], name: &str) -> String {
    let file = (files.iter())
        .find(|f| f.path.ends_with(name))
        .unwrap_or_else(|| panic!("no {name}"));
    match &file.content {
        Content::Known(text) => text.clone(),
        Content::Pending(why) => panic!("{name} pending: {why}"),
    }
}

fn parse(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

fn assert_valid(text: &str) -> Value {
    let doc = parse(text);
    let errors = validate(&doc);
    assert!(errors.is_empty(), "{}\n{text}", errors.join("\n"));
    doc
}

/// The one basic-auth action's credentials, if the policy has one.
fn credentials(doc: &Value) -> Option<Vec<String>> {
    let rules = doc["endpoints"][0]["traffic_policy"]["on_http_request"].as_sequence()?;
    let action = (rules.iter())
        .flat_map(|r| r["actions"].as_sequence().unwrap())
        .find(|a| a["type"] == "basic-auth")?;
    let list = action["config"]["credentials"].as_sequence().unwrap();
    Some(
        list.iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect(),
    )
}

/// What jprov asks of the file beyond the schema: one https endpoint on the domain, to Jupyter's loopback
/// port, and no secret in it.
fn assert_jprovs_endpoint(doc: &Value) {
    let endpoints = doc["endpoints"].as_sequence().unwrap();
    assert_eq!(endpoints.len(), 1, "one endpoint, so no http:// one");
    assert_eq!(endpoints[0]["url"], format!("https://{DOMAIN}").as_str());
    assert_eq!(endpoints[0]["upstream"]["url"], "http://127.0.0.1:8888");
    for secret in ["authtoken", "api_key"] {
        assert!(doc["agent"].get(secret).is_none(), "agent.{secret} is set");
    }
    assert_eq!(doc["agent"]["web_addr"], false);
}

#[test]
fn the_rendered_configurations_match_the_documented_v3_schema() {
    for basic_auth in [true, false] {
        let files = workstation_files(&profile(basic_auth));
        let doc = assert_valid(&content(&files, "/ngrok.yml"));
        assert_jprovs_endpoint(&doc);
        let rules = doc["endpoints"][0]["traffic_policy"]["on_http_request"]
            .as_sequence()
            .unwrap();
        let types: Vec<&str> = (rules.iter())
            .map(|r| r["actions"][0]["type"].as_str().unwrap())
            .collect();
        if basic_auth {
            assert_eq!(types, ["restrict-ips", "basic-auth", "remove-headers"]);
            // As rendered, with no credentials: nobody would pass.
            assert_eq!(credentials(&doc), Some(vec![]));
            assert_eq!(
                rules[0]["actions"][0]["config"]["allow"],
                parse("[203.0.113.0/24, \"2001:db8::/32\"]")
            );
        } else {
            assert_eq!(types, ["remove-headers"]);
        }
    }
}

/// A temporary workstation: the example's home and secret files under DIR, the files apply writes there.
struct Workstation {
    dir: tempfile::TempDir,
    script: PathBuf,
    config: String,
    credentials: PathBuf,
    /// The service's runtime directory (`%t/jprov-NAME-ngrok`), 0700.
    run: PathBuf,
}

impl Workstation {
    fn new() -> Workstation {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let at = |rel: &str| dir.path().join(rel).display().to_string();
        let mut p = profile(true);
        p.workstation.home = Some(valid(&at("home/alice")));
        let ngrok = p.ngrok.as_mut().unwrap();
        ngrok.authtoken_file = valid(&at("secrets/ngrok-authtoken"));
        ngrok.basic_auth_file = Some(valid(&at("secrets/ngrok-basic-auth")));
        let files = workstation_files(&p);
        let mut script = PathBuf::new();
        for file in &files {
            let path = Path::new(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content(&files, &file.path)).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(file.mode)).unwrap();
            if file.path.ends_with("/assemble-ngrok-config") {
                script = path.to_path_buf();
            }
        }
        let run = dir.path().join("run/jprov-lab-ngrok-ngrok");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        Workstation {
            config: content(&files, "/ngrok.yml"),
            credentials: dir.path().join("secrets/ngrok-basic-auth"),
            script,
            run,
            dir,
        }
    }

    fn put_credentials(&self, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&self.credentials, text).unwrap();
        std::fs::set_permissions(&self.credentials, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn out(&self) -> PathBuf {
        self.run.join("ngrok.yml")
    }

    /// The script as the unit's ExecStartPre runs it, under `shell`.
    fn assemble(&self, shell: &str) -> Output {
        Command::new(shell)
            .arg(&self.script)
            .arg(self.out())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap()
    }

    /// What is left in the runtime directory.
    fn run_dir(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sample credentials: a comment, a blank line, quotes, `#`, `:` and spaces in passwords, the longest and
/// the shortest password ngrok takes, and no final newline.
const PASSWORD_128: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                            0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
fn sample_credentials() -> (String, Vec<String>) {
    let lines = vec![
        "ada:correct horse battery".to_string(),
        "o'brien:it's a #secret: really".to_string(),
        "grace:12345678".to_string(),
        format!("linus:{PASSWORD_128}"),
        "quote\"d:\"\\back\\slash\"".to_string(),
    ];
    let file = format!(
        "# one user:password per line\n{}\n\n{}\n{}\n{}\n{}",
        lines[0], lines[1], lines[2], lines[3], lines[4]
    );
    (file, lines)
}

#[test]
fn the_start_script_assembles_the_runtime_config_with_the_credentials() {
    use std::os::unix::fs::PermissionsExt;
    let (file, lines) = sample_credentials();
    for shell in ["sh", "dash"] {
        let ws = Workstation::new();
        ws.put_credentials(&file, 0o600);
        let ran = ws.assemble(shell);
        assert!(
            ran.status.success() && ran.stdout.is_empty() && ran.stderr.is_empty(),
            "{shell}: {ran:?}"
        );
        let out = ws.out();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{shell}");
        assert_eq!(
            ws.run_dir(),
            ["ngrok.yml"],
            "{shell}: a temporary file is left"
        );
        let assembled = std::fs::read_to_string(&out).unwrap();
        let doc = assert_valid(&assembled);
        assert_jprovs_endpoint(&doc);
        assert_eq!(credentials(&doc), Some(lines.clone()), "{shell}");
        // Everything else is jprov's file as it is: only the placeholder line became the list.
        let marker = "credentials: []  # jprov:";
        let (before, after) = ws.config.split_once(marker).unwrap();
        let after = &after[after.find('\n').unwrap() + 1..];
        assert!(
            assembled.starts_with(before) && assembled.ends_with(after),
            "{assembled}"
        );
        assert!(!assembled.contains(marker));
    }
}

#[test]
fn the_start_script_refuses_bad_credentials_without_printing_them_and_writes_nothing() {
    let long = format!("{PASSWORD_128}x");
    let cases: Vec<(String, u32, &str, Option<&str>)> = vec![
        ("ada:correct horse".into(), 0o644, "chmod 600", None),
        ("ada:correct horse".into(), 0o640, "chmod 600", None),
        (
            "ada:correct horse\nbob:7chars!\n".into(),
            0o600,
            "line 2: ngrok needs a password of 8 to 128",
            Some("7chars!"),
        ),
        (
            format!("bob:{long}\n"),
            0o600,
            "line 1: ngrok needs a password",
            Some(long.as_str()),
        ),
        (
            "bob:tab\there-secret\n".into(),
            0o600,
            "line 1: only printable ASCII",
            Some("here-secret"),
        ),
        (
            "bob:crlf-secret-1\r\n".into(),
            0o600,
            "Windows line endings",
            Some("crlf-secret-1"),
        ),
        (
            "bob:caf\u{e9}-secret-1\n".into(),
            0o600,
            "only printable ASCII",
            Some("secret-1"),
        ),
        (
            "bob-no-colon-secret\n".into(),
            0o600,
            "line 1: not user:password",
            Some("no-colon-secret"),
        ),
        (
            ":nobody-secret-1\n".into(),
            0o600,
            "line 1: the user name is empty",
            Some("nobody-secret"),
        ),
        (
            "# only a comment\n\n".into(),
            0o600,
            "no user:password line",
            None,
        ),
    ];
    for (file, mode, says, secret) in &cases {
        for shell in ["sh", "dash"] {
            let ws = Workstation::new();
            ws.put_credentials(file, *mode);
            let ran = ws.assemble(shell);
            let stderr = text(&ran.stderr);
            let what = format!("{shell} {file:?} ({mode:o})");
            assert!(!ran.status.success(), "{what}: {ran:?}");
            assert!(
                stderr.contains(ws.credentials.to_str().unwrap()),
                "{what}: {stderr}"
            );
            assert!(stderr.contains(says), "{what}: {stderr}");
            if let Some(secret) = secret {
                assert!(!stderr.contains(secret), "{what}: {stderr}");
            }
            assert!(ran.stdout.is_empty(), "{what}");
            assert_eq!(
                ws.run_dir(),
                Vec::<String>::new(),
                "{what}: wrote something"
            );
        }
    }
    // No file at all.
    let ws = Workstation::new();
    let ran = ws.assemble("dash");
    assert!(!ran.status.success() && text(&ran.stderr).contains("missing or not readable"));
    assert_eq!(ws.run_dir(), Vec::<String>::new());
    drop(ws.dir);
}

/// The validator refuses what ngrok's documentation does not allow: each edit of a valid rendered file
/// must give an error at the field it broke.
#[test]
fn the_schema_check_fails_on_a_wrong_field_name_or_value() {
    let files = workstation_files(&profile(true));
    let good = content(&files, "/ngrok.yml");
    assert_valid(&good);
    let edits: &[(&str, &str, &str)] = &[
        ("version: 3", "version: 2", "version: must be 3"),
        ("endpoints:", "endpoint:", "endpoint: unknown field"),
        ("agent:", "agents:", "agent: required, missing"),
        (
            "  update_check: false",
            "  update_checks: false",
            "agent.update_checks: unknown field",
        ),
        (
            "  console_ui: false",
            "  console_ui: never",
            "agent.console_ui: not true, false or one of",
        ),
        (
            "  log_format: logfmt",
            "  log_format: text",
            "agent.log_format: not one of",
        ),
        (
            "  inspect_db_size: -1",
            "  inspect_db_size: none",
            "agent.inspect_db_size: not an integer",
        ),
        (
            "    upstream:",
            "    upstrem:",
            "endpoints[0].upstrem: unknown field",
        ),
        (
            "    upstream:",
            "    upstrem:",
            "endpoints[0].upstream: required, missing",
        ),
        (
            "      url: http://127.0.0.1:8888",
            "      addr: 8888",
            "endpoints[0].upstream.addr: unknown field",
        ),
        (
            "      protocol: http1",
            "      protocol: http3",
            "endpoints[0].upstream.protocol: not one of",
        ),
        (
            "  - name: jprov-lab-ngrok",
            "  - nam: jprov-lab-ngrok",
            "endpoints[0].name: required, missing",
        ),
        (
            &format!("    url: https://{DOMAIN}"),
            &format!("    url: https://{DOMAIN}:8443"),
            "endpoints[0].url: https endpoints take only port",
        ),
        (
            "    traffic_policy:",
            "    traffic_policies:",
            "endpoints[0].traffic_policies: unknown field",
        ),
        (
            "      on_http_request:",
            "      on_request:",
            "endpoints[0].traffic_policy.on_request: unknown field",
        ),
        (
            "            - type: restrict-ips",
            "            - type: restrict-ip",
            "on_http_request[0].actions[0].type: no such action type",
        ),
        (
            "                allow:",
            "                allowed:",
            "on_http_request[0].actions[0].config.allowed: unknown field",
        ),
        (
            "                  - \"203.0.113.0/24\"",
            "                  - \"203.0.113.0\"",
            "config.allow[0]: not a CIDR",
        ),
        (
            "                realm: jprov-lab-ngrok",
            "                realms: jprov-lab-ngrok",
            "on_http_request[1].actions[0].config.realms: unknown field",
        ),
        (
            "credentials: []",
            "credential: []",
            "on_http_request[1].actions[0].config.credential: unknown field",
        ),
        (
            "credentials: []",
            "credentials: [\"ada:7-chars\"]",
            "config.credentials[0]: a password of 7 characters, not 8 to 128",
        ),
        (
            "credentials: []",
            "credentials: [\"nocolon\"]",
            "config.credentials[0]: not a user:password",
        ),
        (
            "                enforce: true",
            "                enforce: yes",
            "config.enforce: not true or false",
        ),
        (
            "                headers: [x-real-ip, x-scheme]",
            "                header: [x-real-ip]",
            "config.headers: required, missing",
        ),
        (
            "                headers: [x-real-ip, x-scheme]",
            "                headers: []",
            "config.headers: 1 to 10 headers",
        ),
        (
            "        - actions:",
            "        - name: x\n          actions:",
            "on_http_request[0].name: unknown field",
        ),
    ];
    for (from, to, error) in edits {
        assert!(good.contains(from), "{from:?} is not in the rendered file");
        let errors = validate(&parse(&good.replacen(from, to, 1)));
        assert!(
            errors.iter().any(|e| e.contains(error)),
            "{from:?} -> {to:?}: no error {error:?} in {errors:?}"
        );
    }
    // basic-auth runs only on requests; tunnels are deprecated in version 3.
    let doc = parse(&good.replace("on_http_request:", "on_tcp_connect:"));
    assert!(validate(&doc)
        .iter()
        .any(|e| e.contains("basic-auth does not run in on_tcp_connect")));
    let doc = parse(&format!(
        "{good}tunnels:\n  old:\n    proto: http\n    addr: 80\n"
    ));
    assert!(validate(&doc)
        .iter()
        .any(|e| e.contains("tunnels: deprecated")));
}
