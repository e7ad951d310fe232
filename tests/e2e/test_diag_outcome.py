"""
Diagnoses of the outcome and the history of a delivery: an entity send
that reaches nobody (Backstage's silent 200 []), and the same notification
arriving again from the same sender (../shared/spec/argocd-webhook.md
sections 6 and 10, item 22 and "worth noticing").

Retries of a 429/5xx answer (code "retry") need notimock to answer 5xx,
which it only does when its store fails; tests/unit/test_diag.c covers
them.  Here the same ring is checked end to end through "duplicate".
"""

import json
import re

from diag_helpers import (GOOD_BODY, application, argocd_for,
                          assert_diagnosed, send, send_raw, webhook)

NO_SCOPE = GOOD_BODY.replace(',\n            "scope":"argocd/{{ '
                             '.app.metadata.name }}"', "")


def test_entity_without_users(server):
    """A component ref: real Backstage asks the catalog for its owner; with
    no catalog entry it stores nothing and answers 200 []."""
    app = application(entity_ref="component:default/guestbook")
    sent = send(server, argocd_for(server), webhook(), app)
    assert (sent.status, sent.body) == (200, b"[]")
    d = assert_diagnosed(sent, "no-recipients", "warning")
    assert ("Nobody will see this in real Backstage unless the catalog has "
            "the entity and it has an owner") in d["message"]
    assert d["evidence"] == ('entityRef ["component:default/guestbook"] '
                             'reached no user; the answer is []')
    assert "--catalog" in d["fix"]


def test_user_ref_reaches_someone(server):
    sent = send(server, argocd_for(server), webhook(),
                application(entity_ref="user:default/guest", name="reached"))
    assert sent.status == 200 and json.loads(sent.body)[0]["user"] == \
        "user:default/guest"
    assert "no-recipients" not in sent.codes()


def test_same_notification_twice(server):
    """A trigger without oncePer fires again for the same state: Argo CD
    sends the same bytes on a new connection."""
    argocd = argocd_for(server)
    app = application(name="twice")
    first = send(server, argocd, webhook(NO_SCOPE), app)
    second = send(server, argocd, webhook(NO_SCOPE), app)
    assert first.raw == second.raw and first.port != second.port
    assert first.status == second.status == 200
    # Both stored: two notifications for the user, as in Backstage.
    assert json.loads(first.body)[0]["id"] != json.loads(second.body)[0]["id"]
    assert "duplicate" not in first.codes()
    d = assert_diagnosed(second, "duplicate", "info")
    seq1 = first.row()["seq"]
    assert d["attempt"] == 2 and d["previous"] == [seq1]
    # The token by its one keyed fingerprint, the stored one.
    assert re.fullmatch(
        r"same origin \(127\.0\.0\.1, token hmac:[0-9a-f]{12}\), method, "
        r"URL and %d-byte body as delivery #%d" % (len(first.raw.split(
            b"\r\n\r\n", 1)[1]), seq1), d["evidence"]), d["evidence"]
    assert first.row()["token_fp"] in d["evidence"]
    assert "oncePer" in d["fix"] and "payload.scope" in d["fix"]

    # A third time: the chain grows.
    third = send(server, argocd, webhook(NO_SCOPE), app)
    d = third.diagnosis("duplicate")
    assert d["attempt"] == 3
    assert d["previous"] == [seq1, second.row()["seq"]]


def test_fixed_config_is_not_a_repeat(server):
    """The user adds the Content-Type and sends again: not a duplicate."""
    app = application(name="fixed")
    bad = send(server, argocd_for(server, headers=[
        ("Authorization", "Bearer $backstage-token")]), webhook(NO_SCOPE), app)
    good = send(server, argocd_for(server), webhook(NO_SCOPE), app)
    assert bad.status == 400 and good.status == 200
    assert good.codes() == []


def test_refused_request_repeated(server):
    """Argo CD does not retry a 400; a repeat of a refused request is not
    worth a diagnosis of its own."""
    argocd = argocd_for(server, headers=[
        ("Authorization", "Bearer $backstage-token")])
    raw = argocd.request(webhook(NO_SCOPE), application(name="refused"))
    a = send_raw(server, raw)
    b = send_raw(server, raw)
    assert a.status == b.status == 400
    assert a.codes() == b.codes() == ["missing-content-type"]
