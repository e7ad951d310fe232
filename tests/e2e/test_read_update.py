"""
GET /notifications/:id, POST /notifications/update and GET /status: spec
sections 8, 9.3 and 10.1, with read and saved kept per user for
broadcasts.
"""

import json
import time

import pytest

from conftest import MOUNT, assert_error, assert_input_error
from read_helpers import (ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, ISO_RE,
                          broadcast, fresh, get, get_json, post, post_json,
                          send, stored, titles, to)


def mark(srv, ids, token=ALICE_TOKEN, path="/notifications/update", **kw):
    body = {"ids": ids}
    body.update(kw)
    return post_json(srv, path, body, token)


# --- by id ---------------------------------------------------------------------------

def test_get_by_id_exact(fresh):
    s = fresh()
    n = send(s, to(ALICE, "Sync failed", description="App my-app failed",
                   severity="high", topic="argocd", icon="warning",
                   metadata={"rev": 3}))[0]
    r = get(s, "/notifications/" + n["id"])
    assert r.status == 200
    assert r.body == stored(n["id"], ALICE, n["created"], "Sync failed",
                            description="App my-app failed", topic="argocd",
                            severity="high", icon="warning",
                            metadata={"rev": 3}).encode()
    # the legacy /:id, case-insensitive routes, a trailing slash
    assert get(s, "/" + n["id"]).body == r.body
    assert get(s, "/Notifications/" + n["id"] + "/").body == r.body


def test_get_broadcast_and_others(fresh):
    s = fresh()
    bc = send(s, broadcast("all"))[0]
    bobs = send(s, to(BOB, "bob's"))[0]
    doc = get_json(s, "/notifications/" + bc["id"])
    assert doc["user"] is None and doc["payload"]["title"] == "all"
    assert get_json(s, "/notifications/" + bobs["id"], BOB_TOKEN)["user"] == \
        BOB
    # someone else's notification is not found
    for path in ("/notifications/" + bobs["id"], "/" + bobs["id"],
                 "/notifications/does-not-exist",
                 "/notifications/" + bobs["id"].upper(),
                 "/notifications/status", "/notifications/topics",
                 "/notifications/update", "/health", "/nope"):
        assert_error(get(s, path), 404, "NotFoundError", "Not found", "GET",
                     path)


def test_health_without_token(fresh):
    """/health is declared unauthenticated: the 401 comes from /:id."""
    s = fresh()
    assert_error(s.req("GET", MOUNT + "/health", token=None), 401,
                 "AuthenticationError", "Missing credentials", "GET",
                 "/health")


def test_get_by_id_takes_no_query(fresh):
    s = fresh()
    n = send(s, to(ALICE, "x"))[0]
    path = "/notifications/%s?x=1" % n["id"]
    assert_input_error(get(s, path), "Unknown query parameter 'x'", "GET",
                       path)


# --- update ---------------------------------------------------------------------------

def test_update_exact_answer_newest_first(fresh):
    s = fresh()
    a = send(s, to(ALICE, "Sync failed", topic="argocd"))[0]
    time.sleep(0.005)
    b = send(s, broadcast("Broadcast 1", link="https://example.com/x"))[0]
    r = post(s, "/notifications/update", {"ids": [a["id"], b["id"]],
                                          "saved": True})
    assert r.status == 200
    doc = json.loads(r.body)
    saved_a, saved_b = doc[1]["saved"], doc[0]["saved"]
    assert ISO_RE.match(saved_a) and ISO_RE.match(saved_b)
    assert r.body == ("[%s,%s]" % (
        stored(b["id"], None, b["created"], "Broadcast 1", saved=saved_b,
               link="https://example.com/x"),
        stored(a["id"], ALICE, a["created"], "Sync failed", saved=saved_a,
               topic="argocd"))).encode()


def test_update_read_and_saved_set_and_clear(fresh):
    s = fresh()
    n = send(s, to(ALICE, "x"))[0]["id"]
    one = mark(s, [n], read=True)[0]
    assert ISO_RE.match(one["read"]) and one["saved"] is None
    one = mark(s, [n], saved=True)[0]
    assert one["read"] and one["saved"]
    # neither key: nothing changes, the notifications are returned
    assert mark(s, [n]) == [one]
    one = mark(s, [n], read=False)[0]
    assert one["read"] is None and one["saved"] == mark(s, [n])[0]["saved"]
    one = mark(s, [n], read=True, saved=False)[0]
    assert one["read"] and one["saved"] is None
    # marking read again moves the time on
    time.sleep(0.01)
    again = mark(s, [n], read=True)[0]
    assert again["read"] > one["read"]


def test_update_ignores_unknown_and_foreign_ids(fresh):
    s = fresh()
    mine = send(s, to(ALICE, "mine"))[0]["id"]
    bobs = send(s, to(BOB, "bob's"))[0]["id"]
    assert mark(s, []) == []
    got = mark(s, ["nope", bobs, mine, mine], read=True)
    assert [g["id"] for g in got] == [mine]
    # bob's stays unread for bob
    assert get_json(s, "/notifications/" + bobs, BOB_TOKEN)["read"] is None
    # the legacy POST /update
    assert mark(s, [mine], path="/update", read=False)[0]["read"] is None


def test_broadcast_state_is_per_user(fresh):
    """A broadcast read by alice stays unread for bob (0.3.4), and its read
    and saved flags do not overwrite each other (0.6.11)."""
    s = fresh()
    bc = send(s, broadcast("everyone"))[0]["id"]
    mark(s, [bc], read=True)
    mark(s, [bc], saved=True)
    a = get_json(s, "/notifications/" + bc)
    assert a["read"] and a["saved"]
    b = get_json(s, "/notifications/" + bc, BOB_TOKEN)
    assert b["read"] is None and b["saved"] is None
    assert get_json(s, "/status") == {"unread": 0, "read": 1}
    assert get_json(s, "/status", BOB_TOKEN) == {"unread": 1, "read": 0}
    # bob saves it; alice's state is untouched
    mark(s, [bc], BOB_TOKEN, saved=True)
    assert get_json(s, "/notifications/" + bc) == a
    mark(s, [bc], read=False)
    a2 = get_json(s, "/notifications/" + bc)
    assert a2["read"] is None and a2["saved"] == a["saved"]
    b2 = get_json(s, "/notifications/" + bc, BOB_TOKEN)
    assert b2["read"] is None and b2["saved"]


def test_scope_resend_and_read_state(fresh):
    """A user's scope re-send makes it unread again; a broadcast's keeps
    each user's read state."""
    s = fresh()
    u = send(s, to(ALICE, "v1", scope="s"))[0]["id"]
    bc = send(s, broadcast("b1", scope="s"))[0]["id"]
    mark(s, [u, bc], read=True)
    again = send(s, to(ALICE, "v2", scope="s"))[0]
    assert again["id"] == u and again["read"] is None
    send(s, broadcast("b2", scope="s"))
    doc = get_json(s, "/notifications/" + bc)
    assert doc["payload"]["title"] == "b2" and doc["read"]
    assert get_json(s, "/status") == {"unread": 1, "read": 1}


UPDATE_ERRORS = [
    ("{}", "request/body must have required property 'ids'"),
    ('{"read":true}', "request/body must have required property 'ids'"),
    ('{"ids":"x"}', "request/body/ids must be array"),
    ('{"ids":[],"read":"true"}', "request/body/read must be boolean"),
    ('{"ids":[],"saved":1}', "request/body/saved must be boolean"),
    ('{"ids":[1]}', "request/body/ids/0 must be string"),
    ("[]", "request/body must be object"),
]


@pytest.mark.parametrize("path", ["/notifications/update", "/update"])
@pytest.mark.parametrize("body,message", UPDATE_ERRORS)
def test_update_validation(fresh, path, body, message):
    s = fresh()
    assert_input_error(post(s, path, body), message, "POST", path)


def test_update_media_type_and_query(fresh):
    s = fresh()
    r = s.req("POST", MOUNT + "/notifications/update", '{"ids":[]}',
              [("Content-Type", "text/plain")], ALICE_TOKEN)
    assert_input_error(r, "unsupported media type text/plain", "POST",
                       "/notifications/update")
    r = s.req("POST", MOUNT + "/notifications/update?x=1", '{"ids":[]}',
              [("Content-Type", "application/json")], ALICE_TOKEN)
    assert_input_error(r, "Unknown query parameter 'x'", "POST",
                       "/notifications/update?x=1")


# --- status -----------------------------------------------------------------------------

def test_status_counts(fresh):
    s = fresh()
    assert get(s, "/status").body == b'{"unread":0,"read":0}'
    ids = [send(s, to(ALICE, "n%d" % i))[0]["id"] for i in range(5)]
    send(s, broadcast("bc"))
    send(s, to(BOB, "not mine"))
    assert get(s, "/status").body == b'{"unread":6,"read":0}'
    mark(s, ids[:1], read=True)
    assert get(s, "/status").body == b'{"unread":5,"read":1}'
    # saved does not count
    mark(s, ids[1:3], saved=True)
    assert get_json(s, "/status") == {"unread": 5, "read": 1}
    assert get_json(s, "/status", BOB_TOKEN) == {"unread": 2, "read": 0}


def test_status_takes_no_query(fresh):
    s = fresh()
    assert_input_error(get(s, "/status?x=1"), "Unknown query parameter 'x'",
                       "GET", "/status?x=1")
