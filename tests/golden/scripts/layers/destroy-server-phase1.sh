# jprov apply script for profile lab-layers on the server. Runs with `sh -s` (possibly under sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=lab-layers
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
backup /var/lib/jprov-tunnel/.ssh/known_hosts destroy
remove_path /var/lib/jprov-tunnel/.ssh/known_hosts
remove_dirs /var/lib/jprov-tunnel/.ssh /var/lib/jprov-tunnel
say_done 1
# step 2: remove files
group_begin nginx
backup /etc/nginx/jprov-lab-layers.htpasswd destroy
backup /etc/nginx/sites-available/jprov-lab-layers destroy
backup /etc/nginx/sites-enabled/jprov-lab-layers destroy
remove_path /etc/nginx/jprov-lab-layers.htpasswd
remove_path /etc/nginx/sites-available/jprov-lab-layers
remove_path /etc/nginx/sites-enabled/jprov-lab-layers
validate nginx nginx
reload nginx
say_done 2
# step 3: remove files
group_begin ''
backup /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-layers destroy
remove_path /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-layers
say_done 3
# step 4: remove files
group_begin systemd
backup /etc/systemd/system/jprov-lab-layers-tunnel.service destroy
remove_path /etc/systemd/system/jprov-lab-layers-tunnel.service
reload systemd
say_done 4
# step 5: remove key pair
remove_key /var/lib/jprov-tunnel/.ssh/id_ed25519
say_done 5
# step 6: remove files
group_begin ''
remove_dirs /var/lib/jprov-acme/lab-layers/.well-known/acme-challenge /var/lib/jprov-acme/lab-layers/.well-known /var/lib/jprov-acme/lab-layers /var/lib/jprov-acme
say_done 6
# step 7: remove account
remove_account jprov-tunnel yes ''
say_done 7
check_started
say_finished
}
