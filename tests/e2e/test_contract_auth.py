"""
The credentials barrier: spec sections 0.2, 1 (step 2), 3.1 and 3.4.

Authentication runs first on every path and method under
/api/notifications, before the body is read: a bad Authorization header
gets 401 with a fixed body whatever else is wrong with the request.
"""

import base64

import pytest

from conftest import (MOUNT, NOTIFS, TOKEN, assert_empty_404, assert_error,
                      err_body, JSON_CT)

BROADCAST = b'{"recipients":{"type":"broadcast"},"payload":{"title":"auth"}}'
JSON = [("Content-Type", "application/json")]

MISSING_BODY = (b'{"error":{"name":"AuthenticationError","message":"Missing '
                b'credentials"},"request":{"method":"POST","url":"/notificati'
                b'ons"},"response":{"statusCode":401}}')
ILLEGAL_BODY = (b'{"error":{"name":"AuthenticationError","message":"Illegal '
                b'token"},"request":{"method":"POST","url":"/notifications"},'
                b'"response":{"statusCode":401}}')


def missing(resp, method="POST", url="/notifications"):
    assert_error(resp, 401, "AuthenticationError", "Missing credentials",
                 method, url)


def illegal(resp, method="POST", url="/notifications"):
    assert_error(resp, 401, "AuthenticationError", "Illegal token", method,
                 url)


# Header values that are not "^Bearer[ ]+(\S+)$": no credentials at all.
NOT_BEARER = [
    pytest.param("Bearer", id="bearer-alone"),
    pytest.param("Bearer ", id="bearer-space"),
    pytest.param("", id="empty-value"),
    pytest.param("Basic " + TOKEN, id="basic-with-token"),
    pytest.param("Basic " + base64.b64encode(("x:" + TOKEN).encode())
                 .decode(), id="basic-userpass"),
    pytest.param("Bearer " + TOKEN + " extra", id="token-then-extra"),
    pytest.param("Bearer " + TOKEN + " " + TOKEN, id="token-twice"),
    pytest.param("Bearer\t" + TOKEN, id="tab-separator"),
    pytest.param("Bearer" + TOKEN, id="no-separator"),
    pytest.param("Token " + TOKEN, id="token-scheme"),
    pytest.param(TOKEN, id="bare-token"),
    pytest.param("Bearer {{ .secrets.token }}", id="argocd-template"),
]

# Well-formed bearer headers whose token matches nothing.
WRONG_TOKEN = [
    pytest.param("Bearer wrong-token-0123456789abcdef", id="other"),
    pytest.param("Bearer " + TOKEN + "x", id="longer"),
    pytest.param("Bearer " + TOKEN[:-1], id="prefix"),
    pytest.param("Bearer " + TOKEN.upper(), id="upper-case"),
    pytest.param("Bearer " + base64.b64encode(TOKEN.encode()).decode(),
                 id="base64-of-token"),
    pytest.param("Bearer " + base64.b64encode(TOKEN.encode() + b"\n")
                 .decode(), id="base64-with-newline"),
    pytest.param("Bearer $backstage-token", id="argocd-missing-secret"),
    pytest.param('Bearer "' + TOKEN + '"', id="quoted"),
]

# Accepted spellings of the right token.
GOOD_FORMS = [
    pytest.param("Bearer " + TOKEN, id="canonical"),
    pytest.param("bearer " + TOKEN, id="lower-scheme"),
    pytest.param("BEARER " + TOKEN, id="upper-scheme"),
    pytest.param("Bearer   " + TOKEN, id="three-spaces"),
    pytest.param("Bearer " + TOKEN + " ", id="trailing-space"),
]


def test_no_authorization_header(server):
    r = server.req("POST", NOTIFS, BROADCAST, JSON, token=None)
    assert (r.status, r.body) == (401, MISSING_BODY)
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.headers.get("WWW-Authenticate") is None


@pytest.mark.parametrize("value", NOT_BEARER)
def test_malformed_header_is_missing_credentials(server, value):
    r = server.req("POST", NOTIFS, BROADCAST,
                   [("Authorization", value)] + JSON)
    assert (r.status, r.body) == (401, MISSING_BODY)
    assert r.headers.get("WWW-Authenticate") is None


@pytest.mark.parametrize("value", WRONG_TOKEN)
def test_unknown_token_is_illegal(server, value):
    r = server.req("POST", NOTIFS, BROADCAST,
                   [("Authorization", value)] + JSON)
    assert (r.status, r.body) == (401, ILLEGAL_BODY)
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.headers.get("WWW-Authenticate") is None


@pytest.mark.parametrize("value", GOOD_FORMS)
def test_accepted_bearer_forms(server, value):
    r = server.req("POST", NOTIFS, BROADCAST,
                   [("Authorization", value)] + JSON)
    assert r.status == 200, r
    assert r.json()[0]["payload"]["title"] == "auth"


def test_cookie_is_not_a_credential(server):
    r = server.req("POST", NOTIFS, BROADCAST,
                   [("Cookie", "token=" + TOKEN)] + JSON, token=None)
    missing(r)


def test_token_in_query_is_not_a_credential(server):
    r = server.req("POST", NOTIFS + "?token=" + TOKEN, BROADCAST, JSON,
                   token=None)
    missing(r, url="/notifications?token=" + TOKEN)


# Every method and path under the mount goes through the barrier first,
# including routes that do not exist; request.url follows the request.
BARRIER = [
    ("POST", NOTIFS, "/notifications"),
    ("POST", MOUNT, "/"),
    ("POST", MOUNT + "/", "/"),
    ("POST", NOTIFS + "/", "/notifications/"),
    ("POST", MOUNT + "/Notifications", "/Notifications"),
    ("POST", NOTIFS + "?x=1", "/notifications?x=1"),
    ("POST", NOTIFS + "/update", "/notifications/update"),
    ("POST", MOUNT + "/nope", "/nope"),
    ("GET", NOTIFS, "/notifications"),
    ("GET", MOUNT + "/nope/deeper", "/nope/deeper"),
    ("GET", MOUNT + "/status", "/status"),
    ("GET", MOUNT + "/health", "/health"),
    ("DELETE", NOTIFS, "/notifications"),
    ("OPTIONS", NOTIFS, "/notifications"),
    ("PUT", NOTIFS, "/notifications"),
    ("PATCH", NOTIFS + "/abc", "/notifications/abc"),
]


@pytest.mark.parametrize("method,path,url", BARRIER,
                         ids=["%s %s" % (m, p) for m, p, _ in BARRIER])
def test_barrier_missing_credentials(server, method, path, url):
    r = server.req(method, path, b"{}", JSON, token=None)
    missing(r, method, url)


@pytest.mark.parametrize("method,path,url", BARRIER,
                         ids=["%s %s" % (m, p) for m, p, _ in BARRIER])
def test_barrier_illegal_token(server, method, path, url):
    r = server.req(method, path, b"{}", JSON,
                   token="not-the-token-0123456789")
    illegal(r, method, url)


@pytest.mark.parametrize("method,path,url", [
    ("GET", MOUNT + "/nope/deeper", "/nope/deeper"),
    ("DELETE", NOTIFS, "/notifications"),
    ("OPTIONS", NOTIFS, "/notifications"),
])
def test_barrier_without_body(server, method, path, url):
    """The same without any body or Content-Type."""
    missing(server.req(method, path, token=None), method, url)


def test_head_without_token(server):
    """HEAD answers like GET, without the body but with its length."""
    r = server.req("HEAD", NOTIFS, token=None)
    want = err_body("AuthenticationError", "Missing credentials", "HEAD",
                    "/notifications", 401)
    assert (r.status, r.body) == (401, b"")
    assert r.headers.get("Content-Length") == str(len(want))
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.headers.get("WWW-Authenticate") is None


def test_head_illegal_token(server):
    r = server.req("HEAD", NOTIFS, token="not-the-token-0123456789")
    want = err_body("AuthenticationError", "Illegal token", "HEAD",
                    "/notifications", 401)
    assert (r.status, r.body) == (401, b"")
    assert r.headers.get("Content-Length") == str(len(want))


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_plugin_needs_no_token(server, method):
    """/api/nope has no plugin, hence no barrier: the empty 404."""
    r = server.req(method, "/api/nope", b"{}" if method == "POST" else None,
                   JSON if method == "POST" else None, token=None)
    assert_empty_404(r)
    assert r.headers.get("WWW-Authenticate") is None


def test_unknown_plugin_with_token(server):
    assert_empty_404(server.req("GET", "/api/nope/deeper"))


def test_similar_mount_prefix_is_another_plugin(server):
    """/api/notificationsx is not under the mount: no barrier there."""
    assert_empty_404(server.req("POST", "/api/notificationsx", b"{}", JSON,
                                token=None))
