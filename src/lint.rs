//! `jprov check`: the offline security lint of a profile, for CI next to `plan --offline`. Pure: what it
//! looks at around the profile on this machine (git's view of the profile's directory, the pinned
//! known_hosts file) is gathered by the host layer (`host::workspace`) and handed in as a `Workspace`.
//!
//! Each finding has a severity, what was found (a file and line, a field; never the secret itself), the risk
//! in one sentence and the fix. `Report::layers` says which security layers the profile has and what each
//! one stops. Not to be confused with `script/check.rs`, the on-host validation `jprov plan` runs.

mod files;
pub mod fleet;
mod hashes;
mod layers;
mod rendered;
mod secrets;

use crate::profile::LoadedProfile;
use crate::render::{RenderError, Templates};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

pub use layers::{Layer, Presence};

/// Raised when a field is removed or changes meaning in `jprov check --json`.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `jprov check` exits 1.
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One thing `jprov check` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable name of the kind of finding (`plaintext-secret`, `legacy-hash`, ...): README's table.
    pub code: &'static str,
    /// Where: a file as the user named it (or relative to the profile's), a line in it, a profile field.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub field: Option<String>,
    /// What was found, one sentence; never a secret's value.
    pub finding: String,
    /// What could happen, one sentence.
    pub risk: String,
    pub fix: String,
}

/// What `jprov check` learned about one profile.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The profile's file as given.
    pub file: String,
    /// Its name and method; none when it does not load.
    pub profile: Option<String>,
    pub method: Option<String>,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub findings: Vec<Finding>,
    pub layers: Vec<Layer>,
}

impl Report {
    fn new(
        file: String,
        profile: Option<&LoadedProfile>,
        mut findings: Vec<Finding>,
        layers: Vec<Layer>,
    ) -> Report {
        findings.sort_by(|a, b| (a.severity, &a.file, a.line).cmp(&(b.severity, &b.file, b.line)));
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        Report {
            file,
            profile: profile.map(|lp| lp.profile.name.to_string()),
            method: profile.map(|lp| lp.profile.method.to_string()),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            layers,
            findings,
        }
    }

    /// With one more finding (a conflict with another profile, found once all are loaded).
    pub fn add(&mut self, finding: Finding) {
        match finding.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
        self.findings.push(finding);
    }

    /// The report of a profile jprov refuses to load: one error, the loader's own message (which never
    /// repeats a value).
    pub fn invalid(file: &std::path::Path, error: &crate::profile::ProfileError) -> Report {
        let finding = Finding {
            severity: Severity::Error,
            code: "invalid-profile",
            file: Some(file.display().to_string()),
            line: error.line,
            field: error.field.clone(),
            finding: format!("jprov refuses the profile: {}", error.message),
            risk: "nothing can be planned or applied from it".into(),
            fix: "correct the field the message names".into(),
        };
        Report::new(file.display().to_string(), None, vec![finding], vec![])
    }
}

/// What `jprov check` looks at beside the profile on this machine, as the host layer found it.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    pub git: Git,
    /// Files under the profile's directory (the profile aside) that git would commit: those it tracks, and
    /// untracked ones no ignore rule keeps out. Empty outside a git work tree.
    pub files: Vec<SeenFile>,
    /// The local key files the profile names (`server.identity_file`, `workstation.identity_file`).
    pub identity_files: Vec<IdentityFile>,
    pub known_hosts: PinnedHosts,
}

/// Whether the profile's directory is in a git work tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Git {
    WorkTree,
    #[default]
    NotAWorkTree,
    /// git could not be run (not installed): why.
    Unavailable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenFile {
    /// As shown: the profile's directory as the user named it, joined with the file's path under it.
    pub path: PathBuf,
    pub tracked: bool,
    /// Its text; `None` when it is not UTF-8 text without NULs, is too large, or cannot be read.
    pub text: Option<String>,
}

/// Where a file stands with git.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InGit {
    /// Outside the work tree (or no work tree): git will never commit it.
    Outside,
    Ignored,
    /// Inside, not ignored, not tracked: the next `git add .` commits it.
    Untracked,
    Tracked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityFile {
    pub field: &'static str,
    pub path: PathBuf,
    pub exists: bool,
    pub in_git: InGit,
}

/// The pinned known_hosts file and whether it pins each host jprov connects to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinnedHosts {
    pub path: PathBuf,
    pub exists: bool,
    /// (the name the host is listed under, `host` or `[host]:port`; whether a key is pinned for it).
    pub hosts: Vec<(String, bool)>,
}

/// Every finding for a profile that loaded: its text (`source`, the file's bytes as text) and what is
/// beside it. `templates` are the ones plan renders with (JPROV_TEMPLATE_DIR's overrides included).
pub fn check(
    lp: &LoadedProfile,
    source: &str,
    workspace: &Workspace,
    templates: &Templates,
) -> Result<Report, RenderError> {
    let shown = lp.path.display().to_string();
    let mut findings = secrets::in_profile(&shown, source);
    findings.extend(hashes::findings(&lp.profile, &shown, source));
    findings.extend(rendered::findings(&lp.profile, templates)?);
    findings.extend(files::findings(lp, workspace));
    findings.extend(rendered::exposure_findings(&lp.profile, &shown, source));
    let layers = layers::of(lp, &workspace.known_hosts);
    Ok(Report::new(shown, Some(lp), findings, layers))
}

/// Text of the reports, for people.
pub struct Text<'a>(pub &'a [Report]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, report) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write_report(f, report)?;
        }
        Ok(())
    }
}

fn write_report(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let name = match (&r.profile, &r.method) {
        (Some(name), Some(method)) => format!(" ({name}, {method})"),
        _ => String::new(),
    };
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    writeln!(
        f,
        "{}{name}: {}, {}, {}",
        r.file,
        plural(r.errors, "error"),
        plural(r.warnings, "warning"),
        plural(r.infos, "note")
    )?;
    for finding in &r.findings {
        let place = [
            finding.file.as_ref().map(|file| match finding.line {
                Some(line) => format!("{file}:{line}"),
                None => file.clone(),
            }),
            finding.field.clone(),
        ];
        let place: Vec<String> = place.into_iter().flatten().collect();
        writeln!(
            f,
            "  {}[{}] {}",
            finding.severity,
            finding.code,
            place.join(" ")
        )?;
        writeln!(f, "    {}", finding.finding)?;
        writeln!(f, "    risk: {}", finding.risk)?;
        writeln!(f, "    fix: {}", finding.fix)?;
    }
    if !r.layers.is_empty() {
        writeln!(f, "  layers:")?;
    }
    for layer in &r.layers {
        writeln!(
            f,
            "    {:<7} {}: {}",
            layer.present.to_string(),
            layer.layer,
            layer.detail
        )?;
        writeln!(f, "            stops: {}", layer.protects_against)?;
    }
    Ok(())
}

/// The JSON of the reports: `{"format_version": N, "profiles": [REPORT, ...]}`.
pub fn json(reports: &[Report]) -> serde_json::Value {
    serde_json::json!({"format_version": FORMAT_VERSION, "profiles": reports})
}

/// A finding about a profile field, located at its line when the text has it.
fn at_field(
    severity: Severity,
    code: &'static str,
    (file, source): (&str, &str),
    field: &str,
    finding: String,
) -> Finding {
    Finding {
        severity,
        code,
        file: Some(file.to_string()),
        line: crate::profile::field_line(source, field),
        field: Some(field.to_string()),
        finding,
        risk: String::new(),
        fix: String::new(),
    }
}

impl Finding {
    fn because(mut self, risk: impl Into<String>, fix: impl Into<String>) -> Finding {
        self.risk = risk.into();
        self.fix = fix.into();
        self
    }
}
