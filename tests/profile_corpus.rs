//! The profile corpus: bad profiles generated from the real `Profile` type, each of which must be refused
//! with the field and its line, without echoing the value, and nothing planned.
//!
//! The fields come from serializing fully populated profiles (the examples in profiles/ with every optional
//! field set) and walking the tree, so a field added later is covered without touching this file; the
//! unknown-key errors list each struct's fields, and `every_field_is_populated` fails when a new one is not
//! set below. Every string leaf meets every injection class, every number the numeric edges, every key and
//! mapping the YAML tricks, every mapping an unknown key, every list its bound. Almost all cases go through
//! the real loader in-process; a sample goes through `jprov plan --offline` to prove the exit code and
//! stderr.

use jprov::profile::{
    self, Access, BasicAuthAccount, Collaborator, Profile, ProfileError, Tls, MAX_BYTES,
    MAX_LIST_ENTRIES,
};
use jprov::resource::{Content, Item};
use jprov::value::{AbsPath, Email, HttpsUrl, IpAddress, LocalPath};
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HASH: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
/// What of the examples' hash must never appear in an error.
const HASH_DIGEST: &str = "a68df677475c2b47b6e86d0467eec97ac5f4b85a";

fn valid<T: TryFrom<String, Error = String>>(s: &str) -> T {
    T::try_from(s.to_string()).unwrap()
}

fn example(name: &str) -> Profile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name);
    profile::load(&path).unwrap().profile
}

/// The examples with every optional field set. Between them every field of every struct is present.
fn populated() -> Vec<Profile> {
    let mut rf = example("reverse-forward.yaml");
    rf.server.as_mut().unwrap().identity_file = Some(valid::<LocalPath>("keys/admin"));
    rf.workstation.identity_file = Some(valid::<LocalPath>("~/.ssh/id_alice"));
    rf.workstation.home = Some(valid::<AbsPath>("/home/alice"));
    rf.jupyter.base_url = valid("/jupyter/");
    rf.tunnel.peer_address = Some(valid("gateway.internal"));
    rf.jupyter.command = Some(valid::<AbsPath>("/opt/jupyter/bin/jupyter"));
    rf.jupyter.collaboration = true;
    rf.jupyter.collaborators = vec![Collaborator {
        name: valid("Ada Lovelace"),
        username: valid("ada"),
        password_hash: valid(HASH),
    }];
    rf.tls = Some(Tls::Letsencrypt {
        email: valid::<Email>("admin@example.org"),
        server: Some(valid::<HttpsUrl>("https://acme.example.org:14000/dir")),
        ca_bundle: Some(valid::<AbsPath>("/etc/ssl/acme-ca.pem")),
    });
    let mut np = example("nginx-proxy.yaml");
    np.jupyter.virtualenv = Some(valid::<AbsPath>("/opt/venvs/jupyter"));
    np.tls = Some(Tls::Files {
        cert: valid("/etc/ssl/jupyter/fullchain.pem"),
        key: valid("/etc/ssl/jupyter/privkey.pem"),
    });
    let basic_auth_hash = jprov::password::htpasswd::hash_password("alice's basic auth").unwrap();
    np.access = Access {
        basic_auth: Some(vec![BasicAuthAccount {
            username: valid("alice"),
            htpasswd_hash: valid(&basic_auth_hash),
            password: None,
        }]),
        allow: Some(vec![valid("10.0.0.0/8"), valid("2001:db8::/32")]),
    };
    let mut ss = example("self-signed.yaml");
    ss.workstation.host = "local".to_string().try_into().unwrap();
    let Some(Tls::SelfSigned { addresses, .. }) = &mut ss.tls else {
        panic!("self-signed.yaml is not self-signed")
    };
    *addresses = vec![valid::<IpAddress>("10.0.0.5"), valid("fd00::5")];
    let lan = example("lan.yaml");
    let mut lf = example("local-forward.yaml");
    lf.workstation.port = Some(jprov::value::Port::new(2222));
    let mut ngrok = example("ngrok.yaml");
    ngrok.ngrok.as_mut().unwrap().command = Some(valid::<AbsPath>("/usr/local/bin/ngrok"));
    vec![rf, np, ss, lan, lf, ngrok]
}

/// One line of an emitted profile: `prefix` then, for a leaf, its scalar.
#[derive(Clone, Debug)]
struct Line {
    /// The dotted field the line holds (`server.port`, `tls.self_signed.addresses[1]`); "" for none.
    path: String,
    prefix: String,
    leaf: Option<Value>,
    /// A mapping's key line (its fields follow, indented).
    mapping: bool,
}

/// A profile as block-style YAML, one field per line, so each field's line is known without the loader.
#[derive(Clone, Debug)]
struct Doc {
    lines: Vec<Line>,
}

impl Doc {
    fn of(p: &Profile) -> Doc {
        let tree = serde_yaml::to_value(p).unwrap();
        let mut lines = vec![];
        emit_mapping(tree.as_mapping().unwrap(), "", "", &mut lines);
        Doc { lines }
    }

    fn text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(&line.prefix);
            if let Some(leaf) = &line.leaf {
                text.push_str(&scalar(leaf));
            }
            text.push('\n');
        }
        text
    }

    /// The 1-based line of a field.
    fn line_of(&self, path: &str) -> usize {
        1 + self.lines.iter().position(|l| l.path == path).unwrap()
    }

    fn with_leaf(&self, path: &str, text: &str) -> String {
        self.edited(path, |line| {
            line.leaf = None;
            line.prefix.push_str(text);
        })
    }

    fn edited(&self, path: &str, edit: impl FnOnce(&mut Line)) -> String {
        let mut doc = self.clone();
        let index = self.line_of(path) - 1;
        edit(&mut doc.lines[index]);
        doc.text()
    }

    fn inserted(&self, after: usize, line: &str) -> String {
        let mut doc = self.clone();
        let new = Line {
            path: String::new(),
            prefix: line.to_string(),
            leaf: None,
            mapping: false,
        };
        doc.lines.insert(after, new);
        doc.text()
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn emit_mapping(map: &serde_yaml::Mapping, pad: &str, parent: &str, out: &mut Vec<Line>) {
    for (key, value) in map {
        let key = key.as_str().expect("string keys");
        let path = join(parent, key);
        let line = |prefix: String, leaf: Option<Value>, mapping: bool| Line {
            path: path.clone(),
            prefix,
            leaf,
            mapping,
        };
        match value {
            Value::Null => {} // an unset optional field: `every_field_is_populated` keeps these few
            Value::Mapping(m) if !m.is_empty() => {
                out.push(line(format!("{pad}{key}:"), None, true));
                emit_mapping(m, &format!("{pad}  "), &path, out);
            }
            Value::Sequence(items) if items.iter().all(Value::is_mapping) && !items.is_empty() => {
                // A list of mappings: each item's first key on the `- ` line, the rest under it.
                out.push(line(format!("{pad}{key}:"), None, false));
                for (i, item) in items.iter().enumerate() {
                    let first = out.len();
                    let item_pad = format!("{pad}    ");
                    emit_mapping(
                        item.as_mapping().unwrap(),
                        &item_pad,
                        &format!("{path}[{i}]"),
                        out,
                    );
                    let rest = out[first].prefix[item_pad.len()..].to_string();
                    out[first].prefix = format!("{pad}  - {rest}");
                }
            }
            Value::Sequence(items) if !items.is_empty() => {
                out.push(line(format!("{pad}{key}:"), None, false));
                for (i, item) in items.iter().enumerate() {
                    out.push(Line {
                        path: format!("{path}[{i}]"),
                        prefix: format!("{pad}  - "),
                        leaf: Some(item.clone()),
                        mapping: false,
                    });
                }
            }
            leaf => out.push(line(format!("{pad}{key}: "), Some(leaf.clone()), false)),
        }
    }
}

/// A scalar as YAML: strings double-quoted (a JSON string is a YAML double-quoted scalar, escapes
/// included), so any payload reaches the loader intact.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Sequence(_) => "[]".into(),
        Value::Mapping(_) => "{}".into(),
        other => panic!("unexpected leaf {other:?}"),
    }
}

/// Each field once, from the first populated profile that has it, with its document.
fn fields() -> Vec<(Doc, Line)> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for p in populated() {
        let doc = Doc::of(&p);
        for line in &doc.lines {
            if seen.insert(line.path.clone()) {
                out.push((doc.clone(), line.clone()));
            }
        }
    }
    out
}

/// What a refused case must show.
struct Want<'a> {
    case: String,
    field: Option<&'a str>,
    line: Option<usize>,
    /// Strings the error must not contain (the value it refused).
    unseen: Vec<String>,
}

fn refused(text: &str, want: &Want) -> ProfileError {
    check(profile::parse(text, Path::new("p.yaml")), want)
}

fn check(result: Result<Profile, ProfileError>, want: &Want) -> ProfileError {
    let e = match result {
        Ok(_) => panic!("{}: accepted", want.case),
        Err(e) => e,
    };
    let shown = e.to_string();
    assert_eq!(
        (e.field.as_deref(), e.line),
        (want.field, want.line),
        "{}: {shown}",
        want.case
    );
    if let Some(line) = want.line {
        assert!(
            shown.starts_with(&format!("p.yaml:{line}:")),
            "{}: {shown}",
            want.case
        );
    }
    if let Some(field) = want.field {
        assert!(
            shown.contains(&format!(": {field}: ")),
            "{}: {shown}",
            want.case
        );
    }
    assert!(
        !shown.contains(HASH_DIGEST),
        "{}: the hash leaked: {shown}",
        want.case
    );
    for unseen in &want.unseen {
        assert!(
            !shown.contains(unseen.as_str()),
            "{}: echoes {unseen:?}: {shown}",
            want.case
        );
    }
    e
}

/// Injection classes: what each does to a value. Payloads go in the middle of the value (past any check of
/// its first or last character); the three a validator might trim or a regex's `$` miss go at the end
/// too. `..` adds an empty label or a `..` segment, `-` goes in front.
fn injections(value: &str) -> Vec<(&'static str, String)> {
    let middle = value
        .char_indices()
        .nth(value.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let mut out = vec![];
    for (class, payload, at_the_end) in [
        (";", ";", false),
        ("$()", "$(id)", false),
        ("backticks", "`id`", false),
        ("newline", "\n", true),
        ("NUL", "\0", true),
        ("}", "}", false),
        ("double quote", "\"", false),
        ("single quote", "'", false),
        ("#", " #", false),
        ("space", " ", true),
    ] {
        out.push((
            class,
            format!("{}{payload}{}", &value[..middle], &value[middle..]),
        ));
        if at_the_end {
            out.push((class, format!("{value}{payload}")));
        }
    }
    let dots = if let Some(slash) = value.rfind('/') {
        format!("{}/..{}", &value[..slash], &value[slash..])
    } else if value.contains('.') {
        value.replacen('.', "..", 1)
    } else {
        format!("../{value}")
    };
    out.push(("..", dots));
    out.push(("leading -", format!("-{value}")));
    out
}

/// How a legal value must appear in the offline plan (shell-quoted in a command, quoted in a config).
type Carried = fn(&str) -> String;

/// Injection classes a field accepts: (field, class, how the plan must show the value, why that is safe).
/// Only a collaborator's name accepts any: people's names have spaces, quotes and more, and reach only
/// Jupyter's config, as a JSON string literal (which Python reads as the same string). Every other field
/// that reaches a file or a command refuses them all, and a class a field starts accepting fails the
/// test until it is listed here and proven carried safely.
const LEGAL: &[(&str, &str, Carried, &str)] = &[
    (NAME, ";", name_literal, NAME_WHY),
    (NAME, "$()", name_literal, NAME_WHY),
    (NAME, "backticks", name_literal, NAME_WHY),
    (NAME, "}", name_literal, NAME_WHY),
    (NAME, "double quote", name_literal, NAME_WHY),
    (NAME, "single quote", name_literal, NAME_WHY),
    (NAME, "#", name_literal, NAME_WHY),
    (NAME, "space", name_literal, NAME_WHY),
    (NAME, "..", name_literal, NAME_WHY),
];
const NAME: &str = "jupyter.collaborators[0].name";
const NAME_WHY: &str = "a collaborator's name, a JSON string literal in jupyter_server_config.py";

fn name_literal(value: &str) -> String {
    format!("\"name\": {},\n", serde_json::to_string(value).unwrap())
}

fn shell_word(value: &str) -> String {
    shlex::try_quote(value).unwrap().into_owned()
}

#[test]
fn every_string_field_refuses_every_injection_class() {
    let mut cases = 0;
    for (doc, line) in fields() {
        let Some(Value::String(value)) = &line.leaf else {
            continue;
        };
        for (class, bad) in injections(value) {
            let text = doc.with_leaf(&line.path, &serde_json::to_string(&bad).unwrap());
            let legal = LEGAL
                .iter()
                .find(|(f, c, ..)| *f == line.path && *c == class);
            if let Some((_, _, carried, why)) = legal {
                profile::parse(&text, Path::new("p.yaml")).unwrap();
                assert_carried_safely(&text, &carried(&bad), why);
                continue;
            }
            let want = Want {
                case: format!("{} with {class} ({bad:?})", line.path),
                field: Some(&line.path),
                line: Some(doc.line_of(&line.path)),
                unseen: vec![bad.clone()],
            };
            refused(&text, &want);
            cases += 1;
        }
    }
    assert!(
        cases > 400,
        "only {cases} cases: did the walk find the fields?"
    );
}

#[test]
fn a_password_hash_under_any_other_key_is_never_printed() {
    for (doc, line) in fields() {
        if line.leaf.is_none() || line.path.ends_with("password_hash") {
            continue;
        }
        for hash in [HASH.to_string(), format!("argon2:{HASH_DIGEST}")] {
            let text = doc.with_leaf(&line.path, &serde_json::to_string(&hash).unwrap());
            let want = Want {
                case: format!("a hash as {}", line.path),
                field: Some(&line.path),
                line: Some(doc.line_of(&line.path)),
                unseen: vec![hash.clone()],
            };
            refused(&text, &want);
        }
    }
}

#[test]
fn every_number_and_boolean_refuses_its_edges() {
    let numeric = [
        "0",
        "-1",
        "65536",
        "4294967296",
        "18446744073709551616",
        "1.5",
        "1e3",
        ".nan",
        ".inf",
        "\"8888\"",
        "null",
        "true",
        "[]",
        "{}",
    ];
    let boolean = ["yes", "no", "on", "1", "0", "\"true\"", "null", "[]", "{}"];
    let mut seen = 0;
    for (doc, line) in fields() {
        let edges: &[&str] = match &line.leaf {
            Some(Value::Number(_)) => &numeric,
            Some(Value::Bool(_)) => &boolean,
            _ => continue,
        };
        seen += 1;
        for edge in edges {
            // An optional port left to ssh's config: null is YAML for "not set".
            if *edge == "null" && ["server.port", "workstation.port"].contains(&line.path.as_str())
            {
                let text = doc.with_leaf(&line.path, edge);
                profile::parse(&text, Path::new("p.yaml")).expect("a null port means unset");
                continue;
            }
            let want = Want {
                case: format!("{} = {edge}", line.path),
                field: Some(&line.path),
                line: Some(doc.line_of(&line.path)),
                unseen: vec![],
            };
            refused(&doc.with_leaf(&line.path, edge), &want);
        }
    }
    assert!(seen >= 8, "ports, days and sudo: {seen}");
}

/// Every mapping of every populated profile, with its 0-based line ("" is the top level, before line 1).
fn mappings() -> Vec<(Doc, String, usize)> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for p in populated() {
        let doc = Doc::of(&p);
        if seen.insert(String::new()) {
            out.push((doc.clone(), String::new(), 0));
        }
        for (i, line) in doc.lines.iter().enumerate() {
            if line.mapping && seen.insert(line.path.clone()) {
                out.push((doc.clone(), line.path.clone(), i + 1));
            }
            // A list item that is a mapping starts on its first key's line.
            if let Some(item) = item_mapping(line) {
                if seen.insert(item.clone()) {
                    out.push((doc.clone(), item, i + 1));
                }
            }
        }
    }
    out
}

/// The list item (`jupyter.collaborators[0]`) whose mapping starts on this line, if one does.
fn item_mapping(line: &Line) -> Option<String> {
    let (item, _) = line.path.rsplit_once('.')?;
    (item.ends_with(']') && line.prefix.trim_start().starts_with("- ")).then(|| item.to_string())
}

/// The indentation of a mapping's keys: a level per mapping, and one more per list item.
fn indentation(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        "  ".repeat(path.split('.').count() + path.matches('[').count())
    }
}

/// The fields an unknown-key error says a mapping has (`expected one of `a`, `b`` or `expected `a` or `b``).
fn expected_fields(message: &str) -> Vec<String> {
    let list = message.split_once("expected ").expect("a list of fields").1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[test]
fn unknown_keys_are_refused_at_every_level_and_every_field_is_populated() {
    let paths: BTreeSet<String> = fields().into_iter().map(|(_, line)| line.path).collect();
    // Present only to be refused with a hint (a plaintext password): never populated.
    let refused_fields = ["jupyter.password", "access.basic_auth[0].password"];
    for (doc, path, after) in mappings() {
        let field = join(&path, "bogus_key");
        let want = Want {
            case: format!("unknown key in {path:?}"),
            field: Some(&field),
            line: Some(after + 1),
            unseen: vec![],
        };
        let text = doc.inserted(after, &format!("{}bogus_key: 1", indentation(&path)));
        let e = refused(&text, &want);
        for name in expected_fields(&e.message) {
            let name = join(&path, &name);
            assert!(
                paths.contains(&name) || refused_fields.contains(&name.as_str()),
                "{name} is a field of the profile but no populated profile sets it: set it in populated()"
            );
        }
    }
}

#[test]
fn yaml_tricks_are_refused_at_their_field() {
    for (doc, line) in fields() {
        let at = doc.line_of(&line.path);
        let want = |case: &str| Want {
            case: format!("{} {case}", line.path),
            field: Some(&line.path),
            line: Some(at),
            unseen: vec![],
        };
        if line.leaf.is_some() {
            for prop in ["!evil ", "!!python/object:os.system ", "&anchor "] {
                refused(
                    &doc.edited(&line.path, |l| l.prefix.push_str(prop)),
                    &want(prop),
                );
            }
            refused(&doc.with_leaf(&line.path, "*alias"), &want("alias"));
        }
        if line.mapping {
            let tag = " !!python/object:os.system";
            refused(
                &doc.edited(&line.path, |l| l.prefix.push_str(tag)),
                &want(tag),
            );
        }
        // A tab before the line's spaces: to YAML not indentation, to jprov an error at the tab, in the
        // field the spaces say.
        let tabbed = doc.edited(&line.path, |l| l.prefix.insert(0, '\t'));
        let e = refused(&tabbed, &want("tab"));
        assert_eq!(e.column, Some(1), "a tab is reported where it is: {e}");
        if line.leaf.is_some() && !line.path.ends_with(']') {
            let mut copy = doc.lines[at - 1].clone();
            // The first key of a list item: its copy goes under it, not into a new item.
            if let Some(i) = copy.prefix.find("- ") {
                copy.prefix.replace_range(i..i + 2, "  ");
            }
            let mut twice = doc.clone();
            twice.lines.insert(at, copy);
            let e = refused(
                &twice.text(),
                &Want {
                    line: Some(at + 1),
                    ..want("twice")
                },
            );
            assert!(e.message.starts_with("duplicate field"), "{e}");
        }
        if let Some(Value::String(_)) = line.leaf {
            let mut bytes = doc.text().into_bytes();
            let text = doc.text();
            let line_start: usize = text.split_inclusive('\n').take(at - 1).map(str::len).sum();
            // Right after the opening quote.
            let start = line_start + doc.lines[at - 1].prefix.len() + 1;
            bytes.insert(start, 0xff);
            let e = check(
                profile::from_bytes(&bytes, Path::new("p.yaml")).map(|lp| lp.profile),
                &want("non-UTF-8 byte"),
            );
            assert_eq!(
                e.column,
                Some(doc.lines[at - 1].prefix.chars().count() + 2),
                "{e}"
            );
        }
    }
}

#[test]
fn one_document_a_byte_order_mark_and_tabs_between_tokens() {
    for doc in populated().iter().map(Doc::of) {
        let text = doc.text();
        let end = doc.lines.len();
        for (extra, line) in [("---\nname: x\n", end + 1), ("...\nname: x\n", end + 2)] {
            let want = Want {
                case: format!("then {extra:?}"),
                field: None,
                line: Some(line),
                unseen: vec![],
            };
            let e = refused(&format!("{text}{extra}"), &want);
            assert!(e.message.contains("second YAML document"), "{e}");
        }
        let plain = profile::parse(&text, Path::new("p.yaml")).unwrap();
        let marked = profile::parse(&format!("\u{feff}{text}"), Path::new("p.yaml")).unwrap();
        assert_eq!(
            format!("{plain:?}"),
            format!("{marked:?}"),
            "a BOM before the first key"
        );
        // YAML separates tokens with tabs too: harmless, and accepted.
        let tabbed = profile::parse(&text.replace(": ", ":\t"), Path::new("p.yaml")).unwrap();
        assert_eq!(format!("{plain:?}"), format!("{tabbed:?}"));
    }
}

#[test]
fn size_nesting_and_lists_fail_fast() {
    let doc = Doc::of(&populated()[0]);
    let text = doc.text();
    let fast = |what: &str, started: Instant| {
        let took = started.elapsed();
        assert!(took < Duration::from_millis(100), "{what} took {took:?}");
    };
    let started = Instant::now();
    let e = refused(
        &format!("{text}#{}\n", "x".repeat(MAX_BYTES)),
        &Want {
            case: "too large".into(),
            field: None,
            line: None,
            unseen: vec![],
        },
    );
    assert!(e.message.contains(&MAX_BYTES.to_string()), "{e}");
    fast("too large", started);
    let name = doc.line_of("name");
    for (what, value) in [
        ("flow", "[".repeat(MAX_BYTES - text.len() - 10)),
        ("flow mappings", "{a: ".repeat((MAX_BYTES - text.len()) / 5)),
        ("compact lists", "- ".repeat((MAX_BYTES - text.len()) / 3)),
    ] {
        let started = Instant::now();
        let e = refused(
            &doc.with_leaf("name", &value),
            &Want {
                case: format!("nested {what}"),
                field: Some("name"),
                line: Some(name),
                unseen: vec![],
            },
        );
        assert!(e.message.contains("32 levels"), "{e}");
        fast(what, started);
    }
    // Every list of every populated profile holds MAX_LIST_ENTRIES, not one more.
    for (doc, line) in fields().into_iter().filter(|(_, l)| {
        l.path.ends_with("[0]") || item_mapping(l).is_some_and(|i| i.ends_with("[0]"))
    }) {
        let list = line.path.split_once("[0]").unwrap().0.to_string();
        let item: Vec<Line> = (doc.lines.iter())
            .filter(|l| l.path.starts_with(&format!("{list}[0]")))
            .cloned()
            .collect();
        let with = |n: usize| {
            let mut long = doc.clone();
            let at = long.line_of(&line.path) - 1;
            long.lines
                .retain(|l| !l.path.starts_with(&format!("{list}[")));
            // Usernames must differ from item to item; nothing else in an item has to.
            let copies = (0..n).flat_map(|k| {
                item.iter().cloned().map(move |mut l| {
                    if l.path.ends_with(".username") {
                        l.leaf = Some(Value::String(format!("user{k}")));
                    }
                    l
                })
            });
            long.lines.splice(at..at, copies);
            long.text()
        };
        match profile::parse(&with(MAX_LIST_ENTRIES), Path::new("p.yaml")) {
            Ok(_) => {}
            // A basic-auth account must be a Jupyter login, and no other list grows with this one: 64 pass
            // the bound and meet that rule instead.
            Err(e) if list == "access.basic_auth" => {
                assert!(e.message.contains("no Jupyter login"), "{e}")
            }
            Err(e) => panic!("{list} with {MAX_LIST_ENTRIES} entries: {e}"),
        }
        let started = Instant::now();
        let e = refused(
            &with(MAX_LIST_ENTRIES + 1),
            &Want {
                case: format!("{list} too long"),
                field: Some(&list),
                line: Some(doc.line_of(&list)),
                unseen: vec![],
            },
        );
        assert!(e.message.contains("more than 64 entries"), "{e}");
        fast("a long list", started);
    }
}

fn plan_offline(profile: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_jprov"))
        .args(["plan", "--offline"])
        .arg(profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The binary, for one case of each injection class (each on another field) and each YAML trick: exit 1,
/// `FILE:LINE:COLUMN: FIELD: ...` on stderr, nothing on stdout, the value not echoed. Run in parallel.
#[test]
fn the_binary_exits_1_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let strings: Vec<(Doc, Line)> = fields()
        .into_iter()
        .filter(|(_, l)| matches!(l.leaf, Some(Value::String(_))))
        .collect();
    let mut classes: Vec<&str> = injections("x").into_iter().map(|(c, _)| c).collect();
    classes.dedup();
    let mut cases: Vec<(Vec<u8>, String, usize, String)> = vec![];
    for (n, class) in classes.into_iter().enumerate() {
        let (doc, line) = &strings[n * 7 % strings.len()];
        let Some(Value::String(value)) = &line.leaf else {
            unreachable!()
        };
        let (_, bad) = injections(value)
            .into_iter()
            .find(|(c, _)| *c == class)
            .unwrap();
        let text = doc.with_leaf(&line.path, &serde_json::to_string(&bad).unwrap());
        cases.push((
            text.into_bytes(),
            line.path.clone(),
            doc.line_of(&line.path),
            bad,
        ));
    }
    let doc = Doc::of(&populated()[0]);
    let at = |p: &str| doc.line_of(p);
    let tricks = [
        (doc.with_leaf("domain", "!evil \"x.org\""), "domain"),
        (
            doc.edited("server", |l| {
                l.prefix.push_str(" !!python/object:os.system")
            }),
            "server",
        ),
        (
            doc.with_leaf("jupyter.app", &format!("\"{HASH}\"")),
            "jupyter.app",
        ),
        (
            doc.with_leaf("server.port", &format!("\"{HASH}\"")),
            "server.port",
        ),
        (
            doc.edited("server.port", |l| {
                l.prefix = l.prefix.replacen(' ', "\t", 1)
            }),
            "server.port",
        ),
    ];
    for (text, field) in tricks {
        cases.push((
            text.into_bytes(),
            field.to_string(),
            at(field),
            HASH.to_string(),
        ));
    }
    let mut not_utf8 = doc.text().into_bytes();
    let user = doc.text().find("  user: \"admin\"").unwrap() + 9;
    not_utf8.insert(user, 0xff);
    cases.push((
        not_utf8,
        "server.user".into(),
        at("server.user"),
        HASH.into(),
    ));

    let children: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (bytes, ..))| {
            let path = dir.path().join(format!("case{i}.yaml"));
            std::fs::write(&path, bytes).unwrap();
            (path.clone(), plan_offline(&path))
        })
        .collect();
    for ((path, child), (_, field, line, value)) in children.into_iter().zip(&cases) {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let case = format!("{field} in {}", path.display());
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(out.stdout.is_empty(), "{case}: nothing is planned");
        let located = format!("error: {}:{line}:", path.display());
        assert!(stderr.starts_with(&located), "{case}: {stderr}");
        assert!(stderr.contains(&format!(": {field}: ")), "{case}: {stderr}");
        assert!(
            !stderr.contains(value.as_str()),
            "{case}: echoes the value: {stderr}"
        );
        assert!(!stderr.contains(HASH_DIGEST), "{case}: {stderr}");
    }
}

/// A value a field accepts although it holds characters a shell or config file gives meaning to appears
/// in the offline plan exactly in its `carried` form: the shell-quoted word in a command, a quoted string
/// in a config file.
fn assert_carried_safely(text: &str, carried: &str, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, text).unwrap();
    let out = plan_offline(&path).wait_with_output().unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{why}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        plan.contains(carried),
        "{why}: {carried} not in the plan:\n{plan}"
    );
}

/// The special characters fields do accept: `+` and `@` in emails and paths, `~` in base_url, and `$`,
/// `,`, `=`, `+`, `/` in argon2 hashes, which land in a single-quoted Python string and are masked in plans.
#[test]
fn legal_special_characters_are_carried_safely() {
    let doc = Doc::of(&populated()[0]);
    let email = "admin+jprov@example.org";
    assert_carried_safely(
        &doc.with_leaf("tls.letsencrypt.email", &format!("\"{email}\"")),
        &format!(" -m {} ", shell_word(email)),
        "certbot -m",
    );
    let command = "/opt/jupyter+2@x/bin/jupyter";
    let text = doc.with_leaf("jupyter.command", &format!("\"{command}\""));
    for carried in [
        format!("ExecStart={command} lab\n"),
        format!("Jupyter on the workstation: {} lab", shell_word(command)),
    ] {
        assert_carried_safely(&text, &carried, "ExecStart and the printed command");
    }
    let base_url = "/~alice/";
    assert_carried_safely(
        &doc.with_leaf("jupyter.base_url", &format!("\"{base_url}\"")),
        &format!("c.ServerApp.base_url = '{base_url}'\n"),
        "c.ServerApp.base_url",
    );

    let argon2 =
        jprov::password::hash_password("a pass", jprov::password::HashScheme::Argon2).unwrap();
    assert!(argon2.contains('$') && !argon2.contains('\'') && !argon2.contains('\\'));
    let text = doc.with_leaf(
        "jupyter.password_hash",
        &serde_json::to_string(&argon2).unwrap(),
    );
    let p = profile::parse(&text, Path::new("p.yaml")).unwrap();
    let state = jprov::desired::build(
        &p,
        Default::default(),
        &jprov::render::Templates::new(),
        Default::default(),
    )
    .unwrap();
    let config = (state.hosts.iter().flat_map(|h| &h.items))
        .filter_map(|item| match item {
            Item::Files(group) => Some(&group.files),
            _ => None,
        })
        .flatten()
        .find(|f| f.path.ends_with("/jupyter_server_config.py"))
        .expect("Jupyter's config");
    let Content::Known(config) = &config.content else {
        panic!("the config is known offline")
    };
    assert!(
        config.contains(&format!("hashed_password = '{argon2}'\n")),
        "the hash is a single-quoted Python string in jupyter_server_config.py:\n{config}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), &text).unwrap();
    let out = plan_offline(&dir.path().join("p.yaml"))
        .wait_with_output()
        .unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("hashed_password = '********'") && !plan.contains(&argon2),
        "masked:\n{plan}"
    );
}
