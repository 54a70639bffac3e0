//! The imperative shell: the only code that touches hosts. A transport runs a script on one host.

use crate::host::exec::{ExecOutput, TransportError};
use crate::host::known_hosts::HostKey;
use crate::host::ssh::SshConnection;
use std::io::Write;
use std::process::{Command, Stdio};

pub enum Transport {
    Ssh(Box<SshConnection>),
    /// jprov runs on this host itself.
    Local,
}

impl Transport {
    /// Run a POSIX sh script (fed on stdin to `sh -s`), through `sudo -n` when asked.
    pub fn run_script(&mut self, script: &str, sudo: bool) -> Result<ExecOutput, TransportError> {
        let command = if sudo { "sudo -n sh -s" } else { "sh -s" };
        match self {
            Transport::Ssh(connection) => connection.exec(command, script.as_bytes()),
            Transport::Local => run_local(command, script.as_bytes()),
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

fn run_local(command: &str, input: &[u8]) -> Result<ExecOutput, TransportError> {
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
    let output = child.wait_with_output().map_err(fail)?;
    let _ = writer.join();
    Ok(ExecOutput {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
