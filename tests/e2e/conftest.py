"""
Fixtures for notimock's end-to-end tests.

Each test module gets its own notimock (the real binary, $NOTIMOCK_BIN) in a
fresh temporary directory, listening on a kernel-chosen loopback port.  Tests
talk to it over raw http.client connections, so that every header sent
(Content-Type above all: Argo CD sends none) is under the test's control.

Set $NOTIMOCK_URL to run the tests against a server that is already running
(under gdb, or the reference Backstage backend in ../shared/oracle); then
tests that need their own server or its database file are skipped.
$NOTIMOCK_USER_TOKEN supplies a user token for such a server, and
NOTIMOCK_E2E_ORACLE=1 says it is the reference backend (its epoch-ms times
are then read as ISO strings).  NOTIMOCK_E2E_KEEP=1 keeps each server's
working directory (database, stderr.log) after the test.

Standard library only, besides pytest.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zlib

import pytest

TOKEN = "test-token-0123456789abcdef0123456789"
BASE_URL = "http://127.0.0.1:3000"
# What app.baseUrl looks like as the `base` of an Invalid URL cause.
BASE = BASE_URL + "/"
MOUNT = "/api/notifications"
NOTIFS = MOUNT + "/notifications"
DEFAULT_SUBJECT = "argocd-notifications"
USER_TOKEN = "user-token-alice-0123456789abcdef"
USER_REF = "user:default/alice"
JSON_CT = "application/json; charset=utf-8"
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

TEST_TIMEOUT = 60	# seconds, per test (signal.alarm)
START_TIMEOUT = 10	# seconds until "listening on"
STOP_TIMEOUT = 5	# seconds between SIGTERM and SIGKILL

_LISTEN_RE = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")
_SANITIZER_RE = re.compile(
    r"ERROR: (?:AddressSanitizer|LeakSanitizer)|runtime error:")
UUID4_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_MS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

_DEFAULT = object()	# "use the server's own token"

# Set when $NOTIMOCK_URL is the reference Backstage backend, whose SQLite
# store prints saved/read/updated as epoch milliseconds (spec section 8).
ORACLE = bool(os.environ.get("NOTIMOCK_E2E_ORACLE"))
_EPOCH_MS_RE = re.compile(rb'"(saved|read|updated)":(\d{13})')


def oracle_iso(body):
    """body with the reference backend's epoch-ms times turned into the
    ISO strings notimock emits; body itself unless ORACLE."""
    if not ORACLE:
        return body

    def iso(m):
        ms = int(m.group(2))
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
        return b'"%s":"%s.%03dZ"' % (m.group(1), t.encode(), ms % 1000)
    return _EPOCH_MS_RE.sub(iso, body)


class ServerStartError(Exception):
    """The binary exited, or did not say it listens, in time."""

    def __init__(self, message, log, exited):
        super().__init__(message + "\n--- notimock log ---\n" + log)
        self.log = log
        self.exited = exited


class Response(tuple):
    """(status, headers, body): headers is an http.client.HTTPMessage
    (case-insensitive .get/.get_all), body the raw bytes."""

    def __new__(cls, status, headers, body):
        return super().__new__(cls, (status, headers, body))

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


def dumps(obj):
    """JSON the way Node's JSON.stringify writes it: compact, non-ASCII
    kept as UTF-8, keys in insertion order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def err_body(name, message, method, url, status, cause=None):
    """Backstage's error body (section 11.1), as bytes."""
    error = {"name": name, "message": message}
    if cause is not None:
        error["cause"] = cause
    return dumps({"error": error, "request": {"method": method, "url": url},
                  "response": {"statusCode": status}}).encode()


def assert_error(resp, status, name, message, method="POST",
                 url="/notifications", cause=None):
    """Status, exact body bytes, exact Content-Type, no WWW-Authenticate."""
    want = err_body(name, message, method, url, status, cause)
    assert (resp.status, resp.body) == (status, want)
    assert resp.headers.get("Content-Type") == JSON_CT
    assert resp.headers.get("WWW-Authenticate") is None


def assert_input_error(resp, message, method="POST", url="/notifications"):
    assert_error(resp, 400, "InputError", message, method, url)


def assert_empty_404(resp):
    """Backstage's "no route matched": 404, empty body, no Content-Type."""
    assert (resp.status, resp.body) == (404, b"")
    assert resp.headers.get("Content-Type") is None


_MASK = re.compile(r'"(id|created|updated)":"[^"]*"')


def masked(body):
    """The body with id, created and updated values replaced by <id>..."""
    return _MASK.sub(lambda m: '"%s":"<%s>"' % (m.group(1), m.group(1)),
                     body.decode())


def assert_broadcast_sent(resp, payload, origin=DEFAULT_SUBJECT):
    """200 and Backstage's answer to a broadcast send (spec section 7):
    the one notification stored, payload (JSON text, as Node prints it)
    with "severity" appended when it was not sent, user null."""
    assert resp.status == 200, resp
    assert resp.headers.get("Content-Type") == JSON_CT
    assert masked(resp.body) == (
        '[{"payload":%s,"origin":"%s","created":"<created>","user":null,'
        '"id":"<id>"}]' % (payload, origin))


def chunked(data, size=1000):
    """data as a chunked transfer-coding (send with Transfer-Encoding)."""
    out = b""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


class Server:
    """A notimock to talk to: ours (proc set) or $NOTIMOCK_URL's."""

    def __init__(self, host, port, token=TOKEN, proc=None, workdir=None,
                 db_path=None, argv=None):
        self.host = host
        self.port = port
        self.token = token
        self.proc = proc
        self.workdir = workdir
        self.db_path = db_path
        self.argv = argv
        self._lines = []
        self._lock = threading.Lock()
        self._reader = None
        self.stop_status = None

    # --- HTTP -------------------------------------------------------------

    def req(self, method, path, body=None, headers=None, token=_DEFAULT,
            timeout=30):
        """One request on a fresh connection; returns a Response.

        body: bytes or str (sent as UTF-8), or None for no body at all.
        headers: dict or list of (name, value), sent as given and in order;
        nothing else is added but Host and, for a body, Content-Length
        (unless headers has Content-Length or Transfer-Encoding).
        token: the bearer token (default: the server's), None for no
        Authorization header; ignored if headers has Authorization."""
        if isinstance(body, str):
            body = body.encode()
        hdrs = list(headers.items()) if isinstance(headers, dict) else \
            list(headers or [])
        names = {h.lower() for h, _ in hdrs}
        if token is _DEFAULT:
            token = self.token
        if token is not None and "authorization" not in names:
            hdrs.insert(0, ("Authorization", "Bearer " + token))
        if body is not None and not names & {"content-length",
                                             "transfer-encoding"}:
            hdrs.append(("Content-Length", str(len(body))))
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for h, v in hdrs:
                conn.putheader(h, v)
            conn.endheaders()
            if body:
                conn.send(body)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.msg, data)
        finally:
            conn.close()

    def post_json(self, path, obj, token=_DEFAULT,
                  content_type="application/json", headers=None):
        """POST obj (JSON-encoded unless bytes/str) with content_type
        (None: no Content-Type header)."""
        body = obj if isinstance(obj, (bytes, str)) else dumps(obj)
        hdrs = list(headers or [])
        if content_type is not None:
            hdrs.append(("Content-Type", content_type))
        return self.req("POST", path, body, hdrs, token)

    def send(self, obj, **kw):
        """POST obj to /api/notifications/notifications."""
        return self.post_json(NOTIFS, obj, **kw)

    def raw(self, data, timeout=10):
        """Send raw bytes on a fresh socket; return everything read until
        the server closes or goes quiet for a second.  The bytes are sent
        from a thread, so a server that answers before reading a large
        body does not block us."""
        with socket.create_connection((self.host, self.port),
                                      timeout=timeout) as s:
            def sender():
                try:
                    s.sendall(data)
                except OSError:
                    pass
            t = threading.Thread(target=sender, daemon=True)
            t.start()
            out = read_response(s, timeout)
            t.join(timeout)
            return out

    # --- Process ----------------------------------------------------------

    def log(self):
        with self._lock:
            return b"".join(self._lines).decode("utf-8", "replace")

    def wait_log(self, *texts, timeout=10.0):
        """The log once it holds every one of texts.  A line is written
        after the reply it describes, and read by another thread: a test
        that looks at once can miss it on a loaded machine."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if all(t in log for t in texts) or time.monotonic() > deadline:
                return log
            time.sleep(0.02)

    def alive(self):
        return self.proc is None or self.proc.poll() is None

    def stop(self):
        """SIGTERM, SIGKILL after STOP_TIMEOUT s; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        self.stop_status = self.proc.returncode
        return self.stop_status


def parse_response(data):
    """Split raw HTTP/1.1 response bytes into (status, {lower-case name:
    value}, body); the body is de-chunked.  Skips 1xx interim responses."""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "incomplete response: %r" % data[:200]
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200:
            data = rest
            continue
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                if n == 0:
                    break
                body += rest[:n]
                rest = rest[n + 2:]
        else:
            body = rest[:int(hdrs.get("content-length", len(rest)))]
        return status, hdrs, body


def _complete(data):
    """True once data holds a whole final response (or cannot grow)."""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return False
        status = int(head.split(None, 2)[1])
        if 100 <= status < 200:
            data = rest
            continue
        low = head.lower()
        if b"transfer-encoding: chunked" in low:
            return rest.endswith(b"0\r\n\r\n")
        for line in low.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                return len(rest) >= int(line.split(b":")[1])
        return False		# ends when the server closes


def read_response(s, timeout=10.0):
    """Read until a whole final response arrived, the peer closed, or
    timeout seconds passed."""
    out = b""
    deadline = time.monotonic() + timeout
    while not _complete(out):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
    return out


def server_env(extra=None):
    """The environment for a server: ours without anything notimock reads
    (ARGOCD_NOTIFICATION_TOKEN, the NOTIMOCK_* twins of its flags)."""
    env = {k: v for k, v in os.environ.items()
           if k != "ARGOCD_NOTIFICATION_TOKEN" and
           not k.startswith("NOTIMOCK_")}
    env.update(extra or {})
    return env


def notimock_bin():
    b = os.environ.get("NOTIMOCK_BIN")
    if not b:
        pytest.fail("NOTIMOCK_BIN is not set (path of the notimock binary)")
    if not os.access(b, os.X_OK):
        pytest.fail("NOTIMOCK_BIN=%s is not an executable file" % b)
    return b


def base_argv(workdir, db_path=None, token=TOKEN, base_url=BASE_URL,
              extra=()):
    argv = [notimock_bin(), "--listen", "127.0.0.1:0", "--tls-listen", "off",
            "--db", db_path or os.path.join(workdir, "notimock.db")]
    if token is not None:
        argv += ["--token", token]
    if base_url is not None:
        argv += ["--base-url", base_url]
    return argv + list(extra)


def start_server(extra=(), token=TOKEN, base_url=BASE_URL, env=None,
                 db_path=None, client_token=_DEFAULT):
    """Start notimock; return a ready Server or raise ServerStartError.

    token: the --token argument (None: no --token).  client_token: what
    req() sends by default (default: token without its ":subject")."""
    workdir = tempfile.mkdtemp(prefix="notimock-e2e-")
    db_path = db_path or os.path.join(workdir, "notimock.db")
    argv = base_argv(workdir, db_path, token, base_url, extra)
    if client_token is _DEFAULT:
        client_token = token.split(":", 1)[0] if token else None
    stdout = open(os.path.join(workdir, "stdout.log"), "wb")
    proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE,
                            env=server_env(env))
    stdout.close()
    srv = Server("127.0.0.1", None, client_token, proc, workdir, db_path,
                 argv)
    found = threading.Event()

    def reader():
        with open(os.path.join(workdir, "stderr.log"), "wb") as f:
            for line in proc.stderr:
                f.write(line)
                f.flush()
                with srv._lock:
                    srv._lines.append(line)
                m = _LISTEN_RE.search(line)
                if m and srv.port is None:
                    srv.port = int(m.group(1))
                    found.set()
        found.set()

    srv._reader = threading.Thread(target=reader, daemon=True)
    srv._reader.start()
    found.wait(START_TIMEOUT)
    if srv.port is None:
        exited = proc.poll() is not None
        _discard(srv)
        raise ServerStartError(
            "notimock %s before saying 'listening on http://127.0.0.1:"
            "<port>' (%s)" % ("exited with %s" % proc.returncode if exited
                              else "took %d s" % START_TIMEOUT,
                              " ".join(argv)), srv.log(), exited)
    deadline = time.monotonic() + 5
    while True:
        try:
            if srv.req("GET", "/.backstage/health/v1/readiness",
                       token=None, timeout=2).status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            _discard(srv)
            raise ServerStartError("readiness never answered 200",
                                   srv.log(), proc.poll() is not None)
        time.sleep(0.05)
    return srv


def _discard(srv):
    """Stop a server that failed to start and remove its directory."""
    srv.stop()
    if not os.environ.get("NOTIMOCK_E2E_KEEP"):
        shutil.rmtree(srv.workdir, ignore_errors=True)


def finish_server(srv):
    """Stop srv, put its log into the test's captured stderr, and fail if a
    sanitizer complained."""
    srv.stop()
    log = srv.log()
    sys.stderr.write("--- notimock %s (exit %s) ---\n%s" %
                     (" ".join(srv.argv[1:]), srv.stop_status, log))
    if not os.environ.get("NOTIMOCK_E2E_KEEP"):
        shutil.rmtree(srv.workdir, ignore_errors=True)
    assert not _SANITIZER_RE.search(log), "sanitizer report in the log"


def run_expect_exit(extra=(), token=None, env=None, base_url=BASE_URL,
                    timeout=5):
    """Run notimock that is expected to refuse to start; return (exit
    status, stderr).  Fails if it is still running after timeout s."""
    workdir = tempfile.mkdtemp(prefix="notimock-e2e-")
    argv = base_argv(workdir, None, token, base_url, extra)
    try:
        p = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=server_env(env), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("notimock kept running: %s\n%s" %
                    (" ".join(argv), (e.stderr or b"").decode("utf-8",
                                                              "replace")))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def external_server():
    url = os.environ.get("NOTIMOCK_URL")
    if not url:
        return None
    u = urllib.parse.urlsplit(url)
    return Server(u.hostname, u.port or 80, TOKEN)


# --- Fixtures ---------------------------------------------------------------

@pytest.fixture(autouse=True)
def _hard_timeout():
    """No test may hang: SIGALRM after TEST_TIMEOUT seconds."""
    def on_alarm(signum, frame):
        raise TimeoutError("test still running after %d s" % TEST_TIMEOUT)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def server():
    """One notimock per test module (or $NOTIMOCK_URL's)."""
    ext = external_server()
    if ext is not None:
        yield ext
        return
    try:
        srv = start_server()
    except ServerStartError as e:
        pytest.fail(str(e))
    yield srv
    finish_server(srv)


@pytest.fixture
def own_server():
    """Factory: start(extra_args, token=..., env=...) -> Server, stopped at
    the end of the test.  Skips under $NOTIMOCK_URL."""
    if external_server() is not None:
        pytest.skip("needs its own notimock (NOTIMOCK_URL is set)")
    started = []

    def start(extra=(), **kw):
        try:
            srv = start_server(extra, **kw)
        except ServerStartError as e:
            pytest.fail(str(e))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        finish_server(srv)


@pytest.fixture(scope="module")
def user_server():
    """A notimock that also knows a user token (--user-token), with
    srv.user_token set.  xfail if the binary does not take the flag yet."""
    ext = external_server()
    if ext is not None:
        ut = os.environ.get("NOTIMOCK_USER_TOKEN")
        if not ut:
            pytest.skip("NOTIMOCK_USER_TOKEN not set for NOTIMOCK_URL")
        ext.user_token = ut
        yield ext
        return
    try:
        srv = start_server(["--user-token", USER_TOKEN + "=" + USER_REF])
    except ServerStartError as e:
        if e.exited:
            pytest.xfail("read side not built yet")
        pytest.fail(str(e))
    srv.user_token = USER_TOKEN
    yield srv
    finish_server(srv)


def db(server):
    """A read-only sqlite3 connection to server's database file."""
    if server.db_path is None:
        pytest.skip("no database file to read (NOTIMOCK_URL is set)")
    uri = "file:%s?mode=ro" % urllib.request.pathname2url(server.db_path)
    conn = sqlite3.connect(uri, uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


# The fields of a delivery that src/db_pack.c stores packed, in its order.
PACKED_FIELDS = ("headers", "body", "response", "payload", "recipients",
                 "users", "diagnoses")


def unpack_delivery(conn, row):
    """A deliveries row as a dict, its packed fields (src/db_pack.c: raw
    deflate with the dictionary pack_dicts.dict) back in their columns:
    what the row held before schema 6, byte for byte."""
    d = dict(row)
    packed = d.get("packed")
    if packed is None:
        return d
    dic = conn.execute("SELECT dict FROM pack_dicts WHERE id = ?",
                       (d["dict"],)).fetchone()[0]
    n = shift = i = 0
    while True:
        b = packed[i]
        i += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            break
    z = zlib.decompressobj(-15, zdict=dic)
    raw = z.decompress(packed[i:]) + z.flush()
    assert len(raw) == n, "a packed delivery does not unpack"
    at = 0
    for name in PACKED_FIELDS:
        size = int.from_bytes(raw[at:at + 4], "little")
        at += 4
        if size == 0xffffffff:
            d[name] = None
            continue
        v = raw[at:at + size]
        at += size
        d[name] = v if name == "body" else v.decode("utf-8")
    return d


def to_schema_6(conn):
    """Undo schema 7 on an open store (its read-side counters, triggers and
    indexes: src/db.c), as a store of schema 6 had it; the caller sets
    user_version and commits."""
    for trigger in ("add", "del", "upd"):		# add: schema 7 only
        conn.execute("DROP TRIGGER IF EXISTS notification_counts_" +
                     trigger)
    conn.execute("DROP TABLE notification_counts")
    conn.execute("DROP INDEX broadcast_user_status_user")
    conn.execute("DROP INDEX notifications_user")
    conn.execute("CREATE INDEX notifications_user ON notifications(user, "
                 "created)")


def columns(conn, table):
    return [r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)]
