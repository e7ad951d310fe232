"""
Diagnoses of the transport: Content-Type, method, path and query
(../shared/spec/argocd-webhook.md section 10, items 1-4, 15-17).

Every request is the exact bytes an Argo CD webhook sends for that
misconfiguration (diag_helpers.ArgoCD).  Each test checks that notimock
answers as Backstage does (the spec's exact strings), and that the
diagnosis is stored (deliveries.diagnoses), logged (diag= on the access
line) and served by /mock/deliveries/{seq}.
"""

from conftest import assert_empty_404, err_body
from diag_helpers import (CATALOG_SYNC_SUCCEEDED, GOOD_BODY, application,
                          argocd_for, assert_diagnosed, send, webhook)

GUIDE_HEADERS = [("Content-Type", "application/json"),
                 ("Authorization", "Bearer $backstage-token")]


def test_clean_send_has_no_diagnosis(server):
    sent = send(server, argocd_for(server), webhook(), application())
    assert sent.status == 200, sent.body
    assert sent.diagnoses() == []
    assert " diag=" not in sent.log_line()
    assert sent.mock_delivery()["diagnoses"] == []


def test_missing_content_type(server):
    argocd = argocd_for(server, headers=[
        ("Authorization", "Bearer $backstage-token")])
    sent = send(server, argocd, webhook(), application())
    assert b"Content-Type" not in sent.raw.split(b"\r\n\r\n")[0]
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "unsupported media type undefined", "POST",
        "/notifications", 400))
    d = assert_diagnosed(sent, "missing-content-type", "error")
    assert d["evidence"] == ("no Content-Type header; User-Agent: "
                             "Go-http-client/1.1, Argo CD's Go client")
    assert "service.webhook.backstage" in d["fix"]
    assert "- name: Content-Type\n    value: application/json" in d["fix"]


def test_wrong_content_type(server):
    argocd = argocd_for(server, headers=[
        ("content-type", "text/plain"),
        ("Authorization", "Bearer $backstage-token")])
    sent = send(server, argocd, webhook(), application())
    assert b"\r\nContent-Type: text/plain\r\n" in sent.raw
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "unsupported media type text/plain", "POST",
        "/notifications", 400))
    d = assert_diagnosed(sent, "wrong-content-type", "error")
    assert d["evidence"] == "Content-Type: text/plain"


def test_get_with_catalog_text_body(server):
    """A subscription to the catalog's on-sync-succeeded: the template has
    no webhook section, so Argo CD GETs the bare url with the message."""
    argocd = argocd_for(server, headers=[
        ("Authorization", "Bearer $backstage-token")])
    app = application(phase="Succeeded")
    sent = send(server, argocd, CATALOG_SYNC_SUCCEEDED, app)
    assert sent.raw.startswith(b"GET /api/notifications HTTP/1.1\r\n")
    text = (" Application guestbook has been successfully synced at "
            "2024-05-01T12:00:07Z.\nSync operation details are available "
            "at: https://argocd.example.com/applications/guestbook?"
            "operation=true .\n")
    assert sent.raw.endswith(b"\r\n\r\n" + text.encode())
    # Backstage: the legacy GET / wants a user: 403 for a service token.
    assert (sent.status, sent.body) == (403, err_body(
        "NotAllowedError", "This endpoint does not allow 'service' "
        "credentials", "GET", "/", 403))
    d = assert_diagnosed(sent, "get-with-body", "error")
    assert d["evidence"].startswith(
        "GET /api/notifications with a %d-byte text body: \" Application "
        "guestbook has been successfully synced at 2024-05-01T12:00:07Z."
        "\\nSync" % len(text))
    assert "app-sync-succeeded (trigger on-sync-succeeded)" in d["message"]
    assert ("notifications.argoproj.io/subscribe.on-sync-succeeded-"
            "backstage.backstage" in d["fix"])
    assert sent.codes() == ["get-with-body"]


def test_get_with_catalog_text_body_and_content_type(server):
    """The same with the guide's Content-Type header: Backstage's JSON
    parser runs for a GET too, and refuses the text."""
    sent = send(server, argocd_for(server), CATALOG_SYNC_SUCCEEDED,
                application(phase="Succeeded"))
    assert sent.status == 400
    err = sent.body.decode()
    assert '"name":"InputError","message":"Unexpected token ' in err
    assert '"request":{"method":"GET","url":"/"}' in err
    d = assert_diagnosed(sent, "get-with-body", "error")
    assert "catalog template app-sync-succeeded" in d["message"]
    # One cause, one fix: not also an invalid-json diagnosis.
    assert "invalid-json" not in sent.codes()


def test_get_with_json_body(server):
    """method: left out of the webhook section: Argo CD defaults to GET."""
    sent = send(server, argocd_for(server), webhook(method=None),
                application())
    assert sent.raw.startswith(b"GET /api/notifications/notifications ")
    assert (sent.status, sent.body) == (403, err_body(
        "NotAllowedError", "This endpoint does not allow 'service' "
        "credentials", "GET", "/notifications", 403))
    d = assert_diagnosed(sent, "wrong-method", "error")
    assert d["evidence"].startswith("GET /api/notifications/notifications "
                                    "with a ")
    assert "method: POST" in d["fix"]


def test_get_without_body(server):
    """Neither method nor body in the webhook section."""
    sent = send(server, argocd_for(server), webhook(method=None, body=""),
                application())
    assert b"Content-Length" not in sent.raw
    assert (sent.status, sent.body) == (403, err_body(
        "NotAllowedError", "This endpoint does not allow 'service' "
        "credentials", "GET", "/notifications", 403))
    d = assert_diagnosed(sent, "wrong-method", "error")
    assert d["evidence"] == ("GET /api/notifications/notifications, no "
                             "body, User-Agent: Go-http-client")


def test_post_with_empty_body(server):
    """No body: in the webhook section: an empty chunked POST."""
    sent = send(server, argocd_for(server), webhook(body=""), application())
    assert b"Transfer-Encoding: chunked" in sent.raw
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "request/body must have required property "
        "'recipients'", "POST", "/notifications", 400))
    d = assert_diagnosed(sent, "empty-body", "error")
    assert d["evidence"] == "0-byte body"


def test_wrong_path(server):
    sent = send(server, argocd_for(server),
                webhook(path="/notifications/{{.app.metadata.name}}"),
                application())
    assert_empty_404(type("R", (), {"status": sent.status, "body": sent.body,
                                     "headers": {}})())
    d = assert_diagnosed(sent, "wrong-path", "error")
    assert d["evidence"] == ("POST /api/notifications/notifications/"
                             "guestbook")
    assert "TrimRight(url" in d["message"]


def test_query_in_url(server):
    """A url with a query: the template path lands after it."""
    argocd = argocd_for(server,
                        url_path="/api/notifications?source=argocd")
    sent = send(server, argocd, webhook(), application())
    assert sent.raw.startswith(
        b"POST /api/notifications?source=argocd/notifications HTTP/1.1")
    assert (sent.status, sent.body) == (400, err_body(
        "InputError", "Unknown query parameter 'source'", "POST",
        "/?source=argocd/notifications", 400))
    d = assert_diagnosed(sent, "url-query", "error")
    assert d["evidence"] == ("query parameter 'source' (its value ends in "
                             "the path /notifications)")


def test_no_value_in_path(server):
    sent = send(server, argocd_for(server),
                webhook(path="/notifications/{{.app.metadata.labels.team}}"),
                application())
    assert sent.raw.startswith(
        b"POST /api/notifications/notifications/%3Cno%20value%3E ")
    assert (sent.status, sent.body) == (404, b"")
    d = assert_diagnosed(sent, "no-value", "error")
    assert d["evidence"] == ("path /api/notifications/notifications/"
                             "%3Cno%20value%3E")
    assert "wrong-path" in sent.codes()


def test_diagnosis_never_changes_the_answer(server):
    """The same body with and without a diagnosable mistake in a field
    Backstage ignores: identical answers apart from ids and times."""
    # No scope: a re-send would update the first one and answer its
    # stored form instead.
    plain = GOOD_BODY.replace(',\n            "scope":"argocd/{{ '
                              '.app.metadata.name }}"', "")
    assert "scope" not in plain
    good = send(server, argocd_for(server), webhook(body=plain),
                application())
    body = plain.replace('"topic"', '"extra":"{{.app.metadata.nope}}",'
                         '"topic"')
    bad = send(server, argocd_for(server), webhook(body=body), application())
    assert "no-value" in bad.codes()
    assert good.status == bad.status == 200
    g, b = good.row(), bad.row()
    assert g["users"] == b["users"] and g["status"] == b["status"]
    import json
    gj, bj = json.loads(good.body), json.loads(bad.body)
    assert len(gj) == len(bj) == 1
    assert bj[0]["payload"].pop("extra") == "<no value>"
    for e in (gj[0], bj[0]):
        e.pop("id")
        e.pop("created")
    assert gj == bj
    assert good.codes() in ([], ["duplicate"])
