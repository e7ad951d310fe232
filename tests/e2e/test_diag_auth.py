"""
Diagnoses of credentials (../shared/spec/argocd-webhook.md section 2 and
section 10, items 5, 6, 8-10): what Argo CD's service config and
argocd-notifications-secret put in the Authorization header, and what
Backstage answers (backstage-notifications.md 3.1-3.4).  No diagnosis may
show a token: only fingerprints.
"""

import base64
import hashlib

from conftest import TOKEN, USER_REF, USER_TOKEN, err_body
from diag_helpers import (application, argocd_for, assert_diagnosed,
                          no_secret, send, webhook)

MISSING = err_body("AuthenticationError", "Missing credentials", "POST",
                   "/notifications", 401)
ILLEGAL = err_body("AuthenticationError", "Illegal token", "POST",
                   "/notifications", 401)
CT = ("Content-Type", "application/json")


def fp(token):
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def test_no_authorization_header(server):
    sent = send(server, argocd_for(server, headers=[CT]), webhook(),
                application())
    assert b"Authorization" not in sent.raw
    assert (sent.status, sent.body) == (401, MISSING)
    d = assert_diagnosed(sent, "auth-missing", "error")
    assert d["evidence"] == "no Authorization header"
    assert "value: Bearer $backstage-token" in d["fix"]
    assert "argocd-notifications-secret" in d["fix"]


def test_basic_auth_configured(server):
    """basicAuth replaces the Authorization header of headers:."""
    argocd = argocd_for(server, headers=[
        CT, ("Authorization", "Bearer $backstage-token")],
        basic_auth=("admin", "$backstage-token"))
    sent = send(server, argocd, webhook(), application())
    assert b"\r\nAuthorization: Basic " in sent.raw
    assert (sent.status, sent.body) == (401, MISSING)
    d = assert_diagnosed(sent, "auth-basic", "error")
    assert d["evidence"] == "Authorization: Basic <credentials hidden>"
    assert "Remove basicAuth" in d["fix"]
    no_secret(sent, base64.b64encode(("admin:" + TOKEN).encode()).decode())


def test_secret_key_missing(server):
    """$backstage-token is not in argocd-notifications-secret."""
    argocd = argocd_for(server, secrets={"other-token": "x" * 20})
    sent = send(server, argocd, webhook(), application())
    assert b"\r\nAuthorization: Bearer $backstage-token\r\n" in sent.raw
    assert (sent.status, sent.body) == (401, ILLEGAL)
    d = assert_diagnosed(sent, "auth-unresolved-secret", "error")
    assert d["evidence"] == "Authorization: Bearer $backstage-token"
    assert "argocd-notifications-secret" in d["fix"]
    assert '{"stringData":{"backstage-token":' in d["fix"]
    assert "auth-unknown-token" not in sent.codes()


def test_unknown_token(server):
    wrong = "wrong-token-for-backstage-42"
    sent = send(server, argocd_for(server,
                                   secrets={"backstage-token": wrong}),
                webhook(), application())
    assert (sent.status, sent.body) == (401, ILLEGAL)
    d = assert_diagnosed(sent, "auth-unknown-token", "error")
    assert d["evidence"] == "sent %s; configured: %s" % (fp(wrong), fp(TOKEN))
    assert sent.row()["token_fp"] == fp(wrong)
    no_secret(sent, wrong)
    no_secret(sent, TOKEN)


def test_base64_token(server):
    """The token went into the secret through echo ... | base64."""
    b64 = base64.b64encode((TOKEN + "\n").encode()).decode()
    sent = send(server, argocd_for(server, secrets={"backstage-token": b64}),
                webhook(), application())
    assert (sent.status, sent.body) == (401, ILLEGAL)
    d = assert_diagnosed(sent, "auth-unknown-token", "error")
    assert ("It is the base64 encoding of the configured token %s plus a "
            "newline" % fp(TOKEN)) in d["message"]
    no_secret(sent, b64)


def test_template_in_header(server):
    """Service config is not a template (argoproj/argo-cd#17626)."""
    argocd = argocd_for(server, headers=[
        CT, ("Authorization", "Bearer {{ .secrets.token }}")])
    sent = send(server, argocd, webhook(), application())
    assert (sent.status, sent.body) == (401, MISSING)
    d = assert_diagnosed(sent, "auth-template", "error")
    assert d["evidence"] == "Authorization contains {{ .secrets.token }}"


def test_empty_secret(server):
    """The key exists but is empty: 'Bearer ' and nothing."""
    sent = send(server, argocd_for(server, secrets={"backstage-token": ""}),
                webhook(), application())
    assert (sent.status, sent.body) == (401, MISSING)
    d = assert_diagnosed(sent, "auth-malformed", "error")
    assert d["evidence"] == ("Authorization: 'Bearer' with no token after "
                             "it: the secret key exists but is empty")


def test_user_token_posting(own_server):
    """A Backstage user token in the secret (backstage/demo#908)."""
    srv = own_server(["--user-token", USER_TOKEN + "=" + USER_REF])
    sent = send(srv, argocd_for(srv, secrets={"backstage-token": USER_TOKEN}),
                webhook(), application())
    assert (sent.status, sent.body) == (403, err_body(
        "NotAllowedError", "This endpoint does not allow 'user' "
        "credentials", "POST", "/notifications", 403))
    d = assert_diagnosed(sent, "auth-user-token", "error")
    assert d["evidence"] == "token %s is the user token of %s" % (
        fp(USER_TOKEN), USER_REF)
    assert "backend.auth.externalAccess" in d["fix"]
    no_secret(sent, USER_TOKEN)
