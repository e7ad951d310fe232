"""
HTTPS end to end: the real binary with its generated CA, verification ON
(never CERT_NONE / curl -k), keep-alive and a new connection per request (as
Argo CD sends), restart keeps the CA, a certificate of your own, and hostile
clients.
"""

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import NOTIFS, TOKEN, dumps, finish_server, start_server

_HTTPS_RE = re.compile(r"listening on https://127\.0\.0\.1:(\d+)")
BROADCAST = dumps({"recipients": {"type": "broadcast"},
                   "payload": {"title": "over TLS"}})


def tls_server(own_server, *extra, **kw):
    srv = own_server(["--tls-listen", "127.0.0.1:0"] + list(extra), **kw)
    return with_tls_port(srv)


def with_tls_port(srv):
    deadline = time.monotonic() + 5
    while True:
        m = _HTTPS_RE.search(srv.log())
        if m:
            srv.tls_port = int(m.group(1))
            return srv
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.02)


def ca_of(srv):
    return os.path.join(os.path.dirname(srv.db_path), "ca.pem")


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return ctx


def post(conn):
    conn.request("POST", NOTIFS, BROADCAST,
                 {"Authorization": "Bearer " + TOKEN,
                  "Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def test_post_verified_against_generated_ca(own_server):
    srv = tls_server(own_server)
    conn = http.client.HTTPSConnection("localhost", srv.tls_port,
                                       context=context(ca_of(srv)))
    status, body = post(conn)
    assert status == 200
    assert json.loads(body)[0]["payload"]["title"] == "over TLS"
    # TLS 1.2 with an AEAD suite, and ALPN never offers h2.
    assert conn.sock.version() == "TLSv1.2"
    assert re.search(r"GCM|CHACHA20", conn.sock.cipher()[0])
    conn.close()
    # Stored like a plain HTTP delivery.
    assert srv.send(json.loads(BROADCAST)).status == 200


def test_alpn_never_h2(own_server):
    srv = tls_server(own_server)
    ctx = context(ca_of(srv))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", srv.tls_port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.selected_alpn_protocol() == "http/1.1"


def test_keep_alive_many_requests_one_connection(own_server):
    srv = tls_server(own_server)
    conn = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                       context=context(ca_of(srv)))
    for _ in range(50):
        assert post(conn)[0] == 200
    sock = conn.sock
    assert post(conn)[0] == 200 and conn.sock is sock	# never reconnected
    conn.close()


def test_new_connection_per_request(own_server):
    """Argo CD's Go client opens one connection for every send."""
    srv = tls_server(own_server)
    ctx = context(ca_of(srv))
    for _ in range(30):
        conn = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                           context=ctx)
        assert post(conn)[0] == 200
        conn.close()


def test_curl_with_cacert(own_server):
    srv = tls_server(own_server)
    out = subprocess.run(
        ["curl", "-sS", "--cacert", ca_of(srv), "-o", "-", "-w",
         "\n%{http_code} %{http_version}",
         "-H", "Authorization: Bearer " + TOKEN,
         "-H", "Content-Type: application/json", "-d", BROADCAST,
         "https://localhost:%d%s" % (srv.tls_port, NOTIFS)],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith("\n200 1.1")


def test_ca_pem_route_and_command(own_server):
    srv = tls_server(own_server)
    pem = open(ca_of(srv)).read()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    r = srv.req("GET", "/mock/ca.pem", token=None)
    assert r.status == 200 and r.body.decode() == pem
    out = subprocess.run([srv.argv[0], "ca", "--url",
                          "http://127.0.0.1:%d" % srv.port],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout == pem


def test_restart_keeps_the_ca_and_a_new_san_reissues_the_leaf(own_server):
    srv = tls_server(own_server)
    ca1 = open(ca_of(srv)).read()
    leaf1 = open(os.path.join(os.path.dirname(srv.db_path), "cert.pem")).read()
    db_path = srv.db_path
    srv.stop()
    again = with_tls_port(start_server(
        ["--tls-listen", "127.0.0.1:0", "--tls-san",
         "notimock.testing.svc"], db_path=db_path))
    try:
        assert open(ca_of(again)).read() == ca1
        leaf2 = open(os.path.join(os.path.dirname(db_path),
                                  "cert.pem")).read()
        assert leaf2 != leaf1			# re-issued for the new SAN
        ctx = context(ca_of(again))
        # The old CA still verifies the new leaf, under the new name too.
        conn = http.client.HTTPSConnection("127.0.0.1", again.tls_port,
                                           context=ctx)
        assert post(conn)[0] == 200
        conn.close()
        with socket.create_connection(("127.0.0.1", again.tls_port)) as raw:
            with ctx.wrap_socket(raw, server_hostname=
                                 "notimock.testing.svc") as s:
                assert s.version() == "TLSv1.2"
    finally:
        finish_server(again)


def test_own_certificate_and_key(own_server, tmp_path):
    """--tls-cert/--tls-key: an RSA certificate made by openssl."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=own.test",
                    "-addext", "subjectAltName=DNS:own.test,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    srv = tls_server(own_server, "--tls-cert", str(crt), "--tls-key",
                     str(key))
    conn = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                       context=context(str(crt)))
    assert post(conn)[0] == 200
    assert "RSA" in conn.sock.cipher()[0]
    conn.close()
    assert "own.test" in srv.log()			# SANs logged at start


def test_start_up_logs_certificate(own_server):
    srv = tls_server(own_server)
    log = srv.log()
    assert re.search(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}", log), log
    assert "127.0.0.1" in log and "localhost" in log


# --- hostile clients -----------------------------------------------------

def _still_serving(srv):
    conn = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                       context=context(ca_of(srv)))
    ok = post(conn)[0] == 200
    conn.close()
    return ok


def test_disconnect_mid_handshake(own_server):
    srv = tls_server(own_server)
    hello = _client_hello(srv)
    for cut in (0, 5, len(hello) // 2, len(hello)):
        with socket.create_connection(("127.0.0.1", srv.tls_port)) as s:
            s.sendall(hello[:cut])
    assert _still_serving(srv)


def _client_hello(srv):
    """The first flight of a real TLS client, captured through a memory
    BIO."""
    ctx = context(ca_of(srv))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def test_plain_http_on_tls_port_gets_a_helpful_400(own_server):
    srv = tls_server(own_server)
    with socket.create_connection(("127.0.0.1", srv.tls_port),
                                  timeout=5) as s:
        s.sendall(b"POST /api/notifications/notifications HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Length: 2\r\n\r\n{}")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"This port speaks TLS" in data
    assert _still_serving(srv)
    assert "TLS" in srv.log()


def test_garbage_and_a_megabyte_body(own_server):
    srv = tls_server(own_server)
    with socket.create_connection(("127.0.0.1", srv.tls_port),
                                  timeout=5) as s:
        s.sendall(bytes(range(256)) * 64)
        try:
            s.recv(100)
        except OSError:
            pass
    # A 1 MB body over TLS: Backstage's 102400-byte limit answers it.
    conn = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                       context=context(ca_of(srv)))
    big = b'{"recipients":{"type":"broadcast"},"payload":{"title":"' + \
        b"x" * (1 << 20) + b'"}}'
    conn.request("POST", NOTIFS, big, {"Authorization": "Bearer " + TOKEN,
                                       "Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 400
    assert json.loads(r.read())["error"]["message"] == \
        "request entity too large"
    conn.close()
    assert _still_serving(srv)
