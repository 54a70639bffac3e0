//! Command lines as jprov shows and records them.

/// An argv as one line a person can paste into a POSIX shell.
pub fn shell_words(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

/// Identifies a tunnel's command line in its pid file, so a changed command is restarted.
pub fn argv_digest(argv: &[String]) -> String {
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    for arg in argv {
        hasher.update(arg.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}
