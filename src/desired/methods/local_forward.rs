//! local-forward: the laptop can SSH to the workstation itself (directly, or through the server as a jump
//! host), so its own `ssh -L` carries the browser to Jupyter on the workstation's loopback. jprov changes
//! only the workstation: Jupyter on 127.0.0.1 with the password required, because every other account on
//! the workstation can reach loopback too. Nothing on the server changes; its ssh is only a hop.

use super::{Method, TlsEnd, Tunnel};
use crate::desired::builder::{url, Builder, Exposure};
use crate::desired::sharing::{channels_step, Shared};
use crate::desired::*;
use crate::profile::WorkstationHost;

pub(in crate::desired) struct LocalForward;

impl Method for LocalForward {
    fn roles(&self) -> &'static [Role] {
        &[Role::Workstation]
    }

    /// The ssh forward encrypts the way from the laptop; Jupyter serves plain http on loopback.
    fn tls_end(&self, _: &Profile, _: &Layout) -> Option<TlsEnd> {
        None
    }

    fn tunnel(&self, _: &Builder) -> Option<Tunnel> {
        None
    }

    fn host(&self, b: &Builder, _: Role) -> Result<HostState, RenderError> {
        let config = b.jupyter_config(&exposure(b.p))?;
        b.jupyter_workstation(vec![], "Jupyter configuration", vec![config], false)
    }

    fn reach(&self, b: &Builder) -> Reach {
        let p = b.p;
        let argv = laptop_forward(p);
        Reach {
            url: exposure(p).url,
            steps: vec![
                format!(
                    "on the laptop, keep the forward up with `jprov tunnel PROFILE` (it reconnects), or run \
                     it yourself: {}",
                    crate::argv::shell_words(&argv)
                ),
                format!(
                    "or put it in the laptop's ~/.ssh/config and run `ssh -N {}`:\n{}",
                    host_alias(p),
                    ssh_config_snippet(p)
                ),
                channels_step(Shared::Forward),
            ],
            laptop_forward: Some(argv),
        }
    }
}

/// Jupyter on the workstation's loopback, reached at the same port on the laptop's.
fn exposure(p: &Profile) -> Exposure {
    let port = p.jupyter.port.get();
    Exposure {
        reached_through: "Reachable only through an SSH local forward from the laptop (ssh -L).",
        ip: "127.0.0.1".into(),
        url: url("http", "localhost", port, p.jupyter.base_url.as_str()),
        local_hostnames: vec!["localhost".into()],
        serves_tls: false,
        behind_proxy: false,
    }
}

/// The ssh address of the workstation as the laptop reaches it.
fn workstation_host(p: &Profile) -> String {
    match &p.workstation.host {
        WorkstationHost::Remote(host) => host.to_string(),
        WorkstationHost::Local => {
            unreachable!("validated: local-forward names the workstation's host")
        }
    }
}

/// `user@host:port` of the server as a jump host, when the workstation is reached through it.
fn jump(p: &Profile) -> Option<String> {
    p.workstation.jump.map(|_| {
        let server = p.server();
        format!("{}@{}:{}", server.user, server.host, server.ssh_port())
    })
}

/// The laptop's command: the forward, kept alive, failing when the laptop's port is taken.
fn laptop_forward(p: &Profile) -> Vec<String> {
    let port = p.jupyter.port.get();
    let mut argv: Vec<String> = ["ssh", "-N", "-L"].map(String::from).to_vec();
    argv.push(format!("{port}:localhost:{port}"));
    for option in [
        "ExitOnForwardFailure=yes",
        "ServerAliveInterval=30",
        "ServerAliveCountMax=3",
    ] {
        argv.extend(["-o".to_string(), option.to_string()]);
    }
    if let Some(jump) = jump(p) {
        argv.extend(["-J".to_string(), jump]);
    }
    if let Some(port) = p.workstation.port {
        argv.extend(["-p".to_string(), port.to_string()]);
    }
    argv.push(format!("{}@{}", p.workstation.user, workstation_host(p)));
    argv
}

/// The name the ~/.ssh/config snippet gives the forward.
fn host_alias(p: &Profile) -> String {
    format!("jprov-{}", p.name)
}

/// The same forward as an `~/.ssh/config` entry.
fn ssh_config_snippet(p: &Profile) -> String {
    let port = p.jupyter.port.get();
    let mut lines = vec![
        format!("Host {}", host_alias(p)),
        format!("    HostName {}", workstation_host(p)),
        format!("    User {}", p.workstation.user),
        format!("    Port {}", p.workstation.ssh_port()),
    ];
    if let Some(jump) = jump(p) {
        lines.push(format!("    ProxyJump {jump}"));
    }
    if let Some(identity) = &p.workstation.identity_file {
        lines.push(format!("    IdentityFile {identity}"));
    }
    lines.extend([
        format!("    LocalForward {port} localhost:{port}"),
        "    ExitOnForwardFailure yes".to_string(),
        "    ServerAliveInterval 30".to_string(),
    ]);
    lines.join("\n")
}
