use super::super::{GuardFact, ProfileRecords, PythonQuery};
use super::*;
use crate::desired::tests::{converge_on, plan_for, profile, queries};
use crate::desired::{merged, Options};
use crate::plan::Change;
use crate::resource::Role;

/// The records a (simulated) gathering of one profile put in the flat fields.
fn records_of(facts: &Facts) -> ProfileRecords {
    ProfileRecords {
        pending_reloads: facts.pending_reloads.clone(),
        pending_restarts: facts.pending_restarts.clone(),
        originals: facts.originals.clone(),
        backups: facts.backups.clone(),
        state: facts.state,
        guard: facts.guard,
    }
}

/// One host holding what `first` and `second` (one profile's facts each) found, as one gathering for both
/// brings it: every map joined (`first`'s entry where both have one), each profile's records by its name.
fn shared_host(first: (&str, &Facts), second: (&str, &Facts)) -> Facts {
    let ((a_name, a), (b_name, b)) = (first, second);
    fn join<K: Ord + Clone, V: Clone>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> BTreeMap<K, V> {
        let mut joined = b.clone();
        joined.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
        joined
    }
    let mut host = Facts {
        uid: a.uid,
        home: a.home.clone(),
        systemd: a.systemd,
        host_key: a.host_key.clone(),
        files: join(&a.files, &b.files),
        reads: join(&a.reads, &b.reads),
        accounts: join(&a.accounts, &b.accounts),
        keys: join(&a.keys, &b.keys),
        certificates: join(&a.certificates, &b.certificates),
        tunnels: join(&a.tunnels, &b.tunnels),
        units: join(&a.units, &b.units),
        linger: a.linger.or(b.linger),
        linger_by_sudo: a.linger_by_sudo.or(b.linger_by_sudo),
        listeners: join(&a.listeners, &b.listeners),
        executables: join(&a.executables, &b.executables),
        resolves: join(&a.resolves, &b.resolves),
        private_files: join(&a.private_files, &b.private_files),
        pythons: join(&a.pythons, &b.pythons),
        exists: a.exists.union(&b.exists).cloned().collect(),
        sshd: SshdView {
            effective: join(&a.sshd.effective, &b.sshd.effective),
            sources: a.sshd.sources.clone(),
        },
        ..Facts::default()
    };
    host.set_records(BTreeMap::from([
        (a_name.to_string(), records_of(a)),
        (b_name.to_string(), records_of(b)),
    ]));
    host
}

#[test]
fn merged_asks_everything_each_query_asks_and_merging_what_it_has_changes_nothing() {
    let (rf, np) = (profile("rf"), profile("np"));
    let (rf_queries, np_queries) = (queries(&rf), queries(&np));
    for role in [Role::Server, Role::Workstation] {
        let (a, b) = (&rf_queries[role], &np_queries[role]);
        assert_eq!(merged(&[a]), *a, "{role}");
        assert_eq!(merged(&[a, a]), *a, "{role}");
        let both = merged(&[a, b]);
        assert_eq!(both.profiles, [rf.name.to_string(), np.name.to_string()]);
        // Nothing either asks is missing: merging it again adds nothing.
        for query in [a, b] {
            assert_eq!(merged(&[&both, query]), both, "{role}");
        }
        assert_ne!(
            both, *a,
            "{role}: the other profile's questions are asked too"
        );
        assert_eq!(merged(&[]), FactQuery::default());
    }
}

#[test]
fn each_profile_s_answer_is_its_own_and_plans_as_if_gathered_alone() {
    let (rf, np) = (profile("rf"), profile("np"));
    let (rf_name, np_name) = (rf.name.as_str(), np.name.as_str());
    let (a, a_workstation, _) = converge_on(&rf, Options::default(), true);
    let (mut b, b_workstation, _) = converge_on(&np, Options::default(), true);
    // np's last apply stopped after reloading sshd: its guard is armed and a reload pending.
    b.guard = Some(GuardFact { ticking: true });
    b.pending_reloads.push("nginx".into());
    let (qa, qb) = (&queries(&rf)[Role::Server], &queries(&np)[Role::Server]);
    for (mine, name, theirs, query, workstation) in [
        (&a, rf_name, &b, qa, &a_workstation),
        (&b, np_name, &a, qb, &b_workstation),
    ] {
        let other = if name == rf_name { np_name } else { rf_name };
        let host = shared_host((name, mine), (other, theirs));
        let answer = host.answers_to(query);
        assert_eq!(records_of(&answer), records_of(mine), "{name}");
        assert_eq!(
            answer.profiles,
            BTreeMap::from([(name.to_string(), records_of(mine))])
        );
        assert!(
            answer.files.keys().all(|path| query.files.contains(path)),
            "{name}"
        );
        assert!(query
            .files
            .iter()
            .all(|path| answer.files.contains_key(path) == host.files.contains_key(path)));
        assert_eq!(
            answer.answers_to(query),
            answer,
            "{name}: answering again changes nothing"
        );
        // The core plans it as it would have planned the profile gathered alone.
        let alone = plan_for(
            &profile(if name == rf_name { "rf" } else { "np" }),
            mine,
            workstation,
            Options::default(),
        );
        let shared = plan_for(
            &profile(if name == rf_name { "rf" } else { "np" }),
            &answer,
            workstation,
            Options::default(),
        );
        assert_eq!(
            format!("{:?}", shared.hosts),
            format!("{:?}", alone.hosts),
            "{name}"
        );
        let resolves_guard = (shared.host(Role::Server).changes.iter())
            .any(|c| matches!(c, Change::ResolveGuard { .. }));
        assert_eq!(
            resolves_guard,
            name == np_name,
            "{name}: only np's guard is np's"
        );
    }
    // The merged query's own answer answers for no one profile: the core's fields stay empty.
    let host = shared_host((rf_name, &a), (np_name, &b));
    let both = host.answers_to(&merged(&[qa, qb]));
    assert_eq!(records_of(&both), ProfileRecords::default());
    assert_eq!(both.profiles.len(), 2);
}

#[test]
fn a_program_s_python_and_sshd_s_users_are_answered_as_asked() {
    let versions = BTreeMap::from([
        ("jupyterlab".to_string(), Some("4.2.0".to_string())),
        ("pycrdt".to_string(), None),
    ]);
    let python = PythonFact {
        interpreter: Some("/opt/venv/bin/python".into()),
        virtualenv: true,
        versions,
    };
    let host = Facts {
        pythons: BTreeMap::from([("jupyter".to_string(), python.clone())]),
        linger: Some(false),
        linger_by_sudo: Some(true),
        sshd: SshdView {
            effective: BTreeMap::from([
                (("alice".into(), "gatewayports".into()), "no".into()),
                (
                    ("jprov-tunnel".into(), "gatewayports".into()),
                    "clientspecified".into(),
                ),
            ]),
            sources: vec!["/etc/ssh/sshd_config:3:GatewayPorts no".into()],
        },
        ..Facts::default()
    };
    let query = FactQuery {
        pythons: vec![PythonQuery {
            program: "jupyter".into(),
            distributions: vec!["jupyterlab".into()],
        }],
        sshd_users: vec!["jprov-tunnel".into()],
        ..FactQuery::default()
    };
    let answer = host.answers_to(&query);
    let want = PythonFact {
        versions: BTreeMap::from([("jupyterlab".to_string(), Some("4.2.0".to_string()))]),
        ..python
    };
    assert_eq!(
        answer.pythons,
        BTreeMap::from([("jupyter".to_string(), want)])
    );
    assert_eq!(answer.linger, None, "lingering was not asked");
    assert_eq!(answer.linger_by_sudo, None);
    assert_eq!(answer.sshd.effective.len(), 1);
    assert_eq!(answer.sshd.sources, host.sshd.sources);
    assert_eq!(
        host.answers_to(&FactQuery::default()).sshd,
        SshdView::default()
    );
}
