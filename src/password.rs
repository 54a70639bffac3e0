//! Jupyter password hashes: make them, check them, recognise them, and read a new password. HTTP basic
//! auth's hashes for nginx are in `htpasswd`.
//!
//! jupyter_server 2.x (`jupyter_server/auth/security.py`, `passwd_check`) accepts two families in
//! `PasswordIdentityProvider.hashed_password`:
//! - `argon2:<PHC string>`: what `jupyter server password` writes (Argon2id v19, m=10240, t=10,
//!   p=8, 32-byte output, 16-byte salt). Verification reads the parameters from the PHC string.
//! - `<hashlib name>:<salt>:<hex digest>` with digest = H(utf8(password) + ascii(salt)); the
//!   classic one is `sha1` with a 12-character lowercase hex salt.
//!
//! Nothing here ever puts a password (or a string that might be one) into an error message.

pub mod htpasswd;
pub mod policy;

use std::io::{self, BufRead, IsTerminal};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha1::{Digest, Sha1};

/// Argon2 memory cost in KiB used by `jupyter server password`.
pub const ARGON2_M_COST: u32 = 10240;
/// Argon2 iterations used by `jupyter server password`.
pub const ARGON2_T_COST: u32 = 10;
/// Argon2 lanes used by `jupyter server password`.
pub const ARGON2_P_COST: u32 = 8;
/// Argon2 output length in bytes (argon2-cffi's default).
const ARGON2_OUTPUT_LEN: usize = 32;
/// Argon2 salt length in bytes (argon2-cffi's default).
const ARGON2_SALT_LEN: usize = 16;
/// Salt length in hex characters of the `<alg>:<salt>:<digest>` form (Jupyter's `salt_len`).
const HEX_SALT_LEN: usize = 12;
/// Upper bound on the length of anything `looks_like_hash` accepts.
const MAX_HASH_LEN: usize = 512;

/// Python hashlib names `passwd_check` accepts whose names fit the allowed character set, with
/// the length of their hex digest.
const HASHLIB_DIGEST_HEX_LEN: &[(&str, usize)] = &[
    ("md5", 32),
    ("sha1", 40),
    ("sha224", 56),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
    ("blake2b", 128),
    ("blake2s", 64),
];

/// Which kind of hash [`hash_password`] produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// `argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>`, Jupyter's default.
    Argon2,
    /// `sha1:<12 hex salt>:<40 hex digest>`, the legacy form (fast, hence weak against guessing).
    Sha1,
}

/// Errors from hashing, checking and reading passwords. Messages never contain the password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty; choose a non-empty password")]
    Empty,
    #[error(
        "the two passwords do not match; run the command again and type the same password twice"
    )]
    Mismatch,
    #[error("the password read from standard input is not valid UTF-8; pass it as UTF-8 text")]
    NotUtf8,
    #[error("could not read the password from {from}: {source}")]
    Read {
        from: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("could not get random bytes for the salt from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("argon2 hashing failed: {0}")]
    Hashing(#[source] argon2::password_hash::Error),
    #[error(
        "not a Jupyter password hash: expected `argon2:$argon2id$...` or `sha1:<salt>:<hex digest>`; \
         create one with `jprov hash-password`"
    )]
    UnrecognizedHash,
    #[error(
        "`{0}:` password hashes are valid for Jupyter, but jprov can only check `argon2:` and `sha1:` \
         hashes; create one with `jprov hash-password`"
    )]
    UnsupportedAlgorithm(&'static str),
    #[error(
        "the password holds a NUL character, where crypt(3), which nginx verifies basic auth with, \
         stops reading; choose another"
    )]
    NulForCrypt,
    #[error(
        "the password is longer than {0} bytes, and bcrypt would silently ignore the rest; choose a \
         shorter one"
    )]
    TooLongForBcrypt(usize),
    #[error("bcrypt hashing failed: {0}")]
    Bcrypt(String),
    #[error("malformed `{scheme}:` password hash: {reason}; create a new one with `jprov hash-password`")]
    MalformedHash {
        scheme: &'static str,
        reason: String,
    },
}

fn malformed(scheme: &'static str, reason: impl Into<String>) -> PasswordError {
    PasswordError::MalformedHash {
        scheme,
        reason: reason.into(),
    }
}

/// Hash `password` in a form real jupyter_server 2.x accepts in
/// `PasswordIdentityProvider.hashed_password`.
pub fn hash_password(password: &str, scheme: HashScheme) -> Result<String, PasswordError> {
    match scheme {
        HashScheme::Argon2 => {
            let mut salt = [0u8; ARGON2_SALT_LEN];
            getrandom::getrandom(&mut salt).map_err(PasswordError::Random)?;
            let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hashing)?;
            let params = Params::new(
                ARGON2_M_COST,
                ARGON2_T_COST,
                ARGON2_P_COST,
                Some(ARGON2_OUTPUT_LEN),
            )
            .map_err(|e| PasswordError::Hashing(e.into()))?;
            let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let phc = hasher
                .hash_password(password.as_bytes(), &salt)
                .map_err(PasswordError::Hashing)?;
            Ok(format!("argon2:{phc}"))
        }
        HashScheme::Sha1 => {
            let mut salt = [0u8; HEX_SALT_LEN / 2];
            getrandom::getrandom(&mut salt).map_err(PasswordError::Random)?;
            let salt = hex::encode(salt);
            Ok(format!("sha1:{salt}:{}", sha1_hex(password, &salt)))
        }
    }
}

fn sha1_hex(password: &str, salt: &str) -> String {
    let mut h = Sha1::new();
    h.update(password.as_bytes());
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

/// Check `password` against a hash in Jupyter's forms (`argon2:<PHC>` and `sha1:<salt>:<hex>`).
///
/// `Ok(false)` means a well-formed hash of another password; `Err` means the hash itself is
/// unusable (malformed, or a hashlib algorithm other than sha1).
pub fn verify_password(hash: &str, password: &str) -> Result<bool, PasswordError> {
    if let Some(phc) = hash.strip_prefix("argon2:") {
        return verify_argon2(phc, password);
    }
    let mut parts = hash.splitn(3, ':');
    let (Some(alg), Some(salt), Some(digest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PasswordError::UnrecognizedHash);
    };
    if alg != "sha1" {
        // Name the algorithm only when it is a known one: an unknown prefix may be a password.
        return Err(
            match HASHLIB_DIGEST_HEX_LEN.iter().find(|(n, _)| *n == alg) {
                Some((name, _)) => PasswordError::UnsupportedAlgorithm(name),
                None => PasswordError::UnrecognizedHash,
            },
        );
    }
    if !salt.is_ascii() {
        // Jupyter encodes the salt as ASCII and fails on anything else.
        return Err(malformed("sha1", "the salt is not ASCII"));
    }
    if digest.len() != 40 || !is_lower_hex(digest) {
        return Err(malformed(
            "sha1",
            "the digest is not 40 lowercase hex characters",
        ));
    }
    Ok(ct_eq(
        sha1_hex(password, salt).as_bytes(),
        digest.as_bytes(),
    ))
}

fn verify_argon2(phc: &str, password: &str) -> Result<bool, PasswordError> {
    let parsed = parse_argon2_phc(phc)?;
    // `Argon2::verify_password` takes algorithm, version and parameters from the PHC string.
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(malformed("argon2", e.to_string())),
    }
}

/// Parse and validate an Argon2 PHC string (without the `argon2:` prefix).
fn parse_argon2_phc(phc: &str) -> Result<PasswordHash<'_>, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| malformed("argon2", e.to_string()))?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| {
        malformed(
            "argon2",
            "the PHC algorithm is not argon2id, argon2i or argon2d",
        )
    })?;
    if let Some(v) = parsed.version {
        Version::try_from(v).map_err(|e| malformed("argon2", e.to_string()))?;
    }
    Params::try_from(&parsed).map_err(|e| malformed("argon2", e.to_string()))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed("argon2", "the PHC string lacks a salt or a hash"));
    }
    Ok(parsed)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compare without an early exit on the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when `s` has the shape of a Jupyter password hash: `argon2:` followed by a valid Argon2
/// PHC string (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`, also argon2i/argon2d, which
/// Jupyter accepts), or `<hashlib name>:<12 lowercase hex>:<lowercase hex digest of the
/// algorithm's length>` (sha1, sha256, ...).
///
/// Strict, because profile validation relies on it before the value lands in a config file:
/// only the characters `[A-Za-z0-9$=,+/:.-]` are accepted (no quotes, backslashes, whitespace).
/// hashlib names containing `_` (e.g. `sha3_256`) are therefore rejected.
pub fn looks_like_hash(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_HASH_LEN || !s.bytes().all(is_hash_char) {
        return false;
    }
    if let Some(phc) = s.strip_prefix("argon2:") {
        // Salt and hash in the PHC format's base64 (what argon2-cffi writes): the parser would also take
        // `.` and `-`, and so `..`, which no Jupyter hash has. And the canonical serialisation, so nothing
        // unusual slips through the parser.
        let base64 = phc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"$=,+/".contains(&b));
        return base64 && parse_argon2_phc(phc).is_ok_and(|p| p.to_string() == phc);
    }
    let parts: Vec<&str> = s.split(':').collect();
    let [alg, salt, digest] = parts[..] else {
        return false;
    };
    let Some(&(_, digest_len)) = HASHLIB_DIGEST_HEX_LEN.iter().find(|(n, _)| *n == alg) else {
        return false;
    };
    salt.len() == HEX_SALT_LEN
        && is_lower_hex(salt)
        && digest.len() == digest_len
        && is_lower_hex(digest)
}

fn is_hash_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"$=,+/:.-".contains(&b)
}

/// Read a new password.
///
/// When stdin is a terminal: prompt twice without echo ("Password: ", "Repeat password: "), the
/// prompts on stderr, and require the two entries to match. Otherwise read one line from stdin
/// and strip its trailing `\n` or `\r\n`. An empty password is an error.
pub fn read_new_password() -> Result<String, PasswordError> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden("Password: ")?;
        if first.is_empty() {
            return Err(PasswordError::Empty);
        }
        let second = prompt_hidden("Repeat password: ")?;
        confirm(first, second)
    } else {
        read_password_line(&mut stdin.lock())
    }
}

/// One value typed without echo (prompt on stderr), e.g. `jprov verify`'s password.
pub fn prompt_hidden(prompt: &str) -> Result<String, PasswordError> {
    // Input from /dev/tty with echo off (rpassword's default); prompt on stderr so that stdout
    // carries only the hash.
    let config = rpassword::ConfigBuilder::new()
        .output_writer(io::stderr())
        .build();
    rpassword::prompt_password_with_config(prompt, config).map_err(|source| PasswordError::Read {
        from: "the terminal",
        source,
    })
}

fn confirm(first: String, second: String) -> Result<String, PasswordError> {
    if first != second {
        return Err(PasswordError::Mismatch);
    }
    if first.is_empty() {
        return Err(PasswordError::Empty);
    }
    Ok(first)
}

/// Read one line, strip a trailing `\n` or `\r\n`, reject empty or non-UTF-8 input.
pub(crate) fn read_password_line(reader: &mut impl BufRead) -> Result<String, PasswordError> {
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(|source| PasswordError::Read {
            from: "standard input",
            source,
        })?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    let password = String::from_utf8(line).map_err(|_| PasswordError::NotUtf8)?;
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_MYPASSWORD: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
    const SHA1_UNICODE: &str = "sha1:23862bc21dd3:7a415a95ae4580582e314072143d9c382c491e4f";
    const ARGON2_UNICODE: &str =
        "argon2:$argon2id$v=19$m=10240,t=10,p=8$qjjDiZUofUVVnrVYxacnbA$l5pQq1bJ8zglGT2uXP6iOg";
    const UNICODE_PASSWORD: &str = "łe¶ŧ←↓→";

    #[test]
    fn sha1_known_vectors() {
        assert!(verify_password(SHA1_MYPASSWORD, "mypassword").unwrap());
        assert!(verify_password(SHA1_UNICODE, UNICODE_PASSWORD).unwrap());
    }

    #[test]
    fn sha1_wrong_passwords_fail() {
        assert!(!verify_password(SHA1_MYPASSWORD, "mypassword ").unwrap());
        assert!(!verify_password(SHA1_MYPASSWORD, "Mypassword").unwrap());
        assert!(!verify_password(SHA1_MYPASSWORD, "").unwrap());
        assert!(!verify_password(SHA1_UNICODE, "łe¶ŧ←↓").unwrap());
    }

    #[test]
    fn argon2_known_vector() {
        assert!(verify_password(ARGON2_UNICODE, UNICODE_PASSWORD).unwrap());
        assert!(!verify_password(ARGON2_UNICODE, "mypassword").unwrap());
    }

    #[test]
    fn argon2_round_trip_with_jupyter_parameters() {
        let h = hash_password("correct horse", HashScheme::Argon2).unwrap();
        let phc = h
            .strip_prefix("argon2:$argon2id$v=19$m=10240,t=10,p=8$")
            .unwrap();
        let (salt, out) = phc.split_once('$').unwrap();
        assert_eq!(salt.len(), 22, "16-byte salt in unpadded base64"); // ceil(16*4/3)
        assert_eq!(out.len(), 43, "32-byte output in unpadded base64"); // ceil(32*4/3)
        assert!(looks_like_hash(&h), "{h}");
        assert!(verify_password(&h, "correct horse").unwrap());
        assert!(!verify_password(&h, "correct horse!").unwrap());
    }

    #[test]
    fn argon2_salts_are_random() {
        let a = hash_password("same", HashScheme::Argon2).unwrap();
        let b = hash_password("same", HashScheme::Argon2).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn argon2_verification_reads_parameters_from_phc() {
        // Made with cheap parameters; verification must use them, not Jupyter's defaults.
        let params = Params::new(64, 1, 1, Some(16)).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        let h = format!("argon2:{phc}");
        assert!(verify_password(&h, "pw").unwrap());
        assert!(!verify_password(&h, "pW").unwrap());
        // Same salt and output under different parameters no longer verifies.
        let h2 = h.replace("t=1,", "t=2,");
        assert!(!verify_password(&h2, "pw").unwrap());
    }

    #[test]
    fn sha1_round_trip_and_shape() {
        for pw in ["mypassword", UNICODE_PASSWORD, "with:colon and space"] {
            let h = hash_password(pw, HashScheme::Sha1).unwrap();
            let parts: Vec<&str> = h.split(':').collect();
            assert_eq!(parts.len(), 3, "{h}");
            assert_eq!(parts[0], "sha1");
            assert!(parts[1].len() == 12 && is_lower_hex(parts[1]), "{h}");
            assert!(parts[2].len() == 40 && is_lower_hex(parts[2]), "{h}");
            assert!(looks_like_hash(&h), "{h}");
            assert!(verify_password(&h, pw).unwrap());
            assert!(!verify_password(&h, "other").unwrap());
        }
        let a = hash_password("x", HashScheme::Sha1).unwrap();
        let b = hash_password("x", HashScheme::Sha1).unwrap();
        assert_ne!(a, b, "salts must differ");
    }

    #[test]
    fn verify_rejects_unusable_hashes() {
        assert!(matches!(
            verify_password("mypassword", "mypassword"),
            Err(PasswordError::UnrecognizedHash)
        ));
        assert!(matches!(
            verify_password("secret:with:colons", "x"),
            Err(PasswordError::UnrecognizedHash)
        ));
        let sha256 = format!("sha256:0e112c3ddfce:{}", "a".repeat(64));
        assert!(matches!(
            verify_password(&sha256, "x"),
            Err(PasswordError::UnsupportedAlgorithm("sha256"))
        ));
        assert!(matches!(
            verify_password("sha1:0e112c3ddfce:", "x"),
            Err(PasswordError::MalformedHash { .. })
        ));
        assert!(matches!(
            verify_password(&SHA1_MYPASSWORD.to_uppercase().replace("SHA1", "sha1"), "x"),
            Err(PasswordError::MalformedHash { .. })
        ));
        for bad in [
            "argon2:",
            "argon2:garbage",
            "argon2:$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "argon2:$argon2id$v=19$m=10240,t=10,p=8$qjjDiZUofUVVnrVYxacnbA",
            "argon2:$argon2id$v=19$m=10240,t=0,p=8$qjjDiZUofUVVnrVYxacnbA$l5pQq1bJ8zglGT2uXP6iOg",
        ] {
            assert!(
                matches!(
                    verify_password(bad, UNICODE_PASSWORD),
                    Err(PasswordError::MalformedHash { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_never_contain_the_input() {
        let secret = "hunter2-secret";
        for hash in [secret, "hunter2:secret", "hunter2:se:cret"] {
            let msg = verify_password(hash, secret).unwrap_err().to_string();
            assert!(!msg.contains("hunter2") && !msg.contains("secret"), "{msg}");
        }
    }

    #[test]
    fn looks_like_hash_accepts_real_forms() {
        assert!(looks_like_hash(SHA1_MYPASSWORD));
        assert!(looks_like_hash(SHA1_UNICODE));
        assert!(looks_like_hash(ARGON2_UNICODE));
        assert!(looks_like_hash(&format!(
            "sha256:0e112c3ddfce:{}",
            "0123456789abcdef".repeat(4)
        )));
        assert!(looks_like_hash(
            "argon2:$argon2i$v=19$m=10240,t=10,p=8$qjjDiZUofUVVnrVYxacnbA$l5pQq1bJ8zglGT2uXP6iOg"
        ));
    }

    #[test]
    fn looks_like_hash_rejects_everything_else() {
        let sha256_ok = format!("sha256:0e112c3ddfce:{}", "0123456789abcdef".repeat(4));
        let rejected: Vec<String> = vec![
            "".into(),
            "mypassword".into(),
            UNICODE_PASSWORD.into(),
            "'; import os".into(),
            "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a'; import os; '".into(),
            format!("{SHA1_MYPASSWORD}\n"),
            format!("{SHA1_MYPASSWORD}\nc.ServerApp.ip = '0.0.0.0'"),
            format!(" {SHA1_MYPASSWORD}"),
            format!("{ARGON2_UNICODE} "),
            format!("'{SHA1_MYPASSWORD}'"),
            format!("\"{ARGON2_UNICODE}\""),
            format!("{SHA1_MYPASSWORD}\\"),
            SHA1_MYPASSWORD.replace("a68d", "A68D"),
            SHA1_MYPASSWORD.replace("0e112c", "0E112C"),
            SHA1_MYPASSWORD.replace(":a68df", ":a68d"),
            SHA1_MYPASSWORD.replace("0e112c3ddfce", "0e112c3ddfc"),
            SHA1_MYPASSWORD.replace("0e112c3ddfce", "0e112c3ddfcg"),
            SHA1_MYPASSWORD.replace("sha1:", "sha256:"),
            SHA1_MYPASSWORD.replace("sha1:", "foo:"),
            SHA1_MYPASSWORD.replace("sha1:", ""),
            format!("{SHA1_MYPASSWORD}:00"),
            format!("sha3_256:0e112c3ddfce:{}", "0123456789abcdef".repeat(4)),
            sha256_ok.replace("sha256:", "sha512:"),
            "argon2:".into(),
            "argon2:mypassword".into(),
            ARGON2_UNICODE.replace("argon2:", ""),
            ARGON2_UNICODE.replace("$argon2id$", "$scrypt$"),
            ARGON2_UNICODE.replace("$l5pQq1bJ8zglGT2uXP6iOg", ""),
            ARGON2_UNICODE.replace("t=10", "t=0"),
            ARGON2_UNICODE.replace("t=10", "t=x"),
            ARGON2_UNICODE.replace("p=8", "p=8,q=1"),
            ARGON2_UNICODE.replace("v=19", "v=42"),
            ARGON2_UNICODE.replace("qjjD", "qj'D"),
            ARGON2_UNICODE.replace("qjjD", "qj jD"),
            ARGON2_UNICODE.replace("qjjD", "qj..jD"),
            ARGON2_UNICODE.replace("qjjD", "qj-jD"),
            format!("{ARGON2_UNICODE}$"),
            format!("{ARGON2_UNICODE}$extra"),
            format!("argon2:{}", "a".repeat(600)),
        ];
        for s in &rejected {
            assert!(!looks_like_hash(s), "accepted {s:?}");
        }
    }

    #[test]
    fn password_line_from_stdin() {
        let read = |input: &[u8]| read_password_line(&mut &input[..]);
        assert_eq!(read(b"secret\n").unwrap(), "secret");
        assert_eq!(read(b"secret\r\n").unwrap(), "secret");
        assert_eq!(read(b"secret").unwrap(), "secret");
        assert_eq!(read(b" sp ace \n").unwrap(), " sp ace ");
        assert_eq!(read(b"first\nsecond\n").unwrap(), "first");
        assert_eq!(
            read("łe¶ŧ←↓→\n".as_bytes()).unwrap(),
            UNICODE_PASSWORD.to_string()
        );
        assert_eq!(read(b"trailing\r\r\n").unwrap(), "trailing\r");
        assert!(matches!(read(b""), Err(PasswordError::Empty)));
        assert!(matches!(read(b"\n"), Err(PasswordError::Empty)));
        assert!(matches!(read(b"\r\n"), Err(PasswordError::Empty)));
        assert!(matches!(read(b"\xff\xfe\n"), Err(PasswordError::NotUtf8)));
    }

    #[test]
    fn confirmation() {
        assert_eq!(confirm("a".into(), "a".into()).unwrap(), "a");
        assert!(matches!(
            confirm("a".into(), "b".into()),
            Err(PasswordError::Mismatch)
        ));
        assert!(matches!(
            confirm(String::new(), String::new()),
            Err(PasswordError::Empty)
        ));
    }
}
