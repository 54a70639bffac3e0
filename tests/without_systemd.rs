//! On hosts without systemd (the loopback hosts of tests/support), apply sets up no services, so it
//! tells the user what to start: only what is not running yet. A tunnel apply started, and a real
//! Jupyter (the test venv's jupyter_server) started by hand with the configuration jprov wrote, are
//! reported as up; once Jupyter stops, apply says to start it again. Needs root (TestHost).

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::setup::{Method, Setup};

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
    let port = s.profile().jupyter.port.get();
    s.apply(&["--start-tunnel"])
        // Lines: a first apply, whose plan shows the hosts' keys.
        .stdout_contains("Start Jupyter on the workstation:")
        .run();

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

    // Contains, not exact: the line about Jupyter names the process that listens (as `ss` calls it).
    s.apply(&[])
        .stdout_contains(
            "The tunnel is up on the workstation: started by apply --start-tunnel (pid file \
             /home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid).",
        )
        .stdout_contains("Jupyter is up on the workstation: ")
        .stdout_contains(
            " listens on the workstation's port [JUPYTER_PORT]. It is no service: it reads its \
             configuration and certificate when it starts, so restart it when apply changed them.",
        )
        .stdout_lacks("Start the tunnel")
        .stdout_lacks("Start Jupyter")
        .run();

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
    // Lines: as above.
    s.apply(&[])
        .stdout_contains("Start Jupyter on the workstation:")
        .stdout_contains("The tunnel is up on the workstation")
        .run();
}
