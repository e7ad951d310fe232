"""
Sequence numbers and the cursor (doc/mock-api.md, "GET /mock/cursor"):
numbers never repeat for the life of a database, reset and restart
included; a `since` ahead of the cursor is explained; only committed rows
are ever reported to waits and streams, and a rolled-back batch leaves a
gap, never a number used twice.
"""

import http.client
import json
import os
import signal
import sqlite3
import time

from conftest import NOTIFS, TOKEN, dumps, finish_server, start_server
from mock_helpers import EventStream, cli, cursor, get_json, mock

JSON = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}


def body(title):
    return dumps({"recipients": {"type": "broadcast"},
                  "payload": {"title": title}})


def test_numbers_never_repeat_across_reset_and_restart(own_server):
    srv = own_server()
    for i in range(3):
        assert srv.send({"recipients": {"type": "broadcast"},
                         "payload": {"title": "n%d" % i}}).status == 200
    top = cursor(srv)
    assert top == 3
    r = mock(srv, "DELETE", "/mock/deliveries")
    assert r.status == 200 and r.json()["deleted"] == 3
    assert cursor(srv) == top
    assert srv.stop() == 0
    again = start_server(db_path=srv.db_path)
    try:
        assert cursor(again) == top		# was 0 before
        assert again.send({"recipients": {"type": "broadcast"},
                           "payload": {"title": "after"}}).status == 200
        got = get_json(again, "/mock/deliveries")["deliveries"]
        assert [d["seq"] for d in got] == [top + 1]
        # A wait from before the reset still means "after that point".
        w = get_json(again, "/mock/wait", {"since": top, "timeout": "0"})
        assert w["matched"] == 1
    finally:
        finish_server(again)


def test_since_ahead_of_the_cursor_is_explained(server):
    now = cursor(server)
    r = mock(server, "GET", "/mock/wait", {"since": now + 40, "timeout": "0"})
    assert r.status == 408
    msg = r.json()["error"]["message"]
    assert ("since %d is ahead of the cursor %d" % (now + 40, now)) in msg
    assert "another database" in msg
    # Not said when since is behind the cursor.
    r = mock(server, "GET", "/mock/wait", {"since": now, "timeout": "0",
                                          "topic": "nothing-matches"})
    assert r.status == 408
    assert "ahead of the cursor" not in r.json()["error"]["message"]
    # The command line shows it.
    p = cli(server, "wait", "--since", str(now + 40), "--timeout", "0")
    assert p.returncode == 1
    assert "is ahead of the cursor" in p.stdout


def test_wait_help_says_old_deliveries_match_without_since(server):
    p = cli(server, "wait", "-h", url=False)
    assert p.returncode == 0
    assert "Without --since, deliveries already stored match" in p.stdout
    assert "--since now" in p.stdout


def _keepalive(srv):
    """A connection that has answered once, so the server is reading it."""
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    c.request("GET", "/.backstage/health/v1/readiness")
    r = c.getresponse()
    r.read()
    assert r.status == 200
    return c


def test_a_rolled_back_batch_is_never_reported(own_server):
    """One event-loop iteration holds: a valid POST, a stream replaying
    from the cursor, a wait, and a POST whose insert fails (a trigger the
    test adds), so the whole batch's transaction rolls back.  The stream
    must not show the valid POST's row, and neither stream nor wait may
    skip the next committed delivery (before, the rolled-back number was
    handed out again and both had already passed it)."""
    srv = own_server()
    assert srv.send({"recipients": {"type": "broadcast"},
                     "payload": {"title": "committed"}}).status == 200
    since = cursor(srv)
    conn = sqlite3.connect(srv.db_path, timeout=10)
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON deliveries "
                 "WHEN NEW.title = 'boom' BEGIN "
                 "SELECT RAISE(ABORT, 'injected failure'); END")
    conn.commit()
    conn.close()

    a, w, c = _keepalive(srv), _keepalive(srv), _keepalive(srv)
    s = _keepalive(srv)
    sock = s.sock
    # Stop the server so that all four requests are read in one
    # iteration, in this order (each connection becomes readable in turn).
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        a.request("POST", NOTIFS, body("rolled-back"), JSON)
        es = EventStream(srv, {"since": since}, sock=sock, read_head=False)
        w.request("GET", "/mock/wait?since=%d&q=after-rollback&timeout=20s"
                  % since)
        c.request("POST", NOTIFS, body("boom"), JSON)
        time.sleep(0.3)
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    ra = a.getresponse()
    ra.read()
    rc = c.getresponse()
    rc.read()
    assert (ra.status, rc.status) == (503, 503)
    assert cursor(srv) == since
    assert get_json(srv, "/mock/deliveries",
                    {"since": since})["deliveries"] == []

    assert srv.send({"recipients": {"type": "broadcast"},
                     "payload": {"title": "after-rollback"}}).status == 200
    after = get_json(srv, "/mock/deliveries", {"since": since})["deliveries"]
    assert [d["title"] for d in after] == ["after-rollback"]
    # A gap, not a number used twice: the rolled-back rows had theirs.
    assert after[0]["seq"] > since + 1
    assert cursor(srv) == after[0]["seq"]

    rw = w.getresponse()
    got = rw.read()
    assert rw.status == 200, got
    got = json.loads(got)
    assert [d["title"] for d in got["deliveries"]] == ["after-rollback"]

    es.read_head()
    assert es.status == 200
    assert es.next_block() == "retry: 2000"
    seen = []
    while True:
        ev = es.next_event()
        if ev.get("event") != "delivery":
            continue
        seen.append(ev["json"]["title"])
        if ev["json"]["title"] == "after-rollback":
            break
    assert seen == ["after-rollback"]
    es.close()
    for x in (a, w, c):
        x.close()
