//! Several profiles in one invocation (`jprov plan|apply|destroy PROFILE...`): a research group's
//! workstations behind one forwarding server. Every distinct login is connected to once for all of them
//! (`Connections`), the facts of every profile that shares a host are gathered there in one exec, and every
//! profile is planned and applied in parallel, at most `CONCURRENCY` at a time. A host's apply scripts still
//! run one profile at a time (`Host::changes_lock`).

use crate::error::Error;
use crate::facts::{FactQuery, Facts};
use crate::host::connections::Connections;
use crate::host::engine::{self, ApplySettings};
use crate::host::hosts::{Connecting, Hosts};
use crate::plan::Plan;
use crate::profile::LoadedProfile;
use crate::render::Templates;
use crate::resource::{PerRole, Role};
use crate::saved_plan::SavedPlan;
use std::collections::BTreeMap;
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
        let mut gathered = self.gather(profiles, templates).into_iter();
        let work = (self.members.iter_mut().zip(profiles))
            .map(|(member, lp)| (member, lp, gathered.next().expect("facts per profile")))
            .collect();
        bounded(work, |(member, lp, facts)| {
            let hosts = member.as_mut().map_err(|e| copy_error(e))?;
            engine::plan_from_facts(lp, templates, hosts, facts?, options)
        })
    }

    /// Every profile's facts, gathered with one exec per login (and privilege) for all the profiles that
    /// share it: the merged query of all of them, whose answers each profile then takes its own part of.
    fn gather(
        &self,
        profiles: &[LoadedProfile],
        templates: &Templates,
    ) -> Vec<Result<PerRole<Facts>, Error>> {
        let queries: Vec<Result<PerRole<FactQuery>, Error>> = (profiles.iter())
            .map(|lp| crate::desired::fact_queries(&lp.profile, templates).map_err(Error::from))
            .collect();
        // Each exec's hosts: (profile, role), the first one's host running it.
        let mut groups: BTreeMap<(usize, bool), Vec<(usize, Role)>> = BTreeMap::new();
        for (index, (member, query)) in self.members.iter().zip(&queries).enumerate() {
            if let (Ok(hosts), Ok(_)) = (member, query) {
                for host in hosts.connected.iter() {
                    let sharing = groups.entry(host.gathering()).or_default();
                    sharing.push((index, host.role));
                }
            }
        }
        let host = |(index, role): (usize, Role)| {
            let hosts = self.members[index].as_ref().expect("connected");
            hosts.connected.get(role).expect("a host per role")
        };
        let query = |(index, role): (usize, Role)| &queries[index].as_ref().expect("a query")[role];
        let execs: Vec<&Vec<(usize, Role)>> = groups.values().collect();
        let answers = bounded(execs.clone(), |sharing| {
            let asked: Vec<&FactQuery> = sharing.iter().map(|&at| query(at)).collect();
            host(sharing[0]).gather_one(templates, &crate::desired::merged(&asked))
        });
        let mut facts: Vec<PerRole<Result<Facts, Error>>> =
            profiles.iter().map(|_| PerRole::new()).collect();
        for (sharing, answer) in execs.into_iter().zip(answers) {
            for &(index, role) in sharing {
                let own = match &answer {
                    Ok(all) => Ok(all.answers_to(query((index, role)))),
                    Err(e) => Err(copy_error(e)),
                };
                facts[index].insert(role, own);
            }
        }
        (queries.into_iter().zip(&self.members).zip(facts))
            .map(|((query, member), facts)| {
                query?;
                if let Err(e) = member {
                    return Err(copy_error(e));
                }
                facts
                    .into_entries()
                    .map(|(role, facts)| Ok((role, facts?)))
                    .collect()
            })
            .collect()
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
