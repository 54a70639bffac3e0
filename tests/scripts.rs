//! The on-host scripts without root and without hosts: every script the example profiles' offline plans
//! make is rendered, must pass `sh -n` and `dash -n` and match its golden file (tests/golden/scripts/), and
//! runs with every path under a temporary root (`script::Root::under`) and stubs for the programs that would
//! change the machine (tests/scripts/sandbox.rs). What is proven there: the original of a path is kept, a
//! failing validation restores the group and exits with the validation's code, the journal and the lockout
//! guard are written before the files they protect, the guard restores through apply's restore, and a
//! truncated script runs nothing.
//!
//! `JPROV_UPDATE_GOLDEN=1 cargo test --test scripts` rewrites the golden files; review the diff.

#[path = "scripts/sandbox.rs"]
mod sandbox;

use jprov::desired::Options;
use jprov::facts::{FactQuery, Facts};
use jprov::plan::{phase, Change, HostPlan, Plan, Removal};
use jprov::protocol::{self, Failure, GuardReply};
use jprov::render::Templates;
use jprov::resource::Content;
use jprov::resource::Role;
use jprov::script::{self, GuardAction, Root, Run};
use sandbox::Sandbox;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXAMPLES: [&str; 8] = [
    "reverse-forward",
    "nginx-proxy",
    "self-signed",
    "lan",
    "local-forward",
    "ngrok",
    "collaboration",
    "layers",
];
const GUARD_SECONDS: u32 = 60;

fn loaded(example: &str) -> jprov::profile::LoadedProfile {
    let path = format!("{}/profiles/{example}.yaml", env!("CARGO_MANIFEST_DIR"));
    jprov::profile::load(Path::new(&path)).unwrap()
}

/// An example's offline plan. A teardown's line removals offline name the file as jprov writes it (online
/// the facts give what is there): here the file holds one line of the user's, which stays.
fn offline_plan(example: &str, destroy: bool) -> Plan {
    let options = Options {
        destroy,
        ..Options::default()
    };
    let mut plan =
        jprov::plan::of_profile::offline(&loaded(example), &Templates::new(), options).unwrap();
    for change in plan.hosts.iter_mut().flat_map(|h| h.changes.iter_mut()) {
        if let Change::RemoveFiles { files, .. } = change {
            for file in files {
                if let Removal::RemoveLine { file, .. } = &mut file.how {
                    file.content = Content::Known(USERS_LINE.into());
                }
            }
        }
    }
    plan
}

/// The line of a shared file that is not jprov's.
const USERS_LINE: &str = "ssh-ed25519 AAAAusers-own user@laptop\n";

fn run_for<'a>(plan: &'a Plan, root: Root<'a>) -> Run<'a> {
    Run {
        profile: &plan.profile,
        guard_seconds: GUARD_SECONDS,
        root,
    }
}

/// Every script of an example, by golden file name: apply and teardown scripts of each host and phase,
/// the check and facts scripts, and the lockout guard's.
fn scripts_of(example: &str) -> BTreeMap<String, String> {
    let templates = Templates::new();
    let mut scripts = BTreeMap::new();
    for destroy in [false, true] {
        let plan = offline_plan(example, destroy);
        let kind = if destroy { "destroy" } else { "apply" };
        for host in &plan.hosts {
            for phase in phase::STOP..=phase::LAST {
                if let Some(text) = script::apply(&run_for(&plan, Root::HOST), host, phase).unwrap()
                {
                    scripts.insert(format!("{kind}-{}-phase{phase}.sh", host.role), text.text);
                }
            }
            let users: Vec<&str> = host.sshd_intent.iter().map(|e| e.user.as_str()).collect();
            if let Some(check) = script::check(&templates, &host.changes, &users).unwrap() {
                scripts.insert(format!("check-{kind}-{}.sh", host.role), check.text);
            }
        }
    }
    let profile = loaded(example).profile;
    let queries = jprov::desired::fact_queries(&profile, &templates).unwrap();
    for (role, query) in queries.into_entries() {
        let text = script::facts(&templates, &query).unwrap();
        scripts.insert(format!("facts-{role}.sh"), text);
    }
    let name = profile.name.as_str();
    for (action, file) in [
        (GuardAction::Disarm, "guard-disarm.sh"),
        (GuardAction::Fire, "guard-fire.sh"),
    ] {
        scripts.insert(
            file.into(),
            script::guard(Root::HOST, name, action).unwrap(),
        );
    }
    scripts.insert(
        "guard-fire-program.sh".into(),
        script::guard_fire_program(Root::HOST).unwrap(),
    );
    scripts
}

/// A script as its golden file shows it: the protocol's emitters and the library, which every script
/// carries verbatim, as one marker line each (they are reviewed where they are written).
fn golden_form(text: &str) -> String {
    text.replace(
        &protocol::shell(),
        "# <<< src/protocol.rs: protocol::shell() >>>\n",
    )
    .replace(
        script::HOST_LIB,
        "# <<< templates/host_lib.sh, as it is >>>\n",
    )
}

fn golden_dir(example: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/scripts")
        .join(example)
}

/// Compare (or with JPROV_UPDATE_GOLDEN=1 rewrite) an example's golden files; a stale golden file fails too.
fn check_golden(example: &str, scripts: &BTreeMap<String, String>) -> Vec<String> {
    let dir = golden_dir(example);
    let update = std::env::var_os("JPROV_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    if update {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut mismatches = vec![];
    for (name, text) in scripts {
        let path = dir.join(name);
        let want = golden_form(text);
        if update {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            let diff = similar::TextDiff::from_lines(&have, &want);
            mismatches.push(format!(
                "{}:\n{}",
                path.display(),
                diff.unified_diff().header("golden", "rendered")
            ));
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !scripts.contains_key(&name) {
            mismatches.push(format!(
                "{}: no script renders it any more",
                dir.join(name).display()
            ));
        }
    }
    mismatches
}

fn syntax_error(shell: &str, path: &Path) -> Option<String> {
    let out = Command::new(shell).arg("-n").arg(path).output().unwrap();
    (!out.status.success()).then(|| {
        format!(
            "{shell} -n {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_script_of_the_examples_is_valid_sh_and_dash_and_matches_its_golden_file() {
    assert!(
        Command::new("dash")
            .arg("-c")
            .arg(":")
            .status()
            .is_ok_and(|s| s.success()),
        "dash is not installed (apt install dash): it is /bin/sh on Debian and Ubuntu hosts"
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut problems = vec![];
    for example in EXAMPLES {
        let scripts = scripts_of(example);
        for (name, text) in &scripts {
            assert!(
                text.contains(script::HOST_LIB),
                "{example}/{name}: the library is not in it verbatim"
            );
            let path = scratch.path().join(format!("{example}-{name}"));
            std::fs::write(&path, text).unwrap();
            problems.extend(
                ["sh", "dash"]
                    .iter()
                    .filter_map(|shell| syntax_error(shell, &path)),
            );
        }
        problems.extend(check_golden(example, &scripts));
    }
    assert!(
        problems.is_empty(),
        "{}\n(JPROV_UPDATE_GOLDEN=1 cargo test --test scripts rewrites the golden files)",
        problems.join("\n")
    );
}

/// The apply script of `phase` for `role`, built for `sandbox`.
fn script_in(sandbox: &Sandbox, plan: &Plan, role: Role, phase: u8) -> Option<String> {
    script::apply(&run_for(plan, sandbox.root()), plan.host(role), phase)
        .unwrap()
        .map(|script| script.text)
}

/// Run every phase's script of `plan` for `role`, in order; each must finish every step.
fn run_all_phases(sandbox: &Sandbox, plan: &Plan, role: Role) {
    for phase in phase::STOP..=phase::LAST {
        let Some(text) = script_in(sandbox, plan, role, phase) else {
            continue;
        };
        let ran = sandbox.run(&text);
        let outcome = protocol::parse_outcome(&ran.stdout);
        assert!(
            ran.status == Some(0) && outcome.finished && outcome.failure.is_none(),
            "{} {role} phase {phase}: {ran}",
            plan.profile
        );
        assert_eq!(outcome.steps_done, text.matches("\nsay_done ").count());
    }
}

/// The files and links a plan writes: (path, content or link target).
fn written(host: &HostPlan) -> Vec<(String, String)> {
    let mut out = vec![];
    for change in &host.changes {
        if let Change::WriteFiles { files, links, .. } = change {
            for f in files {
                if let Content::Known(content) = &f.file.content {
                    out.push((f.path.clone(), content.clone()));
                }
            }
            out.extend(links.iter().map(|l| (l.path.clone(), l.target.clone())));
        }
    }
    out
}

/// The service a group reloads, found by one of its paths.
fn group_reload(host: &HostPlan, path: &str) -> Option<&'static str> {
    host.changes.iter().find_map(|change| match change {
        Change::WriteFiles { files, reload, .. } if files.iter().any(|f| f.path == path) => {
            Some(reload.map_or("", |s| s.as_str()))
        }
        _ => None,
    })
}

fn journal(sandbox: &Sandbox, profile: &str) -> String {
    std::fs::read_to_string(sandbox.state().join("journal").join(profile)).unwrap_or_default()
}

/// Where apply keeps a path's original (`backup_name` of the path as the script names it).
fn original(sandbox: &Sandbox, profile: &str, path: &str) -> PathBuf {
    let name = sandbox.path(path).to_str().unwrap().replace('/', "%");
    sandbox
        .state()
        .join("backup")
        .join(profile)
        .join("original")
        .join(name)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The roles of the plan's hosts (the methods without a server have only the workstation).
fn roles(plan: &jprov::plan::Plan) -> Vec<Role> {
    (&plan.hosts).into_iter().map(|host| host.role).collect()
}

#[test]
fn every_example_applies_and_tears_down_under_a_root_and_leaves_only_the_users_lines() {
    for example in EXAMPLES {
        let plan = offline_plan(example, false);
        let teardown = offline_plan(example, true);
        for role in roles(&plan) {
            let sandbox = Sandbox::new(true);
            run_all_phases(&sandbox, &plan, role);
            for (path, content) in written(plan.host(role)) {
                let at = sandbox.path(&path);
                let have = match std::fs::read_link(&at) {
                    Ok(target) => target.to_string_lossy().into_owned(),
                    Err(_) => std::fs::read_to_string(&at).unwrap_or_default(),
                };
                assert_eq!(have, content, "{example} {role}: {path}");
                // Nothing was there: the original is recorded as absent, for the teardown.
                let kept = original(&sandbox, &plan.profile, &path);
                assert!(
                    PathBuf::from(format!("{}.absent", kept.display())).exists(),
                    "{example} {role}: the original of {path} is not kept as absent"
                );
            }
            run_all_phases(&sandbox, &teardown, role);
            let left = sandbox.files();
            for path in &left {
                assert_eq!(
                    sandbox.read(path).as_deref(),
                    Some(USERS_LINE),
                    "{example} {role}: {path} is left ({left:?})"
                );
            }
            assert!(
                !sandbox.state().exists(),
                "{example} {role}: jprov's records are left"
            );
        }
    }
}

/// The sshd drop-in of the reverse-forward example, and what an admin had there before.
fn dropin(plan: &Plan) -> String {
    written(plan.host(Role::Server))
        .into_iter()
        .map(|(path, _)| path)
        .find(|p| p.starts_with("/etc/ssh/sshd_config.d/"))
        .expect("the plan writes an sshd drop-in")
}
const ADMINS: &str = "# the admin's own settings\nPermitRootLogin prohibit-password\n";

fn put_admins(sandbox: &Sandbox, path: &str) {
    use std::os::unix::fs::PermissionsExt;
    sandbox.put(path, ADMINS);
    std::fs::set_permissions(sandbox.path(path), std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn the_original_is_kept_from_the_first_write_on_and_a_teardown_puts_it_back() {
    let plan = offline_plan("reverse-forward", false);
    let path = dropin(&plan);
    let sandbox = Sandbox::new(true);
    put_admins(&sandbox, &path);
    let kept = original(&sandbox, &plan.profile, &path);
    // Applied twice: the second run's backup is jprov's own version, the original stays the admin's.
    for _ in 0..2 {
        run_all_phases(&sandbox, &plan, Role::Server);
        assert_ne!(sandbox.read(&path).as_deref(), Some(ADMINS));
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), ADMINS);
        assert_eq!(mode(&kept), 0o600, "the original keeps its mode");
    }
    // What a teardown does with a path whose original jprov kept: puts it back.
    let mut teardown = offline_plan("reverse-forward", true);
    for change in &mut teardown
        .hosts
        .iter_mut()
        .find(|h| h.role == Role::Server)
        .unwrap()
        .changes
    {
        if let Change::RemoveFiles { files, .. } = change {
            for file in files.iter_mut().filter(|f| f.path == path) {
                file.how = Removal::Restore {
                    original: Some(ADMINS.into()),
                };
            }
        }
    }
    run_all_phases(&sandbox, &teardown, Role::Server);
    assert_eq!(sandbox.read(&path).as_deref(), Some(ADMINS));
    assert_eq!(mode(&sandbox.path(&path)), 0o600);
}

#[test]
fn a_failing_validation_restores_the_group_and_exits_with_the_validations_code() {
    for (example, program, service) in [
        ("reverse-forward", "sshd", "ssh"),
        ("nginx-proxy", "nginx", "nginx"),
    ] {
        let plan = offline_plan(example, false);
        let host = plan.host(Role::Server);
        let group: Vec<(String, String)> = written(host)
            .into_iter()
            .filter(|(path, _)| {
                group_reload(host, path) == Some(service) || path.contains("sites-enabled")
            })
            .collect();
        let sandbox = Sandbox::new(true);
        let (first, _) = &group[0];
        put_admins(&sandbox, first);
        sandbox.set(&format!("{program}-t-fails"), "");
        let text = script_in(&sandbox, &plan, Role::Server, phase::MAIN).unwrap();
        let ran = sandbox.run(&text);
        assert_eq!(ran.status, Some(3), "{example}: {ran}");
        let outcome = protocol::parse_outcome(&ran.stdout);
        assert!(
            matches!(&outcome.failure, Some(Failure::Invalid { program: p, output }) if p == program && output.contains("stub")),
            "{example}: {ran}"
        );
        assert!(!outcome.finished);
        // The group is as it was: the admin's file back, the new ones gone again.
        assert_eq!(sandbox.read(first).as_deref(), Some(ADMINS), "{example}");
        assert_eq!(mode(&sandbox.path(first)), 0o600);
        for (path, _) in &group[1..] {
            assert!(
                std::fs::symlink_metadata(sandbox.path(path)).is_err(),
                "{example}: {path} is left"
            );
        }
        // Nothing reloaded, no reload left pending, and no guard left to undo anything.
        assert!(
            !sandbox.calls().contains(" reload"),
            "{example}: {}",
            sandbox.calls()
        );
        assert!(
            !journal(&sandbox, &plan.profile).contains("reload"),
            "{example}"
        );
        assert!(
            !sandbox.state().join("guard").join(&plan.profile).exists(),
            "{example}"
        );
    }
}

/// Where the k-th `put_file` of a script writes (the host path).
fn put_file_paths(sandbox: &Sandbox, text: &str) -> Vec<String> {
    let root = sandbox.path("");
    text.lines()
        .filter_map(|l| l.strip_prefix("put_file "))
        .map(|rest| rest.split(' ').next().unwrap())
        .map(|p| p.strip_prefix(root.to_str().unwrap()).unwrap().to_string())
        .collect()
}

#[test]
fn the_journal_and_the_guard_are_written_before_the_file_they_protect() {
    let mut interrupted = 0;
    for example in EXAMPLES {
        let plan = offline_plan(example, false);
        for role in roles(&plan) {
            let probe = Sandbox::new(true);
            let Some(text) = script_in(&probe, &plan, role, phase::MAIN) else {
                continue;
            };
            for (k, path) in put_file_paths(&probe, &text).iter().enumerate() {
                // Killed while the k-th file is in its temporary file, before the rename.
                let sandbox = Sandbox::new(true);
                sandbox.set("kill-at-write", &(k + 1).to_string());
                let ran = sandbox.run(script_in(&sandbox, &plan, role, phase::MAIN).unwrap());
                assert_eq!(ran.status, None, "{example} {role} write {}: {ran}", k + 1);
                interrupted += 1;
                let what = format!("{example} {role}, killed writing {path}");
                assert!(!sandbox.path(path).exists(), "{what}: the file is in place");
                let service = group_reload(plan.host(role), path).unwrap();
                if !service.is_empty() {
                    let journal = journal(&sandbox, &plan.profile);
                    assert!(
                        journal.lines().any(|l| l == format!("reload {service}")),
                        "{what}: {journal:?}"
                    );
                }
                if service == "ssh" {
                    let guard = sandbox.state().join("guard").join(&plan.profile);
                    let entry = guard.join("entries").join(format!(
                        "{}.path",
                        sandbox.path(path).to_str().unwrap().replace('/', "%")
                    ));
                    assert!(
                        entry.exists() && guard.join("fire").exists(),
                        "{what}: the guard is not armed"
                    );
                }
            }
        }
    }
    assert!(
        interrupted >= 10,
        "only {interrupted} writes were interrupted"
    );
}

#[test]
fn the_guard_restores_through_apply_s_restore_and_replies_in_the_protocol() {
    let plan = offline_plan("reverse-forward", false);
    let path = dropin(&plan);
    let profile = plan.profile.as_str();
    let apply = |sandbox: &Sandbox| {
        put_admins(sandbox, &path);
        run_all_phases(sandbox, &plan, Role::Server);
        let calls = sandbox.calls();
        let timer = format!(
            "systemd-run --quiet --unit=jprov-guard-{profile} --on-active={GUARD_SECONDS} "
        );
        assert!(calls.contains(&timer), "{calls}");
    };
    let guard = |sandbox: &Sandbox, action| {
        let ran = sandbox.run(script::guard(sandbox.root(), profile, action).unwrap());
        assert_eq!(ran.status, Some(0), "{ran}");
        protocol::parse_guard_reply(&ran.stdout)
    };
    // Fired (jprov's fresh login failed): the admin's file is back, and sshd reloaded it.
    let sandbox = Sandbox::new(true);
    apply(&sandbox);
    let reloads = sandbox.calls().matches("systemctl reload ssh").count();
    assert_eq!(guard(&sandbox, GuardAction::Fire), GuardReply::Fired);
    assert_eq!(sandbox.read(&path).as_deref(), Some(ADMINS));
    assert_eq!(mode(&sandbox.path(&path)), 0o600);
    assert_eq!(
        sandbox.calls().matches("systemctl reload ssh").count(),
        reloads + 1
    );
    assert!(!sandbox.state().join("guard").join(profile).exists());
    assert_eq!(guard(&sandbox, GuardAction::Fire), GuardReply::Gone);
    // Disarmed (the login worked): jprov's file stays; kept while a reload is pending.
    let sandbox = Sandbox::new(true);
    apply(&sandbox);
    let pending = sandbox.state().join("journal").join(profile);
    std::fs::write(&pending, "reload ssh\n").unwrap();
    assert_eq!(guard(&sandbox, GuardAction::Disarm), GuardReply::Kept);
    std::fs::remove_file(&pending).unwrap();
    assert_eq!(guard(&sandbox, GuardAction::Disarm), GuardReply::Disarmed);
    assert_ne!(sandbox.read(&path).as_deref(), Some(ADMINS));
    assert_eq!(guard(&sandbox, GuardAction::Disarm), GuardReply::Gone);
}

#[test]
fn a_truncated_script_runs_nothing() {
    let plan = offline_plan("reverse-forward", false);
    let probe = Sandbox::new(true);
    let len = script_in(&probe, &plan, Role::Server, phase::MAIN)
        .unwrap()
        .len();
    // Spread over the whole script, and the last bytes before the closing brace.
    let mut cuts: Vec<usize> = (1..40).map(|i| len * i / 40).collect();
    cuts.extend([len - 2, len - 3, len - 10]);
    for cut in cuts {
        let sandbox = Sandbox::new(true);
        let text = script_in(&sandbox, &plan, Role::Server, phase::MAIN).unwrap();
        let ran = sandbox.run(&text.as_bytes()[..cut]);
        assert!(
            ran.status != Some(0) && ran.stdout.is_empty(),
            "cut at {cut} of {len}: {ran}"
        );
        assert_eq!(sandbox.calls(), "", "cut at {cut} of {len}");
        assert_eq!(
            sandbox.files(),
            Vec::<String>::new(),
            "cut at {cut} of {len}"
        );
    }
}

/// `query` with every path it names under the sandbox's root, as the script must name them there.
fn rooted(query: &FactQuery, sandbox: &Sandbox) -> FactQuery {
    let under = |paths: &[String]| -> Vec<String> {
        (paths.iter())
            .map(|p| sandbox.path(p).to_str().unwrap().to_string())
            .collect()
    };
    FactQuery {
        files: under(&query.files),
        reads: under(&query.reads),
        keys: under(&query.keys),
        certificates: under(&query.certificates),
        tunnels: under(&query.tunnels),
        exists: under(&query.exists),
        private_files: under(&query.private_files),
        ..query.clone()
    }
}

/// The facts script of `query` run in `sandbox`, its output parsed.
fn gather(sandbox: &Sandbox, query: &FactQuery) -> Facts {
    let text = script::facts_under(&Templates::new(), query, sandbox.root()).unwrap();
    let ran = sandbox.run(&text);
    assert_eq!(ran.status, Some(0), "{ran}");
    protocol::parse_facts(&ran.stdout, &ran.stderr).unwrap_or_else(|e| panic!("{e}: {ran}"))
}

#[test]
fn the_facts_of_two_profiles_gathered_at_once_answer_each_as_if_gathered_alone() {
    let (rf, np) = (
        offline_plan("reverse-forward", false),
        offline_plan("nginx-proxy", false),
    );
    // One forwarding server, both profiles applied to it.
    let sandbox = Sandbox::new(true);
    run_all_phases(&sandbox, &rf, Role::Server);
    run_all_phases(&sandbox, &np, Role::Server);
    // reverse-forward's guard stays armed (no fresh login disarmed it), with an sshd reload pending;
    // nginx-proxy's apply arms none (it changes no sshd file there), and a restart is left in its journal.
    assert!(sandbox.state().join("guard").join(&rf.profile).is_dir());
    assert!(!sandbox.state().join("guard").join(&np.profile).exists());
    std::fs::write(
        sandbox.state().join("journal").join(&rf.profile),
        "reload ssh\n",
    )
    .unwrap();
    std::fs::write(
        sandbox.state().join("journal").join(&np.profile),
        "restart jprov-lab-proxy-tunnel.service\n",
    )
    .unwrap();
    let templates = Templates::new();
    let query = |example: &str| {
        let p = loaded(example).profile;
        let queries = jprov::desired::fact_queries(&p, &templates).unwrap();
        rooted(&queries[Role::Server], &sandbox)
    };
    let (a, b) = (query("reverse-forward"), query("nginx-proxy"));
    let both = gather(&sandbox, &jprov::desired::merged(&[&a, &b]));
    let (alone_a, alone_b) = (gather(&sandbox, &a), gather(&sandbox, &b));
    assert_eq!(both.answers_to(&a), alone_a);
    assert_eq!(both.answers_to(&b), alone_b);
    // Not vacuous: each profile's records are there, and only in its own answer.
    assert_eq!(alone_a.pending_reloads, ["ssh"]);
    assert!(alone_a.guard.is_some() && alone_a.pending_restarts.is_empty());
    assert_eq!(alone_b.pending_restarts, ["jprov-lab-proxy-tunnel.service"]);
    assert!(alone_b.guard.is_none() && alone_b.pending_reloads.is_empty());
    for alone in [&alone_a, &alone_b] {
        assert!(alone.state && !alone.backups.is_empty() && !alone.originals.is_empty());
        assert!(alone
            .files
            .values()
            .any(|f| matches!(f, jprov::facts::FileFact::File { .. })));
    }
    assert_ne!(alone_a.backups, alone_b.backups);
    assert_eq!(both.profiles.len(), 2);
    assert!(both.guard.is_none() && both.pending_reloads.is_empty());
}

/// The slow readers run in the background while the rest is read (ss, an sshd -T per user): each user's
/// effective settings come back as that user's, only the keywords asked, a real listener is found by ss
/// (the test's own socket, with its process name) and a free port is not, and the scratch directory they
/// wrote into is gone when the script exits.
#[test]
fn the_background_readers_answer_each_question_and_leave_nothing_behind() {
    let sandbox = Sandbox::new(false);
    sandbox.set(
        "sshd-T-jprov-a",
        "port 22\nallowtcpforwarding remote\npermitlisten 127.0.0.1:4000\nx11forwarding no\n",
    );
    sandbox.set(
        "sshd-T-admin",
        "allowtcpforwarding yes\nusedns no\npermittty yes\n",
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listening = listener.local_addr().unwrap().port();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let query = FactQuery {
        sshd_users: vec!["jprov-a".into(), "admin".into(), "nobody-asked".into()],
        sshd_keywords: jprov::resource::SSHD_KEYWORDS,
        listeners: vec![listening, free],
        ..FactQuery::default()
    };
    let facts = gather(&sandbox, &query);
    let effective: Vec<(&str, &str, &str)> = (facts.sshd.effective.iter())
        .map(|((user, key), value)| (user.as_str(), key.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        effective,
        [
            ("admin", "allowtcpforwarding", "yes"),
            ("admin", "permittty", "yes"),
            ("jprov-a", "allowtcpforwarding", "remote"),
            ("jprov-a", "permitlisten", "127.0.0.1:4000"),
            ("jprov-a", "x11forwarding", "no"),
        ]
    );
    let who = facts.listeners.get(&listening).map(String::as_str);
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(who, Some(me.trim()), "{:?}", facts.listeners);
    assert!(!facts.listeners.contains_key(&free));
    drop(listener);
    let left: Vec<_> = std::fs::read_dir(sandbox.tmp()).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// The facts script encodes every content and text it reports with one od at the end, whatever the number
/// of files (a shared server asks for hundreds): the files, the keys, the names of what apply kept and
/// the originals come back whole, each in its own record.
#[test]
fn the_facts_script_encodes_all_its_contents_with_one_od() {
    let plan = offline_plan("reverse-forward", false);
    let sandbox = Sandbox::new(true);
    run_all_phases(&sandbox, &plan, Role::Server);
    let p = loaded("reverse-forward").profile;
    let queries = jprov::desired::fact_queries(&p, &Templates::new()).unwrap();
    let mut query = rooted(&queries[Role::Server], &sandbox);
    query.sshd_users.clear();
    query.listeners.clear();
    let before = sandbox.calls().lines().count();
    let facts = gather(&sandbox, &query);
    let ods = (sandbox.calls().lines().skip(before))
        .filter(|call| call.starts_with("od "))
        .count();
    assert_eq!(ods, 1, "{}", sandbox.calls());
    let contents: Vec<_> = (facts.files.iter())
        .filter_map(|(path, file)| match file {
            jprov::facts::FileFact::File { content, .. } => Some((path, content)),
            _ => None,
        })
        .collect();
    assert!(contents.len() >= 2, "{:?}", facts.files.keys());
    for (path, content) in contents {
        let on_disk = std::fs::read(path).unwrap();
        assert_eq!(content, &on_disk, "{path}");
    }
    assert!(!facts.backups.is_empty() && !facts.originals.is_empty());
    let home = sandbox
        .tmp()
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(facts.home, home);
}

/// A facts script ended by a signal while its readers still run (a cut connection: SIGPIPE at its next
/// write, or SIGHUP, SIGTERM, SIGINT) leaves no scratch directory behind.
#[test]
fn a_facts_script_ended_by_a_signal_leaves_no_scratch_directory() {
    use std::io::Write;
    let query = FactQuery {
        sshd_users: vec!["admin".into()],
        sshd_keywords: jprov::resource::SSHD_KEYWORDS,
        ..FactQuery::default()
    };
    for signal in [libc::SIGPIPE, libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
        let sandbox = Sandbox::new(false);
        sandbox.set("sshd-T-hangs", "");
        let text = script::facts_under(&Templates::new(), &query, sandbox.root()).unwrap();
        let mut child = sandbox.spawn();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let started = std::time::Instant::now();
        while std::fs::read_dir(sandbox.tmp()).unwrap().next().is_none() {
            assert!(
                started.elapsed().as_secs() < 10,
                "no scratch directory made"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().unwrap();
        assert_ne!(status.code(), Some(0), "signal {signal}");
        let left: Vec<_> = std::fs::read_dir(sandbox.tmp()).unwrap().collect();
        assert!(left.is_empty(), "signal {signal}: left {left:?}");
    }
}
