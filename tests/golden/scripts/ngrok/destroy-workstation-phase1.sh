# jprov apply script for profile lab-ngrok on the workstation. Runs with `sh -s` (possibly under sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=lab-ngrok
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
backup /home/alice/.jupyter/jupyter_server_config.py destroy
backup /home/alice/.local/share/jprov/lab-ngrok/ngrok.yml destroy
backup /home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config destroy
remove_path /home/alice/.jupyter/jupyter_server_config.py
remove_path /home/alice/.local/share/jprov/lab-ngrok/ngrok.yml
remove_path /home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config
remove_dirs /home/alice/.local/share/jprov/lab-ngrok /home/alice/.local/share/jprov
say_done 1
# step 2: remove files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-ngrok-jupyter.service destroy
backup /home/alice/.config/systemd/user/jprov-lab-ngrok-ngrok.service destroy
remove_path /home/alice/.config/systemd/user/jprov-lab-ngrok-jupyter.service
remove_path /home/alice/.config/systemd/user/jprov-lab-ngrok-ngrok.service
reload systemd-user
say_done 2
check_started
say_finished
}
