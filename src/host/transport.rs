//! The imperative shell: the only code that touches hosts. A transport runs a script on one host.

use crate::host::exec::{ExecOutput, TransportError};
use crate::host::known_hosts::HostKey;
use crate::host::session::SshConnection;
use std::io::Write;
use std::process::{Command, Stdio};

pub enum Transport {
    /// A session that other profiles' hosts and jumps may share (one per login).
    Ssh(std::sync::Arc<SshConnection>),
    /// jprov runs on this host itself.
    Local,
}

impl Transport {
    /// Run a POSIX sh script (fed on stdin to `sh -s`), through `sudo -n` when asked.
    pub fn run_script(&self, script: &str, sudo: bool) -> Result<ExecOutput, TransportError> {
        self.run_script_watching(script, sudo, &mut |_| {})
    }

    /// `run_script`, with each line of stdout handed to `on_line` as the script prints it.
    pub fn run_script_watching(
        &self,
        script: &str,
        sudo: bool,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<ExecOutput, TransportError> {
        let command = if sudo { "sudo -n sh -s" } else { "sh -s" };
        match self {
            Transport::Ssh(connection) => {
                connection.exec_watching(command, script.as_bytes(), on_line)
            }
            Transport::Local => run_local(command, script.as_bytes(), on_line),
        }
    }

    /// The host key verified at connection time.
    pub fn host_key(&self) -> Option<&HostKey> {
        match self {
            Transport::Ssh(connection) => Some(connection.host_key()),
            Transport::Local => None,
        }
    }
}

fn run_local(
    command: &str,
    input: &[u8],
    on_line: &mut dyn FnMut(&str),
) -> Result<ExecOutput, TransportError> {
    let fail = |e: std::io::Error| TransportError::Exec {
        target: "this machine".into(),
        reason: e.to_string(),
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(fail)?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    // Write from another thread so a chatty script can't deadlock against a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut text).map(|_| text)
    });
    let mut stdout = child.stdout.take().expect("piped");
    let out = crate::host::session::read_lines(&mut stdout, on_line).map_err(fail)?;
    let status = child.wait().map_err(fail)?;
    let _ = writer.join();
    let err = errors.join().expect("stderr reader").map_err(fail)?;
    Ok(ExecOutput {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}
