"""
Diagnoses of the rendered body (../shared/spec/argocd-webhook.md sections 7
and 10, items 7, 11-14, 20-23): JSON broken by template values, <no value>,
Go byte lists and maps, and field values Backstage refuses.  The bodies are
rendered from the templates people write (diag_helpers.render: Go
text/template + sprig semantics), and Backstage's answers are the spec's
exact strings.
"""

import json
import re

from conftest import ISO_MS_RE, UUID4_RE, err_body
from diag_helpers import (GOOD_BODY, application, argocd_for,
                          assert_diagnosed, no_secret, send, webhook,
                          v8_unexpected_token)

# The Backstage guide's app-sync-failed-backstage: the message raw between
# quotes, the entity ref through index without toJson.
GUIDE_FAILED_BODY = (
    '{"recipients":{"type":"entity","entityRef":"{{ index '
    '.app.metadata.annotations "backstage.io/entity-ref" }}"},\n'
    ' "payload":{"title":"Sync failed: {{ .app.metadata.name }}",\n'
    '  "description":"{{ .app.status.operationState.message }}",\n'
    '  "link":"{{ .context.argocdUrl }}/applications/{{ .app.metadata.name '
    '}}",\n'
    '  "severity":"high","topic":"argocd.sync.failed"}}\n')


def body_of(sent):
    return sent.raw.split(b"\r\n\r\n", 1)[1].decode()


def created(sent, payload, user="user:default/guest"):
    """Backstage's creation-form answer for one user."""
    assert sent.status == 200, sent.body
    got = json.loads(sent.body)
    assert len(got) == 1
    e = got[0]
    assert list(e) == ["payload", "origin", "created", "id", "user"]
    assert UUID4_RE.match(e["id"]) and ISO_MS_RE.match(e["created"])
    assert (e["payload"], e["origin"], e["user"]) == (
        payload, "argocd-notifications", user)


def test_raw_newline_from_operation_state_message(server):
    msg = ("one or more synchronization tasks completed unsuccessfully\n"
           "one or more SyncFail hooks failed, reason: Job has reached the "
           "specified backoff limit")
    sent = send(server, argocd_for(server), webhook(GUIDE_FAILED_BODY),
                application(message=msg))
    body = body_of(sent)
    nl = body.index("\n", body.index("completed unsuccessfully"))
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "Bad control character in string literal in JSON at "
        "position %d" % nl, "POST", "/notifications", 400))
    d = assert_diagnosed(sent, "invalid-json", "error")
    line = body[:nl].count("\n") + 1
    col = nl - body.rindex("\n", 0, nl)
    assert d["evidence"].startswith("line %d, column %d, at a raw newline: "
                                    "..." % (line, col))
    assert "completed unsuccessfully\\none or more SyncFai" in d["evidence"]
    assert 'A raw newline inside a string (in the value of "description")' \
        in d["message"]
    assert "{{ .app.status.operationState.message | toJson }}" in d["fix"]
    assert "toRawJson" in d["fix"]


def test_stray_quote_from_operation_state_message(server):
    msg = ('one or more objects failed to apply, reason: error when patching '
           '"/dev/shm/123": Deployment.apps "guestbook-ui" is invalid')
    sent = send(server, argocd_for(server), webhook(GUIDE_FAILED_BODY),
                application(message=msg))
    body = body_of(sent)
    pos = body.index('"/dev/shm') + 1
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "Expected ',' or '}' after property value in JSON at "
        "position %d" % pos, "POST", "/notifications", 400))
    d = assert_diagnosed(sent, "invalid-json", "error")
    assert "A double quote inside a string value ended the string early " \
        '(in the value of "description")' in d["message"]
    assert re.match(r"line 3, column \d+, at '/': \.\.\..*error when "
                    r"patching \"/dev/shm/123\": Depl", d["evidence"])


def test_quote_of_missing_value(server):
    """{{ quote .x }} of a missing field renders nothing: {"title":}."""
    tmpl = ('{"recipients":{"type":"broadcast"},"payload":{"title":'
            '{{ quote .app.metadata.labels.team }}}}')
    sent = send(server, argocd_for(server), webhook(tmpl), application())
    body = body_of(sent)
    assert body == ('{"recipients":{"type":"broadcast"},"payload":'
                    '{"title":}}')
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", v8_unexpected_token(body, body.index(":}") + 1),
        "POST", "/notifications", 400))
    d = assert_diagnosed(sent, "invalid-json", "error")
    assert 'A value is missing (in the value of "title")' in d["message"]
    assert d["evidence"].startswith("line 1, column 55, at '}': ")


def test_no_value_entity_ref(server):
    """The Application lacks the backstage.io/entity-ref annotation."""
    sent = send(server, argocd_for(server), webhook(GUIDE_FAILED_BODY),
                application(entity_ref=None))
    assert '"entityRef":"<no value>"' in body_of(sent)
    assert (sent.status, sent.body) == (400, (
        b'{"error":{"name":"InputError","message":"Failed to send user '
        b'notifications; caused by Error: Entity reference \\"<no value>\\" '
        b'had missing or empty kind (e.g. did not start with \\"component:\\" '
        b'or similar)","cause":{"name":"Error","message":"Entity reference '
        b'\\"<no value>\\" had missing or empty kind (e.g. did not start with '
        b'\\"component:\\" or similar)"}},"request":{"method":"POST","url":'
        b'"/notifications"},"response":{"statusCode":400}}'))
    d = assert_diagnosed(sent, "no-value", "error")
    assert d["evidence"].startswith('recipients.entityRef = "<no value>" '
                                    '(line 1, column 45): ')
    assert "backstage.io/entity-ref annotation" in d["message"]
    assert "backstage.io/entity-ref: component:default/<name>" in d["fix"]
    # Backstage's own refusal is explained once, not twice.
    assert "entity-ref-kind" not in sent.codes()


def test_no_value_link(server):
    """context.argocdUrl is not set: accepted, and the link leads nowhere."""
    argocd = argocd_for(server, context={})
    sent = send(server, argocd, webhook(GUIDE_FAILED_BODY),
                application(phase="Failed"))
    payload = json.loads(body_of(sent))["payload"]
    assert payload["link"] == "<no value>/applications/guestbook"
    created(sent, payload)
    d = assert_diagnosed(sent, "no-value", "warning")
    assert d["evidence"].startswith('payload.link = "<no value>/applications/'
                                    'guestbook" (line 4, column 11): ')
    assert "context.argocdUrl is not set" in d["message"]
    assert "argocdUrl: https://argocd.example.com" in d["fix"]


def test_no_value_revision_of_multi_source_app(server):
    tmpl = GOOD_BODY.replace(
        '"severity"', '"metadata":{"revision":"{{ .app.status.sync.revision '
        '}}"},"severity"')
    sent = send(server, argocd_for(server), webhook(tmpl),
                application(multi_source=True))
    payload = json.loads(body_of(sent))["payload"]
    assert payload["metadata"] == {"revision": "<no value>"}
    created(sent, payload)
    d = assert_diagnosed(sent, "no-value", "warning")
    assert d["evidence"].startswith('payload.metadata.revision = "<no value>"')
    assert "multi-source" in d["message"]
    assert ".app.status.sync.revisions" in d["fix"]


def test_go_byte_list_in_body(server):
    """{{ .secrets.backstage-token }} without toString: the bytes."""
    tmpl = ('{"recipients":{"type":"broadcast"},"payload":{"title":"x",'
            '"metadata":{"auth":"{{ index .secrets "backstage-token" }}"}}}')
    sent = send(server, argocd_for(server), webhook(tmpl), application())
    body = body_of(sent)
    numbers = " ".join(str(b) for b in server.token.encode())
    assert '"auth":"[%s]"' % numbers in body
    # A broadcast: accepted, the byte list stored as the text it is.
    assert sent.status == 200
    element = json.loads(sent.body)[0]
    assert element["user"] is None
    assert element["payload"] == dict(json.loads(body)["payload"],
                                      severity="normal")
    d = assert_diagnosed(sent, "go-byte-list", "error")
    assert d["evidence"] == ("auth (line 1, column 79): [%d numbers, each "
                             "0-255]" % len(server.token))
    assert " ".join(numbers.split()[:2]) not in d["evidence"]
    # A keyed fingerprint: a bare SHA-256 prefix of a configured token
    # could be brute-forced offline by anyone who reads /mock/.
    assert re.search(r"the configured token hmac:[0-9a-f]{12}\b",
                     d["message"])
    assert "sha256:" not in sent.row()["diagnoses"]
    assert "toString" in d["fix"]
    no_secret(sent, numbers)


def test_go_byte_list_in_path(server):
    tmpl = webhook(path="/notifications?token={{ index .secrets "
                   "\"backstage-token\" }}")
    sent = send(server, argocd_for(server), tmpl, application())
    assert sent.raw.startswith(b"POST /api/notifications/notifications?"
                               b"token=[")
    assert sent.status == 400
    assert json.loads(sent.body)["error"]["message"] == \
        "Unknown query parameter 'token'"
    d = assert_diagnosed(sent, "go-byte-list", "error")
    assert d["evidence"].startswith("the URL /api/notifications/notifications"
                                    ": [")
    assert "url-query" in sent.codes()
    no_secret(sent, " ".join(str(b) for b in server.token.encode()))


def test_capitalised_severity(server):
    tmpl = GOOD_BODY.replace('"severity":"high"', '"severity":"High"')
    sent = send(server, argocd_for(server), webhook(tmpl), application())
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "request/body/payload/severity must be equal to one "
        "of the allowed values: critical, high, normal, low", "POST",
        "/notifications", 400))
    d = assert_diagnosed(sent, "severity-case", "error")
    assert d["evidence"] == 'payload.severity = "High"'
    assert d["fix"].startswith('Write "severity":"high"')


def test_link_not_http(server):
    """argocdUrl written without a scheme: its host becomes the scheme."""
    argocd = argocd_for(server, context={"argocdUrl": "argocd.example.com:443"})
    sent = send(server, argocd, webhook(GUIDE_FAILED_BODY),
                application(message="one or more tasks are not valid"))
    assert (sent.status, sent.body) == (400, (
        b'{"error":{"name":"InputError","message":"Invalid link provided; '
        b'caused by Error: Only HTTP/HTTPS links are allowed","cause":{"name":'
        b'"Error","message":"Only HTTP/HTTPS links are allowed"}},"request":'
        b'{"method":"POST","url":"/notifications"},"response":{"statusCode":'
        b'400}}'))
    d = assert_diagnosed(sent, "link-not-http", "error")
    assert d["evidence"] == ('payload.link = "argocd.example.com:443/'
                             'applications/guestbook"')


def test_unknown_recipients_type(server):
    """The 'bentity' typo of redhat-developer/rhdh-plugins#97."""
    tmpl = GOOD_BODY.replace('"type":"entity"', '"type":"bentity"')
    sent = send(server, argocd_for(server), webhook(tmpl), application())
    # The oneOf message: each branch's first failure, then the oneOf line
    # (spec 4.4); with an entityRef the entity branch fails on type.
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "request/body/recipients/type must be equal to one of "
        "the allowed values: entity, request/body/recipients/type must be "
        "equal to one of the allowed values: broadcast, "
        "request/body/recipients must match exactly one schema in oneOf",
        "POST", "/notifications", 400))
    d = assert_diagnosed(sent, "recipients-type", "error")
    assert d["evidence"] == 'recipients.type = "bentity"'


def test_go_map(server):
    tmpl = GOOD_BODY.replace(
        '"severity"', '"metadata":{"health":"{{ .app.status.health }}"},'
        '"severity"').replace('"scope":"argocd/{{ .app.metadata.name }}"',
                              '"scope":"argocd/map"')
    sent = send(server, argocd_for(server), webhook(tmpl), application())
    payload = json.loads(body_of(sent))["payload"]
    assert payload["metadata"] == {"health": "map[status:Degraded]"}
    created(sent, payload)
    d = assert_diagnosed(sent, "go-map", "warning")
    assert d["evidence"].startswith("health (line 4, column ")
    assert "map[status:Degraded]" in d["evidence"]
