//! jprov's one error: every layer's error converts into it, and it knows its exit code.

use crate::host::exec::TransportError;
use crate::profile::ProfileError;
use crate::protocol::FactsError;
use crate::render::RenderError;
use crate::resource::Role;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Script(#[from] crate::script::ScriptError),
    #[error("{role}: {source}")]
    Transport {
        role: Role,
        #[source]
        source: TransportError,
    },
    #[error("{role}: {source}")]
    Facts {
        role: Role,
        #[source]
        source: FactsError,
    },
    #[error("{role}: `{program} -t` rejected the new configuration; the previous files were restored and nothing was reloaded. It said:\n{output}")]
    Invalid {
        role: Role,
        program: String,
        output: String,
    },
    #[error("{role}: apply failed: {message}")]
    Apply { role: Role, message: String },
    #[error("{role}: after the sshd reload a fresh login as {user} failed ({reason}). jprov restored the previous sshd files and reloaded sshd; your access is as before. Nothing in the profile was applied to sshd.")]
    LockoutPrevented {
        role: Role,
        user: String,
        reason: String,
    },
    #[error(transparent)]
    SavedPlan(#[from] crate::saved_plan::SavedPlanError),
    #[error("the plan has problems; nothing was changed:\n{0}")]
    PlanProblems(String),
    #[error("apply stopped after {rounds} rounds with changes still pending:\n{pending}")]
    NotConverged { rounds: usize, pending: String },
    #[error("cannot write {what}: {error}")]
    Output {
        what: String,
        #[source]
        error: std::io::Error,
    },
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
    #[error(transparent)]
    PasswordPolicy(#[from] crate::password::policy::PolicyError),
    #[error(transparent)]
    Init(#[from] crate::init::InitError),
    #[error(transparent)]
    Tunnel(#[from] crate::host::tunnel::TunnelError),
    #[error(
        "jprov {command} changes the hosts and asks first, but standard input is not a terminal, so nobody \
         can answer: pass --yes (alias --auto-approve), or review a saved plan (`jprov plan -o FILE \
         PROFILE`, then `jprov apply FILE`). Nothing was changed."
    )]
    NeedsApproval { command: &'static str },
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error("{0}")]
    Usage(String),
    #[error("jprov {command} cancelled: only `yes` approves. Nothing was changed.")]
    Cancelled { command: &'static str },
}

/// Exit codes, documented in README.md.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const INVALID: u8 = 3;
    pub const UNREACHABLE: u8 = 4;
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid { .. } | Error::PlanProblems(_) => exit::INVALID,
            Error::Transport { source, .. } if source.is_unreachable() => exit::UNREACHABLE,
            _ => exit::ERROR,
        }
    }
}
