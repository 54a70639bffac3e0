//! A logged-in SSH session that several threads share: the scripts of every profile that logs in to the
//! same host as the same user, and the channels that carry jumped connections through it. After login the
//! session is non-blocking, so no thread holds it while it waits: each call that would block gives the
//! session back and waits for its socket (libssh2 resumes a half-sent packet only for the call that
//! started it, so every caller here retries its own call until it completes).

use crate::host::exec::{ExecOutput, TransportError};
use crate::host::jump::Carrier;
use crate::host::known_hosts::HostKey;
use ssh2::{Channel, Session};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::RawFd;
use std::time::Duration;

/// The longest one wait for the socket lasts. Another thread on the same session may have read what
/// arrived for this one (libssh2 files every packet it reads under its channel), and then the socket stays
/// quiet: a waiter looks again after a millisecond while its channel is busy, backing off to this when idle.
const WAIT_MAX: Duration = Duration::from_millis(10);

/// sshd's `MaxSessions` is 10 by default: more session channels at once on one connection are refused.
/// jprov keeps below it (jumps are direct-tcpip channels, which the limit does not count).
const MAX_SESSION_CHANNELS: usize = 8;

/// How long the next wait may last: a millisecond after something moved, doubling to `WAIT_MAX` while
/// nothing does.
pub(super) struct Backoff(Duration);

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff(Duration::from_millis(1))
    }

    pub(super) fn moved(&mut self) {
        self.0 = Duration::from_millis(1);
    }

    pub(super) fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(WAIT_MAX);
        now
    }
}

/// libssh2's LIBSSH2_ERROR_EAGAIN.
const EAGAIN: ssh2::ErrorCode = ssh2::ErrorCode::Session(-37);

pub struct SshConnection {
    session: Session,
    /// The socket the session speaks over (TCP, or the socketpair of a jump), to wait on.
    socket: RawFd,
    host_key: HostKey,
    display: String,
    /// Held for each libssh2 call (`locked`).
    io: std::sync::Mutex<()>,
    /// Held while a channel is being opened and started: libssh2 keeps the state of an open in progress
    /// in the session, not the channel, and takes any reply of the type it waits for as its own.
    opening: std::sync::Mutex<()>,
    /// Session channels open now (`MAX_SESSION_CHANNELS` at most), and the waiters for one.
    session_channels: (std::sync::Mutex<usize>, std::sync::Condvar),
    /// Held by whoever changes the host (an apply script and its guard): one profile at a time.
    changes: std::sync::Arc<std::sync::Mutex<()>>,
    /// What carries a jumped connection, held for its lifetime: dropped after the session (which says
    /// goodbye through it), it stops.
    _carrier: Option<Carrier>,
}

impl SshConnection {
    /// A session that has logged in, made shareable: non-blocking from now on.
    pub(super) fn new(
        session: Session,
        socket: RawFd,
        host_key: HostKey,
        display: String,
        carrier: Option<Carrier>,
    ) -> SshConnection {
        session.set_blocking(false);
        SshConnection {
            session,
            socket,
            host_key,
            display,
            io: Default::default(),
            opening: Default::default(),
            session_channels: Default::default(),
            changes: Default::default(),
            _carrier: carrier,
        }
    }

    /// A place among the session channels sshd allows at once, held until the channel is closed.
    fn session_slot(&self) -> SessionSlot<'_> {
        let (count, freed) = &self.session_channels;
        let mut open = count.lock().expect("session channels");
        while *open >= MAX_SESSION_CHANNELS {
            open = freed.wait(open).expect("session channels");
        }
        *open += 1;
        SessionSlot(&self.session_channels)
    }

    /// The lock of those who change the host through this session.
    pub(super) fn changes(&self) -> std::sync::Arc<std::sync::Mutex<()>> {
        self.changes.clone()
    }

    /// `user@host:port` with the port ssh's config resolved.
    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn host_key(&self) -> &HostKey {
        &self.host_key
    }

    /// `call` (one libssh2 call on this session or one of its channels) while no other thread makes one.
    /// ssh2 locks the session for most calls but not all (a channel is freed without it, and libssh2 then
    /// edits the session's lists another thread may be reading): this lock covers every call jprov makes.
    pub(super) fn locked<T>(&self, call: impl FnOnce() -> T) -> T {
        let _held = self
            .io
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        call()
    }

    /// A channel of this session that is freed under its lock when dropped.
    pub(super) fn adopt(&self, channel: Channel) -> SharedChannel<'_> {
        SharedChannel {
            channel: Some(channel),
            on: self,
        }
    }

    /// Wait until the session's socket is ready for what libssh2 last wanted, or the backoff's time.
    pub(super) fn wait(&self, backoff: &mut Backoff) {
        let directions = self.locked(|| self.session.block_directions());
        let mut events = 0;
        if matches!(
            directions,
            ssh2::BlockDirections::Inbound | ssh2::BlockDirections::Both
        ) {
            events |= libc::POLLIN;
        }
        if matches!(
            directions,
            ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
        ) {
            events |= libc::POLLOUT;
        }
        wait_for_quick(&[(self.socket, events | libc::POLLIN)], backoff.next());
    }

    /// `call` until it no longer says it would block.
    pub(super) fn retry<T>(
        &self,
        mut call: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, ssh2::Error> {
        let mut backoff = Backoff::new();
        loop {
            match self.locked(&mut call) {
                Err(e) if e.code() == EAGAIN => self.wait(&mut backoff),
                done => return done,
            }
        }
    }

    /// A `direct-tcpip` channel to `host:port` from the host this session is logged in to.
    pub(super) fn open_direct_tcpip(&self, host: &str, port: u16) -> Result<Channel, ssh2::Error> {
        let _one_at_a_time = self.opening.lock().expect("opening");
        self.retry(|| self.session.channel_direct_tcpip(host, port, None))
    }

    pub(super) fn socket(&self) -> RawFd {
        self.socket
    }

    pub fn exec(&self, command: &str, input: &[u8]) -> Result<ExecOutput, TransportError> {
        self.exec_watching(command, input, &mut |_| {})
    }

    /// Run `command` with `input` on its stdin; each line of stdout is handed to `on_line` as it arrives
    /// (apply's progress). Input is written while output is read, so a script that prints before it has
    /// read all of itself never waits on a full window.
    pub fn exec_watching(
        &self,
        command: &str,
        input: &[u8],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<ExecOutput, TransportError> {
        let fail = |e: &dyn std::fmt::Display| TransportError::Exec {
            target: self.display.clone(),
            reason: e.to_string(),
        };
        let _slot = self.session_slot();
        let mut channel = self.start(command).map_err(|e| fail(&e))?;
        let (stdout, stderr) = self
            .exchange(&mut channel, input, on_line)
            .map_err(|e| fail(&e))?;
        self.retry(|| channel.wait_close()).map_err(|e| fail(&e))?;
        let status = self.locked(|| channel.exit_status());
        Ok(ExecOutput {
            status: status.map_err(|e| fail(&e))?,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// A session channel running `command`, opened and started while no other channel is: libssh2 takes
    /// the first reply of the right type (an open confirmation, a channel success) as its own even when it
    /// is another channel's, so two channels starting at once would fail each other.
    fn start(&self, command: &str) -> Result<SharedChannel<'_>, ssh2::Error> {
        let _one_at_a_time = self.opening.lock().expect("opening");
        let mut channel = self.adopt(self.retry(|| self.session.channel_session())?);
        self.retry(|| channel.exec(command))?;
        Ok(channel)
    }

    /// Write `input` (then EOF) and read stdout and stderr until both end.
    fn exchange(
        &self,
        channel: &mut Channel,
        input: &[u8],
        on_line: &mut dyn FnMut(&str),
    ) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        let (mut written, mut eof_sent) = (0, false);
        let mut stdout = Lines::default();
        let mut stderr = Vec::new();
        let (mut stdout_ended, mut stderr_ended) = (false, false);
        let mut buffer = [0u8; 32 * 1024];
        let mut backoff = Backoff::new();
        while !(eof_sent && stdout_ended && stderr_ended) {
            let mut moved = false;
            if written < input.len() {
                if let Some(n) = would_block(self.locked(|| channel.write(&input[written..])))? {
                    written += n;
                    moved = true;
                }
            } else if !eof_sent {
                match self.locked(|| channel.send_eof()) {
                    Ok(()) => eof_sent = true,
                    Err(e) if e.code() == EAGAIN => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !stdout_ended {
                match would_block(self.locked(|| channel.read(&mut buffer)))? {
                    Some(0) => stdout_ended = true,
                    Some(n) => {
                        stdout.add(&buffer[..n], on_line);
                        moved = true;
                    }
                    None => {}
                }
            }
            if !stderr_ended {
                match would_block(self.locked(|| channel.stderr().read(&mut buffer)))? {
                    Some(0) => stderr_ended = true,
                    Some(n) => {
                        stderr.extend_from_slice(&buffer[..n]);
                        moved = true;
                    }
                    None => {}
                }
            }
            match moved {
                true => backoff.moved(),
                false => self.wait(&mut backoff),
            }
        }
        Ok((stdout.all, stderr))
    }
}

/// A channel of a shared session (`SshConnection::adopt`), freed under the session's lock.
pub(super) struct SharedChannel<'a> {
    channel: Option<Channel>,
    on: &'a SshConnection,
}

impl std::ops::Deref for SharedChannel<'_> {
    type Target = Channel;
    fn deref(&self) -> &Channel {
        self.channel.as_ref().expect("a channel until dropped")
    }
}

impl std::ops::DerefMut for SharedChannel<'_> {
    fn deref_mut(&mut self) -> &mut Channel {
        self.channel.as_mut().expect("a channel until dropped")
    }
}

impl Drop for SharedChannel<'_> {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take() {
            self.on.locked(|| drop(channel));
        }
    }
}

/// A session channel's place (`SshConnection::session_slot`), given back when dropped.
struct SessionSlot<'a>(&'a (std::sync::Mutex<usize>, std::sync::Condvar));

impl Drop for SessionSlot<'_> {
    fn drop(&mut self) {
        let (count, freed) = self.0;
        *count.lock().expect("session channels") -= 1;
        freed.notify_one();
    }
}

/// `Ok(None)` for a call that would block, its result otherwise.
fn would_block(result: std::io::Result<usize>) -> std::io::Result<Option<usize>> {
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Acknowledge what arrives next at once. Linux delays an ACK up to 40 ms when the connection looks
/// interactive (it does after every request we send), and sshd, which leaves Nagle's algorithm on for a
/// session without a terminal, holds a small reply until its previous segment is acknowledged: the first
/// channel's confirmation after the login waited 40 ms behind the packets sshd sends right after it (sshd
/// waiting in poll for our next request all that time). The flag does not stick (the next request makes
/// the connection interactive again), so it is set before every wait. A socketpair (a jump's) refuses it,
/// harmlessly: there the stall is between the jump host's sshd and the workstation's, out of our reach.
fn quick_ack(socket: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: a plain int option on a descriptor this session owns.
    unsafe {
        libc::setsockopt(
            socket,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// `wait_for`, each descriptor first told to acknowledge what arrives next at once (`quick_ack`).
pub(super) fn wait_for_quick(fds: &[(RawFd, libc::c_short)], timeout: Duration) {
    for &(fd, _) in fds {
        quick_ack(fd);
    }
    wait_for(fds, timeout);
}

/// Wait until one of `fds` is ready for its events, or `timeout`.
pub(super) fn wait_for(fds: &[(RawFd, libc::c_short)], timeout: Duration) {
    let mut polled: Vec<libc::pollfd> = (fds.iter())
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `polled` is a valid array of `polled.len()` pollfd structs for the duration of the call.
    unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, millis) };
}

/// Output collected whole, with each complete line also handed on as it arrives.
#[derive(Default)]
pub(super) struct Lines {
    all: Vec<u8>,
    line_start: usize,
}

impl Lines {
    pub(super) fn add(&mut self, bytes: &[u8], on_line: &mut dyn FnMut(&str)) {
        self.all.extend_from_slice(bytes);
        while let Some(end) = self.all[self.line_start..].iter().position(|b| *b == b'\n') {
            on_line(&String::from_utf8_lossy(
                &self.all[self.line_start..self.line_start + end],
            ));
            self.line_start += end + 1;
        }
    }
}

/// Everything `reader` gives until its end, each complete line also handed to `on_line` as it arrives.
pub(super) fn read_lines(
    reader: &mut dyn Read,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<Vec<u8>> {
    let mut lines = Lines::default();
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            return Ok(lines.all);
        }
        lines.add(&chunk[..n], on_line);
    }
}

/// All of `bytes` into a channel of a non-blocking session.
pub(super) fn write_channel(
    connection: &SshConnection,
    channel: &mut Channel,
    mut bytes: &[u8],
) -> std::io::Result<()> {
    let mut backoff = Backoff::new();
    while !bytes.is_empty() {
        match would_block(connection.locked(|| channel.write(bytes)))? {
            Some(n) => bytes = &bytes[n..],
            None => connection.wait(&mut backoff),
        }
    }
    Ok(())
}
