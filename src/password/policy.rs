//! The password policy of `jprov hash-password` and `jprov init`, the only places that see a plaintext
//! password: long enough for what it guards, and never one the profile already holds a hash of.
//!
//! The lengths follow the usual advice for a Jupyter exposed to the internet: a Jupyter password of more
//! than 16 characters (its hash, kept in git, is all an attacker needs to guess offline), a basic-auth
//! password of more than 10 (browsers remember it; its bcrypt hash is cheaper to guess than argon2), and
//! never the same password twice (one leak must not open a second layer or a second person's login).
//!
//! Nothing here puts a password, or its length, into a message.

use super::{htpasswd, verify_password, PasswordError};
use crate::profile::Profile;

/// What a new password is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A Jupyter login (`jupyter.password_hash`, a collaborator's `password_hash`).
    Jupyter,
    /// An HTTP basic-auth account (`access.basic_auth[].htpasswd_hash`).
    BasicAuth,
}

impl Purpose {
    /// The most characters a password for it may have and still be refused as too short.
    pub fn too_short_up_to(self) -> usize {
        match self {
            Purpose::Jupyter => 16,
            Purpose::BasicAuth => 10,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Purpose::Jupyter => "Jupyter password",
            Purpose::BasicAuth => "basic-auth password",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "a {what} needs more than {up_to} characters, and this one has {up_to} or fewer: choose a longer \
         one (several random words make one you can type), or pass --allow-short to hash it anyway"
    )]
    TooShort { what: &'static str, up_to: usize },
    #[error(
        "the profile already holds a hash of this password, in {field}{whose}: never use the same password \
         twice (a leak of one would open the other); choose another"
    )]
    Reused { field: String, whose: String },
    #[error("comparing with the hash in {field}: {source}")]
    Unusable {
        field: String,
        #[source]
        source: PasswordError,
    },
}

/// Refuses a password of `purpose`'s length or less.
pub fn check_length(password: &str, purpose: Purpose) -> Result<(), PolicyError> {
    let up_to = purpose.too_short_up_to();
    match password.chars().count() > up_to {
        true => Ok(()),
        false => Err(PolicyError::TooShort {
            what: purpose.what(),
            up_to,
        }),
    }
}

/// The warning `--allow-short` prints, so that a short password never goes by unnoticed.
pub fn allowed_short_warning(purpose: Purpose) -> String {
    format!(
        "warning: --allow-short: hashing a {} of {} characters or fewer, shorter than jprov's policy asks",
        purpose.what(),
        purpose.too_short_up_to()
    )
}

/// A password hash a profile holds, and whose login it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldHash<'a> {
    /// The profile field: `jupyter.password_hash`, `jupyter.collaborators[1].password_hash`, ...
    pub field: String,
    /// The login's username: the owner's is `workstation.user`.
    pub username: String,
    pub hash: &'a str,
    pub purpose: Purpose,
}

/// Every password hash in the profile: the owner's, each collaborator's, each basic-auth account's.
pub fn held_hashes(p: &Profile) -> Vec<HeldHash<'_>> {
    let mut held = vec![HeldHash {
        field: "jupyter.password_hash".into(),
        username: p.workstation.user.to_string(),
        hash: p.jupyter.password_hash.as_str(),
        purpose: Purpose::Jupyter,
    }];
    for (i, person) in p.jupyter.collaborators.iter().enumerate() {
        held.push(HeldHash {
            field: format!("jupyter.collaborators[{i}].password_hash"),
            username: person.username.to_string(),
            hash: person.password_hash.as_str(),
            purpose: Purpose::Jupyter,
        });
    }
    for (i, account) in p.access.basic_auth.iter().flatten().enumerate() {
        held.push(HeldHash {
            field: format!("access.basic_auth[{i}].htpasswd_hash"),
            username: account.username.to_string(),
            hash: account.htpasswd_hash.as_str(),
            purpose: Purpose::BasicAuth,
        });
    }
    held
}

/// What comparing a new password with a profile's hashes found out.
#[derive(Debug, Default)]
pub struct Compared {
    /// The fields whose hash jprov cannot verify (yescrypt and sha512-crypt, which only the C library
    /// checks): the password was not compared with them.
    pub not_compared: Vec<String>,
}

/// Refuses `password` when any hash in `p` is a hash of it (checked with the same verification as
/// everything else: `verify_password`, bcrypt's `verify`).
pub fn check_not_reused(password: &str, p: &Profile) -> Result<Compared, PolicyError> {
    let mut compared = Compared::default();
    for held in held_hashes(p) {
        let unusable = |source| PolicyError::Unusable {
            field: held.field.clone(),
            source,
        };
        let matches = match held.purpose {
            Purpose::Jupyter => verify_password(held.hash, password).map_err(unusable)?,
            Purpose::BasicAuth if is_bcrypt(held.hash) => {
                htpasswd::verify_bcrypt(held.hash, password).map_err(unusable)?
            }
            Purpose::BasicAuth => {
                compared.not_compared.push(held.field.clone());
                false
            }
        };
        if matches {
            return Err(PolicyError::Reused {
                whose: format!(" ({}'s login)", held.username),
                field: held.field,
            });
        }
    }
    Ok(compared)
}

/// The whole policy for a new password: its length (unless `allow_short`) and, given the profile, that it
/// is new to it. Returns the warnings to print on stderr.
pub fn accept(
    password: &str,
    purpose: Purpose,
    allow_short: bool,
    profile: Option<&Profile>,
) -> Result<Vec<String>, PolicyError> {
    let mut warnings = vec![];
    match check_length(password, purpose) {
        Err(_) if allow_short => warnings.push(allowed_short_warning(purpose)),
        checked => checked?,
    }
    if let Some(p) = profile {
        for field in check_not_reused(password, p)?.not_compared {
            warnings.push(format!(
                "note: {field} is a hash only the C library verifies (yescrypt or sha512-crypt): the \
                 password was not compared with it"
            ));
        }
    }
    Ok(warnings)
}

fn is_bcrypt(hash: &str) -> bool {
    hash.starts_with("$2b$") || hash.starts_with("$2y$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_counted_in_characters_and_the_limits_are_exclusive() {
        assert!(check_length(&"a".repeat(16), Purpose::Jupyter).is_err());
        assert!(check_length(&"a".repeat(17), Purpose::Jupyter).is_ok());
        assert!(check_length(&"a".repeat(10), Purpose::BasicAuth).is_err());
        assert!(check_length(&"a".repeat(11), Purpose::BasicAuth).is_ok());
        // 16 characters of two bytes each are still 16 characters.
        assert!(check_length(&"é".repeat(16), Purpose::Jupyter).is_err());
        let message = check_length("hunter2", Purpose::Jupyter)
            .unwrap_err()
            .to_string();
        assert!(
            !message.contains("hunter2") && !message.contains('7'),
            "{message}"
        );
    }
}
