//! The scripts jprov runs on hosts, built from typed values. Pure: nothing here touches a host.
//!
//! Every script is one brace group (sh runs none of a truncated one: a connection cut while the script is
//! sent runs nothing) that starts the same way: `set -eu`, `JPROV_ROOT` and `PROFILE`, the line protocol's
//! emitters (`protocol::shell`) and the library (`templates/host_lib.sh`, sent as it is). What follows is a
//! list of calls of the library's functions, every argument quoted (`apply`, `guard`), or for the read-only
//! scripts the loops of their templates (`facts`, `check`).

pub mod apply;
pub mod check;
pub mod facts;
pub mod guard;

pub use apply::{apply, ApplyScript, Run};
pub use check::{check, CheckScript};
pub use facts::{facts, facts_under};
pub use guard::{guard, guard_fire_program, GuardAction};

/// The on-host library (templates/host_lib.sh): every function the scripts call. Sent as it is, never
/// rendered.
pub const HOST_LIB: &str = include_str!("../templates/host_lib.sh");

/// Where a script's paths are. `HOST`: as they are, on a host. `under(dir)`: every path the script touches
/// is inside `dir` (tests/scripts.rs runs the scripts that way, without root): the builders prefix the paths
/// they pass, and the library prefixes its own fixed ones with `JPROV_ROOT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Root<'a>(&'a str);

impl<'a> Root<'a> {
    pub const HOST: Root<'static> = Root("");

    /// Every path under `dir`: absolute, without a trailing `/`.
    pub fn under(dir: &'a str) -> Root<'a> {
        assert!(
            dir.starts_with('/') && !dir.ends_with('/'),
            "a script root is an absolute path without a trailing /"
        );
        Root(dir)
    }

    /// A host path as the script must name it.
    pub fn path(self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// A value that a shell script cannot carry: a NUL byte (every other byte is quoted).
    #[error("the on-host script cannot carry an argument of `{function}`: it contains a NUL byte")]
    Nul { function: String },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
}

/// A word quoted for POSIX sh (shlex: unquoted when it needs no quotes). Values are validated before they
/// get here; quoting is the second fence.
fn quote(word: &str, function: &str) -> Result<String, ScriptError> {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .map_err(|_| ScriptError::Nul {
            function: function.to_string(),
        })
}

/// The lines of a script being built: comments and calls of library functions.
#[derive(Default)]
pub(crate) struct Lines {
    text: String,
}

impl Lines {
    /// `function ARG...`, each argument quoted.
    pub(crate) fn call(&mut self, function: &str, args: &[&str]) -> Result<(), ScriptError> {
        self.call_list(function, args)
    }

    /// `call` with arguments from a list.
    pub(crate) fn call_list<S: AsRef<str>>(
        &mut self,
        function: &str,
        args: impl IntoIterator<Item = S>,
    ) -> Result<(), ScriptError> {
        self.text.push_str(function);
        for arg in args {
            self.text.push(' ');
            self.text.push_str(&quote(arg.as_ref(), function)?);
        }
        self.text.push('\n');
        Ok(())
    }

    /// `NAME=VALUE`, the value quoted.
    pub(crate) fn assign(&mut self, name: &str, value: &str) -> Result<(), ScriptError> {
        self.text
            .push_str(&format!("{name}={}\n", quote(value, name)?));
        Ok(())
    }

    pub(crate) fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.text.push_str("# ");
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    /// Shell text jprov itself wrote (never a value from a profile or a host).
    pub(crate) fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// A whole script: `about` (comment lines), then one brace group holding the protocol, the library and
/// `body`.
pub(crate) fn assemble(
    about: &str,
    root: Root,
    profile: &str,
    body: &str,
) -> Result<String, ScriptError> {
    let mut head = Lines::default();
    head.comment(about);
    head.comment(
        "One brace group: sh runs none of it until it has read all of it, so a connection cut while the\n\
         script is sent runs nothing (a cut line could otherwise run as a different command).",
    );
    head.raw("{\nset -eu\n");
    head.comment("Empty on hosts; tests put every path under a directory (src/script.rs: Root).");
    head.assign("JPROV_ROOT", root.0)?;
    head.assign("PROFILE", profile)?;
    let mut text = head.into_text();
    text.push_str(&crate::protocol::shell());
    text.push_str(HOST_LIB);
    text.push_str(body);
    text.push_str("}\n");
    Ok(text)
}
