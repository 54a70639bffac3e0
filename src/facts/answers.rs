//! One profile's answer out of facts gathered for several (`desired::merged`'s query): what a gathering
//! of its own query would have produced, so the core plans it as if it had been gathered alone.

use super::{FactQuery, Facts, PythonFact, SshdView};
use std::collections::BTreeMap;

/// The entries of `map` whose key `asked` holds.
fn only<K: Ord + Clone, V: Clone>(
    map: &BTreeMap<K, V>,
    asked: impl Fn(&K) -> bool,
) -> BTreeMap<K, V> {
    (map.iter())
        .filter(|(key, _)| asked(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

impl Facts {
    /// Exactly the facts a gathering of `query` alone would have produced from this host, when `self` was
    /// gathered for a query that asks everything `query` does (`desired::merged` of it and others): only
    /// the paths, accounts, units, ports, programs and sshd users `query` asks, the Python distributions
    /// it asks of each program, and the records of its own profiles. Another profile's records never
    /// reach its answer.
    pub fn answers_to(&self, query: &FactQuery) -> Facts {
        // Every field named: a new one must say whose it is.
        let Facts {
            uid,
            home,
            systemd,
            files,
            reads,
            accounts,
            keys,
            certificates,
            tunnels,
            pending_reloads: _,
            pending_restarts: _,
            units,
            linger,
            linger_by_sudo,
            listeners,
            executables,
            resolves,
            private_files,
            pythons,
            exists,
            originals: _,
            backups: _,
            state: _,
            guard: _,
            profiles,
            sshd,
            host_key,
        } = self;
        let has = |list: &[String], key: &String| list.contains(key);
        let mut answer = Facts {
            // The host's own: the same whatever was asked.
            uid: *uid,
            home: home.clone(),
            systemd: *systemd,
            host_key: host_key.clone(),
            files: only(files, |path| has(&query.files, path)),
            reads: only(reads, |path| has(&query.reads, path)),
            accounts: only(accounts, |name| has(&query.accounts, name)),
            keys: only(keys, |path| has(&query.keys, path)),
            certificates: only(certificates, |path| has(&query.certificates, path)),
            tunnels: only(tunnels, |path| has(&query.tunnels, path)),
            units: only(units, |(scope, name)| {
                (query.units.iter()).any(|u| u.scope == *scope && u.name == *name)
            }),
            linger: linger.filter(|_| query.linger),
            linger_by_sudo: linger_by_sudo.filter(|_| query.linger),
            listeners: only(listeners, |port| query.listeners.contains(port)),
            executables: only(executables, |program| has(&query.executables, program)),
            resolves: only(resolves, |name| has(&query.resolves, name)),
            private_files: only(private_files, |path| has(&query.private_files, path)),
            pythons: pythons_asked(pythons, query),
            exists: (exists.iter())
                .filter(|path| has(&query.exists, path))
                .cloned()
                .collect(),
            sshd: sshd_asked(sshd, query),
            ..Facts::default()
        };
        answer.set_records(only(profiles, |name| has(&query.profiles, name)));
        answer
    }
}

/// The Python environments of the programs `query` asks about, with the versions of only the
/// distributions it asks of each (a merged query asks the union).
fn pythons_asked(
    pythons: &BTreeMap<String, PythonFact>,
    query: &FactQuery,
) -> BTreeMap<String, PythonFact> {
    let mut answer = BTreeMap::new();
    for asked in &query.pythons {
        if let Some(fact) = pythons.get(&asked.program) {
            let versions = only(&fact.versions, |name| asked.distributions.contains(name));
            answer.insert(
                asked.program.clone(),
                PythonFact {
                    versions,
                    ..fact.clone()
                },
            );
        }
    }
    answer
}

/// sshd's effective settings for the users `query` asks about. Every query reads the same keywords
/// (`SSHD_KEYWORDS`), so the sources are the same for any query that reads sshd at all, and none for one
/// that does not.
fn sshd_asked(sshd: &SshdView, query: &FactQuery) -> SshdView {
    if query.sshd_users.is_empty() {
        return SshdView::default();
    }
    SshdView {
        effective: only(&sshd.effective, |(user, _)| query.sshd_users.contains(user)),
        sources: sshd.sources.clone(),
    }
}

#[cfg(test)]
mod tests;
