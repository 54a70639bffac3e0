//! lan: collaborators on the workstation's LAN or VPN connect to it directly. Jupyter listens on the
//! address the profile names and serves TLS itself, with a certificate generated on the workstation
//! (self-signed: collaborators compare its SHA-256 fingerprint, which plan and apply print) or the user's
//! files. Nothing else changes: no server, no tunnel; the workstation's firewall must let them in.

use super::{Method, TlsEnd, Tunnel};
use crate::desired::builder::{url, Builder, Exposure};
use crate::desired::sharing::{channels_step, Shared};
use crate::desired::*;

pub(in crate::desired) struct Lan;

impl Method for Lan {
    fn roles(&self) -> &'static [Role] {
        &[Role::Workstation]
    }

    fn tls_end(&self, p: &Profile, l: &Layout) -> Option<TlsEnd> {
        Some(TlsEnd::jupyter_on_the_workstation(p, l))
    }

    fn tunnel(&self, _: &Builder) -> Option<Tunnel> {
        None
    }

    fn host(&self, b: &Builder, _: Role) -> Result<HostState, RenderError> {
        let leading = b.certificate_due(Role::Workstation).into_iter().collect();
        let config = b.jupyter_config(&exposure(b.p))?;
        let mut host =
            b.jupyter_workstation(leading, "Jupyter configuration", vec![config], false)?;
        host.notes.push(firewall_note(b.p));
        Ok(host)
    }

    fn reach(&self, b: &Builder) -> Reach {
        let exposure = exposure(b.p);
        let mut steps = Vec::from_iter(b.self_signed_step());
        if exposure.local_hostnames.is_empty() {
            steps.push(
                "without a domain, browsers open the address itself; with `domain:` (a name their \
                 machines resolve to lan.address) Jupyter also checks the Host header"
                    .to_string(),
            );
        }
        steps.push(channels_step(Shared::Url));
        Reach {
            url: exposure.url,
            steps,
            laptop_forward: None,
        }
    }
}

/// Jupyter on the LAN address, serving TLS; with a domain, only that name is an accepted Host.
fn exposure(p: &Profile) -> Exposure {
    let address = p
        .lan
        .as_ref()
        .expect("validated: lan has lan:")
        .address
        .to_string();
    let host = p.domain.as_ref().map_or(address.clone(), |d| d.to_string());
    Exposure {
        reached_through: "Reachable on the workstation's LAN address, with TLS and the password.",
        url: url(
            "https",
            &host,
            p.jupyter.port.get(),
            p.jupyter.base_url.as_str(),
        ),
        ip: address,
        // Jupyter's Host check admits no IP address but loopback: without a name it must be off.
        local_hostnames: p.domain.iter().map(|d| d.to_string()).collect(),
        serves_tls: true,
        behind_proxy: false,
    }
}

fn firewall_note(p: &Profile) -> String {
    let address = &p.lan.as_ref().expect("validated: lan has lan:").address;
    format!(
        "collaborators connect to TCP port {} on {address}: the workstation's firewall (and the network's) \
         must let their machines in, and should let nobody else",
        p.jupyter.port
    )
}
