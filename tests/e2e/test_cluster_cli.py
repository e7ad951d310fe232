"""
What running in a cluster needs from the binary (issue 10, issue 13 item 6):
`notimock ready` (the image's HEALTHCHECK), a CA given with --tls-ca-cert /
--tls-ca-key (the notimock-ca Secret) that the serving certificate is issued
from at every start, `notimock ca create`, and `notimock ca` fetching the
running server's CA without touching any file.

Verification is always on: clients trust ONLY the given CA.
"""

import http.client
import os
import socket
import ssl
import stat
import subprocess
import tempfile

import pytest
import yaml

from conftest import notimock_bin, run_expect_exit, server_env
from test_tls import tls_server, with_tls_port

READINESS = "/.backstage/health/v1/readiness"
# The names of the one deployment (docker/kind/service.yaml).
SVC = "notimock.notimock.svc"
SANS = [SVC, "notimock.notimock.svc.cluster.local", "notimock.notimock",
        "notimock"]


def run(args, env=None, cwd=None, timeout=20):
    """The binary with args, in a clean environment plus env."""
    return subprocess.run([notimock_bin()] + list(args), cwd=cwd,
                          env=server_env(env), capture_output=True,
                          text=True, timeout=timeout)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_ca(tmp_path, name="ca"):
    d = tmp_path / name
    r = run(["ca", "create", "--out", str(d)])
    assert r.returncode == 0, r.stderr
    return str(d / "tls.crt"), str(d / "tls.key")


def ca_args(crt, key):
    return ["--tls-ca-cert", crt, "--tls-ca-key", key] + \
        sum((["--tls-san", n] for n in SANS), [])


def get_verified(port, cafile, name):
    """GET readiness over TLS to 127.0.0.1:port as if to `name` (curl
    --resolve), trusting only cafile.  Returns (status, leaf DER)."""
    ctx = ssl.create_default_context(cafile=cafile)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                       context=ctx)
    # Connect to the loopback address, verify against the service name.
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sock = ctx.wrap_socket(sock, server_hostname=name)
    try:
        conn.request("GET", READINESS)
        r = conn.getresponse()
        r.read()
        return r.status, conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()


def openssl(*args, data=None):
    r = subprocess.run(["openssl"] + list(args), input=data,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- notimock ready ---------------------------------------------------------


def test_ready_exits_0_when_the_server_is_ready(own_server):
    srv = own_server()
    r = run(["ready", "--url", "http://127.0.0.1:%d" % srv.port])
    assert (r.returncode, r.stderr) == (0, "")


def test_ready_derives_the_url_from_the_servers_own_settings(own_server):
    """No --url, no NOTIMOCK_URL: the image's HEALTHCHECK ["/notimock",
    "ready"] reads NOTIMOCK_LISTEN, with 0.0.0.0 meaning loopback."""
    srv = own_server()
    for listen in ("0.0.0.0:%d", "127.0.0.1:%d", "[::]:%d"):
        r = run(["ready"], env={"NOTIMOCK_LISTEN": listen % srv.port})
        if listen.startswith("[::]") and r.returncode == 2:
            continue	# the server listens on IPv4 only: ::1 refuses
        assert (r.returncode, r.stderr) == (0, ""), listen
    # The same settings file the server reads (NOTIMOCK_CONFIG).
    cfg = os.path.join(srv.workdir, "app-config.yaml")
    with open(cfg, "w") as f:
        f.write("notimock:\n  listen: 0.0.0.0:%d\n" % srv.port)
    r = run(["ready"], env={"NOTIMOCK_CONFIG": cfg})
    assert (r.returncode, r.stderr) == (0, "")
    # NOTIMOCK_URL wins over the server's settings.
    r = run(["ready"], env={"NOTIMOCK_LISTEN": "0.0.0.0:%d" % free_port(),
                            "NOTIMOCK_URL": "http://127.0.0.1:%d" % srv.port})
    assert r.returncode == 0, r.stderr


def test_ready_over_tls_only_trusts_the_given_ca(own_server, tmp_path):
    """With the plain listener off, ready asks the TLS one and trusts the
    CA the server was given (NOTIMOCK_TLS_CA_CERT), never anything else."""
    crt, key = make_ca(tmp_path)
    srv = tls_server(own_server, *ca_args(crt, key))
    env = {"NOTIMOCK_LISTEN": "off",
           "NOTIMOCK_TLS_LISTEN": "0.0.0.0:%d" % srv.tls_port,
           "NOTIMOCK_TLS_CA_CERT": crt, "NOTIMOCK_TLS_CA_KEY": key}
    r = run(["ready"], env=env)
    assert (r.returncode, r.stderr) == (0, "")
    other, _ = make_ca(tmp_path, "other")
    r = run(["ready", "--url", "https://127.0.0.1:%d" % srv.tls_port,
             "--cacert", other])
    assert r.returncode == 2, r.stderr


def test_ready_exits_2_when_nothing_listens():
    port = free_port()
    r = run(["ready", "--url", "http://127.0.0.1:%d" % port])
    assert r.returncode == 2
    assert "http://127.0.0.1:%d" % port in r.stderr
    r = run(["ready"], env={"NOTIMOCK_LISTEN": "0.0.0.0:%d" % port})
    assert r.returncode == 2
    assert "http://127.0.0.1:%d" % port in r.stderr


def test_ready_exits_1_when_the_answer_is_not_ready(own_server):
    """Something answers, but not readiness's 200 {"status":"ok"}: a wrong
    path (another service on the port) is "not ready", not an error."""
    srv = own_server()
    r = run(["ready", "--url", "http://127.0.0.1:%d/elsewhere" % srv.port])
    assert r.returncode == 1
    assert "404" in r.stderr


def test_ready_usage_errors_exit_2():
    for args in (["ready", "--bogus"], ["ready", "extra"],
                 ["ready", "--url", "ftp://x"],
                 ["ready", "--timeout", "soon"],
                 ["ready", "--admin-token", "x"]):
        r = run(args)
        assert r.returncode == 2, args
    r = run(["ready"], env={"NOTIMOCK_LISTEN": "127.0.0.1:0"})
    assert r.returncode == 2 and "--url" in r.stderr
    r = run(["ready", "-h"])
    assert r.returncode == 0 and "readiness" in r.stdout


def test_each_client_commands_help_is_its_own():
    """-h printed ready's usage and then wait's, ca's and then list's: the
    per-command help list was two entries short (a read past its end)."""
    words = {"wait": "Waits until", "list": None, "reset": None,
             "cursor": None, "ready": "readiness", "ca": "/mock/ca.pem"}
    for cmd, word in words.items():
        r = run([cmd, "-h"])
        assert r.returncode == 0, (cmd, r.stderr)
        assert r.stdout.startswith("usage: notimock %s " % cmd), cmd
        assert r.stdout.count("usage: notimock") == 1, \
            (cmd, r.stdout)
        for other in words:
            if other != cmd:
                assert "usage: notimock %s " % other not in r.stdout, \
                    (cmd, other, r.stdout)
        if word:
            assert word in r.stdout, cmd


def test_ready_times_out_quickly_on_a_silent_peer():
    """A peer that accepts and never answers: exit 2 after --timeout."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = run(["ready", "--url", "http://127.0.0.1:%d" %
                 s.getsockname()[1], "--timeout", "300ms"])
        assert r.returncode == 2
        assert "did not answer within 300 ms" in r.stderr
    finally:
        s.close()


# --- a CA given: --tls-ca-cert / --tls-ca-key -------------------------------


def test_leaf_from_the_given_ca_verifies_for_the_service_names(own_server,
                                                             tmp_path):
    crt, key = make_ca(tmp_path)
    os.chmod(crt, 0o444)
    os.chmod(key, 0o400)	# read-only, as a mounted Secret
    srv = tls_server(own_server, *ca_args(crt, key))
    for name in SANS + ["localhost"]:
        status, _ = get_verified(srv.tls_port, crt, name)
        assert status == 200, name
    with pytest.raises(ssl.SSLCertVerificationError):
        get_verified(srv.tls_port, crt, "elsewhere.example")
    # The CA served is the given one, byte for byte.
    r = srv.req("GET", "/mock/ca.pem", token=None)
    assert r.status == 200 and r.body.decode() == open(crt).read()
    # Nothing generated, nothing written beside the database.
    state = os.listdir(os.path.dirname(srv.db_path))
    for f in ("ca.pem", "ca-key.pem", "cert.pem", "key.pem"):
        assert f not in state
    assert "issued the serving certificate from CA" in srv.log()


def test_restart_with_an_empty_state_dir_still_verifies(own_server,
                                                        tmp_path):
    """A pod restart with a fresh emptyDir: a new leaf (new key), issued by
    the same CA, so the trust Argo CD holds survives."""
    crt, key = make_ca(tmp_path)
    srv = tls_server(own_server, *ca_args(crt, key))
    status, leaf1 = get_verified(srv.tls_port, crt, SVC)
    assert status == 200
    srv.stop()
    fresh = tempfile.mkdtemp(dir=str(tmp_path))
    again = tls_server(own_server, *ca_args(crt, key),
                       db_path=os.path.join(fresh, "notimock.db"))
    assert again.tls_port is not None
    status, leaf2 = get_verified(again.tls_port, crt, SVC)
    assert status == 200
    assert leaf1 != leaf2
    # openssl agrees: the leaf chains to the CA alone.
    pem = ssl.DER_cert_to_PEM_cert(leaf2)
    leaf = os.path.join(fresh, "leaf.pem")
    with open(leaf, "w") as f:
        f.write(pem)
    assert openssl("verify", "-CAfile", crt, "-verify_hostname", SVC,
                   leaf).strip().endswith("OK")


def test_an_openssl_made_ca_works_too(own_server, tmp_path):
    d = tmp_path / "ossl"
    d.mkdir()
    crt, key = str(d / "ca.crt"), str(d / "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", "/O=Example Tests/CN=Example Test CA")
    srv = tls_server(own_server, *ca_args(crt, key))
    status, _ = get_verified(srv.tls_port, crt, SVC)
    assert status == 200


def test_a_ca_whose_ski_is_not_sha1_of_its_key_works(own_server, tmp_path):
    """The leaf's authorityKeyIdentifier repeats the CA's own SKI.  It was
    SHA-1 of the CA key, which only some tools use for the SKI (Go 1.25
    uses truncated SHA-256): OpenSSL (Python, curl) then took the CA for
    someone else and verification failed."""
    d = tmp_path / "ski"
    d.mkdir()
    crt, key = str(d / "ca.crt"), str(d / "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", "/CN=Test CA with its own SKI",
            "-addext", "subjectKeyIdentifier=" + "a5" * 20,
            "-addext", "authorityKeyIdentifier=none",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    srv = tls_server(own_server, *ca_args(crt, key))
    status, leaf = get_verified(srv.tls_port, crt, SVC)
    assert status == 200
    pem = tmp_path / "leaf.pem"
    pem.write_text(ssl.DER_cert_to_PEM_cert(leaf))
    assert "A5:A5:A5:A5" in openssl("x509", "-in", str(pem), "-noout",
                                    "-ext", "authorityKeyIdentifier")
    assert openssl("verify", "-x509_strict", "-purpose", "sslserver",
                   "-CAfile", crt, "-verify_hostname", SVC,
                   str(pem)).strip().endswith("OK")


def test_a_ca_with_printablestring_names_works(own_server, tmp_path):
    """Go (cert-manager, step) and OpenSSL's default string mask write
    names as PrintableString; the leaf's issuer was written back as
    UTF8String, which verifiers do not match to the CA's subject, so the
    start was refused.  The issuer now keeps the CA's string types."""
    d = tmp_path / "printable"
    d.mkdir()
    cnf = d / "req.cnf"
    cnf.write_text("[req]\ndistinguished_name = dn\nstring_mask = default\n"
                   "prompt = no\nx509_extensions = v3\n"
                   "[dn]\nC = DE\nO = Example Tests\nCN = Printable CA\n"
                   "[v3]\nbasicConstraints = critical,CA:TRUE\n"
                   "keyUsage = critical,keyCertSign\n"
                   "subjectKeyIdentifier = hash\n")
    crt, key = str(d / "ca.crt"), str(d / "ca.key")
    openssl("req", "-x509", "-config", str(cnf), "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", crt, "-days", "30")
    assert "PRINTABLESTRING   :Printable CA" in openssl("asn1parse", "-in",
                                                        crt)
    srv = tls_server(own_server, *ca_args(crt, key))
    assert srv.tls_port is not None
    status, leaf = get_verified(srv.tls_port, crt, SVC)
    assert status == 200
    pem = tmp_path / "leaf.pem"
    pem.write_text(ssl.DER_cert_to_PEM_cert(leaf))
    assert openssl("verify", "-x509_strict", "-purpose", "sslserver",
                   "-CAfile", crt, "-verify_hostname", SVC,
                   str(pem)).strip().endswith("OK")


def expect_refusal(args, *words):
    rc, err = run_expect_exit(["--tls-listen", "127.0.0.1:0"] + args)
    assert rc != 0, err
    for w in words:
        assert w in err, (w, err)
    return err


def test_bad_ca_material_fails_start_naming_the_file(tmp_path):
    crt, key = make_ca(tmp_path)
    crt2, key2 = make_ca(tmp_path, "two")
    missing = str(tmp_path / "nope.pem")
    expect_refusal(["--tls-ca-cert", missing, "--tls-ca-key", key],
                   missing, "No such file")
    expect_refusal(["--tls-ca-cert", crt, "--tls-ca-key", missing],
                   missing, "No such file")
    expect_refusal(["--tls-ca-cert", crt, "--tls-ca-key", key2],
                   key2, "does not match", crt)
    expect_refusal(["--tls-ca-cert", crt], "--tls-ca-key")
    expect_refusal(["--tls-ca-key", key], "--tls-ca-cert")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    expect_refusal(["--tls-ca-cert", str(garbage), "--tls-ca-key", key],
                   str(garbage))
    # A leaf is not a CA.
    leaf, leafkey = str(tmp_path / "leaf.crt"), str(tmp_path / "leaf.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", leafkey,
            "-out", leaf, "-days", "30", "-subj", "/CN=leaf",
            "-addext", "basicConstraints=critical,CA:FALSE")
    expect_refusal(["--tls-ca-cert", leaf, "--tls-ca-key", leafkey],
                   leaf, "not a CA")
    # A certificate to serve and a CA to issue one: one or the other.
    expect_refusal(["--tls-ca-cert", crt, "--tls-ca-key", key,
                    "--tls-cert", crt2, "--tls-key", key2], "exclude")
    # The environment twins say the same.
    rc, err = run_expect_exit(["--tls-listen", "127.0.0.1:0"],
                              env={"NOTIMOCK_TLS_CA_CERT": crt,
                                   "NOTIMOCK_TLS_CA_KEY": key2})
    assert rc != 0 and key2 in err and "does not match" in err


def test_ca_settings_in_the_config_file(own_server, tmp_path):
    crt, key = make_ca(tmp_path)
    cfg = tmp_path / "app-config.yaml"
    cfg.write_text("notimock:\n  tls-ca-cert: %s\n  tls-ca-key: %s\n"
                   "  tls-san: [%s]\n" % (crt, key, SVC))
    srv = tls_server(own_server, "--config", str(cfg))
    status, _ = get_verified(srv.tls_port, crt, SVC)
    assert status == 200
    r = run(["--help"])
    assert "--tls-ca-cert FILE" in r.stdout
    assert "NOTIMOCK_TLS_CA_KEY" in r.stdout


# --- notimock ca create -----------------------------------------------------


def test_ca_create_out_writes_a_valid_ca(tmp_path):
    crt, key = make_ca(tmp_path)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    text = openssl("x509", "-in", crt, "-noout", "-text")
    assert "CA:TRUE" in text
    assert "Certificate Sign" in text
    assert "prime256v1" in text or "P-256" in text
    # The key is the certificate's.
    assert openssl("pkey", "-in", key, "-pubout") == \
        openssl("x509", "-in", crt, "-noout", "-pubkey")
    # Never overwritten.
    before = open(key).read()
    r = run(["ca", "create", "--out", os.path.dirname(crt)])
    assert r.returncode == 1 and "tls.key" in r.stderr
    assert open(key).read() == before
    # Each run makes a different CA.
    crt2, _ = make_ca(tmp_path, "again")
    assert open(crt2).read() != open(crt).read()


def test_ca_create_secret_is_a_kubernetes_tls_secret(tmp_path):
    r = run(["ca", "create", "--secret"])
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Secret"
    assert doc["type"] == "kubernetes.io/tls"
    assert doc["metadata"]["name"] == "notimock-ca"
    assert doc["metadata"]["namespace"] == "notimock"
    crt = doc["stringData"]["tls.crt"]
    key = doc["stringData"]["tls.key"]
    assert crt.startswith("-----BEGIN CERTIFICATE-----\n")
    assert crt.endswith("-----END CERTIFICATE-----\n")
    (tmp_path / "c").write_text(crt)
    (tmp_path / "k").write_text(key)
    assert "CA:TRUE" in openssl("x509", "-in", str(tmp_path / "c"),
                                "-noout", "-text")
    assert openssl("pkey", "-in", str(tmp_path / "k"), "-pubout") == \
        openssl("x509", "-in", str(tmp_path / "c"), "-noout", "-pubkey")
    r = run(["ca", "create", "--secret", "--name", "my-ca", "--namespace",
             "tests"])
    doc = yaml.safe_load(r.stdout)
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == \
        ("my-ca", "tests")
    # Names that are not Kubernetes names (and could break the YAML).
    for bad in ("Bad", "a: b", "x\ny", "-x", ""):
        r = run(["ca", "create", "--secret", "--name", bad])
        assert r.returncode == 1 and r.stdout == "", bad


def test_ca_create_usage(tmp_path):
    for args in (["ca", "create"], ["ca", "create", "--out", "x",
                                    "--secret"],
                 ["ca", "create", "--name", "x", "--out", "y"],
                 ["ca", "create", "--bogus"], ["ca", "create", "extra"]):
        r = run(args, cwd=str(tmp_path))
        assert r.returncode == 1, args
    assert os.listdir(str(tmp_path)) == []


# --- notimock ca: the running server's CA ------------------------------------


def test_ca_fetches_the_running_servers_ca_and_touches_no_file(own_server,
                                                               tmp_path):
    srv = tls_server(own_server, "--tls-san", SVC)
    state = os.path.dirname(srv.db_path)
    pems = ("ca.pem", "ca-key.pem", "cert.pem", "key.pem")

    def snapshot():
        return {f: (os.stat(os.path.join(state, f)).st_mtime_ns,
                    open(os.path.join(state, f)).read()) for f in pems}
    before = snapshot()
    want = srv.req("GET", "/mock/ca.pem", token=None).body.decode()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    url = "http://127.0.0.1:%d" % srv.port
    r = run(["ca", "--url", url], cwd=str(cwd))
    assert (r.returncode, r.stdout) == (0, want), r.stderr
    r = run(["ca"], env={"NOTIMOCK_URL": url}, cwd=str(cwd))
    assert (r.returncode, r.stdout) == (0, want), r.stderr
    # Over https, trusting that CA.
    ca = cwd / "ca.pem"
    ca.write_text(want)
    r = run(["ca", "--url", "https://localhost:%d" % srv.tls_port,
             "--cacert", str(ca)], cwd=str(cwd))
    assert (r.returncode, r.stdout) == (0, want), r.stderr
    assert os.listdir(str(cwd)) == ["ca.pem"]
    assert snapshot() == before


def test_ca_with_no_server_fails_and_creates_nothing(tmp_path):
    """The trap of issue 13 item 6: `notimock ca` away from the server used
    to make a new, unrelated CA in the working directory."""
    r = run(["ca", "--url", "http://127.0.0.1:%d" % free_port()],
            cwd=str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    r = run(["ca"], env={"NOTIMOCK_URL": "http://127.0.0.1:%d" %
                         free_port()}, cwd=str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert os.listdir(str(tmp_path)) == []
    # Server options are not ca's.
    r = run(["ca", "--db", str(tmp_path / "x.db")], cwd=str(tmp_path))
    assert r.returncode == 2
    assert os.listdir(str(tmp_path)) == []


def test_ca_of_a_server_without_tls_says_so(own_server, tmp_path):
    srv = own_server()	# --tls-listen off
    r = run(["ca", "--url", "http://127.0.0.1:%d" % srv.port],
            cwd=str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert "TLS is off" in r.stderr


# --- the committed demo Secrets (docker/kind/) -------------------------------

KIND = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "docker", "kind")


def test_the_committed_demo_ca_secret_serves_the_service_names(own_server,
                                                              tmp_path):
    with open(os.path.join(KIND, "notimock-ca.yaml")) as f:
        doc = yaml.safe_load(f)
    assert (doc["kind"], doc["type"]) == ("Secret", "kubernetes.io/tls")
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == \
        ("notimock-ca", "notimock")
    crt, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    with open(crt, "w") as f:
        f.write(doc["stringData"]["tls.crt"])
    with open(key, "w") as f:
        f.write(doc["stringData"]["tls.key"])
    srv = tls_server(own_server, *ca_args(crt, key))
    status, _ = get_verified(srv.tls_port, crt, SVC)
    assert status == 200
    with open(os.path.join(KIND, "notimock-token.yaml")) as f:
        tok = yaml.safe_load(f)
    assert (tok["kind"], tok["type"]) == ("Secret", "Opaque")
    assert (tok["metadata"]["name"], tok["metadata"]["namespace"]) == \
        ("notimock-token", "notimock")
    assert tok["stringData"]["token"] == \
        "notimock-demo-token-change-me-0123456789"


# --- notimock argocd-config --------------------------------------------------

ARGOCD_DIR = os.path.join(KIND, "argocd")
DEMO_TOKEN = "notimock-demo-token-change-me-0123456789"
ARGOCD_FILES = ["argocd-notifications-cm.yaml",
                "argocd-notifications-secret.yaml",
                "argocd-tls-certs-cm.yaml", "application.yaml",
                "notificationsconfiguration.yaml", "values-helm.yaml",
                "kustomization.yaml"]
TEMPLATES = ["app-sync-succeeded-backstage", "app-sync-failed-backstage",
             "app-health-degraded-backstage", "app-deployed-backstage"]


def demo_ca(tmp_path):
    with open(os.path.join(KIND, "notimock-ca.yaml")) as f:
        doc = yaml.safe_load(f)["stringData"]
    crt, key = str(tmp_path / "demo.crt"), str(tmp_path / "demo.key")
    with open(crt, "w") as f:
        f.write(doc["tls.crt"])
    with open(key, "w") as f:
        f.write(doc["tls.key"])
    return crt, key


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def yamllint(path):
    r = subprocess.run(["yamllint", "-d", "relaxed", "-s", path],
                       capture_output=True, text=True, timeout=60)
    # -s: warnings fail too; relaxed only warns about long lines, which
    # the templates' one-line JSON needs.
    problems = [ln for ln in r.stdout.splitlines()
                if ("error" in ln or "warning" in ln) and
                "line-length" not in ln]
    assert not problems, r.stdout


# A small stand-in for Go's text/template with sprig, enough for the
# actions the templates use: .a.b paths, index, printf, toJson.
def go_render(text, data):
    import json
    import re
    import shlex

    def path(expr):
        v = data
        for part in expr.lstrip(".").split("."):
            v = v.get(part) if isinstance(v, dict) else None
        return v

    def arg(tok):
        if tok.startswith('"'):
            return json.loads(tok)
        return path(tok)

    def to_json(v):
        s = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        return s.replace("<", "\\u003c").replace(">", "\\u003e") \
            .replace("&", "\\u0026")

    def printf(fmt, *args):
        args = ["<nil>" if a is None else a for a in args]
        return re.sub(r"%[sv]", "{}", fmt.replace("{", "{{").replace(
            "}", "}}")).format(*args)

    def action(m):
        stages = [s.strip() for s in m.group(1).split(" | ")]
        lex = shlex.shlex(stages[0], posix=False)
        lex.whitespace_split = True
        toks = list(lex)
        if toks[0] == "index":
            v = (path(toks[1]) or {}).get(json.loads(toks[2]))
        elif toks[0] == "printf":
            v = printf(*[arg(t) for t in toks[1:]])
        else:
            assert len(toks) == 1, toks
            v = path(toks[0])
        for s in stages[1:]:
            assert s == "toJson", s
            return to_json(v)
        return "<no value>" if v is None else str(v)
    return re.sub(r"\{\{ (.*?) \}\}", action, text)


def hostile_app(entity="component:default/guestbook"):
    return {"metadata": {"name": "guestbook", "annotations": {
        "backstage.io/entity-ref": entity}},
        "status": {"health": {"status": "Degraded"},
                   "sync": {"revision": "0123abc"},
                   "operationState": {
                       "phase": "Failed",
                       "message": 'one or more objects failed: "svc" <x> &'
                                  '\n\ttab \\ back'}}}


def test_argocd_config_committed_files_do_not_drift(tmp_path):
    """docker/kind/argocd/ is argocd-config's output for the committed demo
    CA and token; NOTIMOCK_REGENERATE=1 rewrites it."""
    crt, _ = demo_ca(tmp_path)
    tok = tmp_path / "token"
    tok.write_text(load(os.path.join(KIND, "notimock-token.yaml"))
                   ["stringData"]["token"] + "\n")
    out = tmp_path / "out"
    if os.environ.get("NOTIMOCK_REGENERATE"):
        out = ARGOCD_DIR
    r = run(["argocd-config", "--token-file", str(tok), "--cacert", crt,
             "--out-dir", str(out)])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(str(out))) == sorted(ARGOCD_FILES)
    for name in ARGOCD_FILES:
        with open(os.path.join(str(out), name)) as f:
            fresh = f.read()
        with open(os.path.join(ARGOCD_DIR, name)) as f:
            assert f.read() == fresh, \
                "docker/kind/argocd/%s drifted from notimock argocd-config " \
                "(NOTIMOCK_REGENERATE=1 run-e2e -k drift rewrites it)" % name
        yamllint(os.path.join(str(out), name))
    assert out == ARGOCD_DIR or stat.S_IMODE(os.stat(os.path.join(
        str(out), "argocd-notifications-secret.yaml")).st_mode) == 0o600


def test_the_committed_argocd_files_deliver_to_notimock(own_server, tmp_path):
    """What Argo CD would do with the committed files, step by step: trust
    only the CA of argocd-tls-certs-cm for the webhook's host, send the
    token of argocd-notifications-secret with the service's headers, POST
    the rendered template to url + path.  notimock (given the demo CA and
    the service names) accepts it, and `notimock wait` sees it."""
    import json
    import urllib.parse
    crt, key = demo_ca(tmp_path)
    cm = load(os.path.join(ARGOCD_DIR, "argocd-notifications-cm.yaml"))
    secret = load(os.path.join(ARGOCD_DIR,
                               "argocd-notifications-secret.yaml"))
    tls = load(os.path.join(ARGOCD_DIR, "argocd-tls-certs-cm.yaml"))
    service = yaml.safe_load(cm["data"]["service.webhook.backstage"])
    context = yaml.safe_load(cm["data"]["context"])
    url = urllib.parse.urlsplit(service["url"])
    assert (url.scheme, url.hostname, url.port) == ("https", SVC, 7443)
    ca = tmp_path / "trusted.pem"
    ca.write_text(tls["data"][url.hostname])
    token = secret["stringData"]["backstage-token"]
    assert token == DEMO_TOKEN
    srv = tls_server(own_server, *ca_args(crt, key),
                     token=DEMO_TOKEN)
    app = hostile_app()
    for name in TEMPLATES:
        tpl = yaml.safe_load(cm["data"]["template." + name])
        hook = tpl["webhook"]["backstage"]	# the service's name
        assert hook["method"] == "POST"
        body = go_render(hook["body"], {"app": app, "context": context})
        doc = json.loads(body)
        assert doc["recipients"] == {"type": "entity",
                                     "entityRef": "component:default/guestbook"}
        assert doc["payload"]["link"] == \
            context["argocdUrl"] + "/applications/guestbook"
        target = service["url"].rstrip("/") + "/" + hook["path"].lstrip("/")
        assert target == "https://%s:7443/api/notifications/notifications" \
            % SVC
        headers = {h["name"]: h["value"].replace("$backstage-token", token)
                   for h in service["headers"]}
        ctx = ssl.create_default_context(cafile=str(ca))
        sock = socket.create_connection(("127.0.0.1", srv.tls_port),
                                        timeout=10)
        conn = http.client.HTTPSConnection(SVC, srv.tls_port, timeout=10,
                                           context=ctx)
        conn.sock = ctx.wrap_socket(sock, server_hostname=url.hostname)
        try:
            conn.request("POST", urllib.parse.urlsplit(target).path,
                         body.encode(), headers)
            r = conn.getresponse()
            answer = r.read()
        finally:
            conn.close()
        assert r.status == 200, (name, answer)
        w = run(["wait", "--url", "http://127.0.0.1:%d" % srv.port,
                 "--topic", doc["payload"]["topic"], "--status", "accepted",
                 "--timeout", "5s"])
        assert w.returncode == 0, (name, w.stdout, w.stderr)
    # The failure's message, quotes, tab and all, arrived intact.
    r = srv.req("GET", "/mock/deliveries?topic=argocd.sync.failed")
    assert r.status == 200
    (d,) = r.json()["deliveries"]
    msg = app["status"]["operationState"]["message"]
    assert d["payload"]["description"] == \
        "Application **guestbook** sync has failed.\n\n**Phase:** " \
        "Failed\n**Message:** " + msg
    assert d["payload"]["severity"] == "high"
    assert d["status"] == 200


def test_argocd_config_variants_say_the_same(tmp_path):
    crt, _ = demo_ca(tmp_path)
    args = ["argocd-config", "--token", DEMO_TOKEN, "--cacert", crt]
    r = run(args)
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "argocd-notifications-cm"),
        ("Secret", "argocd-notifications-secret"),
        ("ConfigMap", "argocd-tls-certs-cm"),
        ("Application", "guestbook")]
    assert {d["metadata"]["namespace"] for d in docs} == {"argocd"}
    cm = docs[0]["data"]
    assert sorted(k for k in cm if k.startswith("template.")) == \
        sorted("template." + t for t in TEMPLATES)
    assert sorted(k for k in cm if k.startswith("trigger.")) == \
        sorted("trigger.on-" + t[4:] for t in TEMPLATES)
    for t in TEMPLATES:
        trig = yaml.safe_load(cm["trigger.on-" + t[4:]])
        assert trig[0]["send"] == [t]
    ann = docs[3]["metadata"]["annotations"]
    assert ann["backstage.io/entity-ref"] == "component:default/guestbook"
    for t in TEMPLATES:
        assert ann["notifications.argoproj.io/subscribe.on-%s.backstage"
                   % t[4:]] == ""
    with open(crt) as f:
        assert docs[2]["data"] == {SVC: f.read()}

    # OpenShift GitOps: the NotificationsConfiguration carries the same.
    r = run(args + ["--openshift"])
    assert r.returncode == 0, r.stderr
    odocs = list(yaml.safe_load_all(r.stdout))
    nc = odocs[0]
    assert (nc["kind"], nc["metadata"]["name"], nc["metadata"]["namespace"]) \
        == ("NotificationsConfiguration",
            "default-notifications-configuration", "openshift-gitops")
    spec = nc["spec"]
    assert spec["context"] == yaml.safe_load(cm["context"])
    assert spec["services"] == {"service.webhook.backstage":
                                cm["service.webhook.backstage"]}
    assert spec["templates"] == {k: v for k, v in cm.items()
                                 if k.startswith("template.")}
    assert spec["triggers"] == {k: v for k, v in cm.items()
                                if k.startswith("trigger.")}
    assert {d["metadata"]["namespace"] for d in odocs} == \
        {"openshift-gitops"}

    # The argo-cd chart's values: what its templates turn into the same.
    r = run(args + ["--helm"])
    assert r.returncode == 0, r.stderr
    v = yaml.safe_load(r.stdout)
    n = v["notifications"]
    assert n["argocdUrl"] == yaml.safe_load(cm["context"])["argocdUrl"]
    assert n["notifiers"] == {"service.webhook.backstage":
                              cm["service.webhook.backstage"]}
    assert n["secret"]["items"] == {"backstage-token": DEMO_TOKEN}
    assert n["templates"] == spec["templates"]
    assert n["triggers"] == spec["triggers"]
    assert v["configs"]["tls"]["certificates"] == docs[2]["data"]

    # A CA saved with CRLF line ends gives the same YAML.
    crlf = tmp_path / "crlf.pem"
    with open(crt) as f:
        crlf.write_bytes(f.read().replace("\n", "\r\n").encode())
    r2 = run(["argocd-config", "--token", DEMO_TOKEN, "--cacert", str(crlf)])
    assert r2.returncode == 0, r2.stderr
    assert list(yaml.safe_load_all(r2.stdout))[2] == docs[2]

    # Flags reach the output.
    r = run(args + ["--url", "https://notimock.tests.svc:8443/api/notifications",
                    "--argocd-url", "https://argocd.tests.example",
                    "--namespace", "gitops", "--entity-ref",
                    'component:default/"odd"'])
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    assert {d["metadata"]["namespace"] for d in docs} == {"gitops"}
    assert list(docs[2]["data"]) == ["notimock.tests.svc"]
    assert yaml.safe_load(docs[0]["data"]["context"]) == \
        {"argocdUrl": "https://argocd.tests.example"}
    assert docs[3]["metadata"]["annotations"]["backstage.io/entity-ref"] == \
        'component:default/"odd"'


def test_argocd_config_hostile_token_round_trips(tmp_path):
    crt, _ = demo_ca(tmp_path)
    for token in ['a"b\\c: d # e', "x'y$z{{ .w }}", "tab\there"]:
        r = run(["argocd-config", "--helm", "--token", token, "--cacert",
                 crt])
        assert r.returncode == 0, r.stderr
        v = yaml.safe_load(r.stdout)
        assert v["notifications"]["secret"]["items"]["backstage-token"] == \
            token


def test_argocd_config_from_a_running_server(own_server, tmp_path):
    crt, key = make_ca(tmp_path)
    srv = tls_server(own_server, *ca_args(crt, key), "--admin-token",
                     "admin-token-0123456789")
    r = run(["argocd-config", "--token", DEMO_TOKEN, "--from",
             "http://127.0.0.1:%d" % srv.port, "--admin-token",
             "admin-token-0123456789"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    with open(crt) as f:
        assert docs[2]["data"] == {SVC: f.read()}
    # Nothing listening: a clear error, nothing printed.
    r = run(["argocd-config", "--token", DEMO_TOKEN, "--from",
             "http://127.0.0.1:%d" % free_port()])
    assert r.returncode == 1 and r.stdout == ""
    assert "127.0.0.1" in r.stderr


def test_argocd_config_refuses_what_would_not_work(tmp_path):
    crt, key = demo_ca(tmp_path)
    base = ["argocd-config", "--token", DEMO_TOKEN, "--cacert", crt]
    for args, words in (
            (["argocd-config", "--cacert", crt], "--token"),
            (["argocd-config", "--token", "t0123456"], "--cacert"),
            (base + ["--url", "http://notimock.notimock.svc:7007/api/"
                     "notifications"], "https"),
            (base + ["--url", "https://$host/api/notifications"], "https"),
            (base + ["--url", "https://[::1]:7443/api/notifications"],
             "host"),
            (base + ["--namespace", "Bad NS"], "namespace"),
            (base + ["--argocd-url", 'https://x"y'], "--argocd-url"),
            (base + ["--helm", "--openshift"], "exclude"),
            (["argocd-config", "--token", DEMO_TOKEN, "--cacert", key],
             key),
            (["argocd-config", "--token", DEMO_TOKEN, "--cacert",
              str(tmp_path / "missing.pem")], "missing.pem"),
            (["argocd-config", "--token-file", str(tmp_path / "none"),
              "--cacert", crt], "none"),
            (base + ["extra"], "extra")):
        r = run(args)
        assert r.returncode == 1 and r.stdout == "", args
        assert words in r.stderr, (args, r.stderr)
    # A leaf is not a CA to trust for the host.
    leaf, leafkey = str(tmp_path / "leaf.crt"), str(tmp_path / "leaf.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", leafkey,
            "-out", leaf, "-days", "30", "-subj", "/CN=leaf",
            "-addext", "basicConstraints=critical,CA:FALSE")
    r = run(["argocd-config", "--token", DEMO_TOKEN, "--cacert", leaf])
    assert r.returncode == 1 and "not a CA" in r.stderr


def test_argocd_config_passes_on_only_the_certificates(tmp_path):
    """mbedTLS ignores text after the last PEM block, and YAML ends a line
    at U+2028 or NEL, so a CA file with such a tail put its own top-level
    keys into the output (Helm values that set anything).  Only the
    certificates, re-encoded, go out."""
    crt, _ = demo_ca(tmp_path)
    with open(crt) as f:
        pem = f.read()
    evil = tmp_path / "evil.pem"
    evil.write_text(pem + "x\u2028evil: 1\u2028configs: {secret: {x: pwned}}"
                    "\n\u0085nel: 2\n\x1b]0;title\x07\n", encoding="utf-8")
    for variant in ([], ["--helm"], ["--openshift"]):
        r = run(["argocd-config", "--token", DEMO_TOKEN, "--cacert",
                 str(evil)] + variant)
        assert r.returncode == 0, r.stderr
        assert "evil" not in r.stdout and "pwned" not in r.stdout
        assert "\x1b" not in r.stdout
        docs = list(yaml.safe_load_all(r.stdout))
        if variant == ["--helm"]:
            (v,) = docs
            assert sorted(v) == ["configs", "notifications"]
            assert v["configs"] == {"tls": {"certificates": {SVC: pem}}}
        else:
            assert [sorted(d) for d in docs] == [
                sorted(["apiVersion", "kind", "metadata",
                        "spec" if variant else "data"]),
                ["apiVersion", "kind", "metadata", "stringData", "type"],
                ["apiVersion", "data", "kind", "metadata"],
                ["apiVersion", "kind", "metadata", "spec"]]
            assert docs[2]["data"] == {SVC: pem}
    # Text before the first block (openssl pkcs12's "Bag Attributes"
    # lines) is dropped the same way.
    evil.write_text("Bag Attributes\n    friendlyName: x\n" + pem)
    r = run(["argocd-config", "--token", DEMO_TOKEN, "--cacert", str(evil)])
    assert r.returncode == 0, r.stderr
    assert list(yaml.safe_load_all(r.stdout))[2]["data"] == {SVC: pem}


def test_ca_prints_only_the_certificates_it_was_served(tmp_path):
    """`notimock ca --url` of something that is not notimock: the answer's
    text beyond the certificate (terminal escapes here) is not printed."""
    import http.server
    import threading
    crt, _ = demo_ca(tmp_path)
    with open(crt) as f:
        pem = f.read()
    answer = (pem + "\x1b]0;owned\x07\x1b[2J\u2028more\n").encode()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        r = run(["ca", "--url", url])
        assert (r.returncode, r.stdout) == (0, pem), r.stderr
        r = run(["argocd-config", "--token", DEMO_TOKEN, "--from", url])
        assert r.returncode == 0, r.stderr
        assert list(yaml.safe_load_all(r.stdout))[2]["data"] == {SVC: pem}
    finally:
        srv.shutdown()
        srv.server_close()


def test_argocd_config_out_dir_makes_token_files_private_again(tmp_path):
    """open() keeps the mode of a file that exists: regenerating into a
    checkout (files 0644) left the token world-readable."""
    crt, _ = demo_ca(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for name in ARGOCD_FILES:
        (out / name).write_text("old\n")
        os.chmod(str(out / name), 0o644)
    r = run(["argocd-config", "--token", "a-real-token-0123456789",
             "--cacert", crt, "--out-dir", str(out)])
    assert r.returncode == 0, r.stderr
    for name in ARGOCD_FILES:
        mode = stat.S_IMODE(os.stat(str(out / name)).st_mode)
        secret = name in ("argocd-notifications-secret.yaml",
                          "values-helm.yaml")
        assert mode == (0o600 if secret else 0o644), (name, oct(mode))
        text = (out / name).read_text()
        assert ("a-real-token-0123456789" in text) == secret, name
