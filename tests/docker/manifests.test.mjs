// manifests.test.mjs: every YAML file under docker/ passes yamllint (the
// repository's .yamllint), every Kubernetes object validates offline
// against the real schemas (kubernetes-models; Argo CD's Application with
// @kubernetes-models/argo-cd), the objects without a published model are
// checked structurally, and together they make one deployment: the names of
// CLUSTER-NAMES (Service notimock.notimock.svc, Secrets, ports, image tag)
// agree across files.  Shell scripts pass shellcheck.  Run by
// tests/docker/run-manifests (node --test, TAP).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const src = process.env.NOTIMOCK_SRCDIR ||
	path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const dockerDir = path.join(src, "docker");
const kindDir = path.join(dockerDir, "kind");

function walk(dir) {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
		e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}
const yamlFiles = walk(dockerDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const rel = (f) => path.relative(src, f);

// kubectl reads YAML 1.1 (sigs.k8s.io/yaml): so do we.
function load(file) {
	const docs = parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" });
	for (const d of docs) {
		if (d.errors.length) throw new Error(`${rel(file)}: ${d.errors[0].message}`);
	}
	return docs.map((d) => d.toJS()).filter((d) => d != null);
}

// Kubernetes objects by file: everything under docker/kind except the
// kustomizations and the Helm values (not objects).
const objects = [];
for (const f of yamlFiles) {
	if (!f.startsWith(kindDir + path.sep)) continue;	// compose.yaml
	for (const obj of load(f)) {
		if (obj.kind === "Kustomization" || !obj.apiVersion) continue;
		objects.push({ file: rel(f), obj });
	}
}
const find = (kind, name) => {
	const hits = objects.filter((o) => o.obj.kind === kind &&
		(name === undefined || o.obj.metadata?.name === name));
	assert.equal(hits.length, 1, `one ${kind} ${name ?? ""} under docker/kind`);
	return hits[0].obj;
};
const secretData = (s) => {
	const out = {};
	for (const [k, v] of Object.entries(s.data || {})) out[k] = Buffer.from(v, "base64").toString();
	Object.assign(out, s.stringData || {});
	return out;
};
const parseYaml = (text) => {
	const docs = parseAllDocuments(text, { version: "1.1" });
	assert.equal(docs.length, 1);
	assert.deepEqual(docs[0].errors, []);
	return docs[0].toJS();
};

// A tool's complaints, in the failure message.
function tool(cmd, args) {
	try {
		execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
	} catch (e) {
		throw new Error(`${cmd} ${args.join(" ")}: ${e.status ?? e.code}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
	}
}

// --- yamllint ---------------------------------------------------------------
for (const f of yamlFiles) {
	test(`yamllint ${rel(f)}`, () => {
		tool("yamllint", ["--strict", "-c", path.join(src, ".yamllint"), f]);
	});
}

// --- shellcheck -------------------------------------------------------------
for (const f of [path.join(dockerDir, "build"), path.join(kindDir, "e2e.sh")]) {
	test(`shellcheck ${rel(f)}`, () => {
		tool("shellcheck", [f]);
	});
}

// --- schemas ----------------------------------------------------------------
// kubernetes-models: one module per apiVersion and kind.
async function model(apiVersion, kind) {
	if (apiVersion === "argoproj.io/v1alpha1" && kind === "Application") {
		return (await import("@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application")).Application;
	}
	const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
	const mod = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
	try {
		return (await import(mod))[kind];
	} catch (e) {
		return null;
	}
}

for (const { file, obj } of objects) {
	test(`${file}: ${obj.kind} ${obj.metadata?.name} validates against its schema`, async () => {
		const M = await model(obj.apiVersion, obj.kind);
		if (obj.kind === "NotificationsConfiguration") {
			// The OpenShift GitOps operator's CRD (argoproj.io/v1alpha1) has
			// no published model: check its schema's shape by hand. spec is
			// context/services/templates/triggers/subscriptions, each a map
			// of strings; service, template and trigger values are YAML.
			assert.equal(obj.apiVersion, "argoproj.io/v1alpha1");
			const allowed = ["context", "services", "templates", "triggers", "subscriptions"];
			for (const [k, v] of Object.entries(obj.spec)) {
				assert.ok(allowed.includes(k), `spec.${k} is not in the CRD`);
				for (const [kk, vv] of Object.entries(v)) {
					assert.equal(typeof vv, "string", `spec.${k}.${kk} must be a string`);
				}
			}
			for (const [k, prefix] of [["services", "service."], ["templates", "template."], ["triggers", "trigger."]]) {
				for (const [kk, vv] of Object.entries(obj.spec[k] || {})) {
					assert.ok(kk.startsWith(prefix), `spec.${k}.${kk} starts with ${prefix}`);
					parseYaml(vv);
				}
			}
			return;
		}
		assert.ok(M, `no model for ${obj.apiVersion} ${obj.kind}`);
		new M(obj).validate();	// throws with ajv's errors
	});
}

// The Helm chart's values: no schema is published with argo-cd's chart, so
// the keys the issue names are checked, and that they say what the manifests
// say.
test("docker/kind/argocd/values-helm.yaml carries the same settings as the manifests", () => {
	const f = path.join(kindDir, "argocd", "values-helm.yaml");
	if (!fs.existsSync(f)) return;
	const [v] = load(f);
	const cm = find("ConfigMap", "argocd-notifications-cm").data;
	const secret = secretData(find("Secret", "argocd-notifications-secret"));
	const tls = find("ConfigMap", "argocd-tls-certs-cm").data;
	assert.equal(v.notifications.notifiers["service.webhook.backstage"], cm["service.webhook.backstage"]);
	for (const [k, val] of Object.entries(v.notifications.templates)) assert.equal(val, cm[k], k);
	for (const [k, val] of Object.entries(v.notifications.triggers)) assert.equal(val, cm[k], k);
	assert.deepEqual(v.notifications.secret.items, secret);
	assert.deepEqual(v.configs.tls.certificates, tls);
});

// --- kustomize: what -k applies ---------------------------------------------
for (const f of yamlFiles.filter((x) => path.basename(x) === "kustomization.yaml")) {
	test(`${rel(f)} lists files that exist and hold objects`, () => {
		const [k] = load(f);
		assert.equal(k.apiVersion, "kustomize.config.k8s.io/v1beta1");
		assert.equal(k.kind, "Kustomization");
		for (const r of k.resources) {
			const p = path.join(path.dirname(f), r);
			assert.ok(fs.existsSync(p), `${r} exists`);
			assert.ok(load(p).every((o) => o.apiVersion && o.kind && o.metadata?.name), `${r}: objects`);
		}
	});
}

// --- one deployment, one set of names ---------------------------------------
test("the manifests make one deployment (names, ports, secrets, image)", () => {
	const version = fs.readFileSync(path.join(src, "configure.ac"), "utf8")
		.match(/^AC_INIT\(\[notimock\], *\[([^\]]+)\]/m)[1];
	const kz = load(path.join(kindDir, "kustomization.yaml"))[0].resources;
	for (const r of ["namespace.yaml", "notimock-token.yaml", "notimock-ca.yaml", "deployment.yaml", "service.yaml"]) {
		assert.ok(kz.includes(r), `kustomization lists ${r}`);
	}
	const ns = find("Namespace", "notimock");
	const dep = find("Deployment", "notimock");
	const svc = find("Service", "notimock");
	assert.equal(dep.metadata.namespace, ns.metadata.name);
	assert.equal(svc.metadata.namespace, ns.metadata.name);
	const pod = dep.spec.template;
	for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(pod.metadata.labels[k], v);
	for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(pod.metadata.labels[k], v);
	assert.equal(pod.metadata.labels["app.kubernetes.io/name"], "notimock");
	const [c] = pod.spec.containers;
	assert.equal(c.image, `notimock:${version}`);
	assert.equal(c.imagePullPolicy, "IfNotPresent");
	const cports = Object.fromEntries(c.ports.map((p) => [p.name, p.containerPort]));
	assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port, cports[p.targetPort]]),
		[["http", 7007, 7007], ["https", 7443, 7443]]);

	// Hardening and probes.
	const psc = pod.spec.securityContext, csc = c.securityContext;
	assert.equal(psc.runAsNonRoot, true);
	assert.equal(psc.runAsUser, 65532);
	assert.equal(psc.runAsGroup, 65532);
	assert.equal(psc.seccompProfile.type, "RuntimeDefault");
	assert.equal(csc.readOnlyRootFilesystem, true);
	assert.equal(csc.allowPrivilegeEscalation, false);
	assert.deepEqual(csc.capabilities.drop, ["ALL"]);
	assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
	assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
	assert.equal(c.readinessProbe.httpGet.path, "/.backstage/health/v1/readiness");
	assert.equal(c.livenessProbe.httpGet.path, "/.backstage/health/v1/liveness");
	const vols = Object.fromEntries(pod.spec.volumes.map((v) => [v.name, v]));
	const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, vols[m.name]]));
	assert.ok(mounts["/data"].emptyDir, "emptyDir /data");
	assert.ok(mounts["/tmp"].emptyDir, "emptyDir /tmp");

	// Secrets: the env and the mount name what the kustomization applies.
	const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
	const tokenRef = env.NOTIMOCK_TOKEN.valueFrom.secretKeyRef;
	const tokenSecret = find("Secret", tokenRef.name);
	assert.equal(tokenSecret.metadata.namespace, "notimock");
	const token = secretData(tokenSecret)[tokenRef.key];
	assert.ok(token && token.length >= 8, "the token Secret has the key the Deployment reads");
	const caMount = c.volumeMounts.find((m) => vols[m.name].secret);
	const caSecret = find("Secret", vols[caMount.name].secret.secretName);
	assert.equal(caSecret.metadata.name, "notimock-ca");
	assert.equal(caSecret.type, "kubernetes.io/tls");
	assert.equal(caMount.readOnly, true);
	assert.equal(env.NOTIMOCK_TLS_CA_CERT.value, `${caMount.mountPath}/tls.crt`);
	assert.equal(env.NOTIMOCK_TLS_CA_KEY.value, `${caMount.mountPath}/tls.key`);
	const ca = secretData(caSecret);
	assert.match(ca["tls.crt"], /-----BEGIN CERTIFICATE-----/);
	assert.match(ca["tls.key"], /PRIVATE KEY-----/);
	const svcHost = `${svc.metadata.name}.${svc.metadata.namespace}.svc`;
	assert.deepEqual(env.NOTIMOCK_TLS_SAN.value.split(","),
		[svcHost, `${svcHost}.cluster.local`, `${svc.metadata.name}.${svc.metadata.namespace}`, svc.metadata.name]);

	// Argo CD's side points at that Service, with that token and CA.
	const cm = find("ConfigMap", "argocd-notifications-cm").data;
	const hook = parseYaml(cm["service.webhook.backstage"]);
	const url = new URL(hook.url);
	assert.equal(url.protocol, "https:");
	assert.equal(url.hostname, svcHost);
	assert.equal(Number(url.port), 7443);
	const auth = hook.headers.find((h) => h.name.toLowerCase() === "authorization").value;
	const key = auth.match(/^Bearer \$([\w-]+)$/)[1];
	assert.equal(secretData(find("Secret", "argocd-notifications-secret"))[key], token);
	const tls = find("ConfigMap", "argocd-tls-certs-cm").data;
	assert.equal(tls[svcHost].trim(), ca["tls.crt"].trim(), "Argo CD trusts the CA of Secret notimock-ca");
	const app = find("Application");
	assert.ok(app.metadata.annotations["backstage.io/entity-ref"]);
	for (const a of Object.keys(app.metadata.annotations).filter((x) => x.startsWith("notifications.argoproj.io/subscribe."))) {
		const [, trigger, service] = a.match(/^notifications\.argoproj\.io\/subscribe\.([^.]+)\.(.+)$/);
		assert.equal(service, "backstage");
		assert.ok(cm[`trigger.${trigger}`], `trigger.${trigger} exists`);
	}
});

test("docker/compose.yaml runs the same image with a volume, the ports and the token from the environment", () => {
	const [compose] = load(path.join(dockerDir, "compose.yaml"));
	const version = fs.readFileSync(path.join(src, "configure.ac"), "utf8")
		.match(/^AC_INIT\(\[notimock\], *\[([^\]]+)\]/m)[1];
	const s = compose.services.notimock;
	assert.equal(s.image, `notimock:${version}`);
	assert.match(s.environment.NOTIMOCK_TOKEN, /^\$\{NOTIMOCK_TOKEN[:?}]/);
	assert.deepEqual(s.ports.map((p) => p.split(":").slice(-1)[0]), ["7007", "7443"]);
	const [vol, at] = s.volumes[0].split(":");
	assert.equal(at, "/data");
	assert.ok(vol in compose.volumes, "a named volume");
});
