//! Every check, in the order they depend on each other: the name, the connection and TLS first; the
//! requests only over a connection TLS admitted; a check that cannot run for an earlier failure is
//! reported skipped, never passed.

mod jupyter;
mod transport;

use super::credentials::Credentials;
use super::http::Endpoint;
use super::report::{Check, Status};
use super::target::Target;
use super::tls;

/// The checks of `target`, with `tls` (https URLs) and the credentials.
pub fn all(target: &Target, tls: Option<tls::Client>, credentials: &Credentials) -> Vec<Check> {
    let mut checks = vec![];
    let reached = reach(target, tls.as_ref(), &mut checks);
    if let Some(addresses) = reached {
        let endpoint = Endpoint {
            url: target.url.clone(),
            addresses,
            tls,
        };
        jupyter::all(target, &endpoint, credentials, &mut checks);
    }
    // The ports that must stay closed, whatever happened at the URL.
    transport::closed(target, &mut checks);
    skip_the_rest(target, &mut checks);
    checks
}

/// The name, the connection and TLS; the addresses when requests may go there.
fn reach(
    target: &Target,
    tls: Option<&tls::Client>,
    checks: &mut Vec<Check>,
) -> Option<Vec<std::net::SocketAddr>> {
    let addresses = transport::resolve(target, checks)?;
    let reached = transport::connect(target, &addresses, checks);
    let acceptable = match (reached, tls) {
        (Some(tcp), Some(client)) => transport::tls(target, client, tcp, checks),
        (Some(_), None) => transport::plain_localhost(target, checks),
        (None, _) => false,
    };
    transport::plain_http(target, &addresses, checks);
    acceptable.then_some(addresses)
}

/// Every check of `jupyter::names` not made, as skipped, naming the failure that stopped them.
fn skip_the_rest(target: &Target, checks: &mut Vec<Check>) {
    let at = (checks.iter())
        .position(|c| c.name.starts_with("workstation-"))
        .unwrap_or(checks.len());
    let failed = (checks[..at].iter())
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name)
        .next_back()
        .unwrap_or("an earlier check");
    let reason = format!("skipped: `{failed}` failed first");
    let missing: Vec<Check> = (jupyter::names(target).into_iter())
        .filter(|name| !checks.iter().any(|c| c.name == *name))
        .map(|name| Check::skip(name, reason.clone()))
        .collect();
    checks.splice(at..at, missing);
}
