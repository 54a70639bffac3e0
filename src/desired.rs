//! Desired state: what the profile wants on each host, computed without touching any host.
//!
//! `build` is a pure function of the profile and the facts. Facts only fill in what other steps make (a
//! generated public key, a certificate's presence, the lines of an authorized_keys file jprov shares with
//! the user); offline, there are no facts and those parts are `Content::Pending`.

use crate::facts::{FactQuery, Facts, FileFact, UnitQuery};
use crate::layout::{peer_address, Layout};
use crate::profile::{Method, Profile, Tls};
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredState {
    pub hosts: PerRole<HostState>,
    /// The tunnel command, as the opener runs it.
    pub tunnel: TunnelProcess,
    /// The role of the host that opens the tunnel.
    pub tunnel_opener: Role,
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

const JUPYTER_SECRETS: &[&str] = &["hashed_password"];

/// Debian's certbot package renews certificates from this timer.
const CERTBOT_TIMER: &str = "certbot.timer";

/// The pause before the tunnel is started again after it ended (systemd's RestartSec, and `jprov tunnel`'s
/// default).
pub const TUNNEL_RESTART_SECONDS: u32 = 10;

/// The pause before systemd restarts a Jupyter that failed.
const JUPYTER_RESTART_SECONDS: u32 = 5;

/// What to gather from each host before `build` can run.
pub fn fact_queries(p: &Profile) -> PerRole<FactQuery> {
    let l = Layout::new(p);
    let mut server = FactQuery {
        profile: Some(p.name.to_string()),
        ..FactQuery::default()
    };
    let mut workstation = FactQuery {
        profile: Some(p.name.to_string()),
        ..FactQuery::default()
    };
    server.accounts.push(p.tunnel.account.to_string());
    workstation.add_file(&l.jupyter_config);
    let unit = |scope, name: &str| UnitQuery {
        scope,
        name: name.to_string(),
    };
    // The workstation's services are the user's own (no root there): they need lingering.
    workstation.linger = true;
    workstation.add_file(&l.user_unit(&l.jupyter_unit));
    workstation
        .units
        .push(unit(UnitScope::User, &l.jupyter_unit));
    workstation.executables.push(p.jupyter.executable());
    // Without systemd, what listens there shows the tunnel (the server's end of it for both methods)
    // and Jupyter running, started by hand or by `jprov tunnel`.
    server.listeners.push(p.tunnel.port.get());
    workstation.listeners.push(p.jupyter.port.get());
    let letsencrypt = matches!(p.tls, Tls::Letsencrypt { .. });
    if letsencrypt {
        server.add_file(&l.deploy_hook);
        server.units.push(unit(UnitScope::System, CERTBOT_TIMER));
    }
    match p.method {
        Method::ReverseForward => {
            server.sshd_users = vec![p.tunnel.account.to_string(), p.server.user.to_string()];
            server.sshd_keywords = SSHD_KEYWORDS;
            server.add_file(&l.tunnel_authorized_keys);
            server.add_file(&l.sshd_dropin);
            workstation.keys.push(l.workstation_tunnel_key.clone());
            workstation.add_file(&l.workstation_known_hosts);
            workstation.tunnels.push(l.workstation_tunnel_pid.clone());
            workstation.add_file(&l.user_unit(&l.tunnel_unit));
            workstation
                .units
                .push(unit(UnitScope::User, &l.tunnel_unit));
            if letsencrypt {
                // certbot --standalone answers the ACME challenge on port 80 itself (the tunnel's port is
                // 1024 or above).
                server.listeners.push(80);
                server.reads.push(l.letsencrypt_fullchain.clone());
                server.reads.push(l.letsencrypt_privkey.clone());
                server.accounts.push(l.cert_account.clone());
                server.sshd_users.push(l.cert_account.clone());
                server.add_file(&l.cert_authorized_keys);
                server.add_file(&l.cert_bundle);
                workstation.add_file(&l.workstation_fullchain);
                workstation.add_file(&l.workstation_privkey);
                workstation.keys.push(l.workstation_cert_key.clone());
                workstation.add_file(&l.fetch_script);
                workstation.add_file(&l.user_unit(&l.fetch_unit));
                workstation.add_file(&l.user_unit(&l.fetch_timer));
                workstation
                    .units
                    .push(unit(UnitScope::User, &l.fetch_timer));
            }
        }
        Method::NginxProxy => {
            server.keys.push(l.server_tunnel_key.clone());
            server.add_file(&l.server_known_hosts);
            server.add_file(&l.nginx_available);
            server.add_file(&l.nginx_enabled);
            server.tunnels.push(l.server_tunnel_pid.clone());
            server.add_file(&l.system_unit(&l.tunnel_unit));
            server.units.push(unit(UnitScope::System, &l.tunnel_unit));
            workstation.add_file(&l.workstation_authorized_keys);
        }
    }
    let tls = methods::of(p.method).tls_end(p, &l);
    if let Some((role, certificate)) = certificate(p, &l, &tls) {
        let query = match role {
            Role::Server => &mut server,
            Role::Workstation => &mut workstation,
        };
        query.certificates.push(certificate.fullchain);
        // What destroy removes: of a self-signed certificate its files; of an ACME one (the certificate
        // is kept) the webroot jprov made for certbot's challenges.
        match certificate.source {
            CertificateSource::SelfSigned => query
                .exists
                .extend(certificate.renames.into_iter().map(|r| r.to)),
            CertificateSource::Acme => query.exists.extend(certificate.directory.map(|d| d.path)),
        }
    }
    // Either half of a key pair is removed by destroy, even when the other is missing.
    for query in [&mut server, &mut workstation] {
        let halves: Vec<String> = query
            .keys
            .iter()
            .flat_map(|k| [k.clone(), format!("{k}.pub")])
            .collect();
        query.exists.extend(halves);
    }
    PerRole::new()
        .with(Role::Server, server)
        .with(Role::Workstation, workstation)
}

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
    let l = Layout::new(p);
    let method = methods::of(p.method);
    let b = Builder {
        p,
        l: &l,
        world,
        templates,
        options,
        tls: method.tls_end(p, &l),
    };
    let methods::Tunnel { opener, process } = method.tunnel(&b);
    let mut hosts = PerRole::new();
    for &role in method.roles() {
        hosts.insert(role, method.host(&b, role, &process)?);
    }
    Ok(DesiredState {
        hosts,
        tunnel_service: b.service_status(opener, &l.tunnel_unit),
        jupyter_service: b.service_status(Role::Workstation, &l.jupyter_unit),
        tunnel_running: (!b.systemd(opener))
            .then(|| b.tunnel_running(&process, opener))
            .flatten(),
        jupyter_running: (!b.systemd(Role::Workstation))
            .then(|| b.jupyter_running())
            .flatten(),
        tunnel: process,
        tunnel_opener: opener,
        jupyter_command: jupyter_argv(p),
    })
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

mod builder;
mod certificates;
mod methods;
mod services;
#[cfg(test)]
pub(crate) mod tests;

use builder::{jupyter_argv, Builder};
use certificates::certificate;
