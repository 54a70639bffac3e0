#!/usr/bin/env python3
"""Two collaborators open one notebook through Jupyter's real-time collaboration endpoints, as JupyterLab's
frontend does, and each sees the other's edit and name.

    collab_check.py --url https://jupyter.lab:8888/ --cafile ROOT.pem \\
        --person ada ADA-PASSWORD "Ada Lovelace" --person bob BOB-PASSWORD "Bob Brown" \\
        [--refused carol CAROL-PASSWORD]

Checks, in order (each prints one line; the first failure exits non-zero naming it):
  tls             TLS handshake verified against --cafile (hostname checked)
  refused USER    (--refused) that login is refused
  login USER      the login form (username, that person's own password, XSRF) logs them in; the login
                  cookie is SameSite=Lax; api/me names them as --person says, never "Anonymous ..."
  frontend        (--rtc on|off) the JupyterLab page the first person gets tells the frontend to use real-time
                  collaboration, or not (its page config's disableRTC, set by YDocExtension.disable_rtc)
With exactly two --person (A, then B):
  notebook        A creates a notebook with one cell (contents API)
  session USER    PUT api/collaboration/session/PATH: the document's file id and the server's session
  sync USER       websocket api/collaboration/room/json:notebook:FILEID?sessionId=...: the Y sync protocol
                  (step 1, step 2) gives each the notebook's cells
  edit            A appends to cell 0's source (a Y update); B's copy of the document shows it
  awareness       each publishes its awareness `user` as JupyterLab does (the identity from api/me); each
                  sees the other under the name --person gives, never "Anonymous ..."
  saved           the server wrote A's edit to the file (contents API, read as B)

Runs with the test venv's Python: tornado (jupyter_server's) and pycrdt (jupyter-collaboration's), and
laptop_check.py's HTTPS client beside it.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import laptop_check as lc  # noqa: E402
from laptop_check import CheckFailed, ok  # noqa: E402


class Person:
    def __init__(self, username, password, name, url, ctx):
        self.username = username
        self.password = password
        self.name = name
        self.client = lc.Client(url, ctx, timeout=30)
        self.identity = None


def log_in(p):
    c = p.client
    st, hd, _ = lc.login(c, p.password, username=p.username)
    if not (300 <= st < 400) or "login" in lc.header(hd, "Location"):
        raise CheckFailed(f"login {p.username}", f"POST login answered {st} to {lc.header(hd, 'Location')!r}")
    cookies = [v for k, v in hd if k.lower() == "set-cookie" and v.startswith("username-")]
    if not cookies or "samesite=lax" not in cookies[0].lower():
        raise CheckFailed(f"login {p.username}", f"the login cookie is not SameSite=Lax: {cookies}")
    st, _, data = c.request("GET", "api/me")
    if st != 200:
        raise CheckFailed(f"login {p.username}", f"GET api/me answered {st}")
    p.identity = json.loads(data)["identity"]
    check_name(f"login {p.username}", p.identity, p)
    ok(f"login {p.username}", f"logged in; api/me says {p.identity['name']!r} ({p.identity['username']})")


def check_name(step, user, p):
    name = str(user.get("name", ""))
    if name.startswith("Anonymous") or name != p.name or user.get("username") != p.username:
        raise CheckFailed(step, f"expected {p.username} named {p.name!r}, got {user!r}")


def refused(url, ctx, username, password):
    c = lc.Client(url, ctx, timeout=30)
    st, hd, _ = lc.login(c, password, username=username)
    if 300 <= st < 400 and "login" not in lc.header(hd, "Location"):
        raise CheckFailed(f"refused {username}", f"the login was accepted ({st})")
    st, _, _ = c.request("GET", "api/me")
    if st == 200:
        raise CheckFailed(f"refused {username}", "api/me answers after the refused login")
    ok(f"refused {username}", f"login refused, api/me -> {st}")


def check_frontend(p, rtc):
    st, _, data = p.client.request("GET", "lab")
    page = data.decode("utf-8", "replace")
    start = page.find('id="jupyter-config-data"')
    if st != 200 or start < 0:
        raise CheckFailed("frontend", f"GET lab answered {st} without a page config")
    body = page[page.index(">", start) + 1:page.index("</script>", start)]
    disabled = json.loads(body).get("disableRTC")
    if disabled is not (rtc == "off"):
        raise CheckFailed("frontend", f"the lab page says disableRTC={disabled!r}; expected collaboration {rtc}")
    ok("frontend", f"the lab page says disableRTC={disabled!r}: collaboration {rtc}")


def create_notebook(a, path, source):
    notebook = {
        "cells": [{"cell_type": "code", "id": uuid.uuid4().hex[:8], "source": source, "metadata": {},
                   "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook})
    st, _, data = a.client.request("PUT", "api/contents/" + urllib.parse.quote(path), body=body,
                                   headers=lc.api_headers(a.client))
    if st not in (200, 201):
        raise CheckFailed("notebook", f"PUT api/contents/{path} answered {st}: {data[:200]!r}")
    ok("notebook", f"{a.username} created {path}")


def open_session(p, path):
    body = json.dumps({"format": "json", "type": "notebook"})
    st, _, data = p.client.request("PUT", "api/collaboration/session/" + urllib.parse.quote(path), body=body,
                                   headers=lc.api_headers(p.client))
    if st not in (200, 201):
        raise CheckFailed(f"session {p.username}", f"PUT api/collaboration/session/{path} answered {st}: "
                          f"{data[:200]!r} (is jupyter-collaboration installed and enabled?)")
    session = json.loads(data)
    ok(f"session {p.username}", f"room json:notebook:{session['fileId']}, session {session['sessionId']}")
    return session


class Peer:
    """One person's copy of the document and awareness, kept in sync over the room's websocket with the
    Y protocol (pycrdt's messages: SYNC step 1/2 and updates, AWARENESS)."""

    def __init__(self, person, ws):
        from pycrdt import Awareness, Doc
        self.person = person
        self.ws = ws
        self.doc = Doc()
        self.awareness = Awareness(self.doc)
        self.synced = False
        self.closed = None

    def send(self, message):
        self.ws.write_message(message, binary=True)

    def start_sync(self):
        from pycrdt import create_sync_message
        self.send(create_sync_message(self.doc))

    def receive(self, message):
        from pycrdt import YMessageType, YSyncMessageType, handle_sync_message, read_message
        if message[0] == YMessageType.SYNC:
            reply = handle_sync_message(message[1:], self.doc)
            if reply is not None:
                self.send(reply)
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced = True
        elif message[0] == YMessageType.AWARENESS:
            self.awareness.apply_awareness_update(read_message(message[1:]), "remote")
        # Other kinds (jupyter-collaboration's RAW replies) say nothing this check needs.

    async def read_forever(self):
        while True:
            message = await self.ws.read_message()
            if message is None:
                self.closed = f"closed by the server (code {self.ws.close_code}, {self.ws.close_reason!r})"
                return
            if isinstance(message, bytes) and message:
                self.receive(message)

    def publish_user(self):
        """As JupyterLab does: the awareness field `user` is the identity api/me gave. Published again on
        each call (a new clock), so a peer that joined later sees it too."""
        from pycrdt import create_awareness_message
        self.awareness.set_local_state_field("user", self.person.identity)
        update = self.awareness.encode_awareness_update([self.doc.client_id])
        self.send(create_awareness_message(update))

    def others(self):
        return [state["user"] for client, state in self.awareness.states.items()
                if client != self.doc.client_id and isinstance(state, dict) and "user" in state]

    def source(self):
        from pycrdt import Array
        cells = self.doc.get("cells", type=Array)
        return str(cells[0]["source"]) if len(cells) else None

    def append_to_source(self, text):
        from pycrdt import Array, create_update_message
        before = self.doc.get_state()
        source = self.doc.get("cells", type=Array)[0]["source"]
        source.insert(len(source), text)
        self.send(create_update_message(self.doc.get_update(before)))


async def connect(p, session, timeout):
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect
    c = p.client
    netloc = c.host + ("" if c.port == 443 else f":{c.port}")
    room = f"{session['format']}:{session['type']}:{session['fileId']}"
    url = f"wss://{netloc}{c.base}api/collaboration/room/{room}?sessionId={session['sessionId']}"
    request = HTTPRequest(url, headers={"Cookie": c.cookie_header(), "Origin": c.origin},
                          ssl_options=c.ctx, connect_timeout=timeout, request_timeout=timeout)
    try:
        ws = await asyncio.wait_for(websocket_connect(request), timeout)
    except Exception as e:
        raise CheckFailed(f"sync {p.username}", f"websocket {url} failed: {e}")
    return Peer(p, ws)


async def until(step, done, peers, timeout, what, publish=False):
    """Wait until done(); meanwhile publish the peers' awareness every half second if asked."""
    deadline = time.monotonic() + timeout
    next_publish = 0.0
    while not done():
        for peer in peers:
            if peer.closed:
                raise CheckFailed(step, f"{peer.person.username}'s websocket {peer.closed}")
        now = time.monotonic()
        if now > deadline:
            raise CheckFailed(step, f"{what} within {timeout:.0f} s")
        if publish and now >= next_publish:
            for peer in peers:
                peer.publish_user()
            next_publish = now + 0.5
        await asyncio.sleep(0.05)


async def collaborate(a, b, path, timeout):
    sessions = [open_session(p, path) for p in (a, b)]
    peers = [await connect(p, s, timeout) for p, s in zip((a, b), sessions)]
    readers = [asyncio.ensure_future(peer.read_forever()) for peer in peers]
    try:
        for peer in peers:
            t0 = time.monotonic()
            peer.start_sync()
            name = f"sync {peer.person.username}"
            await until(name, lambda: peer.synced and peer.source() is not None, peers, timeout,
                        "no SYNC_STEP2 with the notebook's cells")
            ok(name, f"cell 0 reads {peer.source()!r} after {time.monotonic() - t0:.2f} s")
        pa, pb = peers
        marker = f"  # edited by {a.username} {uuid.uuid4().hex[:6]}"
        t0 = time.monotonic()
        pa.append_to_source(marker)
        await until("edit", lambda: marker in (pb.source() or ""), peers, timeout,
                    f"{b.username} never saw {a.username}'s edit (their cell 0: {pb.source()!r})")
        ok("edit", f"{b.username} sees {a.username}'s edit after {time.monotonic() - t0:.2f} s: {pb.source()!r}")
        t0 = time.monotonic()
        await until("awareness", lambda: pa.others() and pb.others(), peers, timeout,
                    "the peers never saw each other's awareness", publish=True)
        for me, peer in ((a, pb), (b, pa)):
            seen = peer.others()
            if len(seen) != 1:
                raise CheckFailed("awareness", f"{peer.person.username} sees {len(seen)} others: {seen!r}")
            check_name("awareness", seen[0], me)
        ok("awareness", f"{a.username} sees {pa.others()[0]['name']!r}, {b.username} sees "
           f"{pb.others()[0]['name']!r} after {time.monotonic() - t0:.2f} s")
        return marker
    finally:
        for reader in readers:
            reader.cancel()
        for peer in peers:
            peer.ws.close()


def check_saved(b, path, marker, timeout):
    deadline = time.monotonic() + timeout
    while True:
        st, _, data = b.client.request("GET", "api/contents/" + urllib.parse.quote(path) + "?content=1")
        if st == 200:
            source = json.loads(data)["content"]["cells"][0]["source"]
            if marker in source:
                ok("saved", f"{path} on disk has the edit (read by {b.username})")
                return
        if time.monotonic() > deadline:
            raise CheckFailed("saved", f"GET api/contents/{path} -> {st}; the edit never reached the file")
        time.sleep(0.25)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="public Jupyter URL, e.g. https://jupyter.lab:8888/")
    ap.add_argument("--cafile", required=True, help="CA bundle to verify the server certificate")
    ap.add_argument("--person", nargs=3, action="append", default=[], metavar=("USERNAME", "PASSWORD", "NAME"))
    ap.add_argument("--refused", nargs=2, action="append", default=[], metavar=("USERNAME", "PASSWORD"))
    ap.add_argument("--rtc", choices=["on", "off"], help="what the lab page must tell the frontend")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds for each collaboration step")
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    people = [Person(u, pw, n, a.url, ctx) for u, pw, n in a.person]
    try:
        lc.check_tls(lc.Client(a.url, ctx, timeout=30), ctx)
        for username, password in a.refused:
            refused(a.url, ctx, username, password)
        for p in people:
            log_in(p)
        if a.rtc:
            check_frontend(people[0], a.rtc)
        if len(people) == 2:
            path = f"collab-check-{uuid.uuid4().hex[:8]}.ipynb"
            create_notebook(people[0], path, "x = 6 * 7")
            marker = asyncio.run(collaborate(people[0], people[1], path, a.timeout))
            check_saved(people[1], path, marker, a.timeout)
    except CheckFailed as e:
        print(f"FAIL {e.name}: {e.detail}", flush=True)
        return 1
    except Exception as e:  # unexpected: name what it was
        print(f"FAIL unexpected: {type(e).__name__}: {e}", flush=True)
        return 1
    print("collab_check: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
