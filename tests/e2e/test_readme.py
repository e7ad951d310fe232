"""
The README as a first-time user runs it (issue 13, item 11): the shell
example aborts where it should, waits for the port-forward, points only
inside the repository, and the first command builds without the test
tools.  The shell example is run with the commands it calls stubbed
where they would need a cluster, against a real notimock.
"""

import os
import re
import stat
import subprocess

from conftest import TOKEN, notimock_bin, server_env

SRCDIR = os.environ.get("NOTIMOCK_SRCDIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")


def readme():
    with open(os.path.join(SRCDIR, "README.md"), encoding="utf-8") as f:
        return f.read()


def shell_example():
    text = readme()
    sec = text[text.index("### In a shell script"):]
    return re.search(r"```sh\n(.*?)```", sec, re.S).group(1)


def test_readme_points_only_inside_the_repository():
    text = readme()
    assert "../" not in text
    for m in re.finditer(r"\]\((doc/[^)#]+)", text):
        assert os.path.exists(os.path.join(SRCDIR, m.group(1))), m.group(1)
    assert os.path.exists(os.path.join(SRCDIR, "doc/argocd-webhook.md"))
    # The OpenAPI document lives under the plugin's mount.
    for m in re.finditer(r"\S*openapi\.json", text):
        assert "/api/notifications/openapi.json" in m.group(0), m.group(0)


def test_readme_first_command_needs_no_test_tools():
    text = readme()
    first = re.search(r"# 1\..*\n(.*)\n", text).group(1)
    assert first.startswith("scripts/deps --build-only ")
    assert "make install" in text
    # notimock is `notimock` once installed; ./notimock only says where.
    assert [l for l in text.splitlines() if "./notimock" in l] == [
        first, "`./notimock` from the build directory."]
    deps = open(os.path.join(SRCDIR, "scripts/deps")).read()
    build = re.search(r'--build-only\)\n\tbuild_only=1\n\tpkgs="(.*?)"',
                      deps, re.S).group(1).split()
    for p in ("chromium", "nodejs", "npm", "python3-pytest"):
        assert p not in build


def test_shell_example_aborts_and_waits(tmp_path, own_server):
    sh = shell_example()
    # A negated pipeline never trips set -e.
    assert not re.search(r"^\s*!", sh, re.M)
    lines = sh.splitlines()
    pf = next(i for i, l in enumerate(lines) if "port-forward" in l)
    ready = next(i for i, l in enumerate(lines) if "notimock ready" in l)
    first_use = next(i for i, l in enumerate(lines)
                     if "notimock cursor" in l)
    assert pf < ready < first_use
    # Run it: kubectl and jq stubbed, notimock real.  The "deployment"
    # posts a send to a user, which reaches someone.
    srv = own_server()
    url = "http://127.0.0.1:%d" % srv.port
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(notimock_bin(), bin_dir / "notimock")

    def stub(name, body):
        p = bin_dir / name
        p.write_text("#!/bin/sh\n" + body)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)

    stub("kubectl", '''case "$*" in
*port-forward*) exec sleep 30 </dev/null >/dev/null 2>&1 ;;
*patch*) exec python3 -c 'import json, sys, urllib.request as u
r = u.Request(sys.argv[1] + "/api/notifications/notifications", json.dumps({
    "recipients": {"type": "entity", "entityRef": "user:default/guest"},
    "payload": {"title": "deployed", "topic": "app-deployed"}}).encode(),
    {"Authorization": "Bearer ''' + TOKEN + '''",
     "Content-Type": "application/json"})
u.urlopen(r).read()' "$NOTIMOCK_URL" ;;
esac
''')
    stub("jq", '''exec python3 -c 'import json, sys
print(json.load(sys.stdin)[sys.argv[1].lstrip(".")])' "$1"
''')
    # The example's entity filter: the guest's send addressed a user.
    script = sh.replace("http://127.0.0.1:7007", url) \
               .replace("component:default/order-service",
                        "user:default/guest") \
               .replace("--entity order-service", "--entity guest") \
               .replace("--timeout 3m", "--timeout 10s")
    env = server_env({"PATH": "%s:%s" % (bin_dir, os.environ["PATH"])})
    p = subprocess.run(["sh", "-c", script], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    # A second run finds a critical notification: it must fail.
    srv.post_json("/api/notifications/notifications",
                  '{"recipients":{"type":"broadcast"},"payload":{"title":'
                  '"boom","severity":"critical"}}',
                  content_type="application/json")
    script2 = script.replace('since=$(notimock cursor)',
                             'since=$(( $(notimock cursor) - 1 ))')
    p = subprocess.run(["sh", "-c", script2], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode != 0, (p.stdout, p.stderr)
