"""
The assertion API's read side, reset and access control
(doc/mock-api.md): /mock/deliveries, /mock/deliveries/{seq},
/mock/entities, /mock/cursor, DELETE /mock/deliveries, --admin-token.
"""

import base64
import hashlib
import json
import re

import pytest

from conftest import (DEFAULT_SUBJECT, ISO_MS_RE, JSON_CT, TOKEN, db,
                      err_body)
from mock_helpers import (RUN, cursor, get_json, mock, ref, send, topic,
                          wait_until)

ADMIN = "admin-secret-0123456789"
OTHER_TOKEN = "other-token-0123456789abcdef0123"


def listing(srv, **params):
    return get_json(srv, "/mock/deliveries", params)


def seqs(srv, **params):
    return [d["seq"] for d in listing(srv, **params)["deliveries"]]


def assert_input_error(resp, message):
    assert resp.status == 400, resp
    assert resp.json()["error"] == {"name": "InputError", "message": message}
    assert resp.json()["response"] == {"statusCode": 400}


# --- shape -----------------------------------------------------------------

def test_cursor_counts_deliveries(server):
    before = cursor(server)
    assert send(server, entity=ref("cursor")).status == 200
    assert send(server, body="{bad json").status == 400
    assert cursor(server) == before + 2


def test_delivery_full_shape(server):
    since = cursor(server)
    e = ref("shape")
    r = send(server, title="order-service deployed", entity=e,
             topic=topic("deploy"), description="rev abc")
    assert r.status == 200
    got = listing(server, since=since)
    assert got["total"] == 1 and got["offset"] == 0 and got["limit"] == 100
    assert got["cursor"] == since + 1
    d = got["deliveries"][0]
    assert d["seq"] == since + 1
    assert ISO_MS_RE.match(d["received"])
    assert isinstance(d["receivedMs"], int)
    assert d["remote"].startswith("127.0.0.1:")
    assert (d["method"], d["path"]) == ("POST",
                                        "/api/notifications/notifications")
    assert (d["status"], d["accepted"]) == (200, True)
    assert d["origin"] == DEFAULT_SUBJECT
    # The one keyed form, the same as in the log and the headers.
    fp = server.req("POST", "/mock/fingerprint", json.dumps(
        {"sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}).encode(),
        token=None).json()["fingerprint"]
    assert re.fullmatch(r"hmac:[0-9a-f]{12}", fp)
    assert d["tokenFingerprint"] == fp
    assert (d["title"], d["topic"], d["severity"]) == (
        "order-service deployed", topic("deploy"), "normal")
    assert d["entities"] == [e]
    assert isinstance(d["users"], list)
    assert isinstance(d["notificationIds"], list)
    assert isinstance(d["diagnoses"], list)
    assert isinstance(d["durationUs"], int)
    # Full view: what was sent and answered.
    body = json.loads(d["body"])
    assert body["payload"]["description"] == "rev abc"
    assert d["bodyBytes"] == len(d["body"].encode())
    assert "bodyBase64" not in d
    assert d["payload"]["title"] == "order-service deployed"
    assert d["recipients"] == {"type": "entity", "entityRef": e}
    assert json.loads(d["response"]) == r.json()
    hdrs = {k.lower(): v for k, v in d["headers"]}
    # Stored redacted: the token never comes back.
    assert hdrs["authorization"] == "Bearer " + fp
    assert TOKEN not in json.dumps(d)
    # The same delivery alone.
    one = get_json(server, "/mock/deliveries/%d" % d["seq"])
    assert one == d


def test_summary_view_and_rejected_shape(server):
    since = cursor(server)
    assert send(server, body=b"{\"recipients\":").status == 400
    d = listing(server, since=since, view="summary")["deliveries"][0]
    assert (d["status"], d["accepted"]) == (400, False)
    for k in ("headers", "body", "payload", "recipients", "response"):
        assert k not in d
    full = listing(server, since=since)["deliveries"][0]
    assert full["payload"] is None and full["recipients"] is None
    assert full["body"] == "{\"recipients\":"


def test_binary_body_comes_back_exactly(server):
    since = cursor(server)
    raw = b"{\"a\":\"\xff\xfe\x00\xc3\xa9\"}"
    send(server, body=raw)
    d = listing(server, since=since)["deliveries"][0]
    assert base64.b64decode(d["bodyBase64"]) == raw
    assert d["bodyBytes"] == len(raw)
    assert d["body"] == "{\"a\":\"\ufffd\ufffd\u0000\u00e9\"}"


def test_one_delivery_not_found(server):
    r = mock(server, "GET", "/mock/deliveries/999999999")
    assert r.status == 404
    assert r.json()["error"] == {"name": "NotFoundError",
                                 "message": "no delivery 999999999"}
    r = mock(server, "GET", "/mock/deliveries/abc")
    assert r.status == 404 and r.json()["error"]["name"] == "NotFoundError"


def test_newest_first_and_paging(server):
    since = cursor(server)
    for i in range(5):
        send(server, title="page %d" % i, entity=ref("page"))
    assert seqs(server, since=since) == [since + i for i in (5, 4, 3, 2, 1)]
    got = listing(server, since=since, limit=2, offset=1)
    assert [d["seq"] for d in got["deliveries"]] == [since + 4, since + 3]
    assert (got["total"], got["limit"], got["offset"]) == (5, 2, 1)


# --- every filter ------------------------------------------------------------

def test_filter_entity(server):
    since = cursor(server)
    a, b = ref("fa"), ref("fb")
    send(server, entity=a)				# since+1
    send(server, entity=[b, ref("fc")])			# since+2
    send(server, entity=a.replace("component:default/", "Component:"))
    send(server, entity=ref("fa", kind="api"))		# since+4
    assert seqs(server, since=since, entity=a) == [since + 3, since + 1]
    # Case and the default namespace do not matter, as in Backstage.
    assert seqs(server, since=since, entity=a.upper()) == [since + 3,
                                                          since + 1]
    # Repeated: any of them.
    assert seqs(server, since=since, entity=[a, b]) == [since + 3, since + 2,
                                                       since + 1]
    # Without a kind: that name, any kind.
    assert seqs(server, since=since, entity="fa-" + RUN) == [
        since + 4, since + 3, since + 1]
    assert seqs(server, since=since, entity="default/fa-" + RUN) == [
        since + 4, since + 3, since + 1]
    assert seqs(server, since=since, entity=ref("nobody")) == []


def test_filter_topic_severity_q(server):
    since = cursor(server)
    t = topic("sync")
    e = ref("tsq")
    send(server, title="Sync OK", entity=e, topic=t, severity="low")
    send(server, title="other", entity=e, topic=t,
         description="NEEDLE in it")
    send(server, title="x", entity=e, topic=topic("deploy"),
         severity="critical")
    assert seqs(server, since=since, topic=t) == [since + 2, since + 1]
    assert seqs(server, since=since, severity="normal") == [since + 2]
    assert seqs(server, since=since, severity="critical") == [since + 3]
    # q: title, description or raw body, ignoring case.
    assert seqs(server, since=since, q="sync ok") == [since + 1]
    assert seqs(server, since=since, q="needle") == [since + 2]
    assert seqs(server, since=since, q="deploy-" + RUN) == [since + 3]
    assert seqs(server, since=since, q="nowhere-" + RUN) == []
    # Filters combine with AND.
    assert seqs(server, since=since, topic=t, severity="low") == [since + 1]


def test_filter_status(server):
    since = cursor(server)
    send(server, entity=ref("st"))				# 200
    send(server, body="{")					# 400
    send(server, entity=ref("st"), token="wrong-token")	# 401
    assert seqs(server, since=since, status="accepted") == [since + 1]
    assert seqs(server, since=since, status="rejected") == [since + 3,
                                                           since + 2]
    assert seqs(server, since=since, status="401") == [since + 3]
    assert seqs(server, since=since, status="500") == []


def test_filter_origin(own_server):
    srv = own_server(["--token", OTHER_TOKEN + ":ci-job-7"])
    send(srv, entity=ref("o"))
    send(srv, entity=ref("o"), token=OTHER_TOKEN)
    send(srv, entity=ref("o"), token="nope")
    assert seqs(srv, origin="ci-job-7") == [2]
    assert seqs(srv, origin=DEFAULT_SUBJECT) == [1]


def test_filter_since(server):
    since = cursor(server)
    send(server, entity=ref("since"))
    send(server, entity=ref("since"))
    assert seqs(server, since=since + 1) == [since + 2]
    assert seqs(server, since=since + 2) == []


@pytest.mark.parametrize("params, message", [
    ({"severity": "urgent"}, "invalid 'severity': 'urgent' is not one of "
     "critical, high, normal, low"),
    ({"status": "ok"}, "invalid 'status': 'ok' is not accepted, rejected or "
     "an HTTP status code (100-599)"),
    ({"status": "99"}, "invalid 'status': '99' is not accepted, rejected or "
     "an HTTP status code (100-599)"),
    ({"since": "-1"}, "invalid 'since': '-1' is not a sequence number "
     "(0 or more)"),
    ({"since": "now"}, "invalid 'since': 'now' is not a sequence number "
     "(0 or more)"),
    ({"limit": "0"}, "invalid 'limit': '0' is not a number from 1 to 1000"),
    ({"limit": "1001"}, "invalid 'limit': '1001' is not a number from 1 to "
     "1000"),
    ({"offset": "x"}, "invalid 'offset': 'x' is not a number (0 or more)"),
    ({"topic": ""}, "invalid 'topic': must not be empty"),
    ({"entity": "user:"}, "invalid 'entity': Entity reference \"user:\" was "
     "not on the form [<kind>:][<namespace>/]<name>"),
    ({"entityRef": "x"}, "unknown query parameter 'entityRef'"),
    ({"count": "2"}, "unknown query parameter 'count'"),
    ({"view": "all"}, "invalid 'view': 'all' is not full or summary"),
    ([("topic", "a"), ("topic", "b")], "parameter 'topic' given more than "
     "once"),
])
def test_bad_filter_values(server, params, message):
    r = mock(server, "GET", "/mock/deliveries", params)
    assert_input_error(r, message)
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.json()["request"]["method"] == "GET"
    assert r.json()["request"]["url"].startswith("/mock/deliveries?")


def test_unknown_route_and_method(server):
    r = mock(server, "GET", "/mock/nothing")
    assert r.status == 404 and r.json()["error"]["name"] == "NotFoundError"
    r = mock(server, "POST", "/mock/deliveries")
    assert r.status == 405
    assert r.headers.get("Allow") == "GET, DELETE"
    assert r.json()["error"]["name"] == "MethodNotAllowedError"
    r = mock(server, "DELETE", "/mock/cursor")
    assert r.status == 405 and r.headers.get("Allow") == "GET"


# --- entities ----------------------------------------------------------------

def test_entities_counts(own_server):
    srv = own_server()
    a, b = ref("ea"), ref("eb")
    send(srv, entity=a, topic="deploy", severity="high")
    send(srv, entity=a.replace("default/", ""), topic="deploy")
    send(srv, entity=[a, b], topic="sync")
    # Refused by validation (no title): its refs still count.
    send(srv, body={"recipients": {"type": "entity", "entityRef": b},
                    "payload": {}})
    got = get_json(srv, "/mock/entities")
    assert got["cursor"] == 4
    by = {e["ref"]: e for e in got["entities"]}
    assert list(by) == [b, a]				# most recent first
    assert by[a]["total"] == 3 and by[a]["accepted"] == 3
    assert by[a]["rejected"] == 0
    assert by[a]["bySeverity"] == {"high": 1, "normal": 2}
    assert by[a]["byTopic"] == {"deploy": 2, "sync": 1}
    assert by[a]["lastSeq"] == 3
    assert (by[b]["total"], by[b]["accepted"], by[b]["rejected"]) == (2, 1, 1)
    assert by[b]["lastSeq"] == 4
    assert ISO_MS_RE.match(by[b]["lastReceived"])
    # Filters apply.
    got = get_json(srv, "/mock/entities", {"topic": "sync"})
    assert {e["ref"]: e["total"] for e in got["entities"]} == {a: 1, b: 1}


# --- reset -------------------------------------------------------------------

def notification_ids(srv):
    conn = db(srv)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM notifications")}
    finally:
        conn.close()


def test_reset_all_deletes_notifications_too(own_server):
    srv = own_server()
    send(srv, entity="user:default/alice", topic="a")
    send(srv, broadcast=True, title="to all")
    assert len(notification_ids(srv)) == 2
    r = mock(srv, "DELETE", "/mock/deliveries")
    assert r.status == 200
    assert r.json() == {"deleted": 2, "notificationsDeleted": 2, "cursor": 2}
    assert listing(srv)["total"] == 0
    assert notification_ids(srv) == set()
    assert get_json(srv, "/mock/entities")["entities"] == []
    # Seqs are not reused.
    assert cursor(srv) == 2
    send(srv, entity=ref("after"))
    assert seqs(srv) == [3]


def test_reset_filtered_and_keep(own_server):
    srv = own_server()
    send(srv, entity="user:default/alice", topic="a")	# 1
    send(srv, entity="user:default/bob", topic="b")	# 2
    send(srv, entity="user:default/carol", topic="c")	# 3
    ids = {d["seq"]: d["notificationIds"] for d in listing(srv)["deliveries"]}
    r = mock(srv, "DELETE", "/mock/deliveries", {"topic": "a"})
    assert r.json() == {"deleted": 1, "notificationsDeleted": 1, "cursor": 3}
    assert seqs(srv) == [3, 2]
    assert notification_ids(srv) == set(ids[2] + ids[3])
    r = mock(srv, "DELETE", "/mock/deliveries",
             {"topic": "b", "notifications": "keep"})
    assert r.json() == {"deleted": 1, "notificationsDeleted": 0, "cursor": 3}
    assert seqs(srv) == [3]
    assert notification_ids(srv) == set(ids[2] + ids[3])
    r = mock(srv, "DELETE", "/mock/deliveries", {"notifications": "maybe"})
    assert_input_error(r, "invalid 'notifications': 'maybe' is not keep or "
                       "delete")


# --- access ------------------------------------------------------------------

def test_admin_token(own_server):
    srv = own_server(["--admin-token", ADMIN])
    r = mock(srv, "GET", "/mock/cursor")
    assert r.status == 401
    assert r.body == err_body("AuthenticationError", "Missing admin token",
                              "GET", "/mock/cursor", 401)
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="notimock"'
    r = mock(srv, "GET", "/mock/cursor", token=ADMIN + "x")
    assert r.status == 401
    assert r.json()["error"]["message"] == "Illegal admin token"
    # The notifications token is not the admin token.
    assert mock(srv, "GET", "/mock/cursor", token=TOKEN).status == 401
    r = mock(srv, "GET", "/mock/cursor", token=ADMIN)
    assert r.status == 200 and r.json()["cursor"] == 0
    assert r.headers.get("WWW-Authenticate") is None
    r = mock(srv, "GET", "/mock/cursor", {"access_token": ADMIN})
    assert r.status == 200
    # Never written to the access log.
    wait_until(lambda: "access_token=REDACTED" in srv.log(),
               what="the access line")
    assert ADMIN not in srv.log()
    # Refused before anything else is looked at.
    r = mock(srv, "GET", "/mock/deliveries", {"severity": "bad"})
    assert r.status == 401
    # The Backstage side is unaffected.
    assert send(srv, entity=ref("admin")).status == 200


def test_open_without_admin_token(server):
    assert mock(server, "GET", "/mock/cursor").status == 200
