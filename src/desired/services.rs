//! The running parts: systemd units for the tunnel and Jupyter, and what a host without systemd gets instead.

use super::builder::{jupyter_argv, plain_group, root_file, Builder};
use super::*;

/// Unit files, after which systemd (the system's or the user's) re-reads its units.
pub(super) fn unit_group(label: &str, scope: UnitScope, files: Vec<ManagedFile>) -> Item {
    Item::Files(FileGroup {
        label: label.into(),
        files,
        links: vec![],
        validate: None,
        reload: Some(Service::Systemd(scope)),
    })
}

/// What a host without systemd gets instead of services.
pub(super) fn no_systemd_note(role: Role) -> String {
    let what = match role {
        Role::Server => "the tunnel",
        Role::Workstation => "Jupyter and the tunnel (when it opens it)",
    };
    format!(
        "{} (`jprov tunnel PROFILE` keeps a tunnel up, `apply --start-tunnel` starts it once)",
        no_services(role, what)
    )
}

fn no_services(role: Role, what: &str) -> String {
    format!(
        "the {role} does not run systemd: jprov sets up no services there; start {what} yourself"
    )
}

/// Reverse-forward with Let's Encrypt, workstation without systemd: no timer fetches renewals there.
pub(super) fn renewals_need_apply_note() -> String {
    "without systemd nothing on the workstation fetches renewed certificates: certbot renews on the server \
     (30 days before expiry), and the renewed one reaches the workstation only when `jprov apply PROFILE` \
     runs again, and Jupyter only when it is restarted after that. Run apply at least every few weeks, \
     e.g. from the crontab of whoever runs jprov (`0 4 * * 1 jprov apply PROFILE`), then restart Jupyter \
     when it copied a new certificate"
        .to_string()
}

impl Builder<'_> {
    /// A workstation that runs only Jupyter (no tunnel of jprov's opens there): `leading` items, the
    /// group of `files` (Jupyter's config among them) under `label`, and Jupyter's unit where systemd runs.
    pub(super) fn jupyter_workstation(
        &self,
        leading: Vec<Item>,
        label: &str,
        files: Vec<ManagedFile>,
        has_tunnel: bool,
    ) -> Result<HostState, RenderError> {
        let systemd = self.systemd(Role::Workstation);
        let mut items = vec![];
        if systemd {
            items.push(Item::Linger(self.p.workstation.user.to_string()));
        }
        items.extend(leading);
        items.push(plain_group(label, files));
        let mut notes = vec![];
        if systemd {
            let (file, unit) = self.jupyter_service()?;
            items.push(unit_group(
                "the workstation user's systemd units",
                UnitScope::User,
                vec![file],
            ));
            items.push(Item::Unit(unit));
        } else if has_tunnel {
            notes.push(no_systemd_note(Role::Workstation));
        } else {
            notes.push(no_services(Role::Workstation, "Jupyter"));
        }
        Ok(HostState {
            role: Role::Workstation,
            items,
            sshd_intent: vec![],
            notes,
            problems: match systemd {
                true => self.jupyter_problems(),
                false => vec![],
            },
        })
    }

    /// Without systemd: what shows the tunnel up. Its pid file from `apply --start-tunnel` with a live
    /// process, or else a listener on the server's tunnel port (sshd for a reverse forward, the tunnel's
    /// ssh for nginx-proxy), which is also how a `jprov tunnel` or an ssh started by hand shows.
    pub(super) fn tunnel_running(&self, tunnel: &TunnelProcess, opener: Role) -> Option<String> {
        let started = self
            .facts
            .tunnel(opener, &tunnel.pid_file)
            .filter(|t| t.running);
        if let Some(started) = started {
            let how = if started.argv_digest == crate::argv::argv_digest(&tunnel.argv) {
                "".to_string()
            } else {
                ", with an older command: `apply --start-tunnel` replaces it".to_string()
            };
            return Some(format!(
                "started by apply --start-tunnel (pid file {}){how}",
                tunnel.pid_file
            ));
        }
        let port = self.p.tunnel.port.get();
        let who = self.facts.listener(Role::Server, port)?;
        Some(format!("{who} listens on the server's port {port}"))
    }

    /// Without systemd: what shows Jupyter up (something listens on its port on the workstation).
    pub(super) fn jupyter_running(&self) -> Option<String> {
        let port = self.p.jupyter.port.get();
        let who = self.facts.listener(Role::Workstation, port)?;
        Some(format!("{who} listens on the workstation's port {port}"))
    }

    /// How to look at a unit of jprov's on `role` (`systemctl [--user] status NAME`), when it runs
    /// systemd: jprov's units are the system's on the server and the user's own on the workstation.
    pub(super) fn service_status(&self, role: Role, name: &str) -> Option<String> {
        let scope = match role {
            Role::Server => UnitScope::System,
            Role::Workstation => UnitScope::User,
        };
        self.systemd(role)
            .then(|| format!("{} status {name}", scope.systemctl()))
    }

    /// Whether `role` runs systemd; offline, jprov plans for systemd hosts.
    pub(super) fn systemd(&self, role: Role) -> bool {
        self.facts.systemd(role)
    }

    /// A unit file: the system's (root-owned) or the workstation user's.
    pub(super) fn unit_file(
        &self,
        scope: UnitScope,
        name: &str,
        template: &str,
        context: serde_json::Value,
    ) -> Result<ManagedFile, RenderError> {
        let text = self.templates.render(template, context)?;
        Ok(match scope {
            UnitScope::System => root_file(&self.l.system_unit(name), Content::Known(text), 0o644),
            UnitScope::User => {
                let mut file = self.user_file(
                    &self.l.user_unit(name),
                    Content::Known(text),
                    0o644,
                    Secrecy::Public,
                );
                file.dir_mode = 0o755;
                file
            }
        })
    }

    /// The tunnel as a service of the host that opens it: restarted forever, by systemd.
    pub(super) fn tunnel_service(
        &self,
        tunnel: &TunnelProcess,
        scope: UnitScope,
    ) -> Result<(ManagedFile, Unit), RenderError> {
        let (p, l) = (self.p, self.l);
        let file = self.unit_file(
            scope,
            &l.tunnel_unit,
            "tunnel.service",
            json!({
                "profile": p.name,
                "method": p.method.to_string(),
                "scope": scope.as_str(),
                "user": (scope == UnitScope::System).then(|| tunnel.user.clone()),
                "argv": tunnel.argv,
                "restart_seconds": crate::desired::TUNNEL_RESTART_SECONDS,
            }),
        )?;
        let unit = Unit {
            name: l.tunnel_unit.clone(),
            scope,
            restart_on: vec![file.path.clone()],
            makes: vec![],
            label: "the tunnel".into(),
        };
        Ok((file, unit))
    }

    /// Jupyter as the workstation user's service, restarted when its unit or its configuration changes.
    pub(super) fn jupyter_service(&self) -> Result<(ManagedFile, Unit), RenderError> {
        let (p, l) = (self.p, self.l);
        let file = self.unit_file(
            UnitScope::User,
            &l.jupyter_unit,
            "jupyter.service",
            json!({
                "profile": p.name,
                "argv": jupyter_argv(p),
                "virtualenv": p.jupyter.virtualenv,
                "restart_seconds": JUPYTER_RESTART_SECONDS,
            }),
        )?;
        let unit = Unit {
            name: l.jupyter_unit.clone(),
            scope: UnitScope::User,
            restart_on: vec![
                file.path.clone(),
                l.jupyter_config.clone(),
                l.workstation_fullchain.clone(),
            ],
            makes: vec![],
            label: "Jupyter".into(),
        };
        Ok((file, unit))
    }

    /// certbot's own renewal timer (Debian's package ships it enabled; jprov makes sure).
    pub(super) fn certbot_timer(&self) -> Option<Item> {
        (matches!(self.p.tls, Some(Tls::Letsencrypt { .. })) && self.systemd(Role::Server)).then(
            || {
                Item::Unit(Unit {
                    name: CERTBOT_TIMER.into(),
                    scope: UnitScope::System,
                    restart_on: vec![],
                    makes: vec![],
                    label: "certbot's renewal timer".into(),
                })
            },
        )
    }

    /// Jupyter's service would fail at once if systemd cannot find the program it runs.
    pub(super) fn jupyter_problems(&self) -> Vec<String> {
        let program = self.p.jupyter.executable();
        match self.facts.executable(Role::Workstation, &program) {
            Some(false) if program.starts_with('/') => vec![format!(
                "Jupyter's service would run {program}, which is not an executable file on the workstation: \
                 check jupyter.command or jupyter.virtualenv"
            )],
            Some(false) => vec![format!(
                "Jupyter's service would run `{program}`, which systemd does not find in /usr/local/bin, \
                 /usr/bin or /bin (it does not use the user's PATH, e.g. ~/.local/bin): give its absolute \
                 path in jupyter.command, or the virtualenv in jupyter.virtualenv"
            )],
            _ => vec![],
        }
    }
}
