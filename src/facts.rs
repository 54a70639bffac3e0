//! Facts: what is on a host now, gathered in one remote exec.
//!
//! The query is derived from desired states built without gathered facts (`desired::fact_queries`), so
//! facts can be gathered before the real desired state is known; that one then reads what it needs from
//! them (a generated public key, whether a certificate exists, the content of a file jprov edits a line of).

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
    /// The profiles whose on-host records to read: the apply journal (reloads left pending by an
    /// interrupted apply), the originals and backups apply kept, whether any of it is there, and the armed
    /// lockout guard. One per profile planned; several when profiles sharing a host are gathered at once.
    pub profiles: Vec<String>,
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
    /// Host names the host must resolve (`getent ahosts`): the address its tunnel or fetch dials.
    pub resolves: Vec<String>,
    /// Files of secrets the profile names and jprov never reads (ngrok's authtoken): what is there, its
    /// mode and owner, and whether the login user can read it. Never the content.
    pub private_files: Vec<String>,
    /// Programs whose Python environment matters: which interpreter runs each, and which versions of some
    /// distributions it sees.
    pub pythons: Vec<PythonQuery>,
}

/// The Python environment of a program (an absolute path, or a name systemd looks up in its fixed PATH):
/// the versions of `distributions` (names as `importlib.metadata` knows them) its interpreter sees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PythonQuery {
    pub program: String,
    pub distributions: Vec<String>,
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

    /// Ask for the versions of `distributions` in `program`'s Python environment (besides any asked).
    pub fn add_python(&mut self, program: &str, distributions: &[String]) {
        let index = match self.pythons.iter().position(|q| q.program == program) {
            Some(index) => index,
            None => {
                self.pythons.push(PythonQuery {
                    program: program.to_string(),
                    distributions: vec![],
                });
                self.pythons.len() - 1
            }
        };
        let asked = &mut self.pythons[index].distributions;
        for name in distributions {
            if !asked.contains(name) {
                asked.push(name.clone());
            }
        }
    }
}

/// The Python environment a program runs in, as the facts script found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PythonFact {
    /// The interpreter that runs the program (named by its `#!` line, or the python beside it); `None`
    /// when none was found.
    pub interpreter: Option<String>,
    /// That interpreter is a virtualenv's (`sys.prefix` differs from `sys.base_prefix`).
    pub virtualenv: bool,
    /// Distribution -> its version there (`None`: not installed). A name asked for is absent when the
    /// interpreter could not say (it failed, or has no `importlib.metadata`).
    pub versions: BTreeMap<String, Option<String>>,
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

/// A file of secrets as far as jprov looks at it: never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrivateFileFact {
    /// Nothing there (or nothing the login user can reach).
    Missing,
    /// Something that is not a regular file (a directory, ...), as `stat` names it.
    Other(String),
    /// A regular file (through links): its permission bits, owner, and whether the login user can read it.
    File {
        mode: u32,
        owner: String,
        readable: bool,
    },
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

/// A lockout guard an apply armed and no apply has disarmed: the sshd files it protects were never proven
/// by a fresh login (the apply stopped, or its connection died, between arming and disarming).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardFact {
    /// Its timer (systemd) or sleeper is still waiting to fire; false when it can no longer fire by itself
    /// (the host rebooted, or the sleeper was killed).
    pub ticking: bool,
}

/// One profile's records on a host: apply's journal, what it kept, its lockout guard (the fields of the
/// same names in `Facts` hold the answering profile's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileRecords {
    pub pending_reloads: Vec<String>,
    pub pending_restarts: Vec<String>,
    pub originals: BTreeMap<String, FileFact>,
    pub backups: BTreeSet<String>,
    pub state: bool,
    pub guard: Option<GuardFact>,
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
    // The records of the one profile these facts answer for (`FactQuery::profiles` of one, or
    // `answers_to` one profile's query), read by the core; `profiles` holds every profile's asked.
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
    /// Asked-for names -> whether the host resolves them.
    pub resolves: BTreeMap<String, bool>,
    /// Asked-for `private_files` (those missing have no entry).
    pub private_files: BTreeMap<String, PrivateFileFact>,
    /// Asked-for programs -> their Python environment.
    pub pythons: BTreeMap<String, PythonFact>,
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
    /// Every asked profile's records, by profile name (an asked profile without records has an empty
    /// entry). When only one profile was asked, its records are also the fields above.
    pub profiles: BTreeMap<String, ProfileRecords>,
    pub sshd: SshdView,
    /// The host key jprov verified when it connected ("ssh-ed25519 AAAA..."), if it connected over SSH.
    pub host_key: Option<String>,
}

impl Facts {
    /// Take every asked profile's records (`profiles`); when they are one profile's, they are also the
    /// fields the core reads (`pending_reloads`, ..., `guard`); otherwise those are empty, since no one
    /// profile is answered for.
    pub fn set_records(&mut self, profiles: BTreeMap<String, ProfileRecords>) {
        let only = match profiles.len() {
            1 => profiles.values().next().cloned().unwrap_or_default(),
            _ => ProfileRecords::default(),
        };
        let ProfileRecords {
            pending_reloads,
            pending_restarts,
            originals,
            backups,
            state,
            guard,
        } = only;
        self.pending_reloads = pending_reloads;
        self.pending_restarts = pending_restarts;
        self.originals = originals;
        self.backups = backups;
        self.state = state;
        self.guard = guard;
        self.profiles = profiles;
    }

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

    pub fn private_file(&self, path: &str) -> &PrivateFileFact {
        self.private_files
            .get(path)
            .unwrap_or(&PrivateFileFact::Missing)
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

mod answers;

/// The name of a path's records under `$STATE/backup/PROFILE/` (and `original/`), as host_lib.sh's
/// `backup_name` makes it: every `/` becomes `%`.
pub fn record_name(path: &str) -> String {
    path.replace('/', "%")
}

/// The record of an account apply created (`original/account-NAME.absent` on the host).
pub fn account_record(name: &str) -> String {
    format!("account-{name}")
}
