"""
Nothing acknowledged is lost: kill -9 notimock while clients post, restart it
on the same database, and find every request that got a 200; then the same
five times over on one database (issue 15), every acknowledged id checked
after each restart.
"""

import http.client
import json
import os
import signal
import threading
import time

from conftest import NOTIFS, TOKEN, dumps, start_server, finish_server
from mock_helpers import get_json

WRITERS = 8


def _poster(srv, n, acked, stop):
    """POST until the server dies; remember (title, ids) of every 200."""
    i = 0
    while not stop.is_set():
        title = "crash-%d-%d" % (n, i)
        i += 1
        body = dumps({"recipients": {"type": "entity",
                                     "entityRef": "user:default/w%d" % n},
                      "payload": {"title": title}})
        try:
            conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
            conn.request("POST", NOTIFS, body,
                         {"Authorization": "Bearer " + TOKEN,
                          "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except (OSError, http.client.HTTPException):
            return
        if resp.status == 200:
            acked.append((title, [e["id"] for e in json.loads(data)]))


def test_kill_9_loses_nothing_acknowledged(own_server):
    srv = own_server()
    acked = []
    # Let a few hundred requests through, then pull the plug mid-stream.
    assert _kill_under_load(srv, acked, 300, 10) >= 300, \
        "too few requests before the kill"

    # Restart on the same file; it must open, and hold every 200.
    again = start_server(db_path=srv.db_path)
    try:
        lost, lost_ids = _missing(again, acked)
        assert not lost, "acknowledged but not stored: %s" % lost[:5]
        assert not lost_ids, "notification ids lost: %s" % lost_ids[:5]
        # And the restarted server keeps counting from where it was.
        r = again.send({"recipients": {"type": "broadcast"},
                        "payload": {"title": "after restart"}})
        assert r.status == 200
    finally:
        finish_server(again)


CYCLES = 5


def _kill_under_load(srv, acked, least, seconds):
    """Post from WRITERS threads until least more 200s (or seconds), then
    kill -9 mid-stream; returns how many this cycle acknowledged."""
    before, stop = len(acked), threading.Event()
    threads = [threading.Thread(target=_poster, args=(srv, n, acked, stop))
               for n in range(WRITERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    while len(acked) - before < least and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    return len(acked) - before


def _missing(srv, acked):
    """The acknowledged titles and notification ids srv lacks, asked of
    its own interface (/mock/deliveries, each stored answer's ids): how
    the file keeps them is the store's business."""
    titles, ids, offset = set(), set(), 0
    while True:
        page = get_json(srv, "/mock/deliveries", {
            "status": "200", "view": "full", "limit": "1000",
            "offset": str(offset)})
        for d in page["deliveries"]:
            titles.add(d["title"])
            ids.update(n["id"] for n in json.loads(d["response"]))
        offset += len(page["deliveries"])
        if not page["deliveries"] or offset >= page["total"]:
            break
    return ([t for t, _ in acked if t not in titles],
            [i for _, l in acked for i in l if i not in ids])


def test_kill_9_cycles_lose_nothing_acknowledged(own_server):
    """Five kill -9s under load on one database (bounded: a few seconds a
    cycle, loopback only); after each restart the file opens and holds
    every id a 200 gave, from this cycle and all before it."""
    srv = own_server()
    acked = []
    for cycle in range(CYCLES):
        got = _kill_under_load(srv, acked, 100, 4)
        assert got > 0, "cycle %d: no request acknowledged" % cycle
        srv = own_server(db_path=srv.db_path)
        lost, lost_ids = _missing(srv, acked)
        assert not lost, "cycle %d: acknowledged but not stored: %s" % (
            cycle, lost[:5])
        assert not lost_ids, "cycle %d: notification ids lost: %s" % (
            cycle, lost_ids[:5])
    assert sum(len(l) for _, l in acked) == len(acked)	# one id each
    r = srv.send({"recipients": {"type": "broadcast"},
                  "payload": {"title": "after %d kills" % CYCLES}})
    assert r.status == 200
