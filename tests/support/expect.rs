//! What a run of jprov must do: its exit status and what its stdout and stderr say. Shared by the offline
//! builder (`test::Test`) and the hosts builder (`setup::Step`).
//!
//! Every check compares the *normalized* output: the caller's `Normalize` replaces what differs from run to
//! run (a temporary directory, a port the test picked) by a fixed name such as `[TMP]` or `[TUNNEL_PORT]`, so
//! an expectation can be exact. `Ran` returns what jprov printed, untouched.

use std::process::Output;

/// Replacements applied to jprov's output before it is compared: `(what, name)`.
#[derive(Clone, Default)]
pub struct Normalize {
    /// Paths (any text), replaced wherever they occur; longest first.
    texts: Vec<(String, String)>,
    /// Ports, replaced only where they stand as a whole number (not inside a longer run of digits).
    numbers: Vec<(String, String)>,
}

impl Normalize {
    pub fn text(mut self, what: impl Into<String>, name: &str) -> Self {
        self.texts.push((what.into(), name.to_string()));
        self.texts
            .sort_by_key(|(what, _)| std::cmp::Reverse(what.len()));
        self
    }

    /// Panics when two names stand for the same number: the output could not say which one it printed.
    pub fn number(mut self, what: u16, name: &str) -> Self {
        let what = what.to_string();
        if let Some((_, other)) = self.numbers.iter().find(|(n, _)| *n == what) {
            panic!("{name} and {other} are both {what}: pick distinct ports");
        }
        self.numbers.push((what, name.to_string()));
        self
    }

    pub fn apply(&self, output: &str) -> String {
        let mut text = output.to_string();
        for (what, name) in &self.texts {
            text = text.replace(what.as_str(), name);
        }
        self.replace_numbers(&text)
    }

    fn replace_numbers(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
            out.push_str(&rest[..start]);
            let run = &rest[start..];
            let len = run.find(|c: char| !c.is_ascii_digit()).unwrap_or(run.len());
            let digits = &run[..len];
            match self.numbers.iter().find(|(n, _)| n == digits) {
                Some((_, name)) => out.push_str(name),
                None => out.push_str(digits),
            }
            rest = &run[len..];
        }
        out.push_str(rest);
        out
    }
}

/// What one output stream must say.
#[derive(Clone, Default)]
pub struct Stream {
    exact: Option<String>,
    golden: Option<String>,
    contains: Vec<String>,
    lacks: Vec<String>,
}

impl Stream {
    pub fn exact(&mut self, text: impl Into<String>) {
        self.exact = Some(text.into());
    }
    /// Compared with tests/golden/NAME (see `golden`).
    pub fn golden(&mut self, name: impl Into<String>) {
        self.golden = Some(name.into());
    }
    pub fn contains(&mut self, text: impl Into<String>) {
        self.contains.push(text.into());
    }
    pub fn lacks(&mut self, text: impl Into<String>) {
        self.lacks.push(text.into());
    }

    /// Whether `problems` will show `actual` as a diff against an exact text or a golden file.
    fn diffed(&self, actual: &str) -> bool {
        self.exact.as_ref().is_some_and(|e| e != actual)
            || (self.golden.as_ref()).is_some_and(|g| super::golden::compare(g, actual).is_err())
    }

    /// The problems of `actual` (normalized), if any.
    fn problems(&self, stream: &str, actual: &str) -> Vec<String> {
        let mut problems = vec![];
        if let Some(exact) = &self.exact {
            if exact != actual {
                problems.push(format!(
                    "{stream} differs from the expected text:\n{}",
                    super::golden::diff("expected", exact, actual)
                ));
            }
        }
        if let Some(name) = &self.golden {
            if let Err(problem) = super::golden::compare(name, actual) {
                problems.push(format!("{stream}: {problem}"));
            }
        }
        for needle in &self.contains {
            if !actual.contains(needle.as_str()) {
                problems.push(format!("{stream} lacks {needle:?}"));
            }
        }
        for needle in &self.lacks {
            if actual.contains(needle.as_str()) {
                problems.push(format!("{stream} must not contain {needle:?}"));
            }
        }
        problems
    }
}

/// The exit status and both streams a run must produce. The status is 0 unless set.
#[derive(Clone, Default)]
pub struct Expect {
    pub status: i32,
    pub stdout: Stream,
    pub stderr: Stream,
}

/// What jprov printed (not normalized) and how it exited.
#[derive(Clone, Debug)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Expect {
    /// Check `output` of `what` (the command line, for messages); panic with every problem and both streams.
    pub fn check(&self, what: &str, output: &Output, normalize: &Normalize) -> Ran {
        let ran = Ran {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        let (stdout, stderr) = (normalize.apply(&ran.stdout), normalize.apply(&ran.stderr));
        let mut problems = vec![];
        if output.status.code() != Some(self.status) {
            problems.push(format!(
                "exit status {:?}, expected {}",
                output.status.code(),
                self.status
            ));
        }
        problems.extend(self.stdout.problems("stdout", &stdout));
        problems.extend(self.stderr.problems("stderr", &stderr));
        if !problems.is_empty() {
            // A stream shown as a diff above is not repeated.
            let show = |stream: &Stream, name: &str, text: &str| match stream.diffed(text) {
                true => format!("--- {name}: see its diff above\n"),
                false => format!("--- {name} (normalized):\n{text}"),
            };
            panic!(
                "`{what}`:\n- {}\n{}{}",
                problems.join("\n- "),
                show(&self.stdout, "stdout", &stdout),
                show(&self.stderr, "stderr", &stderr),
            );
        }
        ran
    }
}
