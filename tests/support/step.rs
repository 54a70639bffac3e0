//! `Step`: one run of jprov against the hosts of a `Setup`, and what it must do:
//!
//! ```ignore
//! s.apply(&["--start-tunnel"])                 // then `plan --start-tunnel` must exit 0: converged
//!     .stdout_contains("reloaded ssh")
//!     .file(Role::Workstation, CONFIG, ORIGINAL)
//!     .absent(Role::Server, DROPIN)
//!     .run();
//! s.run(&["plan"]).status(2).stdout_contains("+ create account jprov-tunnel").run();
//! ```
//!
//! An apply step re-plans afterwards and requires an empty plan (exit 0), a destroy step an empty teardown
//! plan: "converged means empty" is checked after every one. Outputs are compared normalized
//! (`Setup::normalize`: `[DIR]`, `[SERVER_PORT]`, `[TUNNEL_PORT]`, ...), so an expected text is exact and
//! names the ports it shows; `run` returns what jprov printed.

use super::expect::{Expect, Ran};
use super::setup::{Role, Setup};
use std::ffi::{OsStr, OsString};

/// What must be empty after a successful step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replan {
    /// `jprov plan` (with `--start-tunnel` when the step had it): no changes.
    Setup,
    /// `jprov plan --destroy`: nothing to remove.
    Teardown,
}

impl Replan {
    fn args(self, step_args: &[OsString]) -> Vec<&'static str> {
        match self {
            Replan::Teardown => vec!["plan", "--destroy"],
            Replan::Setup if step_args.iter().any(|a| a == "--start-tunnel") => {
                vec!["plan", "--start-tunnel"]
            }
            Replan::Setup => vec!["plan"],
        }
    }

    /// The last line of the empty plan.
    fn empty(self) -> &'static str {
        match self {
            Replan::Setup => "No changes: the hosts match the profile.",
            Replan::Teardown => {
                "Nothing to remove: nothing jprov set up for the profile is on the hosts."
            }
        }
    }
}

/// What a path on a host must be after the step.
enum Expected {
    Content(Vec<u8>),
    Present,
    Absent,
}

pub struct Step<'a> {
    setup: &'a Setup,
    args: Vec<OsString>,
    /// Whether the profile is appended (not for `apply SAVED`).
    with_profile: bool,
    env: Vec<(OsString, OsString)>,
    expect: Expect,
    replan: Option<Replan>,
    files: Vec<(Role, String, Expected)>,
    /// Why the step runs, named in failures (`note`).
    note: Option<String>,
}

impl<'a> Step<'a> {
    pub(super) fn new(setup: &'a Setup, args: &[&str], with_profile: bool) -> Step<'a> {
        Step {
            setup,
            args: super::approved(args).iter().map(OsString::from).collect(),
            with_profile,
            env: vec![],
            expect: Expect::default(),
            replan: None,
            files: vec![],
            note: None,
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), value.as_ref().to_owned()));
        self
    }

    /// Why the step runs, for its failure message: what state the hosts are in, what it follows.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The exit status (default 0). A step that must fail is not re-planned.
    pub fn status(mut self, status: i32) -> Self {
        self.expect.status = status;
        self
    }

    /// After it succeeds, `replan` must be empty (apply and destroy steps say so already).
    pub fn replans(mut self, replan: Replan) -> Self {
        self.replan = Some(replan);
        self
    }

    /// stdout is exactly `text` (normalized).
    pub fn stdout(mut self, text: impl Into<String>) -> Self {
        self.expect.stdout.exact(text);
        self
    }

    pub fn stdout_contains(mut self, text: impl Into<String>) -> Self {
        self.expect.stdout.contains(text);
        self
    }

    pub fn stdout_lacks(mut self, text: impl Into<String>) -> Self {
        self.expect.stdout.lacks(text);
        self
    }

    pub fn stderr(mut self, text: impl Into<String>) -> Self {
        self.expect.stderr.exact(text);
        self
    }

    pub fn stderr_contains(mut self, text: impl Into<String>) -> Self {
        self.expect.stderr.contains(text);
        self
    }

    pub fn stderr_lacks(mut self, text: impl Into<String>) -> Self {
        self.expect.stderr.lacks(text);
        self
    }

    /// After the step, `path` on the `role` host holds exactly `content`.
    pub fn file(mut self, role: Role, path: &str, content: impl AsRef<[u8]>) -> Self {
        let content = Expected::Content(content.as_ref().to_vec());
        self.files.push((role, path.to_string(), content));
        self
    }

    /// After the step, `path` exists on the `role` host (as anything, a dangling link included).
    pub fn present(mut self, role: Role, path: &str) -> Self {
        self.files.push((role, path.to_string(), Expected::Present));
        self
    }

    /// After the step, nothing is at `path` on the `role` host (not even a dangling link).
    pub fn absent(mut self, role: Role, path: &str) -> Self {
        self.files.push((role, path.to_string(), Expected::Absent));
        self
    }

    /// Run jprov, check the status, the output and the files, then the re-plan; panics on any problem.
    pub fn run(self) -> Ran {
        let what = self.command_line();
        let mut command = std::process::Command::new(super::jprov_bin());
        command.args(&self.args);
        if self.with_profile {
            command.arg(&self.setup.profile_file);
        }
        // No agent: authentication must come from the profile's identity_file.
        command.env_remove("SSH_AUTH_SOCK");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = command.output().unwrap();
        let ran = self.expect.check(&what, &output, &self.setup.normalize());
        self.check_files(&what);
        if let (Some(replan), 0) = (self.replan, self.expect.status) {
            self.setup
                .run(&replan.args(&self.args))
                .note(format!("the plan right after `{what}` must be empty"))
                .stdout_contains(replan.empty())
                .run();
        }
        ran
    }

    fn command_line(&self) -> String {
        let mut words = vec!["jprov".to_string()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        if self.with_profile {
            words.push("PROFILE".into());
        }
        match &self.note {
            Some(note) => format!("{} ({note})", words.join(" ")),
            None => words.join(" "),
        }
    }

    fn check_files(&self, what: &str) {
        for (role, path, expected) in &self.files {
            let host = self.setup.host(*role);
            let found = host.read_file(path);
            let problem = match expected {
                Expected::Content(content) => (found.as_ref() != Some(content)).then(|| {
                    format!(
                        "holds {:?}, expected {:?}",
                        found.as_deref().map(String::from_utf8_lossy),
                        String::from_utf8_lossy(content)
                    )
                }),
                Expected::Present => (!host.exists(path)).then(|| "is missing".to_string()),
                Expected::Absent => host.exists(path).then(|| "is there".to_string()),
            };
            if let Some(problem) = problem {
                panic!("after `{what}`: {role:?} {path} {problem}");
            }
        }
    }
}
