//! HTTP basic-auth hashes for nginx's `auth_basic_user_file`: make them (`jprov hash-password --htpasswd`)
//! and recognise the ones nginx on Debian verifies well.
//!
//! nginx checks `{PLAIN}`, `{SHA}`, `{SSHA}` and Apache's `$apr1$` itself and hands every other hash to the
//! C library's `crypt_r`, on Debian 12 libxcrypt. jprov accepts only libxcrypt's slow, salted schemes:
//! bcrypt (`$2b$`, and `$2y$`, the same algorithm under PHP's name), yescrypt (`$y$`, Debian's default
//! for /etc/shadow) and sha512-crypt (`$6$`). The others are refused: `{PLAIN}` is the password itself,
//! `{SHA}`/`{SSHA}` one SHA-1 and `$apr1$`/`$1$` a thousand rounds of MD5, all guessed at billions a second
//! by one GPU from a profile that is kept in git; `$2a$` names bcrypt's historical ambiguity about
//! non-ASCII passwords (use `$2b$`).
//!
//! jprov makes bcrypt hashes (the `bcrypt` crate, an implementation over RustCrypto's `blowfish`). nginx
//! verifies the hash on every request a browser makes, in its worker, so the cost is a per-request price
//! too: [`BCRYPT_COST`] keeps it near 60 ms on a 2-core server while an offline guess costs the same.
//!
//! Nothing here ever puts a password, or a string that might be one, into an error message.

use super::PasswordError;

/// bcrypt's cost (2^10 rounds of its key setup): measured ~58 ms per verification with libxcrypt on the
/// development machine, which nginx spends on each request of a logged-in browser.
pub const BCRYPT_COST: u32 = 10;

/// bcrypt reads at most this many bytes of a password; crypt(3) stops at the first NUL.
const BCRYPT_MAX_BYTES: usize = 72;

/// The alphabet of crypt's base64 (`./0-9A-Za-z`), which every accepted scheme writes its salt and hash in.
fn crypt64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

/// A new bcrypt hash (`$2b$10$...`) of `password` for `access.basic_auth[].htpasswd_hash`.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.contains('\0') {
        return Err(PasswordError::NulForCrypt);
    }
    if password.len() > BCRYPT_MAX_BYTES {
        return Err(PasswordError::TooLongForBcrypt(BCRYPT_MAX_BYTES));
    }
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(PasswordError::Random)?;
    let parts = bcrypt::hash_with_salt(password, BCRYPT_COST, salt)
        .map_err(|e| PasswordError::Bcrypt(e.to_string()))?;
    Ok(parts.format_for_version(bcrypt::Version::TwoB))
}

/// Whether `password` matches the bcrypt hash `hash` (for tests and checks; nginx does its own).
pub fn verify_bcrypt(hash: &str, password: &str) -> Result<bool, PasswordError> {
    bcrypt::verify(password, hash).map_err(|e| PasswordError::Bcrypt(e.to_string()))
}

/// What keeps `s` from being a hash jprov puts in an htpasswd file, if anything. Never the value itself.
pub fn problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("the hash is empty".into());
    }
    if let Some(why) = refused_scheme(s) {
        return Some(why.into());
    }
    if s.contains(':') {
        // `user:hash`, the whole line of an htpasswd file, pasted into the hash's field.
        return Some(
            "it contains ':', which ends the username on an htpasswd line: give only the hash here, \
             and the name in `username`"
                .into(),
        );
    }
    if let Some((i, c)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        let what = match c {
            '\n' | '\r' => "a line break",
            c if c.is_whitespace() => "whitespace",
            c if c.is_control() => "a control character",
            _ => "a non-ASCII character",
        };
        return Some(format!("{what} at character {}", i + 1));
    }
    if let Some(rest) = s.strip_prefix("$2b$").or_else(|| s.strip_prefix("$2y$")) {
        return bcrypt_problem(rest);
    }
    if let Some(rest) = s.strip_prefix("$6$") {
        return sha512_crypt_problem(rest);
    }
    if let Some(rest) = s.strip_prefix("$y$") {
        return yescrypt_problem(rest);
    }
    Some(
        "this is not a bcrypt ($2b$), yescrypt ($y$) or sha512-crypt ($6$) hash, the schemes jprov lets \
         nginx verify"
            .into(),
    )
}

/// Why a scheme nginx would take is refused, when `s` is written in one.
fn refused_scheme(s: &str) -> Option<&'static str> {
    const REFUSED: &[(&str, &str)] = &[
        (
            "{PLAIN}",
            "a {PLAIN} entry is the password itself, readable by anyone who reads the profile",
        ),
        (
            "{SHA}",
            "{SHA} is one unsalted SHA-1 of the password, guessed at billions a second",
        ),
        (
            "{SSHA}",
            "{SSHA} is one salted SHA-1 of the password, guessed at billions a second",
        ),
        (
            "$apr1$",
            "Apache's $apr1$ is a thousand rounds of MD5, guessed at millions a second",
        ),
        (
            "$1$",
            "md5-crypt ($1$) is a thousand rounds of MD5, guessed at millions a second",
        ),
        (
            "$2a$",
            "bcrypt's $2a$ prefix is ambiguous about non-ASCII passwords between implementations; \
             use a $2b$ hash",
        ),
    ];
    REFUSED
        .iter()
        .find(|(prefix, _)| s.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// `$2b$CC$` then 22 characters of salt and 31 of hash: CC is the cost, 04 to 31.
fn bcrypt_problem(rest: &str) -> Option<String> {
    let Some((cost, salt_and_hash)) = rest.split_once('$') else {
        return Some("malformed bcrypt hash: no '$' after the cost".into());
    };
    let cost_ok = cost.len() == 2
        && cost.bytes().all(|b| b.is_ascii_digit())
        && (4..=31).contains(&cost.parse::<u32>().unwrap_or(0));
    if !cost_ok {
        return Some("malformed bcrypt hash: the cost is not two digits from 04 to 31".into());
    }
    if salt_and_hash.len() != 53 || !crypt64(salt_and_hash) {
        return Some(
            "malformed bcrypt hash: after the cost come 53 characters of ./0-9A-Za-z (salt and hash)"
                .into(),
        );
    }
    None
}

/// `$6$[rounds=N$]SALT$HASH`: a salt of 1 to 16 characters, an 86-character hash, N from 1000 to 999999999.
fn sha512_crypt_problem(rest: &str) -> Option<String> {
    let rest = match rest.strip_prefix("rounds=") {
        Some(after) => {
            let Some((rounds, rest)) = after.split_once('$') else {
                return Some("malformed sha512-crypt hash: no '$' after rounds=".into());
            };
            let rounds_ok = (4..=9).contains(&rounds.len())
                && rounds.bytes().all(|b| b.is_ascii_digit())
                && !rounds.starts_with('0')
                && rounds.parse::<u32>().is_ok_and(|n| n >= 1000);
            if !rounds_ok {
                return Some(
                    "malformed sha512-crypt hash: rounds= is not a number from 1000 to 999999999"
                        .into(),
                );
            }
            rest
        }
        None => rest,
    };
    let (salt, hash) = rest.split_once('$').unwrap_or((rest, ""));
    if salt.is_empty() || salt.len() > 16 || !crypt64(salt) {
        return Some(
            "malformed sha512-crypt hash: the salt is not 1-16 characters of ./0-9A-Za-z".into(),
        );
    }
    if hash.len() != 86 || !crypt64(hash) {
        return Some(
            "malformed sha512-crypt hash: the hash is not 86 characters of ./0-9A-Za-z".into(),
        );
    }
    None
}

/// `$y$PARAMS$SALT$HASH`: parameters and salt in crypt's base64, a 43-character hash.
fn yescrypt_problem(rest: &str) -> Option<String> {
    let parts: Vec<&str> = rest.split('$').collect();
    let [params, salt, hash] = parts[..] else {
        return Some("malformed yescrypt hash: expected $y$PARAMETERS$SALT$HASH".into());
    };
    if params.is_empty() || params.len() > 32 || !crypt64(params) {
        return Some(
            "malformed yescrypt hash: the parameters are not 1-32 characters of ./0-9A-Za-z".into(),
        );
    }
    if salt.is_empty() || salt.len() > 86 || !crypt64(salt) {
        return Some(
            "malformed yescrypt hash: the salt is not 1-86 characters of ./0-9A-Za-z".into(),
        );
    }
    if hash.len() != 43 || !crypt64(hash) {
        return Some(
            "malformed yescrypt hash: the hash is not 43 characters of ./0-9A-Za-z".into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Debian 12's libxcrypt (`crypt_gensalt` with `$6$` and `$y$`, then `crypt`) for "mypassword".
    const SHA512_CRYPT: &str = "$6$cjWe9/47xZI71xVn$OQiVL5aFkX2OJ4GTVaRC35vBchiq4fWe7I2bz81h/.ghDjesQOQ8neHJ/2efB84tk0oLqlpb8DXGbfYfJdUZt.";
    const YESCRYPT: &str =
        "$y$j9T$XpqTppngQAMPbmY5Jetx.0$KckcqXYyZnxForMNra.BYMdjYMMGzXcBd8ECVuC9nc7";

    #[test]
    fn bcrypt_hashes_round_trip_and_are_salted() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$2b$10$") && h.len() == 60, "{h}");
        assert_eq!(problem(&h), None, "{h}");
        assert!(verify_bcrypt(&h, "correct horse").unwrap());
        assert!(!verify_bcrypt(&h, "correct horse!").unwrap());
        assert_ne!(h, hash_password("correct horse").unwrap(), "salts differ");
    }

    #[test]
    fn passwords_bcrypt_would_cut_or_crypt_would_stop_at_are_refused() {
        assert!(matches!(hash_password(""), Err(PasswordError::Empty)));
        assert!(matches!(
            hash_password("a\0b"),
            Err(PasswordError::NulForCrypt)
        ));
        assert!(matches!(
            hash_password(&"x".repeat(73)),
            Err(PasswordError::TooLongForBcrypt(72))
        ));
        assert!(hash_password(&"x".repeat(72)).is_ok());
    }

    #[test]
    fn the_three_schemes_are_accepted() {
        for good in [
            SHA512_CRYPT,
            YESCRYPT,
            "$2y$12$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u",
            "$2b$04$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u",
            "$6$rounds=50000$abcdefgh$OQiVL5aFkX2OJ4GTVaRC35vBchiq4fWe7I2bz81h/.ghDjesQOQ8neHJ/2efB84tk0oLqlpb8DXGbfYfJdUZt.",
        ] {
            assert_eq!(problem(good), None, "{good}");
        }
    }

    #[test]
    fn plaintext_fast_and_malformed_hashes_are_refused_without_the_value() {
        let bcrypt = "$2b$10$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u";
        for (bad, says) in [
            ("{PLAIN}hunter2secret", "{PLAIN}"),
            ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "{SHA}"),
            ("{SSHA}hunter2secretxx", "{SSHA}"),
            ("$apr1$hunter2s$eBNSDSfDw0MW9bsH1yGhu/", "$apr1$"),
            ("$1$hunter2s$eBNSDSfDw0MW9bsH1yGhu/", "$1$"),
            (
                "$2a$10$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u",
                "$2b$",
            ),
            ("hunter2secret", "not a bcrypt"),
            ("", "empty"),
            (
                "alice:$2b$10$L6Bc/AlTQHyd9liGgGEZyOFLPHNgyxeEPfgYfBCVxJ7JIlwxyVU3u",
                "':'",
            ),
            (&format!("{bcrypt}\nbob:x"), "':'"),
            (&format!("{bcrypt}\n"), "a line break at character 61"),
            (&format!("{bcrypt} "), "whitespace"),
            (&format!(" {bcrypt}"), "whitespace at character 1"),
            (&format!("{bcrypt}\t"), "whitespace"),
            (&format!("{bcrypt}\u{7f}"), "a control character"),
            (&bcrypt.replace("L6Bc", "L6Bé"), "non-ASCII"),
            (&bcrypt.replace("$10$", "$03$"), "cost"),
            (&bcrypt.replace("$10$", "$32$"), "cost"),
            (&bcrypt.replace("$10$", "$1$"), "cost"),
            (&bcrypt[..59], "53 characters"),
            (&format!("{bcrypt}x"), "53 characters"),
            (&bcrypt.replace("L6Bc", "L6B$"), "53 characters"),
            (&bcrypt.replace("L6Bc", "L6B'"), "53 characters"),
            ("$2b$10", "no '$'"),
            (&SHA512_CRYPT.replace("$cjWe9/47xZI71xVn$", "$$"), "salt"),
            (
                &SHA512_CRYPT.replace("cjWe9/47xZI71xVn", "cjWe9/47xZI71xVnx"),
                "salt",
            ),
            (&SHA512_CRYPT[..SHA512_CRYPT.len() - 1], "86 characters"),
            (&SHA512_CRYPT.replace("$6$", "$6$rounds=999$"), "rounds="),
            (&SHA512_CRYPT.replace("$6$", "$6$rounds=01000$"), "rounds="),
            (&SHA512_CRYPT.replace("$6$", "$6$rounds=x$"), "rounds="),
            ("$6$rounds=5000", "no '$' after rounds="),
            (&YESCRYPT.replace("$j9T$", "$$"), "parameters"),
            (&YESCRYPT[..YESCRYPT.len() - 1], "43 characters"),
            (&format!("{YESCRYPT}$x"), "expected $y$"),
            (
                "$5$abcdefgh$0123456789012345678901234567890123456789012",
                "not a bcrypt",
            ),
            (
                "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                "not a bcrypt",
            ),
        ] {
            let p = problem(bad).unwrap_or_else(|| panic!("accepted {bad:?}"));
            assert!(p.contains(says), "{bad:?}: {p}");
            for secret in [
                "hunter2",
                "L6Bc/AlTQ",
                "eBNSD",
                "W6ph5",
                "cjWe9",
                "XpqTpp",
                "bob:",
            ] {
                assert!(!p.contains(secret), "{bad:?} echoed: {p}");
            }
        }
    }
}
