//! What running a script on a host gives back, and the ways reaching a host fails.

#[derive(Debug)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("{0}")]
    HostKey(String),
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
