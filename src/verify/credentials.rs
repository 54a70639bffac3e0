//! The credentials verify logs in with: read from files (`--password-file`, `--basic-auth-file`) or asked
//! for without echo on a terminal, never taken from argv or the profile (which holds only hashes). They
//! are never shown: not in the report, not in an error, not in `Debug`.

use crate::password;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Where the credentials come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub password_file: Option<PathBuf>,
    pub basic_auth_file: Option<PathBuf>,
    /// The Jupyter login's username (a collaborator's); the owner's needs none.
    pub username: Option<String>,
}

pub struct Credentials {
    pub password: String,
    pub username: Option<String>,
    /// `(user, password)` for the basic auth in front of Jupyter.
    pub basic_auth: Option<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(not shown)")
    }
}

/// The credentials for a target that `needs_basic_auth` or not.
pub fn read(sources: &Sources, needs_basic_auth: bool) -> Result<Credentials, String> {
    let basic_auth = match (&sources.basic_auth_file, needs_basic_auth) {
        (Some(file), true) => Some(basic_auth_line(&first_line(file)?, file)?),
        (Some(file), false) => {
            return Err(format!(
                "{}: the profile has no basic auth in front of Jupyter (access.basic_auth, \
                 ngrok.basic_auth_file), so verify would send these credentials to nobody who asks for \
                 them; leave out --basic-auth-file",
                file.display()
            ))
        }
        (None, true) => Some(ask_basic_auth()?),
        (None, false) => None,
    };
    let password = match &sources.password_file {
        Some(file) => first_line(file)?,
        None => ask(
            "Jupyter password: ",
            "--password-file FILE (a file holding Jupyter's password)",
        )?,
    };
    Ok(Credentials {
        password,
        username: sources.username.clone(),
        basic_auth,
    })
}

/// The file's first line, without its line ending; an empty one is an error. The error never holds
/// the content.
fn first_line(file: &Path) -> Result<String, String> {
    let opened =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut line = String::new();
    std::io::BufReader::new(opened)
        .read_line(&mut line)
        .map_err(|e| {
            format!(
                "cannot read {}: {e} (it must be UTF-8 text)",
                file.display()
            )
        })?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err(format!("{}: its first line is empty", file.display()));
    }
    Ok(line)
}

/// `user:password` (a password may hold `:`, a user may not).
fn basic_auth_line(line: &str, file: &Path) -> Result<(String, String), String> {
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), password.to_string()))
        }
        _ => Err(format!(
            "{}: expected one line `user:password`",
            file.display()
        )),
    }
}

/// A value typed without echo on the terminal; without a terminal, an error naming `flag`.
fn ask(prompt: &str, flag: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "standard input is not a terminal, so nobody can type the password: pass {flag}"
        ));
    }
    match password::prompt_hidden(prompt) {
        Ok(value) if !value.is_empty() => Ok(value),
        Ok(_) => Err("an empty password".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn ask_basic_auth() -> Result<(String, String), String> {
    let flag = "--basic-auth-file FILE (a file holding `user:password`)";
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "the profile puts basic auth in front of Jupyter, and standard input is not a terminal: pass {flag}"
        ));
    }
    eprint!("basic-auth user: ");
    let _ = std::io::stderr().flush();
    let mut user = String::new();
    std::io::stdin()
        .read_line(&mut user)
        .map_err(|e| format!("cannot read the user: {e}"))?;
    let user = user.trim().to_string();
    if user.is_empty() || user.contains(':') {
        return Err("a basic-auth user is not empty and holds no `:`".into());
    }
    Ok((user, ask("basic-auth password: ", flag)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_give_the_credentials_and_errors_never_show_them() {
        let dir = tempfile::tempdir().unwrap();
        let (password, basic) = (dir.path().join("pw"), dir.path().join("basic"));
        std::fs::write(&password, "s3cret: with colon\r\nsecond line\n").unwrap();
        std::fs::write(&basic, "alice:pa:ss\n").unwrap();
        let sources = Sources {
            password_file: Some(password.clone()),
            basic_auth_file: Some(basic.clone()),
            username: None,
        };
        let c = read(&sources, true).unwrap();
        assert_eq!(c.password, "s3cret: with colon");
        assert_eq!(c.basic_auth, Some(("alice".into(), "pa:ss".into())));
        assert_eq!(format!("{c:?}"), "Credentials(not shown)");
        let refused = read(&sources, false).unwrap_err();
        assert!(refused.contains("no basic auth"), "{refused}");
        std::fs::write(&basic, "no-colon-secret\n").unwrap();
        let bad = read(&sources, true).unwrap_err();
        assert!(
            bad.contains("expected one line `user:password`") && !bad.contains("no-colon-secret"),
            "{bad}"
        );
        std::fs::write(&password, "\n").unwrap();
        let only_password = Sources {
            basic_auth_file: None,
            ..sources
        };
        assert!(read(&only_password, false)
            .unwrap_err()
            .contains("first line is empty"));
    }
}
