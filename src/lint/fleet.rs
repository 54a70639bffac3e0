//! Conflicts between profiles that share a host (`jprov check A.yaml B.yaml`): what one profile would write
//! or bind there that another one already does. Offline, so CI catches a colliding new profile before
//! anything is written.

use super::{Finding, Severity};
use crate::profile::{LoadedProfile, Method, Profile, WorkstationHost};

/// A host as profiles name it: the same name and port is the same host (ssh's config may still make two
/// names one host; that is not seen here).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    Server(String, Option<u16>),
    Workstation(String, Option<u16>),
}

/// Something a profile takes on a host that no other profile may take there too.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Claim {
    /// The profile's name names its sshd drop-in, units, state and files on every host it configures.
    Name(String),
    /// The tunnel account's root-owned authorized keys file and sshd's `Match User` block.
    TunnelAccount(String),
    /// A TCP port bound on the host (sshd's public forward, a tunnel's loopback end, Jupyter).
    Port(u16),
    /// nginx's server block: several may share a port, but not a name and a port.
    Site(String, u16),
}

/// What `p` takes on each host it configures.
fn claims(p: &Profile) -> Vec<(Host, Claim, &'static str)> {
    let mut out = vec![];
    let name = p.name.to_string();
    if p.method.has_server() {
        let server = p.server();
        let host = Host::Server(server.host.to_string(), server.port.map(|x| x.get()));
        out.push((host.clone(), Claim::Name(name.clone()), "name"));
        let account = p.tunnel.account.to_string();
        out.push((
            host.clone(),
            Claim::TunnelAccount(account),
            "tunnel.account",
        ));
        out.push((
            host.clone(),
            Claim::Port(p.tunnel.port.get()),
            "tunnel.port",
        ));
        if p.method == Method::NginxProxy {
            let nginx = p.nginx.clone().unwrap_or_default();
            let site = Claim::Site(p.domain().to_string(), nginx.https_port.get());
            out.push((host, site, "domain"));
        }
    }
    let workstation = match &p.workstation.host {
        WorkstationHost::Remote(h) => {
            Host::Workstation(h.to_string(), p.workstation.port.map(|x| x.get()))
        }
        WorkstationHost::Local => Host::Workstation("local".into(), None),
    };
    out.push((workstation.clone(), Claim::Name(name), "name"));
    out.push((
        workstation,
        Claim::Port(p.jupyter.port.get()),
        "jupyter.port",
    ));
    out
}

/// For each profile (by its position), the conflicts it has with a profile before it in `profiles`.
pub fn conflicts(profiles: &[&LoadedProfile]) -> Vec<(usize, Finding)> {
    let mut found = vec![];
    for (later, lp) in profiles.iter().enumerate() {
        for (host, claim, field) in claims(&lp.profile) {
            let earlier = profiles[..later].iter().find(|other| {
                claims(&other.profile)
                    .iter()
                    .any(|(h, c, _)| *h == host && *c == claim)
            });
            if let Some(earlier) = earlier {
                found.push((later, finding(lp, earlier, &host, &claim, field)));
            }
        }
    }
    found
}

fn finding(
    lp: &LoadedProfile,
    earlier: &LoadedProfile,
    host: &Host,
    claim: &Claim,
    field: &str,
) -> Finding {
    let on = match host {
        Host::Server(h, _) => format!("the server {h}"),
        Host::Workstation(h, _) => format!("the workstation {h}"),
    };
    let what = match claim {
        Claim::Name(n) => format!("the profile name {n} (its drop-in, units and files)"),
        Claim::TunnelAccount(a) => format!("the tunnel account {a} (one authorized keys file)"),
        Claim::Port(port) => format!("port {port}"),
        Claim::Site(domain, port) => format!("nginx's site for {domain} on port {port}"),
    };
    Finding {
        severity: Severity::Error,
        code: "profiles-collide",
        file: Some(lp.path.display().to_string()),
        line: None,
        field: Some(field.to_string()),
        finding: format!("{what} on {on} is taken by {} too", earlier.path.display()),
        risk: "applying both, each would overwrite or take what the other set up there".into(),
        fix: format!("give this profile another {field}"),
    }
}
