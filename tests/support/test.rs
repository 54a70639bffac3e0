//! `Test`: one run of the jprov binary without hosts, in the style of just's tests/test.rs:
//!
//! ```ignore
//! Test::new()
//!     .example("reverse-forward.yaml")
//!     .args(["plan", "--offline"])
//!     .status(2)
//!     .stdout_golden("plans/reverse-forward.txt")
//!     .run();
//! ```
//!
//! The profile (an example, a `Profile` value, or YAML text) is appended after the arguments. Outputs are
//! compared after two replacements: the test's temporary directory becomes `[TMP]` and the source tree
//! `[REPO]` (`Normalize`); nothing else is changed.

use super::expect::{Expect, Normalize, Ran};
use jprov::profile::Profile;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<OsString>,
    profile: Option<PathBuf>,
    stdin: Option<String>,
    env: Vec<(OsString, OsString)>,
    expect: Expect,
    /// Paths that must not exist after the run (checked before the temporary directory goes).
    absent: Vec<PathBuf>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().unwrap(),
            args: vec![],
            profile: None,
            stdin: None,
            env: vec![],
            expect: Expect::default(),
            absent: vec![],
        }
    }

    /// The test's temporary directory (`[TMP]` in normalized output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The example profiles/NAME.
    pub fn example(mut self, name: &str) -> Test {
        self.profile = Some(super::profiles::example_path(name));
        self
    }

    /// `profile`, written as YAML to `[TMP]/profile.yaml`.
    pub fn profile(self, profile: &Profile) -> Test {
        let path = self.dir().join("profile.yaml");
        super::profiles::write(&path, profile);
        self.profile_file(path)
    }

    /// A profile's text as it is, in `[TMP]/profile.yaml`: for tests of the YAML itself (bad profiles).
    pub fn profile_text(self, text: &str) -> Test {
        let path = self.dir().join("profile.yaml");
        std::fs::write(&path, text).unwrap();
        self.profile_file(path)
    }

    fn profile_file(mut self, path: PathBuf) -> Test {
        self.profile = Some(path);
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Test {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Test {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.to_string());
        self
    }

    /// An environment variable for the run (HOME, to give ssh a config of the test's own).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn status(mut self, status: i32) -> Test {
        self.expect.status = status;
        self
    }

    /// stdout is exactly `text` (normalized).
    pub fn stdout(mut self, text: impl Into<String>) -> Test {
        self.expect.stdout.exact(text);
        self
    }

    /// stdout is exactly tests/golden/NAME.
    pub fn stdout_golden(mut self, name: impl Into<String>) -> Test {
        self.expect.stdout.golden(name);
        self
    }

    pub fn stdout_contains(mut self, text: impl Into<String>) -> Test {
        self.expect.stdout.contains(text);
        self
    }

    pub fn stdout_lacks(mut self, text: impl Into<String>) -> Test {
        self.expect.stdout.lacks(text);
        self
    }

    pub fn stderr(mut self, text: impl Into<String>) -> Test {
        self.expect.stderr.exact(text);
        self
    }

    pub fn stderr_contains(mut self, text: impl Into<String>) -> Test {
        self.expect.stderr.contains(text);
        self
    }

    pub fn stderr_lacks(mut self, text: impl Into<String>) -> Test {
        self.expect.stderr.lacks(text);
        self
    }

    /// `path` must not exist after the run.
    pub fn absent(mut self, path: impl Into<PathBuf>) -> Test {
        self.absent.push(path.into());
        self
    }

    /// Run jprov and check everything; panics with every problem and both streams.
    pub fn run(self) -> Ran {
        let mut command = Command::new(super::jprov_bin());
        command
            .args(&self.args)
            .args(&self.profile)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = run_with_stdin(command, self.stdin.as_deref());
        let normalize = Normalize::default()
            .text(self.dir().display().to_string(), "[TMP]")
            .text(env!("CARGO_MANIFEST_DIR"), "[REPO]");
        let mut what = vec!["jprov".to_string()];
        what.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        what.extend(self.profile.iter().map(|p| p.display().to_string()));
        let ran = self.expect.check(&what.join(" "), &output, &normalize);
        for path in &self.absent {
            assert!(
                !path.exists(),
                "`{}` left {}",
                what.join(" "),
                path.display()
            );
        }
        ran
    }
}

fn run_with_stdin(mut command: Command, stdin: Option<&str>) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}
