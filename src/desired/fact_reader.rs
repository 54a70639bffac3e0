//! The builder's only way to the facts: `FactReader` answers from them and remembers every question, so
//! what building a desired state reads is part of the fact query (`fact_query.rs`) without a list kept
//! by hand. A question is remembered whether or not there are facts to answer it (offline, a fact-less
//! build asks what a build with facts would).

use super::*;
use crate::facts::{PrivateFileFact, PythonFact, TunnelFact};
use std::cell::RefCell;

pub(super) struct FactReader<'a> {
    world: World<'a>,
    asked: RefCell<PerRole<FactQuery>>,
}

impl<'a> FactReader<'a> {
    pub(super) fn new(world: World<'a>) -> Self {
        FactReader {
            world,
            asked: RefCell::new(PerRole::new()),
        }
    }

    /// Every question asked, by the host it was asked of.
    pub(super) fn into_asked(self) -> PerRole<FactQuery> {
        self.asked.into_inner()
    }

    fn ask(&self, role: Role, question: impl FnOnce(&mut FactQuery)) -> Option<&'a Facts> {
        let mut asked = self.asked.borrow_mut();
        if !asked.contains(role) {
            asked.insert(role, FactQuery::default());
        }
        question(asked.get_mut(role).expect("just inserted"));
        self.world.get(role).copied()
    }

    /// Whether `role` runs systemd; offline, jprov plans for systemd hosts. Every facts script says.
    pub(super) fn systemd(&self, role: Role) -> bool {
        self.world.get(role).map_or(true, |f| f.systemd)
    }

    /// The host key jprov verified when it connected (the connection's, not the facts script's).
    pub(super) fn host_key(&self, role: Role) -> Option<&'a str> {
        self.world.get(role)?.host_key.as_deref()
    }

    /// The public half of a key pair generated on `role`.
    pub(super) fn public_key(&self, role: Role, private_key: &str) -> Option<&'a str> {
        self.ask(role, |q| add(&mut q.keys, private_key))?
            .public_key(private_key)
    }

    /// A file's content read through links (a certificate certbot keeps); may be secret.
    pub(super) fn read(&self, role: Role, path: &str) -> Option<&'a [u8]> {
        self.ask(role, |q| add(&mut q.reads, path))?.read(path)
    }

    /// What is at `path` on `role`; `None` offline.
    pub(super) fn file(&self, role: Role, path: &str) -> Option<&'a FileFact> {
        Some(self.ask(role, |q| q.add_file(path))?.file(path))
    }

    /// The certificate chain at `fullchain` on `role`: `Some(fresh)` when there is one, `fresh` when it is
    /// valid for 30 more days.
    pub(super) fn certificate(&self, role: Role, fullchain: &str) -> Option<bool> {
        self.ask(role, |q| add(&mut q.certificates, fullchain))?
            .certificates
            .get(fullchain)
            .copied()
    }

    /// The tunnel `apply --start-tunnel` started with this pid file.
    pub(super) fn tunnel(&self, role: Role, pid_file: &str) -> Option<&'a TunnelFact> {
        self.ask(role, |q| add(&mut q.tunnels, pid_file))?
            .tunnels
            .get(pid_file)
    }

    /// What listens on TCP `port` on `role`.
    pub(super) fn listener(&self, role: Role, port: u16) -> Option<&'a str> {
        let facts = self.ask(role, |q| {
            if !q.listeners.contains(&port) {
                q.listeners.push(port);
            }
        })?;
        facts.listeners.get(&port).map(String::as_str)
    }

    /// What is at a file of secrets on `role` (never its content); `None` offline.
    pub(super) fn private_file(&self, role: Role, path: &str) -> Option<&'a PrivateFileFact> {
        Some(
            self.ask(role, |q| add(&mut q.private_files, path))?
                .private_file(path),
        )
    }

    /// Whether `role` resolves the host name `name`. An address is its own answer, never asked (each
    /// question is a `getent` on the host, on every plan).
    pub(super) fn resolves(&self, role: Role, name: &str) -> Option<bool> {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return Some(true);
        }
        self.ask(role, |q| add(&mut q.resolves, name))?
            .resolves
            .get(name)
            .copied()
    }

    /// Whether systemd would find `program` executable on `role`.
    pub(super) fn executable(&self, role: Role, program: &str) -> Option<bool> {
        self.ask(role, |q| add(&mut q.executables, program))?
            .executables
            .get(program)
            .copied()
    }

    /// The Python environment `program` runs in on `role`, with the versions of `distributions` there.
    pub(super) fn python(
        &self,
        role: Role,
        program: &str,
        distributions: &[String],
    ) -> Option<&'a PythonFact> {
        self.ask(role, |q| q.add_python(program, distributions))?
            .pythons
            .get(program)
    }
}

/// Add `value` to a query's list unless it is there.
pub(super) fn add(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}
