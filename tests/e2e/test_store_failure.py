"""
The store cannot write (the disk is full): answer 503 in Backstage's error
shape, log it, keep running, and keep serving what is stored.

A full disk is simulated with a file-size limit (RLIMIT_FSIZE, `ulimit -f`)
on the server process: a write past it fails with EFBIG, as one on a full
disk fails with ENOSPC.  The last test fills a real (tmpfs) filesystem.
"""

import base64
import json
import os
import resource
import subprocess

from conftest import NOTIFS, dumps, finish_server, start_server, db
from mock_helpers import get_json
from test_crash import _missing

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


# --- issue 15: a real full filesystem, and the reserve ----------------------

TMPFS = "24m"		# the 16 MiB reserve and 8 MiB for the store


def _start_on_small_disk(monkeypatch, disk):
    """A server whose database lives on a TMPFS-sized tmpfs of its own,
    mounted on disk in a private mount namespace: `unshare -m` as root
    (CI), `unshare -rm` (a user namespace) otherwise.  unshare and sh exec
    in turn, so srv.proc is notimock itself, and /proc/PID/root/... shows
    its files' sizes from outside."""
    real_popen = subprocess.Popen
    mount = 'mount -t tmpfs -o size=%s notimock-full "$0" && exec "$@"' % \
        TMPFS

    def popen(argv, *a, **kw):
        ns = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
        argv = (["unshare"] + ns + ["--propagation", "private", "sh", "-c",
                                   mount, disk] + list(argv))
        return real_popen(argv, *a, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    try:
        srv = start_server(db_path=os.path.join(disk, "notimock.db"))
    finally:
        monkeypatch.setattr(subprocess, "Popen", real_popen)
    srv.disk = "/proc/%d/root%s" % (srv.proc.pid, disk)
    return srv


def _incompressible(i, n=52000):
    """A broadcast whose description deflate cannot shrink (the store packs
    its large columns), under Backstage's 100 kB JSON limit."""
    return {"recipients": {"type": "broadcast"},
            "payload": {"title": "fill %d" % i, "description":
                        base64.b64encode(os.urandom(n)).decode()}}


def test_reset_on_a_really_full_disk_uses_the_reserve(monkeypatch, tmp_path):
    """Issue 15: DELETE /mock/deliveries must work when the disk is really
    full.  The file-size limit above never reaches db.c's reserve (a 16 MiB
    file is over the limit, so none is made); a tmpfs filled until POSTs
    get 503 does: the reserve is given back, the reset answers 200 and
    deletes every acknowledged delivery (each id checked before), the next
    POST gets 200, and the reserve is taken again."""
    disk = str(tmp_path / "disk")
    os.mkdir(disk)
    srv = _start_on_small_disk(monkeypatch, disk)
    try:
        reserve = os.path.join(srv.disk, "notimock.db-reserve")
        assert os.path.getsize(reserve) == 16 << 20
        acked = []
        for i in range(200):		# ~8 MiB fill in ~17; bounded anyway
            r = srv.send(_incompressible(i))
            if r.status != 200:
                break
            acked.append(("fill %d" % i, [n["id"] for n in r.json()]))
        assert r.status == 503, (r.status, r.body[:300])
        assert json.loads(r.body)["error"]["name"] == \
            "ServiceUnavailableError"
        assert acked, "the disk was full before the first POST"
        st = os.statvfs(srv.disk)
        assert st.f_bavail * st.f_frsize < 256 << 10, "the disk is not full"
        # Every acknowledged delivery and notification id is stored.
        lost, lost_ids = _missing(srv, acked)
        assert not lost and not lost_ids, (lost[:5], lost_ids[:5])
        # Issue 15 item 5: those reads ended in commits that wrote nothing;
        # none of them may say the store writes again while it is full.
        store = json.loads(srv.req("GET", "/mock/cursor").body)["store"]
        assert store["writes"] is False, store
        assert "writing again" not in srv.log(), srv.log()[-2000:]

        r = srv.req("DELETE", "/mock/deliveries")
        assert r.status == 200, r.body
        assert json.loads(r.body)["deleted"] == len(acked)
        assert "gave back the reserve" in srv.wait_log(
            "gave back the reserve")
        # (SQLite resolves /proc/PID/root to "/": the file is read
        # through notimock's own interface here.)
        assert get_json(srv, "/mock/deliveries")["total"] == 0

        r = srv.send(_incompressible(-1))
        assert r.status == 200, r.body[:300]
        ids = [n["id"] for n in r.json()]
        assert _missing(srv, [("fill -1", ids)]) == ([], [])
        store = json.loads(srv.req("GET", "/mock/cursor").body)["store"]
        assert store == {"writes": True}, store
        # Room again: the reserve is back for the next full disk.
        assert os.path.getsize(reserve) == 16 << 20
    finally:
        finish_server(srv)
