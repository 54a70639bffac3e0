//! What running a script on a host gives back, and the ways reaching a host fails.

use crate::host::known_hosts::HostKey;
use std::path::PathBuf;

#[derive(Debug)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("{0}")]
    HostKey(#[from] KeyRefusal),
    #[error("cannot log in to {target}: {reason}")]
    Auth { target: String, reason: String },
    #[error("running a command on {target} failed: {reason}")]
    Exec { target: String, reason: String },
}

impl TransportError {
    /// Connection-level problems (as opposed to a command failing on a reachable host).
    pub fn is_unreachable(&self) -> bool {
        !matches!(self, TransportError::Exec { .. })
    }
}

/// Why jprov refuses a host key or cannot keep it: one text for every connection and for `jprov trust`.
#[derive(Clone, Debug, thiserror::Error)]
pub enum KeyRefusal {
    #[error(
        "REFUSED: {name} presented host key {} ({}), which is marked @revoked in {}:{line}. Nothing was sent.",
        key.fingerprint(), key.algorithm, file.display()
    )]
    Revoked {
        name: String,
        key: HostKey,
        file: PathBuf,
        line: usize,
    },
    #[error(
        "HOST KEY CHANGED for {name}: it presented {} ({}), but {} lists another key. This may be an attack; \
         nothing was sent or recorded. If the host was really re-keyed, remove the old entry ({}) and run \
         `jprov trust` or connect again.",
        key.fingerprint(), key.algorithm, listed(known), removals(name, known)
    )]
    Changed {
        name: String,
        key: HostKey,
        /// Where the other keys are listed: file, line, algorithm.
        known: Vec<(PathBuf, usize, String)>,
    },
    #[error(
        "unknown host key for {name}: {} ({}). Nothing was sent. Check the fingerprint with the host's \
         administrator, then add it to known_hosts{}, or run again with --accept-new-host-keys to record it.",
        key.fingerprint(), key.algorithm,
        pinned.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
    )]
    Unknown {
        name: String,
        key: HostKey,
        pinned: Option<PathBuf>,
    },
    #[error("cannot record the host key of {name} in {}: {error}", file.display())]
    CannotRecord {
        name: String,
        file: PathBuf,
        error: std::sync::Arc<std::io::Error>,
    },
}

fn listed(known: &[(PathBuf, usize, String)]) -> String {
    known
        .iter()
        .map(|(file, line, algorithm)| format!("{}:{line} ({algorithm})", file.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The command that removes `name`'s entries from each file that lists them.
fn removals(name: &str, known: &[(PathBuf, usize, String)]) -> String {
    let mut files: Vec<&PathBuf> = known.iter().map(|(file, _, _)| file).collect();
    files.dedup();
    files
        .iter()
        .map(|file| format!("ssh-keygen -R '{name}' -f '{}'", file.display()))
        .collect::<Vec<_>>()
        .join("; ")
}
