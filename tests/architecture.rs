//! The structural rules of ARCHITECTURE.md, kept by a test: the core cannot reach the hosts.
//!
//! Everything that touches a host or a process lives under src/host/. Only the wiring (`cli.rs`, `lib.rs`,
//! `main.rs`, and `error.rs`, the one error that every layer's error converts into) may name it; every other module of the crate (profile, desired state, facts, plan, scripts,
//! templates) is pure, so plan and its tests never need a host.
//!
//! `src/verify/` (`jprov verify`) is shell too, of another kind: it talks to the URL a profile exposes, from
//! outside, and never to the hosts. It may use the core; the core never uses it, and it never uses `host/`
//! (nor ssh2), so verify cannot log in anywhere.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Lines of `text` that use the host layer (`crate::host`, `super::host`, `host::...` paths), comments aside.
fn host_uses(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.starts_with("//"))
        .filter(|line| line.contains("crate::host") || line.contains("jprov::host"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_core_imports_nothing_that_touches_a_host() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wiring = ["cli.rs", "lib.rs", "main.rs", "error.rs"].map(|f| src.join(f));
    let mut offenders = vec![];
    let mut core_files = 0;
    for file in rust_files(&src) {
        if file.starts_with(src.join("host"))
            || file == src.join("host.rs")
            || wiring.contains(&file)
            || file.starts_with(src.join("cli"))
        {
            continue;
        }
        core_files += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        for line in host_uses(&text) {
            offenders.push(format!(
                "{}: {line}",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        core_files > 10,
        "found only {core_files} core files under {}",
        src.display()
    );
    assert!(
        offenders.is_empty(),
        "the core must not import the host layer (ARCHITECTURE.md, Invariants):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_core_returns_its_own_errors_not_the_top_level_one() {
    // error.rs knows every layer (the host's errors too): a core module that returned it would depend on them.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wiring = ["cli.rs", "lib.rs", "main.rs", "error.rs"].map(|f| src.join(f));
    let offenders: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|f| {
            !f.starts_with(src.join("host"))
                && *f != src.join("host.rs")
                && !wiring.contains(f)
                && !f.starts_with(src.join("cli"))
        })
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("crate::error"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_rule_sees_a_host_import() {
    // The check above can fail: a core file that names the host layer is found.
    assert_eq!(
        host_uses(
            "use crate::desired;\nuse crate::host::ssh::Target;\n// crate::host in a comment\n"
        ),
        ["use crate::host::ssh::Target;"]
    );
}

#[test]
fn no_function_in_src_is_longer_than_a_reader_can_hold() {
    const LIMIT: usize = 80;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = vec![];
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (name, lines) in function_lengths(&text) {
            if lines > LIMIT {
                long.push(format!(
                    "{}: fn {name}: {lines} lines",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LIMIT} lines:\n{}",
        long.join("\n")
    );
}

/// (name, lines) of each `fn` whose body starts on its signature's lines, measured by brace depth; test
/// modules count too. Good enough for rustfmt-formatted code.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = vec![];
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "async fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p)) else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i32;
        let mut opened = false;
        for (offset, body_line) in lines[start..].iter().enumerate() {
            for c in body_line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            // A declaration without a body (trait method) ends at its `;`.
            if !opened && body_line.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                found.push((name.clone(), offset + 1));
                break;
            }
        }
    }
    found
}

#[test]
fn function_lengths_are_measured() {
    let text = "fn a() {\n    let x = 1;\n}\n\npub fn b(\n    y: u8,\n) -> u8 {\n    if y > 0 {\n        y\n    } else {\n        0\n    }\n}\n";
    assert_eq!(
        function_lengths(text),
        [("a".to_string(), 3), ("b".to_string(), 9)]
    );
}

/// Lines of `text` that name `needle`, comments aside.
fn uses(text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.starts_with("//"))
        .filter(|line| line.contains(needle))
        .map(str::to_string)
        .collect()
}

fn is_verify(src: &Path, file: &Path) -> bool {
    file.starts_with(src.join("verify")) || file == src.join("verify.rs")
}

#[test]
fn verify_never_touches_the_hosts_and_the_core_never_uses_verify() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let wiring = ["cli.rs", "lib.rs", "main.rs", "error.rs"].map(|f| src.join(f));
    let (mut verify_files, mut offenders) = (0, vec![]);
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(&src).unwrap().display().to_string();
        if is_verify(&src, &file) {
            verify_files += 1;
            for needle in ["crate::host", "jprov::host", "ssh2", "crate::error"] {
                offenders.extend(
                    uses(&text, needle)
                        .into_iter()
                        .map(|l| format!("{shown}: {l}")),
                );
            }
        } else if !wiring.contains(&file) {
            offenders.extend(
                uses(&text, "crate::verify")
                    .into_iter()
                    .map(|l| format!("{shown}: {l}")),
            );
        }
    }
    assert!(
        verify_files >= 5,
        "found only {verify_files} files of src/verify"
    );
    assert!(
        offenders.is_empty(),
        "verify talks to the URL only (never host/, ssh2 or the top-level error), and only the wiring \
         names verify (ARCHITECTURE.md):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_verify_rule_sees_what_it_forbids() {
    assert_eq!(
        uses(
            "use crate::host::ssh;\n// crate::host\nlet s = ssh2::Session::new();\n",
            "ssh2"
        ),
        ["let s = ssh2::Session::new();"]
    );
}
