//! The password hashes a profile holds (the owner's, each collaborator's, each basic-auth account's): how
//! hard each is to guess from a leaked profile, whether two logins share one, and whether a comment beside
//! them gives the password away (the examples once said "the hash of \"mypassword\"").

use super::{at_field, Finding, Severity};
use crate::password::policy::{held_hashes, HeldHash, Purpose};
use crate::password::{ARGON2_M_COST, ARGON2_P_COST, ARGON2_T_COST};
use crate::profile::Profile;

/// At most this many (hash, quoted word of a comment) pairs are verified: each costs one argon2 or bcrypt
/// verification (~60 ms).
const MAX_COMMENT_VERIFICATIONS: usize = 96;

pub(super) fn findings(p: &Profile, file: &str, source: &str) -> Vec<Finding> {
    let held = held_hashes(p);
    let mut found: Vec<Finding> = (held.iter())
        .filter_map(|h| strength(h, (file, source)))
        .collect();
    found.extend(shared(&held, (file, source)));
    found.extend(written_in_comments(&held, (file, source)));
    found
}

const REHASH: &str =
    "run `jprov hash-password --profile PROFILE` (argon2 with Jupyter's own parameters) and put \
                      its output here, with a new password";

/// A hash that is quick to guess: sha1 (or another hashlib digest) for Jupyter, argon2 below Jupyter's
/// parameters, bcrypt below jprov's cost.
fn strength(h: &HeldHash, at: (&str, &str)) -> Option<Finding> {
    let whose = format!("{}'s login", h.username);
    match h.purpose {
        Purpose::Jupyter => match h.hash.strip_prefix("argon2:") {
            Some(phc) => {
                let (m, t, p) = argon2_parameters(phc)?;
                let weak = m < ARGON2_M_COST || t < ARGON2_T_COST || p < ARGON2_P_COST;
                weak.then(|| {
                    at_field(
                        Severity::Error,
                        "weak-argon2",
                        at,
                        &h.field,
                        format!(
                            "an argon2 hash ({whose}) with m={m}, t={t}, p={p}, below Jupyter's parameters \
                             (m={ARGON2_M_COST}, t={ARGON2_T_COST}, p={ARGON2_P_COST})"
                        ),
                    )
                    .because(
                        "each guess at the password costs less than Jupyter's own hashes make it cost, to \
                         anyone who has the profile",
                        REHASH,
                    )
                })
            }
            None => {
                // The profile admits only hashlib names here (`looks_like_hash`): no secret to print.
                let algorithm = h.hash.split(':').next().unwrap_or("hashlib");
                Some(
                    at_field(
                        Severity::Error,
                        "legacy-hash",
                        at,
                        &h.field,
                        format!("a legacy {algorithm} hash ({whose}): one salted digest of the password"),
                    )
                    .because(
                        "from a leaked profile one GPU guesses billions of passwords a second against it",
                        REHASH,
                    ),
                )
            }
        },
        Purpose::BasicAuth => {
            let cost: u32 = (h.hash.strip_prefix("$2b$").or(h.hash.strip_prefix("$2y$")))?
                .get(..2)?
                .parse()
                .ok()?;
            let minimum = crate::password::htpasswd::BCRYPT_COST;
            (cost < minimum).then(|| {
                at_field(
                    Severity::Warning,
                    "weak-bcrypt",
                    at,
                    &h.field,
                    format!("a bcrypt hash ({whose}) of cost {cost}, below jprov's {minimum}"),
                )
                .because(
                    "each guess at the basic-auth password costs less than jprov's own hashes make it cost",
                    "run `jprov hash-password --htpasswd --profile PROFILE` and put its output here",
                )
            })
        }
    }
}

/// m, t and p of an argon2 PHC string (the profile admits only well-formed ones).
fn argon2_parameters(phc: &str) -> Option<(u32, u32, u32)> {
    let parsed = argon2::password_hash::PasswordHash::new(phc).ok()?;
    let params = argon2::Params::try_from(&parsed).ok()?;
    Some((params.m_cost(), params.t_cost(), params.p_cost()))
}

/// Two logins with the identical hash string: the same password and salt, copied. (The profile refuses
/// two basic-auth accounts with one hash when it loads, `check_access`; Jupyter's logins are checked here.)
fn shared(held: &[HeldHash], at: (&str, &str)) -> Vec<Finding> {
    let mut found = vec![];
    for (i, later) in held.iter().enumerate() {
        let Some(earlier) = held[..i].iter().find(|e| e.hash == later.hash) else {
            continue;
        };
        found.push(
            at_field(
                Severity::Error,
                "same-hash",
                at,
                &later.field,
                format!(
                    "the same hash as {} ({}'s login), for {}'s login",
                    earlier.field, earlier.username, later.username
                ),
            )
            .because(
                "two logins with one password: whoever knows it logs in as both, and removing one of \
                 them locks nobody out",
                "give each login its own password: `jprov hash-password --profile PROFILE` for each",
            ),
        );
    }
    found
}

/// A comment that holds a hash's password: each quoted word of the profile's comments is tried against
/// every hash with the same verification Jupyter and nginx do.
fn written_in_comments(held: &[HeldHash], (file, source): (&str, &str)) -> Vec<Finding> {
    let words = quoted_in_comments(source);
    let mut found = vec![];
    let mut verified = 0;
    for h in held {
        for (line, word) in &words {
            if verified == MAX_COMMENT_VERIFICATIONS {
                found.push(
                    at_field(
                        Severity::Info,
                        "comments-not-compared",
                        (file, source),
                        &h.field,
                        format!(
                            "check compared the profile's quoted comment words with its first \
                             {MAX_COMMENT_VERIFICATIONS} hash and word pairs only"
                        ),
                    )
                    .because(
                        "a password in a later comment would go unnoticed",
                        "keep passwords out of comments",
                    ),
                );
                return found;
            }
            verified += 1;
            if !is_its_password(h, word) {
                continue;
            }
            found.push(Finding {
                severity: Severity::Error,
                code: "plaintext-secret",
                file: Some(file.to_string()),
                line: Some(*line),
                field: Some(h.field.clone()),
                finding: format!(
                    "a comment holds the password of this hash ({}'s login)",
                    h.username
                ),
                risk: "a profile is kept in git: whoever reads it has the password, and the hash protects \
                       nothing"
                    .into(),
                fix: "delete the comment and change the password (`jprov hash-password --profile PROFILE`): \
                      it has been seen"
                    .into(),
            });
        }
    }
    found
}

fn is_its_password(h: &HeldHash, word: &str) -> bool {
    match h.purpose {
        Purpose::Jupyter => crate::password::verify_password(h.hash, word).unwrap_or(false),
        Purpose::BasicAuth if h.hash.starts_with("$2") => {
            crate::password::htpasswd::verify_bcrypt(h.hash, word).unwrap_or(false)
        }
        // yescrypt and sha512-crypt: only the C library verifies them.
        Purpose::BasicAuth => false,
    }
}

/// The words quoted in the profile's comments ("...", `...`, '...'), by line.
fn quoted_in_comments(source: &str) -> Vec<(usize, String)> {
    let mut words = vec![];
    for (i, line) in source.lines().enumerate() {
        let Some(comment) = comment_of(line) else {
            continue;
        };
        for word in quoted(comment) {
            if (1..=128).contains(&word.chars().count()) && !words.iter().any(|(_, w)| *w == word) {
                words.push((i + 1, word));
            }
        }
    }
    words
}

/// The text after a YAML comment's `#` (one at the start or after whitespace, outside quotes).
fn comment_of(line: &str) -> Option<&str> {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') if previous.is_whitespace() || previous == ':' => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return Some(&line[at + 1..]),
            _ => {}
        }
        previous = c;
    }
    None
}

/// Strings between matching `"`, backticks, or `'` that opens after a space and closes before one.
fn quoted(text: &str) -> Vec<String> {
    let mut found = vec![];
    for quote in ['"', '`'] {
        let parts: Vec<&str> = text.split(quote).collect();
        found.extend(
            (parts.iter().skip(1).step_by(2))
                .take(parts.len().saturating_sub(1) / 2)
                .map(|s| s.to_string()),
        );
    }
    let bytes: Vec<char> = text.chars().collect();
    let mut open = None;
    for (i, &c) in bytes.iter().enumerate() {
        let before = i.checked_sub(1).map_or(' ', |j| bytes[j]);
        let after = bytes.get(i + 1).copied().unwrap_or(' ');
        match (open, c) {
            (None, '\'') if before.is_whitespace() || before == '(' => open = Some(i + 1),
            (Some(start), '\'') if !after.is_alphanumeric() => {
                found.push(bytes[start..i].iter().collect());
                open = None;
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_words_of_comments() {
        let source =
            "a: 1 # the hash of \"mypassword\"\nb: \"x # no\"\n# Ada's, 'quoted' and `ticked`\n";
        assert_eq!(
            quoted_in_comments(source),
            [
                (1, "mypassword".to_string()),
                (3, "ticked".to_string()),
                (3, "quoted".to_string())
            ]
        );
    }
}
