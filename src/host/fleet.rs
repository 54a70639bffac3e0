//! Several profiles in one invocation (`jprov plan|apply|destroy PROFILE...`): a research group's
//! workstations behind one forwarding server. Every distinct login is connected to once for all of them
//! (`Connections`), the facts of every profile that shares a host are gathered there in one exec, and every
//! profile is planned and applied in parallel, at most `CONCURRENCY` at a time. A host's apply scripts still
//! run one profile at a time (`Host::changes_lock`).

use crate::error::Error;
use crate::host::connections::Connections;
use crate::host::engine::{self, ApplySettings};
use crate::host::hosts::{Connecting, Hosts};
use crate::plan::Plan;
use crate::profile::LoadedProfile;
use crate::render::Templates;
use crate::saved_plan::SavedPlan;
use std::sync::{Arc, Mutex};

/// What applying one profile gave: its last plan (or the error), and what it reported.
pub type Applied = (Result<Plan, Error>, Vec<u8>);

/// How many profiles are worked on at once.
const CONCURRENCY: usize = 32;

/// The profiles' connected hosts (or why a profile's could not be reached).
pub struct Fleet {
    members: Vec<Result<Hosts, Error>>,
}

impl Fleet {
    /// Connect every profile's hosts through one set of connections.
    pub fn connect(profiles: &[LoadedProfile], how: &Connecting) -> Fleet {
        let connections = Arc::new(Connections::new());
        let members = bounded(profiles.iter().collect(), |lp| {
            Hosts::connect(lp, how.clone(), &connections)
        });
        Fleet { members }
    }

    /// Every profile's plan against its hosts (`plan` online), in the profiles' order.
    pub fn plan(
        &mut self,
        profiles: &[LoadedProfile],
        templates: &Templates,
        options: crate::desired::Options,
    ) -> Vec<Result<Plan, Error>> {
        let work = self.members.iter_mut().zip(profiles).collect();
        bounded(work, |(member, lp)| {
            let hosts = member.as_mut().map_err(|e| copy_error(e))?;
            engine::plan_online(lp, templates, hosts, options)
        })
    }

    /// Apply each profile whose plan (already shown, and approved) has changes; `expected[i]` is what
    /// profile `i`'s first round must find, or `None` to leave it alone (nothing to change, or it failed).
    /// Each profile's report is written to its own buffer, in the profiles' order.
    pub fn apply(
        &mut self,
        profiles: &[LoadedProfile],
        templates: &Templates,
        settings: ApplySettings,
        expected: &[Option<SavedPlan>],
    ) -> Vec<Option<Applied>> {
        let work = (self.members.iter_mut().zip(profiles).zip(expected))
            .map(|((member, lp), expected)| (member, lp, expected))
            .collect();
        bounded(work, |(member, lp, expected)| {
            let expected = expected.as_ref()?;
            let mut out = Vec::new();
            let applied = match member {
                Err(e) => Err(copy_error(e)),
                Ok(hosts) => {
                    let mut approved = |_: &Plan, _: &mut dyn std::io::Write| Ok(());
                    engine::apply(
                        lp,
                        templates,
                        hosts,
                        settings,
                        Some(expected),
                        &mut approved,
                        &mut out,
                    )
                }
            };
            Some((applied, out))
        })
    }
}

/// A profile's connection error again, for each later step that needs its hosts (the error itself is
/// reported once, with the plan).
fn copy_error(error: &Error) -> Error {
    match error {
        Error::Transport { role, source } => Error::Transport {
            role: *role,
            source: source.clone(),
        },
        other => Error::Usage(other.to_string()),
    }
}

/// `f` on every item, at most `CONCURRENCY` at once; the results in the items' order.
fn bounded<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<U>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..count.min(CONCURRENCY) {
            s.spawn(|| loop {
                let next = queue.lock().expect("queue").next();
                let Some((index, item)) = next else { break };
                let result = f(item);
                results.lock().expect("results")[index] = Some(result);
            });
        }
    });
    (results.into_inner().expect("results").into_iter())
        .map(|r| r.expect("every item was worked on"))
        .collect()
}
