use super::*;
use crate::desired::tests::{addresses, converge_from, profile, queries, world};
use crate::desired::{build, with_tagged_line, Options, World};
use crate::facts::{record_name, UnitFact};
use crate::layout::Layout;
use crate::profile::Profile;
use crate::render::Templates;

const DESTROY: Options = Options {
    start_tunnel: false,
    destroy: true,
};

fn teardown(p: &Profile, server: Option<&Facts>, workstation: Option<&Facts>) -> Plan {
    let world = world(server, workstation);
    let desired = build(p, world, &Templates::new(), DESTROY).unwrap();
    compute("t", "m", &desired, world, &addresses())
}

fn user_file(content: &str, mode: u32) -> FileFact {
    FileFact::File {
        mode,
        owner: "alice".into(),
        group: "alice".into(),
        content: content.as_bytes().to_vec(),
    }
}

/// What a host is like after the changes ran (the on-host script's effect on the facts).
fn simulate(facts: &mut Facts, changes: &[Change]) {
    for change in changes {
        match change {
            Change::StopUnit { name, scope, .. } => {
                facts.units.insert(
                    (*scope, name.clone()),
                    UnitFact {
                        enabled: "disabled".into(),
                        active: "inactive".into(),
                    },
                );
            }
            Change::StopTunnel { pid_file, .. } => {
                facts.tunnels.remove(pid_file);
            }
            Change::RemoveFiles {
                files,
                reload,
                dirs,
                ..
            } => {
                // Empty once the files are gone: simulated hosts hold nothing else.
                for d in dirs {
                    facts.exists.remove(d);
                }
                for f in files {
                    let after = match &f.how {
                        Removal::Delete => FileFact::Missing,
                        Removal::Restore { .. } => facts.original(&f.path).unwrap().clone(),
                        Removal::RemoveLine { file, .. } => {
                            let Content::Known(text) = &file.content else {
                                panic!("pending")
                            };
                            FileFact::File {
                                mode: file.mode,
                                owner: file.owner.clone(),
                                group: file.group.clone(),
                                content: text.as_bytes().to_vec(),
                            }
                        }
                    };
                    facts.files.insert(f.path.clone(), after);
                    facts.backups.insert(record_name(&f.path));
                }
                if let Some(service) = reload {
                    facts.pending_reloads.retain(|s| s != service.as_str());
                }
            }
            Change::Reload { service, .. } => {
                facts.pending_reloads.retain(|s| s != service.as_str())
            }
            Change::RemoveCertificate { files, dirs, .. } => {
                for d in dirs {
                    facts.exists.remove(d);
                }
                for f in files {
                    facts.exists.remove(f);
                    facts.certificates.remove(f);
                }
            }
            Change::RemoveKey { path, .. } => {
                facts.keys.remove(path);
                facts.exists.remove(path);
                facts.exists.remove(&format!("{path}.pub"));
            }
            Change::RemoveAccount { name, .. } => {
                facts.accounts.insert(name.clone(), false);
            }
            Change::Forget { .. } => {
                facts.originals.clear();
                facts.backups.clear();
                facts.pending_reloads.clear();
                facts.state = false;
            }
            other => panic!("not a teardown change: {other:?}"),
        }
        facts.state = facts.state || !matches!(change, Change::Forget { .. });
    }
}

/// Run the teardown on simulated hosts, a round per phase as the engine does, until nothing is left.
fn destroy_all(p: &Profile, server: &mut Facts, workstation: &mut Facts) -> usize {
    for round in 1..=6 {
        let plan = teardown(p, Some(server), Some(workstation));
        if !plan.has_changes() {
            return round;
        }
        let phase = plan
            .hosts
            .iter()
            .flat_map(|h| &h.changes)
            .map(Change::phase)
            .min()
            .unwrap();
        for (role, facts) in [
            (Role::Server, &mut *server),
            (Role::Workstation, &mut *workstation),
        ] {
            let Some(host) = plan.hosts.get(role) else {
                continue;
            };
            let changes: Vec<Change> = host
                .changes
                .iter()
                .filter(|c| c.phase() == phase)
                .cloned()
                .collect();
            simulate(facts, &changes);
        }
    }
    panic!("the teardown does not converge")
}

#[test]
fn removing_the_tagged_line_keeps_every_other_byte() {
    let tag = "jprov:lab";
    for (before, after) in [
        ("", ""),
        ("a b alice@laptop\n", "a b alice@laptop\n"),
        ("x y jprov:lab\n", ""),
        // CRLF, comments, blank lines and a missing final newline are kept as they are.
        (
            "# mine\r\n\r\nk1 alice\r\nrestrict k2 jprov:lab\r\nk3 bob",
            "# mine\r\n\r\nk1 alice\r\nk3 bob",
        ),
        // The tag must be the last word; other profiles' tags and look-alikes stay.
        (
            "k jprov:lab extra\nk jprov:lab2\nk jprov:other\nk\tjprov:lab  \n",
            "k jprov:lab extra\nk jprov:lab2\nk jprov:other\n",
        ),
        // Every copy of the line goes.
        ("k jprov:lab\nmine\nk jprov:lab\n", "mine\n"),
        ("mine\nk jprov:lab", "mine\n"),
    ] {
        assert_eq!(without_tagged_line(before, tag), after, "{before:?}");
    }
    // What apply adds, destroy takes away, whatever the file held (ending in a newline).
    for user in ["", "k1 alice\n", "# c\r\nk1 alice\r\n\n", "k jprov:other\n"] {
        let added = with_tagged_line(user, tag, "restrict k2 jprov:lab\n");
        assert_ne!(added, user);
        assert_eq!(without_tagged_line(&added, tag), user, "{user:?}");
    }
}

#[test]
fn directories_jprov_named_are_removed_deepest_first() {
    assert_eq!(
        jprov_dirs([
            "/etc/jprov/tls/lab/fullchain.pem",
            "/etc/jprov/tls/lab/privkey.pem",
            "/etc/ssh/jprov/jprov-tunnel.keys",
            "/etc/ssh/sshd_config.d/01-jprov-lab.conf",
            "/home/alice/.jupyter/jupyter_server_config.py",
            "/home/alice/.local/share/jprov/lab/fullchain.pem",
        ]),
        [
            "/home/alice/.local/share/jprov/lab",
            "/home/alice/.local/share/jprov",
            "/etc/jprov/tls/lab",
            "/etc/jprov/tls",
            "/etc/ssh/jprov",
            "/etc/jprov",
        ]
    );
}

/// The user's own files on the workstation before the first apply.
fn workstation_before(systemd: bool) -> Facts {
    let mut ws = Facts {
        host_key: Some("ssh-ed25519 AAAAWORKSTATION".into()),
        systemd,
        ..Facts::default()
    };
    ws.files.insert(
        "/home/alice/.jupyter/jupyter_server_config.py".into(),
        user_file("# alice's own\n", 0o644),
    );
    ws.files.insert(
        "/home/alice/.ssh/authorized_keys".into(),
        user_file("# laptop\r\nssh-ed25519 AAAAUSER alice@laptop\r\n", 0o600),
    );
    ws
}

#[test]
fn destroy_after_apply_leaves_the_hosts_as_they_were() {
    for name in ["rf", "np", "rf-ss", "np-ss", "ngrok", "ngrok-plain"] {
        for systemd in [true, false] {
            let p = profile(name);
            let server_before = Facts {
                host_key: Some("ssh-ed25519 AAAASERVER".into()),
                systemd,
                ..Facts::default()
            };
            let ws_before = workstation_before(systemd);
            let options = Options {
                start_tunnel: true,
                destroy: false,
            };
            let (mut server, mut ws, _) =
                converge_from(&p, options, server_before.clone(), ws_before.clone());
            let what = format!("{name} (systemd: {systemd})");
            assert!(
                teardown(&p, Some(&server), Some(&ws)).has_changes(),
                "{what}"
            );
            let rounds = destroy_all(&p, &mut server, &mut ws);
            assert!(rounds <= 4, "{what}: {rounds} rounds");
            for (role, after, before) in [
                (Role::Server, &server, &server_before),
                (Role::Workstation, &ws, &ws_before),
            ] {
                for (path, fact) in &after.files {
                    assert_eq!(fact, before.file(path), "{what}: {role} {path}");
                }
                assert!(
                    after.accounts.values().all(|exists| !exists),
                    "{what}: {role}"
                );
                assert!(after.keys.is_empty(), "{what}: {role}");
                assert!(after.exists.is_empty(), "{what}: {role}");
                assert!(after.tunnels.is_empty(), "{what}: {role}");
                assert!(!after.state && after.originals.is_empty(), "{what}: {role}");
                assert!(
                    after
                        .units
                        .iter()
                        .all(|((_, name), u)| name == "certbot.timer"
                            || (u.enabled == "disabled" && u.active == "inactive")),
                    "{what}: {role}: {:?}",
                    after.units
                );
            }
            // Debian's timer is never stopped.
            if name == "np" && systemd {
                assert_eq!(
                    server.units[&(UnitScope::System, "certbot.timer".to_string())].active,
                    "active"
                );
            }
        }
    }
}

#[test]
fn on_hosts_with_nothing_of_the_profile_nothing_is_planned() {
    for name in ["rf", "np", "rf-ss", "np-ss"] {
        let p = profile(name);
        // The user's own files and an account of the same name, none of them made by jprov.
        let mut server = Facts::default();
        server.accounts.insert("jprov-tunnel".into(), true);
        let ws = workstation_before(true);
        let plan = teardown(&p, Some(&server), Some(&ws));
        assert_eq!(plan.change_count(), 0, "{name}: {plan}");
        assert!(
            plan.host(Role::Server).notes.iter().any(|n| n
                .contains("left alone: account jprov-tunnel (jprov has no record of creating it)")),
            "{name}: {plan}"
        );
        assert!(
            plan.to_string().contains("Nothing to remove"),
            "{name}: {plan}"
        );
    }
}

#[test]
fn a_replaced_file_is_restored_and_a_shared_file_loses_only_its_line() {
    let p = profile("np");
    let l = Layout::new(&p);
    let (server, ws, _) = converge_from(
        &p,
        Options::default(),
        Facts {
            host_key: Some("ssh-ed25519 AAAASERVER".into()),
            ..Facts::default()
        },
        workstation_before(true),
    );
    let plan = teardown(&p, Some(&server), Some(&ws));
    let Some(Change::RemoveFiles { files, .. }) =
        plan.host(Role::Workstation).changes.iter().find(
            |c| matches!(c, Change::RemoveFiles { files, .. } if files.iter().any(|f| f.path == l.jupyter_config)),
        )
    else {
        panic!("{plan}")
    };
    let [keys, config] = &files[..] else {
        panic!("{files:?}")
    };
    assert!(
        matches!(&keys.how, Removal::RemoveLine { tag, file } if tag == "jprov:lab-proxy"
            && file.content == Content::Known("# laptop\r\nssh-ed25519 AAAAUSER alice@laptop\r\n".into())
            && file.mode == 0o600),
        "{keys:?}"
    );
    assert!(
        keys.diff.contains("-restrict,port-forwarding"),
        "{}",
        keys.diff
    );
    assert!(
        matches!(&config.how, Removal::Restore { original: Some(text) } if text == "# alice's own\n"),
        "{config:?}"
    );
    // The password hash is masked in the restore's diff too.
    assert!(
        config.diff.contains("+# alice's own")
            && config.diff.contains("hashed_password = '********'"),
        "{}",
        config.diff
    );
}

#[test]
fn the_shared_certificate_account_stays_while_another_profile_uses_it() {
    let p = profile("rf");
    let l = Layout::new(&p);
    let other = "restrict,command=\"cat /var/lib/jprov-cert/other/bundle.pem\" ssh-ed25519 AAAAO jprov:other\n";
    let mut server_before = Facts {
        host_key: Some("ssh-ed25519 AAAASERVER".into()),
        systemd: true,
        ..Facts::default()
    };
    server_before.accounts.insert(l.cert_account.clone(), true);
    server_before.files.insert(
        l.cert_authorized_keys.clone(),
        FileFact::File {
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            content: other.as_bytes().to_vec(),
        },
    );
    let (mut server, mut ws, _) = converge_from(
        &p,
        Options::default(),
        server_before.clone(),
        workstation_before(true),
    );
    let plan = teardown(&p, Some(&server), Some(&ws));
    let text = plan.to_string();
    assert!(
        text.contains("note: kept: account jprov-cert, shared by profiles: /etc/ssh/jprov/jprov-cert.keys still has 1 other profile line(s)"),
        "{text}"
    );
    assert!(!text.contains("userdel jprov-cert"), "{text}");
    assert!(text.contains("userdel jprov-tunnel"), "{text}");
    destroy_all(&p, &mut server, &mut ws);
    assert!(server.accounts[&l.cert_account]);
    assert_eq!(
        server.file(&l.cert_authorized_keys),
        server_before.file(&l.cert_authorized_keys)
    );

    // Once the other profile's line is gone, the account goes with the last profile.
    let (mut server, mut ws, _) = converge_from(
        &p,
        Options::default(),
        Facts {
            host_key: Some("ssh-ed25519 AAAASERVER".into()),
            systemd: true,
            ..Facts::default()
        },
        workstation_before(true),
    );
    let text = teardown(&p, Some(&server), Some(&ws)).to_string();
    assert!(
        text.contains("  - delete account jprov-cert: userdel jprov-cert")
            && text.contains("- delete /etc/ssh/jprov/jprov-cert.keys: only jprov's line is in it"),
        "{text}"
    );
    destroy_all(&p, &mut server, &mut ws);
    assert!(!server.accounts[&l.cert_account]);
}

#[test]
fn units_are_stopped_first_and_their_files_removed_with_a_daemon_reload() {
    let p = profile("np");
    let l = Layout::new(&p);
    let (server, ws, _) = converge_from(
        &p,
        Options::default(),
        Facts {
            host_key: Some("ssh-ed25519 AAAASERVER".into()),
            systemd: true,
            ..Facts::default()
        },
        workstation_before(true),
    );
    let plan = teardown(&p, Some(&server), Some(&ws));
    let changes = &plan.host(Role::Server).changes;
    assert!(
        matches!(&changes[0], Change::StopUnit { name, scope: UnitScope::System, reason, .. }
            if *name == l.tunnel_unit && reason == "it is enabled and active"),
        "{plan}"
    );
    assert_eq!(changes[0].phase(), plan::phase::STOP);
    assert!(
        changes.iter().any(|c| matches!(c, Change::RemoveFiles { files, reload: Some(Service::Systemd(UnitScope::System)), .. }
            if files.iter().any(|f| f.path == l.system_unit(&l.tunnel_unit) && matches!(f.how, Removal::Delete)))),
        "{plan}"
    );
    assert!(!plan.to_string().contains("certbot.timer"), "{plan}");
    assert!(matches!(changes.last(), Some(Change::Forget { .. })));
    assert_eq!(changes.last().unwrap().phase(), plan::phase::LAST);
    // The workstation's Jupyter runs as the user's service.
    assert!(
        matches!(&plan.host(Role::Workstation).changes[0], Change::StopUnit { name, scope: UnitScope::User, .. }
            if *name == l.jupyter_unit),
        "{plan}"
    );
}

#[test]
fn every_path_destroy_removes_is_gathered_by_the_fact_query() {
    for name in ["rf", "np", "rf-ss", "np-ss", "ngrok", "ngrok-plain"] {
        for systemd in [true, false] {
            let p = profile(name);
            let host = Facts {
                systemd,
                ..Facts::default()
            };
            let world = world(Some(&host), Some(&host));
            let desired = build(&p, world, &Templates::new(), DESTROY).unwrap();
            // Offline: everything there.
            let plan = compute("t", "m", &desired, World::default(), &addresses());
            let queries = queries(&p);
            for (role, query) in queries.entries() {
                let what = format!("{name} (systemd: {systemd}) {role}");
                assert_eq!(query.profiles, [p.name.to_string()], "{what}");
                let gathered = |path: &str| {
                    query.files.iter().any(|f| f == path) || query.exists.iter().any(|f| f == path)
                };
                for change in &plan.host(role).changes {
                    match change {
                        Change::RemoveFiles { files, dirs, .. } => {
                            for f in files {
                                assert!(gathered(&f.path), "{what}: {}", f.path)
                            }
                            // Directories alone (certbot's webroot): planned because it exists.
                            if files.is_empty() {
                                assert!(dirs.iter().any(|d| gathered(d)), "{what}: {dirs:?}")
                            }
                        }
                        Change::RemoveCertificate { files, .. } => {
                            for f in files {
                                assert!(gathered(f), "{what}: {f}")
                            }
                        }
                        Change::RemoveKey { path, .. } => {
                            assert!(
                                gathered(path) && gathered(&format!("{path}.pub")),
                                "{what}: {path}"
                            )
                        }
                        Change::StopTunnel { pid_file, .. } => {
                            assert!(query.tunnels.contains(pid_file), "{what}: {pid_file}")
                        }
                        Change::StopUnit { name, scope, .. } => assert!(
                            query
                                .units
                                .iter()
                                .any(|u| u.name == *name && u.scope == *scope),
                            "{what}: {name}"
                        ),
                        Change::RemoveAccount { name, .. } => {
                            assert!(query.accounts.contains(name), "{what}: {name}")
                        }
                        Change::Forget { .. } => {}
                        other => panic!("{what}: {other:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn certbots_webroot_goes_when_it_exists_with_its_parent_when_empty() {
    let p = profile("np");
    let l = Layout::new(&p);
    let (mut server, mut ws, _) = crate::desired::tests::converge_on(&p, Options::default(), true);
    assert!(server.exists.contains(&l.acme_webroot));
    let plan = teardown(&p, Some(&server), Some(&ws)).to_string();
    let step = "  - certbot's webroot for the ACME challenge (jprov made it):\n    \
                remove these directories if empty: /var/lib/jprov-acme/lab-proxy/.well-known/acme-challenge, \
                /var/lib/jprov-acme/lab-proxy/.well-known, /var/lib/jprov-acme/lab-proxy, /var/lib/jprov-acme\n";
    assert!(plan.contains(step), "{plan}");
    destroy_all(&p, &mut server, &mut ws);
    assert!(!server.exists.contains(&l.acme_webroot));
    // Not planned where there is none: a second destroy, a profile with another certificate.
    let removes_webroot = |plan: &Plan| {
        plan.hosts
            .iter()
            .flat_map(|h| &h.changes)
            .any(|c| matches!(c, Change::RemoveFiles { dirs, .. } if dirs.iter().any(|d| d.contains("jprov-acme"))))
    };
    assert!(!removes_webroot(&teardown(&p, Some(&server), Some(&ws))));
    for name in ["rf", "np-ss"] {
        let p = profile(name);
        assert!(!removes_webroot(&teardown(&p, None, None)), "{name}");
    }
}
