//! `jprov check`'s look at this machine: the git work tree around the profile (`git ls-files`, `git
//! check-ignore`), the files in the profile's directory git tracks or would commit, and whether the pinned
//! known_hosts file pins the profile's hosts. The only processes `jprov check` runs; `lint` judges it all.

use crate::host::known_hosts;
use crate::lint::{Git, IdentityFile, InGit, PinnedHosts, SeenFile, Workspace};
use crate::profile::{LoadedProfile, WorkstationHost, DEFAULT_SSH_PORT};
use crate::value::Port;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Files larger than this are looked at by name only.
const MAX_TEXT_BYTES: u64 = 1 << 20;
/// At most this many files of the profile's directory are read.
const MAX_FILES: usize = 5000;

pub fn gather(lp: &LoadedProfile) -> Workspace {
    let dir = match lp.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let known_hosts = pinned_hosts(lp);
    let top = match git(&dir, &["rev-parse", "--show-toplevel"]) {
        Err(reason) => {
            return Workspace {
                git: Git::Unavailable(reason),
                known_hosts,
                ..Workspace::default()
            }
        }
        Ok(out) if !out.status.success() => {
            return Workspace {
                known_hosts,
                ..Workspace::default()
            }
        }
        Ok(out) => PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n')),
    };
    let profile = std::fs::canonicalize(&lp.path).ok();
    let files = (listed(&dir, &["--cached"]).into_iter().map(|f| (f, true)))
        .chain(
            listed(&dir, &["--others", "--exclude-standard"])
                .into_iter()
                .map(|f| (f, false)),
        )
        .filter(|(f, _)| std::fs::canonicalize(dir.join(f)).ok() != profile)
        .take(MAX_FILES)
        .map(|(f, tracked)| seen(dir.join(f), tracked))
        .collect();
    Workspace {
        git: Git::WorkTree,
        files,
        identity_files: identity_files(lp, &top),
        known_hosts,
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())
}

/// `git ls-files -z ARGS -- .` in `dir`: paths relative to it (a deleted tracked file is skipped later).
fn listed(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ls-files", "-z"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "."]);
    let Ok(out) = git(dir, &all) else {
        return vec![];
    };
    (out.stdout.split(|&b| b == 0))
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn seen(path: PathBuf, tracked: bool) -> SeenFile {
    let small = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= MAX_TEXT_BYTES);
    let text = small
        .then(|| std::fs::read(&path).ok())
        .flatten()
        .filter(|bytes| !bytes.contains(&0))
        .and_then(|bytes| String::from_utf8(bytes).ok());
    SeenFile {
        path,
        tracked,
        text,
    }
}

/// The profile's local key files and where they stand with git.
fn identity_files(lp: &LoadedProfile, top: &Path) -> Vec<IdentityFile> {
    let p = &lp.profile;
    let named = [
        (
            "server.identity_file",
            p.server.as_ref().and_then(|s| s.identity_file.as_ref()),
        ),
        (
            "workstation.identity_file",
            p.workstation.identity_file.as_ref(),
        ),
    ];
    (named.into_iter())
        .filter_map(|(field, file)| {
            let path = lp.resolve(file?);
            Some(IdentityFile {
                field,
                exists: path.is_file(),
                in_git: in_git(top, &path),
                path,
            })
        })
        .collect()
}

fn in_git(top: &Path, path: &Path) -> InGit {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    if !absolute.starts_with(&top) {
        return InGit::Outside;
    }
    let path = absolute.to_string_lossy();
    let ran = |args: &[&str]| git(&top, args).is_ok_and(|out| out.status.success());
    if ran(&["ls-files", "--error-unmatch", "--", &path]) {
        InGit::Tracked
    } else if ran(&["check-ignore", "-q", "--", &path]) {
        InGit::Ignored
    } else {
        InGit::Untracked
    }
}

/// Whether the pinned known_hosts file has a key for each host jprov connects to, under the name `jprov
/// trust` pins it as (`host`, or `[host]:port` for a port the profile names other than 22).
fn pinned_hosts(lp: &LoadedProfile) -> PinnedHosts {
    let p = &lp.profile;
    let path = lp.pinned_known_hosts();
    let port = |port: Option<Port>| port.map_or(DEFAULT_SSH_PORT, Port::get);
    let mut names = vec![];
    if let Some(server) = &p.server {
        names.push(known_hosts::lookup_name(
            server.host.as_str(),
            port(server.port),
        ));
    }
    if let WorkstationHost::Remote(host) = &p.workstation.host {
        names.push(known_hosts::lookup_name(
            host.as_str(),
            port(p.workstation.port),
        ));
    }
    let files = [path.clone()];
    PinnedHosts {
        exists: path.is_file(),
        hosts: (names.into_iter())
            .map(|name| {
                let known =
                    !known_hosts::known_algorithms(&files, std::slice::from_ref(&name)).is_empty();
                (name, known)
            })
            .collect(),
        path,
    }
}
