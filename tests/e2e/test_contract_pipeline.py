"""
The order of the request pipeline: spec section 1 (and 3.3, 4.5 step 1).

credentials barrier -> JSON body parser (size, then JSON.parse) ->
validator (media type, then query, then body schema) -> handler
(credential type first, then its own checks) -> no route: empty 404.
Each test sends a request that fails two steps and checks that the earlier
step answers.
"""

import socket

import pytest

from conftest import (MOUNT, NOTIFS, TOKEN, assert_broadcast_sent,
                      assert_empty_404, assert_error, assert_input_error,
                      dumps, parse_response, read_response)

JSON = [("Content-Type", "application/json")]
TEXT = [("Content-Type", "text/plain")]
VALID = (b'{"recipients":{"type":"broadcast"},'
         b'"payload":{"title":"pipeline"}}')
BAD_JSON_MSG = "Expected property name or '}' in JSON at position 1"
TOO_LARGE = "request entity too large"
USER_403 = "This endpoint does not allow 'user' credentials"


def missing(resp, method="POST", url="/notifications"):
    assert_error(resp, 401, "AuthenticationError", "Missing credentials",
                 method, url)


def big_json(size):
    """A syntactically valid send of exactly size bytes."""
    head = b'{"recipients":{"type":"broadcast"},"payload":{"title":"big",' \
           b'"description":"'
    tail = b'"}}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


# --- Authentication comes first ---------------------------------------------

@pytest.mark.parametrize("body,headers", [
    (b"{bad", JSON),
    (b"{}", JSON),
    (b"[]", JSON),
    (b"{bad", TEXT),
    (b"{bad", []),
    (b"", JSON),
], ids=["bad-json", "empty-object", "array", "text-plain", "no-ctype",
        "empty-body"])
def test_auth_before_parser_and_validator(server, body, headers):
    missing(server.req("POST", NOTIFS, body, headers, token=None))


def test_illegal_token_before_parser(server):
    r = server.req("POST", NOTIFS, b"{bad", JSON, token="nope-0123456789")
    assert_error(r, 401, "AuthenticationError", "Illegal token")


def test_auth_before_query_check(server):
    missing(server.req("POST", NOTIFS + "?x=1", b"{}", JSON, token=None),
            url="/notifications?x=1")


def test_auth_before_size_limit(server):
    """A 2 MiB body without a token: 401, not the size error."""
    missing(server.req("POST", NOTIFS, big_json(2 << 20), JSON, token=None))


def test_auth_before_size_limit_expect_continue(server):
    """The same announced with Expect: 100-continue (curl does this): the
    final answer is the 401, whether or not 100 Continue came first."""
    body = big_json(2 << 20)
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "Expect: 100-continue\r\n\r\n" % (NOTIFS, len(body))).encode()
    with socket.create_connection((server.host, server.port), 10) as s:
        s.sendall(head)
        s.settimeout(5)
        data = s.recv(65536)
        if data.startswith(b"HTTP/1.1 100"):
            try:
                s.sendall(body)
            except OSError:
                pass
        data += read_response(s, 10)
    status, hdrs, got = parse_response(data)
    assert status == 401
    assert got == (b'{"error":{"name":"AuthenticationError","message":'
                   b'"Missing credentials"},"request":{"method":"POST",'
                   b'"url":"/notifications"},"response":{"statusCode":401}}')


# --- The body parser runs before routing ------------------------------------

def test_parser_runs_for_unrouted_put(server):
    r = server.req("PUT", NOTIFS, b"{bad", JSON)
    assert_input_error(r, BAD_JSON_MSG, "PUT")


def test_unrouted_put_with_valid_json_is_empty_404(server):
    assert_empty_404(server.req("PUT", NOTIFS, b"{}", JSON))


def test_parser_runs_for_unrouted_delete(server):
    r = server.req("DELETE", NOTIFS, b"{bad", JSON)
    assert_input_error(r, BAD_JSON_MSG, "DELETE")


def test_parser_runs_for_unknown_path(server):
    r = server.req("POST", MOUNT + "/nope/deeper", b"{bad", JSON)
    assert_input_error(r, BAD_JSON_MSG, url="/nope/deeper")


def test_parser_skips_non_json_bodies(server):
    """Only JSON media types are parsed: a text body on no route is the
    plain empty 404."""
    assert_empty_404(server.req("PUT", NOTIFS, b"{bad", TEXT))


def test_size_limit_before_routing(server):
    r = server.req("PUT", NOTIFS, big_json(102401), JSON)
    assert_input_error(r, TOO_LARGE, "PUT")


def test_size_limit_before_parse(server):
    r = server.req("POST", NOTIFS, b"{bad" + b" " * 102400, JSON)
    assert_input_error(r, TOO_LARGE)


def test_size_limit_only_for_json(server):
    """A non-JSON body is never read by the parser, so it is the media
    type that fails, however large."""
    r = server.req("POST", NOTIFS, big_json(102401), TEXT)
    assert_input_error(r, "unsupported media type text/plain")


# --- Inside the validator: media type, then query, then body ---------------

def test_media_type_before_query(server):
    r = server.req("POST", NOTIFS + "?x=1", b"{}", TEXT)
    assert_input_error(r, "unsupported media type text/plain",
                       url="/notifications?x=1")


def test_missing_media_type_before_query(server):
    r = server.req("POST", NOTIFS + "?x=1", b"{}", [])
    assert_input_error(r, "unsupported media type undefined",
                       url="/notifications?x=1")


def test_query_before_body_schema(server):
    r = server.req("POST", NOTIFS + "?x=1", b"{}", JSON)
    assert_input_error(r, "Unknown query parameter 'x'",
                       url="/notifications?x=1")


def test_query_on_valid_body(server):
    r = server.req("POST", NOTIFS + "?x=1", VALID, JSON)
    assert_input_error(r, "Unknown query parameter 'x'",
                       url="/notifications?x=1")


def test_query_on_root_alias(server):
    r = server.req("POST", MOUNT + "?topic=argocd", VALID, JSON)
    assert_input_error(r, "Unknown query parameter 'topic'",
                       url="/?topic=argocd")


def test_parser_before_query(server):
    r = server.req("POST", NOTIFS + "?x=1", b"{bad", JSON)
    assert_input_error(r, BAD_JSON_MSG, url="/notifications?x=1")


def test_size_before_query(server):
    r = server.req("POST", NOTIFS + "?x=1", big_json(102401), JSON)
    assert_input_error(r, TOO_LARGE, url="/notifications?x=1")


def test_static_token_get_with_query_is_400_not_403(server):
    """The validator runs before the handler's credential-type check."""
    r = server.req("GET", NOTIFS + "?foo=bar")
    assert_input_error(r, "Unknown query parameter 'foo'", "GET",
                       "/notifications?foo=bar")


# --- User tokens: validation first, the 403 only for a valid body -----------

def test_user_token_invalid_body_gets_400(user_server):
    r = user_server.req("POST", NOTIFS, b'{"recipients":{"type":"broadcast"}}',
                        JSON, token=user_server.user_token)
    assert_input_error(r, "request/body must have required property "
                       "'payload'")


def test_user_token_text_plain_gets_400(user_server):
    r = user_server.req("POST", NOTIFS, VALID, TEXT,
                        token=user_server.user_token)
    assert_input_error(r, "unsupported media type text/plain")


def test_user_token_bad_json_gets_400(user_server):
    r = user_server.req("POST", NOTIFS, b"{bad", JSON,
                        token=user_server.user_token)
    assert_input_error(r, BAD_JSON_MSG)


def test_user_token_query_gets_400(user_server):
    r = user_server.req("POST", NOTIFS + "?x=1", VALID, JSON,
                        token=user_server.user_token)
    assert_input_error(r, "Unknown query parameter 'x'",
                       url="/notifications?x=1")


@pytest.mark.parametrize("path,url", [(NOTIFS, "/notifications"),
                                      (MOUNT, "/")])
def test_user_token_valid_body_gets_403(user_server, path, url):
    r = user_server.req("POST", path, VALID, JSON,
                        token=user_server.user_token)
    assert_error(r, 403, "NotAllowedError", USER_403, "POST", url)


@pytest.mark.parametrize("payload", [
    {"title": ""},
    {"title": "t", "link": "javascript:alert(1)"},
    {"title": "t", "link": "http://[bad"},
], ids=["empty-title", "bad-link", "invalid-link"])
def test_user_token_403_before_handler_checks(user_server, payload):
    """The credential type is the handler's first check."""
    body = dumps({"recipients": {"type": "broadcast"}, "payload": payload})
    r = user_server.req("POST", NOTIFS, body, JSON,
                        token=user_server.user_token)
    assert_error(r, 403, "NotAllowedError", USER_403)


def test_user_token_403_before_entity_ref_errors(user_server):
    body = b'{"recipients":{"type":"entity","entityRef":"guest"},' \
           b'"payload":{"title":"t"}}'
    r = user_server.req("POST", NOTIFS, body, JSON,
                        token=user_server.user_token)
    assert_error(r, 403, "NotAllowedError", USER_403)


def test_static_token_on_user_route_still_works(user_server):
    """Adding user tokens does not change what the static token may do."""
    r = user_server.req("POST", NOTIFS, VALID, JSON, token=TOKEN)
    assert_broadcast_sent(r, '{"title":"pipeline","severity":"normal"}')
