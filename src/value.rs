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
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                $check(&value)?;
                check_not_an_option(&value)?;
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
    /// A public DNS name (RFC 1123), lowercase; never an IP address (see `check_domain`).
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
    /// An absolute path on a host without `..`, spaces or shell metacharacters.
    AbsPath,
    check_abs_path
);
validated_string!(
    /// A file on the machine jprov runs on (a key, a known_hosts file): absolute, `~/...` or relative to
    /// the profile. It is handed to ssh, which splits `UserKnownHostsFile` at spaces and expands `%`
    /// tokens in both options, so it is held to the characters of `AbsPath`.
    LocalPath,
    check_local_path
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
    /// An HTTP basic-auth password hash as nginx on Debian verifies it (through libxcrypt's crypt):
    /// bcrypt `$2b$`/`$2y$`, yescrypt `$y$` or sha512-crypt `$6$`; never a plaintext or fast-to-guess form.
    HtpasswdHash,
    check_htpasswd_hash
);
validated_string!(
    /// An IPv4 or IPv6 address, or a network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`), for an
    /// allow-list (nginx's `allow`, ngrok's `restrict-ips`): an address without `/N` is that one address.
    Cidr,
    check_cidr
);
validated_string!(
    /// A person's name as Jupyter shows it (cursors, the user list): 1-64 characters, any but control
    /// characters, not only spaces. It reaches the config only as a JSON string literal.
    DisplayName,
    check_display_name
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
validated_string!(
    /// A systemd time span such as `6h`, `30min` or `10s`.
    TimeSpan,
    check_time_span
);

impl BaseUrl {
    /// An unguessable base_url for `jprov base-url`: `/j-` and the 128 bits of `random` in 26 characters of
    /// lowercase base32 (RFC 4648's alphabet: letters and 2-7, nothing a URL or a shell treats specially).
    pub fn unguessable(random: [u8; 16]) -> BaseUrl {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let bits = u128::from_be_bytes(random);
        // 26 groups of 5 bits from the top; the last holds the 3 bits left, padded with zeros.
        let encoded: String = (0..26i32)
            .map(|i| {
                let shift = 128 - 5 * (i + 1);
                let group = if shift >= 0 {
                    bits >> shift
                } else {
                    bits << -shift
                };
                char::from(ALPHABET[(group & 0x1f) as usize])
            })
            .collect();
        BaseUrl::try_from(format!("/j-{encoded}/")).expect("a valid base_url")
    }

    /// Whether this is the default `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }
}

impl AsRef<std::path::Path> for LocalPath {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

// Error messages say what is wrong with a value and never repeat it: whatever was typed into a field may
// be a password or a hash pasted into the wrong place. The field and line locate it for the reader.

/// A value starting with `-` would be read as an option by the command it is passed to (`certbot -m`,
/// `ssh -i`, `ssh HOST`): refused for every validated string, whatever its type's own rules (checked
/// first, for the more telling message) allow.
fn check_not_an_option(s: &str) -> Result<(), String> {
    if s.starts_with('-') {
        Err("it starts with '-', which a command would read as an option".into())
    } else {
        Ok(())
    }
}

/// A character named so that the message shows which one without echoing the value.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        '\0' => "a NUL character".into(),
        c if c.is_control() => "a control character".into(),
        c if !c.is_ascii() => "a non-ASCII character".into(),
        c => format!("'{c}'"),
    }
}

/// The first character `allowed` refuses, as "';' at character 7".
fn bad_char(s: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    s.chars()
        .enumerate()
        .find(|(_, c)| !allowed(*c))
        .map(|(i, c)| format!("{} at character {}", describe(c), i + 1))
}

fn check_profile_name(s: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-');
    ok.then_some(()).ok_or_else(|| {
        "invalid profile name: use 1-32 lowercase letters, digits and hyphens, e.g. \"lab-jupyter\"".into()
    })
}

/// What is wrong with a DNS name (lowercase letters, digits, hyphens; dot-separated labels), if anything.
fn dns_name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    if let Some(bad) = bad_char(s, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
    }) {
        return Some(bad);
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Some(
                "it has an empty label (a dot at the start or end, or two in a row)".into(),
            );
        }
        if label.len() > 63 {
            return Some("a label is longer than 63 characters".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label starts or ends with '-'".into());
        }
    }
    if s.rsplit('.').next().is_some_and(all_digits) {
        return Some("its last label is all digits, which no top-level domain is".into());
    }
    None
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Why an IP address is not a `domain`: both methods serve Jupyter under a DNS name (Let's Encrypt
/// certifies names; Jupyter and nginx are reached under it). Reaching a workstation by address is the
/// job of a method of its own (`lan`), with its own address field.
pub const IP_DOMAIN: &str = "an IP address is not a domain: reverse-forward and nginx-proxy serve Jupyter \
     under a DNS name and get its certificate for that name; use a DNS name (a name in the laptops' hosts \
     files will do with tls.self_signed, whose `addresses` can add IP addresses). A workstation reached \
     by address is the job of the `lan` method, not of these";

fn check_domain(s: &str) -> Result<(), String> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Err(IP_DOMAIN.into());
    }
    match dns_name_problem(s) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid domain: {problem}; use a lowercase DNS name such as \"jupyter.example.net\""
        )),
    }
}

fn check_host_name(s: &str) -> Result<(), String> {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let problem = if s.is_empty() {
        Some("it is empty".to_string())
    } else if s.len() > 253 {
        Some("it is longer than 253 characters".into())
    } else if let Some(bad) = bad_char(s, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
    }) {
        Some(bad)
    } else if s.split('.').any(str::is_empty) {
        Some("it has an empty label (a dot at the start or end, or two in a row)".into())
    } else if s.split('.').any(|label| label.starts_with('-')) {
        Some("a label starts with '-'".into())
    } else if s.rsplit('.').next().is_some_and(all_digits) {
        // ssh would take `10.0.0.256` or `10.1` for some address (inet_aton), not for a name.
        Some("it ends in digits but is not an IP address".into())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid host: {problem}; use a DNS name, an ~/.ssh/config alias or an IP address"
        )),
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
        let detail = bad_char(s, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
        })
        .map(|bad| format!(" ({bad})"))
        .unwrap_or_default();
        format!(
            "invalid user name{detail}: use 1-32 lowercase letters, digits, '_' and '-', starting with a letter"
        )
    })
}

fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@')
}

/// What is wrong with the `/`-separated part of a path, if anything (no `.` or `..` segments, no `//`).
fn path_problem(s: &str) -> Option<String> {
    if s.len() > 1024 {
        return Some("it is longer than 1024 characters".into());
    }
    if let Some(bad) = bad_char(s, path_char) {
        return Some(bad);
    }
    if s.contains("//") {
        return Some("it contains '//'".into());
    }
    if s.split('/').any(|part| part == ".." || part == ".") {
        return Some("it has a '.' or '..' segment".into());
    }
    None
}

fn check_abs_path(s: &str) -> Result<(), String> {
    let problem = if !s.starts_with('/') {
        Some("it is not absolute".to_string())
    } else {
        path_problem(s)
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid path: {problem}; use an absolute path of letters, digits and / . _ - + @"
        )),
    }
}

fn check_local_path(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix("~/").unwrap_or(s);
    let problem = if rest.is_empty() {
        Some("it is empty".to_string())
    } else {
        path_problem(rest)
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid path: {problem}; use letters, digits and / . _ - + @ (absolute, ~/... or relative to \
             the profile): ssh splits UserKnownHostsFile at spaces and expands % and ~ in it and in -i"
        )),
    }
}

fn check_base_url(s: &str) -> Result<(), String> {
    let problem = if s.len() > 256 {
        Some("it is longer than 256 characters".to_string())
    } else if let Some(bad) = bad_char(s, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~')
    }) {
        Some(bad)
    } else if !s.starts_with('/') || !s.ends_with('/') {
        Some("it does not start and end with '/'".into())
    } else if s.contains("//") {
        Some("it contains '//'".into())
    } else if s.split('/').any(|part| part == ".." || part == ".") {
        Some("it has a '.' or '..' segment".into())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid base_url: {problem}; e.g. \"/\" or \"/lab/\""
        )),
    }
}

fn email_problem(s: &str) -> Option<String> {
    let Some((local, domain)) = s.split_once('@') else {
        return Some("it has no '@'".into());
    };
    if local.is_empty() || local.len() > 64 {
        return Some("the part before '@' is empty or longer than 64 characters".into());
    }
    if let Some(bad) = bad_char(local, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
    }) {
        return Some(format!("{bad} before the '@'"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("the part before '@' starts or ends with '.' or has two in a row".into());
    }
    if domain.parse::<std::net::IpAddr>().is_ok() || !domain.contains('.') {
        return Some("the part after '@' is not a DNS name with a dot".into());
    }
    dns_name_problem(&domain.to_ascii_lowercase()).map(|p| format!("after the '@', {p}"))
}

fn check_email(s: &str) -> Result<(), String> {
    match email_problem(s) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid email: {problem}; use an address such as \"you@example.net\""
        )),
    }
}

fn url_problem(s: &str) -> Option<String> {
    if s.len() > 2048 {
        return Some("it is longer than 2048 characters".into());
    }
    let Some(rest) = s.strip_prefix("https://") else {
        return Some("it does not start with https://".into());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) => {
            // Digits only, no leading zero: Rust's parser would take "+443" and "00443".
            let ok = (1..=5).contains(&port.len())
                && all_digits(port)
                && !port.starts_with('0')
                && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !ok {
                return Some("the port is not a number from 1 to 65535".into());
            }
            host
        }
        None => authority,
    };
    if let Some(problem) = dns_name_problem(&host.to_ascii_lowercase()) {
        return Some(format!("in the host name, {problem}"));
    }
    if let Some(bad) = bad_char(path, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~')
    }) {
        return Some(format!("{bad} in the path"));
    }
    if path.contains("//") || path.split('/').any(|part| part == ".." || part == ".") {
        return Some("the path has an empty, '.' or '..' segment".into());
    }
    None
}

fn check_https_url(s: &str) -> Result<(), String> {
    match url_problem(s) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid URL: {problem}; use https://host[:port]/path, e.g. \"https://acme-staging-v02.api.letsencrypt.org/directory\""
        )),
    }
}

fn check_password_hash(s: &str) -> Result<(), String> {
    if crate::password::looks_like_hash(s) {
        Ok(())
    } else {
        Err("this is not a Jupyter password hash; run `jprov hash-password` and paste its output here".into())
    }
}

fn check_htpasswd_hash(s: &str) -> Result<(), String> {
    match crate::password::htpasswd::problem(s) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "{problem}; run `jprov hash-password --htpasswd` and paste its output here"
        )),
    }
}

/// What is wrong with an address or network for nginx's `allow`, if anything.
fn cidr_problem(s: &str) -> Option<String> {
    let (address, prefix) = match s.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (s, None),
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else {
        return Some("the part before '/' is not an IPv4 or IPv6 address".into());
    };
    let bits: u32 = if address.is_ipv4() { 32 } else { 128 };
    // An address alone is that one host: nothing more to check.
    let prefix = prefix?;
    // Digits only, no leading zero: Rust's parser would take "+8" and "08".
    let length =
        (all_digits(prefix) && (prefix == "0" || !prefix.starts_with('0')) && prefix.len() <= 3)
            .then(|| prefix.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= bits);
    let Some(length) = length else {
        return Some(format!(
            "the prefix length after '/' is not a number from 0 to {bits}"
        ));
    };
    // The address's bits from the top, so that the prefix is the same shift for both families.
    let from_the_top = match address {
        std::net::IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        std::net::IpAddr::V6(a) => u128::from(a),
    };
    // nginx would take 10.0.0.1/8 as 10.0.0.0/8 with a warning: say which was meant instead.
    if from_the_top.checked_shl(length).unwrap_or(0) != 0 {
        return Some(format!(
            "the address has bits set beyond the /{length} prefix: give the network's own address, \
             or the address alone for that one host"
        ));
    }
    None
}

fn check_cidr(s: &str) -> Result<(), String> {
    match cidr_problem(s) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid address or network: {problem}; use e.g. \"192.0.2.7\", \"10.0.0.0/8\" or \"2001:db8::/32\""
        )),
    }
}

fn check_display_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.chars().count() > 64 {
        return Err("invalid name: use 1-64 characters".into());
    }
    if let Some(bad) = bad_char(s, |c| !c.is_control()) {
        return Err(format!("invalid name: {bad}"));
    }
    if s.trim().is_empty() {
        return Err("invalid name: it is only spaces".into());
    }
    // A hash pasted into the wrong field would be shown to every collaborator: refuse anything that
    // starts like one (`argon2:`, `sha1:`), valid or not.
    let tagged = s
        .split_once(':')
        .is_some_and(|(tag, _)| !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric()));
    if tagged {
        return Err("this looks like a password hash, which belongs in password_hash".into());
    }
    Ok(())
}

fn check_time_span(s: &str) -> Result<(), String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let unit = &s[digits.len()..];
    let ok = digits.len() <= 6
        && all_digits(digits)
        && digits.parse::<u32>().is_ok_and(|n| n > 0)
        && ["s", "min", "h", "d"].contains(&unit);
    ok.then_some(())
        .ok_or_else(|| "invalid time span: use a number with s, min, h or d, e.g. \"30min\"".into())
}

fn check_size(s: &str) -> Result<(), String> {
    let digits = s.trim_end_matches(['k', 'm', 'g']);
    let ok = digits.len() <= 6 && all_digits(digits) && s.len() - digits.len() <= 1;
    ok.then_some(()).ok_or_else(|| {
        "invalid size: use a number with an optional k, m or g suffix, e.g. \"100m\"".into()
    })
}

fn check_ip_address(s: &str) -> Result<(), String> {
    s.parse::<std::net::IpAddr>().map(|_| ()).map_err(|_| {
        "invalid IP address: use an IPv4 or IPv6 address such as \"192.0.2.10\" or \"2001:db8::10\"".into()
    })
}
impl Cidr {
    /// The entry as a network with its prefix length: an address alone is its /32 or /128.
    pub fn network(&self) -> String {
        match self.0.contains('/') {
            true => self.0.clone(),
            false if self.0.contains(':') => format!("{}/128", self.0),
            false => format!("{}/32", self.0),
        }
    }
}

/// A TCP port, 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "u32", into = "u16")]
pub struct Port(u16);

impl TryFrom<u32> for Port {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        match u16::try_from(value) {
            Ok(p) if p > 0 => Ok(Port(p)),
            _ => Err("invalid port: use a number from 1 to 65535".into()),
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
                "invalid days: use {} to {}; jprov renews the certificate 30 days before it expires, \
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
    fn allow_list_entries_are_addresses_or_networks_without_host_bits() {
        for good in [
            "192.0.2.7",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
            "fd00::5",
        ] {
            assert!(check_cidr(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10.3.0.0/",
            "2001:db8::1/32",
            "example.org",
            "10.2.0.0/16 ",
            "-10.0.0.0/8",
        ] {
            let e = Cidr::try_from(bad.to_string()).unwrap_err();
            assert!(
                !bad.trim().is_empty() && !e.contains(bad.trim()),
                "{bad:?}: {e}"
            );
        }
        let network = |s: &str| Cidr::try_from(s.to_string()).unwrap().network();
        assert_eq!(network("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(network("fd00::5"), "fd00::5/128");
        assert_eq!(network("10.0.0.0/8"), "10.0.0.0/8");
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

    fn accepts<T: TryFrom<String, Error = String>>(value: &str) -> Result<(), String> {
        T::try_from(value.to_string()).map(|_| ())
    }

    #[test]
    fn an_ip_address_is_not_a_domain_and_no_tld_is_numeric() {
        for address in ["10.0.0.5", "192.168.1.20", "::1", "fd00::5"] {
            let e = accepts::<Domain>(address).unwrap_err();
            assert!(e.contains("`lan` method"), "{address}: {e}");
        }
        for bad in [
            "a..b.example.org",
            "..",
            ".x.org",
            "x.org.",
            "jupyter.123",
            "10.0.0.256",
            "1.2.3",
        ] {
            assert!(accepts::<Domain>(bad).is_err(), "{bad:?} accepted");
        }
        assert!(accepts::<Domain>("jupyter.lab").is_ok());
    }

    #[test]
    fn host_names_have_labels_and_digits_only_as_addresses() {
        for good in [
            "gateway.example.org",
            "my_alias",
            "10.0.0.5",
            "::1",
            "Host-1",
        ] {
            assert!(accepts::<HostName>(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "a..b.example.org",
            "..",
            ".",
            "x.",
            "10.0.0.256",
            "10.1",
            "123",
            "-oProxyCommand=x",
            "a.-b",
        ] {
            assert!(accepts::<HostName>(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn nothing_that_becomes_an_argument_starts_with_a_dash() {
        for bad in ["-admin@x.org", "--agree-tos@x.org"] {
            let e = accepts::<Email>(bad).unwrap_err();
            assert!(e.contains("'-'"), "{bad}: {e}");
        }
        assert!(accepts::<LocalPath>("-i").is_err());
        assert!(accepts::<HostName>("-x").is_err());
        assert!(accepts::<Size>("-1").is_err());
    }

    #[test]
    fn emails_are_dot_atoms_at_dns_names() {
        for good in [
            "admin@example.org",
            "a.b+jprov@Example.ORG",
            "x_y@jupyter.lab",
        ] {
            assert!(accepts::<Email>(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "a..b@example.org",
            ".a@example.org",
            "a.@example.org",
            "a@example",
            "a@10.0.0.5",
            "a@x.123",
            "a@x..org",
            "a b@x.org",
            "a@x.org\n",
            "",
        ] {
            assert!(accepts::<Email>(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn acme_urls_have_a_digit_port_and_no_dot_segments() {
        for good in [
            "https://acme-v02.api.letsencrypt.org/directory",
            "https://acme.lab:14000/dir",
            "https://x.org",
            "https://x.org/a/",
        ] {
            assert!(accepts::<HttpsUrl>(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "https://x.org:+443/dir",
            "https://x.org:/dir",
            "https://x.org:0/dir",
            "https://x.org:65536/dir",
            "https://x.org:00443/dir",
            "https://x.org/../dir",
            "https://x.org/a/./dir",
            "https://x.org//dir",
            "https://10.0.0.5/dir",
            "https://x..org/dir",
            "https://user@x.org/dir",
            "https://x.org/d?x=1",
        ] {
            assert!(accepts::<HttpsUrl>(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn local_paths_are_one_file_to_ssh() {
        for good in [
            "known_hosts",
            "keys/admin",
            "~/.ssh/id_ed25519",
            "/tmp/.tmpAbC123/id",
        ] {
            assert!(accepts::<LocalPath>(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "/a b/known_hosts",
            "a\nb",
            "a\0b",
            "a\tb",
            "%d/.ssh/id",
            "~",
            "~user/.ssh/id",
            "../keys/id",
            "./id",
            "a//b",
            "a\"b",
            "",
        ] {
            assert!(accepts::<LocalPath>(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn messages_describe_the_problem_without_the_value() {
        let secret = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
        type Check = fn(&str) -> Result<(), String>;
        let checks: [(&str, Check); 15] = [
            ("profile name", accepts::<ProfileName>),
            ("domain", accepts::<Domain>),
            ("host", accepts::<HostName>),
            ("user name", accepts::<UserName>),
            ("path", accepts::<AbsPath>),
            ("path", accepts::<LocalPath>),
            ("base_url", accepts::<BaseUrl>),
            ("email", accepts::<Email>),
            ("URL", accepts::<HttpsUrl>),
            ("size", accepts::<Size>),
            ("IP address", accepts::<IpAddress>),
            ("time span", accepts::<TimeSpan>),
            ("password hash", |s| {
                accepts::<PasswordHash>(s).map_err(|e| format!("password hash {e}"))
            }),
            ("--htpasswd", accepts::<HtpasswdHash>),
            ("address or network", accepts::<Cidr>),
        ];
        for (what, check) in checks {
            let bad = format!("{secret} x");
            let e = check(&bad).unwrap_err();
            assert!(e.contains(what), "{what}: {e}");
            assert!(!e.contains("a68df677"), "{what} echoes the value: {e}");
        }
        let e = accepts::<Domain>("jupyter;example.org").unwrap_err();
        assert!(e.contains("';' at character 8"), "{e}");
        let e = accepts::<AbsPath>("/a\nb").unwrap_err();
        assert!(e.contains("a line break at character 3"), "{e}");
    }

    #[test]
    fn unguessable_base_urls_carry_128_bits_in_base32() {
        let zero = BaseUrl::unguessable([0; 16]);
        assert_eq!(zero.as_str(), format!("/j-{}/", "a".repeat(26)));
        let ones = BaseUrl::unguessable([0xff; 16]);
        // 25 groups of five ones, then the three bits left, padded: 0b11100 = 28, which is '4'.
        assert_eq!(ones.as_str(), format!("/j-{}4/", "7".repeat(25)));
        let mut one = [0; 16];
        one[15] = 1;
        // The lowest bit is the last group's third: 0b00100 = 4, which is 'e'.
        assert_eq!(
            BaseUrl::unguessable(one).as_str(),
            format!("/j-{}e/", "a".repeat(25))
        );
        assert!(!zero.is_root() && BaseUrl::try_from("/".to_string()).unwrap().is_root());
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
