"""
Helpers for the assertion API tests (tests/e2e/test_mock_*.py): sending
notifications, calling /mock/ routes, reading Server-Sent Events, and
running the `notimock wait | list | reset | cursor` commands.

Entity refs and topics carry a per-run suffix, and tests scope themselves
with `since` cursors, so the modules share one server (and can run against
$NOTIMOCK_URL) without seeing each other's deliveries.
"""

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

from conftest import NOTIFS, dumps, notimock_bin, server_env

RUN = uuid.uuid4().hex[:8]


def ref(name, kind="component", ns="default"):
    """An entity ref unique to this run."""
    return "%s:%s/%s-%s" % (kind, ns, name, RUN)


def topic(name):
    return "%s-%s" % (name, RUN)


def send(srv, title="something happened", entity=None, topic=None,
         severity=None, description=None, broadcast=False, token=None,
         body=None, content_type="application/json"):
    """POST a notification the way Argo CD does; returns the Response.
    entity: a ref or a list of refs.  token: the bearer token (default:
    the server's)."""
    if body is None:
        payload = {"title": title}
        if topic is not None:
            payload["topic"] = topic
        if severity is not None:
            payload["severity"] = severity
        if description is not None:
            payload["description"] = description
        if broadcast:
            recipients = {"type": "broadcast"}
        else:
            recipients = {"type": "entity", "entityRef": entity}
        body = dumps({"recipients": recipients, "payload": payload})
    kw = {} if token is None else {"token": token}
    return srv.post_json(NOTIFS, body, content_type=content_type, **kw)


def mock_url(path, params=None):
    q = urllib.parse.urlencode(params or [], doseq=True)
    return path + ("?" + q if q else "")


def mock(srv, method, path, params=None, token=None, headers=None,
         timeout=30):
    """A /mock/ request; token is the admin token (None: no header)."""
    hdrs = list(headers or [])
    return srv.req(method, mock_url(path, params), headers=hdrs,
                   token=token, timeout=timeout)


def get_json(srv, path, params=None, token=None, status=200):
    r = mock(srv, "GET", path, params, token)
    assert r.status == status, r
    assert r.headers.get("Content-Type") == "application/json; charset=utf-8"
    return r.json()


def cursor(srv, token=None):
    return get_json(srv, "/mock/cursor", token=token)["cursor"]


def wait_until(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def waits_open(srv, n, token=None):
    """Block until the server holds exactly n pending /mock/wait requests."""
    wait_until(lambda: get_json(srv, "/mock/cursor", token=token)["waits"]
               == n, what="%d open waits" % n)


class Background(threading.Thread):
    """Run fn in a thread; .result, .error, .done_at (monotonic)."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None
        self.done_at = None
        self.start()

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:	# reported by get()
            self.error = e
        self.done_at = time.monotonic()

    def get(self, timeout=30):
        self.join(timeout)
        assert not self.is_alive(), "background call still running"
        if self.error is not None:
            raise self.error
        return self.result


class EventStream:
    """A raw /mock/events connection: next_event() parses the stream."""

    def __init__(self, srv, params=None, headers=None, token=None,
                 sock=None, read_head=True):
        """sock: a connection already open; read_head=False only sends
        the request (call read_head() later)."""
        self.sock = sock or socket.create_connection((srv.host, srv.port),
                                                     timeout=10)
        lines = ["GET %s HTTP/1.1" % mock_url("/mock/events", params),
                 "Host: %s:%d" % (srv.host, srv.port)]
        if token is not None:
            lines.append("Authorization: Bearer " + token)
        for h, v in headers or []:
            lines.append("%s: %s" % (h, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.raw = b""	# de-chunked stream bytes
        if read_head:
            self.read_head()

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding") == "chunked"

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("stream closed")
        self.buf += data

    def _dechunk(self):
        while True:
            if not self.chunked:
                self.raw += self.buf
                self.buf = b""
                return
            size, sep, rest = self.buf.partition(b"\r\n")
            if not sep:
                return
            n = int(size.split(b";")[0], 16)
            if len(rest) < n + 2:
                return
            if n == 0:
                raise EOFError("stream ended")
            self.raw += rest[:n]
            self.buf = rest[n + 2:]

    def next_block(self, timeout=10.0):
        """The next "\\n\\n"-terminated block, as text."""
        self.sock.settimeout(timeout)
        while True:
            self._dechunk()
            block, sep, rest = self.raw.partition(b"\n\n")
            if sep:
                self.raw = rest
                return block.decode()
            self._recv()

    def next_event(self, timeout=10.0):
        """The next event as a dict (event, id, data; comments skipped
        unless keep_comments)."""
        while True:
            block = self.next_block(timeout)
            ev = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    ev.setdefault("comment", line[1:].strip())
                    continue
                k, _, v = line.partition(":")
                ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
            return ev

    def close(self):
        self.sock.close()


def cli(srv, *args, env=None, url=True, timeout=60):
    """Run `notimock <args>` against srv; returns CompletedProcess (text)."""
    e = server_env(env)
    argv = [notimock_bin()] + list(args)
    if url:
        argv += ["--url", "http://%s:%d" % (srv.host, srv.port)]
    return subprocess.run(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=e, timeout=timeout, text=True)
