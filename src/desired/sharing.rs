//! What to tell collaborators, in the `Reach` steps every method's `reach()` ends with, so that plan and
//! apply print it from one place: the fingerprint of a self-signed certificate, and which credential goes
//! through which channel (the Jupyter password by one long-lived channel, the URL and a basic-auth account
//! by another, so that no single message lets anyone in).

use super::builder::Builder;
use super::certificates::fingerprint;
use super::*;

/// What goes by the second channel besides the Jupyter password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shared {
    /// The URL.
    Url,
    /// The URL and each person's basic-auth account (nginx-proxy's `access.basic_auth`,
    /// `ngrok.basic_auth_file`).
    UrlAndBasicAuth,
    /// local-forward: the laptop's forward (its URL is the laptop's own localhost).
    Forward,
}

impl Builder<'_> {
    /// The fingerprint step of a self-signed certificate (none for other certificates), then the channels.
    pub(super) fn sharing_steps(&self, shared: Shared) -> Vec<String> {
        let mut steps = Vec::from_iter(self.self_signed_step());
        steps.push(channels_step(shared));
        steps
    }

    /// What collaborators compare before they trust a self-signed certificate: its SHA-256 fingerprint,
    /// once the host that terminates TLS has it.
    pub(super) fn self_signed_step(&self) -> Option<String> {
        let (Some(Tls::SelfSigned { .. }), Some(tls)) = (&self.p.tls, &self.tls) else {
            return None;
        };
        let (fullchain, _) = self.l.tls_files(self.p)?;
        Some(match self.facts.read(tls.role, &fullchain).and_then(fingerprint) {
            Some(fingerprint) => format!(
                "the certificate is self-signed: tell collaborators its SHA-256 fingerprint, to compare with \
                 what their browser shows before they trust it: {fingerprint}"
            ),
            None => "the certificate is self-signed and made during apply: apply prints its SHA-256 \
                     fingerprint, for collaborators to compare before they trust it"
                .to_string(),
        })
    }
}

/// Which credential goes through which channel.
pub(super) fn channels_step(shared: Shared) -> String {
    let second = match shared {
        Shared::Url => "the URL",
        Shared::UrlAndBasicAuth => "the URL and their basic-auth account",
        Shared::Forward => "the forward's command",
    };
    format!(
        "tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
         manager) and {second} by another (mail, chat), so no one message lets anyone in"
    )
}
