"""image_test.py (run by tests/docker/run-image): build notimock's image with docker/build and run it the way
docker/kind/deployment.yaml says, without Docker, kind or a registry.

Reports TAP on stdout (automake's tap-driver); details go to stderr.

1. docker/build writes a docker-archive tagged notimock:VERSION; its config
   says what docker/Dockerfile promises (user, ports, environment,
   HEALTHCHECK in exec form, entrypoint) and its layers hold a static
   binary, /data owned by 65532 and /tmp 1777.
2. In a network + mount namespace made here (`unshare -mn`: loopback only),
   the layers are unpacked into a root that is then mounted read-only; a
   mini-kubelet reads the committed Deployment and mounts what it says:
   the notimock-ca Secret's files (its defaultMode, group fsGroup), emptyDir
   /data and /tmp, an /etc/hosts mapping the Service's DNS names to
   127.0.0.1, and /dev's null, zero, random, urandom.  The ENTRYPOINT runs
   chrooted, as runAsUser:runAsGroup with fsGroup, with the image's ENV plus
   the container's env (secretKeyRef from the committed Secret).
3. The image's HEALTHCHECK command exits 0.  Argo CD's request, the exact
   bytes its notifications engine writes for the committed
   template.app-deployed-backstage about the committed Application, goes to
   the URL of the committed argocd-notifications-cm with the token of the
   committed argocd-notifications-secret, over TLS that trusts only the CA
   of the committed argocd-tls-certs-cm (checked host name, never -k);
   `notimock wait`, the image's own binary, asserts the delivery over the
   same TLS.  Then a restart on a fresh emptyDir: same CA, still verified.

Environment: NOTIMOCK_SRCDIR (the source tree), NOTIMOCK_IMAGE (use this
docker-archive instead of building one), NOTIMOCK_IMAGE_CACHE (passed on to
docker/build).  Needs root, or sudo without a password (namespaces, chroot, mounts).
"""

import base64
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

SRCDIR = os.path.abspath(os.environ.get("NOTIMOCK_SRCDIR") or
                         os.path.join(os.path.dirname(__file__), "..", ".."))
KIND = os.path.join(SRCDIR, "docker", "kind")
INNER = "NOTIMOCK_IMAGE_TEST_INNER"
TIME_LIMIT = 240		# seconds for the namespace part, whatever happens

sys.path.insert(0, os.path.join(SRCDIR, "tests", "e2e"))
import yaml  # noqa: E402  (python3-yaml)
import diag_helpers  # noqa: E402  (the e2e tests' Argo CD sender)

_n = 0


def tap(ok, what, detail=""):
    global _n
    _n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", _n, what), flush=True)
    if not ok:
        for line in str(detail).splitlines() or [""]:
            print("# " + line, flush=True)
        log("FAILED: %s\n%s" % (what, detail))
    return ok


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def bail(why):
    print("Bail out! " + why.replace("\n", " "), flush=True)
    sys.exit(1)


def version():
    with open(os.path.join(SRCDIR, "configure.ac")) as f:
        for line in f:
            if line.startswith("AC_INIT("):
                return line.split("[")[2].split("]")[0]
    bail("no AC_INIT in configure.ac")


def docs(name):
    with open(os.path.join(KIND, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def doc(name, kind=None):
    found = [d for d in docs(name) if kind is None or d.get("kind") == kind]
    if len(found) != 1:
        bail("%s: expected one %s" % (name, kind or "document"))
    return found[0]


def secret_data(secret):
    """A Secret's keys as bytes: data (base64) and stringData."""
    out = {k: base64.b64decode(v) for k, v in
           (secret.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in
                (secret.get("stringData") or {}).items()})
    return out


def kustomize_secrets():
    """The Secrets docker/kind's kustomization applies, by name."""
    kz = doc("kustomization.yaml")
    out = {}
    for res in kz["resources"]:
        for d in docs(res):
            if d.get("kind") == "Secret":
                out[d["metadata"]["name"]] = d
    return out


# --- 1. the image -----------------------------------------------------------

def elf_interp(data):
    """The ELF program interpreter (None for a static binary)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p = phoff + i * phentsize
        ptype, = struct.unpack_from("<I", data, p)
        if ptype == 3:		# PT_INTERP
            off, = struct.unpack_from("<Q", data, p + 8)
            size, = struct.unpack_from("<Q", data, p + 32)
            return data[off:off + size].rstrip(b"\0").decode()
    return None


def unpack(archive, rootfs):
    """Apply a docker-archive's layers in order; returns its config."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(name)) as layer:
                for m in layer.getmembers():
                    base = os.path.basename(m.name)
                    if base.startswith(".wh."):	# whiteouts
                        gone = os.path.join(rootfs, os.path.dirname(m.name),
                                            base[4:])
                        shutil.rmtree(gone, ignore_errors=True)
                        continue
                    layer.extract(m, rootfs, numeric_owner=True)
    return manifest, config


def check_image(archive, rootfs):
    manifest, config = unpack(archive, rootfs)
    c = config["config"]
    tag = "notimock:" + version()
    tap(any(t in (tag, "docker.io/library/" + tag)
            for t in manifest.get("RepoTags") or []),
        "the archive is tagged %s" % tag, manifest.get("RepoTags"))
    env = dict(e.split("=", 1) for e in c.get("Env") or [])
    want = {"NOTIMOCK_LISTEN": "0.0.0.0:7007",
            "NOTIMOCK_TLS_LISTEN": "0.0.0.0:7443",
            "NOTIMOCK_DB": "/data/notimock.db"}
    tap(all(env.get(k) == v for k, v in want.items()),
        "ENV defaults: listen on all interfaces, database under /data", env)
    tap(c.get("User") == "65532:65532", "USER 65532:65532", c.get("User"))
    tap(sorted(c.get("ExposedPorts") or {}) == ["7007/tcp", "7443/tcp"],
        "EXPOSE 7007 7443", c.get("ExposedPorts"))
    tap(c.get("Entrypoint") == ["/notimock"], "ENTRYPOINT [\"/notimock\"]",
        c.get("Entrypoint"))
    hc = (c.get("Healthcheck") or {}).get("Test")
    tap(hc == ["CMD", "/notimock", "ready"],
        "HEALTHCHECK in exec form: /notimock ready (kept by --format docker)",
        hc)
    with open(os.path.join(rootfs, "notimock"), "rb") as f:
        binary = f.read()
    interp = elf_interp(binary)
    tap(interp is None, "/notimock is a static executable",
        "program interpreter: %s" % interp)
    st = os.stat(os.path.join(rootfs, "data"))
    tap((st.st_uid, st.st_gid) == (65532, 65532), "/data owned by 65532",
        (st.st_uid, st.st_gid))
    st = os.stat(os.path.join(rootfs, "tmp"))
    tap(st.st_mode & 0o7777 == 0o1777, "/tmp is 1777", oct(st.st_mode))
    entries = sorted(os.listdir(rootfs))
    tap(entries == ["data", "notimock", "tmp"],
        "nothing else in the image (FROM scratch)", entries)
    size = sum(os.path.getsize(os.path.join(d, f))
               for d, _, fs in os.walk(rootfs) for f in fs)
    log("image content: %d bytes; archive: %d bytes"
        % (size, os.path.getsize(archive)))
    tap(size < 6 << 20, "the image holds under 6 MB (%.1f MB)" % (size / 1e6))
    return c


# --- 2. a pod, by hand ------------------------------------------------------

def die_with_parent():
    """Children get SIGKILL when this process dies (the time limit, a
    crash): no server outlives the test in its namespace."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)	# PR_SET_PDEATHSIG


class TimeLimit(Exception):
    pass


def time_limit(signum, frame):
    raise TimeLimit("the image test ran out of time (%d s)" % TIME_LIMIT)


def run(*argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def lo_up():
    """ip link set lo up, without iproute2."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = struct.pack("16sh", b"lo", 0)
    flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, ifr))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))
    s.close()


class Pod:
    """The Deployment's one container, run chrooted in this namespace."""

    def __init__(self, work, rootfs, config):
        self.work, self.root, self.config = work, rootfs, config
        dep = doc("deployment.yaml", "Deployment")
        spec = dep["spec"]["template"]["spec"]
        self.spec = spec
        self.ctr = spec["containers"][0]
        psc = spec.get("securityContext") or {}
        csc = self.ctr.get("securityContext") or {}
        self.uid = csc.get("runAsUser", psc.get("runAsUser"))
        self.gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        self.fsgroup = psc.get("fsGroup")
        self.readonly = csc.get("readOnlyRootFilesystem")
        self.secrets = kustomize_secrets()
        self.proc = None
        self.runs = 0

    def env(self):
        env = dict(e.split("=", 1) for e in self.config.get("Env") or [])
        for e in self.ctr.get("env") or []:
            if "value" in e:
                env[e["name"]] = e["value"]
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = secret_data(
                    self.secrets[ref["name"]])[ref["key"]].decode()
        return env

    def mountpoint(self, path, is_dir=True):
        p = os.path.join(self.root, path.lstrip("/"))
        if is_dir:
            os.makedirs(p, exist_ok=True)
        elif not os.path.exists(p):
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").close()
        return p

    def prepare(self):
        """Mount points first (the root becomes read-only), then /dev and
        /etc/hosts as a container runtime and the kubelet provide them."""
        vols = {v["name"]: v for v in self.spec["volumes"]}
        for m in self.ctr["volumeMounts"]:
            self.mountpoint(m["mountPath"])
        devs = ("null", "zero", "random", "urandom")
        for d in devs:
            self.mountpoint("/dev/" + d, is_dir=False)
        self.mountpoint("/etc/hosts", is_dir=False)
        run("mount", "--bind", self.root, self.root)
        if self.readonly:
            run("mount", "-o", "remount,bind,ro", self.root)
        for d in devs:
            run("mount", "--bind", "/dev/" + d,
                self.mountpoint("/dev/" + d, is_dir=False))
        hosts = os.path.join(self.work, "hosts")
        svc = doc("service.yaml", "Service")["metadata"]
        n, ns = svc["name"], svc["namespace"]
        names = ["%s.%s.svc.cluster.local" % (n, ns), "%s.%s.svc" % (n, ns),
                 "%s.%s" % (n, ns), n]
        with open(hosts, "w") as f:
            f.write("127.0.0.1\tlocalhost\n::1\tlocalhost\n"
                    "127.0.0.1\t%s\n" % " ".join(names))
        run("mount", "--bind", hosts, self.mountpoint("/etc/hosts", False))
        # The sender (this process) resolves through the same file.
        run("mount", "--bind", hosts, "/etc/hosts")
        # Secrets: the kubelet writes the keys with defaultMode, group
        # fsGroup, and mounts them read-only.
        for m in self.ctr["volumeMounts"]:
            v = vols[m["name"]]
            if "secret" in v:
                d = os.path.join(self.work, "secret-" + m["name"])
                os.makedirs(d)
                mode = v["secret"].get("defaultMode", 0o644)
                data = secret_data(self.secrets[v["secret"]["secretName"]])
                for k, val in data.items():
                    p = os.path.join(d, k)
                    with open(p, "wb") as f:
                        f.write(val)
                    os.chown(p, 0, self.fsgroup if self.fsgroup else 0)
                    os.chmod(p, mode)
                run("mount", "--bind", "-o", "ro", d,
                    self.mountpoint(m["mountPath"]))
                run("mount", "-o", "remount,bind,ro",
                    self.mountpoint(m["mountPath"]))
        self.vols, self.emptydirs = vols, []

    def mount_emptydirs(self):
        """Fresh emptyDirs, as a new pod gets: 0777 (setgid, group fsGroup
        when set); medium Memory is a tmpfs."""
        for p in self.emptydirs:
            run("umount", p)
        self.emptydirs = []
        self.runs += 1
        for m in self.ctr["volumeMounts"]:
            v = self.vols[m["name"]]
            if "emptyDir" not in v:
                continue
            target = os.path.join(self.root, m["mountPath"].lstrip("/"))
            ed = v["emptyDir"] or {}
            if ed.get("medium") == "Memory":
                size = ed.get("sizeLimit", "64Mi").replace("Mi", "m")
                run("mount", "-t", "tmpfs", "-o", "size=%s,mode=1777" % size,
                    "tmpfs", target)
            else:
                d = os.path.join(self.work, "emptydir-%s-%d"
                                 % (m["name"], self.runs))
                os.makedirs(d)
                os.chmod(d, 0o777)
                if self.fsgroup:
                    os.chown(d, 0, self.fsgroup)
                    os.chmod(d, 0o2777)
                run("mount", "--bind", d, target)
            self.emptydirs.append(target)

    def chroot(self, argv, **kw):
        groups = [str(self.fsgroup)] if self.fsgroup else []
        cmd = ["chroot", "--userspec=%d:%d" % (self.uid, self.gid),
               "--groups=" + ",".join(groups), self.root] + list(argv)
        return cmd

    def start(self):
        self.mount_emptydirs()
        argv = (self.config.get("Entrypoint") or []) + \
            (self.config.get("Cmd") or [])
        self.logf = open(os.path.join(self.work, "server-%d.log" % self.runs),
                         "w+")
        self.proc = subprocess.Popen(self.chroot(argv), env=self.env(),
                                     stdout=self.logf, stderr=self.logf,
                                     cwd="/", preexec_fn=die_with_parent)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def server_log(self):
        self.logf.seek(0)
        return self.logf.read()[-3000:]

    def exec(self, argv, env=None, timeout=60):
        return subprocess.run(self.chroot(argv), env=env or self.env(),
                              capture_output=True, text=True,
                              timeout=timeout, cwd="/",
                              preexec_fn=die_with_parent)

    def healthcheck(self, deadline=30.0):
        """Docker's loop: the HEALTHCHECK command until it passes (or the
        server is gone, or the deadline passed)."""
        test = (self.config.get("Healthcheck") or {}).get("Test") or []
        argv = test[1:] if test[:1] == ["CMD"] else test
        end = time.monotonic() + deadline
        while True:
            r = self.exec(argv)
            if r.returncode == 0 or time.monotonic() > end or \
                    self.proc.poll() is not None:
                return r
            time.sleep(0.2)


# --- 3. Argo CD's side ------------------------------------------------------

def argocd_request():
    """The committed Argo CD objects: the request its notifications engine
    writes for template.app-deployed-backstage about the committed
    Application; the URL, and the CA it trusts for that host."""
    cm = doc("argocd/argocd-notifications-cm.yaml", "ConfigMap")["data"]
    secret = secret_data(doc("argocd/argocd-notifications-secret.yaml",
                             "Secret"))
    tls = doc("argocd/argocd-tls-certs-cm.yaml", "ConfigMap")["data"]
    app_doc = doc("argocd/application.yaml", "Application")
    service = yaml.safe_load(cm["service.webhook.backstage"])
    context = yaml.safe_load(cm.get("context") or "{}") or {}
    template = yaml.safe_load(cm["template.app-deployed-backstage"])
    argocd = diag_helpers.ArgoCD(
        service["url"], [(h["name"], h["value"])
                         for h in service.get("headers") or []],
        secrets=secret, context=context)
    app = diag_helpers.application(
        name=app_doc["metadata"]["name"], phase="Succeeded",
        entity_ref=app_doc["metadata"]["annotations"][
            "backstage.io/entity-ref"])
    app["metadata"]["annotations"] = dict(app_doc["metadata"]["annotations"])
    app["spec"] = app_doc["spec"]
    app["status"]["health"]["status"] = "Healthy"
    raw = argocd.request(template, app)
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    host = urllib.parse.urlsplit(argocd.url).hostname
    return argocd.url, raw, body, tls[host], host


def send_tls(url, raw, ca_pem):
    """raw to url's host and port, over TLS trusting ca_pem and nothing
    else, host name checked; returns (status, body)."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cadata=ca_pem)
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((u.hostname, u.port or 443), 10) as s:
        with ctx.wrap_socket(s, server_hostname=u.hostname) as t:
            t.sendall(raw)
            got = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                got += chunk
                try:
                    status, _, body = diag_helpers.parse_response(got)
                    return status, body
                except Exception:
                    continue
    return diag_helpers.parse_response(got)[0::2]


def inner(archive, work):
    signal.signal(signal.SIGALRM, time_limit)
    signal.alarm(TIME_LIMIT)
    inner.pod = None
    try:
        serve_and_send(archive, work)
    except TimeLimit as e:
        tap(False, str(e))
    finally:
        if inner.pod is not None:
            inner.pod.stop()


def serve_and_send(archive, work):
    rootfs = os.path.join(work, "rootfs")
    os.makedirs(rootfs)
    config = check_image(archive, rootfs)

    lo_up()
    ifs = sorted(n for _, n in socket.if_nameindex())
    tap(ifs == ["lo"], "the test's network namespace has loopback only", ifs)

    pod = Pod(work, rootfs, config)
    inner.pod = pod
    pod.prepare()
    probe = pod.ctr["readinessProbe"]["httpGet"]["path"]
    tap(probe == "/.backstage/health/v1/readiness",
        "the readiness probe asks Backstage's readiness path", probe)
    url, raw, body, ca_pem, host = argocd_request()
    log("Argo CD's request to %s:\n%s" % (url, raw.decode(errors="replace")))
    svc = doc("service.yaml", "Service")
    port = urllib.parse.urlsplit(url).port
    target = [p for p in svc["spec"]["ports"] if p["port"] == port]
    cports = {p["name"]: p["containerPort"] for p in pod.ctr["ports"]}
    tap(len(target) == 1 and cports.get(target[0]["targetPort"]) == port,
        "the webhook's port %s reaches the container's same port" % port,
        (target, cports))
    # Where `notimock wait` reads the CA Argo CD trusts: the pod's /tmp.
    entity = body["recipients"]["entityRef"]
    topic = body["payload"]["topic"]
    base = "%s://%s" % (urllib.parse.urlsplit(url).scheme,
                        urllib.parse.urlsplit(url).netloc)

    for round_ in (1, 2):
        what = "first start" if round_ == 1 else \
            "restart on a fresh emptyDir"
        pod.start()
        with open(os.path.join(rootfs, "tmp", "argocd-ca.pem"), "w") as f:
            f.write(ca_pem)
        st = None
        try:
            with open("/proc/%d/status" % pod.proc.pid) as f:
                st = f.read()
        except OSError:
            pass
        r = pod.healthcheck()
        if not tap(r.returncode == 0,
                   "%s: the HEALTHCHECK command exits 0" % what,
                   "exit %s\n%s%s\nserver log:\n%s" % (
                       r.returncode, r.stdout, r.stderr, pod.server_log())):
            pod.stop()
            continue
        # the server's own process, after exec: read again now it runs
        try:
            with open("/proc/%d/status" % pod.proc.pid) as f:
                st = f.read()
        except OSError:
            st = st or ""
        uids = [ln.split()[1:] for ln in st.splitlines()
                if ln.startswith(("Uid:", "Gid:"))]
        tap(uids == [["65532"] * 4] * 2,
            "%s: the server runs as 65532:65532" % what, uids)
        try:
            status, answer = send_tls(url, raw, ca_pem)
        except (OSError, ssl.SSLError) as e:
            status, answer = None, repr(e)
        tap(status == 200,
            "%s: Argo CD's deployed notification to %s, trusting only "
            "argocd-tls-certs-cm[%s], is accepted" % (what, url, host),
            "%s %r\nserver log:\n%s" % (status, answer, pod.server_log()))
        w = pod.exec(["/notimock", "wait", "--url", base,
                      "--cacert", "/tmp/argocd-ca.pem",
                      "--entity", entity, "--topic", topic,
                      "--status", "accepted", "--count", "1",
                      "--timeout", "20s"])
        tap(w.returncode == 0,
            "%s: notimock wait (the image's binary, over that TLS) sees it"
            % what, "exit %d\n%s%s" % (w.returncode, w.stdout, w.stderr))
        log(w.stdout)
        db = os.path.join(rootfs, "data", "notimock.db")
        tap(os.path.exists(db), "%s: the database is on the /data emptyDir"
            % what, os.listdir(os.path.join(rootfs, "data")))
        pod.stop()
    log("server log (last run):\n" + pod.server_log())


def main():
    if os.environ.get(INNER):
        inner(os.environ["NOTIMOCK_IMAGE"], os.environ[INNER])
        print("1..%d" % _n, flush=True)
        return
    if os.geteuid() != 0:
        # CI machines that are not root have sudo (scripts/deps uses it).
        try:
            sudo = subprocess.run(["sudo", "-n", "true"],
                                  capture_output=True).returncode == 0
        except OSError:		# no sudo
            sudo = False
        if sudo:
            os.execvp("sudo", ["sudo", "-n", "-E", sys.executable,
                               os.path.abspath(__file__)])
        print("1..0")
        bail("the image test needs root or sudo (namespaces, chroot, mounts)")
    work = tempfile.mkdtemp(prefix="notimock-image.")
    try:
        archive = os.environ.get("NOTIMOCK_IMAGE")
        if not archive:
            archive = os.path.join(work, "notimock-image.tar")
            t = time.monotonic()
            r = subprocess.run([os.path.join(SRCDIR, "docker", "build"),
                                "-o", archive], stdout=sys.stderr)
            log("docker/build took %.0f s" % (time.monotonic() - t))
            if r.returncode != 0:
                print("1..0")
                bail("docker/build failed (exit %d)" % r.returncode)
        env = dict(os.environ, NOTIMOCK_IMAGE=os.path.abspath(archive))
        env[INNER] = work
        r = subprocess.run(["unshare", "--mount", "--net", "--propagation",
                            "private", sys.executable,
                            os.path.abspath(__file__)], env=env,
                           timeout=TIME_LIMIT + 30)
        sys.exit(r.returncode)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
