"""
GET /topics (spec 9.2), GET and POST /settings (10.2), and what the
settings do to sends: a user who turned an origin or topic off for the Web
channel gets nothing stored and no element in the answer.
"""

import json
import time

import pytest

from conftest import MOUNT, TOKEN, assert_error, assert_input_error
from read_helpers import (ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, READ_CONFIG,
                          assert_internal_error, broadcast, fresh, get,
                          get_json, listing, post, post_json, send, titles,
                          to)

SCAFFOLDER_TOKEN = "second-token-0123456789abcdef"	# in read-config.yaml
SCAFFOLDER = "plugin:scaffolder"
ORIGIN = "argocd-notifications"


def settings(*origins):
    return {"channels": [{"id": "Web", "origins": list(origins)}]}


def origin(oid, enabled=True, **topics):
    o = {"id": oid, "enabled": enabled}
    if topics:
        o["topics"] = [{"id": t, "enabled": e} for t, e in topics.items()]
    return o


# --- topics -------------------------------------------------------------------------

@pytest.fixture
def topics_srv(fresh):
    s = fresh()
    for body in (to(ALICE, "a", topic="deploys", severity="critical"),
                 to(ALICE, "b", topic="argocd", description="needle"),
                 to(ALICE, "c", topic="argocd"),
                 to(ALICE, "d"),
                 to(BOB, "e", topic="bobs-only"),
                 broadcast("f", topic="Announce", severity="low")):
        send(s, body)
        time.sleep(0.005)
    return s


@pytest.mark.parametrize("query,want", [
    ("", ["Announce", "argocd", "deploys"]),		# distinct, ascending
    ("?minimumSeverity=critical", ["deploys"]),
    ("?minimumSeverity=low", ["Announce", "argocd", "deploys"]),
    ("?search=needle", ["argocd"]),
    ("?read=true", []),
    ("?saved=false", ["Announce", "argocd", "deploys"]),
    ("?createdAfter=2999-01-01", []),
])
def test_topics(topics_srv, query, want):
    r = get(topics_srv, "/topics" + query)
    assert r.status == 200
    assert r.body == json.dumps({"topics": want},
                                separators=(",", ":")).encode()


def test_topics_per_user_read_state(topics_srv):
    ids = [n["id"] for n in listing(topics_srv)["notifications"]]
    post_json(topics_srv, "/notifications/update", {"ids": ids, "read": True})
    assert get_json(topics_srv, "/topics?read=true")["topics"] == \
        ["Announce", "argocd", "deploys"]
    assert get_json(topics_srv, "/topics?read=false", BOB_TOKEN)["topics"] \
        == ["Announce", "bobs-only"]


@pytest.mark.parametrize("query,message", [
    ("limit=1", "Unknown query parameter 'limit'"),
    ("topic=x", "Unknown query parameter 'topic'"),
    ("orderField=topic", "Unknown query parameter 'orderField'"),
    ("offset=0", "Unknown query parameter 'offset'"),
    ("search=", "Empty value found for query parameter 'search'"),
    ("search=a&search=b", "request/query/search must be string"),
    ("read=maybe", "request/query/read must be equal to one of the allowed "
     "values: true, false"),
    ("minimumSeverity=LOW", "request/query/minimumSeverity must be equal to "
     "one of the allowed values: critical, high, normal, low"),
    ("createdAfter=soon", "Unexpected date format"),
])
def test_topics_validation(topics_srv, query, message):
    assert_input_error(get(topics_srv, "/topics?" + query), message, "GET",
                       "/topics?" + query)


# --- GET /settings ------------------------------------------------------------------

def test_settings_empty(fresh):
    s = fresh()
    assert get(s, "/settings").body == \
        b'{"channels":[{"id":"Web","origins":[]}]}'


def test_settings_from_own_notifications(fresh):
    """Origins of the user's non-broadcast notifications, with their topics
    per origin, all on; broadcasts and other users' do not count."""
    s = fresh(["--config", READ_CONFIG])
    send(s, to(ALICE, "a", topic="argocd"))
    send(s, to(ALICE, "b", topic="deploys"))
    send(s, to(ALICE, "c"))
    send(s, to(ALICE, "d", topic="templates"), SCAFFOLDER_TOKEN)
    send(s, broadcast("e", topic="announce"))
    send(s, to(BOB, "f", topic="bobs"), SCAFFOLDER_TOKEN)
    r = get(s, "/settings")
    assert r.body == (
        b'{"channels":[{"id":"Web","origins":['
        b'{"id":"argocd-notifications","enabled":true,"topics":['
        b'{"id":"argocd","enabled":true},{"id":"deploys","enabled":true}]},'
        b'{"id":"plugin:scaffolder","enabled":true,"topics":['
        b'{"id":"templates","enabled":true}]}]}]}')
    assert get_json(s, "/settings", BOB_TOKEN)["channels"][0]["origins"] == [
        {"id": SCAFFOLDER, "enabled": True,
         "topics": [{"id": "bobs", "enabled": True}]}]


def test_settings_takes_no_query(fresh):
    s = fresh()
    assert_input_error(get(s, "/settings?x=1"), "Unknown query parameter 'x'",
                       "GET", "/settings?x=1")


# --- POST /settings -----------------------------------------------------------------

def test_post_settings_merges_with_notifications(fresh):
    s = fresh()
    send(s, to(ALICE, "a", topic="argocd"))
    send(s, to(ALICE, "b", topic="deploys"))
    r = post(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    assert r.status == 200
    assert r.body == (
        b'{"channels":[{"id":"Web","origins":[{"id":"argocd-notifications",'
        b'"enabled":true,"topics":[{"id":"argocd","enabled":false},'
        b'{"id":"deploys","enabled":true}]}]}]}')
    # GET answers the same; other users are untouched
    assert get(s, "/settings").body == r.body
    assert get_json(s, "/settings", BOB_TOKEN) == \
        {"channels": [{"id": "Web", "origins": []}]}


def test_post_settings_topic_case_and_origin_off(fresh):
    """Topics match without case when settings are shown; an origin turned
    off turns its unlisted topics off too."""
    s = fresh()
    send(s, to(ALICE, "a", topic="ArgoCD"))
    send(s, to(ALICE, "b", topic="deploys"))
    doc = post_json(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    assert doc["channels"][0]["origins"][0]["topics"] == [
        {"id": "ArgoCD", "enabled": False}, {"id": "deploys", "enabled": True}]
    doc = post_json(s, "/settings", settings(origin(ORIGIN, False)))
    assert doc["channels"][0]["origins"] == [
        {"id": ORIGIN, "enabled": False,
         "topics": [{"id": "ArgoCD", "enabled": False},
                    {"id": "deploys", "enabled": False}]}]


def test_post_settings_replaces_everything(fresh):
    s = fresh()
    send(s, to(ALICE, "a", topic="argocd"))
    post_json(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    doc = post_json(s, "/settings", settings(origin("someone-else", False)))
    # the earlier argocd switch is gone; an origin without notifications
    # is stored but not shown
    assert doc["channels"][0]["origins"] == [
        {"id": ORIGIN, "enabled": True,
         "topics": [{"id": "argocd", "enabled": True}]}]


@pytest.mark.parametrize("body,message", [
    ("{}", "request/body must have required property 'channels'"),
    ('{"channels":[{"id":"Email","origins":[]}]}', "Invalid channel"),
    ('{"channels":[{"id":"web","origins":[]}]}', "Invalid channel"),
    ('{"channels":[{"id":"Web"}]}',
     "request/body/channels/0 must have required property 'origins'"),
    ('{"channels":[{"id":"Web","origins":[{"id":"x"}]}]}',
     "request/body/channels/0/origins/0 must have required property "
     "'enabled'"),
    ('{"channels":[{"id":"Web","origins":[{"id":"x","enabled":true,'
     '"topics":[{"id":"t"}]}]}]}',
     "request/body/channels/0/origins/0/topics/0 must have required "
     "property 'enabled'"),
])
def test_post_settings_validation(fresh, body, message):
    s = fresh()
    assert_input_error(post(s, "/settings", body), message, "POST",
                       "/settings")


def test_post_settings_without_origins_wipes_and_fails(fresh):
    """saveNotificationSettings() deletes first, then knex refuses to insert
    no rows: a 500 whose message knex wrote."""
    s = fresh()
    send(s, to(ALICE, "a", topic="argocd"))
    post_json(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    r = post(s, "/settings", {"channels": []})
    assert_error(r, 500, "Error", " - The query is empty", "POST",
                 "/settings")
    assert get_json(s, "/settings")["channels"][0]["origins"][0][
        "topics"] == [{"id": "argocd", "enabled": True}]


def test_post_settings_duplicate_key(fresh):
    s = fresh()
    r = post(s, "/settings", settings(origin("a", True), origin("a", False)))
    assert_internal_error(r, "POST", "/settings")


def test_default_settings_from_config(fresh, tmp_path):
    """notifications.defaultSettings: extra channels, default origins and
    topics, and a channel switched off by default."""
    cfg = tmp_path / "defaults.yaml"
    cfg.write_text(
        "notifications:\n"
        "  defaultSettings:\n"
        "    channels:\n"
        "      - id: Web\n"
        "        origins:\n"
        "          - id: plugin:scaffolder\n"
        "            enabled: false\n"
        "            topics:\n"
        "              - {id: templates, enabled: true}\n"
        "      - id: Email\n"
        "        enabled: false\n")
    s = fresh(["--config", READ_CONFIG, "--config", str(cfg)])
    send(s, to(ALICE, "a", topic="argocd"))
    assert get(s, "/settings").body == (
        b'{"channels":[{"id":"Web","origins":['
        b'{"id":"argocd-notifications","enabled":true,"topics":['
        b'{"id":"argocd","enabled":true}]},'
        b'{"id":"plugin:scaffolder","enabled":false,"topics":['
        b'{"id":"templates","enabled":true}]}]},'
        b'{"id":"Email","enabled":false,"origins":['
        b'{"id":"argocd-notifications","enabled":false,"topics":['
        b'{"id":"argocd","enabled":false}]},'
        b'{"id":"plugin:scaffolder","enabled":false,"topics":['
        b'{"id":"templates","enabled":false}]}]}]}')
    # the default origin switch holds for sends, the topic exception too
    assert send(s, to(ALICE, "x", topic="other"), SCAFFOLDER_TOKEN) == []
    assert len(send(s, to(ALICE, "y", topic="templates"),
                    SCAFFOLDER_TOKEN)) == 1
    # Email is only shown: POST still knows only Web
    assert_input_error(post(s, "/settings", {"channels": [
        {"id": "Email", "origins": []}]}), "Invalid channel", "POST",
        "/settings")


# --- opting out --------------------------------------------------------------------

def test_opted_out_topic_stores_nothing(fresh):
    s = fresh()
    send(s, to(ALICE, "first", topic="argocd"))
    post_json(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    assert send(s, to(ALICE, "dropped", topic="argocd")) == []
    # only alice opted out; the answer holds bob's element alone
    got = send(s, to([ALICE, BOB], "bob gets it", topic="argocd"))
    assert [e["user"] for e in got] == [BOB]
    # the topic compares exactly when deciding; no topic falls back to the
    # origin's switch (on)
    assert len(send(s, to(ALICE, "other case", topic="ARGOCD"))) == 1
    assert len(send(s, to(ALICE, "no topic"))) == 1
    # broadcasts are not filtered
    assert len(send(s, broadcast("everyone", topic="argocd"))) == 1
    # (sends in the same millisecond tie on `created`: compare as sets)
    assert sorted(titles(listing(s))) == sorted(["everyone", "no topic",
                                                 "other case", "first"])


def test_opted_out_origin(fresh):
    s = fresh(["--config", READ_CONFIG])
    post_json(s, "/settings", settings(
        origin(SCAFFOLDER, False, keep=True), origin(ORIGIN, True)))
    assert send(s, to(ALICE, "off"), SCAFFOLDER_TOKEN) == []
    assert send(s, to(ALICE, "off too", topic="other"),
                SCAFFOLDER_TOKEN) == []
    # a topic of an origin that is off is off as well when saved
    assert send(s, to(ALICE, "kept?", topic="keep"), SCAFFOLDER_TOKEN) == []
    assert len(send(s, to(ALICE, "argo"))) == 1
    # the origin compares exactly
    post_json(s, "/settings", settings(origin("Plugin:Scaffolder", False)))
    assert len(send(s, to(ALICE, "back", topic="x"), SCAFFOLDER_TOKEN)) == 1


def test_opt_out_with_scope_leaves_the_old_row(fresh):
    s = fresh()
    first = send(s, to(ALICE, "v1", topic="argocd", scope="s"))[0]
    post_json(s, "/settings", settings(origin(ORIGIN, argocd=False)))
    assert send(s, to(ALICE, "v2", topic="argocd", scope="s")) == []
    assert get_json(s, "/notifications/" + first["id"])["payload"][
        "title"] == "v1"


def test_settings_are_per_user_and_need_a_user(fresh):
    s = fresh()
    post_json(s, "/settings", settings(origin(ORIGIN, False)))
    assert send(s, to(BOB, "bob still")) != []
    r = s.req("GET", MOUNT + "/settings", token=TOKEN)
    assert_error(r, 403, "NotAllowedError",
                 "This endpoint does not allow 'service' credentials", "GET",
                 "/settings")
