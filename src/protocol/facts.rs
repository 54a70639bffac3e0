//! The facts script's records (`fact_*` in `EMITTERS`), decoded, and folded into `Facts`.

use super::{unhex, unhex_lossy, Line, UnknownLine};
use crate::facts::{
    Facts, FileFact, GuardFact, PrivateFileFact, ProfileRecords, PythonFact, TunnelFact, UnitFact,
};
use crate::resource::UnitScope;
use std::collections::BTreeMap;

/// One record of the facts script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    Uid(u32),
    Home(String),
    Systemd(bool),
    File {
        path: String,
        fact: FileFact,
    },
    Read {
        path: String,
        content: Vec<u8>,
    },
    Account {
        name: String,
        present: bool,
    },
    Key {
        path: String,
        public: String,
    },
    Certificate {
        path: String,
        fresh: bool,
    },
    Tunnel {
        path: String,
        fact: TunnelFact,
    },
    Unit {
        scope: UnitScope,
        name: String,
        fact: UnitFact,
    },
    Linger(bool),
    LingerSudo(bool),
    Executable {
        program: String,
        found: bool,
    },
    Resolves {
        name: String,
        found: bool,
    },
    Private {
        path: String,
        fact: PrivateFileFact,
    },
    Python {
        program: String,
        fact: PythonFact,
    },
    Listening {
        port: u16,
        who: String,
    },
    Exists(String),
    /// One of a profile's records.
    Record {
        profile: String,
        record: Record,
    },
}

/// A profile's record on the host (`Fact::Record`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The profile's records were read (it may have none).
    Asked,
    PendingReload(String),
    PendingRestart(String),
    State,
    Guard(GuardFact),
    Backups(Vec<String>),
    OriginalsAbsent(Vec<String>),
    Original {
        name: String,
        fact: FileFact,
    },
}

/// `yes`/`no` (or another pair of words) as a bool; `None` for any other word.
fn either(word: &str, yes: &str, no: &str) -> Option<bool> {
    match word {
        w if w == yes => Some(true),
        w if w == no => Some(false),
        _ => None,
    }
}

/// A `python` record's interpreter (`none`: none found) and report. The report is what the interpreter
/// printed: only its `jprov-virtualenv yes|no` and `jprov-version NAME VERSION|-` lines count, so
/// anything else the environment prints on its way (a `sitecustomize`) is no error.
fn python_fact(interpreter: &str, report: &str) -> Option<PythonFact> {
    let mut fact = PythonFact {
        interpreter: match interpreter {
            "none" => None,
            hexed => Some(unhex(hexed)?),
        },
        ..PythonFact::default()
    };
    for line in unhex_lossy(report)?.lines() {
        match line.split(' ').collect::<Vec<_>>()[..] {
            ["jprov-virtualenv", yes] => fact.virtualenv = yes == "yes",
            ["jprov-version", name, version] => {
                let version = (version != "-").then(|| version.to_string());
                fact.versions.insert(name.to_string(), version);
            }
            _ => {}
        }
    }
    Some(fact)
}

fn file_fact(mode: &str, owner: &str, group: &str, content: &str) -> Option<FileFact> {
    Some(FileFact::File {
        mode: u32::from_str_radix(mode, 8).ok()?,
        owner: owner.to_string(),
        group: group.to_string(),
        content: hex::decode(content).ok()?,
    })
}

impl Fact {
    pub(super) fn from_fields(fields: &[&str]) -> Option<Fact> {
        let fact = match fields {
            ["uid", uid] => Fact::Uid(uid.parse().ok()?),
            ["home", home] => Fact::Home(unhex(home)?),
            ["systemd", yes] => Fact::Systemd(either(yes, "yes", "no")?),
            ["file", path, "missing"] => Fact::File {
                path: unhex(path)?,
                fact: FileFact::Missing,
            },
            ["file", path, "link", target] => Fact::File {
                path: unhex(path)?,
                fact: FileFact::Symlink {
                    target: unhex(target)?,
                },
            },
            ["file", path, "other", kind] => Fact::File {
                path: unhex(path)?,
                fact: FileFact::Other(kind.to_string()),
            },
            ["file", path, "file", mode, owner, group, content] => Fact::File {
                path: unhex(path)?,
                fact: file_fact(mode, owner, group, content)?,
            },
            ["read", path, content] => Fact::Read {
                path: unhex(path)?,
                content: hex::decode(content).ok()?,
            },
            ["account", name, present] => Fact::Account {
                name: name.to_string(),
                present: either(present, "yes", "no")?,
            },
            ["key", path, public] => Fact::Key {
                path: unhex(path)?,
                public: unhex(public)?.trim().to_string(),
            },
            ["certificate", path, fresh] => Fact::Certificate {
                path: unhex(path)?,
                fresh: either(fresh, "fresh", "expiring")?,
            },
            ["tunnel", path, state, digest] => Fact::Tunnel {
                path: unhex(path)?,
                fact: TunnelFact {
                    running: either(state, "running", "stopped")?,
                    argv_digest: digest.to_string(),
                },
            },
            ["unit", scope, name, enabled, active] => Fact::Unit {
                scope: match *scope {
                    "system" => UnitScope::System,
                    "user" => UnitScope::User,
                    _ => return None,
                },
                name: name.to_string(),
                fact: UnitFact {
                    enabled: enabled.to_string(),
                    active: active.to_string(),
                },
            },
            _ => return Fact::from_more_fields(fields),
        };
        Some(fact)
    }

    /// The records about lingering, processes and jprov's own on-host records.
    fn from_more_fields(fields: &[&str]) -> Option<Fact> {
        let fact = match fields {
            ["linger", yes] => Fact::Linger(either(yes, "yes", "no")?),
            ["linger-sudo", yes] => Fact::LingerSudo(either(yes, "yes", "no")?),
            ["executable", program, yes] => Fact::Executable {
                program: unhex(program)?,
                found: either(yes, "yes", "no")?,
            },
            ["resolves", name, yes] => Fact::Resolves {
                name: unhex(name)?,
                found: either(yes, "yes", "no")?,
            },
            ["private", path, "missing"] => Fact::Private {
                path: unhex(path)?,
                fact: PrivateFileFact::Missing,
            },
            ["private", path, "other", kind] => Fact::Private {
                path: unhex(path)?,
                fact: PrivateFileFact::Other(kind.to_string()),
            },
            ["private", path, "file", mode, owner, readable] => Fact::Private {
                path: unhex(path)?,
                fact: PrivateFileFact::File {
                    mode: u32::from_str_radix(mode, 8).ok()?,
                    owner: owner.to_string(),
                    readable: either(readable, "yes", "no")?,
                },
            },
            ["python", program, interpreter, report] => Fact::Python {
                program: unhex(program)?,
                fact: python_fact(interpreter, report)?,
            },
            ["listening", port, who] => Fact::Listening {
                port: port.parse().ok()?,
                who: unhex(who)?,
            },
            ["exists", path] => Fact::Exists(unhex(path)?),
            ["records" | "pending" | "state" | "guard" | "backups" | "originals-absent"
            | "original", profile, ..] => Fact::Record {
                profile: profile.to_string(),
                record: Record::from_fields(fields)?,
            },
            _ => return None,
        };
        Some(fact)
    }

    pub(super) fn emitter(&self) -> &'static str {
        let file = |fact: &FileFact| match fact {
            FileFact::Missing => "fact_file_missing",
            FileFact::Symlink { .. } => "fact_file_link",
            FileFact::Other(_) => "fact_file_other",
            FileFact::File { .. } => "fact_file",
        };
        match self {
            Fact::Uid(_) => "fact_uid",
            Fact::Home(_) => "fact_home",
            Fact::Systemd(_) => "fact_systemd",
            Fact::File { fact, .. } => file(fact),
            Fact::Read { .. } => "fact_read",
            Fact::Account { .. } => "fact_account",
            Fact::Key { .. } => "fact_key",
            Fact::Certificate { .. } => "fact_certificate",
            Fact::Tunnel { .. } => "fact_tunnel",
            Fact::Unit { .. } => "fact_unit",
            Fact::Linger(_) => "fact_linger",
            Fact::LingerSudo(_) => "fact_linger_sudo",
            Fact::Executable { .. } => "fact_executable",
            Fact::Resolves { .. } => "fact_resolves",
            Fact::Private { fact, .. } => match fact {
                PrivateFileFact::Missing => "fact_private_missing",
                PrivateFileFact::Other(_) => "fact_private_other",
                PrivateFileFact::File { .. } => "fact_private_file",
            },
            Fact::Python { .. } => "fact_python",
            Fact::Listening { .. } => "fact_listening",
            Fact::Exists(_) => "fact_exists",
            Fact::Record { record, .. } => record.emitter(),
        }
    }

    /// Add this record to `facts` (a profile's to `records`, which `parse_facts` gives `facts` last).
    fn fold_into(self, facts: &mut Facts, records: &mut BTreeMap<String, ProfileRecords>) {
        match self {
            Fact::Uid(uid) => facts.uid = uid,
            Fact::Home(home) => facts.home = home,
            Fact::Systemd(yes) => facts.systemd = yes,
            Fact::File { path, fact } => {
                facts.files.insert(path, fact);
            }
            Fact::Read { path, content } => {
                facts.reads.insert(path, content);
            }
            Fact::Account { name, present } => {
                facts.accounts.insert(name, present);
            }
            Fact::Key { path, public } => {
                facts.keys.insert(path, public);
            }
            Fact::Certificate { path, fresh } => {
                facts.certificates.insert(path, fresh);
            }
            Fact::Tunnel { path, fact } => {
                facts.tunnels.insert(path, fact);
            }
            Fact::Unit { scope, name, fact } => {
                facts.units.insert((scope, name), fact);
            }
            Fact::Linger(yes) => facts.linger = Some(yes),
            Fact::LingerSudo(yes) => facts.linger_by_sudo = Some(yes),
            Fact::Executable { program, found } => {
                facts.executables.insert(program, found);
            }
            Fact::Resolves { name, found } => {
                facts.resolves.insert(name, found);
            }
            Fact::Private { path, fact } => {
                facts.private_files.insert(path, fact);
            }
            Fact::Python { program, fact } => {
                facts.pythons.insert(program, fact);
            }
            Fact::Listening { port, who } => {
                facts.listeners.insert(port, who);
            }
            Fact::Exists(path) => {
                facts.exists.insert(path);
            }
            Fact::Record { profile, record } => {
                record.fold_into(records.entry(profile).or_default())
            }
        }
    }
}

impl Record {
    /// The fields after the profile's (`fields[1]`), by the record's kind (`fields[0]`).
    fn from_fields(fields: &[&str]) -> Option<Record> {
        let names = |hexed: &str| -> Option<Vec<String>> {
            Some(unhex(hexed)?.lines().map(str::to_string).collect())
        };
        let record = match fields {
            ["records", _] => Record::Asked,
            ["pending", _, "reload", service] => Record::PendingReload(service.to_string()),
            ["pending", _, "restart", unit] => Record::PendingRestart(unit.to_string()),
            ["state", _, "yes"] => Record::State,
            ["guard", _, "armed", ticking] => Record::Guard(GuardFact {
                ticking: either(ticking, "ticking", "stopped")?,
            }),
            ["backups", _, hexed] => Record::Backups(names(hexed)?),
            ["originals-absent", _, hexed] => Record::OriginalsAbsent(names(hexed)?),
            ["original", _, name, "link", target] => Record::Original {
                name: unhex(name)?,
                fact: FileFact::Symlink {
                    target: unhex(target)?,
                },
            },
            ["original", _, name, "file", mode, owner, group, content] => Record::Original {
                name: unhex(name)?,
                fact: file_fact(mode, owner, group, content)?,
            },
            _ => return None,
        };
        Some(record)
    }

    fn emitter(&self) -> &'static str {
        match self {
            Record::Asked => "fact_records",
            Record::PendingReload(_) | Record::PendingRestart(_) => "fact_pending",
            Record::State => "fact_state",
            Record::Guard(_) => "fact_guard",
            Record::Backups(_) => "fact_backups",
            Record::OriginalsAbsent(_) => "fact_originals_absent",
            Record::Original {
                fact: FileFact::Symlink { .. },
                ..
            } => "fact_original_link",
            Record::Original { .. } => "fact_original_file",
        }
    }

    fn fold_into(self, records: &mut ProfileRecords) {
        match self {
            Record::Asked => {}
            Record::PendingReload(service) => records.pending_reloads.push(service),
            Record::PendingRestart(unit) => records.pending_restarts.push(unit),
            Record::State => records.state = true,
            Record::Guard(guard) => records.guard = Some(guard),
            Record::Backups(names) => records.backups.extend(names),
            Record::OriginalsAbsent(names) => {
                for name in names {
                    records.originals.insert(name, FileFact::Missing);
                }
            }
            Record::Original { name, fact } => {
                records.originals.insert(name, fact);
            }
        }
    }
}

/// Why the facts script's output could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("unexpected facts output from the host ({0}); is /bin/sh a POSIX shell?")]
    Malformed(UnknownLine),
    #[error("the facts script failed on the host: {0}")]
    Failed(String),
    #[error("the facts script did not finish (no end marker); the host said: {0}")]
    Truncated(String),
    #[error(transparent)]
    Blobs(#[from] super::BlobError),
}

/// Parse the facts script's output: its records, between `jprov-facts 1` and `end`. Any other line, and
/// an output without the end, is an error; so is a `jprov-error` the script stopped with.
pub fn parse_facts(output: &str, stderr: &str) -> Result<Facts, FactsError> {
    // A script stopped before its blob section still says why (its `jprov-error` line, or no end).
    let output = match super::blobs::expand(output) {
        Ok(expanded) => expanded,
        Err(_) if !output.contains("\nend\n") && !output.ends_with("\nend") => {
            return Err(facts_stopped(output, stderr))
        }
        Err(e) => return Err(e.into()),
    };
    let mut facts = Facts::default();
    let mut records = BTreeMap::new();
    let mut ended = false;
    for (i, text) in output.lines().enumerate() {
        let line = Line::parse(i + 1, text).map_err(FactsError::Malformed)?;
        match line {
            Line::FactsBegin => {}
            Line::Fact(fact) => fact.fold_into(&mut facts, &mut records),
            Line::FactsEnd => ended = true,
            Line::Error(message) => return Err(FactsError::Failed(message)),
            other if super::take_sshd(&mut facts.sshd, &other) => {}
            _ => return Err(FactsError::Malformed(UnknownLine::new(i + 1, text))),
        }
    }
    if !ended {
        return Err(facts_stopped(&output, stderr));
    }
    facts.set_records(records);
    Ok(facts)
}

/// Why a script that stopped before its end stopped: the error it said, or what the host said.
fn facts_stopped(output: &str, stderr: &str) -> FactsError {
    (output.lines().enumerate())
        .find_map(|(i, text)| match Line::parse(i + 1, text) {
            Ok(Line::Error(message)) => Some(FactsError::Failed(message)),
            _ => None,
        })
        .unwrap_or_else(|| FactsError::Truncated(stderr.trim().chars().take(500).collect()))
}
