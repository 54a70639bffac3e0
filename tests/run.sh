#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need, then runs them.
#   bash tests/run.sh            (as root: it installs packages, and the integration tests start real
#                                 sshd/nginx/systemd hosts)
# Installs: Debian packages (the build's gcc, pkg-config, libssl-dev; OpenSSH, nginx, certbot, pebble,
# debootstrap, systemd-nspawn, ...; Chromium, NSS's certutil and a font for the browser test) and a Python
# virtualenv with jupyter_server, ipykernel, JupyterLab 4 and jupyter-collaboration (with pycrdt) from PyPI
# (target/test-venv). Extra arguments go to `cargo test`.
# Everything a test needs is installed here, so nothing may be skipped: JPROV_TEST_REQUIRE_ALL=1 makes a
# test whose prerequisite is missing fail (tests/support/prereq.rs), and every test that runs Python runs
# JPROV_TEST_PYTHON, the venv's. Every test binary runs (--no-fail-fast): one failure hides no other.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "tests/run.sh: must run as root (it installs Debian packages; the integration tests need root)." >&2
  echo "  As another user, run a part by hand, e.g.: cargo test --test offline" >&2
  exit 1
fi

packages=(
  gcc pkg-config libssl-dev
  openssh-server openssh-client sudo nginx certbot pebble openssl curl ca-certificates
  debootstrap systemd systemd-container iproute2 util-linux procps iptables dash
  python3 python3-venv python3-pip
  chromium libnss3-tools fonts-dejavu-core
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "tests/run.sh: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

venv=target/test-venv
# tornado (a jupyter_server dependency) is what tests/lab/laptop_check.py imports; tests/collaboration.rs runs
# `jupyter lab` with jupyter-collaboration (jupyter_server_ydoc), and tests/lab/collab_check.py speaks its
# protocol with pycrdt. A venv without any of them (an older one) is made again.
imports='import jupyter_server, ipykernel, tornado, jupyterlab, jupyter_collaboration, jupyter_server_ydoc, pycrdt'
if ! "$venv/bin/python" -c "$imports" 2>/dev/null; then
  echo "tests/run.sh: creating $venv with jupyter_server, ipykernel, JupyterLab and jupyter-collaboration"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'jupyter_server>=2,<3' ipykernel \
    'jupyterlab>=4,<5' 'jupyter-collaboration>=4' pycrdt
  "$venv/bin/python" -c "$imports"
fi
export JPROV_TEST_PYTHON="$PWD/$venv/bin/python"
export JPROV_TEST_REQUIRE_ALL=1

cargo build --quiet --tests
cargo test --no-fail-fast "$@"
