#!/usr/bin/env python3
"""End-to-end check of a Jupyter server as a user's browser would reach it.

Run inside the lab's laptop namespace:
    laptop_check.py --url https://jupyter.lab/ --cafile acme-root.pem --password PW
    laptop_check.py --url http://localhost:8888/ --password PW     (local-forward: through the laptop's ssh -L)

Checks, in order (each prints one line; the first failure exits non-zero naming it):
  tls          TLS handshake verified against --cafile (hostname checked, no -k); for http, only to
               localhost (an ssh forward's end on the laptop) is accepted
  unauth       GET api/kernels without credentials is refused (401/403 or redirect to login)
  wrong-login  POST login with a wrong password is refused
  login        POST login with the right password succeeds and api/kernels answers 200
  kernel-start POST api/kernels starts a kernel
  execute      websocket api/kernels/<id>/channels: execute_request print(6*7) -> stream "42"
  kernel-stop  DELETE api/kernels/<id>

Only the standard library and tornado (which comes with jupyter_server) are used.
"""
import argparse
import asyncio
import datetime
import http.client
import http.cookies
import json
import socket
import ssl
import sys
import time
import urllib.parse
import uuid


class CheckFailed(Exception):
    def __init__(self, name, detail):
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


class Client:
    """Minimal cookie-keeping HTTPS client that never follows redirects."""

    def __init__(self, url, ctx, timeout):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("https", "http"):
            raise SystemExit("--url must be https:// (or http://localhost for an ssh forward)")
        if u.scheme == "http" and u.hostname not in ("localhost", "127.0.0.1"):
            raise SystemExit("plain http only to localhost: the end of an ssh forward on this laptop")
        self.scheme = u.scheme
        self.host = u.hostname
        self.default_port = 443 if u.scheme == "https" else 80
        self.port = u.port or self.default_port
        self.base = u.path if u.path.endswith("/") else u.path + "/"
        self.origin = f"{u.scheme}://{u.hostname}" + ("" if self.port == self.default_port else f":{self.port}")
        self.ctx = ctx
        self.timeout = timeout
        self.cookies = {}

    def cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method, path, body=None, headers=None):
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = self.cookie_header()
        try:
            conn.request(method, self.base + path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for sc in resp.msg.get_all("Set-Cookie") or []:
            c = http.cookies.SimpleCookie()
            c.load(sc)
            for k, m in c.items():
                if m.value == "" or m["max-age"] == "0" or _expired(m["expires"]):
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = m.value
        return resp.status, resp.getheaders(), data

    def xsrf(self):
        return self.cookies.get("_xsrf", "")


def _expired(expires):
    if not expires:
        return False
    try:
        t = datetime.datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        return False
    return t < datetime.datetime.utcnow()


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return ""


def ok(name, detail):
    print(f"ok   {name}: {detail}", flush=True)


def check_tls(c, ctx):
    if c.scheme == "http":
        ok("tls", f"none: plain http to {c.host}:{c.port}, the laptop's end of an ssh forward, which encrypts")
        return
    try:
        with socket.create_connection((c.host, c.port), timeout=c.timeout) as s:
            with ctx.wrap_socket(s, server_hostname=c.host) as t:
                cert = t.getpeercert()
                version = t.version()
    except (ssl.SSLError, ssl.CertificateError) as e:
        raise CheckFailed("tls", f"handshake with {c.host}:{c.port} failed: {e}")
    except OSError as e:
        raise CheckFailed("tls", f"cannot connect to {c.host}:{c.port}: {e}")
    issuer = dict(x[0] for x in cert.get("issuer", ()))
    ok("tls", f"{version}, certificate for {c.host} verified (issuer: {issuer.get('commonName', '?')})")


def check_unauth(c):
    st, hd, _ = c.request("GET", "api/kernels")
    loc = header(hd, "Location")
    if st in (401, 403):
        ok("unauth", f"GET api/kernels without login -> {st}")
    elif 300 <= st < 400 and "login" in loc:
        ok("unauth", f"GET api/kernels without login -> {st} to {loc}")
    else:
        raise CheckFailed("unauth", f"GET api/kernels without login answered {st} (expected 401/403/redirect to login)")


def login(c, password, username=None):
    """POST the login form (the username field exists with jprov's collaborators)."""
    st, _, _ = c.request("GET", "login")
    if st != 200:
        raise CheckFailed("login", f"GET login answered {st}")
    if not c.xsrf():
        raise CheckFailed("login", "GET login set no _xsrf cookie")
    form = {"password": password, "_xsrf": c.xsrf()}
    if username is not None:
        form["username"] = username
    body = urllib.parse.urlencode(form)
    return c.request("POST", "login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": c.origin,
        "Referer": c.origin + c.base + "login",
    })


def authed(c):
    st, _, _ = c.request("GET", "api/kernels")
    return st == 200


def check_wrong_login(c, wrong):
    st, hd, _ = login(c, wrong)
    if 300 <= st < 400 and "login" not in header(hd, "Location"):
        raise CheckFailed("wrong-login", f"wrong password was accepted ({st} to {header(hd, 'Location')})")
    if authed(c):
        raise CheckFailed("wrong-login", "wrong password gave access to api/kernels")
    ok("wrong-login", f"wrong password refused ({st})")
    # Start the real login from a clean slate.
    c.cookies.clear()


def check_login(c, password):
    st, hd, _ = login(c, password)
    if not (300 <= st < 400):
        raise CheckFailed("login", f"POST login answered {st} (expected a redirect)")
    if not authed(c):
        raise CheckFailed("login", "after login, GET api/kernels is still refused")
    ok("login", f"password accepted ({st} to {header(hd, 'Location')}), api/kernels -> 200")


def api_headers(c):
    return {"X-XSRFToken": c.xsrf(), "Content-Type": "application/json", "Origin": c.origin,
            "Referer": c.origin + c.base}


def check_kernel_start(c):
    st, _, data = c.request("POST", "api/kernels", body="{}", headers=api_headers(c))
    if st not in (200, 201):
        raise CheckFailed("kernel-start", f"POST api/kernels answered {st}: {data[:200]!r}")
    kid = json.loads(data)["id"]
    ok("kernel-start", f"kernel {kid} ({json.loads(data).get('name')})")
    return kid


async def _execute(c, kid, timeout):
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    netloc = c.host + ("" if c.port == c.default_port else f":{c.port}")
    ws_scheme = "wss" if c.scheme == "https" else "ws"
    url = f"{ws_scheme}://{netloc}{c.base}api/kernels/{kid}/channels?session_id={session}"
    tls = {"ssl_options": c.ctx} if c.scheme == "https" else {}
    req = HTTPRequest(url, headers={"Cookie": c.cookie_header(), "Origin": c.origin},
                      connect_timeout=timeout, request_timeout=timeout, **tls)
    try:
        ws = await asyncio.wait_for(websocket_connect(req), timeout)
    except Exception as e:
        raise CheckFailed("execute", f"websocket {url} failed: {e}")
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "laptop", "session": session,
                   "msg_type": "execute_request", "version": "5.3",
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": "print(6*7)", "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    deadline = time.monotonic() + timeout
    seen = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed("execute", f"no stream output '42' within {timeout} s (saw: {seen[-8:]})")
            try:
                raw = await asyncio.wait_for(ws.read_message(), left)
            except asyncio.TimeoutError:
                continue
            if raw is None:
                raise CheckFailed("execute", f"websocket closed by server (code {ws.close_code}, saw: {seen[-8:]})")
            if isinstance(raw, bytes):
                continue
            m = json.loads(raw)
            mt = m.get("msg_type") or m.get("header", {}).get("msg_type")
            seen.append(mt)
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if mt == "stream" and "42" in m.get("content", {}).get("text", ""):
                return m["content"]["text"].strip()
            if mt == "error":
                raise CheckFailed("execute", f"kernel error: {m['content'].get('ename')}: {m['content'].get('evalue')}")
    finally:
        ws.close()


def check_execute(c, kid, timeout):
    t0 = time.monotonic()
    out = asyncio.run(_execute(c, kid, timeout))
    ok("execute", f"print(6*7) over the kernel websocket -> {out!r} in {time.monotonic() - t0:.1f} s")


def check_kernel_stop(c, kid):
    st, _, data = c.request("DELETE", f"api/kernels/{kid}", headers=api_headers(c))
    if st not in (200, 204):
        raise CheckFailed("kernel-stop", f"DELETE api/kernels/{kid} answered {st}: {data[:200]!r}")
    ok("kernel-stop", f"kernel {kid} deleted ({st})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="public Jupyter URL, e.g. https://jupyter.lab:8888/")
    ap.add_argument("--cafile", help="CA bundle to verify the server certificate (required for https)")
    ap.add_argument("--password", required=True)
    ap.add_argument("--wrong-password", default="definitely-not-the-password")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for the websocket execution")
    a = ap.parse_args()

    if a.url.startswith("https://") and not a.cafile:
        ap.error("--cafile is required for an https URL")
    ctx = ssl.create_default_context(cafile=a.cafile) if a.cafile else None  # verifies chain and hostname
    c = Client(a.url, ctx, timeout=30)
    kid = None
    try:
        check_tls(c, ctx)
        check_unauth(c)
        check_wrong_login(c, a.wrong_password)
        check_login(c, a.password)
        kid = check_kernel_start(c)
        check_execute(c, kid, a.timeout)
        check_kernel_stop(c, kid)
        kid = None
    except CheckFailed as e:
        print(f"FAIL {e.name}: {e.detail}", flush=True)
        return 1
    except Exception as e:  # unexpected: name the step we were in
        print(f"FAIL unexpected: {type(e).__name__}: {e}", flush=True)
        return 1
    finally:
        if kid is not None:
            try:
                c.request("DELETE", f"api/kernels/{kid}", headers=api_headers(c))
            except Exception:
                pass
    print("laptop_check: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
