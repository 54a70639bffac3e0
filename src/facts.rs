//! Facts: what is on a host now, gathered in one remote exec.
//!
//! The query is derived from desired states built without gathered facts (`desired::fact_queries`), so
//! facts can be gathered before the real desired state is known; that one then reads what it needs from
//! them (a generated public key, whether a certificate exists, the content of a file jprov edits a line of).

use crate::render::{RenderError, Templates};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What to look at on one host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FactQuery {
    /// Managed files and links: type, mode, owner, group and content.
    pub files: Vec<String>,
    /// Files whose content is read through links (certificates); content may be secret.
    pub reads: Vec<String>,
    /// Accounts whose existence matters.
    pub accounts: Vec<String>,
    /// Private key paths: existence, and the content of PATH.pub.
    pub keys: Vec<String>,
    /// Certificates (fullchain paths) and whether they stay valid for 30 more days.
    pub certificates: Vec<String>,
    /// Pid files of tunnels jprov started.
    pub tunnels: Vec<String>,
    /// Users for whom to read sshd's effective settings (`sshd -T -C user=...`).
    pub sshd_users: Vec<String>,
    /// The sshd keywords to read, as an extended regex alternation.
    pub sshd_keywords: &'static str,
    /// The profile whose on-host records to read: the apply journal (reloads left pending by an
    /// interrupted apply), the originals and backups apply kept, and whether any of it is there.
    pub profile: Option<String>,
    /// Paths whose existence only matters (what destroy removes without reading it: key pairs, generated
    /// certificates and their keys).
    pub exists: Vec<String>,
    /// systemd units: whether each is enabled and active.
    pub units: Vec<UnitQuery>,
    /// Whether the login user's services outlive their sessions (`loginctl enable-linger`).
    pub linger: bool,
    /// TCP ports: which processes listen on them (`ss -ltnp`).
    pub listeners: Vec<u16>,
    /// Programs a service will run: an absolute path, or a name systemd looks up in its fixed PATH.
    pub executables: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitQuery {
    pub scope: crate::resource::UnitScope,
    pub name: String,
}

impl FactQuery {
    pub fn add_file(&mut self, path: &str) {
        if !self.files.iter().any(|p| p == path) {
            self.files.push(path.to_string());
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFact {
    Missing,
    File {
        mode: u32,
        owner: String,
        group: String,
        content: Vec<u8>,
    },
    Symlink {
        target: String,
    },
    /// A directory or something else where a file should be.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunnelFact {
    pub running: bool,
    /// The SHA-1 of the argv the running tunnel was started with.
    pub argv_digest: String,
}

/// A systemd unit's state as `systemctl is-enabled` / `is-active` print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitFact {
    /// `enabled`, `disabled`, `static`, ... or `unknown` (no such unit, or no manager to ask).
    pub enabled: String,
    /// `active`, `activating` (e.g. waiting to restart), `inactive`, `failed`, ...
    pub active: String,
}

/// sshd's effective settings per user and the config lines that set the keywords, as sshd sees them
/// (`sshd -T -C`): what the files mean, not what they say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshdView {
    /// (user, keyword) -> value.
    pub effective: BTreeMap<(String, String), String>,
    /// `file:line:text` of every line setting one of the keywords, in sshd's reading order.
    pub sources: Vec<String>,
}

impl SshdView {
    /// Take an `effective USER HEXLINES` or `sources HEXLINES` record; false if malformed.
    pub fn read(&mut self, fields: &[&str]) -> bool {
        let lines = |hexed: &str| -> Option<Vec<String>> {
            let text = String::from_utf8(hex::decode(hexed).ok()?).ok()?;
            Some(text.lines().map(str::to_string).collect())
        };
        match fields {
            ["effective", user, hexed] => match lines(hexed) {
                Some(lines) => {
                    for line in lines {
                        let (key, value) = line.split_once(' ').unwrap_or((&line, ""));
                        self.effective
                            .insert((user.to_string(), key.to_string()), value.to_string());
                    }
                    true
                }
                None => false,
            },
            ["sources", hexed] => match lines(hexed) {
                Some(lines) => {
                    self.sources.extend(lines);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

/// A lockout guard an apply armed and no apply has disarmed: the sshd files it protects were never proven
/// by a fresh login (the apply stopped, or its connection died, between arming and disarming).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardFact {
    /// Its timer (systemd) or sleeper is still waiting to fire; false when it can no longer fire by itself
    /// (the host rebooted, or the sleeper was killed).
    pub ticking: bool,
}

/// Everything known about one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub uid: u32,
    pub home: String,
    /// systemd is PID 1 (services are reloaded with systemctl, not signals).
    pub systemd: bool,
    pub files: BTreeMap<String, FileFact>,
    pub reads: BTreeMap<String, Vec<u8>>,
    pub accounts: BTreeMap<String, bool>,
    /// Private key path -> public key line, for keys that exist.
    pub keys: BTreeMap<String, String>,
    /// Fullchain path -> valid for 30 more days.
    pub certificates: BTreeMap<String, bool>,
    pub tunnels: BTreeMap<String, TunnelFact>,
    /// Reloads an interrupted apply left pending (from the on-host journal).
    pub pending_reloads: Vec<String>,
    /// Units whose files an interrupted apply changed before restarting them (from the on-host journal).
    pub pending_restarts: Vec<String>,
    pub units: BTreeMap<(crate::resource::UnitScope, String), UnitFact>,
    /// Whether the login user lingers; `None` when not asked.
    pub linger: Option<bool>,
    /// When the user does not linger: whether `sudo -n` would let them enable it (`sudo -n -l`).
    pub linger_by_sudo: Option<bool>,
    /// Port -> what listens on it (`ss`'s process column, or "something"), for ports asked and taken.
    pub listeners: BTreeMap<u16, String>,
    /// Asked-for programs -> whether systemd would find them executable.
    pub executables: BTreeMap<String, bool>,
    /// Queried `exists` paths that exist (as anything, a dangling link included).
    pub exists: BTreeSet<String>,
    /// What was at a path before apply first wrote it, by record name (`record_name`): `Missing` when
    /// nothing was (jprov created it), else the file or link as it was. Also `account-NAME` -> `Missing`
    /// for an account apply created.
    pub originals: BTreeMap<String, FileFact>,
    /// Record names of the previous versions apply backed up: jprov has written these paths.
    pub backups: BTreeSet<String>,
    /// Any of the profile's records (backups, originals, journal) is on the host.
    pub state: bool,
    /// The profile's lockout guard, when one is armed.
    pub guard: Option<GuardFact>,
    pub sshd: SshdView,
    /// The host key jprov verified when it connected ("ssh-ed25519 AAAA..."), if it connected over SSH.
    pub host_key: Option<String>,
}

impl Facts {
    /// A digest of everything jprov manages on the host (files, links, keys, accounts, pending reloads),
    /// so a saved plan can tell whether the host changed since it was made.
    pub fn managed_digest(&self) -> String {
        use sha1::Digest;
        let mut hasher = sha1::Sha1::new();
        hasher.update(format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.files,
            self.keys,
            self.accounts,
            self.pending_reloads,
            self.pending_restarts,
            self.units,
            self.linger,
            self.exists,
            self.originals,
            self.backups,
            self.state,
            self.guard.is_some()
        ));
        hex::encode(hasher.finalize())
    }

    pub fn file(&self, path: &str) -> &FileFact {
        self.files.get(path).unwrap_or(&FileFact::Missing)
    }

    pub fn public_key(&self, private_key: &str) -> Option<&str> {
        self.keys.get(private_key).map(String::as_str)
    }

    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.reads.get(path).map(Vec::as_slice)
    }

    pub fn unit(&self, scope: crate::resource::UnitScope, name: &str) -> Option<&UnitFact> {
        self.units.get(&(scope, name.to_string()))
    }

    /// What was at `path` before apply first wrote it, if apply kept a record (`Missing`: nothing was).
    pub fn original(&self, path: &str) -> Option<&FileFact> {
        self.originals.get(&record_name(path))
    }

    /// Whether apply has ever written `path` (it backed up what was there).
    pub fn written_by_jprov(&self, path: &str) -> bool {
        let name = record_name(path);
        self.originals.contains_key(&name) || self.backups.contains(&name)
    }

    /// Whether apply created the account `name` (it did not exist before).
    pub fn account_created_by_jprov(&self, name: &str) -> bool {
        self.originals.get(&account_record(name)) == Some(&FileFact::Missing)
    }
}

/// The name of a path's records under `$STATE/backup/PROFILE/` (and `original/`), as apply.sh's
/// `backup_name` makes it: every `/` becomes `%`.
pub fn record_name(path: &str) -> String {
    path.replace('/', "%")
}

/// The record of an account apply created (`original/account-NAME.absent` on the host).
pub fn account_record(name: &str) -> String {
    format!("account-{name}")
}

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(
        "unexpected facts output from the host (line {line}: {text:?}); is /bin/sh a POSIX shell?"
    )]
    Malformed { line: usize, text: String },
    #[error("the facts script did not finish (no end marker); the host said: {0}")]
    Truncated(String),
}

/// The shell script that gathers a query's facts; runs with `sh -s`.
pub fn script(templates: &Templates, query: &FactQuery) -> Result<String, RenderError> {
    templates.render("facts.sh", query)
}

/// Parse the facts script's output. Every record is one line of space-separated fields; paths and contents
/// are hex-encoded so no byte of a file can break the format.
pub fn parse(output: &str, stderr: &str) -> Result<Facts, FactsError> {
    let mut facts = Facts::default();
    let mut ended = false;
    for (index, line) in output.lines().enumerate() {
        let bad = || FactsError::Malformed {
            line: index + 1,
            text: line.chars().take(120).collect(),
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let hexstr = |s: &str| hex::decode(s).ok().and_then(|b| String::from_utf8(b).ok());
        match fields.as_slice() {
            ["jprov-facts", "1"] => {}
            ["uid", uid] => facts.uid = uid.parse().map_err(|_| bad())?,
            ["home", home] => facts.home = hexstr(home).ok_or_else(bad)?,
            ["systemd", yes] => facts.systemd = *yes == "yes",
            ["file", path, "missing"] => {
                facts
                    .files
                    .insert(hexstr(path).ok_or_else(bad)?, FileFact::Missing);
            }
            ["file", path, "link", target] => {
                let target = hexstr(target).ok_or_else(bad)?;
                facts
                    .files
                    .insert(hexstr(path).ok_or_else(bad)?, FileFact::Symlink { target });
            }
            ["file", path, "other", kind] => {
                facts.files.insert(
                    hexstr(path).ok_or_else(bad)?,
                    FileFact::Other(kind.to_string()),
                );
            }
            ["file", path, "file", mode, owner, group, content] => {
                let fact = FileFact::File {
                    mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
                    owner: owner.to_string(),
                    group: group.to_string(),
                    content: hex::decode(content).map_err(|_| bad())?,
                };
                facts.files.insert(hexstr(path).ok_or_else(bad)?, fact);
            }
            ["read", path, content] => {
                let content = hex::decode(content).map_err(|_| bad())?;
                facts.reads.insert(hexstr(path).ok_or_else(bad)?, content);
            }
            ["account", name, present] => {
                facts.accounts.insert(name.to_string(), *present == "yes");
            }
            ["key", path, public] => {
                let public = hexstr(public).ok_or_else(bad)?.trim().to_string();
                facts.keys.insert(hexstr(path).ok_or_else(bad)?, public);
            }
            ["certificate", path, fresh] => {
                facts
                    .certificates
                    .insert(hexstr(path).ok_or_else(bad)?, *fresh == "fresh");
            }
            ["tunnel", path, state, digest] => {
                let fact = TunnelFact {
                    running: *state == "running",
                    argv_digest: digest.to_string(),
                };
                facts.tunnels.insert(hexstr(path).ok_or_else(bad)?, fact);
            }
            ["unit", scope, name, enabled, active] => {
                let scope = match *scope {
                    "system" => crate::resource::UnitScope::System,
                    "user" => crate::resource::UnitScope::User,
                    _ => return Err(bad()),
                };
                let fact = UnitFact {
                    enabled: enabled.to_string(),
                    active: active.to_string(),
                };
                facts.units.insert((scope, name.to_string()), fact);
            }
            ["linger", yes] => facts.linger = Some(*yes == "yes"),
            ["linger-sudo", yes] => facts.linger_by_sudo = Some(*yes == "yes"),
            ["executable", program, yes] => {
                let program = hexstr(program).ok_or_else(bad)?;
                facts.executables.insert(program, *yes == "yes");
            }
            ["listening", port, who] => {
                let port = port.parse().map_err(|_| bad())?;
                let who = hexstr(who).ok_or_else(bad)?;
                facts.listeners.insert(port, who);
            }
            ["exists", path] => {
                facts.exists.insert(hexstr(path).ok_or_else(bad)?);
            }
            ["state", "yes"] => facts.state = true,
            ["guard", "armed", ticking @ ("ticking" | "stopped")] => {
                facts.guard = Some(GuardFact {
                    ticking: *ticking == "ticking",
                })
            }
            ["backups", names] => {
                for name in hexstr(names).ok_or_else(bad)?.lines() {
                    facts.backups.insert(name.to_string());
                }
            }
            ["originals-absent", names] => {
                for name in hexstr(names).ok_or_else(bad)?.lines() {
                    facts.originals.insert(name.to_string(), FileFact::Missing);
                }
            }
            ["original", name, "link", target] => {
                let target = hexstr(target).ok_or_else(bad)?;
                facts
                    .originals
                    .insert(hexstr(name).ok_or_else(bad)?, FileFact::Symlink { target });
            }
            ["original", name, "file", mode, owner, group, content] => {
                let fact = FileFact::File {
                    mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
                    owner: owner.to_string(),
                    group: group.to_string(),
                    content: hex::decode(content).map_err(|_| bad())?,
                };
                facts.originals.insert(hexstr(name).ok_or_else(bad)?, fact);
            }
            ["pending", "reload", service] => facts.pending_reloads.push(service.to_string()),
            ["pending", "restart", unit] => facts.pending_restarts.push(unit.to_string()),
            ["effective", ..] | ["sources", _] => {
                if !facts.sshd.read(&fields) {
                    return Err(bad());
                }
            }
            ["end"] => ended = true,
            [""] => {}
            _ => return Err(bad()),
        }
    }
    if !ended {
        return Err(FactsError::Truncated(
            stderr.trim().chars().take(500).collect(),
        ));
    }
    Ok(facts)
}

/// Decode hex-encoded text from a host script (lossy: it is only shown to people).
pub fn hex_text(hexed: &str) -> String {
    hex::decode(hexed.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| hexed.to_string())
}

/// What the check script (validation of staged candidates) reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// (program, None if valid / Some(output) if not).
    pub validations: Vec<(String, Option<String>)>,
    pub sshd: SshdView,
    pub complete: bool,
}

pub fn parse_check(output: &str) -> CheckReport {
    let mut report = CheckReport::default();
    for line in output.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["check", program, "ok"] => report.validations.push((program.to_string(), None)),
            ["check", program, "invalid", out] => report
                .validations
                .push((program.to_string(), Some(hex_text(out)))),
            ["check", program, "invalid"] => report
                .validations
                .push((program.to_string(), Some(String::new()))),
            ["check", "end"] => report.complete = true,
            ["effective", ..] | ["sources", _] => {
                report.sshd.read(&fields);
            }
            _ => {}
        }
    }
    report
}
