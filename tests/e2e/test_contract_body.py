"""
The request body before validation: spec sections 4.2 (media type and
size) and 4.3 (JSON parse errors, V8's Node 20 texts and positions).
"""

import pytest

from conftest import (NOTIFS, assert_broadcast_sent, assert_input_error,
                      chunked)

VALID = (b'{"recipients":{"type":"broadcast"},'
         b'"payload":{"title":"body"}}')
TOO_LARGE = "request entity too large"


def ctype(value):
    return [("Content-Type", value)]


def sized(size):
    """A valid broadcast send of exactly size bytes."""
    head = b'{"recipients":{"type":"broadcast"},"payload":{"title":"size",' \
           b'"description":"'
    tail = b'"}}'
    body = head + b"d" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


# --- 4.2 Media type ---------------------------------------------------------

@pytest.mark.parametrize("value", [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
])
def test_json_media_types_accepted(server, value):
    r = server.req("POST", NOTIFS, VALID, ctype(value))
    assert r.status == 200, r
    assert r.json()[0]["payload"]["title"] == "body"


@pytest.mark.parametrize("value,shown", [
    ("text/plain", "text/plain"),
    ("application/x-www-form-urlencoded",
     "application/x-www-form-urlencoded"),
    ("application/vnd.api+json", "application/vnd.api+json"),
    ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
    ("Text/Plain; Charset=UTF-8", "text/plain; charset=utf-8"),
])
def test_other_media_types_rejected(server, value, shown):
    r = server.req("POST", NOTIFS, VALID, ctype(value))
    assert_input_error(r, "unsupported media type " + shown)


def test_no_content_type_with_json_body(server):
    """What an Argo CD webhook without a Content-Type header receives."""
    r = server.req("POST", NOTIFS, VALID)
    assert_input_error(r, "unsupported media type undefined")


def test_no_content_type_empty_body(server):
    r = server.req("POST", NOTIFS, b"")
    assert_input_error(r, "unsupported media type undefined")


def test_no_content_type_no_body_at_all(server):
    r = server.req("POST", NOTIFS)
    assert_input_error(r, "unsupported media type undefined")


def test_no_content_type_empty_chunked_body(server):
    r = server.req("POST", NOTIFS, b"0\r\n\r\n",
                   [("Transfer-Encoding", "chunked")])
    assert_input_error(r, "unsupported media type undefined")


def test_json_type_empty_body_is_empty_object(server):
    r = server.req("POST", NOTIFS, b"", ctype("application/json"))
    assert_input_error(r, "request/body must have required property "
                       "'recipients'")


def test_json_type_empty_chunked_body(server):
    r = server.req("POST", NOTIFS, b"0\r\n\r\n",
                   [("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked")])
    assert_input_error(r, "request/body must have required property "
                       "'recipients'")


def test_chunked_json_body(server):
    r = server.req("POST", NOTIFS, chunked(VALID, 7),
                   [("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked")])
    assert_broadcast_sent(r, '{"title":"body","severity":"normal"}')


def test_whitespace_around_json(server):
    r = server.req("POST", NOTIFS, b"\r\n \t" + VALID + b"\n\n  \r\n",
                   ctype("application/json"))
    assert_broadcast_sent(r, '{"title":"body","severity":"normal"}')


def test_invalid_utf8_becomes_replacement_character(server):
    body = (b'{"recipients":{"type":"broadcast"},'
            b'"payload":{"title":"caf\xe9 ok"}}')
    r = server.req("POST", NOTIFS, body, ctype("application/json"))
    assert r.status == 200, r
    assert b'"title":"caf\xef\xbf\xbd ok"' in r.body


# --- 4.2 Size ---------------------------------------------------------------

def test_size_limit_inclusive(server):
    r = server.req("POST", NOTIFS, sized(102400), ctype("application/json"))
    assert r.status == 200, r
    assert len(r.json()[0]["payload"]["description"]) > 102000


def test_size_limit_exceeded_by_one(server):
    r = server.req("POST", NOTIFS, sized(102401), ctype("application/json"))
    assert_input_error(r, TOO_LARGE)


def test_size_limit_chunked(server):
    """The limit applies to the body, however it is framed."""
    r = server.req("POST", NOTIFS, chunked(sized(102401), 4096),
                   [("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked")])
    assert_input_error(r, TOO_LARGE)


def test_size_limit_chunked_inclusive(server):
    body = sized(102400)
    r = server.req("POST", NOTIFS, chunked(body, 4096),
                   [("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked")])
    payload = body[body.index(b'{"title"'):-1].decode()
    assert_broadcast_sent(r, payload[:-1] + ',"severity":"normal"}')


def test_size_limit_far_exceeded(server):
    """Not 413: Backstage turns the body parser's error into a 400."""
    r = server.req("POST", NOTIFS, sized(1 << 20), ctype("application/json"))
    assert_input_error(r, TOO_LARGE)


# --- 4.3 JSON parse errors --------------------------------------------------

# A valid 59-byte send.
V59 = b'{"recipients":{"type":"broadcast"},"payload":{"title":"x"}}'
# Control characters inside a string: the newline is at offset 88, the tab
# at offset 89.
NEWLINE_88 = (b'{"recipients":{"type":"entity","entityRef":"user:default/guest"}'
              b',"payload":{"title":"Syn\nc failed"}}')
TAB_89 = (b'{"recipients":{"type":"entity","entityRef":"user:default/guest"},'
          b'"payload":{"title":"Sync\tfailed"}}')
# A stray quote inside a value: the character after it is at offset 104.
QUOTE_104 = (b'{"recipients":{"type":"entity","entityRef":"user:development/'
             b'guest"},"payload":{"title":"Sync failure: "my-app" now"}}')

PARSE_ERRORS = [
    pytest.param(b'{"recipients":', "Unexpected end of JSON input",
                 id="truncated"),
    pytest.param(b"{bad", "Expected property name or '}' in JSON at "
                 "position 1", id="bad-key"),
    pytest.param(b"hello", "Unexpected token 'h', \"hello\" is not valid JSON",
                 id="bare-word"),
    pytest.param(V59 + b" x", "Unexpected non-whitespace character after "
                 "JSON at position 60", id="trailing-garbage"),
    pytest.param(b'"hello"', "Unexpected token '\"', \"\"hello\"\" is not "
                 "valid JSON", id="strict-string"),
    pytest.param(b"null", "Unexpected token 'n', \"null\" is not valid JSON",
                 id="strict-null"),
    pytest.param(NEWLINE_88, "Bad control character in string literal in "
                 "JSON at position 88", id="raw-newline"),
    pytest.param(TAB_89, "Bad control character in string literal in JSON "
                 "at position 89", id="raw-tab"),
    pytest.param(QUOTE_104, "Expected ',' or '}' after property value in "
                 "JSON at position 104", id="stray-quote"),
    pytest.param(b'{"recipients":{"type":"broadcast"},"payload":{"title":}}',
                 "Unexpected token '}', ...\":{\"title\":}}\" is not valid "
                 "JSON", id="missing-value"),
    # Positions count from the start of the body, whitespace included ...
    pytest.param(b"  {bad", "Expected property name or '}' in JSON at "
                 "position 3", id="leading-space-position"),
    # ... and in UTF-16 code units, not bytes: U+1F600 is 2 units (4 bytes),
    # U+00E9 one unit (2 bytes).
    pytest.param('{"recipients":{"type":"broadcast"},"payload":{"title":'
                 '"\U0001F600\u00e9"}} x'.encode(), "Unexpected non-whitespace "
                 "character after JSON at position 62", id="utf16-position"),
    # V8 quotes at most 10 characters either side of the bad token.
    pytest.param(b'{"t":}, "recipients": 1}', "Unexpected token '}', "
                 "\"{\"t\":}, \"recipi\"... is not valid JSON",
                 id="context-start"),
    pytest.param(b'{"recipients":{"type":"broadcast"},"payload":{"title":},'
                 b'"x":"0123456789"}', "Unexpected token '}', ...\":{\"title"
                 "\":},\"x\":\"012\"... is not valid JSON",
                 id="context-middle"),
    pytest.param(b"[1,2", "Expected ',' or ']' after array element in JSON "
                 "at position 4", id="truncated-array"),
    pytest.param(b'{"a":1,}', "Expected double-quoted property name in JSON "
                 "at position 7", id="trailing-comma"),
]


@pytest.mark.parametrize("body,message", PARSE_ERRORS)
def test_parse_error(server, body, message):
    r = server.req("POST", NOTIFS, body, ctype("application/json"))
    assert_input_error(r, message)


def test_parse_error_on_root_alias(server):
    r = server.req("POST", "/api/notifications", b"{bad",
                   ctype("application/json"))
    assert_input_error(r, "Expected property name or '}' in JSON at "
                       "position 1", url="/")
