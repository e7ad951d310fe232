"""
`notimock lint` on Argo CD's own objects (issue 16): argocd-notifications-cm,
argocd-notifications-secret, the OpenShift GitOps NotificationsConfiguration,
argocd-tls-certs-cm and Applications, as `kubectl get -o yaml` prints them.

Each troubleshooting case is a fixture in data/lint/ whose header says what
it must produce; the guide's configuration (both options) lints clean; the
bodies notimock renders are byte for byte what the Go sender of
diag_helpers.py (the one the diagnosis tests send) produces.
"""

import json
import os
import subprocess
import tempfile

import pytest

from conftest import notimock_bin, server_env
from diag_helpers import GOOD_BODY, application, render

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lint")


def lint(*args, stdin=None, env=None):
    e = server_env()
    e.pop("NOTIMOCK_URL", None)
    e.update(env or {})
    p = subprocess.run([notimock_bin(), "lint"] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def fixture(name):
    return os.path.join(DATA, name)


def findings(*args, stdin=None):
    rc, out, err = lint("--json", *args, stdin=stdin)
    assert err == "", err
    return rc, [json.loads(l) for l in out.splitlines()]


@pytest.fixture
def files():
    d = tempfile.mkdtemp(prefix="notimock-lint-argocd-")

    def write(name, text):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path
    yield write
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


# --- the guide's configuration: both options lint clean --------------------

@pytest.mark.parametrize("name", ["guide-configmap.yaml",
                                  "guide-openshift.yaml"])
def test_guide_configuration_is_clean(name):
    rc, out, err = lint(fixture(name))
    assert (rc, out, err) == (0, "%s: OK\n" % fixture(name), "")


def test_guide_configuration_from_stdin():
    """kubectl get cm argocd-notifications-cm -n argocd -o yaml | notimock
    lint -"""
    with open(fixture("guide-configmap.yaml"), "rb") as f:
        rc, out, err = lint("-", stdin=f.read())
    assert (rc, out, err) == (0, "-: OK\n", "")


# --- each troubleshooting case: the finding it must produce ----------------

CASES = [
    # (fixture, [(code, level, line)])
    ("service-missing.yaml", [("service-missing", "error", 33)]),
    ("openshift-configmap.yaml", [("openshift-configmap", "error", 24)]),
    ("catalog-trigger.yaml", [("template-no-webhook", "error", 19)]),
    ("webhook-key.yaml", [("template-no-webhook", "error", 16)]),
    ("method-missing.yaml", [("template-method-missing", "error", 19)]),
    ("catalog-name.yaml", [("catalog-name", "warning", 16),
                           ("catalog-name", "warning", 22)]),
    ("guide-as-written.yaml", [("unescaped-value", "error", 32)]),
    ("headers.yaml", [("missing-content-type", "error", 21),
                      ("auth-unresolved-secret", "error", 22)]),
    ("token-in-configmap.yaml", [("token-in-configmap", "warning", 14)]),
    ("auth-basic.yaml", [("auth-basic", "error", 26),
                         ("auth-template", "error", 33),
                         ("auth-malformed", "error", 40)]),
    ("context.yaml", [("context-argocd-url", "warning", 16)]),
    ("applications.yaml", [("subscription-unknown-trigger", "error", 15),
                           ("entity-ref-missing", "error", 21),
                           ("entity-ref-kind", "error", 27),
                           ("entity-ref-kind", "error", 49)]),
    ("tls.yaml", [("tls-no-ca", "warning", 20)]),
    ("broken-config.yaml", [("config-invalid", "error", 14),
                            ("template-invalid", "error", 26),
                            ("template-error", "error", 32),
                            ("entity-ref-missing", "error", 44)]),
    ("wrong-path.yaml", [("wrong-path", "error", 20),
                         ("legacy-body", "error", 22)]),
]


@pytest.mark.parametrize("name,want", CASES, ids=[c[0] for c in CASES])
def test_troubleshooting_case(name, want):
    rc, out = findings(fixture(name))
    assert rc == 1
    (f,) = out
    got = [(d["code"], d["level"], d["line"]) for d in f["diagnoses"]]
    assert got == want
    assert f["errors"] == sum(1 for w in want if w[1] == "error")
    assert f["warnings"] == sum(1 for w in want if w[1] == "warning")
    for d in f["diagnoses"]:
        assert set(d) == {"code", "level", "message", "evidence", "fix",
                          "line"}
        assert all(isinstance(d[k], str) and d[k] for k in
                   ("message", "evidence", "fix")), d
    # The header of the fixture says what it must produce.
    with open(fixture(name)) as fh:
        head = fh.read().split("apiVersion", 1)[0]
    for code, _, _ in want:
        assert code in head, (code, name)


def test_text_output_names_file_line_and_fix():
    rc, out, err = lint(fixture("method-missing.yaml"))
    assert rc == 1 and err == ""
    lines = out.splitlines()
    assert lines[0] == "%s: 1 error, 0 warnings" % fixture(
        "method-missing.yaml")
    assert lines[1].startswith("  error   template-method-missing: "
                               "webhook.backstage of template "
                               "app-deployed-backstage has no method")
    assert "            evidence: line 19: template.app-deployed-backstage " \
        "webhook.backstage: no method" in lines
    assert "            fix: Add method: POST under webhook.backstage." \
        in lines


def test_unescaped_value_names_the_input_that_breaks_it():
    """The finding says which value breaks the body; rendering the same
    template with that value, as the Go sender does, gives invalid JSON,
    while the sample message renders fine."""
    _, (f,) = findings(fixture("guide-as-written.yaml"))
    (d,) = f["diagnoses"]
    assert ".app.status.operationState.message = " in d["evidence"]
    assert "toJson" in d["fix"]
    body = ('{"description": "Phase: {{.app.status.operationState.phase}}'
            '\\nMessage: {{.app.status.operationState.message}}"}')
    ok = application(message="successfully synced (all tasks run)")
    json.loads(render(body, {"app": ok}))
    bad = application(message='one or more objects failed to apply, '
                      'reason: error when patching "/dev/shm/1": '
                      'Deployment.apps "guestbook-ui" is invalid\n'
                      'one or more SyncFail hooks failed')
    with pytest.raises(ValueError):
        json.loads(render(body, {"app": bad}))


def test_objects_across_files_and_bodies_together(files):
    """The ConfigMap in one file, the Applications in another, a rendered
    body in a third: each finding lands in the file it points at."""
    with open(fixture("applications.yaml")) as f:
        apps, cm = f.read().split("\n---\n")
    a = files("apps.yaml", apps)
    c = files("cm.yaml", cm)
    b = files("body.json", '{"recipients":{"type":"broadcast"},'
              '"payload":{"title":"t","severity":"High"}}')
    rc, out = findings(c, a, b)
    assert rc == 1
    assert [o["file"] for o in out] == [c, a, b]
    assert [d["code"] for d in out[0]["diagnoses"]] == ["entity-ref-kind"]
    assert [d["code"] for d in out[1]["diagnoses"]] == [
        "subscription-unknown-trigger", "entity-ref-missing",
        "entity-ref-kind"]
    assert [d["code"] for d in out[2]["diagnoses"]] == ["severity-case"]


def test_secrets_never_printed():
    for name in ("token-in-configmap.yaml", "auth-basic.yaml"):
        rc, out, err = lint(fixture(name))
        rc2, out2, _ = lint("--json", fixture(name))
        for text in (out, err, out2):
            assert "0123456789abcdef0123456789" not in text


def test_unreadable_input(files):
    rc, out, err = lint(files("bad.yaml", "apiVersion: v1\nkind: ConfigMap\n"
                              "data:\n  a: [1\n"))
    assert rc == 2 and out == ""
    assert "bad.yaml:" in err
    rc, out, err = lint("/nonexistent/cm.yaml")
    assert rc == 2 and "No such file" in err


def test_other_objects_are_ignored(files):
    path = files("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\n"
                 "metadata:\n  name: x\n")
    assert lint(path) == (0, "%s: OK\n" % path, "")


# --- rendering: the bytes the Go sender produces ---------------------------

TEMPLATES = {
    "good": GOOD_BODY,
    "quoted": '{"d":"{{ .app.status.operationState.message }}",'
              '"q":{{ .app.metadata.name | quote }},'
              '"n":{{ quote .app.metadata.nope }}0}',
    "funcs": '{{ printf "%s/%s" .app.metadata.namespace .app.metadata.name }}'
             ' {{ .secrets.token | toString }} {{ .secrets.token }}'
             ' {{ toJson .secrets.token }} {{ .app.metadata.nope | default '
             '"n/a" }} {{ .app.status.health.status | lower }}'
             ' {{ .app.metadata.generation }} {{ .app.status.health }}',
    "html": '{{ .app.status.operationState.message | toJson }}|'
            '{{ .app.status.operationState.message | toRawJson }}',
    "cond": '{{if eq .serviceType "slack"}}:x:{{end}} Application '
            '{{.app.metadata.name}} at '
            '{{.app.status.operationState.finishedAt}}.\n'
            '{{- if eq .app.status.operationState.phase "Failed" }} failed'
            '{{ else }} ok{{ end }} {{ .context.argocdUrl }}\n',
    "multisource": '{"rev":"{{ .app.status.sync.revision }}",'
                   '"revs":{{ .app.status.sync.revisions | toJson }}}',
}


def _block(text, indent):
    pad = " " * indent
    return "\n".join(pad + l if l else "" for l in text.split("\n"))


def test_rendering_matches_the_go_sender(files):
    """--render prints each body as notimock lint rendered it; the e2e Go
    sender (diag_helpers.render) gives the same bytes for the same
    template, Application, context and secrets."""
    apps = {
        "plain": application(message='error when patching "/dev/shm/1": '
                             '<x> & y\nline 2\ttab'),
        "multi": application(name="multi", multi_source=True,
                             phase="Running"),
    }
    data = ["  context: |\n    argocdUrl: https://argocd.example.com",
            "  service.webhook.backstage: |\n"
            "    url: https://backstage.example.com/api/notifications\n"
            "    headers:\n    - name: Content-Type\n"
            "      value: application/json\n"
            "    - name: Authorization\n"
            "      value: Bearer $backstage-token"]
    for name, text in TEMPLATES.items():
        data.append("  template.t-%s: |\n    webhook:\n      backstage:\n"
                    "        method: POST\n        path: /notifications\n"
                    "        body: |-\n%s" % (name, _block(text, 10)))
        data.append("  trigger.on-%s: |\n    - when: 'true'\n"
                    "      send: [t-%s]" % (name, name))
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
          "  name: argocd-notifications-cm\ndata:\n" + "\n".join(data) + "\n")
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n"
              "  name: argocd-notifications-secret\nstringData:\n"
              "  backstage-token: s3cr3t-token-value\n  token: s3cr3t\n")
    docs = [cm, secret]
    for app in apps.values():
        app = json.loads(json.dumps(app))
        app["metadata"]["annotations"].update(
            {"notifications.argoproj.io/subscribe.on-%s.backstage" % n: ""
             for n in TEMPLATES})
        docs.append(json.dumps(app, indent=1))	# JSON is YAML
    path = files("all.yaml", "\n---\n".join(docs))
    rc, out, err = lint("--render", path)
    assert (rc, err) == (0, "")
    got = {(o["template"], o["application"]): o["body"]
           for o in map(json.loads, out.splitlines())}
    assert len(got) == len(TEMPLATES) * len(apps)
    for app in apps.values():
        dot = {"app": app, "context": {"argocdUrl":
                                       "https://argocd.example.com",
                                       "notificationType": "backstage"},
               "secrets": {"backstage-token": b"s3cr3t-token-value",
                           "token": b"s3cr3t"},
               "serviceType": "backstage", "recipient": ""}
        for name, text in TEMPLATES.items():
            # body: |- keeps the text without its final newline.
            want = render(text.rstrip("\n"), dot)
            assert got[("t-" + name, app["metadata"]["name"])] == want, name


# --- what notimock argocd-config writes lints clean -------------------------

KIND = os.path.join(os.path.dirname(os.path.dirname(DATA)), "..", "..",
                    "docker", "kind", "argocd")
KIND = os.path.normpath(KIND)


@pytest.mark.parametrize("names", [
    ["argocd-notifications-cm.yaml", "argocd-notifications-secret.yaml",
     "argocd-tls-certs-cm.yaml", "application.yaml"],
    ["notificationsconfiguration.yaml", "argocd-notifications-secret.yaml",
     "argocd-tls-certs-cm.yaml", "application.yaml"],
    ["values-helm.yaml", "application.yaml"],
    None,
], ids=["manifests", "openshift", "helm", "everything"])
def test_committed_kind_argocd_files_lint_clean(names):
    if names is None:
        names = sorted(n for n in os.listdir(KIND) if n.endswith(".yaml"))
    paths = [os.path.join(KIND, n) for n in names]
    rc, out, err = lint(*paths)
    assert (rc, err) == (0, ""), out
    assert out == "".join("%s: OK\n" % p for p in paths)


@pytest.mark.parametrize("variant", [[], ["--openshift"], ["--helm"]],
                         ids=["manifests", "openshift", "helm"])
def test_argocd_config_output_lints_clean(tmp_path, variant):
    """notimock argocd-config ... | notimock lint -"""
    p = subprocess.run([notimock_bin(), "ca", "create", "--out",
                        str(tmp_path / "ca")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([notimock_bin(), "argocd-config", "--token",
                        "lint-token-0123456789abcdef0123456789", "--cacert",
                        str(tmp_path / "ca" / "tls.crt")] + variant,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    rc, out, err = lint("-", stdin=p.stdout)
    assert (rc, out, err) == (0, "-: OK\n", "")


# --- --url: the notimock Argo CD sends to ----------------------------------

def _with_token(token):
    with open(fixture("guide-configmap.yaml")) as f:
        text = f.read()
    return text.replace("backstage-token: test-token-0123456789abcdef"
                        "0123456789", "backstage-token: " + token)


def test_url_token_check(own_server, files):
    """With --url, the token of argocd-notifications-secret (or a literal
    one in the ConfigMap) is checked against that notimock, which answers
    from a keyed fingerprint: the token never travels, is never printed,
    and no delivery is recorded."""
    from conftest import TOKEN, db
    srv = own_server()
    url = "http://127.0.0.1:%d" % srv.port
    good = files("good.yaml", _with_token(TOKEN))
    assert lint("--url", url, good) == (0, "%s: OK\n" % good, "")
    other = "other-token-0123456789abcdef012345678"
    bad = files("bad.yaml", _with_token(other))
    rc, out, err = lint("--json", "--url", url, bad)
    assert (rc, err) == (1, "")
    (d,) = json.loads(out)["diagnoses"]
    # The line of the Authorization header.
    assert (d["code"], d["level"], d["line"]) == ("token-refused", "error",
                                                  26)
    assert d["evidence"] == ("token of 37 characters, compared by keyed "
                             "fingerprint; notimock has 1 token")
    # NOTIMOCK_URL does the same; a literal token in the ConfigMap too.
    rc, out, err = lint("--json", fixture("token-in-configmap.yaml"),
                        env={"NOTIMOCK_URL": url})
    assert [x["code"] for x in json.loads(out)["diagnoses"]] == \
        ["token-in-configmap"]
    for text in (out, err, srv.log()):
        assert other not in text and TOKEN not in text
    conn = db(srv)
    try:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] \
            == 0
    finally:
        conn.close()


def test_token_check_endpoint_refuses_junk(own_server):
    srv = own_server()
    r = srv.req("POST", "/mock/token-check", b'{"key":"zz","mac":"00"}',
                headers={"Content-Type": "application/json"}, token=None)
    assert r.status == 400
    r = srv.req("GET", "/mock/token-check", token=None)
    assert r.status == 405


def _ca(tmp_path, name):
    d = tmp_path / name
    p = subprocess.run([notimock_bin(), "ca", "create", "--out", str(d)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return str(d / "tls.crt"), str(d / "tls.key")


def _tls_files(files, ca_pem):
    host = "notimock.notimock.svc"
    entry = "\n".join("    " + l for l in ca_pem.strip().split("\n"))
    return files("tls.yaml", (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: argocd-tls-certs-cm\ndata:\n  %s: |\n%s\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: argocd-notifications-cm\ndata:\n"
        "  service.webhook.backstage: |\n"
        "    url: https://%s:7443/api/notifications/notifications\n"
        "    headers:\n    - name: Content-Type\n"
        "      value: application/json\n    - name: Authorization\n"
        "      value: Bearer $backstage-token\n") % (host, entry, host))


def test_url_tls_check(own_server, files, tmp_path):
    """The argocd-tls-certs-cm entry must verify the certificate notimock
    presents for the webhook's host name: a real handshake over https, a
    comparison with /mock/ca.pem over http."""
    from test_tls import tls_server
    crt, key = _ca(tmp_path, "ca")
    other, _ = _ca(tmp_path, "other")
    srv = tls_server(own_server, "--tls-ca-cert", crt, "--tls-ca-key", key,
                     "--tls-san", "notimock.notimock.svc")
    https = "https://127.0.0.1:%d" % srv.tls_port
    http = "http://127.0.0.1:%d" % srv.port
    with open(crt) as f:
        good = _tls_files(files, f.read())
    for url in (https, http):
        assert lint("--url", url, "--cacert", crt, good) == \
            (0, "%s: OK\n" % good, ""), url
    with open(other) as f:
        bad = _tls_files(files, f.read())
    for url, ev in ((https, "TLS handshake as notimock.notimock.svc with "
                     "the entry as the only CA: "),
                    (http, "the entry holds no copy of %s/mock/ca.pem" %
                     http)):
        rc, out, err = lint("--json", "--url", url, "--cacert", crt, bad)
        assert (rc, err) == (1, ""), err
        (d,) = json.loads(out)["diagnoses"]
        assert (d["code"], d["level"]) == ("tls-ca-mismatch", "error")
        assert d["evidence"].startswith(ev), d["evidence"]


def test_readme_configuration_lints_clean(files):
    """README's "A configuration that works" (only the data: of
    argocd-notifications-cm, as people keep it) lints clean; without its
    context it says so."""
    src = os.environ.get("NOTIMOCK_SRCDIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "README.md")) as f:
        readme = f.read()
    block = readme.split("### A configuration that works", 1)[1]
    block = block.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block.startswith("# argocd-notifications-cm\n")
    path = files("readme.yaml", block)
    assert lint(path) == (0, "%s: OK\n" % path, "")
    nocontext = files("nocontext.yaml", block.replace(
        "context: |\n  argocdUrl: https://argocd.example.com\n", ""))
    rc, out = findings(nocontext)
    assert rc == 1
    assert [d["code"] for d in out[0]["diagnoses"]] == ["context-argocd-url"]


def test_template_without_path_blames_the_url(files):
    """With no path: in the template, the url alone is where Argo CD posts
    (fuzz_lint found this branch dereferencing the missing path)."""
    with open(fixture("method-missing.yaml")) as f:
        text = f.read()
    text = text.replace("        path: /notifications\n", "")
    for url, code in (("https://backstage.example.com/api/<no value>",
                       "no-value"),
                      ("https://backstage.example.com/api/notification",
                       "wrong-path")):
        path = files("nopath.yaml", text.replace(
            "https://backstage.example.com/api/notifications", url))
        rc, out = findings(path)
        assert rc == 1
        got = [(d["code"], d["line"]) for d in out[0]["diagnoses"]]
        assert got == [(code, 16), ("template-method-missing", 19)], got
