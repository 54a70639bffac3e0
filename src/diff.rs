//! Unified diffs for plans, with secrets masked before anything is compared for display.

use crate::resource::Secrecy;

const MASK: &str = "********";

/// The text of a file as it may be shown.
pub fn redact(text: &str, secrecy: Secrecy) -> String {
    match secrecy {
        Secrecy::Public => text.to_string(),
        Secrecy::Hidden => String::new(),
        Secrecy::MaskAfter(markers) => text
            .split_inclusive('\n')
            .map(|line| {
                match markers
                    .iter()
                    .find_map(|m| line.find(m).map(|i| i + m.len()))
                {
                    Some(end) => mask_value(line, end),
                    None => line.to_string(),
                }
            })
            .collect(),
    }
}

/// `line` with what follows its marker (which ends at `end`) masked, kept valid syntax where it assigns a
/// quoted string (`hashed_password = '********'`, `"password_hash": "********",`): a reader sees the form,
/// never the value.
fn mask_value(line: &str, end: usize) -> String {
    let newline = if line.ends_with('\n') { "\n" } else { "" };
    let (head, rest) = line.trim_end_matches('\n').split_at(end);
    // The separator is the marker's last character (`"password_hash":`) or follows it (`hashed_password =`).
    let (separator, value) = match head.chars().last() {
        Some(sep @ (':' | '=')) => (sep, rest),
        _ => match rest.trim_start().chars().next() {
            Some(sep @ (':' | '=')) => (sep, &rest.trim_start()[1..]),
            _ => return format!("{} {MASK}{newline}", head.trim_end()),
        },
    };
    let value = value.trim_start();
    let quoted = value
        .chars()
        .next()
        .filter(|q| *q == '\'' || *q == '"')
        .and_then(|quote| Some((quote, value[1..].find(quote)? + 2)));
    let Some((quote, after)) = quoted else {
        return format!("{} {MASK}{newline}", head.trim_end());
    };
    let tail = &value[after..];
    let head = head.trim_end_matches([':', '=']).trim_end();
    let separator = if separator == '=' { " = " } else { ": " };
    format!("{head}{separator}{quote}{MASK}{quote}{tail}{newline}")
}

/// A unified diff between what a file is and what it will be, safe to print.
pub fn unified(path: &str, old: Option<&str>, new: &str, secrecy: Secrecy) -> String {
    if secrecy == Secrecy::Hidden {
        return format!("    (secret content of {path} not shown)\n");
    }
    let changed = old != Some(new);
    let old = redact(old.unwrap_or(""), secrecy);
    let new = redact(new, secrecy);
    let diff = similar::TextDiff::from_lines(&old, &new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(if old.is_empty() { "/dev/null" } else { path }, path)
        .to_string();
    if text.is_empty() && changed {
        return "    (only masked values changed)\n".to_string();
    }
    text.lines().map(|l| format!("    {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASHED: Secrecy = Secrecy::MaskAfter(&["hashed_password"]);

    #[test]
    fn masked_lines_never_show_the_value() {
        let old = "a = 1\nc.PasswordIdentityProvider.hashed_password = 'argon2:OLD'\n";
        let new = "a = 2\nc.PasswordIdentityProvider.hashed_password = 'argon2:NEW'\n";
        let d = unified("/x", Some(old), new, HASHED);
        assert!(!d.contains("OLD") && !d.contains("NEW"), "{d}");
        assert!(d.contains("+a = 2"), "{d}");
        assert!(d.contains("hashed_password = '********'\n"), "{d}");
    }

    #[test]
    fn a_masked_assignment_stays_valid_syntax_and_anything_else_is_masked_whole() {
        let secrets = Secrecy::MaskAfter(&["hashed_password", "token:"]);
        assert_eq!(
            redact("x.hashed_password = \"sha1:abc:def\"  # note\n", secrets),
            "x.hashed_password = \"********\"  # note\n"
        );
        assert_eq!(
            redact(
                "        \"password_hash\": \"argon2:x\",\n",
                Secrecy::MaskAfter(&["\"password_hash\":"])
            ),
            "        \"password_hash\": \"********\",\n"
        );
        // Not an assignment of one quoted string: everything after the marker goes.
        assert_eq!(redact("token: abc 'x'\n", secrets), "token: ********\n");
        assert_eq!(
            redact("hashed_password = 'unclosed\n", secrets),
            "hashed_password ********\n"
        );
    }

    #[test]
    fn a_changed_secret_alone_is_reported_without_content() {
        let d = unified(
            "/x",
            Some("hashed_password = 'a'\n"),
            "hashed_password = 'b'\n",
            HASHED,
        );
        assert_eq!(d, "    (only masked values changed)\n");
    }

    #[test]
    fn hidden_files_show_nothing() {
        // A key's PEM form, put together here so that no file in git looks like it holds a private key.
        let pem = format!("-----BEGIN {} KEY-----\nabc\n", "PRIVATE");
        let d = unified("/k", None, &pem, Secrecy::Hidden);
        assert!(!d.contains("abc") && !d.contains("BEGIN"), "{d}");
    }

    #[test]
    fn new_files_diff_from_dev_null() {
        let d = unified("/x", None, "hello\n", Secrecy::Public);
        assert!(d.contains("--- /dev/null") && d.contains("+hello"), "{d}");
    }
}
