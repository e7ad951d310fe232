/*
 * cluster.c: `notimock ca create`, the CA material for a Secret, and
 * `notimock argocd-config`, the Argo CD objects that send to notimock.
 *
 * The key is made by tls.c (which owns mbedTLS) and never leaves this
 * process except into the files or the manifest the user asked for.  YAML
 * is written here as text (libyaml is config.c's, and only reads): values
 * that could need quoting are checked against Kubernetes' name rules
 * first, and PEM goes out as block scalars.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cluster.h"
#include "tls.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

#define CLUSTER_CA_NAME		"notimock-ca"
#define CLUSTER_NAMESPACE	"notimock"

static const char cluster_ca_usage[] =
    "usage: notimock ca create --out DIR\n"
    "       notimock ca create --secret [--name NAME] [--namespace NS]\n"
    "Make a new CA (EC P-256, ten years) for --tls-ca-cert/--tls-ca-key:\n"
    "DIR/tls.crt and DIR/tls.key (mode 0600, never overwritten), or a\n"
    "kubernetes.io/tls Secret manifest on stdout (default name " CLUSTER_CA_NAME
    ",\n"
    "namespace " CLUSTER_NAMESPACE ").\n";

/* A DNS-1123 subdomain (Kubernetes object and namespace names), which
 * also makes it safe as a plain YAML scalar. */
static int
cluster_valid_name(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.'))
			return (0);
	return (s[0] != '-' && s[0] != '.' && s[len - 1] != '-' &&
	    s[len - 1] != '.');
}

/* Text as a literal block scalar, each line indented by `indent`. */
static void
cluster_block(FILE *f, int indent, const char *text)
{
	const char	*p, *nl;

	fprintf(f, "|\n");
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			fprintf(f, "%*s%s\n", indent, "", p);
			break;
		}
		if (nl > p)
			fprintf(f, "%*s%.*s\n", indent, "", (int)(nl - p), p);
		else
			fputc('\n', f);
	}
}

/* Create dir/name with data; never replaces a file. */
static int
cluster_write_new(const char *dir, const char *name, const char *data,
    mode_t mode)
{
	char	*path;
	size_t	 len = strlen(data);
	int	 fd, saved;

	xasprintf(&path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) == -1) {
		fprintf(stderr, "notimock ca create: %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ? " (remove it, or "
		    "choose another --out)" : "");
		free(path);
		return (-1);
	}
	if (util_write_all(fd, data, len) == -1)
		goto fail;
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	free(path);
	return (0);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(path);
	fprintf(stderr, "notimock ca create: %s: %s\n", path,
	    strerror(saved));
	free(path);
	return (-1);
}

int
cluster_ca_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "secret", no_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'N' },
		{ "namespace", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *name = CLUSTER_CA_NAME;
	const char	*ns = CLUSTER_NAMESPACE;
	char		*crt = NULL, *key = NULL, *cause = NULL, *path;
	int		 ch, secret = 0, named = 0, rv = 1;

	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 's':
			secret = 1;
			break;
		case 'N':
			name = optarg;
			named = 1;
			break;
		case 'S':
			ns = optarg;
			named = 1;
			break;
		case 'h':
			fputs(cluster_ca_usage, stdout);
			return (0);
		default:
			fputs(cluster_ca_usage, stderr);
			return (1);
		}
	}
	if (optind < argc || (out == NULL) == !secret || (named && !secret)) {
		if (optind < argc)
			fprintf(stderr, "notimock ca create: unexpected "
			    "argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "notimock ca create: give either "
			    "--out DIR or --secret%s\n", named ? " (--name and "
			    "--namespace go with --secret)" : "");
		fputs(cluster_ca_usage, stderr);
		return (1);
	}
	if (secret && (!cluster_valid_name(name) || !cluster_valid_name(ns))) {
		fprintf(stderr, "notimock ca create: '%s' is not a Kubernetes "
		    "name (lower-case letters, digits, '-' and '.')\n",
		    cluster_valid_name(name) ? ns : name);
		return (1);
	}
	if (tls_ca_create(&crt, &key, &cause) == -1) {
		fprintf(stderr, "notimock ca create: %s\n", cause);
		free(cause);
		return (1);
	}
	if (secret) {
		printf("# A CA for notimock (notimock ca create --secret): "
		    "notimock issues its\n"
		    "# serving certificate from it (--tls-ca-cert, "
		    "--tls-ca-key).  It holds the CA's\n"
		    "# private key: keep it where only the cluster can "
		    "read it.\n"
		    "apiVersion: v1\n"
		    "kind: Secret\n"
		    "metadata:\n"
		    "  name: %s\n"
		    "  namespace: %s\n"
		    "  labels:\n"
		    "    app.kubernetes.io/name: notimock\n"
		    "type: kubernetes.io/tls\n"
		    "stringData:\n"
		    "  tls.crt: ", name, ns);
		cluster_block(stdout, 4, crt);
		printf("  tls.key: ");
		cluster_block(stdout, 4, key);
		if (fflush(stdout) == EOF) {
			fprintf(stderr, "notimock ca create: stdout: %s\n",
			    strerror(errno));
			goto out;
		}
		rv = 0;
		goto out;
	}
	if (mkdir(out, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "notimock ca create: %s: %s\n", out,
		    strerror(errno));
		goto out;
	}
	if (cluster_write_new(out, "tls.key", key, 0600) == -1)
		goto out;
	if (cluster_write_new(out, "tls.crt", crt, 0644) == -1) {
		/* Half a pair is worse than none. */
		xasprintf(&path, "%s/tls.key", out);
		unlink(path);
		free(path);
		goto out;
	}
	fprintf(stderr, "notimock ca create: wrote %s/tls.crt and %s/tls.key\n",
	    out, out);
	rv = 0;
out:
	free(crt);
	if (key != NULL) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return (rv);
}

/* --- notimock argocd-config ------------------------------------------- */

#define ARGO_URL	"https://notimock.notimock.svc:7443/api/notifications"
#define ARGO_NS		"argocd"
#define ARGO_NS_OPENSHIFT "openshift-gitops"
#define ARGO_UI		"https://localhost:8080"
#define ARGO_ENTITY	"component:default/guestbook"
#define ARGO_SECRET_KEY	"backstage-token"
#define ARGO_TOKEN_MAX	4096

static const char argo_usage[] =
    "usage: notimock argocd-config [--url URL] --token TOKEN | --token-file FILE\n"
    "           --cacert FILE | --from URL [--admin-token TOKEN]\n"
    "           [--argocd-url URL] [--namespace NS] [--entity-ref REF]\n"
    "           [--openshift | --helm | --out-dir DIR]\n"
    "Print the Argo CD objects that send notifications to notimock, for\n"
    "kubectl apply -f -: argocd-notifications-cm, argocd-notifications-secret,\n"
    "argocd-tls-certs-cm and an example Application.  --openshift prints the\n"
    "OpenShift GitOps NotificationsConfiguration in place of the ConfigMap,\n"
    "--helm values for the argo-cd chart, --out-dir DIR writes every file.\n"
    "  --url URL         the webhook URL Argo CD uses\n"
    "                    [" ARGO_URL "]\n"
    "  --token TOKEN     the static token notimock accepts (--token-file FILE)\n"
    "  --cacert FILE     notimock's CA (PEM), or --from URL: ask that server\n"
    "  --argocd-url URL  Argo CD's own address, for links [" ARGO_UI "]\n"
    "  --namespace NS    Argo CD's namespace [" ARGO_NS "; " ARGO_NS_OPENSHIFT
    " with --openshift]\n"
    "  --entity-ref REF  the example Application's Backstage entity\n"
    "                    [" ARGO_ENTITY "]\n";

struct argo {
	const char	*url;		/* the webhook's base URL */
	char		*host;		/* its host, the argocd-tls-certs-cm key */
	char		*token;
	char		*ca;		/* PEM */
	const char	*argocd_url;
	const char	*ns;		/* NULL: the default for the variant */
	const char	*entity;
};

/*
 * The Backstage guide's templates (backstage/community-plugins,
 * workspaces/redhat-argocd/docs/notifications-integration.md), with the
 * -backstage suffix that keeps Argo CD's catalog from overwriting them.
 * Three changes.  For valid JSON whatever the Application holds, the
 * entity ref and the descriptions go through toJson (a sync failure's
 * message quotes object names, which the guide's raw "{{...}}" turns into
 * a 400).  The webhook's path is split from the service's url as
 * notifications-engine joins them.  And the triggers that read
 * operationState first check that it exists, as Argo CD's own catalog
 * does: an Application that never synced has none, and the controller
 * would log "failed to execute when condition" on every pass.
 */
static const struct argo_template {
	const char	*name;
	const char	*title;		/* after "<app> - " */
	const char	*description;	/* printf format and arguments */
	const char	*severity;
	const char	*topic;
	const char	*trigger;	/* its trigger's condition */
} argo_templates[] = {
	{ "app-sync-succeeded-backstage", "Sync Succeeded",
	  "\"Application **%s** has been synced successfully.\\n\\n"
	  "**Health:** %v\\n**Revision:** %v\" .app.metadata.name "
	  ".app.status.health.status .app.status.sync.revision",
	  "low", "argocd.sync.succeeded",
	  "app.status.operationState != nil and "
	  "app.status.operationState.phase in ['Succeeded']" },
	{ "app-sync-failed-backstage", "Sync Failed",
	  "\"Application **%s** sync has failed.\\n\\n**Phase:** %v\\n"
	  "**Message:** %v\" .app.metadata.name "
	  ".app.status.operationState.phase "
	  ".app.status.operationState.message",
	  "high", "argocd.sync.failed",
	  "app.status.operationState != nil and "
	  "app.status.operationState.phase in ['Error', 'Failed']" },
	{ "app-health-degraded-backstage", "Health Degraded",
	  "\"Application **%s** health has degraded.\\n\\n**Status:** %v\" "
	  ".app.metadata.name .app.status.health.status",
	  "high", "argocd.health.degraded",
	  "app.status.health.status == 'Degraded'" },
	{ "app-deployed-backstage", "Deployed",
	  "\"Application **%s** has been successfully deployed and is "
	  "healthy.\" .app.metadata.name",
	  "low", "argocd.deployed",
	  "app.status.operationState != nil and "
	  "app.status.operationState.phase in ['Succeeded'] and "
	  "app.status.health.status == 'Healthy'" },
};
#define ARGO_NTEMPLATES (sizeof argo_templates / sizeof argo_templates[0])

/* The files of --out-dir (docker/kind/argocd/). */
enum argo_file {
	AF_CM, AF_SECRET, AF_TLS, AF_APP, AF_NC, AF_HELM, AF_KUSTOMIZATION,
	AF_COUNT
};
static const char *argo_files[AF_COUNT] = {
	"argocd-notifications-cm.yaml", "argocd-notifications-secret.yaml",
	"argocd-tls-certs-cm.yaml", "application.yaml",
	"notificationsconfiguration.yaml", "values-helm.yaml",
	"kustomization.yaml"
};

/* A YAML double-quoted scalar: safe for any text. */
static void
cluster_quote(FILE *f, const char *s)
{
	const unsigned char	*p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Text that goes into YAML and Argo CD's templates unquoted: no
 * whitespace, quotes, backslashes, '$' (Argo CD substitutes $key in
 * service config) or braces (template syntax). */
static int
cluster_plain(const char *s)
{
	const unsigned char	*p;

	if (*s == '\0')
		return (0);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("\"'\\$`{}<>#", *p) !=
		    NULL)
			return (0);
	return (1);
}

/* service.webhook.backstage: where, and with which headers. */
static char *
argo_service(const struct argo *a)
{
	char	*s;

	xasprintf(&s, "url: %s\n"
	    "headers:\n"
	    "  - name: Content-Type\n"
	    "    value: application/json\n"
	    "  - name: Authorization\n"
	    "    value: Bearer $" ARGO_SECRET_KEY "\n", a->url);
	return (s);
}

static char *
argo_template(const struct argo_template *t)
{
	char	*s;

	xasprintf(&s, "webhook:\n"
	    "  backstage:\n"
	    "    method: POST\n"
	    "    path: /notifications\n"
	    "    body: |\n"
	    "      {\n"
	    "        \"recipients\": {\n"
	    "          \"type\": \"entity\",\n"
	    "          \"entityRef\": {{ index .app.metadata.annotations "
	    "\"backstage.io/entity-ref\" | toJson }}\n"
	    "        },\n"
	    "        \"payload\": {\n"
	    "          \"title\": \"{{ .app.metadata.name }} - %s\",\n"
	    "          \"description\": {{ printf %s | toJson }},\n"
	    "          \"link\": \"{{ .context.argocdUrl }}/applications/"
	    "{{ .app.metadata.name }}\",\n"
	    "          \"severity\": \"%s\",\n"
	    "          \"topic\": \"%s\"\n"
	    "        }\n"
	    "      }\n", t->title, t->description, t->severity, t->topic);
	return (s);
}

static char *
argo_trigger(const struct argo_template *t)
{
	char	*s;

	xasprintf(&s, "- when: %s\n  send: [%s]\n", t->trigger, t->name);
	return (s);
}

/* "  key: |" and the text indented below it. */
static void
argo_entry(FILE *f, int indent, const char *key, char *text)
{
	fprintf(f, "%*s%s: ", indent, "", key);
	cluster_block(f, indent + 2, text);
	free(text);
}

/* The templates and triggers, as map entries at indent. */
static void
argo_templates_out(FILE *f, int indent)
{
	char	key[128];
	size_t	i;

	for (i = 0; i < ARGO_NTEMPLATES; i++) {
		snprintf(key, sizeof key, "template.%s", argo_templates[i].name);
		argo_entry(f, indent, key, argo_template(&argo_templates[i]));
	}
}

static void
argo_triggers_out(FILE *f, int indent)
{
	char	key[128];
	size_t	i;

	for (i = 0; i < ARGO_NTEMPLATES; i++) {
		snprintf(key, sizeof key, "trigger.on-%s",
		    argo_templates[i].name + strlen("app-"));
		argo_entry(f, indent, key, argo_trigger(&argo_templates[i]));
	}
}

static void
argo_header(FILE *f, const char *what)
{
	fprintf(f, "---\n# %s\n"
	    "# Made by notimock argocd-config: regenerate it rather than edit "
	    "it.\n", what);
}

static void
argo_metadata(FILE *f, const char *name, const char *ns)
{
	fprintf(f, "metadata:\n"
	    "  name: %s\n"
	    "  namespace: %s\n"
	    "  labels:\n"
	    "    app.kubernetes.io/part-of: argocd\n", name, ns);
}

static void
argo_cm(FILE *f, const struct argo *a, const char *ns)
{
	argo_header(f, "Argo CD's notifications settings: the Backstage "
	    "webhook (notimock), the\n# Backstage guide's templates and "
	    "triggers with the -backstage suffix.");
	fprintf(f, "apiVersion: v1\nkind: ConfigMap\n");
	argo_metadata(f, "argocd-notifications-cm", ns);
	fprintf(f, "data:\n  context: |\n    argocdUrl: ");
	cluster_quote(f, a->argocd_url);
	fprintf(f, "\n");
	argo_entry(f, 2, "service.webhook.backstage", argo_service(a));
	argo_templates_out(f, 2);
	argo_triggers_out(f, 2);
}

static void
argo_secret(FILE *f, const struct argo *a, const char *ns)
{
	argo_header(f, "The token Argo CD sends notimock (Authorization: "
	    "Bearer $" ARGO_SECRET_KEY ").\n# It is a secret: keep this file "
	    "out of shared repositories.");
	fprintf(f, "apiVersion: v1\nkind: Secret\n");
	argo_metadata(f, "argocd-notifications-secret", ns);
	fprintf(f, "type: Opaque\nstringData:\n  " ARGO_SECRET_KEY ": ");
	cluster_quote(f, a->token);
	fprintf(f, "\n");
}

static void
argo_tls(FILE *f, const struct argo *a, const char *ns)
{
	argo_header(f, "notimock's CA, which Argo CD's notifications "
	    "controller trusts for the\n# webhook's host (the key: the host "
	    "name without the port).");
	fprintf(f, "apiVersion: v1\nkind: ConfigMap\n");
	argo_metadata(f, "argocd-tls-certs-cm", ns);
	fprintf(f, "data:\n");
	argo_entry(f, 2, a->host, xstrdup(a->ca));
}

static void
argo_app(FILE *f, const struct argo *a, const char *ns)
{
	size_t	i;

	argo_header(f, "An example Application that notifies Backstage "
	    "(notimock): its entity and\n# the -backstage triggers it "
	    "subscribes to.");
	fprintf(f, "apiVersion: argoproj.io/v1alpha1\n"
	    "kind: Application\n"
	    "metadata:\n"
	    "  name: guestbook\n"
	    "  namespace: %s\n"
	    "  annotations:\n"
	    "    backstage.io/entity-ref: ", ns);
	cluster_quote(f, a->entity);
	fprintf(f, "\n");
	for (i = 0; i < ARGO_NTEMPLATES; i++)
		fprintf(f, "    notifications.argoproj.io/subscribe.on-%s."
		    "backstage: \"\"\n", argo_templates[i].name +
		    strlen("app-"));
	fprintf(f, "spec:\n"
	    "  project: default\n"
	    "  source:\n"
	    "    repoURL: https://github.com/argoproj/argocd-example-apps.git\n"
	    "    targetRevision: HEAD\n"
	    "    path: guestbook\n"
	    "  destination:\n"
	    "    server: https://kubernetes.default.svc\n"
	    "    namespace: guestbook\n"
	    "  syncPolicy:\n"
	    "    automated: {}\n"
	    "    syncOptions:\n"
	    "      - CreateNamespace=true\n");
}

static void
argo_nc(FILE *f, const struct argo *a, const char *ns)
{
	argo_header(f, "OpenShift GitOps: the operator owns "
	    "argocd-notifications-cm, so the same\n# settings go into its "
	    "NotificationsConfiguration.");
	fprintf(f, "apiVersion: argoproj.io/v1alpha1\n"
	    "kind: NotificationsConfiguration\n"
	    "metadata:\n"
	    "  name: default-notifications-configuration\n"
	    "  namespace: %s\n"
	    "spec:\n"
	    "  context:\n"
	    "    argocdUrl: ", ns);
	cluster_quote(f, a->argocd_url);
	fprintf(f, "\n  services:\n");
	argo_entry(f, 4, "service.webhook.backstage", argo_service(a));
	fprintf(f, "  templates:\n");
	argo_templates_out(f, 4);
	fprintf(f, "  triggers:\n");
	argo_triggers_out(f, 4);
}

static void
argo_helm(FILE *f, const struct argo *a)
{
	argo_header(f, "Values for the argo-cd Helm chart (helm install "
	    "... -f values-helm.yaml):\n# the same settings as the "
	    "manifests beside this file.");
	fprintf(f, "notifications:\n  argocdUrl: ");
	cluster_quote(f, a->argocd_url);
	fprintf(f, "\n  notifiers:\n");
	argo_entry(f, 4, "service.webhook.backstage", argo_service(a));
	fprintf(f, "  secret:\n    items:\n      " ARGO_SECRET_KEY ": ");
	cluster_quote(f, a->token);
	fprintf(f, "\n  templates:\n");
	argo_templates_out(f, 4);
	fprintf(f, "  triggers:\n");
	argo_triggers_out(f, 4);
	fprintf(f, "configs:\n  tls:\n    certificates:\n");
	argo_entry(f, 6, a->host, xstrdup(a->ca));
}

static void
argo_kustomization(FILE *f)
{
	argo_header(f, "kubectl apply -k: the Argo CD side of notimock "
	    "(plain manifests).");
	fprintf(f, "apiVersion: kustomize.config.k8s.io/v1beta1\n"
	    "kind: Kustomization\n"
	    "resources:\n"
	    "  - %s\n  - %s\n  - %s\n  - %s\n", argo_files[AF_CM],
	    argo_files[AF_SECRET], argo_files[AF_TLS], argo_files[AF_APP]);
}

static void
argo_file(FILE *f, enum argo_file which, const struct argo *a,
    const char *ns, const char *ns_openshift)
{
	switch (which) {
	case AF_CM:
		argo_cm(f, a, ns);
		break;
	case AF_SECRET:
		argo_secret(f, a, ns);
		break;
	case AF_TLS:
		argo_tls(f, a, ns);
		break;
	case AF_APP:
		argo_app(f, a, ns);
		break;
	case AF_NC:
		argo_nc(f, a, ns_openshift);
		break;
	case AF_HELM:
		argo_helm(f, a);
		break;
	case AF_KUSTOMIZATION:
	case AF_COUNT:
		argo_kustomization(f);
		break;
	}
}

/* Write every file into dir (replacing what a previous run wrote). */
static int
argo_out_dir(const char *dir, const struct argo *a, const char *ns,
    const char *ns_openshift)
{
	char	*path;
	FILE	*f;
	mode_t	 mode;
	int	 i, fd, rv = -1;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "notimock argocd-config: %s: %s\n", dir,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < AF_COUNT; i++) {
		xasprintf(&path, "%s/%s", dir, argo_files[i]);
		/* The token is a secret; the rest is not.  open() keeps the
		 * mode of a file that exists (a checkout of
		 * docker/kind/argocd/ is 0644), hence fchmod. */
		mode = i == AF_SECRET || i == AF_HELM ? 0600 : 0644;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
		    mode);
		if (fd == -1 || fchmod(fd, mode) == -1 ||
		    (f = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "notimock argocd-config: %s: %s\n",
			    path, strerror(errno));
			if (fd != -1)
				close(fd);
			free(path);
			return (-1);
		}
		argo_file(f, (enum argo_file)i, a, ns, ns_openshift);
		if (ferror(f) | (fclose(f) == EOF)) {
			fprintf(stderr, "notimock argocd-config: %s: %s\n",
			    path, strerror(errno));
			free(path);
			return (-1);
		}
		free(path);
	}
	rv = 0;
	return (rv);
}

/* The token from a file: its first line, without the line end. */
static char *
argo_read_token(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "notimock argocd-config: --token-file %s: %s\n",
		    path, strerror(errno));
		return (NULL);
	}
	buf = xmalloc(ARGO_TOKEN_MAX + 2);
	n = fread(buf, 1, ARGO_TOKEN_MAX + 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return (buf);
}

static char *
argo_read_file(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n, i, j;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "notimock argocd-config: --cacert %s: %s\n",
		    path, strerror(errno));
		return (NULL);
	}
	buf = xmalloc(65536 + 1);
	n = fread(buf, 1, 65536, f);
	fclose(f);
	/* CRLF (a PEM saved on Windows): a CR would end a YAML line. */
	for (i = j = 0; i < n; i++)
		if (buf[i] != '\r')
			buf[j++] = buf[i];
	buf[j] = '\0';
	return (buf);
}

/* The host of an https URL, which argocd-tls-certs-cm is keyed by. */
static int
argo_parse_url(struct argo *a)
{
	const char	*p, *end;

	if (strncmp(a->url, "https://", 8) != 0 ||
	    url_check_absolute(a->url) != URL_OK || !cluster_plain(a->url)) {
		fprintf(stderr, "notimock argocd-config: --url '%s' is not an "
		    "https:// URL (Argo CD should verify notimock; no spaces, "
		    "quotes or '$')\n", a->url);
		return (-1);
	}
	p = a->url + 8;
	end = p + strcspn(p, ":/?#");
	a->host = xmalloc((size_t)(end - p) + 1);
	memcpy(a->host, p, (size_t)(end - p));
	a->host[end - p] = '\0';
	for (p = a->host; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			break;
	if (*a->host == '\0' || *p != '\0' || strchr(a->url + 8, '@')) {
		fprintf(stderr, "notimock argocd-config: --url '%s': the host "
		    "must be a DNS name or IPv4 address (it keys "
		    "argocd-tls-certs-cm)\n", a->url);
		return (-1);
	}
	return (0);
}

/* argocd-config's options that are not part of struct argo. */
struct argo_opts {
	const char	*token, *token_file, *cacert, *from, *admin, *out;
	int		 openshift, helm;
};

/*
 * Parse argocd-config's command line into *a and *o. 0: go on; -1: stop and
 * exit with *status (0 after --help, 1 after a usage error, usage printed).
 */
static int
argo_options(int argc, char **argv, struct argo *a, struct argo_opts *o,
    int *status)
{
	enum { O_URL = 256, O_TOKEN, O_TOKEN_FILE, O_CACERT, O_FROM,
	    O_ADMIN, O_ARGOCD, O_NS, O_ENTITY, O_OPENSHIFT, O_HELM, O_OUT,
	    O_HELP };
	static const struct option lo[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "token-file", required_argument, NULL, O_TOKEN_FILE },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "from", required_argument, NULL, O_FROM },
		{ "admin-token", required_argument, NULL, O_ADMIN },
		{ "argocd-url", required_argument, NULL, O_ARGOCD },
		{ "namespace", required_argument, NULL, O_NS },
		{ "entity-ref", required_argument, NULL, O_ENTITY },
		{ "openshift", no_argument, NULL, O_OPENSHIFT },
		{ "helm", no_argument, NULL, O_HELM },
		{ "out-dir", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	*status = 1;
	o->admin = getenv("NOTIMOCK_ADMIN_TOKEN");
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_URL:
			a->url = optarg;
			break;
		case O_TOKEN:
			o->token = optarg;
			break;
		case O_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case O_CACERT:
			o->cacert = optarg;
			break;
		case O_FROM:
			o->from = optarg;
			break;
		case O_ADMIN:
			o->admin = optarg;
			break;
		case O_ARGOCD:
			a->argocd_url = optarg;
			break;
		case O_NS:
			a->ns = optarg;
			break;
		case O_ENTITY:
			a->entity = optarg;
			break;
		case O_OPENSHIFT:
			o->openshift = 1;
			break;
		case O_HELM:
			o->helm = 1;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case 'h':
		case O_HELP:
			fputs(argo_usage, stdout);
			*status = 0;
			return (-1);
		default:
			fputs(argo_usage, stderr);
			return (-1);
		}
	}
	if (optind < argc)
		fprintf(stderr, "notimock argocd-config: unexpected argument "
		    "'%s'\n", argv[optind]);
	else if ((o->token == NULL) == (o->token_file == NULL))
		fprintf(stderr, "notimock argocd-config: give the token notimock "
		    "accepts: --token TOKEN or --token-file FILE\n");
	else if ((o->cacert == NULL) == (o->from == NULL))
		fprintf(stderr, "notimock argocd-config: give notimock's CA: "
		    "--cacert FILE, or --from URL to ask the running server\n");
	else if (o->openshift + o->helm + (o->out != NULL) > 1)
		fprintf(stderr, "notimock argocd-config: --openshift, --helm "
		    "and --out-dir exclude each other\n");
	else
		return (0);
	fputs(argo_usage, stderr);
	return (-1);
}

/* Check the URLs and the namespace; read the token and notimock's CA. */
static int
argo_load(struct argo *a, const struct argo_opts *o)
{
	char	*cause = NULL, *pem;

	if (argo_parse_url(a) == -1)
		return (-1);
	if (strncmp(a->argocd_url, "http", 4) != 0 ||
	    url_check_absolute(a->argocd_url) != URL_OK ||
	    !cluster_plain(a->argocd_url)) {
		fprintf(stderr, "notimock argocd-config: --argocd-url '%s' is "
		    "not an http(s) URL without spaces, quotes or '$'\n",
		    a->argocd_url);
		return (-1);
	}
	if (a->ns != NULL && !cluster_valid_name(a->ns)) {
		fprintf(stderr, "notimock argocd-config: --namespace '%s' is "
		    "not a Kubernetes name\n", a->ns);
		return (-1);
	}
	a->token = o->token != NULL ? xstrdup(o->token) :
	    argo_read_token(o->token_file);
	if (a->token == NULL)
		return (-1);
	if (*a->token == '\0' || strlen(a->token) > ARGO_TOKEN_MAX) {
		fprintf(stderr, "notimock argocd-config: the token is empty or "
		    "longer than %d bytes\n", ARGO_TOKEN_MAX);
		return (-1);
	}
	if (o->from != NULL)
		pem = client_get_ca("argocd-config", o->from, NULL, o->admin);
	else
		pem = argo_read_file(o->cacert);
	if (pem == NULL)
		return (-1);
	/* Only the certificates go into the YAML, whatever else the text
	 * held. */
	a->ca = tls_pem_certs(pem, 1, &cause);
	free(pem);
	if (a->ca == NULL) {
		fprintf(stderr, "notimock argocd-config: %s: %s\n",
		    o->from != NULL ? o->from : o->cacert, cause);
		free(cause);
		return (-1);
	}
	return (0);
}

/* Write the manifests (stdout, or files under --out-dir). */
static int
argo_emit(const struct argo *a, const struct argo_opts *o)
{
	const char	*ns;

	if (o->out != NULL) {
		if (argo_out_dir(o->out, a, a->ns ? a->ns : ARGO_NS,
		    a->ns ? a->ns : ARGO_NS_OPENSHIFT) == -1)
			return (-1);
	} else if (o->helm)
		argo_helm(stdout, a);
	else {
		ns = a->ns != NULL ? a->ns : o->openshift ?
		    ARGO_NS_OPENSHIFT : ARGO_NS;
		if (o->openshift)
			argo_nc(stdout, a, ns);
		else
			argo_cm(stdout, a, ns);
		argo_secret(stdout, a, ns);
		argo_tls(stdout, a, ns);
		argo_app(stdout, a, ns);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "notimock argocd-config: stdout: %s\n",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

int
cluster_argocd_config(int argc, char **argv)
{
	struct argo		a;
	struct argo_opts	o;
	int			rv;

	memset(&a, 0, sizeof a);
	memset(&o, 0, sizeof o);
	a.url = ARGO_URL;
	a.argocd_url = ARGO_UI;
	a.entity = ARGO_ENTITY;
	if (argo_options(argc, argv, &a, &o, &rv) == -1)
		return (rv);
	rv = argo_load(&a, &o) == -1 || argo_emit(&a, &o) == -1 ? 1 : 0;
	free(a.host);
	free(a.ca);
	if (a.token != NULL) {
		memset(a.token, 0, strlen(a.token));
		free(a.token);
	}
	return (rv);
}
