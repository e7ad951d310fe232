"""
Nothing acknowledged is lost: kill -9 notimock while clients post, restart it
on the same database, and find every request that got a 200.
"""

import http.client
import json
import os
import signal
import threading
import time

from conftest import NOTIFS, TOKEN, dumps, start_server, finish_server, db

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
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=_poster, args=(srv, n, acked, stop))
               for n in range(WRITERS)]
    for t in threads:
        t.start()
    # Let a few hundred requests through, then pull the plug mid-stream.
    deadline = time.monotonic() + 10
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) >= 300, "too few requests before the kill"

    # Restart on the same file; it must open, and hold every 200.
    again = start_server(db_path=srv.db_path)
    try:
        conn = db(again)
        titles = {r[0] for r in conn.execute(
            "SELECT title FROM deliveries WHERE status = 200")}
        ids = {r[0] for r in conn.execute("SELECT id FROM notifications")}
        conn.close()
        lost = [t for t, _ in acked if t not in titles]
        assert not lost, "acknowledged but not stored: %s" % lost[:5]
        lost_ids = [i for _, l in acked for i in l if i not in ids]
        assert not lost_ids, "notification ids lost: %s" % lost_ids[:5]
        # And the restarted server keeps counting from where it was.
        r = again.send({"recipients": {"type": "broadcast"},
                        "payload": {"title": "after restart"}})
        assert r.status == 200
    finally:
        finish_server(again)
