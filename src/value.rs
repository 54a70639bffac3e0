//! Validated scalar values of a profile.
//!
//! Every value that ends up in a config file or a shell command is parsed into one of these types while the
//! YAML is read, so a bad value is reported with its file, line and field, and nothing downstream has to
//! wonder whether a string is safe. The rules are deliberately narrower than what the programs accept.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                $check(&value)?;
                Ok($name(value))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// A profile name: lowercase letters, digits and hyphens; it names files and units on the hosts.
    ProfileName,
    check_profile_name
);
validated_string!(
    /// A public DNS name (RFC 1123), lowercase.
    Domain,
    check_domain
);
validated_string!(
    /// Where to reach a host over SSH: a DNS name, an alias from ~/.ssh/config, or an IP address.
    HostName,
    check_host_name
);
validated_string!(
    /// A POSIX account name as Debian's adduser accepts it.
    UserName,
    check_user_name
);
validated_string!(
    /// An absolute path without `..`, spaces or shell metacharacters.
    AbsPath,
    check_abs_path
);
validated_string!(
    /// Jupyter's base_url: starts and ends with `/`.
    BaseUrl,
    check_base_url
);
validated_string!(
    /// An email address for the ACME account.
    Email,
    check_email
);
validated_string!(
    /// An https URL of an ACME directory.
    HttpsUrl,
    check_https_url
);
validated_string!(
    /// A Jupyter password hash (`argon2:…` or `sha1:salt:hex`). Never a plaintext password.
    PasswordHash,
    check_password_hash
);
validated_string!(
    /// An nginx size such as `512m`.
    Size,
    check_size
);
validated_string!(
    /// An IPv4 or IPv6 address (for a certificate's subjectAltName).
    IpAddress,
    check_ip_address
);

fn check_profile_name(s: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-');
    ok.then_some(()).ok_or_else(|| {
        format!("invalid profile name {s:?}: use 1-32 lowercase letters, digits and hyphens, e.g. \"lab-jupyter\"")
    })
}

fn dns_labels_ok(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn check_domain(s: &str) -> Result<(), String> {
    if dns_labels_ok(s) && s.chars().all(|c| !c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!(
            "invalid domain {:?}: use a lowercase DNS name such as \"jupyter.example.org\" (letters, digits, hyphens and dots only)",
            printable(s)
        ))
    }
}

fn check_host_name(s: &str) -> Result<(), String> {
    let is_alias = !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !s.starts_with('-');
    if is_alias || s.parse::<std::net::IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "invalid host {:?}: use a DNS name, an ~/.ssh/config alias or an IP address",
            printable(s)
        ))
    }
}

fn check_user_name(s: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid user name {:?}: use lowercase letters, digits, '_' and '-', starting with a letter",
            printable(s)
        )
    })
}

fn check_abs_path(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        && s.len() <= 1024
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'))
        && !s.contains("//")
        && s.split('/').all(|part| part != ".." && part != ".");
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid path {:?}: use an absolute path of letters, digits and / . _ - + @ (no spaces, no ..)",
            printable(s)
        )
    })
}

fn check_base_url(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        && s.ends_with('/')
        && !s.contains("//")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~'))
        && s.split('/').all(|part| part != ".." && part != ".");
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid base_url {:?}: it must start and end with '/', e.g. \"/\" or \"/jupyter/\"",
            printable(s)
        )
    })
}

fn check_email(s: &str) -> Result<(), String> {
    let ok = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
                && dns_labels_ok(domain)
                && domain.contains('.')
        }
        None => false,
    };
    ok.then_some(())
        .ok_or_else(|| format!("invalid email {:?}", printable(s)))
}

fn check_https_url(s: &str) -> Result<(), String> {
    let ok = s.strip_prefix("https://").is_some_and(|rest| {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "443"));
        dns_labels_ok(host)
            && port.parse::<u16>().is_ok_and(|p| p > 0)
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~'))
    });
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid URL {:?}: use https://host[:port]/path, e.g. \"https://acme-staging-v02.api.letsencrypt.org/directory\"",
            printable(s)
        )
    })
}

fn check_password_hash(s: &str) -> Result<(), String> {
    if crate::password::looks_like_hash(s) {
        Ok(())
    } else {
        // Never echo the value: it may be a plaintext password typed into the wrong field.
        Err("this is not a Jupyter password hash; run `jprov hash-password` and paste its output here".into())
    }
}

validated_string!(
    /// A systemd time span such as `6h`, `30min` or `10s`.
    TimeSpan,
    check_time_span
);

fn check_time_span(s: &str) -> Result<(), String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let unit = &s[digits.len()..];
    let ok = !digits.is_empty()
        && digits.len() <= 6
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|n| n > 0)
        && ["s", "min", "h", "d"].contains(&unit);
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid time span {:?}: use a number with s, min, h or d, e.g. \"6h\"",
            printable(s)
        )
    })
}

fn check_size(s: &str) -> Result<(), String> {
    let digits = s.trim_end_matches(['k', 'm', 'g']);
    let ok = !digits.is_empty()
        && digits.len() <= 6
        && digits.chars().all(|c| c.is_ascii_digit())
        && s.len() - digits.len() <= 1;
    ok.then_some(()).ok_or_else(|| {
        format!(
            "invalid size {:?}: use a number with an optional k, m or g suffix, e.g. \"512m\"",
            printable(s)
        )
    })
}

fn check_ip_address(s: &str) -> Result<(), String> {
    s.parse::<std::net::IpAddr>().map(|_| ()).map_err(|_| {
        format!(
            "invalid IP address {:?}: use an IPv4 or IPv6 address such as \"10.0.0.5\" or \"fd00::5\"",
            printable(s)
        )
    })
}

/// Shows control characters visibly in error messages.
fn printable(s: &str) -> String {
    s.escape_debug().to_string().chars().take(80).collect()
}

/// A TCP port, 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u16")]
pub struct Port(u16);

impl TryFrom<u32> for Port {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        match u16::try_from(value) {
            Ok(p) if p > 0 => Ok(Port(p)),
            _ => Err(format!(
                "invalid port {value}: use a number from 1 to 65535"
            )),
        }
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.0
    }
}

impl Port {
    pub const fn new(p: u16) -> Port {
        Port(p)
    }
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How long a self-signed certificate is valid, in days: 31 to 825.
///
/// jprov renews a certificate 30 days before it expires, so a shorter one would be renewed on every apply;
/// Apple devices refuse TLS server certificates valid for more than 825 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct CertDays(u32);

impl CertDays {
    pub const MIN: u32 = 31;
    pub const MAX: u32 = 825;
    pub const DEFAULT: CertDays = CertDays(365);
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for CertDays {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(CertDays(value))
        } else {
            Err(format!(
                "invalid days {value}: use {} to {}; jprov renews the certificate 30 days before it expires, \
                 and Apple devices refuse certificates valid for more than {} days",
                Self::MIN,
                Self::MAX,
                Self::MAX
            ))
        }
    }
}

impl From<CertDays> for u32 {
    fn from(d: CertDays) -> u32 {
        d.0
    }
}

impl fmt::Display for CertDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_with_shell_or_config_syntax_are_rejected() {
        for bad in [
            "x.org; rm -rf /",
            "x.org\nevil",
            "x.org}",
            "X.org",
            "",
            "-x.org",
            "x..org",
            "x.org ",
        ] {
            assert!(check_domain(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["jupyter.example.org", "localhost", "a-b.c0.de"] {
            assert!(check_domain(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn paths_users_and_urls() {
        assert!(check_abs_path("/etc/letsencrypt/live/x.org/fullchain.pem").is_ok());
        for bad in ["relative", "/a/../b", "/a b", "/a;b", "/a//b", "/a$(x)"] {
            assert!(check_abs_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_user_name("jprov-tunnel").is_ok());
        for bad in ["Root", "1x", "a b", "a:b", ""] {
            assert!(check_user_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_https_url("https://localhost:14000/dir").is_ok());
        assert!(check_https_url("http://x.org/dir").is_err());
        assert!(check_https_url("https://x.org/d ir").is_err());
        assert!(check_base_url("/jupyter/").is_ok());
        assert!(check_base_url("/jupyter").is_err());
        assert!(check_size("512m").is_ok());
        assert!(check_size("512mm").is_err());
        assert!(Port::try_from(0).is_err());
        assert!(Port::try_from(65536).is_err());
    }

    #[test]
    fn ip_addresses_and_certificate_days() {
        for good in ["10.0.0.5", "192.168.1.20", "::1", "fd00::5"] {
            assert!(check_ip_address(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "10.0.0",
            "10.0.0.256",
            "10.0.0.5,DNS:evil.org",
            "host.lan",
            "10.0.0.5 ",
            "",
        ] {
            assert!(check_ip_address(bad).is_err(), "{bad:?} accepted");
        }
        assert!(CertDays::try_from(30).is_err());
        assert!(CertDays::try_from(826).is_err());
        assert_eq!(CertDays::try_from(31).map(CertDays::get), Ok(31));
        assert_eq!(CertDays::DEFAULT.get(), 365);
    }
}
