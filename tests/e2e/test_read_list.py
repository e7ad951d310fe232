"""
GET /notifications (and the legacy GET /): spec sections 8 and 9.1 -- the
read-side form, order, paging, totalCount, every filter, and every query
validation message.
"""

import json
import time

import pytest

from conftest import JSON_CT, MOUNT, assert_input_error
from read_helpers import (ALICE, ALICE_TOKEN, BOB, BOB_TOKEN, ISO_RE,
                          assert_internal_error, broadcast, fresh, get,
                          listing, post_json, send, stored, titles, to)


def send_all(srv, bodies):
    """Send in order, a few ms apart, so that created times differ."""
    out = []
    for b in bodies:
        out.append(send(srv, b))
        time.sleep(0.005)
    return out


@pytest.fixture(scope="module")
def srv():
    """alice's view: her own notifications, bob's, and broadcasts."""
    from read_helpers import start
    from conftest import finish_server
    s = start()
    ids = {}
    for tag, body in [
        ("crit", to(ALICE, "Crit deploy", severity="critical",
                    topic="deploys", description="rollout of order-service")),
        ("bob", to(BOB, "Bob only", severity="critical", topic="deploys")),
        ("low", to(ALICE, "Low note", severity="low", topic="argocd")),
        ("bc", broadcast("Broadcast needle", severity="high",
                         topic="announce")),
        ("norm", to(ALICE, "Plain", description="has NEEDLE_x% inside")),
        ("high", to(ALICE, "High sync", severity="high", topic="Argocd")),
    ]:
        ids[tag] = send(s, body)[0]["id"]
        time.sleep(0.005)
    s.ids = ids
    yield s
    finish_server(s)


# --- the answer ------------------------------------------------------------------

def test_empty_list_exact(fresh):
    s = fresh()
    r = get(s, "/notifications")
    assert (r.status, r.body) == (200, b'{"totalCount":0,"notifications":[]}')
    assert r.headers.get("Content-Type") == JSON_CT


def test_read_side_form_exact(fresh):
    """Key order and nulls of section 8; metadata only when set; unknown
    payload keys not stored; user null for broadcasts."""
    s = fresh()
    full = send(s, to(ALICE, "Sync failed", description="App my-app failed",
                      link="/catalog/default/component/my-app",
                      severity="high", topic="argocd", scope="argocd/my-app",
                      icon="warning", metadata={"app": "my-app", "rev": 3},
                      extra="dropped"))[0]
    time.sleep(0.005)
    bc = send(s, broadcast("Broadcast 1", link="https://example.com/x"))[0]
    r = get(s, "/notifications")
    want = ('{"totalCount":2,"notifications":[%s,%s]}' % (
        stored(bc["id"], None, bc["created"], "Broadcast 1",
               link="https://example.com/x"),
        stored(full["id"], ALICE, full["created"], "Sync failed",
               description="App my-app failed",
               link="/catalog/default/component/my-app", topic="argocd",
               severity="high", scope="argocd/my-app", icon="warning",
               metadata={"app": "my-app", "rev": 3}))).encode()
    assert r.body == want


def test_newest_first_own_and_broadcasts(srv):
    doc = listing(srv)
    assert titles(doc) == ["High sync", "Plain", "Broadcast needle",
                           "Low note", "Crit deploy"]
    assert doc["totalCount"] == 5
    assert all(ISO_RE.match(n["created"]) for n in doc["notifications"])
    # bob sees his own and the broadcast only
    assert titles(listing(srv, token=BOB_TOKEN)) == ["Broadcast needle",
                                                     "Bob only"]


def test_legacy_root_alias(srv):
    assert get(srv, "/?limit=1").body == get(srv, "/notifications?limit=1").body
    assert titles(json.loads(get(srv, "/").body))[0] == "High sync"


# --- paging -------------------------------------------------------------------------

@pytest.mark.parametrize("query,want", [
    ("?limit=2", ["High sync", "Plain"]),
    ("?limit=2&offset=1", ["Plain", "Broadcast needle"]),
    ("?offset=3", ["Low note", "Crit deploy"]),
    ("?offset=9", []),
    ("?limit=0", []),
    # ajv coerces what Number() reads; knex then takes parseInt()
    ("?limit=1e0", ["High sync"]),
    ("?limit=%201", ["High sync"]),
    ("?limit=0x2", ["High sync", "Plain"]),
    ("?limit=1.0", ["High sync"]),
    ("?limit=-0", []),
    ("?limit=Infinity", ["High sync", "Plain", "Broadcast needle",
                         "Low note", "Crit deploy"]),
    ("?limit=1e21", ["High sync"]),
])
def test_paging_keeps_total(srv, query, want):
    doc = listing(srv, query)
    assert titles(doc) == want
    assert doc["totalCount"] == 5


def test_limit_beyond_the_database(srv):
    """PostgreSQL refuses such a LIMIT; Backstage hides that behind a log
    id."""
    r = get(srv, "/notifications?limit=99999999999999999999")
    assert_internal_error(r, "GET", "/notifications?limit=99999999999999999999")


# --- orderField ----------------------------------------------------------------------

@pytest.mark.parametrize("query,want", [
    ("orderField=created,asc", ["Crit deploy", "Low note",
                                "Broadcast needle", "Plain", "High sync"]),
    ("orderField=created,desc", ["High sync", "Plain", "Broadcast needle",
                                 "Low note", "Crit deploy"]),
    # severity sorts as a string: critical < high < low < normal
    ("orderField=severity,asc&orderField=created,desc",
     ["Crit deploy", "High sync", "Broadcast needle", "Low note", "Plain"]),
    ("orderField=severity,desc&orderField=created,asc",
     ["Plain", "Low note", "Broadcast needle", "High sync", "Crit deploy"]),
    # no direction: the database's default, ascending (NULLs first)
    ("orderField=topic&orderField=created", ["Plain", "High sync",
                                             "Broadcast needle", "Low note",
                                             "Crit deploy"]),
    ("orderField=title,desc", ["Plain", "Low note", "High sync",
                               "Crit deploy", "Broadcast needle"]),
    # column names compare without case, as SQLite does
    ("orderField=TITLE,asc", ["Broadcast needle", "Crit deploy", "High sync",
                              "Low note", "Plain"]),
    # split(",") keeps the first two parts
    ("orderField=title,asc,whatever", ["Broadcast needle", "Crit deploy",
                                       "High sync", "Low note", "Plain"]),
    ("orderField[]=title", ["Broadcast needle", "Crit deploy", "High sync",
                            "Low note", "Plain"]),
    ("orderField=type,asc&orderField=title,asc",
     ["Broadcast needle", "Crit deploy", "High sync", "Low note", "Plain"]),
    ("orderField=type,desc&orderField=title,asc",
     ["Crit deploy", "High sync", "Low note", "Plain", "Broadcast needle"]),
])
def test_order_field(srv, query, want):
    assert titles(listing(srv, "?" + query)) == want


@pytest.mark.parametrize("query", ["orderField=nope",
                                   "orderField=created%20desc",
                                   "orderField=,asc",
                                   "orderField=title&orderField=x",
                                   # nothing to list: still refused
                                   "orderField=nope&topic=nothing",
                                   "orderField=nope&limit=0",
                                   "orderField=nope&search=zzz"])
def test_unknown_order_column_is_500(srv, query):
    assert_internal_error(get(srv, "/notifications?" + query), "GET",
                          "/notifications?" + query)


@pytest.mark.parametrize("query", ["orderField=created,DESC",
                                   "orderField=created,",
                                   "orderField=created,up",
                                   "orderField=title,asc&orderField=x,y"])
def test_bad_order_direction(srv, query):
    assert_input_error(get(srv, "/notifications?" + query),
                       "Invalid order field order, must be asc or desc",
                       "GET", "/notifications?" + query)


def test_bad_direction_beats_bad_date(srv):
    """The handler parses orderField before the common options."""
    q = "orderField=x,y&createdAfter=garbage"
    assert_input_error(get(srv, "/notifications?" + q),
                       "Invalid order field order, must be asc or desc",
                       "GET", "/notifications?" + q)


# --- filters ---------------------------------------------------------------------------

@pytest.mark.parametrize("query,want", [
    ("topic=deploys", ["Crit deploy"]),
    ("topic=argocd", ["Low note"]),			# exact, case included
    ("topic=Argocd", ["High sync"]),
    ("topic=nothing", []),
    # title OR description, without case
    ("search=needle", ["Plain", "Broadcast needle"]),
    ("search=ROLLOUT", ["Crit deploy"]),
    ("search=w+n", ["Low note"]),			# '+' is a space
    # LIKE: % and _ are not escaped
    ("search=%25", ["High sync", "Plain", "Broadcast needle", "Low note",
                    "Crit deploy"]),
    ("search=needle_x%25", ["Plain"]),
    ("search=h_gh", ["High sync"]),
    ("minimumSeverity=critical", ["Crit deploy"]),
    ("minimumSeverity=high", ["High sync", "Broadcast needle",
                              "Crit deploy"]),
    ("minimumSeverity=normal", ["High sync", "Plain", "Broadcast needle",
                                "Crit deploy"]),
    ("minimumSeverity=low", ["High sync", "Plain", "Broadcast needle",
                             "Low note", "Crit deploy"]),
    ("createdAfter=2000-01-01", ["High sync", "Plain", "Broadcast needle",
                                 "Low note", "Crit deploy"]),
    ("createdAfter=2000", ["High sync", "Plain", "Broadcast needle",
                           "Low note", "Crit deploy"]),
    ("createdAfter=Sat,%2001%20Jan%202000%2000:00:00%20GMT",
     ["High sync", "Plain", "Broadcast needle", "Low note", "Crit deploy"]),
    ("createdAfter=2999-01-01T00:00:00.000Z", []),
    ("minimumSeverity=high&search=needle", ["Broadcast needle"]),
    ("topic=deploys&minimumSeverity=low&limit=5", ["Crit deploy"]),
])
def test_filters(srv, query, want):
    doc = listing(srv, "?" + query)
    assert titles(doc) == want
    assert doc["totalCount"] == len(want)


def test_created_after_is_inclusive(srv):
    doc = listing(srv, "?orderField=created,asc")
    third = doc["notifications"][2]
    got = listing(srv, "?orderField=created,asc&createdAfter=" +
                  third["created"])
    assert titles(got) == ["Broadcast needle", "Plain", "High sync"]


def test_read_and_saved_filters(fresh):
    s = fresh()
    a = send(s, to(ALICE, "a"))[0]["id"]
    time.sleep(0.005)
    b = send(s, broadcast("b"))[0]["id"]
    time.sleep(0.005)
    send(s, to(ALICE, "c"))
    post_json(s, "/notifications/update", {"ids": [a], "read": True})
    post_json(s, "/notifications/update", {"ids": [b], "saved": True})
    assert titles(listing(s, "?read=true")) == ["a"]
    assert titles(listing(s, "?read=false")) == ["c", "b"]
    assert titles(listing(s, "?saved=true")) == ["b"]
    assert titles(listing(s, "?saved=false&read=false")) == ["c"]
    # bob's view of the same broadcast keeps its own state
    assert titles(listing(s, "?saved=true", BOB_TOKEN)) == []
    assert titles(listing(s, "?read=false", BOB_TOKEN)) == ["b"]


def test_unexpected_date_format(srv):
    for q in ("createdAfter=garbage", "createdAfter=2026-13-01",
              "createdAfter=tomorrow"):
        assert_input_error(get(srv, "/notifications?" + q),
                           "Unexpected date format", "GET",
                           "/notifications?" + q)


# --- validation messages (the OpenAPI validator) ---------------------------------------

VALIDATION = [
    ("offset=x", "request/query/offset must be integer"),
    ("offset=1.5", "request/query/offset must be integer"),
    ("offset=-1", "request/query/offset must be >= 0"),
    ("limit=x", "request/query/limit must be integer"),
    ("limit=-1", "request/query/limit must be >= 0"),
    ("limit=-Infinity", "request/query/limit must be >= 0"),
    ("limit=1&limit=2", "request/query/limit must be integer"),
    ("limit=&limit=1", "request/query/limit must be integer"),
    ("limit[]=1", "request/query/limit must be integer"),
    ("offset=1&offset=1", "request/query/offset must be integer"),
    ("read=TRUE", "request/query/read must be equal to one of the allowed "
     "values: true, false"),
    ("read=1", "request/query/read must be equal to one of the allowed "
     "values: true, false"),
    ("saved=yes", "request/query/saved must be equal to one of the allowed "
     "values: true, false"),
    ("read=true&read=false", "request/query/read must be string"),
    ("minimumSeverity=HIGH", "request/query/minimumSeverity must be equal to "
     "one of the allowed values: critical, high, normal, low"),
    ("minimumSeverity=urgent", "request/query/minimumSeverity must be equal "
     "to one of the allowed values: critical, high, normal, low"),
    ("minimumSeverity=high&minimumSeverity=low",
     "request/query/minimumSeverity must be string"),
    ("topic=a&topic=b", "request/query/topic must be string"),
    ("search=a&search=b", "request/query/search must be string"),
    ("search[x]=1", "request/query/search must be string"),
    ("createdAfter=a&createdAfter=b",
     "request/query/createdAfter must be string"),
    ("orderField[x]=1", "request/query/orderField must be string, "
     "request/query/orderField must be array, request/query/orderField must "
     "match exactly one schema in oneOf"),
    ("foo=bar", "Unknown query parameter 'foo'"),
    ("a[b]=1", "Unknown query parameter 'a'"),
    ("limit=1&foo=", "Unknown query parameter 'foo'"),
    ("search=", "Empty value found for query parameter 'search'"),
    ("search", "Empty value found for query parameter 'search'"),
    ("topic=", "Empty value found for query parameter 'topic'"),
    ("orderField=", "Empty value found for query parameter 'orderField'"),
    ("limit=", "Empty value found for query parameter 'limit'"),
    # empty values before types, types in the schema's order
    ("limit=x&search=", "Empty value found for query parameter 'search'"),
    ("read=x&limit=x", "request/query/limit must be integer"),
    ("minimumSeverity=x&offset=-1", "request/query/offset must be >= 0"),
]


@pytest.mark.parametrize("query,message", VALIDATION)
@pytest.mark.parametrize("path", ["/notifications", "/"])
def test_query_validation(srv, path, query, message):
    assert_input_error(get(srv, path + "?" + query), message, "GET",
                       path + "?" + query)


def test_validation_before_credential_type(srv):
    """A static token gets the 400, not the 403, on a bad query."""
    from conftest import TOKEN
    r = srv.req("GET", MOUNT + "/notifications?foo=bar", token=TOKEN)
    assert_input_error(r, "Unknown query parameter 'foo'", "GET",
                       "/notifications?foo=bar")
