#!/usr/bin/env bash
# Proves a lab that is up (lab.sh up DIR) with hand-made configuration, no jprov:
# SSH from ctl with the admin key and strict host keys, the laptop's reachability,
# a real ACME http-01 certificate on the server, the workstation's Jupyter venv, and
# (unless SELFTEST_TUNNEL=0) a hand-made reverse-forward tunnel checked end to end by
# laptop_check.py from the laptop. It CHANGES the hosts: use a lab of its own and
# bring it down afterwards (tests/e2e.rs does).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# == 1 ]] || { echo "usage: selftest.sh DIR" >&2; exit 2; }
DIR=$(cd "$1" && pwd)
# shellcheck disable=SC1091
. "$DIR/env"
L="$HERE/lab.sh"
# laptop_check.py runs with the test venv's Python (tornado), never the machine's python3.
if [[ ${SELFTEST_TUNNEL:-1} == 1 ]]; then
    [[ -n ${JPROV_TEST_PYTHON:-} ]] || { echo "selftest: JPROV_TEST_PYTHON is not set: it names the test venv's Python (bash tests/run.sh creates target/test-venv)" >&2; exit 1; }
    "$JPROV_TEST_PYTHON" -c 'import tornado' || { echo "selftest: $JPROV_TEST_PYTHON lacks tornado (bash tests/run.sh installs jupyter_server)" >&2; exit 1; }
fi
export LAB_NAME LAB_DIR
PASSED=0 FAILED=0 FAILED_NAMES=()
mkdir -p "$DIR/logs/selftest"

check() { # NAME DESCRIPTION CMD...
    local name=$1 what=$2 t0=$SECONDS; shift 2
    if "$@" >"$DIR/logs/selftest/$name.log" 2>&1; then
        echo "ok   $name: $what ($((SECONDS - t0)) s)"; PASSED=$((PASSED + 1))
    else
        echo "FAIL $name: $what (exit $?; log $DIR/logs/selftest/$name.log)"
        sed 's/^/     | /' "$DIR/logs/selftest/$name.log" | tail -15
        FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name")
    fi
}
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
SSH=(ssh -F /dev/null -i "$LAB_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5
     -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes)
ctl_ssh() { in_ns "$LAB_NS_CTL" "${SSH[@]}" "$@"; }
tcp() { in_ns "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3"; }
not() { ! "$@"; }

# --- SSH from ctl, host keys checked strictly --------------------------------------------
check ssh-server-root "root@server.lab" ctl_ssh root@server.lab 'test "$(id -u)" = 0 && hostname'
check ssh-server-admin "admin@server.lab with sudo -n" ctl_ssh admin@server.lab 'test "$(id -un)" = admin && sudo -n true && test "$(sudo -n id -u)" = 0'
check ssh-workstation-alice "alice@workstation.lab" ctl_ssh alice@workstation.lab 'test "$(id -un)" = alice'
check ssh-workstation-root "root@workstation.lab" ctl_ssh root@workstation.lab true
unknown_host_refused() {
    local out rc=0
    out=$(in_ns "$LAB_NS_CTL" ssh -F /dev/null -i "$LAB_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes root@server.lab true 2>&1) || rc=$?
    echo "$out"; [[ $rc != 0 ]] && grep -q 'Host key verification failed' <<<"$out"
}
check ssh-strict-hostkey "an unknown host key is refused" unknown_host_refused

# --- reachability ----------------------------------------------------------------------------
check laptop-server-22 "laptop reaches server:22" tcp "$LAB_NS_LAPTOP" server.lab 22
check laptop-server-80 "laptop reaches server:80" tcp "$LAB_NS_LAPTOP" server.lab 80
check laptop-no-workstation "laptop cannot reach workstation:22" not tcp "$LAB_NS_LAPTOP" workstation.lab 22
check lanlaptop-workstation-22 "lanlaptop reaches workstation:22" tcp "$LAB_NS_LANLAPTOP" workstation.lab 22
check lanlaptop-no-server "lanlaptop cannot reach server:22" not tcp "$LAB_NS_LANLAPTOP" server.lab 22
check ctl-workstation-22 "ctl reaches workstation:22" tcp "$LAB_NS_CTL" workstation.lab 22
check acme-server-80 "acme (pebble's VA) reaches jupyter.lab:80" tcp "$LAB_NS_ACME" jupyter.lab 80

# --- real ACME http-01 -------------------------------------------------------------------------
certbot_real() {
    "$L" acme-root "$DIR"
    ctl_ssh root@server.lab "REQUESTS_CA_BUNDLE=$LAB_ACME_LISTENER_CA_IN_SERVER certbot certonly -n --agree-tos \
        -m admin@jupyter.lab --server $LAB_ACME_DIRECTORY --webroot -w /var/www/html -d $LAB_JUPYTER_NAME \
        && grep -c 'LetsEncrypt-Pebble-VA' /var/log/nginx/access.log \
        && cat /etc/letsencrypt/live/$LAB_JUPYTER_NAME/fullchain.pem" >"$DIR/selftest-fullchain.pem"
    # The issued chain verifies against pebble's current root, for the name jupyter.lab.
    openssl verify -CAfile "$DIR/acme-root.pem" -untrusted <(sed -n '/BEGIN/,$p' "$DIR/selftest-fullchain.pem") \
        -verify_hostname "$LAB_JUPYTER_NAME" <(sed -n '/BEGIN/,/END/p' "$DIR/selftest-fullchain.pem" | sed '/END/q')
}
check certbot-http01 "certbot on server gets a cert for $LAB_JUPYTER_NAME via http-01 from pebble" certbot_real

# --- Jupyter venv on the workstation ---------------------------------------------------------
check workstation-venv "alice runs /opt/jupyter/bin/jupyter" ctl_ssh alice@workstation.lab \
    '/opt/jupyter/bin/jupyter server --version && /opt/jupyter/bin/python -c "import ipykernel, jupyter_server"'

# --- hand-made reverse-forward tunnel, proven from the laptop -------------------------------
tunnel_by_hand() {
    local port=8888
    # Server: tunnel user allowed to listen on :8888 on all addresses, nothing else.
    ctl_ssh root@server.lab "set -e
        id tunnel >/dev/null 2>&1 || useradd -m -s /bin/sh tunnel
        install -d -o tunnel -g tunnel -m 700 /home/tunnel/.ssh
        printf 'Match User tunnel\n  AllowTcpForwarding remote\n  GatewayPorts clientspecified\n  PermitListen $port\n  PermitTTY no\n  X11Forwarding no\n' >/etc/ssh/sshd_config.d/50-selftest-tunnel.conf
        sshd -t && systemctl reload ssh"
    # Workstation: alice's key, TLS files, Jupyter config; Jupyter and the tunnel as units.
    ctl_ssh alice@workstation.lab "set -e
        test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
        mkdir -p ~/.jupyter ~/tls ~/notebooks
        cat >~/.jupyter/jupyter_server_config.py <<'C'
c.ServerApp.ip = '127.0.0.1'
c.ServerApp.port = $port
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_remote_access = True
c.ServerApp.certfile = '/home/alice/tls/fullchain.pem'
c.ServerApp.keyfile = '/home/alice/tls/privkey.pem'
c.ServerApp.root_dir = '/home/alice/notebooks'
c.PasswordIdentityProvider.hashed_password = 'sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a'
c.PasswordIdentityProvider.password_required = True
c.PasswordIdentityProvider.allow_password_change = False
C"
    local pub; pub=$(ctl_ssh alice@workstation.lab 'cat ~/.ssh/id_ed25519.pub')
    ctl_ssh root@server.lab "set -e
        echo 'restrict,port-forwarding,permitlisten=\"$port\" $pub' >/home/tunnel/.ssh/authorized_keys
        chown tunnel:tunnel /home/tunnel/.ssh/authorized_keys
        cat /etc/letsencrypt/live/$LAB_JUPYTER_NAME/fullchain.pem" >"$DIR/selftest-fc.pem"
    local key; key=$(ctl_ssh root@server.lab "cat /etc/letsencrypt/live/$LAB_JUPYTER_NAME/privkey.pem")
    ctl_ssh alice@workstation.lab "set -e; umask 077; cat >~/tls/fullchain.pem" <"$DIR/selftest-fc.pem"
    ctl_ssh alice@workstation.lab "set -e; umask 077; cat >~/tls/privkey.pem" <<<"$key"
    ctl_ssh root@workstation.lab "set -e
        install -o alice -g alice -m 600 /dev/null /home/alice/.ssh/known_hosts
        printf '%s\n' \"\$(cat)\" >/home/alice/.ssh/known_hosts
        systemd-run -q --unit=selftest-jupyter --uid=alice --gid=alice -p WorkingDirectory=/home/alice \
            --setenv=HOME=/home/alice /opt/jupyter/bin/jupyter server
        systemd-run -q --unit=selftest-tunnel --uid=alice --gid=alice --setenv=HOME=/home/alice \
            -p Restart=always -p RestartSec=1 \
            /usr/bin/ssh -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 \
            -R :$port:localhost:$port tunnel@server.lab" <"$LAB_KNOWN_HOSTS"
    # Wait until the forward listens on the server's public address, then check as a user would.
    local i
    for i in $(seq 100); do tcp "$LAB_NS_LAPTOP" "$LAB_JUPYTER_NAME" $port 2>/dev/null && break; sleep 0.2; done
    for i in $(seq 100); do
        ctl_ssh alice@workstation.lab "curl -s -o /dev/null --resolve $LAB_JUPYTER_NAME:$port:127.0.0.1 -k https://$LAB_JUPYTER_NAME:$port/login" && break
        sleep 0.3
    done
    in_ns "$LAB_NS_LAPTOP" "$JPROV_TEST_PYTHON" "$HERE/laptop_check.py" --url "https://$LAB_JUPYTER_NAME:$port/" \
        --cafile "$DIR/acme-root.pem" --password mypassword
}
if [[ ${SELFTEST_TUNNEL:-1} == 1 ]]; then
    check tunnel-laptop-check "laptop_check through a hand-made reverse tunnel (https://$LAB_JUPYTER_NAME:8888/)" tunnel_by_hand
    [[ ${FAILED_NAMES[*]:-} == *tunnel-laptop-check* ]] || sed 's/^/     | /' "$DIR/logs/selftest/tunnel-laptop-check.log" | grep -E '^     \| (ok|laptop_check)'
fi

echo "selftest: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]] || { echo "selftest failed: ${FAILED_NAMES[*]}"; exit 1; }
