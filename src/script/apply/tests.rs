use super::*;
use crate::plan::{FileChange, FileRemoval, LinkChange, UnitAction};
use crate::resource::{
    CertificateSource, Directory, ManagedFile, Rename, Role, Secrecy, Service, UnitScope,
    Validation,
};

fn file(path: &str, content: Content) -> ManagedFile {
    ManagedFile {
        path: path.into(),
        content,
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
        dir_mode: 0o755,
        secrecy: Secrecy::Public,
        line_tag: None,
    }
}

fn file_change(path: &str, action: FileAction, content: Content) -> FileChange {
    FileChange {
        path: path.into(),
        action,
        reason: String::new(),
        mode: "0644".into(),
        owner: "root".into(),
        diff: String::new(),
        file: file(path, content),
    }
}

fn removal(path: &str, how: Removal) -> FileRemoval {
    FileRemoval {
        path: path.into(),
        how,
        reason: String::new(),
        diff: String::new(),
    }
}

fn certificate() -> Certificate {
    Certificate {
        domain: "jupyter.lan".into(),
        source: CertificateSource::SelfSigned,
        command: vec![
            "openssl".into(),
            "req".into(),
            "-keyout".into(),
            "/c/k.new".into(),
        ],
        fullchain: "/c/fullchain.pem".into(),
        directory: Some(Directory {
            path: "/c".into(),
            mode: 0o700,
            owner: "alice".into(),
            group: String::new(),
        }),
        umask: 0o077,
        renames: vec![Rename {
            from: "/c/k.new".into(),
            to: "/c/k".into(),
            mode: 0o600,
        }],
        reload: Some(Service::Nginx),
    }
}

/// One change of every kind the planners make, creation first, then a teardown's.
fn every_change() -> Vec<Change> {
    let mut changes = setup_changes();
    changes.extend(teardown_changes());
    changes
}

/// Writing an sshd group: a file, a file whose content comes later, and a link.
fn sshd_group_change(dropin: &str) -> Change {
    Change::WriteFiles {
        label: "sshd drop-in".into(),
        files: vec![
            file_change(
                dropin,
                FileAction::Create,
                Content::Known("Match User x\n".into()),
            ),
            file_change(
                "/etc/later",
                FileAction::Pending,
                Content::Pending("key".into()),
            ),
        ],
        links: vec![LinkChange {
            path: "/etc/ssh/link".into(),
            target: "/etc/ssh/target".into(),
            reason: String::new(),
        }],
        validate: Some(Validation::Sshd),
        reload: Some(Service::Ssh),
    }
}

/// One change of every kind that sets things up.
fn setup_changes() -> Vec<Change> {
    let dropin = "/etc/ssh/sshd_config.d/01-jprov-t.conf";
    vec![
        Change::CreateAccount {
            name: "jprov-tunnel".into(),
            home: "/nonexistent".into(),
            shell: "/usr/sbin/nologin".into(),
            create_home: false,
        },
        Change::GenerateKey {
            path: "/home/alice/.ssh/jprov-t".into(),
            owner: "alice".into(),
            comment: "jprov:t".into(),
        },
        sshd_group_change(dropin),
        Change::Reload {
            service: Service::Ssh,
            reason: String::new(),
        },
        Change::Reload {
            service: Service::Nginx,
            reason: String::new(),
        },
        Change::ResolveGuard {
            ticking: true,
            reason: String::new(),
        },
        Change::ObtainCertificate {
            domain: "jupyter.lan".into(),
            source: CertificateSource::SelfSigned,
            how: String::new(),
            command: String::new(),
            fullchain: "/c/fullchain.pem".into(),
            reason: String::new(),
            certificate: certificate(),
        },
        Change::StartTunnel {
            user: "alice".into(),
            command: String::new(),
            reason: String::new(),
            argv: vec!["ssh".into(), "-N".into(), "it's".into()],
            pid_file: "/home/alice/.local/state/jprov/t-tunnel.pid".into(),
        },
        Change::EnableLinger {
            user: "alice".into(),
            reason: String::new(),
        },
        Change::RunCommand {
            label: "fetch the certificate".into(),
            command: String::new(),
            reason: String::new(),
            argv: vec!["sh".into(), "/home/alice/fetch.sh".into()],
        },
        Change::Unit {
            name: "jprov-t-jupyter.service".into(),
            scope: UnitScope::User,
            label: String::new(),
            enable: true,
            action: Some(UnitAction::Restart),
            reason: String::new(),
        },
    ]
}

/// One change of every kind a teardown makes.
fn teardown_changes() -> Vec<Change> {
    let dropin = "/etc/ssh/sshd_config.d/01-jprov-t.conf";
    vec![
        Change::StopUnit {
            name: "jprov-t-tunnel.service".into(),
            scope: UnitScope::System,
            label: String::new(),
            reason: String::new(),
        },
        Change::StopTunnel {
            user: "alice".into(),
            pid_file: "/home/alice/.local/state/jprov/t-tunnel.pid".into(),
            running: true,
            reason: String::new(),
        },
        Change::RemoveFiles {
            label: "sshd drop-in".into(),
            files: vec![
                removal(dropin, Removal::Delete),
                removal("/etc/ssh/kept", Removal::Restore { original: None }),
                removal(
                    "/etc/ssh/keys",
                    Removal::RemoveLine {
                        tag: "jprov:t".into(),
                        file: file("/etc/ssh/keys", Content::Known("other\n".into())),
                    },
                ),
            ],
            validate: Some(Validation::Sshd),
            reload: Some(Service::Ssh),
            dirs: vec!["/etc/ssh/jprov".into()],
        },
        Change::RemoveCertificate {
            domain: "jupyter.lan".into(),
            files: vec!["/c/k".into(), "/c/fullchain.pem".into()],
            dirs: vec!["/c".into()],
            reason: String::new(),
        },
        Change::RemoveKey {
            path: "/home/alice/.ssh/jprov-t".into(),
            reason: String::new(),
        },
        Change::RemoveAccount {
            name: "jprov-cert".into(),
            remove_home: true,
            home: "/var/lib/jprov-cert".into(),
            reason: String::new(),
            shared_keys: Some("/etc/ssh/jprov/jprov-cert.keys".into()),
        },
        Change::Forget {
            reason: String::new(),
        },
    ]
}

fn host(changes: Vec<Change>) -> HostPlan {
    HostPlan {
        role: Role::Server,
        address: "local".into(),
        changes,
        notes: vec![],
        checks: vec![],
        problems: vec![],
        sshd_intent: vec![],
        facts_digest: String::new(),
    }
}

/// Every phase's script of `changes`, concatenated.
fn all_phases(changes: Vec<Change>) -> String {
    let run = Run {
        profile: "t",
        guard_seconds: 60,
        root: Root::HOST,
    };
    let host = host(changes);
    (0..=crate::plan::phase::LAST)
        .filter_map(|phase| apply(&run, &host, phase).unwrap().map(|s| s.text))
        .collect()
}

fn syntax_check(shell: &str, script: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = std::process::Command::new(shell)
        .arg("-n")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_change_but_the_guard_resolution_is_one_step_of_library_calls() {
    let changes = every_change();
    let steps = changes.len() - 1;
    let text = all_phases(changes);
    syntax_check("sh", &text);
    syntax_check("dash", &text);
    let done = text.lines().filter(|l| l.starts_with("say_done ")).count();
    assert_eq!(done, steps, "ResolveGuard is no step");
    for function in [
        "create_account",
        "generate_key",
        "group_begin",
        "backup",
        "guard_arm",
        "put_file",
        "put_link",
        "validate",
        "reload",
        "say_guard_armed",
        "reload_pending_ssh",
        "own_dir",
        "obtain_certificate",
        "place_new",
        "start_tunnel",
        "enable_linger",
        "run_command",
        "unit_enable",
        "unit_start",
        "stop_unit",
        "stop_tunnel",
        "remove_path",
        "restore_original",
        "remove_dirs",
        "remove_certificate",
        "remove_key",
        "remove_account",
        "forget",
        "check_started",
    ] {
        let call = format!("\n{function} ");
        let bare = format!("\n{function}\n");
        assert!(
            text.contains(&call) || text.contains(&bare),
            "no call of {function}"
        );
        assert!(
            crate::script::HOST_LIB.contains(&format!("\n{function}() {{"))
                || function.starts_with("say_"),
            "{function} is not a library function"
        );
    }
    // A pending file is not written; the digests the guard expects are what jprov writes.
    assert!(!text.contains("/etc/later"));
    let digest = content_digest(b"Match User x\n");
    assert!(text.contains(&format!(
        "guard_arm 60 /etc/ssh/sshd_config.d/01-jprov-t.conf {digest} /etc/ssh/link {}",
        link_digest("/etc/ssh/target")
    )));
    assert!(text.contains(
        "guard_arm 60 /etc/ssh/sshd_config.d/01-jprov-t.conf absent /etc/ssh/kept original /etc/ssh/keys "
    ));
    // Every argument is quoted.
    assert!(text.contains("start_tunnel alice /home/alice/.local/state/jprov/t-tunnel.pid "));
    assert!(text.contains(" ssh -N \"it's\"\n"), "{text}");
}

#[test]
fn only_the_changes_of_the_phase_and_no_script_without_a_step() {
    let run = Run {
        profile: "t",
        guard_seconds: 60,
        root: Root::HOST,
    };
    let guard_only = host(vec![Change::ResolveGuard {
        ticking: false,
        reason: String::new(),
    }]);
    for phase in 0..=crate::plan::phase::LAST {
        assert!(apply(&run, &guard_only, phase).unwrap().is_none());
    }
    let both = host(every_change());
    let stop = apply(&run, &both, crate::plan::phase::STOP)
        .unwrap()
        .unwrap()
        .text;
    assert!(stop.contains("\nstop_unit ") && !stop.contains("\nforget\n"));
}

#[test]
fn a_root_prefixes_every_path_and_nothing_else() {
    let host = host(every_change());
    let run = Run {
        profile: "t",
        guard_seconds: 60,
        root: Root::under("/tmp/r"),
    };
    let main = apply(&run, &host, crate::plan::phase::MAIN)
        .unwrap()
        .unwrap()
        .text;
    assert!(main.contains("\nJPROV_ROOT=/tmp/r\n"));
    assert!(
        main.contains("\nput_file /tmp/r/etc/ssh/sshd_config.d/01-jprov-t.conf 644 root root 755 ")
    );
    // A link's target and a command's argv are what they are on the host.
    assert!(main.contains("\nput_link /tmp/r/etc/ssh/link /etc/ssh/target\n"));
    assert!(
        main.contains(" -- openssl req -keyout /c/k.new\n"),
        "{main}"
    );
    assert!(main.contains("\nplace_new /tmp/r/c/k.new /tmp/r/c/k 600 alice ''\n"));
}

#[test]
fn a_nul_byte_is_refused_not_sent() {
    let run = Run {
        profile: "t",
        guard_seconds: 60,
        root: Root::HOST,
    };
    let host = host(vec![Change::RunCommand {
        label: "x".into(),
        command: String::new(),
        reason: String::new(),
        argv: vec!["a\0b".into()],
    }]);
    let error = apply(&run, &host, crate::plan::phase::LATE).unwrap_err();
    assert!(error.to_string().contains("`run_command`"), "{error}");
}
