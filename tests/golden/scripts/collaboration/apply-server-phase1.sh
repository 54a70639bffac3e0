# jprov apply script for profile lab-together on the server. Runs with `sh -s` (possibly under sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=lab-together
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
apply_begin
# The lockout guard's fire program (host_lib.sh's guard_arm writes it into the guard's directory).
guard_write_fire() {
  cat <<'JPROV_GUARD_FIRE'
#!/bin/sh
# jprov lockout guard: restores what an unproven apply wrote to sshd's files, then reloads sshd.
set -eu
JPROV_ROOT=''
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
guard_fire "$@"
JPROV_GUARD_FIRE
}
# step 1: account
create_account jprov-tunnel /nonexistent /usr/sbin/nologin no
say_done 1
# step 2: files
group_begin ssh
backup /etc/ssh/sshd_config.d/01-jprov-lab-together.conf
guard_arm 60 /etc/ssh/sshd_config.d/01-jprov-lab-together.conf e01d9d725376d4c9ed62000065a584975e25b6f825dacfdaa46dc0386b03956a
put_file /etc/ssh/sshd_config.d/01-jprov-lab-together.conf 644 root root 755 "# Managed by jprov for profile lab-together; edits will be overwritten.
# Restricts the tunnel account jprov-tunnel to one remote forward on port 8888.
# Every setting lives inside the Match block: other accounts keep the main configuration.
# sshd keeps the first value it obtains for a keyword, and this file is included before the
# main configuration's own settings, so these values win for the tunnel account.
Match User jprov-tunnel
	AuthorizedKeysFile /etc/ssh/jprov/jprov-tunnel.keys
	AuthenticationMethods publickey
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	# Only "'`ssh -R`: no local forwards, no direct connections, no Unix sockets.
	AllowTcpForwarding remote
	AllowStreamLocalForwarding no
	PermitOpen none
	# `-R :8888:...` may bind all interfaces so users reach the port from outside.
	GatewayPorts clientspecified
	PermitListen 8888
	PermitTTY no
	X11Forwarding no
	AllowAgentForwarding no
	PermitUserRC no
	# A dead client otherwise holds the port and every reconnect fails.
	ClientAliveInterval 30
	ClientAliveCountMax 3
	# The tunnel runs `ssh -N`; any command request just fails.
	ForceCommand /bin/false

# The account the workstation fetches renewed certificates as. Its key'"'s forced command prints this
# profile's certificate bundle; nothing else: no forwarding of any kind, no TTY.
Match User jprov-cert
	AuthorizedKeysFile /etc/ssh/jprov/jprov-cert.keys
	AuthenticationMethods publickey
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	AllowTcpForwarding no
	AllowStreamLocalForwarding no
	PermitTunnel no
	PermitTTY no
	X11Forwarding no
	AllowAgentForwarding no
	PermitUserRC no
"
validate sshd ssh
reload ssh
say_guard_armed 60
say_done 2
# step 3: certificate
obtain_certificate certbot 022 '' -- certbot certonly --non-interactive --agree-tos --keep-until-expiring -m admin@example.org -d jupyter.example.org --standalone
say_done 3
# step 4: account
create_account jprov-cert /var/lib/jprov-cert /bin/sh no
say_done 4
# step 5: files
group_begin ''
backup /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together
put_file /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together 755 root root 755 '#!/bin/sh
# Managed by jprov for profile lab-together; edits will be overwritten.
# certbot runs every deploy hook after it renews any certificate; this one acts on jupyter.example.org only.
[ "${RENEWED_LINEAGE:-}" = /etc/letsencrypt/live/jupyter.example.org ] || exit 0
set -eu
# The bundle the workstation fetches as jprov-cert (whose key may only print it): certificate chain, then key.
umask 077
tmp=$(mktemp "$(dirname /var/lib/jprov-cert/lab-together/bundle.pem)/.bundle.XXXXXX")
cat "$RENEWED_LINEAGE/fullchain.pem" "$RENEWED_LINEAGE/privkey.pem" > "$tmp"
chown root:jprov-cert "$tmp"
chmod 640 "$tmp"
mv -f "$tmp" /var/lib/jprov-cert/lab-together/bundle.pem
'
say_done 5
check_started
say_finished
}
