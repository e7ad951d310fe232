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
from mock_helpers import (cli, cursor, get_json, ref, send, topic,
                          wait_until)


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
    # The log is read by another thread: wait for the line.
    pat = (r"mock: /mock/events reader 127\.0\.0\.1:\d+ fell "
           r"behind \(more than \d+ bytes unread\): %d events? not sent, "
           r"ended at seq %d" % (behind["lost"], behind["resumeFrom"]))
    wait_until(lambda: re.search(pat, srv.log()), what="the log line")


# --- 7. -n checks what start would ------------------------------------------

def check(args, env=None, cwd=None):
    e = server_env(env)
    return subprocess.run([notimock_bin(), "-n"] + list(args), cwd=cwd,
                          capture_output=True, text=True, env=e, timeout=30)


def test_check_finds_what_start_would_refuse(tmp_path):
    tok = ["--token", TOKEN]
    p = check(["--listen", "garbage"] + tok)
    assert p.returncode == 1 and "configuration OK" not in p.stdout
    assert "listen address must be ADDR:PORT or 'off', not 'garbage'" in \
        p.stderr
    missing = str(tmp_path / "missing.pem")
    p = check(["--tls-cert", missing, "--tls-key", missing] + tok)
    assert p.returncode == 1
    assert "cannot read the certificate %s" % missing in p.stderr
    p = check(["--tls-key", missing] + tok)
    assert p.returncode == 1 and "needs --tls-cert" in p.stderr
    # A directory that is a file: unwritable for root too.
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "x.db"
    p = check(["--db", str(bad)] + tok)
    assert p.returncode == 1
    assert "cannot create the database %s: directory %s: " % (
        bad, tmp_path / "file") in p.stderr
    # And start refuses before creating anything.
    p = subprocess.run([notimock_bin(), "--listen", "garbage", "--db",
                        "x.db"] + tok, cwd=tmp_path, capture_output=True,
                       text=True, env=server_env(), timeout=30)
    assert p.returncode == 1
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_check_mismatched_key(tmp_path):
    d1, d2 = tmp_path / "a", tmp_path / "b"
    for d in (d1, d2):
        p = subprocess.run([notimock_bin(), "ca", "create", "--out", str(d)],
                           capture_output=True, text=True, env=server_env(),
                           timeout=30)
        assert p.returncode == 0, p.stderr
    p = check(["--tls-cert", str(d1 / "tls.crt"), "--tls-key",
               str(d2 / "tls.key"), "--token", TOKEN])
    assert p.returncode == 1
    assert "the private key %s does not match the certificate %s" % (
        d2 / "tls.key", d1 / "tls.crt") in p.stderr


def test_check_warnings(tmp_path):
    p = check([])
    assert p.returncode == 0 and p.stdout.endswith("configuration OK\n")
    assert "warning: NO TOKEN CONFIGURED" in p.stderr
    cfg = tmp_path / "old.yaml"
    cfg.write_text("backend:\n  auth:\n    keys:\n"
                   "      - secret: old-style-key-0123456789\n")
    p = check(["-f", str(cfg), "--token", TOKEN])
    assert p.returncode == 0
    assert "warning: backend.auth.keys is ignored" in p.stderr
    p = check(["--token", TOKEN], env={"NOTIMOCK_TOKNE": "x"})
    assert p.returncode == 0
    assert ("warning: NOTIMOCK_TOKNE is not a notimock setting and is "
            "ignored (did you mean NOTIMOCK_TOKEN?)") in p.stderr


def test_check_verbose_prints_settings_with_fingerprints():
    p = check(["-v", "--token", TOKEN + ":job-1", "--admin-token",
               "admin-secret-0123456789"],
              env={"NOTIMOCK_LISTEN": "127.0.0.1:7100"})
    assert p.returncode == 0, p.stderr
    assert TOKEN not in p.stdout and "admin-secret" not in p.stdout
    assert re.search(r"^  token +hmac:[0-9a-f]{12}:job-1 +\(--token\)$",
                     p.stdout, re.M), p.stdout
    assert re.search(r"^  listen +127\.0\.0\.1:7100 +\(NOTIMOCK_LISTEN\)$",
                     p.stdout, re.M), p.stdout
    assert re.search(r"^  admin-token +hmac:[0-9a-f]{12} ", p.stdout, re.M)


def test_failed_start_leaves_nothing_and_memory_db_no_ca(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run([notimock_bin(), "--db", "x.db", "--listen",
                            "127.0.0.1:%d" % port, "--tls-listen",
                            "127.0.0.1:0", "--token", TOKEN], cwd=tmp_path,
                           capture_output=True, text=True, env=server_env(),
                           timeout=30)
    assert p.returncode == 1
    assert "Address already in use" in p.stderr
    assert os.listdir(tmp_path) == []
    # :memory: keeps nothing, certificates included.
    work = tmp_path / "mem"
    work.mkdir()
    srv = subprocess.Popen([notimock_bin(), "--db", ":memory:", "--listen",
                            "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
                            "--token", TOKEN], cwd=work, text=True,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           env=server_env())
    try:
        https = None
        for line in srv.stderr:
            m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", line)
            if m:
                https = int(m.group(1))
                break
        assert https
        assert os.listdir(work) == []
    finally:
        srv.terminate()
        srv.wait(10)
    assert os.listdir(work) == []
