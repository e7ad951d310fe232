"""
Validation of a parsed send: spec sections 4.1 and 4.4 (the OpenAPI
schema, first failing rule only) and 4.5-4.7 (the handler's own checks:
empty title, links, entity refs).
"""

import pytest

from conftest import (BASE, NOTIFS, assert_error, assert_input_error,
                      dumps)

B = {"type": "broadcast"}
ONE_OF = "request/body/recipients must match exactly one schema in oneOf"
TYPE_BROADCAST = ("request/body/recipients/type must be equal to one of the "
                  "allowed values: broadcast")
ENTITY_REF_REQUIRED = ("request/body/recipients must have required property "
                       "'entityRef', " + TYPE_BROADCAST + ", " + ONE_OF)
SEVERITY_ENUM = ("request/body/payload/severity must be equal to one of the "
                 "allowed values: critical, high, normal, low")
SEND_FAILED = "Failed to send user notifications; caused by "


def send(server, body):
    raw = body if isinstance(body, (bytes, str)) else dumps(body)
    return server.req("POST", NOTIFS, raw,
                      [("Content-Type", "application/json")])


def payload(**kw):
    return {"recipients": B, "payload": kw}


# --- 4.4: one row of the table per case -------------------------------------

SCHEMA = [
    pytest.param({}, "request/body must have required property 'recipients'",
                 id="empty-object"),
    pytest.param({"payload": {"title": "t"}}, "request/body must have "
                 "required property 'recipients'", id="no-recipients"),
    pytest.param({"recipients": B}, "request/body must have required "
                 "property 'payload'", id="no-payload"),
    pytest.param([], "request/body must be object", id="empty-array"),
    pytest.param([{"recipients": B, "payload": {"title": "t"}}],
                 "request/body must be object", id="array-of-valid"),
    pytest.param({"recipients": B, "payload": "x"},
                 "request/body/payload must be object", id="payload-string"),
    pytest.param(payload(), "request/body/payload must have required "
                 "property 'title'", id="payload-empty"),
    pytest.param(payload(description="d"), "request/body/payload must have "
                 "required property 'title'", id="no-title"),
    pytest.param(payload(title=5), "request/body/payload/title must be "
                 "string", id="title-number"),
    pytest.param(payload(title=None), "request/body/payload/title must be "
                 "string", id="title-null"),
    pytest.param(payload(title="t", description=1), "request/body/payload/"
                 "description must be string", id="description-number"),
    pytest.param(payload(title="t", severity="urgent"), SEVERITY_ENUM,
                 id="severity-urgent"),
    pytest.param(payload(title="t", severity="HIGH"), SEVERITY_ENUM,
                 id="severity-HIGH"),
    pytest.param(payload(title="t", severity="LOW"), SEVERITY_ENUM,
                 id="severity-LOW"),
    pytest.param(payload(title="t", severity=None), "request/body/payload/"
                 "severity must be string", id="severity-null"),
    pytest.param(payload(title="t", metadata="x"), "request/body/payload/"
                 "metadata must be object", id="metadata-string"),
    pytest.param({"recipients": {"type": "foo"}, "payload": {"title": "t"}},
                 ENTITY_REF_REQUIRED, id="type-foo"),
    pytest.param({"recipients": {"type": "group"}, "payload": {"title": "t"}},
                 ENTITY_REF_REQUIRED, id="type-group"),
    pytest.param({"recipients": {"type": "entity"}, "payload": {"title": "t"}},
                 ENTITY_REF_REQUIRED, id="entity-without-ref"),
    pytest.param({"recipients": {}, "payload": {"title": "t"}},
                 "request/body/recipients must have required property 'type'"
                 ", request/body/recipients must have required property "
                 "'type', " + ONE_OF, id="recipients-empty"),
    pytest.param({"recipients": "broadcast", "payload": {"title": "t"}},
                 "request/body/recipients must be object, request/body/"
                 "recipients must be object, " + ONE_OF,
                 id="recipients-string"),
    pytest.param({"recipients": {"type": "entity", "entityRef": 5},
                  "payload": {"title": "t"}},
                 "request/body/recipients/entityRef must be string, request/"
                 "body/recipients/entityRef must be array, request/body/"
                 "recipients/entityRef must match exactly one schema in "
                 "oneOf, " + TYPE_BROADCAST + ", " + ONE_OF,
                 id="entityRef-number"),
    pytest.param({"recipients": {"type": "entity",
                                 "entityRef": "user:default/alice",
                                 "excludeEntityRef": 5},
                  "payload": {"title": "t"}},
                 "request/body/recipients/excludeEntityRef must be string, "
                 "request/body/recipients/excludeEntityRef must be array, "
                 "request/body/recipients/excludeEntityRef must match exactly "
                 "one schema in oneOf, " + TYPE_BROADCAST + ", " + ONE_OF,
                 id="excludeEntityRef-number"),
    # Only the first failing rule is reported, in schema order.
    pytest.param({"recipients": {"type": "nope"},
                  "payload": {"title": 1, "severity": "x"}},
                 ENTITY_REF_REQUIRED, id="first-recipients-then-payload"),
    pytest.param(payload(title=1, severity="x"),
                 "request/body/payload/title must be string",
                 id="first-title-then-severity"),
    pytest.param(payload(title="t", severity="x", description=5),
                 "request/body/payload/description must be string",
                 id="first-description-then-severity"),
    pytest.param({"payload": {}}, "request/body must have required property "
                 "'recipients'", id="first-recipients-required"),
    pytest.param({"recipients": {}, "payload": {}},
                 "request/body/recipients must have required property 'type'"
                 ", request/body/recipients must have required property "
                 "'type', " + ONE_OF, id="first-recipients-contents"),
    # The other payload fields are strings too, checked in schema order.
    pytest.param(payload(title="t", link=5), "request/body/payload/link must "
                 "be string", id="link-number"),
    pytest.param(payload(title="t", topic=5), "request/body/payload/topic "
                 "must be string", id="topic-number"),
    pytest.param(payload(title="t", scope=True), "request/body/payload/scope "
                 "must be string", id="scope-bool"),
    pytest.param(payload(title="t", icon=[]), "request/body/payload/icon must "
                 "be string", id="icon-array"),
    pytest.param(payload(title="t", metadata=[1]), "request/body/payload/"
                 "metadata must be object", id="metadata-array"),
    pytest.param(payload(title="t", severity="x", link=5),
                 "request/body/payload/link must be string",
                 id="first-link-then-severity"),
    pytest.param(payload(title="t", icon=1, topic=2), "request/body/payload/"
                 "topic must be string", id="first-topic-then-icon"),
]


@pytest.mark.parametrize("body,message", SCHEMA)
def test_schema_message(server, body, message):
    assert_input_error(send(server, body), message)


def test_schema_message_on_root_alias(server):
    r = server.req("POST", "/api/notifications", b"{}",
                   [("Content-Type", "application/json")])
    assert_input_error(r, "request/body must have required property "
                       "'recipients'", url="/")


@pytest.mark.parametrize("body", [
    {"recipients": {"type": "broadcast", "entityRef": "user:default/a"},
     "payload": {"title": "broadcast with extra key"}},
    {"recipients": B, "payload": {"title": "top-level extra"}, "other": 2},
    {"recipients": B, "payload": {"title": "   "}},
    {"recipients": B, "payload": {"title": "t", "metadata": {}}},
    {"recipients": B, "payload": {"title": "t", "link": ""}},
], ids=["broadcast-extra-keys", "top-level-extra", "title-spaces",
        "metadata-empty", "link-empty"])
def test_schema_accepts(server, body):
    r = send(server, body)
    assert r.status == 200, r
    assert len(r.json()) == 1 and r.json()[0]["user"] is None


# --- 4.5: handler checks ----------------------------------------------------

def test_empty_title(server):
    assert_input_error(send(server, payload(title="")),
                       "Invalid notification request received: missing "
                       "title")


def test_empty_title_before_link_check(server):
    assert_input_error(send(server, payload(title="", link="ftp://x/y")),
                       "Invalid notification request received: missing "
                       "title")


# --- 4.6: links -------------------------------------------------------------

NOT_HTTP = (b'{"error":{"name":"InputError","message":"Invalid link provided;'
            b' caused by Error: Only HTTP/HTTPS links are allowed","cause":{"'
            b'name":"Error","message":"Only HTTP/HTTPS links are allowed"}},"'
            b'request":{"method":"POST","url":"/notifications"},"response":{"'
            b'statusCode":400}}')


def invalid_url(link_input):
    """The Invalid URL body; cause keys exactly code,input,base,name,message."""
    return dumps({"error": {
        "name": "InputError",
        "message": "Invalid link provided; caused by TypeError: Invalid URL",
        "cause": {"code": "ERR_INVALID_URL", "input": link_input,
                  "base": BASE, "name": "TypeError",
                  "message": "Invalid URL"}},
        "request": {"method": "POST", "url": "/notifications"},
        "response": {"statusCode": 400}}).encode()


@pytest.mark.parametrize("link", [
    "https://x/y",
    "http://example.com/a?b=c#d",
    "/catalog/default/component/my-app",
    "<no value>/applications/x",
    "//evil.com/x",
    "HTTPS://EXAMPLE.COM/",
])
def test_link_accepted(server, link):
    r = send(server, payload(title="link", link=link))
    assert r.status == 200, r
    assert r.json()[0]["payload"]["link"] == link


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://x/y",
                                  "mailto:a@example.com", "file:///etc/passwd",
                                  "data:text/plain,x"])
def test_link_not_http(server, link):
    r = send(server, payload(title="link", link=link))
    assert (r.status, r.body) == (400, NOT_HTTP)
    assert r.headers.get("Content-Type") == "application/json; charset=utf-8"


def test_link_invalid_url(server):
    r = send(server, payload(title="link", link="http://[bad"))
    assert (r.status, r.body) == (400, invalid_url("http://[bad"))
    assert r.headers.get("Content-Type") == "application/json; charset=utf-8"


def test_link_invalid_url_after_one_slash_stripped(server):
    """One leading '/' is removed before parsing; `input` shows the rest."""
    r = send(server, payload(title="link", link="/http://[bad"))
    assert (r.status, r.body) == (400, invalid_url("http://[bad"))


def test_link_check_before_recipients(server):
    body = {"recipients": {"type": "entity", "entityRef": "guest"},
            "payload": {"title": "t", "link": "ftp://x/y"}}
    r = send(server, body)
    assert (r.status, r.body) == (400, NOT_HTTP)


# --- 4.7: entity refs -------------------------------------------------------

def entity(ref, **extra):
    rec = {"type": "entity", "entityRef": ref}
    rec.update(extra)
    return {"recipients": rec, "payload": {"title": "t"}}


def ref_error(errname, message):
    return (SEND_FAILED + errname + ": " + message,
            {"name": errname, "message": message})


MISSING_KIND = ('Entity reference "%s" had missing or empty kind (e.g. did '
                'not start with "component:" or similar)')
NOT_ON_FORM = ('Entity reference "%s" was not on the form '
               '[<kind>:][<namespace>/]<name>')

REF_ERRORS = [
    pytest.param("", "Error", "Entity reference must not be empty",
                 id="empty"),
    pytest.param("guest", "Error", MISSING_KIND % "guest", id="no-kind"),
    pytest.param("<no value>", "Error", MISSING_KIND % "<no value>",
                 id="argocd-no-value"),
    pytest.param("default/guest", "Error", MISSING_KIND % "default/guest",
                 id="namespace-no-kind"),
    pytest.param('gu"est', "Error", MISSING_KIND % 'gu\\"est',
                 id="json-quoted-ref"),
    pytest.param("user:", "TypeError", NOT_ON_FORM % "user:", id="empty-name"),
    pytest.param(":x", "TypeError", NOT_ON_FORM % ":x", id="empty-kind"),
    pytest.param("user:default/", "TypeError", NOT_ON_FORM % "user:default/",
                 id="empty-name-after-namespace"),
    pytest.param("user:/alice", "TypeError", NOT_ON_FORM % "user:/alice",
                 id="empty-namespace"),
    pytest.param(["user:default/ok", "guest"], "Error",
                 MISSING_KIND % "guest", id="second-of-list"),
]


@pytest.mark.parametrize("ref,errname,message", REF_ERRORS)
def test_entity_ref_error(server, ref, errname, message):
    full, cause = ref_error(errname, message)
    assert_error(send(server, entity(ref)), 400, "InputError", full,
                 cause=cause)


def test_entity_ref_error_full_body(server):
    """The spec's body for Argo CD's `<no value>`, byte for byte."""
    r = send(server, entity("<no value>"))
    assert r.status == 400
    assert r.body == (
        b'{"error":{"name":"InputError","message":"Failed to send user '
        b'notifications; caused by Error: Entity reference \\"<no value>\\" '
        b'had missing or empty kind (e.g. did not start with \\"component:\\" '
        b'or similar)","cause":{"name":"Error","message":"Entity reference '
        b'\\"<no value>\\" had missing or empty kind (e.g. did not start with '
        b'\\"component:\\" or similar)"}},"request":{"method":"POST","url":"/'
        b'notifications"},"response":{"statusCode":400}}')


@pytest.mark.parametrize("ref", ["not a ref::", "component:default/nothere",
                                 "group:default/team-a", "Component:x"])
def test_parsable_ref_naming_nothing(server, ref):
    r = send(server, entity(ref))
    assert (r.status, r.body) == (200, b"[]")


def test_malformed_exclude_ref_is_not_parsed(server):
    r = send(server, entity("user:default/excl-ok", excludeEntityRef=""))
    assert r.status == 200, r
    assert [e["user"] for e in r.json()] == ["user:default/excl-ok"]
