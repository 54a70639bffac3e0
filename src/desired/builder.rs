//! The builder every method builds its hosts with: the profile, its layout, the facts, and the pieces all
//! methods share (files, the ssh tunnel's command, Jupyter's configuration, pinned keys).

use super::tls_end::TlsEnd;
use super::*;

/// What building one desired state reads from.
pub(super) struct Builder<'a> {
    pub(super) p: &'a Profile,
    pub(super) l: &'a Layout,
    /// The facts, through the reader that remembers what was asked of them.
    pub(super) facts: FactReader<'a>,
    pub(super) templates: &'a Templates,
    pub(super) options: Options,
    /// Where the method ends TLS (so where jprov makes a certificate).
    pub(super) tls: Option<TlsEnd>,
}

/// One side of an ssh tunnel between the hosts, as its opener runs it.
pub(super) struct TunnelEnds<'a> {
    /// The account on the opener that runs ssh.
    pub(super) user: String,
    pub(super) key: &'a str,
    pub(super) known_hosts: &'a str,
    /// The host ssh connects to (its pinned key's alias).
    pub(super) peer: Role,
    /// `-R SPEC` or `-L SPEC`.
    pub(super) forward: [String; 2],
    pub(super) pid_file: &'a str,
    /// The account ssh logs in as on the peer.
    pub(super) login: String,
}

/// The ssh options of every connection jprov sets up between the hosts (the tunnel, the certificate
/// fetch): no prompts, only the given key, and only the peer key jprov pinned, under an alias so the pin
/// does not depend on how the address is spelled.
pub(super) fn pinned_ssh_options(
    known_hosts: &str,
    alias: &str,
    key: &str,
    port: u16,
) -> Vec<String> {
    let mut options = vec![];
    for option in [
        "BatchMode=yes".to_string(),
        "IdentitiesOnly=yes".to_string(),
        "StrictHostKeyChecking=yes".to_string(),
        format!("UserKnownHostsFile={known_hosts}"),
        format!("HostKeyAlias={alias}"),
    ] {
        options.extend(["-o".to_string(), option]);
    }
    options.extend([
        "-i".to_string(),
        key.to_string(),
        "-p".to_string(),
        port.to_string(),
    ]);
    options
}

/// How a method exposes Jupyter: what its config says about listening and who is in front of it.
pub(super) struct Exposure {
    /// For the config's first comment: "Reachable only through ...".
    pub(super) reached_through: &'static str,
    /// The address Jupyter binds to.
    pub(super) ip: String,
    /// What browsers open.
    pub(super) url: String,
    /// The Host names Jupyter accepts; empty: its Host check is off (`allow_remote_access`), for
    /// browsers that connect to an IP address.
    pub(super) local_hostnames: Vec<String>,
    /// Jupyter terminates TLS itself (with `Layout::tls_files`).
    pub(super) serves_tls: bool,
    /// A proxy on loopback terminates TLS and says so in X-headers.
    pub(super) behind_proxy: bool,
}

/// `scheme://host[:port]BASE_URL`, with the port left out where it is the scheme's own and an IPv6
/// address in brackets.
pub(super) fn url(scheme: &str, host: &str, port: u16, base_url: &str) -> String {
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_string(),
    };
    let default = matches!((scheme, port), ("https", 443) | ("http", 80));
    match default {
        true => format!("{scheme}://{host}{base_url}"),
        false => format!("{scheme}://{host}:{port}{base_url}"),
    }
}

/// A JSON string literal, which Python reads as the same string whatever characters it holds.
fn literal(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The collaborators' usernames, names and hashes as literals for Jupyter's config.
fn collaborators(p: &Profile) -> Vec<serde_json::Value> {
    (p.jupyter.collaborators.iter())
        .map(|c| {
            json!({
                "username": literal(c.username.as_str()),
                "name": literal(c.name.as_str()),
                "hash": literal(c.password_hash.as_str()),
            })
        })
        .collect()
}

pub(super) fn jupyter_argv(p: &Profile) -> Vec<String> {
    vec![
        p.jupyter.executable(),
        p.jupyter.app.subcommand().to_string(),
    ]
}

pub(super) fn root_file(path: &str, content: Content, mode: u32) -> ManagedFile {
    ManagedFile {
        path: path.to_string(),
        content,
        mode,
        owner: "root".into(),
        group: "root".into(),
        dir_mode: 0o755,
        secrecy: Secrecy::Public,
        line_tag: None,
    }
}

pub(super) fn plain_group(label: &str, files: Vec<ManagedFile>) -> Item {
    Item::Files(FileGroup {
        label: label.into(),
        files,
        links: vec![],
        validate: None,
        reload: None,
    })
}

impl Builder<'_> {
    pub(super) fn user_file(
        &self,
        path: &str,
        content: Content,
        mode: u32,
        secrecy: Secrecy,
    ) -> ManagedFile {
        let user = self.p.workstation.user.to_string();
        ManagedFile {
            path: path.to_string(),
            content,
            mode,
            group: String::new(), // the user's primary group
            owner: user,
            dir_mode: 0o700,
            secrecy,
            line_tag: None,
        }
    }

    /// The tunnel's ssh command: kept alive, failing when its forward cannot be set up, pinned to the peer.
    pub(super) fn ssh_tunnel(&self, ends: TunnelEnds) -> TunnelProcess {
        let (peer_host, peer_port) = peer_address(self.p, ends.peer == Role::Server);
        let mut argv: Vec<String> = ["ssh", "-N"].iter().map(|s| s.to_string()).collect();
        for option in [
            "ExitOnForwardFailure=yes",
            "ServerAliveInterval=30",
            "ServerAliveCountMax=3",
        ] {
            argv.extend(["-o".to_string(), option.to_string()]);
        }
        let alias = self.l.host_key_alias(ends.peer.as_str());
        argv.extend(pinned_ssh_options(
            ends.known_hosts,
            &alias,
            ends.key,
            peer_port,
        ));
        argv.extend(ends.forward);
        argv.push(format!("{}@{peer_host}", ends.login));
        TunnelProcess {
            user: ends.user,
            argv,
            key_file: ends.key.to_string(),
            known_hosts: ends.known_hosts.to_string(),
            pid_file: ends.pid_file.to_string(),
            start: self.options.start_tunnel,
        }
    }

    /// Jupyter's configuration, exposed as the method says.
    pub(super) fn jupyter_config(&self, exposure: &Exposure) -> Result<ManagedFile, RenderError> {
        let (p, l) = (self.p, self.l);
        let (certfile, keyfile) = match exposure.serves_tls {
            true => l.tls_files(p).unzip(),
            false => (None, None),
        };
        let text = self.templates.render(
            "jupyter_server_config.py",
            json!({
                "profile": p.name,
                "method": p.method.to_string(),
                "reached_through": exposure.reached_through,
                "ip": exposure.ip,
                "port": p.jupyter.port,
                "base_url": p.jupyter.base_url,
                "public_url": exposure.url,
                "password_hash": p.jupyter.password_hash,
                "owner": p.workstation.user,
                "owner_literal": literal(p.workstation.user.as_str()),
                "collaborators": collaborators(p),
                "local_hostnames": exposure.local_hostnames,
                "allow_remote_access": exposure.local_hostnames.is_empty(),
                "collaboration": p.jupyter.collaboration,
                "certfile": certfile,
                "keyfile": keyfile,
                "trust_xheaders": exposure.behind_proxy,
                "secure_cookies": super::access::browsers_use_tls(p.method),
            }),
        )?;
        Ok(self.user_file(
            &l.jupyter_config,
            Content::Known(text),
            0o600,
            Secrecy::MaskAfter(JUPYTER_SECRETS),
        ))
    }

    /// known_hosts for the tunnel: the peer's host key as jprov verified it, under the tunnel's alias.
    pub(super) fn pinned_known_hosts(&self, peer_role: Role) -> Content {
        match self.facts.host_key(peer_role) {
            Some(key) => Content::Known(format!(
                "{} {key}\n",
                self.l.host_key_alias(peer_role.as_str())
            )),
            None => Content::Pending(format!(
                "the {peer_role}'s host key, read when jprov connects to it"
            )),
        }
    }

    /// The tunnel key's line in the peer's authorized keys, once the opener `from` has generated the key.
    pub(super) fn authorized_key(
        &self,
        public_key: Option<&str>,
        port: u16,
        from: Role,
    ) -> Result<Content, RenderError> {
        Ok(match public_key {
            Some(key) => {
                // Type and blob only: the key file's own comment would duplicate the jprov tag.
                let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                Content::Known(self.templates.render(
                    "authorized_key",
                    json!({
                        "method": self.p.method.to_string(),
                        "profile": self.p.name,
                        "port": port,
                        "public_key": key,
                    }),
                )?)
            }
            None => Content::Pending(format!(
                "the tunnel's public key, generated on the {from} during apply"
            )),
        })
    }

    /// The opener of a tunnel between the hosts must resolve the address it dials (`server.host` may be an
    /// alias that only the admin's ssh config knows).
    pub(super) fn peer_resolution_problems(&self, opener: Role, peer: Role) -> Vec<String> {
        let (host, _) = peer_address(self.p, peer == Role::Server);
        match self.facts.resolves(opener, &host) {
            Some(false) => vec![format!(
                "the {opener} cannot resolve {host}, the address its tunnel dials to reach the {peer}: set \
                 tunnel.peer_address to a name or address the {opener} resolves ({peer}.host may be an alias \
                 that only your ssh config knows)"
            )],
            _ => vec![],
        }
    }

    /// The content of a file on a host as the facts saw it ("" when missing or unknown).
    pub(super) fn existing(&self, role: Role, path: &str) -> String {
        match self.facts.file(role, path) {
            Some(FileFact::File { content, .. }) => String::from_utf8_lossy(content).into_owned(),
            _ => String::new(),
        }
    }
}
