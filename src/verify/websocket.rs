//! The kernel websocket (`api/kernels/ID/channels`) as JupyterLab uses it: the upgrade with the login
//! cookie and the page's `Origin`, an `execute_request` on the shell channel, and the kernel's `stream`
//! output read back (Jupyter's JSON messages, protocol 5.3). Only this catches a proxy that drops the
//! websocket headers: login and starting a kernel pass without them.

use super::http::{Client, Stream};
use std::time::{Duration, Instant};
use tungstenite::{ClientRequestBuilder, Message};

/// How long a kernel may take to answer (a cold kernel needs a few seconds).
pub const EXECUTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the code did not come back.
#[derive(Debug)]
pub enum Failure {
    /// The upgrade was answered with this HTTP status (a proxy without the Upgrade headers: 400).
    Refused(u16),
    Other(String),
}

/// Runs `code` in kernel `id` and returns its stream output once it contains `expect`.
pub fn execute(client: &Client, id: &str, code: &str, expect: &str) -> Result<String, Failure> {
    let mut socket = open(client, id)?;
    let session = random_hex();
    let msg_id = random_hex();
    let request = execute_request(&session, &msg_id, code);
    (socket.send(Message::text(request.to_string())))
        .map_err(|e| Failure::Other(format!("cannot send execute_request: {e}")))?;
    let outcome = read_output(&mut socket, &msg_id, expect);
    let _ = socket.close(None);
    let _ = socket.flush();
    outcome
}

fn open(client: &Client, id: &str) -> Result<tungstenite::WebSocket<Stream>, Failure> {
    let url = &client.endpoint.url;
    let scheme = match url.scheme {
        super::target::Scheme::Https => "wss",
        super::target::Scheme::Http => "ws",
    };
    let uri = format!(
        "{scheme}://{}{}api/kernels/{id}/channels?session_id={}",
        url.authority(),
        url.base,
        random_hex()
    );
    let uri = uri
        .parse()
        .map_err(|e| Failure::Other(format!("{uri}: {e}")))?;
    let mut request = ClientRequestBuilder::new(uri)
        .with_header("Cookie", client.cookie_header())
        .with_header("Origin", url.origin())
        .with_header("User-Agent", "jprov-verify");
    if let Some(authorization) = &client.authorization {
        request = request.with_header("Authorization", authorization.clone());
    }
    let stream = client.endpoint.open().map_err(Failure::Other)?;
    match tungstenite::client(request, stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Err(Failure::Refused(response.status().as_u16()))
        }
        Err(e) => Err(Failure::Other(format!(
            "the websocket handshake failed: {e}"
        ))),
    }
}

/// Reads the kernel's messages until the reply to `msg_id` printed `expect`, or the time is up.
fn read_output(
    socket: &mut tungstenite::WebSocket<Stream>,
    msg_id: &str,
    expect: &str,
) -> Result<String, Failure> {
    let deadline = Instant::now() + EXECUTE_TIMEOUT;
    let mut seen: Vec<String> = vec![];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let seen = seen.join(", ");
            return Err(Failure::Other(format!(
                "no output {expect:?} within {} s (messages seen: {seen})",
                EXECUTE_TIMEOUT.as_secs()
            )));
        }
        let _ = socket.get_ref().tcp().set_read_timeout(Some(left));
        let text = match socket.read() {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => {
                return Err(Failure::Other("the server closed the websocket".into()))
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                continue
            }
            Err(e) => return Err(Failure::Other(format!("the websocket failed: {e}"))),
        };
        let message: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        let kind = message["header"]["msg_type"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        if message["parent_header"]["msg_id"] != msg_id {
            continue;
        }
        match kind.as_str() {
            "stream"
                if message["content"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains(expect) =>
            {
                return Ok(message["content"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .trim()
                    .to_string())
            }
            "error" => {
                let content = &message["content"];
                return Err(Failure::Other(format!(
                    "the kernel raised {}: {}",
                    content["ename"].as_str().unwrap_or("?"),
                    content["evalue"].as_str().unwrap_or("")
                )));
            }
            _ => seen.push(kind),
        }
    }
}

/// Jupyter's `execute_request` (messaging protocol 5.3) on the shell channel.
fn execute_request(session: &str, msg_id: &str, code: &str) -> serde_json::Value {
    serde_json::json!({
        "header": {
            "msg_id": msg_id, "username": "jprov-verify", "session": session,
            "msg_type": "execute_request", "version": "5.3",
        },
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {
            "code": code, "silent": false, "store_history": false, "user_expressions": {},
            "allow_stdin": false, "stop_on_error": true,
        },
    })
}

/// 128 random bits in hex: message and session ids.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system gives random bytes");
    hex::encode(bytes)
}
