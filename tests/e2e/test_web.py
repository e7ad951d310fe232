"""
The HTML inbox's files (web.c): GET / and the assets, compiled in by
tools/embed or read from --web-dir, with a strict Content-Security-Policy
and cache validators.  What the page does in a browser is tested in
tests/browser/.
"""

import glob
import os
import re

import pytest

from conftest import NOTIFS, assert_empty_404, assert_error, external_server

JS = "text/javascript; charset=utf-8"
ETAG_RE = re.compile(r'^"[0-9a-f]{16}-[0-9a-f]+"$')
# import ... from './x.js' (the modules' only form of import).
IMPORT_RE = re.compile(r"^import \{[^}]*\} from '([^']+)';$", re.M)


def web_dir():
    src = os.environ.get("NOTIMOCK_SRCDIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    return os.path.join(src, "web")


# Every file of web/ the binary serves: the page, and each ES module of
# web/js/ (app.js imports them).
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", JS),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
for _f in sorted(glob.glob(os.path.join(web_dir(), "js", "*.js"))):
    ASSETS["/js/" + os.path.basename(_f)] = ("js/" + os.path.basename(_f), JS)


def csp_directives(value):
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.fixture(autouse=True)
def _own_binary():
    if external_server() is not None:
        pytest.skip("the inbox is notimock's own (NOTIMOCK_URL is set)")


@pytest.mark.parametrize("path", sorted(ASSETS))
def test_builtin_asset_is_the_web_file(server, path):
    """Each route answers the file of web/ byte for byte, typed."""
    name, ctype = ASSETS[path]
    r = server.req("GET", path, token=None)
    assert r.status == 200
    assert r.headers["Content-Type"] == ctype
    with open(os.path.join(web_dir(), name), "rb") as f:
        assert r.body == f.read()
    assert ETAG_RE.match(r.headers["ETag"])
    assert r.headers["Cache-Control"] == "no-cache"


def test_security_headers(server):
    r = server.req("GET", "/", token=None)
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_page_has_nothing_inline(server):
    """No inline script, style or handler: the CSP would block them."""
    html = server.req("GET", "/", token=None).body.decode()
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html, re.I)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html, re.I)
    assert 'src="app.js"' in html and 'href="style.css"' in html
    assert '<script type="module" src="app.js"></script>' in html


def test_every_import_is_served(server):
    """The modules' imports, followed from app.js as a browser does, each
    answer the file of web/; and every module of web/js/ is imported."""
    todo, seen = ["/app.js"], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        r = server.req("GET", path, token=None)
        assert (r.status, r.headers["Content-Type"]) == (200, JS), path
        for spec in IMPORT_RE.findall(r.body.decode()):
            assert spec.startswith("./") and spec.endswith(".js"), spec
            todo.append(os.path.normpath(os.path.join(
                os.path.dirname(path), spec)))
    assert seen == {p for p, (_, ct) in ASSETS.items() if ct == JS}


@pytest.mark.parametrize("path", ["/js", "/js/", "/js/nope.js",
                                  "/js/app.js", "/js/js/dom.js",
                                  "/js/%2e%2e/app.js", "/js/dom.js/x"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_paths_below_js_are_no_route(server, path, method):
    """Below /js/ only the modules are the inbox's: anything else answers
    as an unknown path does (Backstage's empty 404, its headers)."""
    body = "x" if method == "POST" else None

    def heads(r):
        return sorted((k, v) for k, v in r.headers.items() if k != "Date")
    r = server.req(method, path, body=body, token=None)
    assert_empty_404(r)
    assert heads(r) == heads(server.req(method, "/nope.js", body=body,
                                        token=None))


def test_module_other_methods_405(server):
    r = server.req("POST", "/js/dom.js", body="x", token=None)
    assert r.status == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert "Content-Security-Policy" in r.headers


def test_etag_revalidation(server):
    etag = server.req("GET", "/app.js", token=None).headers["ETag"]
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = server.req("GET", "/app.js", headers={"If-None-Match": inm},
                       token=None)
        assert r.status == 304, inm
        assert r.body == b""
        assert r.headers["ETag"] == etag
    r = server.req("GET", "/app.js", headers={"If-None-Match": '"nope"'},
                   token=None)
    assert r.status == 200 and len(r.body) > 0
    # Each file has its own tag.
    tags = {server.req("GET", p, token=None).headers["ETag"] for p in ASSETS}
    assert len(tags) == len(ASSETS)


def test_head_has_the_length_and_no_body(server):
    get = server.req("GET", "/style.css", token=None)
    head = server.req("HEAD", "/style.css", token=None)
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) == len(get.body)


def test_other_methods_405(server):
    r = server.req("POST", "/", body="x", token=None)
    assert r.status == 405
    assert r.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/index.html", "/app.js/x", "/web/app.js",
                                  "/%2e%2e/etc/passwd", "/nope.js"])
def test_nothing_else_is_served(server, path):
    r = server.req("GET", path, token=None)
    assert r.status == 404
    assert b"<html" not in r.body


def test_api_routes_are_untouched(server):
    """/api/notifications still answers as Backstage does."""
    r = server.req("GET", NOTIFS, token=None)
    assert_error(r, 401, "AuthenticationError", "Missing credentials",
                 "GET", "/notifications")


def test_web_dir_reads_from_disk_each_time(own_server, tmp_path):
    d = tmp_path / "web"
    d.mkdir()
    (d / "index.html").write_text("<p>first</p>")
    (d / "app.js").write_text("1;")
    (d / "js").mkdir()
    (d / "js" / "m.js").write_text("export const m = 1;")
    os.mkdir(d / "style.css")        # a directory, not a file
    srv = own_server(["--web-dir", str(d)])
    r = srv.req("GET", "/", token=None)
    assert r.status == 200
    assert r.body == b"<p>first</p>"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    assert "ETag" not in r.headers
    assert "Content-Security-Policy" in r.headers
    (d / "index.html").write_text("<p>second</p>")
    assert srv.req("GET", "/", token=None).body == b"<p>second</p>"
    assert srv.req("GET", "/app.js", token=None).body == b"1;"
    r = srv.req("GET", "/js/m.js", token=None)
    assert (r.status, r.headers["Content-Type"]) == (200, JS)
    assert r.body == b"export const m = 1;"
    (d / "js" / "m.js").write_text("export const m = 2;")
    assert srv.req("GET", "/js/m.js", token=None).body == \
        b"export const m = 2;"
    for path in ("/style.css", "/favicon.svg"):
        r = srv.req("GET", path, token=None)
        assert r.status == 404, path
        assert b"NotFoundError" in r.body
    assert "web: --web-dir" in srv.wait_log("web: --web-dir")
