"""
Diagnoses of credentials (../shared/spec/argocd-webhook.md section 2 and
section 10, items 5, 6, 8-10): what Argo CD's service config and
argocd-notifications-secret put in the Authorization header, and what
Backstage answers (backstage-notifications.md 3.1-3.4).  No diagnosis may
show a token: only fingerprints.
"""

import base64
import hashlib
import json
import re

import pytest

from conftest import TOKEN, USER_REF, USER_TOKEN, err_body
from diag_helpers import (application, argocd_for, assert_diagnosed,
                          no_secret, send, send_raw, webhook)

MISSING = err_body("AuthenticationError", "Missing credentials", "POST",
                   "/notifications", 401)
ILLEGAL = err_body("AuthenticationError", "Illegal token", "POST",
                   "/notifications", 401)
CT = ("Content-Type", "application/json")


def sha(token):
    """A bare SHA-256 fingerprint, brute-forceable offline: never shown."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def fp(srv, token):
    """The server's one keyed fingerprint of token (POST /mock/fingerprint,
    what `notimock fingerprint` asks)."""
    r = srv.req("POST", "/mock/fingerprint", json.dumps(
        {"sha256": hashlib.sha256(token.encode()).hexdigest()}).encode(),
        token=None)
    assert r.status == 200, r
    return r.json()["fingerprint"]


KEYED = r"hmac:[0-9a-f]{12}"


def keyed(d, prefix, suffix=""):
    """The keyed fingerprint in d's evidence, between prefix and suffix."""
    m = re.fullmatch(re.escape(prefix) + "(" + KEYED + ")" +
                     re.escape(suffix), d["evidence"])
    assert m, d["evidence"]
    return m.group(1)


def raw_send(server, authorization, body=None):
    """A POST with this Authorization value (bytes sent as they are)."""
    if body is None:
        body = json.dumps({"recipients": {"type": "broadcast"},
                           "payload": {"title": "auth"}})
    raw = ("POST /api/notifications/notifications HTTP/1.1\r\n"
           "Host: %s:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
           "Content-Length: %d\r\nAuthorization: %s\r\n"
           "Content-Type: application/json\r\n"
           "Accept-Encoding: gzip\r\n\r\n%s" % (
               server.host, server.port, len(body), authorization,
               body)).encode()
    return send_raw(server, raw)


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
    keyed(d, "sent <%d characters; " % len(wrong),
          ">, which does not match the one configured token")
    assert "notimock fingerprint" in d["fix"]
    assert sent.row()["token_fp"] == fp(server, wrong)
    assert fp(server, wrong) in d["evidence"]
    no_secret(sent, wrong)
    no_secret(sent, TOKEN)
    # No bare SHA-256 prefix (brute-forceable offline) of either token.
    no_secret(sent, sha(TOKEN))
    no_secret(sent, sha(wrong)[7:])


def test_base64_token(server):
    """The token went into the secret through echo ... | base64."""
    b64 = base64.b64encode((TOKEN + "\n").encode()).decode()
    sent = send(server, argocd_for(server, secrets={"backstage-token": b64}),
                webhook(), application())
    assert (sent.status, sent.body) == (401, ILLEGAL)
    d = assert_diagnosed(sent, "auth-unknown-token", "error")
    assert re.search("It is the base64 encoding of the configured token %s "
                     "plus a newline" % KEYED, d["message"])
    no_secret(sent, b64)
    no_secret(sent, sha(TOKEN))


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
    keyed(d, "token ", " is the user token of %s" % USER_REF)
    assert "backend.auth.externalAccess" in d["fix"]
    no_secret(sent, USER_TOKEN)
    no_secret(sent, sha(USER_TOKEN))


# --- no piece of a presented token (security review, item 3) ----------------

@pytest.mark.parametrize("header, code, secret", [
    # A '$' inside a token is no $key reference.
    ("Bearer Pr0d$EcretT0kenValue99", "auth-unknown-token", "EcretT0ken"),
    # An unclosed template before a real token.
    ("Bearer {{ Pr0dSecretTokenValue99", "auth-template", "Pr0dSecret"),
    ("Bearer {{ .x }}Pr0dSecretTokenValue99", "auth-template", "Pr0dSecret"),
    # A first word that is no scheme: the token itself, most likely.
    ("RealProdToken1234567 x", "auth-malformed", "RealProd"),
    ("Bearer RealProdToken1234567 x", "auth-malformed", "RealProd"),
    ("RealProdToken1234567", "auth-malformed", "RealProd"),
])
def test_no_piece_of_a_token(server, header, code, secret):
    sent = raw_send(server, header)
    assert sent.status == 401
    d = assert_diagnosed(sent, code, "error")
    assert re.search(KEYED, d["evidence"]), d["evidence"]
    no_secret(sent, secret)
    assert secret not in json.dumps(sent.mock_delivery()["diagnoses"])


def test_whole_reference_and_template_are_shown(server):
    sent = raw_send(server, "Bearer $backstage-token")
    d = assert_diagnosed(sent, "auth-unresolved-secret", "error")
    assert d["evidence"] == "Authorization: Bearer $backstage-token"
    sent = raw_send(server, "Bearer {{ .secrets.token }}")
    d = assert_diagnosed(sent, "auth-template", "error")
    assert d["evidence"] == "Authorization contains {{ .secrets.token }}"
    sent = raw_send(server, "Token abcdefghijklmnop")
    d = assert_diagnosed(sent, "auth-malformed", "error")
    assert d["evidence"] == "Authorization: the scheme 'Token' instead of " \
        "Bearer"


# --- configured tokens stay unguessable (security review, item 11) ----------

def test_fingerprints_keyed_per_run(own_server):
    """The same wrong token twice: the same keyed fingerprint within one
    run, another in the next run, and never a bare SHA-256 prefix."""
    wrong = "wrong-token-for-backstage-42"
    other = "configured-token-two-0123456789"
    srv = own_server(["--token", other + ":second"])
    fps = []
    for _ in range(2):
        sent = raw_send(srv, "Bearer " + wrong)
        d = assert_diagnosed(sent, "auth-unknown-token", "error")
        fps.append(keyed(d, "sent <%d characters; " % len(wrong),
                         ">, which matches none of the 2 configured "
                         "tokens"))
        for t in (TOKEN, other):
            no_secret(sent, sha(t))
            no_secret(sent, sha(t)[7:])
        no_secret(sent, sha(wrong)[7:])
    assert fps[0] == fps[1]
    # One form everywhere: the start-up log's print of a configured token
    # is the one `notimock fingerprint` gives, and the sent token's is the
    # diagnosis's.
    assert fp(srv, other) in srv.log()
    assert fp(srv, wrong) == fps[0]
    assert sha(other) not in srv.log()
    srv2 = own_server()
    sent = raw_send(srv2, "Bearer " + wrong)
    d = assert_diagnosed(sent, "auth-unknown-token", "error")
    assert keyed(d, "sent <%d characters; " % len(wrong),
                 ">, which does not match the one configured token") \
        != fps[0]


def test_no_token_configured(own_server):
    srv = own_server(token=None)
    sent = raw_send(srv, "Bearer wrong-token-for-backstage-42")
    d = assert_diagnosed(sent, "auth-unknown-token", "error")
    assert d["evidence"] == "sent <28 characters>; no service token is " \
        "configured"
    assert "start it with --token" in d["fix"]
