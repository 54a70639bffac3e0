//! The security layers of the desired state that are not a method's own: cookies that never travel without
//! TLS.

use crate::profile::Method;

/// Whether browsers reach Jupyter over TLS with `method`, so that its cookies are to be `Secure` (sent
/// over https only). No `_` arm: a new method decides.
pub(super) fn browsers_use_tls(method: Method) -> bool {
    match method {
        // Jupyter serves TLS itself.
        Method::ReverseForward => true,
        // nginx terminates TLS; Jupyter behind it is plain http on loopback.
        Method::NginxProxy => true,
    }
}

#[cfg(test)]
mod tests;
