//! The checks below HTTP: the name, the TCP connection, TLS (trust, name, expiry, protocol), plain http
//! on the same host, and the ports that must stay closed.

use super::super::http::{self, Stream};
use super::super::report::Check;
use super::super::target::{authority, Scheme, Target};
use super::super::tls::{self, show_fingerprint, Peer, Trust, EXPIRY_WARNING_DAYS};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the connection to the URL may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn resolve(target: &Target, checks: &mut Vec<Check>) -> Option<Vec<SocketAddr>> {
    let url = &target.url;
    match http::resolve(&url.host, url.port) {
        Ok(addresses) if !addresses.is_empty() => {
            let shown: Vec<String> = addresses
                .iter()
                .take(4)
                .map(|a| a.ip().to_string())
                .collect();
            let reason = match url.host.parse::<IpAddr>() {
                Ok(_) => format!("{} is an address: nothing to resolve", url.host),
                Err(_) => format!("{} is {}", url.host, shown.join(", ")),
            };
            checks.push(Check::pass("resolve", reason));
            Some(addresses)
        }
        outcome => {
            let why = outcome
                .err()
                .map_or("no address".to_string(), |e| e.to_string());
            checks.push(Check::fail(
                "resolve",
                format!("{} does not resolve here: {why}", url.host),
                "the name must resolve, wherever collaborators are, to the address that serves it (public \
                 DNS; without it, each machine's hosts file)",
            ));
            None
        }
    }
}

pub fn connect(
    target: &Target,
    addresses: &[SocketAddr],
    checks: &mut Vec<Check>,
) -> Option<TcpStream> {
    let url = &target.url;
    match http::connect(addresses, CONNECT_TIMEOUT) {
        Ok(tcp) => {
            let peer = tcp.peer_addr().map_or(url.host.clone(), |a| a.to_string());
            checks.push(Check::pass(
                "connect",
                format!("{peer} accepts connections"),
            ));
            Some(tcp)
        }
        Err(e) => {
            let reason = format!(
                "{}:{} does not accept a connection from here: {e}",
                url.host, url.port
            );
            checks.push(Check::fail("connect", reason, target.down_fix.clone()));
            None
        }
    }
}

/// The TLS checks of the first handshake; whether requests may go over such connections.
pub fn tls(target: &Target, client: &tls::Client, tcp: TcpStream, checks: &mut Vec<Check>) -> bool {
    let host = &target.url.host;
    let peer = match client.handshake(tcp, host) {
        Ok((_, peer)) => peer,
        Err(e) => {
            checks.push(Check::fail(
                "tls-trust",
                format!("{}: {e}", target.url.authority()),
                "the port must speak TLS 1.2 or later: is it the URL the profile exposes, and is the \
                 service there jprov's? (`jprov plan PROFILE`)",
            ));
            for name in ["tls-name", "tls-expiry", "tls-protocol"] {
                checks.push(Check::skip(name, "skipped: no TLS handshake"));
            }
            return false;
        }
    };
    checks.push(trust(&peer, &client.trust));
    checks.push(name(&peer, host));
    checks.push(expiry(&peer));
    checks.push(protocol(&peer));
    peer.acceptable(&client.trust, host)
}

fn trust(peer: &Peer, trust: &Trust) -> Check {
    let served = show_fingerprint(&peer.fingerprint);
    let roots = match trust {
        Trust::System => "the system's roots".to_string(),
        Trust::CaFile(file) => file.display().to_string(),
        Trust::Fingerprint(pin) if *pin == peer.fingerprint => {
            return Check::pass("tls-trust", format!("the certificate is the pinned one (SHA-256 {served})"))
        }
        Trust::Fingerprint(pin) => {
            return Check::fail(
                "tls-trust",
                format!("the server's certificate has SHA-256 {served}, not the pinned {}", show_fingerprint(pin)),
                "another certificate is served: a renewed one (apply makes a new self-signed certificate \
                 when fewer than 30 days are left, and prints its fingerprint), or another server; compare \
                 with `openssl x509 -fingerprint -sha256 -noout -in FULLCHAIN` on the host",
            )
        }
    };
    match &peer.chain {
        Ok(()) => Check::pass(
            "tls-trust",
            format!("the chain verifies against {roots} (issuer: {})", peer.issuer),
        ),
        Err(why) => Check::fail(
            "tls-trust",
            format!(
                "the chain does not verify against {roots}: {why} (issuer: {}; served certificate's SHA-256: \
                 {served})",
                peer.issuer
            ),
            "a self-signed certificate: compare the fingerprint with the one `jprov apply` printed, then pass \
             --fingerprint FINGERPRINT (or --ca-file with a copy of the certificate); a private CA's: \
             --ca-file ITS-ROOT.pem; Let's Encrypt's: the server serves a chain browsers cannot verify \
             (`jprov plan PROFILE`)",
        ),
    }
}

fn name(peer: &Peer, host: &str) -> Check {
    let mut names: Vec<String> = peer.dns_names.iter().map(|n| format!("DNS:{n}")).collect();
    names.extend(peer.ip_addresses.iter().map(|ip| format!("IP:{ip}")));
    let listed = match (names.is_empty(), &peer.common_name) {
        (true, Some(cn)) => format!("no subjectAltName, only CN={cn}, which clients ignore"),
        (true, None) => "no subjectAltName".to_string(),
        (false, _) => format!("subjectAltName {}", names.join(", ")),
    };
    if peer.names(host) {
        return Check::pass(
            "tls-name",
            format!("the certificate is valid for {host} ({listed})"),
        );
    }
    Check::fail(
        "tls-name",
        format!("the certificate is not valid for {host}: {listed}"),
        "the server serves another name's certificate: the profile's `domain` must be what it certifies \
         (nginx-proxy: the site's ssl_certificate; `jprov plan PROFILE` shows a file that differs, \
         `jprov apply PROFILE` puts it back; a self-signed certificate for other addresses: \
         tls.self_signed.addresses)",
    )
}

fn expiry(peer: &Peer) -> Check {
    let renew = "Let's Encrypt: certbot renews 30 days ahead (on the server: `certbot renew --dry-run`, \
                 `systemctl status certbot.timer`); self-signed: `jprov apply PROFILE` makes a new one when \
                 fewer than 30 days are left";
    let until = &peer.not_after;
    match peer.days_left {
        _ if peer.not_yet_valid => Check::fail(
            "tls-expiry",
            "the certificate is not valid yet (notBefore is ahead): this machine's clock or the host's is off",
            "set the clocks right (NTP)",
        ),
        days if days < 0 => Check::fail("tls-expiry", format!("the certificate expired on {until}"), renew),
        days if days < EXPIRY_WARNING_DAYS => Check::warn(
            "tls-expiry",
            format!("{days} days left (until {until}): fewer than {EXPIRY_WARNING_DAYS}, so renewal is late"),
            renew,
        ),
        days => Check::pass("tls-expiry", format!("{days} days left (until {until})")),
    }
}

fn protocol(peer: &Peer) -> Check {
    match peer.protocol_ok {
        true => Check::pass("tls-protocol", format!("{} negotiated (TLS 1.2 or later)", peer.protocol)),
        false => Check::fail(
            "tls-protocol",
            format!("{} negotiated: older than TLS 1.2", peer.protocol),
            "jprov's nginx site allows only TLSv1.2 and TLSv1.3 and Jupyter's defaults refuse older ones: \
             `jprov plan PROFILE` shows a configuration that differs",
        ),
    }
}

/// local-forward: plain http, only to this machine's end of the ssh forward.
pub fn plain_localhost(target: &Target, checks: &mut Vec<Check>) -> bool {
    let host = &target.url.host;
    if matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") {
        checks.push(Check::pass(
            "tls",
            format!(
                "none: plain http to {host}, this machine's end of an ssh forward, which encrypts"
            ),
        ));
        return true;
    }
    checks.push(Check::fail(
        "tls",
        format!("plain http to {host}: anyone on the way reads the password"),
        "only local-forward serves http, at the laptop's own end of the ssh forward",
    ));
    false
}

/// Plain http on the URL's host: each port redirected to https, refused, or closed.
pub fn plain_http(target: &Target, addresses: &[SocketAddr], checks: &mut Vec<Check>) {
    if target.url.scheme != Scheme::Https {
        return;
    }
    let mut answers = vec![];
    let mut serving = vec![];
    for &port in &target.plain_http_ports {
        let at: Vec<SocketAddr> = addresses
            .iter()
            .map(|a| SocketAddr::new(a.ip(), port))
            .collect();
        let shown = format!(
            "http://{}/",
            authority(&target.url.host, port, Scheme::Http)
        );
        match plain_answer(target, &at) {
            Ok(answer) => answers.push(format!("{shown} {answer}")),
            Err(served) => serving.push(format!("{shown} {served}")),
        }
    }
    checks.push(match serving.is_empty() {
        true => Check::pass("plain-http", answers.join("; ")),
        false => Check::fail(
            "plain-http",
            serving.join("; "),
            "plain http on this host must only redirect to https (nginx-proxy's site does) or not answer: a \
             page served in clear text can be changed on the way, and can set cookies the https site receives; find what \
             listens there (`ss -ltnp` on the host) and stop it or make it redirect",
        ),
    });
}

/// `Ok(how plain http is refused)`, or `Err(what is served instead)`.
fn plain_answer(target: &Target, at: &[SocketAddr]) -> Result<String, String> {
    let tcp = match http::connect(
        at,
        Duration::from_secs(super::super::target::CLOSED_PORT_TIMEOUT_SECONDS),
    ) {
        Ok(tcp) => tcp,
        Err(e) => return Ok(format!("is closed ({e})")),
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: jprov-verify",
        target.url.base,
        authority(&target.url.host, at[0].port(), Scheme::Http)
    );
    match http::exchange(&mut Stream::Plain(tcp), &head, b"") {
        Ok(r) if r.is_redirect() && r.location().starts_with("https://") => {
            Ok(format!("redirects to {} ({})", r.location(), r.status))
        }
        // nginx's answer to plain http on its TLS port, and a TLS server's that closes.
        Ok(r) if r.status == 400 => Ok("refuses plain http (400)".into()),
        Ok(r) => Err(format!("answers {} in plain text", r.status)),
        Err(e) => Ok(format!("serves no plain http ({e})")),
    }
}

/// reverse-forward: the workstation's SSH and Jupyter ports do not answer from here.
pub fn closed(target: &Target, checks: &mut Vec<Check>) {
    let timeout = Duration::from_secs(super::super::target::CLOSED_PORT_TIMEOUT_SECONDS);
    for port in &target.closed {
        let place = format!("{}:{}", port.host, port.port);
        let addresses = match http::resolve(&port.host, port.port) {
            Ok(addresses) if !addresses.is_empty() => addresses,
            _ => {
                let reason = format!("{place} ({}): the name does not resolve here", port.what);
                checks.push(Check::pass(port.check, reason));
                continue;
            }
        };
        checks.push(match http::connect(&addresses, timeout) {
            Err(e) => Check::pass(port.check, format!("{place} ({}) does not answer from here: {e}", port.what)),
            Ok(_) => Check::fail(
                port.check,
                format!("{place} ({}) accepts connections from here", port.what),
                "with reverse-forward only the tunnel reaches the workstation: Jupyter listens on its \
                 loopback (`jprov plan PROFILE` shows a config that differs) and the workstation needs no \
                 incoming SSH; if this machine is outside the workstation's network, its firewall lets \
                 the world in: close the port there",
            ),
        });
    }
}
