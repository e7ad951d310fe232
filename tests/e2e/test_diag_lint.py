"""
`notimock lint FILE|-`: the same diagnoses offline, for the CI of Argo CD
configuration repositories.  Exit 0 without error-level diagnoses, 1 with
some, 2 on usage or read errors; --json prints one object per file.
"""

import json
import os
import subprocess
import tempfile

import pytest

from conftest import notimock_bin, server_env
from diag_helpers import GOOD_BODY, application, render

APP = application()
VARS = {"app": APP, "context": {"argocdUrl": "https://argocd.example.com",
                                "notificationType": "backstage"},
        "secrets": {}, "serviceType": "backstage", "recipient": ""}


def lint(*args, stdin=None):
    p = subprocess.run([notimock_bin(), "lint"] + list(args),
                       input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=server_env(), timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.fixture
def files():
    d = tempfile.mkdtemp(prefix="notimock-lint-")

    def write(name, text):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        return path
    yield write
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


def test_clean_body(files):
    path = files("good.json", render(GOOD_BODY, VARS))
    rc, out, err = lint(path)
    assert (rc, out, err) == (0, "%s: OK\n" % path, "")


def test_broken_body(files):
    bad = GOOD_BODY.replace(
        "{{ .app.status.operationState.message | toJson }}",
        '"{{ .app.status.operationState.message }}"').replace(
        '"severity":"high"', '"severity":"High"')
    app = application(message='error when patching "/dev/shm/1": invalid')
    path = files("bad.json", render(bad, dict(VARS, app=app)))
    rc, out, err = lint(path)
    assert rc == 1 and err == ""
    lines = out.splitlines()
    assert lines[0] == "%s: 1 error, 0 warnings" % path
    assert lines[1].startswith("  error   invalid-json: The body is not "
                               "valid JSON.  A double quote inside a string "
                               "value ended the string early (in the value of "
                               "\"description\")")
    assert any(l.startswith("            evidence: line 3, column ")
               for l in lines)
    assert any(l.startswith("            fix: Do not put template values "
                            "between quotes") for l in lines)


def test_json_output_and_stdin(files):
    body = render(GOOD_BODY, dict(VARS, app=application(entity_ref=None),
                                  context={}))
    good = files("good.json", render(GOOD_BODY, VARS))
    rc, out, _ = lint("--json", good, "-", stdin=body.replace(
        '"severity":"high"', '"severity":"High"').encode())
    assert rc == 1
    first, second = [json.loads(l) for l in out.splitlines()]
    assert first == {"file": good, "errors": 0, "warnings": 0,
                     "diagnoses": []}
    assert second["file"] == "-" and second["errors"] == 1
    codes = [d["code"] for d in second["diagnoses"]]
    assert codes == ["severity-case"]
    d = second["diagnoses"][0]
    assert d["level"] == "error" and d["evidence"] == \
        'payload.severity = "High"'
    # entityRef came out as null (toJson of a missing annotation): that is
    # the schema's business, reported once the severity is fixed.
    rc, out, _ = lint("--json", "-", stdin=body.encode())
    d = json.loads(out)["diagnoses"]
    assert [x["code"] for x in d] == ["schema"]
    assert d[0]["evidence"].startswith("request/body/recipients/entityRef "
                                       "must be string")


def test_no_value_and_byte_list(files):
    text = ('{"recipients":{"type":"entity","entityRef":"<no value>"},'
            '"payload":{"title":"t","link":"<no value>/applications/x",'
            '"metadata":{"t":"[115 51 99 114 51 116]"}}}')
    rc, out, _ = lint("--json", files("nv.json", text))
    assert rc == 1
    d = json.loads(out)["diagnoses"]
    assert [x["code"] for x in d] == ["no-value", "no-value", "go-byte-list"]
    assert [x["level"] for x in d] == ["error", "warning", "error"]
    assert d[2]["evidence"] == ("t (line 1, column 133): [6 numbers, each "
                                "0-255]")


def test_empty_and_text(files):
    rc, out, _ = lint("--json", files("empty", ""))
    assert rc == 1 and json.loads(out)["diagnoses"][0]["code"] == "empty-body"
    rc, out, _ = lint("--json", files("text", " Application x has been "
                                      "successfully synced.\n"))
    d = json.loads(out)["diagnoses"][0]
    assert rc == 1 and d["code"] == "invalid-json"
    assert "The body is text, not JSON" in d["message"]


def test_usage_and_read_errors(files):
    rc, out, err = lint()
    assert rc == 2 and err.startswith("usage: notimock lint")
    rc, out, err = lint("--bogus", "x")
    assert rc == 2
    rc, out, err = lint("/nonexistent/body.json")
    assert rc == 2 and "/nonexistent/body.json: No such file" in err
    rc, out, err = lint("--base-url", "not a url", files("a", "{}"))
    assert rc == 2
    rc, out, err = lint("-h")
    assert rc == 0 and out.startswith("usage: notimock lint")


def test_escapes_terminal_controls(files):
    """Diagnoses quote the body, and Backstage's message for a bad entity
    ref carries it raw: lint escapes C0, DEL, C1 and bidi controls before
    they reach the terminal, file names included."""
    body = json.dumps({"recipients": {"type": "entity", "entityRef":
                                      "user:/\x1b]0;owned\x07\x1b[2J\u202e"
                                      "\u0085\x7f"},
                       "payload": {"title": "t"}})
    path = files("evil\x1b[2J.json", body)
    p = subprocess.run([notimock_bin(), "lint", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=server_env(), timeout=20)
    assert p.returncode == 1, p.stderr
    for c in (b"\x1b", b"\x07", b"\x7f", b"\xc2\x85", b"\xe2\x80\xae"):
        assert c not in p.stdout, (c, p.stdout)
    out = p.stdout.decode()
    assert out.startswith(path.replace("\x1b", "\\x1b") + ": 1 error")
    assert 'Entity reference "user:/\\x1b]0;owned\\x07\\x1b[2J\\u{202e}' \
        '\\u{0085}\\x7f" was not on the form' in out
    # --json stays JSON: the ref round-trips.
    rc, out, _ = lint("--json", path)
    assert json.loads(out)["file"] == path
