#!/usr/bin/env python3
"""A collaborator's real browser: headless Chromium (Debian's /usr/bin/chromium) uses JupyterLab at URL.

Run inside a laptop's network namespace (tests/e2e.rs), with the test venv's Python (standard library only):
    browser_check.py --url https://jupyter.lab:8888/ --ca acme-root.pem --password PW --artefacts DIR --name rf
    browser_check.py --url https://workstation.lab:8888/ --server-certificate cert.pem ...   (self-signed: lan)
    browser_check.py --url http://localhost:8888/ ...                                    (local-forward's ssh -L)
  [--username U] [--basic-auth-file F (user:password, never argv)] [--person USER PASSWORD NAME] x2

Chromium is driven through the DevTools protocol over a pipe (--remote-debugging-pipe: no port that anyone
else in the namespace could connect to). Its HOME is a fresh directory whose NSS database
($HOME/.pki/nssdb) trusts exactly what a collaborator would trust: the ACME root (--ca, trusted as a CA) or
the server's self-signed certificate (--server-certificate, trusted as that one peer, after the caller
compared its fingerprint with the one jprov printed). Steps, one line each; the first failure prints
`FAIL step: ...`, keeps a screenshot of each open page (`NAME-failed-LABEL.png`) and exits 1:

  untrusted    (https) with an empty NSS database, the page does not load: a certificate error
  basic-auth   (with --basic-auth-file) a wrong password is asked again and then refused (401 page); the
               right one, given to the DevTools protocol's auth challenge (Fetch.authRequired ->
               Fetch.continueWithAuth), as headless Chromium shows no dialog
  login-page   URL leads to Jupyter's login form
  wrong-login  a wrong password typed into the form shows the login form again ("Invalid credentials")
  login        the right one (and --username, typed into the username field) opens JupyterLab
  notebook     the main area's "+" (New Launcher), the launcher's notebook card: a new notebook, its kernel idle
  execute      `6*7` typed in the cell, Shift+Enter, `42` in its output area
  saved        Ctrl+S (a first save without collaboration asks for a name: the one offered is kept); the
               page's own fetch of api/contents finds the cell and its output on disk
  reload       the page reloaded shows the notebook again (its tab), `6*7` and `42` read back from the file
  screenshot   NAME.png in --artefacts
With two --person (real-time collaboration on) the owner's page closes, and two more browser contexts
(separate cookies) log in as them:
  rtc-open     both open the same notebook
  rtc-edit     text typed in one appears in the other's cell, both ways
  rtc-names    each one's collaborators panel shows the other's name; screenshots NAME-rtc-USER.png
"""
import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CHROMIUM = "/usr/bin/chromium"
CERTUTIL = "/usr/bin/certutil"

# Headless, as root (no sandbox), and nothing of Chromium's own traffic to Google: the lab's laptop reaches
# only the lab, and a browser that tried would just add noise and delays.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-proxy-server",
    "--disable-quic",
    "--password-store=basic",
    "--use-mock-keychain",
    # Two people's pages share one browser: neither may be throttled as a background page.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=1280,860",
    "--remote-debugging-pipe",
]


class CheckFailed(Exception):
    def __init__(self, step, detail):
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


def ok(step, detail):
    print(f"ok   {step}: {detail}", flush=True)


def high(fd):
    """FD as a close-on-exec descriptor numbered 10 or more (the original closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """One Chromium process and its DevTools connection: fd 3 carries commands to it, fd 4 its answers and
    events, each message JSON ending in a NUL byte."""

    def __init__(self, home, log):
        self.home = home
        profile = os.path.join(home, "profile")
        os.makedirs(profile, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium's ends, moved above 4 first, so that putting them at 3 and 4 cannot overwrite either.
        to_browser_r, from_browser_w = (high(fd) for fd in (to_browser_r, from_browser_w))
        logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"}
        self.pid = os.posix_spawn(
            CHROMIUM,
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, logfd, 1),
                (os.POSIX_SPAWN_DUP2, logfd, 2),
                (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
            ],
            setsid=True,
        )
        for fd in (to_browser_r, from_browser_w, logfd):
            os.close(fd)
        self._next_id = 0
        self._lock = threading.Lock()
        self._answers = {}
        self._answered = threading.Condition(self._lock)
        self._handlers = {}
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._answered.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._answers[message["id"]] = message
                        self._answered.notify_all()
                    continue
                # Events: only those a page asked to handle matter; the rest are dropped.
                handler = self._handlers.get((message.get("sessionId"), message["method"]))
                if handler:
                    handler(message.get("params", {}))

    def send(self, method, params=None, session=None):
        """Send a command; its answer is not awaited (event handlers, which run on the reader thread)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._to_browser, data):]
            except OSError as e:
                raise CheckFailed("browser", f"{method}: Chromium is gone ({e})") from None
        return ident

    def call(self, method, params=None, session=None, timeout=30):
        ident = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CheckFailed("browser", f"no answer to {method} ({'closed' if self._closed else 'timeout'})")
                self._answered.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise CheckFailed("browser", f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def on(self, session, method, handler):
        self._handlers[(session, method)] = handler

    def new_context(self):
        return self.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]

    def close(self):
        for label in [label for label, page in Page.open.items() if page.b is self]:
            del Page.open[label]
        try:
            self.call("Browser.close", timeout=5)
        except CheckFailed:
            pass
        for _ in range(50):
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                break
            time.sleep(0.1)
        else:
            os.killpg(self.pid, 9)
            os.waitpid(self.pid, 0)
        self._reader.join(5)
        os.close(self._to_browser)
        os.close(self._from_browser)


def visible(selector):
    """JavaScript: the first element matching SELECTOR that is laid out (shown), or undefined."""
    return f"[...document.querySelectorAll({json.dumps(selector)})].find(e => e.offsetParent !== null)"


class Page:
    """A tab in a browser context, attached with its own DevTools session."""

    # The pages open now, by whose they are: each is screenshotted when a step fails.
    open = {}

    def __init__(self, browser, context, label, basic_auth=None):
        self.b = browser
        self.label = label
        Page.open[label] = self
        self.target = browser.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        self.auth_asked = 0
        self.basic_auth = basic_auth
        for method in ("Page.enable", "Runtime.enable"):
            self.call(method)
        # Headless pages have no window focus of their own; the editors need it to take keystrokes.
        self.call("Emulation.setFocusEmulationEnabled", {"enabled": True})
        browser.on(self.session, "Page.javascriptDialogOpening", self._dialog)
        if basic_auth is not None:
            browser.on(self.session, "Fetch.requestPaused", self._continue)
            browser.on(self.session, "Fetch.authRequired", self._answer_auth)
            self.call("Fetch.enable", {"handleAuthRequests": True, "patterns": [{"urlPattern": "*"}]})

    def call(self, method, params=None, timeout=30):
        return self.b.call(method, params, self.session, timeout)

    def close(self):
        Page.open.pop(self.label, None)
        self.b.call("Target.closeTarget", {"targetId": self.target})

    def _dialog(self, params):
        # A "leave page?" prompt would mean unsaved changes; say no, and let the check that follows fail.
        self.b.send("Page.handleJavaScriptDialog", {"accept": False}, self.session)

    def _continue(self, params):
        self.b.send("Fetch.continueRequest", {"requestId": params["requestId"]}, self.session)

    def _answer_auth(self, params):
        """The challenge a dialog would show: the credentials given (a list, tried in turn), then cancel."""
        self.auth_asked += 1
        credentials = self.basic_auth[0] if self.basic_auth else None
        if self.basic_auth:
            self.basic_auth = self.basic_auth[1:] or self.basic_auth
        if params["authChallenge"].get("source") != "Server" or credentials is None:
            response = {"response": "CancelAuth"}
        else:
            user, password = credentials
            response = {"response": "ProvideCredentials", "username": user, "password": password}
        self.b.send(
            "Fetch.continueWithAuth",
            {"requestId": params["requestId"], "authChallengeResponse": response},
            self.session,
        )

    def js(self, expression, timeout=30):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CheckFailed("page", f"{details.get('text')} {details.get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def wait(self, step, expression, timeout, what):
        """Poll EXPRESSION in the page until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except CheckFailed as e:  # the page is between documents
                last = e.detail
                value = None
            if value:
                return value
            time.sleep(0.2)
        raise CheckFailed(step, f"{what} not seen within {timeout:.0f} s (at {self.location()}){f': {last}' if last else ''}")

    def location(self):
        try:
            return self.js("location.href")
        except CheckFailed:
            return "?"

    def goto(self, step, url):
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CheckFailed(step, f"{url}: {result['errorText']}")
        self.wait(step, "document.readyState === 'complete'", 30, "the page loaded")

    def center(self, step, selector, timeout=30):
        """The middle of the first visible element matching SELECTOR, scrolled into view."""
        return self.wait(
            step,
            f"""(() => {{
                const e = {visible(selector)};
                if (!e) return null;
                e.scrollIntoView({{block: 'center'}});
                const r = e.getBoundingClientRect();
                return r.width > 0 ? [r.left + Math.min(r.width / 2, 40), r.top + r.height / 2] : null;
            }})()""",
            timeout,
            selector,
        )

    def click_until(self, step, selector, expression, what, tries=3):
        """Click SELECTOR until EXPRESSION holds. A click can miss while JupyterLab still lays out what
        its workspace reopens (the tab bar's "+" moves as tabs come), so a click that changed nothing
        within 5 s is repeated."""
        for _ in range(tries):
            self.click(step, selector, 60)
            try:
                return self.wait(step, expression, 5, what)
            except CheckFailed:
                pass
        raise CheckFailed(step, f"{what} not seen after {tries} clicks on {selector} (at {self.location()})")

    def click(self, step, selector, timeout=30):
        """A mouse click on the middle of the first visible element matching SELECTOR."""
        x, y = self.center(step, selector, timeout)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type(self, text):
        self.call("Input.insertText", {"text": text})

    def key(self, key, code, vk, modifiers=0):
        """One key press as a keyboard sends it (modifiers: 2 Ctrl, 8 Shift)."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk, "modifiers": modifiers}
        self.call("Input.dispatchKeyEvent", {"type": "rawKeyDown", **common})
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path


def nss_database(home, ca=None, server_certificate=None):
    """$HOME/.pki/nssdb, as Chromium on Linux reads it, trusting the ACME root as a CA (C,,) or the
    self-signed certificate as exactly that server (P,,: a trusted peer, never an issuer)."""
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db, exist_ok=True)
    run([CERTUTIL, "-N", "-d", f"sql:{db}", "--empty-password"])
    if ca:
        run([CERTUTIL, "-A", "-d", f"sql:{db}", "-n", "acme-root", "-t", "C,,", "-i", ca])
    if server_certificate:
        run([CERTUTIL, "-A", "-d", f"sql:{db}", "-n", "server", "-t", "P,,", "-i", server_certificate])
    return db


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise CheckFailed("nss", f"{' '.join(argv)}: {out.stderr.strip()}")


# JupyterLab's own markers of what it shows.
LOGIN_FORM = "!!(document.querySelector('#password_input') && document.querySelector('#login_submit'))"
LAB_READY = "!!(document.querySelector('.jp-LabShell') && document.querySelector('#jp-main-dock-panel'))"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
FIRST_CELL = f"document.querySelector('{NOTEBOOK} .jp-Cell')"
CELL_SOURCE = f"({FIRST_CELL}?.querySelector('.cm-content')?.innerText ?? '')"
# The path of the document shown: its tab's tooltip says "Name: ...\nPath: ...\n...".
CURRENT_PATH = (
    "(document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')?.title.match(/^Path: (.*)$/m)"
    " || [])[1]"
)
# The status bar's kernel item ("Python 3 (ipykernel) | Idle"): connected through the kernel's websocket.
KERNEL_IDLE = (
    "(() => { const s = [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
    ".find(e => e.title.startsWith('Change kernel'))?.innerText; "
    "return /[|] Idle$/.test(s) && !s.startsWith('No Kernel') && s; })()"
)
CELL_OUTPUT = f"({FIRST_CELL}?.querySelector('.jp-OutputArea-output')?.innerText ?? '').trim()"


def check_untrusted(args, work):
    """With an empty NSS database a certificate error, before anything is trusted: the trust set up next
    is what makes the page load."""
    home = os.path.join(work, "untrusted")
    nss_database(home)
    b = Browser(home, os.path.join(args.artefacts, f"{args.name}-chromium.log"))
    try:
        page = Page(b, b.new_context(), "untrusted")
        result = page.call("Page.navigate", {"url": args.url})
        error = result.get("errorText", "")
        if "CERT" not in error:
            raise CheckFailed("untrusted", f"expected a certificate error, got {error or 'a page'}")
        ok("untrusted", f"without the trust: {error}")
    finally:
        b.close()


def answer_basic_auth(args, b):
    """Wrong basic-auth credentials: asked again, then a 401 page. The right ones: Jupyter's login form."""
    user, password = read_credentials(args.basic_auth_file)
    wrong = Page(b, b.new_context(), "basic-auth-wrong", basic_auth=[(user, password + "-wrong"), None])
    wrong.goto("basic-auth", args.url)
    title = wrong.js("document.title")
    if wrong.auth_asked < 2 or "401" not in title or wrong.js(LOGIN_FORM):
        raise CheckFailed("basic-auth", f"a wrong password: asked {wrong.auth_asked} times, then {title!r}")
    wrong.close()
    page = Page(b, b.new_context(), "owner", basic_auth=[(user, password)])
    ok("basic-auth", f"a wrong password for {user}: asked again, then {title!r}; now the right one")
    return page


def read_credentials(path):
    with open(path) as f:
        user, _, password = f.readline().rstrip("\n").partition(":")
    return user, password


def log_in(page, step, username, password, expect_lab=True):
    page.wait(step, LOGIN_FORM, 30, "the login form")
    if username is not None:
        page.click(step, "#username_input")
        page.type(username)
    page.click(step, "#password_input")
    page.type(password)
    page.js("window.jprovFormSent = true")  # gone with this document: what follows is the answer's
    page.click(step, "#login_submit")
    answer = page.wait(
        step,
        f"!window.jprovFormSent && document.readyState !== 'loading' && ({LAB_READY} && 'JupyterLab' || "
        f"location.pathname.endsWith('/login') && {LOGIN_FORM} && document.body.innerText.includes('Invalid credentials')"
        " && 'the login form again')",
        90,
        "an answer to the login form",
    )
    if answer != ("JupyterLab" if expect_lab else "the login form again"):
        raise CheckFailed(step, f"the login form answered with {answer} (at {page.location()})")


def type_into_cell(page, step, text, typed, end=False):
    """Click into the first cell's editor and type TEXT, until the editor holds what TYPED accepts. A
    notebook that is still opening can replace its editors (the shared document arriving): keys typed into
    the one replaced are lost, so the click and the keys are tried again, three times at most."""
    for _ in range(3):
        page.click(step, f"{NOTEBOOK} .jp-Cell .cm-content")
        if end:
            page.key("End", "End", 35)
        page.type(text)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            source = page.js(CELL_SOURCE)
            if typed(source):
                return
            time.sleep(0.2)
        if source.strip():
            raise CheckFailed(step, f"typed {text!r}, the cell holds {source!r}")
    raise CheckFailed(step, f"typed {text!r} three times, the cell stayed empty")


def use_a_notebook(args, page):
    page.goto("login-page", args.url)
    page.wait("login-page", LOGIN_FORM, 30, "the login form")
    ok("login-page", page.location())
    log_in(page, "wrong-login", args.username, args.password + "-wrong", expect_lab=False)
    ok("wrong-login", f"the login form again at {page.location()}")
    log_in(page, "login", args.username, args.password)
    ok("login", f"JupyterLab at {page.location()}")

    # The main area's "+" (New Launcher), then the launcher's notebook card: a workspace that reopens what an
    # earlier session left open shows no launcher. (An empty main area has no "+", and shows a launcher.)
    card, plus = ".jp-LauncherCard[data-category='Notebook']", ".lm-TabBar-addButton[title='New Launcher']"
    if page.wait("notebook", f"{visible(plus)} && 'plus' || {visible(card)} && 'card'", 60, "a launcher or its +") == "plus":
        page.click_until("notebook", plus, f"!!{visible(card)}", "a launcher")
    page.click("notebook", card, 30)
    page.wait("notebook", f"!!{FIRST_CELL}?.querySelector('.cm-content')", 60, "a notebook with a cell")
    path = page.wait("notebook", f"/[.]ipynb$/.test({CURRENT_PATH}) && {CURRENT_PATH}", 30, "the new notebook's tab")
    showing = f"{CURRENT_PATH} === {json.dumps(path)}"
    kernel = page.wait("notebook", KERNEL_IDLE, 60, "the kernel idle")
    ok("notebook", f"{path}, kernel {kernel!r}")

    type_into_cell(page, "execute", "6*7", lambda source: source.strip() == "6*7")
    page.key("Enter", "Enter", 13, modifiers=8)
    out = page.wait("execute", f"{CELL_OUTPUT} === '42' && {CELL_OUTPUT}", 60, "42 in the output area")
    ok("execute", f"6*7 -> {out}")

    page.click("saved", f"{NOTEBOOK} .jp-Cell .cm-content")
    page.key("s", "KeyS", 83, modifiers=2)
    # Without real-time collaboration JupyterLab asks for a name at an untitled notebook's first save: the
    # name it offers is kept.
    accept = ".jp-Dialog .jp-Dialog-button.jp-mod-accept"
    base = page.js("JSON.parse(document.getElementById('jupyter-config-data').textContent).baseUrl")
    saved = f"""fetch({json.dumps(base)} + 'api/contents/' + {json.dumps(urllib.parse.quote(path))} + '?content=1')
        .then(r => r.ok ? r.json() : null)
        .then(m => {{ const c = m && m.content.cells[0];
                      const text = v => Array.isArray(v) ? v.join('') : (v || '');
                      return c && text(c.source) === '6*7' && c.outputs.some(o => text((o.data || {{}})['text/plain']) === '42')
                             && m.last_modified; }})"""
    asked = False
    deadline = time.monotonic() + 30
    while not (on_disk := page.js(saved)):
        if not asked and page.js(f"!!{visible(accept)}"):
            page.click("saved", accept)
            asked = True
        if time.monotonic() > deadline:
            raise CheckFailed("saved", f"{path} not saved with 6*7 and 42 within 30 s (at {page.location()})")
        time.sleep(0.2)
    ok("saved", f"{'a name asked for and kept; ' if asked else ''}api/contents/{path}: 6*7 and 42, last_modified {on_disk}")

    page.call("Page.reload", {"ignoreCache": False})
    page.wait("reload", "document.readyState === 'complete'", 30, "the page loaded")
    page.wait("reload", LAB_READY, 90, "JupyterLab")
    # The workspace reopens every notebook left open; a click on this one's tab shows it.
    tab = f".lm-DockPanel-tabBar .lm-TabBar-tab[title^={json.dumps('Name: ' + path)}]"
    page.click_until("reload", tab, showing, f"{path} as the page's document")
    page.wait("reload", f"{CELL_SOURCE}.includes('6*7') && {CELL_OUTPUT} === '42'", 60, "the saved cell and its 42")
    page.wait("reload", KERNEL_IDLE, 60, "the kernel idle again")
    ok("reload", f"{page.location()} shows 6*7 and 42 again, the kernel idle")
    shot = page.screenshot(os.path.join(args.artefacts, f"{args.name}.png"))
    ok("screenshot", shot)
    return path


def collaborate(args, b, path, basic_auth):
    """Two people in two browser contexts (their own cookies) on one notebook."""
    people = []
    for username, password, name in args.person:
        page = Page(b, b.new_context(), username, basic_auth=basic_auth)
        page.goto("rtc-open", urllib.parse.urljoin(args.url, "lab/tree/" + urllib.parse.quote(path)))
        log_in(page, "rtc-open", username, password)
        page.wait("rtc-open", f"{CURRENT_PATH} === {json.dumps(path)} && {CELL_SOURCE}.includes('6*7')", 60,
                  f"{path} open for {username}")
        people.append((page, username, name))
    ok("rtc-open", f"{' and '.join(u for _, u, _ in people)} have {path} open")

    for (writer, username, _), (reader, other, _) in (people, people[::-1]):
        marker = f"  # typed by {username}"
        type_into_cell(writer, "rtc-edit", marker, lambda source: marker in source, end=True)
        seen = reader.wait("rtc-edit", f"{CELL_SOURCE}.includes({json.dumps(marker)}) && {CELL_SOURCE}", 30,
                           f"{username}'s text in {other}'s cell")
        ok("rtc-edit", f"{username} typed {marker.strip()!r}, {other} sees {seen!r}")

    for page, username, _ in people:
        page.click("rtc-names", ".jp-SideBar .lm-TabBar-tab[data-id='jp-collaboration-panel']")
    seen = []
    for (page, username, _), (_, other, other_name) in (people, people[::-1]):
        # Each entry of the panel: the person's initials, then their name. (A cursor's flag shows the name
        # too, but only for 2 s after that person's last keystroke.)
        names = page.wait(
            "rtc-names",
            f"""(() => {{
                const panel = [...document.querySelectorAll('.jp-CollaboratorsList .jp-Collaborator')]
                    .map(e => e.innerText.trim().split('\\n').pop());
                return panel.includes({json.dumps(other_name)}) && panel;
            }})()""",
            30,
            f"{other_name!r} in {username}'s collaborators panel",
        )
        seen.append(f"{username}'s panel lists {names}")
        shot = page.screenshot(os.path.join(args.artefacts, f"{args.name}-rtc-{username}.png"))
        ok("screenshot", shot)
    ok("rtc-names", "; ".join(seen))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    trust = ap.add_mutually_exclusive_group()
    trust.add_argument("--ca", help="the ACME root: trusted as a CA")
    trust.add_argument("--server-certificate", help="the self-signed certificate, its fingerprint compared")
    ap.add_argument("--username", help="for a profile with collaborators (the owner may leave it out)")
    ap.add_argument("--password", required=True)
    ap.add_argument("--basic-auth-file", help="a file holding user:password for the basic-auth layer")
    ap.add_argument("--person", nargs=3, action="append", default=[], metavar=("USERNAME", "PASSWORD", "NAME"))
    ap.add_argument("--artefacts", required=True, help="directory for the screenshots and Chromium's log")
    ap.add_argument("--name", required=True, help="the screenshots' name, e.g. the method")
    args = ap.parse_args()
    if args.person and len(args.person) != 2:
        ap.error("--person: exactly two people collaborate")
    https = args.url.startswith("https://")
    if https != bool(args.ca or args.server_certificate):
        ap.error("https needs --ca or --server-certificate; http (an ssh forward) neither")
    os.makedirs(args.artefacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"browser-{args.name}-")
    b = None
    try:
        if https:
            check_untrusted(args, work)
        home = os.path.join(work, "home")
        nss_database(home, args.ca, args.server_certificate)
        b = Browser(home, os.path.join(args.artefacts, f"{args.name}-chromium.log"))
        basic_auth = None
        if args.basic_auth_file:
            page = answer_basic_auth(args, b)
            basic_auth = [read_credentials(args.basic_auth_file)]
        else:
            page = Page(b, b.new_context(), "owner")
        path = use_a_notebook(args, page)
        if args.person:
            page.close()  # the owner leaves: the two people see each other only
            collaborate(args, b, path, basic_auth)
    except CheckFailed as e:
        print(f"FAIL {e.step}: {e.detail}", flush=True)
        for label, page in Page.open.items():
            try:
                shot = page.screenshot(os.path.join(args.artefacts, f"{args.name}-failed-{label}.png"))
                print(f"     screenshot: {shot}")
            except CheckFailed:
                pass
        return 1
    finally:
        if b is not None:
            b.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
