//! `jprov plan` and `apply` against real OpenSSH servers on loopback, each host in its own mount namespace
//! (see tests/support/test_host.rs). jprov runs as `Step`s (tests/support/step.rs): every apply and destroy
//! step is followed by a plan that must show no changes, and outputs are compared with the test's ports
//! shown as `[SERVER_PORT]`, `[TUNNEL_PORT]`, ...
//!
//! Outputs are compared exactly where they are fixed once the ports are named (a converged apply, an empty
//! teardown plan, a pending reload, refusals in jprov's own words). A step checks single lines instead, and
//! says why, when the output holds what changes from run to run: a plan before the first apply shows the
//! hosts' new keys (generated at start), fingerprints, the names `ss` gives listeners, or the messages of
//! sshd and libssh2, which vary by version. The wording of whole plans is pinned by the offline golden files
//! (tests/golden/plans).

mod support;

use jprov::profile::{Jump, WorkstationHost};
use jprov::value::Port;
use support::profiles::{self, self_signed, valid, HASH_DIGEST};
use support::setup::{expect_exit, text, Method, Role, Setup};
use support::step::Replan;
use support::TestHost;

/// The sshd drop-in of the reverse-forward test profile.
const DROPIN: &str = "/etc/ssh/sshd_config.d/01-jprov-t-reverse-forward.conf";

#[test]
fn reverse_forward_plans_applies_converges_and_reapplies_nothing() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // Lines, not all: a first plan shows the hosts' keys (pinned known_hosts content), new every run.
    s.run(&["plan"])
        .status(2)
        .stdout_contains("+ create account jprov-tunnel")
        .stdout_contains(format!("+++ {DROPIN}"))
        .stdout_lacks(HASH_DIGEST)
        .absent(Role::Server, DROPIN) // plan changed nothing
        .run();

    let reloads_before = s.server.sshd_reload_count();
    s.apply(&["--start-tunnel"])
        .stdout_contains("reloaded ssh") // a first apply: its plan shows the keys
        .run();
    s.server.wait_sshd_reloads(reloads_before + 1);
    assert_eq!(
        s.server.sshd_reload_count(),
        reloads_before + 1,
        "exactly one sshd reload"
    );

    // The effective sshd settings, not just the file: scoped to the tunnel account.
    assert_eq!(
        s.sshd_setting("jprov-tunnel", "gatewayports"),
        "gatewayports clientspecified"
    );
    assert_eq!(s.sshd_setting("jprov-tunnel", "permittty"), "permittty no");
    assert_eq!(s.sshd_setting("admin", "gatewayports"), "gatewayports no");
    // The tunnel is up, and because of GatewayPorts clientspecified sshd listens on all interfaces.
    let listening = s.server.exec_ok("ss -ltnH");
    assert!(
        listening.contains(&format!("0.0.0.0:{}", s.tunnel_port())),
        "{listening}"
    );
    let config = s
        .workstation
        .exec_ok("stat -c '%a %U' /home/alice/.jupyter/jupyter_server_config.py");
    assert_eq!(config.trim(), "600 alice");
    let keys = s.server.exec_ok(
        "stat -c '%a %U' /etc/ssh/jprov/jprov-tunnel.keys; cat /etc/ssh/jprov/jprov-tunnel.keys",
    );
    assert!(
        keys.starts_with("644 root\nrestrict,port-forwarding,permitlisten="),
        "{keys}"
    );
    let tunnel_pid = s
        .workstation
        .exec_ok("head -n1 /home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid");

    // Second apply: nothing to do (no round ran a script), nothing reloaded, the tunnel untouched.
    s.apply(&["--start-tunnel"])
        .stdout(
            "\
Plan for profile t-reverse-forward (reverse-forward)

server admin@127.0.0.1:[SERVER_PORT]
  no changes

workstation alice@127.0.0.1:[WORKSTATION_PORT]
  no changes
  note: the workstation does not run systemd: jprov sets up no services there; start Jupyter and the \
tunnel (when it opens it) yourself (`jprov tunnel PROFILE` keeps a tunnel up, `apply --start-tunnel` starts \
it once)

Tunnel, opened by the workstation as alice:
  ssh -N -o 'ExitOnForwardFailure=yes' -o 'ServerAliveInterval=30' -o 'ServerAliveCountMax=3' \
-o 'BatchMode=yes' -o 'IdentitiesOnly=yes' -o 'StrictHostKeyChecking=yes' \
-o 'UserKnownHostsFile=/home/alice/.ssh/jprov-t-reverse-forward-known_hosts' \
-o 'HostKeyAlias=jprov-t-reverse-forward-server' -i /home/alice/.ssh/jprov-t-reverse-forward-tunnel \
-p [SERVER_PORT] -R :[TUNNEL_PORT]:localhost:[JUPYTER_PORT] jprov-tunnel@127.0.0.1
Jupyter on the workstation: jupyter lab
Browsers open: https://jupyter.test:[TUNNEL_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in

No changes: the hosts match the profile.
Applied: the hosts match the profile.

The tunnel is up on the workstation: started by apply --start-tunnel (pid file \
/home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid).
Start Jupyter on the workstation:
  jupyter lab
Browsers open: https://jupyter.test:[TUNNEL_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in
",
        )
        .run();
    assert_eq!(
        s.server.sshd_reload_count(),
        reloads_before + 1,
        "a second apply must not reload"
    );
    let tunnel_pid_again = s
        .workstation
        .exec_ok("head -n1 /home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid");
    assert_eq!(tunnel_pid, tunnel_pid_again);
}

#[test]
fn nginx_proxy_enables_a_validated_site_and_opens_the_tunnel() {
    let Some(s) = Setup::new(Method::NginxProxy) else {
        return;
    };
    s.server.start_nginx();
    let master = s.server.nginx_master_pid();
    let site = "/etc/nginx/sites-available/jprov-t-nginx-proxy";
    // Lines: a first plan (the hosts' keys).
    s.run(&["plan"])
        .status(2)
        .stdout_contains("`nginx -t` passes with the new files (staged; live files untouched)")
        .absent(Role::Server, site)
        .run();
    s.apply(&["--start-tunnel"])
        .stdout_contains("reloaded nginx") // a first apply
        .run();
    let link = s
        .server
        .exec_ok("readlink /etc/nginx/sites-enabled/jprov-t-nginx-proxy");
    assert_eq!(link.trim(), site);
    assert_eq!(
        s.server.nginx_master_pid(),
        master,
        "nginx was reloaded, not restarted"
    );
    // The authorized_keys line on the workstation is restricted to opening Jupyter's port.
    let keys = s
        .workstation
        .exec_ok("cat /home/alice/.ssh/authorized_keys");
    assert!(
        keys.lines().any(
            |l| l.starts_with("restrict,port-forwarding,permitopen=\"localhost:")
                && l.ends_with("jprov:t-nginx-proxy")
        ),
        "{keys}"
    );
    assert!(
        keys.lines().count() >= 2,
        "the user's own key is kept: {keys}"
    );
    // The tunnel runs as the locked-down account and listens on the server's loopback only.
    let listening = s.server.exec_ok("ss -ltnpH");
    assert!(
        listening.contains(&format!("127.0.0.1:{}", s.tunnel_port())),
        "{listening}"
    );
    let owner = s
        .server
        .exec_ok("ps -o user= -p $(head -n1 /var/lib/jprov-tunnel/jprov-t-nginx-proxy-tunnel.pid)");
    assert_eq!(owner.trim(), "jprov-tunnel");
    let shell = s.server.exec_ok("getent passwd jprov-tunnel | cut -d: -f7");
    assert_eq!(shell.trim(), "/usr/sbin/nologin");

    s.apply(&["--start-tunnel"])
        .stdout(
            "\
Plan for profile t-nginx-proxy (nginx-proxy)

server admin@127.0.0.1:[SERVER_PORT]
  no changes
  note: the server does not run systemd: jprov sets up no services there; start the tunnel yourself \
(`jprov tunnel PROFILE` keeps a tunnel up, `apply --start-tunnel` starts it once)

workstation alice@127.0.0.1:[WORKSTATION_PORT]
  no changes
  note: the workstation does not run systemd: jprov sets up no services there; start Jupyter yourself

Tunnel, opened by the server as jprov-tunnel:
  ssh -N -o 'ExitOnForwardFailure=yes' -o 'ServerAliveInterval=30' -o 'ServerAliveCountMax=3' \
-o 'BatchMode=yes' -o 'IdentitiesOnly=yes' -o 'StrictHostKeyChecking=yes' \
-o 'UserKnownHostsFile=/var/lib/jprov-tunnel/.ssh/known_hosts' \
-o 'HostKeyAlias=jprov-t-nginx-proxy-workstation' -i /var/lib/jprov-tunnel/.ssh/id_ed25519 \
-p [WORKSTATION_PORT] -L 127.0.0.1:[TUNNEL_PORT]:localhost:[JUPYTER_PORT] alice@127.0.0.1
Jupyter on the workstation: jupyter lab
Browsers open: https://jupyter.test:[HTTPS_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in

No changes: the hosts match the profile.
Applied: the hosts match the profile.

The tunnel is up on the server: started by apply --start-tunnel (pid file \
/var/lib/jprov-tunnel/jprov-t-nginx-proxy-tunnel.pid).
Start Jupyter on the workstation:
  jupyter lab
Browsers open: https://jupyter.test:[HTTPS_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in
",
        )
        .run();
}

/// What apply tells collaborators of a self-signed certificate, from openssl's `sha256 Fingerprint=AB:...`.
fn told_fingerprint(openssl: &str) -> String {
    let fingerprint = openssl.trim().rsplit('=').next().unwrap();
    format!("tell collaborators its SHA-256 fingerprint, to compare with what their browser shows before they trust it: {fingerprint}")
}

/// `openssl x509 OPTIONS -noout -in PATH` on `host`.
fn x509(host: &support::TestHost, path: &str, options: &str) -> String {
    host.exec_ok(&format!("openssl x509 {options} -noout -in {path}"))
}

#[test]
fn reverse_forward_generates_a_self_signed_certificate_on_the_workstation() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.edit_profile(|p| p.tls = self_signed(Some(90), &["127.0.0.1"]));
    let dir = "/home/alice/.local/share/jprov/t-reverse-forward";
    let (fullchain, privkey) = (format!("{dir}/fullchain.pem"), format!("{dir}/privkey.pem"));
    let planned = s
        .run(&["plan"])
        .status(2)
        .absent(Role::Workstation, &fullchain) // plan changed nothing
        .run()
        .stdout;
    let (server, workstation) = planned.split_at(planned.find("\nworkstation ").unwrap());
    assert!(
        workstation.contains(&format!(
            "  ! generate a self-signed certificate for jupyter.test: openssl req -x509 -noenc -days 90 \
             -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout {privkey}.new -out {fullchain}.new"
        )),
        "{planned}"
    );
    assert!(!server.contains("openssl"), "{planned}");

    s.apply(&[]).run();
    assert_eq!(
        x509(&s.workstation, &fullchain, "-ext subjectAltName"),
        "X509v3 Subject Alternative Name: \n    DNS:jupyter.test, IP Address:127.0.0.1\n"
    );
    assert_eq!(
        x509(&s.workstation, &fullchain, "-subject"),
        "subject=CN = jupyter.test\n"
    );
    // Valid for 90 days: beyond 89 days from now, not beyond 91.
    s.workstation.exec_ok(&format!(
        "openssl x509 -checkend {} -noout -in {fullchain}",
        89 * 86400
    ));
    assert!(!s
        .workstation
        .exec(&format!(
            "openssl x509 -checkend {} -noout -in {fullchain}",
            91 * 86400
        ))
        .status
        .success());
    let modes = s.workstation.exec_ok(&format!(
        "stat -c '%n %a %U' {dir} {privkey} {fullchain}; ls -A {dir}"
    ));
    assert_eq!(
        modes,
        format!(
            "{dir} 700 alice\n{privkey} 600 alice\n{fullchain} 644 alice\nfullchain.pem\nprivkey.pem\n"
        ),
        "owned by the Jupyter user, key 0600, no temporary files left"
    );
    // The key belongs to the certificate, and Jupyter is configured with both.
    let public_keys = s.workstation.exec_ok(&format!(
        "openssl x509 -noout -pubkey -in {fullchain}; openssl pkey -pubout -in {privkey}"
    ));
    let (from_cert, from_key) = public_keys.split_at(public_keys.len() / 2);
    assert_eq!(from_cert, from_key);
    let config = String::from_utf8(
        s.workstation
            .read_file("/home/alice/.jupyter/jupyter_server_config.py")
            .unwrap(),
    )
    .unwrap();
    assert!(
        config.contains(&format!("c.ServerApp.certfile = '{fullchain}'"))
            && config.contains(&format!("c.ServerApp.keyfile = '{privkey}'")),
        "{config}"
    );

    // A second apply makes no new certificate, and tells the fingerprint collaborators compare.
    let fingerprint = x509(&s.workstation, &fullchain, "-fingerprint -sha256");
    // Converged: its whole text is compared in reverse_forward_plans_applies_converges_and_reapplies_nothing;
    // here, that no round ran.
    s.apply(&[])
        .stdout_contains("No changes")
        .stdout_lacks("round 1")
        .stdout_contains(told_fingerprint(&fingerprint))
        .run();
    assert_eq!(
        x509(&s.workstation, &fullchain, "-fingerprint -sha256"),
        fingerprint
    );

    // One that expires within 30 days is replaced, and nothing else changes.
    s.workstation.exec_ok(&format!(
        "runuser -u alice -- openssl req -x509 -noenc -days 10 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
         -keyout {privkey} -out {fullchain} -subj /CN=jupyter.test 2>/dev/null"
    ));
    // Lines: the plan shows the old certificate's dates.
    s.run(&["plan"])
        .status(2)
        .stdout_contains(format!(
            "making {fullchain}, because the certificate expires within 30 days"
        ))
        .stdout_contains("1 change to apply.")
        .run();
    s.apply(&[]).run();
    s.workstation.exec_ok(&format!(
        "openssl x509 -checkend {} -noout -in {fullchain}",
        60 * 86400
    ));
    assert_eq!(
        s.workstation
            .exec_ok(&format!("stat -c '%a %U' {privkey}"))
            .trim(),
        "600 alice"
    );
}

#[test]
fn nginx_proxy_serves_a_self_signed_certificate_generated_on_the_server() {
    let Some(s) = Setup::new(Method::NginxProxy) else {
        return;
    };
    s.edit_profile(|p| p.tls = self_signed(None, &[]));
    s.server.start_nginx();
    let dir = "/etc/jprov/tls/t-nginx-proxy";
    let (fullchain, privkey) = (format!("{dir}/fullchain.pem"), format!("{dir}/privkey.pem"));
    let site = "/etc/nginx/sites-available/jprov-t-nginx-proxy";
    let planned = s.run(&["plan"]).status(2).run().stdout;
    let (server, workstation) = planned.split_at(planned.find("\nworkstation ").unwrap());
    assert!(
        server.contains(&format!(
            "  ! generate a self-signed certificate for jupyter.test: openssl req -x509 -noenc -days 365 \
             -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout {privkey}.new -out {fullchain}.new"
        )) && server.contains("once the certificate exists, the same apply rewrites the nginx site"),
        "{planned}"
    );
    assert!(!workstation.contains("openssl"), "{planned}");

    // Round 1 serves the site without TLS and makes the certificate; a later round adds the TLS block.
    s.apply(&[]).stdout_contains("round 2: server").run(); // a first apply
    assert_eq!(
        x509(&s.server, &fullchain, "-ext subjectAltName"),
        "X509v3 Subject Alternative Name: \n    DNS:jupyter.test\n"
    );
    assert_eq!(
        s.server.exec_ok(&format!(
            "stat -c '%n %a %U:%G' {dir} {privkey} {fullchain}; ls -A {dir}"
        )),
        format!(
            "{dir} 700 root:root\n{privkey} 600 root:root\n{fullchain} 644 root:root\nfullchain.pem\nprivkey.pem\n"
        )
    );
    let config = String::from_utf8(s.server.read_file(site).unwrap()).unwrap();
    assert!(
        config.contains(&format!("ssl_certificate {fullchain};"))
            && config.contains(&format!("ssl_certificate_key {privkey};")),
        "{config}"
    );
    // nginx serves it: a client that trusts the copied fullchain.pem verifies the TLS connection to the
    // name (the reply is 502: no tunnel, no Jupyter behind it).
    let trusted = s.dir.path().join("trusted.pem");
    std::fs::write(&trusted, s.server.read_file(&fullchain).unwrap()).unwrap();
    let https_port = s.profile().nginx.expect("nginx-proxy").https_port;
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code}", "--cacert"])
        .arg(&trusted)
        .args(["--resolve", &format!("jupyter.test:{https_port}:127.0.0.1")])
        .arg(format!("https://jupyter.test:{https_port}/"))
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "502"),
        "{}",
        text(&out.stderr)
    );

    let fingerprint = x509(&s.server, &fullchain, "-fingerprint -sha256");
    // Converged: its whole text is compared in reverse_forward_plans_applies_converges_and_reapplies_nothing;
    // here, that no round ran. The fingerprint collaborators compare is told.
    s.apply(&[])
        .stdout_contains("No changes")
        .stdout_lacks("round 1")
        .stdout_contains(told_fingerprint(&fingerprint))
        .run();
    assert_eq!(
        x509(&s.server, &fullchain, "-fingerprint -sha256"),
        fingerprint
    );
}

#[test]
fn plan_validates_candidates_on_the_host_and_refuses_what_sshd_would_reject() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // Lines: first plans (the hosts' keys), and sshd's own messages.
    s.run(&["plan"])
        .status(2)
        .stdout_contains("`sshd -t` passes with the new files")
        .stdout_contains("effective settings (sshd -T) with the new files match")
        .run();
    s.server.write_file(
        "/etc/ssh/sshd_config.d/99-broken.conf",
        b"ThisIsNotAnOption yes\n",
        0o644,
    );
    s.run(&["plan"])
        .status(3)
        .stdout_contains("PROBLEM: `sshd -t` rejects")
        .stdout_contains("ThisIsNotAnOption")
        .run();
    // apply runs the same check first and changes nothing.
    let reloads = s.server.sshd_reload_count();
    s.run(&["apply"])
        .status(3)
        .stderr_contains("nothing was changed")
        .absent(Role::Server, DROPIN)
        .run();
    assert!(
        !account_exists(&s.server, "jprov-tunnel"),
        "no account created"
    );
    assert_eq!(s.server.sshd_reload_count(), reloads);
    // The scratch copy is gone.
    assert_eq!(
        s.server
            .exec_ok("ls /tmp | grep -c jprov-check || true")
            .trim(),
        "0"
    );
}

#[test]
fn failed_validation_during_apply_restores_the_previous_files_and_reloads_nothing() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.apply(&[]).run();
    let before = s.server.read_file(DROPIN).unwrap();
    let reloads = s.server.sshd_reload_count();
    // Change the profile (new tunnel port) while another file makes `sshd -t` fail, and let apply meet it
    // (as if the file had appeared between the plan-time check and the write).
    let port = s.fresh_port();
    s.edit_profile(|p| p.tunnel.port = Port::new(port));
    s.server.write_file(
        "/etc/ssh/sshd_config.d/99-broken.conf",
        b"ThisIsNotAnOption yes\n",
        0o644,
    );
    // Lines: sshd's own message follows.
    s.run(&["apply"])
        .env("JPROV_FAULT", "skip-plan-validation")
        .status(3)
        .stderr_contains("`sshd -t` rejected")
        .stderr_contains("ThisIsNotAnOption")
        .stderr_contains("previous files were restored")
        .file(Role::Server, DROPIN, &before) // the previous drop-in is restored
        // No reload is left pending.
        .absent(Role::Server, "/var/lib/jprov/journal/t-reverse-forward")
        .run();
    assert_eq!(s.server.sshd_reload_count(), reloads, "nothing reloaded");
    // The old version is also kept as a backup on the host.
    let backups = s
        .server
        .exec_ok("ls /var/lib/jprov/backup/t-reverse-forward/");
    assert!(
        backups.contains("01-jprov-t-reverse-forward.conf"),
        "{backups}"
    );
}

#[test]
fn a_shadowed_sshd_setting_is_reported_with_the_file_that_wins() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.apply(&[]).run();
    // A Match block read before jprov's also applies to the tunnel account: sshd keeps its value.
    // (A plain global `GatewayPorts no` would not shadow jprov's Match block; this does.)
    s.server.write_file(
        "/etc/ssh/sshd_config.d/00-site.conf",
        b"Match all\n\tGatewayPorts no\n",
        0o644,
    );
    // A shadowed setting is not success ("No changes: the hosts match" is not said).
    s.run(&["plan"])
        .status(3)
        .stdout(
            "\
Plan for profile t-reverse-forward (reverse-forward)

server admin@127.0.0.1:[SERVER_PORT]
  no changes
  PROBLEM: sshd gives jprov-tunnel `gatewayports no`, but jprov needs `gatewayports clientspecified`. Lines \
setting gatewayports, in the order sshd reads them: \
/etc/ssh/sshd_config.d/00-site.conf:2:\tGatewayPorts no | \
/etc/ssh/sshd_config.d/01-jprov-t-reverse-forward.conf:16:\tGatewayPorts clientspecified. Among Match blocks \
that apply to jprov-tunnel, the first value read wins: remove the earlier one or make its Match exclude \
jprov-tunnel.

workstation alice@127.0.0.1:[WORKSTATION_PORT]
  no changes
  note: the workstation does not run systemd: jprov sets up no services there; start Jupyter and the \
tunnel (when it opens it) yourself (`jprov tunnel PROFILE` keeps a tunnel up, `apply --start-tunnel` starts \
it once)

Tunnel, opened by the workstation as alice:
  ssh -N -o 'ExitOnForwardFailure=yes' -o 'ServerAliveInterval=30' -o 'ServerAliveCountMax=3' \
-o 'BatchMode=yes' -o 'IdentitiesOnly=yes' -o 'StrictHostKeyChecking=yes' \
-o 'UserKnownHostsFile=/home/alice/.ssh/jprov-t-reverse-forward-known_hosts' \
-o 'HostKeyAlias=jprov-t-reverse-forward-server' -i /home/alice/.ssh/jprov-t-reverse-forward-tunnel \
-p [SERVER_PORT] -R :[TUNNEL_PORT]:localhost:[JUPYTER_PORT] jprov-tunnel@127.0.0.1
Jupyter on the workstation: jupyter lab
Browsers open: https://jupyter.test:[TUNNEL_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in

The plan has problems (PROBLEM above): apply would not give the intended result.
No changes to files, but the hosts do not do what the profile wants.
",
        )
        .run();
}

#[test]
fn a_workstation_behind_the_server_is_reached_through_it() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.edit_profile(|p| p.workstation.jump = Some(Jump::Server));
    // Lines: a first plan (the hosts' keys).
    s.run(&["plan"])
        .status(2)
        .stdout_contains("(through the server)")
        .run();
    // The server carried the connection over jprov's own session to it: one admin login in all (no second
    // login for the hop), which ran the server's facts and opened the channel to the workstation.
    assert_eq!(admin_logins(&s), 1, "{}", s.server.sshd_log());
    // Apply runs scripts on both hosts at once over that one session (and its channel), and the plan
    // after it again logs in to the server once.
    s.apply(&[]).run();
    let before = admin_logins(&s);
    s.run(&["plan"]).run();
    assert_eq!(admin_logins(&s), before + 1);
}

#[test]
fn host_keys_are_verified_before_anything_is_sent() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // A changed key is refused.
    s.server.rotate_host_key();
    // Lines: refusals of host keys name their fingerprints, new every run.
    s.run(&["apply"])
        .status(4)
        .stderr_contains("HOST KEY CHANGED")
        .stderr_contains("SHA256:")
        .absent(Role::Server, DROPIN)
        .run();
    assert!(
        !s.server.sshd_log().contains("Accepted publickey"),
        "no login happened:\n{}",
        s.server.sshd_log()
    );

    // An unknown key is refused too, unless the user asks to record it; even then a changed key is not.
    let pinned = s.dir.path().join("known_hosts");
    std::fs::write(&pinned, format!("{}\n", s.workstation.known_hosts_line())).unwrap();
    s.run(&["plan"])
        .status(4)
        .stderr_contains("unknown host key")
        .run();
    s.run(&["plan", "--accept-new-host-keys"]).status(2).run();
    assert!(std::fs::read_to_string(&pinned)
        .unwrap()
        .contains(&format!("[127.0.0.1]:{}", s.server.port())));

    // @revoked wins over a matching entry.
    let line = s.server.known_hosts_line();
    let key = line.split_once(' ').unwrap().1;
    std::fs::write(
        &pinned,
        format!(
            "{line}\n@revoked * {key}\n{}\n",
            s.workstation.known_hosts_line()
        ),
    )
    .unwrap();
    s.run(&["plan"]).status(4).stderr_contains("@revoked").run();
}

#[test]
fn trust_pins_host_keys_next_to_the_profile_and_fails_closed_on_change() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let pinned = s.dir.path().join("known_hosts");
    std::fs::write(&pinned, "").unwrap();
    // Counted lines: trust shows the fingerprints, new every run.
    let trusted = s.run(&["trust"]).stdout_contains("SHA256:").run().stdout;
    assert_eq!(trusted.matches("pinned in").count(), 2, "{trusted}");
    let pins = std::fs::read_to_string(&pinned).unwrap();
    assert!(pins.contains(&s.server.known_hosts_line()), "{pins}");
    assert!(pins.contains(&s.workstation.known_hosts_line()), "{pins}");
    // With the pins, plan works without any prompt or flag.
    s.run(&["plan"]).status(2).run();
    // Trusting again changes nothing.
    let again = s.run(&["trust"]).run().stdout;
    assert_eq!(again.matches("already pinned").count(), 2, "{again}");
    assert_eq!(std::fs::read_to_string(&pinned).unwrap(), pins);
    // A re-keyed host is refused and nothing is recorded.
    s.server.rotate_host_key();
    s.run(&["trust"])
        .status(4)
        .stderr_contains("HOST KEY CHANGED")
        .run();
    assert_eq!(std::fs::read_to_string(&pinned).unwrap(), pins);
}

#[test]
fn a_reload_left_pending_by_an_interrupted_apply_is_done_by_the_next_apply() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.apply(&[]).run();
    // What an apply that died between writing the drop-in and reloading sshd leaves behind.
    let journal = "/var/lib/jprov/journal/t-reverse-forward";
    s.server
        .exec_ok(&format!("printf 'reload ssh\\n' > {journal}"));
    s.run(&["plan"])
        .status(2)
        .stdout(
            "\
Plan for profile t-reverse-forward (reverse-forward)

server admin@127.0.0.1:[SERVER_PORT]
  ! validate and reload ssh (pending)
    because an earlier run wrote its files but stopped before reloading

workstation alice@127.0.0.1:[WORKSTATION_PORT]
  no changes
  note: the workstation does not run systemd: jprov sets up no services there; start Jupyter and the \
tunnel (when it opens it) yourself (`jprov tunnel PROFILE` keeps a tunnel up, `apply --start-tunnel` starts \
it once)

Tunnel, opened by the workstation as alice:
  ssh -N -o 'ExitOnForwardFailure=yes' -o 'ServerAliveInterval=30' -o 'ServerAliveCountMax=3' \
-o 'BatchMode=yes' -o 'IdentitiesOnly=yes' -o 'StrictHostKeyChecking=yes' \
-o 'UserKnownHostsFile=/home/alice/.ssh/jprov-t-reverse-forward-known_hosts' \
-o 'HostKeyAlias=jprov-t-reverse-forward-server' -i /home/alice/.ssh/jprov-t-reverse-forward-tunnel \
-p [SERVER_PORT] -R :[TUNNEL_PORT]:localhost:[JUPYTER_PORT] jprov-tunnel@127.0.0.1
Jupyter on the workstation: jupyter lab
Browsers open: https://jupyter.test:[TUNNEL_PORT]/
  - tell each collaborator their Jupyter password by one long-lived channel (in person, a password \
manager) and the URL by another (mail, chat), so no one message lets anyone in

1 change to apply.
",
        )
        .run();
    let reloads = s.server.sshd_reload_count();
    // Lines: what matters is the reload; the plan it shows is the one just compared.
    s.apply(&[])
        .stdout_contains("reloaded ssh")
        .absent(Role::Server, journal)
        .run();
    s.server.wait_sshd_reloads(reloads + 1);
    // And a clean apply leaves no journal behind.
    s.apply(&[])
        .stdout_contains("No changes") // converged: compared whole in reverse_forward_plans_applies_...
        .absent(Role::Server, journal)
        .run();
}

fn admin_can_log_in(s: &Setup) -> bool {
    s.server.logs_in("admin", "true")
}

#[test]
fn a_change_that_would_lock_the_admin_out_is_rolled_back() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let templates = support::lockout_templates(s.dir.path());
    // Lines: the error quotes libssh2's message, which varies by version.
    s.run(&["apply"])
        .env("JPROV_TEMPLATE_DIR", &templates)
        .status(1)
        .stderr_contains("a fresh login as admin failed")
        .stderr_contains("restored the previous sshd files")
        .absent(Role::Server, DROPIN)
        .run();
    assert!(admin_can_log_in(&s), "the admin must still get in");
    // With the real templates the same profile applies, and a fresh login is proven.
    s.apply(&[])
        .stdout_contains("a fresh login works after the sshd reload") // a first apply
        .run();
}

#[test]
fn the_on_host_guard_restores_sshd_when_jprov_dies_mid_change() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let templates = support::lockout_templates(s.dir.path());
    let started = std::time::Instant::now();
    s.run(&["apply", "--lockout-guard-seconds", "4"])
        .env("JPROV_TEMPLATE_DIR", &templates)
        .env("JPROV_FAULT", "exit-after-sshd-reload")
        .status(9)
        .run();
    assert!(
        !admin_can_log_in(&s),
        "right after the harmful reload the admin is locked out"
    );
    // No one touches the host: the guard restores the previous files and reloads sshd by itself.
    let deadline = started + std::time::Duration::from_secs(30);
    while !admin_can_log_in(&s) {
        assert!(
            std::time::Instant::now() < deadline,
            "the guard did not restore access:\n{}",
            s.server.sshd_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let waited = started.elapsed().as_secs_f64();
    assert!(
        waited >= 3.5,
        "restored after {waited:.1} s, before the guard's delay"
    );
    assert!(!s.server.exists(DROPIN));
    // The guard cleaned up after itself, and a normal apply still converges.
    assert!(!s.server.exists(GUARD_DIR), "the guard left its directory");
    s.apply(&[]).run();
}

/// Where the lockout guard of the test profile lives while it is armed (host_lib.sh).
const GUARD_DIR: &str = "/var/lib/jprov/guard/t-reverse-forward";

/// The guard's sleepers alive on the server (hosts without systemd).
fn guard_sleepers(host: &support::TestHost) -> usize {
    host.namespace_pids()
        .into_iter()
        .filter(|pid| {
            let args = cmdline(*pid);
            args.first().map(String::as_str) == Some("sh")
                && args.iter().any(|a| a == "jprov-guard")
        })
        .count()
}

#[test]
fn a_guard_left_armed_is_shown_by_plan_and_resolved_by_the_next_apply_before_it_can_undo_it() {
    // The reproduction: an apply stops right after the sshd reload (real templates: the new files
    // are good), the rerun at once changes nothing in sshd, and the old guard must not fire afterwards.
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.run(&["apply", "--lockout-guard-seconds", "4"])
        .env("JPROV_FAULT", "exit-after-sshd-reload")
        .status(9)
        .run();
    let armed_at = std::time::Instant::now();
    assert!(s.server.exists(GUARD_DIR), "the guard is armed");
    assert_eq!(guard_sleepers(&s.server), 1);
    // Lines: the plan shows the tunnel's public key, new every run.
    s.run(&["plan"])
        .status(2)
        .stdout_contains("prove a fresh login, then disarm the lockout guard (pending")
        .stdout_contains("its guard restores the sshd files that apply replaced")
        .run();
    let json = s.run(&["plan", "--json"]).status(2).run().json();
    let server_changes = json["hosts"][0]["changes"].as_array().unwrap();
    assert!(
        server_changes
            .iter()
            .any(|c| c["kind"] == "resolve-guard" && c["ticking"] == true),
        "{json}"
    );
    s.apply(&["--lockout-guard-seconds", "4"])
        .stdout_contains(
            "server: a fresh login works after the sshd reload; lockout guard disarmed",
        )
        .absent(Role::Server, GUARD_DIR)
        .run();
    assert!(
        armed_at.elapsed().as_secs() < 4,
        "the rerun took longer than the guard's delay"
    );
    assert_eq!(guard_sleepers(&s.server), 0, "disarming ends the sleeper");
    // Past the old guard's delay nothing has moved.
    let dropin = s.server.read_file(DROPIN).expect("the drop-in");
    std::thread::sleep(std::time::Duration::from_secs(5));
    s.run(&["plan"])
        .stdout_contains("No changes") // converged: compared whole in reverse_forward_plans_applies_...
        .file(Role::Server, DROPIN, &dropin)
        .run();
    assert!(!s.server.sshd_log().contains("lockout guard"));
}

#[test]
fn every_arming_replaces_the_earlier_guard_and_a_guard_never_restores_a_file_changed_since() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let interrupted_apply = |guard_seconds: &str| {
        s.run(&["apply", "--lockout-guard-seconds", guard_seconds])
            .env("JPROV_FAULT", "exit-after-sshd-reload")
            .status(9)
            .run();
    };
    interrupted_apply("30");
    // A second interrupted apply with another sshd change: one guard, one sleeper, the new delay.
    let port = s.fresh_port();
    s.edit_profile(|p| p.tunnel.port = Port::new(port));
    let started = std::time::Instant::now();
    interrupted_apply("3");
    assert_eq!(
        guard_sleepers(&s.server),
        1,
        "the earlier sleeper must be gone"
    );
    // Someone edits the drop-in by hand before the guard fires: the guard must leave it alone, and with
    // nothing restored it reloads nothing.
    let edited = b"# edited by the administrator\n";
    s.server.write_file(DROPIN, edited, 0o644);
    let reloads = s.server.sshd_reload_count();
    while s.server.exists(GUARD_DIR) {
        assert!(started.elapsed().as_secs() < 20, "the guard never fired");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        started.elapsed().as_secs_f64() >= 2.5,
        "fired before its delay"
    );
    assert_eq!(s.server.read_file(DROPIN).as_deref(), Some(&edited[..]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        s.server.sshd_reload_count(),
        reloads,
        "nothing restored, yet sshd reloaded"
    );
    assert_eq!(guard_sleepers(&s.server), 0);
    // A normal apply converges from there.
    s.apply(&[]).run();
}

#[test]
fn a_saved_plan_is_applied_exactly_or_not_at_all() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let saved = s.dir.path().join("plan.json");
    let save = ["plan", "-o", saved.to_str().unwrap()];

    // A host that changed after the plan was saved: refused, nothing applied.
    s.run(&save).status(2).run();
    let file = std::fs::read_to_string(&saved).unwrap();
    assert!(file.contains("\"jprov-saved-plan\""), "{file}");
    assert!(!file.contains(HASH_DIGEST), "no secrets in a saved plan");
    s.workstation.exec_ok("mkdir -p /home/alice/.jupyter && echo '# mine' > /home/alice/.jupyter/jupyter_server_config.py && chown -R alice: /home/alice/.jupyter");
    s.apply_saved(&saved)
        .status(1)
        .stderr(
            "error: the workstation's managed files changed since the plan was saved; nothing was applied. \
             Run `jprov plan -o` again\n",
        )
        .absent(Role::Server, DROPIN) // nothing applied
        .run();

    // A changed profile: refused. A comment, added to the text: the saved plan records the digest of the
    // file's bytes, not of the profile's value.
    s.run(&save).status(2).run();
    let profile = std::fs::read_to_string(&s.profile_file).unwrap();
    std::fs::write(&s.profile_file, format!("{profile}# edited\n")).unwrap();
    s.apply_saved(&saved)
        .status(1)
        .stderr(
            "error: the profile [DIR]/profile.yaml changed since the plan was saved; run `jprov plan -o` \
             again\n",
        )
        .absent(Role::Server, DROPIN) // nothing applied
        .run();

    // Unchanged: applied, and the hosts converge.
    s.run(&save).status(2).run();
    s.apply_saved(&saved)
        .stdout_contains("exactly those of the saved plan") // a first apply
        .present(Role::Server, DROPIN)
        .replans(Replan::Setup)
        .run();
}

#[test]
fn jprov_running_on_the_workstation_itself_uses_the_local_transport() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // The profile, the admin's key and the pinned keys, inside the workstation; jprov runs there as alice.
    let mut profile = s.profile();
    profile.workstation.host = WorkstationHost::Local;
    profile.workstation.port = Some(Port::new(22));
    profile.server.as_mut().unwrap().identity_file = Some(valid("/home/alice/jprov/admin_key"));
    let yaml = profiles::to_yaml(&profile);
    assert!(yaml.contains("  host: local\n"), "{yaml}");
    let known_hosts = std::fs::read(s.dir.path().join("known_hosts")).unwrap();
    let key = std::fs::read(s.server.client_key()).unwrap();
    s.workstation
        .write_file("/home/alice/jprov/profile.yaml", yaml.as_bytes(), 0o644);
    s.workstation
        .write_file("/home/alice/jprov/known_hosts", &known_hosts, 0o644);
    s.workstation
        .write_file("/home/alice/jprov/admin_key", &key, 0o600);
    support::setup::install_jprov(&s.workstation, "/home/alice/jprov");
    s.workstation.exec_ok("chown -R alice: /home/alice/jprov");
    // jprov inside the workstation, not a `Step`: the host runs it.
    let run = |args: &str| {
        s.workstation.exec_args(
            &format!("cd /home/alice && runuser -u alice -- env -u SSH_AUTH_SOCK HOME=/home/alice \"$1\" {args} /home/alice/jprov/profile.yaml"),
            &["/home/alice/jprov/jprov"],
            None,
        )
    };
    let out = run("apply --yes");
    expect_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("workstation local"),
        "{}",
        text(&out.stdout)
    );
    let config = s
        .workstation
        .exec_ok("stat -c '%a %U' /home/alice/.jupyter/jupyter_server_config.py");
    assert_eq!(config.trim(), "600 alice");
    assert!(s
        .server
        .read_file("/etc/ssh/jprov/jprov-tunnel.keys")
        .is_some());
    let again = run("plan");
    expect_exit(&again, 0);
}

// `jprov tunnel`: processes are found from outside the hosts (they share the machine's PID namespace).

/// A process's argv, or nothing once it is gone.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// State letter and parent pid from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Running, not exited (a zombie has exited; its parent just has not reaped it).
fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z')
}

/// The live `jprov tunnel` process in `host`, if exactly one.
fn jprov_tunnel_pid(host: &support::TestHost) -> Option<u32> {
    let pids: Vec<u32> = host
        .namespace_pids()
        .into_iter()
        .filter(|pid| {
            let argv = cmdline(*pid);
            argv.len() > 1 && argv[0].ends_with("/jprov") && argv[1] == "tunnel" && alive(*pid)
        })
        .collect();
    assert!(pids.len() <= 1, "several jprov tunnel processes: {pids:?}");
    pids.first().copied()
}

/// The live ssh child of `parent`, if any.
fn ssh_child(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            stat(*pid).is_some_and(|(state, ppid)| ppid == parent && state != 'Z')
                && cmdline(*pid).first().map(String::as_str) == Some("ssh")
        })
}

/// ssh processes (`ssh -N ...`, as tunnels run) in `host`.
fn tunnel_ssh_pids(host: &support::TestHost) -> Vec<u32> {
    host.namespace_pids()
        .into_iter()
        .filter(|pid| alive(*pid) && cmdline(*pid).starts_with(&["ssh".into(), "-N".into()]))
        .collect()
}

/// The pid of the process listening on TCP `port` (as `ss` sees it from `host`), if any.
fn listener(host: &support::TestHost, port: u16) -> Option<u32> {
    let out = host.exec_ok(&format!("ss -ltnpH 'sport = :{port}'"));
    let (_, rest) = out.split_once("pid=")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Poll `f` every 50 ms until it returns `Some`, for at most `secs` seconds.
#[track_caller]
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not within {secs} s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: plain syscall.
    assert_eq!(
        unsafe { libc::kill(pid as libc::pid_t, signal) },
        0,
        "kill {pid}"
    );
}

#[test]
fn jprov_tunnel_keeps_the_reverse_tunnel_up_and_stops_it_on_sigterm() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let applied = s.apply(&[]).run().stdout;
    // The command apply tells the user to run: `jprov tunnel` must run exactly that.
    let command = applied
        .lines()
        .skip_while(|l| !l.starts_with("Start the tunnel on the workstation as alice"))
        .nth(1)
        .expect("apply prints the tunnel command")
        .trim()
        .to_string();
    assert!(command.starts_with("ssh -N "), "{command}");
    let port = s.tunnel_port();
    assert_eq!(listener(&s.server, port), None, "no tunnel yet");

    let dir = "/home/alice/jprov";
    let jprov = support::setup::install_jprov(&s.workstation, dir);
    let profile = format!("{dir}/profile.yaml");
    s.workstation
        .write_file(&profile, &std::fs::read(&s.profile_file).unwrap(), 0o644);
    s.workstation.exec_ok("chown -R alice: /home/alice/jprov");

    // As root, not alice: refused with the user, the host and what to run; nothing started.
    let out = s.workstation.exec_args(
        "\"$1\" tunnel --retry-seconds 1 \"$2\"",
        &[&jprov, &profile],
        None,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the tunnel runs as alice on the workstation (the host that opens it), but this is root: \
             run it there as alice, e.g. `sudo -u alice jprov tunnel {profile}`"
        )),
        "{stderr}"
    );
    assert_eq!(tunnel_ssh_pids(&s.workstation), Vec::<u32>::new());

    // As alice, in the background (as under nohup); its exit status goes to /tmp/tunnel.rc.
    s.workstation.exec_args(
        "(runuser -u alice -- env -u SSH_AUTH_SOCK HOME=/home/alice \"$1\" tunnel --retry-seconds 1 \"$2\"; \
          echo $? > /tmp/tunnel.rc) </dev/null >/tmp/tunnel.log 2>&1 &",
        &[&jprov, &profile],
        None,
    );
    let log = || {
        text(
            &s.workstation
                .read_file("/tmp/tunnel.log")
                .unwrap_or_default(),
        )
    };
    let first_listener = wait_for(15, "the server listens on the tunnel port", || {
        listener(&s.server, port)
    });
    let jprov_pid = jprov_tunnel_pid(&s.workstation).expect("jprov tunnel runs");
    let first_ssh = ssh_child(jprov_pid).expect("jprov's ssh child");
    assert_eq!(
        jprov::argv::shell_words(&cmdline(first_ssh)),
        command,
        "the ssh command of the plan"
    );
    let alice = s.workstation.exec_ok("id -u alice");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(format!("/proc/{first_ssh}"))
            .unwrap()
            .uid()
            .to_string(),
        alice.trim()
    );
    // While it runs, apply says so instead of telling anyone to start a second tunnel on a taken port.
    // Lines: the tunnel's line names the listener as `ss` calls it.
    s.apply(&[])
        .stdout_contains(
            "The tunnel is up on the workstation: sshd listens on the server's port [TUNNEL_PORT].",
        )
        .stdout_lacks("Start the tunnel")
        .run();

    // ssh dies: jprov says so and reconnects after the pause; a new ssh makes the server listen again.
    let killed = std::time::Instant::now();
    signal(first_ssh, libc::SIGKILL);
    let second_ssh = wait_for(10, "a new ssh child", || {
        ssh_child(jprov_pid).filter(|pid| *pid != first_ssh)
    });
    let second_listener = wait_for(10, "the tunnel port listened on again", || {
        listener(&s.server, port).filter(|pid| *pid != first_listener)
    });
    let took = killed.elapsed();
    assert!(
        took < std::time::Duration::from_secs(10),
        "reconnected after {took:?}"
    );
    let log_now = log();
    assert!(
        log_now.contains("jprov tunnel: ssh ended (signal: 9 (SIGKILL)) after")
            && log_now.contains("reconnecting in 1 s"),
        "{log_now}"
    );

    // SIGTERM: jprov stops ssh, exits 0, and the server frees the port. Within 3 s: ssh obeys SIGTERM at
    // once (jprov would SIGKILL it only after a 5 s grace).
    signal(jprov_pid, libc::SIGTERM);
    wait_for(3, "jprov and ssh gone, the port free", || {
        (!alive(jprov_pid) && !alive(second_ssh) && listener(&s.server, port).is_none())
            .then_some(())
    });
    assert!(!alive(second_listener));
    let rc = wait_for(10, "jprov's exit status", || {
        s.workstation.read_file("/tmp/tunnel.rc")
    });
    assert_eq!(text(&rc).trim(), "0", "{}", log());
    assert!(
        log().contains("jprov tunnel: SIGTERM: ssh stopped"),
        "{}",
        log()
    );
    assert_eq!(tunnel_ssh_pids(&s.workstation), Vec::<u32>::new());
}

#[test]
fn jprov_tunnel_runs_as_the_tunnel_account_on_the_server_and_dies_with_jprov() {
    let Some(s) = Setup::new(Method::NginxProxy) else {
        return;
    };
    s.server.start_nginx();
    s.apply(&[]).run();
    let port = s.tunnel_port();
    assert_eq!(listener(&s.server, port), None, "no tunnel yet");
    let dir = "/var/lib/jprov-test";
    let jprov = support::setup::install_jprov(&s.server, dir);
    let profile = format!("{dir}/profile.yaml");
    s.server
        .write_file(&profile, &std::fs::read(&s.profile_file).unwrap(), 0o644);

    let out = s
        .server
        .exec_args("\"$1\" tunnel \"$2\"", &[&jprov, &profile], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let suggested = format!("sudo -u jprov-tunnel jprov tunnel {profile}");
    assert!(
        stderr.contains(&format!(
            "the tunnel runs as jprov-tunnel on the server (the host that opens it), but this is root: \
             run it there as jprov-tunnel, e.g. `{suggested}`"
        )),
        "{stderr}"
    );
    assert_eq!(tunnel_ssh_pids(&s.server), Vec::<u32>::new());

    // The suggested command works (the account has no login shell; sudo -u needs none), with the binary's
    // full path (sudo's secure_path would not find it).
    s.server.exec_args(
        "sudo -u jprov-tunnel \"$1\" tunnel \"$2\" </dev/null >/tmp/tunnel.log 2>&1 &",
        &[&jprov, &profile],
        None,
    );
    let ssh = wait_for(15, "ssh listens on the server's loopback", || {
        listener(&s.server, port)
    });
    let jprov_pid = jprov_tunnel_pid(&s.server).expect("jprov tunnel runs");
    assert_eq!(ssh_child(jprov_pid), Some(ssh), "jprov's own ssh listens");
    let owner = s.server.exec_ok(&format!("ps -o user= -p {ssh}"));
    assert_eq!(owner.trim(), "jprov-tunnel");
    let listening = s.server.exec_ok("ss -ltnH");
    assert!(
        listening.contains(&format!("127.0.0.1:{port}")),
        "{listening}"
    );

    // SIGKILL leaves jprov no chance to clean up: ssh must end by itself (PR_SET_PDEATHSIG).
    signal(jprov_pid, libc::SIGKILL);
    wait_for(5, "ssh gone after jprov was killed, the port free", || {
        (!alive(ssh) && listener(&s.server, port).is_none()).then_some(())
    });
    assert_eq!(tunnel_ssh_pids(&s.server), Vec::<u32>::new());
}

// `jprov destroy` and `plan --destroy`. These hosts have no systemd: units are exercised offline
// (tests/offline.rs) and in the lab.
// `jprov destroy` and `plan --destroy`. These hosts have no systemd: units are exercised offline
// (tests/offline.rs) and in the lab.

/// sshd's whole effective configuration for `user` (`sshd -T`).
fn sshd_effective(s: &Setup, user: &str) -> String {
    s.server.exec_ok(&format!(
        "sshd -T -C user={user},host=laptop,addr=192.0.2.1"
    ))
}

fn account_exists(host: &support::TestHost, name: &str) -> bool {
    host.exec_args("getent passwd \"$1\"", &[name], None)
        .status
        .success()
}

#[test]
fn reverse_forward_destroy_removes_the_setup_and_puts_back_what_was_there() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let config = "/home/alice/.jupyter/jupyter_server_config.py";
    let original = b"# alice's own settings\nc.ServerApp.open_browser = False\n";
    s.workstation.write_file(config, original, 0o640);
    s.workstation
        .exec_ok("chown -R alice:alice /home/alice/.jupyter");
    let admin_before = sshd_effective(&s, "admin");

    // Nothing of the profile is on the hosts yet: nothing to remove, and alice's file is not jprov's.
    s.run(&["plan", "--destroy"])
        .stdout(
            "\
Destroy plan for profile t-reverse-forward (reverse-forward)

server admin@127.0.0.1:[SERVER_PORT]
  no changes

workstation alice@127.0.0.1:[WORKSTATION_PORT]
  no changes

Nothing to remove: nothing jprov set up for the profile is on the hosts.
",
        )
        .run();

    s.apply(&["--start-tunnel"]).run();
    let pid_file = "/home/alice/.local/state/jprov/t-reverse-forward-tunnel.pid";
    let tunnel: u32 = text(&s.workstation.read_file(pid_file).unwrap())
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(alive(tunnel));
    let key = "/home/alice/.ssh/jprov-t-reverse-forward-tunnel";

    // plan --destroy shows every step and changes nothing. Lines: the whole teardown's wording is pinned by
    // the offline golden files (plans/*.destroy.txt); here, the steps these hosts need.
    let mut plan = s.run(&["plan", "--destroy"]).status(2);
    for step in [
        "Destroy plan for profile t-reverse-forward (reverse-forward)",
        &format!("  - stop the tunnel running as alice, then remove its pid file {pid_file} and log"),
        &format!("    - delete {DROPIN}: jprov created it"),
        "    - delete /etc/ssh/jprov/jprov-tunnel.keys: jprov created it",
        "    then remove these directories if empty: /etc/ssh/jprov",
        "    then validate with `sshd -t` (the files are put back if it fails)",
        "    then reload ssh (a reload, never a restart), under the lockout guard",
        "checked: `sshd -t` passes once jprov's files are removed (staged; live files untouched)",
        "  - delete account jprov-tunnel: userdel jprov-tunnel",
        &format!("  - delete the key pair {key} and {key}.pub"),
        &format!("    ~ restore the original {config}: jprov replaced it: what was there before comes back"),
        "    +# alice's own settings",
        "    - delete /home/alice/.ssh/jprov-t-reverse-forward-known_hosts: jprov created it",
        "  - forget the profile",
    ] {
        plan = plan.stdout_contains(step);
    }
    plan.stdout_lacks(HASH_DIGEST)
        .present(Role::Server, DROPIN)
        .run();
    assert!(account_exists(&s.server, "jprov-tunnel"));
    assert!(alive(tunnel), "plan --destroy stopped nothing");
    assert_ne!(s.workstation.read_file(config).unwrap(), original);

    // Everything jprov made is gone, the tunnel first; alice's own file is back, byte for byte.
    let reloads = s.server.sshd_reload_count();
    // Lines: the plan it shows is the one above.
    let mut destroy = s
        .destroy(&[])
        .stdout_contains("a fresh login works after the sshd reload; lockout guard disarmed")
        .stdout_contains("Destroyed: nothing jprov set up for the profile is left on the hosts.")
        .file(Role::Workstation, config, original);
    for path in [
        DROPIN,
        "/etc/ssh/jprov",
        "/var/lib/jprov/backup/t-reverse-forward",
        "/var/lib/jprov/journal/t-reverse-forward",
        "/var/lib/jprov",
    ] {
        destroy = destroy.absent(Role::Server, path);
    }
    for path in [
        key,
        &format!("{key}.pub"),
        "/home/alice/.ssh/jprov-t-reverse-forward-known_hosts",
        pid_file,
        "/home/alice/.local/state/jprov",
    ] {
        destroy = destroy.absent(Role::Workstation, path);
    }
    destroy.run(); // and then nothing is left to remove
    s.server.wait_sshd_reloads(reloads + 1);
    assert!(!alive(tunnel), "the tunnel is stopped");
    assert_eq!(listener(&s.server, s.tunnel_port()), None);
    assert!(!account_exists(&s.server, "jprov-tunnel"));
    // With its mode and owner.
    assert_eq!(
        s.workstation
            .exec_ok(&format!("stat -c '%a %U:%G' {config}"))
            .trim(),
        "640 alice:alice"
    );
    // sshd treats the admin exactly as before, and the admin gets in.
    assert_eq!(sshd_effective(&s, "admin"), admin_before);
    assert!(admin_can_log_in(&s));

    // A new apply starts from scratch and converges (and replaces alice's file again).
    s.apply(&[]).run();
    assert_ne!(s.workstation.read_file(config).unwrap(), original);

    // A saved destroy plan says so, and `apply FILE` applies exactly it.
    let saved = s.dir.path().join("destroy.json");
    s.run(&["plan", "--destroy", "-o", saved.to_str().unwrap()])
        .status(2)
        .stdout_contains("Destroy plan for profile") // the steps: as above
        .run();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(file["destroy"], true);
    assert_eq!(file["plan"]["destroy"], true);
    s.apply_saved(&saved)
        .stdout_contains("exactly those of the saved plan") // the steps: as above
        .stdout_contains("Destroyed: nothing jprov set up")
        .file(Role::Workstation, config, original)
        .absent(Role::Server, DROPIN)
        .replans(Replan::Teardown)
        .run();
    // Applying the same saved plan again is refused: the hosts changed since it was saved.
    s.apply_saved(&saved)
        .status(1)
        .stderr_contains("changed since the plan was saved")
        .run();
}

#[test]
fn nginx_proxy_destroy_keeps_the_users_keys_and_removes_site_certificate_and_account() {
    let Some(s) = Setup::new(Method::NginxProxy) else {
        return;
    };
    s.edit_profile(|p| p.tls = self_signed(None, &[]));
    s.server.start_nginx();
    let keys = "/home/alice/.ssh/authorized_keys";
    s.workstation.exec_ok(&format!(
        "printf '# laptop\\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\\n' >> {keys}"
    ));
    let keys_before = s.workstation.read_file(keys).unwrap();
    s.apply(&["--start-tunnel"]).run();
    let master = s.server.nginx_master_pid();
    let site = "/etc/nginx/sites-available/jprov-t-nginx-proxy";
    let link = "/etc/nginx/sites-enabled/jprov-t-nginx-proxy";
    let pid_file = "/var/lib/jprov-tunnel/jprov-t-nginx-proxy-tunnel.pid";
    let tunnel: u32 = text(&s.server.read_file(pid_file).unwrap())
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let with_line = s.workstation.read_file(keys).unwrap();
    assert!(text(&with_line).contains("jprov:t-nginx-proxy"));

    // Lines: the authorized_keys line it removes holds the tunnel's public key, new every run.
    let mut plan = s.run(&["plan", "--destroy"]).status(2);
    for step in [
        "  - stop the tunnel running as jprov-tunnel, then remove its pid file",
        &format!("    - delete {site}: jprov created it"),
        &format!("    - delete {link}: jprov created it"),
        "    then validate with `nginx -t` (the files are put back if it fails)",
        "    then reload nginx",
        "checked: `nginx -t` passes once jprov's files are removed (staged; live files untouched)",
        "  - delete the self-signed certificate for jupyter.test: /etc/jprov/tls/t-nginx-proxy/privkey.pem, /etc/jprov/tls/t-nginx-proxy/fullchain.pem",
        "    then remove these directories if empty: /etc/jprov/tls/t-nginx-proxy, /etc/jprov/tls, /etc/jprov",
        "  - delete account jprov-tunnel and its home /var/lib/jprov-tunnel: userdel -r jprov-tunnel",
        &format!("    ~ remove the line tagged jprov:t-nginx-proxy from {keys}: the other lines stay as they are"),
        "    -restrict,port-forwarding,permitopen=\"localhost:",
        "    - delete /home/alice/.jupyter/jupyter_server_config.py: jprov created it",
    ] {
        plan = plan.stdout_contains(step);
    }
    plan.present(Role::Server, link)
        .file(Role::Workstation, keys, &with_line)
        .run();
    assert!(alive(tunnel));

    // The user's authorized_keys is exactly as before the first apply; jprov's own files are gone.
    // Lines: the plan it shows is the one above.
    let mut destroy = s
        .destroy(&[])
        .stdout_contains("reloaded nginx")
        .file(Role::Workstation, keys, &keys_before)
        .absent(
            Role::Workstation,
            "/home/alice/.jupyter/jupyter_server_config.py",
        )
        .absent(Role::Workstation, "/home/alice/.local/state/jprov");
    for path in [
        site,
        link,
        "/etc/jprov",
        "/var/lib/jprov-tunnel",
        "/var/lib/jprov",
    ] {
        destroy = destroy.absent(Role::Server, path);
    }
    destroy.run(); // and then nothing is left to remove
    assert!(!alive(tunnel));
    assert_eq!(listener(&s.server, s.tunnel_port()), None);
    assert!(!account_exists(&s.server, "jprov-tunnel"));
    // nginx was reloaded, not restarted, and its configuration is valid without the site.
    assert_eq!(s.server.nginx_master_pid(), master);
    s.server.exec_ok("nginx -t -q");

    // And it all comes back with a new apply.
    s.apply(&[]).present(Role::Server, link).run();
}

#[test]
fn a_destroy_that_would_lock_the_admin_out_is_rolled_back() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    s.apply(&[]).run();
    let ours = s.server.read_file(DROPIN).unwrap();
    // Destroy puts back what was at a path before the first apply. Pretend that was a drop-in denying the
    // admin: removing jprov's would then lock the admin out.
    let record = "/var/lib/jprov/backup/t-reverse-forward/original/%etc%ssh%sshd_config.d%01-jprov-t-reverse-forward.conf";
    s.server.exec_ok(&format!("rm '{record}.absent'"));
    s.server.write_file(record, b"DenyUsers admin\n", 0o644);
    // Lines: the restore's diff is of the drop-in the plans above show; here, what it restores.
    s.run(&["plan", "--destroy"])
        .status(2)
        .stdout_contains(format!("~ restore the original {DROPIN}"))
        .stdout_contains("+DenyUsers admin")
        .run();
    let reloads = s.server.sshd_reload_count();
    // Lines: the error quotes libssh2's message, which varies by version.
    s.run(&["destroy", "--lockout-guard-seconds", "30"])
        .status(1)
        .stderr_contains("a fresh login as admin failed")
        .stderr_contains("restored the previous sshd files")
        .run();
    // Two reloads: the harmful one, and the one putting jprov's drop-in back.
    s.server.wait_sshd_reloads(reloads + 2);
    assert!(admin_can_log_in(&s), "the admin must still get in");
    assert_eq!(s.server.read_file(DROPIN).unwrap(), ours);

    // Without that record, jprov knows only that it wrote the drop-in: destroy deletes it and finishes.
    s.server.exec_ok(&format!("rm '{record}'"));
    // Lines: as above.
    s.run(&["plan", "--destroy"])
        .status(2)
        .stdout_contains(format!(
            "- delete {DROPIN}: jprov wrote it and kept no record of what was there before"
        ))
        .run();
    s.destroy(&[]).absent(Role::Server, DROPIN).run(); // and then nothing is left to remove
    assert!(admin_can_log_in(&s));
}

// Method ngrok on a workstation without systemd (these hosts have none; tests/e2e.rs has a booted one):
// the secret files plan checks on the host, the files apply writes, the start script run as the user.

const NGROK_CONFIG: &str = "/home/alice/.local/share/jprov/t-ngrok/ngrok.yml";
const NGROK_ASSEMBLE: &str = "/home/alice/.local/share/jprov/t-ngrok/assemble-ngrok-config";
/// What the test's secret files hold: never in anything jprov prints.
const NGROK_TOKEN_LINE: &str = "NGROK_AUTHTOKEN=2hosts-test-token-not-a-real-one\n";
const NGROK_PASSWORD: &str = "hosts-test basic pass";

/// `stat -c '%a %U'` of a path on a host.
fn mode_owner(host: &support::TestHost, path: &str) -> String {
    host.exec_ok(&format!("stat -c '%a %U' '{path}'"))
        .trim()
        .to_string()
}

#[test]
fn ngrok_checks_its_secret_files_on_the_host_applies_without_systemd_and_destroys() {
    use support::profiles::{NGROK_AUTHTOKEN, NGROK_BASIC_AUTH};
    let Some(s) = Setup::new(Method::Ngrok) else {
        return;
    };
    let ws = &s.workstation;
    // Neither file yet: plan names both, changes nothing, exits 3.
    // Lines: a first plan (the workstation's key), and the problems.
    s.run(&["plan"])
        .status(3)
        .stdout_contains(format!(
            "PROBLEM: ngrok.authtoken_file {NGROK_AUTHTOKEN} is not on the workstation (or alice cannot \
             get to it)"
        ))
        .stdout_contains(format!(
            "PROBLEM: ngrok.basic_auth_file {NGROK_BASIC_AUTH} is not on the workstation"
        ))
        .stdout_contains("the workstation does not run systemd")
        .absent(Role::Workstation, NGROK_CONFIG)
        .run();
    // Readable by others, and readable only by root: each said, with what to run.
    ws.write_file(NGROK_AUTHTOKEN, NGROK_TOKEN_LINE.as_bytes(), 0o644);
    ws.exec_ok(&format!("chown alice: '{NGROK_AUTHTOKEN}'"));
    let credentials = format!("ada:{NGROK_PASSWORD}\n");
    ws.write_file(NGROK_BASIC_AUTH, credentials.as_bytes(), 0o600);
    s.run(&["apply"])
        .status(3)
        .stderr_contains("the plan has problems")
        .stdout_contains(format!(
            "PROBLEM: ngrok.authtoken_file {NGROK_AUTHTOKEN} has mode 0644: other accounts on the \
             workstation may read it (or change it); chmod 600 {NGROK_AUTHTOKEN}"
        ))
        .stdout_contains(format!(
            "PROBLEM: ngrok.basic_auth_file {NGROK_BASIC_AUTH} is not readable by alice, who runs the agent"
        ))
        .absent(Role::Workstation, NGROK_CONFIG)
        .run();
    ws.exec_ok(&format!(
        "chmod 600 '{NGROK_AUTHTOKEN}' && chown -R alice: /home/alice/.config"
    ));
    // Lines: a first apply, whose plan shows the workstation's key.
    let applied = s
        .apply(&[])
        .stdout_contains("start the ngrok agent on the workstation as alice: (set -a; . ")
        .stdout_contains("Browsers open: https://jupyter.test/")
        .stdout_lacks("2hosts-test-token")
        .stdout_lacks(NGROK_PASSWORD)
        .present(Role::Workstation, NGROK_CONFIG)
        .run();
    assert!(!applied.stderr.contains(NGROK_PASSWORD));
    assert_eq!(mode_owner(ws, NGROK_CONFIG), "600 alice");
    assert_eq!(mode_owner(ws, NGROK_ASSEMBLE), "700 alice");
    // The secret files are as they were: jprov only looked at them.
    assert_eq!(
        ws.read_file(NGROK_AUTHTOKEN).unwrap(),
        NGROK_TOKEN_LINE.as_bytes()
    );
    assert_eq!(mode_owner(ws, NGROK_AUTHTOKEN), "600 alice");

    // The start script, as alice on the host, as the printed command runs it.
    let out = ws.exec(&format!(
        "mkdir -p -m 700 /home/alice/run && chown alice: /home/alice/run && \
         runuser -u alice -- env HOME=/home/alice '{NGROK_ASSEMBLE}' /home/alice/run/ngrok.yml"
    ));
    expect_exit(&out, 0);
    assert_eq!(mode_owner(ws, "/home/alice/run/ngrok.yml"), "600 alice");
    let assembled: serde_yaml::Value =
        serde_yaml::from_slice(&ws.read_file("/home/alice/run/ngrok.yml").unwrap()).unwrap();
    let errors = support::ngrok_schema::validate(&assembled);
    assert!(errors.is_empty(), "{errors:?}");
    let policy = &assembled["endpoints"][0]["traffic_policy"]["on_http_request"];
    assert_eq!(
        policy[1]["actions"][0]["config"]["credentials"][0],
        format!("ada:{NGROK_PASSWORD}").as_str()
    );
    ws.exec_ok("rm -r /home/alice/run");

    // Destroy removes what apply wrote, and leaves the user's files of secrets alone.
    s.destroy(&[])
        .absent(Role::Workstation, NGROK_CONFIG)
        .absent(Role::Workstation, NGROK_ASSEMBLE)
        .absent(Role::Workstation, "/home/alice/.local/share/jprov")
        .absent(
            Role::Workstation,
            "/home/alice/.jupyter/jupyter_server_config.py",
        )
        .file(Role::Workstation, NGROK_AUTHTOKEN, NGROK_TOKEN_LINE)
        .file(Role::Workstation, NGROK_BASIC_AUTH, credentials.as_bytes())
        .run();
}

/// `jprov ARGS PROFILE` on a real pseudo-terminal (util-linux `script`), answering `answer`.
fn on_a_terminal(s: &Setup, args: &str, answer: &str) -> std::process::Output {
    use std::io::Write;
    let command = format!(
        "{} {args} {}",
        support::jprov_bin().display(),
        s.profile_file.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    // Typed ahead, as people do: the terminal holds the line until jprov reads it, after the plan.
    writeln!(child.stdin.take().unwrap(), "{answer}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn apply_and_destroy_ask_on_a_terminal_and_refuse_without_one() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    // No terminal, no --yes: refused before any host is contacted.
    let out = std::process::Command::new(support::jprov_bin())
        .arg("apply")
        .arg(&s.profile_file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    expect_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("pass --yes"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains("Plan for"),
        "it planned: {}",
        text(&out.stdout)
    );
    // On a terminal: the plan, the question; anything but `yes` cancels and changes nothing.
    let out = on_a_terminal(&s, "apply", "y");
    let shown = text(&out.stdout);
    expect_exit(&out, 1);
    assert!(
        shown.contains("Plan for profile") && shown.contains("Enter a value"),
        "{shown}"
    );
    assert!(shown.contains("cancelled"), "{shown}");
    assert!(
        s.server.read_file(DROPIN).is_none(),
        "cancelled, yet written"
    );
    s.run(&["plan"]).status(2).run();
    // `yes` applies what was shown.
    let out = on_a_terminal(&s, "apply", "yes");
    expect_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("Applied"),
        "{}",
        text(&out.stdout)
    );
    s.run(&["plan"]).run();
    // With nothing to change there is nothing to ask; destroy asks the same way.
    let out = on_a_terminal(&s, "apply", "");
    expect_exit(&out, 0);
    assert!(
        !text(&out.stdout).contains("Enter a value"),
        "{}",
        text(&out.stdout)
    );
    let out = on_a_terminal(&s, "destroy", "yes");
    expect_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("Enter a value"),
        "{}",
        text(&out.stdout)
    );
    s.run(&["plan", "--destroy"]).run();
}

/// An ssh config file (DIR/ssh_config) with the aliases `jserver` and `jws` for the two hosts (HostName
/// and Port), `jws_more` after the workstation's lines, and the profile naming the hosts by those aliases
/// and no port.
fn with_aliases(s: &Setup, jws_more: &str) -> std::path::PathBuf {
    let (server, workstation) = (s.server.port(), s.workstation.port());
    let config = s.dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host jserver\n  HostName 127.0.0.1\n  Port {server}\n\
             Host jws\n  HostName 127.0.0.1\n  Port {workstation}\n{jws_more}"
        ),
    )
    .unwrap();
    s.edit_profile(|p| {
        let server = p.server.as_mut().unwrap();
        server.host = valid("jserver");
        server.port = None;
        p.workstation.host = WorkstationHost::Remote(valid("jws"));
        p.workstation.port = None;
    });
    config
}

/// Connections resolve as `ssh HOST` would, from a real ssh config file given with -F: aliases with their
/// own HostName and Port (the profile names no port), the workstation through ssh's ProxyJump (the
/// profile has no `jump`), and ssh's own words for a broken config.
#[test]
fn connections_follow_the_ssh_config_given_with_dash_f() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let server = s.server.port();
    let config = with_aliases(
        &s,
        &format!(
            "  ProxyJump admin@127.0.0.1:{server}\nHost *\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            s.server.client_key().display()
        ),
    );
    let f = config.to_str().unwrap();
    // The tunnel runs on the workstation, which knows no alias of the admin's: plan says so, in its one
    // facts exec there, and names the field that fixes it.
    s.run(&["plan", "-F", f])
        .status(3)
        .stdout_contains(
            "PROBLEM: the workstation cannot resolve jserver, the address its tunnel dials",
        )
        .stdout_contains("tunnel.peer_address")
        .run();
    s.edit_profile(|p| p.tunnel.peer_address = Some(valid("127.0.0.1")));
    let ran = s
        .run(&["plan", "-F", f])
        .status(2)
        .stdout_contains("server admin@jserver:[SERVER_PORT]\n")
        .stdout_contains("workstation alice@jws:[WORKSTATION_PORT]\n")
        .run();
    assert!(!ran.stdout.contains("PROBLEM"), "{}", ran.stdout);
    // The ProxyJump is taken, not a direct connection: through a hop that does not answer, nothing works.
    let text = std::fs::read_to_string(&config).unwrap();
    let dead_hop = s.dir.path().join("dead_hop_config");
    std::fs::write(
        &dead_hop,
        text.replace(
            &format!("ProxyJump admin@127.0.0.1:{server}"),
            "ProxyJump admin@127.0.0.1:1",
        ),
    )
    .unwrap();
    s.run(&["plan", "-F", dead_hop.to_str().unwrap()])
        .status(4)
        .stderr_contains("workstation: cannot reach alice@jws")
        .run();
    // Without the file, the aliases mean nothing (as for ssh): no host is reached.
    s.run(&["plan"]).status(4).stderr_contains("jserver").run();
    // A broken config: ssh's own message, not "cannot resolve".
    let broken = s.dir.path().join("broken_config");
    std::fs::write(&broken, "Host *\n  NoSuchOption yes\n").unwrap();
    s.run(&["plan", "-F", broken.to_str().unwrap()])
        .status(4)
        .stderr_contains("Bad configuration option")
        .run();
}

/// A ProxyJump chain goes hop by hop, each hop reached through the one before it over a channel of jprov's
/// own session to it (no ssh process), with the hop's user from ssh's config; a hop whose key jprov cannot
/// verify is refused before anything goes through it.
#[test]
fn a_proxyjump_chain_goes_hop_by_hop_and_each_hop_key_is_verified_first() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let server = s.server.port();
    let hops = |alias: &str| {
        format!(
            "  ProxyJump hop1,hop2\nHost hop1 hop2\n  HostName 127.0.0.1\n  Port {server}\n  User admin\n\
             Host hop2\n  HostKeyAlias {alias}\nHost *\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            s.server.client_key().display()
        )
    };
    let config = with_aliases(&s, &hops(&format!("[127.0.0.1]:{server}")));
    s.edit_profile(|p| p.tunnel.peer_address = Some(valid("127.0.0.1")));
    let f = config.to_str().unwrap();
    s.run(&["plan", "-F", f]).status(2).run();
    // The server's own session, hop1, and hop2 reached through hop1 (a login of its own, as with ssh).
    assert_eq!(admin_logins(&s), 3);
    // hop2's key is listed under no name jprov pinned: refused, and the workstation never hears of it.
    let unknown = s.dir.path().join("unknown_hop_config");
    std::fs::write(
        &unknown,
        std::fs::read_to_string(&config).unwrap().replace(
            &hops(&format!("[127.0.0.1]:{server}")),
            &hops("hop2.unpinned"),
        ),
    )
    .unwrap();
    let workstation_logins = s
        .workstation
        .sshd_log()
        .matches("Accepted publickey")
        .count();
    s.run(&["plan", "-F", unknown.to_str().unwrap()])
        .status(4)
        .stderr_contains("unknown host key for hop2.unpinned")
        .run();
    assert_eq!(
        s.workstation
            .sshd_log()
            .matches("Accepted publickey")
            .count(),
        workstation_logins
    );
}

/// Admin logins the server's sshd accepted so far.
fn admin_logins(s: &Setup) -> usize {
    (s.server.sshd_log().lines())
        .filter(|l| l.contains("Accepted publickey for admin from 127.0.0.1 port "))
        .count()
}

/// A second workstation behind the test server, with its own profile beside the first (a research group's
/// fleet): another name, tunnel account and tunnel port, its host key pinned in the same file.
fn second_workstation(s: &Setup) -> (TestHost, std::path::PathBuf) {
    let ws2 = TestHost::start("workstation2").expect("a second workstation");
    ws2.add_user("alice");
    let pinned = s.dir.path().join("known_hosts");
    let known = std::fs::read_to_string(&pinned).unwrap();
    std::fs::write(&pinned, format!("{known}{}\n", ws2.known_hosts_line())).unwrap();
    let mut p2 = s.profile();
    p2.name = valid("t-second");
    p2.workstation.port = Some(Port::new(ws2.port()));
    p2.workstation.identity_file = Some(valid(&ws2.client_key().display().to_string()));
    p2.tunnel.account = valid("jprov-tunnel-two");
    p2.tunnel.port = Port::new(s.fresh_port());
    let file = s.dir.path().join("second.yaml");
    profiles::write(&file, &p2);
    (ws2, file)
}

/// Two workstations behind one server, one profile each, in one invocation: the server is logged in to
/// once for both, both are planned, applied (after one approval) and destroyed together, a plan saved for
/// both is applied exactly, and profiles that collide on the server are refused before any host is
/// contacted.
#[test]
fn several_profiles_share_one_login_per_host_and_are_applied_together() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let (ws2, second) = second_workstation(&s);
    let (one, two) = (s.profile_file.to_str().unwrap(), second.to_str().unwrap());
    // trust pins every host of both profiles in their known_hosts file, the shared server once.
    let pinned = s.dir.path().join("known_hosts");
    std::fs::write(&pinned, "").unwrap();
    s.run_args(&["trust", one, two])
        .stdout_contains("== t-second (")
        .stdout_contains("already pinned")
        .run();
    let keys = std::fs::read_to_string(&pinned).unwrap();
    for port in [s.server.port(), s.workstation.port(), ws2.port()] {
        assert_eq!(
            keys.matches(&format!("[127.0.0.1]:{port} ")).count(),
            1,
            "{keys}"
        );
    }
    let before = admin_logins(&s);
    s.run_args(&["plan", one, two])
        .status(2)
        .stdout_contains("== t-reverse-forward (")
        .stdout_contains("== t-second (")
        .run();
    assert_eq!(
        admin_logins(&s),
        before + 1,
        "one server login for both profiles"
    );
    s.run_args(&["apply", one, two])
        .stderr_contains("t-second/workstation: done 1/")
        .stdout_contains("Applied: the hosts match the profile.")
        .run();
    s.run_args(&["plan", one, two]).run();
    // Both workstations have their tunnel's account on the one server.
    assert!(account_exists(&s.server, "jprov-tunnel-two"));
    // A plan saved for both, applied exactly.
    s.edit_profile(|p| p.jupyter.base_url = valid("/j-fleet/"));
    let saved = s.dir.path().join("fleet.plan");
    s.run_args(&["plan", "-o", saved.to_str().unwrap(), one, two])
        .status(2)
        .run();
    s.run_args(&["apply", saved.to_str().unwrap()])
        .stdout_contains("exactly those of the saved plan")
        .run();
    s.run_args(&["plan", one, two]).run();
    // A third profile that takes the second's tunnel port: refused, no host contacted.
    let third = s.dir.path().join("third.yaml");
    let mut p3 = s.profile();
    p3.name = valid("t-third");
    p3.tunnel.account = valid("jprov-tunnel-three");
    p3.tunnel.port = s.profile().tunnel.port;
    profiles::write(&third, &p3);
    let before = admin_logins(&s);
    s.run_args(&["apply", one, third.to_str().unwrap()])
        .status(1)
        .stderr_contains("the profiles collide on a shared host")
        .stderr_contains("tunnel.port")
        .run();
    assert_eq!(admin_logins(&s), before);
    s.run_args(&["destroy", one, two])
        .stdout_contains("Destroyed: nothing jprov set up for the profile is left on the hosts.")
        .run();
    s.run_args(&["plan", "--destroy", one, two]).run();
    assert!(!account_exists(&s.server, "jprov-tunnel-two"));
    drop(ws2);
}

/// What nginx on the test server answers `https://jupyter.test:PORT/api/status` from the loopback address
/// `source`, with `user:password` or no credentials (curl inside the server, trusting the test certificate).
fn nginx_status(s: &Setup, source: &str, credentials: Option<&str>) -> String {
    let port = s.profile().nginx.expect("nginx-proxy").https_port;
    let credentials = credentials.map_or(String::new(), |c| format!("-u '{c}'"));
    s.server.exec_ok(&format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' --max-time 10 --noproxy '*' --interface {source} \
         --cacert /etc/jprov-test/cert.pem --resolve jupyter.test:{port}:127.0.0.1 {credentials} \
         https://jupyter.test:{port}/api/status"
    ))
}

#[test]
fn nginx_proxy_puts_basic_auth_and_an_allow_list_in_front_and_takes_them_away_again() {
    use jprov::profile::{Access, BasicAuthAccount};
    let Some(s) = Setup::new(Method::NginxProxy) else {
        return;
    };
    s.server.start_nginx();
    let htpasswd = "/etc/nginx/jprov-t-nginx-proxy.htpasswd";
    let hash = jprov::password::htpasswd::hash_password("alice-basic-auth-pw").unwrap();
    s.edit_profile(|p| {
        p.access = Access {
            basic_auth: Some(vec![BasicAuthAccount {
                username: valid("alice"),
                htpasswd_hash: valid(&hash),
                password: None,
            }]),
            allow: Some(vec![valid("127.0.0.2")]),
        }
    });
    // The layers show in the plan before anything changes, the hash nowhere.
    // Lines: a first plan (the hosts' keys).
    s.run(&["plan"])
        .status(2)
        .stdout_contains(format!(
            "    + create {htpasswd} (0640 root:www-data): missing\n"
        ))
        .stdout_contains("    +alice: ********\n")
        .stdout_contains("    +        allow 127.0.0.2;\n")
        .stdout_contains(format!("    +        auth_basic_user_file {htpasswd};\n"))
        .stdout_contains("`nginx -t` passes with the new files (staged; live files untouched)")
        .stdout_lacks(&hash[7..])
        .absent(Role::Server, htpasswd)
        .run();
    s.apply(&["--start-tunnel"])
        .stdout_contains("reloaded nginx")
        .stdout_lacks(&hash[7..])
        .run();
    let owner = s.server.exec_ok(&format!("stat -c '%a %U:%G' {htpasswd}"));
    assert_eq!(owner.trim(), "640 root:www-data");
    let workers = s
        .server
        .exec_ok("grep -x 'user www-data;' /etc/nginx/nginx.conf");
    assert_eq!(workers.trim(), "user www-data;", "Debian's nginx.conf");
    // The real nginx, its workers www-data: outside the allow-list 403; inside it 401 without or with
    // wrong credentials; with both, nginx goes on to the tunnel (502: no Jupyter runs on the test
    // workstation).
    let right = "alice:alice-basic-auth-pw";
    assert_eq!(nginx_status(&s, "127.0.0.1", Some(right)), "403");
    assert_eq!(nginx_status(&s, "127.0.0.2", None), "401");
    assert_eq!(nginx_status(&s, "127.0.0.2", Some("alice:wrong")), "401");
    assert_eq!(nginx_status(&s, "127.0.0.2", Some(right)), "502");

    // Without the layers: the site lets everyone through, the file keeps no account.
    s.edit_profile(|p| p.access = Access::default());
    s.apply(&["--start-tunnel"])
        .stdout_contains(format!("    ~ update {htpasswd}"))
        .stdout_contains("    -alice: ********\n")
        .stdout_contains("    -        auth_basic_user_file")
        .stdout_lacks(&hash[7..])
        .run();
    let left = text(&s.server.read_file(htpasswd).unwrap());
    assert!(
        !left.contains(':') && left.contains("No accounts."),
        "{left}"
    );
    assert_eq!(nginx_status(&s, "127.0.0.1", None), "502");
    // destroy deletes it (jprov created it).
    s.destroy(&[])
        .stdout_contains(format!("    - delete {htpasswd}: jprov created it"))
        .absent(Role::Server, htpasswd)
        .run();
}

/// The README's own set-up: aliases from the ssh config and `workstation.jump: server`, keys pinned by
/// `jprov trust`. Every connection (the server's, the workstation's through the jump) looks its host key
/// up under the name trust pinned it as, not under the address an alias resolves to.
#[test]
fn keys_pinned_by_trust_under_aliases_serve_the_jump_too() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let (server, workstation) = (s.server.port(), s.workstation.port());
    let config = with_aliases(&s, "");
    s.edit_profile(|p| {
        p.workstation.jump = Some(Jump::Server);
        p.tunnel.peer_address = Some(valid("127.0.0.1"));
    });
    // Nothing pinned yet: trust pins both, under the aliases.
    std::fs::write(s.dir.path().join("known_hosts"), "").unwrap();
    let f = config.to_str().unwrap();
    s.run(&["trust", "-F", f]).run();
    let pinned = std::fs::read_to_string(s.dir.path().join("known_hosts")).unwrap();
    assert!(
        pinned.contains(&format!("[jserver]:{server} "))
            && pinned.contains(&format!("[jws]:{workstation} ")),
        "{pinned}"
    );
    assert!(!pinned.contains("127.0.0.1"), "{pinned}");
    let ran = s.run(&["plan", "-F", f]).status(2).run();
    assert!(
        ran.stdout.contains("(through the server)"),
        "{}",
        ran.stdout
    );
    // apply says on stderr, per host, each step as it starts and ends (no colour: not a terminal).
    s.run(&["apply", "-F", f])
        .stderr_contains("server: start 1/")
        .stderr_contains("server: done 1/")
        .stderr_contains("workstation: start 1/")
        .stderr_contains("workstation: done 1/")
        .stderr_lacks("\x1b[")
        .run();
    s.run(&["plan", "-F", f]).run();
}

/// A passphrase-protected identity_file: without an agent jprov says to add it to ssh-agent; with it in
/// a real ssh-agent, jprov uses the agent's copy, as ssh does.
#[test]
fn a_passphrase_protected_identity_file_is_used_through_the_agent() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let dir = s.dir.path();
    let key = dir.join("protected_key");
    std::fs::copy(s.server.client_key(), &key).unwrap();
    let pubkey = format!("{}.pub", s.server.client_key().display());
    std::fs::copy(&pubkey, format!("{}.pub", key.display())).unwrap();
    let run = |program: &str, args: &[&str], env: &[(&str, &str)]| {
        let out = std::process::Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let k = key.to_str().unwrap();
    run(
        "ssh-keygen",
        &["-q", "-p", "-P", "", "-N", "correct horse battery", "-f", k],
        &[],
    );
    s.edit_profile(|p| p.server.as_mut().unwrap().identity_file = Some(valid(k)));
    s.run(&["plan"])
        .status(4)
        .stderr_contains("passphrase-protected; add it to ssh-agent")
        .run();
    // A real agent on a socket of the test's, the key added with its passphrase through SSH_ASKPASS.
    let sock = dir.join("agent.sock");
    let sock = sock.to_str().unwrap();
    let started = run("ssh-agent", &["-a", sock, "-s"], &[]);
    let pid = started
        .split_once("SSH_AGENT_PID=")
        .and_then(|(_, rest)| rest.split(';').next())
        .expect("ssh-agent -s prints its pid")
        .to_string();
    let askpass = dir.join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho 'correct horse battery'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let env = [
        ("SSH_AUTH_SOCK", sock),
        ("SSH_ASKPASS", askpass.to_str().unwrap()),
        ("SSH_ASKPASS_REQUIRE", "force"),
    ];
    run("ssh-add", &["-q", k], &env);
    let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.run(&["plan"]).env("SSH_AUTH_SOCK", sock).status(2).run();
    }));
    let _ = std::process::Command::new("kill").arg(&pid).status();
    planned.unwrap();
}

/// User certificates, as ssh presents them: sshd trusts a CA, the admin's key itself is authorized
/// nowhere, and jprov logs in with the certificate beside the key (`KEY-cert.pub`, ssh's default) or the
/// one the ssh config names (`CertificateFile`, -F).
#[test]
fn a_user_certificate_logs_in_where_the_key_alone_does_not() {
    let Some(s) = Setup::new(Method::ReverseForward) else {
        return;
    };
    let dir = s.dir.path();
    let keygen = |args: &[&str]| {
        let out = std::process::Command::new("ssh-keygen")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen {args:?}: {}",
            text(&out.stderr)
        );
    };
    let (ca, key) = (dir.join("user_ca"), dir.join("certified_key"));
    let (ca, key) = (ca.to_str().unwrap(), key.to_str().unwrap());
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", ca]);
    keygen(&["-q", "-t", "ed25519", "-N", "", "-f", key]);
    let ca_pub = std::fs::read(format!("{ca}.pub")).unwrap();
    s.server
        .write_file("/etc/ssh/test_user_ca.pub", &ca_pub, 0o644);
    s.server.write_file(
        "/etc/ssh/sshd_config.d/00-test-ca.conf",
        b"TrustedUserCAKeys /etc/ssh/test_user_ca.pub\n",
        0o644,
    );
    s.server.reload_sshd();
    s.edit_profile(|p| p.server.as_mut().unwrap().identity_file = Some(valid(key)));
    // The key alone: not authorized.
    s.run(&["plan"])
        .status(4)
        .stderr_contains("Username/PublicKey combination invalid")
        .run();
    // Signed for the admin: the certificate beside it is presented.
    keygen(&[
        "-q",
        "-s",
        ca,
        "-I",
        "jprov-test",
        "-n",
        "admin",
        &format!("{key}.pub"),
    ]);
    s.run(&["plan"]).status(2).run();
    // Elsewhere, named by the ssh config's CertificateFile.
    let elsewhere = dir.join("certificate.pub");
    std::fs::rename(format!("{key}-cert.pub"), &elsewhere).unwrap();
    s.run(&["plan"]).status(4).run();
    let config = dir.join("ssh_config");
    std::fs::write(
        &config,
        format!("Host *\n  CertificateFile {}\n", elsewhere.display()),
    )
    .unwrap();
    s.run(&["plan", "-F", config.to_str().unwrap()])
        .status(2)
        .run();
}
