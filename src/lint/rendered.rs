//! What the rendered files would do: the desired state as apply leaves it (certificates made, so nginx's
//! TLS server block is rendered too), from the templates plan uses, JPROV_TEMPLATE_DIR's overrides
//! included. A template that enables TLS 1.0/1.1 or SSL, turns Jupyter's password off, or loses TLS on a
//! method reachable from the internet is an error. Also how exposed the method itself is.

use super::{at_field, Finding, Severity};
use crate::desired::{self, Options};
use crate::facts::Facts;
use crate::layout::Layout;
use crate::profile::{Method, Profile};
use crate::render::{RenderError, Templates, TEMPLATE_DIR_ENV};
use crate::resource::{Content, Item, PerRole, Role};

/// A file as apply would write it: the host, its path there, its content.
struct Rendered {
    role: Role,
    path: String,
    text: String,
}

impl Rendered {
    fn shown(&self) -> String {
        format!("{}:{}", self.role, self.path)
    }

    /// A finding at a line of this file.
    fn finding(&self, code: &'static str, line: Option<usize>, finding: String) -> Finding {
        Finding {
            severity: Severity::Error,
            code,
            file: Some(self.shown()),
            line,
            field: None,
            finding,
            risk: String::new(),
            fix: String::new(),
        }
    }
}

/// Who encrypts the way from the browser to Jupyter, by method.
enum TlsDuty {
    /// Jupyter serves TLS itself: its config must name the certificate.
    Jupyter,
    /// nginx on the server terminates TLS: its site must serve it.
    Nginx,
    /// ngrok's edge terminates TLS with ngrok's own certificate; the profile cannot turn it off (it
    /// refuses `tls:` for ngrok), and no template of jprov's takes part: nothing here can find TLS off.
    NgrokEdge,
    /// Jupyter serves plain http on the workstation's loopback, reached only through the laptop's own
    /// `ssh -L`, which encrypts: nothing is reachable from the internet without SSH, so no TLS is due.
    SshForward,
}

fn tls_duty(method: Method) -> TlsDuty {
    // The profile requires `tls:` of both server methods and gives lan `self_signed` by default, so TLS
    // can only be lost in what the templates render.
    match method {
        Method::ReverseForward | Method::Lan => TlsDuty::Jupyter,
        Method::NginxProxy => TlsDuty::Nginx,
        Method::Ngrok => TlsDuty::NgrokEdge,
        Method::LocalForward => TlsDuty::SshForward,
    }
}

pub(super) fn findings(p: &Profile, templates: &Templates) -> Result<Vec<Finding>, RenderError> {
    let files = applied_files(p, templates)?;
    let l = Layout::new(p);
    let find = |path: &str| files.iter().find(|f| f.path == path);
    let mut found = Vec::from_iter(overrides());
    let config = find(&l.jupyter_config);
    if let Some(config) = config {
        found.extend(jupyter_password(config));
        found.extend(jupyter_old_protocols(config));
    }
    let site = find(&l.nginx_available);
    if let Some(site) = site {
        found.extend(nginx_old_protocols(site));
    }
    let tls_lost = match tls_duty(p.method) {
        TlsDuty::Jupyter => config.filter(|c| setting(&c.text, "certfile").is_none()),
        TlsDuty::Nginx => site.filter(|s| !nginx_serves_tls(&s.text)),
        TlsDuty::NgrokEdge | TlsDuty::SshForward => None,
    };
    found.extend(tls_lost.map(|file| {
        file.finding(
            "tls-off",
            None,
            format!(
                "method {} is reached from the internet, and this file, as the templates render it, \
                 serves no TLS",
                p.method
            ),
        )
        .because(
            "passwords, cookies and notebooks cross the network in clear text, for anyone on the way to \
             read and change",
            format!("remove the template override ({TEMPLATE_DIR_ENV}), or put TLS back in it"),
        )
    }));
    Ok(found)
}

/// The hosts as apply leaves them, as far as rendering cares: systemd, and every certificate there.
fn applied_files(p: &Profile, templates: &Templates) -> Result<Vec<Rendered>, RenderError> {
    let facts: PerRole<Facts> = (desired::fact_queries(p, templates)?.into_entries())
        .map(|(role, query)| {
            let certificates = query.certificates.into_iter().map(|c| (c, true));
            let facts = Facts {
                systemd: true,
                certificates: certificates.collect(),
                ..Facts::default()
            };
            (role, facts)
        })
        .collect();
    let desired = desired::build(p, facts.as_ref(), templates, Options::default())?;
    let mut files = vec![];
    for (role, host) in desired.hosts.entries() {
        for item in &host.items {
            let Item::Files(group) = item else { continue };
            for file in &group.files {
                if let Content::Known(text) = &file.content {
                    files.push(Rendered {
                        role,
                        path: file.path.clone(),
                        text: text.clone(),
                    });
                }
            }
        }
    }
    Ok(files)
}

/// Which templates JPROV_TEMPLATE_DIR replaces: plan and apply would render those.
fn overrides() -> Option<Finding> {
    let dir = std::env::var_os(TEMPLATE_DIR_ENV)?;
    let dir = std::path::PathBuf::from(dir);
    let mut names: Vec<String> = (std::fs::read_dir(&dir).ok()?.flatten())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".j2"))
        .collect();
    names.sort();
    Some(Finding {
        severity: Severity::Info,
        code: "template-override",
        file: Some(dir.display().to_string()),
        line: None,
        field: None,
        finding: format!(
            "{TEMPLATE_DIR_ENV} replaces jprov's templates with these: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ),
        risk: "plan and apply write what these render, which jprov's tests never saw".into(),
        fix: format!("unset {TEMPLATE_DIR_ENV} outside tests and debugging"),
    })
}

/// Python settings `c.Class.NAME = VALUE`, comments aside: (line, NAME, VALUE) of each.
fn settings(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix("c.")?;
        let (target, value) = rest.split_once('=')?;
        let name = target.trim().rsplit('.').next()?;
        let value = value.split(" #").next().unwrap_or(value).trim();
        Some((i + 1, name, value))
    })
}

/// The last value the config gives `name` (Python: the last assignment wins).
fn setting<'t>(text: &'t str, name: &str) -> Option<(usize, &'t str)> {
    settings(text)
        .filter(|(_, n, _)| *n == name)
        .map(|(line, _, value)| (line, value))
        .last()
        .filter(|(_, value)| !is_empty_string(value))
}

fn is_empty_string(value: &str) -> bool {
    matches!(value, "''" | "\"\"" | "u''" | "None")
}

/// The password turned off: not required, no hash, or a token that logs in without it.
fn jupyter_password(config: &Rendered) -> Vec<Finding> {
    let mut found = vec![];
    let off = |line, what: &str| {
        config
            .finding("password-off", line, format!("the Jupyter config {what}"))
            .because(
                "whoever reaches Jupyter runs code as the workstation user without knowing a password",
                format!(
                    "remove the template override ({TEMPLATE_DIR_ENV}), or keep jprov's password settings \
                     in it"
                ),
            )
    };
    for (line, name, value) in settings(&config.text) {
        if name == "password_required" && value == "False" {
            found.push(off(Some(line), "sets password_required = False"));
        }
        if name == "token" && !is_empty_string(value) {
            found.push(off(
                Some(line),
                "sets a token, which logs in without the password",
            ));
        }
    }
    let last_hash = (settings(&config.text))
        .filter(|(_, n, _)| *n == "hashed_password")
        .last();
    match last_hash {
        None => found.push(off(None, "sets no hashed_password")),
        Some((line, _, value)) if is_empty_string(value) => {
            found.push(off(Some(line), "sets an empty hashed_password"))
        }
        Some(_) => {}
    }
    found
}

/// Protocols older than TLS 1.2, by the names nginx and Python's ssl module give them.
const OLD_PROTOCOLS: &[&str] = &["SSLv2", "SSLv3", "TLSv1", "TLSv1.1"];
const OLD_PYTHON_PROTOCOLS: &[&str] = &[
    "PROTOCOL_SSLv2",
    "PROTOCOL_SSLv3",
    "PROTOCOL_TLSv1",
    "PROTOCOL_TLSv1_1",
    "TLSVersion.SSLv3",
    "TLSVersion.TLSv1",
    "TLSVersion.TLSv1_1",
];

fn old_protocol_fix() -> String {
    format!(
        "remove the template override ({TEMPLATE_DIR_ENV}); jprov's templates allow TLS 1.2 and 1.3 only"
    )
}

const OLD_PROTOCOL_RISK: &str =
    "browsers made to fall back to them can have the traffic decrypted (POODLE, BEAST) and the password read";

/// nginx's `ssl_protocols` naming SSL or TLS before 1.2.
fn nginx_old_protocols(site: &Rendered) -> Vec<Finding> {
    (site.text.lines().enumerate())
        .filter_map(|(i, line)| {
            let directive = line.split('#').next()?.trim();
            let protocols = directive.strip_prefix("ssl_protocols")?;
            let old: Vec<&str> = (protocols.split(|c: char| c.is_whitespace() || c == ';'))
                .filter(|p| OLD_PROTOCOLS.contains(p))
                .collect();
            (!old.is_empty()).then(|| {
                site.finding(
                    "old-tls-protocol",
                    Some(i + 1),
                    format!("nginx's ssl_protocols enables {}", old.join(", ")),
                )
                .because(OLD_PROTOCOL_RISK, old_protocol_fix())
            })
        })
        .collect()
}

/// Jupyter's `ssl_options` asking Python's ssl module for an old protocol.
fn jupyter_old_protocols(config: &Rendered) -> Vec<Finding> {
    (settings(&config.text))
        .filter(|(_, name, _)| *name == "ssl_options")
        .filter_map(|(line, _, value)| {
            let old: Vec<&str> = (OLD_PYTHON_PROTOCOLS.iter().copied())
                .filter(|p| value.contains(p))
                .collect();
            (!old.is_empty()).then(|| {
                config
                    .finding(
                        "old-tls-protocol",
                        Some(line),
                        format!("Jupyter's ssl_options asks for {}", old.join(", ")),
                    )
                    .because(OLD_PROTOCOL_RISK, old_protocol_fix())
            })
        })
        .collect()
}

/// The site has a server block that listens with TLS and names its certificate.
fn nginx_serves_tls(site: &str) -> bool {
    let directives: Vec<&str> = (site.lines())
        .filter_map(|line| line.split('#').next())
        .map(str::trim)
        .collect();
    let listens_tls = (directives.iter()).any(|d| {
        d.starts_with("listen ")
            && d.split_whitespace()
                .any(|w| w.trim_end_matches(';') == "ssl")
    });
    listens_tls && directives.iter().any(|d| d.starts_with("ssl_certificate "))
}

/// lan on a public address is the internet's too, with no forwarding server in front.
pub(super) fn exposure_findings(p: &Profile, file: &str, source: &str) -> Vec<Finding> {
    let Some(lan) = &p.lan else { return vec![] };
    let Ok(address) = lan.address.as_str().parse::<std::net::IpAddr>() else {
        return vec![];
    };
    if !is_public(address) {
        return vec![];
    }
    vec![at_field(
        Severity::Warning,
        "public-lan-address",
        (file, source),
        "lan.address",
        "lan.address is a public address: Jupyter listens where the internet can reach it, with only the \
         workstation's firewall in front"
            .into(),
    )
    .because(
        "anyone on the internet can try passwords against Jupyter and probe it, unless the firewall keeps \
         them out",
        "use the workstation's address on the private network or VPN, or a method with a forwarding server \
         (nginx-proxy has an allow-list and basic auth)",
    )]
}

/// Not private, loopback, link-local, shared (CGNAT), documentation or unique-local.
fn is_public(address: std::net::IpAddr) -> bool {
    match address {
        std::net::IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            let shared = first == 100 && (64..128).contains(&second);
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_documentation()
                || a.is_unspecified()
                || shared)
        }
        std::net::IpAddr::V6(a) => {
            let first = a.segments()[0];
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            let documentation = first == 0x2001 && a.segments()[1] == 0x0db8;
            !(a.is_loopback() || a.is_unspecified() || unique_local || link_local || documentation)
        }
    }
}
