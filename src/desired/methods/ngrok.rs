//! ngrok: a workstation with no forwarding server. The ngrok agent runs there as the user's service and
//! serves one https endpoint on the profile's domain (an ngrok domain of the user's account); ngrok's edge
//! terminates TLS and the agent forwards to Jupyter on loopback, which requires the password and trusts the
//! agent's X-headers. The agent's secrets (its authtoken, basic-auth credentials) stay in files on the
//! workstation that the profile names: plan checks that they are there and private, and jprov never reads
//! them (the `private_files` fact has no content). With basic auth, whose credentials ngrok's policy takes
//! in plaintext, the service assembles the configuration the agent reads when it starts, in its runtime
//! directory (`templates/assemble_ngrok_config.sh.j2`).

use super::{Method, TlsEnd, Tunnel};
use crate::desired::builder::{plain_group, url, Builder, Exposure};
use crate::desired::services::unit_group;
use crate::desired::sharing::{channels_step, Shared};
use crate::desired::*;
use crate::facts::PrivateFileFact;

pub(in crate::desired) struct Ngrok;

/// The line of the rendered ngrok.yml that the assembling script replaces with the credentials. As it
/// stands (no credentials), ngrok's basic-auth would let nobody in: the file is never a way around them.
pub const CREDENTIALS_MARKER: &str =
    "credentials: []  # jprov: filled in from ngrok.basic_auth_file when the agent starts";

impl Method for Ngrok {
    fn roles(&self) -> &'static [Role] {
        &[Role::Workstation]
    }

    /// ngrok's edge terminates TLS with its own certificate; nothing on the workstation serves TLS.
    fn tls_end(&self, _: &Profile, _: &Layout) -> Option<TlsEnd> {
        None
    }

    fn tunnel(&self, _: &Builder) -> Option<Tunnel> {
        None
    }

    fn host(&self, b: &Builder, _: Role) -> Result<HostState, RenderError> {
        workstation(b)
    }

    fn reach(&self, b: &Builder) -> Reach {
        let (p, l) = (b.p, b.l);
        let mut steps = vec![match b.service_status(Role::Workstation, &l.ngrok_unit) {
            Some(status) => format!(
                "the endpoint is up while the agent runs and ngrok accepts its authtoken: {status} (its \
                 log: journalctl --user -u {})",
                l.ngrok_unit
            ),
            None => format!("start the ngrok agent on the workstation as {}: {}", p.workstation.user, agent_by_hand(p, l)),
        }];
        let basic_auth = section(p).basic_auth_file.is_some();
        if basic_auth {
            steps.push(
                "browsers ask for a user and password from ngrok.basic_auth_file first, then Jupyter's login \
                 page asks for Jupyter's password"
                    .to_string(),
            );
        }
        steps.push(
            "on ngrok's free plan browsers first see ngrok's warning page, which can get in the way of \
             Jupyter's websockets; a paid plan does not show it"
                .to_string(),
        );
        // ngrok's certificate is a public CA's: nothing to compare.
        steps.push(channels_step(match basic_auth {
            true => Shared::UrlAndBasicAuth,
            false => Shared::Url,
        }));
        Reach {
            url: exposure(p).url,
            steps,
            laptop_forward: None,
        }
    }
}

fn section(p: &Profile) -> &crate::profile::Ngrok {
    p.ngrok.as_ref().expect("validated: ngrok has ngrok:")
}

/// Jupyter on loopback, reached only through the agent; ngrok's edge serves https on port 443.
fn exposure(p: &Profile) -> Exposure {
    let domain = p.domain().to_string();
    Exposure {
        reached_through:
            "Reachable only through the ngrok agent on this workstation (ngrok terminates TLS).",
        ip: "127.0.0.1".into(),
        url: url("https", &domain, 443, p.jupyter.base_url.as_str()),
        // The agent passes the browser's Host, the endpoint's domain.
        local_hostnames: vec![domain],
        serves_tls: false,
        behind_proxy: true,
    }
}

fn workstation(b: &Builder) -> Result<HostState, RenderError> {
    let systemd = b.systemd(Role::Workstation);
    let mut items = vec![];
    if systemd {
        items.push(Item::Linger(b.p.workstation.user.to_string()));
    }
    items.push(plain_group(
        "Jupyter and ngrok configuration",
        configuration(b)?,
    ));
    let mut problems = private_file_problems(b);
    let mut notes = vec![];
    if systemd {
        let (jupyter_file, jupyter_unit) = b.jupyter_service()?;
        let (agent_file, agent_unit) = agent_service(b)?;
        items.push(unit_group(
            "the workstation user's systemd units",
            UnitScope::User,
            vec![jupyter_file, agent_file],
        ));
        items.extend([Item::Unit(jupyter_unit), Item::Unit(agent_unit)]);
        problems.extend(b.jupyter_problems());
        problems.extend(agent_problems(b));
    } else {
        notes.push(
            "the workstation does not run systemd: jprov sets up no services there; start Jupyter and the \
             ngrok agent yourself (below)"
                .to_string(),
        );
    }
    Ok(HostState {
        role: Role::Workstation,
        items,
        sshd_intent: vec![],
        notes,
        problems,
    })
}

/// Jupyter's config, the agent's, and with basic auth the script that assembles what the agent reads.
fn configuration(b: &Builder) -> Result<Vec<ManagedFile>, RenderError> {
    let (p, l) = (b.p, b.l);
    let ngrok = section(p);
    let agent = b.templates.render(
        "ngrok.yml",
        json!({
            "profile": p.name,
            "domain": p.domain(),
            "port": p.jupyter.port,
            "allow": (p.access.allowed().iter()).map(|c| c.network()).collect::<Vec<_>>(),
            "authtoken_file": ngrok.authtoken_file,
            "basic_auth_file": ngrok.basic_auth_file,
            "assemble": l.ngrok_assemble,
            "credentials_marker": CREDENTIALS_MARKER,
        }),
    )?;
    let mut files = vec![
        b.jupyter_config(&exposure(p))?,
        b.user_file(
            &l.ngrok_config,
            Content::Known(agent),
            0o600,
            Secrecy::Public,
        ),
    ];
    if let Some(credentials) = &ngrok.basic_auth_file {
        let script = b.templates.render(
            "assemble_ngrok_config.sh",
            json!({
                "profile": p.name,
                "unit": l.ngrok_unit,
                "config": l.ngrok_config,
                "credentials": credentials,
                "credentials_marker": CREDENTIALS_MARKER,
            }),
        )?;
        files.push(b.user_file(
            &l.ngrok_assemble,
            Content::Known(script),
            0o700,
            Secrecy::Public,
        ));
    }
    Ok(files)
}

/// The agent as the workstation user's service, restarted when its unit or what it reads from jprov
/// changes (not the secret files: jprov never sees them change).
fn agent_service(b: &Builder) -> Result<(ManagedFile, Unit), RenderError> {
    let (p, l) = (b.p, b.l);
    let ngrok = section(p);
    let assemble = ngrok.basic_auth_file.is_some();
    let file = b.unit_file(
        UnitScope::User,
        &l.ngrok_unit,
        "ngrok.service",
        json!({
            "profile": p.name,
            "domain": p.domain(),
            "jupyter_unit": l.jupyter_unit,
            "authtoken_file": ngrok.authtoken_file,
            "command": ngrok.executable(),
            "config": l.ngrok_config,
            "assemble": assemble.then_some(&l.ngrok_assemble),
            "runtime_dir": l.ngrok_runtime_dir,
            "restart_seconds": TUNNEL_RESTART_SECONDS,
        }),
    )?;
    let mut restart_on = vec![file.path.clone(), l.ngrok_config.clone()];
    if assemble {
        restart_on.push(l.ngrok_assemble.clone());
    }
    let unit = Unit {
        name: l.ngrok_unit.clone(),
        scope: UnitScope::User,
        restart_on,
        makes: vec![],
        label: "the ngrok agent".into(),
    };
    Ok((file, unit))
}

/// Without systemd: the agent started by hand, reading the authtoken file as the service would.
fn agent_by_hand(p: &Profile, l: &Layout) -> String {
    let ngrok = section(p);
    let token = crate::argv::shell_words(&[ngrok.authtoken_file.to_string()]);
    let command = crate::argv::shell_words(&[ngrok.executable()]);
    match ngrok.basic_auth_file {
        None => format!(
            "(set -a; . {token}; exec {command} start --all --config {})",
            l.ngrok_config
        ),
        Some(_) => {
            // Without systemd a session may have no XDG_RUNTIME_DIR.
            let runtime = format!(
                "\"${{XDG_RUNTIME_DIR:-$HOME/.local/state/jprov}}\"/{}",
                l.ngrok_runtime_dir
            );
            format!(
                "(set -a; . {token}; mkdir -p -m 700 {runtime} && {} {runtime}/ngrok.yml && exec {command} \
                 start --all --config {runtime}/ngrok.yml)",
                l.ngrok_assemble
            )
        }
    }
}

/// The service would fail at once without an agent where systemd looks for it.
fn agent_problems(b: &Builder) -> Vec<String> {
    let program = section(b.p).executable();
    match b.facts.executable(Role::Workstation, &program) {
        Some(false) if program.starts_with('/') => vec![format!(
            "the ngrok service would run {program}, which is not an executable file on the workstation: \
             install the ngrok agent (version 3) there, or correct ngrok.command"
        )],
        Some(false) => vec![
            "no ngrok agent on the workstation: the service would run `ngrok`, which systemd does not find \
             in /usr/local/bin, /usr/bin or /bin. Install the ngrok agent, version 3 (https://ngrok.com/download: \
             ngrok's Debian repository, or its static binary in /usr/local/bin), or give its absolute path \
             in ngrok.command"
                .to_string(),
        ],
        _ => vec![],
    }
}

/// The files of secrets must be there, readable by the user the agent runs as, and by nobody else.
fn private_file_problems(b: &Builder) -> Vec<String> {
    let ngrok = section(b.p);
    let mut files = vec![(
        "ngrok.authtoken_file",
        &ngrok.authtoken_file,
        "the line NGROK_AUTHTOKEN=<your authtoken from ngrok's dashboard>",
    )];
    if let Some(credentials) = &ngrok.basic_auth_file {
        files.push((
            "ngrok.basic_auth_file",
            credentials,
            "one user:password line per person (passwords of 8 to 128 characters)",
        ));
    }
    let user = &b.p.workstation.user;
    let mut problems = vec![];
    for (field, path, holds) in files {
        let problem = match b.facts.private_file(Role::Workstation, path.as_str()) {
            None => continue,
            Some(PrivateFileFact::Missing) => format!(
                "{field} {path} is not on the workstation (or {user} cannot get to it): put {holds} in it, \
                 readable by {user} only (chmod 600 {path})"
            ),
            Some(PrivateFileFact::Other(kind)) => {
                format!("{field} {path} is a {kind}, not a file: put {holds} in a file there")
            }
            Some(PrivateFileFact::File {
                readable: false, ..
            }) => format!(
                "{field} {path} is not readable by {user}, who runs the agent: chown {user} {path}; chmod \
                 600 {path}"
            ),
            Some(PrivateFileFact::File { mode, .. }) if mode & 0o077 != 0 => format!(
                "{field} {path} has mode {mode:04o}: other accounts on the workstation may read it (or \
                 change it); chmod 600 {path}"
            ),
            Some(PrivateFileFact::File { .. }) => continue,
        };
        problems.push(problem);
    }
    problems
}
