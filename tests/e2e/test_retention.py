"""
Retention (src/retain.c): at most --retain-count deliveries and none older
than --retain-age, the oldest pruned first in slices with the
notifications they created; shown in /mock/cursor and the log.  Sequence
numbers go on from where they were.  A large reset and the pruning work
in slices bounded by time, leaving the WAL to the checkpointer.
"""

import http.client
import json
import os
import re
import sqlite3
import threading
import time

from conftest import NOTIFS, TOKEN, db, dumps
from mock_helpers import get_json, wait_until


def post(srv, n, tag, first=0, description=None):
    """POST n broadcasts titled "tag i" (i from first), with
    description(i) as their description if given."""
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    for i in range(first, first + n):
        payload = {"title": "%s %d" % (tag, i)}
        if description is not None:
            payload["description"] = description(i)
        c.request("POST", NOTIFS,
                  dumps({"recipients": {"type": "broadcast"},
                         "payload": payload}),
                  {"Authorization": "Bearer " + TOKEN,
                   "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
    c.close()


def retention(srv):
    return get_json(srv, "/mock/cursor")["retention"]


def test_count_cap_prunes_the_oldest(own_server):
    srv = own_server(["--retain-count", "50"])
    r = retention(srv)
    assert r["maxDeliveries"] == 50 and r["maxAgeSeconds"] == 7 * 86400
    assert r["maxBytes"] == 128 * 1024 * 1024
    post(srv, 1220, "cap")		# more than two slices of 500
    wait_until(lambda: retention(srv)["stored"] == 50, what="pruning")
    r = retention(srv)
    assert r["pruned"] == 1170 and r["prunedUpTo"] == 1170
    got = get_json(srv, "/mock/deliveries", {"limit": 1000})["deliveries"]
    assert [d["seq"] for d in got] == list(range(1220, 1170, -1))
    conn = db(srv)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone()[0] \
        == 50
    conn.close()
    wait_until(lambda: "retention: pruned" in srv.log(), what="the log line")
    # The read side shows only what is kept.
    post(srv, 1, "after")
    assert get_json(srv, "/mock/cursor")["cursor"] == 1221


def test_age_limit_prunes_what_is_older(own_server):
    srv = own_server(["--retain-age", "1s", "--retain-count", "0"])
    post(srv, 5, "old")
    wait_until(lambda: retention(srv)["stored"] == 0, what="pruning by age")
    assert retention(srv)["pruned"] == 5
    post(srv, 1, "new")
    got = get_json(srv, "/mock/deliveries")["deliveries"]
    assert [d["seq"] for d in got] == [6]	# numbers never repeat


def test_retention_off(own_server):
    srv = own_server(["--retain-age", "0", "--retain-count", "0"])
    post(srv, 3, "kept")
    time.sleep(0.5)
    r = retention(srv)
    assert r["stored"] == 3 and r["pruned"] == 0


def test_config_and_environment_twins(own_server, tmp_path):
    cfg = tmp_path / "app-config.yaml"
    cfg.write_text("notimock:\n  retain-count: 7\n  retain-age: 2d\n"
                   "  retain-bytes: 5000000\n")
    srv = own_server(["-f", str(cfg)])
    r = retention(srv)
    assert (r["maxDeliveries"], r["maxAgeSeconds"], r["maxBytes"]) == \
        (7, 2 * 86400, 5000000)
    srv = own_server([], env={"NOTIMOCK_RETAIN_COUNT": "9",
                              "NOTIMOCK_RETAIN_AGE": "12h",
                              "NOTIMOCK_RETAIN_BYTES": "6000000"})
    r = retention(srv)
    assert (r["maxDeliveries"], r["maxAgeSeconds"], r["maxBytes"]) == \
        (9, 12 * 3600, 6000000)


def test_a_size_cap_prunes_the_oldest(own_server):
    """Large bodies: --retain-bytes bounds the file's pages in use where a
    count would not; the oldest go first, and /mock/cursor shows it."""
    cap = 1024 * 1024
    srv = own_server(["--retain-bytes", str(cap), "--retain-count", "0"])
    # ~30 KB each that do not pack
    post(srv, 80, "big", description=lambda i: os.urandom(15000).hex())
    wait_until(lambda: retention(srv)["bytes"] <= cap, what="pruning by size")
    r = retention(srv)
    assert r["maxBytes"] == cap and r["pruned"] > 0
    assert r["stored"] + r["pruned"] == 80 and r["prunedUpTo"] == r["pruned"]
    got = get_json(srv, "/mock/deliveries", {"limit": 100})["deliveries"]
    assert [d["seq"] for d in got] == list(range(80, r["pruned"], -1))
    assert "--retain-bytes %d" % cap in srv.wait_log("retention: pruned")


def _file_pages(srv):
    conn = db(srv)
    try:
        return (conn.execute("PRAGMA page_count").fetchone()[0],
                conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()


def test_a_reset_gives_the_space_back(own_server):
    """A new store frees pages incrementally (src/retain.c, db_vacuum):
    after a reset the unused pages go back to the file system in 256 KiB
    steps, down to the 4 MiB kept for new rows, and the file shrinks."""
    srv = own_server()
    conn = db(srv)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()
    post(srv, 1500, "space", description=lambda i: "%d " % i * 1000)
    full, _ = _file_pages(srv)
    assert full > 1800		# 7 MiB: the notifications' descriptions
    r = srv.req("DELETE", "/mock/deliveries", token=None)
    assert r.status == 200, r
    wait_until(lambda: _file_pages(srv)[1] <= 1024, timeout=60,
               what="the free pages to go back")
    pages, free = _file_pages(srv)
    assert pages <= 1024 + 200, (full, pages, free)


def test_the_file_stops_growing_at_the_cap(own_server):
    """Pruned rows' pages are reused by new ones: after six times the cap
    of deliveries the file is no larger than after two (give or take a
    few pages).  The slices are in the debug log."""
    cap = 200
    srv = own_server(["-v", "--retain-count", str(cap)])
    text = "Sync succeeded for revision abc. " * 30	# ~1 KB

    def deliver(n, first):
        # Half a cap at a time, then the pruning catches up: the file
        # holds at most 1.5 caps of rows at any time in both halves.
        for k in range(first, first + n, cap // 2):
            post(srv, cap // 2, "cap", k, lambda i: "%d %s" % (i, text))
            if k + cap // 2 > cap:
                wait_until(lambda: retention(srv)["stored"] == cap,
                           what="pruning")

    deliver(2 * cap, 0)
    at_two, _ = _file_pages(srv)
    deliver(4 * cap, 2 * cap)
    at_six, _ = _file_pages(srv)
    assert retention(srv)["pruned"] == 5 * cap
    assert at_six <= at_two + at_two // 10 + 8, (at_two, at_six)
    assert "retention: a slice pruned" in srv.log()


def test_a_large_reset_keeps_health_and_posts_answering(own_server):
    """A reset of many slices: readiness and POSTs are answered while it
    runs (what is posted meanwhile is not deleted), the WAL stays within
    its bound, the log says how many slices it took, and the loop never
    had to copy the WAL itself (src/db.c: work that can wait waits for
    the checkpointer, db_wal_wait)."""
    srv = own_server(["-v", "--retain-count", "0", "--retain-bytes", "0"])
    before = 4000
    threads = [threading.Thread(target=post, args=(srv, before // 4, "r%d" % k))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert get_json(srv, "/mock/cursor")["cursor"] == before
    done = threading.Event()
    probes, posted, peak = [], [], [0]

    def probe():
        c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        while not done.is_set():
            c.request("GET", "/.backstage/health/v1/readiness")
            r = c.getresponse()
            r.read()
            probes.append(r.status)
            try:
                peak[0] = max(peak[0], os.path.getsize(srv.db_path + "-wal"))
            except FileNotFoundError:
                pass
        c.close()

    def poster():
        # 50 a second: at full speed POSTs alone bring the WAL to its
        # bound, and the loop copies it for them, reset or not.
        while not done.is_set():
            post(srv, 1, "during")
            posted.append(1)
            time.sleep(0.02)

    helpers = [threading.Thread(target=probe), threading.Thread(target=poster)]
    for t in helpers:
        t.start()
    # (The POSTs above, at full speed, may have brought the WAL to its
    # bound: that is theirs to pay, not the reset's.)
    start = len(srv.log())
    r = srv.req("DELETE", "/mock/deliveries", token=None)
    done.set()
    for t in helpers:
        t.join()
    assert r.status == 200, r
    assert probes and set(probes) == {200}
    assert peak[0] <= 64 * 1024 * 1024
    # What came in during the reset is kept.
    # What came in during the reset is kept; what came in before it, in
    # the same loop iteration as the DELETE, went with it.
    deleted = json.loads(r.body)["deleted"]
    assert deleted >= before
    assert retention(srv)["stored"] == before + len(posted) - deleted
    log = srv.wait_log("mock: reset deleted %d deliveries in " %
                       deleted)[start:]
    m = re.search(r"reset deleted %d deliveries in (\d+) slices" % deleted,
                  log)
    assert m and int(m.group(1)) > 1, log[-2000:]
    assert "mock: reset slice 1: " in log
    assert "the loop copied what the checkpointer had not" not in log


def test_an_older_file_is_converted_to_give_space_back(own_server, tmp_path):
    """A file made before schema 6 (auto_vacuum off) kept every page a
    reset freed; at a start with little in use notimock converts it
    (src/db.c, db_convert), gives the unused pages back, and says so."""
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE filler (x)")
    conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,)] * 2000)
    conn.commit()
    conn.execute("DELETE FROM filler")	# what a reset left behind
    conn.commit()
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 1900
    conn.close()
    srv = own_server(["--retain-count", "0"], db_path=path)
    assert "converted to give space back" in srv.wait_log(
        "converted to give space back")
    pages, free = _file_pages(srv)
    conn = db(srv)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()
    assert pages < 200 and free < 10, (pages, free)
    post(srv, 3, "after")
    assert retention(srv)["stored"] == 3
