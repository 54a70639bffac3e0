//! Methods: how the browser reaches Jupyter. Each method is one file under `methods/` implementing
//! `Method`: which hosts it configures, where TLS ends, its tunnel, and each host's state. `desired::build`
//! picks the implementation once (`of`) and calls only this interface; what every method shares is in
//! `builder.rs`, `services.rs` and `certificates.rs`.

use super::builder::Builder;
pub(super) use super::tls_end::TlsEnd;
use super::*;

mod lan;
mod local_forward;
mod nginx_proxy;
mod ngrok;
mod reverse_forward;

#[cfg(test)]
pub(super) use ngrok::CREDENTIALS_MARKER;

/// One way from the browser to Jupyter.
pub(super) trait Method: Sync {
    /// The hosts jprov configures for it, in the order plans list them: the workstation always, after the
    /// server when the method has one.
    fn roles(&self) -> &'static [Role];

    /// Where TLS ends, if jprov's hosts end it: where a certificate jprov makes is made, and what serves it.
    fn tls_end(&self, p: &Profile, l: &Layout) -> Option<TlsEnd>;

    /// The tunnel between the hosts, as the host that opens it runs it, if the method has one.
    fn tunnel(&self, b: &Builder) -> Option<Tunnel>;

    /// What one of its hosts (`role`, one of `roles`) needs: items in order, sshd's intent, notes, problems.
    fn host(&self, b: &Builder, role: Role) -> Result<HostState, RenderError>;

    /// How people reach Jupyter, for plan and apply to tell them.
    fn reach(&self, b: &Builder) -> Reach;
}

/// The implementation of the profile's method.
pub(super) fn of(method: crate::profile::Method) -> &'static dyn Method {
    match method {
        crate::profile::Method::ReverseForward => &reverse_forward::ReverseForward,
        crate::profile::Method::NginxProxy => &nginx_proxy::NginxProxy,
        crate::profile::Method::LocalForward => &local_forward::LocalForward,
        crate::profile::Method::Lan => &lan::Lan,
        crate::profile::Method::Ngrok => &ngrok::Ngrok,
    }
}
