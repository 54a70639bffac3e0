#!/usr/bin/env bash
# jprov end-to-end test lab: real booted Debian hosts (systemd-nspawn) in private
# network namespaces, a real ACME server (pebble), a laptop and a control namespace.
# See tests/lab/README.md. Must run as root.
set -euo pipefail

LAB_VERSION=1                       # bump to invalidate cached bases
# debootstrap does not resolve virtual packages: python3-cffi-backend provides the
# python3-cffi-backend-api-* that python3-cryptography (certbot) needs.
SUITE=bookworm
BASE_PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,openssh-client,nginx,certbot,iproute2,python3,python3-venv,sudo,procps,ca-certificates,openssl,curl,less,python3-cffi-backend
# The workstation's /opt/jupyter: JupyterLab with real-time collaboration (jupyter-collaboration brings
# pycrdt, what tests/lab/collab_check.py speaks the protocol with). The list is part of the base's key.
PY_PACKAGES="jupyter-server==2.21.1 ipykernel==7.4.0 jupyterlab==4.6.6 jupyter-collaboration==5.0.4"
CACHE_ROOT=${LAB_CACHE:-/var/cache/jprov-lab}
LAB=${LAB_NAME:-jl}                 # prefix of namespaces, veths and cgroups (one lab per prefix)
SUBNET=10.77.0
declare -A ADDR=([server]=$SUBNET.10 [workstation]=$SUBNET.20 [acme]=$SUBNET.30 [laptop]=$SUBNET.40 [lanlaptop]=$SUBNET.41 [ctl]=$SUBNET.50)
MACHINES="server workstation"
PLAIN="acme laptop lanlaptop ctl"
JUPYTER_NAME=jupyter.lab
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

# ---------------------------------------------------------------- deps ----
# Tools the lab needs on the machine (command -> Debian package); missing ones are installed.
declare -A DEPS=([debootstrap]=debootstrap [systemd-nspawn]=systemd-container [pebble]=pebble
    [ssh]=openssh-client [ssh-keygen]=openssh-client [ip]=iproute2 [openssl]=openssl [curl]=curl
    [nsenter]=util-linux [setsid]=util-linux [flock]=util-linux)
ensure_deps() {
    local c missing=()
    for c in "${!DEPS[@]}"; do command -v "$c" >/dev/null || missing+=("${DEPS[$c]}"); done
    if ((${#missing[@]})); then
        log "installing missing tools: ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
}

# ---------------------------------------------------------------- base ----
mirror() {
    if [[ -n ${LAB_MIRROR:-} ]]; then echo "$LAB_MIRROR"; return; fi
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
    [[ -n $m ]] || m=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

build_base() { # $1 = temp dir to fill: rootfs/ and wheels/
    local t=$1
    mkdir -p "$t/wheels"
    log "downloading wheels for cp311: $PY_PACKAGES"
    python3 -m pip download -q --no-cache-dir -d "$t/wheels" --only-binary=:all: \
        --python-version 3.11 --implementation cp --abi cp311 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 --platform any \
        $PY_PACKAGES
    log "debootstrap $SUITE from $(mirror)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$t/rootfs" "$(mirror)" \
        >"$t/debootstrap.log" 2>&1 || { tail -30 "$t/debootstrap.log" >&2; die "debootstrap failed"; }
    local r=$t/rootfs
    # The Jupyter venv for the workstation user, built on the container's python.
    mkdir -p "$r/tmp/wheels"
    mount --bind "$t/wheels" "$r/tmp/wheels"
    mount -t proc proc "$r/proc"
    mount --bind /dev "$r/dev"
    local rc=0
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        /bin/sh -ec 'python3 -m venv /opt/jupyter
        /opt/jupyter/bin/pip install -q --no-index --find-links /tmp/wheels '"$PY_PACKAGES"'
        /opt/jupyter/bin/jupyter server --version
        /opt/jupyter/bin/jupyter lab --version
        /opt/jupyter/bin/python -c "import jupyter_server_ydoc, pycrdt"' >"$t/venv.log" 2>&1 || rc=$?
    umount "$r/dev" "$r/proc" "$r/tmp/wheels"
    [[ $rc == 0 ]] || { cat "$t/venv.log" >&2; die "venv build failed"; }
    rmdir "$r/tmp/wheels"
    # Per-host identity is made at `up`: no host keys, empty machine-id in the base.
    rm -f "$r"/etc/ssh/ssh_host_*
    : >"$r/etc/machine-id"
    rm -f "$r/var/lib/dbus/machine-id"
    # No real DNS inside the lab: names come from /etc/hosts.
    rm -f "$r/etc/resolv.conf"; echo "nameserver 127.0.0.1" >"$r/etc/resolv.conf"
    # Quiet, fast boots: nothing that waits for hardware or the network.
    ln -sf /dev/null "$r/etc/systemd/system/systemd-networkd-wait-online.service"
    ln -sf /dev/null "$r/etc/systemd/system/getty@tty1.service"
    ln -sf /dev/null "$r/etc/systemd/system/console-getty.service"
    rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"*
    echo "$LAB_VERSION" >"$r/etc/jprov-lab-base"
}

base_key() {
    { echo "$LAB_VERSION $SUITE $BASE_PACKAGES $PY_PACKAGES"; declare -f build_base; } | sha256sum | cut -c1-16
}

cmd_base() {
    need_root
    ensure_deps
    local key dir
    key=$(base_key); dir=$CACHE_ROOT/$key
    if [[ -f $dir/complete ]]; then log "base cached: $dir"; echo "$dir"; return; fi
    mkdir -p "$CACHE_ROOT"
    # One build at a time; under the lock, any .build-* left is from a killed build.
    exec 9>"$CACHE_ROOT/.lock"
    flock 9
    if [[ -f $dir/complete ]]; then log "base cached: $dir"; echo "$dir"; exec 9>&-; return; fi
    local old
    for old in "$CACHE_ROOT"/.build-*; do
        [[ -e $old ]] || continue
        log "removing half-built $old"
        awk '{print $2}' /proc/mounts | grep "^$old/" | sort -r | xargs -r -n1 umount -l || true
        rm -rf --one-file-system "$old"
    done
    local t; t=$(mktemp -d "$CACHE_ROOT/.build-$key.XXXXXX")
    local start=$SECONDS
    build_base "$t"
    date -u +%FT%TZ >"$t/complete"
    rm -rf "$dir"   # a leftover without `complete` (cannot happen via rename, but be safe)
    mv -T "$t" "$dir"
    exec 9>&-
    log "base built in $((SECONDS - start)) s: $dir"
    echo "$dir"
}

# ----------------------------------------------------------- helpers ----
ns() { echo "$LAB-$1"; }
nsx() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }   # gets /etc/netns/NAME/hosts
is_machine() { [[ " $MACHINES " == *" $1 "* ]]; }
cg_dirs() { # the machine's own cgroups: hybrid hosts (this machine, CI) have both v1 name=systemd
    # and v2 at unified/; a pure v2 host (untested) has v2 at the root.
    local h=$1 d found=0
    for d in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
        [[ -d $d ]] && { echo "$d/$LAB-lab-$h"; found=1; }
    done
    if [[ $found == 0 && -f /sys/fs/cgroup/cgroup.controllers ]]; then echo "/sys/fs/cgroup/$LAB-lab-$h"; fi
}

hosts_file() {
    cat <<H
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
${ADDR[server]} server.lab server
${ADDR[server]} $JUPYTER_NAME
${ADDR[workstation]} workstation.lab workstation
${ADDR[acme]} acme.lab acme
${ADDR[laptop]} laptop.lab laptop
${ADDR[lanlaptop]} lanlaptop.lab lanlaptop
${ADDR[ctl]} ctl.lab ctl
H
}

# Init PID of a booted machine: the process in its cgroup tree that is PID 1 in its own namespace.
find_init() {
    local h=$1 cg p
    cg=$(cg_dirs "$h" | head -1)
    [[ -d $cg ]] || return 1
    for p in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do
        if grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null &&
           [[ $(awk '/^NSpid:/{print NF}' "/proc/$p/status") -gt 2 ]]; then echo "$p"; return 0; fi
    done
    return 1
}

wait_for() { # SECONDS DESCRIPTION CMD... : poll CMD every 0.2 s
    local limit=$1 what=$2 t0=$SECONDS; shift 2
    until "$@" >/dev/null 2>&1; do
        (( SECONDS - t0 < limit )) || die "timeout ($limit s) waiting for $what"
        sleep 0.2
    done
}
tcp_open() { nsx ctl timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2"; }
ssh_banner() { nsx ctl timeout 3 bash -c "exec 3<>/dev/tcp/$1/22; head -c 4 <&3 | grep -q SSH-"; }
system_up() {
    local s; s=$(nsenter -t "$1" -a systemctl is-system-running 2>/dev/null || true)
    [[ $s == running || $s == degraded ]]
}

lab_dir_of() { # the DIR of the running lab, for `exec`
    if [[ -n ${LAB_DIR:-} ]]; then echo "$LAB_DIR"; return; fi
    [[ -f /run/jprov-lab/$LAB ]] || die "no running lab '$LAB' (set LAB_DIR or run up)"
    cat "/run/jprov-lab/$LAB"
}

# ------------------------------------------------------------------ up ----
make_acme_certs() { # listener CA + cert for acme.lab
    local a=$1
    openssl req -x509 -noenc -days 30 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=jprov lab pebble listener CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$a/ca.key" -out "$a/ca.pem" 2>/dev/null
    openssl req -new -noenc -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=acme.lab \
        -keyout "$a/key.pem" -out "$a/cert.csr" 2>/dev/null
    openssl x509 -req -in "$a/cert.csr" -CA "$a/ca.pem" -CAkey "$a/ca.key" -CAcreateserial -days 30 \
        -extfile <(printf 'subjectAltName=DNS:acme.lab,DNS:localhost,IP:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "${ADDR[acme]}") \
        -out "$a/cert.pem" 2>/dev/null
    cat >"$a/pebble.json" <<J
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "$a/cert.pem", "privateKey": "$a/key.pem",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
J
}

prepare_root() { # HOST ROOT DIR
    local h=$1 r=$2 dir=$3 pub
    pub=$(cat "$dir/keys/admin.pub")
    echo "$h" >"$r/etc/hostname"
    { hosts_file; echo "127.0.1.1 $h.lab $h"; } >"$r/etc/hosts"
    ssh-keygen -q -A -f "$r"
    install -d -m 700 "$r/root/.ssh"; echo "$pub" >"$r/root/.ssh/authorized_keys"
    mkdir -p "$r/etc/jprov-lab"
    cp "$dir/acme/ca.pem" "$r/etc/jprov-lab/pebble-ca.pem"
    # The ACME server's listener CA is trusted system-wide, like a real CA would be
    # (certbot on Debian uses /etc/ssl/certs/ca-certificates.crt).
    cp "$dir/acme/ca.pem" "$r/usr/local/share/ca-certificates/jprov-lab-pebble.crt"
    cat "$dir/acme/ca.pem" >>"$r/etc/ssl/certs/ca-certificates.crt"
    local u
    case $h in
        server) u=admin
            echo "admin ALL=(ALL) NOPASSWD: ALL" >"$r/etc/sudoers.d/jprov-lab-admin"
            chmod 440 "$r/etc/sudoers.d/jprov-lab-admin" ;;
        workstation) u=alice ;;
    esac
    chroot "$r" useradd -m -s /bin/bash "$u"
    install -d -m 700 "$r/home/$u/.ssh"
    echo "$pub" >"$r/home/$u/.ssh/authorized_keys"
    chroot "$r" chown -R "$u:$u" "/home/$u/.ssh"
}

start_machine() { # HOST DIR BASE
    local h=$1 dir=$2 base=$3 d=$2/machines/$1 extra=()
    mkdir -p "$d/upper" "$d/work" "$d/root"
    mount -t overlay "overlay-$LAB-$h" -o "lowerdir=$base/rootfs,upperdir=$d/upper,workdir=$d/work" "$d/root"
    prepare_root "$h" "$d/root" "$dir"
    [[ $h == workstation ]] && extra+=(--bind-ro="$base/wheels:/opt/lab-wheels")
    (
        # Own cgroup per machine: nspawn --keep-unit puts the payload under the caller's cgroup.
        for c in $(cg_dirs "$h"); do mkdir -p "$c"; echo "$BASHPID" >"$c/cgroup.procs"; done
        exec setsid systemd-nspawn -q -D "$d/root" -M "$LAB-$h" --hostname="$h" --boot \
            --register=no --keep-unit --network-namespace-path="/run/netns/$(ns "$h")" \
            --resolv-conf=off --timezone=off --link-journal=no "${extra[@]}" \
            </dev/null >"$dir/logs/$h.log" 2>&1
    ) &
    echo $! >"$dir/pids/$h.nspawn"
}

cmd_up() {
    need_root
    [[ $# == 1 ]] || die "usage: lab.sh up DIR"
    mkdir -p "$1"; local dir; dir=$(cd "$1" && pwd)
    ip netns list | grep -q "^$(ns br)\b" && die "lab '$LAB' already exists (lab.sh down DIR, or another LAB_NAME)"
    local base t0=$SECONDS
    base=$(cmd_base)
    mkdir -p "$dir/logs" "$dir/pids" "$dir/keys" "$dir/acme"
    echo "$LAB" >"$dir/lab-name"
    mkdir -p /run/jprov-lab; echo "$dir" >"/run/jprov-lab/$LAB"
    # Any failure (error, die, timeout, signal) tears the half-built lab down again.
    UP_DIR=$dir UP_OK=0
    trap 'up_exit' EXIT
    trap 'exit 130' INT TERM HUP

    rm -f "$dir/keys/admin" "$dir/keys/admin.pub"
    ssh-keygen -q -t ed25519 -N '' -C jprov-lab-admin -f "$dir/keys/admin"
    make_acme_certs "$dir/acme"
    hosts_file >"$dir/hosts"

    # Network: a bridge in its own namespace, one veth per host.
    ip netns add "$(ns br)"
    ip -n "$(ns br)" link set lo up
    ip -n "$(ns br)" link add br0 type bridge
    ip -n "$(ns br)" link set br0 up
    local h
    for h in $MACHINES $PLAIN; do
        ip netns add "$(ns "$h")"
        mkdir -p "/etc/netns/$(ns "$h")"
        cp "$dir/hosts" "/etc/netns/$(ns "$h")/hosts"
        echo "nameserver 127.0.0.1" >"/etc/netns/$(ns "$h")/resolv.conf"
        ip netns exec "$(ns "$h")" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n "$(ns br)" link add "$h" type veth peer name eth0 netns "$(ns "$h")"
        ip -n "$(ns br)" link set "$h" master br0 up
        ip -n "$(ns "$h")" link set lo up
        ip -n "$(ns "$h")" link set eth0 up
        if [[ $h == laptop ]]; then   # the laptop reaches the server, and nothing else
            ip -n "$(ns "$h")" addr add "${ADDR[$h]}/32" dev eth0
            ip -n "$(ns "$h")" route add "${ADDR[server]}/32" dev eth0
        elif [[ $h == lanlaptop ]]; then   # a laptop on the workstation's LAN: it reaches only the workstation
            ip -n "$(ns "$h")" addr add "${ADDR[$h]}/32" dev eth0
            ip -n "$(ns "$h")" route add "${ADDR[workstation]}/32" dev eth0
        else
            ip -n "$(ns "$h")" addr add "${ADDR[$h]}/24" dev eth0
        fi
    done

    # ACME server.
    ( exec setsid ip netns exec "$(ns acme)" env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
        pebble -config "$dir/acme/pebble.json" </dev/null >"$dir/logs/pebble.log" 2>&1 ) &
    echo $! >"$dir/pids/pebble"

    for h in $MACHINES; do start_machine "$h" "$dir" "$base"; done
    local pid
    for h in $MACHINES; do
        wait_for 30 "init of $h" find_init "$h"
        pid=$(find_init "$h"); echo "$pid" >"$dir/pids/$h.init"
    done
    for h in $MACHINES; do
        wait_for 90 "systemd on $h" system_up "$(cat "$dir/pids/$h.init")"
        wait_for 30 "sshd on $h" ssh_banner "${ADDR[$h]}"
    done
    wait_for 30 "nginx on server" tcp_open "${ADDR[server]}" 80
    wait_for 30 "pebble" tcp_open "${ADDR[acme]}" 14000

    : >"$dir/known_hosts"
    for h in $MACHINES; do
        for k in "$dir/machines/$h/root/etc/ssh/"ssh_host_*_key.pub; do
            echo "$h.lab,${ADDR[$h]} $(cut -d' ' -f1,2 "$k")" >>"$dir/known_hosts"
        done
    done
    write_env "$dir" "$base"
    UP_OK=1
    log "lab '$LAB' up in $((SECONDS - t0)) s; source $dir/env"
}

up_exit() {
    local rc=$?
    if [[ $UP_OK != 1 ]]; then
        log "up failed (exit $rc); tearing down (logs stay in $UP_DIR/logs)"
        [[ ${LAB_KEEP_FAILED:-0} == 1 ]] || cmd_down "$UP_DIR" || true
    fi
}

write_env() {
    local dir=$1 base=$2 h
    {
        echo "# jprov lab state; source me"
        echo "LAB_NAME=$LAB"
        echo "LAB_DIR=$dir"
        echo "LAB_SH=$HERE/lab.sh"
        echo "LAB_BASE=$base"
        for h in $MACHINES $PLAIN; do
            echo "LAB_NS_${h^^}=$(ns "$h")"
            echo "LAB_ADDR_${h^^}=${ADDR[$h]}"
        done
        for h in $MACHINES; do
            echo "LAB_PID_${h^^}=$(cat "$dir/pids/$h.init")"
            echo "LAB_NSPAWN_PID_${h^^}=$(cat "$dir/pids/$h.nspawn")"
            echo "LAB_ROOT_${h^^}=$dir/machines/$h/root"
        done
        echo "LAB_PID_PEBBLE=$(cat "$dir/pids/pebble")"
        echo "LAB_SERVER_NAME=server.lab"
        echo "LAB_WORKSTATION_NAME=workstation.lab"
        echo "LAB_JUPYTER_NAME=$JUPYTER_NAME"
        echo "LAB_SSH_KEY=$dir/keys/admin"
        echo "LAB_KNOWN_HOSTS=$dir/known_hosts"
        echo "LAB_SERVER_USERS='root admin'   # admin: passwordless sudo"
        echo "LAB_WORKSTATION_USERS='root alice'"
        echo "LAB_JUPYTER_VENV=/opt/jupyter   # on the workstation: /opt/jupyter/bin/jupyter"
        echo "LAB_WHEELS=/opt/lab-wheels      # on the workstation, read-only"
        echo "LAB_ACME_DIRECTORY=https://acme.lab:14000/dir"
        echo "LAB_ACME_ROOTS=https://acme.lab:15000/roots/0"
        echo "LAB_ACME_LISTENER_CA=$dir/acme/ca.pem"
        echo "LAB_ACME_LISTENER_CA_IN_SERVER=/etc/jprov-lab/pebble-ca.pem   # REQUESTS_CA_BUNDLE=this for certbot (also in the server's system store)"
        echo "LAB_HOSTS_FILE=$dir/hosts"
    } >"$dir/env"
}

# ---------------------------------------------------------------- down ----
pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

cmd_down() {
    need_root
    [[ $# == 1 ]] || die "usage: lab.sh down DIR"
    local dir=$1 h p c
    # Only what this DIR's `up` created: without DIR/lab-name it created nothing.
    [[ -f $dir/lab-name ]] || { log "no lab in $dir: nothing to do"; return 0; }
    LAB=$(cat "$dir/lab-name")
    # SIGTERM to nspawn = clean poweroff of the container; all at once, then wait.
    local pids=() n=100
    for p in $MACHINES pebble; do
        p=$(cat "$dir/pids/$p.nspawn" 2>/dev/null || cat "$dir/pids/$p" 2>/dev/null || true)
        pid_alive "$p" && { kill -TERM "$p" 2>/dev/null || true; pids+=("$p"); }
    done
    for p in "${pids[@]}"; do
        while pid_alive "$p" && (( n-- > 0 )); do sleep 0.1; done
        pid_alive "$p" && kill -KILL "$p" 2>/dev/null || true
    done
    for h in $MACHINES; do   # whatever is left in the machines' cgroups
        for c in $(cg_dirs "$h"); do
            [[ -d $c ]] || continue
            for p in $(find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        done
        for c in $(cg_dirs "$h"); do
            [[ -d $c ]] || continue
            local i; for i in 1 2 3 4 5 6 7 8 9 10; do
                find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
                [[ -d $c ]] || break; sleep 0.2
            done
        done
    done
    for h in $MACHINES $PLAIN br; do   # anything else still running in our namespaces
        for p in $(ip netns pids "$(ns "$h")" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    done
    for h in $MACHINES; do
        local r=$dir/machines/$h/root
        if mountpoint -q "$r" 2>/dev/null; then umount "$r" 2>/dev/null || umount -l "$r"; fi
    done
    for h in $MACHINES $PLAIN br; do
        ip netns del "$(ns "$h")" 2>/dev/null || true
        rm -rf "/etc/netns/$(ns "$h")"
    done
    rm -f "$dir/pids/"* "/run/jprov-lab/$LAB" 2>/dev/null || true
    log "lab '$LAB' down"
}

# ---------------------------------------------------------------- exec ----
cmd_exec() {
    need_root
    [[ $# -ge 2 ]] || die "usage: lab.sh exec HOST CMD..."
    local h=$1; shift
    if is_machine "$h"; then
        local dir pid; dir=$(lab_dir_of); pid=$(cat "$dir/pids/$h.init")
        exec nsenter -t "$pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
    elif [[ " $PLAIN " == *" $h "* ]]; then
        exec ip netns exec "$(ns "$h")" "$@"
    else die "unknown host '$h' (server workstation acme laptop lanlaptop ctl)"; fi
}

cmd_acme_root() {
    need_root
    [[ $# == 1 ]] || die "usage: lab.sh acme-root DIR"
    local dir=$1
    nsx ctl curl -fsS --cacert "$dir/acme/ca.pem" -o "$dir/acme-root.pem.tmp" "https://acme.lab:15000/roots/0"
    mv -f "$dir/acme-root.pem.tmp" "$dir/acme-root.pem"
    echo "$dir/acme-root.pem"
}

# ---------------------------------------------------------------- main ----
usage() {
    cat <<'U'
usage: lab.sh deps                 install missing machine tools (apt-get)
       lab.sh base                 build or reuse the cached base rootfs, print its path
       lab.sh up DIR               start the lab, state in DIR (DIR/env)
       lab.sh down DIR             stop it (idempotent)
       lab.sh exec HOST CMD...     run CMD in server|workstation (nsenter) or acme|laptop|lanlaptop|ctl (netns)
       lab.sh acme-root DIR        fetch pebble's current root into DIR/acme-root.pem
       lab.sh selftest DIR         check a lab that is up (see selftest.sh)
U
}
main() {
    local c=${1:-}; shift || true
    case $c in
        base) cmd_base "$@" ;;
        deps) need_root; ensure_deps ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        exec) cmd_exec "$@" ;;
        acme-root) cmd_acme_root "$@" ;;
        selftest) exec "$HERE/selftest.sh" "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}
main "$@"
