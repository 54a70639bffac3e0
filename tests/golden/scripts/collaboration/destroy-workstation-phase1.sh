# jprov apply script for profile lab-together on the workstation. Runs with `sh -s` (possibly under sudo -n).
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
backup /home/alice/.ssh/jprov-lab-together-known_hosts destroy
backup /home/alice/.jupyter/jupyter_server_config.py destroy
remove_path /home/alice/.ssh/jprov-lab-together-known_hosts
remove_path /home/alice/.jupyter/jupyter_server_config.py
say_done 1
# step 2: remove files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-together-tunnel.service destroy
backup /home/alice/.config/systemd/user/jprov-lab-together-jupyter.service destroy
backup /home/alice/.local/share/jprov/lab-together/fetch-certificate destroy
backup /home/alice/.config/systemd/user/jprov-lab-together-certificate.service destroy
backup /home/alice/.config/systemd/user/jprov-lab-together-certificate.timer destroy
remove_path /home/alice/.config/systemd/user/jprov-lab-together-tunnel.service
remove_path /home/alice/.config/systemd/user/jprov-lab-together-jupyter.service
remove_path /home/alice/.local/share/jprov/lab-together/fetch-certificate
remove_path /home/alice/.config/systemd/user/jprov-lab-together-certificate.service
remove_path /home/alice/.config/systemd/user/jprov-lab-together-certificate.timer
reload systemd-user
remove_dirs /home/alice/.local/share/jprov/lab-together /home/alice/.local/share/jprov
say_done 2
# step 3: remove files
group_begin ''
backup /home/alice/.local/share/jprov/lab-together/fullchain.pem destroy
backup /home/alice/.local/share/jprov/lab-together/privkey.pem destroy
remove_path /home/alice/.local/share/jprov/lab-together/fullchain.pem
remove_path /home/alice/.local/share/jprov/lab-together/privkey.pem
remove_dirs /home/alice/.local/share/jprov/lab-together /home/alice/.local/share/jprov
say_done 3
# step 4: remove key pair
remove_key /home/alice/.ssh/jprov-lab-together-tunnel
say_done 4
# step 5: remove key pair
remove_key /home/alice/.ssh/jprov-lab-together-certificate
say_done 5
check_started
say_finished
}
