"""
The read side's lists run off the event loop (src/db_worker.c, issue 11):
while a search reads every row the user sees, the server keeps answering;
a client that leaves mid-read, or a stop mid-read, ends cleanly; a read
after a write answered 200 sees it.

The big store is made once per module: a few sends through the server,
then the broadcasts doubled inside SQLite (as tests/bench/gen-rows does)
until a search takes a good fraction of a second.  Nothing here asserts a
time: the order of the answers shows that the loop was free.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import tempfile
import time

import pytest

from conftest import MOUNT, finish_server, parse_response, read_response
from read_helpers import (ALICE_TOKEN, broadcast, fresh, get_json, listing,
                          post_json, send, start, titles)

ROWS = 1 << 17		# broadcasts in the big store
SEARCH = "/notifications?search=no-such-text-anywhere&limit=20"
READY = "/.backstage/health/v1/readiness"


def make_store(path):
    """A store whose broadcasts a search must read one by one."""
    srv = start(db_path=path)
    try:
        for i in range(4):
            send(srv, broadcast("seed %d" % i, description="d" * 200,
                                topic="t%d" % (i % 2)))
    finally:
        finish_server(srv)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    cols = [r[1] for r in db.execute("PRAGMA table_info(notifications)")]
    sel = ["lower(hex(randomblob(16)))" if c == "id" else c for c in cols]
    while db.execute("SELECT count(*) FROM notifications").fetchone()[0] \
            < ROWS:
        db.execute("INSERT INTO notifications (%s) SELECT %s FROM "
                   "notifications" % (", ".join(cols), ", ".join(sel)))
    db.execute("DELETE FROM notification_counts")
    db.execute("INSERT INTO notification_counts SELECT coalesce(user, x''), "
               "coalesce(topic, x''), severity, count(*), count(*) FILTER "
               "(WHERE read IS NULL), count(*) FILTER (WHERE saved IS NOT "
               "NULL), count(*) FILTER (WHERE read IS NULL AND saved IS NOT "
               "NULL) FROM notifications GROUP BY 1, 2, 3")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


@pytest.fixture(scope="module")
def big_store():
    d = tempfile.mkdtemp(prefix="notimock-e2e-big-")
    path = os.path.join(d, "big.db")
    make_store(path)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def big(big_store, fresh):
    """A server on a copy of the big store (a test may write to it)."""
    d = tempfile.mkdtemp(prefix="notimock-e2e-bigcopy-")
    path = os.path.join(d, "big.db")
    shutil.copyfile(big_store, path)
    srv = fresh(["--retain-count", "0", "--retain-age", "0",
                 "--retain-bytes", "0"], db_path=path)
    yield srv
    shutil.rmtree(d, ignore_errors=True)


def ask(srv, path, token=ALICE_TOKEN):
    """Send a GET on a socket of its own, without reading the answer."""
    s = socket.create_connection((srv.host, srv.port), timeout=30)
    hdr = "GET %s HTTP/1.1\r\nHost: x\r\n" % path
    if token is not None:
        hdr += "Authorization: Bearer %s\r\n" % token
    s.sendall((hdr + "\r\n").encode())
    return s


def answered(s):
    """Whether s has bytes to read now."""
    s.setblocking(False)
    try:
        return len(s.recv(1, socket.MSG_PEEK)) > 0
    except BlockingIOError:
        return False
    finally:
        s.setblocking(True)


def test_readiness_and_a_post_answer_while_a_search_runs(big):
    # The search's answer (no match: it reads every row) comes after
    # readiness and a POST, both asked once it runs.
    s = ask(big, MOUNT + SEARCH)
    time.sleep(0.05)
    r = big.req("GET", READY, token=None)
    assert r.status == 200
    assert not answered(s), "the search answered before readiness " \
        "(the loop was held, or the store is too small to show it free)"
    sent = send(big, broadcast("while searching"))
    assert not answered(s)
    status, _, body = parse_response(read_response(s, 30))
    s.close()
    assert status == 200
    assert json.loads(body) == {"totalCount": 0, "notifications": []}
    assert sent
    # Other reads still work, and see the POST (read after write).
    doc = listing(big, "?search=while+searching")
    assert titles(doc) == ["while searching"]
    assert doc["totalCount"] == 1


def test_a_client_leaving_mid_search(big):
    # The read is interrupted or its answer dropped; the server goes on
    # (run under --enable-sanitizers, no use after free).
    s = ask(big, MOUNT + SEARCH)
    time.sleep(0.05)
    s.close()
    s = ask(big, MOUNT + SEARCH)
    s.close()		# before the worker ran it
    assert big.req("GET", READY, token=None).status == 200
    doc = get_json(big, "/topics")
    assert doc == {"topics": ["t0", "t1"]}
    log = big.wait_log("client went away")
    assert "client went away" in log


def test_a_stop_mid_search(big):
    # SIGTERM while a search runs and another waits: the server stops
    # within its bound, answering both (Backstage's 500 shape) or closing.
    a = ask(big, MOUNT + SEARCH)
    b = ask(big, MOUNT + "/notifications?search=other&limit=5")
    time.sleep(0.05)
    big.proc.send_signal(signal.SIGTERM)
    big.proc.wait(10)		# a hang guard: the running read is interrupted
    assert big.proc.returncode == 0
    for s in (a, b):
        data = read_response(s, 10)
        s.close()
        if data:
            status, _, body = parse_response(data)
            assert status in (200, 500), (status, body)
    assert "read worker:" in big.log()


def test_read_after_write(fresh):
    # A send answered 200, then a list, a search and topics see it; a mark
    # answered 200, then a list sees it.
    srv = fresh()
    for i in range(20):
        n = send(srv, broadcast("after %d" % i, topic="x%d" % i))
        doc = listing(srv, "?search=after+%d&limit=1" % i)
        assert titles(doc) == ["after %d" % i]
        assert "x%d" % i in get_json(srv, "/topics")["topics"]
        nid = listing(srv, "?limit=1")["notifications"][0]["id"]
        post_json(srv, "/notifications/update",
                  {"ids": [nid], "read": True})
        doc = listing(srv, "?read=true&limit=1")
        assert doc["notifications"][0]["id"] == nid
        assert doc["notifications"][0]["read"] is not None
        assert n is not None



def recorded(srv, text):
    """Whether /mock/ shows a delivery whose path holds text."""
    r = srv.req("GET", "/mock/deliveries?limit=20")
    assert r.status == 200
    return any(text in d["path"] for d in json.loads(r.body)["deliveries"])


def test_a_search_whose_client_left_is_still_recorded(big):
    # Every request to the plugin is stored as a delivery (/mock/), one
    # whose client left meanwhile too (as on the loop, where the read ran
    # whole before anything noticed the client had gone).
    listing(big, "?search=answered-search")
    assert recorded(big, "answered-search")
    s = ask(big, MOUNT + SEARCH)
    time.sleep(0.05)
    s.close()
    big.wait_log("client went away")
    deadline = time.monotonic() + 3
    while not recorded(big, "no-such-text-anywhere"):
        assert time.monotonic() < deadline, "the abandoned search was " \
            "not recorded"
        time.sleep(0.1)


def test_a_search_whose_client_only_shut_down_its_sending_side(big):
    # A client may send its request and shut down its side (nc -N, some
    # HTTP/1.0 clients), then read the answer: Backstage (Node keeps
    # half-open sockets) answers it, and so did the loop.  The read on the
    # worker must not take that FIN for a client that left.
    s = ask(big, MOUNT + SEARCH)
    s.shutdown(socket.SHUT_WR)
    data = read_response(s, 30)
    s.close()
    assert data, "no answer to a half-closed client"
    status, _, body = parse_response(data)
    assert status == 200
    assert json.loads(body) == {"totalCount": 0, "notifications": []}


def test_a_search_whose_client_resets_is_interrupted(big):
    # A reset (not a FIN, which may be a half-close) is a client that left
    # for sure: the read running for it is interrupted.
    s = ask(big, MOUNT + SEARCH)
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    s.close()
    big.wait_log("interrupted")
    assert big.req("GET", READY, token=None).status == 200
