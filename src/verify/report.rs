//! The checks' outcomes, as people read them (✓/✗, the reason, the fix) and as CI reads them (`--json`).
//! Pure. No reason or fix ever holds a password: they name statuses, headers and files, never what was
//! typed or read from a credentials file.

use serde::Serialize;
use std::fmt;

/// The JSON report's version: raised when a field is removed or changes meaning.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Passes, with something to act on soon (a certificate close to expiry).
    Warn,
    Fail,
    /// Not run: an earlier check failed, or it does not apply here (the reason says which).
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name (`tls-name`, `kernel-execute`, ...): what tests and CI match on.
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, reason: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            reason: reason.into(),
            fix: None,
        }
    }

    pub fn warn(name: &'static str, reason: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            reason: reason.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(name: &'static str, reason: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            reason: reason.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(name: &'static str, reason: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Skip,
            reason: reason.into(),
            fix: None,
        }
    }

    pub fn passed(&self) -> bool {
        matches!(self.status, Status::Pass | Status::Warn)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub profile: String,
    pub method: String,
    pub url: String,
    /// No check failed (warnings and skips aside).
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(profile: &str, method: &str, url: &str, checks: Vec<Check>) -> Report {
        Report {
            format_version: FORMAT_VERSION,
            profile: profile.to_string(),
            method: method.to_string(),
            url: url.to_string(),
            passed: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    /// 0 when no check failed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.passed)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "jprov verify {} ({}): {}",
            self.profile, self.method, self.url
        )?;
        for check in &self.checks {
            let mark = match check.status {
                Status::Pass => "✓",
                Status::Warn => "⚠",
                Status::Fail => "✗",
                Status::Skip => "-",
            };
            writeln!(f, "{mark} {}: {}", check.name, printable(&check.reason))?;
            if let Some(fix) = &check.fix {
                writeln!(f, "    fix: {}", printable(fix))?;
            }
        }
        let (warned, skipped) = (self.count(Status::Warn), self.count(Status::Skip));
        let more = format!("{warned} with a warning, {skipped} skipped");
        match self.count(Status::Fail) {
            0 => writeln!(
                f,
                "result: no check failed of {} ({more})",
                self.checks.len()
            ),
            failed => writeln!(
                f,
                "result: {failed} of {} checks FAILED ({more})",
                self.checks.len()
            ),
        }
    }
}

/// `text` with control characters escaped: reasons quote what servers sent (a Location header, a
/// certificate's names), which must not drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_fails_the_report_and_warnings_do_not() {
        let warned = Report::new(
            "p",
            "lan",
            "https://x/",
            vec![
                Check::pass("resolve", "x is 10.0.0.1"),
                Check::warn("tls-expiry", "9 days", "renew"),
            ],
        );
        assert!(warned.passed);
        assert_eq!(warned.exit_code(), 0);
        let text = warned.to_string();
        assert!(
            text.contains("✓ resolve: x is 10.0.0.1\n⚠ tls-expiry: 9 days\n    fix: renew\n"),
            "{text}"
        );
        assert!(
            text.ends_with("result: no check failed of 2 (1 with a warning, 0 skipped)\n"),
            "{text}"
        );
        let failed = Report::new(
            "p",
            "lan",
            "https://x/",
            vec![
                Check::fail("tls-name", "for y", "z"),
                Check::skip("login", "no TLS"),
            ],
        );
        assert_eq!(failed.exit_code(), 1);
        assert!(failed
            .to_string()
            .contains("✗ tls-name: for y\n    fix: z\n- login: no TLS\n"));
        let hostile = Report::new(
            "p",
            "lan",
            "https://x/",
            vec![Check::pass("hsts", "a\x1b[2Jb\n")],
        );
        assert!(
            hostile.to_string().contains("✓ hsts: a\\u{1b}[2Jb\\u{a}\n"),
            "{hostile}"
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["passed"], false);
        assert_eq!(json["checks"][0]["status"], "fail");
        assert_eq!(json["checks"][1].get("fix"), None);
    }
}
