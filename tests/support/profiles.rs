//! Test profiles as values of the real `jprov::profile::Profile` type, written as YAML with serde_yaml.
//!
//! A test that needs another profile changes a field of the value (`p.tunnel.port = ...`), not the text of a
//! YAML string: the compiler knows every field, and a field renamed in `src/profile.rs` breaks the test at
//! build time instead of leaving a `.replace` that silently matches nothing. Only tests of the YAML text
//! itself (errors that name a line, a digest of the file's bytes) edit text, and say so.

use jprov::profile::{
    App, Jupyter, Method, Nginx, Ngrok, Profile, Server, Tls, Tunnel, Workstation, WorkstationHost,
};
use jprov::value::{CertDays, Port};
use std::path::{Path, PathBuf};

/// The hash of "mypassword" that the test profiles carry (never printed by jprov). The examples hold argon2
/// hashes of random passwords nobody knows (`example_hash_digests`).
pub const HASH: &str = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a";
/// What of `HASH` must never appear in a plan, a saved plan or an error.
pub const HASH_DIGEST: &str = "a68df677475c2b47b6e86d0467eec97ac5f4b85a";

/// A validated profile value from a string the test knows to be valid (panics otherwise).
pub fn valid<T: TryFrom<String, Error = String>>(s: &str) -> T {
    T::try_from(s.to_string()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The example profiles/NAME, as the loader reads it.
pub fn example(name: &str) -> Profile {
    jprov::profile::load(&example_path(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .profile
}

/// What of the example profiles/NAME's hashes must never appear in a plan: each hash's digest (its last
/// `$` or `:` part).
pub fn example_hash_digests(name: &str) -> Vec<String> {
    let profile = example(name);
    (jprov::password::policy::held_hashes(&profile).iter())
        .map(|held| held.hash.rsplit(['$', ':']).next().unwrap().to_string())
        .collect()
}

pub fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles")
        .join(name)
}

/// The file names of every example in profiles/, sorted.
pub fn example_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// The profile as YAML, without the `null`s of unset optional fields (what a person would write).
pub fn to_yaml(profile: &Profile) -> String {
    let mut tree = serde_yaml::to_value(profile).unwrap();
    drop_nulls(&mut tree);
    serde_yaml::to_string(&tree).unwrap()
}

fn drop_nulls(value: &mut serde_yaml::Value) {
    if let serde_yaml::Value::Mapping(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(drop_nulls);
    }
}

/// Write `profile` to `path` as YAML, and check that the loader reads back the same profile.
pub fn write(path: &Path, profile: &Profile) {
    let yaml = to_yaml(profile);
    std::fs::write(path, &yaml).unwrap();
    let back = jprov::profile::load(path).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(
        to_yaml(&back.profile),
        yaml,
        "the profile does not round-trip"
    );
}

/// Where the hosts of a test profile are, and which ports it uses (all on 127.0.0.1).
pub struct Hosts<'a> {
    pub server_port: u16,
    pub server_key: &'a Path,
    pub workstation_port: u16,
    pub workstation_key: &'a Path,
    pub jupyter_port: u16,
    pub tunnel_port: u16,
    /// nginx-proxy only: (https, http).
    pub nginx_ports: Option<(u16, u16)>,
}

/// The test profile `t-METHOD`: an admin with sudo on the server, alice on the workstation, TLS from the test
/// certificate files (`tests/support/setup.rs` makes them), the pinned keys in `known_hosts` next to it.
/// ngrok: no TLS, and the agent's files of secrets in alice's home (`NGROK_AUTHTOKEN`, `NGROK_BASIC_AUTH`).
pub fn for_hosts(method: Method, hosts: &Hosts) -> Profile {
    let ngrok = method == Method::Ngrok;
    Profile {
        name: valid(&format!("t-{method}")),
        method,
        domain: Some(valid("jupyter.test")),
        server: Some(Server {
            host: valid("127.0.0.1"),
            port: Some(Port::new(hosts.server_port)),
            user: valid("admin"),
            sudo: true,
            identity_file: Some(valid(&hosts.server_key.display().to_string())),
        }),
        workstation: Workstation {
            host: WorkstationHost::Remote(valid("127.0.0.1")),
            port: Some(Port::new(hosts.workstation_port)),
            user: valid("alice"),
            home: None,
            jump: None,
            identity_file: Some(valid(&hosts.workstation_key.display().to_string())),
            certificate_refresh: valid("6h"),
        },
        jupyter: Jupyter {
            app: App::Lab,
            port: Port::new(hosts.jupyter_port),
            base_url: valid("/"),
            password_hash: valid(HASH),
            password: None,
            command: None,
            virtualenv: None,
            collaborators: vec![],
            collaboration: false,
        },
        tls: (!ngrok).then(test_certificate_files),
        lan: None,
        ngrok: ngrok.then(|| Ngrok {
            authtoken_file: valid(NGROK_AUTHTOKEN),
            basic_auth_file: Some(valid(NGROK_BASIC_AUTH)),
            command: None,
        }),
        tunnel: Tunnel {
            peer_address: None,
            account: valid("jprov-tunnel"),
            port: Port::new(hosts.tunnel_port),
        },
        nginx: hosts.nginx_ports.map(|(https, http)| Nginx {
            https_port: Port::new(https),
            http_port: Port::new(http),
            ..Nginx::default()
        }),
        access: match ngrok {
            true => jprov::profile::Access {
                basic_auth: None,
                allow: Some(vec![valid("192.0.2.0/24"), valid("2001:db8::7")]),
            },
            false => Default::default(),
        },
        known_hosts: Some(valid("known_hosts")),
    }
}

/// Where the ngrok test profile's agent finds its authtoken and basic-auth credentials on the workstation.
pub const NGROK_AUTHTOKEN: &str = "/home/alice/.config/jprov/ngrok-authtoken";
pub const NGROK_BASIC_AUTH: &str = "/home/alice/.config/jprov/ngrok-basic-auth";

/// The certificate `Setup` makes on the host that terminates TLS.
pub fn test_certificate_files() -> Tls {
    Tls::Files {
        cert: valid("/etc/jprov-test/cert.pem"),
        key: valid("/etc/jprov-test/key.pem"),
    }
}

/// `tls.self_signed` with `days` (None: the default) and IP `addresses`.
pub fn self_signed(days: Option<u32>, addresses: &[&str]) -> Option<Tls> {
    Some(Tls::SelfSigned {
        days: days.map_or(CertDays::DEFAULT, |d| CertDays::try_from(d).unwrap()),
        addresses: addresses.iter().map(|a| valid(a)).collect(),
    })
}

/// `n` distinct free TCP ports on 127.0.0.1: all bound at once, so none is handed out twice.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}
