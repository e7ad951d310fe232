"""
What notimock keeps in its SQLite file (src/db.c): one `deliveries` row per
request attempt under the plugin, accepted or rejected, with the
Authorization header reduced; one `notifications` row per stored
notification; all of it surviving a restart on the same --db.
"""

import json
import time

import pytest

from conftest import (MOUNT, NOTIFS, TOKEN, assert_input_error, columns, db,
                      dumps, unpack_delivery)

JSON = [("Content-Type", "application/json")]
VALID = dumps({"recipients": {"type": "broadcast"},
               "payload": {"title": "stored"}})
WRONG = "wrong-token-abcdef0123456789xyz"


def last_seq(conn):
    return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM deliveries"
                        ).fetchone()[0]


def rows_after(server, seq, n, timeout=3.0):
    """The deliveries after seq, waiting until there are n of them."""
    deadline = time.monotonic() + timeout
    while True:
        with db(server) as conn:
            rows = [unpack_delivery(conn, r) for r in conn.execute(
                "SELECT * FROM deliveries WHERE seq > ? ORDER BY seq",
                (seq,)).fetchall()]
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def test_delivery_columns(server):
    with db(server) as conn:
        have = set(columns(conn, "deliveries"))
        notif = set(columns(conn, "notifications"))
    assert {"seq", "method", "path", "status", "response", "body", "headers",
            "origin"} <= have
    assert {"id", "user", "origin", "title", "created"} <= notif


def test_every_attempt_is_stored(server):
    with db(server) as conn:
        before = last_seq(conn)
    sent = [
        ("POST", NOTIFS, VALID, JSON, TOKEN),
        ("POST", NOTIFS, b"{bad", JSON, TOKEN),
        ("POST", NOTIFS, VALID, JSON, None),
        ("POST", NOTIFS, VALID, JSON, WRONG),
        ("POST", NOTIFS + "?x=1", VALID, [], TOKEN),
        ("PUT", NOTIFS, b"{}", JSON, TOKEN),
        ("GET", MOUNT + "/status", None, None, TOKEN),
        ("POST", MOUNT, b'{"recipients":{"type":"broadcast"},"payload":{}}',
         JSON, TOKEN),
    ]
    got = [server.req(m, p, b, h, token=t) for m, p, b, h, t in sent]
    assert [r.status for r in got] == [200, 400, 401, 401, 400, 404, 403,
                                       400]
    rows = rows_after(server, before, len(sent))
    assert [(r["method"], r["path"], r["status"]) for r in rows] == \
        [(m, p, g.status) for (m, p, _, _, _), g in zip(sent, got)]
    for (_, _, body, _, _), g, row in zip(sent, got, rows):
        assert text(row["response"]).encode() == g.body
        if isinstance(body, str):
            body = body.encode()
        stored = row["body"]
        if isinstance(stored, str):
            stored = stored.encode()
        assert stored == (body or b"")
    assert rows[0]["origin"] == "argocd-notifications"
    assert rows[2]["origin"] is None and rows[3]["origin"] is None
    assert all(a["seq"] < b["seq"] for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("auth", [
    "Bearer " + TOKEN,
    "bearer   " + TOKEN,
    "Bearer " + WRONG,
    "Bearer " + TOKEN + " extra",
    "Basic " + TOKEN,
    TOKEN,
    "Token" + TOKEN,
], ids=["valid", "valid-odd-spelling", "wrong", "extra", "basic", "bare",
        "glued"])
def test_authorization_is_reduced(server, auth):
    """No stored column shows the token, or any 12 characters of it."""
    with db(server) as conn:
        before = last_seq(conn)
    r = server.req("POST", NOTIFS, VALID, [("Authorization", auth),
                                           ("X-E2E-Probe", "probe-value")]
                   + JSON)
    assert r.status in (200, 401)
    rows = rows_after(server, before, 1)
    assert len(rows) == 1
    row = rows[0]
    headers = json.loads(text(row["headers"]))
    names = [h[0].lower() for h in headers]
    assert "authorization" in names
    assert ["X-E2E-Probe", "probe-value"] in headers or \
        ["x-e2e-probe", "probe-value"] in headers
    blob = " ".join(text(v) for v in row.values() if v is not None)
    for secret in (TOKEN, WRONG):
        for i in range(len(secret) - 11):
            assert secret[i:i + 12] not in blob, (secret[i:i + 12], row)


def test_log_never_shows_tokens(server):
    if server.proc is None:
        pytest.skip("no log to read (NOTIMOCK_URL is set)")
    for t in (TOKEN, WRONG):
        server.req("POST", NOTIFS, VALID, JSON, token=t)
    server.req("POST", NOTIFS, VALID, [("Authorization", TOKEN)] + JSON)
    time.sleep(0.2)
    log = server.log()
    assert "listening on" in log
    for secret in (TOKEN, WRONG):
        for i in range(len(secret) - 11):
            assert secret[i:i + 12] not in log, secret[i:i + 12]


def test_accepted_notifications_are_stored(server):
    body = {"recipients": {"type": "entity",
                           "entityRef": ["user:default/st-a",
                                         "user:default/st-b"]},
            "payload": {"title": "Stored title", "description": "d",
                        "topic": "argocd", "unknown": "unknown-xyz-value",
                        "metadata": {"app": "my-app", "rev": 3}}}
    r = server.req("POST", NOTIFS, dumps(body), JSON)
    assert r.status == 200
    got = r.json()
    with db(server) as conn:
        rows = [dict(x) for x in conn.execute(
            "SELECT * FROM notifications WHERE id IN (?, ?) ORDER BY user",
            (got[0]["id"], got[1]["id"]))]
    assert [(x["id"], x["user"], x["origin"], x["title"]) for x in rows] == \
        [(e["id"], e["user"], "argocd-notifications", "Stored title")
         for e in got]
    for x in rows:
        assert x["description"] == "d" and x["topic"] == "argocd"
        assert x["severity"] == "normal"
        assert json.loads(x["metadata"]) == {"app": "my-app", "rev": 3}
        assert "unknown-xyz-value" not in " ".join(
            text(v) for v in x.values() if v is not None)


def test_broadcast_stored_without_user(server):
    r = server.req("POST", NOTIFS, VALID, JSON)
    nid = r.json()[0]["id"]
    with db(server) as conn:
        row = conn.execute("SELECT user, title FROM notifications WHERE id = ?",
                           (nid,)).fetchone()
    assert tuple(row) == (None, "stored")


@pytest.mark.parametrize("body", [
    {"recipients": {"type": "entity",
                    "entityRef": ["user:default/st-atomic", "guest"]},
     "payload": {"title": "st-atomic"}},
    {"recipients": {"type": "entity", "entityRef": "user:default/st-atomic"},
     "payload": {"title": "st-atomic", "link": "ftp://x"}},
    {"recipients": {"type": "entity", "entityRef": "user:default/st-atomic"},
     "payload": {"title": "st-atomic", "severity": "urgent"}},
], ids=["bad-ref-in-list", "bad-link", "bad-severity"])
def test_rejected_sends_store_no_notification(server, body):
    """Seen on the reference backend: a 400 stores nothing, not even for
    the valid user ref listed before a malformed one."""
    r = server.req("POST", NOTIFS, dumps(body), JSON)
    assert r.status == 400
    with db(server) as conn:
        n = conn.execute("SELECT COUNT(*) FROM notifications WHERE user = ?",
                         ("user:default/st-atomic",)).fetchone()[0]
    assert n == 0


def test_restart_keeps_data(own_server):
    first = own_server()
    body = dumps({"recipients": {"type": "entity",
                                 "entityRef": "user:default/restart"},
                  "payload": {"title": "before", "scope": "restart-scope",
                              "description": "kept"}})
    a = first.req("POST", NOTIFS, body, JSON).json()[0]
    with db(first) as conn:
        seq = last_seq(conn)
    first.stop()
    second = own_server(db_path=first.db_path)
    resend = dumps({"recipients": {"type": "entity",
                                   "entityRef": "user:default/restart"},
                    "payload": {"title": "after", "scope": "restart-scope"}})
    b = second.req("POST", NOTIFS, resend, JSON).json()[0]
    assert b["id"] == a["id"] and b["created"] == a["created"]
    assert b["payload"]["title"] == "after"
    assert b["payload"]["description"] == "kept"
    with db(second) as conn:
        assert last_seq(conn) > seq
        old = conn.execute("SELECT method, path, status FROM deliveries "
                           "WHERE seq = ?", (seq,)).fetchone()
    assert tuple(old) == ("POST", NOTIFS, 200)


def test_refused_unparsed_body_is_filed_under_its_entity(server):
    """Argo CD without a Content-Type: Backstage never parses the body and
    answers 400, but the delivery still records the entity and title it
    was for (the record only; the answer is Backstage's)."""
    body = dumps({"recipients": {"type": "entity",
                                 "entityRef": "component:default/no-ctype"},
                  "payload": {"title": "no content type", "topic": "t1"}})
    r = server.req("POST", NOTIFS, body, [("User-Agent",
                                           "Go-http-client/1.1")])
    assert_input_error(r, "unsupported media type undefined")
    conn = db(server)
    row = conn.execute("SELECT status, entities, title, topic FROM "
                       "deliveries ORDER BY seq DESC LIMIT 1").fetchone()
    refs = [x[0] for x in conn.execute(
        "SELECT ref FROM delivery_entities WHERE seq = "
        "(SELECT max(seq) FROM deliveries)")]
    conn.close()
    assert tuple(row) == (400, '["component:default/no-ctype"]',
                          "no content type", "t1")
    assert refs == ["component:default/no-ctype"]
