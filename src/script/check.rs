//! The check script: the plan's candidate files staged in a scratch copy of the host's configuration and
//! checked by the real `sshd -t` / `nginx -t`, with sshd's effective settings (templates/check.sh.j2). The
//! live files are not touched.

use super::{assemble, Root, ScriptError};
use crate::plan::{Change, Removal};
use crate::render::Templates;
use crate::resource::{Content, Validation};
use serde_json::{json, Value};

/// A check script, and whether it stages sshd's files (then its report holds sshd's effective settings).
pub struct CheckScript {
    pub text: String,
    pub staged_sshd: bool,
}

/// The script validating the candidates of `changes`; `None` when no change has a file to validate.
/// `sshd_users`: whose effective sshd settings to read back.
pub fn check(
    templates: &Templates,
    changes: &[Change],
    sshd_users: &[&str],
) -> Result<Option<CheckScript>, ScriptError> {
    let [sshd, nginx] = candidates(changes);
    if sshd.is_empty() && nginx.is_empty() {
        return Ok(None);
    }
    let staged_sshd = !sshd.is_empty();
    // One sshd -T per user, however many of the intent's settings name it.
    let mut seen = std::collections::HashSet::new();
    let sshd_users: Vec<&str> = (sshd_users.iter().copied())
        .filter(|user| seen.insert(*user))
        .collect();
    let body = templates.render(
        "check.sh",
        json!({
            "sshd": sshd,
            "nginx": nginx,
            "sshd_users": sshd_users,
            "sshd_keywords": crate::resource::SSHD_KEYWORDS,
        }),
    )?;
    let about = "jprov check: validate candidate files WITHOUT touching live files. Runs with `sh -s` (possibly sudo -n).";
    let text = assemble(about, Root::HOST, "", &body)?;
    Ok(Some(CheckScript { text, staged_sshd }))
}

/// Where nginx's sites and their links are: check.sh stages nginx's candidates as sites (in
/// sites-available, linked from sites-enabled).
const NGINX_SITE_DIRS: [&str; 2] = ["/etc/nginx/sites-available/", "/etc/nginx/sites-enabled/"];

/// Whether `nginx -t` or `sshd -t` reads the file at `path` of a group it validates. An nginx group's
/// htpasswd file is read per request, never by `nginx -t`, and staged as a site it would fail the check.
fn read_by_validation(validation: &Validation, path: &str) -> bool {
    match validation {
        Validation::Sshd => true,
        Validation::Nginx => NGINX_SITE_DIRS.iter().any(|dir| path.starts_with(dir)),
    }
}

/// The candidates to stage, for sshd and for nginx: each `{path, content}` or `{path, remove: true}`.
fn candidates(changes: &[Change]) -> [Vec<Value>; 2] {
    let mut candidates: [Vec<Value>; 2] = [vec![], vec![]];
    let slot = |validation: &Validation| match validation {
        Validation::Sshd => 0,
        Validation::Nginx => 1,
    };
    for change in changes {
        match change {
            Change::WriteFiles {
                files,
                validate: Some(validation),
                ..
            } => candidates[slot(validation)].extend(
                (files.iter())
                    .filter(|file| read_by_validation(validation, &file.path))
                    .filter_map(|file| match &file.file.content {
                        Content::Known(content) => {
                            Some(json!({"path": file.path, "content": content}))
                        }
                        Content::Pending(_) => None,
                    }),
            ),
            Change::RemoveFiles {
                files,
                validate: Some(validation),
                ..
            } => candidates[slot(validation)].extend(
                (files.iter())
                    .filter(|file| read_by_validation(validation, &file.path))
                    .filter_map(|file| removal_candidate(&file.path, &file.how)),
            ),
            _ => {}
        }
    }
    candidates
}

/// What a path holds once a teardown removed it; `None` when there is nothing to stage.
fn removal_candidate(path: &str, how: &Removal) -> Option<Value> {
    match how {
        Removal::Delete => Some(json!({"path": path, "remove": true})),
        Removal::Restore {
            original: Some(content),
        } => Some(json!({"path": path, "content": content})),
        // A link comes back: nothing to stage.
        Removal::Restore { original: None } => None,
        Removal::RemoveLine { file, .. } => match &file.content {
            Content::Known(content) => Some(json!({"path": path, "content": content})),
            Content::Pending(_) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_sites_are_staged_and_its_htpasswd_files_are_not() {
        let p = crate::profile::parse(
            include_str!("../../profiles/nginx-proxy.yaml"),
            std::path::Path::new("np.yaml"),
        )
        .unwrap();
        let l = crate::layout::Layout::new(&p);
        assert!(read_by_validation(&Validation::Nginx, &l.nginx_available));
        assert!(read_by_validation(&Validation::Nginx, &l.nginx_enabled));
        assert!(!read_by_validation(&Validation::Nginx, &l.nginx_htpasswd));
        assert!(read_by_validation(&Validation::Sshd, &l.sshd_dropin));
    }
}
