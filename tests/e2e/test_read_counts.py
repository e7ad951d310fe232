"""
The read side's counts (totalCount, /status, /topics) come from
notification_counts, which schema 7's triggers keep beside the rows
(src/db_read.c).  These tests hold them to the rows themselves through
every kind of write: sends to users and broadcasts, scope re-sends that
change topic, severity and read, read and saved marks, a filtered reset,
and a store that migrates from schema 6.  The list without a limit walks
the rows; its length must be the counted totalCount for every filter the
counters serve.
"""

import itertools
import os
import shutil
import signal
import sqlite3
import tempfile

from conftest import db, start_server, to_schema_6
from read_helpers import (ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, USER_ARGS,
                          broadcast, fresh, get_json, listing, post_json,
                          send, to)

FILTERS = ["", "read=true", "read=false", "saved=true", "saved=false",
           "read=true&saved=true", "read=true&saved=false",
           "read=false&saved=true", "read=false&saved=false",
           "topic=deploys", "topic=nothing", "minimumSeverity=high",
           "topic=argocd&minimumSeverity=low&read=false",
           "minimumSeverity=critical&saved=true"]


def recount(conn):
    """notification_counts as the rows say it should be (no empty rows),
    as sorted reprs: x'' (bytes) and text do not compare."""
    return sorted(repr(tuple(r)) for r in conn.execute(
        "SELECT coalesce(user, x''), coalesce(topic, x''), severity, "
        "count(*), count(*) FILTER (WHERE read IS NULL), "
        "count(*) FILTER (WHERE saved IS NOT NULL), "
        "count(*) FILTER (WHERE read IS NULL AND saved IS NOT NULL) "
        "FROM notifications GROUP BY 1, 2, 3").fetchall())


def counters(conn):
    return sorted(repr(tuple(r)) for r in conn.execute(
        "SELECT * FROM notification_counts WHERE total > 0").fetchall())


def assert_counts_agree(srv):
    conn = db(srv)
    try:
        assert counters(conn) == recount(conn)
    finally:
        conn.close()
    for token in (ALICE_TOKEN, BOB_TOKEN):
        rows = listing(srv, "?limit=Infinity", token)["notifications"]
        for f in FILTERS:
            doc = listing(srv, "?" + f, token)
            assert doc["totalCount"] == len(listing(
                srv, "?limit=Infinity&" + f, token)["notifications"]), f
        st = get_json(srv, "/status", token)
        unread = sum(1 for n in rows if n["read"] is None)
        assert st == {"unread": unread, "read": len(rows) - unread}
        for f in ("", "read=false", "saved=true", "minimumSeverity=high"):
            walked = sorted({n["payload"]["topic"] for n in listing(
                srv, "?limit=Infinity&" + f, token)["notifications"]
                if n["payload"].get("topic") is not None})
            assert get_json(srv, "/topics?" + f, token)["topics"] == walked


def fill(srv):
    """Rows of every kind, then marks and scope re-sends that move rows
    between counters."""
    ids = []
    for i, (sev, topic) in enumerate(itertools.product(
            ("critical", "high", "normal", "low"),
            ("deploys", "argocd", None))):
        payload = {"severity": sev}
        if topic is not None:
            payload["topic"] = topic
        ids += [n["id"] for n in send(srv, to([ALICE, BOB], "u%d" % i,
                                             **payload))]
        ids += [n["id"] for n in send(srv, broadcast("b%d" % i, **payload))]
    send(srv, to(ALICE, "scoped", scope="s", topic="argocd"))
    send(srv, broadcast("bscoped", scope="bs", severity="low"))
    post_json(srv, "/notifications/update", {"ids": ids[::2], "read": True})
    post_json(srv, "/notifications/update", {"ids": ids[::3], "saved": True})
    post_json(srv, "/notifications/update", {"ids": ids[::6], "read": False},
              BOB_TOKEN)
    post_json(srv, "/notifications/update", {"ids": ids[1::4], "saved": True},
              BOB_TOKEN)
    # re-sends: the user's row changes topic and severity and is unread
    # again; the broadcast changes severity
    send(srv, to(ALICE, "scoped again", scope="s", topic="deploys",
                 severity="critical"))
    send(srv, broadcast("bscoped again", scope="bs", severity="high",
                        topic="deploys"))
    return ids


def test_counts_follow_every_write(fresh):
    srv = fresh()
    fill(srv)
    assert_counts_agree(srv)
    # a filtered reset deletes some deliveries' notifications
    r = srv.req("DELETE", "/mock/deliveries?topic=deploys")
    assert r.status == 200, r
    assert_counts_agree(srv)
    r = srv.req("DELETE", "/mock/deliveries")
    assert r.status == 200, r
    assert_counts_agree(srv)
    assert listing(srv)["totalCount"] == 0


def test_a_schema_6_store_counts_its_rows(fresh):
    srv = fresh()
    fill(srv)
    before = {f: listing(srv, "?" + f)["totalCount"] for f in FILTERS}
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait()
    path = os.path.join(tempfile.mkdtemp(prefix="notimock-e2e-"), "six.db")
    shutil.copy(srv.db_path, path)
    conn = sqlite3.connect(path)
    to_schema_6(conn)
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    again = start_server(USER_ARGS, db_path=path)
    try:
        assert {f: listing(again, "?" + f)["totalCount"]
                for f in FILTERS} == before
        assert_counts_agree(again)
        send(again, to(ALICE, "after"))
        assert_counts_agree(again)
    finally:
        again.stop()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
