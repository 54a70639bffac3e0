//! `jprov trust`: fetch the hosts' keys, show their fingerprints, pin them in the profile's known_hosts file.

use crate::error::Error;
use crate::host::engine::targets;
use crate::host::exec::KeyRefusal;
use crate::host::known_hosts::{self, Verdict};
use crate::host::ssh;
use crate::profile::LoadedProfile;
use std::io::Write;

/// Pin every host key of every profile's hosts, one profile after the other, through one set of
/// connections (a shared jump host is logged in to once). Keys already pinned are left alone; a host whose
/// pinned key differs from what it presents fails closed, with both fingerprints shown.
pub fn trust(
    profiles: &[LoadedProfile],
    how: crate::host::hosts::Connecting,
    out: &mut dyn Write,
) -> Result<usize, Error> {
    let connections = crate::host::connections::Connections::new();
    let mut recorded = 0;
    for lp in profiles {
        if profiles.len() > 1 {
            let _ = writeln!(out, "== {} ({}) ==", lp.profile.name, lp.path.display());
        }
        recorded += trust_one(lp, how.clone(), &connections, out)?;
    }
    Ok(recorded)
}

fn trust_one(
    lp: &LoadedProfile,
    how: crate::host::hosts::Connecting,
    connections: &crate::host::connections::Connections,
    out: &mut dyn Write,
) -> Result<usize, Error> {
    let pinned = lp.pinned_known_hosts();
    let mut recorded = 0;
    // The server first (role order): a workstation reached through it is verified with the server's pinned
    // key. A host without a target is this machine.
    for (role, target) in targets(lp, how).into_entries() {
        let fail = |source| Error::Transport { role, source };
        let (keys, names) = ssh::fetch_host_keys(&target, connections).map_err(fail)?;
        let files = [pinned.clone()];
        let _ = writeln!(out, "{role} {} ({}):", target.display(), names[0]);
        for key in &keys {
            let name = names[0].clone();
            let status = match known_hosts::check(&files, &names, key) {
                Verdict::Trusted { .. } => "already pinned".to_string(),
                Verdict::Unknown => {
                    known_hosts::record(&pinned, &name, key).map_err(|error| {
                        fail(
                            KeyRefusal::CannotRecord {
                                name,
                                file: pinned.clone(),
                                error: error.into(),
                            }
                            .into(),
                        )
                    })?;
                    recorded += 1;
                    format!("pinned in {}", pinned.display())
                }
                Verdict::Revoked { file, line } => {
                    let key = key.clone();
                    return Err(fail(
                        KeyRefusal::Revoked {
                            name,
                            key,
                            file,
                            line,
                        }
                        .into(),
                    ));
                }
                Verdict::Changed { known } => {
                    let key = key.clone();
                    return Err(fail(KeyRefusal::Changed { name, key, known }.into()));
                }
            };
            let _ = writeln!(out, "  {} {}  {status}", key.algorithm, key.fingerprint());
        }
    }
    let _ = writeln!(
        out,
        "Compare these fingerprints with the hosts' own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then commit {}.",
        pinned.display()
    );
    Ok(recorded)
}
