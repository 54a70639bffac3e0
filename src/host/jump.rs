//! What carries a jumped connection: a `direct-tcpip` channel of the session jprov already has to the hop
//! (the server for `workstation.jump: server`, each hop of ssh's `ProxyJump` in turn), its key verified by
//! jprov under the names it pinned, pumped to one end of a socketpair whose other end is the jumped
//! session's socket (ssh2 needs a socket for a session). No second login to the hop, no OpenSSH process.

use crate::host::session::{self, SshConnection};
use ssh2::Channel;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Whatever keeps a jumped connection's bytes flowing; stopped when the connection is dropped.
pub struct Carrier {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Carrier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Carrier {
    /// A channel to `host:port` over `hop`, and the socket a session for that host uses.
    pub fn open(
        hop: Arc<SshConnection>,
        host: &str,
        port: u16,
    ) -> Result<(UnixStream, Carrier), String> {
        let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
        // From here on the channel is the pump's, which frees it under the hop's lock.
        let channel = hop.open_direct_tcpip(host, port).map_err(|e| {
            format!(
                "{} could not open a channel to {host}:{port}: {e}",
                hop.display()
            )
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || pump(&hop, channel, theirs, &flag));
        let carrier = Carrier {
            stop,
            thread: Some(thread),
        };
        Ok((ours, carrier))
    }
}

/// Copy both ways until either side ends or the connection is dropped. The socket is read without
/// blocking (MSG_DONTWAIT) and written blocking, so a full socket slows the channel instead of dropping
/// bytes; the hop's session is shared and non-blocking.
fn pump(hop: &SshConnection, channel: Channel, mut socket: UnixStream, stop: &AtomicBool) {
    let mut channel = hop.adopt(channel);
    let mut buffer = [0u8; 32 * 1024];
    // Another thread on the hop's session may read what arrives for this channel, and then the socket
    // stays quiet: look again soon while bytes move (a login's round trips), rarely when idle.
    let mut backoff = session::Backoff::new();
    while !stop.load(Ordering::SeqCst) {
        let read = hop.locked(|| channel.read(&mut buffer).map(|n| (n, channel.eof())));
        let from_hop = match read {
            Ok((0, true)) => return,
            Ok((n, _)) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(_) => return,
        };
        if from_hop > 0 && socket.write_all(&buffer[..from_hop]).is_err() {
            return;
        }
        let to_hop = match receive(&socket, &mut buffer) {
            Some(0) => {
                let _ = hop.retry(|| channel.send_eof());
                return;
            }
            Some(n) => n,
            None => 0,
        };
        if to_hop > 0 && session::write_channel(hop, &mut channel, &buffer[..to_hop]).is_err() {
            return;
        }
        match from_hop + to_hop {
            0 => session::wait_for_quick(
                &[
                    (socket.as_raw_fd(), libc::POLLIN),
                    (hop.socket(), libc::POLLIN),
                ],
                backoff.next(),
            ),
            _ => backoff.moved(),
        }
    }
}

/// What the socket holds now without waiting: `Some(0)` at its end, `None` when nothing is there.
fn receive(socket: &UnixStream, buffer: &mut [u8]) -> Option<usize> {
    // SAFETY: recv writes at most buffer.len() bytes into buffer, which outlives the call.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            libc::MSG_DONTWAIT,
        )
    };
    match n {
        n if n >= 0 => Some(n as usize),
        _ if std::io::Error::last_os_error().kind() == ErrorKind::WouldBlock => None,
        _ => Some(0),
    }
}
