/*
 * entity.h: Backstage entity references ("kind:namespace/name"), parsed the
 * way @backstage/catalog-model's parseEntityRef does, with its exact errors.
 */
#ifndef NOTIMOCK_ENTITY_H
#define NOTIMOCK_ENTITY_H

#include <stddef.h>

struct entity_ref {
	char	*kind;		/* as written; never NULL on success */
	char	*namespace;	/* "default" when absent */
	char	*name;
};

/* Parse ref.  Returns 0 and fills out (free with entity_ref_clear), or -1
 * and writes the JavaScript error name ("Error" or "TypeError") to errname
 * and its message to msg, e.g.
 *   Entity reference must not be empty
 *   Entity reference "guest" had missing or empty kind (e.g. did not start with "component:" or similar)
 *   Entity reference "user:" was not on the form [<kind>:][<namespace>/]<name>
 * As upstream does, the "missing kind" message JSON-quotes the ref
 * (JSON.stringify); the TypeError puts it between plain double quotes. */
int	entity_parse(const char *ref, struct entity_ref *out, char *errname,
	    size_t errnamelen, char *msg, size_t msglen);
void	entity_ref_clear(struct entity_ref *);
/* True if ref's kind (text before the first ':', compared without case) is
 * "user".  Works on unparsed strings, as the recipient resolver does. */
int	entity_is_user(const char *ref);
/* The canonical lower-case "kind:namespace/name" (for catalog lookups);
 * caller frees. */
char	*entity_canonical(const struct entity_ref *);

#endif
