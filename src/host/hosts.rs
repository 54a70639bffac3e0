//! The hosts of a profile: how each is reached (`targets`), connecting to both in parallel, running a script
//! on one, gathering facts, and proving a fresh login after an sshd reload.

use crate::desired;
use crate::error::Error;
use crate::facts::{self, Facts};
use crate::host::ssh::{self, Target};
use crate::host::{exec::TransportError, transport::Transport};
use crate::profile::{LoadedProfile, WorkstationHost};
use crate::render::Templates;
use crate::resource::Role;

/// A connected host.
pub struct Host {
    pub role: Role,
    pub address: String,
    transport: Transport,
    sudo: bool,
    /// How it was reached, to prove a fresh login after an sshd reload; `None` for this machine.
    target: Option<Target>,
}

impl Host {
    pub(super) fn run(&mut self, script: &str) -> Result<crate::host::exec::ExecOutput, Error> {
        self.transport
            .run_script(script, self.sudo)
            .map_err(|source| Error::Transport {
                role: self.role,
                source,
            })
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
        let mut connection = loop {
            match ssh::connect(target) {
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
            .map_or_else(|| "the local user".into(), |t| t.user.clone())
    }

    fn gather_one(
        &mut self,
        templates: &Templates,
        query: &facts::FactQuery,
    ) -> Result<Facts, Error> {
        let script = crate::script::facts(templates, query)?;
        let output = self.run(&script)?;
        let mut facts =
            facts::parse(&output.stdout, &output.stderr).map_err(|source| Error::Facts {
                role: self.role,
                source,
            })?;
        facts.host_key = self.transport.host_key().map(|k| k.to_line());
        Ok(facts)
    }
}

pub struct Hosts {
    pub server: Host,
    pub workstation: Host,
}

pub fn targets(lp: &LoadedProfile, accept_new_host_keys: bool) -> (Target, Option<Target>) {
    let p = &lp.profile;
    let pinned = Some(lp.pinned_known_hosts());
    let server = Target {
        host: p.server.host.to_string(),
        port: p.server.port.get(),
        user: p.server.user.to_string(),
        identity_file: p.server.identity_file.as_ref().map(|f| lp.resolve(f)),
        pinned_known_hosts: pinned.clone(),
        accept_new_host_key: accept_new_host_keys,
        jump: None,
    };
    let workstation = match &p.workstation.host {
        WorkstationHost::Local => None,
        WorkstationHost::Remote(host) => Some(Target {
            host: host.to_string(),
            port: p.workstation.port.get(),
            user: p.workstation.user.to_string(),
            identity_file: p.workstation.identity_file.as_ref().map(|f| lp.resolve(f)),
            pinned_known_hosts: pinned,
            accept_new_host_key: accept_new_host_keys,
            jump: p.workstation.jump.map(|_| Box::new(server.clone())),
        }),
    };
    (server, workstation)
}

impl Hosts {
    /// Connect to both hosts in parallel; host keys are verified before anything is sent.
    pub fn connect(lp: &LoadedProfile, accept_new_host_keys: bool) -> Result<Hosts, Error> {
        let (server_target, workstation_target) = targets(lp, accept_new_host_keys);
        let p = &lp.profile;
        let (server, workstation) = std::thread::scope(|s| {
            let server = s.spawn(|| ssh::connect(&server_target));
            let workstation = workstation_target.as_ref().map(ssh::connect);
            (server.join().expect("connect thread"), workstation)
        });
        let server = server.map_err(|source| Error::Transport {
            role: Role::Server,
            source,
        })?;
        let workstation = match workstation {
            None => Transport::Local,
            Some(w) => Transport::Ssh(Box::new(w.map_err(|source| Error::Transport {
                role: Role::Workstation,
                source,
            })?)),
        };
        let workstation_address = match &workstation_target {
            None => "local".to_string(),
            Some(t) if t.jump.is_some() => format!("{} (through the server)", t.display()),
            Some(t) => t.display(),
        };
        Ok(Hosts {
            server: Host {
                role: Role::Server,
                address: server_target.display(),
                transport: Transport::Ssh(Box::new(server)),
                sudo: p.server.sudo && p.server.user.as_str() != "root",
                target: Some(server_target),
            },
            workstation: Host {
                role: Role::Workstation,
                address: workstation_address,
                transport: workstation,
                sudo: false,
                target: workstation_target,
            },
        })
    }

    pub(super) fn gather(
        &mut self,
        templates: &Templates,
        lp: &LoadedProfile,
    ) -> Result<(Facts, Facts), Error> {
        let [(_, server_query), (_, workstation_query)] = desired::fact_queries(&lp.profile);
        let (server, workstation) = (&mut self.server, &mut self.workstation);
        std::thread::scope(|s| {
            let server = s.spawn(|| server.gather_one(templates, &server_query));
            let workstation = workstation.gather_one(templates, &workstation_query);
            Ok((server.join().expect("facts thread")?, workstation?))
        })
    }
}
