"""
The live signals of Backstage's "notifications" channel (spec section
12).  notimock publishes them once the transaction that stored what they
announce commits; until the event stream carries them, they show in the
debug log (-vv), which is what these tests read.
"""

import json
import re
import time

from read_helpers import (ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, broadcast,
                          fresh, post_json, send, to)

SIGNAL_RE = re.compile(
    r"signal (\d+) on 'notifications' to (\S+): (.*)$", re.M)


def unescape(s):
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), s)


def signals(srv, wait_for=None):
    """[(id, recipient or None, message)] from the log, waiting (briefly)
    until there are wait_for of them."""
    deadline = time.monotonic() + 5
    while True:
        got = [(int(m.group(1)),
                None if m.group(2) == "everyone" else unescape(m.group(2)),
                json.loads(unescape(m.group(3))))
               for m in SIGNAL_RE.finditer(srv.log())]
        if wait_for is None or len(got) >= wait_for or \
                time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def test_new_notification_per_stored_notification(fresh):
    s = fresh(["-vv"])
    a = send(s, to([ALICE, BOB], "two"))
    b = send(s, broadcast("all"))
    got = signals(s, 3)
    assert got == [
        (1, ALICE, {"action": "new_notification",
                    "notification_id": a[0]["id"]}),
        (2, BOB, {"action": "new_notification",
                  "notification_id": a[1]["id"]}),
        (3, None, {"action": "new_notification",
                   "notification_id": b[0]["id"]}),
    ]
    assert list(got[0][2]) == ["action", "notification_id"]


def test_scope_updates_carry_the_stored_id(fresh):
    """A broadcast re-send answers with a fresh id (the upstream bug), but
    its signal names the stored one; a user's re-send keeps its id."""
    s = fresh(["-vv"])
    bc = send(s, broadcast("v1", scope="s"))[0]["id"]
    again = send(s, broadcast("v2", scope="s"))[0]["id"]
    assert again != bc
    u = send(s, to(ALICE, "u1", scope="s"))[0]["id"]
    send(s, to(ALICE, "u2", scope="s"))
    ids = [m["notification_id"] for _, _, m in signals(s, 4)]
    assert ids == [bc, bc, u, u]


def test_read_and_unread_signals(fresh):
    s = fresh(["-vv"])
    n = send(s, to(ALICE, "x"))[0]["id"]
    post_json(s, "/notifications/update", {"ids": [n, "nope"], "read": True})
    post_json(s, "/notifications/update", {"ids": [n], "saved": True})
    post_json(s, "/notifications/update", {"ids": [n]})
    post_json(s, "/notifications/update", {"ids": [], "read": False},
              BOB_TOKEN)
    got = signals(s, 3)
    assert got[1:] == [
        (2, ALICE, {"action": "notification_read",
                    "notification_ids": [n, "nope"]}),
        (3, BOB, {"action": "notification_unread", "notification_ids": []}),
    ]


def test_no_signal_for_opted_out_or_refused(fresh):
    s = fresh(["-vv"])
    post_json(s, "/settings", {"channels": [{"id": "Web", "origins": [
        {"id": "argocd-notifications", "enabled": False}]}]}, ALICE_TOKEN)
    got = send(s, to([ALICE, BOB], "only bob"))
    assert [e["user"] for e in got] == [BOB]
    # a refused send publishes nothing
    r = s.req("POST", "/api/notifications/notifications", "{bad",
              [("Content-Type", "application/json")])
    assert r.status == 400
    send(s, broadcast("last"))
    assert [(i, who) for i, who, _ in signals(s, 2)] == [(1, BOB), (2, None)]
