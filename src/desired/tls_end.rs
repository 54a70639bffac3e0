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
