//! nginx-proxy: the server opens `ssh -L` to the workstation and nginx on the server terminates TLS and
//! proxies to the tunnel's loopback port; the workstation only lets the tunnel's key forward to Jupyter.

use super::{Method, TlsEnd, Tunnel};
use crate::desired::access;
use crate::desired::builder::{plain_group, root_file, url, Builder, Exposure, TunnelEnds};
use crate::desired::services::{no_systemd_note, unit_group};
use crate::desired::sharing::Shared;
use crate::desired::*;

pub(in crate::desired) struct NginxProxy;

impl Method for NginxProxy {
    fn roles(&self) -> &'static [Role] {
        &Role::ALL
    }

    fn tls_end(&self, _: &Profile, l: &Layout) -> Option<TlsEnd> {
        Some(TlsEnd {
            role: Role::Server,
            self_signed_dir: Directory {
                path: l.self_signed_dir.clone(),
                mode: 0o700,
                owner: "root".into(),
                group: "root".into(),
            },
            // nginx serves the certificate it read when it last (re)loaded.
            reload: Some(Service::Nginx),
            // nginx serves the http-01 challenge from the webroot.
            acme_webroot: Some(l.acme_webroot.clone()),
        })
    }

    fn tunnel(&self, b: &Builder) -> Option<Tunnel> {
        Some(tunnel(b))
    }

    fn reach(&self, b: &Builder) -> Reach {
        let shared = match b.p.access.basic_auth {
            Some(_) => Shared::UrlAndBasicAuth,
            None => Shared::Url,
        };
        Reach {
            url: exposure(b.p).url,
            steps: b.sharing_steps(shared),
            laptop_forward: None,
        }
    }

    fn host(&self, b: &Builder, role: Role) -> Result<HostState, RenderError> {
        let tunnel = &tunnel(b).process;
        match role {
            Role::Server => server(b, tunnel),
            Role::Workstation => workstation(b),
        }
    }
}

/// The ssh tunnel between the hosts, opened by the server.
fn tunnel(b: &Builder) -> Tunnel {
    let (p, l) = (b.p, b.l);
    let process = b.ssh_tunnel(TunnelEnds {
        user: p.tunnel.account.to_string(),
        key: &l.server_tunnel_key,
        known_hosts: &l.server_known_hosts,
        peer: Role::Workstation,
        forward: [
            "-L".to_string(),
            format!("127.0.0.1:{}:localhost:{}", p.tunnel.port, p.jupyter.port),
        ],
        pid_file: &l.server_tunnel_pid,
        login: p.workstation.user.to_string(),
    });
    Tunnel {
        opener: Role::Server,
        process,
    }
}

fn server(b: &Builder, tunnel: &TunnelProcess) -> Result<HostState, RenderError> {
    let mut items = tunnel_account(b);
    let mut notes = vec![];
    items.extend(nginx_and_certificate(b, &mut notes)?);
    items.extend(b.certbot_timer());
    if b.systemd(Role::Server) {
        let (file, unit) = b.tunnel_service(tunnel, UnitScope::System)?;
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
        problems: b.peer_resolution_problems(Role::Server, Role::Workstation),
    })
}

/// The account that runs the tunnel, its key, and the workstation's host key pinned for it.
fn tunnel_account(b: &Builder) -> Vec<Item> {
    let (p, l) = (b.p, b.l);
    let account = p.tunnel.account.to_string();
    let mut known_hosts = root_file(
        &l.server_known_hosts,
        b.pinned_known_hosts(Role::Workstation),
        0o644,
    );
    known_hosts.dir_mode = 0o700;
    known_hosts.owner = account.clone();
    known_hosts.group = String::new();
    vec![
        Item::Account(Account {
            name: account.clone(),
            home: l.tunnel_home.clone(),
            create_home: true,
            shell: "/usr/sbin/nologin".into(),
            shared_keys: None,
        }),
        Item::KeyPair(KeyPair {
            path: l.server_tunnel_key.clone(),
            owner: account,
            comment: format!("jprov:{}", p.name),
        }),
        plain_group("tunnel's pinned host key", vec![known_hosts]),
    ]
}

/// nginx's site, the certificate it serves when one is due, and certbot's deploy hook that reloads nginx.
fn nginx_and_certificate(b: &Builder, notes: &mut Vec<String>) -> Result<Vec<Item>, RenderError> {
    let mut items = vec![];
    // A TLS server block naming certificate files that don't exist yet fails `nginx -t`: until certbot
    // (or openssl) has run, the site serves only the ACME challenge on port 80.
    let tls_ready = b.certificate_exists(Role::Server);
    items.push(nginx_site(b, tls_ready)?);
    if let Some(certificate) = b.certificate_due(Role::Server) {
        items.push(certificate);
        if !tls_ready {
            notes.push(
                "once the certificate exists, the same apply rewrites the nginx site with its TLS server block"
                    .to_string(),
            );
        }
    }
    if matches!(b.p.tls, Some(Tls::Letsencrypt { .. })) {
        // nginx reads certificates when it (re)loads: a renewal needs a reload.
        items.push(plain_group(
            "certbot deploy hook",
            vec![b.deploy_hook(false, true)?],
        ));
    }
    Ok(items)
}

fn nginx_site(b: &Builder, tls_ready: bool) -> Result<Item, RenderError> {
    let (p, l) = (b.p, b.l);
    let nginx = p.nginx.clone().unwrap_or_default();
    let (cert_file, key_file) = l.tls_files(p).expect("nginx-proxy always has TLS");
    let site = b.templates.render(
        "nginx_site.conf",
        json!({
            "profile": p.name,
            "domain": p.domain(),
            "https_port": nginx.https_port,
            "http_port": nginx.http_port,
            "upstream_port": p.tunnel.port,
            "base_url": p.jupyter.base_url,
            "tls_ready": tls_ready,
            "cert_file": cert_file,
            "key_file": key_file,
            "acme_webroot": l.acme_webroot,
            "client_max_body_size": nginx.client_max_body_size,
            "access": access::nginx_access(b),
        }),
    )?;
    // The site and the accounts it checks are validated and go live together, or not at all.
    let mut files = Vec::from_iter(access::htpasswd_file(b)?);
    files.push(root_file(&l.nginx_available, Content::Known(site), 0o644));
    Ok(Item::Files(FileGroup {
        label: "nginx site".into(),
        files,
        links: vec![Symlink {
            path: l.nginx_enabled.clone(),
            target: l.nginx_available.clone(),
        }],
        validate: Some(Validation::Nginx),
        reload: Some(Service::Nginx),
    }))
}

/// Jupyter on loopback, behind the tunnel from nginx on the server, which terminates TLS.
fn exposure(p: &Profile) -> Exposure {
    let domain = p.domain().to_string();
    let https_port = p.nginx.clone().unwrap_or_default().https_port.get();
    Exposure {
        reached_through: "Reachable only through the nginx proxy on the forwarding server.",
        ip: "127.0.0.1".into(),
        url: url("https", &domain, https_port, p.jupyter.base_url.as_str()),
        local_hostnames: vec!["localhost".into(), domain],
        serves_tls: false,
        behind_proxy: true,
    }
}

fn workstation(b: &Builder) -> Result<HostState, RenderError> {
    let files = vec![tunnel_authorized_key(b)?, b.jupyter_config(&exposure(b.p))?];
    b.jupyter_workstation(
        vec![],
        "Jupyter configuration and the tunnel's authorized key",
        files,
        false,
    )
}

/// The server's tunnel key in the user's authorized_keys, which is the user's file: jprov owns only the
/// line tagged with its profile.
fn tunnel_authorized_key(b: &Builder) -> Result<ManagedFile, RenderError> {
    let (p, l) = (b.p, b.l);
    let server_key = b.facts.public_key(Role::Server, &l.server_tunnel_key);
    let line = b.authorized_key(server_key, p.jupyter.port.get(), Role::Server)?;
    let tag = format!("jprov:{}", p.name);
    let content = match line {
        Content::Known(line) => Content::Known(with_tagged_line(
            &b.existing(Role::Workstation, &l.workstation_authorized_keys),
            &tag,
            &line,
        )),
        pending => pending,
    };
    let mut authorized_keys = b.user_file(
        &l.workstation_authorized_keys,
        content,
        0o600,
        Secrecy::Public,
    );
    authorized_keys.line_tag = Some(tag);
    Ok(authorized_keys)
}
