//! reverse-forward: the workstation opens `ssh -R` to a locked-down account on the server, whose sshd
//! publishes Jupyter's port; Jupyter terminates TLS itself. With Let's Encrypt, certbot runs on the server
//! and the workstation fetches each renewed certificate (certificates.rs).

use super::{Method, TlsEnd, Tunnel};
use crate::desired::builder::{plain_group, root_file, url, Builder, Exposure, TunnelEnds};
use crate::desired::services::{no_systemd_note, renewals_need_apply_note, unit_group};
use crate::desired::sharing::Shared;
use crate::desired::*;

pub(in crate::desired) struct ReverseForward;

impl Method for ReverseForward {
    fn roles(&self) -> &'static [Role] {
        &Role::ALL
    }

    fn tls_end(&self, p: &Profile, l: &Layout) -> Option<TlsEnd> {
        Some(TlsEnd::jupyter_on_the_workstation(p, l))
    }

    fn tunnel(&self, b: &Builder) -> Option<Tunnel> {
        Some(tunnel(b))
    }

    fn reach(&self, b: &Builder) -> Reach {
        Reach {
            url: exposure(b.p).url,
            steps: b.sharing_steps(Shared::Url),
            laptop_forward: None,
        }
    }

    fn host(&self, b: &Builder, role: Role) -> Result<HostState, RenderError> {
        let tunnel = &tunnel(b).process;
        match role {
            Role::Server => server(b),
            Role::Workstation => workstation(b, tunnel),
        }
    }
}

/// The ssh tunnel between the hosts, opened by the workstation.
fn tunnel(b: &Builder) -> Tunnel {
    let (p, l) = (b.p, b.l);
    let process = b.ssh_tunnel(TunnelEnds {
        user: p.workstation.user.to_string(),
        key: &l.workstation_tunnel_key,
        known_hosts: &l.workstation_known_hosts,
        peer: Role::Server,
        forward: [
            "-R".to_string(),
            format!(":{}:localhost:{}", p.tunnel.port, p.jupyter.port),
        ],
        pid_file: &l.workstation_tunnel_pid,
        login: p.tunnel.account.to_string(),
    });
    Tunnel {
        opener: Role::Workstation,
        process,
    }
}

/// With Let's Encrypt and a systemd workstation, the workstation fetches renewed certificates itself, so
/// they stay fresh without jprov.
fn delivers_certificates(b: &Builder) -> bool {
    matches!(b.p.tls, Some(Tls::Letsencrypt { .. })) && b.systemd(Role::Workstation)
}

fn server(b: &Builder) -> Result<HostState, RenderError> {
    let delivery = delivers_certificates(b);
    Ok(HostState {
        role: Role::Server,
        items: server_items(b, delivery)?,
        sshd_intent: sshd_intent(b, delivery),
        notes: vec![],
        problems: port_80_problems(b),
    })
}

/// The tunnel account, its root-owned key, sshd's drop-in for it, and what the certificate needs.
fn server_items(b: &Builder, delivery: bool) -> Result<Vec<Item>, RenderError> {
    let (p, l) = (b.p, b.l);
    let mut items = vec![Item::Account(Account {
        name: p.tunnel.account.to_string(),
        home: "/nonexistent".into(),
        create_home: false,
        shell: "/usr/sbin/nologin".into(),
        shared_keys: None,
    })];
    let workstation_key = b
        .facts
        .public_key(Role::Workstation, &l.workstation_tunnel_key);
    items.push(plain_group(
        "tunnel account's authorized key",
        vec![root_file(
            &l.tunnel_authorized_keys,
            b.authorized_key(workstation_key, p.tunnel.port.get(), Role::Workstation)?,
            0o644,
        )],
    ));
    let dropin = b.templates.render(
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
    items.extend(b.certificate_due(Role::Server));
    if delivery {
        items.extend(b.certificate_delivery_server()?);
    }
    items.extend(b.certbot_timer());
    Ok(items)
}

/// What sshd must do for the tunnel account (and the certificate account), and for everyone else.
fn sshd_intent(b: &Builder, delivery: bool) -> Vec<SshdExpectation> {
    let (p, l) = (b.p, b.l);
    let account = p.tunnel.account.to_string();
    let expect = |user: &str, keyword, want: &str| SshdExpectation {
        user: user.to_string(),
        keyword,
        want: want.to_string(),
    };
    let mut intent = vec![
        expect(&account, "gatewayports", "clientspecified"),
        expect(&account, "allowtcpforwarding", "remote"),
        expect(&account, "permitlisten", &p.tunnel.port.to_string()),
        expect(&account, "permittty", "no"),
        expect(&account, "x11forwarding", "no"),
        expect(&account, "allowagentforwarding", "no"),
        expect(&account, "authorizedkeysfile", &l.tunnel_authorized_keys),
        // Everyone else keeps remote forwards on loopback.
        expect(p.server().user.as_str(), "gatewayports", "no"),
    ];
    if delivery {
        let cert = l.cert_account.as_str();
        intent.extend([
            expect(cert, "allowtcpforwarding", "no"),
            expect(cert, "permittty", "no"),
            expect(cert, "x11forwarding", "no"),
            expect(cert, "allowagentforwarding", "no"),
            expect(cert, "authorizedkeysfile", &l.cert_authorized_keys),
        ]);
    }
    intent
}

/// certbot --standalone answers the ACME challenge on port 80 itself (the tunnel's port is 1024 or above),
/// now and at every renewal: nothing else may hold it.
fn port_80_problems(b: &Builder) -> Vec<String> {
    if !matches!(b.p.tls, Some(Tls::Letsencrypt { .. })) {
        return vec![];
    }
    let Some(who) = b.facts.listener(Role::Server, 80) else {
        return vec![];
    };
    vec![format!(
        "{who} listens on the server's port 80, where certbot --standalone must answer the ACME \
         challenge, now and at every renewal. A reverse-forward server needs no web server: stop \
         and disable it (e.g. `systemctl disable --now {who}`), or use method nginx-proxy, or tls.files."
    )]
}

fn workstation(b: &Builder, tunnel: &TunnelProcess) -> Result<HostState, RenderError> {
    let p = b.p;
    let systemd = b.systemd(Role::Workstation);
    let delivery = delivers_certificates(b);
    let mut items = vec![];
    if systemd {
        items.push(Item::Linger(p.workstation.user.to_string()));
    }
    items.extend(workstation_keys(b, delivery));
    items.extend(b.certificate_due(Role::Workstation));
    items.push(plain_group(
        "Jupyter configuration and tunnel files",
        workstation_files(b, delivery)?,
    ));
    if !systemd {
        items.push(Item::Tunnel(tunnel.clone()));
        let mut notes = vec![no_systemd_note(Role::Workstation)];
        if matches!(p.tls, Some(Tls::Letsencrypt { .. })) {
            notes.push(renewals_need_apply_note());
        }
        return Ok(HostState {
            role: Role::Workstation,
            items,
            sshd_intent: vec![],
            notes,
            problems: b.peer_resolution_problems(Role::Workstation, Role::Server),
        });
    }
    items.extend(workstation_services(b, tunnel, delivery)?);
    Ok(HostState {
        role: Role::Workstation,
        items,
        sshd_intent: vec![],
        notes: vec![],
        problems: [
            b.jupyter_problems(),
            b.peer_resolution_problems(Role::Workstation, Role::Server),
        ]
        .concat(),
    })
}

/// The tunnel's key, and the certificate fetcher's own.
fn workstation_keys(b: &Builder, delivery: bool) -> Vec<Item> {
    let (p, l) = (b.p, b.l);
    let mut keys = vec![Item::KeyPair(KeyPair {
        path: l.workstation_tunnel_key.clone(),
        owner: p.workstation.user.to_string(),
        comment: format!("jprov:{}", p.name),
    })];
    if delivery {
        keys.push(Item::KeyPair(KeyPair {
            path: l.workstation_cert_key.clone(),
            owner: p.workstation.user.to_string(),
            comment: format!("jprov:{}:certificate", p.name),
        }));
    }
    keys
}

/// The server's pinned key, the certificate copied by apply when nothing fetches it, Jupyter's config.
fn workstation_files(b: &Builder, delivery: bool) -> Result<Vec<ManagedFile>, RenderError> {
    let (p, l) = (b.p, b.l);
    let mut files = vec![b.user_file(
        &l.workstation_known_hosts,
        b.pinned_known_hosts(Role::Server),
        0o644,
        Secrecy::Public,
    )];
    if matches!(p.tls, Some(Tls::Letsencrypt { .. })) && !delivery {
        // Without systemd nothing on the workstation could fetch renewals: apply copies them.
        let from_server = |path: &str| match b.facts.read(Role::Server, path) {
            Some(bytes) => Content::Known(String::from_utf8_lossy(bytes).into_owned()),
            None => Content::Pending("the certificate certbot obtains on the server".into()),
        };
        files.push(b.user_file(
            &l.workstation_fullchain,
            from_server(&l.letsencrypt_fullchain),
            0o644,
            Secrecy::Public,
        ));
        files.push(b.user_file(
            &l.workstation_privkey,
            from_server(&l.letsencrypt_privkey),
            0o600,
            Secrecy::Hidden,
        ));
    }
    files.push(b.jupyter_config(&exposure(p))?);
    Ok(files)
}

/// Jupyter on loopback, serving TLS itself through the tunnel's public port.
fn exposure(p: &Profile) -> Exposure {
    let domain = p.domain().to_string();
    Exposure {
        reached_through: "Reachable only through the SSH reverse tunnel.",
        ip: "127.0.0.1".into(),
        url: url(
            "https",
            &domain,
            p.tunnel.port.get(),
            p.jupyter.base_url.as_str(),
        ),
        local_hostnames: vec!["localhost".into(), domain],
        serves_tls: true,
        behind_proxy: false,
    }
}

/// The workstation user's units (the tunnel, Jupyter, the certificate fetcher), and a fetch now when due.
fn workstation_services(
    b: &Builder,
    tunnel: &TunnelProcess,
    delivery: bool,
) -> Result<Vec<Item>, RenderError> {
    let (tunnel_file, tunnel_unit) = b.tunnel_service(tunnel, UnitScope::User)?;
    let (jupyter_file, jupyter_unit) = b.jupyter_service()?;
    let mut unit_files = vec![tunnel_file, jupyter_file];
    let mut units = vec![];
    if delivery {
        let (fetch_files, timer) = b.certificate_fetcher()?;
        unit_files.extend(fetch_files);
        units.push(timer);
    }
    let mut items = vec![unit_group(
        "the workstation user's systemd units",
        UnitScope::User,
        unit_files,
    )];
    if delivery {
        items.extend(b.fetch_now());
    }
    units.extend([tunnel_unit, jupyter_unit]);
    items.extend(units.into_iter().map(Item::Unit));
    Ok(items)
}
