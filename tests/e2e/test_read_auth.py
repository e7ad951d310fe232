"""
User credentials for the read side (spec section 3.5): Backstage's guest
provider under /api/auth, the ES256 user tokens it hands out, how the
notifications routes take them (and refuse bad ones), and the fixed
--user-token users.
"""

import json
import os
import time

import pytest

from conftest import (JSON_CT, MOUNT, TOKEN, assert_error, dumps,
                      run_expect_exit)
from read_helpers import (ALICE, ALICE_TOKEN, BOB_TOKEN, CATALOG,
                          DEFAULT_GUEST, READ_CONFIG, b64d, b64e, broadcast,
                          es256_verify, forge, fresh, get, get_json,
                          guest_token, jwt_parts, private_scalar, refresh,
                          send, to)

KEY_FILE = "notimock-user-token.key"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# --- the identity response -------------------------------------------------

def test_refresh_shape_default_guest(fresh):
    """No config at all: the guest provider is on, as user:development/guest
    (Backstage's default guest), with itself as its ownership."""
    srv = fresh()
    r = srv.req("POST", "/api/auth/guest/refresh", token=None)
    assert r.status == 200
    assert r.headers.get("Content-Type") == JSON_CT
    doc = json.loads(r.body)
    assert list(doc) == ["profile", "backstageIdentity"]
    assert doc["profile"] == {}
    bi = doc["backstageIdentity"]
    assert list(bi) == ["token", "identity", "expiresInSeconds"]
    assert bi["identity"] == {"type": "user", "userEntityRef": DEFAULT_GUEST,
                              "ownershipEntityRefs": [DEFAULT_GUEST]}
    assert list(bi["identity"]) == ["type", "userEntityRef",
                                    "ownershipEntityRefs"]
    assert bi["expiresInSeconds"] in (3599, 3600)
    # Helmet's headers, as on every Backstage plugin response.
    assert r.headers.get("X-Frame-Options") == "SAMEORIGIN"


def test_frontend_sign_in_request(fresh):
    """What the Backstage frontend sends for guest sign-in, and the
    variants Express's routing accepts."""
    srv = fresh()
    for method, path in [
            ("GET", "/api/auth/guest/refresh?optional&env=development"),
            ("GET", "/api/auth/guest/refresh"),
            ("GET", "/api/auth/GUEST/Refresh/"),
            ("POST", "/api/auth/guest/refresh?x=1")]:
        doc = refresh(srv, method, path)
        assert doc["backstageIdentity"]["identity"]["userEntityRef"] == \
            DEFAULT_GUEST
    r = srv.req("HEAD", "/api/auth/guest/refresh", token=None)
    assert r.status == 200 and r.body == b""
    # A stray Authorization header does not matter on this plugin.
    r = srv.req("GET", "/api/auth/guest/refresh", token="junk")
    assert r.status == 200


def test_token_header_and_claims(fresh):
    """typ vnd.backstage.user, ES256, a kid; claims in Backstage's order
    (iss, sub, aud, iat, exp, uip), valid 3600 s, no ent by default."""
    srv = fresh()
    now = int(time.time())
    token = guest_token(srv)
    h, p, _ = jwt_parts(token)
    header = json.loads(h)
    assert list(header) == ["typ", "alg", "kid"]
    assert header["typ"] == "vnd.backstage.user"
    assert header["alg"] == "ES256"
    claims = json.loads(p)
    assert list(claims) == ["iss", "sub", "aud", "iat", "exp", "uip"]
    assert claims["sub"] == DEFAULT_GUEST
    assert claims["aud"] == "backstage"
    assert claims["iss"] == "http://127.0.0.1:%d/api/auth" % srv.port
    assert abs(claims["iat"] - now) <= 2
    assert claims["exp"] - claims["iat"] == 3600


def test_token_verifies_against_jwks(fresh):
    """The signature checks out with the published key, and uip is the
    signature of the matching limited-user token, as Backstage builds it."""
    srv = fresh()
    token = guest_token(srv)
    r = srv.req("GET", "/api/auth/.well-known/jwks.json", token=None)
    assert r.status == 200 and r.headers.get("Content-Type") == JSON_CT
    keys = json.loads(r.body)["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert list(jwk) == ["kty", "x", "y", "crv", "kid", "alg"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    h, p, sig = jwt_parts(token)
    assert json.loads(h)["kid"] == jwk["kid"]
    signing_input = token.rsplit(".", 1)[0].encode()
    assert es256_verify(jwk, signing_input, sig)
    assert not es256_verify(jwk, signing_input + b"x", sig)

    claims = json.loads(p)
    limited = (b64e(dumps({"typ": "vnd.backstage.limited-user",
                           "alg": "ES256", "kid": jwk["kid"]}).encode()) +
               "." + b64e(dumps({"sub": claims["sub"], "iat": claims["iat"],
                                 "exp": claims["exp"]}).encode()))
    assert es256_verify(jwk, limited.encode(), b64d(claims["uip"]))
    # ... and that limited token is refused on the notifications routes.
    r = get(srv, "/status", limited + "." + claims["uip"])
    assert_error(r, 401, "AuthenticationError", "Illegal limited user token",
                 "GET", "/status")


def test_guest_token_reads_as_the_guest(fresh):
    srv = fresh()
    token = guest_token(srv)
    send(srv, to(DEFAULT_GUEST, "for the guest"))
    send(srv, to(ALICE, "for alice"))
    doc = get_json(srv, "/notifications", token)
    assert [n["payload"]["title"] for n in doc["notifications"]] == \
        ["for the guest"]
    assert doc["notifications"][0]["user"] == DEFAULT_GUEST
    assert get_json(srv, "/status", token) == {"unread": 1, "read": 0}


def test_configured_guest_with_catalog(fresh):
    """auth.providers.guest.userEntityRef names a catalog user: Backstage
    signs in as that entity, owning its groups too."""
    srv = fresh(["--config", READ_CONFIG, "--catalog", CATALOG])
    bi = refresh(srv)["backstageIdentity"]
    assert bi["identity"] == {
        "type": "user", "userEntityRef": "user:default/guest",
        "ownershipEntityRefs": ["user:default/guest", "group:default/team-a"]}
    claims = json.loads(jwt_parts(bi["token"])[1])
    # backend.baseUrl names the issuer.
    assert claims["iss"] == "http://127.0.0.1:7007/api/auth"
    assert "ent" not in claims


def test_guest_ref_canonical_and_ownership(fresh, tmp_path):
    """Without a catalog entity the configured ref is canonicalised and the
    configured ownershipEntityRefs used; with
    auth.omitIdentityTokenOwnershipClaim false they go into ent."""
    cfg = write(tmp_path, "guest.yaml",
                "auth:\n"
                "  omitIdentityTokenOwnershipClaim: false\n"
                "  providers:\n"
                "    guest:\n"
                "      userEntityRef: User:Demo/Someone\n"
                "      ownershipEntityRefs: [Group:Demo/Team, "
                "group:demo/team, user:demo/someone]\n")
    srv = fresh(["--config", cfg])
    bi = refresh(srv)["backstageIdentity"]
    assert bi["identity"]["userEntityRef"] == "user:demo/someone"
    assert bi["identity"]["ownershipEntityRefs"] == ["group:demo/team",
                                                     "user:demo/someone"]
    claims = json.loads(jwt_parts(bi["token"])[1])
    assert list(claims) == ["iss", "sub", "ent", "aud", "iat", "exp", "uip"]
    assert claims["ent"] == ["group:demo/team", "user:demo/someone"]
    send(srv, to("user:demo/someone", "hello"))
    assert get_json(srv, "/status", bi["token"]) == {"unread": 1, "read": 0}


def test_token_expiration_setting(fresh, tmp_path):
    cfg = write(tmp_path, "ttl.yaml",
                "auth:\n  backstageTokenExpiration: {minutes: 20}\n")
    srv = fresh(["--config", cfg])
    claims = json.loads(jwt_parts(guest_token(srv))[1])
    assert claims["exp"] - claims["iat"] == 1200
    # Backstage clamps to [10 min, 24 h].
    cfg = write(tmp_path, "short.yaml",
                "auth:\n  backstageTokenExpiration: 30s\n")
    srv = fresh(["--config", cfg])
    claims = json.loads(jwt_parts(guest_token(srv))[1])
    assert claims["exp"] - claims["iat"] == 600


def test_guest_off_when_providers_lack_it(fresh, tmp_path):
    cfg = write(tmp_path, "noguest.yaml",
                "auth:\n  providers:\n    github:\n      development: {}\n")
    srv = fresh(["--config", cfg])
    for method, path, url in [
            ("POST", "/api/auth/guest/refresh", "/guest/refresh"),
            ("GET", "/api/auth/guest/start", "/guest/start")]:
        r = srv.req(method, path, token=None)
        assert_error(r, 404, "NotFoundError",
                     "No auth provider registered for 'guest'", method, url)


def test_bad_guest_ref_stops_start_up(tmp_path):
    cfg = write(tmp_path, "bad.yaml",
                "auth:\n  providers:\n    guest:\n      userEntityRef: guest\n")
    code, err = run_expect_exit(["--config", cfg])
    assert code != 0
    assert "auth.providers.guest.userEntityRef" in err
    assert "had missing or empty kind" in err


# --- the auth plugin's other answers ------------------------------------------

AUTH_ERRORS = [
    ("GET", "/api/auth/guest/start", 501, "NotImplementedError",
     "Not implemented", "/guest/start"),
    ("GET", "/api/auth/guest/handler/frame", 501, "NotImplementedError",
     "Not implemented", "/guest/handler/frame"),
    ("POST", "/api/auth/guest/handler/frame", 501, "NotImplementedError",
     "Not implemented", "/guest/handler/frame"),
    ("POST", "/api/auth/guest/logout", 404, "NotFoundError",
     "Unknown auth provider 'guest'", "/guest/logout"),
    ("POST", "/api/auth/guest/start", 404, "NotFoundError",
     "Unknown auth provider 'guest'", "/guest/start"),
    ("PUT", "/api/auth/guest/refresh", 404, "NotFoundError",
     "Unknown auth provider 'guest'", "/guest/refresh"),
    ("GET", "/api/auth/guest", 404, "NotFoundError",
     "Unknown auth provider 'guest'", "/guest"),
    ("GET", "/api/auth/nope/refresh?x=1", 404, "NotFoundError",
     "Unknown auth provider 'nope'", "/nope/refresh?x=1"),
    ("GET", "/api/auth/.well-known/nope", 404, "NotFoundError",
     "Unknown auth provider '.well-known'", "/.well-known/nope"),
]


@pytest.mark.parametrize("method,path,status,name,message,url", AUTH_ERRORS)
def test_auth_plugin_errors(fresh, method, path, status, name, message, url):
    srv = fresh()
    assert_error(srv.req(method, path, token=None), status, name, message,
                 method, url)


def test_auth_plugin_root_and_bodies(fresh):
    srv = fresh()
    for path in ("/api/auth", "/api/auth/"):
        r = srv.req("GET", path, token=None)
        assert (r.status, r.body) == (404, b"")
    # express.json() runs on every path of the plugin.
    r = srv.req("POST", "/api/auth/guest/refresh", "{bad",
                [("Content-Type", "application/json")], None)
    assert r.status == 400
    assert r.body == (
        b'{"error":{"name":"SyntaxError","message":"Expected property name '
        b'or \'}\' in JSON at position 1","expose":true,"statusCode":400,'
        b'"status":400,"body":"{bad","type":"entity.parse.failed"},'
        b'"request":{"method":"POST","url":"/guest/refresh"},'
        b'"response":{"statusCode":400}}')
    big = b"a" * 200000
    r = srv.req("POST", "/api/auth/guest/refresh", big,
                [("Content-Type", "application/json")], None)
    assert r.status == 413
    assert json.loads(r.body)["error"] == {
        "name": "PayloadTooLargeError", "message": "request entity too large",
        "expected": 200000, "length": 200000, "limit": 102400,
        "type": "entity.too.large"}
    # Other media types are left alone.
    r = srv.req("POST", "/api/auth/guest/refresh", "{bad",
                [("Content-Type", "text/plain")], None)
    assert r.status == 200


def test_openid_configuration(fresh):
    srv = fresh()
    doc = json.loads(srv.req("GET", "/api/auth/.well-known/"
                             "openid-configuration", token=None).body)
    base = "http://127.0.0.1:%d/api/auth" % srv.port
    assert doc["issuer"] == base
    assert doc["jwks_uri"] == base + "/.well-known/jwks.json"
    assert "ES256" in doc["id_token_signing_alg_values_supported"]


# --- tokens on the notifications routes ---------------------------------------

def forged(srv, header=None, **claims):
    """A token signed with the server's own key (read from beside its db),
    so that only the claims decide."""
    guest_token(srv)		# makes the key
    d = private_scalar(os.path.join(srv.workdir, KEY_FILE))
    jwk = json.loads(srv.req("GET", "/api/auth/.well-known/jwks.json",
                             token=None).body)["keys"][0]
    now = int(time.time())
    payload = {"iss": "x", "sub": ALICE, "aud": "backstage", "iat": now,
               "exp": now + 60}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    h = {"typ": "vnd.backstage.user", "alg": "ES256", "kid": jwk["kid"]}
    h.update(header or {})
    return forge(d, h, payload)


def test_forged_with_our_key_is_accepted(fresh):
    srv = fresh()
    send(srv, to(ALICE, "x"))
    assert get_json(srv, "/status", forged(srv)) == {"unread": 1, "read": 0}


@pytest.mark.parametrize("why,header,claims,message", [
    ("expired", None, {"exp": 1}, "Failed user token verification"),
    ("expires now", None, {"exp": "NOW"}, "Failed user token verification"),
    ("no iat", None, {"iat": None}, "Failed user token verification"),
    ("no exp", None, {"exp": None}, "Failed user token verification"),
    ("no sub", None, {"sub": None}, "Failed user token verification"),
    ("exp not a number", None, {"exp": "soon"},
     "Failed user token verification"),
    ("not yet valid", None, {"nbf": 4102444800},
     "Failed user token verification"),
    ("other kid", {"kid": "nope"}, {}, "Failed user token verification"),
    ("other alg", {"alg": "HS256"}, {}, "Failed user token verification"),
    ("empty sub", None, {"sub": ""}, "No user sub found in token"),
    ("limited", {"typ": "vnd.backstage.limited-user"}, {},
     "Illegal limited user token"),
    ("aud only, no exp", {"typ": "JWT"}, {"exp": None},
     "User token is missing expiration"),
])
def test_bad_user_tokens_get_401(fresh, why, header, claims, message):
    srv = fresh()
    if claims.get("exp") == "NOW":
        claims = {"exp": int(time.time())}
    r = get(srv, "/notifications", forged(srv, header, **claims))
    assert_error(r, 401, "AuthenticationError", message, "GET",
                 "/notifications")


def test_tampered_and_foreign_tokens(fresh):
    srv = fresh()
    token = guest_token(srv)
    h, p, s = token.split(".")
    # Another signature, another payload: both fail verification.
    bad_sig = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]
    other = fresh()
    for t in (bad_sig, guest_token(other)):
        r = get(srv, "/status", t)
        assert_error(r, 401, "AuthenticationError",
                     "Failed user token verification", "GET", "/status")
    # A JWT that is not a user token at all is just an unknown token.
    junk = b64e(b'{"typ":"JWT","alg":"none"}') + "." + \
        b64e(b'{"aud":"other"}') + "."
    assert_error(get(srv, "/status", junk), 401, "AuthenticationError",
                 "Illegal token", "GET", "/status")


def test_token_survives_restart_beside_db(fresh, tmp_path):
    """The signing key lives beside the database, so a browser's token
    still works after notimock restarts."""
    db_path = str(tmp_path / "n.db")
    srv = fresh(db_path=db_path)
    token = guest_token(srv)
    assert os.stat(str(tmp_path / KEY_FILE)).st_mode & 0o777 == 0o600
    srv.stop()
    srv2 = fresh(db_path=db_path)
    assert get(srv2, "/status", token).status == 200
    # With --db :memory: nothing is kept, on disk or across restarts.
    mem = fresh(["--db", ":memory:"])
    t = guest_token(mem)
    assert get(mem, "/status", t).status == 200
    assert not os.path.exists(os.path.join(mem.workdir, KEY_FILE))


# --- fixed users and credential types --------------------------------------------

READ_ROUTES = [
    ("GET", "/notifications", None),
    ("GET", "/", None),
    ("GET", "/notifications/some-id", None),
    ("GET", "/some-id", None),
    ("POST", "/notifications/update", '{"ids":[]}'),
    ("POST", "/update", '{"ids":[]}'),
    ("GET", "/status", None),
    ("GET", "/topics", None),
    ("GET", "/settings", None),
    ("POST", "/settings", '{"channels":[]}'),
]


@pytest.mark.parametrize("method,path,body", READ_ROUTES)
def test_service_token_gets_403_on_read_routes(fresh, method, path, body):
    srv = fresh()
    hdrs = [("Content-Type", "application/json")] if body else []
    r = srv.req(method, MOUNT + path, body, hdrs, TOKEN)
    assert_error(r, 403, "NotAllowedError",
                 "This endpoint does not allow 'service' credentials",
                 method, path)


def test_fixed_user_tokens_are_separate_users(fresh):
    srv = fresh()
    send(srv, to(ALICE, "a1"))
    send(srv, to("user:default/bob", "b1"))
    send(srv, broadcast("all"))
    assert get_json(srv, "/status", ALICE_TOKEN) == {"unread": 2, "read": 0}
    assert get_json(srv, "/status", BOB_TOKEN) == {"unread": 2, "read": 0}
    titles = [n["payload"]["title"] for n in
              get_json(srv, "/notifications", BOB_TOKEN)["notifications"]]
    assert titles == ["all", "b1"]
