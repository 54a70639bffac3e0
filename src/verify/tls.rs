//! TLS as verify sees it: the handshake with OpenSSL, and what the server presented (its certificate's
//! names, fingerprint and validity, the chain's verification against the trusted roots, the protocol).
//!
//! The handshake itself never aborts on an untrusted certificate (`SslVerifyMode::NONE`), so that verify
//! can say exactly what is wrong; OpenSSL still verifies the chain and records the result. Every stream
//! that carries a request is then held to `Peer::acceptable` before a byte is sent, so no credential goes
//! to a server verify could not authenticate.

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{Ssl, SslContext, SslMethod, SslStream, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509VerifyResult, X509};
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};

/// Days before expiry under which verify warns (certbot renews 30 days ahead, jprov's self-signed
/// certificates are renewed by apply under 30).
pub const EXPIRY_WARNING_DAYS: i32 = 21;

/// What verify trusts the server's certificate by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The system's roots (OpenSSL's default verify paths).
    System,
    /// Only the certificates in this PEM file (`--ca-file`): a private CA's root, or a self-signed
    /// certificate itself.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint (`--fingerprint`), whoever signed it.
    Fingerprint([u8; 32]),
}

/// `AB:CD:...` (as plan and apply print it, and `openssl x509 -fingerprint -sha256`), with or without
/// colons, in either case.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let hex_digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&hex_digits).map_err(|_| "not hexadecimal".to_string())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{} bytes, where a SHA-256 fingerprint has 32", bytes.len()))
}

/// `AB:CD:...`.
pub fn show_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What the server presented in one handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The chain's verification against the trusted roots: `Err(OpenSSL's reason)` when it failed.
    pub chain: Result<(), String>,
    pub fingerprint: [u8; 32],
    /// The certificate's subjectAltName entries (`DNS:` names and IP addresses, as text).
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub common_name: Option<String>,
    pub issuer: String,
    /// Whole days until `notAfter` (negative: expired), and whether `notBefore` is still ahead.
    pub days_left: i32,
    pub not_after: String,
    pub not_yet_valid: bool,
    pub protocol: String,
    pub protocol_ok: bool,
}

impl Peer {
    /// Whether the certificate is the one `trust` accepts: the pinned fingerprint, or a chain to a
    /// trusted root.
    pub fn trusted(&self, trust: &Trust) -> bool {
        match trust {
            Trust::Fingerprint(pin) => *pin == self.fingerprint,
            Trust::System | Trust::CaFile(_) => self.chain.is_ok(),
        }
    }

    /// Whether the certificate is valid for `host` (RFC 6125: subjectAltName only, a wildcard for one
    /// leftmost label).
    pub fn names(&self, host: &str) -> bool {
        match host.parse::<IpAddr>() {
            Ok(ip) => self.ip_addresses.contains(&ip),
            Err(_) => self.dns_names.iter().any(|name| name_matches(name, host)),
        }
    }

    /// Whether verify may send a request over this connection: trusted, for this name, within its
    /// validity, and at least TLS 1.2.
    pub fn acceptable(&self, trust: &Trust, host: &str) -> bool {
        self.trusted(trust)
            && self.names(host)
            && self.days_left >= 0
            && !self.not_yet_valid
            && self.protocol_ok
    }
}

/// `pattern` (a certificate's DNS name, perhaps `*.example.org`) against `host`, case-insensitively.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (
        pattern.to_ascii_lowercase(),
        host.trim_end_matches('.').to_ascii_lowercase(),
    );
    match pattern.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(label, rest)| {
            !label.is_empty() && rest == parent && parent.contains('.')
        }),
        None => pattern == host,
    }
}

/// The TLS client: its trusted roots and the name it asks for.
pub struct Client {
    context: SslContext,
    pub trust: Trust,
}

impl Client {
    pub fn new(trust: Trust) -> Result<Client, String> {
        let mut builder =
            SslContext::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
        builder.set_verify(SslVerifyMode::NONE);
        match &trust {
            Trust::CaFile(path) => builder.set_cert_store(store_of(path)?),
            Trust::System | Trust::Fingerprint(_) => builder
                .set_default_verify_paths()
                .map_err(|e| e.to_string())?,
        }
        Ok(Client {
            context: builder.build(),
            trust,
        })
    }

    /// The handshake over `tcp` for `host` (sent as SNI when it is a name), and what the server showed.
    pub fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<(SslStream<TcpStream>, Peer), String> {
        let mut ssl = Ssl::new(&self.context).map_err(|e| e.to_string())?;
        if host.parse::<IpAddr>().is_err() {
            ssl.set_hostname(host).map_err(|e| e.to_string())?;
        }
        let stream = ssl
            .connect(tcp)
            .map_err(|e| format!("the TLS handshake failed: {e}"))?;
        let peer = peer(stream.ssl())?;
        Ok((stream, peer))
    }
}

fn store_of(path: &Path) -> Result<openssl::x509::store::X509Store, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certificates = X509::stack_from_pem(&pem).unwrap_or_default();
    if certificates.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for certificate in certificates {
        store.add_cert(certificate).map_err(|e| e.to_string())?;
    }
    Ok(store.build())
}

fn peer(ssl: &openssl::ssl::SslRef) -> Result<Peer, String> {
    let cert = ssl
        .peer_certificate()
        .ok_or("the server sent no certificate")?;
    let digest = cert
        .digest(MessageDigest::sha256())
        .map_err(|e| e.to_string())?;
    let (mut dns_names, mut ip_addresses) = (vec![], vec![]);
    for name in cert.subject_alt_names().into_iter().flatten() {
        if let Some(dns) = name.dnsname() {
            dns_names.push(dns.to_string());
        }
        match name.ipaddress() {
            Some(&[a, b, c, d]) => ip_addresses.push(IpAddr::from([a, b, c, d])),
            Some(v6) => ip_addresses.extend(<[u8; 16]>::try_from(v6).ok().map(IpAddr::from)),
            None => {}
        }
    }
    let now = Asn1Time::days_from_now(0).map_err(|e| e.to_string())?;
    let left = now.diff(cert.not_after()).map_err(|e| e.to_string())?;
    let since = now.diff(cert.not_before()).map_err(|e| e.to_string())?;
    let version = ssl.version2();
    let result = ssl.verify_result();
    Ok(Peer {
        chain: (result == X509VerifyResult::OK)
            .then_some(())
            .ok_or(result.error_string().to_string()),
        fingerprint: <[u8; 32]>::try_from(&digest[..]).map_err(|_| "no SHA-256 digest")?,
        dns_names,
        ip_addresses,
        common_name: entry(cert.subject_name(), Nid::COMMONNAME),
        issuer: entry(cert.issuer_name(), Nid::COMMONNAME)
            .or(entry(cert.issuer_name(), Nid::ORGANIZATIONNAME))
            .unwrap_or_else(|| "?".into()),
        days_left: if left.secs < 0 && left.days == 0 {
            -1
        } else {
            left.days
        },
        not_after: cert.not_after().to_string(),
        not_yet_valid: since.days > 0 || (since.days == 0 && since.secs > 0),
        protocol: ssl.version_str().to_string(),
        protocol_ok: version == Some(SslVersion::TLS1_2) || version == Some(SslVersion::TLS1_3),
    })
}

fn entry(name: &openssl::x509::X509NameRef, nid: Nid) -> Option<String> {
    let entry = name.entries_by_nid(nid).next()?;
    entry.data().to_string().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_as_plan_prints_them() {
        let printed = "AB:".repeat(31) + "CD";
        let bytes = parse_fingerprint(&printed).unwrap();
        assert_eq!(show_fingerprint(&bytes), printed);
        assert_eq!(
            parse_fingerprint(&printed.replace(':', "").to_lowercase()).unwrap(),
            bytes
        );
        assert!(parse_fingerprint("AB:CD").unwrap_err().contains("2 bytes"));
        assert!(parse_fingerprint("not hex").is_err());
    }

    #[test]
    fn names_match_as_browsers_match_them() {
        assert!(name_matches("jupyter.lab", "Jupyter.Lab"));
        assert!(name_matches("jupyter.lab", "jupyter.lab."));
        assert!(name_matches("*.example.org", "jupyter.example.org"));
        assert!(!name_matches("*.example.org", "a.b.example.org"));
        assert!(!name_matches("*.example.org", "example.org"));
        assert!(!name_matches("*.org", "example.org"));
        assert!(!name_matches("other.lab", "jupyter.lab"));
    }

    fn peer() -> Peer {
        Peer {
            chain: Ok(()),
            fingerprint: [7; 32],
            dns_names: vec!["jupyter.lab".into()],
            ip_addresses: vec!["10.0.0.5".parse().unwrap()],
            common_name: None,
            issuer: "x".into(),
            days_left: 30,
            not_after: String::new(),
            not_yet_valid: false,
            protocol: "TLSv1.3".into(),
            protocol_ok: true,
        }
    }

    #[test]
    fn a_request_goes_only_over_an_acceptable_connection() {
        let p = peer();
        assert!(p.acceptable(&Trust::System, "jupyter.lab"));
        assert!(p.acceptable(&Trust::System, "10.0.0.5"));
        assert!(!p.acceptable(&Trust::System, "10.0.0.6"));
        assert!(!p.acceptable(&Trust::System, "other.lab"));
        assert!(p.acceptable(&Trust::Fingerprint([7; 32]), "jupyter.lab"));
        assert!(!p.acceptable(&Trust::Fingerprint([8; 32]), "jupyter.lab"));
        let unverified = Peer {
            chain: Err("self-signed certificate".into()),
            ..peer()
        };
        assert!(!unverified.acceptable(&Trust::System, "jupyter.lab"));
        assert!(unverified.acceptable(&Trust::Fingerprint([7; 32]), "jupyter.lab"));
        assert!(!Peer {
            days_left: -1,
            ..peer()
        }
        .acceptable(&Trust::System, "jupyter.lab"));
        assert!(!Peer {
            protocol_ok: false,
            ..peer()
        }
        .acceptable(&Trust::System, "jupyter.lab"));
    }
}
