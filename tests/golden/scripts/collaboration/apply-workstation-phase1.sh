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
# step 1: lingering
enable_linger alice
say_done 1
# step 2: key pair
generate_key /home/alice/.ssh/jprov-lab-together-tunnel alice jprov:lab-together
say_done 2
# step 3: key pair
generate_key /home/alice/.ssh/jprov-lab-together-certificate alice jprov:lab-together:certificate
say_done 3
# step 4: files
group_begin ''
backup /home/alice/.jupyter/jupyter_server_config.py
put_file /home/alice/.jupyter/jupyter_server_config.py 600 alice '' 700 "# Managed by jprov for profile lab-together; edits will be overwritten.
# Method: reverse-forward. Users open https://jupyter.example.org:8888/
c = get_config()  # noqa: F821

# Reachable only through the SSH reverse tunnel.
c.ServerApp.ip = '127.0.0.1'
c.ServerApp.port = 8888
# Never drift to another port: the tunnel points at exactly this one.
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.base_url = '/'
c.ServerApp.custom_display_url = 'https://jupyter.example.org:8888/'

# Password login only: no token, and the password cannot be replaced from the login page.
c.PasswordIdentityProvider.hashed_password = 'argon2:"'$argon2id$v=19$m=10240,t=10,p=8$vccurgDVDFUmHi8+JeJhLQ$NxvUpWQVgroCtN3LVAz1DzEwxwNsZzbm4+EsNfGSy8Y'"'
c.PasswordIdentityProvider.password_required = True
c.PasswordIdentityProvider.allow_password_change = False
c.IdentityProvider.token = ''

# One login per person, known to Jupyter by name (cursors, the user list). Only the login form and the
# signed login cookie grant one: no header, token or URL does.
import hashlib  # noqa: E402
import json  # noqa: E402

from jupyter_server.auth.identity import PasswordIdentityProvider, User  # noqa: E402
from jupyter_server.auth.login import LoginFormHandler  # noqa: E402
from jupyter_server.auth.security import passwd_check  # noqa: E402
from traitlets import default  # noqa: E402

# The owner logs in as alice (or with no username) with the password above.
_OWNER = \"alice\"
# username -> the name Jupyter shows and the hash of that person's own password.
_COLLABORATORS = {    \"ada\": {
        \"name\": \"Ada Lovelace\",
        \"password_hash\": \"argon2:"'$argon2id$v=19$m=10240,t=10,p=8$wM5x9dcpiuVmqgNFnmkh+A$dsECml9b9HCCi2iSbJuu3CRB9fv7djrMXUDtEy7YKlU",
    },    "charles": {
        "name": "Charles Babbage",
        "password_hash": "argon2:$argon2id$v=19$m=10240,t=10,p=8$KUNelwErAqJp194HVi9BQg$Rtq8KbdoAo3OKUg6PQmc/NyCi/z1tc0nBHJE9bkUCtk",
    },}
_USERNAME_FIELD = (
    '"'<label for=\"username_input\"><strong>Username:</strong></label>'
    '<input type=\"text\" name=\"username\" id=\"username_input\" class=\"form-control\"'
    ' autocomplete=\"username\" autocapitalize=\"none\">'
)


class JprovLoginForm(LoginFormHandler):
    \"\"\"Jupyter's own login page, with a username before the password.\"\"\"

    def render_template(self, name, **ns):
        html = super().render_template(name, **ns)
        if name == \"login.html\":
            html = html.replace('<label for=\"password_input\">', _USERNAME_FIELD + '<label for=\"password_input\">', 1)
        return html


def _fingerprint(person):
    \"\"\"What a collaborator's login cookie carries of their hash, so that a changed password ends it. The
    owner's needs none: their hash is part of Jupyter's cookie secret (cookie_secret_hook).\"\"\"
    return hashlib.sha256(person[\"password_hash\"].encode()).hexdigest() if person else \"\"


class JprovIdentityProvider(PasswordIdentityProvider):
    \"\"\"Each person logs in with their username and their own password; the signed cookie names them,
    and the profile, never the cookie or the request, gives their name.\"\"\"

    @default(\"login_handler_class\")
    def _jprov_login_form(self):
        return JprovLoginForm

    @default(\"updatable_fields\")
    def _names_come_from_the_profile(self):
        return []

    def _user(self, username):
        if username == _OWNER:
            return User(username)
        person = _COLLABORATORS.get(username) if isinstance(username, str) else None
        return User(username, name=person[\"name\"], display_name=person[\"name\"]) if person else None

    def process_login_form(self, handler):
        username = handler.get_argument(\"username\", default=\"\").strip() or _OWNER
        password = handler.get_argument(\"password\", default=\"\")
        if username == _OWNER:
            # The parent's check: against the owner's hash above.
            return User(username) if self.passwd_check(password) else None
        person = _COLLABORATORS.get(username)
        if person is None or not passwd_check(person[\"password_hash\"], password):
            return None
        return self._user(username)

    def user_to_cookie(self, user):
        key = _fingerprint(_COLLABORATORS.get(user.username))
        return json.dumps({\"username\": user.username, \"key\": key})

    def user_from_cookie(self, cookie_value):
        # Checked on every request: someone removed from the profile, or whose password changed, is
        # logged out once Jupyter restarts with the new config.
        cookie = json.loads(cookie_value)
        username = cookie.get(\"username\")
        if not isinstance(username, str) or cookie.get(\"key\") "'!= _fingerprint(_COLLABORATORS.get(username)):
            return None
        return self._user(username)


c.ServerApp.identity_provider_class = JprovIdentityProvider

# Real-time collaboration (jupyter.collaboration): JupyterLab 4 runs it where the jupyter-collaboration
# package is installed (plan checks that it is). Everyone who logs in edits the same documents, and each
# publishes the name Jupyter gives them above; each can run any code as this user.
c.YDocExtension.disable_rtc = False

# jupyter-collaboration'"'s document websocket accepts any Origin, and its server side loads wherever the
# package is installed (disable_rtc only tells the browser): browsers send the login cookie to no request
# another site starts.
c.IdentityProvider.cookie_options = {'samesite': 'Lax'}

# Jupyter refuses Host headers naming other hosts (DNS rebinding guard). Accept only the names
# browsers use (any port), rather than disabling the check.
c.ServerApp.allow_remote_access = False
c.ServerApp.local_hostnames = ['localhost', 'jupyter.example.org']

# TLS is terminated by Jupyter itself; the tunnel carries the encrypted stream.
c.ServerApp.certfile = '/home/alice/.local/share/jprov/lab-together/fullchain.pem'
c.ServerApp.keyfile = '/home/alice/.local/share/jprov/lab-together/privkey.pem'

# Browsers reach Jupyter over TLS only, so its cookies are never to travel without it (Secure); the login
# cookie stays out of scripts' reach (HttpOnly, Jupyter's default). Jupyter marks the login cookie Secure by
# itself only on requests it sees as https (behind nginx, through X-Scheme), and the _xsrf cookie never:
# both are set here. _xsrf stays readable by scripts: JupyterLab sends it back in a header.
c.IdentityProvider.secure_cookie = True
c.ServerApp.tornado_settings = {\"xsrf_cookie_kwargs\": {\"path\": '/', \"secure\": True}}
"
say_done 4
# step 5: files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-together-tunnel.service
backup /home/alice/.config/systemd/user/jprov-lab-together-jupyter.service
backup /home/alice/.local/share/jprov/lab-together/fetch-certificate
backup /home/alice/.config/systemd/user/jprov-lab-together-certificate.service
backup /home/alice/.config/systemd/user/jprov-lab-together-certificate.timer
put_file /home/alice/.config/systemd/user/jprov-lab-together-tunnel.service 644 alice '' 755 '# Managed by jprov for profile lab-together; edits will be overwritten.
# The SSH tunnel of method reverse-forward, kept up by systemd.
[Unit]
Description=jprov tunnel for Jupyter (profile lab-together)
# Never give up: by default systemd stops restarting a unit after 5 failures in 10 s.
StartLimitIntervalSec=0

[Service]
# ssh exits when the connection dies (ServerAlive*) or the forward cannot be set up
# (ExitOnForwardFailure); systemd then starts it again.
ExecStart=ssh -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 -o ServerAliveCountMax=3 -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/home/alice/.ssh/jprov-lab-together-known_hosts -o HostKeyAlias=jprov-lab-together-server -i /home/alice/.ssh/jprov-lab-together-tunnel -p 22 -R :8888:localhost:8888 jprov-tunnel@gateway.example.org
Restart=always
RestartSec=10

[Install]
WantedBy=default.target
'
put_file /home/alice/.config/systemd/user/jprov-lab-together-jupyter.service 644 alice '' 755 '# Managed by jprov for profile lab-together; edits will be overwritten.
# Jupyter as the workstation user, reading ~/.jupyter/jupyter_server_config.py (written by jprov).
[Unit]
Description=Jupyter for jprov profile lab-together
StartLimitIntervalSec=0

[Service]
WorkingDirectory=%h
Environment=VIRTUAL_ENV=/opt/jupyter
Environment=PATH=/opt/jupyter/bin:/usr/local/bin:/usr/bin:/bin
ExecStart=/opt/jupyter/bin/jupyter lab
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
'
put_file /home/alice/.local/share/jprov/lab-together/fetch-certificate 700 alice '' 700 '#!/bin/sh
# Managed by jprov for profile lab-together; edits will be overwritten.
# Run by jprov-lab-together-certificate.service every 6h: fetches the certificate
# bundle from the server as jprov-cert@gateway.example.org, whose key can do nothing but print this profile'"'s bundle, and
# installs it for Jupyter. Both files are replaced atomically (the key first). Jupyter is not restarted:
# tornado loads the certificate for every new connection, so the next one gets the new certificate and
# running kernels survive the renewal.
set -eu
umask 077
dir=/home/alice/.local/share/jprov/lab-together
mkdir -p \""'$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap '"'rm -rf \""'$tmp"'"' EXIT
ssh -T -o ConnectTimeout=30 -o 'BatchMode=yes' -o 'IdentitiesOnly=yes' -o 'StrictHostKeyChecking=yes' -o 'UserKnownHostsFile=/home/alice/.ssh/jprov-lab-together-known_hosts' -o 'HostKeyAlias=jprov-lab-together-server' -i /home/alice/.ssh/jprov-lab-together-certificate -p 22 jprov-cert@gateway.example.org > \""'$tmp/bundle"
sed -n '"'/"'^-----BEGIN CERTIFICATE-----$/,/''^-----END CERTIFICATE-----$/p'"' \""'$tmp/bundle" > "$tmp/fullchain.pem"
sed -n '"'/"'^-----BEGIN [A-Z ]*PRIVATE KEY-----$/,/''^-----END [A-Z ]*PRIVATE KEY-----$/p'"' \""'$tmp/bundle" > "$tmp/privkey.pem"
# Install nothing but a certificate together with its own key.
cert_pub=$(openssl x509 -noout -pubkey -in "$tmp/fullchain.pem") || { echo "the bundle holds no certificate" >&2; exit 1; }
key_pub=$(openssl pkey -pubout -in "$tmp/privkey.pem") || { echo "the bundle holds no private key" >&2; exit 1; }
[ "$cert_pub" = "$key_pub" ] || { echo "the bundle'"'s key does not belong to its certificate\" >&2; exit 1; }
if cmp -s \""'$tmp/fullchain.pem" /home/alice/.local/share/jprov/lab-together/fullchain.pem && cmp -s "$tmp/privkey.pem" /home/alice/.local/share/jprov/lab-together/privkey.pem; then
  exit 0
fi
chmod 600 "$tmp/privkey.pem"
chmod 644 "$tmp/fullchain.pem"
mv -f "$tmp/privkey.pem" /home/alice/.local/share/jprov/lab-together/privkey.pem
mv -f "$tmp/fullchain.pem" /home/alice/.local/share/jprov/lab-together/fullchain.pem
echo "installed a new certificate: $(openssl x509 -noout -serial -enddate -in /home/alice/.local/share/jprov/lab-together/fullchain.pem | tr '"'\\n' ' ')\"
"
put_file /home/alice/.config/systemd/user/jprov-lab-together-certificate.service 644 alice '' 755 "# Managed by jprov for profile lab-together; edits will be overwritten.
# Fetches the server's renewed TLS certificate for Jupyter; run by the timer of the same name.
[Unit]
Description=Fetch the TLS certificate for Jupyter (jprov profile lab-together)

[Service]
Type=oneshot
ExecStart=/home/alice/.local/share/jprov/lab-together/fetch-certificate
"
put_file /home/alice/.config/systemd/user/jprov-lab-together-certificate.timer 644 alice '' 755 '# Managed by jprov for profile lab-together; edits will be overwritten.
# certbot renews on the server 30 days before expiry; checking every 6h picks that up in time.
[Unit]
Description=Check for a renewed TLS certificate every 6h (jprov profile lab-together)

[Timer]
OnActiveSec=6h
OnUnitActiveSec=6h
AccuracySec=1s

[Install]
WantedBy=timers.target
'
reload systemd-user
say_done 5
check_started
say_finished
}
