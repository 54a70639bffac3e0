//! What to gather from each host, derived from the desired state: what its items need to be planned and
//! torn down (`needs`), and what building them read (`FactReader`). There is no second list: a new item,
//! or a new method's host, is gathered because it is in the desired state.

use super::fact_reader::add;
use super::*;

/// What to gather from each host of the profile before `build` can run.
///
/// The desired state depends on the facts (a generated public key, whether a certificate exists, whether
/// a host runs systemd), so the query comes from desired states built without gathered facts: one for
/// every host with and without systemd (the one fact that changes which items there are), each built
/// for a teardown (every item apply may have made, a certificate that is not due included). A unit test
/// checks that a build with facts needs nothing more.
pub fn fact_queries(p: &Profile, templates: &Templates) -> Result<PerRole<FactQuery>, RenderError> {
    let teardown = Options {
        start_tunnel: false,
        destroy: true,
    };
    let roles = roles(p);
    let mut queries: PerRole<FactQuery> = roles
        .iter()
        .map(|&role| {
            let query = FactQuery {
                // The profile's on-host records: what apply kept, its journal, an armed lockout guard.
                profiles: vec![p.name.to_string()],
                ..FactQuery::default()
            };
            (role, query)
        })
        .collect();
    for hosts in systemd_or_not(roles) {
        let (desired, asked) = build_asking(p, hosts.as_ref(), templates, teardown)?;
        for (role, query) in queries.entries_mut() {
            merge(query, &needs(&desired.hosts[role]));
            if let Some(asked) = asked.get(role) {
                merge(query, asked);
            }
        }
    }
    Ok(queries)
}

/// Hosts about which nothing is known but whether they run systemd: every combination for `roles`.
fn systemd_or_not(roles: &[Role]) -> Vec<PerRole<Facts>> {
    (0..1u32 << roles.len())
        .map(|combination| {
            let systemd = |index: usize| combination & (1 << index) != 0;
            (roles.iter().enumerate())
                .map(|(index, &role)| {
                    let facts = Facts {
                        systemd: systemd(index),
                        ..Facts::default()
                    };
                    (role, facts)
                })
                .collect()
        })
        .collect()
}

/// What planning and tearing down a host's items reads from its facts (and sshd's effective settings for
/// the users its intent names).
pub(super) fn needs(host: &HostState) -> FactQuery {
    let mut query = FactQuery::default();
    for item in &host.items {
        item_needs(item, &mut query);
    }
    for expectation in &host.sshd_intent {
        add(&mut query.sshd_users, &expectation.user);
        query.sshd_keywords = SSHD_KEYWORDS;
    }
    query
}

/// What one item needs gathered. Every kind says, so a new one cannot be forgotten.
fn item_needs(item: &Item, query: &mut FactQuery) {
    match item {
        Item::Account(account) => {
            add(&mut query.accounts, &account.name);
            // destroy counts the other profiles' lines before it removes a shared account.
            if let Some(keys) = &account.shared_keys {
                query.add_file(keys);
            }
        }
        Item::KeyPair(key) => {
            add(&mut query.keys, &key.path);
            // destroy removes either half, even when the other is missing.
            add(&mut query.exists, &key.path);
            add(&mut query.exists, &format!("{}.pub", key.path));
        }
        Item::Files(group) => {
            for file in &group.files {
                query.add_file(&file.path);
            }
            for link in &group.links {
                query.add_file(&link.path);
            }
        }
        Item::Certificate(certificate) => certificate_needs(certificate, query),
        Item::Tunnel(tunnel) => add(&mut query.tunnels, &tunnel.pid_file),
        Item::Linger(_) => query.linger = true,
        // Decided from other facts; running it needs none.
        Item::Command(_) => {}
        Item::Unit(unit) => {
            if !query
                .units
                .iter()
                .any(|u| u.scope == unit.scope && u.name == unit.name)
            {
                query.units.push(UnitQuery {
                    scope: unit.scope,
                    name: unit.name.clone(),
                });
            }
            // destroy removes what the unit's runs wrote.
            for path in &unit.makes {
                query.add_file(path);
            }
        }
    }
}

/// A certificate's expiry; for destroy, of a self-signed one its files, of an ACME one (the certificate
/// is kept) the webroot jprov made for certbot's challenges.
fn certificate_needs(certificate: &Certificate, query: &mut FactQuery) {
    add(&mut query.certificates, &certificate.fullchain);
    match certificate.source {
        CertificateSource::SelfSigned => {
            for rename in &certificate.renames {
                add(&mut query.exists, &rename.to);
            }
        }
        CertificateSource::Acme => {
            if let Some(directory) = &certificate.directory {
                add(&mut query.exists, &directory.path);
            }
        }
    }
}

/// `into` asks for everything `from` does too (every field named, so a new one is not forgotten).
fn merge(into: &mut FactQuery, from: &FactQuery) {
    let FactQuery {
        files,
        reads,
        accounts,
        keys,
        certificates,
        tunnels,
        sshd_users,
        sshd_keywords,
        profiles,
        exists,
        units,
        linger,
        listeners,
        executables,
        resolves,
        private_files,
        pythons,
    } = from;
    for path in files {
        into.add_file(path);
    }
    for (list, more) in [
        (&mut into.reads, reads),
        (&mut into.accounts, accounts),
        (&mut into.keys, keys),
        (&mut into.certificates, certificates),
        (&mut into.tunnels, tunnels),
        (&mut into.sshd_users, sshd_users),
        (&mut into.profiles, profiles),
        (&mut into.exists, exists),
        (&mut into.executables, executables),
        (&mut into.resolves, resolves),
        (&mut into.private_files, private_files),
    ] {
        for value in more {
            add(list, value);
        }
    }
    for unit in units {
        if !into.units.contains(unit) {
            into.units.push(unit.clone());
        }
    }
    for python in pythons {
        into.add_python(&python.program, &python.distributions);
    }
    for port in listeners {
        if !into.listeners.contains(port) {
            into.listeners.push(*port);
        }
    }
    if !sshd_keywords.is_empty() {
        into.sshd_keywords = sshd_keywords;
    }
    into.linger |= linger;
}

/// One query that asks everything `queries` do, every profile's records included: the facts of several
/// profiles sharing a host, gathered in one exec; `Facts::answers_to` then gives each its own.
pub fn merged(queries: &[&FactQuery]) -> FactQuery {
    let mut union = FactQuery::default();
    for query in queries {
        merge(&mut union, query);
    }
    union
}

#[cfg(test)]
mod tests;
