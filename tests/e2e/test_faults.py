"""
Fault injection (README.md, "Testing failures"): rules over /mock/faults,
the `notimock fault` commands and --fault at start; what each action does
on the wire; faulted requests stored as deliveries; and Argo CD's retries
(an Argo CD-shaped sender, argocd_sender.py) linked as attempts.

No assertion here bounds a time from above: a wait is checked by its
lower bound, and "served during a delay" by the order of events.
"""

import json
import socket
import time

import pytest

import argocd_sender
from conftest import MOUNT, NOTIFS, TOKEN, assert_error, db, dumps
from mock_helpers import (Background, cli, get_json, mock, ref, send,
                          wait_until)


def clear(srv):
    r = mock(srv, "DELETE", "/mock/faults")
    assert r.status == 200, r


def add(srv, rule, status=201):
    r = srv.req("POST", "/mock/faults", dumps(rule),
                [("Content-Type", "application/json")], token=None)
    assert r.status == status, r
    return r.json()


def body_for(entity, title="Application synced", topic=None):
    payload = {"title": title}
    if topic is not None:
        payload["topic"] = topic
    return dumps({"recipients": {"type": "entity", "entityRef": entity},
                  "payload": payload}).encode()


def deliveries(srv, entity):
    out = get_json(srv, "/mock/deliveries", [("entity", entity)])
    return sorted(out["deliveries"], key=lambda d: d["seq"])


def argocd(srv, entity, **kw):
    return argocd_sender.send(srv.host, srv.port, NOTIFS, body_for(entity),
                              srv.token, **kw)


# --- rules over HTTP --------------------------------------------------------

def test_rule_crud(server):
    clear(server)
    a = add(server, {"status": "503,503", "retryAfter": 2,
                     "entity": "component:default/x"})
    assert a["id"].startswith("f") and a["active"] is True
    assert (a["status"], a["retryAfter"], a["times"]) == ([503, 503], 2, 2)
    b = add(server, {"status": [429], "method": "post", "for": "1m"})
    assert b["method"] == "POST" and b["forMs"] == 60000
    listed = get_json(server, "/mock/faults")["faults"]
    assert [f["id"] for f in listed] == [a["id"], b["id"]]
    assert all(f["fired"] == 0 for f in listed)
    r = mock(server, "DELETE", "/mock/faults/" + a["id"])
    assert (r.status, r.json()) == (200, {"deleted": 1})
    r = mock(server, "DELETE", "/mock/faults/" + a["id"])
    assert_error(r, 404, "NotFoundError", "no fault rule '%s' (see GET "
                 "/mock/faults)" % a["id"], "DELETE",
                 "/mock/faults/" + a["id"])
    r = mock(server, "DELETE", "/mock/faults")
    assert r.json() == {"deleted": 1}
    assert get_json(server, "/mock/faults")["faults"] == []


@pytest.mark.parametrize("rule,message", [
    ({}, "a rule needs an action: status, delay, drop or reset"),
    ({"status": "200"}, "status takes HTTP codes from 400 to 599, "
     "comma-separated (at most 32), not '200'"),
    ({"status": 503, "drop": True}, "a rule answers one way: status, drop "
     "or reset (a delay goes with any of them)"),
    ({"retryAfter": 1, "drop": True}, "retry-after goes with a status "
     "(429 or 503, usually)"),
    ({"delay": "soon"}, "delay takes a duration such as 500ms, 3s or 2m "
     "(at most 10m), not 'soon'"),
    ({"drop": True, "entity": "nokind"}, "entity: Entity reference "
     "\"nokind\" had missing or empty kind (e.g. did not start with "
     "\"component:\" or similar)"),
    ({"drop": True, "colour": "red"}, "unknown member 'colour' (status, "
     "times, delay, drop, reset, retryAfter, entity, topic, origin, path, "
     "method, title, for)"),
])
def test_rule_refused(server, rule, message):
    r = server.req("POST", "/mock/faults", dumps(rule), token=None)
    assert_error(r, 400, "InputError", message, "POST", "/mock/faults")


def test_admin_token_guards_faults(own_server):
    srv = own_server(["--admin-token", "admin-0123456789"])
    r = mock(srv, "GET", "/mock/faults")
    assert r.status == 401 and r.json()["error"]["message"] == \
        "Missing admin token"
    r = mock(srv, "POST", "/mock/faults", token="wrong-token-000")
    assert r.status == 401
    r = srv.req("POST", "/mock/faults", '{"drop":true}',
                token="admin-0123456789")
    assert r.status == 201
    r = mock(srv, "DELETE", "/mock/faults", token="admin-0123456789")
    assert r.json() == {"deleted": 1}


# --- actions on the wire ----------------------------------------------------

def test_status_sequence_then_pass_through(server):
    """503,503: two answers in Backstage's error shape with Retry-After,
    then the exact Backstage answer; all three stored with the rule."""
    clear(server)
    ent = ref("seq")
    rule = add(server, {"status": "503,503", "retryAfter": 1,
                        "entity": ent})
    got = [server.post_json(NOTIFS, body_for(ent)) for _ in range(3)]
    msg = "Injected by notimock fault rule " + rule["id"]
    for r in got[:2]:
        assert_error(r, 503, "ServiceUnavailableError", msg)
        assert r.headers.get("Retry-After") == "1"
        # Backstage's Helmet headers are on the faulted answer as well.
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert got[2].status == 200 and got[2].headers.get("Retry-After") is None
    ds = deliveries(server, ent)
    assert [d["status"] for d in ds] == [503, 503, 200]
    assert [d["fault"] for d in ds] == [
        {"id": rule["id"], "action": "status", "status": 503,
         "retryAfter": 1}] * 2 + [None]
    f = get_json(server, "/mock/faults")["faults"][0]
    assert (f["fired"], f["active"]) == (2, False)


@pytest.mark.parametrize("status,name", [
    (500, "Error"), (429, "TooManyRequestsError"), (502, "BadGatewayError"),
    (404, "NotFoundError"), (418, "Error")])
def test_error_names(server, status, name):
    clear(server)
    ent = ref("name%d" % status)
    rule = add(server, {"status": status, "times": 1, "entity": ent})
    r = server.post_json(NOTIFS, body_for(ent))
    assert_error(r, status, name, "Injected by notimock fault rule " +
                 rule["id"])


def test_matching(server):
    """Every condition must hold; the first active rule that matches
    fires; the others wait their turn."""
    clear(server)
    ent, other = ref("match"), ref("match-other")
    by_topic = add(server, {"status": 500, "topic": "deploy", "times": 1})
    by_title = add(server, {"status": 502, "title": "degraded", "times": 1})
    by_origin = add(server, {"status": 504, "origin": "someone-else"})
    by_method = add(server, {"status": 409, "method": "GET",
                             "path": MOUNT + "/notifications"})
    by_entity = add(server, {"status": 503, "entity": ent.upper()})
    assert server.post_json(NOTIFS, body_for(other)).status == 200
    r = server.post_json(NOTIFS, body_for(other, topic="deploy"))
    assert r.status == 500
    r = server.post_json(NOTIFS, body_for(other, title="app degraded now"))
    assert r.status == 502
    # Entity refs compare as Backstage does: without case, default
    # namespace filled in, in any position of an entityRef array.
    b = dumps({"recipients": {"type": "entity", "entityRef": [other, ent]},
               "payload": {"title": "x"}})
    assert server.post_json(NOTIFS, b).status == 503
    # A GET below the path matches the method rule, not a POST.
    assert server.req("GET", NOTIFS).status == 409
    listed = {f["id"]: f["fired"] for f in
              get_json(server, "/mock/faults")["faults"]}
    assert listed == {by_topic["id"]: 1, by_title["id"]: 1,
                      by_origin["id"]: 0, by_method["id"]: 1,
                      by_entity["id"]: 1}
    clear(server)


def test_origin_matches_the_token_subject(own_server):
    srv = own_server(["--token", "other-token-0123456789:job-8"],
                     token=TOKEN + ":job-7")
    r = srv.req("POST", "/mock/faults", dumps({"status": 503, "origin":
                                                "job-8"}), token=None)
    assert r.status == 201
    ent = ref("origin")
    assert srv.post_json(NOTIFS, body_for(ent)).status == 200
    assert srv.post_json(NOTIFS, body_for(ent),
                         token="other-token-0123456789").status == 503
    # A faulted delivery keeps the origin its token proved.
    ds = deliveries(srv, ent)
    assert [(d["origin"], d["status"]) for d in ds] == \
        [("job-7", 200), ("job-8", 503)]


def test_for_expires(server):
    clear(server)
    ent = ref("for")
    add(server, {"status": 503, "for": "300ms", "entity": ent})
    assert server.post_json(NOTIFS, body_for(ent)).status == 503
    time.sleep(0.4)		# past the rule's life: a lower bound only
    assert server.post_json(NOTIFS, body_for(ent)).status == 200
    assert get_json(server, "/mock/faults")["faults"][0]["active"] is False


def raw_post(srv, body):
    """POST over a raw socket; return (bytes read, error name or None)."""
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (NOTIFS, srv.token, len(body))).encode()
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    data, err = b"", None
    try:
        s.sendall(head + body)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError as e:
        err = type(e).__name__
    finally:
        s.close()
    return data, err


def test_drop_and_reset(server):
    clear(server)
    ent = ref("cut")
    drop = add(server, {"drop": True, "times": 1, "entity": ent})
    assert raw_post(server, body_for(ent)) == (b"", None)	# EOF, no bytes
    reset = add(server, {"reset": True, "times": 1, "entity": ent})
    assert raw_post(server, body_for(ent)) == (b"", "ConnectionResetError")
    ds = deliveries(server, ent)
    assert [(d["status"], d["accepted"], d["fault"]) for d in ds] == [
        (0, False, {"id": drop["id"], "action": "drop"}),
        (0, False, {"id": reset["id"], "action": "reset"})]
    # Nothing was created for them.
    assert [d["notificationIds"] for d in ds] == [[], []]


def test_pass_through_is_untouched(server):
    """A rule that does not match changes nothing on the wire."""
    clear(server)
    bad = '{"recipients":{"type":"entity"},"payload":{}}'
    before = server.post_json(NOTIFS, bad)
    add(server, {"status": 503, "entity": ref("elsewhere")})
    after = server.post_json(NOTIFS, bad)
    assert (after.status, after.body) == (before.status, before.body)
    strip = lambda h: [(k, v) for k, v in h.items() if k != "Date"]
    assert strip(after.headers) == strip(before.headers)
    clear(server)


# --- at start ---------------------------------------------------------------

def test_fault_flag_env_and_config(own_server, tmp_path):
    cfg = tmp_path / "app-config.yaml"
    cfg.write_text("notimock:\n  fault:\n    - 'status=500;topic=cfg'\n")
    srv = own_server(["--fault", "status=503,503;times=2;topic=flag",
                      "--fault", "drop;topic=flag2",
                      "--config", str(cfg)],
                     env={"NOTIMOCK_FAULT": "status=429;retry-after=3;"
                          "topic=env"})
    rules = get_json(srv, "/mock/faults")["faults"]
    # Flags win over the environment and the config, as for every list.
    assert [(f.get("topic"), f.get("status"), f.get("drop")) for f in
            rules] == [("flag", [503, 503], None), ("flag2", None, True)]
    srv2 = own_server([], env={"NOTIMOCK_FAULT":
                               "status=429;retry-after=3;topic=env\n"
                               "delay=1s;topic=env2"})
    rules = get_json(srv2, "/mock/faults")["faults"]
    assert [(f.get("topic"), f.get("retryAfter"), f.get("delayMs")) for f in
            rules] == [("env", 3, None), ("env2", None, 1000)]
    srv3 = own_server(["--config", str(cfg)])
    rules = get_json(srv3, "/mock/faults")["faults"]
    assert [(f.get("topic"), f.get("status")) for f in rules] == \
        [("cfg", [500])]


def test_bad_fault_spec_refuses_to_start():
    from conftest import run_expect_exit
    rc, err = run_expect_exit(["--fault", "status=503;bogus=1", "-n"],
                              token=TOKEN)
    assert rc != 0
    assert "fault 'status=503;bogus=1': unknown key 'bogus'" in err
    rc, err = run_expect_exit(["--fault", "status=503", "-n"], token=TOKEN)
    assert rc == 0 and "configuration OK" in err + "configuration OK"


# --- the CLI ----------------------------------------------------------------

def test_cli_add_list_clear(server):
    clear(server)
    p = cli(server, "fault", "add", "--status", "503,503", "--retry-after",
            "1", "--entity", "component:default/cli", "--times", "2",
            "--title", "sync failed", "--for", "5m", "--method", "POST",
            "--path", MOUNT)
    assert p.returncode == 0, p.stderr
    fid = p.stdout.strip()
    assert fid.startswith("f") and p.stderr == ""
    p = cli(server, "fault", "add", "--delay", "250ms", "--reset")
    assert p.returncode == 0, p.stderr
    p = cli(server, "fault", "list")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "ACTIVE", "FIRED", "RULE"]
    assert lines[1].split()[:3] == [fid, "yes", "0"]
    assert "status=[503,503] retryAfter=1" in lines[1]
    assert "title=sync failed" in lines[1]
    assert lines[-1].startswith("2 rules; ")	# and how many fired since start
    p = cli(server, "fault", "list", "--json")
    assert json.loads(p.stdout)["faults"][0]["entity"] == \
        "component:default/cli"
    # Exit codes as the other commands: 2 for usage and server refusals.
    p = cli(server, "fault", "add", "--status", "200")
    assert p.returncode == 2 and "400 InputError: status takes" in p.stderr
    p = cli(server, "fault", "add", "--severity", "high")
    assert p.returncode == 2 and "does not apply" in p.stderr
    p = cli(server, "fault", "frobnicate")
    assert p.returncode == 2
    p = cli(server, "fault", "clear", "f999999")
    assert p.returncode == 2 and "404 NotFoundError" in p.stderr
    p = cli(server, "fault", "clear", fid)
    assert (p.returncode, p.stdout) == (0, "deleted 1 fault rule\n")
    p = cli(server, "fault", "clear")
    assert (p.returncode, p.stdout) == (0, "deleted 1 fault rule\n")


# --- Argo CD's retries ------------------------------------------------------

def test_argocd_retries_through_503s(server):
    """503,503 then pass: the third attempt is accepted, and the three
    deliveries are linked as attempts 1, 2, 3 of the first."""
    clear(server)
    ent = ref("retry503")
    cli(server, "fault", "add", "--status", "503,503", "--entity", ent)
    attempts = argocd(server, ent)
    assert [a.status for a in attempts] == [503, 503, 200]
    ds = deliveries(server, ent)
    assert [d["status"] for d in ds] == [503, 503, 200]
    first = ds[0]["seq"]
    assert [(d["attempt"], d["retryOf"]) for d in ds] == \
        [(1, None), (2, first), (3, first)]
    assert "retry" in [c["code"] for c in ds[2]["diagnoses"]]
    # `notimock wait` can require the accepted delivery to be a retry...
    p = cli(server, "wait", "--entity", ent, "--status", "accepted",
            "--retry", "yes", "--timeout", "5s")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 of #%d" % first in p.stdout
    # ... or not to be one: this one times out, saying why.
    p = cli(server, "wait", "--entity", ent, "--status", "accepted",
            "--retry", "no", "--timeout", "200ms")
    assert p.returncode == 1
    assert "retry: want no, got yes" in p.stdout
    # `notimock list` shows the attempts and the rule that answered.
    p = cli(server, "list", "--entity", ent)
    rows = p.stdout.splitlines()
    assert rows[0].split()[:4] == ["SEQ", "RECEIVED", "STATUS", "ATTEMPT"]
    assert "503 (f" in rows[2] and "2 of #%d" % first in rows[2]


def test_argocd_retries_a_dropped_connection(server):
    clear(server)
    ent = ref("retrydrop")
    cli(server, "fault", "add", "--drop", "--times", "1", "--entity", ent)
    attempts = argocd(server, ent)
    assert attempts[0].status is None and attempts[0].error
    assert [a.status for a in attempts[1:]] == [200]
    ds = deliveries(server, ent)
    assert [(d["status"], d["attempt"]) for d in ds] == [(0, 1), (200, 2)]
    assert ds[1]["retryOf"] == ds[0]["seq"]
    assert ds[0]["fault"]["action"] == "drop"


def test_argocd_honours_retry_after(server):
    """429 with Retry-After: 1: the sender waits at least a second (its
    own backoff would have waited 50 ms), and the server saw it wait."""
    clear(server)
    ent = ref("retry429")
    cli(server, "fault", "add", "--status", "429", "--retry-after", "1",
        "--times", "1", "--entity", ent)
    attempts = argocd(server, ent)
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[0].retry_after == "1"
    assert attempts[1].started - attempts[0].ended >= 1.0
    ds = deliveries(server, ent)
    assert ds[1]["receivedMs"] - ds[0]["receivedMs"] >= 1000
    assert (ds[1]["attempt"], ds[1]["retryOf"]) == (2, ds[0]["seq"])


def test_delay_longer_than_the_client_timeout(server):
    """The client gives up; the delivery is still stored, and says the
    answer never reached the client."""
    clear(server)
    ent = ref("slow")
    add(server, {"delay": "3s", "times": 1, "entity": ent})
    attempts = argocd(server, ent, retry_max=0, timeout=0.5)
    assert attempts[0].status is None and "timed out" in attempts[0].error

    def noted():
        ds = deliveries(server, ent)
        return len(ds) == 1 and ds[0]["fault"].get("answered") is False
    wait_until(noted, what="the delivery to say the client left")
    d = deliveries(server, ent)[0]
    assert d["status"] == 200 and d["fault"]["action"] == "delay"
    assert d["fault"]["delayMs"] == 3000
    # It left before the delayed answer.  Not ">= 500": the client's 0.5 s
    # starts before the server has the request, so the server can see 497.
    assert 0 < d["fault"]["clientLeftAfterMs"] < 3000
    # Argo CD saw a timeout, so the same bytes again are its retry (and,
    # since Backstage did the work, a second notification).
    again = argocd(server, ent, retry_max=0)
    assert again[0].status == 200
    first, second = deliveries(server, ent)
    assert (second["attempt"], second["retryOf"]) == (2, first["seq"])
    assert "retry" in [c["code"] for c in second["diagnoses"]]


def test_others_are_served_during_a_delay(server):
    clear(server)
    slow, fast = ref("held"), ref("free")
    add(server, {"delay": "2s", "times": 1, "entity": slow})
    held = Background(lambda: server.post_json(NOTIFS, body_for(slow)))
    wait_until(lambda: get_json(server, "/mock/faults")["faults"][0]["fired"]
               == 1, what="the delay to start")
    assert server.post_json(NOTIFS, body_for(fast)).status == 200
    assert get_json(server, "/mock/cursor")["cursor"] > 0
    assert held.is_alive(), "the held request was answered before the rest"
    r = held.get()
    assert r.status == 200
    d = deliveries(server, slow)[0]
    assert d["fault"] == {"id": d["fault"]["id"], "action": "delay",
                          "delayMs": 2000}


def test_faulted_rows_in_the_database(server):
    """The store keeps the rule's JSON and the attempt links."""
    clear(server)
    ent = ref("dbrow")
    cli(server, "fault", "add", "--status", "500", "--times", "1",
        "--entity", ent)
    argocd(server, ent)
    conn = db(server)
    rows = conn.execute(
        "SELECT d.status, d.fault, d.attempt, d.retry_of FROM deliveries d "
        "JOIN delivery_entities e ON e.seq = d.seq WHERE e.ref = ? "
        "ORDER BY d.seq", (ent,)).fetchall()
    assert [r["status"] for r in rows] == [500, 200]
    assert json.loads(rows[0]["fault"])["status"] == 500
    assert rows[1]["fault"] is None and rows[1]["attempt"] == 2
