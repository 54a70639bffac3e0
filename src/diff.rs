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
                    Some(end) => {
                        let newline = if line.ends_with('\n') { "\n" } else { "" };
                        format!("{} {MASK}{newline}", line[..end].trim_end())
                    }
                    None => line.to_string(),
                }
            })
            .collect(),
    }
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
        assert!(d.contains("hashed_password ********"), "{d}");
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
