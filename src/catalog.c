/*
 * catalog.c: entities from YAML files, their relations, and the two
 * lookups notimock needs (recipients, a user's groups).
 *
 * Ownership: struct catalog owns every entity and string; it never changes
 * after catalog_load(), so lookups only borrow.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "config.h"
#include "entity.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define CATALOG_MAX_DEPTH	16	/* Location entities naming files */

/* Relation types, as @backstage/catalog-model names them. */
#define REL_CHILD_OF	"childOf"
#define REL_HAS_MEMBER	"hasMember"
#define REL_MEMBER_OF	"memberOf"
#define REL_OWNED_BY	"ownedBy"
#define REL_OWNER_OF	"ownerOf"
#define REL_PARENT_OF	"parentOf"

struct catalog_rel {
	const char	*type;		/* one of REL_* */
	char		*target;	/* canonical ref */
};

struct catalog_entity {
	char			*ref;	/* canonical "kind:namespace/name" */
	int			 is_user, is_group;
	struct catalog_rel	*rels;	/* sorted by type, then target */
	size_t			 nrels;
};

/* A relation before it is attached to its source entity. */
struct catalog_triple {
	char		*source;
	const char	*type;
	char		*target;
};

struct catalog {
	struct catalog_entity	*v;	/* sorted by ref */
	size_t			 n;
};

/* Everything catalog_load() collects before building the catalog. */
struct catalog_build {
	struct catalog_entity	*v;
	size_t			 n;
	struct catalog_triple	*t;
	size_t			 nt;
	char			**files;	/* real paths loaded, for cycles */
	size_t			 nfiles;
};

/* --- string lists ---------------------------------------------------- */

/* Add a copy of s to the list v and to its set, unless the set has it. */
static void
catalog_set_add(char ***v, size_t *n, struct strset *set, const char *s)
{
	if (strset_has(set, s))
		return;
	strv_add(v, n, s);
	strset_add(set, (*v)[*n - 1]);
}

static void
catalog_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/*
 * parseEntityRef(ref, { defaultKind, defaultNamespace }) and then
 * stringifyEntityRef: the canonical, lower-cased ref, or NULL when the ref
 * does not parse (empty, an empty part, or no kind and no default).
 */
static char *
catalog_canon(const char *ref, const char *dkind, const char *dns)
{
	const char	*colon, *slash, *kind, *ns, *name;
	size_t		 klen, nslen;
	char		*out;

	if (ref == NULL || *ref == '\0')
		return (NULL);
	colon = strchr(ref, ':');
	slash = strchr(ref, '/');
	if (slash != NULL && colon != NULL && slash < colon)
		colon = NULL;
	kind = colon != NULL ? ref : dkind;
	if (colon != NULL)
		klen = (size_t)(colon - ref);
	else
		klen = dkind != NULL ? strlen(dkind) : 0;
	if (slash != NULL) {
		ns = colon != NULL ? colon + 1 : ref;
		nslen = (size_t)(slash - ns);
		name = slash + 1;
	} else {
		ns = dns;
		nslen = strlen(dns);
		name = colon != NULL ? colon + 1 : ref;
	}
	if (kind == NULL || klen == 0 || nslen == 0 || *name == '\0')
		return (NULL);
	xasprintf(&out, "%.*s:%.*s/%s", (int)klen, kind, (int)nslen, ns, name);
	catalog_lower(out);
	return (out);
}

/* --- loading ---------------------------------------------------------- */

static void
catalog_triple_add(struct catalog_build *b, const char *source,
    const char *type, const char *target)
{
	struct catalog_triple	*t;

	b->t = xreallocarray(b->t, b->nt + 1, sizeof *b->t);
	t = &b->t[b->nt++];
	t->source = xstrdup(source);
	t->type = type;
	t->target = xstrdup(target);
}

/*
 * BuiltinKindsEntityProcessor's doEmit(): for each target named by the
 * field (a string or a list of strings), the relation out of self and its
 * inverse into self.  A target that does not parse makes Backstage reject
 * the entity; here it only loses that relation.
 */
static void
catalog_emit(struct catalog_build *b, const struct config *doc,
    const char *self, const char *selfns, const char *field,
    const char *dkind, const char *out, const char *in)
{
	struct config_node	*node, *item;
	const char		*text;
	char			*target;
	size_t			 i, n;

	if ((node = config_get(doc, field)) == NULL)
		return;
	n = config_type(node) == CONFIG_SEQ ? config_len(node) : 1;
	for (i = 0; i < n; i++) {
		item = config_type(node) == CONFIG_SEQ ? config_at(node, i) :
		    node;
		text = config_scalar(item);
		if ((target = catalog_canon(text, dkind, selfns)) == NULL) {
			log_warnx("catalog: %s: %s of %s is not an entity "
			    "ref; relation ignored", config_where(item), field,
			    self);
			continue;
		}
		catalog_triple_add(b, self, out, target);
		catalog_triple_add(b, target, in, self);
		free(target);
	}
}

static int	catalog_load_file(struct catalog_build *, const char *, int,
		    char **);

/* A Location entity: load the files it names, relative to its own file. */
static int
catalog_location(struct catalog_build *b, const struct config *doc,
    const char *file, int depth, char **cause)
{
	struct config_node	*targets;
	const char		*type, *t;
	char			*copy, *dir, *path;
	size_t			 i, n;
	int			 rc = 0;

	type = config_scalar(config_get(doc, "spec.type"));
	if (type != NULL && strcmp(type, "file") != 0) {
		log_warnx("catalog: %s: Location of type '%s' is not followed "
		    "(only 'file' is)", file, type);
		return (0);
	}
	copy = xstrdup(file);
	dir = dirname(copy);
	for (i = 0; rc == 0; i++) {
		if (i == 0) {
			t = config_scalar(config_get(doc, "spec.target"));
			if (t == NULL)
				continue;
		} else {
			targets = config_get(doc, "spec.targets");
			n = config_len(targets);
			if (i - 1 >= n)
				break;
			if ((t = config_scalar(config_at(targets, i - 1))) ==
			    NULL)
				continue;
		}
		if (t[0] == '/')
			path = xstrdup(t);
		else
			xasprintf(&path, "%s/%s", dir, t);
		rc = catalog_load_file(b, path, depth + 1, cause);
		free(path);
	}
	free(copy);
	return (rc);
}

/* One entity document. */
static int
catalog_entity_add(struct catalog_build *b, const struct config *doc,
    const char *file, int depth, char **cause)
{
	struct catalog_entity	*e;
	const char		*kind, *name, *ns;
	char			*self;

	kind = config_scalar(config_get(doc, "kind"));
	name = config_scalar(config_get(doc, "metadata.name"));
	ns = config_scalar(config_get(doc, "metadata.namespace"));
	if (ns == NULL)
		ns = "default";
	if (kind == NULL || name == NULL || *kind == '\0' || *name == '\0' ||
	    strchr(kind, ':') != NULL || strchr(ns, '/') != NULL ||
	    strchr(name, ':') != NULL || strchr(name, '/') != NULL) {
		log_warnx("catalog: %s: an entity needs a kind and a "
		    "metadata.name (without ':' or '/'); skipped", file);
		return (0);
	}
	xasprintf(&self, "%s:%s/%s", kind, ns, name);
	catalog_lower(self);

	b->v = xreallocarray(b->v, b->n + 1, sizeof *b->v);
	e = &b->v[b->n++];
	memset(e, 0, sizeof *e);
	e->ref = self;
	e->is_user = strcasecmp(kind, "User") == 0;
	e->is_group = strcasecmp(kind, "Group") == 0;

	if (e->is_user)
		catalog_emit(b, doc, self, ns, "spec.memberOf", "group",
		    REL_MEMBER_OF, REL_HAS_MEMBER);
	else if (e->is_group) {
		catalog_emit(b, doc, self, ns, "spec.parent", "group",
		    REL_CHILD_OF, REL_PARENT_OF);
		catalog_emit(b, doc, self, ns, "spec.children", "group",
		    REL_PARENT_OF, REL_CHILD_OF);
		catalog_emit(b, doc, self, ns, "spec.members", "user",
		    REL_HAS_MEMBER, REL_MEMBER_OF);
	} else if (strcasecmp(kind, "Location") == 0)
		return (catalog_location(b, doc, file, depth, cause));
	else
		catalog_emit(b, doc, self, ns, "spec.owner", "group",
		    REL_OWNED_BY, REL_OWNER_OF);
	return (0);
}

static int
catalog_load_file(struct catalog_build *b, const char *file, int depth,
    char **cause)
{
	struct config	**docs;
	char		 real[PATH_MAX];
	size_t		 n, i;
	int		 rc = 0;

	if (depth > CATALOG_MAX_DEPTH) {
		xasprintf(cause, "%s: Location entities nest deeper than %d",
		    file, CATALOG_MAX_DEPTH);
		return (-1);
	}
	if (realpath(file, real) == NULL) {
		xasprintf(cause, "%s: %s", file, strerror(errno));
		return (-1);
	}
	/* A file named twice (or a Location cycle) is read once. */
	if (strv_has(b->files, b->nfiles, real))
		return (0);
	strv_add(&b->files, &b->nfiles, real);
	if (config_load_documents(file, &docs, &n, cause) == -1)
		return (-1);
	for (i = 0; i < n && rc == 0; i++)
		rc = catalog_entity_add(b, docs[i], file, depth, cause);
	for (i = 0; i < n; i++)
		config_free(docs[i]);
	free(docs);
	return (rc);
}

static int
catalog_entity_cmp(const void *a, const void *b)
{
	const struct catalog_entity	*x = a, *y = b;

	return (strcmp(x->ref, y->ref));
}

static int
catalog_rel_cmp(const void *a, const void *b)
{
	const struct catalog_rel	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->type, y->type)) != 0)
		return (c);
	return (strcmp(x->target, y->target));
}

/* The entity with this canonical (lower-case) ref, or NULL. */
static struct catalog_entity *
catalog_find(const struct catalog *cat, const char *ref)
{
	struct catalog_entity	key;

	if (cat == NULL || cat->n == 0)
		return (NULL);
	key.ref = (char *)ref;
	return (bsearch(&key, cat->v, cat->n, sizeof *cat->v,
	    catalog_entity_cmp));
}

static void
catalog_entity_clear(struct catalog_entity *e)
{
	size_t	i;

	for (i = 0; i < e->nrels; i++)
		free(e->rels[i].target);
	free(e->rels);
	free(e->ref);
}

struct catalog *
catalog_load(char *const *files, size_t nfiles, char **cause)
{
	struct catalog_build	 b;
	struct catalog		*cat;
	struct catalog_entity	*e;
	struct catalog_triple	*t;
	size_t			 i, j, k;

	memset(&b, 0, sizeof b);
	cat = xcalloc(1, sizeof *cat);
	for (i = 0; i < nfiles; i++)
		if (catalog_load_file(&b, files[i], 0, cause) == -1)
			goto fail;

	/* One entity per ref: the first loaded wins, as the catalog refuses
	 * a conflicting later one. */
	if (b.n > 1)
		qsort(b.v, b.n, sizeof *b.v, catalog_entity_cmp);
	for (i = j = 0; i < b.n; i++) {
		if (j > 0 && strcmp(b.v[j - 1].ref, b.v[i].ref) == 0) {
			log_warnx("catalog: %s is defined more than once; the "
			    "first definition is used", b.v[i].ref);
			catalog_entity_clear(&b.v[i]);
			continue;
		}
		b.v[j++] = b.v[i];
	}
	cat->v = b.v;
	cat->n = j;
	b.v = NULL;

	/* Attach each relation to its source, then order and de-duplicate
	 * them as the stitcher's SELECT DISTINCT ... ORDER BY does. */
	for (i = 0; i < b.nt; i++) {
		t = &b.t[i];
		if ((e = catalog_find(cat, t->source)) != NULL) {
			e->rels = xreallocarray(e->rels, e->nrels + 1,
			    sizeof *e->rels);
			e->rels[e->nrels].type = t->type;
			e->rels[e->nrels++].target = t->target;
			t->target = NULL;
		}
		free(t->source);
		free(t->target);
	}
	for (i = 0; i < cat->n; i++) {
		e = &cat->v[i];
		if (e->nrels > 1)
			qsort(e->rels, e->nrels, sizeof *e->rels,
			    catalog_rel_cmp);
		for (j = k = 0; j < e->nrels; j++) {
			if (k > 0 && catalog_rel_cmp(&e->rels[k - 1],
			    &e->rels[j]) == 0) {
				free(e->rels[j].target);
				continue;
			}
			e->rels[k++] = e->rels[j];
		}
		e->nrels = k;
	}
	free(b.t);
	strv_free(b.files, b.nfiles);
	return (cat);

fail:
	for (i = 0; i < b.n; i++)
		catalog_entity_clear(&b.v[i]);
	free(b.v);
	for (i = 0; i < b.nt; i++) {
		free(b.t[i].source);
		free(b.t[i].target);
	}
	free(b.t);
	strv_free(b.files, b.nfiles);
	free(cat);
	return (NULL);
}

void
catalog_free(struct catalog *cat)
{
	size_t	i;

	if (cat == NULL)
		return;
	for (i = 0; i < cat->n; i++)
		catalog_entity_clear(&cat->v[i]);
	free(cat->v);
	free(cat);
}

size_t
catalog_count(const struct catalog *cat)
{
	return (cat == NULL ? 0 : cat->n);
}

/* --- lookups ------------------------------------------------------------ */

/* getEntitiesByRefs() for one ref: the catalog lower-cases and compares. */
static const struct catalog_entity *
catalog_get(const struct catalog *cat, const char *ref)
{
	char				*key;
	const struct catalog_entity	*e;

	key = xstrdup(ref);
	catalog_lower(key);
	e = catalog_find(cat, key);
	free(key);
	return (e);
}

/*
 * DefaultNotificationRecipientResolver.resolveNotificationRecipients(), in
 * rounds: each round takes the user refs of the to-do list as they are,
 * then looks up the other refs (those not excluded, in order) and expands
 * what it finds into the next round's list.
 */
char **
catalog_resolve(const struct catalog *cat, const char *const *refs,
    size_t nrefs, const char *const *excl, size_t nexcl, size_t *np)
{
	char				**users = NULL, **seen = NULL;
	char				**todo = NULL, **next = NULL;
	char				**out = NULL;
	size_t				 nusers = 0, nseen = 0, ntodo = 0;
	size_t				 nnext = 0, nout = 0, i, j;
	const struct catalog_entity	*e;
	const struct catalog_rel	*r;
	struct strset			*isexcl, *isuser, *isseen, *istodo;

	/*
	 * The lists keep Backstage's order; the sets answer "is it there?"
	 * in constant time (a body may name thousands of refs).  Each set
	 * borrows the strings of the list beside it.
	 */
	isexcl = strset_new();
	for (i = 0; i < nexcl; i++)
		strset_add(isexcl, excl[i]);
	isuser = strset_new();
	isseen = strset_new();
	istodo = strset_new();
	for (i = 0; i < nrefs; i++) {
		if (strset_has(istodo, refs[i]))
			continue;
		strv_add(&todo, &ntodo, refs[i]);
		strset_add(istodo, todo[ntodo - 1]);
		strv_add(&seen, &nseen, refs[i]);
		strset_add(isseen, seen[nseen - 1]);
	}
	strset_free(istodo);
	while (ntodo > 0) {
		for (i = 0; i < ntodo; i++)
			if (entity_is_user(todo[i]))
				catalog_set_add(&users, &nusers, isuser,
				    todo[i]);
		for (i = 0; i < ntodo; i++) {
			if (entity_is_user(todo[i]) ||
			    strset_has(isexcl, todo[i]))
				continue;
			if ((e = catalog_get(cat, todo[i])) == NULL)
				continue;	/* not in the catalog */
			if (strset_has(isexcl, e->ref))
				continue;
			if (e->is_user) {
				catalog_set_add(&users, &nusers, isuser,
				    e->ref);
				continue;
			}
			for (j = 0; j < e->nrels; j++) {
				r = &e->rels[j];
				if (e->is_group &&
				    strcmp(r->type, REL_HAS_MEMBER) == 0 &&
				    entity_is_user(r->target))
					catalog_set_add(&users, &nusers,
					    isuser, r->target);
				else if (e->is_group &&
				    strcmp(r->type, REL_PARENT_OF) == 0 &&
				    !strset_has(isseen, r->target)) {
					catalog_set_add(&seen, &nseen, isseen,
					    r->target);
					strv_add(&next, &nnext,
					    r->target);
				} else if (!e->is_group &&
				    strcmp(r->type, REL_OWNED_BY) == 0) {
					/* Only the first owner counts. */
					if (!strset_has(isseen, r->target)) {
						catalog_set_add(&seen, &nseen,
						    isseen, r->target);
						strv_add(&next, &nnext,
						    r->target);
					}
					break;
				}
			}
		}
		strv_free(todo, ntodo);
		todo = next;
		ntodo = nnext;
		next = NULL;
		nnext = 0;
	}
	for (i = 0; i < nusers; i++)
		if (*users[i] != '\0' && !strset_has(isexcl, users[i]))
			strv_add(&out, &nout, users[i]);
	strset_free(isexcl);
	strset_free(isuser);
	strset_free(isseen);
	strv_free(users, nusers);
	strv_free(seen, nseen);
	*np = nout;
	return (out);
}

int
catalog_user(const struct catalog *cat, const char *ref, char **canon,
    char ***ent, size_t *nent)
{
	const struct catalog_entity	*e;
	char				*key;
	size_t				 i;

	*canon = NULL;
	*ent = NULL;
	*nent = 0;
	if ((key = catalog_canon(ref, "user", "default")) == NULL)
		return (0);
	e = catalog_find(cat, key);
	free(key);
	if (e == NULL || !e->is_user)
		return (0);
	*canon = xstrdup(e->ref);
	strv_add(ent, nent, e->ref);
	for (i = 0; i < e->nrels; i++)
		if (strcmp(e->rels[i].type, REL_MEMBER_OF) == 0 &&
		    strncmp(e->rels[i].target, "group:", 6) == 0)
			strv_addu(ent, nent, e->rels[i].target);
	return (1);
}
