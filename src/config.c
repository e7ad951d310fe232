/*
 * config.c: read Backstage app-config YAML into a small tree.
 *
 * Ownership: struct config owns all nodes and strings; lookups borrow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "xmalloc.h"

struct config_node {
	enum config_type	  type;
	char			 *value;	/* scalar text; NULL = undefined */
	char			**keys;		/* map keys, parallel to kids */
	struct config_node	**kids;
	size_t			  n;
	char			 *where;
	size_t			  line;		/* 0-based, in its file */
	int			  style;	/* CONFIG_STYLE_* (scalars) */
};

struct config {
	struct config_node	*root;
};

static void
config_node_free(struct config_node *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			free(n->keys[i]);
		config_node_free(n->kids[i]);
	}
	free(n->keys);
	free(n->kids);
	free(n->value);
	free(n->where);
	free(n);
}

static struct config_node *
config_node_new(enum config_type type, const char *file, size_t line)
{
	struct config_node	*n;

	n = xcalloc(1, sizeof *n);
	n->type = type;
	n->line = line;
	xasprintf(&n->where, "%s:%zu", file, line + 1);
	return (n);
}

static void
config_node_add(struct config_node *parent, char *key, struct config_node *kid)
{
	parent->kids = xreallocarray(parent->kids, parent->n + 1,
	    sizeof *parent->kids);
	if (parent->type == CONFIG_MAP) {
		parent->keys = xreallocarray(parent->keys, parent->n + 1,
		    sizeof *parent->keys);
		parent->keys[parent->n] = key;
	}
	parent->kids[parent->n++] = kid;
}

/*
 * Backstage's substitution: ${NAME} from the environment, $${ for a literal
 * "${".  Returns the new string, or NULL if a variable is unset (the value
 * is then undefined).
 */
static char *
config_substitute(const char *s)
{
	char		*out, *name, *end;
	const char	*val;
	size_t		 len = 0, cap = strlen(s) + 1;

	out = xmalloc(cap);
	while (*s != '\0') {
		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			val = "${";
			s += 3;
		} else if (s[0] == '$' && s[1] == '{' &&
		    (end = strchr(s + 2, '}')) != NULL) {
			name = xstrndup(s + 2, (size_t)(end - s - 2));
			val = getenv(name);
			free(name);
			if (val == NULL) {
				free(out);
				return (NULL);
			}
			s = end + 1;
		} else {
			if (len + 2 > cap)
				out = xreallocarray(out, cap *= 2, 1);
			out[len++] = *s++;
			continue;
		}
		while (len + strlen(val) + 1 > cap)
			out = xreallocarray(out, cap *= 2, 1);
		memcpy(out + len, val, strlen(val));
		len += strlen(val);
	}
	out[len] = '\0';
	return (out);
}

/* A scalar: its style, and its text (null/~/empty plain = no value;
 * ${VAR} substituted unless raw). */
static struct config_node *
config_parse_scalar(const yaml_event_t *ev, const char *file, int raw,
    size_t base)
{
	struct config_node	*n;
	const char		*text;

	n = config_node_new(CONFIG_SCALAR, file,
	    base + ev->start_mark.line);
	switch (ev->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		n->style = CONFIG_STYLE_PLAIN;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
		n->style = CONFIG_STYLE_LITERAL;
		break;
	case YAML_FOLDED_SCALAR_STYLE:
		n->style = CONFIG_STYLE_FOLDED;
		break;
	default:
		n->style = CONFIG_STYLE_QUOTED;
		break;
	}
	text = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	    *text == '\0'))
		n->value = NULL;
	else if (raw)
		n->value = xstrdup(text);
	else
		n->value = config_substitute(text);
	return (n);
}

/* Parse one document's value starting at the current event. */
static struct config_node *
config_parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *file,
    int raw, size_t base, char **cause)
{
	struct config_node	*n = NULL, *kid;
	yaml_event_t		 kev, vev;
	char			*key;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (config_parse_scalar(ev, file, raw, base));
	case YAML_SEQUENCE_START_EVENT:
		n = config_node_new(CONFIG_SEQ, file,
		    base + ev->start_mark.line);
		for (;;) {
			if (!yaml_parser_parse(p, &vev))
				goto syntax;
			if (vev.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&vev);
				return (n);
			}
			kid = config_parse_node(p, &vev, file, raw, base,
			    cause);
			yaml_event_delete(&vev);
			if (kid == NULL)
				goto fail;
			config_node_add(n, NULL, kid);
		}
	case YAML_MAPPING_START_EVENT:
		n = config_node_new(CONFIG_MAP, file,
		    base + ev->start_mark.line);
		for (;;) {
			if (!yaml_parser_parse(p, &kev))
				goto syntax;
			if (kev.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&kev);
				return (n);
			}
			if (kev.type != YAML_SCALAR_EVENT) {
				xasprintf(cause, "%s:%zu: only scalar keys are "
				    "supported", file, base + kev.start_mark.line +
				    1);
				yaml_event_delete(&kev);
				goto fail;
			}
			key = xstrdup((const char *)kev.data.scalar.value);
			yaml_event_delete(&kev);
			if (!yaml_parser_parse(p, &vev)) {
				free(key);
				goto syntax;
			}
			kid = config_parse_node(p, &vev, file, raw, base,
			    cause);
			yaml_event_delete(&vev);
			if (kid == NULL) {
				free(key);
				goto fail;
			}
			/* Backstage's {$env: NAME} form; entity files (raw)
			 * are taken as written. */
			if (raw)
				;
			else if (kid->type == CONFIG_MAP && kid->n == 1 &&
			    strcmp(kid->keys[0], "$env") == 0 &&
			    kid->kids[0]->type == CONFIG_SCALAR) {
				const char *v = kid->kids[0]->value ?
				    getenv(kid->kids[0]->value) : NULL;
				struct config_node *s = config_node_new(
				    CONFIG_SCALAR, file, ev->start_mark.line);
				s->value = v ? xstrdup(v) : NULL;
				config_node_free(kid);
				kid = s;
			} else if (kid->type == CONFIG_MAP && kid->n == 1 &&
			    kid->keys[0][0] == '$') {
				xasprintf(cause, "%s: '%s' is not supported by "
				    "notimock", kid->where, kid->keys[0]);
				config_node_free(kid);
				free(key);
				goto fail;
			}
			config_node_add(n, key, kid);
		}
	case YAML_ALIAS_EVENT:
		xasprintf(cause, "%s:%zu: YAML aliases are not supported",
		    file, base + ev->start_mark.line + 1);
		return (NULL);
	default:
		xasprintf(cause, "%s:%zu: unexpected YAML event", file,
		    base + ev->start_mark.line + 1);
		return (NULL);
	}

syntax:
	xasprintf(cause, "%s:%zu:%zu: %s", file, base + p->problem_mark.line + 1,
	    p->problem_mark.column + 1, p->problem ? p->problem : "syntax error");
fail:
	config_node_free(n);
	return (NULL);
}

static struct config_node *
config_parse_file(const char *file, char **cause)
{
	FILE			*f;
	yaml_parser_t		 p;
	yaml_event_t		 ev;
	struct config_node	*root = NULL;
	int			 done = 0;

	if ((f = fopen(file, "r")) == NULL) {
		xasprintf(cause, "%s: %s", file, strerror(errno));
		return (NULL);
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			xasprintf(cause, "%s:%zu:%zu: %s", file,
			    p.problem_mark.line + 1, p.problem_mark.column + 1,
			    p.problem ? p.problem : "syntax error");
			config_node_free(root);
			root = NULL;
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			if (root != NULL) {
				xasprintf(cause, "%s: more than one YAML "
				    "document", file);
				yaml_event_delete(&ev);
				config_node_free(root);
				root = NULL;
				goto out;
			}
			root = config_parse_node(&p, &ev, file, 0, 0, cause);
			if (root == NULL) {
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	if (root == NULL)
		root = config_node_new(CONFIG_MAP, file, 0);
	else if (root->type != CONFIG_MAP) {
		xasprintf(cause, "%s: the top level must be a map", file);
		config_node_free(root);
		root = NULL;
	}
out:
	yaml_parser_delete(&p);
	fclose(f);
	return (root);
}

/* Merge src into dst (both maps); takes src. */
static void
config_merge(struct config_node *dst, struct config_node *src)
{
	size_t	i, j;

	for (i = 0; i < src->n; i++) {
		for (j = 0; j < dst->n; j++)
			if (strcmp(dst->keys[j], src->keys[i]) == 0)
				break;
		if (j < dst->n && dst->kids[j]->type == CONFIG_MAP &&
		    src->kids[i]->type == CONFIG_MAP) {
			config_merge(dst->kids[j], src->kids[i]);
			free(src->keys[i]);
		} else if (j < dst->n) {
			config_node_free(dst->kids[j]);
			dst->kids[j] = src->kids[i];
			free(src->keys[i]);
		} else
			config_node_add(dst, src->keys[i], src->kids[i]);
	}
	free(src->keys);
	free(src->kids);
	free(src->value);
	free(src->where);
	free(src);
}

struct config *
config_load(char *const *files, size_t n, char **cause)
{
	struct config		*cfg;
	struct config_node	*root;
	size_t			 i;

	cfg = xcalloc(1, sizeof *cfg);
	cfg->root = config_node_new(CONFIG_MAP, "(defaults)", 0);
	for (i = 0; i < n; i++) {
		if ((root = config_parse_file(files[i], cause)) == NULL) {
			config_free(cfg);
			return (NULL);
		}
		config_merge(cfg->root, root);
	}
	return (cfg);
}

/*
 * The documents of a parser already given its input, for both callers
 * below.  name and base are for the messages; with maps_only a document
 * that is not a map is an error.  An empty document is nothing.
 */
static int
config_read_documents(yaml_parser_t *p, const char *name, size_t base,
    int maps_only, struct config ***docsp, size_t *np, char **cause)
{
	yaml_event_t		 ev;
	struct config_node	*root;
	struct config		**docs = NULL, *cfg;
	size_t			 n = 0, i;
	int			 done = 0, rc = -1;

	while (!done) {
		if (!yaml_parser_parse(p, &ev)) {
			xasprintf(cause, "%s:%zu:%zu: %s", name,
			    base + p->problem_mark.line + 1,
			    p->problem_mark.column + 1,
			    p->problem ? p->problem : "syntax error");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			root = config_parse_node(p, &ev, name, 1, base, cause);
			if (root == NULL) {
				yaml_event_delete(&ev);
				goto out;
			}
			/* An empty document ("---" at the end) is nothing. */
			if (root->type == CONFIG_SCALAR && root->value == NULL) {
				config_node_free(root);
				break;
			}
			if (maps_only && root->type != CONFIG_MAP) {
				xasprintf(cause, "%s: a document is not a map",
				    root->where);
				config_node_free(root);
				yaml_event_delete(&ev);
				goto out;
			}
			cfg = xcalloc(1, sizeof *cfg);
			cfg->root = root;
			docs = xreallocarray(docs, n + 1, sizeof *docs);
			docs[n++] = cfg;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	*docsp = docs;
	*np = n;
	docs = NULL;
	n = 0;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		config_free(docs[i]);
	free(docs);
	return (rc);
}

/*
 * Every document of one file, for catalog entity files ("---"-separated).
 * Scalars are kept as written: Backstage substitutes nothing in entities.
 */
int
config_load_documents(const char *file, struct config ***docsp, size_t *np,
    char **cause)
{
	FILE		*f;
	yaml_parser_t	 p;
	int		 rc;

	*docsp = NULL;
	*np = 0;
	if ((f = fopen(file, "r")) == NULL) {
		xasprintf(cause, "%s: %s", file, strerror(errno));
		return (-1);
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	rc = config_read_documents(&p, file, 0, 1, docsp, np, cause);
	yaml_parser_delete(&p);
	fclose(f);
	return (rc);
}

/*
 * Every document of a buffer, for `notimock lint` (Kubernetes objects as
 * kubectl prints them, and the YAML held in their string values).  Like
 * config_load_documents, scalars are kept as written; a document may be
 * of any type.  Lines count from base, so that YAML found inside a block
 * scalar reports the lines of the file that holds it.
 */
int
config_parse_string(const char *name, const char *buf, size_t len,
    size_t base, struct config ***docsp, size_t *np, char **cause)
{
	yaml_parser_t	p;
	int		rc;

	*docsp = NULL;
	*np = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	rc = config_read_documents(&p, name, base, 0, docsp, np, cause);
	yaml_parser_delete(&p);
	return (rc);
}

struct config_node *
config_root(const struct config *cfg)
{
	return (cfg->root);
}

size_t
config_line(const struct config_node *n)
{
	return (n->line + 1);
}

enum config_style
config_style(const struct config_node *n)
{
	return (n->type == CONFIG_SCALAR ? n->style : CONFIG_STYLE_PLAIN);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	config_node_free(cfg->root);
	free(cfg);
}

struct config_node *
config_child(const struct config_node *n, const char *key)
{
	size_t	i;

	if (n == NULL || n->type != CONFIG_MAP)
		return (NULL);
	for (i = n->n; i > 0; i--)	/* a repeated key: the last wins */
		if (strcmp(n->keys[i - 1], key) == 0) {
			if (n->kids[i - 1]->type == CONFIG_SCALAR &&
			    n->kids[i - 1]->value == NULL)
				return (NULL);
			return (n->kids[i - 1]);
		}
	return (NULL);
}

struct config_node *
config_get(const struct config *cfg, const char *path)
{
	struct config_node	*n = cfg->root;
	char			*copy, *p, *dot;

	copy = p = xstrdup(path);
	while (n != NULL && p != NULL) {
		if ((dot = strchr(p, '.')) != NULL)
			*dot++ = '\0';
		n = config_child(n, p);
		p = dot;
	}
	free(copy);
	return (n);
}

enum config_type
config_type(const struct config_node *n)
{
	return (n->type);
}

const char *
config_scalar(const struct config_node *n)
{
	if (n == NULL || n->type != CONFIG_SCALAR)
		return (NULL);
	return (n->value);
}

size_t
config_len(const struct config_node *n)
{
	if (n == NULL || n->type == CONFIG_SCALAR)
		return (0);
	return (n->n);
}

struct config_node *
config_at(const struct config_node *n, size_t i)
{
	return (i < config_len(n) ? n->kids[i] : NULL);
}

const char *
config_key_at(const struct config_node *n, size_t i)
{
	return (n->type == CONFIG_MAP && i < n->n ? n->keys[i] : NULL);
}

const char *
config_where(const struct config_node *n)
{
	return (n->where);
}

const char *
config_version(void)
{
	return (yaml_get_version_string());
}
