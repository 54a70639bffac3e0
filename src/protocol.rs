//! Every line jprov's on-host scripts print, defined once: the shell functions that print each kind
//! (`EMITTERS`, generated into every script by `shell`) beside the parser (`Line::parse`) that reads it
//! back. A script prints nothing on stdout but these lines, and a line that is not one of them is an error
//! wherever it is read (apply, guard, facts, check).
//!
//! Fields are separated by one space; anything that may hold a space or any byte (paths, contents,
//! messages) is hex-encoded, by the caller (`h`, `hs`, or `hex_in`/`hex_of` into `HEX`) or by the emitter
//! (`%h` in its format).

mod blobs;
mod facts;
mod outcome;

pub use blobs::BlobError;
pub use facts::{parse_facts, Fact, FactsError, Record};
pub use outcome::{parse_guard_reply, parse_outcome, Failure, GuardReply, Outcome};

/// The shell function that prints one kind of line, and its format: fixed words and fields, `%s` for an
/// argument printed as it is, `%h` for an argument printed hex-encoded.
struct Emitter {
    function: &'static str,
    format: &'static str,
}

const fn emitter(function: &'static str, format: &'static str) -> Emitter {
    Emitter { function, format }
}

/// Every kind of line, by the function that prints it. `Line::emitter` names the entry of each parsed line.
const EMITTERS: &[Emitter] = &[
    // Any script: what went wrong (the library's `fail` prints it, then exits).
    emitter("say_error", "jprov-error %h"),
    // The apply script.
    emitter("say_done", "jprov-done %s"),
    emitter("say_reloaded", "jprov-reloaded %s"),
    emitter("say_guard_armed", "jprov-guard-armed %s"),
    emitter("say_invalid", "jprov-invalid %s %h"),
    emitter("say_finished", "jprov-finished"),
    // The lockout guard's control script.
    emitter("say_guard_disarmed", "jprov-guard-disarmed"),
    emitter("say_guard_kept", "jprov-guard-kept"),
    emitter("say_guard_gone", "jprov-guard-gone"),
    emitter("say_guard_fired", "jprov-guard-fired"),
    // The check script (plan-time validation of staged candidates).
    emitter("say_check_ok", "check %s ok"),
    emitter("say_check_invalid", "check %s invalid %h"),
    emitter("say_check_end", "check end"),
    // sshd's effective settings (facts and check): HEXLINES of `sshd -T` and of `file:line:text`.
    emitter("say_effective", "effective %s %s"),
    emitter("say_sources", "sources %s"),
    // The facts script: paths and contents arrive hex-encoded.
    emitter("fact_begin", "jprov-facts 1"),
    emitter("fact_uid", "uid %s"),
    emitter("fact_home", "home %s"),
    emitter("fact_systemd", "systemd %s"),
    emitter("fact_file_missing", "file %s missing"),
    emitter("fact_file_link", "file %s link %h"),
    emitter("fact_file_other", "file %s other %s"),
    emitter("fact_file", "file %s file %s %s %s %s"),
    emitter("fact_read", "read %s %s"),
    emitter("fact_account", "account %s %s"),
    emitter("fact_key", "key %s %s"),
    emitter("fact_certificate", "certificate %s %s"),
    emitter("fact_tunnel", "tunnel %s %s %s"),
    emitter("fact_unit", "unit %s %s %s %s"),
    emitter("fact_linger", "linger %s"),
    emitter("fact_linger_sudo", "linger-sudo %s"),
    emitter("fact_executable", "executable %s %s"),
    emitter("fact_resolves", "resolves %s %s"),
    emitter("fact_private_missing", "private %s missing"),
    emitter("fact_private_other", "private %s other %s"),
    emitter("fact_private_file", "private %s file %s %s %s"),
    // PROGRAM (hex) INTERPRETER (hex, or `none`) REPORT (hex: what the interpreter printed).
    emitter("fact_python", "python %s %s %s"),
    emitter("fact_listening", "listening %s %h"),
    emitter("fact_exists", "exists %s"),
    // A profile's records, each tagged with the profile (one gathering may read several profiles'):
    // `records PROFILE` first, so a profile without any is answered too.
    emitter("fact_records", "records %s"),
    emitter("fact_pending", "pending %s %s %s"),
    emitter("fact_state", "state %s yes"),
    emitter("fact_guard", "guard %s armed %s"),
    emitter("fact_backups", "backups %s %s"),
    emitter("fact_originals_absent", "originals-absent %s %s"),
    emitter("fact_original_link", "original %s %s link %h"),
    emitter("fact_original_file", "original %s %s file %s %s %s %s"),
    emitter("fact_end", "end"),
];

/// The shell side of the protocol, part of every script before the library: the hex encoders and one
/// function per kind of line. An emitter called with too few arguments stops the script (`set -u`).
pub fn shell() -> String {
    let mut text = String::from(
        "# jprov's line protocol (src/protocol.rs): the only things a script prints on stdout.\n\
         # HEX=stdin's bytes hex-encoded: one od, whose words the shell joins (IFS empty), no tr.\n\
         hex_in() { set -- $(od -An -v -tx1); jprov_ifs=$IFS; IFS=; HEX=\"$*\"; IFS=$jprov_ifs; }\n\
         # HEX=a string's bytes hex-encoded (the here-document adds a newline: 0a, cut again); no od for none.\n\
         hex_of() { if [ -z \"$1\" ]; then HEX=; return; fi; hex_in <<JPROV_HEX\n$1\nJPROV_HEX\nHEX=${HEX%0a}; }\n\
         h() { hex_in; printf '%s' \"$HEX\"; }\n\
         hs() { hex_of \"$1\"; printf '%s' \"$HEX\"; }\n",
    );
    for e in EMITTERS {
        text.push_str(&emitter_function(e));
    }
    text
}

/// `NAME() { printf 'FORMAT\n' ARGS; }` for one emitter; a `%h` argument is encoded first (`hex_of`, into
/// HEX: no subshell), so a format holds at most one.
fn emitter_function(e: &Emitter) -> String {
    let mut words = vec![];
    let mut encode = String::new();
    let mut args = String::new();
    let mut n = 0;
    for word in e.format.split(' ') {
        match word {
            "%s" | "%h" => {
                n += 1;
                words.push("%s");
                if word == "%s" {
                    args.push_str(&format!(" \"${n}\""));
                } else {
                    assert!(encode.is_empty(), "{}: two %h fields", e.function);
                    encode = format!("hex_of \"${n}\"; ");
                    args.push_str(" \"$HEX\"");
                }
            }
            fixed => words.push(fixed),
        }
    }
    format!(
        "{}() {{ {encode}printf '{}\\n'{args}; }}\n",
        e.function,
        words.join(" ")
    )
}

/// One line a script printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// What went wrong on the host.
    Error(String),
    /// The apply script finished step N.
    Done(usize),
    Reloaded(String),
    /// sshd was reloaded with new files under the lockout guard, which fires after SECONDS.
    GuardArmed(u32),
    /// `PROGRAM -t` refused the new files; they were restored.
    Invalid {
        program: String,
        output: String,
    },
    Finished,
    GuardDisarmed,
    GuardKept,
    GuardGone,
    GuardFired,
    CheckOk(String),
    CheckInvalid {
        program: String,
        output: String,
    },
    CheckEnd,
    /// sshd's effective settings for a user: `keyword value` lines.
    Effective {
        user: String,
        lines: Vec<String>,
    },
    /// `file:line:text` of every line setting one of the keywords jprov reads back.
    Sources(Vec<String>),
    FactsBegin,
    Fact(Fact),
    FactsEnd,
}

/// A line that is none of `Line`'s kinds (or one whose fields do not decode).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {number}: {text:?}")]
pub struct UnknownLine {
    /// 1-based, in the script's output.
    pub number: usize,
    /// The line's first 120 characters.
    pub text: String,
}

impl UnknownLine {
    fn new(number: usize, line: &str) -> UnknownLine {
        UnknownLine {
            number,
            text: line.chars().take(120).collect(),
        }
    }
}

/// Hex-decoded text; `None` if it is not hex or not UTF-8.
pub(crate) fn unhex(hexed: &str) -> Option<String> {
    String::from_utf8(hex::decode(hexed).ok()?).ok()
}

/// Hex-decoded bytes, shown to people (invalid UTF-8 replaced).
fn unhex_lossy(hexed: &str) -> Option<String> {
    hex::decode(hexed)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn lines_of(hexed: &str) -> Option<Vec<String>> {
    Some(unhex(hexed)?.lines().map(str::to_string).collect())
}

impl Line {
    /// Parse line `number` (1-based) of a script's output.
    pub fn parse(number: usize, line: &str) -> Result<Line, UnknownLine> {
        let fields: Vec<&str> = line.split(' ').collect();
        Line::from_fields(&fields).ok_or_else(|| UnknownLine::new(number, line))
    }

    fn from_fields(fields: &[&str]) -> Option<Line> {
        let line = match fields {
            ["jprov-error", message] => Line::Error(unhex_lossy(message)?),
            ["jprov-done", n] => Line::Done(n.parse().ok()?),
            ["jprov-reloaded", service] => Line::Reloaded(service.to_string()),
            ["jprov-guard-armed", seconds] => Line::GuardArmed(seconds.parse().ok()?),
            ["jprov-invalid", program, output] => Line::Invalid {
                program: program.to_string(),
                output: unhex_lossy(output)?,
            },
            ["jprov-finished"] => Line::Finished,
            ["jprov-guard-disarmed"] => Line::GuardDisarmed,
            ["jprov-guard-kept"] => Line::GuardKept,
            ["jprov-guard-gone"] => Line::GuardGone,
            ["jprov-guard-fired"] => Line::GuardFired,
            ["check", "end"] => Line::CheckEnd,
            ["check", program, "ok"] => Line::CheckOk(program.to_string()),
            ["check", program, "invalid", output] => Line::CheckInvalid {
                program: program.to_string(),
                output: unhex_lossy(output)?,
            },
            ["effective", user, hexed] => Line::Effective {
                user: user.to_string(),
                lines: lines_of(hexed)?,
            },
            ["sources", hexed] => Line::Sources(lines_of(hexed)?),
            ["jprov-facts", "1"] => Line::FactsBegin,
            ["end"] => Line::FactsEnd,
            _ => Line::Fact(Fact::from_fields(fields)?),
        };
        Some(line)
    }

    /// The shell function (`EMITTERS`) that prints this kind of line.
    pub fn emitter(&self) -> &'static str {
        match self {
            Line::Error(_) => "say_error",
            Line::Done(_) => "say_done",
            Line::Reloaded(_) => "say_reloaded",
            Line::GuardArmed(_) => "say_guard_armed",
            Line::Invalid { .. } => "say_invalid",
            Line::Finished => "say_finished",
            Line::GuardDisarmed => "say_guard_disarmed",
            Line::GuardKept => "say_guard_kept",
            Line::GuardGone => "say_guard_gone",
            Line::GuardFired => "say_guard_fired",
            Line::CheckOk(_) => "say_check_ok",
            Line::CheckInvalid { .. } => "say_check_invalid",
            Line::CheckEnd => "say_check_end",
            Line::Effective { .. } => "say_effective",
            Line::Sources(_) => "say_sources",
            Line::FactsBegin => "fact_begin",
            Line::Fact(fact) => fact.emitter(),
            Line::FactsEnd => "fact_end",
        }
    }
}

/// Every line of a script's output, parsed; the first unknown one is the error.
pub fn parse_all(output: &str) -> Result<Vec<Line>, UnknownLine> {
    output
        .lines()
        .enumerate()
        .map(|(i, line)| Line::parse(i + 1, line))
        .collect()
}

/// What the check script (validation of staged candidates) reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// (program, None if valid / Some(output) if not).
    pub validations: Vec<(String, Option<String>)>,
    pub sshd: crate::facts::SshdView,
    /// The script stopped with this error (`jprov-error`).
    pub error: Option<String>,
    pub complete: bool,
}

/// Read the check script's output; a line of another kind is an error.
pub fn parse_check(output: &str) -> Result<CheckReport, UnknownLine> {
    let mut report = CheckReport::default();
    for (i, line) in output.lines().enumerate() {
        let parsed = Line::parse(i + 1, line)?;
        match parsed {
            Line::CheckOk(program) => report.validations.push((program, None)),
            Line::CheckInvalid { program, output } => {
                report.validations.push((program, Some(output)))
            }
            Line::CheckEnd => report.complete = true,
            Line::Error(message) => report.error = Some(message),
            other if take_sshd(&mut report.sshd, &other) => {}
            _ => return Err(UnknownLine::new(i + 1, line)),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests;

/// Take an `effective` or `sources` record into `view`; false for a line of any other kind.
pub(crate) fn take_sshd(view: &mut crate::facts::SshdView, line: &Line) -> bool {
    match line {
        Line::Effective { user, lines } => {
            for line in lines {
                let (key, value) = line.split_once(' ').unwrap_or((line, ""));
                view.effective
                    .insert((user.clone(), key.to_string()), value.to_string());
            }
            true
        }
        Line::Sources(lines) => {
            view.sources.extend(lines.iter().cloned());
            true
        }
        _ => false,
    }
}
