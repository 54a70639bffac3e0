//! What the apply script and the lockout guard's control script reported.

use super::{Line, UnknownLine};

/// What an apply script reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub steps_done: usize,
    pub reloaded: Vec<String>,
    pub finished: bool,
    /// The lockout guard is armed: sshd was reloaded with new files.
    pub guard_armed: bool,
    pub failure: Option<Failure>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// `sshd -t` or `nginx -t` refused the new files; they were restored.
    Invalid {
        program: String,
        output: String,
    },
    Error(String),
    /// The script printed a line that is not the apply script's.
    Unknown(UnknownLine),
}

pub fn parse_outcome(stdout: &str) -> Outcome {
    let mut outcome = Outcome::default();
    for (i, text) in stdout.lines().enumerate() {
        let failure = match Line::parse(i + 1, text) {
            Ok(Line::Done(n)) => {
                outcome.steps_done = n;
                continue;
            }
            Ok(Line::Reloaded(service)) => {
                outcome.reloaded.push(service);
                continue;
            }
            Ok(Line::Finished) => {
                outcome.finished = true;
                continue;
            }
            Ok(Line::GuardArmed(_)) => {
                outcome.guard_armed = true;
                continue;
            }
            Ok(Line::Invalid { program, output }) => Failure::Invalid { program, output },
            Ok(Line::Error(message)) => Failure::Error(message),
            Ok(_) => Failure::Unknown(UnknownLine::new(i + 1, text)),
            Err(unknown) => Failure::Unknown(unknown),
        };
        // The first failure is the one that stopped the script.
        outcome.failure.get_or_insert(failure);
    }
    outcome
}

/// What the guard's control script reported.
#[derive(Debug, PartialEq, Eq)]
pub enum GuardReply {
    /// Disarmed: it will not fire.
    Disarmed,
    /// Left armed: sshd still has a reload pending (in the on-host journal), so the files on disk are not yet
    /// what sshd runs and a login proves nothing about them.
    Kept,
    /// There was no guard any more: it fired before jprov got to it.
    Gone,
    /// It restored the previous files (and reloaded sshd if they pass `sshd -t`).
    Fired,
    /// Anything else: the script failed (`jprov-error ...`), printed a line of another kind, or said
    /// nothing.
    Failed(String),
}

/// The reply of the guard's control script: exactly one reply line and nothing else.
pub fn parse_guard_reply(stdout: &str) -> GuardReply {
    let mut reply = None;
    for (i, text) in stdout.lines().enumerate() {
        let this = match Line::parse(i + 1, text) {
            Ok(Line::GuardDisarmed) => GuardReply::Disarmed,
            Ok(Line::GuardKept) => GuardReply::Kept,
            Ok(Line::GuardGone) => GuardReply::Gone,
            Ok(Line::GuardFired) => GuardReply::Fired,
            Ok(Line::Error(message)) => return GuardReply::Failed(message),
            Ok(_) => {
                let unknown = UnknownLine::new(i + 1, text);
                return GuardReply::Failed(format!("the guard script printed {unknown}"));
            }
            Err(unknown) => {
                return GuardReply::Failed(format!("the guard script printed {unknown}"))
            }
        };
        if reply.is_some() {
            return GuardReply::Failed("the guard script replied twice".into());
        }
        reply = Some(this);
    }
    reply.unwrap_or_else(|| GuardReply::Failed("the guard script reported nothing".into()))
}
