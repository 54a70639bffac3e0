//! The lockout guard's scripts: its control script (disarm, or fire now) and its fire program, which the
//! apply script writes into the guard's directory and a timer or sleeper runs long after. Both carry the
//! library, so the guard restores exactly as apply does (`restore_record`, `sshd_reload`, the journal).

use super::{assemble, Lines, Root, ScriptError, HOST_LIB};

/// What the control script does to the profile's guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardAction {
    /// jprov proved a fresh login: disarm (or keep it, while an sshd reload is pending).
    Disarm,
    /// jprov's fresh login failed: restore now, through the fire program.
    Fire,
}

/// The script that disarms or fires the lockout guard of `profile`.
pub fn guard(root: Root, profile: &str, action: GuardAction) -> Result<String, ScriptError> {
    let mut body = Lines::default();
    body.call("state_dir", &[])?;
    let (function, what) = match action {
        GuardAction::Disarm => ("guard_disarm", "disarm"),
        GuardAction::Fire => ("guard_fire_now", "fire"),
    };
    body.call(function, &[])?;
    let about = format!("jprov: {what} the lockout guard of profile {profile}. Runs with `sh -s`.");
    assemble(&about, root, profile, &body.into_text())
}

/// The lockout guard's fire program: the protocol, the library and its `guard_fire`, standing alone (run as
/// `sh DIR/fire TOKEN`; it finds its profile and state directory from DIR).
pub fn guard_fire_program(root: Root) -> Result<String, ScriptError> {
    let mut head = Lines::default();
    head.raw("#!/bin/sh\n");
    head.comment(
        "jprov lockout guard: restores what an unproven apply wrote to sshd's files, then reloads sshd.",
    );
    head.raw("set -eu\n");
    head.assign("JPROV_ROOT", root.0)?;
    let mut text = head.into_text();
    text.push_str(&crate::protocol::shell());
    text.push_str(HOST_LIB);
    text.push_str("guard_fire \"$@\"\n");
    Ok(text)
}
