/*
 * lint_argocd.c: cross-check Argo CD's notification objects before Argo CD
 * sends anything (lint_argocd.h).  The rules come from
 * ../shared/spec/argocd-webhook.md: sections 1-3 (service options, $key
 * secrets, method/URL/body), 5 (TLS trust), 7 (templates, the catalog and
 * its name collisions), 10 (the misconfigurations a receiver sees) and 11
 * (where users put the configuration: ConfigMap, Helm, OpenShift CR).
 *
 * Objects come from config.c (YAML trees with lines); the YAML held in
 * their string values is parsed again with the lines of the file around
 * it.  Webhook bodies are rendered with gotmpl.c and diagnosed with the
 * server's own diag.c, as if Argo CD had sent them.
 *
 * Ownership: struct lint_argocd owns the parsed documents, every entry
 * derived from them and the findings; everything else borrows.
 * Secrets: values of argocd-notifications-secret are used to render and
 * to compare, and never appear in a finding (only their length).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "diag.h"
#include "entity.h"
#include "gotmpl.h"
#include "json.h"
#include "lint.h"
#include "lint_argocd.h"
#include "lint_remote.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

#define LA_SUBSCRIBE	"notifications.argoproj.io/subscribe."
#define LA_ENTITY_REF	"backstage.io/entity-ref"
/* What Argo CD's failure messages hold (spec 8): a quote and a newline. */
#define LA_POISON	"one or more objects failed to apply, reason: error " \
			"when patching \"/dev/shm/1\": Deployment.apps " \
			"\"guestbook-ui\" is invalid\none or more SyncFail " \
			"hooks failed"

/*
 * Argo CD's catalog (argo-cd notifications_catalog/install.yaml): applying
 * it overwrites a user's template or trigger of the same name, and its
 * templates have no webhook section.
 */
static const char *la_catalog_templates[] = {
	"app-created", "app-deleted", "app-deployed", "app-health-degraded",
	"app-sync-failed", "app-sync-running", "app-sync-status-unknown",
	"app-sync-succeeded",
};
static const char *la_catalog_triggers[] = {
	"on-created", "on-deleted", "on-deployed", "on-health-degraded",
	"on-sync-failed", "on-sync-running", "on-sync-status-unknown",
	"on-sync-succeeded",
};
#define LA_NCATALOG	(sizeof la_catalog_templates / sizeof la_catalog_templates[0])

/* An Application to render with when the user gives none (spec 8). */
static const char la_sample_app[] =
    "{\"apiVersion\":\"argoproj.io/v1alpha1\",\"kind\":\"Application\","
    "\"metadata\":{\"name\":\"guestbook\",\"namespace\":\"argocd\","
    "\"generation\":7,\"annotations\":{\"backstage.io/entity-ref\":"
    "\"component:default/guestbook\"}},"
    "\"spec\":{\"project\":\"default\",\"source\":{\"repoURL\":"
    "\"https://github.com/argoproj/argocd-example-apps\",\"path\":"
    "\"guestbook\",\"targetRevision\":\"HEAD\"},\"destination\":{\"server\":"
    "\"https://kubernetes.default.svc\",\"namespace\":\"guestbook\"}},"
    "\"status\":{\"sync\":{\"status\":\"Synced\",\"revision\":"
    "\"4c8e5f3a9d2b7e6f1a0c3b5d7e9f2a4c6b8d0e1f\"},"
    "\"health\":{\"status\":\"Healthy\"},"
    "\"operationState\":{\"phase\":\"Succeeded\",\"message\":"
    "\"successfully synced (all tasks run)\",\"startedAt\":"
    "\"2024-05-01T12:00:00Z\",\"finishedAt\":\"2024-05-01T12:00:07Z\","
    "\"syncResult\":{\"revision\":"
    "\"4c8e5f3a9d2b7e6f1a0c3b5d7e9f2a4c6b8d0e1f\",\"resources\":[]}}}}";

/* A "key: value" of the configuration (ConfigMap data or CR spec). */
struct la_entry {
	char			 *name;		/* after "service.", ... */
	const struct config_node *val;
	const char		 *file;
	struct config		**docs;		/* the value, parsed */
	size_t			  ndocs;
	const struct config_node *root;		/* docs[0]'s, or NULL */
	int			  bad;		/* did not parse */
};

struct la_obj {
	const char		 *file;
	const struct config_node *n;
};

struct la_secret {
	char		*key;
	char		*val;
	size_t		 len;
};

struct la_sub {				/* one subscription */
	char			 *trigger;
	char			 *service;
	const char		 *file;
	size_t			  line;
	const struct la_obj	 *app;		/* or NULL */
	int			  global;	/* for every Application */
	int			  derived;	/* guessed from a template */
};

struct lint_argocd {
	struct lint_argocd_opts	  opts;
	char			**files;
	size_t			  nfiles;
	struct config		**docs;
	size_t			  ndocs;
	struct la_obj		 *cms, *crs, *secrets, *tlss, *apps, *helms;
	size_t			  ncms, ncrs, nsecrets, ntlss, napps, nhelms;
	struct la_obj		 *datas;	/* bare data: maps */
	size_t			  ndatas;
	/* The configuration in force. */
	struct la_entry		 *svcs, *tmpls, *trigs;
	size_t			  nsvcs, ntmpls, ntrigs;
	struct la_entry		  ctx, subs, deftrig;
	const struct config_node *ctx_map;	/* CR spec.context */
	const char		 *ctx_url;	/* Helm's notifications.argocdUrl */
	struct la_secret	 *sec;
	size_t			  nsec;
	struct la_sub		 *sublist;
	size_t			  nsub;
	struct json		 *sample;
	struct lint_finding	 *f;
	size_t			  nf;
};

/* --- findings ---------------------------------------------------------- */

static char *
la_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
la_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	va_start(ap, fmt);
	if (vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, ap) < 0)
		s[0] = '\0';
	va_end(ap);
	return (s);
}

/* Add a finding; takes message, evidence and fix.  A finding already made
 * (same file, line, code and evidence) is not repeated. */
static void
la_add(struct lint_argocd *la, const char *file, size_t line,
    const char *code, enum diag_level level, char *message, char *evidence,
    char *fix)
{
	struct lint_finding	*f;
	size_t			 i;

	for (i = 0; i < la->nf; i++) {
		f = &la->f[i];
		if (f->file == file && f->line == line &&
		    strcmp(f->code, code) == 0 && strcmp(f->evidence,
		    evidence) == 0) {
			free(message);
			free(evidence);
			free(fix);
			return;
		}
	}
	la->f = xreallocarray(la->f, la->nf + 1, sizeof *la->f);
	f = &la->f[la->nf++];
	f->file = file;
	f->line = line;
	f->code = code;
	f->level = level;
	f->message = message;
	f->evidence = evidence;
	f->fix = fix;
}

/* --- reading ----------------------------------------------------------- */

struct lint_argocd *
lint_argocd_new(const struct lint_argocd_opts *opts)
{
	struct lint_argocd	*la;
	char			 err[JSON_ERRLEN];

	la = xcalloc(1, sizeof *la);
	la->opts = *opts;
	la->sample = json_parse(la_sample_app, sizeof la_sample_app - 1, 0,
	    err, sizeof err, NULL);
	return (la);
}

static void
la_entry_clear(struct la_entry *e)
{
	size_t	i;

	free(e->name);
	for (i = 0; i < e->ndocs; i++)
		config_free(e->docs[i]);
	free(e->docs);
	memset(e, 0, sizeof *e);
}

void
lint_argocd_free(struct lint_argocd *la)
{
	size_t	i;

	if (la == NULL)
		return;
	for (i = 0; i < la->nsvcs; i++)
		la_entry_clear(&la->svcs[i]);
	for (i = 0; i < la->ntmpls; i++)
		la_entry_clear(&la->tmpls[i]);
	for (i = 0; i < la->ntrigs; i++)
		la_entry_clear(&la->trigs[i]);
	free(la->svcs);
	free(la->tmpls);
	free(la->trigs);
	la_entry_clear(&la->ctx);
	la_entry_clear(&la->subs);
	la_entry_clear(&la->deftrig);
	for (i = 0; i < la->nsec; i++) {
		free(la->sec[i].key);
		free(la->sec[i].val);
	}
	free(la->sec);
	for (i = 0; i < la->nsub; i++) {
		free(la->sublist[i].trigger);
		free(la->sublist[i].service);
	}
	free(la->sublist);
	for (i = 0; i < la->nf; i++) {
		free(la->f[i].message);
		free(la->f[i].evidence);
		free(la->f[i].fix);
	}
	free(la->f);
	for (i = 0; i < la->ndocs; i++)
		config_free(la->docs[i]);
	free(la->docs);
	free(la->cms);
	free(la->crs);
	free(la->secrets);
	free(la->tlss);
	free(la->apps);
	free(la->helms);
	free(la->datas);
	for (i = 0; i < la->nfiles; i++)
		free(la->files[i]);
	free(la->files);
	json_free(la->sample);
	free(la);
}

/* n if it is a map, else NULL: a list where a map belongs is ignored (the
 * YAML is the user's, and fuzz_lint's). */
static const struct config_node *
la_map(const struct config_node *n)
{
	return (n != NULL && config_type(n) == CONFIG_MAP ? n : NULL);
}

static const char *
la_str(const struct config_node *n, const char *path)
{
	const struct config_node	*c = n;
	char				*copy, *p, *dot;

	copy = p = xstrdup(path);
	while (c != NULL && p != NULL) {
		if ((dot = strchr(p, '.')) != NULL)
			*dot++ = '\0';
		c = config_child(c, p);
		p = dot;
	}
	free(copy);
	return (config_scalar(c));
}

static void
la_push(struct la_obj **v, size_t *n, const char *file,
    const struct config_node *obj)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].file = file;
	(*v)[*n].n = obj;
	(*n)++;
}

/* A map whose keys are those of argocd-notifications-cm's data. */
static int
la_bare_data(const struct config_node *m)
{
	const char	*k;
	size_t		 i;

	for (i = 0; i < config_len(m); i++) {
		k = config_key_at(m, i);
		if (strncmp(k, "service.", 8) == 0 ||
		    strncmp(k, "template.", 9) == 0 ||
		    strncmp(k, "trigger.", 8) == 0)
			return (1);
	}
	return (0);
}

/* One object: keep it if it is one of ours.  Returns 1 if it has a kind,
 * 2 for Helm values or a bare data map (ours without a kind). */
static int
la_object(struct lint_argocd *la, const char *file,
    const struct config_node *obj, int depth)
{
	const struct config_node	*items;
	const char			*kind, *name;
	size_t				 i;

	if (obj == NULL || config_type(obj) != CONFIG_MAP)
		return (0);
	if ((kind = la_str(obj, "kind")) == NULL) {
		/* Values of the argo-cd Helm chart (spec 11). */
		items = config_child(obj, "notifications");
		if (depth == 0 && items == NULL && la_bare_data(obj)) {
			/* Only the data: of argocd-notifications-cm. */
			la_push(&la->datas, &la->ndatas, file, obj);
			return (2);
		}
		if (depth > 0 || (config_child(items, "notifiers") == NULL &&
		    config_child(items, "templates") == NULL &&
		    config_child(items, "triggers") == NULL))
			return (0);
		la_push(&la->helms, &la->nhelms, file, obj);
		if (config_child(config_child(items, "secret"), "items") !=
		    NULL)
			la_push(&la->secrets, &la->nsecrets, file,
			    config_child(items, "secret"));
		if ((items = config_child(config_child(config_child(obj,
		    "configs"), "tls"), "certificates")) != NULL)
			la_push(&la->tlss, &la->ntlss, file, config_child(
			    config_child(obj, "configs"), "tls"));
		return (2);
	}
	name = la_str(obj, "metadata.name");
	items = config_child(obj, "items");
	if (depth == 0 && items != NULL && config_type(items) == CONFIG_SEQ &&
	    strlen(kind) >= 4 && strcmp(kind + strlen(kind) - 4, "List") == 0) {
		for (i = 0; i < config_len(items); i++)
			la_object(la, file, config_at(items, i), depth + 1);
		return (1);
	}
	if (strcmp(kind, "ConfigMap") == 0 && name != NULL &&
	    strcmp(name, "argocd-notifications-cm") == 0)
		la_push(&la->cms, &la->ncms, file, obj);
	else if (strcmp(kind, "ConfigMap") == 0 && name != NULL &&
	    strcmp(name, "argocd-tls-certs-cm") == 0)
		la_push(&la->tlss, &la->ntlss, file, obj);
	else if (strcmp(kind, "Secret") == 0 && name != NULL &&
	    strcmp(name, "argocd-notifications-secret") == 0)
		la_push(&la->secrets, &la->nsecrets, file, obj);
	else if (strcmp(kind, "NotificationsConfiguration") == 0)
		la_push(&la->crs, &la->ncrs, file, obj);
	else if (strcmp(kind, "Application") == 0)
		la_push(&la->apps, &la->napps, file, obj);
	return (1);
}

int
lint_argocd_add(struct lint_argocd *la, const char *name, const char *buf,
    size_t len, char **cause)
{
	struct config	**docs = NULL;
	const char	 *file, *p;
	size_t		  n = 0, i, k8s = 0;
	char		 *why = NULL;
	int		  jsonish, r;

	for (p = buf; p < buf + len && isspace((unsigned char)*p); p++)
		;
	jsonish = p < buf + len && (*p == '{' || *p == '[');
	/* Not text at all (a NUL): a body, whatever it is. */
	if (memchr(buf, '\0', len) != NULL)
		return (0);
	if (config_parse_string(name, buf, len, 0, &docs, &n, &why) == -1) {
		/* A rendered body that is not YAML either: diag.c's. */
		if (jsonish || strstr(buf, "apiVersion:") == NULL ||
		    strstr(buf, "kind:") == NULL) {
			free(why);
			return (0);
		}
		*cause = why;
		return (-1);
	}
	la->files = xreallocarray(la->files, la->nfiles + 1,
	    sizeof *la->files);
	file = la->files[la->nfiles++] = xstrdup(name);
	for (i = 0; i < n; i++) {
		r = la_object(la, file, config_root(docs[i]), 0);
		k8s += r == 2 || (r == 1 && la_str(config_root(docs[i]),
		    "apiVersion") != NULL);
	}
	if (n > 0) {
		la->docs = xreallocarray(la->docs, la->ndocs + n,
		    sizeof *la->docs);
		memcpy(la->docs + la->ndocs, docs, n * sizeof *docs);
		la->ndocs += n;
	}
	free(docs);
	return (k8s > 0 ? 1 : 0);
}

/* --- the configuration in force ---------------------------------------- */

/* Parse an entry's YAML value, with the lines of the file around it. */
static void
la_parse_entry(struct lint_argocd *la, struct la_entry *e, const char *what)
{
	const char	*text = config_scalar(e->val);
	size_t		 base;
	char		*cause = NULL;

	if (text == NULL) {
		if (e->val != NULL && config_type(e->val) != CONFIG_SCALAR) {
			/* Helm users sometimes write the map itself. */
			la_add(la, e->file, config_line(e->val),
			    "config-invalid", DIAG_ERROR, la_fmt("%s is a YAML "
			    "%s, but Argo CD reads every value of "
			    "argocd-notifications-cm as a string holding "
			    "YAML.", what, config_type(e->val) == CONFIG_MAP ?
			    "map" : "list"), la_fmt("%s", what),
			    xstrdup("Write the value as a block string: put "
			    "\"|\" after the key and indent the YAML below "
			    "it."));
			e->bad = 1;
		}
		return;
	}
	/* A block scalar's text starts on the line after its "|". */
	base = config_style(e->val) == CONFIG_STYLE_LITERAL ||
	    config_style(e->val) == CONFIG_STYLE_FOLDED ?
	    config_line(e->val) : config_line(e->val) - 1;
	if (config_parse_string(e->file, text, strlen(text), base, &e->docs,
	    &e->ndocs, &cause) == -1) {
		la_add(la, e->file, config_line(e->val), "config-invalid",
		    DIAG_ERROR, la_fmt("%s is not valid YAML, so Argo CD cannot "
		    "load the notifications configuration: it logs \"Failed to "
		    "get api\" and sends no notification at all, for any "
		    "Application.", what), cause, xstrdup("Fix the YAML "
		    "syntax (indentation, a missing \":\", tabs)."));
		e->bad = 1;
		return;
	}
	if (e->ndocs > 0)
		e->root = config_root(e->docs[0]);
}

static struct la_entry *
la_entry_add(struct la_entry **v, size_t *n, const char *name,
    const struct config_node *val, const char *file)
{
	struct la_entry	*e;
	size_t		 i;

	/* A key given again (a later file, or the CR after the map): the
	 * later one wins, as kubectl apply would have it. */
	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, name) == 0) {
			la_entry_clear(&(*v)[i]);
			e = &(*v)[i];
			goto set;
		}
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	e = &(*v)[(*n)++];
	memset(e, 0, sizeof *e);
set:
	e->name = xstrdup(name);
	e->val = val;
	e->file = file;
	return (e);
}

/* The keys of a ConfigMap's data, or of one of the CR's spec maps. */
static void
la_take(struct lint_argocd *la, const struct config_node *map,
    const char *file)
{
	const char	*k;
	size_t		 i;

	map = la_map(map);
	for (i = 0; i < config_len(map); i++) {
		k = config_key_at(map, i);
		if (strncmp(k, "service.", 8) == 0)
			la_entry_add(&la->svcs, &la->nsvcs, k + 8,
			    config_at(map, i), file);
		else if (strncmp(k, "template.", 9) == 0)
			la_entry_add(&la->tmpls, &la->ntmpls, k + 9,
			    config_at(map, i), file);
		else if (strncmp(k, "trigger.", 8) == 0)
			la_entry_add(&la->trigs, &la->ntrigs, k + 8,
			    config_at(map, i), file);
		else if (strcmp(k, "context") == 0) {
			la_entry_clear(&la->ctx);
			la->ctx.name = xstrdup(k);
			la->ctx.val = config_at(map, i);
			la->ctx.file = file;
		} else if (strcmp(k, "subscriptions") == 0) {
			la_entry_clear(&la->subs);
			la->subs.name = xstrdup(k);
			la->subs.val = config_at(map, i);
			la->subs.file = file;
		} else if (strcmp(k, "defaultTriggers") == 0) {
			la_entry_clear(&la->deftrig);
			la->deftrig.name = xstrdup(k);
			la->deftrig.val = config_at(map, i);
			la->deftrig.file = file;
		}
	}
}

/* Is the ConfigMap the operator's (OpenShift GitOps, argocd-operator)? */
static int
la_operator_owned(const struct config_node *cm)
{
	const struct config_node	*refs, *r;
	const char			*s;
	size_t				 i;

	refs = config_child(config_child(cm, "metadata"), "ownerReferences");
	for (i = 0; i < config_len(refs); i++) {
		r = config_at(refs, i);
		if ((s = la_str(r, "kind")) != NULL && (strcmp(s, "ArgoCD") ==
		    0 || strcmp(s, "NotificationsConfiguration") == 0))
			return (1);
	}
	s = la_str(cm, "metadata.namespace");
	return (s != NULL && strcmp(s, "openshift-gitops") == 0);
}

static void
la_openshift(struct lint_argocd *la)
{
	const struct config_node	*data, *spec;
	const char			*k, *sect;
	size_t				 i, j;
	int				 found;

	if (la->ncrs == 0) {
		for (i = 0; i < la->ncms; i++)
			if (la_operator_owned(la->cms[i].n))
				la_add(la, la->cms[i].file, config_line(
				    la->cms[i].n), "openshift-configmap",
				    DIAG_WARNING, xstrdup("This "
				    "argocd-notifications-cm belongs to the "
				    "OpenShift GitOps operator, which rewrites it "
				    "from the NotificationsConfiguration resource: "
				    "edits made here are overwritten, and Argo CD "
				    "then answers \"notification service "
				    "'backstage' is not supported\"."),
				    la_fmt("ConfigMap %s/argocd-notifications-cm "
				    "is managed by an operator",
				    la_str(la->cms[i].n, "metadata.namespace") ?
				    la_str(la->cms[i].n, "metadata.namespace") :
				    "?"),
				    xstrdup("Put services, templates, triggers "
				    "and context in the NotificationsConfiguration "
				    "(oc edit notificationsconfiguration "
				    "default-notifications-configuration), and "
				    "lint it: oc get notificationsconfiguration "
				    "-o yaml | notimock lint -"));
		return;
	}
	/* Both: every key of the map must come from the CR. */
	spec = config_child(la->crs[la->ncrs - 1].n, "spec");
	for (i = 0; i < la->ncms; i++) {
		data = la_map(config_child(la->cms[i].n, "data"));
		for (j = 0; j < config_len(data); j++) {
			k = config_key_at(data, j);
			sect = strncmp(k, "service.", 8) == 0 ? "services" :
			    strncmp(k, "template.", 9) == 0 ? "templates" :
			    strncmp(k, "trigger.", 8) == 0 ? "triggers" : NULL;
			if (sect == NULL)
				continue;
			found = config_child(config_child(spec, sect), k) !=
			    NULL;
			if (found)
				continue;
			la_add(la, la->cms[i].file, config_line(config_at(data,
			    j)), "openshift-configmap", DIAG_ERROR, la_fmt("%s "
			    "is in argocd-notifications-cm but not in the "
			    "NotificationsConfiguration: the OpenShift GitOps "
			    "operator rewrites the ConfigMap from the resource "
			    "and drops it.", k), la_fmt("data.%s", k),
			    la_fmt("Move it under spec.%s of the "
			    "NotificationsConfiguration.", sect));
		}
	}
}

/* Build the configuration in force from the ConfigMaps and the CR. */
static void
la_config(struct lint_argocd *la)
{
	const struct config_node	*spec, *n;
	const struct la_obj		*cr;
	size_t				 i;

	for (i = 0; i < la->ncms; i++)
		la_take(la, config_child(la->cms[i].n, "data"),
		    la->cms[i].file);
	for (i = 0; i < la->ndatas; i++)
		la_take(la, la->datas[i].n, la->datas[i].file);
	for (i = 0; i < la->nhelms; i++) {
		n = config_child(la->helms[i].n, "notifications");
		la_take(la, config_child(n, "notifiers"), la->helms[i].file);
		la_take(la, config_child(n, "templates"), la->helms[i].file);
		la_take(la, config_child(n, "triggers"), la->helms[i].file);
		if (config_child(n, "context") != NULL) {
			la->ctx_map = config_child(n, "context");
			la->ctx.file = la->helms[i].file;
		}
		if ((la->ctx_url = la_str(n, "argocdUrl")) != NULL &&
		    la->ctx.file == NULL)
			la->ctx.file = la->helms[i].file;
		if (config_child(n, "subscriptions") != NULL) {
			la_entry_clear(&la->subs);
			la->subs.name = xstrdup("subscriptions");
			la->subs.val = config_child(n, "subscriptions");
			la->subs.file = la->helms[i].file;
		}
	}
	/* The CR wins: the operator writes the ConfigMap from it. */
	if (la->ncrs > 0) {
		cr = &la->crs[la->ncrs - 1];
		spec = config_child(cr->n, "spec");
		la_take(la, config_child(spec, "services"), cr->file);
		la_take(la, config_child(spec, "templates"), cr->file);
		la_take(la, config_child(spec, "triggers"), cr->file);
		if ((n = config_child(spec, "context")) != NULL) {
			la_entry_clear(&la->ctx);
			la->ctx_map = n;
			la->ctx.file = cr->file;
		}
		if ((n = config_child(spec, "subscriptions")) != NULL) {
			la_entry_clear(&la->subs);
			la->subs.name = xstrdup("subscriptions");
			la->subs.val = n;
			la->subs.file = cr->file;
		}
	}
	for (i = 0; i < la->nsvcs; i++)
		la_parse_entry(la, &la->svcs[i], la->svcs[i].name);
	for (i = 0; i < la->ntmpls; i++)
		la_parse_entry(la, &la->tmpls[i], la->tmpls[i].name);
	for (i = 0; i < la->ntrigs; i++)
		la_parse_entry(la, &la->trigs[i], la->trigs[i].name);
	if (la->ctx.val != NULL) {
		la_parse_entry(la, &la->ctx, "context");
		la->ctx_map = la->ctx.root;
	}
	if (la->subs.val != NULL && config_scalar(la->subs.val) != NULL)
		la_parse_entry(la, &la->subs, "subscriptions");
	else if (la->subs.val != NULL)
		la->subs.root = la->subs.val;
}

/* Base64 (standard, padded) as Kubernetes stores Secret data. */
static char *
la_b64decode(const char *s, size_t *lenp)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*out, *c;
	size_t			 n = 0;
	unsigned long		 v = 0;
	int			 bits = 0;

	out = xmalloc(strlen(s) + 1);
	for (; *s != '\0' && *s != '='; s++) {
		if (isspace((unsigned char)*s))
			continue;
		if ((c = strchr(a, *s)) == NULL) {
			free(out);
			return (NULL);
		}
		v = v << 6 | (unsigned long)(c - a);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (char)((v >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	*lenp = n;
	return (out);
}

static void
la_secrets(struct lint_argocd *la)
{
	const struct config_node	*m;
	const char			*v;
	char				*dec;
	size_t				 i, j, len;
	int				 pass;

	for (i = 0; i < la->nsecrets; i++)
		for (pass = 0; pass < 3; pass++) {
			/* Helm's notifications.secret.items is stringData. */
			m = la_map(config_child(la->secrets[i].n, pass == 0 ?
			    "data" : pass == 1 ? "stringData" : "items"));
			for (j = 0; j < config_len(m); j++) {
				v = config_scalar(config_at(m, j));
				if (v == NULL)
					v = "";
				if (pass == 0) {
					if ((dec = la_b64decode(v, &len)) ==
					    NULL)
						continue;
				} else {
					dec = xstrdup(v);
					len = strlen(v);
				}
				la->sec = xreallocarray(la->sec, la->nsec + 1,
				    sizeof *la->sec);
				la->sec[la->nsec].key = xstrdup(
				    config_key_at(m, j));
				la->sec[la->nsec].val = dec;
				la->sec[la->nsec].len = len;
				la->nsec++;
			}
		}
}

static const struct la_secret *
la_secret(const struct lint_argocd *la, const char *key, size_t len)
{
	size_t	i;

	for (i = la->nsec; i > 0; i--)
		if (strlen(la->sec[i - 1].key) == len &&
		    memcmp(la->sec[i - 1].key, key, len) == 0)
			return (&la->sec[i - 1]);
	return (NULL);
}

/* --- lookups ----------------------------------------------------------- */

/* The service named name ("backstage"): service.webhook.backstage,
 * service.slack, service.email.gmail. */
static struct la_entry *
la_service(struct lint_argocd *la, const char *name, int *webhook)
{
	const char	*dot;
	size_t		 i;

	for (i = 0; i < la->nsvcs; i++) {
		dot = strchr(la->svcs[i].name, '.');
		if ((dot == NULL && strcmp(la->svcs[i].name, name) == 0) ||
		    (dot != NULL && strcmp(dot + 1, name) == 0)) {
			*webhook = strncmp(la->svcs[i].name, "webhook.", 8) == 0;
			return (&la->svcs[i]);
		}
	}
	return (NULL);
}

static struct la_entry *
la_find(struct la_entry *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return (&v[i]);
	return (NULL);
}

static int
la_is_catalog(const char **names, const char *name)
{
	size_t	i;

	for (i = 0; i < LA_NCATALOG; i++)
		if (strcmp(names[i], name) == 0)
			return (1);
	return (0);
}

/* The templates a trigger sends (each condition's send list). */
static void
la_trigger_sends(const struct la_entry *t, const struct config_node ***out,
    size_t *n)
{
	const struct config_node	*cond, *send;
	size_t				 i, j;

	*out = NULL;
	*n = 0;
	if (t->root == NULL || config_type(t->root) != CONFIG_SEQ)
		return;
	for (i = 0; i < config_len(t->root); i++) {
		cond = config_at(t->root, i);
		send = config_child(cond, "send");
		for (j = 0; j < config_len(send); j++) {
			*out = xreallocarray(*out, *n + 1, sizeof **out);
			(*out)[(*n)++] = config_at(send, j);
		}
	}
}

/* --- subscriptions ----------------------------------------------------- */

static void
la_sub_add(struct lint_argocd *la, const char *trigger, size_t tlen,
    const char *service, const char *file, size_t line,
    const struct la_obj *app)
{
	struct la_sub	*s;

	la->sublist = xreallocarray(la->sublist, la->nsub + 1,
	    sizeof *la->sublist);
	s = &la->sublist[la->nsub++];
	s->trigger = xstrndup(trigger, tlen);
	s->service = xstrdup(service);
	s->file = file;
	s->line = line;
	s->app = app;
	s->global = 0;
	s->derived = 0;
}

/* Default triggers: for "subscribe.<service>" annotations. */
static void
la_sub_defaults(struct lint_argocd *la, const char *service,
    const char *file, size_t line, const struct la_obj *app)
{
	const struct config_node	*n = la->deftrig.root;
	const char			*s;
	size_t				 i;

	if (la->deftrig.val != NULL && n == NULL)
		la_parse_entry(la, &la->deftrig, "defaultTriggers");
	n = la->deftrig.root;
	for (i = 0; i < config_len(n); i++)
		if ((s = config_scalar(config_at(n, i))) != NULL)
			la_sub_add(la, s, strlen(s), service, file, line, app);
}

static void
la_subscriptions(struct lint_argocd *la)
{
	const struct config_node	*ann, *s, *recips, *trigs;
	const char			*k, *rest, *dot, *r;
	char				*svc;
	size_t				 i, j, a, b, first;

	for (i = 0; i < la->napps; i++) {
		ann = la_map(config_child(config_child(la->apps[i].n,
		    "metadata"), "annotations"));
		for (j = 0; j < config_len(ann); j++) {
			k = config_key_at(ann, j);
			if (strncmp(k, LA_SUBSCRIBE, strlen(LA_SUBSCRIBE)) != 0)
				continue;
			rest = k + strlen(LA_SUBSCRIBE);
			/* subscribe.<trigger>.<service>: trigger names hold
			 * no dots, service names may not either. */
			if ((dot = strrchr(rest, '.')) == NULL) {
				la_sub_defaults(la, rest, la->apps[i].file,
				    config_line(config_at(ann, j)),
				    &la->apps[i]);
				continue;
			}
			la_sub_add(la, rest, (size_t)(dot - rest), dot + 1,
			    la->apps[i].file, config_line(config_at(ann, j)),
			    &la->apps[i]);
		}
	}
	/* Global subscriptions: [{recipients: [svc[:r]], triggers: []}]. */
	if (la->subs.root == NULL || config_type(la->subs.root) != CONFIG_SEQ)
		return;
	for (i = 0; i < config_len(la->subs.root); i++) {
		s = config_at(la->subs.root, i);
		recips = config_child(s, "recipients");
		trigs = config_child(s, "triggers");
		for (a = 0; a < config_len(recips); a++) {
			if ((r = config_scalar(config_at(recips, a))) == NULL)
				continue;
			svc = xstrndup(r, strcspn(r, ":"));
			first = la->nsub;
			if (config_len(trigs) == 0)
				la_sub_defaults(la, svc, la->subs.file,
				    config_line(config_at(recips, a)), NULL);
			for (b = 0; b < config_len(trigs); b++) {
				if ((r = config_scalar(config_at(trigs, b))) ==
				    NULL)
					continue;
				la_sub_add(la, r, strlen(r), svc,
				    la->subs.file, config_line(config_at(trigs,
				    b)), NULL);
			}
			for (; first < la->nsub; first++)
				la->sublist[first].global = 1;
			free(svc);
		}
	}
}

/* --- services: headers, auth, URL, TLS --------------------------------- */

/* Every $key in s: missing from the secret? */
static void
la_dollar_keys(struct lint_argocd *la, const struct la_entry *e,
    const struct config_node *n, const char *where)
{
	const char	*s, *p, *q;
	size_t		 i;

	if (config_type(n) != CONFIG_SCALAR) {
		for (i = 0; i < config_len(n); i++)
			la_dollar_keys(la, e, config_at(n, i), where);
		return;
	}
	if ((s = config_scalar(n)) == NULL || la->nsecrets == 0)
		return;
	for (p = s; (p = strchr(p, '$')) != NULL; p = q) {
		for (q = p + 1; isalnum((unsigned char)*q) || *q == '_' ||
		    *q == '-'; q++)
			;
		if (q == p + 1)
			continue;
		if (la_secret(la, p + 1, (size_t)(q - p - 1)) != NULL)
			continue;
		la_add(la, e->file, config_line(n), "auth-unresolved-secret",
		    DIAG_ERROR, la_fmt("service.%s refers to $%.*s, which is "
		    "not a key of argocd-notifications-secret: Argo CD sends "
		    "the reference as written (\"Bearer $%.*s\") and Backstage "
		    "answers 401 \"Illegal token\".", e->name, (int)(q - p - 1),
		    p + 1, (int)(q - p - 1), p + 1), la_fmt("%s: $%.*s; the "
		    "secret has %zu key%s", where, (int)(q - p - 1), p + 1,
		    la->nsec, la->nsec == 1 ? "" : "s"), la_fmt("Add the key "
		    "to the Secret argocd-notifications-secret (in Argo CD's "
		    "namespace):\n  stringData:\n    %.*s: <the token "
		    "notimock or Backstage accepts>\nKey names allow only "
		    "letters, digits, _ and -.", (int)(q - p - 1), p + 1));
	}
}

/* The token an Authorization value resolves to, or NULL. */
static char *
la_resolve(const struct lint_argocd *la, const char *v, size_t *lenp)
{
	const struct la_secret	*sec;
	const char		*p, *q;
	char			*out;
	size_t			 n = 0, cap;

	cap = strlen(v) + 1;
	for (p = v; *p != '\0'; p++)
		if (*p == '$')
			for (sec = la->sec; sec < la->sec + la->nsec; sec++)
				cap += sec->len;
	out = xmalloc(cap);
	for (p = v; *p != '\0';) {
		if (*p == '$') {
			for (q = p + 1; isalnum((unsigned char)*q) ||
			    *q == '_' || *q == '-'; q++)
				;
			if (q > p + 1 && (sec = la_secret(la, p + 1,
			    (size_t)(q - p - 1))) != NULL) {
				memcpy(out + n, sec->val, sec->len);
				n += sec->len;
				p = q;
				continue;
			}
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	*lenp = n;
	return (out);
}

static void
la_auth(struct lint_argocd *la, const struct la_entry *e,
    const struct config_node *hdr, const char *value)
{
	const char	*tok, *p;
	char		*res, *m, *ev, *fix;
	size_t		 len, line = config_line(hdr);

	if (strstr(value, "{{") != NULL) {
		la_add(la, e->file, line, "auth-template", DIAG_ERROR,
		    la_fmt("The Authorization header of service.%s holds a "
		    "template, but service configuration is not templated "
		    "(argoproj/argo-cd#17626): Argo CD sends the braces as "
		    "written and Backstage answers 401.", e->name),
		    xstrdup("headers: Authorization contains {{ ... }}"),
		    xstrdup("Use $key substitution: value: Bearer "
		    "$backstage-token, with the key in "
		    "argocd-notifications-secret."));
		return;
	}
	if (strncmp(value, "Bearer ", 7) != 0) {
		la_add(la, e->file, line, "auth-malformed", DIAG_ERROR,
		    la_fmt("The Authorization header of service.%s is not "
		    "\"Bearer <token>\": Backstage answers 401 \"Missing "
		    "credentials\".", e->name), la_fmt("headers: Authorization "
		    "= %s", value[0] == '$' ? value : "(not starting with "
		    "\"Bearer \")"), xstrdup("value: Bearer "
		    "$backstage-token"));
		return;
	}
	tok = value + 7;
	if (strchr(tok, '$') == NULL) {
		la_add(la, e->file, line, "token-in-configmap", DIAG_WARNING,
		    la_fmt("The token is written into service.%s itself: "
		    "anyone who can read the ConfigMap can send as Argo CD, "
		    "and it ends up in Git.", e->name), la_fmt("headers: "
		    "Authorization = Bearer <%zu characters>", strlen(tok)),
		    xstrdup("Move it to argocd-notifications-secret (key "
		    "backstage-token) and write value: Bearer "
		    "$backstage-token."));
	} else if (tok[0] != '$' || strpbrk(tok, " \t") != NULL) {
		la_add(la, e->file, line, "auth-malformed", DIAG_ERROR,
		    la_fmt("The Authorization value of service.%s has text "
		    "around the $key, so the token Backstage sees is not the "
		    "secret alone: 401.", e->name), xstrdup("headers: "
		    "Authorization = Bearer <text and a $key>"),
		    xstrdup("value: Bearer $backstage-token, nothing else."));
	}
	if (la->nsecrets == 0 && strchr(tok, '$') != NULL)
		return;
	res = la_resolve(la, tok, &len);
	if (strchr(res, '$') == NULL) {
		if (len == 0)
			la_add(la, e->file, line, "auth-malformed",
			    DIAG_ERROR, la_fmt("The secret key that service.%s "
			    "uses is empty: Argo CD sends \"Bearer\" alone and "
			    "Backstage answers 401 \"Missing credentials\".",
			    e->name), xstrdup("headers: Authorization = Bearer "
			    "<0 characters>"), xstrdup("Put the token in the "
			    "secret."));
		else if ((p = strpbrk(res, "\r\n")) != NULL)
			la_add(la, e->file, line, "auth-malformed",
			    DIAG_ERROR, la_fmt("The token for service.%s ends "
			    "in a newline (echo ... | base64 adds one): Go "
			    "refuses the header (\"invalid header field "
			    "value\") and nothing is sent.", e->name),
			    la_fmt("headers: Authorization = Bearer <%zu "
			    "characters, a newline at %zu>", len,
			    (size_t)(p - res) + 1), xstrdup("Store the token "
			    "without the newline: printf %s \"$TOKEN\" | "
			    "base64, or use stringData."));
		else if (la->opts.url != NULL && lint_remote_token(&la->opts,
		    res, len, e->name, &m, &ev, &fix) == 1)
			la_add(la, e->file, line, "token-refused", DIAG_ERROR,
			    m, ev, fix);
	}
	free(res);
}

static void
la_tls(struct lint_argocd *la, const struct la_entry *e,
    const struct config_node *urln, const char *url)
{
	const struct config_node	*data, *skip;
	const char			*h, *end, *pem = NULL;
	char				*host, *m, *ev, *fix;
	size_t				 i, j, hl;
	int				 incluster;

	if (strncasecmp(url, "https://", 8) != 0)
		return;
	h = url + 8;
	if (*h == '[') {
		end = strchr(h, ']');
		hl = end != NULL ? (size_t)(end - h + 1) : strlen(h);
	} else
		hl = strcspn(h, ":/?#");
	host = xstrndup(h, hl);
	skip = config_child(e->root, "insecureSkipVerify");
	if (skip != NULL && config_scalar(skip) != NULL &&
	    strcmp(config_scalar(skip), "true") == 0) {
		free(host);
		return;
	}
	for (i = 0; i < la->ntlss; i++) {
		data = config_child(la->tlss[i].n, "data");
		if (data == NULL)	/* Helm: configs.tls.certificates */
			data = config_child(la->tlss[i].n, "certificates");
		data = la_map(data);
		for (j = 0; j < config_len(data); j++)
			if (strcmp(config_key_at(data, j), host) == 0)
				pem = config_scalar(config_at(data, j));
	}
	/* A host of the cluster cannot have a public certificate. */
	incluster = strstr(host, ".svc") != NULL || strchr(host, '.') == NULL ||
	    strspn(host, "0123456789.") == strlen(host) || host[0] == '[' ||
	    strstr(host, ".local") != NULL;
	if (pem == NULL && incluster && (la->ntlss > 0 ||
	    la->opts.url != NULL))
		la_add(la, e->file, config_line(urln), "tls-no-ca",
		    DIAG_WARNING, la_fmt("service.%s sends over https to %s, "
		    "but argocd-tls-certs-cm has no entry for that host: Argo "
		    "CD verifies the certificate against the system roots, "
		    "which do not hold notimock's own CA, and every send fails "
		    "with \"x509: certificate signed by unknown authority\" "
		    "(without a retry).", e->name, host), la_fmt("url: %s; "
		    "argocd-tls-certs-cm %s", host, la->ntlss > 0 ? "has no "
		    "such key" : "not given"), la_fmt("Trust notimock's CA "
		    "under the host name without the port:\n  kubectl -n "
		    "argocd create configmap argocd-tls-certs-cm "
		    "--from-file=%s=<(notimock ca)\n(or set "
		    "insecureSkipVerify: true in service.%s, for tests only).",
		    host, e->name));
	else if (pem != NULL && la->opts.url != NULL && lint_remote_tls(
	    &la->opts, pem, host, e->name, &m, &ev, &fix) == 1)
		la_add(la, e->file, config_line(urln), "tls-ca-mismatch",
		    DIAG_ERROR, m, ev, fix);
	free(host);
}

static void
la_service_check(struct lint_argocd *la, struct la_entry *e)
{
	const struct config_node	*hdrs, *h, *url, *n;
	const char			*name, *value, *u, *s;
	const char			*ct = NULL, *auth = NULL;
	const struct config_node	*authn = NULL;
	size_t				 i;
	char				 where[256];

	if (e->bad || strncmp(e->name, "webhook.", 8) != 0)
		return;
	if (e->root == NULL || config_type(e->root) != CONFIG_MAP) {
		la_add(la, e->file, config_line(e->val), "config-invalid",
		    DIAG_ERROR, la_fmt("service.%s is not a map of webhook "
		    "options: Argo CD cannot load it and sends no "
		    "notification at all (\"Failed to get api\").", e->name),
		    la_fmt("service.%s", e->name), xstrdup("url: "
		    "https://...\nheaders:\n- name: Content-Type\n  value: "
		    "application/json"));
		return;
	}
	snprintf(where, sizeof where, "service.%s", e->name);
	la_dollar_keys(la, e, e->root, where);
	/* retryWaitMin: 1s is the documented trap (spec 1). */
	for (i = 0; i < 2; i++) {
		n = config_child(e->root, i == 0 ? "retryWaitMin" :
		    "retryWaitMax");
		if ((s = config_scalar(n)) == NULL || s[strspn(s,
		    "0123456789")] == '\0')
			continue;
		la_add(la, e->file, config_line(n), "config-invalid",
		    DIAG_ERROR, la_fmt("%s must be a number of nanoseconds: "
		    "Argo CD fails with \"json: cannot unmarshal string into "
		    "Go struct field WebhookOptions.%s of type time.Duration\" "
		    "and sends no notification at all.", i == 0 ?
		    "retryWaitMin" : "retryWaitMax", i == 0 ? "retryWaitMin" :
		    "retryWaitMax"), la_fmt("%s: %s", i == 0 ? "retryWaitMin" :
		    "retryWaitMax", s), la_fmt("Write it in nanoseconds "
		    "(1000000000 for 1s), or leave it out."));
	}
	url = config_child(e->root, "url");
	if ((u = config_scalar(url)) == NULL) {
		la_add(la, e->file, config_line(e->root), "config-invalid",
		    DIAG_ERROR, la_fmt("service.%s has no url.", e->name),
		    xstrdup("no url:"), xstrdup("url: "
		    "https://backstage.example.com/api/notifications"));
	} else {
		if (strchr(u, '?') != NULL)
			la_add(la, e->file, config_line(url), "url-query",
			    DIAG_ERROR, la_fmt("The url of service.%s has a "
			    "query string: Argo CD appends the template's path "
			    "after it (?token=x/notifications) and Backstage "
			    "refuses every query parameter with 400.", e->name),
			    xstrdup("url: ...?<query>"), xstrdup("Drop the "
			    "query from url; send the token in the "
			    "Authorization header."));
		la_tls(la, e, url, u);
	}
	hdrs = config_child(e->root, "headers");
	for (i = 0; i < config_len(hdrs); i++) {
		h = config_at(hdrs, i);
		name = la_str(h, "name");
		value = la_str(h, "value");
		if (name == NULL)
			continue;
		if (strcasecmp(name, "Content-Type") == 0)
			ct = value != NULL ? value : "";
		else if (strcasecmp(name, "Authorization") == 0) {
			auth = value != NULL ? value : "";
			authn = h;
		}
	}
	if (ct == NULL)
		la_add(la, e->file, config_line(hdrs != NULL ? hdrs : e->root),
		    "missing-content-type", DIAG_ERROR, la_fmt("service.%s "
		    "sets no Content-Type header: Argo CD's webhook sends none "
		    "unless it is listed, and Backstage answers 400 "
		    "\"unsupported media type undefined\".", e->name),
		    la_fmt("service.%s headers: no Content-Type", e->name),
		    xstrdup("Add to headers:\n- name: Content-Type\n  value: "
		    "application/json"));
	else if (strncasecmp(ct, "application/json", 16) != 0)
		la_add(la, e->file, config_line(hdrs), "wrong-content-type",
		    DIAG_ERROR, la_fmt("service.%s sends Content-Type %s: "
		    "Backstage only takes application/json and answers 400 "
		    "\"unsupported media type\".", e->name, ct),
		    la_fmt("headers: Content-Type = %s", ct),
		    xstrdup("value: application/json"));
	if (config_child(e->root, "basicAuth") != NULL)
		la_add(la, e->file, config_line(config_child(e->root,
		    "basicAuth")), "auth-basic", DIAG_ERROR, la_fmt("service.%s "
		    "has basicAuth, which replaces any Authorization header "
		    "with \"Basic ...\": Backstage answers 401.", e->name),
		    xstrdup("basicAuth: set"), xstrdup("Remove basicAuth and "
		    "add a header: - name: Authorization / value: Bearer "
		    "$backstage-token"));
	else if (auth == NULL)
		la_add(la, e->file, config_line(hdrs != NULL ? hdrs : e->root),
		    "auth-missing", DIAG_ERROR, la_fmt("service.%s sends no "
		    "Authorization header: Backstage answers 401 \"Missing "
		    "credentials\".", e->name), la_fmt("service.%s headers: "
		    "no Authorization", e->name), xstrdup("Add to headers:\n"
		    "- name: Authorization\n  value: Bearer $backstage-token\n"
		    "and the key backstage-token to "
		    "argocd-notifications-secret."));
	else
		la_auth(la, e, authn, auth);
}

/* --- rendering --------------------------------------------------------- */

/* A YAML node as the JSON Argo CD's unstructured objects hold. */
static struct json *
la_to_json(const struct config_node *n)
{
	struct json	*o;
	const char	*s;
	char		*end;
	double		 d;
	size_t		 i;

	if (n == NULL)
		return (json_new_null());
	switch (config_type(n)) {
	case CONFIG_MAP:
		o = json_new_object();
		for (i = 0; i < config_len(n); i++)
			json_add(o, config_key_at(n, i),
			    la_to_json(config_at(n, i)));
		return (o);
	case CONFIG_SEQ:
		o = json_new_array();
		for (i = 0; i < config_len(n); i++)
			json_append(o, la_to_json(config_at(n, i)));
		return (o);
	default:
		if ((s = config_scalar(n)) == NULL)
			return (json_new_null());
		if (config_style(n) != CONFIG_STYLE_PLAIN)
			return (json_new_string(s));
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
			return (json_new_bool(s[0] == 't'));
		d = strtod(s, &end);
		if (*s != '\0' && *end == '\0' && (isdigit((unsigned char)*s) ||
		    *s == '-'))
			return (json_new_number(d));
		return (json_new_string(s));
	}
}

/* The variables a template sees (spec 7): app, context, secrets, ... */
static struct json *
la_vars(const struct lint_argocd *la, const struct json *app,
    const char *service)
{
	struct json	*v, *ctx, *sec;
	size_t		 i;

	v = json_new_object();
	json_add(v, "app", json_dup(app));
	ctx = json_new_object();
	for (i = 0; i < config_len(la->ctx_map); i++)
		if (config_type(la->ctx_map) == CONFIG_MAP)
			json_add_str(ctx, config_key_at(la->ctx_map, i),
			    config_scalar(config_at(la->ctx_map, i)) ?
			    config_scalar(config_at(la->ctx_map, i)) : "");
	if (la->ctx_url != NULL)
		json_add_str(ctx, "argocdUrl", la->ctx_url);
	json_add_str(ctx, "notificationType", service);
	json_add(v, "context", ctx);
	sec = json_new_object();
	for (i = 0; i < la->nsec; i++)
		json_add_str(sec, la->sec[i].key, la->sec[i].val);
	json_add(v, "secrets", sec);
	json_add_str(v, "serviceType", service);
	json_add_str(v, "recipient", "");
	return (v);
}

/* The file line of line tline (1-based) of a template held in n. */
static size_t
la_tline(const struct config_node *n, size_t tline)
{
	if (config_style(n) == CONFIG_STYLE_LITERAL)
		return (config_line(n) + (tline > 0 ? tline : 1));
	return (config_line(n));
}

/* "line L, column C" in a body diagnosis' evidence: L, or 0. */
static size_t
la_evidence_line(const char *ev)
{
	const char	*p;

	if (ev == NULL || (p = strstr(ev, "line ")) == NULL)
		return (0);
	return ((size_t)strtoul(p + 5, NULL, 10));
}

static const char *
la_app_name(const struct la_obj *app)
{
	const char	*s;

	if (app == NULL)
		return ("a sample Application (guestbook)");
	s = la_str(app->n, "metadata.name");
	return (s != NULL ? s : "?");
}

static void
la_print_render(const char *tmpl, const char *service, const char *app,
    const char *body)
{
	struct json	*o;

	o = json_new_object();
	json_add_str(o, "template", tmpl);
	json_add_str(o, "service", service);
	json_add_str(o, "application", app);
	json_add_str(o, "body", body);
	lint_json_line(o);
}

/* Render one template for one service and Application; diagnose the body
 * as the server would.  Returns 0 if the body rendered. */
static int
la_render_body(struct lint_argocd *la, const struct la_entry *t,
    const char *service, const struct config_node *body,
    const struct gotmpl *g, const struct la_obj *app, int link_known)
{
	struct gotmpl_opts	 opts = { "secrets", NULL, NULL };
	struct gotmpl_error	 err;
	struct diag_input	 in;
	struct diag_result	 res;
	struct json		*appj, *vars;
	char			*out = NULL, *out2 = NULL;
	size_t			 len, len2, i, pline;
	char			 jerr[JSON_ERRLEN];
	struct json		*parsed;
	long			 jpos;

	appj = app != NULL ? la_to_json(app->n) : json_dup(la->sample);
	/* A manifest has no status yet: lend it the sample's, as the
	 * controller would have one by the time a trigger fires. */
	if (json_get(appj, "status") == NULL)
		json_add(appj, "status", json_dup(json_get(la->sample,
		    "status")));
	vars = la_vars(la, appj, service);
	json_free(appj);
	if (gotmpl_render(g, vars, &opts, &out, &len, &err, NULL) !=
	    GOTMPL_OK) {
		if (err.status == GOTMPL_UNSUPPORTED)
			la_add(la, t->file, la_tline(body, err.line),
			    "template-unsupported", DIAG_INFO, la_fmt("notimock "
			    "lint cannot render template %s (%s), so its body "
			    "is not checked.", t->name, err.msg),
			    la_fmt("template %s: %s", t->name, err.msg),
			    xstrdup("Check this template by sending it to "
			    "notimock: its diagnoses cover the rendered "
			    "body."));
		else
			la_add(la, t->file, la_tline(body, err.line),
			    "template-error", DIAG_ERROR, la_fmt("Template %s "
			    "fails to render for %s: Argo CD logs the error and "
			    "sends nothing.", t->name, la_app_name(app)),
			    la_fmt("webhook.%s.body: %s", service, err.msg),
			    xstrdup(strstr(err.msg, "index of untyped nil") ?
			    "The Application has no annotations at all (an "
			    "Application subscribed through the project or "
			    "global subscriptions): give it the "
			    "backstage.io/entity-ref annotation, or guard the "
			    "lookup: {{ if .app.metadata.annotations }}...{{ "
			    "end }}." : "Guard the field: {{ with "
			    ".app.status.operationState }}...{{ end }}, or use "
			    "default."));
		json_free(vars);
		return (-1);
	}
	if (la->opts.render) {
		la_print_render(t->name, service, app != NULL ?
		    la_str(app->n, "metadata.name") : NULL, out);
		free(out);
		json_free(vars);
		return (0);
	}
	memset(&in, 0, sizeof in);
	in.offline = 1;
	in.method = "POST";
	in.body = (const unsigned char *)out;
	in.body_len = len;
	in.json_errpos = -1;
	in.base_url = la->opts.base_url;
	diag_run(NULL, &in, &res);
	for (i = 0; i < res.n; i++) {
		/* context-argocd-url says it once, at the context. */
		if (!link_known && strcmp(res.v[i].code, "no-value") == 0 &&
		    strncmp(res.v[i].evidence, "payload.link", 12) == 0)
			continue;
		la_add(la, t->file, la_tline(body, la_evidence_line(
		    res.v[i].evidence)), res.v[i].code, res.v[i].level,
		    la_fmt("Template %s, rendered for %s: %s", t->name,
		    la_app_name(app), res.v[i].message),
		    la_fmt("rendered webhook.%s.body, %s", service,
		    res.v[i].evidence), xstrdup(res.v[i].fix));
	}
	/* A valid body: would a quote or a newline in a message break it? */
	parsed = diag_errors(&res) == 0 ? json_parse(out, len, 1, jerr,
	    sizeof jerr, NULL) : NULL;
	diag_clear(&res);
	if (parsed != NULL) {
		json_free(parsed);
		opts.poison_field = "message";
		opts.poison_value = LA_POISON;
		if (gotmpl_render(g, vars, &opts, &out2, &len2, &err, &pline) ==
		    GOTMPL_OK && (parsed = json_parse(out2, len2, 1, jerr,
		    sizeof jerr, &jpos)) == NULL)
			la_add(la, t->file, la_tline(body, pline),
			    "unescaped-value", DIAG_ERROR, la_fmt("Template %s "
			    "puts a message field between quotes without "
			    "toJson: Argo CD's failure messages quote object "
			    "names and can hold newlines (\"error when patching "
			    "\\\"...\\\"\"), and then the body is not JSON and "
			    "Backstage answers 400 (\"%s\").  Exactly the "
			    "failures people care about are lost.", t->name,
			    jerr), la_fmt("webhook.%s.body line %zu, rendered "
			    "with .app.status.operationState.message = %s",
			    service, pline, "\"one or more objects failed to "
			    "apply, reason: error when patching \\\"/dev/shm/1\\\""
			    ": ...\\none or more SyncFail hooks failed\""),
			    xstrdup("Write the value without the quotes, "
			    "through toJson:\n  \"description\": {{ "
			    ".app.status.operationState.message | toJson }}"));
		json_free(parsed);
		free(out2);
	}
	free(out);
	json_free(vars);
	return (0);
}

/* Which path Argo CD posts to: TrimRight(url,"/") + "/" + TrimLeft(path,"/"). */
static void
la_check_path(struct lint_argocd *la, const struct la_entry *t,
    const char *service, const struct config_node *pathn, const char *url)
{
	const struct config_node *at;
	struct gotmpl		*g = NULL;
	struct gotmpl_error	 err;
	struct json		*vars;
	char			*path = NULL, *joined;
	const char		*p, *q;
	size_t			 len, ul;

	if (url == NULL)
		return;
	if (pathn != NULL && config_scalar(pathn) != NULL) {
		p = config_scalar(pathn);
		if (gotmpl_parse(p, strlen(p), &g, &err) != GOTMPL_OK)
			return;
		vars = la_vars(la, la->sample, service);
		if (gotmpl_render(g, vars, NULL, &path, &len, &err, NULL) !=
		    GOTMPL_OK) {
			json_free(vars);
			gotmpl_free(g);
			return;
		}
		json_free(vars);
		gotmpl_free(g);
	}
	ul = strlen(url);
	if (path != NULL && path[0] != '\0') {
		while (ul > 0 && url[ul - 1] == '/')
			ul--;
		for (p = path; *p == '/'; p++)
			;
		xasprintf(&joined, "%.*s/%s", (int)ul, url, p);
	} else
		joined = xstrdup(url);
	free(path);
	/* The path part of the URL. */
	p = strstr(joined, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	if (p == NULL)
		p = "/";
	q = p + strcspn(p, "?#");
	len = (size_t)(q - p);
	if (len > 0 && p[len - 1] == '/' && len > 1)
		len--;
	/* Where to point: the path, or the template when it has none. */
	at = pathn != NULL ? pathn : t->val;
	if (strchr(joined, '\n') != NULL)
		la_add(la, t->file, config_line(at), "wrong-path",
		    DIAG_ERROR, la_fmt("The path of template %s ends in a "
		    "newline (path: |): Go refuses the URL (\"invalid control "
		    "character in URL\") and nothing is sent.", t->name),
		    la_fmt("webhook.%s.path", service), xstrdup("path: "
		    "/notifications, on one line."));
	else if (memmem(p, len, "<no value>", 10) != NULL)
		la_add(la, t->file, config_line(at), "no-value",
		    DIAG_ERROR, la_fmt("The path of template %s renders <no "
		    "value>: Go percent-encodes it and Backstage answers an "
		    "empty 404.", t->name), la_fmt("webhook.%s.path renders "
		    "%.*s", service, (int)len, p), xstrdup("Fix the field in "
		    "path:, or drop it."));
	else if (!((len == 32 && strncasecmp(p,
	    "/api/notifications/notifications", 32) == 0) ||
	    (len == 18 && strncasecmp(p, "/api/notifications", 18) == 0)))
		la_add(la, t->file, config_line(at), "wrong-path", DIAG_ERROR,
		    la_fmt("Template %s "
		    "posts to %.*s, which is not Backstage's send route: "
		    "Backstage answers an empty 404.", t->name, (int)len, p),
		    la_fmt("service.webhook.%s url + webhook.%s.path = %.*s",
		    service, service, (int)len, p), xstrdup("Argo CD joins "
		    "them as TrimRight(url,\"/\") + \"/\" + "
		    "TrimLeft(path,\"/\"): together they must give "
		    "/api/notifications/notifications (url: "
		    "https://backstage.example.com/api/notifications with "
		    "path: /notifications, or the whole route in url and no "
		    "path)."));
	free(joined);
}

/* The ConfigMap/CR is given: what it says is known. */
static int
la_have_config(const struct lint_argocd *la)
{
	return (la->ncms > 0 || la->ncrs > 0 || la->nhelms > 0 ||
	    la->ndatas > 0);
}

static int
la_ctx_has(const struct lint_argocd *la, const char *key)
{
	if (strcmp(key, "argocdUrl") == 0 && la->ctx_url != NULL)
		return (1);
	return (config_scalar(config_child(la->ctx_map, key)) != NULL);
}

/* One template, as sent by a subscription to service (a webhook). */
static void
la_template_for(struct lint_argocd *la, struct la_entry *t,
    const char *service, const struct la_entry *svc, const char *trigger)
{
	const struct config_node	*hook, *m, *body, *pathn;
	struct gotmpl			*g = NULL;
	struct gotmpl_error		 err;
	const char			*s;
	size_t				 i, j, tried = 0;
	int				 link_known = 1, all;

	hook = config_child(config_child(t->root, "webhook"), service);
	m = config_child(hook, "method");
	if ((s = config_scalar(m)) == NULL)
		la_add(la, t->file, config_line(hook), "template-method-missing",
		    DIAG_ERROR, la_fmt("webhook.%s of template %s has no "
		    "method: Argo CD defaults to GET, and Backstage answers "
		    "403 \"This endpoint does not allow 'service' "
		    "credentials\".", service, t->name),
		    la_fmt("template.%s webhook.%s: no method", t->name,
		    service), la_fmt("Add method: POST under webhook.%s.",
		    service));
	else if (strcmp(s, "POST") != 0)
		la_add(la, t->file, config_line(m), "wrong-method", DIAG_ERROR,
		    la_fmt("Template %s sends with %s; Backstage's send route "
		    "only takes POST.", t->name, s), la_fmt("method: %s", s),
		    xstrdup("method: POST"));
	pathn = config_child(hook, "path");
	la_check_path(la, t, service, pathn, svc != NULL ?
	    la_str(svc->root, "url") : NULL);
	body = config_child(hook, "body");
	if ((s = config_scalar(body)) == NULL || *s == '\0') {
		la_add(la, t->file, config_line(hook), "empty-body", DIAG_ERROR,
		    la_fmt("webhook.%s of template %s has no body: Argo CD "
		    "POSTs nothing and Backstage answers 400 \"request/body "
		    "must have required property 'recipients'\".", service,
		    t->name), la_fmt("template.%s webhook.%s: no body",
		    t->name, service), xstrdup("Add the JSON body: "
		    "{\"recipients\":{...},\"payload\":{\"title\":...}}"));
		return;
	}
	switch (gotmpl_parse(s, strlen(s), &g, &err)) {
	case GOTMPL_OK:
		break;
	case GOTMPL_UNSUPPORTED:
		la_add(la, t->file, la_tline(body, err.line),
		    "template-unsupported", DIAG_INFO, la_fmt("notimock lint "
		    "cannot render template %s (%s), so its body is not "
		    "checked.", t->name, err.msg), la_fmt("template %s: %s",
		    t->name, err.msg), xstrdup("Check it by sending it to "
		    "notimock: its diagnoses cover the rendered body."));
		return;
	default:
		/* Reported by la_template_parses. */
		return;
	}
	if (la_have_config(la) && gotmpl_uses(g, ".context.argocdUrl") &&
	    !la_ctx_has(la, "argocdUrl")) {
		link_known = 0;
		la_add(la, la->ctx.file != NULL ? la->ctx.file : t->file,
		    la->ctx.val != NULL ? config_line(la->ctx.val) :
		    la->ctx_map != NULL ? config_line(la->ctx_map) :
		    config_line(t->val), "context-argocd-url", DIAG_WARNING,
		    la_fmt("Template %s uses {{.context.argocdUrl}}, but the "
		    "context sets no argocdUrl: the link renders as \"<no "
		    "value>/applications/...\", which Backstage accepts and "
		    "which leads nowhere.", t->name), la_fmt("context: %s",
		    la->ctx_map != NULL ? "no argocdUrl" : "not set"),
		    xstrdup(la->ncrs > 0 ? "Set it in the "
		    "NotificationsConfiguration:\n  spec:\n    context:\n"
		    "      argocdUrl: https://argocd.example.com" : "Set it in "
		    "argocd-notifications-cm:\n  context: |\n    argocdUrl: "
		    "https://argocd.example.com"));
	}
	/* Render for each Application subscribed to the trigger (all of
	 * them for a global subscription), or else the sample. */
	for (i = 0; i < la->nsub; i++) {
		if (strcmp(la->sublist[i].service, service) != 0 ||
		    strcmp(la->sublist[i].trigger, trigger) != 0)
			continue;
		if (la->sublist[i].app != NULL)
			all = 0;
		else if (la->sublist[i].global)
			all = 1;
		else
			continue;
		for (j = 0; j < la->napps; j++) {
			if (!all && &la->apps[j] != la->sublist[i].app)
				continue;
			la_render_body(la, t, service, body, g, &la->apps[j],
			    link_known);
			tried++;
		}
	}
	if (tried == 0)
		la_render_body(la, t, service, body, g, NULL, link_known);
	gotmpl_free(g);
}

/* --- triggers, templates and subscriptions ----------------------------- */

static void
la_parse_report(struct lint_argocd *la, const struct la_entry *t,
    const char *where, const struct config_node *n)
{
	struct gotmpl		*g = NULL;
	struct gotmpl_error	 err;
	const char		*s;

	if ((s = config_scalar(n)) == NULL)
		return;
	if (gotmpl_parse(s, strlen(s), &g, &err) == GOTMPL_PARSE)
		la_add(la, t->file, la_tline(n, err.line), "template-invalid",
		    DIAG_ERROR, la_fmt("Go refuses template %s (%s): Argo CD "
		    "cannot load the notifications configuration and sends no "
		    "notification at all (\"Failed to get api\", "
		    "argoproj/argo-cd#20410).", t->name, err.msg),
		    la_fmt("%s: %s", where, err.msg),
		    xstrdup(strstr(err.msg, "\"env\"") != NULL ||
		    strstr(err.msg, "\"expandenv\"") != NULL ? "Argo CD "
		    "removes env and expandenv from sprig: put the value in "
		    "the context: instead." : "Fix the template syntax."));
	gotmpl_free(g);
}

/* Every template must parse, used or not: one that does not stops them
 * all. */
static void
la_template_parses(struct lint_argocd *la, const struct la_entry *t)
{
	const struct config_node	*hooks, *h;
	char				 where[256];
	size_t				 i;

	if (t->bad || t->root == NULL)
		return;
	la_parse_report(la, t, "message", config_child(t->root, "message"));
	hooks = la_map(config_child(t->root, "webhook"));
	for (i = 0; i < config_len(hooks); i++) {
		h = config_at(hooks, i);
		snprintf(where, sizeof where, "webhook.%s.body",
		    config_key_at(hooks, i));
		la_parse_report(la, t, where, config_child(h, "body"));
		snprintf(where, sizeof where, "webhook.%s.path",
		    config_key_at(hooks, i));
		la_parse_report(la, t, where, config_child(h, "path"));
	}
}

static void
la_triggers(struct lint_argocd *la)
{
	const struct config_node	**send, *hooks;
	struct la_entry			 *t, *tm;
	const char			 *name;
	size_t				  i, j, nsend;
	int				  own;

	for (i = 0; i < la->ntrigs; i++) {
		t = &la->trigs[i];
		if (t->bad)
			continue;
		if (t->root == NULL || config_type(t->root) != CONFIG_SEQ) {
			la_add(la, t->file, config_line(t->val),
			    "config-invalid", DIAG_ERROR, la_fmt("trigger.%s "
			    "is not a list of conditions: Argo CD cannot load "
			    "the configuration (\"Failed to get api\").",
			    t->name), la_fmt("trigger.%s", t->name),
			    xstrdup("- when: app.status.operationState.phase "
			    "in ['Error', 'Failed']\n  send: "
			    "[app-sync-failed-backstage]"));
			continue;
		}
		la_trigger_sends(t, &send, &nsend);
		own = 0;
		for (j = 0; j < nsend; j++) {
			if ((name = config_scalar(send[j])) == NULL)
				continue;
			if ((tm = la_find(la->tmpls, la->ntmpls, name)) ==
			    NULL) {
				la_add(la, t->file, config_line(send[j]),
				    "template-missing", DIAG_ERROR, la_fmt(
				    "trigger.%s sends template %s, which is not "
				    "defined: Argo CD fails with \"template %s "
				    "is not supported\" and sends nothing.",
				    t->name, name, name), la_fmt("send: [%s]",
				    name), la_fmt("Define template.%s, or fix "
				    "the name in send:.", name));
				continue;
			}
			hooks = la_map(config_child(tm->root, "webhook"));
			own |= hooks != NULL;
		}
		if (own && la_is_catalog(la_catalog_triggers, t->name))
			la_add(la, t->file, config_line(t->val), "catalog-name",
			    DIAG_WARNING, la_fmt("trigger.%s has the name of an "
			    "Argo CD catalog trigger: applying the catalog "
			    "(notifications_catalog/install.yaml, or the Helm "
			    "chart's catalog block) overwrites it, and the "
			    "catalog's version sends a text template with no "
			    "webhook section (GET, 400 \"not valid JSON\").",
			    t->name), la_fmt("trigger.%s", t->name),
			    la_fmt("Rename it trigger.%s-backstage and subscribe "
			    "with notifications.argoproj.io/subscribe.%s-"
			    "backstage.backstage: \"\".", t->name, t->name));
		free(send);
	}
	for (i = 0; i < la->ntmpls; i++)
		la_template_parses(la, &la->tmpls[i]);
	for (i = 0; i < la->ntmpls; i++) {
		tm = &la->tmpls[i];
		if (tm->bad || !la_is_catalog(la_catalog_templates, tm->name) ||
		    config_child(tm->root, "webhook") == NULL)
			continue;
		la_add(la, tm->file, config_line(tm->val), "catalog-name",
		    DIAG_WARNING, la_fmt("template.%s has the name of an Argo "
		    "CD catalog template: applying the catalog overwrites it "
		    "with a text template that has no webhook section, and "
		    "Argo CD then sends GET with the plain message (400 \"not "
		    "valid JSON\").", tm->name), la_fmt("template.%s",
		    tm->name), la_fmt("Rename it template.%s-backstage (and "
		    "its trigger's send list).", tm->name));
	}
}

/* (trigger, service) pairs to check beyond the subscriptions: every
 * webhook key of the templates each trigger sends, so that a template no
 * given Application subscribes to is checked too. */
static void
la_pairs(struct lint_argocd *la)
{
	const struct config_node	**send, *hooks;
	struct la_entry			 *t, *tm;
	const char			 *name;
	size_t				  i, j, k, nsend, first;

	for (i = 0; i < la->ntrigs; i++) {
		t = &la->trigs[i];
		la_trigger_sends(t, &send, &nsend);
		for (j = 0; j < nsend; j++) {
			if ((name = config_scalar(send[j])) == NULL ||
			    (tm = la_find(la->tmpls, la->ntmpls, name)) ==
			    NULL)
				continue;
			hooks = la_map(config_child(tm->root, "webhook"));
			first = la->nsub;
			for (k = 0; k < config_len(hooks); k++)
				la_sub_add(la, t->name, strlen(t->name),
				    config_key_at(hooks, k), t->file,
				    config_line(t->val), NULL);
			for (; first < la->nsub; first++)
				la->sublist[first].derived = 1;
		}
		free(send);
	}
}

static void
la_check_subs(struct lint_argocd *la)
{
	const struct config_node	**send, *hooks;
	struct la_entry			 *t, *tm, *svc;
	struct la_sub			 *s;
	const char			 *name;
	char				**done = NULL, *pair;
	size_t				  i, j, k, nsend, ndone = 0, klen;
	int				  webhook, catalog;
	char				  keys[256];

	for (i = 0; i < la->nsub; i++) {
		s = &la->sublist[i];
		svc = la_service(la, s->service, &webhook);
		/* A guessed pair proves nothing about services. */
		if (s->derived && svc == NULL)
			continue;
		if (svc == NULL) {
			la_add(la, s->file, s->line, "service-missing",
			    DIAG_ERROR, la_fmt("%s subscribes %s to service "
			    "'%s', which is not configured: Argo CD logs "
			    "\"notification service '%s' is not supported\" "
			    "and sends nothing.%s", s->app != NULL ?
			    "The Application" : "A subscription", s->trigger,
			    s->service, s->service, la->ncrs == 0 &&
			    la->ncms > 0 && la_operator_owned(la->cms[0].n) ?
			    "  On OpenShift GitOps, a service added to the "
			    "ConfigMap is overwritten by the operator." : ""),
			    la_fmt("subscribe.%s.%s; services: %zu configured",
			    s->trigger, s->service, la->nsvcs), la_fmt("Add "
			    "service.webhook.%s to %s:\n  service.webhook.%s: "
			    "|\n    url: https://backstage.example.com/api/"
			    "notifications\n    headers:\n    - name: "
			    "Content-Type\n      value: application/json\n    "
			    "- name: Authorization\n      value: Bearer "
			    "$backstage-token", s->service, la->ncrs > 0 ?
			    "the NotificationsConfiguration (spec.services)" :
			    "argocd-notifications-cm", s->service));
			continue;
		}
		if ((t = la_find(la->trigs, la->ntrigs, s->trigger)) == NULL) {
			catalog = la_is_catalog(la_catalog_triggers,
			    s->trigger);
			la_add(la, s->file, s->line,
			    "subscription-unknown-trigger", DIAG_ERROR,
			    la_fmt("%s subscribes to trigger %s, which is not "
			    "configured: Argo CD sends nothing for it.%s",
			    s->app != NULL ? "The Application" :
			    "A subscription", s->trigger, catalog ? "  It is "
			    "a catalog trigger, and even installed it sends "
			    "a text template without a webhook section." :
			    ""), la_fmt("subscribe.%s.%s", s->trigger,
			    s->service), catalog ? la_fmt("Subscribe to your "
			    "own trigger: notifications.argoproj.io/subscribe."
			    "%s-backstage.%s: \"\"", s->trigger, s->service) :
			    la_fmt("Define trigger.%s, or fix the name in the "
			    "annotation.", s->trigger));
			continue;
		}
		if (!webhook)
			continue;
		la_trigger_sends(t, &send, &nsend);
		for (j = 0; j < nsend; j++) {
			if ((name = config_scalar(send[j])) == NULL ||
			    (tm = la_find(la->tmpls, la->ntmpls, name)) ==
			    NULL || tm->bad)
				continue;
			hooks = la_map(config_child(tm->root, "webhook"));
			if (config_child(hooks, s->service) == NULL) {
				keys[0] = '\0';
				for (k = 0, klen = 0; k < config_len(hooks) &&
				    klen < sizeof keys - 64; k++)
					klen += (size_t)snprintf(keys + klen,
					    sizeof keys - klen, "%s%s",
					    k ? ", " : "", config_key_at(hooks,
					    k));
				la_add(la, tm->file, config_line(tm->val),
				    "template-no-webhook", DIAG_ERROR, la_fmt(
				    "trigger %s sends template %s to service "
				    "'%s', but the template has no webhook.%s "
				    "section: Argo CD then sends GET to the bare "
				    "url with the plain message text, and "
				    "Backstage refuses it (400 \"not valid "
				    "JSON\", or 403).%s", t->name, name,
				    s->service, s->service, hooks != NULL ?
				    "  Its webhook section is for another "
				    "name: the key under webhook: must equal "
				    "the service name." :
				    la_is_catalog(la_catalog_templates, name) ?
				    "  It is a catalog template, which has no "
				    "webhook section at all." : ""),
				    hooks != NULL ? la_fmt("template.%s webhook "
				    "keys: %s; service: %s", name, keys,
				    s->service) : la_fmt("template.%s: no "
				    "webhook section", name), la_fmt("Give the "
				    "trigger your own template with a webhook.%s "
				    "section (method: POST, body: the JSON), "
				    "named with a -backstage suffix so that the "
				    "catalog cannot overwrite it.", s->service));
				continue;
			}
			xasprintf(&pair, "%s\n%s\n%s", name, s->service,
			    s->trigger);
			if (strv_has(done, ndone, pair)) {
				free(pair);
				continue;
			}
			strv_add(&done, &ndone, pair);
			free(pair);
			la_template_for(la, tm, s->service, svc, s->trigger);
		}
		free(send);
	}
	strv_free(done, ndone);
}

/* --- Applications ------------------------------------------------------ */

static void
la_apps(struct lint_argocd *la)
{
	const struct config_node	*ann, *refn;
	const struct la_obj		*app;
	struct entity_ref		 ref;
	const char			*r;
	char				 ename[32], msg[512];
	size_t				 i, j;
	int				 subscribed;

	for (i = 0; i < la->napps; i++) {
		app = &la->apps[i];
		for (subscribed = 0, j = 0; j < la->nsub; j++)
			subscribed |= la->sublist[j].app == app ||
			    la->sublist[j].global;
		if (!subscribed)
			continue;
		ann = config_child(config_child(app->n, "metadata"),
		    "annotations");
		refn = config_child(ann, LA_ENTITY_REF);
		if ((r = config_scalar(refn)) == NULL) {
			la_add(la, app->file, config_line(ann != NULL ? ann :
			    app->n), "entity-ref-missing", DIAG_ERROR,
			    la_fmt("Application %s has no %s annotation: the "
			    "guide's templates render entityRef as <no value> "
			    "(Backstage answers 400) or null, and with no "
			    "annotations at all index fails and nothing is "
			    "sent.", la_app_name(app), LA_ENTITY_REF),
			    la_fmt("metadata.annotations: no %s",
			    LA_ENTITY_REF), la_fmt("Add it:\n  metadata:\n    "
			    "annotations:\n      %s: component:default/%s",
			    LA_ENTITY_REF, la_app_name(app)));
			continue;
		}
		if (entity_parse(r, &ref, ename, sizeof ename, msg,
		    sizeof msg) == 0) {
			entity_ref_clear(&ref);
			continue;
		}
		la_add(la, app->file, config_line(refn), strstr(msg,
		    "missing or empty kind") != NULL ? "entity-ref-kind" :
		    "entity-ref-invalid", DIAG_ERROR, la_fmt("The %s "
		    "annotation of Application %s does not parse as Backstage "
		    "parses it: %s.", LA_ENTITY_REF, la_app_name(app), msg),
		    la_fmt("%s: %s", LA_ENTITY_REF, r), xstrdup("Use a full "
		    "ref, kind:namespace/name, such as "
		    "component:default/guestbook."));
	}
}

/* --- the run ----------------------------------------------------------- */

/* Files in the order given, then lines; stable (insertion sort: a few
 * dozen findings). */
static int
la_before(const struct lint_argocd *la, const struct lint_finding *x,
    const struct lint_finding *y)
{
	size_t	i, fx = 0, fy = 0;

	for (i = 0; i < la->nfiles; i++) {
		if (la->files[i] == x->file)
			fx = i;
		if (la->files[i] == y->file)
			fy = i;
	}
	return (fx < fy || (fx == fy && x->line < y->line));
}

size_t
lint_argocd_run(struct lint_argocd *la, const struct lint_finding **out)
{
	struct lint_finding	tmp;
	size_t			i, j;

	la_config(la);
	la_secrets(la);
	la_openshift(la);
	la_subscriptions(la);
	for (i = 0; i < la->nsvcs; i++)
		la_service_check(la, &la->svcs[i]);
	la_triggers(la);
	la_pairs(la);
	if (la_have_config(la))
		la_check_subs(la);
	la_apps(la);
	for (i = 1; i < la->nf; i++) {
		tmp = la->f[i];
		for (j = i; j > 0 && la_before(la, &tmp, &la->f[j - 1]); j--)
			la->f[j] = la->f[j - 1];
		la->f[j] = tmp;
	}
	*out = la->f;
	return (la->nf);
}
