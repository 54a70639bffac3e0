//! `jprov tunnel PROFILE`: keep the profile's SSH tunnel up in the foreground, for hosts without systemd, or
//! (local-forward) the laptop's own `ssh -L` to the workstation.
//!
//! It runs exactly the ssh command of the desired state (`DesiredState::tunnel.argv`, what `plan` shows),
//! on the host that opens the tunnel, as the tunnel's user. Whenever ssh exits, jprov prints one line to
//! stderr and starts it again after a fixed pause: [`RESTART_SECONDS`], or `--retry-seconds`. It never
//! gives up and does not back off: a tunnel that fails at once is retried every pause, and its stderr says
//! why. ssh's own `ServerAliveInterval`/`ServerAliveCountMax` notice a dead connection.
//!
//! Signals (Linux): SIGINT, SIGTERM and SIGCHLD are blocked and taken synchronously with `sigtimedwait`,
//! so no signal handler runs. SIGINT or SIGTERM stop ssh (SIGTERM, then SIGKILL after a grace period) and
//! jprov exits 0. ssh runs in its own process group, so a terminal's Ctrl-C reaches jprov only, and with
//! `PR_SET_PDEATHSIG` = SIGTERM, so it also ends when jprov is killed outright (SIGKILL, SIGHUP).

use crate::argv::shell_words;
use crate::desired::{self, Options, World};
use crate::profile::LoadedProfile;
use crate::render::{RenderError, Templates};
use crate::resource::{Role, TunnelProcess};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The pause before a dead tunnel is restarted, for both the systemd unit and `jprov tunnel`.
pub const RESTART_SECONDS: u32 = crate::desired::TUNNEL_RESTART_SECONDS;

/// A run of ssh shorter than this counts as failing fast: the exit line points at ssh's own message.
const FAST_FAILURE: Duration = Duration::from_secs(60);

/// How long ssh gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(
        "the tunnel runs as {want} on the {host} (the host that opens it), but this is {have}: \
         run it there as {want}, e.g. `sudo -u {want} jprov tunnel {profile}`"
    )]
    WrongUser {
        want: String,
        have: String,
        host: Role,
        profile: String,
    },
    #[error(
        "cannot read the tunnel's {what} {path}: {reason}. Run `jprov apply {profile}` first \
         (it creates it on the {host}), and run `jprov tunnel` on the {host}"
    )]
    Missing {
        what: &'static str,
        path: String,
        reason: io::Error,
        host: Role,
        profile: String,
    },
    #[error("method {method} has no tunnel to keep up: collaborators connect to Jupyter directly")]
    NoTunnel { method: String },
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("waiting for ssh or a signal failed: {0}")]
    Wait(#[source] io::Error),
}

/// Run the profile's tunnel until SIGINT or SIGTERM; restart ssh `retry` after each exit.
/// Returns `Ok` once stopped by a signal; errors only before anything ran, or if ssh cannot be started.
pub fn run(lp: &LoadedProfile, templates: &Templates, retry: Duration) -> Result<(), TunnelError> {
    let desired = desired::build(&lp.profile, World::default(), templates, Options::default())?;
    let profile = lp.path.display().to_string();
    let argv = match (&desired.tunnel, &desired.reach.laptop_forward) {
        (Some(tunnel), _) => {
            check_preconditions(&tunnel.process, tunnel.opener, &profile, &current_user())?;
            &tunnel.process.argv
        }
        // local-forward: the laptop's own forward, with the laptop's own ssh config and keys.
        (None, Some(argv)) => argv,
        (None, None) => {
            return Err(TunnelError::NoTunnel {
                method: lp.profile.method.to_string(),
            })
        }
    };
    let signals = Signals::block().map_err(TunnelError::Wait)?;
    eprintln!(
        "jprov tunnel: running `{}` (stop with Ctrl-C or SIGTERM)",
        shell_words(argv)
    );
    loop {
        let started = Instant::now();
        let child = spawn(argv).map_err(|source| TunnelError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        match watch(&signals, child).map_err(TunnelError::Wait)? {
            Watched::Stopped(signal) => {
                eprintln!("jprov tunnel: {}: ssh stopped", signal_name(signal));
                return Ok(());
            }
            Watched::Exited(status) => {
                eprintln!("{}", exit_line(status, started.elapsed(), retry));
            }
        }
        if let Some(signal) = signals
            .wait_for_stop(Instant::now() + retry)
            .map_err(TunnelError::Wait)?
        {
            eprintln!("jprov tunnel: {}: stopped", signal_name(signal));
            return Ok(());
        }
    }
}

/// The user and the files the tunnel needs: checked before anything starts.
fn check_preconditions(
    tunnel: &TunnelProcess,
    host: Role,
    profile: &str,
    user: &str,
) -> Result<(), TunnelError> {
    if user != tunnel.user {
        return Err(TunnelError::WrongUser {
            want: tunnel.user.clone(),
            have: user.to_string(),
            host,
            profile: profile.to_string(),
        });
    }
    for (what, path) in [
        ("key", &tunnel.key_file),
        ("pinned known_hosts file", &tunnel.known_hosts),
    ] {
        if let Err(reason) = std::fs::File::open(path) {
            return Err(TunnelError::Missing {
                what,
                path: path.clone(),
                reason,
                host,
                profile: profile.to_string(),
            });
        }
    }
    Ok(())
}

/// The line printed when ssh has exited.
fn exit_line(status: ExitStatus, ran: Duration, retry: Duration) -> String {
    let hint = if ran < FAST_FAILURE {
        " (ssh's message above says why)"
    } else {
        ""
    };
    format!(
        "jprov tunnel: ssh ended ({status}) after {} s{hint}; reconnecting in {} s",
        ran.as_secs(),
        retry.as_secs()
    )
}

/// The name of the user this process runs as (effective uid), or `uid N` if it has none.
fn current_user() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut pwd = MaybeUninit::<libc::passwd>::uninit();
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `pw_name`, which points
    // into it.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return format!("uid {uid}");
    }
    // SAFETY: getpwuid_r succeeded, so `pw_name` is a NUL-terminated string in `buf`.
    unsafe { std::ffi::CStr::from_ptr((*result).pw_name) }
        .to_string_lossy()
        .into_owned()
}

/// Start ssh: stdin from /dev/null, its own process group, no blocked signals, and SIGTERM when jprov dies.
fn spawn(argv: &[String]) -> io::Result<Child> {
    // SAFETY: getpid has no preconditions.
    let jprov = unsafe { libc::getpid() };
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls (sigemptyset,
    // sigprocmask, prctl, getppid); it does not allocate.
    unsafe {
        command.pre_exec(move || {
            // The child inherits jprov's blocked signals: ssh must see SIGTERM again.
            let mut none = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(none.as_mut_ptr());
            if libc::sigprocmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // jprov may have died before the prctl: then no signal would ever come.
            if libc::getppid() != jprov {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        })
    };
    command.spawn()
}

enum Watched {
    Exited(ExitStatus),
    /// SIGINT or SIGTERM arrived; ssh was stopped.
    Stopped(libc::c_int),
}

/// Wait until ssh exits or a stop signal arrives (then stop ssh).
fn watch(signals: &Signals, mut child: Child) -> io::Result<Watched> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Watched::Exited(status));
        }
        // SIGCHLD wakes this up at once; the timeout is only a backstop.
        match signals.wait(Duration::from_secs(1))? {
            Some(signal) if signal != libc::SIGCHLD => {
                stop(signals, &mut child)?;
                return Ok(Watched::Stopped(signal));
            }
            _ => {}
        }
    }
}

/// SIGTERM to ssh, SIGKILL after [`STOP_GRACE`]; reaps it.
fn stop(signals: &Signals, child: &mut Child) -> io::Result<()> {
    // SAFETY: plain syscall; the child is not reaped yet, so its pid cannot have been reused.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_GRACE;
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            break;
        }
        signals.wait(Duration::from_millis(100))?;
    }
    Ok(())
}

/// SIGINT, SIGTERM and SIGCHLD, blocked in this thread and taken with `sigtimedwait`.
///
/// Blocked before any thread or child exists (threads inherit the mask), so a signal sent to the process
/// stays pending until taken here.
struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    fn block() -> io::Result<Signals> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initializes the set; sigaddset and pthread_sigmask get valid pointers.
        let set = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGCHLD] {
                libc::sigaddset(set.as_mut_ptr(), signal);
            }
            set.assume_init()
        };
        // SAFETY: valid pointers; the old mask is not needed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Signals { set })
    }

    /// Wait up to `timeout` for one of the signals; `None` on timeout or interruption.
    fn wait(&self, timeout: Duration) -> io::Result<Option<libc::c_int>> {
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos().into(),
        };
        // SAFETY: valid pointers; the siginfo is not needed.
        let signal = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &timeout) };
        if signal >= 0 {
            return Ok(Some(signal));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(error),
        }
    }

    /// Wait until `deadline` unless SIGINT or SIGTERM arrives first (returned).
    fn wait_for_stop(&self, deadline: Instant) -> io::Result<Option<libc::c_int>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.wait(left)? {
                Some(signal) if signal != libc::SIGCHLD => return Ok(Some(signal)),
                _ => {}
            }
        }
    }
}

fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn tunnel(dir: &std::path::Path) -> TunnelProcess {
        TunnelProcess {
            user: "alice".into(),
            argv: vec!["ssh".into()],
            key_file: dir.join("key").display().to_string(),
            known_hosts: dir.join("known_hosts").display().to_string(),
            pid_file: String::new(),
            start: false,
        }
    }

    #[test]
    fn the_wrong_user_is_told_who_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_preconditions(&tunnel(dir.path()), Role::Workstation, "p.yaml", "root")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the tunnel runs as alice on the workstation (the host that opens it), but this is root: \
             run it there as alice, e.g. `sudo -u alice jprov tunnel p.yaml`"
        );
    }

    #[test]
    fn missing_files_say_to_apply_first() {
        let dir = tempfile::tempdir().unwrap();
        let t = tunnel(dir.path());
        let err = check_preconditions(&t, Role::Server, "p.yaml", "alice")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot read the tunnel's key {}: ", t.key_file))
                && err.contains("Run `jprov apply p.yaml` first (it creates it on the server)"),
            "{err}"
        );
        std::fs::write(&t.key_file, "k").unwrap();
        let err = check_preconditions(&t, Role::Server, "p.yaml", "alice")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot read the tunnel's pinned known_hosts file {}: ",
                t.known_hosts
            )),
            "{err}"
        );
        std::fs::write(&t.known_hosts, "k").unwrap();
        check_preconditions(&t, Role::Server, "p.yaml", "alice").unwrap();
    }

    #[test]
    fn the_exit_line_gives_status_run_time_and_pause() {
        let failed = ExitStatus::from_raw(255 << 8);
        assert_eq!(
            exit_line(failed, Duration::from_millis(2500), Duration::from_secs(10)),
            "jprov tunnel: ssh ended (exit status: 255) after 2 s (ssh's message above says why); \
             reconnecting in 10 s"
        );
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        assert_eq!(
            exit_line(killed, Duration::from_secs(3600), Duration::from_secs(1)),
            "jprov tunnel: ssh ended (signal: 9 (SIGKILL)) after 3600 s; reconnecting in 1 s"
        );
    }

    #[test]
    fn the_current_user_has_a_name() {
        let name = current_user();
        let id = Command::new("id").arg("-un").output().unwrap();
        assert_eq!(name, String::from_utf8_lossy(&id.stdout).trim());
    }
}
