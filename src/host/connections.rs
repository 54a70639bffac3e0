//! One SSH connection per login for a whole invocation. Every host of every profile, and every hop a
//! jumped connection goes through, is asked for here: a login (the address and port ssh's config resolves,
//! the user, the keys, the route) is connected to once, and each later asker gets the same session, its host
//! key verified again under the asker's own pinned names before it is handed out.

use crate::host::exec::TransportError;
use crate::host::session::SshConnection;
use crate::host::ssh::{self, ClientConfig, Target};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How deep jumps may nest (a ProxyJump whose hop has its own ProxyJump, ...): beyond this, the ssh
/// config loops.
const MAX_HOPS: usize = 8;

/// What makes two connections the same login. Not the name typed in the profile: two aliases of one host
/// share a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Login {
    hostname: String,
    port: u16,
    user: String,
    identity_file: Option<PathBuf>,
    identity_files: Vec<PathBuf>,
    ssh_config: Option<PathBuf>,
    /// The hop this login goes through, itself a login.
    via: Option<Box<Login>>,
}

/// A target as ssh's config resolves it, with the hop it goes through.
pub(super) struct Resolved {
    pub config: Arc<ClientConfig>,
    pub via: Option<Target>,
    login: Login,
}

type Slot = Arc<Mutex<Option<Result<Arc<SshConnection>, TransportError>>>>;

/// What `ssh -G` is asked about: the host as typed, the profile's port and user, `-F`.
type ConfigKey = (String, Option<u16>, Option<String>, Option<PathBuf>);

/// The connections of one invocation.
#[derive(Default)]
pub struct Connections {
    /// `ssh -G` once per (host, port, user, -F).
    configs: Mutex<HashMap<ConfigKey, Arc<ClientConfig>>>,
    logins: Mutex<HashMap<Login, Slot>>,
}

impl Connections {
    pub fn new() -> Connections {
        Connections::default()
    }

    /// The logged-in session for `target`, made now or shared with every earlier asker of the same login.
    pub fn connect(&self, target: &Target) -> Result<Arc<SshConnection>, TransportError> {
        let resolved = self.resolve(target, 0)?;
        let slot = {
            let mut logins = self.logins.lock().expect("logins");
            logins.entry(resolved.login.clone()).or_default().clone()
        };
        // Held while connecting: a second asker of the same login waits for this one's session.
        let mut slot = slot.lock().expect("login slot");
        match &*slot {
            Some(Ok(connection)) => {
                ssh::verify_again(target, &resolved.config, connection.host_key())?;
                return Ok(connection.clone());
            }
            Some(Err(error)) => return Err(error.clone()),
            None => {}
        }
        let made = ssh::establish(target, &resolved, self).map(Arc::new);
        match &made {
            // A refused key is the asker's verdict (its own pinned names), not the login's: the next asker
            // checks against its own.
            Err(TransportError::HostKey(_)) => {}
            made => *slot = Some(made.clone()),
        }
        made
    }

    /// A brand-new login to `target`, never shared (the proof that sshd still lets people in after a
    /// reload); its hops are the shared ones.
    pub fn fresh(&self, target: &Target) -> Result<SshConnection, TransportError> {
        let resolved = self.resolve(target, 0)?;
        ssh::establish(target, &resolved, self)
    }

    /// What ssh's config says of `target`, and the hop it goes through.
    pub(super) fn resolve(
        &self,
        target: &Target,
        depth: usize,
    ) -> Result<Resolved, TransportError> {
        if depth > MAX_HOPS {
            return Err(TransportError::Unreachable {
                target: target.display(),
                reason: format!(
                    "more than {MAX_HOPS} jump hosts in a row: the ssh config's ProxyJump loops"
                ),
            });
        }
        let config = self.config(target)?;
        let via = ssh::hop_of(target, &config);
        let via_login = match &via {
            Some(hop) => Some(Box::new(self.resolve(hop, depth + 1)?.login)),
            None => None,
        };
        let login = Login {
            hostname: (config.hostname.clone()).unwrap_or_else(|| target.host.clone()),
            port: config.port,
            user: config.user.clone(),
            identity_file: target.identity_file.clone(),
            identity_files: config.identity_files.clone(),
            ssh_config: target.ssh_config.clone(),
            via: via_login,
        };
        Ok(Resolved { config, via, login })
    }

    fn config(&self, target: &Target) -> Result<Arc<ClientConfig>, TransportError> {
        let key = (
            target.host.clone(),
            target.port,
            target.user.clone(),
            target.ssh_config.clone(),
        );
        if let Some(config) = self.configs.lock().expect("configs").get(&key) {
            return Ok(config.clone());
        }
        let config =
            Arc::new(
                ssh::client_config(target).map_err(|reason| TransportError::Unreachable {
                    target: target.display(),
                    reason,
                })?,
            );
        self.configs
            .lock()
            .expect("configs")
            .insert(key, config.clone());
        Ok(config)
    }
}
