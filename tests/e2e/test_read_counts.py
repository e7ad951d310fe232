"""
The read side's counts (totalCount, /status, /topics) come from
notification_counts, which schema 7's triggers keep beside the rows
(src/db_read.c).  These tests hold them to the rows themselves through
every kind of write: sends to users and broadcasts, scope re-sends that
change topic, severity and read, read and saved marks, a filtered reset,
and a store that migrates from schema 6.  The list without a limit walks
the rows; its length must be the counted totalCount for every filter the
counters serve.  Requests sent at once share one commit (it waits ~2 ms
for more): a re-send or a reset that touches a row stored earlier in
the same transaction must find that row counted.
"""

import itertools
import os
import shutil
import signal
import socket
import sqlite3
import tempfile

from conftest import NOTIFS, TOKEN, db, dumps, start_server, to_schema_6
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


def at_once(srv, requests):
    """Send raw HTTP requests on sockets of their own before reading any
    answer, so that the server reads them in one batch (one commit);
    returns the status lines."""
    socks = [socket.create_connection((srv.host, srv.port), 10)
             for _ in requests]
    try:
        for s, r in zip(socks, requests):
            s.sendall(r)
        # each answer to its end (Connection: close), then its status line
        return [s.makefile("rb").read().split(b"\r\n", 1)[0]
                for s in socks]
    finally:
        for s in socks:
            s.close()


def raw_send(body):
    b = dumps(body)
    b = b.encode() if isinstance(b, str) else b
    return ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (NOTIFS, TOKEN, len(b))
            ).encode() + b


RAW_RESET = (b"DELETE /mock/deliveries HTTP/1.1\r\nHost: x\r\n"
             b"Connection: close\r\n\r\n")


def test_a_scope_sent_twice_in_one_commit_counts_one_row(fresh):
    """The second send re-scopes the row the first stored in the same
    transaction: its count must be in the table before the update."""
    srv = fresh()
    for i in range(20):
        answers = at_once(srv, [raw_send(to(ALICE, "a%d" % k, scope="s%d" % i,
                                            topic="t%d" % i))
                                for k in range(2)])
        assert all(b" 200 " in a for a in answers), answers
        doc = listing(srv, "?topic=t%d" % i)
        assert (doc["totalCount"], len(doc["notifications"])) == (1, 1), i
    assert_counts_agree(srv)


def test_a_reset_in_the_commit_of_a_send_leaves_no_count(fresh):
    """DELETE /mock/deliveries deletes the rows not yet committed too:
    their counts must go with them."""
    srv = fresh()
    for i in range(20):
        answers = at_once(srv, [raw_send(to(ALICE, "r%d" % i,
                                            topic="rt%d" % i)), RAW_RESET])
        assert all(b" 200 " in a for a in answers), answers
        doc = listing(srv, "?topic=rt%d" % i)
        assert doc["totalCount"] == len(doc["notifications"]), i
    assert_counts_agree(srv)
