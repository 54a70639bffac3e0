use super::super::{parse, ProfileError};
use super::*;
use crate::password::htpasswd::hash_password;
use std::path::Path;

const NGINX_PROXY: &str = include_str!("../../../profiles/nginx-proxy.yaml");
const REVERSE_FORWARD: &str = include_str!("../../../profiles/reverse-forward.yaml");

/// A basic-auth hash made by jprov's own `hash-password --htpasswd` code.
fn hash(password: &str) -> String {
    hash_password(password).unwrap()
}

/// `profile` with `access:` and the given text under it (each line indented by two).
fn with_access(profile: &str, body: &str) -> String {
    format!("{profile}access:\n{body}")
}

fn account(username: &str, hash: &str) -> String {
    format!("    - username: {username}\n      htpasswd_hash: \"{hash}\"\n")
}

fn parsed(source: &str) -> Profile {
    parse(source, Path::new("p.yaml")).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

fn error(source: &str) -> ProfileError {
    parse(source, Path::new("p.yaml")).expect_err("the profile should be refused")
}

/// The line of the first line of `source` that starts with `start` (after its indentation).
fn line_of(source: &str, start: &str) -> usize {
    1 + source
        .lines()
        .position(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starts with {start:?}"))
}

#[test]
fn nginx_proxy_takes_basic_auth_for_the_owner_and_an_allow_list() {
    let alice = hash("alice's basic-auth password");
    let source = with_access(
        NGINX_PROXY,
        &format!(
            "  basic_auth:\n{}  allow: [10.0.0.0/8, 192.0.2.7, \"2001:db8::/32\"]\n",
            account("alice", &alice)
        ),
    );
    let p = parsed(&source);
    let accounts = p.access.accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username.as_str(), "alice");
    assert_eq!(accounts[0].htpasswd_hash.as_str(), alice);
    let allowed: Vec<&str> = p.access.allowed().iter().map(|c| c.as_str()).collect();
    assert_eq!(allowed, ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
    // Without the section, no layer.
    assert!(parsed(NGINX_PROXY).access.is_empty());
}

#[test]
fn a_layer_the_method_cannot_enforce_names_the_methods_that_can() {
    for (body, field, what) in [
        (
            format!("  basic_auth:\n{}", account("alice", &hash("pw for rf"))),
            "access.basic_auth",
            "HTTP basic auth",
        ),
        (
            "  allow: [10.0.0.0/8]\n".to_string(),
            "access.allow",
            "an IP allow-list",
        ),
    ] {
        let source = with_access(REVERSE_FORWARD, &body);
        let e = error(&source);
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert_eq!(
            e.line,
            Some(line_of(&source, field.rsplit('.').next().unwrap())),
            "{e}"
        );
        assert_eq!(
            e.message,
            format!(
                "method reverse-forward cannot enforce {what}: the forwarded port reaches Jupyter \
                 directly, with nothing in front of it to check; use method nginx-proxy{}",
                if field == "access.allow" {
                    " or method ngrok"
                } else {
                    ""
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn the_method_list_is_every_method_the_profile_accepts() {
    // serde lists every variant when a value is unknown: the same set as METHODS, in order.
    let e = error(&NGINX_PROXY.replace("method: nginx-proxy", "method: nope"));
    let expected: Vec<String> = METHODS.iter().map(|m| format!("`{m}`")).collect();
    let listed: Vec<&str> = e
        .message
        .split([',', ' '])
        .filter(|w| w.starts_with('`'))
        .collect();
    assert_eq!(listed, expected, "{e}");
}

#[test]
fn basic_auth_accounts_are_jupyter_logins_once_each_with_a_hash_of_their_own() {
    let collaborators = "  collaborators:\n    - name: Ada Lovelace\n      username: ada\n      \
                         password_hash: \"sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a\"\n";
    let at = format!("{}\n", crate::profile::tests::owner_hash_line(NGINX_PROXY));
    let with_ada = NGINX_PROXY.replacen(&at, &format!("{at}{collaborators}"), 1);
    let (alice, ada) = (hash("alice pw"), hash("ada pw"));
    // The owner and a collaborator: both logins.
    let p = parsed(&with_access(
        &with_ada,
        &format!(
            "  basic_auth:\n{}{}",
            account("alice", &alice),
            account("ada", &ada)
        ),
    ));
    assert_eq!(p.access.accounts().len(), 2);
    for (accounts, field, says) in [
        (
            account("bob", &alice),
            "access.basic_auth[0].username",
            "no Jupyter login",
        ),
        (
            account("alice", &alice) + &account("ada", &ada) + &account("alice", &hash("other")),
            "access.basic_auth[2].username",
            "a second basic-auth account",
        ),
        (
            account("alice", &alice) + &account("ada", &alice),
            "access.basic_auth[1].htpasswd_hash",
            "the same hash as access.basic_auth[0]",
        ),
    ] {
        let source = with_access(&with_ada, &format!("  basic_auth:\n{accounts}"));
        let e = error(&source);
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(says), "{e}");
        assert!(e.line.is_some(), "{e}");
        assert!(
            !e.to_string().contains(&alice[7..]),
            "the hash is echoed: {e}"
        );
    }
    // Without the collaborator, ada is nobody's login.
    let e = error(&with_access(
        NGINX_PROXY,
        &format!("  basic_auth:\n{}", account("ada", &ada)),
    ));
    assert_eq!(
        e.field.as_deref(),
        Some("access.basic_auth[0].username"),
        "{e}"
    );
}

#[test]
fn empty_lists_are_refused_rather_than_read_as_no_layer() {
    for (body, field, says) in [
        ("  basic_auth: []\n", "access.basic_auth", "let nobody in"),
        ("  allow: []\n", "access.allow", "refuse every address"),
    ] {
        let e = error(&with_access(NGINX_PROXY, body));
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(says), "{e}");
    }
}

#[test]
fn bad_values_are_refused_at_their_field_and_line_without_the_value() {
    let good = hash("a good one");
    for (body, field, says, secret) in [
        (
            account("alice", "{PLAIN}hunter2secret"),
            "access.basic_auth[0].htpasswd_hash",
            "{PLAIN} entry is the password itself",
            "hunter2secret",
        ),
        (
            account("alice", "hunter2secret"),
            "access.basic_auth[0].htpasswd_hash",
            "jprov hash-password --htpasswd",
            "hunter2secret",
        ),
        (
            account("alice", &format!("alice:{good}")),
            "access.basic_auth[0].htpasswd_hash",
            "':'",
            &good[7..],
        ),
        (
            format!("    - username: alice\n      htpasswd_hash: \"{good}\"\n      password: hunter2secret\n"),
            "access.basic_auth[0].password",
            "plaintext passwords are refused",
            "hunter2secret",
        ),
        (
            account("Alice Smith", &good),
            "access.basic_auth[0].username",
            "invalid user name",
            &good[7..],
        ),
    ] {
        let source = with_access(NGINX_PROXY, &format!("  basic_auth:\n{body}"));
        let e = error(&source);
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(says), "{e}");
        assert!(e.line.is_some(), "{e}");
        assert!(!e.to_string().contains(secret), "echoed: {e}");
    }
    let source = with_access(
        NGINX_PROXY,
        "  allow:\n    - 10.0.0.0/8\n    - 10.0.0.1/8\n",
    );
    let e = error(&source);
    assert_eq!(e.field.as_deref(), Some("access.allow[1]"), "{e}");
    assert_eq!(e.line, Some(line_of(&source, "- 10.0.0.1/8")), "{e}");
    assert!(e.message.contains("bits set beyond the /8"), "{e}");
    assert!(!e.to_string().contains("10.0.0.1"), "{e}");
    let e = error(&with_access(NGINX_PROXY, "  deny: [10.0.0.0/8]\n"));
    assert_eq!(e.field.as_deref(), Some("access.deny"), "{e}");
}

#[test]
fn at_most_64_allow_list_entries() {
    let entries: String = (0..65).map(|i| format!("    - 10.0.{i}.0/24\n")).collect();
    let e = error(&with_access(NGINX_PROXY, &format!("  allow:\n{entries}")));
    assert!(e.message.contains("more than 64 entries"), "{e}");
    assert_eq!(
        e.field.as_deref().map(|f| f.starts_with("access.allow")),
        Some(true),
        "{e}"
    );
}
