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
    if let Some((role, certificate)) = certificate(p, &l) {
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

pub fn build(
    p: &Profile,
    world: World,
    templates: &Templates,
    options: Options,
) -> Result<DesiredState, RenderError> {
    let l = Layout::new(p);
    let b = Builder {
        p,
        l: &l,
        world,
        templates,
        options,
    };
    let tunnel = b.tunnel(options);
    let (server, workstation) = match p.method {
        Method::ReverseForward => (
            b.reverse_forward_server()?,
            b.reverse_forward_workstation(&tunnel)?,
        ),
        Method::NginxProxy => (b.nginx_proxy_server(&tunnel)?, b.nginx_proxy_workstation()?),
    };
    let tunnel_opener = match p.method {
        Method::ReverseForward => Role::Workstation,
        Method::NginxProxy => Role::Server,
    };
    // jprov's units are the system's on the server and the user's own on the workstation.
    let service = |role: Role, name: &str| {
        let scope = match role {
            Role::Server => UnitScope::System,
            Role::Workstation => UnitScope::User,
        };
        b.systemd(role)
            .then(|| format!("{} status {name}", scope.systemctl()))
    };
    Ok(DesiredState {
        hosts: PerRole::new()
            .with(Role::Server, server)
            .with(Role::Workstation, workstation),
        tunnel_service: service(tunnel_opener, &l.tunnel_unit),
        jupyter_service: service(Role::Workstation, &l.jupyter_unit),
        tunnel_running: (!b.systemd(tunnel_opener))
            .then(|| b.tunnel_running(&tunnel, tunnel_opener))
            .flatten(),
        jupyter_running: (!b.systemd(Role::Workstation))
            .then(|| b.jupyter_running())
            .flatten(),
        tunnel,
        tunnel_opener,
        jupyter_command: jupyter_argv(p),
    })
}

/// The ssh options of every connection jprov sets up between the hosts (the tunnel, the certificate
/// fetch): no prompts, only the given key, and only the peer key jprov pinned, under an alias so the pin
/// does not depend on how the address is spelled.
fn pinned_ssh_options(known_hosts: &str, alias: &str, key: &str, port: u16) -> Vec<String> {
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

fn jupyter_argv(p: &Profile) -> Vec<String> {
    vec![
        p.jupyter.executable(),
        p.jupyter.app.subcommand().to_string(),
    ]
}

struct Builder<'a> {
    p: &'a Profile,
    l: &'a Layout,
    world: World<'a>,
    templates: &'a Templates,
    options: Options,
}

fn root_file(path: &str, content: Content, mode: u32) -> ManagedFile {
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

fn plain_group(label: &str, files: Vec<ManagedFile>) -> Item {
    Item::Files(FileGroup {
        label: label.into(),
        files,
        links: vec![],
        validate: None,
        reload: None,
    })
}

impl Builder<'_> {
    fn user_file(&self, path: &str, content: Content, mode: u32, secrecy: Secrecy) -> ManagedFile {
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

    fn tunnel(&self, options: Options) -> TunnelProcess {
        let (p, l) = (self.p, self.l);
        let (peer_host, peer_port) = peer_address(p);
        let (user, key, known_hosts, alias, forward, pid_file, login) = match p.method {
            Method::ReverseForward => (
                p.workstation.user.to_string(),
                &l.workstation_tunnel_key,
                &l.workstation_known_hosts,
                l.host_key_alias("server"),
                vec![
                    "-R".to_string(),
                    format!(":{}:localhost:{}", p.tunnel.port, p.jupyter.port),
                ],
                &l.workstation_tunnel_pid,
                p.tunnel.account.to_string(),
            ),
            Method::NginxProxy => (
                p.tunnel.account.to_string(),
                &l.server_tunnel_key,
                &l.server_known_hosts,
                l.host_key_alias("workstation"),
                vec![
                    "-L".to_string(),
                    format!("127.0.0.1:{}:localhost:{}", p.tunnel.port, p.jupyter.port),
                ],
                &l.server_tunnel_pid,
                p.workstation.user.to_string(),
            ),
        };
        let mut argv: Vec<String> = ["ssh", "-N"].iter().map(|s| s.to_string()).collect();
        for option in [
            "ExitOnForwardFailure=yes",
            "ServerAliveInterval=30",
            "ServerAliveCountMax=3",
        ] {
            argv.extend(["-o".to_string(), option.to_string()]);
        }
        argv.extend(pinned_ssh_options(known_hosts, &alias, key, peer_port));
        argv.extend(forward);
        argv.push(format!("{login}@{peer_host}"));
        TunnelProcess {
            user,
            argv,
            key_file: key.clone(),
            known_hosts: known_hosts.clone(),
            pid_file: pid_file.clone(),
            start: options.start_tunnel,
        }
    }

    fn jupyter_config(&self, public_port: u16) -> Result<ManagedFile, RenderError> {
        let (p, l) = (self.p, self.l);
        let (cert, key) = l.tls_files(p);
        let (certfile, keyfile) = match p.method {
            Method::ReverseForward => (Some(cert), Some(key)),
            Method::NginxProxy => (None, None),
        };
        let text = self.templates.render(
            "jupyter_server_config.py",
            json!({
                "profile": p.name,
                "method": p.method.to_string(),
                "port": p.jupyter.port,
                "base_url": p.jupyter.base_url,
                "password_hash": p.jupyter.password_hash,
                "domain": p.domain,
                "public_port": public_port,
                "certfile": certfile,
                "keyfile": keyfile,
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
    fn pinned_known_hosts(&self, peer: Option<&Facts>, peer_role: Role) -> Content {
        match peer.and_then(|f| f.host_key.as_deref()) {
            Some(key) => Content::Known(format!(
                "{} {key}\n",
                self.l.host_key_alias(peer_role.as_str())
            )),
            None => Content::Pending(format!(
                "the {peer_role}'s host key, read when jprov connects to it"
            )),
        }
    }

    fn authorized_key(
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

    fn facts(&self, role: Role) -> Option<&Facts> {
        self.world.get(role).copied()
    }

    /// The content of a file on a host as the facts saw it ("" when missing or unknown).
    fn existing(&self, facts: Option<&Facts>, path: &str) -> String {
        match facts.map(|f| f.file(path)) {
            Some(FileFact::File { content, .. }) => String::from_utf8_lossy(content).into_owned(),
            _ => String::new(),
        }
    }

    fn reverse_forward_server(&self) -> Result<HostState, RenderError> {
        let (p, l) = (self.p, self.l);
        let mut items = vec![Item::Account(Account {
            name: p.tunnel.account.to_string(),
            home: "/nonexistent".into(),
            create_home: false,
            shell: "/usr/sbin/nologin".into(),
            shared_keys: None,
        })];
        let workstation_key = self
            .facts(Role::Workstation)
            .and_then(|f| f.public_key(&l.workstation_tunnel_key));
        items.push(plain_group(
            "tunnel account's authorized key",
            vec![root_file(
                &l.tunnel_authorized_keys,
                self.authorized_key(workstation_key, p.tunnel.port.get(), Role::Workstation)?,
                0o644,
            )],
        ));
        let delivery = self.delivers_certificates();
        let dropin = self.templates.render(
            "sshd_dropin.conf",
            json!({
                "profile": p.name,
                "tunnel_account": p.tunnel.account,
                "tunnel_port": p.tunnel.port,
                "authorized_keys_file": l.tunnel_authorized_keys,
                "cert_account": delivery.then(|| l.cert_account.clone()),
                "cert_authorized_keys_file": l.cert_authorized_keys,
            }),
        )?;
        items.push(Item::Files(FileGroup {
            label: "sshd drop-in".into(),
            files: vec![root_file(&l.sshd_dropin, Content::Known(dropin), 0o644)],
            links: vec![],
            validate: Some(Validation::Sshd),
            reload: Some(Service::Ssh),
        }));
        items.extend(self.certificate_due(Role::Server));
        if delivery {
            items.extend(self.certificate_delivery_server()?);
        }
        items.extend(self.certbot_timer());
        let account = p.tunnel.account.to_string();
        let expect = |user: &str, keyword, want: &str| SshdExpectation {
            user: user.to_string(),
            keyword,
            want: want.to_string(),
        };
        let mut sshd_intent = vec![
            expect(&account, "gatewayports", "clientspecified"),
            expect(&account, "allowtcpforwarding", "remote"),
            expect(&account, "permitlisten", &p.tunnel.port.to_string()),
            expect(&account, "permittty", "no"),
            expect(&account, "x11forwarding", "no"),
            expect(&account, "allowagentforwarding", "no"),
            expect(&account, "authorizedkeysfile", &l.tunnel_authorized_keys),
            // Everyone else keeps remote forwards on loopback.
            expect(p.server.user.as_str(), "gatewayports", "no"),
        ];
        if delivery {
            let cert = l.cert_account.as_str();
            sshd_intent.extend([
                expect(cert, "allowtcpforwarding", "no"),
                expect(cert, "permittty", "no"),
                expect(cert, "x11forwarding", "no"),
                expect(cert, "allowagentforwarding", "no"),
                expect(cert, "authorizedkeysfile", &l.cert_authorized_keys),
            ]);
        }
        let mut problems = vec![];
        if matches!(p.tls, Tls::Letsencrypt { .. }) {
            if let Some(who) = self.facts(Role::Server).and_then(|f| f.listeners.get(&80)) {
                problems.push(format!(
                    "{who} listens on the server's port 80, where certbot --standalone must answer the ACME \
                     challenge, now and at every renewal. A reverse-forward server needs no web server: stop \
                     and disable it (e.g. `systemctl disable --now {who}`), or use method nginx-proxy, or tls.files."
                ));
            }
        }
        Ok(HostState {
            role: Role::Server,
            items,
            sshd_intent,
            notes: vec![],
            problems,
        })
    }

    fn reverse_forward_workstation(
        &self,
        tunnel: &TunnelProcess,
    ) -> Result<HostState, RenderError> {
        let (p, l) = (self.p, self.l);
        let systemd = self.systemd(Role::Workstation);
        let delivery = self.delivers_certificates();
        let mut items = vec![];
        if systemd {
            items.push(Item::Linger(p.workstation.user.to_string()));
        }
        items.push(Item::KeyPair(KeyPair {
            path: l.workstation_tunnel_key.clone(),
            owner: p.workstation.user.to_string(),
            comment: format!("jprov:{}", p.name),
        }));
        if delivery {
            items.push(Item::KeyPair(KeyPair {
                path: l.workstation_cert_key.clone(),
                owner: p.workstation.user.to_string(),
                comment: format!("jprov:{}:certificate", p.name),
            }));
        }
        let mut files = vec![self.user_file(
            &l.workstation_known_hosts,
            self.pinned_known_hosts(self.facts(Role::Server), Role::Server),
            0o644,
            Secrecy::Public,
        )];
        if matches!(p.tls, Tls::Letsencrypt { .. }) && !delivery {
            // Without systemd nothing on the workstation could fetch renewals: apply copies them.
            let from_server = |path: &str| match self.facts(Role::Server).and_then(|f| f.read(path))
            {
                Some(bytes) => Content::Known(String::from_utf8_lossy(bytes).into_owned()),
                None => Content::Pending("the certificate certbot obtains on the server".into()),
            };
            files.push(self.user_file(
                &l.workstation_fullchain,
                from_server(&l.letsencrypt_fullchain),
                0o644,
                Secrecy::Public,
            ));
            files.push(self.user_file(
                &l.workstation_privkey,
                from_server(&l.letsencrypt_privkey),
                0o600,
                Secrecy::Hidden,
            ));
        }
        files.push(self.jupyter_config(p.tunnel.port.get())?);
        items.extend(self.certificate_due(Role::Workstation));
        items.push(plain_group("Jupyter configuration and tunnel files", files));
        if !systemd {
            items.push(Item::Tunnel(tunnel.clone()));
            let mut notes = vec![no_systemd_note(Role::Workstation)];
            if matches!(p.tls, Tls::Letsencrypt { .. }) {
                notes.push(renewals_need_apply_note());
            }
            return Ok(HostState {
                role: Role::Workstation,
                items,
                sshd_intent: vec![],
                notes,
                problems: vec![],
            });
        }
        let (tunnel_file, tunnel_unit) = self.tunnel_service(tunnel, UnitScope::User)?;
        let (jupyter_file, jupyter_unit) = self.jupyter_service()?;
        let mut unit_files = vec![tunnel_file, jupyter_file];
        let mut units = vec![];
        if delivery {
            let (fetch_files, timer) = self.certificate_fetcher()?;
            unit_files.extend(fetch_files);
            units.push(timer);
        }
        items.push(unit_group(
            "the workstation user's systemd units",
            UnitScope::User,
            unit_files,
        ));
        if delivery {
            items.extend(self.fetch_now());
        }
        units.extend([tunnel_unit, jupyter_unit]);
        items.extend(units.into_iter().map(Item::Unit));
        Ok(HostState {
            role: Role::Workstation,
            items,
            sshd_intent: vec![],
            notes: vec![],
            problems: self.jupyter_problems(),
        })
    }

    fn nginx_proxy_server(&self, tunnel: &TunnelProcess) -> Result<HostState, RenderError> {
        let (p, l) = (self.p, self.l);
        let account = p.tunnel.account.to_string();
        let nginx = p.nginx.clone().unwrap_or_default();
        let mut items = vec![
            Item::Account(Account {
                name: account.clone(),
                home: l.tunnel_home.clone(),
                create_home: true,
                shell: "/usr/sbin/nologin".into(),
                shared_keys: None,
            }),
            Item::KeyPair(KeyPair {
                path: l.server_tunnel_key.clone(),
                owner: account.clone(),
                comment: format!("jprov:{}", p.name),
            }),
        ];
        let mut known_hosts = root_file(
            &l.server_known_hosts,
            self.pinned_known_hosts(self.facts(Role::Workstation), Role::Workstation),
            0o644,
        );
        known_hosts.dir_mode = 0o700;
        known_hosts.owner = account.clone();
        known_hosts.group = String::new();
        items.push(plain_group("tunnel's pinned host key", vec![known_hosts]));

        let certificate = self.certificate_due(Role::Server);
        // A TLS server block naming certificate files that don't exist yet fails `nginx -t`: until certbot
        // (or openssl) has run, the site serves only the ACME challenge on port 80.
        let tls_ready = self.certificate_exists(Role::Server);
        let (cert_file, key_file) = l.tls_files(p);
        let site = self.templates.render(
            "nginx_site.conf",
            json!({
                "profile": p.name,
                "domain": p.domain,
                "https_port": nginx.https_port,
                "http_port": nginx.http_port,
                "upstream_port": p.tunnel.port,
                "base_url": p.jupyter.base_url,
                "tls_ready": tls_ready,
                "cert_file": cert_file,
                "key_file": key_file,
                "acme_webroot": l.acme_webroot,
                "client_max_body_size": nginx.client_max_body_size,
            }),
        )?;
        items.push(Item::Files(FileGroup {
            label: "nginx site".into(),
            files: vec![root_file(&l.nginx_available, Content::Known(site), 0o644)],
            links: vec![Symlink {
                path: l.nginx_enabled.clone(),
                target: l.nginx_available.clone(),
            }],
            validate: Some(Validation::Nginx),
            reload: Some(Service::Nginx),
        }));
        let mut notes = vec![];
        if let Some(certificate) = certificate {
            items.push(certificate);
            if !tls_ready {
                notes.push(
                    "once the certificate exists, the same apply rewrites the nginx site with its TLS server block"
                        .to_string(),
                );
            }
        }
        if matches!(p.tls, Tls::Letsencrypt { .. }) {
            // nginx reads certificates when it (re)loads: a renewal needs a reload.
            items.push(plain_group(
                "certbot deploy hook",
                vec![self.deploy_hook(false, true)?],
            ));
        }
        items.extend(self.certbot_timer());
        if self.systemd(Role::Server) {
            let (file, unit) = self.tunnel_service(tunnel, UnitScope::System)?;
            items.push(unit_group("tunnel service", UnitScope::System, vec![file]));
            items.push(Item::Unit(unit));
        } else {
            items.push(Item::Tunnel(tunnel.clone()));
            notes.push(no_systemd_note(Role::Server));
        }
        Ok(HostState {
            role: Role::Server,
            items,
            sshd_intent: vec![],
            notes,
            problems: vec![],
        })
    }

    fn nginx_proxy_workstation(&self) -> Result<HostState, RenderError> {
        let (p, l) = (self.p, self.l);
        let nginx = p.nginx.clone().unwrap_or_default();
        let server_key = self
            .facts(Role::Server)
            .and_then(|f| f.public_key(&l.server_tunnel_key));
        let line = self.authorized_key(server_key, p.jupyter.port.get(), Role::Server)?;
        // authorized_keys is the user's file: jprov owns only the line tagged with its profile.
        let content = match line {
            Content::Known(line) => Content::Known(with_tagged_line(
                &self.existing(
                    self.facts(Role::Workstation),
                    &l.workstation_authorized_keys,
                ),
                &format!("jprov:{}", p.name),
                &line,
            )),
            pending => pending,
        };
        let mut authorized_keys = self.user_file(
            &l.workstation_authorized_keys,
            content,
            0o600,
            Secrecy::Public,
        );
        authorized_keys.line_tag = Some(format!("jprov:{}", p.name));
        let files = vec![
            authorized_keys,
            self.jupyter_config(nginx.https_port.get())?,
        ];
        let mut items = vec![];
        let systemd = self.systemd(Role::Workstation);
        if systemd {
            items.push(Item::Linger(p.workstation.user.to_string()));
        }
        items.push(plain_group(
            "Jupyter configuration and the tunnel's authorized key",
            files,
        ));
        let mut notes = vec![];
        if systemd {
            let (file, unit) = self.jupyter_service()?;
            items.push(unit_group(
                "the workstation user's systemd units",
                UnitScope::User,
                vec![file],
            ));
            items.push(Item::Unit(unit));
        } else {
            notes.push(no_systemd_note(Role::Workstation));
        }
        Ok(HostState {
            role: Role::Workstation,
            items,
            sshd_intent: vec![],
            notes,
            problems: if systemd {
                self.jupyter_problems()
            } else {
                vec![]
            },
        })
    }
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

mod certificates;
mod services;
#[cfg(test)]
pub(crate) mod tests;

use certificates::certificate;
use services::{no_systemd_note, renewals_need_apply_note, unit_group};
