use super::*;

const GOOD: &str = include_str!("../../profiles/reverse-forward.yaml");

fn error(source: &str) -> ProfileError {
    parse(source, Path::new("p.yaml")).expect_err("the profile should be refused")
}

#[test]
fn shipped_examples_parse() {
    parse(GOOD, Path::new("rf.yaml")).unwrap();
    parse(
        include_str!("../../profiles/nginx-proxy.yaml"),
        Path::new("np.yaml"),
    )
    .unwrap();
    let p = parse(
        include_str!("../../profiles/self-signed.yaml"),
        Path::new("ss.yaml"),
    )
    .unwrap();
    assert!(matches!(p.tls, Some(Tls::SelfSigned { .. })), "{:?}", p.tls);
}

#[test]
fn unknown_keys_name_file_line_and_field() {
    let e = error(&GOOD.replace("  sudo: true", "  sudo: true\n  hots: x"));
    assert_eq!(e.line, Some(11), "{e}");
    assert_eq!(e.field.as_deref(), Some("server.hots"), "{e}");
    assert!(e.message.contains("unknown field `hots`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("p.yaml:11:3: server.hots: unknown field `hots`"),
        "{e}"
    );
}

#[test]
fn wrong_types_and_values() {
    let e = error(&GOOD.replace("  port: 22\n", "  port: twenty\n"));
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(8), Some("server.port")),
        "{e}"
    );
    let e = error(&GOOD.replace("  port: 22\n", "  port: 0\n"));
    assert!(e.message.contains("1 to 65535"), "{e}");
}

#[test]
fn dangerous_domains_are_rejected_with_their_line() {
    for bad in [
        "\"x.org; rm -rf /\"",
        "\"x.org\\nserver { }\"",
        "\"x.org}\"",
    ] {
        let e = error(&GOOD.replace("domain: jupyter.example.org", &format!("domain: {bad}")));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(5), Some("domain")),
            "{e}"
        );
        assert!(
            !e.to_string().contains('\n'),
            "control characters are escaped: {e}"
        );
    }
}

#[test]
fn plaintext_passwords_are_refused_without_echo() {
    let source = GOOD.replace(
        "  password_hash:",
        "  password: hunter2secret\n  password_hash:",
    );
    let e = error(&source);
    assert_eq!(e.field.as_deref(), Some("jupyter.password"), "{e}");
    assert!(e.message.contains("jprov hash-password"), "{e}");
    assert!(!e.to_string().contains("hunter2secret"), "{e}");

    let e = error(&GOOD.replace(owner_hash_line(GOOD), "  password_hash: hunter2secret"));
    assert_eq!(e.field.as_deref(), Some("jupyter.password_hash"), "{e}");
    assert!(!e.to_string().contains("hunter2secret"), "{e}");
}

#[test]
fn cross_field_rules_point_at_the_field() {
    let e = error(&GOOD.replace("account: jprov-tunnel", "account: admin"));
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(24), Some("tunnel.account")),
        "{e}"
    );
    let e = error(&GOOD.replace(
        "  port: 8888                         # public",
        "  port: 443 # public",
    ));
    assert_eq!(e.field.as_deref(), Some("tunnel.port"), "{e}");
    assert!(e.message.contains("1024"), "{e}");
    let e = error(&format!("{GOOD}nginx:\n  https_port: 443\n"));
    let after_good = GOOD.lines().count() + 1;
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(after_good), Some("nginx")),
        "{e}"
    );
}

#[test]
fn tls_needs_exactly_one_kind() {
    let e = error(&GOOD.replace(
        "tls:\n",
        "tls:\n  files:\n    cert: /etc/c.pem\n    key: /etc/k.pem\n",
    ));
    assert_eq!(e.field.as_deref(), Some("tls"), "{e}");
    assert!(e.message.contains("exactly one"), "{e}");
}

const LETSENCRYPT: &str = "tls:\n  letsencrypt:\n    email: admin@example.org\n";

/// The reverse-forward example with `tls:` replaced (`tls:` stays on line 20).
fn with_tls(tls: &str) -> String {
    assert!(GOOD.contains(LETSENCRYPT));
    GOOD.replace(LETSENCRYPT, tls)
}

#[test]
fn self_signed_parses_with_defaults() {
    let p = parse(&with_tls("tls:\n  self_signed: {}\n"), Path::new("p.yaml")).unwrap();
    let Some(Tls::SelfSigned { days, addresses }) = &p.tls else {
        panic!("{:?}", p.tls)
    };
    assert_eq!((days.get(), addresses.len()), (365, 0));

    let p = parse(
        &with_tls("tls:\n  self_signed:\n    days: 90\n    addresses: [10.0.0.5, \"fd00::5\"]\n"),
        Path::new("p.yaml"),
    )
    .unwrap();
    let Some(Tls::SelfSigned { days, addresses }) = &p.tls else {
        panic!("{:?}", p.tls)
    };
    assert_eq!(days.get(), 90);
    let addresses: Vec<&str> = addresses.iter().map(|a| a.as_str()).collect();
    assert_eq!(addresses, ["10.0.0.5", "fd00::5"]);
    // Block style too.
    let p = parse(
        &with_tls("tls:\n  self_signed:\n    addresses:\n      - 192.168.1.20\n"),
        Path::new("p.yaml"),
    )
    .unwrap();
    assert!(matches!(&p.tls, Some(Tls::SelfSigned { addresses, .. }) if addresses.len() == 1));
}

#[test]
fn self_signed_is_one_of_the_three_kinds() {
    for both in [
        "tls:\n  self_signed: {}\n  letsencrypt:\n    email: admin@example.org\n",
        "tls:\n  files:\n    cert: /etc/c.pem\n    key: /etc/k.pem\n  self_signed:\n    days: 90\n",
    ] {
        let e = error(&with_tls(both));
        assert_eq!((e.line, e.field.as_deref()), (Some(20), Some("tls")), "{e}");
        assert!(
            e.message.contains("exactly one of") && e.message.contains("`self_signed:`"),
            "{e}"
        );
    }
    let e = error(&with_tls("tls:\n  self_signed:\n    dayz: 90\n"));
    assert!(
        e.to_string()
            .starts_with("p.yaml:22:5: tls.self_signed.dayz: unknown field `dayz`"),
        "{e}"
    );
}

#[test]
fn self_signed_rejects_bad_addresses_and_lifetimes_with_their_line() {
    // Flow style: the list's line; block style: the item's own line.
    let e = error(&with_tls(
        "tls:\n  self_signed:\n    addresses: [10.0.0.5, \"10.0.0.6,DNS:evil.org\"]\n",
    ));
    assert!(
        e.to_string().starts_with(
            "p.yaml:22:5: tls.self_signed.addresses[1]: invalid IP address: use an IPv4 or IPv6 address"
        ),
        "{e}"
    );
    let e = error(&with_tls(
        "tls:\n  self_signed:\n    days: 90\n    addresses:\n      - 10.0.0.5\n      - jupyter.lan\n",
    ));
    assert_eq!(
        (e.line, e.column, e.field.as_deref()),
        (Some(25), Some(7), Some("tls.self_signed.addresses[1]")),
        "{e}"
    );
    for days in ["30", "826", "0"] {
        let e = error(&with_tls(&format!(
            "tls:\n  self_signed:\n    days: {days}\n"
        )));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(22), Some("tls.self_signed.days")),
            "{e}"
        );
        assert!(e.message.contains("31 to 825"), "{e}");
    }
    let e = error(&with_tls("tls:\n  self_signed:\n    days: -5\n"));
    assert_eq!(e.field.as_deref(), Some("tls.self_signed.days"), "{e}");
}

#[test]
fn jupyter_from_a_virtualenv_or_a_command_not_both() {
    let venv = GOOD.replace(
        "  app: lab ",
        "  virtualenv: /opt/venvs/jupyter\n  app: lab ",
    );
    let p = parse(&venv, Path::new("p.yaml")).unwrap();
    assert_eq!(p.jupyter.executable(), "/opt/venvs/jupyter/bin/jupyter");
    let both = venv.replace(
        "  virtualenv: /opt/venvs/jupyter\n",
        "  virtualenv: /opt/venvs/jupyter\n  command: /usr/bin/jupyter\n",
    );
    let e = error(&both);
    assert_eq!(e.field.as_deref(), Some("jupyter.virtualenv"), "{e}");
    assert!(e.line.is_some(), "{e}");
    assert!(e.message.contains("not both"), "{e}");
    let e = error(&venv.replace("/opt/venvs/jupyter", "venvs/jupyter"));
    assert_eq!(e.field.as_deref(), Some("jupyter.virtualenv"), "{e}");
}

#[test]
fn certificate_refresh_is_a_systemd_time_span() {
    let with = |span: &str| {
        GOOD.replace(
            "  jump: server",
            &format!("  jump: server\n  certificate_refresh: {span}"),
        )
    };
    for good in ["10s", "30min", "6h", "1d"] {
        let p = parse(&with(good), Path::new("p.yaml")).unwrap();
        assert_eq!(p.workstation.certificate_refresh.as_str(), good);
    }
    for bad in ["0h", "6 h", "6hours", "h", "-1d", "\"6h; rm -rf /\""] {
        let e = error(&with(bad));
        assert_eq!(
            e.field.as_deref(),
            Some("workstation.certificate_refresh"),
            "{bad}: {e}"
        );
        assert!(e.message.contains("time span"), "{bad}: {e}");
    }
}

/// `error` with its line and field, the form most checks below compare.
fn where_(e: &ProfileError) -> (Option<usize>, Option<&str>) {
    (e.line, e.field.as_deref())
}

#[test]
fn no_account_is_one_jprov_creates_for_another_job() {
    for name in ["jprov-cert", "jprov", "jprov-acme"] {
        let e = error(&GOOD.replace("account: jprov-tunnel", &format!("account: {name}")));
        assert_eq!(
            where_(&e),
            (Some(24), Some("tunnel.account")),
            "{name}: {e}"
        );
        assert!(e.message.contains("jprov's own"), "{e}");
    }
    let e = error(&GOOD.replace("  user: admin ", "  user: jprov-cert "));
    assert_eq!(where_(&e), (Some(9), Some("server.user")), "{e}");
    let e = error(&GOOD.replace("  user: alice ", "  user: jprov-cert "));
    assert_eq!(where_(&e), (Some(13), Some("workstation.user")), "{e}");
}

#[test]
fn the_tunnel_account_is_nobody_else() {
    let e = error(&GOOD.replace("account: jprov-tunnel", "account: alice"));
    assert_eq!(where_(&e), (Some(24), Some("tunnel.account")), "{e}");
    assert!(e.message.contains("workstation.user"), "{e}");
    // The default tunnel account, not in the text: the field that is.
    let without = GOOD.replace("  account: jprov-tunnel ", "  # account");
    let e = error(&without.replace("  user: admin ", "  user: jprov-tunnel "));
    assert_eq!(where_(&e), (Some(9), Some("server.user")), "{e}");
    let e = error(&without.replace("  user: alice ", "  user: jprov-tunnel "));
    assert_eq!(where_(&e), (Some(13), Some("workstation.user")), "{e}");
    // The same person may administer the server and use the workstation.
    parse(
        &GOOD.replace("  user: alice ", "  user: admin "),
        Path::new("p.yaml"),
    )
    .unwrap();
}

#[test]
fn an_ip_address_as_domain_is_the_lan_methods_job() {
    for (example, source) in [
        ("rf", GOOD),
        ("np", include_str!("../../profiles/nginx-proxy.yaml")),
    ] {
        let e = error(&source.replace("domain: jupyter.example.org", "domain: 10.0.0.5"));
        assert_eq!(where_(&e), (Some(5), Some("domain")), "{example}: {e}");
        assert!(e.message.contains("`lan` method"), "{e}");
    }
}

#[test]
fn a_byte_order_mark_may_stand_before_a_key() {
    let without_comments: String = GOOD
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let plain = parse(&without_comments, Path::new("p.yaml")).unwrap();
    let marked = parse(&format!("\u{feff}{without_comments}"), Path::new("p.yaml")).unwrap();
    assert_eq!(format!("{plain:?}"), format!("{marked:?}"));
}

#[test]
fn duplicates_documents_tabs_and_tags_are_reported_where_they_stand() {
    let e = error(&GOOD.replace("  port: 22\n", "  port: 22\n  user: root\n"));
    // The second `user` is the duplicate: the one the example had.
    assert_eq!(
        (e.line, e.column, e.field.as_deref()),
        (Some(10), Some(3), Some("server.user")),
        "{e}"
    );
    assert!(e.message.contains("duplicate field `user`"), "{e}");
    let flow = GOOD.replace(
        "workstation:\n  host: workstation.internal ",
        "workstation: {host: a, host: b}\n  #",
    );
    let e = error(
        &flow
            .replace("\n  user: alice ", "\n  #")
            .replace("\n  jump: server ", "\n  #"),
    );
    assert_eq!(e.field.as_deref(), Some("workstation.host"), "{e}");
    assert!(e.line.is_some(), "{e}");
    let e = error(&format!("{GOOD}---\nname: other\n"));
    assert_eq!(where_(&e), (Some(GOOD.lines().count() + 1), None), "{e}");
    assert!(e.message.contains("second YAML document"), "{e}");
    let e = error(&GOOD.replace("\n  port: 22\n", "\n\t  port: 22\n"));
    assert_eq!(
        (e.line, e.column, e.field.as_deref()),
        (Some(8), Some(1), Some("server.port")),
        "{e}"
    );
    let e = error(&GOOD.replace("\n  port: 22\n", "\n \tport: 22\n"));
    assert_eq!(
        (e.line, e.column, e.field.as_deref()),
        (Some(8), Some(2), Some("server.port")),
        "{e}"
    );
    for (from, to, line, field) in [
        ("domain: jupyter", "domain: !evil jupyter", 5, "domain"),
        (
            "server:\n",
            "server: !!python/object:os.system\n",
            6,
            "server",
        ),
        ("  sudo: true", "  sudo: !!bool true", 10, "server.sudo"),
        ("  user: alice", "  user: &a alice", 13, "workstation.user"),
    ] {
        let e = error(&GOOD.replacen(from, to, 1));
        assert_eq!(where_(&e), (Some(line), Some(field)), "{to}: {e}");
    }
}

#[test]
fn a_byte_that_is_not_utf8_is_reported_at_its_line() {
    let bytes = GOOD
        .replace("  user: alice", "  user: al\u{1}ice")
        .into_bytes();
    let bytes: Vec<u8> = bytes
        .into_iter()
        .map(|b| if b == 1 { 0xff } else { b })
        .collect();
    let e = from_bytes(&bytes, Path::new("p.yaml")).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.field.as_deref()),
        (Some(13), Some(11), Some("workstation.user")),
        "{e}"
    );
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn size_nesting_and_lists_are_bounded() {
    let e = error(&format!("{GOOD}#{}\n", "x".repeat(MAX_BYTES)));
    assert_eq!(where_(&e), (None, None), "{e}");
    assert!(e.message.contains("65536"), "{e}");
    let started = std::time::Instant::now();
    let e = error(&format!("name: {}\n", "[".repeat(MAX_BYTES - 10)));
    assert!(
        started.elapsed().as_millis() < 100,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(where_(&e), (Some(1), Some("name")), "{e}");
    assert!(e.message.contains("32 levels"), "{e}");

    let list = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1))
            .collect();
        with_tls(&format!(
            "tls:\n  self_signed:\n    addresses: [{}]\n",
            items.join(", ")
        ))
    };
    parse(&list(MAX_LIST_ENTRIES), Path::new("p.yaml")).unwrap();
    let e = error(&list(MAX_LIST_ENTRIES + 1));
    assert_eq!(
        where_(&e),
        (Some(22), Some("tls.self_signed.addresses")),
        "{e}"
    );
    assert!(e.message.contains("more than 64 entries"), "{e}");
    let e = error(&list(4_000).replace("addresses: [", "addresses: [\"x\", "));
    assert_eq!(
        e.field.as_deref(),
        Some("tls.self_signed.addresses[0]"),
        "{e}"
    );
}

#[test]
fn a_password_hash_under_the_wrong_key_is_not_printed() {
    let hash = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
    for (from, field) in [
        ("app: lab", "jupyter.app"),
        (
            "port: 8888                         # Jupyter",
            "jupyter.port",
        ),
        ("domain: jupyter.example.org", "domain"),
        ("method: reverse-forward", "method"),
        ("sudo: true", "server.sudo"),
        ("jump: server", "workstation.jump"),
    ] {
        let key = from.split(':').next().unwrap();
        let e = error(&GOOD.replacen(from, &format!("{key}: \"{hash}\""), 1));
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(!e.to_string().contains("a68df677"), "{e}");
    }
    let e = error(&GOOD.replacen("  sudo: true", &format!("  \"{hash}\": true"), 1));
    assert_eq!(e.field.as_deref(), Some("server"), "{e}");
    assert!(!e.to_string().contains("a68df677"), "{e}");
}

#[test]
fn ssh_paths_must_stay_one_file_after_resolving() {
    let dir = tempfile::tempdir().unwrap();
    let spaced = dir.path().join("my profiles");
    std::fs::create_dir(&spaced).unwrap();
    let e = from_bytes(GOOD.as_bytes(), &spaced.join("p.yaml")).unwrap_err();
    assert_eq!(where_(&e), (Some(26), Some("known_hosts")), "{e}");
    let with_identity = GOOD.replace("  sudo: true", "  sudo: true\n  identity_file: keys/admin");
    let e = from_bytes(with_identity.as_bytes(), &spaced.join("p.yaml")).unwrap_err();
    assert_eq!(where_(&e), (Some(11), Some("server.identity_file")), "{e}");
    // An absolute path does not depend on where the profile is.
    let absolute = with_identity
        .replace("keys/admin", "/etc/jprov/admin")
        .replace(
            "known_hosts: known_hosts",
            "known_hosts: /etc/jprov/known_hosts",
        );
    from_bytes(absolute.as_bytes(), &spaced.join("p.yaml")).unwrap();
    for bad in ["\"/a b/id\"", "\"id\\nx\"", "\"id\\0\"", "\"%d/id\""] {
        let e = error(&GOOD.replace(
            "  sudo: true",
            &format!("  sudo: true\n  identity_file: {bad}"),
        ));
        assert_eq!(
            where_(&e),
            (Some(11), Some("server.identity_file")),
            "{bad}: {e}"
        );
    }
}

const SHA1: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";

/// The line of an example's text that holds the owner's hash (`  password_hash: "..."`).
pub(crate) fn owner_hash_line(text: &str) -> &str {
    (text.lines())
        .find(|l| l.starts_with("  password_hash: "))
        .expect("the example has the owner's hash")
}

/// The example with `collaborators:` after `jupyter.password_hash` (line 20 on).
fn with_collaborators(entries: &str) -> String {
    let at = format!("{}\n", owner_hash_line(GOOD));
    GOOD.replacen(&at, &format!("{at}  collaborators:\n{entries}"), 1)
}

fn collaborator(name: &str, username: &str) -> String {
    format!("    - name: {name}\n      username: {username}\n      password_hash: \"{SHA1}\"\n")
}

#[test]
fn collaborators_parse_with_their_names() {
    let source = with_collaborators(
        &(collaborator("\"Ada Lovelace\"", "ada")
            + &collaborator("\"Bob O'Brien; \\\"B\\\"\"", "bob")),
    );
    let p = parse(&source, Path::new("p.yaml")).unwrap();
    let people: Vec<_> = (p.jupyter.collaborators.iter())
        .map(|c| (c.username.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        people,
        [("ada", "Ada Lovelace"), ("bob", "Bob O'Brien; \"B\"")]
    );
    assert!(parse(GOOD, Path::new("p.yaml"))
        .unwrap()
        .jupyter
        .collaborators
        .is_empty());
}

#[test]
fn collaborators_are_refused_at_their_field_and_line() {
    let one = |name: &str, username: &str| with_collaborators(&collaborator(name, username));
    let cases = [
        (one("\"Ada\\nLovelace\"", "ada"), 21, "name", "a line break"),
        (one("\"Ada\\tLovelace\"", "ada"), 21, "name", "a tab"),
        (
            one(&format!("\"{}\"", "a".repeat(65)), "ada"),
            21,
            "name",
            "1-64",
        ),
        (one("\"   \"", "ada"), 21, "name", "only spaces"),
        (
            one(&format!("\"{SHA1}\""), "ada"),
            21,
            "name",
            "password hash",
        ),
        (one("\"argon2:x\"", "ada"), 21, "name", "password hash"),
        (one("Ada", "\"Ada\""), 22, "username", "invalid user name"),
        (
            one("Ada", "\"ada;id\""),
            22,
            "username",
            "invalid user name",
        ),
        (one("Ada", "alice"), 22, "username", "the owner's"),
        (
            with_collaborators(&(collaborator("A", "ada") + &collaborator("B", "ada"))),
            25,
            "username",
            "a second collaborator",
        ),
    ];
    for (source, line, field, message) in cases {
        let e = error(&source);
        let index = if line == 25 { 1 } else { 0 };
        let want = format!("jupyter.collaborators[{index}].{field}");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(line), Some(want.as_str())),
            "{e}"
        );
        assert!(e.message.contains(message), "{message}: {e}");
        assert!(!e.to_string().contains("a68df677"), "{e}");
    }
    let e = error(&with_collaborators(
        &collaborator("Ada", "ada").replace("password_hash: \"", "password_hash: \"x"),
    ));
    assert_eq!(
        e.field.as_deref(),
        Some("jupyter.collaborators[0].password_hash"),
        "{e}"
    );
    assert!(!e.to_string().contains("a68df677"), "{e}");
    let e = error(&with_collaborators(
        &(collaborator("Ada", "ada") + "      email: x\n"),
    ));
    assert_eq!(
        e.field.as_deref(),
        Some("jupyter.collaborators[0].email"),
        "{e}"
    );
}

#[test]
fn at_most_64_collaborators() {
    let people = |n: usize| -> String {
        (0..n)
            .map(|i| collaborator("P", &format!("u{i}")))
            .collect()
    };
    let p = parse(&with_collaborators(&people(64)), Path::new("p.yaml")).unwrap();
    assert_eq!(p.jupyter.collaborators.len(), 64);
    let e = error(&with_collaborators(&people(65)));
    assert_eq!(e.field.as_deref(), Some("jupyter.collaborators"), "{e}");
    assert!(e.message.contains("more than 64 entries"), "{e}");
}

const LAN: &str = include_str!("../../profiles/lan.yaml");
const LOCAL_FORWARD: &str = include_str!("../../profiles/local-forward.yaml");

#[test]
fn the_methods_with_a_server_need_server_domain_and_tls() {
    let without = |prefix: &str| -> String {
        let mut skipping = false;
        (GOOD.lines())
            .filter(|l| {
                if l.starts_with(prefix) {
                    skipping = true;
                    return false;
                }
                skipping = skipping && l.starts_with(' ');
                !skipping
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for (section, text) in [
        ("domain", without("domain:")),
        ("tls", without("tls:")),
        // The workstation's jump names the server too: without it, the method's own rule speaks first.
        ("server", without("server:").replace("  jump: server", "")),
    ] {
        let e = error(&text);
        assert_eq!(where_(&e), (Some(4), Some("method")), "{section}: {e}");
        assert!(e.message.contains(&format!("needs `{section}:`")), "{e}");
    }
}

#[test]
fn lan_needs_its_address_defaults_to_self_signed_and_refuses_letsencrypt() {
    let p = parse(LAN, Path::new("lan.yaml")).unwrap();
    assert!(matches!(p.tls, Some(Tls::SelfSigned { .. })), "{:?}", p.tls);
    assert!(p.server.is_none());
    let e = error(&LAN.replace("lan:\n  address: 192.168.10.20", "lan_gone: {}"));
    assert!(e.message.contains("unknown"), "{e}");
    let e = error(&LAN.replace(
        "known_hosts: known_hosts",
        "tls:\n  letsencrypt:\n    email: a@example.org\nknown_hosts: known_hosts",
    ));
    assert_eq!(e.field.as_deref(), Some("tls.letsencrypt"), "{e}");
    let e = error(&GOOD.replace(
        "known_hosts: known_hosts",
        "lan:\n  address: 10.0.0.9\nknown_hosts: known_hosts",
    ));
    assert_eq!(e.field.as_deref(), Some("lan"), "{e}");
}

#[test]
fn local_forward_has_no_tls_nor_domain_and_jumps_only_through_a_server_it_names() {
    let p = parse(LOCAL_FORWARD, Path::new("lf.yaml")).unwrap();
    assert!(p.tls.is_none() && p.domain.is_none());
    let e = error(&LOCAL_FORWARD.replace(
        "known_hosts: known_hosts",
        "tls:\n  self_signed: {}\nknown_hosts: known_hosts",
    ));
    assert_eq!(where_(&e).1, Some("tls"), "{e}");
    let e = error(&LOCAL_FORWARD.replace(
        "method: local-forward",
        "method: local-forward\ndomain: a.example.org",
    ));
    assert_eq!(where_(&e), (Some(7), Some("domain")), "{e}");
    let without_server = LOCAL_FORWARD
        .replace("server:  ", "#")
        .replace("  host: gateway.example.org\n  user: admin\n", "");
    let e = error(&without_server);
    assert_eq!(e.field.as_deref(), Some("workstation.jump"), "{e}");
    assert!(e.message.contains("needs a `server:` section"), "{e}");
    let e = error(&LOCAL_FORWARD.replace("  host: workstation.internal", "  host: local"));
    assert_eq!(e.field.as_deref(), Some("workstation.jump"), "{e}");
}

const NGROK: &str = include_str!("../../profiles/ngrok.yaml");

#[test]
fn ngrok_names_the_files_of_its_secrets_and_has_no_server_nor_tls() {
    let p = parse(NGROK, Path::new("ngrok.yaml")).unwrap();
    assert!(p.tls.is_none() && p.server.is_none());
    assert_eq!(p.domain.as_ref().unwrap().as_str(), "jupyter-lab.ngrok.app");
    let ngrok = p.ngrok.as_ref().unwrap();
    assert_eq!(
        ngrok.authtoken_file.as_str(),
        "/home/alice/.config/jprov/ngrok-authtoken"
    );
    assert_eq!(ngrok.executable(), "ngrok");
    let allow: Vec<&str> = p.access.allowed().iter().map(|c| c.as_str()).collect();
    assert_eq!(allow, ["203.0.113.0/24", "2001:db8::/32"]);
    let line = |text: &str| 1 + NGROK.lines().position(|l| l.starts_with(text)).unwrap();

    // The method and its section come together.
    let e = error(&NGROK.replace("ngrok:\n", "ngrok_gone:\n"));
    assert!(e.message.contains("unknown field"), "{e}");
    // The section runs from `ngrok:` to the next top-level key.
    let start = NGROK.find("ngrok:\n").unwrap();
    let end = start + NGROK[start..].find("\nworkstation:").unwrap() + 1;
    let without_section = format!("{}{}", &NGROK[..start], &NGROK[end..]);
    let e = error(&without_section);
    assert_eq!(where_(&e), (Some(line("method:")), Some("method")), "{e}");
    assert!(e.message.contains("needs `ngrok:`"), "{e}");
    let e = error(&include_str!("../../profiles/lan.yaml").replace(
        "known_hosts: known_hosts",
        "ngrok:\n  authtoken_file: /home/alice/t\nknown_hosts: known_hosts",
    ));
    assert_eq!(e.field.as_deref(), Some("ngrok"), "{e}");

    // A domain, and no TLS: ngrok's edge has the certificate.
    let e = error(&NGROK.replace("domain: jupyter-lab.ngrok.app", ""));
    assert_eq!(e.field.as_deref(), Some("method"), "{e}");
    assert!(e.message.contains("needs `domain:`"), "{e}");
    let e = error(&NGROK.replace(
        "known_hosts: known_hosts",
        "tls:\n  self_signed: {}\nknown_hosts: known_hosts",
    ));
    assert_eq!(where_(&e).1, Some("tls"), "{e}");
    assert!(e.message.contains("remove tls"), "{e}");
}

#[test]
fn ngrok_fields_are_refused_at_their_line_without_their_value() {
    let line = |text: &str| 1 + NGROK.lines().position(|l| l.contains(text)).unwrap();
    for (from, to, field, at) in [
        (
            "203.0.113.0/24",
            "203.0.113.9/24",
            "access.allow[0]",
            "203.0.113.0/24",
        ),
        (
            "\"2001:db8::/32\"",
            "\"2001:db8::/129\"",
            "access.allow[1]",
            "2001:db8::/32",
        ),
        (
            "authtoken_file: /home/alice/.config/jprov/ngrok-authtoken",
            "authtoken_file: ngrok-authtoken-x",
            "ngrok.authtoken_file",
            "authtoken_file",
        ),
        (
            "basic_auth_file: /home/alice/.config/jprov/ngrok-basic-auth",
            "basic_auth_file: /home/alice/.config/jprov/ngrok-authtoken",
            "ngrok.basic_auth_file",
            "basic_auth_file",
        ),
        (
            "  # command: /usr/local/bin/ngrok",
            "  command: \"/usr/local/bin/ngrok; rm -rf ~\"",
            "ngrok.command",
            "# command",
        ),
    ] {
        let e = error(&NGROK.replace(from, to));
        assert_eq!(where_(&e), (Some(line(at)), Some(field)), "{from}: {e}");
        assert!(!e.to_string().contains(to.trim_start()), "{e}");
    }
    // Nobody at all: refused, not a lock-out.
    let listed = "  allow:                             # optional: only these addresses and networks reach the endpoint\n    - 203.0.113.0/24\n    - \"2001:db8::/32\"\n";
    assert!(NGROK.contains(listed));
    let e = error(&NGROK.replace(listed, "  allow: []\n"));
    assert_eq!(
        where_(&e),
        (Some(line("  allow:")), Some("access.allow")),
        "{e}"
    );
    // The authtoken itself, pasted under a key of its own, is refused and never printed.
    let token = "2xSeCrEtToKeN_4nq9771bPxe8ctg7LKr";
    let e = error(&NGROK.replace(
        "  authtoken_file: /home/alice/.config/jprov/ngrok-authtoken ",
        &format!(
            "  authtoken: {token}\n  authtoken_file: /home/alice/.config/jprov/ngrok-authtoken "
        ),
    ));
    assert_eq!(e.field.as_deref(), Some("ngrok.authtoken"), "{e}");
    assert!(e.message.contains("`authtoken_file`"), "{e}");
    assert!(!e.to_string().contains("SeCrEt"), "{e}");
}

#[test]
fn collaboration_is_off_by_default_and_needs_jupyterlab() {
    assert!(
        !parse(GOOD, Path::new("p.yaml"))
            .unwrap()
            .jupyter
            .collaboration
    );
    let on = GOOD.replace("  app: lab ", "  collaboration: true\n  app: lab ");
    assert!(
        parse(&on, Path::new("p.yaml"))
            .unwrap()
            .jupyter
            .collaboration
    );
    for app in ["server", "notebook"] {
        let e = error(&on.replace("  app: lab ", &format!("  app: {app} ")));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(16), Some("jupyter.collaboration")),
            "{e}"
        );
        assert!(e.message.contains("set jupyter.app to lab"), "{e}");
    }
    let e = error(&GOOD.replace("  app: lab ", "  collaboration: yes please\n  app: lab "));
    assert_eq!(e.field.as_deref(), Some("jupyter.collaboration"), "{e}");
    assert!(!e.to_string().contains("please"), "{e}");
}

#[test]
fn ngrok_takes_the_allow_list_from_access_and_basic_auth_only_from_its_file() {
    let hashed = NGROK.replace(
        "access:\n",
        "access:\n  basic_auth:\n    - username: alice\n      htpasswd_hash: \"$2b$10$abcdefghijklmnopqrstuuS0dIr9XkXd7ih0TL4SQFD.3GkCvA9nW\"\n",
    );
    assert_ne!(hashed, NGROK);
    let e = error(&hashed);
    assert_eq!(e.field.as_deref(), Some("access.basic_auth"), "{e}");
    assert!(e.message.contains("ngrok.basic_auth_file"), "{e}");
}
