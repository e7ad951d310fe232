"""
An Argo CD notifications webhook sender, rebuilt in Python for the
diagnosis tests (tests/e2e/test_diag_*.py), and helpers to read back what
notimock diagnosed.

The sender follows ../shared/spec/argocd-webhook.md: the service config
gets `$key` substitution from argocd-notifications-secret (a missing key
stays literal), the template is rendered with the subset of Go
text/template + sprig that Backstage templates use (field chains that give
`<no value>`, index, toJson/toRawJson, quote, toString, default, printf,
if/else/end), and the request goes out as Go's net/http writes it: Host,
User-Agent: Go-http-client/1.1, Content-Length (or chunked for an empty
POST), the configured headers canonicalised and sorted, Accept-Encoding:
gzip last, no Content-Type unless configured.

Standard library only.
"""

import base64
import json
import re
import socket
import threading
import time
import urllib.parse

from conftest import parse_response, read_response, db, unpack_delivery

MISSING = object()		# Go's "no value": a map key that is not there


class TemplateError(Exception):
    """Rendering failed: Argo CD logs it and sends nothing."""


# --- Go values ---------------------------------------------------------------

def go_print(v):
    """fmt's %v of a template value, as an action prints it."""
    if v is MISSING or v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, go_print(v[k]))
                                 for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_print(x) for x in v) + "]"
    return str(v)


def _go_json_value(v):
    if v is MISSING or v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, dict):
        return {k: _go_json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_json_value(x) for x in v]
    return v


def go_json(v, html=True):
    """encoding/json.Marshal: sorted map keys, compact, and (toJson) <, >
    and & as \\u003c, \\u003e, \\u0026."""
    s = json.dumps(_go_json_value(v), separators=(",", ":"), sort_keys=True,
                   ensure_ascii=False)
    s = s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if html:
        s = s.replace("<", "\\u003c").replace(">", "\\u003e") \
             .replace("&", "\\u0026")
    return s


_GO_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
           "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(s):
    """strconv.Quote (fmt's %q of a string)."""
    out = ['"']
    for ch in s:
        if ch in _GO_ESC:
            out.append(_GO_ESC[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _strval(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, str):
        return v
    return go_print(v)


def _empty(v):
    return v is MISSING or v is None or v == "" or v == 0 or v is False \
        or (isinstance(v, (list, dict, bytes)) and len(v) == 0)


def _fn_index(m, *keys):
    for k in keys:
        if m is MISSING or m is None:
            raise TemplateError("error calling index: index of untyped nil")
        if isinstance(m, dict):
            m = m.get(k, MISSING)
        elif isinstance(m, list):
            m = m[k]
        else:
            raise TemplateError("error calling index: cannot index")
    return m


def _fn_printf(fmt, *args):
    args = [_strval(a) if isinstance(a, (bytes, bytearray)) else
            ("%!s(<nil>)" if a is MISSING or a is None else a) for a in args]
    return fmt.replace("%v", "%s") % tuple(args)


FUNCS = {
    "toJson": lambda v=MISSING: go_json(v, True),
    "toRawJson": lambda v=MISSING: go_json(v, False),
    # sprig's quote skips nil arguments: a missing value gives nothing.
    "quote": lambda *a: " ".join(go_quote(_strval(x)) for x in a
                                 if x is not MISSING and x is not None),
    "toString": _strval,
    "default": lambda d, v=MISSING: d if _empty(v) else v,
    "index": _fn_index,
    "printf": _fn_printf,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lower": lambda s: _strval(s).lower(),
}


# --- a Go text/template subset ----------------------------------------------

_ACTION_RE = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def _words(s):
    """Split an action on spaces and '|', keeping quoted strings whole."""
    return re.findall(r'"(?:[^"\\]|\\.)*"|\||[^\s|]+', s)


def _operand(tok, dot):
    if tok.startswith('"'):
        return json.loads(tok)
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if tok in ("true", "false"):
        return tok == "true"
    if tok.startswith("."):
        v = dot
        for name in [n for n in tok.split(".") if n]:
            if v is MISSING:
                return MISSING
            if v is None:
                raise TemplateError("nil pointer evaluating interface {}.%s"
                                    % name)
            if not isinstance(v, dict):
                raise TemplateError("can't evaluate field %s" % name)
            v = v.get(name, MISSING)
        return v
    raise TemplateError("function %r not defined" % tok)


def _pipeline(words, dot):
    cmds, cur = [], []
    for w in words:
        if w == "|":
            cmds.append(cur)
            cur = []
        else:
            cur.append(w)
    cmds.append(cur)
    val, piped = None, False
    for cmd in cmds:
        if cmd[0] in FUNCS:
            args = [_operand(a, dot) for a in cmd[1:]]
            if piped:
                args.append(val)
            val = FUNCS[cmd[0]](*args)
        else:
            if len(cmd) != 1 or piped:
                raise TemplateError("bad command %r" % cmd)
            val = _operand(cmd[0], dot)
        piped = True
    return val


def render(text, dot):
    """Render a template (text/template semantics for the subset above)."""
    parts = []
    pos = 0
    for m in _ACTION_RE.finditer(text):
        parts.append(("text", text[pos:m.start()], m.group(1) == "-"))
        parts.append(("action", m.group(2), m.group(3) == "-"))
        pos = m.end()
    parts.append(("text", text[pos:], False))
    # Trim markers.
    items = []
    for i, (kind, s, trim) in enumerate(parts):
        if kind == "text":
            if trim:			# the next action starts with {{-
                s = s.rstrip(" \t\r\n")
            if i > 0 and parts[i - 1][2]:	# the previous ended with -}}
                s = s.lstrip(" \t\r\n")
            items.append(("text", s))
        else:
            items.append(("action", s))
    out = []
    stack = [True]		# are we emitting?
    taken = [True]
    for kind, s in items:
        if kind == "text":
            if all(stack):
                out.append(s)
            continue
        w = _words(s)
        if w[0] == "if":
            cond = not _empty(_pipeline(w[1:], dot)) if all(stack) else False
            stack.append(cond)
            taken.append(cond)
        elif w[0] == "else":
            stack[-1] = not taken[-1]
        elif w[0] == "end":
            stack.pop()
            taken.pop()
        elif all(stack):
            out.append(go_print(_pipeline(w, dot)))
    return "".join(out)


# --- the notifications-engine webhook service --------------------------------

_SECRET_RE = re.compile(r"[$][\w-]+")


def substitute(value, secrets):
    """pkg/api/config.go: each $key becomes the secret's value; a missing
    key stays as written."""
    def one(m):
        key = m.group(0)[1:]
        if key in secrets:
            v = secrets[key]
            return v.decode() if isinstance(v, bytes) else v
        return m.group(0)
    return _SECRET_RE.sub(one, value)


def canonical(name):
    """textproto.CanonicalMIMEHeaderKey."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


class ArgoCD:
    """One Argo CD: argocd-notifications-cm's service.webhook.<name> and
    context, argocd-notifications-secret, and the templates."""

    def __init__(self, url, headers=(), basic_auth=None, secrets=None,
                 context=None, service="backstage"):
        self.secrets = {k: (v.encode() if isinstance(v, str) else v)
                        for k, v in (secrets or {}).items()}
        self.service = service
        self.url = substitute(url, self.secrets)
        self.headers = [(substitute(n, self.secrets),
                         substitute(v, self.secrets)) for n, v in headers]
        self.basic_auth = None
        if basic_auth is not None:
            self.basic_auth = tuple(substitute(x, self.secrets)
                                    for x in basic_auth)
        self.context = dict(context or {})
        self.context["notificationType"] = service

    def variables(self, app):
        return {"app": app, "context": self.context,
                "secrets": self.secrets, "serviceType": self.service,
                "recipient": ""}

    def request(self, template, app):
        """The raw bytes Argo CD sends for template (a dict with message
        and/or webhook: {service: {method, path, body}}) about app."""
        dot = self.variables(app)
        hook = (template.get("webhook") or {}).get(self.service)
        url = self.url
        if hook is not None:
            method = hook.get("method") or "GET"
            body = render(hook.get("body", ""), dot)
            path = render(hook.get("path", ""), dot)
            if path:
                url = url.rstrip("/") + "/" + path.lstrip("/")
        else:
            # No section for this service: GET on the bare url, with the
            # rendered message as the body.
            method = "GET"
            body = render(template.get("message", ""), dot)
        return go_request(method, url, body.encode(), self.headers,
                          self.basic_auth)


def go_request(method, url, body, headers, basic_auth=None):
    """net/http's Request.Write for a client request."""
    u = urllib.parse.urlsplit(url)
    path = urllib.parse.quote(u.path or "/", safe="$&+,/:;=@-_.~%")
    # Go does not re-escape a path it can keep; %xx stays as written.
    target = path + ("?" + u.query if u.query else "")
    h = {}
    for name, value in headers:
        h[canonical(name)] = value	# Header.Set: the last one wins
    if basic_auth is not None:
        h["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % basic_auth).encode()).decode()
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: " + u.netloc,
             "User-Agent: Go-http-client/1.1"]
    if body:
        lines.append("Content-Length: %d" % len(body))
        payload = body
    elif method in ("POST", "PUT", "PATCH"):
        # retryablehttp hands Go an empty reader: one zero-length chunk.
        lines.append("Transfer-Encoding: chunked")
        payload = b"0\r\n\r\n"
    else:
        payload = b""
    for name in sorted(h):
        lines.append("%s: %s" % (name, h[name]))
    lines.append("Accept-Encoding: gzip")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


# --- fixtures: an Application and the templates ------------------------------

def application(name="guestbook", entity_ref="user:default/guest",
                phase="Failed", message=None, multi_source=False,
                annotations=True):
    """An Application as the controller hands it to templates (spec
    section 8)."""
    meta = {"name": name, "namespace": "argocd", "generation": 7}
    if annotations:
        meta["annotations"] = {}
        if entity_ref is not None:
            meta["annotations"]["backstage.io/entity-ref"] = entity_ref
    src = {"repoURL": "https://github.com/argoproj/argocd-example-apps",
           "path": "guestbook", "targetRevision": "HEAD"}
    rev = "4c8e5f3a9d2b7e6f1a0c3b5d7e9f2a4c6b8d0e1f"
    sync = {"status": "Synced" if phase == "Succeeded" else "OutOfSync"}
    result = {"resources": []}
    spec = {"destination": {"server": "https://kubernetes.default.svc",
                            "namespace": name}, "project": "default"}
    if multi_source:
        spec["sources"] = [src, dict(src, path="values")]
        sync["revisions"] = [rev, rev]
        result["revisions"] = [rev, rev]
    else:
        spec["source"] = src
        sync["revision"] = rev
        result["revision"] = rev
    if message is None:
        message = {"Succeeded": "successfully synced (all tasks run)",
                   "Running": "one or more tasks are running"}.get(
            phase, "one or more synchronization tasks are not valid")
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": meta, "spec": spec,
        "status": {
            "sync": sync,
            "health": {"status": "Healthy" if phase == "Succeeded" else
                       "Degraded"},
            "operationState": {
                "phase": phase, "message": message,
                "startedAt": "2024-05-01T12:00:00Z",
                "finishedAt": "2024-05-01T12:00:07Z",
                "syncResult": result,
            },
        },
    }


# The working template of spec section 7 (shape of a working setup).
GOOD_BODY = (
    '{"recipients":{"type":"entity","entityRef":{{ index '
    '.app.metadata.annotations "backstage.io/entity-ref" | toJson }}},\n'
    ' "payload":{"title":"Sync failed: {{ .app.metadata.name }}",\n'
    '            "description":{{ .app.status.operationState.message | '
    'toJson }},\n'
    '            "severity":"high","topic":"argocd.sync.failed",\n'
    '            "scope":"argocd/{{ .app.metadata.name }}"}}\n')


def webhook(body=GOOD_BODY, method="POST", path="/notifications",
            service="backstage"):
    """A template with a webhook section for service."""
    hook = {"body": body, "path": path}
    if method is not None:
        hook["method"] = method
    return {"webhook": {service: hook}}


# The catalog's app-sync-succeeded: no webhook section at all.
CATALOG_SYNC_SUCCEEDED = {
    "message": '{{if eq .serviceType "slack"}}:white_check_mark:{{end}} '
               'Application {{.app.metadata.name}} has been successfully '
               'synced at {{.app.status.operationState.finishedAt}}.\n'
               'Sync operation details are available at: '
               '{{.context.argocdUrl}}/applications/{{.app.metadata.name}}'
               '?operation=true .\n',
}


def argocd_for(server, headers=None, secrets=None, context=None,
               basic_auth=None, url_path="/api/notifications"):
    """Argo CD pointed at server, configured as the Backstage guide says
    unless told otherwise."""
    if headers is None:
        headers = [("Content-Type", "application/json"),
                   ("Authorization", "Bearer $backstage-token")]
    if secrets is None:
        secrets = {"backstage-token": server.token}
    if context is None:
        context = {"argocdUrl": "https://argocd.example.com"}
    return ArgoCD("http://%s:%d%s" % (server.host, server.port, url_path),
                  headers, basic_auth, secrets, context)


# --- sending and reading back ------------------------------------------------

class Sent:
    """What one request got: the answer and what notimock recorded."""

    def __init__(self, server, raw, port, status, headers, body):
        self.server = server
        self.raw = raw
        self.port = port
        self.status = status
        self.headers = headers
        self.body = body
        self._row = None

    @property
    def remote(self):
        return "127.0.0.1:%d" % self.port

    def row(self):
        """The delivery row this request stored (a dict, unpacked)."""
        if self._row is None:
            conn = db(self.server)
            try:
                self._row = conn.execute(
                    "SELECT * FROM deliveries WHERE remote = ?",
                    (self.remote,)).fetchone()
                if self._row is not None:
                    self._row = unpack_delivery(conn, self._row)
            finally:
                conn.close()
            assert self._row is not None, "no delivery from " + self.remote
        return self._row

    def stored_diagnoses(self):
        """The diagnoses as the row keeps them: codes, levels, text keys,
        arguments and evidence, never the prose (diag_json_compact)."""
        return json.loads(self.row()["diagnoses"])

    def diagnoses(self):
        """The diagnoses as users see them (/mock/, the inbox, the CLI):
        told whole from the table, and checked against what is stored."""
        told = self.mock_delivery()["diagnoses"]
        stored = self.stored_diagnoses()
        assert [(d["code"], d["level"], d["evidence"]) for d in told] == \
            [(d["code"], d["level"], d["evidence"]) for d in stored]
        for d in stored:
            assert "message" not in d and "fix" not in d, d
            assert "t" in d and "a" in d, d
        return told

    def codes(self):
        return [d["code"] for d in self.diagnoses()]

    def diagnosis(self, code):
        found = [d for d in self.diagnoses() if d["code"] == code]
        assert found, "no %s diagnosis in %r" % (code, self.codes())
        return found[0]

    def log_line(self, timeout=3.0):
        """The access log line of this request."""
        prefix = self.remote + " "
        deadline = time.monotonic() + timeout
        while True:
            for line in self.server.log().splitlines():
                if prefix in line and " origin=" in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no log line for " + self.remote)
            time.sleep(0.05)

    def log_codes(self):
        m = re.search(r" diag=(\S+)$", self.log_line())
        return m.group(1).split(",") if m else []

    def mock_delivery(self):
        """The delivery as /mock/deliveries/{seq} shows it."""
        r = self.server.req("GET", "/mock/deliveries/%d" % self.row()["seq"],
                            token=None)
        assert r.status == 200, r
        return r.json()


def send_raw(server, raw, timeout=10.0):
    """Send raw request bytes on a new connection, as Argo CD does (a new
    transport per notification); returns a Sent."""
    with socket.create_connection((server.host, server.port),
                                  timeout=timeout) as s:
        port = s.getsockname()[1]

        def sender():
            try:
                s.sendall(raw)
            except OSError:
                pass
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        data = read_response(s, timeout)
        t.join(timeout)
    status, headers, body = parse_response(data)
    return Sent(server, raw, port, status, headers, body)


def send(server, argocd, template, app):
    return send_raw(server, argocd.request(template, app))


def assert_diagnosed(sent, code, level=None):
    """code is in the stored diagnoses, the log line and /mock/; returns
    the stored diagnosis."""
    d = sent.diagnosis(code)
    assert set(d) >= {"code", "level", "message", "evidence", "fix"}, d
    assert all(isinstance(d[k], str) and d[k] for k in
               ("message", "evidence", "fix")), d
    if level is not None:
        assert d["level"] == level, d
    assert code in sent.log_codes(), sent.log_line()
    assert sent.log_codes() == sent.codes(), sent.log_line()
    mock = sent.mock_delivery()
    assert mock["diagnoses"] == sent.diagnoses()
    return d


def no_secret(sent, secret):
    """No diagnosis (stored, or on the log line) carries the secret.  (The
    request itself is stored and logged as sent: a secret the sender put
    in its URL or body is there already.)"""
    text = sent.row()["diagnoses"] + ",".join(sent.log_codes())
    assert secret not in text


def v8_unexpected_token(text, pos):
    """V8's "Unexpected token 'x', ..." message for the character at pos
    of an ASCII text (spec 4.3)."""
    tok = text[pos]
    if len(text) < 21:
        return "Unexpected token '%s', \"%s\" is not valid JSON" % (tok, text)
    a, b = max(pos - 10, 0), min(pos + 10, len(text))
    return "Unexpected token '%s', %s\"%s\"%s is not valid JSON" % (
        tok, "..." if a > 0 else "", text[a:b], "..." if b < len(text)
        else "")
