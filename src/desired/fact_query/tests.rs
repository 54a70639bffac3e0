use super::*;
use crate::desired::tests::{converge_rounds, profile, queries, world};
use serde_json::Value;

const PROFILES: [&str; 10] = [
    "rf",
    "np",
    "rf-ss",
    "np-ss",
    "rf-files",
    "np-files",
    "ngrok",
    "ngrok-plain",
    "rf-rtc",
    "np-rtc",
];

/// Where `query` lacks something `needed` asks for: every list entry, every flag, every set string.
fn missing(query: &FactQuery, needed: &FactQuery) -> Vec<String> {
    let (Value::Object(query), Value::Object(needed)) = (
        serde_json::to_value(query).unwrap(),
        serde_json::to_value(needed).unwrap(),
    ) else {
        unreachable!("a query serializes as an object")
    };
    let mut missing = vec![];
    for (field, want) in needed {
        let have = &query[&field];
        match want {
            Value::Array(entries) => missing.extend(
                (entries.iter())
                    .filter(|entry| !have.as_array().unwrap().contains(entry))
                    .map(|entry| format!("{field}: {entry}")),
            ),
            Value::Bool(true) if have != &Value::Bool(true) => missing.push(field),
            Value::String(s) if !s.is_empty() && have != &want => missing.push(field),
            _ => {}
        }
    }
    missing
}

/// Everything a build with these facts needs: what its items need, and what building them asked.
fn needed(p: &Profile, world: World, options: Options) -> PerRole<FactQuery> {
    let (desired, asked) = build_asking(p, world, &Templates::new(), options).unwrap();
    desired.hosts.as_ref().map(|role, host| {
        let mut query = needs(host);
        if let Some(asked) = asked.get(role) {
            merge(&mut query, asked);
        }
        query
    })
}

/// The hosts' facts on the way to a fixed point, each host with or without systemd, with and without
/// `--start-tunnel`.
fn simulated_hosts(p: &Profile) -> Vec<(Facts, Facts)> {
    let mut states = vec![];
    for (server_systemd, workstation_systemd) in
        [(true, true), (false, false), (true, false), (false, true)]
    {
        for start_tunnel in [false, true] {
            let host = |systemd, key: &str| Facts {
                host_key: Some(key.into()),
                systemd,
                ..Facts::default()
            };
            let options = Options {
                start_tunnel,
                destroy: false,
            };
            states.extend(converge_rounds(
                p,
                options,
                host(server_systemd, "ssh-ed25519 AAAASERVER"),
                host(workstation_systemd, "ssh-ed25519 AAAAWORKSTATION"),
            ));
        }
    }
    states
}

/// Facts can add items (a copied certificate, a fetch command) and questions (a file's lines once a
/// key exists) to the desired state: the query, derived from builds without facts, must already gather
/// everything any of them needs, for apply and for destroy.
#[test]
fn the_query_from_builds_without_facts_covers_every_build_with_facts() {
    let teardown = Options {
        start_tunnel: false,
        destroy: true,
    };
    for name in PROFILES {
        let p = profile(name);
        let query = queries(&p);
        let mut checked = 0;
        for (server, workstation) in simulated_hosts(&p) {
            let world = world(Some(&server), Some(&workstation));
            for options in [Options::default(), teardown] {
                for (role, needed) in needed(&p, world, options).into_entries() {
                    let missing = missing(&query[role], &needed);
                    assert!(
                        missing.is_empty(),
                        "{name} {role}: not gathered: {missing:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 16, "{name}: {checked}");
    }
}

/// The query is not vacuous: a build with facts needs most of it, and every host asks about the profile.
#[test]
fn the_query_asks_what_the_items_need() {
    let p = profile("rf");
    let query = queries(&p);
    let l = Layout::new(&p);
    let server = &query[Role::Server];
    assert_eq!(server.profiles, [p.name.to_string()]);
    assert!(server.files.contains(&l.sshd_dropin));
    assert!(server.accounts.contains(&p.tunnel.account.to_string()));
    assert!(server.reads.contains(&l.letsencrypt_privkey));
    assert_eq!(server.sshd_keywords, SSHD_KEYWORDS);
    let workstation = &query[Role::Workstation];
    assert!(workstation.linger);
    assert!(workstation.tunnels.contains(&l.workstation_tunnel_pid));
    assert!(workstation
        .exists
        .contains(&format!("{}.pub", l.workstation_tunnel_key)));
    // nginx-proxy's certificate is read by nginx on the server itself: its content is never gathered.
    let np = queries(&profile("np"));
    assert!(np.iter().all(|q| q.reads.is_empty()));
    // The checker finds what is missing.
    let mut less = server.clone();
    less.reads.clear();
    less.linger = true;
    assert_eq!(
        missing(&less, server),
        [
            format!("reads: \"{}\"", l.letsencrypt_fullchain),
            format!("reads: \"{}\"", l.letsencrypt_privkey)
        ]
    );
    let mut no_linger = workstation.clone();
    no_linger.linger = false;
    assert_eq!(missing(&no_linger, workstation), ["linger"]);
}

/// The workstation asks `getent` whether it resolves the server's name; an address needs no asking.
#[test]
fn only_names_are_asked_whether_they_resolve() {
    let named = profile("rf");
    assert_eq!(
        queries(&named)[Role::Workstation].resolves,
        ["gateway.example.org"]
    );
    for address in ["192.0.2.7", "2001:db8::7"] {
        let source = include_str!("../../../profiles/reverse-forward.yaml")
            .replace("host: gateway.example.org", &format!("host: \"{address}\""));
        let p = crate::profile::parse(&source, std::path::Path::new("rf-address")).unwrap();
        assert_eq!(p.server().host.to_string(), address);
        assert!(
            queries(&p)[Role::Workstation].resolves.is_empty(),
            "{address}"
        );
    }
}
