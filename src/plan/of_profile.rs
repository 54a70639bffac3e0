//! The plan of a whole profile: its desired state against the facts of its hosts (or none, offline).
//! Pure: the host layer gathers the facts and calls this.

use crate::desired::{self, Options, World};
use crate::plan::Plan;
use crate::profile::{LoadedProfile, WorkstationHost};
use crate::render::RenderError;
use crate::render::Templates;
use crate::resource::{PerRole, Role};

/// Addresses shown in an offline plan: `user@host:port` as the profile names them (the host layer shows
/// the same for the connections it makes).
fn offline_addresses(lp: &LoadedProfile) -> PerRole<String> {
    let p = &lp.profile;
    let server = (p.server.as_ref()).map(|s| address(s.user.as_str(), s.host.as_str(), s.port));
    let workstation = match &p.workstation.host {
        WorkstationHost::Local => "local".to_string(),
        WorkstationHost::Remote(host) => address(
            p.workstation.user.as_str(),
            host.as_str(),
            p.workstation.port,
        ),
    };
    let mut addresses = PerRole::new().with(Role::Workstation, workstation);
    if let Some(server) = server {
        addresses.insert(Role::Server, server);
    }
    addresses
}

/// `user@host:port`, or `user@host` when ssh's config decides the port.
fn address(user: &str, host: &str, port: Option<crate::value::Port>) -> String {
    match port {
        Some(port) => format!("{user}@{host}:{port}"),
        None => format!("{user}@{host}"),
    }
}

/// The plan against these facts (none: offline), showing each host at its address.
pub fn compute(
    lp: &LoadedProfile,
    templates: &Templates,
    world: World,
    addresses: &PerRole<String>,
    options: Options,
) -> Result<Plan, RenderError> {
    let p = &lp.profile;
    let desired = desired::build(p, world, templates, options)?;
    let planner = if options.destroy {
        crate::plan::destroy::compute
    } else {
        super::compute
    };
    Ok(planner(
        p.name.as_str(),
        &p.method.to_string(),
        &desired,
        world,
        addresses,
    ))
}

pub fn offline(
    lp: &LoadedProfile,
    templates: &Templates,
    options: Options,
) -> Result<Plan, RenderError> {
    compute(
        lp,
        templates,
        World::default(),
        &offline_addresses(lp),
        options,
    )
}
