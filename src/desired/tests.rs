use super::*;
use crate::facts::{FileFact, PrivateFileFact, TunnelFact, UnitFact};
use crate::plan::{self, Change, FileAction};
use crate::profile::parse;
use std::path::Path;

/// The examples; `-ss` variants use `tls.self_signed` instead of Let's Encrypt, `-files` variants the
/// user's own certificate (`tls.files`).
pub(crate) fn profile(name: &str) -> Profile {
    if let Some(variant) = name.strip_prefix("ngrok") {
        return ngrok_profile(variant);
    }
    if let Some(base) = name.strip_suffix("-rtc") {
        let mut p = profile(base);
        p.jupyter.collaboration = true;
        return p;
    }
    let base = name.trim_end_matches("-ss").trim_end_matches("-files");
    let source = match base {
        "rf" => include_str!("../../profiles/reverse-forward.yaml"),
        _ => include_str!("../../profiles/nginx-proxy.yaml"),
    };
    let letsencrypt = "tls:\n  letsencrypt:\n    email: admin@example.org\n";
    let tls = if name.ends_with("-ss") {
        "tls:\n  self_signed:\n    days: 90\n    addresses: [10.0.0.5, \"fd00::5\"]\n"
    } else if name.ends_with("-files") {
        "tls:\n  files:\n    cert: /etc/ssl/jupyter/fullchain.pem\n    key: /etc/ssl/jupyter/privkey.pem\n"
    } else {
        letsencrypt
    };
    assert!(source.contains(letsencrypt));
    parse(&source.replace(letsencrypt, tls), Path::new(name)).unwrap()
}

/// The ngrok example (`ngrok`), or without basic auth and allow-list (`ngrok-plain`).
fn ngrok_profile(variant: &str) -> Profile {
    let mut source = include_str!("../../profiles/ngrok.yaml").to_string();
    if variant == "-plain" {
        let start = source.find("  basic_auth_file:").unwrap();
        let end = source.find("  # command:").unwrap();
        source.replace_range(start..end, "");
        let start = source.find("access:\n").unwrap();
        let end = source.find("known_hosts:").unwrap();
        source.replace_range(start..end, "");
    }
    parse(&source, Path::new("ngrok.yaml")).unwrap()
}

/// The facts of both hosts (either may be missing: offline, or one host's facts unknown).
pub(crate) fn world<'a>(server: Option<&'a Facts>, workstation: Option<&'a Facts>) -> World<'a> {
    let mut world = World::new();
    if let Some(facts) = server {
        world.insert(Role::Server, facts);
    }
    if let Some(facts) = workstation {
        world.insert(Role::Workstation, facts);
    }
    world
}

/// The fact queries of a profile, with the built-in templates.
pub(crate) fn queries(p: &Profile) -> PerRole<FactQuery> {
    fact_queries(p, &Templates::new()).unwrap()
}

pub(crate) fn addresses() -> PerRole<String> {
    PerRole::new()
        .with(Role::Server, "s".into())
        .with(Role::Workstation, "w".into())
}

fn certificates(state: &HostState) -> Vec<&Certificate> {
    state
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Certificate(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn files_of(state: &HostState) -> Vec<&ManagedFile> {
    state
        .items
        .iter()
        .flat_map(|i| match i {
            Item::Files(g) => g.files.iter().collect(),
            _ => vec![],
        })
        .collect()
}

fn file<'a>(state: &'a HostState, path: &str) -> &'a ManagedFile {
    files_of(state)
        .into_iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

fn known(f: &ManagedFile) -> &str {
    match &f.content {
        Content::Known(s) => s,
        Content::Pending(why) => panic!("{} pending: {why}", f.path),
    }
}

/// Facts describing hosts on which `desired` is already fully in place, with the records apply keeps on
/// the host: what was at each path before its first write, the accounts it created.
pub(crate) fn converged_facts(desired: &DesiredState, role: Role, base: &Facts) -> Facts {
    let mut facts = base.clone();
    // A host the method does not configure (no server for ngrok) stays as it was.
    let Some(host) = desired.hosts.get(role) else {
        return facts;
    };
    facts.state = true;
    for item in &host.items {
        match item {
            Item::Account(a) => {
                if facts.accounts.get(&a.name) != Some(&true) {
                    facts
                        .originals
                        .insert(crate::facts::account_record(&a.name), FileFact::Missing);
                }
                facts.accounts.insert(a.name.clone(), true);
            }
            Item::KeyPair(k) => {
                facts
                    .keys
                    .insert(k.path.clone(), "ssh-ed25519 AAAAKEY".into());
                facts.exists.insert(k.path.clone());
                facts.exists.insert(format!("{}.pub", k.path));
            }
            Item::Files(g) => converged_files(&mut facts, g),
            Item::Certificate(c) => {
                facts.certificates.insert(c.fullchain.clone(), true);
                facts.exists.extend(c.renames.iter().map(|r| r.to.clone()));
                // apply makes certbot's webroot; the fact query asks whether it exists.
                if c.source == CertificateSource::Acme {
                    facts
                        .exists
                        .extend(c.directory.iter().map(|d| d.path.clone()));
                }
            }
            // Without --start-tunnel apply leaves the tunnel to the user.
            Item::Tunnel(t) if !t.start => {}
            Item::Tunnel(t) => {
                facts.tunnels.insert(
                    t.pid_file.clone(),
                    TunnelFact {
                        running: true,
                        argv_digest: crate::argv::argv_digest(&t.argv),
                    },
                );
            }
            Item::Linger(_) => facts.linger = Some(true),
            // Simulated by `converge`: it needs the other host's facts.
            Item::Command(_) => {}
            Item::Unit(u) => {
                facts.units.insert(
                    (u.scope, u.name.clone()),
                    UnitFact {
                        enabled: "enabled".into(),
                        active: "active".into(),
                    },
                );
            }
        }
    }
    facts
}

/// Apply's records of a path it wrote: what was there before its first write, and a backup.
fn record_written(facts: &mut Facts, path: &str) {
    let name = crate::facts::record_name(path);
    if !facts.originals.contains_key(&name) {
        let before = facts.file(path).clone();
        facts.originals.insert(name.clone(), before);
    }
    facts.backups.insert(name);
}

/// `converged_facts` of a file group: its files and links in place, recorded as written by apply.
fn converged_files(facts: &mut Facts, g: &FileGroup) {
    for f in &g.files {
        if let Content::Known(text) = &f.content {
            if !matches!(facts.file(&f.path), FileFact::File { content, .. } if content == text.as_bytes())
            {
                record_written(facts, &f.path);
            }
            let group = if f.group.is_empty() {
                f.owner.clone()
            } else {
                f.group.clone()
            };
            facts.files.insert(
                f.path.clone(),
                FileFact::File {
                    mode: f.mode,
                    owner: f.owner.clone(),
                    group,
                    content: text.clone().into_bytes(),
                },
            );
        }
    }
    for l in &g.links {
        record_written(facts, &l.path);
        facts.files.insert(
            l.path.clone(),
            FileFact::Symlink {
                target: l.target.clone(),
            },
        );
    }
}

pub(crate) fn plan_for(
    p: &Profile,
    server: &Facts,
    workstation: &Facts,
    options: Options,
) -> plan::Plan {
    let world = world(Some(server), Some(workstation));
    let desired = build(p, world, &Templates::new(), options).unwrap();
    plan::compute("t", "m", &desired, world, &addresses())
}

/// Iterate "apply" on simulated hosts until the plan is empty: the desired state must reach a fixed point.
fn converge(p: &Profile, options: Options) -> (Facts, Facts, usize) {
    converge_on(p, options, true)
}

pub(crate) fn converge_on(p: &Profile, options: Options, systemd: bool) -> (Facts, Facts, usize) {
    let server = Facts {
        host_key: Some("ssh-ed25519 AAAASERVER".into()),
        systemd,
        ..Facts::default()
    };
    let workstation = Facts {
        host_key: Some("ssh-ed25519 AAAAWORKSTATION".into()),
        systemd,
        ..Facts::default()
    };
    converge_from(p, options, server, workstation)
}

/// `converge`, from hosts with these facts before the first apply.
pub(crate) fn converge_from(
    p: &Profile,
    options: Options,
    server: Facts,
    workstation: Facts,
) -> (Facts, Facts, usize) {
    let mut rounds = converge_rounds(p, options, server, workstation);
    let count = rounds.len();
    let (server, workstation) = rounds.pop().expect("at least the first");
    (server, workstation, count)
}

/// The hosts' facts before each simulated apply round, from these to the fixed point (the last).
pub(crate) fn converge_rounds(
    p: &Profile,
    options: Options,
    mut server: Facts,
    mut workstation: Facts,
) -> Vec<(Facts, Facts)> {
    let t = Templates::new();
    let mut rounds = vec![];
    for _ in 1..=5 {
        rounds.push((server.clone(), workstation.clone()));
        if !plan_for(p, &server, &workstation, options).has_changes() {
            return rounds;
        }
        let world = world(Some(&server), Some(&workstation));
        let desired = build(p, world, &t, options).unwrap();
        let s = converged_facts(&desired, Role::Server, &server);
        let w = converged_facts(&desired, Role::Workstation, &workstation);
        // The certificate's files appear on the server once certbot ran.
        let mut s = s;
        let l = Layout::new(p);
        if s.certificates.contains_key(&l.letsencrypt_fullchain) {
            s.reads
                .insert(l.letsencrypt_fullchain.clone(), b"CHAIN".to_vec());
            s.reads
                .insert(l.letsencrypt_privkey.clone(), b"KEY".to_vec());
        }
        // The fetch command copies the server's certificate to the workstation.
        let mut w = w;
        let fetches = desired
            .host(Role::Workstation)
            .items
            .iter()
            .any(|i| matches!(i, Item::Command(_)));
        if fetches {
            for (from, to) in [
                (&l.letsencrypt_fullchain, &l.workstation_fullchain),
                (&l.letsencrypt_privkey, &l.workstation_privkey),
            ] {
                if let Some(bytes) = server.read(from) {
                    let content = bytes.to_vec();
                    w.files.insert(
                        to.clone(),
                        FileFact::File {
                            mode: 0o600,
                            owner: "alice".into(),
                            group: "alice".into(),
                            content,
                        },
                    );
                }
            }
        }
        server = s;
        workstation = w;
    }
    panic!("no fixed point after 5 rounds");
}

#[test]
fn offline_state_is_complete_with_pending_cross_host_content() {
    let p = profile("rf");
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let l = Layout::new(&p);
    let server = d.host(Role::Server);
    assert!(matches!(
        file(server, &l.tunnel_authorized_keys).content,
        Content::Pending(_)
    ));
    assert!(matches!(
        file(server, &l.sshd_dropin).content,
        Content::Known(_)
    ));
    let ws = d.host(Role::Workstation);
    let config = file(ws, &l.jupyter_config);
    assert_eq!(config.mode, 0o600);
    assert_eq!(config.owner, "alice");
    assert!(server.items.iter().any(
        |i| matches!(i, Item::Certificate(c) if c.command.contains(&"--standalone".to_string()))
    ));
    let argv = &d.tunnel.as_ref().unwrap().process.argv;
    assert!(argv.contains(&"-R".to_string()));
    assert!(argv.contains(&":8888:localhost:8888".to_string()));
    assert!(argv.contains(&"jprov-tunnel@gateway.example.org".to_string()));
}

#[test]
fn facts_fill_in_keys_host_keys_and_certificates() {
    let p = profile("rf");
    let l = Layout::new(&p);
    let mut ws = Facts::default();
    ws.keys.insert(
        l.workstation_tunnel_key.clone(),
        "ssh-ed25519 AAAAWS jprov:x".into(),
    );
    let mut server = Facts {
        host_key: Some("ssh-ed25519 AAAASRV".into()),
        ..Facts::default()
    };
    server
        .reads
        .insert(l.letsencrypt_privkey.clone(), b"PRIVATE".to_vec());
    server
        .reads
        .insert(l.letsencrypt_fullchain.clone(), b"CHAIN".to_vec());
    server
        .certificates
        .insert(l.letsencrypt_fullchain.clone(), true);
    let world = world(Some(&server), Some(&ws));
    let d = build(&p, world, &Templates::new(), Options::default()).unwrap();
    let keys = known(file(d.host(Role::Server), &l.tunnel_authorized_keys));
    assert!(keys.contains("ssh-ed25519 AAAAWS"), "{keys}");
    let pinned = known(file(d.host(Role::Workstation), &l.workstation_known_hosts));
    assert_eq!(pinned, "jprov-lab-reverse-server ssh-ed25519 AAAASRV\n");
    let privkey = file(d.host(Role::Workstation), &l.workstation_privkey);
    assert_eq!(
        (known(privkey), privkey.mode, privkey.secrecy),
        ("PRIVATE", 0o600, Secrecy::Hidden)
    );
    // A fresh certificate means no certbot run.
    assert!(!d
        .host(Role::Server)
        .items
        .iter()
        .any(|i| matches!(i, Item::Certificate(_))));
}

#[test]
fn the_tagged_line_leaves_every_other_byte_of_the_users_file_alone() {
    let tag = "jprov:x";
    for (existing, expected) in [
        ("", "new jprov:x\n"),
        ("a\r\nk jprov:x\r\nb\r\n", "a\r\nnew jprov:x\nb\r\n"),
        ("a\r\n\r\nb", "a\r\n\r\nb\nnew jprov:x\n"),
        ("k jprov:x\nk jprov:x\n", "new jprov:x\n"),
    ] {
        assert_eq!(
            with_tagged_line(existing, tag, "new jprov:x\n"),
            expected,
            "{existing:?}"
        );
    }
}

#[test]
fn authorized_keys_keeps_the_users_other_lines() {
    let p = profile("np");
    let l = Layout::new(&p);
    let mut server = Facts::default();
    server.keys.insert(
        l.server_tunnel_key.clone(),
        "ssh-ed25519 NEWKEY jprov:lab-proxy".into(),
    );
    let mut ws = Facts::default();
    let existing = "ssh-ed25519 AAAAUSER alice@laptop\nrestrict ssh-ed25519 OLDKEY jprov:lab-proxy\n# comment\n";
    ws.files.insert(
        l.workstation_authorized_keys.clone(),
        FileFact::File {
            mode: 0o600,
            owner: "alice".into(),
            group: "alice".into(),
            content: existing.as_bytes().to_vec(),
        },
    );
    let world = world(Some(&server), Some(&ws));
    let d = build(&p, world, &Templates::new(), Options::default()).unwrap();
    let text = known(file(
        d.host(Role::Workstation),
        &l.workstation_authorized_keys,
    ));
    assert!(
        text.starts_with("ssh-ed25519 AAAAUSER alice@laptop\n"),
        "{text}"
    );
    assert!(text.contains("# comment\n"), "{text}");
    assert!(!text.contains("OLDKEY"), "{text}");
    assert_eq!(text.matches("jprov:lab-proxy").count(), 1, "{text}");
    assert!(text.contains("permitopen=\"localhost:8888\""), "{text}");
}

#[test]
fn nginx_site_waits_for_the_certificate() {
    let p = profile("np");
    let l = Layout::new(&p);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let server = d.host(Role::Server);
    let positions: Vec<&str> = server
        .items
        .iter()
        .map(|i| match i {
            Item::Files(g) => g.label.as_str(),
            Item::Certificate(_) => "certificate",
            _ => "",
        })
        .filter(|s| !s.is_empty())
        .collect();
    let site = positions.iter().position(|s| *s == "nginx site").unwrap();
    let cert = positions.iter().position(|s| *s == "certificate").unwrap();
    assert!(
        site < cert,
        "the ACME site is served before certbot runs: {positions:?}"
    );
    assert!(!server.notes.is_empty());
    let cert_item = server.items.iter().find_map(|i| match i {
        Item::Certificate(c) => Some(c),
        _ => None,
    });
    let command = &cert_item.unwrap().command;
    assert!(
        command
            .windows(2)
            .any(|w| w[0] == "-w" && w[1] == l.acme_webroot),
        "{command:?}"
    );
}

#[test]
fn both_methods_reach_a_fixed_point() {
    for name in ["rf", "np", "rf-ss", "np-ss", "ngrok", "ngrok-plain"] {
        for start_tunnel in [false, true] {
            let p = profile(name);
            let (server, ws, rounds) = converge(
                &p,
                Options {
                    start_tunnel,
                    ..Options::default()
                },
            );
            assert!(rounds <= 4, "{name}: {rounds} rounds");
            let again = plan_for(
                &p,
                &server,
                &ws,
                Options {
                    start_tunnel,
                    ..Options::default()
                },
            );
            assert_eq!(again.change_count(), 0, "{name}: {again}");
        }
    }
}

#[test]
fn drifted_mode_is_fixed_without_rewriting_content() {
    let p = profile("rf");
    let (server, mut ws, _) = converge(&p, Options::default());
    let l = Layout::new(&p);
    if let Some(FileFact::File { mode, .. }) = ws.files.get_mut(&l.jupyter_config) {
        *mode = 0o644;
    }
    let plan = plan_for(&p, &server, &ws, Options::default());
    let changes = &plan.host(Role::Workstation).changes;
    assert_eq!(changes.len(), 1, "{plan}");
    let Change::WriteFiles { files, .. } = &changes[0] else {
        panic!("{plan}")
    };
    assert!(matches!(files[0].action, FileAction::Fix), "{plan}");
    assert!(files[0].reason.contains("0644 -> 0600"), "{plan}");
}

#[test]
fn the_tunnel_names_the_key_and_known_hosts_its_command_uses_and_the_opener_gets() {
    for name in ["rf", "np"] {
        let p = profile(name);
        let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
        let tunnel = d.tunnel.as_ref().unwrap();
        let t = &tunnel.process;
        let i = t.argv.iter().position(|a| a == "-i").expect("-i");
        assert_eq!(t.argv[i + 1], t.key_file, "{name}");
        assert!(
            t.argv
                .contains(&format!("UserKnownHostsFile={}", t.known_hosts)),
            "{name}: {:?}",
            t.argv
        );
        let opener = d.host(tunnel.opener);
        assert!(
            opener
                .items
                .iter()
                .any(|item| matches!(item, Item::KeyPair(k) if k.path == t.key_file)),
            "{name}: the opener generates the key"
        );
        file(opener, &t.known_hosts);
    }
}

/// The openssl command that makes the example profiles' self-signed certificate beside its final files.
fn self_signed_command(privkey: &str, fullchain: &str) -> Vec<String> {
    [
        "openssl",
        "req",
        "-x509",
        "-noenc",
        "-days",
        "90",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        &format!("{privkey}.new"),
        "-out",
        &format!("{fullchain}.new"),
        "-subj",
        "/CN=jupyter.example.org",
        "-addext",
        "subjectAltName=DNS:jupyter.example.org,IP:10.0.0.5,IP:fd00::5",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_self_signed_certificate_is_made_where_tls_ends() {
    for (name, on, other, dir, owner) in [
        (
            "rf-ss",
            Role::Workstation,
            Role::Server,
            "/home/alice/.local/share/jprov/lab-reverse",
            "alice",
        ),
        (
            "np-ss",
            Role::Server,
            Role::Workstation,
            "/etc/jprov/tls/lab-proxy",
            "root",
        ),
    ] {
        let p = profile(name);
        let l = Layout::new(&p);
        let (fullchain, privkey) = l.tls_files(&p).unwrap();
        assert_eq!(
            (fullchain.as_str(), privkey.as_str()),
            (
                format!("{dir}/fullchain.pem").as_str(),
                format!("{dir}/privkey.pem").as_str()
            ),
            "{name}"
        );
        // The expiry is asked of the host that makes it, and only of it.
        let queries = queries(&p);
        let query = |role: Role| &queries[role];
        assert_eq!(query(on).certificates, vec![fullchain.clone()], "{name}");
        assert!(query(other).certificates.is_empty(), "{name}");

        let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
        assert!(certificates(d.host(other)).is_empty(), "{name}");
        let [c] = certificates(d.host(on))[..] else {
            panic!("{name}: one certificate on the {on}")
        };
        assert_eq!(c.source, CertificateSource::SelfSigned);
        assert_eq!(c.fullchain, fullchain);
        assert_eq!(
            c.command,
            self_signed_command(&privkey, &fullchain),
            "{name}"
        );
        let directory = c.directory.as_ref().unwrap();
        assert_eq!(
            (
                directory.path.as_str(),
                directory.mode,
                directory.owner.as_str()
            ),
            (dir, 0o700, owner),
            "{name}"
        );
        assert_eq!(c.umask, 0o077);
        // Key first, chain last (the chain's presence is the fact that says it's done).
        let renames: Vec<(&str, &str, u32)> = c
            .renames
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str(), r.mode))
            .collect();
        assert_eq!(
            renames,
            [
                (format!("{privkey}.new").as_str(), privkey.as_str(), 0o600),
                (
                    format!("{fullchain}.new").as_str(),
                    fullchain.as_str(),
                    0o644
                )
            ],
            "{name}"
        );
    }
}

#[test]
fn jupyter_and_nginx_read_the_self_signed_certificate() {
    let p = profile("rf-ss");
    let l = Layout::new(&p);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let config = known(file(d.host(Role::Workstation), &l.jupyter_config));
    assert!(
        config.contains(
            "c.ServerApp.certfile = '/home/alice/.local/share/jprov/lab-reverse/fullchain.pem'"
        ) && config.contains(
            "c.ServerApp.keyfile = '/home/alice/.local/share/jprov/lab-reverse/privkey.pem'"
        ),
        "{config}"
    );
    // Generated there, not copied from the server.
    assert!(files_of(d.host(Role::Workstation))
        .iter()
        .all(|f| f.path != l.workstation_privkey));

    // nginx-proxy: no TLS block until the certificate exists, then one naming it.
    let p = profile("np-ss");
    let l = Layout::new(&p);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let site = known(file(d.host(Role::Server), &l.nginx_available));
    assert!(!site.contains("ssl_certificate"), "{site}");
    assert!(d.host(Role::Server).notes[0].contains("once the certificate exists"));
    let mut server = Facts {
        systemd: true,
        ..Facts::default()
    };
    server
        .certificates
        .insert(l.self_signed_fullchain.clone(), true);
    let world = world(Some(&server), None);
    let d = build(&p, world, &Templates::new(), Options::default()).unwrap();
    let site = known(file(d.host(Role::Server), &l.nginx_available));
    assert!(
        site.contains("ssl_certificate /etc/jprov/tls/lab-proxy/fullchain.pem;")
            && site.contains("ssl_certificate_key /etc/jprov/tls/lab-proxy/privkey.pem;"),
        "{site}"
    );
    assert!(certificates(d.host(Role::Server)).is_empty());
    assert!(d.host(Role::Server).notes.is_empty());
}

#[test]
fn a_self_signed_certificate_is_renewed_only_when_it_expires_within_30_days() {
    let p = profile("rf-ss");
    let l = Layout::new(&p);
    let (server, mut ws, _) = converge(&p, Options::default());
    assert_eq!(ws.certificates.get(&l.workstation_fullchain), Some(&true));
    // `false`: `openssl x509 -checkend 2592000` says it expires within 30 days.
    ws.certificates
        .insert(l.workstation_fullchain.clone(), false);
    let plan = plan_for(&p, &server, &ws, Options::default());
    let changes = &plan.host(Role::Workstation).changes;
    assert_eq!(plan.change_count(), 2, "{plan}");
    let Change::ObtainCertificate { how, reason, .. } = &changes[0] else {
        panic!("{plan}")
    };
    // Jupyter reads its certificate at start: the new one needs a restart, in the same step.
    assert!(
        matches!(&changes[1], Change::Unit { action: Some(plan::UnitAction::Restart), name, .. }
            if *name == l.jupyter_unit),
        "{plan}"
    );
    assert_eq!(
        how,
        "generate a self-signed certificate for jupyter.example.org"
    );
    assert_eq!(reason, "the certificate expires within 30 days");
    let text = plan.to_string();
    assert!(
        text.contains("  ! generate a self-signed certificate for jupyter.example.org: openssl req -x509 -noenc -days 90 "),
        "{text}"
    );
}

#[test]
fn a_web_server_on_port_80_blocks_standalone_certificates() {
    let p = profile("rf");
    let (mut server, ws, _) = converge(&p, Options::default());
    assert!(queries(&p)[Role::Server].listeners.contains(&80));
    server.listeners.insert(80, "nginx".into());
    let plan = plan_for(&p, &server, &ws, Options::default());
    let problems = &plan.host(Role::Server).problems;
    assert_eq!(problems.len(), 1, "{plan}");
    assert!(
        problems[0].contains("nginx listens on the server's port 80")
            && problems[0].contains("systemctl disable --now nginx"),
        "{plan}"
    );
    // nginx-proxy serves the challenge through nginx itself: port 80 is not asked about.
    assert!(!queries(&profile("np"))[Role::Server]
        .listeners
        .contains(&80));
}

#[test]
fn lingering_is_a_change_when_sudo_allows_it_and_a_problem_when_nothing_does() {
    let p = profile("np");
    let (server, mut ws, _) = converge(&p, Options::default());
    ws.linger = Some(false);
    ws.linger_by_sudo = Some(true);
    let plan = plan_for(&p, &server, &ws, Options::default());
    let host = plan.host(Role::Workstation);
    assert!(
        matches!(&host.changes[..], [Change::EnableLinger { user, .. }] if user == "alice"),
        "{plan}"
    );
    assert!(host.problems.is_empty(), "{plan}");
    ws.linger_by_sudo = Some(false);
    let plan = plan_for(&p, &server, &ws, Options::default());
    let host = plan.host(Role::Workstation);
    assert!(host.changes.is_empty(), "{plan}");
    assert!(
        host.problems[0].contains("sudo loginctl enable-linger alice"),
        "{plan}"
    );
}

#[test]
fn a_jupyter_systemd_cannot_find_is_a_problem_before_anything_changes() {
    let p = profile("np");
    assert_eq!(
        queries(&p)[Role::Workstation].executables,
        vec!["jupyter".to_string()]
    );
    let (server, mut ws, _) = converge(&p, Options::default());
    ws.executables.insert("jupyter".into(), false);
    let plan = plan_for(&p, &server, &ws, Options::default());
    let problems = &plan.host(Role::Workstation).problems;
    assert!(
        problems.len() == 1 && problems[0].contains("does not use the user's PATH"),
        "{plan}"
    );
    ws.executables.insert("jupyter".into(), true);
    assert!(!plan_for(&p, &server, &ws, Options::default()).has_problems());
    // Without systemd nothing runs it as a service: no problem to report.
    let (server, mut ws, _) = converge_on(&p, Options::default(), false);
    ws.executables.insert("jupyter".into(), false);
    assert!(!plan_for(&p, &server, &ws, Options::default()).has_problems());
}

#[test]
fn a_restart_waits_for_the_last_round_and_is_recorded_before_the_files_change() {
    let p = profile("np");
    let l = Layout::new(&p);
    let (server, mut ws, _) = converge(&p, Options::default());
    // The Jupyter config on the host differs from the profile's: the plan rewrites it and restarts Jupyter.
    if let Some(FileFact::File { content, .. }) = ws.files.get_mut(&l.jupyter_config) {
        content.extend_from_slice(b"# edited\n");
    }
    let plan = plan_for(&p, &server, &ws, Options::default());
    let host = plan.host(Role::Workstation);
    let restart = host
        .changes
        .iter()
        .find(|c| {
            matches!(
                c,
                Change::Unit {
                    action: Some(plan::UnitAction::Restart),
                    ..
                }
            )
        })
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(restart.phase(), plan::phase::LATE, "{plan}");
    // The round that writes the config records the restart first, though the restart itself waits.
    let run = crate::script::Run {
        profile: "t",
        guard_seconds: 60,
        root: crate::script::Root::HOST,
    };
    let script = crate::script::apply(&run, host, plan::phase::MAIN)
        .unwrap()
        .expect("the config is written in the main round")
        .text;
    let record = format!("\nrecord_restart {}\n", l.jupyter_unit);
    let write = script.find("\nput_file ").expect("writes the config");
    assert!(
        script.find(&record).is_some_and(|at| at < write),
        "{script}"
    );
    // Interrupted after the write: the files look converged, but the journal still asks for the restart.
    ws.pending_restarts.push(l.jupyter_unit.clone());
    if let Some(FileFact::File { content, .. }) = ws.files.get_mut(&l.jupyter_config) {
        content.truncate(content.len() - b"# edited\n".len());
    }
    let plan = plan_for(&p, &server, &ws, Options::default());
    let changes = &plan.host(Role::Workstation).changes;
    assert!(
        matches!(&changes[..], [Change::Unit { action: Some(plan::UnitAction::Restart), reason, .. }]
            if reason.contains("had not restarted it yet")),
        "{plan}"
    );
}

#[test]
fn without_systemd_what_runs_already_is_known_from_the_facts() {
    for name in ["rf", "np"] {
        let p = profile(name);
        let (tunnel_port, jupyter_port) = (p.tunnel.port.get(), p.jupyter.port.get());
        let queries = queries(&p);
        let (server_query, ws_query) = (&queries[Role::Server], &queries[Role::Workstation]);
        assert!(server_query.listeners.contains(&tunnel_port), "{name}");
        assert!(ws_query.listeners.contains(&jupyter_port), "{name}");
        let running = |server: &Facts, ws: &Facts| {
            let world = world(Some(server), Some(ws));
            let d = build(&p, world, &Templates::new(), Options::default()).unwrap();
            (d.tunnel_running, d.jupyter_running)
        };
        let (mut server, mut ws, _) = converge_on(&p, Options::default(), false);
        assert_eq!(running(&server, &ws), (None, None), "{name}: nothing runs");
        // `jprov tunnel` (or an ssh by hand) holds the server's end; Jupyter started by hand.
        let holder = if name == "rf" { "sshd" } else { "ssh" };
        server.listeners.insert(tunnel_port, holder.into());
        ws.listeners.insert(jupyter_port, "jupyter-lab".into());
        assert_eq!(
            running(&server, &ws),
            (
                Some(format!(
                    "{holder} listens on the server's port {tunnel_port}"
                )),
                Some(format!(
                    "jupyter-lab listens on the workstation's port {jupyter_port}"
                ))
            ),
            "{name}"
        );
        // With systemd these are services, and the listeners say nothing more.
        let (mut sd_server, mut sd_ws, _) = converge_on(&p, Options::default(), true);
        sd_server.listeners = server.listeners.clone();
        sd_ws.listeners = ws.listeners.clone();
        assert_eq!(running(&sd_server, &sd_ws), (None, None), "{name}");
    }
    // A tunnel apply --start-tunnel started: its pid file, and whether it runs the current command.
    let p = profile("rf");
    let l = Layout::new(&p);
    let start = Options {
        start_tunnel: true,
        destroy: false,
    };
    let (server, mut ws, _) = converge_on(&p, start, false);
    let running = |ws: &Facts| {
        let world = world(Some(&server), Some(ws));
        build(&p, world, &Templates::new(), Options::default())
            .unwrap()
            .tunnel_running
    };
    let pid_file = &l.workstation_tunnel_pid;
    assert_eq!(
        running(&ws),
        Some(format!(
            "started by apply --start-tunnel (pid file {pid_file})"
        ))
    );
    ws.tunnels.get_mut(pid_file).unwrap().argv_digest = "older".into();
    assert!(running(&ws)
        .unwrap()
        .ends_with("with an older command: `apply --start-tunnel` replaces it"));
    ws.tunnels.get_mut(pid_file).unwrap().running = false;
    assert_eq!(running(&ws), None);
}

#[test]
fn without_systemd_the_plan_says_renewals_reach_jupyter_only_through_apply() {
    let says = |name: &str, systemd: bool| {
        let (server, ws, _) = converge_on(&profile(name), Options::default(), systemd);
        let plan = plan_for(&profile(name), &server, &ws, Options::default());
        plan.host(Role::Workstation).notes.iter().any(|n| {
            n.contains("reaches the workstation only when `jprov apply PROFILE` runs again")
        })
    };
    assert!(says("rf", false));
    // The workstation's timer fetches them; a self-signed certificate is apply's to renew anyway.
    assert!(!says("rf", true));
    assert!(!says("rf-ss", false));
}

/// Collaborators reach Jupyter's config by name, and a plan shows their names but none of their hashes.
#[test]
fn collaborators_are_named_in_the_config_and_their_hashes_masked() {
    let hash = |n: u8| format!("sha1:0e112c3ddfce:{}", format!("{n:x}").repeat(40));
    let mut p = profile("np");
    for (i, (name, username)) in [("Ada \"A\" L'ovelace", "ada"), ("Bob", "bob")]
        .iter()
        .enumerate()
    {
        p.jupyter.collaborators.push(crate::profile::Collaborator {
            name: name.to_string().try_into().unwrap(),
            username: username.to_string().try_into().unwrap(),
            password_hash: hash(i as u8 + 1).try_into().unwrap(),
        });
    }
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let config = file(d.host(Role::Workstation), &Layout::new(&p).jupyter_config);
    let Content::Known(text) = &config.content else {
        panic!("known offline")
    };
    for wanted in [
        "c.ServerApp.identity_provider_class = JprovIdentityProvider\n",
        "_OWNER = \"alice\"\n",
        "    \"ada\": {\n        \"name\": \"Ada \\\"A\\\" L'ovelace\",\n",
        &format!("        \"password_hash\": \"{}\",\n", hash(2)),
    ] {
        assert!(text.contains(wanted), "{wanted}\n{text}");
    }
    let diff = crate::diff::unified(&config.path, None, text, config.secrecy);
    assert!(diff.contains("\"name\": \"Bob\","), "{diff}");
    let masked = |marker: &str| diff.matches(marker).count();
    assert_eq!(masked("hashed_password = '********'"), 1, "{diff}");
    assert_eq!(masked("\"password_hash\": \"********\","), 2, "{diff}");
    assert_eq!(masked("********"), 3, "nothing else is masked:\n{diff}");
    assert!(
        !diff.contains("11111111") && !diff.contains("22222222"),
        "{diff}"
    );
    assert!(!diff.contains("a68df677"), "{diff}");
}

fn example(source: &str) -> Profile {
    parse(source, Path::new("example.yaml")).unwrap()
}

#[test]
fn local_forward_changes_only_the_workstation_and_gives_the_laptop_its_command() {
    let p = example(include_str!("../../profiles/local-forward.yaml"));
    assert_eq!(roles(&p), [Role::Workstation]);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    assert!(d.tunnel.is_none() && d.hosts.get(Role::Server).is_none());
    let config = known(file(
        d.host(Role::Workstation),
        &Layout::new(&p).jupyter_config,
    ));
    assert!(config.contains("c.ServerApp.ip = '127.0.0.1'"), "{config}");
    assert!(config.contains("password_required = True"), "{config}");
    assert!(!config.contains("certfile"), "{config}");
    let argv = d
        .reach
        .laptop_forward
        .as_ref()
        .expect("the laptop's forward");
    let at = |flag: &str| &argv[argv.iter().position(|a| a == flag).unwrap() + 1];
    assert_eq!(at("-L"), "8888:localhost:8888");
    assert_eq!(at("-J"), "admin@gateway.example.org:22");
    assert_eq!(argv.last().unwrap(), "alice@workstation.internal");
    assert_eq!(d.reach.url, "http://localhost:8888/");
    let snippet = &d.reach.steps[1];
    for line in [
        "Host jprov-lab-forward",
        "ProxyJump admin@gateway.example.org:22",
        "LocalForward 8888 localhost:8888",
    ] {
        assert!(snippet.contains(line), "{snippet}");
    }
}

#[test]
fn lan_serves_tls_on_its_address_and_tells_the_fingerprint_once_the_certificate_is_there() {
    let p = example(include_str!("../../profiles/lan.yaml"));
    let l = Layout::new(&p);
    assert_eq!(roles(&p), [Role::Workstation]);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let ws = d.host(Role::Workstation);
    let config = known(file(ws, &l.jupyter_config));
    assert!(
        config.contains("c.ServerApp.ip = '192.168.10.20'"),
        "{config}"
    );
    assert!(
        config.contains("c.ServerApp.local_hostnames = ['jupyter.lan']"),
        "{config}"
    );
    assert!(config.contains("allow_remote_access = False"), "{config}");
    let certificate = certificates(ws)[0];
    assert!(certificate
        .command
        .contains(&"subjectAltName=DNS:jupyter.lan,IP:192.168.10.20".to_string()));
    assert!(
        ws.notes.iter().any(|n| n.contains("firewall")),
        "{:?}",
        ws.notes
    );
    assert_eq!(d.reach.url, "https://jupyter.lan:8888/");

    // Without a name, browsers use the address, which Jupyter's Host check cannot admit.
    let p = example(&include_str!("../../profiles/lan.yaml").replace("domain: jupyter.lan", ""));
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let config = known(file(d.host(Role::Workstation), &l.jupyter_config));
    assert!(config.contains("allow_remote_access = True"), "{config}");
    assert_eq!(d.reach.url, "https://192.168.10.20:8888/");

    // The fingerprint is openssl's, of the certificate the facts read.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-noenc", "-days", "1", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", "/CN=t"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let shown = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let openssl = String::from_utf8(shown.stdout).unwrap();
    let openssl = openssl.trim().rsplit('=').next().unwrap().to_string();
    let (fullchain, _) = l.tls_files(&p).unwrap();
    let mut facts = Facts::default();
    facts.reads.insert(fullchain, std::fs::read(&cert).unwrap());
    let d = build(
        &p,
        world(None, Some(&facts)),
        &Templates::new(),
        Options::default(),
    )
    .unwrap();
    assert!(
        d.reach.steps[0].ends_with(&openssl),
        "{:?} vs {openssl}",
        d.reach.steps
    );
}

/// The unit file of `name` among a host's files.
fn unit_text<'a>(state: &'a HostState, l: &Layout, name: &str) -> &'a str {
    known(file(state, &l.user_unit(name)))
}

#[test]
fn ngrok_runs_the_agent_as_the_users_service_in_front_of_jupyter_on_loopback() {
    let p = profile("ngrok");
    let l = Layout::new(&p);
    assert_eq!(roles(&p), [Role::Workstation]);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    assert!(d.tunnel.is_none() && d.hosts.get(Role::Server).is_none());
    let ws = d.host(Role::Workstation);
    assert!(certificates(ws).is_empty());
    let config = known(file(ws, &l.jupyter_config));
    for line in [
        "c.ServerApp.ip = '127.0.0.1'",
        "c.PasswordIdentityProvider.password_required = True",
        "c.ServerApp.local_hostnames = ['jupyter-lab.ngrok.app']",
        "c.ServerApp.allow_remote_access = False",
        "c.ServerApp.trust_xheaders = True",
        "c.ServerApp.custom_display_url = 'https://jupyter-lab.ngrok.app/'",
    ] {
        assert!(config.contains(line), "{line}\n{config}");
    }
    assert!(!config.contains("certfile"), "{config}");
    let agent = known(file(ws, &l.ngrok_config));
    for line in [
        "version: 3",
        "    url: https://jupyter-lab.ngrok.app",
        "      url: http://127.0.0.1:8888",
        "            - type: restrict-ips",
        "                  - \"2001:db8::/32\"",
        "            - type: basic-auth",
        &format!("                {}", methods::CREDENTIALS_MARKER),
        "  web_addr: false",
    ] {
        assert!(agent.lines().any(|l| l == line), "{line}\n{agent}");
    }
    assert!(!agent.contains("authtoken:"), "{agent}");
    assert_eq!(file(ws, &l.ngrok_assemble).mode, 0o700);
    let unit = unit_text(ws, &l, &l.ngrok_unit);
    for line in [
        "EnvironmentFile=/home/alice/.config/jprov/ngrok-authtoken".to_string(),
        format!("RuntimeDirectory={}", l.ngrok_runtime_dir),
        "RuntimeDirectoryMode=0700".to_string(),
        format!(
            "ExecStartPre={} %t/{}/ngrok.yml",
            l.ngrok_assemble, l.ngrok_runtime_dir
        ),
        format!(
            "ExecStart=ngrok start --all --config %t/{}/ngrok.yml",
            l.ngrok_runtime_dir
        ),
        "Restart=always".to_string(),
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}\n{unit}");
    }
    let units: Vec<&Unit> = (ws.items.iter())
        .filter_map(|i| match i {
            Item::Unit(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(units.len(), 2, "{units:?}");
    assert_eq!(
        units[1].restart_on,
        [
            l.user_unit(&l.ngrok_unit),
            l.ngrok_config.clone(),
            l.ngrok_assemble.clone()
        ]
    );
    assert_eq!(d.reach.url, "https://jupyter-lab.ngrok.app/");
}

#[test]
fn ngrok_without_basic_auth_reads_jprovs_file_itself_and_without_an_allow_list_lets_everyone_try() {
    let p = profile("ngrok-plain");
    let l = Layout::new(&p);
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    let ws = d.host(Role::Workstation);
    assert!(files_of(ws).iter().all(|f| f.path != l.ngrok_assemble));
    let agent = known(file(ws, &l.ngrok_config));
    assert!(
        !agent.contains("basic-auth") && !agent.contains("restrict-ips"),
        "{agent}"
    );
    assert!(agent.contains("type: remove-headers"), "{agent}");
    let unit = unit_text(ws, &l, &l.ngrok_unit);
    assert!(
        !unit.contains("ExecStartPre") && !unit.contains("RuntimeDirectory"),
        "{unit}"
    );
    assert!(
        unit.contains(&format!(
            "ExecStart=ngrok start --all --config {}\n",
            l.ngrok_config
        )),
        "{unit}"
    );
}

#[test]
fn ngrok_checks_the_agent_and_the_secret_files_without_reading_them() {
    let p = profile("ngrok");
    let ngrok = p.ngrok.clone().unwrap();
    let (token, credentials) = (
        ngrok.authtoken_file.to_string(),
        ngrok.basic_auth_file.unwrap().to_string(),
    );
    // Asked about as private files, never as files or reads (which carry the content).
    let query = &queries(&p)[Role::Workstation];
    assert_eq!(query.private_files, [token.clone(), credentials.clone()]);
    for secret in [&token, &credentials] {
        assert!(!query.files.contains(secret) && !query.reads.contains(secret));
        assert!(!query.exists.contains(secret));
    }
    assert!(
        query.executables.contains(&"ngrok".to_string()),
        "{query:?}"
    );

    let (server, mut ws, _) = converge(&p, Options::default());
    let private = |mode, readable| PrivateFileFact::File {
        mode,
        owner: "alice".into(),
        readable,
    };
    let problems = |ws: &Facts| {
        plan_for(&p, &server, ws, Options::default()).hosts[Role::Workstation]
            .problems
            .clone()
    };
    // Nothing there yet: both files are named, with what to put in them.
    let missing = problems(&ws);
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing[0].starts_with(&format!(
        "ngrok.authtoken_file {token} is not on the workstation"
    )));
    assert!(missing[0].contains("NGROK_AUTHTOKEN=") && missing[0].contains("chmod 600"));
    assert!(
        missing[1].starts_with("ngrok.basic_auth_file"),
        "{missing:?}"
    );
    ws.private_files.insert(token.clone(), private(0o600, true));
    ws.private_files
        .insert(credentials.clone(), private(0o600, true));
    assert_eq!(problems(&ws), Vec::<String>::new());
    ws.private_files.insert(token.clone(), private(0o640, true));
    let shared = problems(&ws);
    assert!(
        shared.len() == 1 && shared[0].contains("has mode 0640"),
        "{shared:?}"
    );
    ws.private_files
        .insert(token.clone(), private(0o600, false));
    assert!(problems(&ws)[0].contains("not readable by alice"));
    ws.private_files
        .insert(token.clone(), PrivateFileFact::Other("directory".into()));
    assert!(problems(&ws)[0].contains("is a directory"));
    ws.private_files.insert(token, private(0o600, true));
    // No agent where systemd looks: the install hint.
    ws.executables.insert("ngrok".into(), false);
    let none = problems(&ws);
    assert!(
        none.len() == 1 && none[0].contains("no ngrok agent") && none[0].contains("ngrok.command"),
        "{none:?}"
    );
}

#[test]
fn ngrok_without_systemd_says_how_to_start_the_agent() {
    let p = profile("ngrok");
    let l = Layout::new(&p);
    let ws = Facts {
        systemd: false,
        ..Facts::default()
    };
    let d = build(
        &p,
        world(None, Some(&ws)),
        &Templates::new(),
        Options::default(),
    )
    .unwrap();
    let host = d.host(Role::Workstation);
    assert!(
        host.items.iter().all(|i| matches!(i, Item::Files(_))),
        "{:?}",
        host.items
    );
    assert!(
        host.notes[0].contains("does not run systemd"),
        "{:?}",
        host.notes
    );
    let start = &d.reach.steps[0];
    assert!(
        start.contains(&format!(
            "{} \"${{XDG_RUNTIME_DIR:-$HOME/.local/state/jprov}}\"/{}/ngrok.yml",
            l.ngrok_assemble, l.ngrok_runtime_dir
        )) && start.contains(". /home/alice/.config/jprov/ngrok-authtoken"),
        "{start}"
    );
}
