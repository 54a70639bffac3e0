#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need, then runs them.
#   bash tests/run.sh            (as root: the integration tests start real sshd/nginx/systemd hosts)
# Installs: Debian packages (OpenSSH, nginx, certbot, pebble, debootstrap, systemd-nspawn, ...) and a Python
# virtualenv with jupyter_server + ipykernel from PyPI (target/test-venv). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  openssh-server openssh-client sudo nginx certbot pebble openssl curl ca-certificates
  debootstrap systemd systemd-container iproute2 util-linux procps
  python3 python3-venv python3-pip pkg-config libssl-dev gcc
)
if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "tests/run.sh: not root: installing nothing; tests that need root will say they were skipped" >&2
fi

command -v cargo >/dev/null || { echo "tests/run.sh: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

venv=target/test-venv
if ! "$venv/bin/python" -c 'import jupyter_server, ipykernel' 2>/dev/null; then
  echo "tests/run.sh: creating $venv with jupyter_server and ipykernel"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'jupyter_server>=2,<3' ipykernel
fi
export JPROV_TEST_PYTHON="$PWD/$venv/bin/python"

cargo build --quiet --tests
cargo test "$@"
