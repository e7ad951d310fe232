"""
--log-format json (README.md, "Metrics and logs"): every line a run writes
is one JSON object with time, level and msg, and a request's line carries
its fields; the text format is unchanged.
"""

import json
import re
import socket

from conftest import NOTIFS, dumps
from mock_helpers import ref

REQUEST_FIELDS = {"remote", "method", "path", "route", "status", "bytes",
                  "duration_ms", "origin", "diagnoses", "seq", "fault"}


def body(entity, title="Synced"):
    return dumps({"recipients": {"type": "entity", "entityRef": entity},
                  "payload": {"title": title}})


def lines_of(srv):
    srv.stop()
    return [ln for ln in srv.log().splitlines() if ln]


def test_every_json_line_parses_and_requests_carry_fields(own_server):
    srv = own_server(["--log-format", "json", "--admin-token",
                      "admin-0123456789"])
    ent = ref("jsonlog")
    assert srv.post_json(NOTIFS, body(ent)).status == 200
    assert srv.post_json(NOTIFS, body(ent), token="wrong-token-xyz"
                         ).status == 401
    r = srv.req("POST", "/mock/faults", dumps({"drop": True, "times": 1}),
                token="admin-0123456789")
    assert r.status == 201
    fid = r.json()["id"]
    try:
        srv.post_json(NOTIFS, body(ent, "dropped"))
    except OSError:
        pass
    # Hostile bytes in the path, a secret in the query, not UTF-8.
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        s.sendall(b"GET /mock/cursor?access_token=admin-0123456789&x=%ff\xff"
                  b"\x1b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
    srv.req("GET", "/.backstage/health/v1/liveness", token=None)
    lines = lines_of(srv)
    objs = [json.loads(ln) for ln in lines]	# every line parses
    for o in objs:
        assert {"time", "level", "msg"} <= set(o), o
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                        o["time"])
        assert o["level"] in ("error", "warn", "info", "debug", "trace")
    reqs = [o for o in objs if "method" in o]
    assert len(reqs) >= 5
    for o in reqs:
        assert REQUEST_FIELDS <= set(o), o
        assert isinstance(o["status"], int)
        assert isinstance(o["bytes"], int)
        assert isinstance(o["duration_ms"], (int, float))
        assert isinstance(o["diagnoses"], list)
    posts = [o for o in reqs if o["method"] == "POST" and
             o["path"] == NOTIFS]
    ok, refused, dropped = posts
    assert (ok["status"], ok["origin"], ok["fault"]) == \
        (200, "argocd-notifications", None)
    assert isinstance(ok["seq"], int) and ok["seq"] > 0
    assert "no-recipients" in ok["diagnoses"]
    assert (refused["status"], refused["origin"]) == (401, None)
    assert refused["seq"] == ok["seq"] + 1
    assert (dropped["fault"], dropped["seq"]) == (fid, ok["seq"] + 2)
    assert dropped["outcome"].startswith("fault: closed the connection")
    # The token never appears; the path is redacted and escaped.
    text = "\n".join(lines)
    assert "admin-0123456789" not in text and "wrong-token-xyz" not in text
    cursor = [o for o in reqs if o["path"].startswith("/mock/cursor")][0]
    assert cursor["path"].startswith("/mock/cursor?access_token=REDACTED")
    assert "\\x1b" in cursor["path"] and cursor["seq"] is None


def test_text_format_is_unchanged(own_server):
    srv = own_server([])
    ent = ref("textlog")
    srv.post_json(NOTIFS, body(ent))
    lines = lines_of(srv)
    line = [ln for ln in lines if "POST " + NOTIFS in ln][0]
    assert re.match(r"^\S+Z info  127\.0\.0\.1:\d+ POST %s 200 \d+ "
                    r"\d+\.\d{3}ms origin=argocd-notifications "
                    r"diag=no-recipients$" % re.escape(NOTIFS), line), line
    assert not any(ln.startswith("{") for ln in lines)
