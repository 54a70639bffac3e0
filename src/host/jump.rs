//! What carries a connection through a jump host. For the profile's `workstation.jump: server`: a
//! `direct-tcpip` channel over jprov's own ssh2 session to the server (its key verified by jprov under the
//! names it pinned, no OpenSSH process), pumped to one end of a socketpair whose other end is the
//! jumped session's socket (ssh2 needs a socket for a session). For ssh's `ProxyJump`: OpenSSH's `ssh -W`.

use ssh2::{Channel, Session};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest the pump sleeps when nothing moved: short enough for a login's round trips, long enough
/// to cost nothing while a script runs for minutes.
const IDLE_MAX: Duration = Duration::from_millis(20);

/// Whatever keeps a jumped connection's bytes flowing; stopped when the connection is dropped.
pub enum Carrier {
    /// `ssh -W` (ProxyJump).
    Process(Child),
    /// A channel of jprov's own session to the hop.
    Channel(Pump),
}

impl Drop for Carrier {
    fn drop(&mut self) {
        match self {
            Carrier::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Carrier::Channel(pump) => pump.stop(),
        }
    }
}

/// The thread that copies between the hop's channel and the socketpair.
pub struct Pump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pump {
    /// A channel to `host:port` over `hop`, and the socket a session for that host uses.
    pub fn open(hop: Session, host: &str, port: u16) -> Result<(UnixStream, Pump), String> {
        let channel = hop
            .channel_direct_tcpip(host, port, None)
            .map_err(|e| format!("the server could not open a channel to {host}:{port}: {e}"))?;
        let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || pump(hop, channel, theirs, &flag));
        let pump = Pump {
            stop,
            thread: Some(thread),
        };
        Ok((ours, pump))
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copy both ways until either side ends or the connection is dropped. The hop's session is this
/// thread's alone and non-blocking; the socket is read without blocking (MSG_DONTWAIT) and written
/// blocking, so a full socket slows the channel instead of dropping bytes.
fn pump(hop: Session, mut channel: Channel, mut socket: UnixStream, stop: &AtomicBool) {
    hop.set_blocking(false);
    let mut buffer = [0u8; 32 * 1024];
    let mut idle = Duration::from_millis(1);
    while !stop.load(Ordering::SeqCst) {
        let from_hop = match channel.read(&mut buffer) {
            Ok(0) if channel.eof() => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(_) => return,
        };
        if from_hop > 0 && socket.write_all(&buffer[..from_hop]).is_err() {
            return;
        }
        let to_hop = match receive(&socket, &mut buffer) {
            Some(0) => {
                let _ = write_all(&mut channel, &[], stop);
                return;
            }
            Some(n) => n,
            None => 0,
        };
        if to_hop > 0 && write_all(&mut channel, &buffer[..to_hop], stop).is_err() {
            return;
        }
        if from_hop + to_hop == 0 {
            std::thread::sleep(idle);
            idle = (idle * 2).min(IDLE_MAX);
        } else {
            idle = Duration::from_millis(1);
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

/// All of `bytes` into the non-blocking channel (an empty slice: the socket ended, so EOF to the hop).
fn write_all(channel: &mut Channel, mut bytes: &[u8], stop: &AtomicBool) -> std::io::Result<()> {
    if bytes.is_empty() {
        while let Err(e) = channel.send_eof() {
            if e.code() != ssh2::ErrorCode::Session(-37) || stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        return Ok(());
    }
    while !bytes.is_empty() {
        match channel.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock && !stop.load(Ordering::SeqCst) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
