"""
Successful sends: spec sections 5 (recipients), 6 (scope) and 7 (the
creation response).

Recipient names carry a per-run suffix so that the module can also run
against a long-lived server ($NOTIMOCK_URL) more than once.
"""

import calendar
import json
import time
import uuid

import pytest

from conftest import (DEFAULT_SUBJECT, ISO_MS_RE, JSON_CT, NOTIFS, UUID4_RE,
                      db, dumps, masked, oracle_iso)

RUN = uuid.uuid4().hex[:8]
ORIGIN = DEFAULT_SUBJECT


def u(name):
    """A user ref unique to this run."""
    return "user:default/%s-%s" % (name, RUN)


def send(server, body):
    raw = body if isinstance(body, (bytes, str)) else dumps(body)
    return server.req("POST", NOTIFS, raw,
                      [("Content-Type", "application/json")])


def to(refs, title="t", **payload):
    payload = dict(title=title, **payload)
    return {"recipients": {"type": "entity", "entityRef": refs},
            "payload": payload}


def broadcast(**payload):
    return {"recipients": {"type": "broadcast"}, "payload": payload}


def ok(resp):
    assert resp.status == 200, resp
    assert resp.headers.get("Content-Type") == JSON_CT
    return json.loads(oracle_iso(resp.body))


def users(resp):
    return [e["user"] for e in ok(resp)]


def iso_ms(s):
    """Epoch seconds of an ISO-8601 UTC string with milliseconds."""
    assert ISO_MS_RE.match(s), s
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) + \
        int(s[20:23]) / 1000


# --- 7: the creation response -----------------------------------------------

def test_user_send_spec_example(server):
    scope = "argocd/my-app-" + RUN
    pl = ('{"title":"Sync failed","description":"App my-app failed","link":'
          '"/catalog/default/component/my-app","severity":"high","topic":'
          '"argocd","scope":"%s","icon":"warning","metadata":{"app":"my-app",'
          '"rev":3}}' % scope)
    body = ('{"recipients":{"type":"entity","entityRef":"%s"},"payload":%s}'
            % (u("guest"), pl))
    r = send(server, body)
    assert r.status == 200
    assert masked(r.body) == (
        '[{"payload":%s,"origin":"%s","created":"<created>","id":"<id>",'
        '"user":"%s"}]' % (pl, ORIGIN, u("guest")))


def test_broadcast_spec_example(server):
    r = send(server, b'{"recipients":{"type":"broadcast"},"payload":'
                     b'{"title":"x","extra":1},"other":2}')
    assert r.status == 200
    assert masked(r.body) == (
        '[{"payload":{"title":"x","extra":1,"severity":"normal"},"origin":'
        '"%s","created":"<created>","user":null,"id":"<id>"}]' % ORIGIN)


def test_status_is_200_with_json_type(server):
    r = send(server, broadcast(title="status"))
    assert r.status == 200
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.headers.get("Location") is None


def test_severity_keeps_its_place(server):
    r = send(server, to(u("sev"), severity="critical", topic="a"))
    assert masked(r.body).startswith(
        '[{"payload":{"title":"t","severity":"critical","topic":"a"},')


def test_severity_first_keeps_its_place(server):
    body = ('{"recipients":{"type":"broadcast"},"payload":{"severity":"low",'
            '"title":"first"}}')
    assert masked(send(server, body).body).startswith(
        '[{"payload":{"severity":"low","title":"first"},')


def test_severity_appended_last_when_omitted(server):
    body = ('{"recipients":{"type":"broadcast"},"payload":{"title":"t",'
            '"metadata":{"a":1},"zzz":true,"icon":"i"}}')
    assert masked(send(server, body).body).startswith(
        '[{"payload":{"title":"t","metadata":{"a":1},"zzz":true,"icon":"i",'
        '"severity":"normal"},')


def test_payload_values_echoed_as_parsed(server):
    """Values come back as JSON.stringify(JSON.parse(sent)) would write
    them: escapes decoded, non-ASCII raw, control characters \\uXXXX."""
    sent = (b'{"recipients":{"type":"broadcast"},"payload":{"title":"caf\\u00e9'
            b' \\"q\\" \\\\ \\/ \\n\\t\\u0001\\u001f\\u007f \\ud83d\\ude00",'
            b'"n":[1.0,-0.5,0.1,1E2,true,false,null],"nested":{"a":{"b":[{}]},'
            b'"c":"","d":[]},"severity":"low","title2":"x"},"x":1}')
    want = ('[{"payload":{"title":"caf\u00e9 \\"q\\" \\\\ / \\n\\t\\u0001'
            '\\u001f\x7f \U0001F600","n":[1,-0.5,0.1,100,true,false,null],'
            '"nested":{"a":{"b":[{}]},"c":"","d":[]},"severity":"low",'
            '"title2":"x"},"origin":"%s","created":"<created>","user":null,'
            '"id":"<id>"}]' % ORIGIN)
    assert masked(send(server, sent).body) == want


def test_number_formatting_like_javascript(server):
    sent = (b'{"recipients":{"type":"broadcast"},"payload":{"title":"n",'
            b'"n":[1e21,12345678901234567890,1.5e-7,-0,123e-2]}}')
    r = send(server, sent)
    assert '"n":[1e+21,12345678901234567000,1.5e-7,0,1.23]' in r.body.decode()


def test_duplicate_keys_last_value_wins(server):
    """JSON.parse keeps the first key's place and the last key's value."""
    sent = (b'{"recipients":{"type":"broadcast"},"payload":{"title":"a",'
            b'"topic":"t","title":"b"}}')
    assert masked(send(server, sent).body).startswith(
        '[{"payload":{"title":"b","topic":"t","severity":"normal"},')


def test_created_and_id_format(server):
    before = time.time()
    e = ok(send(server, to(u("fmt"))))[0]
    after = time.time()
    assert list(e) == ["payload", "origin", "created", "id", "user"]
    assert UUID4_RE.match(e["id"]), e["id"]
    assert before - 2 <= iso_ms(e["created"]) <= after + 2


def test_broadcast_key_order(server):
    e = ok(send(server, broadcast(title="b")))[0]
    assert list(e) == ["payload", "origin", "created", "user", "id"]
    assert e["user"] is None
    assert UUID4_RE.match(e["id"])


def test_fan_out_shares_created_not_id(server):
    refs = [u("fan1"), u("fan2"), u("fan3")]
    got = ok(send(server, to(refs, title="fan")))
    assert [e["user"] for e in got] == refs
    assert len({e["created"] for e in got}) == 1
    assert len({e["id"] for e in got}) == 3
    assert all(UUID4_RE.match(e["id"]) for e in got)
    assert all(e["payload"] == {"title": "fan", "severity": "normal"}
               for e in got)


def test_ids_differ_between_sends(server):
    a = ok(send(server, broadcast(title="a")))[0]["id"]
    b = ok(send(server, broadcast(title="a")))[0]["id"]
    assert a != b


def test_root_alias_sends(server):
    r = server.req("POST", "/api/notifications", dumps(to(u("alias"))),
                   [("Content-Type", "application/json")])
    assert [e["user"] for e in ok(r)] == [u("alias")]


# --- 5: recipients ----------------------------------------------------------

def test_single_string_ref(server):
    assert users(send(server, to(u("single")))) == [u("single")]


def test_duplicates_dropped_non_users_resolve_to_nobody(server):
    refs = ["component:default/order-service", u("guest"), u("alice"),
            u("guest")]
    assert users(send(server, to(refs))) == [u("guest"), u("alice")]


def test_user_refs_kept_verbatim(server):
    refs = ["user:alice-" + RUN, "User:default/Bob-" + RUN, u("alice"),
            "User:Default/Guest-" + RUN, "USER:x-" + RUN]
    assert users(send(server, to(refs))) == refs


def test_unknown_user_accepted(server):
    assert users(send(server, to(u("nobody")))) == [u("nobody")]


@pytest.mark.parametrize("refs", [
    "component:default/nothere",
    "group:default/team-a",
    ["group:default/team-a", "component:default/my-app"],
])
def test_non_user_refs_without_catalog(server, refs):
    r = send(server, to(refs))
    assert (r.status, r.body) == (200, b"[]")
    assert r.headers.get("Content-Type") == JSON_CT


def test_exclude_user(server):
    body = {"recipients": {"type": "entity", "entityRef": [u("ex-a"),
                                                           u("ex-b")],
                           "excludeEntityRef": u("ex-a")},
            "payload": {"title": "Excl msg"}}
    assert users(send(server, body)) == [u("ex-b")]


def test_exclude_list_and_everything_excluded(server):
    body = {"recipients": {"type": "entity", "entityRef": [u("ex-c")],
                           "excludeEntityRef": ["group:default/x",
                                                u("ex-c")]},
            "payload": {"title": "t"}}
    r = send(server, body)
    assert (r.status, r.body) == (200, b"[]")


def test_exclude_is_exact_string(server):
    body = {"recipients": {"type": "entity", "entityRef": [u("ex-d")],
                           "excludeEntityRef": u("ex-d").replace("user:",
                                                                 "User:")},
            "payload": {"title": "t"}}
    assert users(send(server, body)) == [u("ex-d")]


# --- 6: scope ---------------------------------------------------------------

def read_side(id_, user, created, updated, origin, payload):
    return dumps({"id": id_, "user": user, "created": created, "saved": None,
                  "read": None, "updated": updated, "origin": origin,
                  "payload": payload})


def test_user_scope_update(server):
    user, scope = u("scope1"), "argocd/s1-" + RUN
    first = ok(send(server, to(user, "Sync failed", description="App failed",
                               link="/catalog/default/component/my-app",
                               severity="high", topic="argocd", scope=scope,
                               icon="warning",
                               metadata={"app": "my-app", "rev": 3})))[0]
    r = send(server, to(user, "Sync failed again", scope=scope, extra=1))
    got = ok(r)
    assert len(got) == 1
    e = got[0]
    assert e["id"] == first["id"]
    assert e["created"] == first["created"]
    assert iso_ms(e["updated"]) >= iso_ms(first["created"])
    assert oracle_iso(r.body).decode() == "[" + read_side(
        first["id"], user, first["created"], e["updated"], ORIGIN,
        {"title": "Sync failed again", "description": "App failed",
         "link": "/catalog/default/component/my-app", "topic": "argocd",
         "severity": "normal", "scope": scope, "icon": "warning"}) + "]"


def test_user_scope_update_replaces_given_fields(server):
    user, scope = u("scope2"), "s2-" + RUN
    first = ok(send(server, to(user, "one", description="d1", topic="t1",
                               link="https://x/1", scope=scope)))[0]
    r = send(server, to(user, "two", description="d2", link="https://x/2",
                        severity="low", scope=scope, metadata={"k": [1]}))
    e = ok(r)[0]
    assert oracle_iso(r.body).decode() == "[" + read_side(
        first["id"], user, first["created"], e["updated"], ORIGIN,
        {"title": "two", "description": "d2", "link": "https://x/2",
         "topic": "t1", "severity": "low", "scope": scope, "icon": None,
         "metadata": {"k": [1]}}) + "]"


def test_user_scope_unset_fields_are_null(server):
    user, scope = u("scope3"), "s3-" + RUN
    first = ok(send(server, to(user, "one", scope=scope)))[0]
    r = send(server, to(user, "two", scope=scope))
    e = ok(r)[0]
    assert oracle_iso(r.body).decode() == "[" + read_side(
        first["id"], user, first["created"], e["updated"], ORIGIN,
        {"title": "two", "description": None, "link": None, "topic": None,
         "severity": "normal", "scope": scope, "icon": None}) + "]"


def test_scope_is_per_user(server):
    scope = "s4-" + RUN
    a = ok(send(server, to(u("scope4a"), "a", scope=scope)))[0]
    b = ok(send(server, to(u("scope4b"), "b", scope=scope)))[0]
    assert list(b) == ["payload", "origin", "created", "id", "user"]
    assert a["id"] != b["id"]


def test_scope_fan_out_mixes_update_and_create(server):
    scope = "s5-" + RUN
    old = ok(send(server, to(u("scope5a"), "a", scope=scope)))[0]
    got = ok(send(server, to([u("scope5a"), u("scope5b")], "b",
                             scope=scope)))
    assert [e["user"] for e in got] == [u("scope5a"), u("scope5b")]
    assert list(got[0]) == ["id", "user", "created", "saved", "read",
                            "updated", "origin", "payload"]
    assert got[0]["id"] == old["id"]
    assert list(got[1]) == ["payload", "origin", "created", "id", "user"]
    assert got[1]["id"] != old["id"]


def test_same_user_without_scope_always_creates(server):
    a = ok(send(server, to(u("noscope"), "a")))[0]
    b = ok(send(server, to(u("noscope"), "a")))[0]
    assert a["id"] != b["id"]
    assert list(b) == ["payload", "origin", "created", "id", "user"]


def test_broadcast_scope_update_answers_fresh_id(server):
    scope = "bc-scope-" + RUN
    first = ok(send(server, broadcast(title="Broadcast 1", scope=scope,
                                      link="https://example.com/x")))[0]
    r = send(server, broadcast(title="Broadcast 1 updated", scope=scope))
    e = ok(r)[0]
    assert e["id"] != first["id"]
    assert UUID4_RE.match(e["id"])
    assert masked(r.body) == (
        '[{"payload":{"title":"Broadcast 1 updated","scope":"%s",'
        '"severity":"normal"},"origin":"%s","created":"<created>",'
        '"user":null,"id":"<id>"}]' % (scope, ORIGIN))
    if server.db_path is None:
        return
    with db(server) as conn:
        rows = conn.execute("SELECT id, title, link, severity, updated FROM "
                            "notifications WHERE scope = ? AND user IS NULL",
                            (scope,)).fetchall()
    assert [tuple(r)[:4] for r in rows] == [
        (first["id"], "Broadcast 1 updated", "https://example.com/x",
         "normal")]
    assert rows[0]["updated"] is not None
