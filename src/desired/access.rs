//! The security layers of the desired state that are not a method's own: the htpasswd file and nginx's
//! `access` for a method that proxies through nginx, cookies that never travel without TLS, and the plan's
//! word on an obscure base_url.

use super::builder::{root_file, Builder};
use super::*;
use crate::profile::Method;

/// What an htpasswd line holds after its username (the hash): masked in plans like Jupyter's hashes. No
/// other line has a `:` (usernames cannot, the template's comments do not).
const HTPASSWD_SECRETS: &[&str] = &[":"];

/// nginx's htpasswd file for the profile's basic-auth accounts, root's and readable by nginx's workers
/// (group www-data, 0640) and nobody else. Also when the profile no longer asks for basic auth but an
/// earlier apply wrote the file: then it keeps no account (a comment says why) until destroy removes it,
/// so no hash outlives its profile entry on the server.
pub(super) fn htpasswd_file(b: &Builder) -> Result<Option<ManagedFile>, RenderError> {
    let (p, l) = (b.p, b.l);
    let accounts = p.access.accounts();
    // Asked whatever the profile says, so that the fact query gathers it even for a profile without
    // basic auth.
    let written = matches!(
        b.facts.file(Role::Server, &l.nginx_htpasswd),
        Some(fact) if *fact != FileFact::Missing
    );
    if accounts.is_empty() && !written {
        return Ok(None);
    }
    let accounts: Vec<_> = (accounts.iter())
        .map(|a| json!({"username": a.username, "hash": a.htpasswd_hash}))
        .collect();
    let text = b.templates.render(
        "nginx_htpasswd",
        json!({"profile": p.name, "accounts": accounts}),
    )?;
    let mut file = root_file(&l.nginx_htpasswd, Content::Known(text), 0o640);
    file.group = "www-data".into();
    file.secrecy = Secrecy::MaskAfter(HTPASSWD_SECRETS);
    Ok(Some(file))
}

/// What nginx's site enforces in front of Jupyter: the htpasswd file it checks (none without basic auth)
/// and the addresses it lets through (every one without an allow-list).
pub(super) fn nginx_access(b: &Builder) -> serde_json::Value {
    let (p, l) = (b.p, b.l);
    let basic_auth = !p.access.accounts().is_empty();
    json!({
        "htpasswd": basic_auth.then(|| l.nginx_htpasswd.clone()),
        "allow": p.access.allowed(),
    })
}

/// Whether browsers reach Jupyter over TLS with `method`, so that its cookies are to be `Secure` (sent
/// over https only). No `_` arm: a new method decides.
pub(super) fn browsers_use_tls(method: Method) -> bool {
    match method {
        // Jupyter serves TLS itself.
        Method::ReverseForward => true,
        // nginx terminates TLS; Jupyter behind it is plain http on loopback.
        Method::NginxProxy => true,
        // Jupyter serves TLS itself on the LAN address.
        Method::Lan => true,
        // http://localhost at the laptop's end of the ssh forward: a Secure cookie is not sent there by
        // every browser; the ssh connection encrypts.
        Method::LocalForward => false,
        // ngrok's edge terminates TLS for https://DOMAIN; plain http has no endpoint.
        Method::Ngrok => true,
    }
}

/// The plan's note, on the workstation (every method has it, and its Jupyter has the base_url), when the
/// base_url is not `/`.
pub(super) fn obscurity_note(p: &Profile) -> Option<String> {
    (!p.jupyter.base_url.is_root()).then(|| {
        "obscurity is not security: jupyter.base_url keeps out only those who do not know the URL, and \
         every link, bookmark, browser history and Referer carries it; the password (and basic auth or the \
         allow-list, where the method has them) keeps people out"
            .to_string()
    })
}

#[cfg(test)]
mod tests;
