//! Plaintext secrets in text, recognised by their shape: private key blocks, ngrok authtokens, and
//! `password:` lines whose value is no hash. A hit is a line number and a kind, never the value: callers
//! report `file:line` only.

use super::{Finding, Severity};

/// What kind of secret a line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Secret {
    /// `-----BEGIN ... PRIVATE KEY-----` (PEM, OpenSSH, PKCS#8, encrypted or not) or a PuTTY key.
    PrivateKey,
    /// An ngrok authtoken: after `NGROK_AUTHTOKEN=`, `authtoken:` or `--authtoken`, or by its shape
    /// (digits and letters, `_`, digits and letters: `2abc..._3Xyz...`).
    NgrokToken,
    /// A `password:` / `password =` line (also `passwd`, `secret`, `..._password`) whose value is no hash
    /// and no placeholder.
    Password,
}

impl Secret {
    pub(super) fn what(self) -> &'static str {
        match self {
            Secret::PrivateKey => "a private key (a `-----BEGIN ... PRIVATE KEY-----` block)",
            Secret::NgrokToken => "an ngrok authtoken",
            Secret::Password => "a plaintext password (a `password:` line whose value is no hash)",
        }
    }

    /// How to get rid of it, wherever it was found.
    pub(super) fn fix(self) -> &'static str {
        match self {
            Secret::PrivateKey => {
                "delete it and make a new key (this one has been seen); keep key files outside git, or \
                 ignored, and name them with identity_file"
            }
            Secret::NgrokToken => {
                "delete it, revoke the token in ngrok's dashboard, and put the new one only in the file \
                 ngrok.authtoken_file names on the workstation"
            }
            Secret::Password => {
                "delete it and change the password: the profile holds only `jprov hash-password` output"
            }
        }
    }
}

/// Every line of `text` holding a secret, by line number (from 1).
pub(super) fn scan(text: &str) -> Vec<(usize, Secret)> {
    (text.lines().enumerate())
        .filter_map(|(i, line)| secret_in(line).map(|kind| (i + 1, kind)))
        .collect()
}

fn secret_in(line: &str) -> Option<Secret> {
    if private_key(line) {
        Some(Secret::PrivateKey)
    } else if ngrok_token(line) {
        Some(Secret::NgrokToken)
    } else if password_line(line) {
        Some(Secret::Password)
    } else {
        None
    }
}

/// The profile's own secrets: it is made to be committed.
pub(super) fn in_profile(file: &str, source: &str) -> Vec<Finding> {
    (scan(source).into_iter())
        .map(|(line, kind)| Finding {
            severity: Severity::Error,
            code: "plaintext-secret",
            file: Some(file.to_string()),
            line: Some(line),
            field: None,
            finding: format!("the profile holds {}", kind.what()),
            risk: "a profile is kept in git: everyone who can read the repository, its clones and its \
                   history has the secret"
                .into(),
            fix: kind.fix().into(),
        })
        .collect()
}

fn private_key(line: &str) -> bool {
    (line.contains("-----BEGIN ") && line.contains("PRIVATE KEY-----"))
        || line.trim_start().starts_with("PuTTY-User-Key-File-")
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A value that can be a token: long, of token characters, with letters and digits.
fn token_like(value: &str) -> bool {
    value.len() >= 20
        && value.chars().all(token_char)
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
}

fn ngrok_token(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    let after_keyword = lower.match_indices("authtoken").any(|(at, keyword)| {
        let rest = &line[at + keyword.len()..];
        // `authtoken_file:` names a file; only `authtoken` itself, then a separator, gives a value.
        let Some(first) = rest.chars().next() else {
            return false;
        };
        if !matches!(first, '=' | ':' | ' ' | '\t' | '"' | '\'') {
            return false;
        }
        let value: String = (rest
            .trim_start_matches(|c: char| " \t\"'=:".contains(c))
            .chars())
        .take_while(|&c| token_char(c))
        .collect();
        token_like(&value)
    });
    after_keyword || line.split(|c: char| !token_char(c)).any(ngrok_token_shape)
}

/// ngrok's authtokens: about 27 digits and letters starting with a digit, `_`, about 21 more.
fn ngrok_token_shape(word: &str) -> bool {
    let Some((head, tail)) = word.split_once('_') else {
        return false;
    };
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    head.starts_with(|c: char| c.is_ascii_digit())
        && (20..=35).contains(&head.len())
        && (15..=30).contains(&tail.len())
        && alnum(head)
        && alnum(tail)
        && head.chars().any(|c| c.is_ascii_alphabetic())
}

/// `password: VALUE`, `db_password = "VALUE"`, `# secret: VALUE`, `- passwd: VALUE`, with a value that
/// is no hash and no placeholder. Unquoted values with spaces are prose (`password: see the vault`), and
/// values with brackets or `$` are code or references (`password = os.environ["X"]`, `${PASSWORD}`).
fn password_line(line: &str) -> bool {
    let rest = line.trim_start_matches(|c: char| c.is_whitespace() || "#-/;*".contains(c));
    let rest = rest.strip_prefix("export ").unwrap_or(rest);
    let rest = rest.trim_start_matches(['"', '\'']);
    let key_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
        .unwrap_or(rest.len());
    let (key, after) = rest.split_at(key_len);
    let after = after.trim_start_matches(['"', '\'']).trim_start();
    let Some(value) = after.strip_prefix(':').or_else(|| after.strip_prefix('=')) else {
        return false;
    };
    passwordish(key) && plaintext_value(value)
}

fn passwordish(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let last = key.rsplit('.').next().unwrap_or(&key);
    let named = last.contains("password")
        || last.contains("passwd")
        || matches!(last, "pass" | "pwd" | "secret")
        || last.ends_with("_secret")
        || last.ends_with("-secret");
    const NOT_A_VALUE: &[&str] = &[
        "hash", "file", "required", "change", "prompt", "policy", "length", "len", "min", "max",
        "command", "manager", "store", "path",
    ];
    named && !NOT_A_VALUE.iter().any(|word| last.contains(word))
}

fn plaintext_value(value: &str) -> bool {
    let value = value.trim();
    // A comment after an unquoted YAML value.
    let value = match value.starts_with(['"', '\'']) {
        true => value,
        false => value.split(" #").next().unwrap_or(value).trim(),
    };
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    let inner = match quoted {
        true => &value[1..value.len() - 1],
        false => value.trim_end_matches([',', ';']),
    };
    if inner.is_empty() || (!quoted && inner.contains(char::is_whitespace)) {
        return false;
    }
    let placeholder = inner.starts_with(['<', '%'])
        || inner.contains(['$', '{', '}', '(', ')', '[', ']'])
        || inner.contains("...")
        || inner
            .chars()
            .all(|c| c == '*' || c == '.' || c == 'x' || c == 'X')
        || matches!(
            inner.to_ascii_lowercase().as_str(),
            "null" | "none" | "~" | "true" | "false" | "yes" | "no"
        );
    let hash = crate::password::looks_like_hash(inner)
        || crate::password::htpasswd::problem(inner).is_none();
    !placeholder && !hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_recognised_and_the_rest_is_not() {
        let found = |line: &str| secret_in(line);
        for line in [
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
            "  -----BEGIN PRIVATE KEY-----",
            "PuTTY-User-Key-File-3: ssh-ed25519",
        ] {
            assert_eq!(found(line), Some(Secret::PrivateKey), "{line}");
        }
        for line in [
            "NGROK_AUTHTOKEN=2Nt7Q1H3ZvX5bqWabcdefGHIJKL_5ZQxyzABCDEFghijk1234",
            "authtoken: 1rlHSX3HqrqmOWZdeJ6bIv8rfuo_4cmS1QswRGyxcQD8NOukF",
            "ngrok config add-authtoken 1rlHSX3HqrqmOWZdeJ6bIv8rfuo_4cmS1QswRGyxcQD8NOukF",
            "# the token is 1rlHSX3HqrqmOWZdeJ6bIv8rfuo_4cmS1QswRGyxcQD8NOukF",
            "export NGROK_AUTHTOKEN=\"abcdefghij0123456789klmnop\"",
        ] {
            assert_eq!(found(line), Some(Secret::NgrokToken), "{line}");
        }
        for line in [
            "password: hunter2",
            "  # password: hunter2",
            "db_password = \"correct horse battery\"",
            "- passwd: 'swordfish'",
            "\"password\": \"hunter2\",",
            "secret=s3cr3t",
        ] {
            assert_eq!(found(line), Some(Secret::Password), "{line}");
        }
        for line in [
            "-----BEGIN CERTIFICATE-----",
            "  authtoken_file: /home/alice/.config/jprov/ngrok-authtoken",
            "  # on the workstation: NGROK_AUTHTOKEN=...",
            "put `NGROK_AUTHTOKEN=<your authtoken from ngrok's dashboard>` in the file",
            "  password_hash: \"argon2:$argon2id$v=19$m=10240,t=10,p=8$qjjDiZUofUVVnrVYxacnbA$l5pQq1bJ8zglGT2uXP6iOg\"",
            "      htpasswd_hash: \"$2b$10$Dt2VUpWuCTo9JuqKQQVSmOmyESn5ZX0QM0wDlZnIthgDwlfxthK0.\"",
            "password: \"sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a\"",
            "password: see the vault",
            "password: ${PASSWORD}",
            "password = os.environ[\"PASSWORD\"]",
            "password: <your password>",
            "password: ********",
            "password:",
            "c.PasswordIdentityProvider.password_required = True",
            "  base_url: /j-zfivqxciaq4izaztqd5ypovo5a/",
            "basic_auth_file: /home/alice/.config/jprov/ngrok-basic-auth",
        ] {
            assert_eq!(found(line), None, "{line}");
        }
    }

    #[test]
    fn hits_are_line_numbers() {
        assert_eq!(
            scan("a: 1\npassword: hunter2\nb: 2\n"),
            [(2, Secret::Password)]
        );
    }
}
