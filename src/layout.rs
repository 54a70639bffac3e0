//! Where everything jprov manages lives on the hosts, derived from the profile alone.

pub use crate::profile::CERTIFICATE_ACCOUNT;
use crate::profile::{Method, Profile, Tls, WorkstationHost};

/// Paths and names on both hosts. One place, so the fact query, the desired state and the docs agree.
#[derive(Clone, Debug)]
pub struct Layout {
    pub profile: String,
    // Server.
    /// Read early: for sshd the first value obtained for a keyword wins, so a drop-in read after another
    /// (cloud images ship 50-cloud-init.conf) can be silently shadowed.
    pub sshd_dropin: String,
    /// Root-owned authorized keys of the tunnel account: the account cannot change its own keys.
    pub tunnel_authorized_keys: String,
    pub tunnel_home: String,
    pub server_tunnel_key: String,
    pub server_known_hosts: String,
    pub server_tunnel_pid: String,
    pub nginx_available: String,
    pub nginx_enabled: String,
    /// nginx-proxy with `access.basic_auth`: the accounts nginx checks (root:www-data, 0640).
    pub nginx_htpasswd: String,
    pub acme_webroot: String,
    pub letsencrypt_fullchain: String,
    pub letsencrypt_privkey: String,
    /// Runs after certbot renews any certificate; acts on this profile's domain only.
    pub deploy_hook: String,
    /// The account the workstation fetches renewed certificates as (reverse-forward): it can read the
    /// bundle and nothing else useful, and is not the tunnel account.
    pub cert_account: String,
    pub cert_authorized_keys: String,
    pub cert_bundle: String,
    /// nginx-proxy with `tls.self_signed`: the certificate generated on the server (root only, 0700).
    pub self_signed_dir: String,
    pub self_signed_fullchain: String,
    pub self_signed_privkey: String,
    // Workstation.
    pub home: String,
    pub jupyter_config: String,
    pub workstation_tunnel_key: String,
    pub workstation_known_hosts: String,
    pub workstation_authorized_keys: String,
    pub workstation_tunnel_pid: String,
    /// reverse-forward: where Jupyter's certificate lives (copied from the server, or generated here).
    pub workstation_tls_dir: String,
    pub workstation_fullchain: String,
    pub workstation_privkey: String,
    /// The key the workstation fetches certificates with (not the tunnel key).
    pub workstation_cert_key: String,
    pub fetch_script: String,
    /// ngrok: the agent's configuration as jprov writes it, and (with basic auth) the script the agent's
    /// service runs first to assemble what the agent reads: that file with the credentials put in.
    pub ngrok_config: String,
    pub ngrok_assemble: String,
    /// ngrok with basic auth: the service's runtime directory, relative to `$XDG_RUNTIME_DIR` (`%t`): the
    /// user's tmpfs, which systemd creates 0700 at start and removes when the agent stops.
    pub ngrok_runtime_dir: String,
    pub user_unit_dir: String,
    // systemd unit names (the same on whichever host runs them).
    pub tunnel_unit: String,
    pub jupyter_unit: String,
    pub fetch_unit: String,
    pub fetch_timer: String,
    pub ngrok_unit: String,
}

impl Layout {
    pub fn new(p: &Profile) -> Layout {
        let name = p.name.as_str();
        let account = p.tunnel.account.as_str();
        let user = p.workstation.user.as_str();
        let home = match &p.workstation.home {
            Some(home) => home.to_string(),
            None if user == "root" => "/root".to_string(),
            None => format!("/home/{user}"),
        };
        let tunnel_home = format!("/var/lib/{account}");
        // Only methods with a domain have Let's Encrypt paths; the others never read these.
        let live = format!(
            "/etc/letsencrypt/live/{}",
            p.domain.as_ref().map_or("", |d| d.as_str())
        );
        let tls_dir = format!("{home}/.local/share/jprov/{name}");
        let cert_account = CERTIFICATE_ACCOUNT.to_string();
        let self_signed_dir = format!("/etc/jprov/tls/{name}");
        Layout {
            profile: name.to_string(),
            sshd_dropin: format!("/etc/ssh/sshd_config.d/01-jprov-{name}.conf"),
            tunnel_authorized_keys: format!("/etc/ssh/jprov/{account}.keys"),
            server_tunnel_key: format!("{tunnel_home}/.ssh/id_ed25519"),
            server_known_hosts: format!("{tunnel_home}/.ssh/known_hosts"),
            server_tunnel_pid: format!("{tunnel_home}/jprov-{name}-tunnel.pid"),
            tunnel_home,
            nginx_available: format!("/etc/nginx/sites-available/jprov-{name}"),
            nginx_enabled: format!("/etc/nginx/sites-enabled/jprov-{name}"),
            nginx_htpasswd: format!("/etc/nginx/jprov-{name}.htpasswd"),
            // Not under /var/lib/jprov: that is root-only (0700, it holds backups), and nginx's workers
            // (www-data) must be able to read the challenge files certbot puts here.
            acme_webroot: format!("/var/lib/jprov-acme/{name}"),
            letsencrypt_fullchain: format!("{live}/fullchain.pem"),
            letsencrypt_privkey: format!("{live}/privkey.pem"),
            deploy_hook: format!("/etc/letsencrypt/renewal-hooks/deploy/jprov-{name}"),
            cert_authorized_keys: format!("/etc/ssh/jprov/{cert_account}.keys"),
            cert_bundle: format!("/var/lib/{cert_account}/{name}/bundle.pem"),
            cert_account,
            self_signed_fullchain: format!("{self_signed_dir}/fullchain.pem"),
            self_signed_privkey: format!("{self_signed_dir}/privkey.pem"),
            self_signed_dir,
            jupyter_config: format!("{home}/.jupyter/jupyter_server_config.py"),
            workstation_tunnel_key: format!("{home}/.ssh/jprov-{name}-tunnel"),
            workstation_known_hosts: format!("{home}/.ssh/jprov-{name}-known_hosts"),
            workstation_authorized_keys: format!("{home}/.ssh/authorized_keys"),
            workstation_tunnel_pid: format!("{home}/.local/state/jprov/{name}-tunnel.pid"),
            workstation_fullchain: format!("{tls_dir}/fullchain.pem"),
            workstation_privkey: format!("{tls_dir}/privkey.pem"),
            workstation_cert_key: format!("{home}/.ssh/jprov-{name}-certificate"),
            fetch_script: format!("{tls_dir}/fetch-certificate"),
            ngrok_config: format!("{tls_dir}/ngrok.yml"),
            ngrok_assemble: format!("{tls_dir}/assemble-ngrok-config"),
            ngrok_runtime_dir: format!("jprov-{name}-ngrok"),
            user_unit_dir: format!("{home}/.config/systemd/user"),
            tunnel_unit: format!("jprov-{name}-tunnel.service"),
            jupyter_unit: format!("jprov-{name}-jupyter.service"),
            fetch_unit: format!("jprov-{name}-certificate.service"),
            fetch_timer: format!("jprov-{name}-certificate.timer"),
            ngrok_unit: format!("jprov-{name}-ngrok.service"),
            workstation_tls_dir: tls_dir,
            home,
        }
    }

    /// The certificate and key files the TLS-terminating process reads; `None` without TLS.
    pub fn tls_files(&self, p: &Profile) -> Option<(String, String)> {
        let on_the_server = match p.method {
            Method::NginxProxy => true,
            Method::ReverseForward | Method::Lan => false,
            Method::LocalForward | Method::Ngrok => return None,
        };
        Some(match (p.tls.as_ref()?, on_the_server) {
            (Tls::Files { cert, key }, _) => (cert.to_string(), key.to_string()),
            (Tls::Letsencrypt { .. }, true) => (
                self.letsencrypt_fullchain.clone(),
                self.letsencrypt_privkey.clone(),
            ),
            (Tls::SelfSigned { .. }, true) => (
                self.self_signed_fullchain.clone(),
                self.self_signed_privkey.clone(),
            ),
            (Tls::Letsencrypt { .. } | Tls::SelfSigned { .. }, false) => (
                self.workstation_fullchain.clone(),
                self.workstation_privkey.clone(),
            ),
        })
    }

    /// The certificate account's home: the directory holding every profile's bundle.
    pub fn cert_bundle_home(&self) -> String {
        format!("/var/lib/{}", self.cert_account)
    }

    /// Where the system's unit file `unit` lives (the server's units).
    pub fn system_unit(&self, unit: &str) -> String {
        format!("/etc/systemd/system/{unit}")
    }

    /// Where the workstation user's unit file `unit` lives.
    pub fn user_unit(&self, unit: &str) -> String {
        format!("{}/{unit}", self.user_unit_dir)
    }

    /// The `HostKeyAlias` a tunnel uses, so its pinned known_hosts file does not depend on how the peer's
    /// address is spelled.
    pub fn host_key_alias(&self, peer: &str) -> String {
        format!("jprov-{}-{peer}", self.profile)
    }
}

/// The address the tunnel's opener uses to reach its peer: the server's for a tunnel the workstation
/// opens, the workstation's otherwise.
pub fn peer_address(p: &Profile, peer_is_server: bool) -> (String, u16) {
    let named = p.tunnel.peer_address.as_ref().map(|h| h.to_string());
    if peer_is_server {
        let host = named.unwrap_or_else(|| p.server().host.to_string());
        return (host, p.server().ssh_port());
    }
    match &p.workstation.host {
        WorkstationHost::Remote(h) => (
            named.unwrap_or_else(|| h.to_string()),
            p.workstation.ssh_port(),
        ),
        // Rejected by profile validation; kept total for safety.
        WorkstationHost::Local => ("localhost".into(), p.workstation.ssh_port()),
    }
}
