# jprov apply script for profile lab-forward on the workstation. Runs with `sh -s` (possibly under sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=lab-forward
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
# step 1: lingering
enable_linger alice
say_done 1
# step 2: files
group_begin ''
backup /home/alice/.jupyter/jupyter_server_config.py
put_file /home/alice/.jupyter/jupyter_server_config.py 600 alice '' 700 "# Managed by jprov for profile lab-forward; edits will be overwritten.
# Method: local-forward. Users open http://localhost:8888/
c = get_config()  # noqa: F821

# Reachable only through an SSH local forward from the laptop (ssh -L).
c.ServerApp.ip = '127.0.0.1'
c.ServerApp.port = 8888
# Never drift to another port: the tunnel points at exactly this one.
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.base_url = '/'
c.ServerApp.custom_display_url = 'http://localhost:8888/'

# Password login only: no token, and the password cannot be replaced from the login page.
c.PasswordIdentityProvider.hashed_password = 'argon2:"'$argon2id$v=19$m=10240,t=10,p=8$Rp3kH1p6eCKLrNyBleOEbA$drpgx+YOuibLyXVXqUbaxj7ehrzWHEtPQkEtZHH361A'"'
c.PasswordIdentityProvider.password_required = True
c.PasswordIdentityProvider.allow_password_change = False
c.IdentityProvider.token = ''

# No real-time collaboration (jupyter.collaboration is off): JupyterLab opens no shared documents, even
# where the jupyter-collaboration package is installed.
c.YDocExtension.disable_rtc = True

# jupyter-collaboration's document websocket accepts any Origin, and its server side loads wherever the
# package is installed (disable_rtc only tells the browser): browsers send the login cookie to no request
# another site starts.
c.IdentityProvider.cookie_options = {'samesite': 'Lax'}

# Jupyter refuses Host headers naming other hosts (DNS rebinding guard). Accept only the names
# browsers use (any port), rather than disabling the check.
c.ServerApp.allow_remote_access = False
c.ServerApp.local_hostnames = ['localhost']
"
say_done 2
# step 3: files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-forward-jupyter.service
put_file /home/alice/.config/systemd/user/jprov-lab-forward-jupyter.service 644 alice '' 755 '# Managed by jprov for profile lab-forward; edits will be overwritten.
# Jupyter as the workstation user, reading ~/.jupyter/jupyter_server_config.py (written by jprov).
[Unit]
Description=Jupyter for jprov profile lab-forward
StartLimitIntervalSec=0

[Service]
WorkingDirectory=%h
ExecStart=jupyter lab
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
'
reload systemd-user
say_done 3
check_started
say_finished
}
