"""
The assertion API under hostile or unlucky timing: shutdown with requests
still queued on a connection, the admin token kept out of the log and of
error bodies, and no leak on a rejected wait.  Each test is named after the
problem it guards against; the memory ones rely on the sanitizer build
(configure --enable-sanitizers), whose reports these tests look for.
"""

import json
import re
import socket
import time
import urllib.parse

from mock_helpers import get_json, mock, wait_until, waits_open

ADMIN = "admin-secret-5f0c1d2e3a4b"
SANITIZER_RE = re.compile(
    r"ERROR: (?:AddressSanitizer|LeakSanitizer)|runtime error:")


def stop_clean(srv):
    """Stop srv; fail unless it exited 0 without a sanitizer report."""
    status = srv.stop()
    log = srv.log()
    assert not SANITIZER_RE.search(log), log[-4000:]
    assert status == 0, log[-4000:]
    return log


def streams_open(srv, n):
    wait_until(lambda: get_json(srv, "/mock/cursor")["streams"] == n,
               what="%d open streams" % n)


def recv_all(s, timeout=5):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


# --- issue 1: use-after-free at shutdown -----------------------------------

WAIT = b"GET /mock/wait?timeout=30s&topic=zz HTTP/1.1\r\nHost: x\r\n\r\n"


def test_shutdown_with_a_pipelined_wait(own_server):
    """The second wait is read during mock_stop's last turn of the loop,
    after the first is answered: it must get the 503 of a closed API, not
    join the list that is freed next."""
    srv = own_server()
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    try:
        s.sendall(WAIT + WAIT)
        waits_open(srv, 1)
        log = stop_clean(srv)
        data = recv_all(s)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 503 "), data[:200]
    assert b"notimock is shutting down" in data
    lines = [l for l in log.splitlines()
             if "GET /mock/wait?timeout=30s&topic=zz 503" in l]
    assert len(lines) == 2, log


def test_shutdown_with_a_wait_pipelined_behind_a_stream(own_server):
    """The same for a stream: its end lets evhttp read the next request."""
    srv = own_server()
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    try:
        s.sendall(b"GET /mock/events?topic=zz HTTP/1.1\r\nHost: x\r\n\r\n")
        streams_open(srv, 1)
        s.sendall(WAIT)
        time.sleep(0.2)
        log = stop_clean(srv)
        data = recv_all(s)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert b"stream ended" in log.encode()
    assert re.search(r"GET /mock/wait\?timeout=30s&topic=zz 503 ", log), log


# --- issue 2: the admin token in the log and in error bodies ---------------

def test_admin_token_never_logged_or_echoed(own_server):
    srv = own_server(["--admin-token", ADMIN])
    enc = urllib.parse.quote(ADMIN)
    cases = [
        # name percent-encoded: mock.c decodes before it compares
        ("/mock/cursor?access%5Ftoken=" + enc, 200,
         "/mock/cursor?access%5Ftoken=REDACTED"),
        # the first match is someone else's parameter
        ("/mock/cursor?xaccess_token=1&access_token=" + enc, 400,
         "/mock/cursor?xaccess_token=1&access_token=REDACTED"),
        # mock.c uses the last access_token: every one is hidden
        ("/mock/cursor?access_token=x&access_token=" + enc, 400,
         "/mock/cursor?access_token=REDACTED&access_token=REDACTED"),
        # a wrong token is a secret too (one character off the real one)
        ("/mock/cursor?access_token=" + enc + "x", 401,
         "/mock/cursor?access_token=REDACTED"),
        # not the parameter for mock.c (names are case-sensitive there),
        # so no token at all; hidden all the same
        ("/mock/deliveries?since=0&ACCESS_TOKEN=" + enc, 401,
         "/mock/deliveries?since=0&ACCESS_TOKEN=REDACTED"),
    ]
    for path, status, shown in cases:
        r = mock(srv, "GET", path)
        assert r.status == status, (path, r)
        assert ADMIN.encode() not in r.body, (path, r.body)
        if status != 200:
            assert r.json()["request"]["url"] == shown, r.body
    # /mock/ca.pem is outside the admin API but echoes its URL all the same.
    r = mock(srv, "POST", "/mock/ca.pem?access_token=" + enc)
    assert r.status == 405
    assert r.json()["request"]["url"] == "/mock/ca.pem?access_token=REDACTED"
    wait_until(lambda: "POST /mock/ca.pem" in srv.log(),
               what="the access lines")
    log = srv.log()
    assert ADMIN not in log, log
    for path, status, shown in cases:
        assert "GET %s %d " % (shown, status) in log, (shown, log)


# --- issue 8: a rejected wait leaked its timeout text ----------------------

def test_rejected_wait_does_not_leak(own_server):
    srv = own_server()
    r = mock(srv, "GET", "/mock/wait?timeout=1s&bogus=1")
    assert r.status == 400
    assert r.json()["error"]["message"] == "unknown query parameter 'bogus'"
    r = mock(srv, "GET", "/mock/wait?timeout=1s&count=0")
    assert r.status == 400
    stop_clean(srv)	# LeakSanitizer reports at exit
