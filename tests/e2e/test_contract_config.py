"""
Where static tokens come from and what they become: spec section 3.2
(backend.auth.externalAccess in a Backstage app-config, start-up checks,
accessRestrictions, subject = origin), plus notimock's --token
TOKEN[:SUBJECT], ARGOCD_NOTIFICATION_TOKEN and running with no token.
Every test starts its own notimock.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import (DATA, MOUNT, NOTIFS, TOKEN, assert_error, dumps,
                      notimock_bin, run_expect_exit, server_env)

JSON = [("Content-Type", "application/json")]
VALID = dumps({"recipients": {"type": "broadcast"},
               "payload": {"title": "config"}})
BAD_LINK = dumps({"recipients": {"type": "broadcast"},
                  "payload": {"title": "t", "link": "http://[bad"}})


def config(name):
    return ["--config", os.path.join(DATA, name)]


def origin_of(srv, token):
    r = srv.req("POST", NOTIFS, VALID, JSON, token=token)
    assert r.status == 200, r
    return r.json()[0]["origin"]


def restricted(resp, plugins, method="POST", url="/notifications"):
    assert_error(resp, 403, "NotAllowedError",
                 "This token's access is restricted to plugin(s) " + plugins,
                 method, url)


# --- Command line and environment -------------------------------------------

def test_default_subject(server):
    assert origin_of(server, TOKEN) == "argocd-notifications"


def test_token_with_subject(own_server):
    srv = own_server(token="subject-token-0123456789:my-subject")
    assert origin_of(srv, "subject-token-0123456789") == "my-subject"
    # The subject is not part of the token.
    assert_error(srv.req("POST", NOTIFS, VALID, JSON,
                         token="subject-token-0123456789:my-subject"),
                 401, "AuthenticationError", "Illegal token")


def test_argocd_environment_token(own_server):
    srv = own_server(token=None, client_token="argocd-env-token-0123456789",
                     env={"ARGOCD_NOTIFICATION_TOKEN":
                          "argocd-env-token-0123456789"})
    assert origin_of(srv, "argocd-env-token-0123456789") == \
        "argocd-notifications"
    assert_error(srv.req("POST", NOTIFS, VALID, JSON, token=TOKEN), 401,
                 "AuthenticationError", "Illegal token")


def test_no_token_configured(own_server):
    srv = own_server(token=None, client_token=None)
    assert re.search(r"every POST .*401", srv.log()), srv.log()
    assert_error(srv.req("POST", NOTIFS, VALID, JSON), 401,
                 "AuthenticationError", "Missing credentials")
    assert_error(srv.req("POST", NOTIFS, VALID, JSON, token=TOKEN), 401,
                 "AuthenticationError", "Illegal token")
    r = srv.req("GET", "/.backstage/health/v1/readiness")
    assert (r.status, r.body) == (200, b'{"status":"ok"}')


# --- app-config files -------------------------------------------------------

def test_oracle_app_config(own_server):
    srv = own_server(config("app-config.yaml"), token=None, base_url=None,
                     client_token=TOKEN)
    # --listen and --db from the command line beat backend.listen/database.
    assert srv.port != 7007
    assert origin_of(srv, TOKEN) == "argocd-notifications"
    assert os.path.getsize(srv.db_path) > 0
    # app.baseUrl is the base of relative links.
    r = srv.req("POST", NOTIFS, BAD_LINK, JSON)
    assert r.status == 400
    assert r.json()["error"]["cause"]["base"] == "http://127.0.0.1:3000/"


def test_access_restrictions(own_server):
    srv = own_server(config("restricted.yaml"), token=None, base_url=None,
                     client_token=TOKEN)
    r = srv.req("POST", NOTIFS, VALID, JSON,
                token="catalog-only-token-0123456789")
    assert r.body == (b'{"error":{"name":"NotAllowedError","message":"This '
                      b'token\'s access is restricted to plugin(s) \'catalog'
                      b'\'"},"request":{"method":"POST","url":"/notifications'
                      b'"},"response":{"statusCode":403}}')
    restricted(r, "'catalog'")
    restricted(srv.req("POST", NOTIFS, VALID, JSON,
                       token="two-plugins-token-0123456789"),
               "'catalog', 'scaffolder'")
    assert origin_of(srv, "notifications-ok-token-0123456789") == "notif-bot"
    assert origin_of(srv, "other-sender-token-0123456789") == "other-sender"
    assert origin_of(srv, TOKEN) == "argocd-notifications"


def test_access_restriction_is_the_barrier(own_server):
    """The 403 comes from the barrier: before parsing, routing and the
    handler's credential-type check."""
    srv = own_server(config("restricted.yaml"), token=None, base_url=None,
                     client_token="catalog-only-token-0123456789")
    restricted(srv.req("POST", NOTIFS, b"{bad", JSON), "'catalog'")
    restricted(srv.req("POST", NOTIFS, VALID), "'catalog'")
    restricted(srv.req("PUT", NOTIFS, b"{}", JSON), "'catalog'", "PUT")
    restricted(srv.req("GET", MOUNT + "/status"), "'catalog'", "GET",
               "/status")
    restricted(srv.req("GET", MOUNT + "/nope/deeper"), "'catalog'", "GET",
               "/nope/deeper")
    r = srv.req("GET", "/.backstage/health/v1/liveness")
    assert r.status == 200


def test_invalid_link_base_from_config(own_server):
    """The spec's Invalid URL body, with app.baseUrl http://localhost:3000."""
    srv = own_server(config("restricted.yaml"), token=None, base_url=None,
                     client_token=TOKEN)
    r = srv.req("POST", NOTIFS, BAD_LINK, JSON)
    assert (r.status, r.body) == (400, (
        b'{"error":{"name":"InputError","message":"Invalid link provided; '
        b'caused by TypeError: Invalid URL","cause":{"code":"ERR_INVALID_URL"'
        b',"input":"http://[bad","base":"http://localhost:3000/","name":"Type'
        b'Error","message":"Invalid URL"}},"request":{"method":"POST","url":"'
        b'/notifications"},"response":{"statusCode":400}}'))


def test_scope_is_per_origin(own_server):
    srv = own_server(config("restricted.yaml"), token=None, base_url=None,
                     client_token=TOKEN)
    body = dumps({"recipients": {"type": "entity",
                                 "entityRef": "user:default/guest"},
                  "payload": {"title": "t", "scope": "same"}})
    a = srv.req("POST", NOTIFS, body, JSON).json()[0]
    b = srv.req("POST", NOTIFS, body, JSON,
                token="other-sender-token-0123456789").json()[0]
    assert (a["origin"], b["origin"]) == ("argocd-notifications",
                                          "other-sender")
    assert list(b) == ["payload", "origin", "created", "id", "user"]
    assert a["id"] != b["id"]
    c = srv.req("POST", NOTIFS, body, JSON).json()[0]
    assert c["id"] == a["id"] and "updated" in c


def test_environment_substitution(own_server):
    srv = own_server(config("env-token.yaml"), token=None, base_url=None,
                     client_token="from-env-token-0123456789",
                     env={"E2E_STATIC_TOKEN": "from-env-token-0123456789",
                          "E2E_SUBJECT": "env-subject"})
    assert origin_of(srv, "from-env-token-0123456789") == "env-subject"
    assert_error(srv.req("POST", NOTIFS, VALID, JSON,
                         token="${E2E_STATIC_TOKEN}"), 401,
                 "AuthenticationError", "Illegal token")


def test_eight_character_token_is_enough(own_server, tmp_path):
    path = tmp_path / "eight.yaml"
    path.write_text(ENTRY % ("static", "abcdefgh", "eight", ""))
    srv = own_server(["--config", str(path)], token=None,
                     client_token="abcdefgh")
    assert origin_of(srv, "abcdefgh") == "eight"


# --- Start-up checks --------------------------------------------------------

ENTRY = """\
backend:
  auth:
    externalAccess:
      - type: %s
        options:
          token: "%s"
          subject: "%s"
%s"""

STARTUP_ERRORS = [
    pytest.param(ENTRY % ("static", "abcdefg", "s", ""),
                 "Illegal token, must be at least 8 characters length",
                 id="seven-char-token"),
    pytest.param(ENTRY % ("static", "has a space token", "s", ""),
                 "Illegal token, must be a set of non-space characters",
                 id="token-with-space"),
    pytest.param(ENTRY % ("static", "good-token-0123456789", "two words", ""),
                 "Illegal subject, must be a set of non-space characters",
                 id="subject-with-space"),
    pytest.param(ENTRY % ("magic", "good-token-0123456789", "s", ""),
                 "Unknown type 'magic' in backend.auth.externalAccess, "
                 "expected one of 'static', 'legacy', 'jwks'",
                 id="unknown-type"),
    pytest.param(ENTRY % ("static", "good-token-0123456789", "s",
                          "        accessRestrictions:\n"
                          "          - foo: catalog\n"),
                 "Invalid key 'foo' in 'accessRestrictions' config, expected "
                 "one of 'plugin', 'permission', 'permissionAttribute'",
                 id="restriction-bad-key"),
    pytest.param(ENTRY % ("static", "good-token-0123456789", "s",
                          "        accessRestrictions:\n"
                          "          - plugin: catalog\n"
                          "          - plugin: catalog\n"),
                 "Attempted to declare 'accessRestrictions' twice for plugin "
                 "'catalog', which is not permitted",
                 id="restriction-twice"),
]


@pytest.mark.parametrize("yaml,message", STARTUP_ERRORS)
def test_startup_error(yaml, message, tmp_path):
    if os.environ.get("NOTIMOCK_URL"):
        pytest.skip("needs its own notimock (NOTIMOCK_URL is set)")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml)
    rc, err = run_expect_exit(["--config", str(path)])
    assert rc != 0, err
    assert message in err, err


def test_startup_error_from_environment(tmp_path):
    """A 7-character token that arrives through ${VAR}."""
    if os.environ.get("NOTIMOCK_URL"):
        pytest.skip("needs its own notimock (NOTIMOCK_URL is set)")
    rc, err = run_expect_exit(config("env-token.yaml"),
                              env={"E2E_STATIC_TOKEN": "1234567",
                                   "E2E_SUBJECT": "s"})
    assert rc != 0, err
    assert "Illegal token, must be at least 8 characters length" in err, err


def test_disabled_default_auth_policy_still_needs_a_principal(own_server,
                                                              tmp_path):
    """dangerouslyDisableDefaultAuthPolicy removes the barrier, but the
    create handler still demands a principal."""
    path = tmp_path / "open.yaml"
    path.write_text("backend:\n  auth:\n"
                    "    dangerouslyDisableDefaultAuthPolicy: true\n")
    srv = own_server(["--config", str(path)])
    assert_error(srv.req("POST", NOTIFS, VALID, JSON, token=None), 401,
                 "AuthenticationError", "Missing credentials")
    assert origin_of(srv, TOKEN) == "argocd-notifications"


def test_check_flag_validates_and_exits():
    """-n checks the configuration, prints 'configuration OK', exits 0;
    a bad one exits 1 with Backstage's message."""
    workdir = tempfile.mkdtemp(prefix="notimock-e2e-")
    try:
        ok = subprocess.run(
            [notimock_bin(), "-n", "--config",
             os.path.join(DATA, "app-config.yaml")],
            cwd=workdir, capture_output=True, text=True, timeout=10,
            env=server_env())
        assert (ok.returncode, ok.stdout) == (0, "configuration OK\n"), \
            ok.stderr
        bad = subprocess.run([notimock_bin(), "-n", "--token", "short"],
                             cwd=workdir, capture_output=True, text=True,
                             timeout=10, env=server_env())
        assert bad.returncode == 1
        assert "Illegal token, must be at least 8 characters length" in \
            bad.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
