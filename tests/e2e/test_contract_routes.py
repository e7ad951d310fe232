"""
Routing with a valid static token: spec sections 2.1-2.2 (case, trailing
slash, the empty 404, service credentials on user routes, HEAD) and 11
(error and health response headers).
"""

import http.client

import pytest

from conftest import (JSON_CT, MOUNT, NOTIFS, assert_empty_404,
                      assert_error, dumps, err_body, parse_response)

JSON = [("Content-Type", "application/json")]
VALID = dumps({"recipients": {"type": "broadcast"},
               "payload": {"title": "route"}})
SERVICE_403 = "This endpoint does not allow 'service' credentials"
SERVICE_403_STATUS = (b'{"error":{"name":"NotAllowedError","message":"This '
                      b'endpoint does not allow \'service\' credentials"},"'
                      b'request":{"method":"GET","url":"/status"},"response"'
                      b':{"statusCode":403}}')


@pytest.mark.parametrize("path", [
    NOTIFS, NOTIFS + "/", MOUNT, MOUNT + "/", MOUNT + "/Notifications",
    MOUNT + "/NOTIFICATIONS/",
])
def test_send_routes(server, path):
    """Both create routes, any case, one optional trailing slash."""
    r = server.req("POST", path, VALID, JSON)
    assert r.status == 200, r
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.json()[0]["payload"] == {"title": "route", "severity": "normal"}


# With valid credentials, whatever matches no route: 404, empty body, no
# Content-Type.
NO_ROUTE = [
    ("POST", NOTIFS + "//", VALID),
    ("POST", MOUNT + "/nope", VALID),
    ("POST", NOTIFS + "/foo", VALID),
    ("POST", NOTIFS + "/update/x", b"{}"),
    ("GET", MOUNT + "/nope/deeper", None),
    ("PUT", NOTIFS, b"{}"),
    ("PUT", NOTIFS, None),
    ("PATCH", NOTIFS + "/9f1c2a5e-1b7e-4d1e-9b54-2b9f0e6b7a10", b"{}"),
    ("DELETE", NOTIFS, None),
    ("DELETE", NOTIFS + "/abc", None),
]


@pytest.mark.parametrize("method,path,body", NO_ROUTE,
                         ids=["%s %s" % (m, p) for m, p, _ in NO_ROUTE])
def test_no_route_is_empty_404(server, method, path, body):
    assert_empty_404(server.req(method, path, body,
                                JSON if body is not None else None))


def test_status_with_static_token(server):
    """The spec's 403 body for a service caller on a user route."""
    r = server.req("GET", MOUNT + "/status")
    assert (r.status, r.body) == (403, SERVICE_403_STATUS)
    assert r.headers.get("Content-Type") == JSON_CT


@pytest.mark.parametrize("path,url", [
    (NOTIFS, "/notifications"),
    (MOUNT, "/"),
    (MOUNT + "/", "/"),
    (MOUNT + "/topics", "/topics"),
    (MOUNT + "/settings", "/settings"),
    (NOTIFS + "/9f1c2a5e-1b7e-4d1e-9b54-2b9f0e6b7a10",
     "/notifications/9f1c2a5e-1b7e-4d1e-9b54-2b9f0e6b7a10"),
    (NOTIFS + "/status", "/notifications/status"),
    # A single segment is the legacy GET /:id ...
    (MOUNT + "/nope", "/nope"),
    # ... and so is the /health route removed in 0.5.0.
    (MOUNT + "/health", "/health"),
])
def test_user_routes_refuse_service_credentials(server, path, url):
    assert_error(server.req("GET", path), 403, "NotAllowedError",
                 SERVICE_403, "GET", url)


@pytest.mark.parametrize("path,url", [
    (NOTIFS + "/update", "/notifications/update"),
    (MOUNT + "/update", "/update"),
])
def test_update_refuses_service_credentials(server, path, url):
    """A valid update body, so that the validator lets it through."""
    r = server.req("POST", path, b'{"ids":[]}', JSON)
    assert_error(r, 403, "NotAllowedError", SERVICE_403, "POST", url)


def test_health_without_token_is_missing_credentials(server):
    """/health is declared unauthenticated, but the /:id handler wants a
    principal."""
    assert_error(server.req("GET", MOUNT + "/health", token=None), 401,
                 "AuthenticationError", "Missing credentials", "GET",
                 "/health")


def test_head_with_static_token(server):
    r = server.req("HEAD", NOTIFS)
    assert (r.status, r.body) == (403, b"")
    assert r.headers.get("Content-Length") == "180"
    assert len(err_body("NotAllowedError", SERVICE_403, "HEAD",
                        "/notifications", 403)) == 180
    assert r.headers.get("Content-Type") == JSON_CT


def test_openapi_document(server):
    r = server.req("GET", MOUNT + "/openapi.json")
    assert r.status == 200
    assert r.body.startswith(b'{"openapi":"3.0.3",')


# --- Health (outside the plugin: no token needed) ---------------------------

@pytest.mark.parametrize("path", ["/.backstage/health/v1/readiness",
                                  "/.backstage/health/v1/liveness"])
@pytest.mark.parametrize("token", [None, "bogus-token-0123456789"],
                         ids=["no-token", "bogus-token"])
def test_health(server, path, token):
    r = server.req("GET", path, token=token)
    assert (r.status, r.body) == (200, b'{"status":"ok"}')
    assert r.headers.get("Content-Type", "").startswith("application/json")


# --- 11: error headers ------------------------------------------------------

@pytest.mark.parametrize("method,path,body,token,status", [
    ("POST", NOTIFS, VALID, None, 401),
    ("POST", NOTIFS, VALID, "bogus-token-0123456789", 401),
    ("POST", NOTIFS, b"{bad", "default", 400),
    ("GET", MOUNT + "/status", None, "default", 403),
], ids=["401-missing", "401-illegal", "400", "403"])
def test_error_content_type(server, method, path, body, token, status):
    kw = {} if token == "default" else {"token": token}
    r = server.req(method, path, body, JSON if body else None, **kw)
    assert r.status == status
    assert r.headers.get("Content-Type") == JSON_CT
    assert r.headers.get_all("Content-Type") == [JSON_CT]
    assert int(r.headers.get("Content-Length")) == len(r.body)
    body = r.json()
    assert list(body) == ["error", "request", "response"]
    assert list(body["error"])[:2] == ["name", "message"]
    assert body["response"] == {"statusCode": status}


def test_success_content_length(server):
    r = server.req("POST", NOTIFS, VALID, JSON)
    assert r.status == 200
    assert r.headers.get_all("Content-Type") == [JSON_CT]
    assert r.headers.get("Transfer-Encoding") is not None or \
        int(r.headers.get("Content-Length")) == len(r.body)


HELMET = {
    "Content-Security-Policy": "default-src 'self';base-uri 'self';font-src "
    "'self' https: data:;frame-ancestors 'self';img-src 'self' data:;"
    "object-src 'none';script-src 'self' 'unsafe-eval';script-src-attr "
    "'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-DNS-Prefetch-Control": "off",
    "X-Download-Options": "noopen",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-XSS-Protection": "0",
}


@pytest.mark.parametrize("method,path,body,token", [
    ("POST", NOTIFS, VALID, "default"),
    ("POST", NOTIFS, VALID, None),
    ("POST", NOTIFS, b"{bad", "default"),
    ("PUT", NOTIFS, b"{}", "default"),
], ids=["200", "401", "400", "empty-404"])
def test_helmet_headers(server, method, path, body, token):
    kw = {} if token == "default" else {"token": token}
    r = server.req(method, path, body, JSON, **kw)
    assert {k: r.headers.get(k) for k in HELMET} == HELMET


def test_http10_request(server):
    """Answered as HTTP/1.1, with Connection: close."""
    body = VALID.encode()
    data = server.raw(b"POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                      b"Authorization: Bearer %s\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" %
                      (NOTIFS.encode(), server.token.encode(), len(body),
                       body))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200]
    status, hdrs, got = parse_response(data)
    assert hdrs.get("connection", "").lower() == "close"
    assert got.startswith(b'[{"payload":{"title":"route"')


def test_keep_alive_across_errors(server):
    """Several requests, errors included, on one HTTP/1.1 connection."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        seen = []
        for body, token in [(VALID, server.token), (b"{bad", server.token),
                            (VALID, None), (VALID, server.token)]:
            hdrs = {"Content-Type": "application/json"}
            if token:
                hdrs["Authorization"] = "Bearer " + token
            conn.request("POST", NOTIFS, body, hdrs)
            resp = conn.getresponse()
            resp.read()
            seen.append((resp.status, resp.getheader("Connection")))
        assert [s for s, _ in seen] == [200, 400, 401, 200]
        assert all((c or "keep-alive").lower() == "keep-alive"
                   for _, c in seen)
    finally:
        conn.close()


# --- OPTIONS: Express answers a known path with the methods it allows -------

@pytest.mark.parametrize("path,allow", [
    ("/notifications", "GET,HEAD,POST"),
    ("/", "GET,HEAD,POST"),
    ("/status", "GET,HEAD"),
    ("/settings", "GET,HEAD,POST"),
    ("/notifications/update", "GET,HEAD,POST"),
    ("/nope", "GET,HEAD"),
    ("/notifications/abc", "GET,HEAD"),
])
def test_options_known_path(server, path, allow):
    r = server.req("OPTIONS", MOUNT + path)
    assert (r.status, r.body) == (200, allow.encode())
    assert r.headers.get("Allow") == allow
    assert r.headers.get("Content-Type") == "text/html; charset=utf-8"


def test_options_unknown_path_is_empty_404(server):
    r = server.req("OPTIONS", MOUNT + "/nope/deeper")
    assert (r.status, r.body) == (404, b"")


# --- review findings: /update as /:id, long ids, many refs --------------

def test_get_update_is_the_legacy_id_route(server):
    """GET /update is GET /:id (only POST /update is the update route): a
    static token gets the user-only 403, not an empty 404."""
    for path in ("/update", "/notifications/update"):
        r = server.req("GET", MOUNT + path)
        assert_error(r, 403, "NotAllowedError",
                     "This endpoint does not allow 'service' credentials",
                     "GET", path)


def test_long_id_still_routes(server):
    path = "/notifications/" + "a" * 600
    r = server.req("GET", MOUNT + path)
    assert_error(r, 403, "NotAllowedError",
                 "This endpoint does not allow 'service' credentials",
                 "GET", path)


def test_thousands_of_refs_answer_quickly(server):
    """De-duplication is linear: a 100 KiB body of distinct refs is
    answered well within the test's time limit (it took seconds when it
    was quadratic)."""
    import time
    refs = ["user:u%d" % i for i in range(5000)]
    refs += refs[:100]				# and some duplicates
    body = dumps({"recipients": {"type": "entity", "entityRef": refs,
                                 "excludeEntityRef": refs[:10]},
                  "payload": {"title": "many"}})
    assert len(body) <= 102400
    t0 = time.monotonic()
    r = server.req("POST", NOTIFS, body,
                   [("Content-Type", "application/json")])
    took = time.monotonic() - t0
    assert r.status == 200
    users = [e["user"] for e in r.json()]
    assert users == refs[10:5000]
    assert took < 20, took
