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
# step 1: remove files
group_begin ''
backup /etc/ssh/jprov/jprov-tunnel.keys destroy
remove_path /etc/ssh/jprov/jprov-tunnel.keys
remove_dirs /etc/ssh/jprov
say_done 1
# step 2: remove files
group_begin ssh
backup /etc/ssh/sshd_config.d/01-jprov-lab-together.conf destroy
guard_arm 60 /etc/ssh/sshd_config.d/01-jprov-lab-together.conf absent
remove_path /etc/ssh/sshd_config.d/01-jprov-lab-together.conf
validate sshd ssh
reload ssh
say_guard_armed 60
say_done 2
# step 3: remove files
group_begin ''
backup /etc/ssh/jprov/jprov-cert.keys destroy
backup /var/lib/jprov-cert/lab-together/bundle.pem destroy
backup /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together destroy
put_file /etc/ssh/jprov/jprov-cert.keys 644 root root 700 'ssh-ed25519 AAAAusers-own user@laptop
'
remove_path /var/lib/jprov-cert/lab-together/bundle.pem
remove_path /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together
remove_dirs /var/lib/jprov-cert/lab-together /var/lib/jprov-cert
say_done 3
# step 4: remove account
remove_account jprov-tunnel no ''
say_done 4
# step 5: remove account
remove_account jprov-cert no /etc/ssh/jprov/jprov-cert.keys
say_done 5
check_started
say_finished
}
