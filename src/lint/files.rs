//! The files beside the profile, as git sees them: secrets in the ones it tracks, key and certificate files
//! it would commit, the key files the profile names, and whether the pinned known_hosts file pins the hosts.

use super::secrets::{self, Secret};
use super::{Finding, Git, InGit, SeenFile, Severity, Workspace};
use crate::profile::LoadedProfile;

pub(super) fn findings(lp: &LoadedProfile, workspace: &Workspace) -> Vec<Finding> {
    let mut found = Vec::from_iter(git_state(&workspace.git));
    let mut reported = vec![];
    for file in &workspace.files {
        let secrets = file.text.as_deref().map_or(vec![], secrets::scan);
        if file.tracked {
            found.extend(
                secrets
                    .iter()
                    .map(|&(line, kind)| tracked_secret(file, line, kind)),
            );
        }
        let holds_a_key = secrets.iter().any(|(_, kind)| *kind == Secret::PrivateKey);
        // A tracked key was reported line by line above; one git would commit is reported as a file.
        if let Some(kind) = key_file_kind(file, holds_a_key) {
            if !(file.tracked && holds_a_key) {
                found.push(committable(file, kind));
            }
            reported.push(file.path.clone());
        }
    }
    for identity in &workspace.identity_files {
        // git commits no file that is not there (yet).
        let committed = matches!(identity.in_git, InGit::Tracked | InGit::Untracked);
        if identity.exists && committed && !reported.contains(&identity.path) {
            found.push(identity_file(identity));
        }
    }
    found.extend(unpinned(lp, workspace));
    found
}

fn git_state(git: &Git) -> Option<Finding> {
    let why = match git {
        Git::WorkTree => return None,
        Git::NotAWorkTree => "the profile's directory is not in a git work tree".to_string(),
        Git::Unavailable(reason) => format!("git could not be run ({reason})"),
    };
    Some(Finding {
        severity: Severity::Info,
        code: "not-in-git",
        file: None,
        line: None,
        field: None,
        finding: format!("{why}: only the profile itself was scanned for secrets"),
        risk: "files beside the profile were not looked at".into(),
        fix: "run `jprov check` in the git work tree the profile is kept in".into(),
    })
}

fn tracked_secret(file: &SeenFile, line: usize, kind: Secret) -> Finding {
    Finding {
        severity: Severity::Error,
        code: "plaintext-secret",
        file: Some(file.path.display().to_string()),
        line: Some(line),
        field: None,
        finding: format!("a file git tracks beside the profile holds {}", kind.what()),
        risk: "everyone who can read the repository, its clones and its history has the secret".into(),
        fix: format!(
            "{}; then `git rm --cached` the file if it is a secret's own, add it to .gitignore, and know \
             that git's history keeps it until rewritten",
            kind.fix()
        ),
    }
}

/// What a file beside the profile is, by its name or content, if it is a key or certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyFile {
    /// A private key, or a secret jprov's methods keep in files (ngrok's authtoken and credentials).
    Secret,
    /// A certificate: public, but where certificates lie their keys end up.
    Certificate,
}

fn key_file_kind(file: &SeenFile, holds_a_key: bool) -> Option<KeyFile> {
    let name = file.path.file_name()?.to_str()?.to_ascii_lowercase();
    if holds_a_key {
        return Some(KeyFile::Secret);
    }
    if name.ends_with(".pub") || name == "known_hosts" {
        return None;
    }
    const SECRET_NAMES: &[&str] = &[
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
    ];
    const SECRET_ENDINGS: &[&str] = &[
        ".key",
        ".p12",
        ".pfx",
        ".ppk",
        ".jks",
        ".keystore",
        ".p8",
        ".htpasswd",
    ];
    const SECRET_WORDS: &[&str] = &["privkey", "authtoken", "basic-auth", "private"];
    let secret = SECRET_NAMES.contains(&name.as_str())
        || SECRET_ENDINGS.iter().any(|e| name.ends_with(e))
        || SECRET_WORDS.iter().any(|w| name.contains(w));
    if secret {
        return Some(KeyFile::Secret);
    }
    let certificate_name = [".pem", ".crt", ".cer", ".der"]
        .iter()
        .any(|e| name.ends_with(e));
    match (certificate_name, file.text.as_deref()) {
        // A PEM file that holds no private key (it was read): a certificate or chain.
        (true, Some(text))
            if text.contains("-----BEGIN CERTIFICATE-----") || !name.ends_with(".pem") =>
        {
            Some(KeyFile::Certificate)
        }
        // Unread (binary, large) or with nothing recognisable: possibly a key.
        (true, _) => Some(KeyFile::Secret),
        (false, _) => None,
    }
}

fn committable(file: &SeenFile, kind: KeyFile) -> Finding {
    let shown = file.path.display().to_string();
    let (severity, what, risk) = match kind {
        KeyFile::Secret => (
            Severity::Error,
            "a key or secret file",
            "its secret is one commit away from everyone who can read the repository",
        ),
        KeyFile::Certificate => (
            Severity::Warning,
            "a certificate file",
            "a certificate is public, but where certificates are committed their keys soon follow",
        ),
    };
    let state = match file.tracked {
        true => "git tracks it",
        false => "git would commit it: no .gitignore rule keeps it out",
    };
    Finding {
        severity,
        code: "key-file-not-ignored",
        file: Some(shown.clone()),
        line: None,
        field: None,
        finding: format!("{what} inside the git work tree, and {state}"),
        risk: risk.into(),
        fix: match file.tracked {
            true => format!(
                "`git rm --cached {shown}`, add it to .gitignore, and replace the secret: git's history \
                 keeps it"
            ),
            false => "add it to .gitignore (`jprov init` writes one that keeps keys, certificates and \
                      tokens out), or move it out of the work tree"
                .into(),
        },
    }
}

fn identity_file(identity: &super::IdentityFile) -> Finding {
    let shown = identity.path.display().to_string();
    Finding {
        severity: Severity::Error,
        code: "key-file-not-ignored",
        file: Some(shown.clone()),
        line: None,
        field: Some(identity.field.to_string()),
        finding: format!(
            "the private key {} names is inside the git work tree and not ignored{}",
            identity.field,
            if identity.in_git == InGit::Tracked { ": git tracks it" } else { "" }
        ),
        risk: "the key that logs in to the host is one commit away from everyone who can read the \
               repository"
            .into(),
        fix: format!(
            "add {shown} to .gitignore (if git tracks it, `git rm --cached` it and make a new key), or keep \
             the key in ~/.ssh"
        ),
    }
}

/// Hosts whose keys the profile's known_hosts does not pin (or no such file).
fn unpinned(lp: &LoadedProfile, workspace: &Workspace) -> Option<Finding> {
    let pinned = &workspace.known_hosts;
    let missing: Vec<&str> = (pinned.hosts.iter())
        .filter(|(_, known)| !known)
        .map(|(name, _)| name.as_str())
        .collect();
    // A profile whose every host is this machine connects to nothing.
    if pinned.hosts.is_empty() || (pinned.exists && missing.is_empty()) {
        return None;
    }
    let finding = match pinned.exists {
        false => "the pinned known_hosts file does not exist: no host key is pinned".to_string(),
        true => format!(
            "the pinned known_hosts file pins no key for {}",
            missing.join(", ")
        ),
    };
    Some(Finding {
        severity: Severity::Warning,
        code: "unpinned-host-keys",
        file: Some(pinned.path.display().to_string()),
        line: None,
        field: lp.profile.known_hosts.as_ref().map(|_| "known_hosts".to_string()),
        finding,
        risk: "the first connection trusts whatever key answers (--accept-new-host-keys) or fails; \
               without a pinned key in git, a man in the middle on that first connection goes unnoticed"
            .into(),
        fix: "run `jprov trust PROFILE`, compare the fingerprints it shows with the hosts' own, and commit \
              the file"
            .into(),
    })
}
