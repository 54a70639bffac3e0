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
# step 1: lingering
enable_linger alice
say_done 1
# step 2: files
group_begin ''
backup /home/alice/.jupyter/jupyter_server_config.py
backup /home/alice/.local/share/jprov/lab-ngrok/ngrok.yml
backup /home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config
put_file /home/alice/.jupyter/jupyter_server_config.py 600 alice '' 700 "# Managed by jprov for profile lab-ngrok; edits will be overwritten.
# Method: ngrok. Users open https://jupyter-lab.ngrok.app/
c = get_config()  # noqa: F821

# Reachable only through the ngrok agent on this workstation (ngrok terminates TLS).
c.ServerApp.ip = '127.0.0.1'
c.ServerApp.port = 8888
# Never drift to another port: the tunnel points at exactly this one.
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.base_url = '/'
c.ServerApp.custom_display_url = 'https://jupyter-lab.ngrok.app/'

# Password login only: no token, and the password cannot be replaced from the login page.
c.PasswordIdentityProvider.hashed_password = 'argon2:"'$argon2id$v=19$m=10240,t=10,p=8$jAEs3yo8nBVXab5gAlTyuA$LLgrk7LxL3ItMl007mMYqQy1DFbZ5jAw8soX7Cg7MaQ'"'
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
c.ServerApp.local_hostnames = ['jupyter-lab.ngrok.app']

# ngrok terminates TLS and passes the client address and scheme in X-Forwarded-For / X-Forwarded-Proto
# (its policy removes X-Real-Ip and X-Scheme, which tornado would prefer, from what clients send).
c.ServerApp.trust_xheaders = True

# Browsers reach Jupyter over TLS only, so its cookies are never to travel without it (Secure); the login
# cookie stays out of scripts' reach (HttpOnly, Jupyter's default). Jupyter marks the login cookie Secure by
# itself only on requests it sees as https (behind nginx, through X-Scheme), and the _xsrf cookie never:
# both are set here. _xsrf stays readable by scripts: JupyterLab sends it back in a header.
c.IdentityProvider.secure_cookie = True
c.ServerApp.tornado_settings = {\"xsrf_cookie_kwargs\": {\"path\": '/', \"secure\": True}}
"
put_file /home/alice/.local/share/jprov/lab-ngrok/ngrok.yml 600 alice '' 700 "# Managed by jprov for profile lab-ngrok; edits will be overwritten.
# The ngrok agent's configuration (version 3): one endpoint, forwarded to Jupyter on the workstation's
# loopback. No secret is in this file. The agent's service reads NGROK_AUTHTOKEN from
#   /home/alice/.config/jprov/ngrok-authtoken
# and before the agent starts,
#   /home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config
# copies this file into the service's runtime directory with the "'`credentials:` line below filled in
# from
#   /home/alice/.config/jprov/ngrok-basic-auth
# The agent reads that copy.
version: 3
agent:
  # An unattended service: no terminal UI, logs to the journal, no updates behind jprov'"'s back, and no
  # remote stop or restart from the dashboard.
  console_ui: false
  log: stdout
  log_format: logfmt
  update_check: false
  remote_management: false
  # No local inspection: its web UI (127.0.0.1:4040 by default) would show every request, login forms
  # included, to every account on the workstation.
  web_addr: false
  inspect_db_size: -1
endpoints:
  - name: jprov-lab-ngrok
    description: Jupyter (jprov profile lab-ngrok)
    # https only: an endpoint has one scheme, and no http:// endpoint is defined for this name.
    url: https://jupyter-lab.ngrok.app
    upstream:
      url: http://127.0.0.1:8888
      protocol: http1
    traffic_policy:
      on_http_request:
        # Anyone else gets 403 before anything else runs. ngrok checks the TCP source address, never
        # X-Forwarded-For.
        - actions:
            - type: restrict-ips
              config:
                enforce: true
                allow:
                  - \"203.0.113.0/24\"
                  - \"2001:db8::/32\"
        # Without the right user:password, 401; Jupyter's own password login comes after this.
        - actions:
            - type: basic-auth
              config:
                realm: jprov-lab-ngrok
                enforce: true
                credentials: []  # jprov: filled in from ngrok.basic_auth_file when the agent starts
        # Jupyter trusts the proxy's X-headers (trust_xheaders) for the client's address and scheme. ngrok
        # sets X-Forwarded-For and X-Forwarded-Proto; tornado prefers X-Real-Ip and X-Scheme, which a
        # client could send: they never reach Jupyter.
        - actions:
            - type: remove-headers
              config:
                headers: [x-real-ip, x-scheme]
"
put_file /home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config 700 alice '' 700 '#!/bin/sh
# Managed by jprov for profile lab-ngrok; edits will be overwritten.
# Run by jprov-lab-ngrok-ngrok.service before the agent starts (ExecStartPre). Writes the configuration the
# agent reads to the file $1 names (in the service'"'s runtime directory): jprov's
#   /home/alice/.local/share/jprov/lab-ngrok/ngrok.yml
# with its basic-auth "'`credentials:` line filled in from
#   /home/alice/.config/jprov/ngrok-basic-auth
# ngrok'"'s policy takes plaintext credentials, so they are only ever on the workstation: in that file
# (yours, mode 0600) and in the runtime copy (0600, on the user's tmpfs, removed when the agent stops).
# The credentials go through shell builtins only, never a command's arguments, which any account on the
# workstation could read in /proc.
set -eu
umask 077
export LC_ALL=C
if [ "'$# -ne 1 ]; then echo "usage: $0 OUTPUT-FILE" >&2; exit 2; fi
out=$1
config=/home/alice/.local/share/jprov/lab-ngrok/ngrok.yml
credentials=/home/alice/.config/jprov/ngrok-basic-auth
fail() { echo "$credentials: $*" >&2; exit 1; }
if [ ! -f "$credentials" ] || [ ! -r "$credentials" ]; then
  fail "missing or not readable: put one user:password line per person in it, mode 0600"
fi
case $(stat -L -c %a "$credentials") in
  *00) ;;
  *) fail "other accounts may read or change it: chmod 600 it" ;;
esac
# Each line as a YAML single-quoted scalar: '"' doubled, nothing else special.
quoted() {
  rest="'$1 q=
  while :; do
    case $rest in
      *'"\\'*) q=\""'$q${rest%%'"\\'*}''\"; rest="'${rest#*'"\\'} ;;
      *) q=\""'$q$rest"; break ;;
    esac
  done
  printf "'"'%s'\\n\" \""'$q"
}
items= n=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  case $line in '"'' | '#'*) continue ;; esac
  case "'$line in *[!'"\\ -~]*) fail \"line "'$n: only printable ASCII characters (no tabs, no Windows line endings)" ;; esac
  case $line in *:*) ;; *) fail "line $n: not user:password" ;; esac
  user=${line%%:*} password=${line#*:}
  if [ -z "$user" ]; then fail "line $n: the user name is empty"; fi
  # ngrok'"'s limits (its basic-auth action): a password of 8 to 128 characters.
  if [ "'${#password} -lt 8 ] || [ ${#password} -gt 128 ]; then
    fail "line $n: ngrok needs a password of 8 to 128 characters"
  fi
  items="$items$(quoted "$line")
"
done < "$credentials"
if [ -z "$items" ]; then fail "no user:password line"; fi
tmp=$(mktemp "$out.XXXXXX")
trap '"'rm -f \""'$tmp"'"' EXIT
found=0
while IFS= read -r line; do
  case "'$line in
    *'"'credentials: []  # jprov: filled in from ngrok.basic_auth_file when the agent starts')
      indent="'${line%%credentials:*}
      printf '"'%scredentials:\\n' \""'$indent"
      printf '"'%s' \""'$items" | while IFS= read -r item; do printf '"'%s  - %s\\n' \""'$indent" "$item"; done
      found=1
      ;;
    *) printf '"'%s\\n' \""'$line" ;;
  esac
done < "$config" > "$tmp"
if [ "$found" != 1 ]; then echo "$config: no basic-auth credentials line to fill in" >&2; exit 1; fi
mv -f "$tmp" "$out"
trap - EXIT
'
say_done 2
# step 3: files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-ngrok-jupyter.service
backup /home/alice/.config/systemd/user/jprov-lab-ngrok-ngrok.service
put_file /home/alice/.config/systemd/user/jprov-lab-ngrok-jupyter.service 644 alice '' 755 '# Managed by jprov for profile lab-ngrok; edits will be overwritten.
# Jupyter as the workstation user, reading ~/.jupyter/jupyter_server_config.py (written by jprov).
[Unit]
Description=Jupyter for jprov profile lab-ngrok
StartLimitIntervalSec=0

[Service]
WorkingDirectory=%h
ExecStart=jupyter lab
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
'
put_file /home/alice/.config/systemd/user/jprov-lab-ngrok-ngrok.service 644 alice '' 755 "# Managed by jprov for profile lab-ngrok; edits will be overwritten.
# The ngrok agent as the workstation user: https://jupyter-lab.ngrok.app for Jupyter, kept up by systemd.
[Unit]
Description=ngrok agent for Jupyter (jprov profile lab-ngrok)
After=jprov-lab-ngrok-jupyter.service
# Never give up: by default systemd stops restarting a unit after 5 failures in 10 s.
StartLimitIntervalSec=0

[Service]
WorkingDirectory=%h
# NGROK_AUTHTOKEN=...: the agent takes its authtoken from the environment, so it is in no file jprov writes.
EnvironmentFile=/home/alice/.config/jprov/ngrok-authtoken
# The configuration with the basic-auth credentials, assembled at every start in the runtime directory
# (%t is the user's tmpfs; systemd makes the directory 0700 and removes it when the agent stops).
RuntimeDirectory=jprov-lab-ngrok-ngrok
RuntimeDirectoryMode=0700
ExecStartPre=/home/alice/.local/share/jprov/lab-ngrok/assemble-ngrok-config %t/jprov-lab-ngrok-ngrok/ngrok.yml
ExecStart=ngrok start --all --config %t/jprov-lab-ngrok-ngrok/ngrok.yml
Restart=always
RestartSec=10

[Install]
WantedBy=default.target
"
reload systemd-user
say_done 3
check_started
say_finished
}
