"""
Hostile connections (issue 15): slowloris on the plain and TLS listeners,
the connection bounds (overall and per client address), health at the bound,
a lowered descriptor limit, and answers slower than --idle-timeout.

Every client here is on loopback; 127.0.0.0/8 is all loopback on Linux, so
127.0.0.2 and up stand for other client addresses.  Each test is bounded:
a handful of seconds of deadlines, a few hundred sockets at most.
"""

import functools
import http.client
import json
import os
import re
import resource
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import NOTIFS, TOKEN, dumps, parse_response, read_response
from mock_helpers import get_json, wait_until
from test_tls import ca_of, context, with_tls_port

READY = "/.backstage/health/v1/readiness"
LIVE = "/.backstage/health/v1/liveness"
PAYLOAD = dumps({"recipients": {"type": "broadcast"},
                 "payload": {"title": "hostile conns"}})


def connect(srv, source="127.0.0.1", port=None, timeout=5):
    return socket.create_connection((srv.host, port or srv.port),
                                    timeout=timeout,
                                    source_address=(source, 0))


def request(srv, method, path, source="127.0.0.2", body=None, timeout=10):
    """One request from a given client address; (status, headers, body)."""
    with connect(srv, source, timeout=timeout) as s:
        head = "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" \
            % (method, path, TOKEN)
        if body is not None:
            head += "Content-Type: application/json\r\n" \
                "Content-Length: %d\r\n" % len(body)
        s.sendall(head.encode() + b"\r\n" + (body or "").encode())
        data = read_response(s, timeout)
    return parse_response(data)


def closed_by_server(s, within):
    """True if the server closes s (EOF or reset) within `within` s."""
    s.settimeout(within)
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Dribbler:
    """Slowloris: each socket sends a request head one byte at a time, a
    byte every `every` seconds, never finishing it."""

    HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000

    def __init__(self, socks, every=0.3):
        self.socks = list(socks)
        self.every = every
        self.closed = {}
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.start = time.monotonic()
        self.t.start()

    def run(self):
        i = 0
        while not self.stop.is_set() and i < len(self.HEAD):
            for s in self.socks:
                if s in self.closed:
                    continue
                try:
                    s.send(self.HEAD[i:i + 1])
                except OSError:
                    self.closed[s] = time.monotonic() - self.start
            i += 1
            self.stop.wait(self.every)

    def finish(self):
        self.stop.set()
        self.t.join(5)
        for s in self.socks:
            s.close()


def test_slow_head_plain_cut_at_deadline(own_server):
    """200 connections sending a byte every 0.3 s: before, each byte
    restarted the idle timer and they stayed for hours; now the whole head
    must arrive within --head-timeout, while a normal client is served."""
    srv = own_server(["--head-timeout", "2s"])
    socks = [connect(srv) for _ in range(200)]
    d = Dribbler(socks)
    try:
        time.sleep(0.5)
        st, _, _ = request(srv, "POST", NOTIFS, body=PAYLOAD)
        assert st == 200
        # Deadline 2 s; idle timeout (30 s) never fires while bytes flow.
        for s in socks:
            assert closed_by_server(s, 12), "slow client still connected"
    finally:
        d.finish()
    wait_until(lambda: "(--head-timeout); closed" in srv.log(),
               what="the cut logged")
    assert request(srv, "GET", READY)[0] == 200


def test_head_deadline_never_longer_than_idle_timeout(own_server):
    srv = own_server(["--head-timeout", "60s", "--idle-timeout", "2s"])
    assert "a request must arrive within 2 s" in srv.wait_log(
        "a request must arrive within 2 s")


def test_slow_tls_handshake_and_head_cut(own_server):
    """On TLS the deadline covers the handshake too: a client that stalls
    in it, and one that sends its head a byte at a time after it."""
    srv = with_tls_port(own_server(["--tls-listen", "127.0.0.1:0",
                                    "--head-timeout", "2s"]))
    ctx = context(ca_of(srv))
    stalled = [connect(srv, port=srv.tls_port) for _ in range(10)]
    for s in stalled:
        s.sendall(b"\x16\x03\x01")	# the start of a ClientHello, no more
    slow = []
    for _ in range(10):
        raw = connect(srv, port=srv.tls_port)
        slow.append(ctx.wrap_socket(raw, server_hostname="localhost"))
    d = Dribbler(slow)
    try:
        conn = http.client.HTTPSConnection("localhost", srv.tls_port,
                                           context=ctx, timeout=10)
        conn.request("GET", READY)
        assert conn.getresponse().status == 200
        conn.close()
        for s in stalled:
            assert closed_by_server(s, 12), "stalled handshake kept"
        for s in slow:
            try:
                got = closed_by_server(s, 12)
            except ssl.SSLError:
                got = True
            assert got, "slow TLS head kept"
    finally:
        d.finish()
        for s in stalled:
            s.close()


def test_connections_per_client_bound(own_server):
    srv = own_server(["--max-connections-per-client", "5"])
    held = [connect(srv, "127.0.0.1") for _ in range(5)]
    try:
        time.sleep(0.3)
        extra = connect(srv, "127.0.0.1")
        assert closed_by_server(extra, 5), "a 6th connection was kept"
        extra.close()
        # Another client address is served.
        assert request(srv, "POST", NOTIFS, "127.0.0.2",
                       PAYLOAD)[0] == 200
    finally:
        for s in held:
            s.close()
    wait_until(lambda: "over --max-connections-per-client; refused" in
               srv.log(), what="the refusal logged")
    assert re.search(r"connections: 127\.0\.0\.1: over "
                     r"--max-connections-per-client", srv.log())


def test_connection_bound_keeps_health(own_server):
    """At --max-connections, health still answers (from a reserve, and the
    connection then closes); anything else gets Backstage's 503; past the
    reserve a connection is closed as it is accepted."""
    srv = own_server(["--max-connections", "10"])
    held = []
    try:
        for i in range(10):		# 5 per client address at most
            held.append(connect(srv, "127.0.0.%d" % (3 + i % 3)))
        time.sleep(0.3)
        for path in (READY, LIVE):
            st, hdrs, body = request(srv, "GET", path, "127.0.0.9")
            assert (st, body) == (200, b'{"status":"ok"}')
            assert hdrs.get("connection") == "close"
        st, hdrs, body = request(srv, "POST", NOTIFS, "127.0.0.9", PAYLOAD)
        assert st == 503, body
        assert hdrs.get("connection") == "close"
        assert b'"name":"ServiceUnavailableError"' in body
        assert b"--max-connections" in body
        # Fill the reserve (16), then one more is refused at once.
        for i in range(16):
            held.append(connect(srv, "127.0.0.%d" % (10 + i % 4)))
        time.sleep(0.3)
        extra = connect(srv, "127.0.0.20")
        assert closed_by_server(extra, 5)
        extra.close()
    finally:
        for s in held:
            s.close()
    wait_until(lambda: "over --max-connections and the reserve" in
               srv.log(), what="the refusal logged")
    # Below the bound again: served as usual.
    wait_until(lambda: request(srv, "POST", NOTIFS, "127.0.0.9",
                               PAYLOAD)[0] == 200, what="served again")


def test_lowered_fd_limit_does_not_lock_others_out(own_server, monkeypatch):
    """With 64 descriptors, 300 connections from one address used to take
    them all (accept failed for everyone); the bounds are clamped to the
    limit, so another client is still served."""
    nofile = 64

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with monkeypatch.context() as mp:
        mp.setattr(subprocess, "Popen",
                   functools.partial(subprocess.Popen, preexec_fn=lower))
        srv = own_server()
    socks = []
    try:
        for _ in range(300):
            try:
                socks.append(connect(srv, "127.0.0.1"))
            except OSError:
                break
        time.sleep(0.5)
        for path in (READY, LIVE):
            assert request(srv, "GET", path, "127.0.0.2")[0] == 200
        assert request(srv, "POST", NOTIFS, "127.0.0.3", PAYLOAD)[0] == 200
    finally:
        for s in socks:
            s.close()
    log = srv.log()
    assert "more than the file-descriptor limit allows" in log
    assert "Too many open files" not in log


# --- answers slower than --idle-timeout --------------------------------------

def test_slow_answer_outlives_idle_timeout(own_server):
    """A /mock/ query slower than --idle-timeout (here a test-only delay
    of 2.5 s against 1 s) is answered, and logged as what it was."""
    srv = own_server(["--idle-timeout", "1s"],
                     env={"NOTIMOCK_TEST_DELAY_MS": "2500"})
    st, _, body = request(srv, "GET", "/mock/deliveries?limit=1")
    assert st == 200, body
    assert body.startswith(b"{")
    wait_until(lambda: re.search(r"GET /mock/deliveries\?limit=1 200 \d+ "
                                 r"2\d\d\d\.\d+ms", srv.log()),
               what="the access line")


def test_slow_reset_outlives_idle_timeout(own_server):
    """The issue's other case: a reset slower than --idle-timeout deleted
    its rows and answered the client nothing.  It is answered, with the
    count, and logged as what the client got."""
    srv = own_server(["--idle-timeout", "1s"],
                     env={"NOTIMOCK_TEST_DELAY_MS": "2500"})
    assert request(srv, "POST", NOTIFS, body=PAYLOAD)[0] == 200
    st, _, body = request(srv, "DELETE", "/mock/deliveries")
    assert st == 200, body
    assert json.loads(body)["deleted"] == 1
    wait_until(lambda: re.search(r"DELETE /mock/deliveries 200 \d+ "
                                 r"2\d\d\d\.\d+ms", srv.log()),
               what="the access line")


def test_long_poll_outlives_idle_timeout(own_server):
    srv = own_server(["--idle-timeout", "1s"])
    t0 = time.monotonic()
    st, _, body = request(srv, "GET", "/mock/wait?timeout=3s&count=1")
    assert time.monotonic() - t0 > 2.5
    assert st in (200, 408), body
    assert body.startswith(b"{")


def test_client_gone_before_slow_answer_is_logged(own_server):
    srv = own_server(env={"NOTIMOCK_TEST_DELAY_MS": "1000"})
    with connect(srv, "127.0.0.2") as s:
        s.sendall(b"GET /mock/deliveries?limit=2 HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
        time.sleep(0.2)
    wait_until(lambda: "client went away before the reply" in srv.log(),
               what="the access line")
    line = [l for l in srv.log().splitlines()
            if "/mock/deliveries?limit=2" in l][0]
    assert re.search(r" 499 0 .* client went away before the reply \(its "
                     r"200 reply of \d+ bytes was not delivered\)", line), line


# --- disk fillers -------------------------------------------------------------

def test_refused_bodies_are_stored_truncated(own_server):
    """20 unauthenticated 1 MB POSTs (all 401) used to add their whole
    bodies to the store; now a refused body keeps its first 4 KiB, the
    delivery says how large it was, and the bytes not kept are counted."""
    srv = own_server()
    body = dumps({"recipients": {"type": "entity",
                                 "entityRef": "component:default/filler"},
                  "payload": {"title": "filler",
                              "description": "x" * 1000000}})
    size0 = os.path.getsize(srv.db_path)
    for _ in range(20):
        r = srv.post_json(NOTIFS, body, token=None)
        assert r.status == 401
    cur = get_json(srv, "/mock/cursor")
    d = get_json(srv, "/mock/deliveries/%d" % cur["cursor"])
    assert d["status"] == 401
    assert d["bodyBytes"] == 4096
    assert d["bodyTruncated"] is True
    assert d["bodySize"] == len(body)
    assert d["body"] == body[:4096]
    assert cur["bodiesTruncated"] == 20
    assert cur["bodyBytesNotStored"] == 20 * (len(body) - 4096)
    wal = srv.db_path + "-wal"
    grown = os.path.getsize(srv.db_path) - size0 + \
        (os.path.getsize(wal) if os.path.exists(wal) else 0)
    assert grown < 4 * 1024 * 1024, grown
    # An accepted body is kept up to --max-stored-body (1 MiB): whole here.
    ok = dumps({"recipients": {"type": "broadcast"},
                "payload": {"title": "kept", "description": "y" * 50000}})
    assert srv.post_json(NOTIFS, ok).status == 200
    d = get_json(srv, "/mock/deliveries/%d" %
                 get_json(srv, "/mock/cursor")["cursor"])
    assert d["bodyBytes"] == len(ok) and "bodyTruncated" not in d


def test_stored_body_cap(own_server):
    srv = own_server(["--max-stored-body", "1000"])
    body = dumps({"recipients": {"type": "broadcast"},
                  "payload": {"title": "capped", "description": "z" * 5000}})
    assert srv.post_json(NOTIFS, body).status == 200
    d = get_json(srv, "/mock/deliveries/%d" %
                 get_json(srv, "/mock/cursor")["cursor"])
    assert (d["bodyBytes"], d["bodySize"], d["bodyTruncated"]) == \
        (1000, len(body), True)
    assert d["payload"]["title"] == "capped"	# parsed before the cut


def test_stream_heartbeat_longer_than_idle_timeout(own_server):
    """heartbeat=2s with --idle-timeout 1s: the stream used to be cut
    between two beats (evhttp's read timeout, restarted by each write)."""
    from mock_helpers import EventStream
    srv = own_server(["--idle-timeout", "1s"])
    es = EventStream(srv, {"heartbeat": "2s"})
    try:
        assert es.next_block() == "retry: 2000"
        assert es.next_block(timeout=5) == ": heartbeat"
        assert es.next_block(timeout=5) == ": heartbeat"
    finally:
        es.close()


@pytest.mark.parametrize("listener", ["plain", "tls"])
def test_content_length_over_max_body_answered_promptly(own_server, listener):
    """A Content-Length over --max-body (or past any number) with no body
    used to get no answer until the idle timeout (evhttp waits to discard
    that many bytes); now 413 within about a second, then close: on TLS
    too, where it got nothing until the head deadline.  A length that is
    no number at all ("1e20" as written) is evhttp's prompt 400."""
    srv = with_tls_port(own_server(["--idle-timeout", "60s",
                                    "--head-timeout", "60s",
                                    "--tls-listen", "127.0.0.1:0"]))
    for cl, want in ((b"100000000000000000000", 413),
                     (b"99999999999", 413), (b"1e20", 400)):
        s = connect(srv, "127.0.0.2", timeout=10,
                    port=srv.tls_port if listener == "tls" else None)
        if listener == "tls":
            s = context(ca_of(srv)).wrap_socket(s,
                                                server_hostname="localhost")
        with s:
            s.sendall(b"POST " + NOTIFS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: " + cl + b"\r\n\r\n")
            data = read_response(s, 8)
        st, hdrs, body = parse_response(data)
        assert st == want, data
        assert hdrs.get("connection") == "close"
        if want == 413:
            assert b'"statusCode":413' in body
            assert b"--max-body (4194304 bytes)" in body
    assert "Content-Length over --max-body" in srv.log()
