"""
The assertion API on a store larger than one read may look at
(src/db.c, db_scan_bound): equality filters (topic, severity, origin, an
exact status, entity) are answered from indexes, so their answers stay
whole however old the match; a filter no index serves (accepted,
reached, retry, or none) looks at the newest 2,000 sequence numbers and
says so ("complete": false, "searchedAfter") instead of scanning for ever.
q and clean unpack each candidate, so they look at 500.
"""

import http.client
import json
import threading

from conftest import NOTIFS, TOKEN, dumps
from mock_helpers import get_json

ROWS = 2300		# past the 2,000 a read looks at
WRITERS = 4


def _post(srv, lo, hi, errors):
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    try:
        for i in range(lo, hi):
            body = {"recipients": {"type": "broadcast"},
                    "payload": {"title": "row %d" % i, "topic": "bulk"}}
            if i == 0:		# the oldest: a rare topic, an entity, a word
                body = {"recipients": {"type": "entity", "entityRef":
                                       "component:default/oldest"},
                        "payload": {"title": "needle at the bottom",
                                    "topic": "rare", "severity": "high"}}
            c.request("POST", NOTIFS, dumps(body),
                      {"Authorization": "Bearer " + TOKEN,
                       "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors.append(r.status)
    finally:
        c.close()


def _post_in_threads(srv, ranges):
    """_post each (lo, hi) range in its own thread; the errors of all."""
    errors = []
    ts = [threading.Thread(target=_post, args=(srv, lo, hi, errors))
          for lo, hi in ranges]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def test_indexed_filters_stay_whole_and_scans_say_where_they_stopped(
        own_server):
    srv = own_server()
    _post(srv, 0, 1, [])		# seq 1 first
    step = (ROWS - 1) // WRITERS + 1
    assert not _post_in_threads(srv, [(max(1, k * step),
                                       min(ROWS, (k + 1) * step))
                                      for k in range(WRITERS)])

    # Indexed: the oldest row is found, and the answer is whole.
    for params in ({"topic": "rare"}, {"severity": "high"},
                   {"entity": "component:default/oldest"},
                   {"entity": "default/oldest"}):
        got = get_json(srv, "/mock/deliveries", params)
        assert got["complete"] is True, params
        assert [d["seq"] for d in got["deliveries"]] == [1], params
        assert got["total"] == 1
    got = get_json(srv, "/mock/deliveries", {"topic": "bulk", "limit": 1})
    assert got["total"] == 2000 and got["complete"] is False
    assert got["searchedAfter"] == ROWS - 2000

    # Not indexed: the newest 2,000 numbers, and it says so.
    got = get_json(srv, "/mock/deliveries", {"status": "accepted",
                                             "limit": 1})
    assert got["total"] == 2000 and got["complete"] is False
    assert got["searchedAfter"] == ROWS - 2000
    # Text: the newest 500, each unpacked; one page and its total agree.
    got = get_json(srv, "/mock/deliveries", {"q": "needle"})
    assert got["deliveries"] == [] and got["complete"] is False
    assert got["total"] == 0 and got["searchedAfter"] == ROWS - 500
    got = get_json(srv, "/mock/deliveries", {"q": "row 2299"})
    assert [d["title"] for d in got["deliveries"]] == ["row 2299"]
    got = get_json(srv, "/mock/deliveries", {"q": "ROW 22", "limit": 7,
                                             "offset": 3})
    newest = get_json(srv, "/mock/deliveries", {"limit": 500,
                                                "view": "summary"})
    want = [d["seq"] for d in newest["deliveries"]
            if "row 22" in d["title"]]
    assert newest["deliveries"][-1]["seq"] == ROWS - 499
    assert got["total"] == len(want) and got["complete"] is False
    assert [d["seq"] for d in got["deliveries"]] == want[3:10]
    got = get_json(srv, "/mock/deliveries", {"q": "row", "topic": "bulk"})
    assert got["total"] == 500 and got["searchedAfter"] == ROWS - 500
    # A since inside the window is complete.
    got = get_json(srv, "/mock/deliveries", {"q": "row", "since": ROWS - 10})
    assert got["complete"] is True and got["total"] == 10

    # A wait's time-out says where it stopped looking.
    r = srv.req("GET", "/mock/wait?q=needle&timeout=0", token=None)
    assert r.status == 408
    body = json.loads(r.body)
    assert body["complete"] is False
    assert "searching only the newest deliveries, after seq %d" % (
        ROWS - 500) in body["error"]["message"]
    # Small stores, or a since from the cursor, are whole.
    got = get_json(srv, "/mock/wait", {"q": "row", "since": ROWS - 1,
                                       "timeout": "0"})
    assert got["complete"] is True
    ents = get_json(srv, "/mock/entities")
    assert ents["complete"] is False
    ents = get_json(srv, "/mock/entities", {"entity": "default/oldest"})
    assert ents["complete"] is True
    assert [e["ref"] for e in ents["entities"]] == ["component:default/oldest"]


def test_a_large_reset_runs_in_slices_and_deletes_everything(own_server):
    """A reset of more than one slice (500 numbers) is answered by its
    last slice; everything stored when it began is gone, notifications
    too, and the cursor stays."""
    srv = own_server()
    errors = _post_in_threads(srv, [(k * 1100, (k + 1) * 1100)
                                    for k in range(WRITERS)])
    assert not errors
    top = get_json(srv, "/mock/cursor")["cursor"]
    assert top == 4400
    r = srv.req("DELETE", "/mock/deliveries", token=None)
    assert r.status == 200, r
    got = json.loads(r.body)
    # (row 0 is an entity send that reached nobody: no notification)
    assert (got["deleted"], got["notificationsDeleted"]) == (4400, 4399)
    assert got["cursor"] == top
    assert get_json(srv, "/mock/deliveries")["deliveries"] == []
    assert get_json(srv, "/mock/cursor")["cursor"] == top
    # A filtered one too, over several slices: only what matches goes.
    _post(srv, 1, 4500, errors)
    r = srv.req("DELETE", "/mock/deliveries?topic=rare", token=None)
    assert json.loads(r.body)["deleted"] == 0
    r = srv.req("DELETE", "/mock/deliveries?q=row%2042", token=None)
    deleted = json.loads(r.body)["deleted"]
    assert deleted == sum(1 for i in range(1, 4500) if "row 42" in
                          "row %d" % i)
    assert get_json(srv, "/mock/cursor")["retention"]["stored"] == \
        4499 - deleted
