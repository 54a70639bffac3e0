//! The security layers a profile has, each with what it stops: what `jprov check` prints after its
//! findings, so a reader sees what stands between the internet and a shell on the workstation.

use super::PinnedHosts;
use crate::profile::{LoadedProfile, Method, Profile, Tls};
use serde::Serialize;
use std::fmt;

/// Whether a profile has a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Yes,
    No,
    /// jprov cannot tell offline (a certificate of the user's own: which CA issued it).
    Unknown,
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Presence::Yes => "yes",
            Presence::No => "no",
            Presence::Unknown => "unknown",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub layer: &'static str,
    pub present: Presence,
    /// How the profile has it, or why not.
    pub detail: String,
    pub protects_against: &'static str,
}

fn layer(
    layer: &'static str,
    present: Presence,
    detail: impl Into<String>,
    protects_against: &'static str,
) -> Layer {
    Layer {
        layer,
        present,
        detail: detail.into(),
        protects_against,
    }
}

pub(super) fn of(lp: &LoadedProfile, pinned: &PinnedHosts) -> Vec<Layer> {
    let p = &lp.profile;
    vec![
        password(p),
        tls(p),
        public_tls(p),
        basic_auth(p),
        allow_list(p),
        obscurity(p),
        pinned_host_keys(pinned),
    ]
}

fn password(p: &Profile) -> Layer {
    let others = p.jupyter.collaborators.len();
    let detail = match others {
        0 => format!("the owner's ({})", p.workstation.user),
        1 => format!(
            "the owner's ({}) and one collaborator's own",
            p.workstation.user
        ),
        n => format!(
            "the owner's ({}) and {n} collaborators' own",
            p.workstation.user
        ),
    };
    layer(
        "password",
        Presence::Yes,
        detail,
        "anyone who reaches Jupyter without a password, other accounts on the workstation included",
    )
}

fn tls(p: &Profile) -> Layer {
    let (present, detail) = match p.method {
        Method::ReverseForward => (Presence::Yes, "Jupyter on the workstation serves it, through the tunnel"),
        Method::NginxProxy => (Presence::Yes, "nginx on the server terminates it"),
        Method::Lan => (Presence::Yes, "Jupyter on the workstation serves it"),
        Method::Ngrok => (Presence::Yes, "ngrok's edge terminates it"),
        Method::LocalForward => (
            Presence::No,
            "none: Jupyter is plain http on the workstation's loopback, and the laptop's ssh -L encrypts",
        ),
    };
    layer(
        "TLS",
        present,
        detail,
        "anyone on the way reading or changing the traffic: passwords, cookies, notebooks",
    )
}

fn public_tls(p: &Profile) -> Layer {
    let (present, detail) = match (&p.tls, p.method) {
        (_, Method::Ngrok) => (Presence::Yes, "ngrok's certificate for the domain"),
        (_, Method::LocalForward) => (Presence::No, "no certificate: ssh's host key is the check"),
        (Some(Tls::Letsencrypt { server: None, .. }), _) => {
            (Presence::Yes, "Let's Encrypt, a CA every browser trusts")
        }
        (
            Some(Tls::Letsencrypt {
                server: Some(_), ..
            }),
            _,
        ) => (
            Presence::Unknown,
            "an ACME CA of tls.letsencrypt.server: public only if browsers trust it",
        ),
        (Some(Tls::SelfSigned { .. }), _) => (
            Presence::No,
            "self-signed: each browser trusts it once, after comparing its fingerprint",
        ),
        (Some(Tls::Files { .. }), _) => (
            Presence::Unknown,
            "your certificate (tls.files): public only if a CA browsers trust issued it",
        ),
        (None, _) => (Presence::No, "no certificate"),
    };
    layer(
        "public TLS",
        present,
        detail,
        "a server impersonating yours, without anyone having to compare a fingerprint",
    )
}

fn basic_auth(p: &Profile) -> Layer {
    let ngrok_file = p.ngrok.as_ref().and_then(|n| n.basic_auth_file.as_ref());
    let (present, detail) = match (p.access.accounts().len(), ngrok_file) {
        (0, Some(file)) => (
            Presence::Yes,
            format!("ngrok's edge checks the accounts in {file} (on the workstation)"),
        ),
        (0, None) => (Presence::No, "none".to_string()),
        (n, _) => (Presence::Yes, format!("nginx checks {n} account(s)")),
    };
    layer(
        "basic auth",
        present,
        detail,
        "everyone without an account, before Jupyter's own code sees a request",
    )
}

fn allow_list(p: &Profile) -> Layer {
    let (present, detail) = match p.access.allowed().len() {
        0 => (Presence::No, "none: every address may connect".to_string()),
        n => (Presence::Yes, format!("{n} address(es) or network(s)")),
    };
    layer(
        "IP allow-list",
        present,
        detail,
        "everyone outside those networks: they get 403 before anything reaches Jupyter",
    )
}

fn obscurity(p: &Profile) -> Layer {
    let (present, detail) = match p.jupyter.base_url.as_str() {
        "/" => (Presence::No, "base_url is /"),
        _ => (Presence::Yes, "a base_url other than / (not shown here)"),
    };
    layer(
        "obscurity",
        present,
        detail,
        "casual scanners of /, nothing more: every link, bookmark and Referer carries the URL",
    )
}

fn pinned_host_keys(pinned: &PinnedHosts) -> Layer {
    let file = pinned.path.display();
    let missing: Vec<&str> = (pinned.hosts.iter())
        .filter(|(_, known)| !known)
        .map(|(name, _)| name.as_str())
        .collect();
    let (present, detail) = match (pinned.exists, missing.is_empty()) {
        _ if pinned.hosts.is_empty() => (Presence::No, "no host to connect to".to_string()),
        (true, true) => (Presence::Yes, format!("{file} pins every host")),
        (true, false) => (
            Presence::No,
            format!("{file} pins no key for {}", missing.join(", ")),
        ),
        (false, _) => (Presence::No, format!("{file} does not exist")),
    };
    layer(
        "pinned host keys",
        present,
        detail,
        "a man in the middle on jprov's SSH connections and on the tunnel's, which pins the key jprov \
         verified",
    )
}
