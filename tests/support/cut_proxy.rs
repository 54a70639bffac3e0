//! A TCP proxy on loopback that cuts a connection after a given number of bytes, to prove what happens when
//! jprov's SSH connection dies at any point of an apply.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Forwards `127.0.0.1:port()` to `127.0.0.1:upstream`. After `arm(limit)`, the next connection is counted
/// (both directions) and, with a limit, cut (both directions shut down) once that many bytes crossed it;
/// every other connection passes untouched.
pub struct CutProxy {
    port: u16,
    next: Arc<Mutex<Option<Counted>>>,
    counted: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Counted {
    bytes: Arc<AtomicU64>,
    limit: Option<u64>,
}

impl CutProxy {
    pub fn start(upstream: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let next: Arc<Mutex<Option<Counted>>> = Arc::new(Mutex::new(None));
        let pending = next.clone();
        // The accept loop lives as long as the test process: the listener goes with it.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let counted = pending.lock().unwrap().take().unwrap_or(Counted {
                    bytes: Arc::new(AtomicU64::new(0)),
                    limit: None,
                });
                pump_both(client, server, counted);
            }
        });
        CutProxy {
            port,
            next,
            counted: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Count the next connection, and cut it after `limit` bytes (both directions) when given.
    pub fn arm(&mut self, limit: Option<u64>) {
        self.counted = Arc::new(AtomicU64::new(0));
        *self.next.lock().unwrap() = Some(Counted {
            bytes: self.counted.clone(),
            limit,
        });
    }

    /// Bytes that crossed the last counted connection (both directions), up to its cut.
    pub fn counted_bytes(&self) -> u64 {
        self.counted.load(Ordering::SeqCst)
    }
}

fn pump_both(client: TcpStream, server: TcpStream, counted: Counted) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let ends = [client.try_clone().unwrap(), server.try_clone().unwrap()];
    let cut = Arc::new(move || {
        for end in &ends {
            let _ = end.shutdown(Shutdown::Both);
        }
    });
    for (from, to) in [
        (client.try_clone().unwrap(), server.try_clone().unwrap()),
        (server, client),
    ] {
        let (counted, cut) = (counted.clone(), cut.clone());
        std::thread::spawn(move || pump(from, to, &counted, &*cut));
    }
}

/// Copy `from` to `to` until EOF; once the shared count reaches the limit, forward only what fits and cut.
fn pump(mut from: TcpStream, mut to: TcpStream, counted: &Counted, cut: &dyn Fn()) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n as u64,
        };
        let before = counted.bytes.fetch_add(n, Ordering::SeqCst);
        let allowed = match counted.limit {
            Some(limit) => n.min(limit.saturating_sub(before)),
            None => n,
        };
        if allowed > 0 && to.write_all(&buffer[..allowed as usize]).is_err() {
            break;
        }
        if counted.limit.is_some_and(|limit| before + n >= limit) {
            counted.bytes.store(before + allowed, Ordering::SeqCst);
            cut();
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
