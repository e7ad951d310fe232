"""
What a first-time user tripped over (issue 13): each test here goes
through the real binary and failed before its fix.
"""

import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import (NOTIFS, TOKEN, dumps, notimock_bin, run_expect_exit,
                      server_env)
from mock_helpers import cli, cursor, get_json, ref, send, topic


# --- 1. schema 400s carry lint's diagnosis ---------------------------------

SCHEMA_BODIES = [
    '{"recipients":{"type":"broadcast"},"payload":{}}',
    '{"recipients":{"type":"broadcast"},"payload":{"title":5}}',
    '{"recipients":{"type":"broadcast"}}',
    '[1,2]',
    '{"recipients":{"type":"entity"},"payload":{"title":"x"}}',
]


def lint_codes(body):
    p = subprocess.run([notimock_bin(), "lint", "--json", "-"],
                       input=body, capture_output=True, text=True,
                       env=server_env(), timeout=30)
    return [(d["code"], d["evidence"]) for d in
            json.loads(p.stdout)["diagnoses"]]


@pytest.mark.parametrize("body", SCHEMA_BODIES + [
    '{"recipients":{"type":"broadcast"},"payload":{"title":""}}'])
def test_schema_400_stored_with_lints_diagnosis(server, body):
    since = cursor(server)
    r = send(server, body=body)
    assert r.status == 400
    got = get_json(server, "/mock/deliveries", {"since": since})
    d = got["deliveries"][0]
    stored = [(x["code"], x["evidence"]) for x in d["diagnoses"]]
    assert stored, "no diagnosis stored for %s" % body
    assert stored == lint_codes(body)


def test_wait_near_miss_shows_backstages_message(server):
    t = topic("schema-miss")
    since = cursor(server)
    send(server, body=dumps({"recipients": {"type": "broadcast"},
                             "payload": {"topic": t}}))
    p = cli(server, "wait", "--since", str(since), "--topic", t,
            "--status", "accepted", "--timeout", "200ms")
    assert p.returncode == 1, p.stderr
    assert "status: want accepted, got 400" in p.stdout
    assert ("answered 400: request/body/payload must have required "
            "property 'title'") in p.stdout
    assert "error   schema:" in p.stdout


# --- 2. "accepted" is not "reached someone" --------------------------------

def test_reached_and_clean_filters(server):
    t = topic("reach")
    since = cursor(server)
    nobody = send(server, entity=ref("order-service"), topic=t,
                  title="reached nobody")
    assert (nobody.status, nobody.json()) == (200, [])
    guest = send(server, entity="user:default/guest", topic=t,
                 title="reached the guest")
    assert guest.status == 200 and len(guest.json()) == 1
    everyone = send(server, broadcast=True, topic=t, title="broadcast")
    assert everyone.status == 200

    def titles(**f):
        got = get_json(server, "/mock/deliveries",
                       dict({"since": since, "topic": t}, **f))
        return [d["title"] for d in got["deliveries"]]

    assert titles(status="accepted") == ["broadcast", "reached the guest",
                                         "reached nobody"]
    assert titles(reached="true") == ["broadcast", "reached the guest"]
    assert titles(reached="false") == ["reached nobody"]
    assert titles(clean="true") == ["broadcast", "reached the guest"]
    assert titles(clean="false") == ["reached nobody"]
    r = server.req("GET", "/mock/deliveries?reached=yes", token=None)
    assert r.status == 400
    assert r.json()["error"]["message"] == \
        "invalid 'reached': 'yes' is not true or false"


def test_wait_reached_fails_on_a_send_to_nobody(server):
    e = ref("order-service")
    since = cursor(server)
    send(server, entity=e, title="deployed")
    # Accepted, so a plain wait passes, and says it reached nobody.
    p = cli(server, "wait", "--since", str(since), "--entity", e,
            "--status", "accepted", "--timeout", "5s")
    assert p.returncode == 0, p.stderr
    assert re.search(r"^diagnoses of #\d+:\n  warning no-recipients: The "
                     r"send reached no user", p.stdout, re.M), p.stdout
    for flag, why in (("--reached", "reached: want true, got []"),
                      ("--clean", 'clean: want true, got ["no-recipients"]')):
        p = cli(server, "wait", "--since", str(since), "--entity", e,
                "--status", "accepted", flag, "--timeout", "200ms")
        assert p.returncode == 1, (flag, p.stdout, p.stderr)
        assert why in p.stdout
    p = cli(server, "wait", "--since", str(since), "--entity", e,
            "--reached", "--clean", "--timeout", "0")
    assert p.returncode == 1


# --- 12. smaller things ----------------------------------------------------

def test_token_source_is_named(own_server):
    srv = own_server(token=None, client_token=TOKEN,
                     env={"NOTIMOCK_TOKEN": TOKEN})
    assert re.search(r"accepting service token \S+ \(from NOTIMOCK_TOKEN\)",
                     srv.log()), srv.log()
    assert "(from --token)" not in srv.log()


def test_reset_plurals(own_server):
    srv = own_server()
    send(srv, entity="user:default/alice", topic="a")
    p = cli(srv, "reset", "--topic", "a")
    assert p.stdout == "deleted 1 delivery and 1 notification; cursor 1\n"


def test_missing_tls_cert_names_the_file():
    missing = "/nonexistent/notimock-cert.pem"
    rc, err = run_expect_exit(["--tls-listen", "127.0.0.1:0", "--tls-cert",
                               missing, "--tls-key", missing + ".key"],
                              token=TOKEN)
    assert rc != 0
    assert ("cannot read the certificate %s: No such file or directory" %
            missing) in err, err
    assert "PK - " not in err


def test_backend_listen_port_is_honoured(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "app-config.yaml"
    cfg.write_text("backend:\n  listen:\n    port: %d\n" % port)
    argv = [notimock_bin(), "-f", str(cfg), "--db", ":memory:",
            "--tls-listen", "off", "--token", TOKEN]
    p = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=server_env(),
                         text=True)
    try:
        for line in p.stderr:
            if "listening on" in line:
                break
        assert "listening on http://127.0.0.1:%d" % port in line
    finally:
        p.terminate()
        p.wait(10)


# --- 9. client errors say what failed and what to do ----------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_connection_refused(server):
    port = _free_port()
    p = cli(server, "cursor", "--url", "http://127.0.0.1:%d" % port,
            url=False)
    assert p.returncode == 2
    assert p.stderr == (
        "notimock cursor: cannot talk to http://127.0.0.1:%d: connection "
        "refused: nothing listens on 127.0.0.1 port %d.  Is notimock "
        "running, on that port?  Point --url or NOTIMOCK_URL at it\n" %
        (port, port))


def test_client_tls_errors(own_server):
    srv = own_server(["--tls-listen", "127.0.0.1:0"])
    m = None
    for _ in range(100):
        m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", srv.log())
        if m:
            break
        time.sleep(0.05)
    assert m, srv.log()
    tls = int(m.group(1))
    # No CA: the certificate is not trusted, and --cacert is the fix.
    p = cli(srv, "cursor", "--url", "https://127.0.0.1:%d" % tls, url=False)
    assert p.returncode == 2
    assert p.stderr.startswith(
        "notimock cursor: cannot talk to https://127.0.0.1:%d: the server's "
        "certificate is not trusted (" % tls), p.stderr
    assert "Pass notimock's CA with --cacert FILE" in p.stderr
    assert "warn" not in p.stderr and "tls: " not in p.stderr
    assert len(p.stderr.splitlines()) == 1
    # https:// to the plain port.
    p = cli(srv, "cursor", "--url", "https://127.0.0.1:%d" % srv.port,
            url=False)
    assert p.returncode == 2
    assert ("cannot talk to https://127.0.0.1:%d: the server does not speak "
            "TLS on port %d" % (srv.port, srv.port)) in p.stderr, p.stderr
    assert "Then use http://" in p.stderr
    assert len(p.stderr.splitlines()) == 1


# --- 8. one keyed fingerprint form everywhere ------------------------------

def test_one_fingerprint_everywhere(own_server, tmp_path):
    db_path = str(tmp_path / "fp.db")
    srv = own_server(db_path=db_path)
    m = re.search(r"accepting service token (\S+) \(from --token\)",
                  srv.log())
    assert m, srv.log()
    logged = m.group(1)
    assert re.fullmatch(r"hmac:[0-9a-f]{12}", logged)
    p = subprocess.run([notimock_bin(), "fingerprint", "--url",
                        "http://127.0.0.1:%d" % srv.port],
                       input=TOKEN + "\n", capture_output=True, text=True,
                       env=server_env(), timeout=30)
    assert (p.returncode, p.stdout) == (0, logged + "\n"), p.stderr
    since = cursor(srv)
    send(srv, entity="user:default/guest", title="fp")
    d = get_json(srv, "/mock/deliveries", {"since": since})["deliveries"][0]
    assert d["tokenFingerprint"] == logged
    assert dict(d["headers"])["Authorization"] == "Bearer " + logged
    # A wrong token: the diagnosis shows what `notimock fingerprint` says.
    wrong = "wrong-token-for-backstage-42"
    send(srv, entity="user:default/guest", token=wrong)
    d = get_json(srv, "/mock/deliveries", {"since": since,
                                            "status": "401"})["deliveries"][0]
    p = subprocess.run([notimock_bin(), "fingerprint", "--url",
                        "http://127.0.0.1:%d" % srv.port], input=wrong,
                       capture_output=True, text=True, env=server_env(),
                       timeout=30)
    wfp = p.stdout.strip()
    assert d["tokenFingerprint"] == wfp
    assert wfp in d["diagnoses"][0]["evidence"]
    assert "notimock fingerprint" in d["diagnoses"][0]["fix"]
    # The key is the database's: the same print after a restart.
    srv.stop()
    srv2 = own_server(db_path=db_path)
    assert "accepting service token %s " % logged in srv2.log()


# --- 5. a slow event-stream reader is told, and counted --------------------

def test_slow_events_reader_is_told_and_counted(own_server):
    srv = own_server(["--stream-buffer", "65536"])
    t = topic("slow-reader")
    s = socket.socket()
    s.connect(("127.0.0.1", srv.port))
    s.sendall(("GET /mock/events?topic=%s HTTP/1.1\r\nHost: x\r\n\r\n" %
               t).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200")
    wait_streams = time.monotonic() + 10
    while get_json(srv, "/mock/cursor")["streams"] != 1:
        assert time.monotonic() < wait_streams
        time.sleep(0.01)
    title = "x" * 20000
    sent = 0
    while get_json(srv, "/mock/cursor")["streamsBehind"] == 0:
        assert sent < 1000, "the stream never fell behind"
        assert send(srv, broadcast=True, topic=t, title=title).status == 200
        sent += 1
    # Now read what the server sent: deliveries, then the notice.
    s.settimeout(30)
    data = b""
    # Until the end of the chunked reply (the connection itself may stay
    # open for keep-alive).
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    m = re.search(rb"event: behind\ndata: (\{.*?\})\n\n", data)
    assert m, data[-500:]
    behind = json.loads(m.group(1))
    ids = [int(x) for x in re.findall(rb"\nid: (\d+)\n", data)]
    assert behind["resumeFrom"] == ids[-1]
    assert behind["lost"] >= 1
    assert "Last-Event-ID" in behind["message"]
    c = get_json(srv, "/mock/cursor")
    assert c["streamsBehind"] == 1 and c["eventsLost"] == behind["lost"]
    assert c["streams"] == 0
    assert re.search(r"mock: /mock/events reader 127\.0\.0\.1:\d+ fell "
                     r"behind \(more than \d+ bytes unread\): %d events? not sent, "
                     r"ended at "
                     r"seq %d" % (behind["lost"], behind["resumeFrom"]),
                     srv.log()), srv.log()[-2000:]
