"""
Helpers for the read-side tests (test_read_*.py): servers that know users,
the guest sign-in, requests as a user, the read-side JSON forms, and a
small P-256 implementation to check (and forge) notimock's ES256 user
tokens with the standard library only.
"""

import base64
import hashlib
import json
import time
import os
import re
import secrets

import pytest

from conftest import (DATA, JSON_CT, MOUNT, NOTIFS, TOKEN, ServerStartError,
                      dumps, finish_server, start_server)

ALICE_TOKEN = "user-token-alice-0123456789abcdef"
BOB_TOKEN = "user-token-bob-0123456789abcdef0"
ALICE = "user:default/alice"
BOB = "user:default/bob"
DEFAULT_GUEST = "user:development/guest"
CATALOG = os.path.join(DATA, "read-catalog.yaml")
READ_CONFIG = os.path.join(DATA, "read-config.yaml")
ORIGIN = "argocd-notifications"

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LOGID_RE = re.compile(r"^An internal error occurred logId=[0-9a-f]{20}$")

USER_ARGS = ["--user-token", ALICE_TOKEN + "=" + ALICE,
             "--user-token", BOB_TOKEN + "=" + BOB]


def start(extra=(), **kw):
    """A notimock with alice's and bob's fixed user tokens (and the guest
    provider on by default); fails the test if it does not start."""
    try:
        return start_server(USER_ARGS + list(extra), **kw)
    except ServerStartError as e:
        pytest.fail(str(e))


@pytest.fixture
def fresh():
    """Factory for servers stopped at the end of the test: fresh(extra)."""
    started = []

    def make(extra=(), **kw):
        srv = start(extra, **kw)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        finish_server(srv)


# --- requests ---------------------------------------------------------------

def send(srv, body, token=TOKEN):
    """POST /notifications as a service; returns the parsed 200 answer."""
    r = srv.req("POST", NOTIFS, dumps(body),
                [("Content-Type", "application/json")], token)
    assert r.status == 200, r
    # Lists sort newest first; two sends in one millisecond would tie on
    # `created`, an order neither notimock nor Backstage promises.
    time.sleep(0.002)
    return json.loads(r.body)


def to(refs, title="t", exclude=None, **payload):
    recip = {"type": "entity", "entityRef": refs}
    if exclude is not None:
        recip["excludeEntityRef"] = exclude
    return {"recipients": recip, "payload": dict(title=title, **payload)}


def broadcast(title="b", **payload):
    return {"recipients": {"type": "broadcast"},
            "payload": dict(title=title, **payload)}


def get(srv, path, token=ALICE_TOKEN):
    """GET a path below the mount as a user."""
    return srv.req("GET", MOUNT + path, token=token)


def get_json(srv, path, token=ALICE_TOKEN):
    r = get(srv, path, token)
    assert r.status == 200, r
    assert r.headers.get("Content-Type") == JSON_CT
    return json.loads(r.body)


def post(srv, path, body, token=ALICE_TOKEN):
    raw = body if isinstance(body, (bytes, str)) else dumps(body)
    return srv.req("POST", MOUNT + path, raw,
                   [("Content-Type", "application/json")], token)


def post_json(srv, path, body, token=ALICE_TOKEN):
    r = post(srv, path, body, token)
    assert r.status == 200, r
    return json.loads(r.body)


def listing(srv, query="", token=ALICE_TOKEN):
    return get_json(srv, "/notifications" + query, token)


def titles(doc):
    """The titles of a list answer (or of a plain array)."""
    items = doc["notifications"] if isinstance(doc, dict) else doc
    return [n["payload"]["title"] for n in items]


def assert_internal_error(resp, method, url):
    """PostgreSQL's face of a database error: 500 with a log id."""
    assert resp.status == 500, resp
    doc = json.loads(resp.body)
    assert list(doc) == ["error", "request", "response"]
    assert doc["error"]["name"] == "Error"
    assert LOGID_RE.match(doc["error"]["message"]), doc
    assert list(doc["error"]) == ["name", "message"]
    assert doc["request"] == {"method": method, "url": url}
    assert doc["response"] == {"statusCode": 500}


def stored(n_id, user, created, title, saved=None, read=None, updated=None,
           origin=ORIGIN, description=None, link=None, topic=None,
           severity="normal", scope=None, icon=None, metadata=None):
    """The read-side form of spec section 8, as exact bytes."""
    payload = {"title": title, "description": description, "link": link,
               "topic": topic, "severity": severity, "scope": scope,
               "icon": icon}
    if metadata is not None:
        payload["metadata"] = metadata
    return dumps({"id": n_id, "user": user, "created": created,
                  "saved": saved, "read": read, "updated": updated,
                  "origin": origin, "payload": payload})


# --- the guest and JWTs -----------------------------------------------------

def refresh(srv, method="POST", path="/api/auth/guest/refresh"):
    r = srv.req(method, path, token=None)
    assert r.status == 200, r
    return json.loads(r.body)


def guest_token(srv):
    return refresh(srv)["backstageIdentity"]["token"]


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_parts(token):
    """(header bytes, payload bytes, signature bytes) of a compact JWS."""
    h, p, s = token.split(".")
    return b64d(h), b64d(p), b64d(s)


# P-256 (NIST SP 800-186), affine arithmetic: slow but small and plain.
_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
_A = _P - 3
_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
_G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
      0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)


def _add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        lam = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P) % _P
    else:
        lam = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P) % _P
    x = (lam * lam - p[0] - q[0]) % _P
    return x, (lam * (p[0] - x) - p[1]) % _P


def _mul(k, p):
    r = None
    while k:
        if k & 1:
            r = _add(r, p)
        p = _add(p, p)
        k >>= 1
    return r


def es256_verify(jwk, signing_input, sig):
    """Check an ES256 signature (r||s) against a JWK's public point."""
    if len(sig) != 64:
        return False
    q = (int.from_bytes(b64d(jwk["x"]), "big"),
         int.from_bytes(b64d(jwk["y"]), "big"))
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    h = int.from_bytes(hashlib.sha256(signing_input).digest(), "big")
    w = pow(s, -1, _N)
    pt = _add(_mul(h * w % _N, _G), _mul(r * w % _N, q))
    return pt is not None and pt[0] % _N == r


def es256_sign(d, signing_input):
    h = int.from_bytes(hashlib.sha256(signing_input).digest(), "big")
    while True:
        k = secrets.randbelow(_N - 1) + 1
        r = _mul(k, _G)[0] % _N
        s = pow(k, -1, _N) * (h + r * d) % _N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def private_scalar(pem_path):
    """d of a SEC1 "EC PRIVATE KEY" PEM (what mbedTLS writes)."""
    with open(pem_path) as f:
        text = f.read()
    der = base64.b64decode("".join(
        line for line in text.splitlines() if not line.startswith("-----")))
    i = der.index(b"\x02\x01\x01\x04\x20")	# version 1, then OCTET STRING(32)
    return int.from_bytes(der[i + 5:i + 37], "big")


def forge(d, header, payload):
    """A compact JWS of these header and payload objects signed with d."""
    signing_input = (b64e(dumps(header).encode()) + "." +
                     b64e(dumps(payload).encode())).encode()
    return signing_input.decode() + "." + b64e(es256_sign(d, signing_input))
