//! Certificates: which one jprov makes and where, and how a reverse-forward workstation keeps receiving the
//! renewed one from the server without jprov (certbot's deploy hook, a fetch-only account, a timer).

use super::*;

/// The certificate jprov makes itself, and the host it makes it on: the one place deciding this. The fact
/// queries ask that host for the certificate's expiry; `build` puts the item there when the certificate is
/// missing or expires within 30 days. `None` for `tls.files` (the user's certificate).
pub(super) fn certificate(p: &Profile, l: &Layout) -> Option<(Role, Certificate)> {
    // nginx serves the certificate it read when it last (re)loaded.
    let reload = (p.method == Method::NginxProxy).then_some(Service::Nginx);
    match &p.tls {
        Tls::Files { .. } => None,
        Tls::Letsencrypt {
            email,
            server,
            ca_bundle,
        } => {
            let mut command = vec![];
            if let Some(bundle) = ca_bundle {
                command.extend(["env".to_string(), format!("REQUESTS_CA_BUNDLE={bundle}")]);
            }
            command.extend(
                [
                    "certbot",
                    "certonly",
                    "--non-interactive",
                    "--agree-tos",
                    "--keep-until-expiring",
                ]
                .map(String::from),
            );
            command.extend([
                "-m".to_string(),
                email.to_string(),
                "-d".to_string(),
                p.domain.to_string(),
            ]);
            // nginx-proxy: nginx serves the http-01 challenge from the webroot. reverse-forward: the server
            // has no web server, certbot answers it itself.
            let webroot = match p.method {
                Method::NginxProxy => Some(&l.acme_webroot),
                Method::ReverseForward => None,
            };
            match webroot {
                Some(dir) => {
                    command.extend(["--webroot".to_string(), "-w".to_string(), dir.to_string()])
                }
                None => command.push("--standalone".to_string()),
            }
            if let Some(url) = server {
                command.extend(["--server".to_string(), url.to_string()]);
            }
            Some((
                Role::Server,
                Certificate {
                    domain: p.domain.to_string(),
                    source: CertificateSource::Acme,
                    command,
                    fullchain: l.letsencrypt_fullchain.clone(),
                    directory: webroot.map(|dir| Directory {
                        path: dir.clone(),
                        mode: 0o755,
                        owner: "root".into(),
                        group: "root".into(),
                    }),
                    umask: 0o022,
                    renames: vec![],
                    reload,
                },
            ))
        }
        Tls::SelfSigned { days, addresses } => {
            // Made where TLS is terminated, at the paths nginx or Jupyter read (`Layout::tls_files`).
            let (role, directory) = match p.method {
                Method::NginxProxy => (
                    Role::Server,
                    Directory {
                        path: l.self_signed_dir.clone(),
                        mode: 0o700,
                        owner: "root".into(),
                        group: "root".into(),
                    },
                ),
                Method::ReverseForward => (
                    Role::Workstation,
                    Directory {
                        path: l.workstation_tls_dir.clone(),
                        mode: 0o700,
                        owner: p.workstation.user.to_string(),
                        group: String::new(),
                    },
                ),
            };
            let (fullchain, privkey) = l.tls_files(p);
            let (new_fullchain, new_privkey) =
                (format!("{fullchain}.new"), format!("{privkey}.new"));
            let mut san = format!("subjectAltName=DNS:{}", p.domain);
            for address in addresses {
                san.push_str(&format!(",IP:{address}"));
            }
            let command = [
                "openssl",
                "req",
                "-x509",
                "-noenc",
                "-days",
                &days.to_string(),
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-keyout",
                &new_privkey,
                "-out",
                &new_fullchain,
                "-subj",
                &format!("/CN={}", p.domain),
                "-addext",
                &san,
                // Apple devices refuse a server certificate without it.
                "-addext",
                "extendedKeyUsage=serverAuth",
            ]
            .map(String::from)
            .to_vec();
            Some((
                role,
                Certificate {
                    domain: p.domain.to_string(),
                    source: CertificateSource::SelfSigned,
                    command,
                    fullchain: fullchain.clone(),
                    directory: Some(directory),
                    umask: 0o077,
                    // The key first: the chain is what the facts look at, so it comes last.
                    renames: vec![
                        Rename {
                            from: new_privkey,
                            to: privkey,
                            mode: 0o600,
                        },
                        Rename {
                            from: new_fullchain,
                            to: fullchain,
                            mode: 0o644,
                        },
                    ],
                    reload,
                },
            ))
        }
    }
}

impl Builder<'_> {
    /// The certificate item for `role`: when jprov makes the certificate there and it is missing or expires
    /// within 30 days (for a teardown: always, it is what destroy removes or keeps).
    pub(super) fn certificate_due(&self, role: Role) -> Option<Item> {
        let (on, certificate) = certificate(self.p, self.l)?;
        let fresh = self
            .facts(on)
            .and_then(|f| f.certificates.get(&certificate.fullchain).copied())
            .unwrap_or(false);
        (on == role && (!fresh || self.options.destroy)).then_some(Item::Certificate(certificate))
    }

    /// Whether the certificate the TLS server on `role` reads exists (with `tls.files`: assumed).
    pub(super) fn certificate_exists(&self, role: Role) -> bool {
        match certificate(self.p, self.l) {
            Some((on, c)) if on == role => self
                .facts(on)
                .is_some_and(|f| f.certificates.contains_key(&c.fullchain)),
            _ => true,
        }
    }

    /// certbot's deploy hook for this profile's domain: refreshes the workstation's bundle, reloads nginx.
    pub(super) fn deploy_hook(
        &self,
        bundle: bool,
        reload_nginx: bool,
    ) -> Result<ManagedFile, RenderError> {
        let (p, l) = (self.p, self.l);
        let text = self.templates.render(
            "certbot_deploy_hook.sh",
            json!({
                "profile": p.name,
                "domain": p.domain,
                "lineage": format!("/etc/letsencrypt/live/{}", p.domain),
                "bundle": bundle.then(|| l.cert_bundle.clone()),
                "account": l.cert_account,
                "reload_nginx": reload_nginx,
            }),
        )?;
        Ok(root_file(&l.deploy_hook, Content::Known(text), 0o755))
    }

    /// Reverse-forward with Let's Encrypt and a systemd workstation: the workstation fetches renewed
    /// certificates itself, so they stay fresh without jprov.
    pub(super) fn delivers_certificates(&self) -> bool {
        self.p.method == Method::ReverseForward
            && matches!(self.p.tls, Tls::Letsencrypt { .. })
            && self.systemd(Role::Workstation)
    }

    /// The server's half of certificate delivery: an account whose only key may print the bundle, and
    /// the bundle itself (the certificate and its key, readable by that account only).
    pub(super) fn certificate_delivery_server(&self) -> Result<Vec<Item>, RenderError> {
        let (p, l) = (self.p, self.l);
        let account = l.cert_account.clone();
        let fetch_key = self
            .facts(Role::Workstation)
            .and_then(|f| f.public_key(&l.workstation_cert_key));
        let keys = match fetch_key {
            Some(key) => {
                let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                let line = self.templates.render(
                    "authorized_key",
                    json!({
                        "purpose": "certificate",
                        "profile": p.name,
                        "bundle": l.cert_bundle,
                        "public_key": key,
                    }),
                )?;
                let existing = self.existing(self.facts(Role::Server), &l.cert_authorized_keys);
                Content::Known(with_tagged_line(
                    &existing,
                    &format!("jprov:{}", p.name),
                    &line,
                ))
            }
            None => Content::Pending(
                "the certificate fetcher's public key, generated on the workstation during apply"
                    .into(),
            ),
        };
        let server = self.facts(Role::Server);
        let bundle = match (
            server.and_then(|f| f.read(&l.letsencrypt_fullchain)),
            server.and_then(|f| f.read(&l.letsencrypt_privkey)),
        ) {
            (Some(chain), Some(key)) => {
                Content::Known(String::from_utf8_lossy(&[chain, key].concat()).into_owned())
            }
            _ => Content::Pending("the certificate certbot obtains".into()),
        };
        let mut bundle = root_file(&l.cert_bundle, bundle, 0o640);
        bundle.group = account.clone();
        bundle.dir_mode = 0o750;
        bundle.secrecy = Secrecy::Hidden;
        let mut keys = root_file(&l.cert_authorized_keys, keys, 0o644);
        keys.line_tag = Some(format!("jprov:{}", p.name));
        Ok(vec![
            Item::Account(Account {
                name: account,
                // Exists (the bundles' parent), so sshd has a directory to start the command in.
                home: l.cert_bundle_home(),
                create_home: false,
                // sshd runs a key's forced command through the login shell.
                shell: "/bin/sh".into(),
                shared_keys: Some(l.cert_authorized_keys.clone()),
            }),
            plain_group(
                "certificate delivery to the workstation",
                vec![keys, bundle, self.deploy_hook(true, false)?],
            ),
        ])
    }

    /// The workstation's half of certificate delivery: a script that fetches the bundle with its own key,
    /// its service and the timer that runs it.
    pub(super) fn certificate_fetcher(&self) -> Result<(Vec<ManagedFile>, Unit), RenderError> {
        let (p, l) = (self.p, self.l);
        let (server_host, server_port) = (p.server.host.to_string(), p.server.port.get());
        let script = self.templates.render(
            "fetch_certificate.sh",
            json!({
                "profile": p.name,
                "dir": l.workstation_tls_dir,
                "fullchain": l.workstation_fullchain,
                "privkey": l.workstation_privkey,
                "ssh_options": pinned_ssh_options(
                    &l.workstation_known_hosts,
                    &l.host_key_alias("server"),
                    &l.workstation_cert_key,
                    server_port,
                ),
                "login": format!("{}@{}", l.cert_account, server_host),
                "fetch_unit": l.fetch_unit,
                "refresh": p.workstation.certificate_refresh,
            }),
        )?;
        let script = self.user_file(
            &l.fetch_script,
            Content::Known(script),
            0o700,
            Secrecy::Public,
        );
        let service = self.unit_file(
            UnitScope::User,
            &l.fetch_unit,
            "fetch_certificate.service",
            json!({"profile": p.name, "script": l.fetch_script}),
        )?;
        let timer = self.unit_file(
            UnitScope::User,
            &l.fetch_timer,
            "fetch_certificate.timer",
            json!({"profile": p.name, "refresh": p.workstation.certificate_refresh}),
        )?;
        let unit = Unit {
            name: l.fetch_timer.clone(),
            scope: UnitScope::User,
            restart_on: vec![timer.path.clone()],
            makes: vec![
                l.workstation_fullchain.clone(),
                l.workstation_privkey.clone(),
            ],
            label: "the certificate fetch timer".into(),
        };
        Ok((vec![script, service, timer], unit))
    }

    /// Fetch the certificate during apply when the workstation's copy differs from the server's.
    pub(super) fn fetch_now(&self) -> Option<Item> {
        let l = self.l;
        let server = self.facts(Role::Server);
        let on_server = (
            server.and_then(|f| f.read(&l.letsencrypt_fullchain)),
            server.and_then(|f| f.read(&l.letsencrypt_privkey)),
        );
        let content = |path: &str| match self.facts(Role::Workstation).map(|f| f.file(path)) {
            Some(FileFact::File { content, .. }) => Some(content.as_slice()),
            _ => None,
        };
        let on_workstation = (
            content(&l.workstation_fullchain),
            content(&l.workstation_privkey),
        );
        let reason = match on_server {
            (Some(_), Some(_)) if on_server == on_workstation => return None,
            (Some(_), Some(_)) if on_workstation.0.is_none() => {
                "the workstation has no copy of the certificate yet"
            }
            (Some(_), Some(_)) => "the server has a different (renewed) certificate",
            _ => "the certificate is fetched once certbot has it on the server",
        };
        Some(Item::Command(Command {
            label: "fetch the certificate from the server".into(),
            argv: ["systemctl", "--user", "start", &l.fetch_unit]
                .map(String::from)
                .to_vec(),
            reason: reason.into(),
        }))
    }
}
