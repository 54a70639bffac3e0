//! HTTP/1.1 as verify speaks it: one request per connection (`Connection: close`), no redirect
//! followed, every `Set-Cookie` kept with its attributes, and over TLS only on a connection whose
//! certificate `tls::Peer::acceptable` admits.

use super::target::{Scheme, Url};
use super::tls;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for a TCP connection, and for each read or write.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The largest response verify reads (a login page is a few KiB).
const MAX_RESPONSE: usize = 4 << 20;

/// A TCP stream, in plain text or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// The first address of `addresses` that accepts a TCP connection within `timeout`.
pub fn connect(addresses: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for address in addresses {
        match TcpStream::connect_timeout(address, timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(TIMEOUT))?;
                tcp.set_write_timeout(Some(TIMEOUT))?;
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `host:port`'s addresses.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// Where requests go: the URL's addresses, and the TLS client that admits the connection.
pub struct Endpoint {
    pub url: Url,
    pub addresses: Vec<SocketAddr>,
    pub tls: Option<tls::Client>,
}

impl Endpoint {
    /// A new connection, over TLS when the URL is https; refused when the certificate is not acceptable.
    pub fn open(&self) -> Result<Stream, String> {
        let tcp = connect(&self.addresses, TIMEOUT).map_err(|e| format!("cannot connect: {e}"))?;
        match (&self.tls, self.url.scheme) {
            (Some(client), Scheme::Https) => {
                let (stream, peer) = client.handshake(tcp, &self.url.host)?;
                if !peer.acceptable(&client.trust, &self.url.host) {
                    return Err(
                        "the server's certificate is not acceptable (see the tls checks); \
                                nothing was sent"
                            .into(),
                    );
                }
                Ok(Stream::Tls(Box::new(stream)))
            }
            _ => Ok(Stream::Plain(tcp)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        (self.headers.iter())
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    pub fn location(&self) -> &str {
        self.header("Location").unwrap_or("")
    }
}

/// One request: `head` is the request line and headers without the final blank line.
pub fn exchange(stream: &mut Stream, head: &str, body: &[u8]) -> Result<Response, String> {
    let mut request = format!("{head}\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    stream
        .write_all(&request)
        .map_err(|e| format!("cannot send the request: {e}"))?;
    read_response(stream)
}

/// Reads until the response is complete by its own framing (Content-Length, chunked, or the end of the
/// stream), so a TLS peer that closes without close_notify loses nothing.
fn read_response(stream: &mut impl Read) -> Result<Response, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(response) = parse(&buf, false)? {
            return Ok(response);
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if buf.is_empty() => return Err(format!("no response: {e}")),
            // A peer gone without close_notify: what came is all there is.
            Err(_) => 0,
        };
        if n == 0 {
            return parse(&buf, true)?.ok_or_else(|| match buf.is_empty() {
                true => "the server closed the connection without a response".to_string(),
                false => "the response was cut off".to_string(),
            });
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(format!("the response is larger than {MAX_RESPONSE} bytes"));
        }
    }
}

/// The response in `buf` if it is complete (`ended`: nothing more will come).
fn parse(buf: &[u8], ended: bool) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut head = httparse::Response::new(&mut headers);
    let size = match head.parse(buf) {
        Ok(httparse::Status::Complete(size)) => size,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("not an HTTP response ({e})")),
    };
    let status = head.code.unwrap_or(0);
    let headers: Vec<(String, String)> = (head.headers.iter())
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &buf[size..];
    let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Some(vec![])
    } else if find("Transfer-Encoding")
        .is_some_and(|(_, v)| v.to_ascii_lowercase().contains("chunked"))
    {
        dechunk(rest)?
    } else if let Some((_, length)) = find("Content-Length") {
        let length: usize = length.trim().parse().map_err(|_| "a bad Content-Length")?;
        (rest.len() >= length).then(|| rest[..length].to_vec())
    } else {
        ended.then(|| rest.to_vec())
    };
    Ok(body.map(|body| Response {
        status,
        headers,
        body,
    }))
}

/// A chunked body, once its last chunk is in `data`.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = vec![];
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&data[..end]);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        let start = end + 2;
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < start + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// A cookie as the server set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub secure: bool,
    pub http_only: bool,
    /// The server removes it (an empty value, or `Max-Age=0`).
    pub removed: bool,
}

impl Cookie {
    /// A `Set-Cookie` value.
    pub fn parse(set_cookie: &str) -> Option<Cookie> {
        let mut parts = set_cookie.split(';').map(str::trim);
        let (name, value) = parts.next()?.split_once('=')?;
        let mut cookie = Cookie {
            name: name.trim().to_string(),
            value: value.trim().trim_matches('"').to_string(),
            secure: false,
            http_only: false,
            removed: false,
        };
        for attribute in parts {
            let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "secure" => cookie.secure = true,
                "httponly" => cookie.http_only = true,
                "max-age" if value.trim() == "0" => cookie.removed = true,
                _ => {}
            }
        }
        cookie.removed |= cookie.value.is_empty();
        Some(cookie)
    }
}

/// Which basic-auth credentials a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth<'a> {
    /// The client's own (none when it has none).
    Own,
    None,
    /// This `Authorization` value instead.
    Header(&'a str),
}

/// A browser's worth of state against one endpoint: its cookies and basic-auth credentials.
pub struct Client<'e> {
    pub endpoint: &'e Endpoint,
    pub cookies: Vec<Cookie>,
    /// `Basic ...`, sent with every request (`Auth::Own`) once set.
    pub authorization: Option<String>,
}

impl<'e> Client<'e> {
    pub fn new(endpoint: &'e Endpoint) -> Client<'e> {
        Client {
            endpoint,
            cookies: vec![],
            authorization: None,
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&Cookie> {
        self.cookies.iter().find(|c| c.name == name)
    }

    /// The `Cookie` header's value.
    pub fn cookie_header(&self) -> String {
        (self.cookies.iter())
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `METHOD base+path` with the cookies, the credentials `auth` says, `headers` and `body`.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        auth: Auth,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Response, String> {
        let url = &self.endpoint.url;
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: jprov-verify\r\n\
             Accept: */*",
            url.base,
            url.authority()
        );
        if !self.cookies.is_empty() {
            head.push_str(&format!("\r\nCookie: {}", self.cookie_header()));
        }
        let authorization = match auth {
            Auth::Own => self.authorization.as_deref(),
            Auth::None => None,
            Auth::Header(value) => Some(value),
        };
        if let Some(value) = authorization {
            head.push_str(&format!("\r\nAuthorization: {value}"));
        }
        for (name, value) in headers {
            head.push_str(&format!("\r\n{name}: {value}"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("\r\nContent-Length: {}", body.len()));
        }
        let mut stream = self.endpoint.open()?;
        let response = exchange(&mut stream, &head, body)?;
        self.keep_cookies(&response);
        Ok(response)
    }

    fn keep_cookies(&mut self, response: &Response) {
        for cookie in response.all("Set-Cookie").filter_map(Cookie::parse) {
            self.cookies.retain(|c| c.name != cookie.name);
            if !cookie.removed {
                self.cookies.push(cookie);
            }
        }
    }
}

#[cfg(test)]
mod tests;
