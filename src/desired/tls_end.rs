//! Where a method terminates TLS: what the builder, the certificates and the methods agree on.

use super::*;

/// Where a method terminates TLS, which decides where jprov makes a certificate and what reads it.
pub(in crate::desired) struct TlsEnd {
    /// The host whose TLS server (nginx, Jupyter) reads the certificate: a self-signed one is made there.
    pub(in crate::desired) role: Role,
    /// Where a self-signed certificate is generated (`Layout::tls_files` names its files in it).
    pub(in crate::desired) self_signed_dir: Directory,
    /// The service that must reload to serve a renewed certificate (nginx; Jupyter is a unit restarted
    /// through `Unit::restart_on`).
    pub(in crate::desired) reload: Option<Service>,
    /// Where certbot puts the ACME http-01 challenge for a web server on the server to serve; `None`:
    /// certbot answers it itself (`--standalone`).
    pub(in crate::desired) acme_webroot: Option<String>,
}

impl TlsEnd {
    /// Jupyter on the workstation serves TLS itself (reverse-forward, lan): a certificate jprov makes is
    /// made there, in the user's own 0700 directory, and nothing reloads for a new one (tornado reads the
    /// certificate for every new connection; a unit that must restart says so through `Unit::restart_on`).
    pub(in crate::desired) fn jupyter_on_the_workstation(p: &Profile, l: &Layout) -> TlsEnd {
        TlsEnd {
            role: Role::Workstation,
            self_signed_dir: Directory {
                path: l.workstation_tls_dir.clone(),
                mode: 0o700,
                owner: p.workstation.user.to_string(),
                group: String::new(),
            },
            reload: None,
            // No web server on the way: certbot, where there is one, answers the challenge itself.
            acme_webroot: None,
        }
    }
}
