use super::*;
use std::process::Command;

/// Arguments each emitter is called with in `every_emitter_prints_a_line_that_parses_back_to_its_kind`.
fn sample_args(function: &str) -> &'static [&'static str] {
    const HEX: &str = "2f6574632f78"; // "/etc/x"
    match function {
        "say_error" => &["it broke: /etc/x"],
        "fact_home" => &[HEX],
        "say_done" => &["3"],
        "say_reloaded" => &["ssh"],
        "say_guard_armed" => &["60"],
        "say_invalid" | "say_check_invalid" => &["sshd", "line 1: Bad configuration option"],
        "say_check_ok" => &["nginx"],
        "say_effective" => &["alice", "67617465776179706f727473206e6f"],
        "say_sources" => &[HEX],
        "fact_backups" | "fact_originals_absent" => &["lab", HEX],
        "fact_records" | "fact_state" => &["lab"],
        "fact_uid" => &["1000"],
        "fact_systemd" | "fact_linger" | "fact_linger_sudo" => &["no"],
        "fact_file_missing" | "fact_exists" => &[HEX],
        "fact_file_link" => &[HEX, "/etc/nginx/sites-available/x"],
        "fact_file_other" => &[HEX, "directory"],
        "fact_file" => &[HEX, "644", "root", "root", "6869"],
        "fact_original_file" => &["lab", HEX, "644", "root", "root", "6869"],
        "fact_read" | "fact_key" => &[HEX, "6869"],
        "fact_account" => &["jprov-tunnel", "yes"],
        "fact_certificate" => &[HEX, "expiring"],
        "fact_tunnel" => &[HEX, "running", "0123abcd"],
        "fact_unit" => &["user", "jprov-t-jupyter.service", "enabled", "active"],
        "fact_executable" => &[HEX, "yes"],
        "fact_resolves" => &[HEX, "no"],
        "fact_private_missing" => &[HEX],
        "fact_private_other" => &[HEX, "directory"],
        "fact_private_file" => &[HEX, "600", "alice", "yes"],
        "fact_python" => &[HEX, "none", ""],
        "fact_listening" => &["8888", "sshd"],
        "fact_pending" => &["lab", "reload", "ssh"],
        "fact_guard" => &["lab", "ticking"],
        "fact_original_link" => &["lab", HEX, "/etc/x"],
        _ => &[],
    }
}

fn run_sh(script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_emitter_prints_a_line_that_parses_back_to_its_kind() {
    let mut script = shell();
    for e in EMITTERS {
        let args: Vec<String> = sample_args(e.function)
            .iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect();
        let placeholders = e.format.split(' ').filter(|w| w.starts_with('%')).count();
        assert_eq!(args.len(), placeholders, "{}: sample arguments", e.function);
        script.push_str(&format!("{} {}\n", e.function, args.join(" ")));
    }
    let output = run_sh(&script);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), EMITTERS.len(), "{output}");
    for (e, text) in EMITTERS.iter().zip(lines) {
        let line = Line::parse(1, text).unwrap_or_else(|u| panic!("{}: {u}", e.function));
        assert_eq!(line.emitter(), e.function, "{text}");
    }
}

#[test]
fn hex_fields_carry_any_text_and_fixed_words_need_no_quoting() {
    let output = run_sh(&format!(
        "{}say_error \"it's 100% \\\\n broken\"\nsay_invalid nginx ''\n",
        shell()
    ));
    let lines = parse_all(&output).unwrap();
    assert_eq!(
        lines,
        [
            Line::Error("it's 100% \\n broken".into()),
            Line::Invalid {
                program: "nginx".into(),
                output: String::new()
            }
        ]
    );
    for e in EMITTERS {
        assert!(
            !e.format.contains(['\'', '\\'])
                && e.format.matches('%').count() == {
                    e.format
                        .split(' ')
                        .filter(|w| *w == "%s" || *w == "%h")
                        .count()
                },
            "{}: a format holds fixed words and %s/%h fields only",
            e.function
        );
    }
}

#[test]
fn emitters_are_named_once() {
    let mut names: Vec<&str> = EMITTERS.iter().map(|e| e.function).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EMITTERS.len());
}

#[test]
fn an_unknown_line_is_an_error_for_every_reader() {
    let stray = "Created symlink /etc/systemd/system/x.service";
    let outcome = parse_outcome(&format!("jprov-done 1\n{stray}\njprov-finished\n"));
    assert!(
        matches!(&outcome.failure, Some(Failure::Unknown(u)) if u.number == 2 && u.text == stray),
        "{outcome:?}"
    );
    // A line of another script is no better.
    let outcome = parse_outcome("jprov-done 1\ncheck end\njprov-finished\n");
    assert!(matches!(outcome.failure, Some(Failure::Unknown(_))));
    assert!(matches!(
        parse_guard_reply(&format!("{stray}\njprov-guard-disarmed\n")),
        GuardReply::Failed(m) if m.contains("Created symlink")
    ));
    assert!(matches!(
        parse_guard_reply("jprov-guard-disarmed\njprov-guard-gone\n"),
        GuardReply::Failed(_)
    ));
    assert_eq!(
        parse_check(&format!("check sshd ok\n{stray}\ncheck end\n"))
            .unwrap_err()
            .number,
        2
    );
    assert!(parse_check("jprov-done 1\n").is_err());
    let facts = parse_facts(&format!("jprov-facts 1\n{stray}\nend\n"), "");
    assert!(matches!(facts, Err(crate::protocol::FactsError::Malformed(u)) if u.number == 2));
    // A field that does not decode makes the line unknown too.
    assert!(Line::parse(1, "jprov-done three").is_err());
    assert!(Line::parse(1, "systemd maybe").is_err());
    assert!(Line::parse(1, "").is_err());
}

#[test]
fn a_script_error_is_reported_by_every_reader() {
    let error = format!("jprov-error {}", hex::encode("cannot lock"));
    let outcome = parse_outcome(&format!("jprov-done 1\n{error}\n"));
    assert_eq!(outcome.failure, Some(Failure::Error("cannot lock".into())));
    assert_eq!(outcome.steps_done, 1);
    assert_eq!(
        parse_guard_reply(&format!("{error}\n")),
        GuardReply::Failed("cannot lock".into())
    );
    let report = parse_check(&format!("{error}\n")).unwrap();
    assert_eq!(report.error.as_deref(), Some("cannot lock"));
    assert!(!report.complete);
    assert!(matches!(
        parse_facts(&format!("jprov-facts 1\n{error}\n"), ""),
        Err(crate::protocol::FactsError::Failed(m)) if m == "cannot lock"
    ));
    // A facts script that stopped after naming a blob, before its blob section: still its error.
    assert!(matches!(
        parse_facts(&format!("jprov-facts 1\nhome @0\n{error}\n"), ""),
        Err(crate::protocol::FactsError::Failed(m)) if m == "cannot lock"
    ));
}

/// A facts output with its blob section parses as if every content had been encoded in its record; one
/// whose bytes disagree with the sizes is an error, not facts.
#[test]
fn facts_with_deferred_contents_parse_as_if_encoded_in_place() {
    let path = hex::encode("/etc/x");
    let deferred = format!(
        "jprov-facts 1\nhome @0\nfile {path} file 644 root root @1\n\
         blob-sizes 5 2\nblobs\n 2f 72 6f 6f 74 68 69\nblobs-end\nend\n"
    );
    let in_place = format!(
        "jprov-facts 1\nhome {}\nfile {path} file 644 root root {}\nend\n",
        hex::encode("/root"),
        hex::encode("hi")
    );
    assert_eq!(
        parse_facts(&deferred, "").unwrap(),
        parse_facts(&in_place, "").unwrap()
    );
    let changed = deferred.replace("blob-sizes 5 2", "blob-sizes 5 3");
    assert!(matches!(
        parse_facts(&changed, ""),
        Err(crate::protocol::FactsError::Blobs(
            crate::protocol::BlobError::Changed { .. }
        ))
    ));
}

#[test]
fn outcomes_and_replies_parse() {
    let outcome = parse_outcome(
        "jprov-done 1\njprov-reloaded ssh\njprov-guard-armed 60\njprov-done 2\njprov-finished\n",
    );
    assert_eq!(
        outcome,
        Outcome {
            steps_done: 2,
            reloaded: vec!["ssh".into()],
            finished: true,
            guard_armed: true,
            failure: None
        }
    );
    let invalid = format!("jprov-invalid sshd {}", hex::encode("bad"));
    assert_eq!(
        parse_outcome(&invalid).failure,
        Some(Failure::Invalid {
            program: "sshd".into(),
            output: "bad".into()
        })
    );
    assert_eq!(parse_guard_reply("jprov-guard-kept\n"), GuardReply::Kept);
    assert_eq!(parse_guard_reply("jprov-guard-fired\n"), GuardReply::Fired);
    assert!(matches!(parse_guard_reply(""), GuardReply::Failed(_)));
}

#[test]
fn a_python_record_keeps_only_its_own_report_lines() {
    let hexed = |s: &str| hex::encode(s);
    let report =
        "hello from a sitecustomize\njprov-virtualenv yes\njprov-version jupyterlab 4.6.6\n\
                  jprov-version jupyter_collaboration -\njprov-version broken\n\u{fffd}\n";
    let line = format!(
        "python {} {} {}",
        hexed("/opt/jupyter/bin/jupyter"),
        hexed("/opt/jupyter/bin/python3"),
        hexed(report)
    );
    let Line::Fact(Fact::Python { program, fact }) = Line::parse(1, &line).unwrap() else {
        panic!("{line}")
    };
    assert_eq!(program, "/opt/jupyter/bin/jupyter");
    assert_eq!(
        fact.interpreter.as_deref(),
        Some("/opt/jupyter/bin/python3")
    );
    assert!(fact.virtualenv);
    assert_eq!(
        fact.versions.into_iter().collect::<Vec<_>>(),
        [
            ("jupyter_collaboration".to_string(), None),
            ("jupyterlab".to_string(), Some("4.6.6".to_string()))
        ]
    );
    // No interpreter found, and nothing reported.
    let line = format!("python {} none ", hexed("jupyter"));
    let Line::Fact(Fact::Python { fact, .. }) = Line::parse(1, &line).unwrap() else {
        panic!("{line}")
    };
    assert_eq!(fact, crate::facts::PythonFact::default());
    // Bytes that are not UTF-8 in the report are no error; a program that is not hex is.
    let line = format!("python {} none ff00", hexed("jupyter"));
    assert!(Line::parse(1, &line).is_ok());
    assert!(Line::parse(1, "python zz none ").is_err());
}

#[test]
fn each_profile_s_records_are_its_own_and_one_profile_s_are_the_core_s() {
    let name = hex::encode("%etc%ssh%x");
    let two = format!(
        "jprov-facts 1\nrecords lab-a\npending lab-a reload ssh\nstate lab-a yes\nguard lab-a armed ticking\n\
         backups lab-a {name}\nrecords lab-b\nbackups lab-b \noriginals-absent lab-b {name}\nend\n"
    );
    let facts = parse_facts(&two, "").unwrap();
    let (a, b) = (&facts.profiles["lab-a"], &facts.profiles["lab-b"]);
    assert_eq!(a.pending_reloads, ["ssh"]);
    assert!(a.state && a.guard.is_some() && a.backups.contains("%etc%ssh%x"));
    assert!(!b.state && b.guard.is_none() && b.backups.is_empty());
    assert_eq!(b.originals["%etc%ssh%x"], crate::facts::FileFact::Missing);
    // Two profiles: no one profile's records are the core's.
    assert!(facts.pending_reloads.is_empty() && facts.guard.is_none() && !facts.state);
    // One: its records are.
    let one =
        "jprov-facts 1\nrecords lab-a\npending lab-a restart j.service\nstate lab-a yes\nend\n";
    let facts = parse_facts(one, "").unwrap();
    assert_eq!(facts.pending_restarts, ["j.service"]);
    assert!(facts.state);
    // A record without its profile is no record.
    assert!(Line::parse(1, "state yes").is_err());
    assert!(Line::parse(1, "pending reload ssh").is_err());
}
