//! On hosts without systemd (the loopback hosts of tests/support), apply sets up no services, so it
//! tells the user what to start: only what is not running yet. A tunnel apply started, and a real
//! Jupyter (the test venv's jupyter_server) started by hand with the configuration jprov wrote, are
//! reported as up; once Jupyter stops, apply says to start it again. Needs root (TestHost).

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::setup::{Method, Setup};

/// Jupyter's port in the profile (`jupyter:` then `  port: N`).
fn jupyter_port(s: &Setup) -> u16 {
    let profile = std::fs::read_to_string(&s.profile).unwrap();
    let (_, section) = profile
        .split_once("\njupyter:\n")
        .expect("a jupyter section");
    section
        .lines()
        .find_map(|l| l.strip_prefix("  port: "))
        .expect("jupyter.port")
        .parse()
        .unwrap()
}

/// Wait until `127.0.0.1:port` accepts connections (the hosts share the machine's network).
fn wait_listening(port: u16, log: impl Fn() -> String) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing listens on {port} after 30 s:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn apply_says_only_what_is_not_running() {
    let python = support::prereq::python(&["jupyter_server"]);
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // The venv lives in the build directory, which may be under /tmp (private inside a test host).
    let venv = std::path::Path::new(&python)
        .parent()
        .and_then(|bin| bin.parent())
        .unwrap();
    s.workstation.share_dir(venv);
    let port = jupyter_port(&s);
    let first = s.apply(&["--start-tunnel"]);
    assert!(
        first.contains("Start Jupyter on the workstation:"),
        "{first}"
    );

    // Jupyter started by hand, as alice, reading the configuration jprov wrote (its port, its TLS files).
    // setpriv execs (no fork): the pid printed is Jupyter's own.
    let out = s.workstation.exec_args(
        "setpriv --reuid=alice --regid=alice --init-groups -- env HOME=/home/alice \"$1\" -m jupyter_server \
         </dev/null >/tmp/jupyter.log 2>&1 & echo $!",
        &[&python],
        None,
    );
    let jupyter: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let log = || {
        String::from_utf8_lossy(
            &s.workstation
                .read_file("/tmp/jupyter.log")
                .unwrap_or_default(),
        )
        .into_owned()
    };
    wait_listening(port, log);

    let again = s.apply(&[]);
    let pid_file = "/home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid";
    for said in [
        format!(
            "The tunnel is up on the workstation: started by apply --start-tunnel (pid file {pid_file})."
        ),
        "Jupyter is up on the workstation: ".to_string(),
        format!(
            " listens on the workstation's port {port}. It is no service: it reads its configuration \
             and certificate when it starts, so restart it when apply changed them."
        ),
    ] {
        assert!(again.contains(&said), "no {said:?} in:\n{again}");
    }
    assert!(
        !again.contains("Start the tunnel") && !again.contains("Start Jupyter"),
        "{again}"
    );

    // Jupyter gone: apply says to start it again; the tunnel still runs.
    // SAFETY: kill has no memory preconditions; the pid is the Jupyter this test started.
    assert_eq!(unsafe { libc::kill(jupyter, libc::SIGTERM) }, 0);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "Jupyter still listens"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = s.apply(&[]);
    assert!(
        after.contains("Start Jupyter on the workstation:"),
        "{after}"
    );
    assert!(
        after.contains("The tunnel is up on the workstation"),
        "{after}"
    );
}
