#!/usr/bin/env bash
# Proves laptop_check.py itself: against a real jupyter_server on 127.0.0.1 (password,
# self-signed TLS, nothing in front) it must pass; behind an nginx proxy that drops the
# websocket upgrade headers it must fail at `execute`; behind nginx with HTTP basic auth it must
# pass with --basic-auth-file and fail without it or with a wrong password in it. Needs the test venv's Python
# (JPROV_TEST_PYTHON, made by tests/run.sh: jupyter_server, ipykernel, tornado) and nginx;
# either missing is a failure. No root needed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${JPROV_TEST_PYTHON:-}
[[ -n $PY ]] || { echo "laptop_check_local: JPROV_TEST_PYTHON is not set: it names the test venv's Python (bash tests/run.sh creates target/test-venv)" >&2; exit 1; }
"$PY" -c 'import jupyter_server, ipykernel, tornado' \
    || { echo "laptop_check_local: $PY lacks jupyter_server/ipykernel/tornado (bash tests/run.sh installs them)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "laptop_check_local: nginx not found (bash tests/run.sh installs it)" >&2; exit 1; }
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -noenc -days 2 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
JPORT=$(free_port)
mkdir -p "$T/cfg" "$T/nb" "$T/rt"
cat >"$T/cfg/jupyter_server_config.py" <<C
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = $JPORT
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.certfile = "$T/cert.pem"
c.ServerApp.keyfile = "$T/key.pem"
c.ServerApp.root_dir = "$T/nb"
c.PasswordIdentityProvider.hashed_password = "sha1:0e112c3ddfce:a68df677475c2b47b6e86d0467eec97ac5f4b85a"
c.PasswordIdentityProvider.password_required = True
c.PasswordIdentityProvider.allow_password_change = False
C
ROOTFLAG=(); [[ $(id -u) == 0 ]] && ROOTFLAG=(--allow-root)
JUPYTER_CONFIG_DIR=$T/cfg JUPYTER_RUNTIME_DIR=$T/rt "$PY" -m jupyter_server "${ROOTFLAG[@]}" >"$T/jupyter.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$T/jupyter.log"; exit 1; }; "$PY" - "$JPORT" <<'P' 2>/dev/null && break || sleep 0.2
import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
P
done

echo "== direct: https://localhost:$JPORT/ (must pass)"
"$PY" "$HERE/laptop_check.py" --url "https://localhost:$JPORT/" --cafile "$T/cert.pem" --password mypassword \
    || { cat "$T/jupyter.log"; exit 1; }

echo "== wrong CA (must fail at tls)"
openssl req -x509 -noenc -days 2 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=other \
    -keyout "$T/okey.pem" -out "$T/other.pem" 2>/dev/null
if out=$("$PY" "$HERE/laptop_check.py" --url "https://localhost:$JPORT/" --cafile "$T/other.pem" --password mypassword); then
    echo "$out"; echo "laptop_check passed with a wrong CA"; exit 1; fi
echo "$out"; grep -q '^FAIL tls' <<<"$out"

echo "== wrong password given as the right one (must fail at login)"
if out=$("$PY" "$HERE/laptop_check.py" --url "https://localhost:$JPORT/" --cafile "$T/cert.pem" --password nope); then
    echo "$out"; echo "laptop_check passed with a wrong password"; exit 1; fi
echo "$out"; grep -q '^FAIL login' <<<"$out"

PPORT=$(free_port)
APORT=$(free_port)
mkdir -p "$T/ngx/logs"
printf 'alice:%s\n' "$(printf '%s' local-basic-pw | openssl passwd -6 -stdin)" >"$T/ngx/htpasswd"
cat >"$T/ngx/nginx.conf" <<N
daemon off;
# One process: as root, workers would be nobody, who cannot read the htpasswd in $T.
master_process off;
pid $T/ngx/nginx.pid;
error_log $T/ngx/logs/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $T/ngx; proxy_temp_path $T/ngx; fastcgi_temp_path $T/ngx; uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
  server {
    listen 127.0.0.1:$PPORT ssl;
    ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    location / {
      # Broken on purpose: no proxy_http_version 1.1 / Upgrade / Connection headers.
      proxy_pass https://127.0.0.1:$JPORT;
      proxy_set_header Host \$http_host;
    }
  }
  server {
    listen 127.0.0.1:$APORT ssl;
    ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    location / {
      auth_basic "Jupyter";
      auth_basic_user_file $T/ngx/htpasswd;
      proxy_pass https://127.0.0.1:$JPORT;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host \$http_host;
      proxy_set_header Authorization "";
    }
  }
}
N
nginx -p "$T/ngx" -c "$T/ngx/nginx.conf" 2>/dev/null &
PIDS+=($!)
sleep 0.5
echo "== behind nginx without websocket headers: https://localhost:$PPORT/ (must fail at execute)"
if out=$("$PY" "$HERE/laptop_check.py" --url "https://localhost:$PPORT/" --cafile "$T/cert.pem" --password mypassword --timeout 10); then
    echo "$out"; echo "laptop_check passed through a proxy that breaks websockets"; exit 1; fi
echo "$out"; grep -q '^FAIL execute' <<<"$out"

printf 'alice:local-basic-pw\n' >"$T/basic-auth"
printf 'alice:not-the-basic-pw\n' >"$T/wrong-basic-auth"
echo "== behind nginx with basic auth, with --basic-auth-file: https://localhost:$APORT/ (must pass)"
"$PY" "$HERE/laptop_check.py" --url "https://localhost:$APORT/" --cafile "$T/cert.pem" --password mypassword \
    --basic-auth-file "$T/basic-auth" || { cat "$T/ngx/logs/error.log" "$T/jupyter.log"; exit 1; }
echo "== behind nginx with basic auth, without credentials (must fail at login: nginx answers 401)"
if out=$("$PY" "$HERE/laptop_check.py" --url "https://localhost:$APORT/" --cafile "$T/cert.pem" --password mypassword); then
    echo "$out"; echo "laptop_check passed basic auth without credentials"; exit 1; fi
echo "$out"; grep -q '^FAIL login: GET login answered 401' <<<"$out"
echo "== behind nginx with basic auth, a wrong basic-auth password (must fail at basic-auth)"
if out=$("$PY" "$HERE/laptop_check.py" --url "https://localhost:$APORT/" --cafile "$T/cert.pem" --password mypassword \
    --basic-auth-file "$T/wrong-basic-auth"); then
    echo "$out"; echo "laptop_check passed with a wrong basic-auth password"; exit 1; fi
echo "$out"; grep -q '^FAIL basic-auth' <<<"$out"
echo "laptop_check_local: 7 passed, 0 failed"
