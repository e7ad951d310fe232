"""
GET /metrics (README.md, "Metrics and logs"): the Prometheus text format
as promtool checks it, counters that move by exactly what the test sent,
bounded labels, and the admin token.
"""

import re
import shutil
import subprocess

import pytest

from conftest import NOTIFS, dumps
from mock_helpers import ref, wait_until

PROMTOOL = shutil.which("promtool")
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(srv, token=None):
    r = srv.req("GET", "/metrics", token=token)
    assert r.status == 200, r
    assert r.headers.get("Content-Type") == \
        "text/plain; version=0.0.4; charset=utf-8"
    return r.body.decode()


def samples(text):
    """{(name, labels): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, "not a sample line: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(s, name, labels=""):
    return s.get((name, labels), 0.0)


def body(entity, title="Synced"):
    return dumps({"recipients": {"type": "entity", "entityRef": entity},
                  "payload": {"title": title}})


def test_promtool_accepts_it(server):
    server.post_json(NOTIFS, body(ref("prom")))
    server.req("GET", "/.backstage/health/v1/readiness", token=None)
    text = scrape(server)
    if PROMTOOL is None:
        pytest.fail("promtool is missing: scripts/deps installs it "
                    "(Debian package prometheus)")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout + p.stderr == ""	# not even a lint warning


def test_counters_move_by_what_was_sent(server):
    before = samples(scrape(server))
    ent = ref("count")
    for _ in range(3):
        assert server.post_json(NOTIFS, body(ent)).status == 200
    for _ in range(2):
        assert server.post_json(NOTIFS, body(ent),
                                token="not-a-token-at-all").status == 401
    r = server.req("POST", "/mock/faults",
                   dumps({"status": 503, "times": 1, "entity": ent}),
                   token=None)
    assert r.status == 201
    assert server.post_json(NOTIFS, body(ent)).status == 503
    server.req("DELETE", "/mock/faults", token=None)
    after = samples(scrape(server))

    def delta(name, labels=""):
        return value(after, name, labels) - value(before, name, labels)
    ok = '{status="200",origin="argocd-notifications"}'
    assert delta("notimock_deliveries_total", ok) == 3
    assert delta("notimock_deliveries_total",
                 '{status="401",origin="unknown"}') == 2
    assert delta("notimock_deliveries_total",
                 '{status="503",origin="argocd-notifications"}') == 1
    assert delta("notimock_faults_fired_total") == 1
    # Three accepted sends to nobody in the catalog (no-recipients),
    # and the same bytes again (duplicate) after the first.
    assert delta("notimock_diagnoses_total", '{code="no-recipients"}') >= 3
    assert delta("notimock_request_duration_seconds_count",
                 '{route="/api/notifications"}') == 6
    assert delta("notimock_delivery_cursor") == 6
    assert value(after, "notimock_database_size_bytes") > 0
    # The scrape between is counted under its own route.
    assert delta("notimock_request_duration_seconds_count",
                 '{route="/metrics"}') == 1


def test_labels_are_bounded(server):
    """No entity ref, id, path or user reaches a label."""
    ent = ref("secret-entity")
    server.post_json(NOTIFS, body(ent))
    server.req("GET", "/no/such/path/" + ref("p"), token=None)
    text = scrape(server)
    assert ent not in text and "secret-entity" not in text
    assert "/no/such" not in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes <= {"/api/notifications", "/.backstage/health/v1/readiness",
                      "/.backstage/health/v1/liveness", "/mock/ca.pem",
                      "/mock/faults", "/metrics", "/mock", "/api/auth",
                      "/api", "/", "/app.js", "/style.css", "/favicon.svg",
                      "/js", "other"}
    assert "other" in routes


def test_gauges(server):
    """Open connections come back to the scrape's own after a drop and a
    reset; waiters show while a wait is pending."""
    ent = ref("gauge")
    for action in ("drop", "reset"):
        server.req("POST", "/mock/faults",
                   dumps({action: True, "times": 1, "entity": ent}),
                   token=None)
        try:
            server.post_json(NOTIFS, body(ent))
        except OSError:
            pass
    wait_until(lambda: value(samples(scrape(server)),
                             "notimock_connections_open") == 1,
               what="connections to close")
    s = samples(scrape(server))
    assert value(s, "notimock_waiters") == 0
    assert value(s, "notimock_event_streams") == 0
    assert value(s, "notimock_build_info", '{version="0.1.0"}') == 1


def test_behind_the_admin_token_only(own_server):
    srv = own_server(["--admin-token", "admin-0123456789"])
    r = srv.req("GET", "/metrics", token=None)
    assert r.status == 401
    # The Backstage token is not the admin token.
    r = srv.req("GET", "/metrics")
    assert r.status == 401
    assert "notimock_connections_open" in scrape(srv, "admin-0123456789")
    r = srv.req("POST", "/metrics", token="admin-0123456789")
    assert r.status == 405 and r.headers.get("Allow") == "GET, HEAD"


def test_tls_handshakes(own_server):
    import ssl
    import socket
    srv = own_server(["--tls-listen", "127.0.0.1:0"])
    # The https line is read by another thread, after the http one the
    # fixture waited for: wait for it too.
    log = srv.wait_log("listening on https://")
    m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", log)
    assert m, log
    port = int(m.group(1))
    before = samples(scrape(srv))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /.backstage/health/v1/liveness HTTP/1.1\r\n"
                      b"Host: x\r\nConnection: close\r\n\r\n")
            while t.recv(4096):
                pass
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x05garbage")
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass

    def moved():
        after = samples(scrape(srv))
        return (value(after, "notimock_tls_handshakes_total",
                      '{outcome="ok"}') - value(
                          before, "notimock_tls_handshakes_total",
                          '{outcome="ok"}') == 1 and
                value(after, "notimock_tls_handshakes_total",
                      '{outcome="failed"}') - value(
                          before, "notimock_tls_handshakes_total",
                          '{outcome="failed"}') == 1)
    wait_until(moved, what="one good and one failed handshake")
