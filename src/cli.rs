//! Command-line interface: parsing and dispatch. Every flag is documented once, here.

use crate::desired::Options;
use crate::error::{exit, Error};
use crate::host::engine::{self, Hosts};
use crate::password::{self, HashScheme};
use crate::profile;
use crate::render::Templates;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

mod several;

#[derive(Debug, Parser)]
#[command(
    name = "jprov",
    version,
    about = "Provision secure remote access to Jupyter through an SSH forwarding server, from one YAML profile.",
    after_help = "Exit codes: 0 success / no changes (tunnel: stopped by SIGINT/SIGTERM), 1 error (a usage error too; apply/destroy not approved), 2 changes pending (plan), \
                  3 validation failed (sshd -t / nginx -t, or sshd's effective settings), \
                  4 host unreachable, host key refused or login failed."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show every file, command and reload `apply` would perform. Changes nothing.
    Plan {
        /// The profiles (YAML), or directories of them (their *.yaml files). Several are planned together:
        /// each login is connected to once, every host in parallel.
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        /// Plan against hosts with nothing on them yet, without connecting (what CI runs).
        #[arg(long)]
        offline: bool,
        /// Print the plan as versioned JSON (secrets redacted) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connect: ConnectArgs,
        /// Include starting the tunnel, as `apply --start-tunnel` would.
        #[arg(long, conflicts_with = "destroy")]
        start_tunnel: bool,
        /// Plan the removal of what jprov set up for the profile (what `jprov destroy` does) instead of the
        /// setup. With --offline: against hosts with everything on them, all made by jprov.
        #[arg(long)]
        destroy: bool,
        /// Also save the plan to FILE (of every profile given), for `jprov apply FILE` (which applies it
        /// only if nothing changed).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Lint profiles for security, offline (what CI runs next to `plan --offline`): plaintext secrets in
    /// the profile and in files git tracks beside it, key and certificate files git would commit, weak or
    /// shared password hashes, templates that turn TLS or the password off; then the profile's security
    /// layers and what each stops. Exit 1 when any profile has an error, else 0.
    Check {
        /// The profiles (YAML).
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        /// Print the findings and layers as versioned JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make the hosts match the profile, over SSH, idempotently.
    Apply {
        /// The profiles (YAML) or directories of them, or one plan saved with `jprov plan -o FILE`. All
        /// plans are shown first and approved once.
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        #[command(flatten)]
        connect: ConnectArgs,
        /// On a host without systemd: start the SSH tunnel in the background on the host that opens it (it
        /// runs until it exits; `jprov tunnel` restarts it). With systemd the tunnel is a service anyway.
        #[arg(long)]
        start_tunnel: bool,
        #[command(flatten)]
        guard: GuardArgs,
    },
    /// Remove what jprov set up for the profile, putting back what it replaced.
    ///
    /// Stops its services and tunnels, deletes the files it created and puts back those it replaced,
    /// removes its lines from shared files (authorized_keys), its keys, accounts and records; validates and
    /// reloads as apply does (under the lockout guard for sshd), then checks that nothing is left. Let's
    /// Encrypt certificates are kept. `plan --destroy` shows it first.
    Destroy {
        /// The profiles (YAML), or directories of them.
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        #[command(flatten)]
        connect: ConnectArgs,
        #[command(flatten)]
        guard: GuardArgs,
    },
    /// Fetch the hosts' SSH keys, show their fingerprints and pin them in the profile's known_hosts file
    /// (`known_hosts` next to the profile unless the profile names another). Never prompts; a host whose
    /// pinned key differs fails.
    Trust {
        /// The profiles (YAML), or directories of them.
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<PathBuf>,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Keep the profile's SSH tunnel up in the foreground, for hosts without systemd. Runs the tunnel's
    /// ssh command exactly as `plan` shows it and starts it again whenever it exits, until SIGINT or
    /// SIGTERM (then it stops ssh and exits 0). Run it after `jprov apply`, on the host that opens the
    /// tunnel (reverse-forward: the workstation; nginx-proxy: the server), as the tunnel's user.
    Tunnel {
        /// The profile (YAML).
        profile: PathBuf,
        /// Seconds to wait after ssh exited before starting it again (at least 1).
        #[arg(
            long,
            default_value_t = crate::desired::TUNNEL_RESTART_SECONDS,
            value_name = "SECONDS",
            value_parser = clap::value_parser!(u32).range(1..)
        )]
        retry_seconds: u32,
    },
    /// Check from outside, as a collaborator's machine, that the URL the profile exposes works and is
    /// locked: the name, TLS (trust, name, days left, protocol, HSTS, plain http), the layers in front of
    /// Jupyter, a login and its cookie, a kernel running code over its websocket, and (reverse-forward)
    /// that the workstation's own ports do not answer. Never connects to the hosts over SSH. Exit 0 when
    /// no check failed, 1 otherwise.
    Verify(VerifyArgs),
    /// Hash a Jupyter password for a profile's jupyter.password_hash (or, with --htpasswd, a basic-auth
    /// password for access.basic_auth[].htpasswd_hash). Prompts twice without echo, or reads one line from
    /// standard input when it is not a terminal.
    HashPassword(HashPasswordArgs),
    /// Write a starting profile, and a .gitignore beside it that keeps keys, certificates and tokens out of
    /// git; never over an existing profile. On a terminal it asks for what the flags leave out; without one
    /// every value the method needs must be a flag. It hashes the Jupyter password itself (read without
    /// echo, from --password-file, or as one line of standard input), then prints the next commands.
    Init(Box<InitArgs>),
    /// Print a new unguessable base URL for a profile's jupyter.base_url (`/j-` and 128 random bits in
    /// base32). It hides Jupyter only from those who do not know the URL: it is no substitute for the
    /// password, basic auth or an allow-list.
    BaseUrl,
    /// Print the profile's JSON Schema (profiles/profile.schema.json is this output), for editors: a
    /// profile with `# yaml-language-server: $schema=profile.schema.json` gets its fields completed and
    /// checked. jprov itself checks more (values, rules across fields).
    Schema,
    /// Print a shell completion script, generated from the same definitions as --help, e.g.
    /// `jprov completions bash > /etc/bash_completion.d/jprov`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write jprov's man pages (jprov.1 and one per command, jprov-plan.1, ...) into DIR, generated from the
    /// same definitions as --help, e.g. `jprov man /usr/local/share/man/man1`.
    Man {
        /// Where to write the pages.
        dir: PathBuf,
    },
}

/// `jprov verify`'s arguments (one struct: dispatch stays short).
#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The profile (YAML).
    profile: PathBuf,
    /// Trust only the certificates in FILE (PEM) instead of the system's roots: a private CA's root,
    /// or a copy of a self-signed certificate.
    #[arg(long, value_name = "FILE", conflicts_with = "fingerprint")]
    ca_file: Option<PathBuf>,
    /// Trust exactly the certificate with this SHA-256 fingerprint (`AB:CD:...`, as `jprov apply`
    /// prints a self-signed certificate's), whoever signed it.
    #[arg(long, value_name = "SHA256")]
    fingerprint: Option<String>,
    /// Read Jupyter's password from the first line of FILE (else it is asked for, without echo, on a
    /// terminal).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Read the basic-auth credentials in front of Jupyter from the first line of FILE, `user:password`
    /// (else they are asked for on a terminal).
    #[arg(long, value_name = "FILE")]
    basic_auth_file: Option<PathBuf>,
    /// Log in to Jupyter as this collaborator (jupyter.collaborators[].username); default the owner.
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// Print the report as versioned JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The command line's definition: --help, the completions, the man page and the README's flag list all
/// come from it (tests/offline.rs checks the README against it).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[derive(Debug, clap::Args)]
struct HashPasswordArgs {
    /// Use the classic sha1:salt:hex form instead of argon2id.
    #[arg(long, conflicts_with = "htpasswd")]
    sha1: bool,
    /// Hash an HTTP basic-auth password for nginx instead (bcrypt, `$2b$`): for
    /// access.basic_auth[].htpasswd_hash. Use another password than the Jupyter one.
    #[arg(long)]
    htpasswd: bool,
    /// Hash a password shorter than the policy asks anyway (a Jupyter password needs more than 16
    /// characters, a basic-auth one more than 10), with a warning on stderr.
    #[arg(long)]
    allow_short: bool,
    /// Refuse a password whose hash PROFILE already holds (the owner's, a collaborator's, a basic-auth
    /// account's), naming the field it matched.
    #[arg(long, value_name = "PROFILE")]
    profile: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// The profile to write, or a directory to write NAME.yaml in (default: NAME.yaml here).
    #[arg(value_name = "DIR or FILE")]
    path: Option<PathBuf>,
    /// How browsers reach Jupyter.
    #[arg(long, value_parser = ["reverse-forward", "nginx-proxy", "local-forward", "lan", "ngrok"])]
    method: Option<String>,
    /// The profile's name: lowercase letters, digits, - (default: jupyter).
    #[arg(long)]
    name: Option<String>,
    /// The forwarding server jprov configures, as its admin account over SSH; for local-forward, lan and
    /// ngrok a jump host to the workstation, which jprov does not change.
    #[arg(long, value_name = "USER@HOST[:PORT]")]
    server: Option<String>,
    /// The workstation's SSH address, or `local` when jprov runs on it.
    #[arg(long, value_name = "HOST[:PORT]")]
    workstation: Option<String>,
    /// Reach the workstation through the server (workstation.jump: server).
    #[arg(long)]
    jump: bool,
    /// The workstation account Jupyter runs as; jprov logs in as it.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The DNS name browsers use: the server's, ngrok's domain of your account, or for lan (optional) a name
    /// the collaborators' machines resolve to --lan-address.
    #[arg(long)]
    domain: Option<String>,
    /// lan: the workstation's IP address on the collaborators' network.
    #[arg(long, value_name = "IP")]
    lan_address: Option<String>,
    /// Where the certificate comes from (reverse-forward, nginx-proxy; lan: self-signed by default).
    #[arg(long, value_parser = ["letsencrypt", "self-signed", "files"])]
    tls: Option<String>,
    /// --tls letsencrypt: the ACME account's email.
    #[arg(long)]
    email: Option<String>,
    /// --tls files: the certificate chain's path on the host that terminates TLS.
    #[arg(long, value_name = "PATH")]
    tls_cert: Option<String>,
    /// --tls files: its key's path there.
    #[arg(long, value_name = "PATH")]
    tls_key: Option<String>,
    /// Read the Jupyter password from the first line of FILE instead of a prompt or standard input.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Hash a Jupyter password of 16 characters or fewer anyway, with a warning on stderr.
    #[arg(long)]
    allow_short: bool,
}

impl InitArgs {
    fn given(self) -> crate::init::Given {
        crate::init::Given {
            path: self.path,
            method: self.method,
            name: self.name,
            server: self.server,
            workstation: self.workstation,
            jump: self.jump,
            user: self.user,
            domain: self.domain,
            lan_address: self.lan_address,
            tls: self.tls,
            email: self.email,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            password_file: self.password_file,
            allow_short: self.allow_short,
        }
    }
}

#[derive(Debug, clap::Args)]
struct GuardArgs {
    /// Seconds after which the on-host lockout guard restores the previous sshd configuration if jprov
    /// has not proven a fresh login by then (e.g. because its connection died).
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    lockout_guard_seconds: u32,
    /// Do not ask before changing the hosts. Without it, apply and destroy show the plan and ask for
    /// `yes` on a terminal, and refuse (exit 1) without one; a saved plan needs no approval.
    #[arg(short = 'y', long = "yes", visible_alias = "auto-approve")]
    yes: bool,
}

#[derive(Debug, clap::Args)]
struct ConnectArgs {
    /// Record unknown host keys (in the profile's known_hosts file, or ~/.ssh/known_hosts) instead of
    /// refusing them. A changed or revoked key is still refused.
    #[arg(long)]
    accept_new_host_keys: bool,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(Debug, clap::Args)]
struct SshArgs {
    /// Read this ssh client config file instead of ~/.ssh/config (like `ssh -F`), for jprov's own
    /// connections and their jumps.
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// Seconds to wait for each host's TCP connection and SSH handshake and login before giving up
    /// (exit 4). Default: ssh's ConnectTimeout for the host, else 10.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    connect_timeout: Option<u32>,
}

impl SshArgs {
    fn connecting(&self, accept_new_host_keys: bool) -> crate::host::hosts::Connecting {
        crate::host::hosts::Connecting {
            ssh_config: self.ssh_config.clone(),
            accept_new_host_keys,
            timeout: (self.connect_timeout).map(|s| std::time::Duration::from_secs(s.into())),
        }
    }
}

impl ConnectArgs {
    fn connecting(&self) -> crate::host::hosts::Connecting {
        self.ssh.connecting(self.accept_new_host_keys)
    }
}

pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => return usage_exit(&usage),
    };
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::ExitCode::from(code)
}

/// clap's answer to arguments it could not take: `--help` and `--version` print and succeed; a usage error
/// exits 1, not clap's 2, which CI reads from `plan` as "changes pending".
fn usage_exit(usage: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let _ = usage.print();
    let code = match usage.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
        // Everything else is a usage error, `jprov` without a command too (clap shows the help then).
        _ => exit::ERROR,
    };
    std::process::ExitCode::from(code)
}

fn dispatch(cli: Cli) -> Result<u8, Error> {
    let templates = Templates::new();
    let stdout = &mut std::io::stdout().lock();
    match cli.command {
        Command::Plan {
            profiles,
            offline,
            json,
            connect,
            start_tunnel,
            destroy,
            out,
        } => {
            let options = Options {
                start_tunnel,
                destroy,
            };
            let how = PlanOutput { json, save: out };
            match several::plan(
                &profiles, offline, &connect, options, &how, &templates, stdout,
            ) {
                // A machine that asked for JSON gets its errors as JSON too (and people still on stderr).
                Err(error) if json => Ok(json_error(&error, stdout)),
                planned => planned,
            }
        }
        Command::Check { profiles, json } => match check(&profiles, json, &templates, stdout) {
            Err(error) if json => Ok(json_error(&error, stdout)),
            checked => checked,
        },
        Command::Apply {
            profiles,
            connect,
            start_tunnel,
            guard,
        } => several::apply(
            &profiles,
            start_tunnel,
            &connect,
            &guard,
            &templates,
            stdout,
        ),
        Command::Destroy {
            profiles,
            connect,
            guard,
        } => several::destroy(&profiles, &connect, &guard, &templates, stdout),
        Command::Trust { profiles, ssh } => {
            let loaded = (several::profile_paths(&profiles)?.iter())
                .map(|path| profile::load(path))
                .collect::<Result<Vec<_>, _>>()?;
            crate::host::trust::trust(&loaded, ssh.connecting(false), stdout)?;
            Ok(exit::OK)
        }
        Command::Tunnel {
            profile,
            retry_seconds,
        } => {
            let retry = std::time::Duration::from_secs(retry_seconds.into());
            crate::host::tunnel::run(&profile::load(&profile)?, &templates, retry)?;
            Ok(exit::OK)
        }
        Command::Verify(args) => verify(args, &templates, stdout),
        Command::HashPassword(args) => hash_password(&args, stdout),
        Command::Init(args) => init(*args, &templates, stdout),
        Command::Schema => schema(stdout),
        Command::BaseUrl => base_url(stdout),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "jprov", stdout);
            Ok(exit::OK)
        }
        Command::Man { dir } => write_man_pages(&dir, stdout),
    }
}

/// `jprov destroy PROFILE`: apply the teardown plan.
fn destroy(
    profile: &std::path::Path,
    connect: &ConnectArgs,
    guard: &GuardArgs,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let lp = profile::load(profile)?;
    let options = Options {
        start_tunnel: false,
        destroy: true,
    };
    apply(&lp, templates, options, connect, guard, None, stdout)
}

/// `jprov schema`: the profile's JSON Schema.
fn schema(stdout: &mut dyn Write) -> Result<u8, Error> {
    let text = serde_json::to_string_pretty(&crate::profile::json_schema())
        .expect("JSON values serialize");
    let _ = writeln!(stdout, "{text}");
    Ok(exit::OK)
}

/// `jprov verify`: the report, and 0 when no check failed, 1 otherwise.
fn verify(args: VerifyArgs, templates: &Templates, stdout: &mut dyn Write) -> Result<u8, Error> {
    let json = args.json;
    let report = verify_settings(args).and_then(|(profile, settings)| {
        let lp = profile::load(&profile)?;
        Ok(crate::verify::run(&lp, templates, &settings)?)
    });
    let report = match report {
        Ok(report) => report,
        Err(error) if json => {
            let version = crate::verify::report::FORMAT_VERSION;
            return Ok(json_error_of(&error, version, stdout));
        }
        Err(error) => return Err(error),
    };
    let _ = match json {
        true => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
        false => write!(stdout, "{report}"),
    };
    Ok(report.exit_code())
}

/// The profile and verify's settings from its arguments.
fn verify_settings(args: VerifyArgs) -> Result<(PathBuf, crate::verify::Settings), Error> {
    use crate::verify::tls::{parse_fingerprint, Trust};
    let trust = match (args.ca_file, args.fingerprint) {
        (Some(file), _) => Some(Trust::CaFile(file)),
        (None, Some(pin)) => Some(Trust::Fingerprint(
            parse_fingerprint(&pin).map_err(|why| Error::Usage(format!("--fingerprint: {why}")))?,
        )),
        (None, None) => None,
    };
    let credentials = crate::verify::credentials::Sources {
        password_file: args.password_file,
        basic_auth_file: args.basic_auth_file,
        username: args.username,
    };
    Ok((args.profile, crate::verify::Settings { trust, credentials }))
}

/// `jprov hash-password`: a new password, read without echo and held to the policy, as a hash for the
/// profile.
fn hash_password(args: &HashPasswordArgs, stdout: &mut dyn Write) -> Result<u8, Error> {
    use password::policy::Purpose;
    // A profile that does not load fails before anyone types a password.
    let profile = args.profile.as_deref().map(profile::load).transpose()?;
    let (scheme, purpose) = match (args.sha1, args.htpasswd) {
        (_, true) => (None, Purpose::BasicAuth),
        (true, false) => (Some(HashScheme::Sha1), Purpose::Jupyter),
        (false, false) => (Some(HashScheme::Argon2), Purpose::Jupyter),
    };
    let new = password::read_new_password()?;
    let held = profile.as_ref().map(|lp| &lp.profile);
    for warning in password::policy::accept(&new, purpose, args.allow_short, held)? {
        eprintln!("{warning}");
    }
    let hash = match scheme {
        None => password::htpasswd::hash_password(&new)?,
        Some(scheme) => password::hash_password(&new, scheme)?,
    };
    let _ = writeln!(stdout, "{hash}");
    Ok(exit::OK)
}

/// `jprov check PROFILE...`: every profile's findings and layers; exit 1 when any has an error. A profile
/// that does not load is a finding of its own, so the others are still checked.
fn check(
    files: &[PathBuf],
    json: bool,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let mut reports = vec![];
    let mut loaded = vec![];
    for file in files {
        let report = match profile::load(file) {
            Err(error) => crate::lint::Report::invalid(file, &error),
            Ok(lp) => {
                let source = std::fs::read(file).map_err(|error| Error::Output {
                    what: format!("reading {}", file.display()),
                    error,
                })?;
                let source = String::from_utf8_lossy(&source);
                let workspace = crate::host::workspace::gather(&lp);
                let report = crate::lint::check(&lp, &source, &workspace, templates)?;
                loaded.push((reports.len(), lp));
                report
            }
        };
        reports.push(report);
    }
    // Profiles that share a host must not take the same names and ports there.
    let profiles: Vec<_> = loaded.iter().map(|(_, lp)| lp).collect();
    for (which, finding) in crate::lint::fleet::conflicts(&profiles) {
        reports[loaded[which].0].add(finding);
    }
    let _ = match json {
        true => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&crate::lint::json(&reports)).expect("reports serialize")
        ),
        false => write!(stdout, "{}", crate::lint::Text(&reports)),
    };
    Ok(match reports.iter().any(|r| r.errors > 0) {
        true => exit::ERROR,
        false => exit::OK,
    })
}

/// `jprov init [DIR or FILE]`: a starting profile, its .gitignore, the next commands.
fn init(args: InitArgs, templates: &Templates, stdout: &mut dyn Write) -> Result<u8, Error> {
    crate::init::run(&args.given(), templates, stdout)?;
    Ok(exit::OK)
}

/// `jprov base-url`: an unguessable `jupyter.base_url` on stdout, what it is (not) good for on stderr.
fn base_url(stdout: &mut dyn Write) -> Result<u8, Error> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(password::PasswordError::Random)?;
    let _ = writeln!(stdout, "{}", crate::value::BaseUrl::unguessable(random));
    eprintln!(
        "put it in the profile's jupyter.base_url; it keeps out only those who do not know the URL, and \
         every link and bookmark carries it: obscurity is not security"
    );
    Ok(exit::OK)
}

/// `jprov man DIR`: jprov.1 and a page per command.
fn write_man_pages(dir: &std::path::Path, stdout: &mut dyn Write) -> Result<u8, Error> {
    clap_mangen::generate_to(command(), dir).map_err(|error| Error::Output {
        what: format!("the man pages in {}", dir.display()),
        error,
    })?;
    let _ = writeln!(stdout, "wrote jprov's man pages into {}", dir.display());
    Ok(exit::OK)
}

/// `{"format_version": N, "error": {"message": ..., "exit_code": N}}` on stdout, the message on stderr;
/// returns the exit code. Messages never hold a secret (profile errors never echo values).
fn json_error(error: &Error, stdout: &mut dyn Write) -> u8 {
    json_error_of(error, crate::plan::FORMAT_VERSION, stdout)
}

/// `json_error` for a command whose JSON has its own `format_version` (`jprov verify`).
fn json_error_of(error: &Error, format_version: u32, stdout: &mut dyn Write) -> u8 {
    let code = error.exit_code();
    let value = serde_json::json!({
        "format_version": format_version,
        "error": {"message": error.to_string(), "exit_code": code},
    });
    let _ = writeln!(
        stdout,
        "{}",
        serde_json::to_string_pretty(&value).expect("JSON values serialize")
    );
    eprintln!("error: {error}");
    code
}

/// How `jprov plan` shows its plan: text or JSON, and whether it also saves it.
struct PlanOutput {
    json: bool,
    save: Option<PathBuf>,
}

/// `jprov plan`: the plan, and the exit code that says whether it has changes or problems.
fn plan(
    profile: &std::path::Path,
    offline: bool,
    connect: &ConnectArgs,
    options: Options,
    how: &PlanOutput,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let lp = profile::load(profile)?;
    let plan = if offline {
        crate::plan::of_profile::offline(&lp, templates, options)?
    } else {
        let mut hosts = Hosts::connect(&lp, connect.connecting(), &Default::default())?;
        engine::plan_online(&lp, templates, &mut hosts, options)?
    };
    if let Some(file) = &how.save {
        crate::saved_plan::save(file, profile, &lp.digest, &plan, options)?;
    }
    if how.json {
        let text = serde_json::to_string_pretty(&plan).expect("plans serialize");
        let _ = writeln!(stdout, "{text}");
    } else {
        let _ = write!(stdout, "{plan}");
    }
    Ok(if plan.has_problems() {
        exit::INVALID
    } else if plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    })
}

/// `jprov apply PROFILE`, or `jprov apply FILE` with a plan saved by `jprov plan -o FILE`.
fn apply_profile_or_saved_plan(
    path: &std::path::Path,
    start_tunnel: bool,
    connect: &ConnectArgs,
    guard: &GuardArgs,
    templates: &Templates,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let saved = crate::saved_plan::load(path);
    let (lp, options) = match &saved {
        Some(saved) => {
            let lp = profile::load(&saved.profile)?;
            saved.check_profile(&lp.digest)?;
            (lp, saved.options())
        }
        None => (
            profile::load(path)?,
            Options {
                start_tunnel,
                destroy: false,
            },
        ),
    };
    apply(
        &lp,
        templates,
        options,
        connect,
        guard,
        saved.as_ref(),
        stdout,
    )
}

/// Whether apply and destroy may change the hosts once they have shown the plan.
#[derive(Clone, Copy, Debug)]
enum Approval {
    /// `--yes`, or a saved plan (reviewed when it was saved).
    Given,
    /// Ask on the terminal (Terraform's way: only `yes` approves).
    Ask { command: &'static str },
}

impl Approval {
    /// Decided before any host is contacted: without a terminal and without `--yes`, nobody could answer,
    /// and waiting would hang a CI job.
    fn of(yes: bool, saved: bool, command: &'static str) -> Result<Approval, Error> {
        use std::io::IsTerminal;
        match (yes || saved, std::io::stdin().is_terminal()) {
            (true, _) => Ok(Approval::Given),
            (false, true) => Ok(Approval::Ask { command }),
            (false, false) => Err(Error::NeedsApproval { command }),
        }
    }

    /// Called with the plan that was just shown, when it has changes.
    fn approve(self, stdout: &mut dyn Write) -> Result<(), Error> {
        let Approval::Ask { command } = self else {
            return Ok(());
        };
        let _ = write!(
            stdout,
            "\nDo you want jprov to {command} this on the hosts? Only `yes` approves.\n  Enter a value: "
        );
        let _ = stdout.flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        let _ = writeln!(stdout);
        match answer.trim() {
            "yes" => Ok(()),
            _ => Err(Error::Cancelled { command }),
        }
    }
}

/// `apply` and `destroy`: connect, apply in rounds until a fresh plan is empty, say what runs now.
fn apply(
    lp: &profile::LoadedProfile,
    templates: &Templates,
    options: Options,
    connect: &ConnectArgs,
    guard: &GuardArgs,
    saved: Option<&crate::saved_plan::SavedPlan>,
    stdout: &mut dyn Write,
) -> Result<u8, Error> {
    let command = if options.destroy { "destroy" } else { "apply" };
    let approval = Approval::of(guard.yes, saved.is_some(), command)?;
    let mut hosts = Hosts::connect(lp, connect.connecting(), &Default::default())?;
    let settings = engine::ApplySettings {
        options,
        guard_seconds: guard.lockout_guard_seconds.max(1),
        name_profile: false,
        show_plan: true,
    };
    let mut approve = |_: &crate::plan::Plan, out: &mut dyn Write| approval.approve(out);
    let plan = engine::apply(
        lp,
        templates,
        &mut hosts,
        settings,
        saved,
        &mut approve,
        stdout,
    )?;
    tell_after_apply(&plan, options, stdout);
    Ok(exit::OK)
}

/// After apply: where the tunnel and Jupyter run, or how to start them, and how people reach Jupyter.
fn tell_after_apply(plan: &crate::plan::Plan, options: Options, stdout: &mut dyn Write) {
    if options.destroy {
        return;
    }
    if let Some(tunnel) = &plan.tunnel {
        tell_tunnel(tunnel, options.start_tunnel, stdout);
    }
    match (&plan.jupyter_service, &plan.jupyter_running) {
        (Some(service), _) => {
            let _ = writeln!(
                stdout,
                "Jupyter runs on the workstation as a service: {service}"
            );
        }
        (None, Some(running)) => {
            let _ = writeln!(
                stdout,
                "Jupyter is up on the workstation: {running}. It is no service: it reads its configuration \
                 and certificate when it starts, so restart it when apply changed them."
            );
        }
        (None, None) => {
            let _ = writeln!(
                stdout,
                "Start Jupyter on the workstation:\n  {}",
                plan.jupyter_command
            );
        }
    }
    let mut reach = String::new();
    let _ = crate::plan::write_reach(&mut reach, &plan.reach);
    let _ = write!(stdout, "{reach}");
}

/// After apply: where the tunnel runs, or how to start it.
fn tell_tunnel(tunnel: &crate::plan::TunnelSummary, start_tunnel: bool, stdout: &mut dyn Write) {
    match (&tunnel.service, &tunnel.running) {
        (Some(service), _) => {
            let _ = writeln!(
                stdout,
                "\nThe tunnel runs on the {} as a service, restarted whenever it dies: {service}",
                tunnel.opened_by
            );
        }
        // Telling anyone to start it would start a second tunnel on a taken port.
        (None, Some(running)) => {
            let _ = writeln!(
                stdout,
                "\nThe tunnel is up on the {}: {running}.",
                tunnel.opened_by
            );
        }
        (None, None) if !start_tunnel => {
            let _ = writeln!(
                stdout,
                "\nStart the tunnel on the {} as {} (`jprov tunnel PROFILE` keeps it up, apply --start-tunnel starts it once):\n  {}",
                tunnel.opened_by, tunnel.user, tunnel.command
            );
        }
        (None, None) => {}
    }
}
