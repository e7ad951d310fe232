"""
A delivery's large texts are stored packed (src/db_pack.c, schema 6): the
headers, body, response, payload, recipients, users and diagnoses go into
one `packed` BLOB, raw deflate with a dictionary from recent rows.  Issue
11 asks for at most 1 KB of disk per typical Argo CD delivery; a row used
to take ~2.4 KB, 1.4 KB of it a diagnosis's prose stored again each time.
What comes back (the file, unpacked; /mock/) is byte for byte what came in,
and a database of schema 5 opens, keeps its rows as they were, and packs
what comes after.
"""

import json
import os
import shutil
import signal
import sqlite3
import tempfile

from conftest import (NOTIFS, TOKEN, dumps, start_server, finish_server, db,
                      unpack_delivery, PACKED_FIELDS, to_schema_6)

# The Argo CD guide's deployed notification (tests/bench/post.lua).
GUIDE = dumps({"recipients": {"type": "broadcast"},
               "payload": {"title": "Deployed order-service",
                           "description": "Sync succeeded",
                           "link": "https://argocd.example.com/"
                                   "applications/order-service",
                           "severity": "normal", "topic": "argocd"}})
JSON = [("Content-Type", "application/json")]


def rows(srv):
    conn = db(srv)
    try:
        return [unpack_delivery(conn, r) for r in conn.execute(
            "SELECT * FROM deliveries ORDER BY seq")]
    finally:
        conn.close()


def mock_deliveries(srv):
    r = srv.req("GET", "/mock/deliveries?limit=1000")
    assert r.status == 200, r
    doc = json.loads(r.body)
    return [d for d in doc["deliveries"]]


def test_packed_fields_come_back_byte_for_byte(own_server):
    srv = own_server()
    odd = ('{"recipients":{"type":"broadcast"},"payload":{"title":"\u00e9t\u00e9",'
           ' "description":"\\u2603 \\n"}}').encode()
    sent = [(GUIDE.encode(), TOKEN), (odd, TOKEN), (b"{bad", TOKEN),
            (GUIDE.encode(), "wrong-token-0123456789abcdefghij")]
    got = [srv.req("POST", NOTIFS, body, JSON, token=tok)
           for body, tok in sent]
    assert [g.status for g in got] == [200, 200, 400, 401]
    stored = rows(srv)
    assert len(stored) == 4
    conn = db(srv)
    raw = conn.execute("SELECT packed, headers, body, response, payload, "
                       "diagnoses FROM deliveries").fetchall()
    conn.close()
    for r in raw:
        # Packed, and nothing of it left in the plain columns.
        assert r["packed"] is not None
        assert (r["headers"], r["body"], r["response"], r["payload"],
                r["diagnoses"]) == ("", b"", "", None, "")
    for (body, _), g, row in zip(sent, got, stored):
        assert row["body"] == body
        assert row["response"].encode() == g.body
        assert json.loads(row["headers"])[0][0] == "Host"
    assert json.loads(stored[0]["payload"]) == json.loads(GUIDE)["payload"]
    assert json.loads(stored[0]["recipients"]) == {"type": "broadcast"}
    assert stored[2]["payload"] is None
    assert json.loads(stored[2]["diagnoses"])[0]["code"] == "invalid-json"
    # The text filter reads the packed body and description.
    r = srv.req("GET", "/mock/deliveries?q=sync%20SUCCEEDED")
    assert [d["seq"] for d in json.loads(r.body)["deliveries"]] == [4, 1]
    r = srv.req("GET", "/mock/deliveries?clean=false")
    assert {d["seq"] for d in json.loads(r.body)["deliveries"]} == {3, 4}


def test_a_guide_delivery_packs_small(own_server):
    srv = own_server()
    for _ in range(300):
        assert srv.req("POST", NOTIFS, GUIDE, JSON).status == 200
    conn = db(srv)
    rows = conn.execute("SELECT * FROM deliveries").fetchall()
    packed = sum(len(r["packed"]) for r in rows)
    raw = 0
    for r in rows:
        d = unpack_delivery(conn, r)
        raw += sum(4 + len(d[f] if isinstance(d[f], bytes) else
                           (d[f] or "").encode()) for f in PACKED_FIELDS)
    dicts = conn.execute("SELECT count(*) FROM pack_dicts").fetchone()[0]
    conn.close()
    assert len(rows) == 300
    # The texts of a guide delivery (~1.2 KB framed, its duplicate
    # diagnosis included) pack to a fifth or less against the rows before
    # it: the notification's new UUID and times are what is left.
    assert packed * 4 < raw, (packed / 300, raw / 300)
    assert dicts <= 4


def _to_schema_5(path):
    """Rewrite a file of today's schema as schema 5 wrote it: plain
    columns, no read-side counters."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    plain = [unpack_delivery(conn, r) for r in
             conn.execute("SELECT * FROM deliveries").fetchall()]
    for row in plain:
        conn.execute("UPDATE deliveries SET %s WHERE seq = ?" %
                     ", ".join("%s = ?" % f for f in PACKED_FIELDS),
                     [row[f] for f in PACKED_FIELDS] + [row["seq"]])
    to_schema_6(conn)
    conn.execute("ALTER TABLE deliveries DROP COLUMN packed")
    conn.execute("ALTER TABLE deliveries DROP COLUMN dict")
    conn.execute("DROP TABLE pack_dicts")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_schema_5_database_migrates(own_server):
    srv = own_server()
    for body in (GUIDE, GUIDE, "{bad"):
        srv.req("POST", NOTIFS, body, JSON)
    before = mock_deliveries(srv)
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait()
    path = os.path.join(tempfile.mkdtemp(prefix="notimock-e2e-"), "old.db")
    shutil.copy(srv.db_path, path)
    _to_schema_5(path)
    again = start_server(db_path=path)
    try:
        assert mock_deliveries(again) == before
        conn = db(again)
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 6
        old = conn.execute("SELECT count(*) FROM deliveries WHERE packed "
                           "IS NULL").fetchone()[0]
        conn.close()
        assert old == 3
        assert again.req("POST", NOTIFS, GUIDE, JSON).status == 200
        after = mock_deliveries(again)
        assert after[1:] == before
        assert after[0]["body"] == GUIDE
        conn = db(again)
        new = conn.execute("SELECT packed IS NOT NULL FROM deliveries "
                           "WHERE seq = 4").fetchone()[0]
        conn.close()
        assert new == 1
    finally:
        finish_server(again)
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
