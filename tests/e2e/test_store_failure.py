"""
The store cannot write (the disk is full): answer 503 in Backstage's error
shape, log it, keep running, and keep serving what is stored.

A full disk is simulated with a file-size limit (RLIMIT_FSIZE, `ulimit -f`)
on the server process: a write past it fails with EFBIG, as one on a full
disk fails with ENOSPC.
"""

import json
import resource

from conftest import NOTIFS, dumps, finish_server, start_server, db

LIMIT = 1 << 20		# bytes any file of the server may reach


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _start_limited(monkeypatch):
    """A server whose files may not grow past LIMIT."""
    import subprocess
    real_popen = subprocess.Popen

    def popen(*a, **kw):
        kw["preexec_fn"] = _limit_file_size
        return real_popen(*a, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    try:
        return start_server()
    finally:
        monkeypatch.setattr(subprocess, "Popen", real_popen)


def test_full_disk_answers_503_and_keeps_running(monkeypatch):
    srv = _start_limited(monkeypatch)
    try:
        big = "x" * 90000
        statuses = []
        for i in range(60):		# ~5 MB of bodies: well past the limit
            r = srv.send({"recipients": {"type": "broadcast"},
                          "payload": {"title": "fill %d" % i,
                                      "description": big}})
            statuses.append(r.status)
            if r.status == 503:
                break
        assert statuses[0] == 200
        assert statuses[-1] == 503, statuses
        err = json.loads(r.body)
        assert err["error"]["name"] == "ServiceUnavailableError"
        assert err["error"]["message"].startswith(
            "notimock could not store this request")
        assert err["request"] == {"method": "POST", "url": "/notifications"}
        assert err["response"] == {"statusCode": 503}
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        # Still up, and what was acknowledged is still there.
        assert srv.req("GET", "/.backstage/health/v1/readiness",
                       token=None).status == 200
        acked = statuses.count(200)
        conn = db(srv)
        stored = conn.execute("SELECT count(*) FROM deliveries "
                              "WHERE status = 200").fetchone()[0]
        conn.close()
        assert stored == acked
        log = srv.wait_log("db:", "503")
        assert "db:" in log and "503" in log
        # The store's state is on /mock/cursor (readiness stays 200).
        store = json.loads(srv.req("GET", "/mock/cursor").body)["store"]
        assert store["writes"] is False, store
        assert store["error"] and store["failingSince"].endswith("Z")
        # Small requests keep getting a clear answer, never a hang.
        r = srv.send({"recipients": {"type": "broadcast"},
                      "payload": {"title": "small"}})
        assert r.status in (200, 503)
    finally:
        finish_server(srv)


def test_reset_works_on_a_full_disk(monkeypatch):
    """Issue 15: DELETE /mock/deliveries, the one call that frees space,
    answered 503 on a full disk like every other write (its delete needs
    room in the WAL too).  It works, and writes work again after it."""
    srv = _start_limited(monkeypatch)
    try:
        big = "x" * 90000
        acked = 0
        for i in range(60):
            r = srv.send({"recipients": {"type": "broadcast"},
                          "payload": {"title": "fill %d" % i,
                                      "description": big}})
            if r.status == 503:
                break
            assert r.status == 200
            acked += 1
        assert r.status == 503 and acked > 0
        r = srv.req("DELETE", "/mock/deliveries")
        assert r.status == 200, r.body
        assert json.loads(r.body)["deleted"] == acked
        conn = db(srv)
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[
            0] == 0
        conn.close()
        # The room it made serves new deliveries.
        r = srv.send({"recipients": {"type": "broadcast"},
                      "payload": {"title": "after the reset",
                                  "description": big}})
        assert r.status == 200, r.body
        store = json.loads(srv.req("GET", "/mock/cursor").body)["store"]
        assert store == {"writes": True}, store
    finally:
        finish_server(srv)
