"""
What a first-time user tripped over (issue 13): each test here goes
through the real binary and failed before its fix.
"""

import json
import os
import re
import subprocess

import pytest

from conftest import NOTIFS, TOKEN, dumps, notimock_bin, server_env
from mock_helpers import cli, cursor, get_json, ref, send, topic


# --- 1. schema 400s carry lint's diagnosis ---------------------------------

SCHEMA_BODIES = [
    '{"recipients":{"type":"broadcast"},"payload":{}}',
    '{"recipients":{"type":"broadcast"},"payload":{"title":5}}',
    '{"recipients":{"type":"broadcast"}}',
    '[1,2]',
    '{"recipients":{"type":"entity"},"payload":{"title":"x"}}',
]


def lint_codes(body):
    p = subprocess.run([notimock_bin(), "lint", "--json", "-"],
                       input=body, capture_output=True, text=True,
                       env=server_env(), timeout=30)
    return [(d["code"], d["evidence"]) for d in
            json.loads(p.stdout)["diagnoses"]]


@pytest.mark.parametrize("body", SCHEMA_BODIES + [
    '{"recipients":{"type":"broadcast"},"payload":{"title":""}}'])
def test_schema_400_stored_with_lints_diagnosis(server, body):
    since = cursor(server)
    r = send(server, body=body)
    assert r.status == 400
    got = get_json(server, "/mock/deliveries", {"since": since})
    d = got["deliveries"][0]
    stored = [(x["code"], x["evidence"]) for x in d["diagnoses"]]
    assert stored, "no diagnosis stored for %s" % body
    assert stored == lint_codes(body)


def test_wait_near_miss_shows_backstages_message(server):
    t = topic("schema-miss")
    since = cursor(server)
    send(server, body=dumps({"recipients": {"type": "broadcast"},
                             "payload": {"topic": t}}))
    p = cli(server, "wait", "--since", str(since), "--topic", t,
            "--status", "accepted", "--timeout", "200ms")
    assert p.returncode == 1, p.stderr
    assert "status: want accepted, got 400" in p.stdout
    assert ("answered 400: request/body/payload must have required "
            "property 'title'") in p.stdout
    assert "error   schema:" in p.stdout
