//! known_hosts checking, done here rather than by libssh2: libssh2 ignores `@revoked` (it reports a match
//! where OpenSSH refuses) and compares only the key type it negotiated.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use std::path::{Path, PathBuf};

/// A host key as received: algorithm name and the key blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostKey {
    pub algorithm: String,
    pub blob: Vec<u8>,
}

impl HostKey {
    /// `ssh-ed25519 AAAA...`, as in known_hosts and .pub files.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.algorithm, BASE64.encode(&self.blob))
    }

    /// OpenSSH's fingerprint form: `SHA256:<unpadded base64>`.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&self.blob);
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Trusted {
        file: PathBuf,
        line: usize,
    },
    /// The key is listed as @revoked.
    Revoked {
        file: PathBuf,
        line: usize,
    },
    /// The host is known with other keys: possibly a man-in-the-middle.
    Changed {
        known: Vec<(PathBuf, usize, String)>,
    },
    Unknown,
}

/// The name a host is listed under: `host` for port 22, `[host]:port` otherwise.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The key algorithms known for any of `names`, in file order (to steer negotiation towards them).
pub fn known_algorithms(files: &[PathBuf], names: &[String]) -> Vec<String> {
    let mut algorithms = vec![];
    for entry in files.iter().flat_map(|f| entries(f)) {
        if entry.marker.is_none()
            && names.iter().any(|n| host_matches(&entry.hosts, n))
            && !algorithms.contains(&entry.algorithm)
        {
            algorithms.push(entry.algorithm.clone());
        }
    }
    algorithms
}

/// Check `key` for a host listed under any of `names` in `files`.
pub fn check(files: &[PathBuf], names: &[String], key: &HostKey) -> Verdict {
    let encoded = BASE64.encode(&key.blob);
    let mut trusted = None;
    let mut others = vec![];
    for file in files {
        for entry in entries(file) {
            let same_key = entry.algorithm == key.algorithm && entry.key == encoded;
            // A revoked key is refused whatever host it is listed for, as OpenSSH does.
            if same_key && entry.marker.as_deref() == Some("@revoked") {
                return Verdict::Revoked {
                    file: file.clone(),
                    line: entry.line,
                };
            }
            if entry.marker.is_some() || !names.iter().any(|n| host_matches(&entry.hosts, n)) {
                continue;
            }
            if same_key {
                trusted.get_or_insert((file.clone(), entry.line));
            } else {
                others.push((file.clone(), entry.line, entry.algorithm.clone()));
            }
        }
    }
    match trusted {
        Some((file, line)) => Verdict::Trusted { file, line },
        // Same rule as OpenSSH: a known host presenting a key of a type it has no entry for is "unknown",
        // one presenting a different key of a listed type is "changed".
        None if others.iter().any(|(_, _, alg)| *alg == key.algorithm) => {
            Verdict::Changed { known: others }
        }
        None => Verdict::Unknown,
    }
}

/// Append `name key` to a known_hosts file (creating it).
pub fn record(file: &Path, name: &str, key: &HostKey) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    writeln!(f, "{name} {}", key.to_line())
}

struct Entry {
    line: usize,
    marker: Option<String>,
    hosts: String,
    algorithm: String,
    key: String,
}

fn entries(file: &Path) -> Vec<Entry> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return vec![];
    };
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line_text = line.trim();
            if line_text.is_empty() || line_text.starts_with('#') {
                return None;
            }
            let mut words = line_text.split_whitespace();
            let first = words.next()?;
            let (marker, hosts) = if first.starts_with('@') {
                (Some(first.to_string()), words.next()?)
            } else {
                (None, first)
            };
            Some(Entry {
                line: i + 1,
                marker,
                hosts: hosts.to_string(),
                algorithm: words.next()?.to_string(),
                key: words.next()?.to_string(),
            })
        })
        .collect()
}

/// OpenSSH host pattern lists: comma-separated, `*` and `?` wildcards, `!` negation, `|1|salt|hash` hashing.
fn host_matches(patterns: &str, name: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, name) {
                return false;
            }
        } else if glob(pattern, name) {
            matched = true;
        }
    }
    matched
}

fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt), BASE64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> HostKey {
        HostKey {
            algorithm: "ssh-ed25519".into(),
            blob: vec![byte; 51],
        }
    }

    fn file(text: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        (dir, vec![path])
    }

    #[test]
    fn plain_hashed_revoked_and_changed() {
        let k = key(1);
        let names = vec![lookup_name("server.lab", 2222)];
        let (_d, files) = file(&format!("# c\n[server.lab]:2222 {}\n", k.to_line()));
        assert!(matches!(
            check(&files, &names, &k),
            Verdict::Trusted { line: 2, .. }
        ));
        assert!(matches!(
            check(&files, &names, &key(2)),
            Verdict::Changed { .. }
        ));
        assert_eq!(
            check(&files, &[lookup_name("other", 22)], &k),
            Verdict::Unknown
        );

        let (_d, files) = file(&format!(
            "[server.lab]:2222 {}\n@revoked * {}\n",
            k.to_line(),
            k.to_line()
        ));
        assert!(matches!(
            check(&files, &names, &k),
            Verdict::Revoked { line: 2, .. }
        ));

        // `ssh-keygen -H` form for "server.lab" with a fixed salt, computed independently.
        let salt = [7u8; 20];
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"server.lab");
        let hashed = format!(
            "|1|{}|{}",
            BASE64.encode(salt),
            BASE64.encode(mac.finalize().into_bytes())
        );
        let (_d, files) = file(&format!("{hashed} {}\n", k.to_line()));
        assert!(matches!(
            check(&files, &["server.lab".into()], &k),
            Verdict::Trusted { .. }
        ));
        assert_eq!(check(&files, &["server.lab2".into()], &k), Verdict::Unknown);
    }

    #[test]
    fn patterns() {
        assert!(host_matches("*.lab,!bad.lab", "server.lab"));
        assert!(!host_matches("*.lab,!bad.lab", "bad.lab"));
        assert!(host_matches("serv?r.LAB", "server.lab"));
        assert!(!host_matches("server.lab", "server.lab.evil"));
    }
}
