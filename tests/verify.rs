//! `jprov verify` against a real Jupyter without a lab (no root): the test venv's `jupyter server` on
//! loopback with the configuration jprov renders for a `lan` profile at 127.0.0.1, serving TLS with
//! certificates made here. verify passes with the pinned fingerprint or the certificate as its CA file,
//! and fails, naming the check, with no trust, a wrong pin, a wrong password, a certificate for another
//! name, an expired one, and a Jupyter whose config lets anyone in; it warns for one close to expiry.
//! local-forward: nothing listens at the laptop's end, then a Jupyter there over plain http, with a
//! collaborator logging in with `--username`. The lab (tests/e2e.rs) runs it through the methods' real
//! hosts.

mod support;

use jprov::desired::{self, Options, World};
use jprov::layout::Layout;
use jprov::password::{hash_password, HashScheme};
use jprov::profile::{Collaborator, Lan, Method, Profile, Tls};
use jprov::resource::{Content, Item, Role};
use jprov::value::Port;
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509NameBuilder, X509};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::profiles::{example, valid};

const PASSWORD: &str = "verify's own test password";
const ADA_PASSWORD: &str = "ada's own verify password";

fn python() -> String {
    support::prereq::python(&["jupyter_server", "ipykernel"])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed EC certificate valid for `sans` (`IP:...`/`DNS:...`) from `from_days` to `to_days` (from
/// now), written to `cert`/`key` by rename (Jupyter reads them for each new connection).
fn certificate(cert: &Path, key: &Path, sans: &[&str], from_days: i32, to_days: i32) -> String {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let pkey = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", sans[0].split_once(':').unwrap().1)
        .unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&pkey).unwrap();
    let at = |days: i32| Asn1Time::from_unix(time_now() + i64::from(days) * 86400).unwrap();
    b.set_not_before(&at(from_days)).unwrap();
    b.set_not_after(&at(to_days)).unwrap();
    let mut san = SubjectAlternativeName::new();
    for entry in sans {
        match entry.split_once(':').unwrap() {
            ("IP", ip) => san.ip(ip),
            (_, dns) => san.dns(dns),
        };
    }
    let san = san.build(&b.x509v3_context(None, None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&pkey, MessageDigest::sha256()).unwrap();
    let x509 = b.build();
    for (path, pem) in [
        (key, pkey.private_key_to_pem_pkcs8().unwrap()),
        (cert, x509.to_pem().unwrap()),
    ] {
        fs::write(path.with_extension("new"), pem).unwrap();
        fs::rename(path.with_extension("new"), path).unwrap();
    }
    let digest = x509.digest(MessageDigest::sha256()).unwrap();
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The lan example at 127.0.0.1 without a domain, Jupyter on `port` with the test venv's `jupyter server`,
/// TLS from the files `cert`/`key`.
fn lan_profile(python: &str, port: u16, cert: &Path, key: &Path) -> Profile {
    let mut p = example("lan.yaml");
    p.domain = None;
    p.lan = Some(Lan {
        address: valid("127.0.0.1"),
    });
    p.jupyter.port = Port::new(port);
    p.jupyter.app = jprov::profile::App::Server;
    p.jupyter.password_hash = valid(&hash_password(PASSWORD, HashScheme::Argon2).unwrap());
    p.jupyter.command = Some(valid(
        &Path::new(python)
            .with_file_name("jupyter")
            .display()
            .to_string(),
    ));
    p.tls = Some(Tls::Files {
        cert: valid(&cert.display().to_string()),
        key: valid(&key.display().to_string()),
    });
    p
}

/// Jupyter's config as jprov renders it for `p`, and its service's argv.
fn rendered(p: &Profile) -> (String, Vec<String>) {
    let d = desired::build(
        p,
        World::new(),
        &jprov::render::Templates::new(),
        Options::default(),
    )
    .unwrap();
    let path = Layout::new(p).jupyter_config;
    let config = (d.host(Role::Workstation).items.iter())
        .filter_map(|item| match item {
            Item::Files(group) => group.files.iter().find(|f| f.path == path),
            _ => None,
        })
        .find_map(|file| match &file.content {
            Content::Known(text) => Some(text.clone()),
            _ => None,
        })
        .expect("Jupyter's config in the desired state");
    (config, d.jupyter_command)
}

/// `jupyter server` as jprov's service runs it, with `config` (jprov's, perhaps edited by the test).
fn start_jupyter(dir: &Path, p: &Profile, config: &str) -> KillOnDrop {
    let (_, argv) = rendered(p);
    for sub in ["config", "home", "root"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("config/jupyter_server_config.py"), config).unwrap();
    let log = dir.join("jupyter.log");
    let mut child = KillOnDrop(
        Command::new(&argv[0])
            .args(&argv[1..])
            .arg("--allow-root")
            .current_dir(dir.join("root"))
            .env("HOME", dir.join("home"))
            .env("JUPYTER_CONFIG_DIR", dir.join("config"))
            .env("JUPYTER_DATA_DIR", dir.join("data"))
            .env("JUPYTER_RUNTIME_DIR", dir.join("runtime"))
            .env("JUPYTER_PLATFORM_DIRS", "1")
            .env_remove("JUPYTER_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", p.jupyter.port.get())).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "jupyter exited with {status}\n{}",
                fs::read_to_string(&log).unwrap()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "jupyter never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// `jprov verify PROFILE ARGS`, timed.
fn verify(profile: &Path, args: &[&str]) -> Output {
    let t0 = Instant::now();
    let out = Command::new(support::jprov_bin())
        .arg("verify")
        .arg(profile)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "jprov verify {} -> {} in {:.1} s",
        args.join(" "),
        out.status,
        t0.elapsed().as_secs_f64()
    );
    println!("{}", text(&out.stdout));
    out
}

/// The report's line for check `name` (`✓ name: ...`).
fn line<'a>(out: &'a str, name: &str) -> &'a str {
    (out.lines())
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{name}: ")))
        })
        .unwrap_or_else(|| panic!("no check {name} in:\n{out}"))
}

/// Asserts that `name` has `mark` (✓ ✗ ⚠ -) in `out`.
fn assert_mark(out: &Output, name: &str, mark: &str) {
    let stdout = text(&out.stdout);
    assert!(
        line(&stdout, name).starts_with(mark),
        "{name} is not {mark}:\n{}",
        show("verify", out)
    );
}

const EVERY_CHECK: [&str; 14] = [
    "resolve",
    "connect",
    "tls-trust",
    "tls-name",
    "tls-expiry",
    "tls-protocol",
    "plain-http",
    "unauthenticated-api",
    "wrong-password",
    "login",
    "session-cookie",
    "kernel-start",
    "kernel-execute",
    "kernel-stop",
];

#[test]
fn verify_passes_against_a_real_jupyter_and_names_what_is_broken() {
    let python = python();
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let pin = certificate(&cert, &key, &["IP:127.0.0.1"], -1, 90);
    let port = support::profiles::free_ports::<1>()[0];
    let p = lan_profile(&python, port, &cert, &key);
    let profile = d.join("lan-verify.yaml");
    support::profiles::write(&profile, &p);
    let password = d.join("password");
    fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    let pw = password.to_str().unwrap();
    let (config, _) = rendered(&p);
    let jupyter = start_jupyter(&d.join("j"), &p, &config);

    // Everything passes, with the pin or the certificate as the one root.
    let out = verify(&profile, &["--fingerprint", &pin, "--password-file", pw]);
    assert_eq!(out.status.code(), Some(0), "{}", show("verify", &out));
    for name in EVERY_CHECK {
        assert_mark(&out, name, "✓");
    }
    let stdout = text(&out.stdout);
    assert!(stdout.contains("printed \"42\""), "{stdout}");
    assert!(
        !stdout.contains(PASSWORD),
        "the password is shown:\n{stdout}"
    );
    let json = verify(
        &profile,
        &[
            "--ca-file",
            cert.to_str().unwrap(),
            "--password-file",
            pw,
            "--json",
        ],
    );
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        show("verify --json", &json)
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (
            report["format_version"].as_u64(),
            report["passed"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert_eq!(report["url"], format!("https://127.0.0.1:{port}/"));
    let names: Vec<&str> = (report["checks"].as_array().unwrap().iter())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, EVERY_CHECK);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "pass"),
        "{report}"
    );

    // Without a pin the self-signed certificate is refused, and nothing is sent: no login is tried.
    let out = verify(&profile, &["--password-file", pw]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (no trust)", &out)
    );
    assert_mark(&out, "tls-trust", "✗");
    assert!(
        line(&text(&out.stdout), "tls-trust").contains(&pin),
        "{}",
        show("verify", &out)
    );
    for name in ["unauthenticated-api", "login", "kernel-execute"] {
        assert_mark(&out, name, "-");
    }
    let wrong_pin = format!("{}00", &pin[..pin.len() - 2]);
    let out = verify(
        &profile,
        &["--fingerprint", &wrong_pin, "--password-file", pw],
    );
    assert_mark(&out, "tls-trust", "✗");
    assert_mark(&out, "login", "-");
    // Credentials come from a file or a terminal: without either, verify stops before sending anything.
    let out = verify(&profile, &["--fingerprint", &pin]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--password-file"),
        "{}",
        show("verify (no password)", &out)
    );

    // A wrong password: refused at `login`, the kernel checks skipped.
    let wrong = d.join("wrong");
    fs::write(&wrong, "not the password\n").unwrap();
    let out = verify(
        &profile,
        &[
            "--fingerprint",
            &pin,
            "--password-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_mark(&out, "wrong-password", "✓");
    assert_mark(&out, "login", "✗");
    assert_mark(&out, "kernel-execute", "-");
    assert!(!text(&out.stdout).contains("not the password"));

    // Certificates Jupyter serves from the next connection on: another name, expired, close to expiry.
    certificate(&cert, &key, &["DNS:other.example"], -1, 90);
    let out = verify(
        &profile,
        &["--ca-file", cert.to_str().unwrap(), "--password-file", pw],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (other name)", &out)
    );
    assert_mark(&out, "tls-trust", "✓");
    assert_mark(&out, "tls-name", "✗");
    assert!(
        line(&text(&out.stdout), "tls-name").contains("DNS:other.example"),
        "{}",
        show("verify", &out)
    );
    assert_mark(&out, "login", "-");
    let expired = certificate(&cert, &key, &["IP:127.0.0.1"], -40, -2);
    let out = verify(
        &profile,
        &["--fingerprint", &expired, "--password-file", pw],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (expired)", &out)
    );
    assert_mark(&out, "tls-trust", "✓");
    assert_mark(&out, "tls-expiry", "✗");
    assert_mark(&out, "login", "-");
    let late = certificate(&cert, &key, &["IP:127.0.0.1"], -80, 10);
    let out = verify(&profile, &["--fingerprint", &late, "--password-file", pw]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        show("verify (10 days left)", &out)
    );
    assert_mark(&out, "tls-expiry", "⚠");
    assert_mark(&out, "kernel-execute", "✓");
    drop(jupyter);

    // Jupyter with the password requirement and the hash taken out of its live config: anyone gets in.
    let open = config
        .replace("password_required = True", "password_required = False")
        .replace(
            &format!("hashed_password = '{}'", p.jupyter.password_hash),
            "hashed_password = ''",
        );
    assert_ne!(open, config);
    let jupyter = start_jupyter(&d.join("j"), &p, &open);
    let out = verify(&profile, &["--fingerprint", &late, "--password-file", pw]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (no password required)", &out)
    );
    assert_mark(&out, "unauthenticated-api", "✗");
    assert_mark(&out, "wrong-password", "✗");
    drop(jupyter);

    // local-forward: nothing listens at the laptop's end of the forward; then Jupyter (as if the forward
    // were up) with a collaborator, who logs in with --username, over plain http to localhost.
    let mut lf = example("local-forward.yaml");
    lf.jupyter.port = Port::new(support::profiles::free_ports::<1>()[0]);
    lf.jupyter.app = jprov::profile::App::Server;
    lf.jupyter.command = p.jupyter.command.clone();
    lf.jupyter.password_hash = p.jupyter.password_hash.clone();
    lf.jupyter.collaborators = vec![Collaborator {
        name: valid("Ada Lovelace"),
        username: valid("ada"),
        password_hash: valid(&hash_password(ADA_PASSWORD, HashScheme::Argon2).unwrap()),
    }];
    assert_eq!(lf.method, Method::LocalForward);
    let lf_profile = d.join("lf-verify.yaml");
    support::profiles::write(&lf_profile, &lf);
    let out = verify(&lf_profile, &["--password-file", pw]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        show("verify (local-forward down)", &out)
    );
    assert_mark(&out, "connect", "✗");
    assert!(
        text(&out.stdout).contains("jprov tunnel PROFILE"),
        "{}",
        show("verify", &out)
    );
    let (lf_config, _) = rendered(&lf);
    let jupyter = start_jupyter(&d.join("lf"), &lf, &lf_config);
    let out = verify(&lf_profile, &["--password-file", pw]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        show("verify (local-forward)", &out)
    );
    assert_mark(&out, "tls", "✓");
    assert!(
        line(&text(&out.stdout), "session-cookie").contains("HttpOnly (plain http"),
        "{}",
        show("verify", &out)
    );
    assert_mark(&out, "kernel-execute", "✓");
    let ada = d.join("ada");
    fs::write(&ada, format!("{ADA_PASSWORD}\n")).unwrap();
    let out = verify(
        &lf_profile,
        &[
            "--password-file",
            ada.to_str().unwrap(),
            "--username",
            "ada",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show("verify (ada)", &out));
    assert_mark(&out, "kernel-execute", "✓");
    // Ada's password is not the owner's.
    let out = verify(&lf_profile, &["--password-file", ada.to_str().unwrap()]);
    assert_mark(&out, "login", "✗");
    // Plain http has no certificate to pin; with --json an error is JSON too.
    let out = verify(
        &lf_profile,
        &["--password-file", pw, "--fingerprint", &pin, "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["format_version"], 1);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("plain http"),
        "{error}"
    );
    drop(jupyter);
    eprintln!("verify test: {:.1} s", t_start.elapsed().as_secs_f64());
}
