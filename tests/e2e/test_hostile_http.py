"""
Hostile or careless HTTP: credentials where they do not belong (headers
other than Authorization, tokens in the query), running out of file
descriptors, and requests that evhttp itself refuses before notimock sees
them (README, "Limits").
"""

import hashlib
import json
import re
import socket

import ssl
import time

import pytest

from conftest import (NOTIFS, TOKEN, ServerStartError, db, dumps,
                      external_server, finish_server, parse_response,
                      start_server, unpack_delivery)
from mock_helpers import cursor, get_json, ref, wait_until
from test_tls import ca_of, context, with_tls_port

SECRET = "s3cr3t-0123456789abcdef"
PAYLOAD = dumps({"recipients": {"type": "broadcast"},
                 "payload": {"title": "hostile"}})
JSON_HDR = [("Content-Type", "application/json")]


def fingerprint(srv, value):
    """The server's keyed fingerprint (POST /mock/fingerprint)."""
    r = srv.req("POST", "/mock/fingerprint", json.dumps(
        {"sha256": hashlib.sha256(value.encode()).hexdigest()}).encode(),
        token=None)
    assert r.status == 200, r
    return r.json()["fingerprint"]


def stored(srv, seq):
    return get_json(srv, "/mock/deliveries/%d" % seq)


# --- issue 10: credential headers other than Authorization ------------------

CREDENTIAL_HEADERS = [
    ("Cookie", "sid=" + SECRET),
    ("Proxy-Authorization", "Basic " + SECRET),
    ("X-Api-Key", SECRET + "1"),
    ("X-Auth-Token", SECRET + "2"),
    ("X-Client-Secret", SECRET + "3"),
    ("X-Session-Id", SECRET + "4"),
    ("x-db-password", SECRET + "5"),
]


def test_credential_headers_are_not_stored(server):
    since = cursor(server)
    hdrs = JSON_HDR + CREDENTIAL_HEADERS + [("X-Request-Id", "req-42")]
    r = server.post_json(NOTIFS, PAYLOAD, content_type=None, headers=hdrs)
    assert r.status == 200, r
    got = dict(stored(server, since + 1)["headers"])
    for name, value in CREDENTIAL_HEADERS:
        assert got[name] == "<redacted %s>" % fingerprint(server, value), name
    # Ordinary headers stay as sent.
    assert got["X-Request-Id"] == "req-42"
    assert got["Content-Type"] == "application/json"
    if server.db_path is not None:
        conn = db(server)
        row = unpack_delivery(conn, conn.execute(
            "SELECT * FROM deliveries WHERE seq = ?", (since + 1,)
        ).fetchone())
        assert SECRET not in row["headers"]


# --- issue 15: a token in the query of a Backstage request ------------------

QUERY_SECRETS = [("token", SECRET), ("api_key", SECRET + "a"),
                 ("apikey", SECRET + "b"), ("access_token", SECRET + "c"),
                 ("Token", SECRET + "d"), ("api%5Fkey", SECRET + "e")]
QUERY = "&".join("%s=%s" % kv for kv in QUERY_SECRETS) + "&other=kept"
REDACTED = "&".join("%s=REDACTED" % k for k, _ in QUERY_SECRETS) + \
    "&other=kept"


def test_query_token_not_logged(own_server):
    """Argo CD's service.webhook url with ?token=...: the access line shows
    the request without the secrets."""
    srv = own_server()
    r = srv.post_json(NOTIFS + "?" + QUERY, PAYLOAD)
    assert r.status == 400	# Backstage takes no query on this route
    r = srv.req("GET", NOTIFS + "?" + QUERY)
    wait_until(lambda: srv.log().count("?" + REDACTED) == 2,
               what="the access lines")
    assert SECRET not in srv.log()


def test_query_token_not_stored(server):
    since = cursor(server)
    server.post_json(NOTIFS + "?" + QUERY, PAYLOAD)
    d = stored(server, since + 1)
    assert d["path"] == NOTIFS + "?" + REDACTED
    assert SECRET not in dumps(d)


# --- issue 6: out of file descriptors ----------------------------------------
# The connection bounds are clamped to the descriptor limit now, so a flood
# no longer reaches it: test_hostile_conns.py, lowered_fd_limit.

# --- issue 7: what evhttp refuses before notimock sees it -------------------

@pytest.mark.parametrize("data, status, hint", [
    # over --max-body (here 102400 bytes, its minimum): evhttp's own 413
    (b"POST " + NOTIFS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 200000\r\n\r\n" + b"x" * 200000, 413,
     "body over --max-body"),
    # over --max-headers (here 2000 bytes)
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n",
     400, "over --max-headers"),
    # a method evhttp does not know
    (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501,
     "a method evhttp does not know"),
    # a malformed request line
    (b"GET\r\nHost: x\r\n\r\n", 400, "malformed"),
], ids=["body", "headers", "method", "request-line"])
def test_refused_by_evhttp_is_logged(own_server, data, status, hint):
    """evhttp answers these itself (its HTML page, connection closed);
    notimock cannot change the answer (libevent 2.1 has no hook), but it
    logs one line for each, and carries on."""
    srv = own_server(["--max-body", "102400", "--max-headers", "2000"])
    got, hdrs, body = parse_response(srv.raw(data, timeout=5))
    assert got == status
    assert hdrs.get("connection") == "close"
    assert body.startswith(b"<HTML><HEAD>")
    wait_until(lambda: "refused by evhttp" in srv.log(), what="the log line")
    lines = [l for l in srv.log().splitlines() if "refused by evhttp" in l]
    assert len(lines) == 1, lines
    assert re.search(r"127\.0\.0\.1:\d+ - - %d .*, refused by evhttp "
                     r"before notimock saw the request \(.*%s" %
                     (status, re.escape(hint)), lines[0]), lines[0]
    assert srv.req("GET", "/.backstage/health/v1/readiness",
                   token=None).status == 200


def test_own_errors_are_not_taken_for_evhttp_refusals(server):
    """Our 4xx replies and streams go out with the watch off."""
    r = server.req("GET", "/mock/nowhere")
    assert r.status == 404
    r = server.post_json(NOTIFS, "{bad json")
    assert r.status == 400
    if server.proc is not None:
        wait_until(lambda: "POST " + NOTIFS + " 400" in server.log(),
                   what="the access line")
        assert "refused by evhttp" not in server.log()


# --- issue 15: a chunk size evhttp cannot read ------------------------------

def chunked_post(body):
    return (b"POST " + NOTIFS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + body)


BROADCAST = PAYLOAD.encode()
GOOD = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BROADCAST), BROADCAST)


@pytest.mark.parametrize("size", [
    b"zz", b"-5", b"ffffffffffffffffffffffff", b"5;ext=1", b"0x",
    b"x" * 300,
], ids=["letters", "negative", "overflow", "extension", "prefix-only",
        "long-line"])
def test_bad_chunk_size_is_400(server, size):
    """Node (under Backstage) answers a chunk size it cannot read with
    400 Bad Request and closes; evhttp said 413 (Request Entity Too Large),
    as if the body were too big.  Also for the second chunk.  (A chunk
    extension, "5;ext=1", Node reads; evhttp cannot, so notimock's answer
    is this 400: README, "Where notimock differs".)"""
    for body in (size + b"\r\nhello\r\n0\r\n\r\n",
                 b"3b\r\n" + b"x" * 0x3b + b"\r\n" + size + b"\r\n"):
        got, hdrs, rest = parse_response(server.raw(chunked_post(body),
                                                    timeout=5))
        assert got == 400, (size, got)
        assert hdrs.get("connection") == "close"
        assert rest == b""


def test_chunk_size_too_large_stays_413(own_server):
    """A size that reads but is over --max-body is evhttp's 413, as
    before; a bad size on a reused connection is a 400 and logged (the
    output of a reused connection was not readable by the watch)."""
    srv = own_server(["--max-body", "102400"])
    got, _, body = parse_response(srv.raw(chunked_post(
        b"10000000\r\nhello\r\n0\r\n\r\n"), timeout=5))
    assert got == 413 and body.startswith(b"<HTML><HEAD>")
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(chunked_post(GOOD) + chunked_post(b"zz\r\n"))
        out = b""
        while True:		# both answers, to the server's close
            data = s.recv(65536)
            if not data:
                break
            out += data
    first, _, _ = parse_response(out)
    assert first == 401		# no token: answered, and the next read
    second = out[out.index(b"HTTP/1.1", 10):]
    assert second == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
    wait_until(lambda: srv.log().count("refused by evhttp") == 2,
               what="two log lines")
    lines = [l for l in srv.log().splitlines() if "refused by evhttp" in l]
    assert " 413 Request Entity Too Large, " in lines[0], lines
    assert " 400 Bad Request, " in lines[1] and "chunk size" in lines[1]
    assert srv.req("GET", "/.backstage/health/v1/readiness",
                   token=None).status == 200


# --- issue 15: the same on TLS; a blank chunk size --------------------------

NODE_400 = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def both():
    """One notimock listening on plain HTTP and on TLS."""
    if external_server() is not None:
        pytest.skip("needs its own notimock (NOTIMOCK_URL is set)")
    try:
        srv = start_server(["--tls-listen", "127.0.0.1:0"])
    except ServerStartError as e:
        pytest.fail(str(e))
    yield with_tls_port(srv)
    finish_server(srv)


def exchange(srv, listener, data, timeout=5.0):
    """Send data on a new connection to srv's plain or TLS listener; return
    (everything read, whether the server closed) within timeout seconds."""
    s = socket.create_connection((srv.host, srv.tls_port if listener ==
                                  "tls" else srv.port), timeout=timeout)
    if listener == "tls":
        s = context(ca_of(srv)).wrap_socket(s, server_hostname="localhost")
    out, closed = b"", False
    deadline = time.monotonic() + timeout
    with s:
        s.sendall(data)
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                got = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                closed = True
                break
            if not got:
                closed = True
                break
            out += got
    return out, closed


def authed_chunked(body):
    return (b"POST " + NOTIFS.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer " +
            TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" +
            body)


LISTENERS = ["plain", "tls"]


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("size", [b"zz", b"-5", b"ffffffffffffffffffffffff",
                                  b"0x", b"x" * 300],
                         ids=["letters", "negative", "overflow",
                              "prefix-only", "long-line"])
def test_bad_chunk_size_is_node_400_on_both_listeners(both, listener, size):
    """The TLS listener answered evhttp's 413 (and its HTML page) for a
    chunk size it cannot read; both now answer Node's bare 400 and
    close, for the first chunk and a later one."""
    for body in (size + b"\r\nhello\r\n0\r\n\r\n",
                 b"3\r\n[1]\r\n" + size + b"\r\n"):
        out, closed = exchange(both, listener, authed_chunked(body))
        assert out == NODE_400 and closed, (listener, size, out[:200])


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("body", [
    b"\r\n", b"\r\n\r\n", b"\n",
    b"%x\r\n%s\r\n\r\n0\r\n\r\n" % (len(BROADCAST), BROADCAST),
], ids=["crlf", "two-crlf", "lf", "after-a-chunk"])
def test_blank_chunk_size_is_node_400(both, listener, body):
    """A blank line where a chunk size belongs (at the body's start, or a
    second line end after a chunk's data): evhttp skipped it and waited,
    so the client got nothing until the head deadline cut it; Node (the
    Backstage oracle, checked by hand) answers a bare 400 and closes."""
    out, closed = exchange(both, listener, authed_chunked(body))
    assert out == NODE_400 and closed, (listener, body, out[:200])
    assert "a blank chunk size; answered 400" in both.wait_log(
        "a blank chunk size; answered 400")


@pytest.mark.parametrize("listener", LISTENERS)
def test_chunked_framing_still_read(both, listener):
    """What the watch follows must not break good framing: a chunk whose
    data is a line end (JSON white space), a size with leading zeros, a
    one-byte chunk, and a trailer; then the next request on the same
    connection."""
    parts = [b"2\r\n\r\n\r\n", b"00%x\r\n%s\r\n" % (len(BROADCAST) - 1,
                                                     BROADCAST[:-1])]
    parts += [b"1\r\n%s\r\n" % BROADCAST[-1:]]
    body = b"".join(parts) + b"0\r\nX-Trailer: 1\r\n\r\n"
    out, _ = exchange(both, listener, authed_chunked(body) +
                      b"GET /.backstage/health/v1/readiness HTTP/1.1\r\n"
                      b"Host: x\r\nConnection: close\r\n\r\n")
    first, _, _ = parse_response(out)
    assert first == 200, out[:300]
    assert out.count(b"HTTP/1.1 200 OK") == 2, out[-300:]


def exchange_parts(srv, listener, parts, timeout=5.0):
    """Like exchange, but each of parts is sent on its own, a moment after
    the one before, so the server reads them as separate segments."""
    s = socket.create_connection((srv.host, srv.tls_port if listener ==
                                  "tls" else srv.port), timeout=timeout)
    if listener == "tls":
        s = context(ca_of(srv)).wrap_socket(s, server_hostname="localhost")
    out = b""
    with s:
        for part in parts:
            s.sendall(part)
            time.sleep(0.05)
        while True:
            got = s.recv(65536)
            if not got:
                break
            out += got
    return out


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("data", [b"\n", b" "], ids=["lf", "space"])
def test_long_chunk_size_line_then_one_byte_is_read(both, listener, data):
    """A size line longer than the watch's copy (leading zeros, then 1)
    can not be read by the watch: it must stop following the framing, not
    take the chunk's one byte of data, when it is a line end arriving on
    its own, for a blank size line (and make evhttp fail a good
    request)."""
    head = authed_chunked(b"").replace(b"\r\n\r\n",
                                       b"\r\nConnection: close\r\n\r\n")
    parts = [head, b"0" * 140 + b"1\r\n", data,
             b"\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(BROADCAST), BROADCAST)]
    out = exchange_parts(both, listener, parts)
    first, _, _ = parse_response(out)
    assert first == 200, (listener, data, out[:300])
