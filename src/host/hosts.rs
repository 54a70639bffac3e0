//! The hosts of a profile: how each is reached (`targets`), connecting to all in parallel, running a script
//! on one, gathering facts, and proving a fresh login after an sshd reload.

use crate::desired;
use crate::error::Error;
use crate::facts::{self, Facts};
use crate::host::connections::Connections;
use crate::host::ssh::Target;
use crate::host::{exec::TransportError, transport::Transport};
use crate::profile::{LoadedProfile, WorkstationHost};
use crate::render::Templates;
use crate::resource::{PerRole, Role};
use crate::value::Port;
use std::sync::Arc;

/// A connected host.
pub struct Host {
    pub role: Role,
    pub address: String,
    transport: Transport,
    sudo: bool,
    /// How it was reached, to prove a fresh login after an sshd reload; `None` for this machine.
    target: Option<Target>,
    /// The invocation's connections: the fresh login goes through the same hops.
    connections: Arc<Connections>,
}

impl Host {
    pub(super) fn run(&self, script: &str) -> Result<crate::host::exec::ExecOutput, Error> {
        self.run_watching(script, &mut |_| {})
    }

    /// `run`, with each line of the script's stdout handed to `on_line` as it is printed.
    pub(super) fn run_watching(
        &self,
        script: &str,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<crate::host::exec::ExecOutput, Error> {
        self.transport
            .run_script_watching(script, self.sudo, on_line)
            .map_err(|source| Error::Transport {
                role: self.role,
                source,
            })
    }

    /// The lock held while this host's apply script runs and its guard is resolved: one profile at a
    /// time per login (this machine counts as one).
    pub(super) fn changes_lock(&self) -> Arc<std::sync::Mutex<()>> {
        static LOCAL: std::sync::OnceLock<Arc<std::sync::Mutex<()>>> = std::sync::OnceLock::new();
        match &self.transport {
            Transport::Ssh(connection) => connection.changes(),
            Transport::Local => LOCAL.get_or_init(Default::default).clone(),
        }
    }

    /// After an sshd reload: does a brand-new login (and `sudo -n`) still work with the same credentials?
    pub(super) fn prove_fresh_login(&self) -> Result<(), String> {
        // jprov runs on this host: sshd's files cannot shut it out.
        let Some(target) = &self.target else {
            return Ok(());
        };
        // sshd re-executes itself on SIGHUP and refuses connections for a moment: retry an unreachable port
        // for a while, never a refused login.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let connection = loop {
            match self.connections.fresh(target) {
                Ok(connection) => break connection,
                Err(TransportError::Unreachable { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let command = if self.sudo { "sudo -n true" } else { "true" };
        let output = connection.exec(command, b"").map_err(|e| e.to_string())?;
        if output.status == 0 {
            Ok(())
        } else {
            Err(format!(
                "`{command}` exited {}: {}",
                output.status,
                output.stderr.trim()
            ))
        }
    }

    pub(super) fn login_user(&self) -> String {
        self.target
            .as_ref()
            .and_then(|t| t.user.clone())
            .unwrap_or_else(|| "the local user".into())
    }

    /// Which hosts one facts exec may serve: the same login (the shared session, or this machine) and the
    /// same privilege (a script under `sudo -n` sees what the login user cannot).
    pub(super) fn gathering(&self) -> (usize, bool) {
        let login = match &self.transport {
            Transport::Ssh(connection) => Arc::as_ptr(connection) as usize,
            Transport::Local => 0,
        };
        (login, self.sudo)
    }

    pub(super) fn gather_one(
        &self,
        templates: &Templates,
        query: &facts::FactQuery,
    ) -> Result<Facts, Error> {
        let script = crate::script::facts(templates, query)?;
        let output = self.run(&script)?;
        let mut facts =
            crate::protocol::parse_facts(&output.stdout, &output.stderr).map_err(|source| {
                Error::Facts {
                    role: self.role,
                    source,
                }
            })?;
        facts.host_key = self.transport.host_key().map(|k| k.to_line());
        Ok(facts)
    }
}

/// The connected hosts of a profile, one per role.
pub struct Hosts {
    pub(super) connected: PerRole<Host>,
}

/// `f` on every value at once, one thread each (a connection, a script per host); the results by role.
pub(super) fn in_parallel<T: Send, U: Send>(
    values: PerRole<T>,
    f: impl Fn(Role, T) -> U + Sync,
) -> PerRole<U> {
    let f = &f;
    std::thread::scope(|s| {
        let running: Vec<_> = values
            .into_entries()
            .map(|(role, value)| (role, s.spawn(move || f(role, value))))
            .collect();
        running
            .into_iter()
            .map(|(role, thread)| (role, thread.join().expect("host thread")))
            .collect()
    })
}

/// How jprov reaches each host of the profile's method over SSH; a host without a target is this machine
/// (a local workstation).
/// How jprov connects, beyond what the profile says.
#[derive(Clone, Debug, Default)]
pub struct Connecting {
    /// `-F FILE`: the ssh config file `ssh -G` and the jumps read instead of ~/.ssh/config.
    pub ssh_config: Option<std::path::PathBuf>,
    /// Record unknown host keys instead of refusing them.
    pub accept_new_host_keys: bool,
    /// `--connect-timeout`; `None`: ssh's `ConnectTimeout`, else `ssh::DEFAULT_CONNECT_TIMEOUT`.
    pub timeout: Option<std::time::Duration>,
}

pub fn targets(lp: &LoadedProfile, how: Connecting) -> PerRole<Target> {
    let accept_new_host_keys = how.accept_new_host_keys;
    let p = &lp.profile;
    let pinned = Some(lp.pinned_known_hosts());
    // Configured, or only the workstation's jump host, for methods that have a server.
    let server = p.server.as_ref().map(|server| Target {
        host: server.host.to_string(),
        port: server.port.map(Port::get),
        ssh_config: how.ssh_config.clone(),
        user: Some(server.user.to_string()),
        identity_file: server.identity_file.as_ref().map(|f| lp.resolve(f)),
        pinned_known_hosts: pinned.clone(),
        accept_new_host_key: accept_new_host_keys,
        jump: None,
        connect_timeout: how.timeout,
    });
    let workstation = match &p.workstation.host {
        WorkstationHost::Local => None,
        WorkstationHost::Remote(host) => Some(Target {
            host: host.to_string(),
            port: p.workstation.port.map(Port::get),
            ssh_config: how.ssh_config.clone(),
            user: Some(p.workstation.user.to_string()),
            identity_file: p.workstation.identity_file.as_ref().map(|f| lp.resolve(f)),
            pinned_known_hosts: pinned,
            accept_new_host_key: accept_new_host_keys,
            jump: (p.workstation.jump)
                .and_then(|_| server.clone())
                .map(Box::new),
            connect_timeout: how.timeout,
        }),
    };
    let mut targets = PerRole::new();
    if let Some(server) = server.filter(|_| desired::roles(p).contains(&Role::Server)) {
        targets.insert(Role::Server, server);
    }
    if let Some(workstation) = workstation {
        targets.insert(Role::Workstation, workstation);
    }
    targets
}

impl Hosts {
    /// Connect to every host of the profile's method in parallel, through the invocation's connections (a
    /// login another profile, or the workstation's jump, already made is shared); host keys are verified
    /// before anything is sent.
    pub fn connect(
        lp: &LoadedProfile,
        how: Connecting,
        connections: &Arc<Connections>,
    ) -> Result<Hosts, Error> {
        let p = &lp.profile;
        let mut targets = targets(lp, how);
        let mut sessions = in_parallel(targets.as_ref(), |_, target| connections.connect(target));
        let mut connected = PerRole::new();
        for &role in desired::roles(p) {
            let transport = match sessions.take(role) {
                None => Transport::Local,
                Some(session) => {
                    Transport::Ssh(session.map_err(|source| Error::Transport { role, source })?)
                }
            };
            let target = targets.take(role);
            let address = match (&target, &transport) {
                (Some(t), Transport::Ssh(ssh)) if t.jump.is_some() => {
                    format!("{} (through the server)", ssh.display())
                }
                (_, Transport::Ssh(ssh)) => ssh.display().to_string(),
                (_, Transport::Local) => "local".to_string(),
            };
            let sudo =
                role == Role::Server && p.server().sudo && p.server().user.as_str() != "root";
            connected.insert(
                role,
                Host {
                    role,
                    address,
                    transport,
                    sudo,
                    target,
                    connections: connections.clone(),
                },
            );
        }
        Ok(Hosts { connected })
    }

    /// Where each host is, as plans show it.
    pub(super) fn addresses(&self) -> PerRole<String> {
        self.connected.as_ref().map(|_, host| host.address.clone())
    }

    pub(super) fn gather(
        &mut self,
        templates: &Templates,
        lp: &LoadedProfile,
    ) -> Result<PerRole<Facts>, Error> {
        let queries = desired::fact_queries(&lp.profile, templates)?;
        let gathered = in_parallel(self.connected.as_mut(), |role, host| {
            host.gather_one(templates, &queries[role])
        });
        gathered
            .into_entries()
            .map(|(role, facts)| Ok((role, facts?)))
            .collect()
    }
}
