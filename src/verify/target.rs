//! What a profile promises to someone outside: the URL people open, and what must hold there (which
//! layers stand in front of Jupyter, whether nginx sends HSTS, which of the workstation's ports must stay
//! closed). Derived from the profile and its desired state's `Reach` alone; pure, no network.

use crate::layout::Layout;
use crate::profile::{Method, Profile, WorkstationHost};

/// How long a probe of a port that must stay closed may wait for an answer.
pub const CLOSED_PORT_TIMEOUT_SECONDS: u64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

/// The URL, split into what a client dials and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub text: String,
    pub scheme: Scheme,
    /// The host as dialled: a DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Jupyter's base URL: starts and ends with `/`.
    pub base: String,
}

impl Url {
    /// `scheme://host[:port]/base/`, as `desired::builder::url` writes it.
    pub fn parse(text: &str) -> Result<Url, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("https", rest)) => (Scheme::Https, rest),
            Some(("http", rest)) => (Scheme::Http, rest),
            _ => return Err(format!("{text}: not an http(s) URL")),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or(format!("{text}: unclosed ["))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(port) => port.parse().map_err(|_| format!("{text}: bad port"))?,
            None if scheme == Scheme::Https => 443,
            None => 80,
        };
        let base = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        if host.is_empty() {
            return Err(format!("{text}: no host"));
        }
        Ok(Url {
            text: text.to_string(),
            scheme,
            host: host.to_string(),
            port,
            base,
        })
    }

    /// `host[:port]` as a Host header or an Origin names it (the port only when not the scheme's own).
    pub fn authority(&self) -> String {
        authority(&self.host, self.port, self.scheme)
    }

    /// `scheme://host[:port]`, what a browser sends as `Origin`.
    pub fn origin(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        format!("{scheme}://{}", self.authority())
    }
}

/// `host[:port]`, IPv6 addresses in brackets, the port left out when it is the scheme's default.
pub fn authority(host: &str, port: u16, scheme: Scheme) -> String {
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_string(),
    };
    match (scheme, port) {
        (Scheme::Https, 443) | (Scheme::Http, 80) => host,
        _ => format!("{host}:{port}"),
    }
}

/// A port that must not answer from where verify runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedPort {
    /// The check's name.
    pub check: &'static str,
    /// What listens there on the workstation, for the report.
    pub what: String,
    pub host: String,
    pub port: u16,
}

/// Everything verify checks for one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub profile: String,
    pub method: Method,
    pub url: Url,
    /// nginx-proxy's site sends `Strict-Transport-Security` (templates/nginx_site.conf.j2).
    pub hsts: bool,
    /// HTTP basic auth stands in front of Jupyter (nginx-proxy's `access.basic_auth`, ngrok's
    /// `ngrok.basic_auth_file`).
    pub basic_auth: bool,
    /// The `access.allow` list, for the reason when the server answers 403 to this machine.
    pub allow_list: bool,
    /// Ports where plain http must be redirected to https or closed (https URLs only).
    pub plain_http_ports: Vec<u16>,
    /// reverse-forward: the workstation's SSH and Jupyter ports, which only the tunnel may reach.
    pub closed: Vec<ClosedPort>,
    /// Jupyter's login and _xsrf cookies carry `Secure` (every method whose browsers use TLS).
    pub secure_cookies: bool,
    /// What to do when nothing answers at the URL, one sentence.
    pub down_fix: String,
}

impl Target {
    /// The target of profile `p`, whose desired state says browsers open `url`.
    pub fn of(p: &Profile, url: &str) -> Result<Target, String> {
        let url = Url::parse(url)?;
        let https = url.scheme == Scheme::Https;
        Ok(Target {
            profile: p.name.to_string(),
            method: p.method,
            hsts: p.method == Method::NginxProxy,
            basic_auth: basic_auth(p),
            allow_list: p.access.allow.is_some(),
            plain_http_ports: if https {
                plain_http_ports(p, url.port)
            } else {
                vec![]
            },
            closed: closed_ports(p),
            secure_cookies: https,
            down_fix: down_fix(p),
            url,
        })
    }
}

fn basic_auth(p: &Profile) -> bool {
    match p.method {
        Method::NginxProxy => p.access.basic_auth.is_some(),
        Method::Ngrok => p
            .ngrok
            .as_ref()
            .is_some_and(|n| n.basic_auth_file.is_some()),
        Method::ReverseForward | Method::LocalForward | Method::Lan => false,
    }
}

/// Port 80 (nginx-proxy: `nginx.http_port`), where cookies without `Secure` would travel in clear text
/// (cookies have no port), and the URL's own port (other than 443) spoken in plain http.
fn plain_http_ports(p: &Profile, tls_port: u16) -> Vec<u16> {
    let http = match (p.method, &p.nginx) {
        (Method::NginxProxy, Some(nginx)) => nginx.http_port.get(),
        _ => 80,
    };
    let mut ports = vec![http];
    // On 443 nobody types http://; on another port people may, and nothing there may answer in plain.
    if tls_port != http && tls_port != 443 {
        ports.push(tls_port);
    }
    ports
}

/// reverse-forward: Jupyter listens on the workstation's loopback and the workstation needs no incoming
/// SSH; from a laptop outside, neither port may answer.
fn closed_ports(p: &Profile) -> Vec<ClosedPort> {
    let (Method::ReverseForward, WorkstationHost::Remote(host)) = (p.method, &p.workstation.host)
    else {
        return vec![];
    };
    let ssh = p.workstation.port.map_or(22, |port| port.get());
    vec![
        ClosedPort {
            check: "workstation-ssh-closed",
            what: "the workstation's SSH".into(),
            host: host.to_string(),
            port: ssh,
        },
        ClosedPort {
            check: "workstation-jupyter-closed",
            what: "Jupyter's own port on the workstation".into(),
            host: host.to_string(),
            port: p.jupyter.port.get(),
        },
    ]
}

fn down_fix(p: &Profile) -> String {
    let l = Layout::new(p);
    let user = &p.workstation.user;
    match p.method {
        Method::ReverseForward => format!(
            "on the workstation, as {user}: `systemctl --user status {} {}` (the tunnel and Jupyter); \
             `jprov plan PROFILE` shows what is not as it should be",
            l.tunnel_unit, l.jupyter_unit
        ),
        Method::NginxProxy => format!(
            "on the server: `systemctl status nginx {}`; on the workstation, as {user}: `systemctl --user \
             status {}`; `jprov plan PROFILE` shows what is not as it should be",
            l.tunnel_unit, l.jupyter_unit
        ),
        Method::LocalForward => "nothing listens there: the laptop's forward is not up; start it with \
                                 `jprov tunnel PROFILE` (or the ssh -L command `jprov plan` prints)"
            .to_string(),
        Method::Lan => format!(
            "on the workstation, as {user}: `systemctl --user status {}`; its firewall must let this \
             machine reach the port",
            l.jupyter_unit
        ),
        Method::Ngrok => format!(
            "on the workstation, as {user}: `systemctl --user status {} {}` (the agent and Jupyter), and \
             `journalctl --user -u {}`",
            l.ngrok_unit, l.jupyter_unit, l.ngrok_unit
        ),
    }
}

#[cfg(test)]
mod tests;
