"""
/mock/wait: the long-poll that answers as soon as enough deliveries match
(woken by the commit, not by polling), or explains its timeout.

Figures (wake latency) are printed; run pytest with -s to see them.
"""

import socket
import time

import pytest

from conftest import read_response, parse_response
from mock_helpers import (Background, cursor, get_json, mock, mock_url, ref,
                          send, topic, wait_until, waits_open)


def wait(srv, **params):
    """GET /mock/wait with params (timeout= is the wait's own)."""
    return mock(srv, "GET", "/mock/wait", params, timeout=60)


def test_satisfied_by_stored_deliveries(server):
    since = cursor(server)
    e = ref("stored")
    send(server, entity=e, topic=topic("deploy"))
    send(server, entity=e, topic=topic("deploy"))
    t0 = time.monotonic()
    r = wait(server, since=since, entity=e, count=2, timeout="5s")
    assert time.monotonic() - t0 < 2
    assert r.status == 200, r
    got = r.json()
    assert (got["wanted"], got["matched"], got["since"]) == (2, 2, since)
    assert [d["seq"] for d in got["deliveries"]] == [since + 2, since + 1]
    assert got["deliveries"][0]["payload"]["topic"] == topic("deploy")
    # since defaults to 0: everything stored counts.
    assert wait(server, entity=e, timeout="0s").status == 200


def test_wait_before_post_wakes_at_once(server):
    since = cursor(server)
    e = ref("wake")
    bg = Background(lambda: wait(server, since=since, entity=e,
                                 timeout="20s"))
    waits_open(server, 1)
    # Something that does not match does not wake it.
    send(server, entity=ref("other"))
    time.sleep(0.2)
    assert bg.is_alive()
    t_send = time.monotonic()
    assert send(server, entity=e, title="deployed").status == 200
    t_posted = time.monotonic()
    r = bg.get()
    assert r.status == 200, r
    assert [d["seq"] for d in r.json()["deliveries"]] == [since + 2]
    latency = bg.done_at - t_posted
    print("\nwake latency: %.2f ms after the POST's answer "
          "(%.2f ms after sending it)" % (latency * 1000,
                                          (bg.done_at - t_send) * 1000))
    assert latency < 0.25
    waits_open(server, 0)


def test_count_waits_for_enough(server):
    since = cursor(server)
    e = ref("count")
    bg = Background(lambda: wait(server, since=since, entity=e, count=3,
                                 timeout="20s"))
    waits_open(server, 1)
    send(server, entity=e)
    send(server, entity=e)
    time.sleep(0.2)
    assert bg.is_alive()
    send(server, entity=e)
    r = bg.get()
    assert r.status == 200 and r.json()["matched"] == 3
    assert len(r.json()["deliveries"]) == 3


def test_timeout_explains(server):
    since = cursor(server)
    e = ref("late")
    t = topic("deploy")
    send(server, entity=e, topic=topic("sync"), title="near")	# 1 miss
    send(server, entity=ref("far"), topic=topic("sync"))	# 2 misses
    send(server, entity=e, topic=t)				# match
    t0 = time.monotonic()
    r = wait(server, since=since, entity=e, topic=t, count=2,
             timeout="300ms")
    took = time.monotonic() - t0
    assert 0.29 < took < 3
    assert r.status == 408, r
    got = r.json()
    assert got["error"] == {"name": "TimeoutError", "message":
                            "wanted 2 matching deliveries after seq %d, "
                            "got 1 in 300ms" % since}
    assert got["response"] == {"statusCode": 408}
    assert got["request"]["method"] == "GET"
    assert (got["wanted"], got["matched"], got["arrived"]) == (2, 1, 3)
    assert [d["seq"] for d in got["deliveries"]] == [since + 3]
    misses = got["nearMisses"]
    # Fewest failed filters first.
    assert [m["delivery"]["seq"] for m in misses] == [since + 1, since + 2]
    assert misses[0]["failed"] == [
        {"filter": "topic", "want": t, "got": topic("sync")}]
    assert misses[1]["failed"] == [
        {"filter": "entity", "want": [e], "got": [ref("far")]},
        {"filter": "topic", "want": t, "got": topic("sync")}]
    # The summary carries the delivery's diagnoses.
    assert isinstance(misses[0]["delivery"]["diagnoses"], list)


def test_timeout_explains_status_and_origin(server):
    since = cursor(server)
    e = ref("rej")
    send(server, entity=e, token="not-the-token")
    r = wait(server, since=since, entity=e, status="accepted",
             origin="argocd-notifications", timeout="100ms")
    assert r.status == 408
    failed = r.json()["nearMisses"][0]["failed"]
    assert {"filter": "status", "want": "accepted", "got": 401} in failed
    assert {"filter": "origin", "want": "argocd-notifications",
            "got": None} in failed


def test_since_cursor_ignores_the_past(server):
    e = ref("past")
    send(server, entity=e)
    now = cursor(server)
    r = wait(server, since=now, entity=e, timeout="200ms")
    assert r.status == 408
    assert r.json()["arrived"] == 0
    send(server, entity=e)
    assert wait(server, since=now, entity=e, timeout="1s").status == 200


def test_hundred_waiters_one_post(server):
    since = cursor(server)
    e = ref("crowd")
    n = 100
    socks = []
    path = mock_url("/mock/wait", {"since": since, "entity": e,
                                   "timeout": "20s"})
    for _ in range(n):
        s = socket.create_connection((server.host, server.port), timeout=20)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        socks.append(s)
    try:
        waits_open(server, n)
        assert send(server, entity=e).status == 200
        t_posted = time.monotonic()
        for s in socks:
            status, _, body = parse_response(read_response(s, 10))
            assert status == 200, body[:200]
        last = time.monotonic() - t_posted
        print("\n%d waiters all answered %.1f ms after the POST's answer" %
              (n, last * 1000))
        assert last < 2
    finally:
        for s in socks:
            s.close()
    waits_open(server, 0)


def test_client_going_away_frees_the_wait(server):
    base = get_json(server, "/mock/cursor")["waits"]
    s = socket.create_connection((server.host, server.port), timeout=5)
    s.sendall(b"GET /mock/wait?topic=never&timeout=30s HTTP/1.1\r\n"
              b"Host: x\r\n\r\n")
    waits_open(server, base + 1)
    s.close()
    waits_open(server, base)
    if server.proc is not None:
        wait_until(lambda: "client went away" in server.log(),
                   what="the access line")


def test_pipelined_request_during_wait(server):
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        s.sendall(b"GET /mock/wait?topic=never&timeout=300ms HTTP/1.1\r\n"
                  b"Host: x\r\n\r\n")
        time.sleep(0.1)
        s.sendall(b"GET /mock/cursor HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 ") < 2 and time.monotonic() < deadline:
            data += s.recv(65536)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert b"HTTP/1.1 200 OK" in data
    finally:
        s.close()
    assert server.alive()


def test_wait_outlives_idle_timeout(own_server):
    srv = own_server(["--idle-timeout", "1s"])
    bg = Background(lambda: wait(srv, topic="x", timeout="2500ms"))
    waits_open(srv, 1)
    time.sleep(1.5)
    send(srv, topic="x", entity=ref("idle"))
    r = bg.get()
    assert r.status == 200


@pytest.mark.parametrize("params, message", [
    ({"count": "0"}, "invalid 'count': '0' is not a number from 1 to 1000"),
    ({"timeout": "soon"}, "invalid 'timeout': 'soon' is not a duration such "
     "as 30s, 500ms or 2m (from 0ms to 3600s)"),
    ({"timeout": "2h"}, "invalid 'timeout': '2h' is not a duration such as "
     "30s, 500ms or 2m (from 0ms to 3600s)"),
    ({"view": "summary"}, "unknown query parameter 'view'"),
])
def test_bad_wait_parameters(server, params, message):
    r = wait(server, **params)
    assert r.status == 400
    assert r.json()["error"] == {"name": "InputError", "message": message}


def test_shutdown_answers_pending_waits(own_server):
    srv = own_server()
    bg = Background(lambda: wait(srv, topic="never", timeout="30s"))
    waits_open(srv, 1)
    srv.stop()
    r = bg.get()
    assert r.status == 503
    assert r.json()["error"]["message"] == "notimock is shutting down"


def _wake_case(srv, params, miss, hit):
    since = cursor(srv)
    bg = Background(lambda: wait(srv, since=since, timeout="20s", **params))
    waits_open(srv, 1)
    for kw in miss:
        send(srv, **kw)
        # Looked at in the commit that stored it, and let pass.
        assert get_json(srv, "/mock/cursor")["waits"] == 1, (params, kw)
    send(srv, **hit)
    r = bg.get()
    assert r.status == 200, r
    assert [d["seq"] for d in r.json()["deliveries"]] == [cursor(srv)]


def test_every_filter_wakes_only_on_a_match(own_server):
    """The commit-time check (C) agrees with the listing (SQL) for each
    filter: a pending wait lets misses pass and wakes on the match."""
    srv = own_server(["--token", "second-token-0123456789abcdef:ci-7"])
    e = ref("wf")
    _wake_case(srv, {"entity": e.upper().replace("DEFAULT/", "")},
               [{"entity": ref("other")}], {"entity": e})
    _wake_case(srv, {"entity": "wf-" + e.split("-")[-1]},
               [{"entity": ref("wg")}], {"entity": ref("wf", kind="api")})
    _wake_case(srv, {"topic": "deploy"},
               [{"entity": e, "topic": "sync"}, {"entity": e}],
               {"entity": e, "topic": "deploy"})
    _wake_case(srv, {"severity": "normal"},
               [{"entity": e, "severity": "high"}], {"entity": e})
    _wake_case(srv, {"origin": "ci-7"}, [{"entity": e}],
               {"entity": e, "token": "second-token-0123456789abcdef"})
    _wake_case(srv, {"status": "rejected"}, [{"entity": e}],
               {"body": "{"})
    _wake_case(srv, {"status": "401"}, [{"body": "{"}],
               {"entity": e, "token": "wrong"})
    _wake_case(srv, {"status": "accepted"}, [{"body": "{"}], {"entity": e})
    _wake_case(srv, {"q": "NEEDLE"}, [{"entity": e, "title": "hay"}],
               {"entity": e, "title": "hay", "description": "a needle"})
    _wake_case(srv, {"q": "in-the-body"}, [{"entity": e}],
               {"body": "{\"in-the-body\": 1}"})
