//! Desired state: what the profile wants on each host, computed without touching any host.
//!
//! `build` is a pure function of the profile and the facts. Facts only fill in what other steps make (a
//! generated public key, a certificate's presence, the lines of an authorized_keys file jprov shares with
//! the user); offline, there are no facts and those parts are `Content::Pending`. What to gather is
//! derived from the desired state itself (`fact_queries`).

use crate::facts::{FactQuery, Facts, FileFact, UnitQuery};
use crate::layout::{peer_address, Layout};
use crate::profile::{Profile, Tls};
use crate::render::{RenderError, Templates};
use crate::resource::*;
use serde_json::json;

/// The facts of each host; none when planning offline.
pub type World<'a> = PerRole<&'a Facts>;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `apply --start-tunnel`: start the tunnel process; otherwise it is only printed.
    pub start_tunnel: bool,
    /// Plan the teardown (`jprov destroy`): the desired state then holds every item apply may have made,
    /// including a certificate that is not due, and `destroy::compute` plans its removal.
    pub destroy: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostState {
    pub role: Role,
    pub items: Vec<Item>,
    /// What sshd must effectively do once the files are in place.
    pub sshd_intent: Vec<SshdExpectation>,
    /// What will follow once pending content is known, for the plan's reader.
    pub notes: Vec<String>,
    /// What stands in the way on this host, found from the facts (apply refuses while there are any).
    pub problems: Vec<String>,
}

/// An ssh tunnel between the hosts and the host that opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub opener: Role,
    pub process: TunnelProcess,
}

/// How people reach Jupyter once apply is done.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reach {
    /// What a browser opens.
    pub url: String,
    /// What to do or tell collaborators first (the laptop's command, a fingerprint to compare, a port
    /// to open), one sentence each.
    pub steps: Vec<String>,
    /// local-forward: the laptop's `ssh -L` command (`jprov tunnel` runs it and reconnects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laptop_forward: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredState {
    pub hosts: PerRole<HostState>,
    /// The tunnel between the hosts; none for the methods without a server.
    pub tunnel: Option<Tunnel>,
    pub reach: Reach,
    /// How to start Jupyter on the workstation with the rendered config.
    pub jupyter_command: Vec<String>,
    /// How to look at the systemd units that run the tunnel and Jupyter (`systemctl [--user] status UNIT`),
    /// on hosts with systemd.
    pub tunnel_service: Option<String>,
    pub jupyter_service: Option<String>,
    /// Without systemd: what shows the tunnel, and Jupyter, already running (from the facts), so apply
    /// tells nobody to start a second one; `None` when nothing does, offline, or with systemd (services).
    pub tunnel_running: Option<String>,
    pub jupyter_running: Option<String>,
}

impl DesiredState {
    /// The state of a host the profile has (panics for one it has not).
    pub fn host(&self, role: Role) -> &HostState {
        &self.hosts[role]
    }
}

/// The owner's hash (`hashed_password = ...`) and each collaborator's (`"password_hash": ...`).
const JUPYTER_SECRETS: &[&str] = &["hashed_password", "\"password_hash\":"];

/// Debian's certbot package renews certificates from this timer.
const CERTBOT_TIMER: &str = "certbot.timer";

/// The pause before the tunnel is started again after it ended (systemd's RestartSec, and `jprov tunnel`'s
/// default).
pub const TUNNEL_RESTART_SECONDS: u32 = 10;

/// The pause before systemd restarts a Jupyter that failed.
const JUPYTER_RESTART_SECONDS: u32 = 5;

/// The hosts the profile's method configures, in plan order.
pub fn roles(p: &Profile) -> &'static [Role] {
    methods::of(p.method).roles()
}

/// The desired state of the profile's hosts, given what the facts say is there (none offline).
pub fn build(
    p: &Profile,
    world: World,
    templates: &Templates,
    options: Options,
) -> Result<DesiredState, RenderError> {
    Ok(build_asking(p, world, templates, options)?.0)
}

/// `build`, and every question it asked of each host's facts.
fn build_asking(
    p: &Profile,
    world: World,
    templates: &Templates,
    options: Options,
) -> Result<(DesiredState, PerRole<FactQuery>), RenderError> {
    let l = Layout::new(p);
    let method = methods::of(p.method);
    let b = Builder {
        p,
        l: &l,
        facts: FactReader::new(world),
        templates,
        options,
        tls: method.tls_end(p, &l),
    };
    let tunnel = method.tunnel(&b);
    let mut hosts = PerRole::new();
    for &role in method.roles() {
        hosts.insert(role, method.host(&b, role)?);
    }
    // Collaboration is Jupyter's, the same on every method.
    if let Some(workstation) = hosts.get_mut(Role::Workstation) {
        b.collaboration(workstation);
    }
    let workstation = hosts
        .get_mut(Role::Workstation)
        .expect("every method has the workstation");
    workstation.notes.extend(access::obscurity_note(p));
    let desired = DesiredState {
        hosts,
        tunnel_service: (tunnel.as_ref()).and_then(|t| b.service_status(t.opener, &l.tunnel_unit)),
        jupyter_service: b.service_status(Role::Workstation, &l.jupyter_unit),
        tunnel_running: (tunnel.as_ref())
            .filter(|t| !b.systemd(t.opener))
            .and_then(|t| b.tunnel_running(&t.process, t.opener)),
        jupyter_running: (!b.systemd(Role::Workstation))
            .then(|| b.jupyter_running())
            .flatten(),
        reach: method.reach(&b),
        tunnel,
        jupyter_command: jupyter_argv(p),
    };
    Ok((desired, b.facts.into_asked()))
}

/// `existing` without the lines ending in `tag` (destroy's counterpart of `with_tagged_line`): every other
/// byte stays as it was, line endings and a missing final newline included.
pub fn without_tagged_line(existing: &str, tag: &str) -> String {
    existing
        .split_inclusive('\n')
        .filter(|line| !is_tagged(line, tag))
        .collect()
}

/// Whether `line` ends in the tag `tag` (a `jprov:PROFILE` comment).
pub fn is_tagged(line: &str, tag: &str) -> bool {
    line.split_whitespace().last() == Some(tag)
}

/// Whether `line` carries any profile's jprov tag.
pub fn has_jprov_tag(line: &str) -> bool {
    line.split_whitespace()
        .last()
        .is_some_and(|t| t.starts_with("jprov:"))
}

/// `existing` with the line ending in `tag` replaced by `line` (or `line` appended); every other line is kept
/// byte for byte (`\r\n` endings included), so `without_tagged_line` gives the user's file back.
pub(crate) fn with_tagged_line(existing: &str, tag: &str, line: &str) -> String {
    let mut out = String::new();
    let mut placed = false;
    for old in existing.split_inclusive('\n') {
        if is_tagged(old, tag) {
            if !placed {
                out.push_str(line.trim_end());
                out.push('\n');
                placed = true;
            }
        } else {
            out.push_str(old);
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

mod access;
mod builder;
mod certificates;
mod collaboration;
mod fact_query;
mod fact_reader;
mod methods;
mod services;
mod sharing;
#[cfg(test)]
pub(crate) mod tests;
mod tls_end;

use builder::{jupyter_argv, Builder};
pub use fact_query::{fact_queries, merged};
use fact_reader::FactReader;
