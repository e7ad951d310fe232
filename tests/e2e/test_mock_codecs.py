"""
The assertion API's codecs (src/mock_json.c, issue 14): a stored body goes
back as "body", bytes that are not UTF-8 each becoming U+FFFD (one per
byte, NUL kept as \\u0000), and, when anything was replaced, also as
"bodyBase64" (RFC 4648, padded), from which the exact bytes come back.
"""

import base64

import pytest

from mock_helpers import cursor, get_json, send

CASES = [
    # (raw body, the "body" shown)
    (b"plain ascii", "plain ascii"),
    (b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\u00e9 \u20ac \U0001f600"),
    (b"nul\x00byte", "nul\u0000byte"),
    (b"\xff", "\ufffd"),
    (b"\xc0\xaf", "\ufffd\ufffd"),			# overlong '/'
    (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),		# a surrogate
    (b"\xf4\x90\x80\x80", "\ufffd" * 4),		# past U+10FFFF
    (b"end \xe2\x82", "end \ufffd\ufffd"),		# cut short
    (b"\x80 lone", "\ufffd lone"),			# a lone continuation
    (b"\xf8\x88\x80\x80\x80", "\ufffd" * 5),		# 5-byte form
    (b"\xc3\xa9\xff\xfe\xfd", "\u00e9\ufffd\ufffd\ufffd"),
]


@pytest.mark.parametrize("raw,shown", CASES,
                         ids=[repr(c[0]) for c in CASES])
def test_body_shown_and_kept_exactly(server, raw, shown):
    since = cursor(server)
    send(server, body=raw)
    d = get_json(server, "/mock/deliveries",
                 {"since": since})["deliveries"][0]
    assert d["body"] == shown
    assert d["bodyBytes"] == len(raw)
    valid = "\ufffd" not in shown
    if valid:
        assert "bodyBase64" not in d
    else:
        # Padded standard base64, byte for byte what Python writes.
        assert d["bodyBase64"] == base64.b64encode(raw).decode()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_base64_padding_for_every_length(server, n):
    raw = bytes([0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa][:n])
    since = cursor(server)
    send(server, body=raw)
    d = get_json(server, "/mock/deliveries",
                 {"since": since})["deliveries"][0]
    assert d["bodyBase64"] == base64.b64encode(raw).decode()
    assert base64.b64decode(d["bodyBase64"]) == raw
