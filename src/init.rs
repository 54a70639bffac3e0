//! `jprov init`: a starting profile in a minute. Every answer comes from a flag or, on a terminal, a question
//! (`ask.rs`); each is held to the profile's own value types when it is given, and the profile rendered from
//! `templates/profile.yaml.j2` is parsed like any other before it is written. The Jupyter password is read
//! without echo (or from a file, or standard input), held to the password policy and hashed here: only the
//! hash reaches the file. Beside the profile, a `.gitignore` keeps keys, certificates and tokens out of git.
//! An existing profile is never overwritten.

mod ask;

use crate::password::policy::{self, Purpose};
use crate::password::{self, HashScheme, PasswordError};
use crate::profile::{Method, ProfileError};
use crate::render::{RenderError, Templates};
use crate::value::{AbsPath, Domain, Email, HostName, IpAddress, Port, ProfileName, UserName};
pub use ask::Asking;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the command line gave `jprov init` (flags are `--method`, `--server`, ...); a missing one is
/// asked on a terminal, and is an error (naming the flag) without one.
#[derive(Clone, Debug, Default)]
pub struct Given {
    /// A profile file, or a directory for `NAME.yaml`; default: `NAME.yaml` here.
    pub path: Option<PathBuf>,
    pub method: Option<String>,
    pub name: Option<String>,
    pub server: Option<String>,
    pub workstation: Option<String>,
    pub jump: bool,
    pub user: Option<String>,
    pub domain: Option<String>,
    pub lan_address: Option<String>,
    pub tls: Option<String>,
    pub email: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub password_file: Option<PathBuf>,
    pub allow_short: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{flag}: {message}")]
    Invalid { flag: &'static str, message: String },
    #[error(
        "{flag} is needed (standard input is not a terminal, so jprov init asks nothing): {what}"
    )]
    Missing { flag: &'static str, what: String },
    #[error("{flag}: no answer (the input ended)")]
    NoAnswer { flag: &'static str },
    #[error(
        "{0} exists: jprov init never overwrites a profile; give another path, or remove it first"
    )]
    Exists(PathBuf),
    #[error("cannot {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("the password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: PasswordError,
    },
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the profile jprov init made is refused (a combination of answers): {0}")]
    Profile(#[from] ProfileError),
}

fn invalid(flag: &'static str) -> impl Fn(String) -> InitError {
    move |message| InitError::Invalid { flag, message }
}

/// `USER@HOST[:PORT]` or `HOST[:PORT]`, as ssh's destinations: the parts, each validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<UserName>,
    pub host: HostName,
    pub port: Option<Port>,
}

impl Destination {
    fn parse(s: &str) -> Result<Destination, String> {
        let (user, rest) = match s.rsplit_once('@') {
            Some((user, rest)) => (Some(UserName::try_from(user.to_string())?), rest),
            None => (None, s),
        };
        // `[v6]:port`, `v6` (more than one ':'), `host:port`, `host`.
        let (host, port) = match rest.strip_prefix('[') {
            Some(bracketed) => match bracketed.split_once(']') {
                Some((host, "")) => (host, None),
                Some((host, port)) => (
                    host,
                    Some(port.strip_prefix(':').ok_or("expected :PORT after ]")?),
                ),
                None => return Err("a '[' without its ']'".into()),
            },
            None if rest.matches(':').count() == 1 => {
                let (host, port) = rest.split_once(':').expect("one ':'");
                (host, Some(port))
            }
            None => (rest, None),
        };
        let port = match port {
            Some(port) => {
                let number: u32 = port.parse().map_err(|_| "the port is not a number")?;
                Some(Port::try_from(number)?)
            }
            None => None,
        };
        Ok(Destination {
            user,
            host: HostName::try_from(host.to_string())?,
            port,
        })
    }
}

/// Where TLS comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsChoice {
    Letsencrypt(Email),
    SelfSigned,
    Files { cert: AbsPath, key: AbsPath },
}

/// A profile's answers, every one validated.
#[derive(Clone, Debug)]
pub struct Answers {
    pub method: Method,
    pub name: ProfileName,
    /// The forwarding server (its admin account), or for the other methods a jump host.
    pub server: Option<(UserName, HostName, Option<Port>)>,
    /// `None`: jprov runs on the workstation (`local`).
    pub workstation: Option<(HostName, Option<Port>)>,
    pub jump: bool,
    pub user: UserName,
    pub domain: Option<Domain>,
    pub lan_address: Option<IpAddress>,
    pub tls: Option<TlsChoice>,
}

fn parse_method(s: &str) -> Result<Method, String> {
    Ok(match s {
        "reverse-forward" => Method::ReverseForward,
        "nginx-proxy" => Method::NginxProxy,
        "local-forward" => Method::LocalForward,
        "lan" => Method::Lan,
        "ngrok" => Method::Ngrok,
        _ => return Err("one of reverse-forward, nginx-proxy, local-forward, lan, ngrok".into()),
    })
}

/// The answers: from the flags, and for what they leave out from the terminal (or an error without one).
pub fn answers(given: &Given, asking: &mut Asking) -> Result<Answers, InitError> {
    let method = asking.required(
        given.method.as_deref(),
        ask::Question::new(
            "--method",
            "Method: reverse-forward, nginx-proxy, local-forward, lan or ngrok",
        )
        .suggest("reverse-forward"),
        parse_method,
    )?;
    let name = asking.required(
        given.name.as_deref(),
        ask::Question::new("--name", "Profile name (lowercase letters, digits, -)")
            .default("jupyter"),
        |s| ProfileName::try_from(s.to_string()),
    )?;
    let server = server(given, asking, method)?;
    let workstation = asking.required(
        given.workstation.as_deref(),
        ask::Question::new(
            "--workstation",
            "The workstation's SSH address, HOST[:PORT], or `local` when jprov runs on it",
        ),
        |s| workstation(s, method),
    )?;
    let jump = jump(given, asking, method, &server, &workstation)?;
    let user = asking.required(
        given.user.as_deref(),
        ask::Question::new(
            "--user",
            "The workstation account Jupyter runs as (jprov logs in as it)",
        )
        .default_opt(
            std::env::var("USER")
                .ok()
                .filter(|u| UserName::try_from(u.clone()).is_ok()),
        ),
        |s| UserName::try_from(s.to_string()),
    )?;
    let domain = domain(given, asking, method)?;
    let lan_address = match method {
        Method::Lan => Some(asking.required(
            given.lan_address.as_deref(),
            ask::Question::new(
                "--lan-address",
                "The workstation's IP address on the collaborators' network",
            ),
            |s| IpAddress::try_from(s.to_string()),
        )?),
        _ => not_for(method, "--lan-address", &given.lan_address)?,
    };
    let tls = tls(given, asking, method)?;
    Ok(Answers {
        method,
        name,
        server: server.map(|d| (d.user.expect("checked"), d.host, d.port)),
        workstation,
        jump,
        user,
        domain,
        lan_address,
        tls,
    })
}

/// A flag the method has no use for is an error, not silently dropped.
fn not_for<T>(
    method: Method,
    flag: &'static str,
    given: &Option<String>,
) -> Result<Option<T>, InitError> {
    match given {
        Some(_) => Err(InitError::Invalid {
            flag,
            message: format!("method {method} takes none"),
        }),
        None => Ok(None),
    }
}

fn server(
    given: &Given,
    asking: &mut Asking,
    method: Method,
) -> Result<Option<Destination>, InitError> {
    let parse = |s: &str| {
        let destination = Destination::parse(s)?;
        match destination.user {
            Some(_) => Ok(destination),
            None => Err("give the admin account too: USER@HOST[:PORT]".to_string()),
        }
    };
    match method.has_server() {
        true => asking
            .required(
                given.server.as_deref(),
                ask::Question::new(
                    "--server",
                    "The forwarding server jprov configures, as USER@HOST[:PORT] (its admin account)",
                ),
                parse,
            )
            .map(Some),
        false => asking.optional(
            given.server.as_deref(),
            ask::Question::new(
                "--server",
                "A jump host to reach the workstation through, USER@HOST[:PORT] (empty: none)",
            ),
            parse,
        ),
    }
}

fn workstation(s: &str, method: Method) -> Result<Option<(HostName, Option<Port>)>, String> {
    if s == "local" {
        return match method {
            Method::NginxProxy | Method::LocalForward => Err(format!(
                "method {method} connects to the workstation over SSH from elsewhere: give its address"
            )),
            Method::ReverseForward | Method::Lan | Method::Ngrok => Ok(None),
        };
    }
    let destination = Destination::parse(s)?;
    if destination.user.is_some() {
        return Err("give the host only: the account is --user".into());
    }
    Ok(Some((destination.host, destination.port)))
}

/// Whether jprov reaches the workstation through the server: asked for the server methods; for the others
/// a server is only ever a jump host.
fn jump(
    given: &Given,
    asking: &mut Asking,
    method: Method,
    server: &Option<Destination>,
    workstation: &Option<(HostName, Option<Port>)>,
) -> Result<bool, InitError> {
    if !method.has_server() && server.is_some() && workstation.is_none() {
        return Err(InitError::Invalid {
            flag: "--server",
            message: format!(
                "for method {method} a server is only a jump host, and a local workstation needs none"
            ),
        });
    }
    if workstation.is_none() || server.is_none() {
        return match given.jump {
            true => Err(InitError::Invalid {
                flag: "--jump",
                message: "a jump needs --server and a workstation that is not local".into(),
            }),
            false => Ok(false),
        };
    }
    if !method.has_server() || given.jump {
        return Ok(true);
    }
    let reach = asking.optional(
        None,
        ask::Question::new(
            "--jump",
            "Reach the workstation through the server? yes or no",
        )
        .default("no"),
        |s| match s {
            "yes" | "y" => Ok(true),
            "no" | "n" => Ok(false),
            _ => Err("yes or no".to_string()),
        },
    )?;
    Ok(reach.unwrap_or(false))
}

fn domain(given: &Given, asking: &mut Asking, method: Method) -> Result<Option<Domain>, InitError> {
    let parse = |s: &str| Domain::try_from(s.to_string());
    let given_domain = given.domain.as_deref();
    match method {
        Method::ReverseForward | Method::NginxProxy => {
            let prompt = "The public DNS name browsers use (it points at the server)";
            let question = ask::Question::new("--domain", prompt);
            asking.required(given_domain, question, parse).map(Some)
        }
        Method::Ngrok => {
            let prompt = "The ngrok domain of your account the endpoint serves";
            let question = ask::Question::new("--domain", prompt);
            asking.required(given_domain, question, parse).map(Some)
        }
        Method::Lan => {
            let prompt = "A name the collaborators' machines resolve to the address (empty: none)";
            asking.optional(given_domain, ask::Question::new("--domain", prompt), parse)
        }
        Method::LocalForward => not_for(method, "--domain", &given.domain),
    }
}

fn tls(given: &Given, asking: &mut Asking, method: Method) -> Result<Option<TlsChoice>, InitError> {
    let kinds: &[&str] = match method {
        Method::ReverseForward | Method::NginxProxy => &["letsencrypt", "self-signed", "files"],
        Method::Lan => &["self-signed", "files"],
        Method::LocalForward | Method::Ngrok => {
            not_for::<()>(method, "--tls", &given.tls)?;
            for (flag, value) in [
                ("--email", &given.email),
                ("--tls-cert", &given.tls_cert),
                ("--tls-key", &given.tls_key),
            ] {
                not_for::<()>(method, flag, value)?;
            }
            return Ok(None);
        }
    };
    let prompt = format!("TLS certificate: {}", kinds.join(", "));
    let kind = asking.required(
        given.tls.as_deref(),
        ask::Question::new("--tls", &prompt).default_opt(match method {
            Method::Lan => Some("self-signed".to_string()),
            _ => None,
        }),
        |s| match kinds.contains(&s) {
            true => Ok(s.to_string()),
            false => Err(format!("one of {}", kinds.join(", "))),
        },
    )?;
    let path = |flag, prompt: &'static str, value: &Option<String>, asking: &mut Asking| {
        asking.required(value.as_deref(), ask::Question::new(flag, prompt), |s| {
            AbsPath::try_from(s.to_string())
        })
    };
    Ok(Some(match kind.as_str() {
        "letsencrypt" => TlsChoice::Letsencrypt(asking.required(
            given.email.as_deref(),
            ask::Question::new(
                "--email",
                "Email for the Let's Encrypt account (expiry notices)",
            ),
            |s| Email::try_from(s.to_string()),
        )?),
        "files" => TlsChoice::Files {
            cert: path(
                "--tls-cert",
                "The certificate chain's path on the host that terminates TLS",
                &given.tls_cert,
                asking,
            )?,
            key: path("--tls-key", "Its key's path there", &given.tls_key, asking)?,
        },
        _ => TlsChoice::SelfSigned,
    }))
}

/// Where the profile goes: the file given, `NAME.yaml` in the directory given, or `NAME.yaml` here.
pub fn profile_path(given: Option<&Path>, name: &ProfileName) -> PathBuf {
    let file = format!("{name}.yaml");
    match given {
        None => PathBuf::from(file),
        Some(path) if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') => {
            path.join(file)
        }
        Some(path) => path.to_path_buf(),
    }
}

/// The Jupyter password, from the file, standard input or the terminal, held to the policy; its hash.
pub fn password_hash(
    given: &Given,
    user: &UserName,
    interactive: bool,
) -> Result<(String, Vec<String>), InitError> {
    let password = match &given.password_file {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|error| InitError::Io {
                what: "read the password file",
                path: path.clone(),
                error,
            })?;
            password::read_password_line(&mut std::io::BufReader::new(file)).map_err(|source| {
                InitError::PasswordFile {
                    path: path.clone(),
                    source,
                }
            })?
        }
        None => {
            if interactive {
                eprintln!(
                    "The Jupyter password of {user}'s login: more than 16 characters, typed twice, not shown."
                );
            }
            password::read_new_password()?
        }
    };
    let warnings = policy::accept(&password, Purpose::Jupyter, given.allow_short, None)?;
    Ok((
        password::hash_password(&password, HashScheme::Argon2)?,
        warnings,
    ))
}

/// YAML's double-quoted scalar of `s` (JSON's string is one).
fn quoted(s: impl std::fmt::Display) -> String {
    serde_json::to_string(&s.to_string()).expect("strings serialize")
}

/// The profile's text.
pub fn render(
    a: &Answers,
    password_hash: &str,
    templates: &Templates,
) -> Result<String, RenderError> {
    let server_methods = a.method.has_server();
    let home = match a.user.as_str() {
        "root" => "/root".to_string(),
        user => format!("/home/{user}"),
    };
    let (domain_comment, server_comment) = match (a.method, server_methods) {
        (Method::Ngrok, _) => (
            "The ngrok domain of your account the endpoint serves (https://DOMAIN).",
            "",
        ),
        (Method::Lan, _) => (
            "A name the collaborators' machines resolve to lan.address.",
            "",
        ),
        (_, true) => (
            "The public DNS name browsers use; it points at the server.",
            "The forwarding server jprov configures, over SSH as its admin account.",
        ),
        (_, false) => ("", ""),
    };
    let server_comment = match server_methods {
        true => server_comment,
        false => "Only the SSH hop to the workstation (workstation.jump): nothing on it changes.",
    };
    let (tls, email, cert, key) = match &a.tls {
        None => (None, None, None, None),
        Some(TlsChoice::Letsencrypt(email)) => {
            (Some("letsencrypt"), Some(quoted(email)), None, None)
        }
        Some(TlsChoice::SelfSigned) => (Some("self-signed"), None, None, None),
        Some(TlsChoice::Files { cert, key }) => {
            (Some("files"), None, Some(quoted(cert)), Some(quoted(key)))
        }
    };
    templates.render(
        "profile.yaml",
        json!({
            "name": quoted(&a.name),
            "method": a.method.to_string(),
            "domain": a.domain.as_ref().map(quoted),
            "domain_comment": domain_comment,
            "server": a.server.as_ref().map(|(user, host, port)| json!({
                "host": quoted(host),
                "port": port.map(Port::get),
                "user": quoted(user),
                "sudo": user.as_str() != "root",
            })),
            "server_comment": server_comment,
            "lan_address": a.lan_address.as_ref().map(quoted),
            "ngrok_authtoken_file": (a.method == Method::Ngrok)
                .then(|| quoted(format!("{home}/.config/jprov/ngrok-authtoken"))),
            "workstation": {
                "host": a.workstation.as_ref().map_or(quoted("local"), |(host, _)| quoted(host)),
                "port": a.workstation.as_ref().and_then(|(_, port)| port.map(Port::get)),
                "user": quoted(&a.user),
                "jump": a.jump,
            },
            "password_hash": quoted(password_hash),
            "tls": tls,
            "email": email,
            "cert": cert,
            "key": key,
        }),
    )
}

/// An I/O error about `path`, for `map_err`.
fn io(what: &'static str, path: &Path) -> impl Fn(std::io::Error) -> InitError {
    let path = path.to_path_buf();
    move |error| InitError::Io {
        what,
        path: path.clone(),
        error,
    }
}

/// Write the profile (never over an existing file) and the `.gitignore` beside it; say what was written.
pub fn write(
    path: &Path,
    text: &str,
    templates: &Templates,
    out: &mut dyn Write,
) -> Result<(), InitError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io("create the directory", &dir))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => InitError::Exists(path.to_path_buf()),
            _ => InitError::Io {
                what: "create",
                path: path.to_path_buf(),
                error,
            },
        })?;
    file.write_all(text.as_bytes()).map_err(io("write", path))?;
    let _ = writeln!(out, "wrote {}", path.display());
    let ignore = path.with_file_name(".gitignore");
    let wanted = templates.render("gitignore", json!({}))?;
    let existing = match std::fs::read_to_string(&ignore) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("read", &ignore)(e)),
    };
    let said = match existing {
        None => {
            std::fs::write(&ignore, &wanted).map_err(io("write", &ignore))?;
            format!(
                "wrote {}: it keeps keys, certificates and tokens out of git",
                ignore.display()
            )
        }
        Some(text) => {
            let missing: Vec<&str> = (wanted.lines())
                .filter(|l| !l.starts_with('#') && !text.lines().any(|have| have.trim() == *l))
                .collect();
            if missing.is_empty() {
                format!(
                    "{} already keeps keys, certificates and tokens out of git",
                    ignore.display()
                )
            } else {
                let mut added = String::from(if text.ends_with('\n') || text.is_empty() {
                    ""
                } else {
                    "\n"
                });
                added.push_str(
                    "# Added by `jprov init`: keys, certificates and tokens stay out of git.\n",
                );
                added.extend(missing.iter().map(|l| format!("{l}\n")));
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&ignore)
                    .map_err(io("append to", &ignore))?;
                f.write_all(added.as_bytes())
                    .map_err(io("append to", &ignore))?;
                format!(
                    "added {} patterns to {}, to keep keys, certificates and tokens out of git",
                    missing.len(),
                    ignore.display()
                )
            }
        }
    };
    let _ = writeln!(out, "{said}");
    Ok(())
}

/// `jprov init`: the answers, the password's hash, the profile checked like any other, the files, the next
/// commands. Questions go to stderr (on a terminal), what was written to `out`.
pub fn run(given: &Given, templates: &Templates, out: &mut dyn Write) -> Result<(), InitError> {
    use std::io::IsTerminal;
    // A profile that is there is refused before anyone answers a question.
    if let Some(path) = given.path.as_deref().filter(|p| p.exists() && !p.is_dir()) {
        return Err(InitError::Exists(path.to_path_buf()));
    }
    let interactive = std::io::stdin().is_terminal();
    let answers = {
        let stdin = std::io::stdin();
        let (mut input, mut stderr) = (stdin.lock(), std::io::stderr());
        let mut asking = match interactive {
            true => Asking::terminal(&mut input, &mut stderr),
            false => Asking::nobody(),
        };
        answers(given, &mut asking)?
    };
    let path = profile_path(given.path.as_deref(), &answers.name);
    if path.exists() {
        return Err(InitError::Exists(path));
    }
    let (hash, warnings) = password_hash(given, &answers.user, interactive)?;
    for warning in warnings {
        eprintln!("{warning}");
    }
    let text = render(&answers, &hash, templates)?;
    crate::profile::parse(&text, &path)?;
    write(&path, &text, templates, out)?;
    next_steps(&answers, &path, out);
    Ok(())
}

/// The commands to run next, and what the method needs done by hand first.
pub fn next_steps(a: &Answers, path: &Path, out: &mut dyn Write) {
    let p = path.display();
    let mut lines = vec![];
    match a.method {
        Method::Ngrok => lines.push(format!(
            "on the workstation, as {}: put NGROK_AUTHTOKEN=<your authtoken> in the file ngrok.authtoken_file \
             names (chmod 600), and install the ngrok agent (README: ngrok)",
            a.user
        )),
        Method::Lan => lines.push(
            "open the workstation's firewall to the collaborators' machines for Jupyter's port (8888)".to_string(),
        ),
        Method::ReverseForward | Method::NginxProxy if matches!(a.tls, Some(TlsChoice::Letsencrypt(_))) => {
            lines.push("point the domain's DNS at the server: Let's Encrypt checks it".to_string())
        }
        _ => {}
    }
    lines.push(format!(
        "jprov check {p}                # lint it (CI: next to `jprov plan --offline {p}`)"
    ));
    if a.server.is_some() || a.workstation.is_some() {
        lines.push(format!(
            "jprov trust {p}                # pin the hosts' keys beside it; compare the fingerprints, commit known_hosts"
        ));
    }
    lines.push(format!(
        "jprov plan {p}                 # what apply would change on the hosts"
    ));
    lines.push(format!("jprov apply {p}"));
    let _ = writeln!(out, "Next:");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}
