"""
The assertion API as commands: `notimock wait | list | reset | cursor`
(README.md, "Asserting deliveries").  Exit codes: 0 satisfied, 1 wait timed out, 2 usage,
connection or server errors.
"""

import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import notimock_bin, server_env
from mock_helpers import (Background, cli, cursor, get_json, ref, send,
                          topic, waits_open)

ADMIN = "cli-admin-token-0123456789"


def test_cursor(server):
    p = cli(server, "cursor")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "%d\n" % cursor(server)
    p = cli(server, "cursor", "--json")
    assert json.loads(p.stdout)["cursor"] == cursor(server)


def test_wait_satisfied_prints_matches(server):
    e = ref("cli-ok")
    since = cursor(server)
    send(server, entity=e, title="order-service deployed",
         topic=topic("deploy"))
    p = cli(server, "wait", "--entity", e, "--topic", topic("deploy"),
            "--since", str(since), "--timeout", "5s")
    assert p.returncode == 0, p.stderr
    assert "order-service deployed" in p.stdout
    assert e in p.stdout
    assert re.search(r"^1 matching \(wanted 1\) after \d+ ms; cursor \d+$",
                     p.stdout, re.M)
    p = cli(server, "wait", "--entity", e, "--json", "--timeout", "1s")
    assert p.returncode == 0
    got = json.loads(p.stdout)
    assert got["matched"] == 1 and got["deliveries"][0]["entities"] == [e]


def test_wait_started_before_the_post(server):
    e = ref("cli-live")
    bg = Background(lambda: cli(server, "wait", "--entity", e, "--since",
                                "now", "--timeout", "20s"))
    waits_open(server, 1)
    t_send = time.monotonic()
    send(server, entity=e, title="deployed just now")
    p = bg.get()
    print("\nnotimock wait exited %.1f ms after the POST was sent" %
          ((bg.done_at - t_send) * 1000))
    assert p.returncode == 0, p.stderr
    assert "deployed just now" in p.stdout
    assert bg.done_at - t_send < 1.0


def test_since_now_skips_what_is_stored(server):
    e = ref("cli-now")
    send(server, entity=e)
    p = cli(server, "wait", "--entity", e, "--since", "now", "--timeout",
            "300ms")
    assert p.returncode == 1
    assert "timed out: wanted 1 matching delivery after seq %d" % \
        cursor(server) in p.stdout


def test_wait_timeout_explains(server):
    e = ref("cli-miss")
    since = cursor(server)
    send(server, entity=e, topic=topic("sync"), title="sync finished")
    t0 = time.monotonic()
    p = cli(server, "wait", "--entity", e, "--topic", topic("deploy"),
            "--since", str(since), "--timeout", "500ms")
    assert p.returncode == 1, p.stderr
    assert time.monotonic() - t0 >= 0.5
    out = p.stdout
    assert "timed out: wanted 1 matching delivery after seq %d, got 0 in " \
        "500ms" % since in out
    assert "1 delivery arrived after seq %d, 0 matching" % since in out
    assert "nearest misses:" in out
    assert "#%d " % (since + 1) in out
    assert "title: sync finished" in out
    assert "topic: want %s, got %s" % (topic("deploy"), topic("sync")) in out
    # --json: the server's 408 body, exit status still 1.
    p = cli(server, "wait", "--entity", e, "--topic", topic("deploy"),
            "--since", str(since), "--timeout", "100ms", "--json")
    assert p.returncode == 1
    assert json.loads(p.stdout)["nearMisses"][0]["failed"] == [
        {"filter": "topic", "want": topic("deploy"), "got": topic("sync")}]


def test_wait_shows_diagnoses(server):
    since = cursor(server)
    # An entity no catalog resolves: accepted, and diagnosed (it reached
    # nobody).  Waiting for a rejection makes it a near miss.
    send(server, entity=ref("cli-diag"))
    got = json.loads(cli(server, "wait", "--status", "rejected", "--since",
                         str(since), "--timeout", "0s", "--json").stdout)
    diags = got["nearMisses"][0]["delivery"]["diagnoses"]
    assert diags, "the diagnosis engine said nothing about an unresolved ref"
    p = cli(server, "wait", "--status", "rejected", "--since", str(since),
            "--timeout", "0s")
    assert p.returncode == 1
    assert "status: want rejected, got 200" in p.stdout
    assert "diagnoses:" in p.stdout
    assert "%s: " % diags[0]["code"] in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--severity", "urgent"], "notimock wait: 400 InputError: invalid "
     "'severity': 'urgent' is not one of critical, high, normal, low"),
    (["--status", "maybe"], "notimock wait: 400 InputError: invalid 'status'"),
    (["--since", "yesterday"], "notimock wait: --since takes a sequence "
     "number or 'now', not 'yesterday'"),
    (["--timeout", "forever"], "notimock wait: --timeout takes a duration "
     "such as 30s, 500ms or 2m, not 'forever'"),
    (["--limit", "3"], "notimock wait: option --limit does not apply here"),
    (["--bogus"], "unrecognized option"),
    (["extra"], "notimock wait: unexpected argument 'extra'"),
])
def test_wait_usage_errors_exit_2(server, args, message):
    p = cli(server, "wait", *args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr


def test_connection_error_exits_2():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()		# nothing listens there now
    p = subprocess.run([notimock_bin(), "wait", "--url",
                        "http://127.0.0.1:%d" % port, "--timeout", "1s"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=server_env(), text=True, timeout=30)
    assert p.returncode == 2
    assert "cannot talk to http://127.0.0.1:%d" % port in p.stderr
    p = subprocess.run([notimock_bin(), "list", "--url", "ftp://x/"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=server_env(), text=True, timeout=30)
    assert p.returncode == 2
    assert "only http and https URLs work" in p.stderr


def test_url_from_environment(server):
    p = cli(server, "cursor", url=False, env={
        "NOTIMOCK_URL": "http://%s:%d" % (server.host, server.port)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(cursor(server))


def test_list_table_escapes_hostile_text(server):
    since = cursor(server)
    send(server, entity=ref("cli-list"), title="evil \x1b[31mred\x07 \u202e"
         "txet ok")
    p = cli(server, "list", "--since", str(since))
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout
    assert "\u202e" not in p.stdout
    assert "evil \\x1b[31mred\\x07 \\u{202e}txet ok" in p.stdout
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "RECEIVED", "STATUS", "ATTEMPT",
                                "ORIGIN", "SEVERITY", "TOPIC", "ENTITIES",
                                "TITLE"]
    assert lines[1].startswith("%d " % (since + 1))
    assert lines[-1] == "1 of 1 deliveries; cursor %d" % (since + 1)
    p = cli(server, "list", "--since", str(since), "--json")
    got = json.loads(p.stdout)
    assert got["deliveries"][0]["title"].startswith("evil \x1b")


def test_list_filters_and_paging(server):
    since = cursor(server)
    e = ref("cli-page")
    for i in range(3):
        send(server, entity=e, title="n%d" % i)
    p = cli(server, "list", "--entity", e, "--limit", "2", "--offset", "1",
            "--json")
    got = json.loads(p.stdout)
    assert [d["seq"] for d in got["deliveries"]] == [since + 2, since + 1]
    assert got["total"] == 3


def test_reset(own_server):
    srv = own_server()
    send(srv, entity="user:default/alice", topic="a")
    send(srv, entity="user:default/bob", topic="b")
    p = cli(srv, "reset", "--topic", "a", "--keep-notifications")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "deleted 1 delivery and 0 notifications; cursor 2\n"
    p = cli(srv, "reset", "--json")
    assert json.loads(p.stdout) == {"deleted": 1, "notificationsDeleted": 1,
                                    "cursor": 2}
    assert get_json(srv, "/mock/deliveries")["total"] == 0


def test_admin_token(own_server):
    srv = own_server(["--admin-token", ADMIN])
    p = cli(srv, "cursor")
    assert p.returncode == 2
    assert "401 AuthenticationError: Missing admin token" in p.stderr
    assert cli(srv, "cursor", "--admin-token", ADMIN).returncode == 0
    p = cli(srv, "cursor", env={"NOTIMOCK_ADMIN_TOKEN": ADMIN})
    assert (p.returncode, p.stdout) == (0, "0\n")
    p = cli(srv, "wait", "--since", "now", "--timeout", "100ms",
            env={"NOTIMOCK_ADMIN_TOKEN": ADMIN})
    assert p.returncode == 1


def _https_server(own_server):
    srv = own_server(["--tls-listen", "127.0.0.1:0", "--tls-san",
                      "localhost"])
    m = None
    deadline = time.monotonic() + 5
    while m is None and time.monotonic() < deadline:
        m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", srv.log())
        time.sleep(0.05)
    assert m, srv.log()
    # The generated CA, kept beside the database (what `notimock ca`
    # prints).
    return srv, int(m.group(1)), os.path.join(srv.workdir, "ca.pem")


def test_https_url(own_server):
    srv, port, ca = _https_server(own_server)
    e = ref("cli-tls")
    send(srv, entity=e)
    p = cli(srv, "wait", "--url", "https://127.0.0.1:%d" % port, "--cacert",
            ca, "--entity", e, "--timeout", "5s", url=False)
    assert p.returncode == 0, p.stderr
    assert e in p.stdout
    p = cli(srv, "cursor", "--url", "https://localhost:%d/" % port,
            "--cacert", ca, url=False)
    assert (p.returncode, p.stdout) == (0, "1\n"), p.stderr
    # Without the CA the certificate does not verify.
    p = cli(srv, "cursor", "--url", "https://127.0.0.1:%d" % port,
            url=False)
    assert p.returncode == 2
    assert "cannot talk to https://127.0.0.1:%d" % port in p.stderr


# --- terminal safety (security review, items 4 and 5) -----------------------

# Bytes that must never reach a terminal raw: ESC, BEL, C1 (U+0085,
# U+009B CSI) and bidi overrides/isolates, as UTF-8.
CONTROLS = [b"\x1b", b"\x07", b"\xc2\x85", b"\xc2\x9b", b"\xe2\x80\xae",
            b"\xe2\x81\xa6"]


def assert_no_controls(out):
    for c in CONTROLS:
        assert c not in out, (c, out)


def test_wait_escapes_diagnoses(server):
    """Backstage's message for a bad entity ref carries the ref raw (wire
    text, kept as is); the CLI escapes it when it prints diagnoses."""
    since = cursor(server)
    evil = "user:/\x1b]0;owned\x07\x1b[2J\u202e\u0085"
    r = send(server, entity=evil, title="t\u009b31m")
    assert r.status == 400
    p = subprocess.run([notimock_bin(), "wait", "--url", "http://%s:%d" % (
        server.host, server.port), "--topic", topic("zz"), "--since",
        str(since), "--timeout", "0s"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=server_env(), timeout=30)
    assert p.returncode == 1, p.stderr
    assert_no_controls(p.stdout)
    out = p.stdout.decode()
    assert "entity-ref-invalid: " in out
    assert 'Entity reference "user:/\\x1b]0;owned\\x07\\x1b[2J\\u{202e}' \
        '\\u{0085}" was not on the form' in out
    assert "title: t\\u{009b}31m" in out


class FakeServer:
    """A listener that answers every request with one canned response."""

    def __init__(self, status, body, ctype="application/json"):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.response = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\n" \
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (
                status, ctype.encode(), len(body), body)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                c.sendall(self.response)

    def close(self):
        self.sock.close()


def run_cli(url, *args):
    return subprocess.run([notimock_bin()] + list(args) + ["--url", url],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=server_env(),
                          timeout=30)


@pytest.mark.parametrize("cmd", [["wait", "--timeout", "1s"], ["list"],
                                 ["reset"], ["cursor"]])
def test_server_error_name_is_escaped(cmd):
    body = json.dumps({"error": {"name": "Evil\x1b]0;owned\x07\u202e",
                                 "message": "boom\x1b[2J\u0085"}}).encode()
    fake = FakeServer(500, body)
    try:
        p = run_cli(fake.url, *cmd)
    finally:
        fake.close()
    assert p.returncode == 2
    assert_no_controls(p.stderr)
    assert "500 Evil\\x1b]0;owned\\x07\\u{202e}: boom\\x1b[2J\\u{0085}" in \
        p.stderr.decode()


@pytest.mark.parametrize("cmd", [["wait", "--timeout", "1s"], ["list"],
                                 ["reset"], ["cursor"]])
@pytest.mark.parametrize("status", [200, 502])
def test_json_mode_never_prints_a_non_json_body(cmd, status):
    """--json passes JSON through; anything else is reported escaped on
    stderr, with exit status 2."""
    fake = FakeServer(status, b"<html>\x1b]0;owned\x07\x1b[2J\xe2\x80\xae"
                      b"proxy error</html>", "text/html")
    try:
        p = run_cli(fake.url, *cmd, "--json")
    finally:
        fake.close()
    assert p.returncode == 2
    assert p.stdout == b""
    assert_no_controls(p.stderr)
    assert "<html>\\x1b]0;owned\\x07\\x1b[2J\\u{202e}proxy error</html>" in \
        p.stderr.decode()
