use super::*;
use crate::desired::{build, Options, World};
use crate::profile::parse;
use crate::render::Templates;
use std::path::Path;

fn target(source: &str) -> Target {
    let p = parse(source, Path::new("example.yaml")).unwrap();
    let d = build(&p, World::default(), &Templates::new(), Options::default()).unwrap();
    Target::of(&p, &d.reach.url).unwrap()
}

#[test]
fn urls_are_split_as_clients_dial_them() {
    let u = Url::parse("https://jupyter.lab:8888/j-x/").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.base.as_str()),
        ("jupyter.lab", 8888, "/j-x/")
    );
    assert_eq!(u.origin(), "https://jupyter.lab:8888");
    let u = Url::parse("https://jupyter.lab/").unwrap();
    assert_eq!((u.port, u.authority()), (443, "jupyter.lab".to_string()));
    let u = Url::parse("https://[fd00::5]:8888/").unwrap();
    assert_eq!(
        (u.host.as_str(), u.authority()),
        ("fd00::5", "[fd00::5]:8888".to_string())
    );
    let u = Url::parse("http://localhost:8888").unwrap();
    assert_eq!(
        (u.scheme, u.port, u.base.as_str()),
        (Scheme::Http, 8888, "/")
    );
    assert!(Url::parse("ftp://x/").is_err());
    assert!(Url::parse("https://:8888/").is_err());
    assert!(Url::parse("https://x:port/").is_err());
}

#[test]
fn reverse_forward_keeps_the_workstation_closed_and_checks_plain_http() {
    let t = target(include_str!("../../../profiles/reverse-forward.yaml"));
    assert_eq!(t.url.text, "https://jupyter.example.org:8888/");
    assert!(!t.hsts && !t.basic_auth && t.secure_cookies);
    assert_eq!(t.plain_http_ports, [80, 8888]);
    let closed: Vec<_> = (t.closed.iter())
        .map(|c| (c.check, c.host.as_str(), c.port))
        .collect();
    assert_eq!(
        closed,
        [
            ("workstation-ssh-closed", "workstation.internal", 22),
            ("workstation-jupyter-closed", "workstation.internal", 8888)
        ]
    );
    assert!(
        t.down_fix.contains("jprov-lab-reverse-tunnel.service"),
        "{}",
        t.down_fix
    );
}

#[test]
fn nginx_proxy_sends_hsts_and_its_layers_are_expected() {
    let t = target(include_str!("../../../profiles/nginx-proxy.yaml"));
    assert!(t.hsts && !t.basic_auth && t.closed.is_empty());
    assert_eq!(t.plain_http_ports, [80]);
    let t = target(include_str!("../../../profiles/layers.yaml"));
    assert!(t.hsts && t.basic_auth && t.allow_list);
    assert_eq!(t.url.base, "/j-zfivqxciaq4izaztqd5ypovo5a/");
}

#[test]
fn the_methods_without_a_server() {
    let t = target(include_str!("../../../profiles/local-forward.yaml"));
    assert_eq!(t.url.text, "http://localhost:8888/");
    assert!(t.plain_http_ports.is_empty() && !t.secure_cookies && t.closed.is_empty());
    assert!(
        t.down_fix.contains("jprov tunnel PROFILE"),
        "{}",
        t.down_fix
    );
    let t = target(include_str!("../../../profiles/lan.yaml"));
    assert_eq!(
        (t.url.scheme, t.hsts, t.basic_auth),
        (Scheme::Https, false, false)
    );
    let t = target(include_str!("../../../profiles/ngrok.yaml"));
    assert_eq!(t.url.port, 443);
    assert_eq!(t.plain_http_ports, [80]);
}
