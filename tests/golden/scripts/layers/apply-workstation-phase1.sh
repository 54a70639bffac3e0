# jprov apply script for profile lab-layers on the workstation. Runs with `sh -s` (possibly under sudo -n).
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
# step 1: lingering
enable_linger alice
say_done 1
# step 2: files
group_begin ''
backup /home/alice/.jupyter/jupyter_server_config.py
put_file /home/alice/.jupyter/jupyter_server_config.py 600 alice '' 700 "# Managed by jprov for profile lab-layers; edits will be overwritten.
# Method: nginx-proxy. Users open https://jupyter.example.org/j-zfivqxciaq4izaztqd5ypovo5a/
c = get_config()  # noqa: F821

# Reachable only through the nginx proxy on the forwarding server.
c.ServerApp.ip = '127.0.0.1'
c.ServerApp.port = 8888
# Never drift to another port: the tunnel points at exactly this one.
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.base_url = '/j-zfivqxciaq4izaztqd5ypovo5a/'
c.ServerApp.custom_display_url = 'https://jupyter.example.org/j-zfivqxciaq4izaztqd5ypovo5a/'

# Password login only: no token, and the password cannot be replaced from the login page.
c.PasswordIdentityProvider.hashed_password = 'argon2:"'$argon2id$v=19$m=10240,t=10,p=8$fS+3eQS4dmjolnoKoUiZbg$M/JWaATl1nNa+eQO8pmlhslXdXyTPqSDPnpm/JeLM88'"'
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
        \"password_hash\": \"argon2:"'$argon2id$v=19$m=10240,t=10,p=8$fX8R6KU2V+7cmhNeNgo+5Q$MbVPF8Bb9lTDpiMU1yz2/wjnWny2JkF5egxh8mcmZB4",
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

# No real-time collaboration (jupyter.collaboration is off): JupyterLab opens no shared documents, even
# where the jupyter-collaboration package is installed.
c.YDocExtension.disable_rtc = True

# jupyter-collaboration'"'s document websocket accepts any Origin, and its server side loads wherever the
# package is installed (disable_rtc only tells the browser): browsers send the login cookie to no request
# another site starts.
c.IdentityProvider.cookie_options = {'samesite': 'Lax'}

# Jupyter refuses Host headers naming other hosts (DNS rebinding guard). Accept only the names
# browsers use (any port), rather than disabling the check.
c.ServerApp.allow_remote_access = False
c.ServerApp.local_hostnames = ['localhost', 'jupyter.example.org']

# nginx terminates TLS and passes the client address and scheme in X-Real-IP / X-Scheme.
c.ServerApp.trust_xheaders = True

# Browsers reach Jupyter over TLS only, so its cookies are never to travel without it (Secure); the login
# cookie stays out of scripts' reach (HttpOnly, Jupyter's default). Jupyter marks the login cookie Secure by
# itself only on requests it sees as https (behind nginx, through X-Scheme), and the _xsrf cookie never:
# both are set here. _xsrf stays readable by scripts: JupyterLab sends it back in a header.
c.IdentityProvider.secure_cookie = True
c.ServerApp.tornado_settings = {\"xsrf_cookie_kwargs\": {\"path\": '/j-zfivqxciaq4izaztqd5ypovo5a/', \"secure\": True}}
"
say_done 2
# step 3: files
group_begin systemd-user
backup /home/alice/.config/systemd/user/jprov-lab-layers-jupyter.service
put_file /home/alice/.config/systemd/user/jprov-lab-layers-jupyter.service 644 alice '' 755 '# Managed by jprov for profile lab-layers; edits will be overwritten.
# Jupyter as the workstation user, reading ~/.jupyter/jupyter_server_config.py (written by jprov).
[Unit]
Description=Jupyter for jprov profile lab-layers
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
