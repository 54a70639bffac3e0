//! `jprov verify PROFILE`: from where a collaborator stands, with no access to the hosts, check that the
//! URL the profile exposes works and is locked: the name, TLS (trust, name, expiry, protocol, HSTS, plain
//! http), the layers in front of Jupyter, a login, its cookie, a kernel running code over its websocket,
//! and (reverse-forward) that the workstation's own ports do not answer.
//!
//! Part of the imperative shell: it does network I/O, but only to the URL and the ports the profile
//! names, never over SSH. It uses the core (the profile, the desired state's `Reach`) and nothing of
//! `host/`; the core uses nothing of it (tests/architecture.rs keeps both).

mod checks;
pub mod credentials;
mod http;
pub mod report;
pub mod target;
pub mod tls;
mod websocket;

use crate::desired::{self, Options, World};
use crate::profile::LoadedProfile;
use crate::render::Templates;
use report::Report;
use target::{Scheme, Target};

/// What `jprov verify` was told on its command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `None`: the system's roots.
    pub trust: Option<tls::Trust>,
    pub credentials: credentials::Sources,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{0}")]
    Setup(String),
}

/// Every check for the profile; credentials are read (or asked for) before anything is sent.
pub fn run(
    lp: &LoadedProfile,
    templates: &Templates,
    settings: &Settings,
) -> Result<Report, VerifyError> {
    let p = &lp.profile;
    let desired = desired::build(p, World::default(), templates, Options::default())?;
    let target = Target::of(p, &desired.reach.url).map_err(VerifyError::Setup)?;
    let tls = match (target.url.scheme, &settings.trust) {
        (Scheme::Https, trust) => {
            let trust = trust.clone().unwrap_or(tls::Trust::System);
            Some(tls::Client::new(trust).map_err(VerifyError::Setup)?)
        }
        (Scheme::Http, None) => None,
        (Scheme::Http, Some(_)) => {
            return Err(VerifyError::Setup(format!(
                "{} is plain http (the laptop's end of the ssh forward): there is no certificate to trust, \
                 leave out --ca-file and --fingerprint",
                target.url.text
            )))
        }
    };
    let credentials =
        credentials::read(&settings.credentials, target.basic_auth).map_err(VerifyError::Setup)?;
    let checks = checks::all(&target, tls, &credentials);
    Ok(Report::new(
        &target.profile,
        &target.method.to_string(),
        &target.url.text,
        checks,
    ))
}
