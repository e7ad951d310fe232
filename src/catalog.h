/*
 * catalog.h: a read-only stand-in for Backstage's software catalog, loaded
 * from --catalog files (multi-document YAML of entities), and the two
 * things notimock asks of it: who an entity-addressed notification reaches
 * (the notifications backend's DefaultNotificationRecipientResolver), and
 * which groups a signed-in user belongs to (the auth backend's ownership
 * refs).
 *
 * Relations are derived from the entities as Backstage's
 * BuiltinKindsEntityProcessor derives them (spec.memberOf, spec.members,
 * spec.parent, spec.children, spec.owner), whether or not the other end
 * exists, and are ordered as the catalog returns them: by type, then by
 * target ref.  Every ref the catalog produces is lower-cased
 * ("group:default/team-a"), as stringifyEntityRef does.
 */
#ifndef NOTIMOCK_CATALOG_H
#define NOTIMOCK_CATALOG_H

#include <stddef.h>

struct catalog;

/* Load the entity files in order (Location entities of type file are
 * followed, relative to the file naming them).  n == 0 gives an empty
 * catalog.  Returns NULL and *cause on a file that cannot be read or
 * parsed; entities that make no sense (no kind, no name) are skipped with
 * a warning, as Backstage rejects them. */
struct catalog	*catalog_load(char *const *files, size_t n, char **cause);
void		 catalog_free(struct catalog *);
/* Number of entities held. */
size_t		 catalog_count(const struct catalog *);

/*
 * Backstage's recipient resolution (spec section 5): refs whose kind is
 * user are recipients as written; every other ref not in excl is looked up
 * (case-insensitively, as the catalog does): a Group adds its members and
 * is followed into its child groups, any other kind is followed to its
 * owner; entities in excl are not expanded, and the final list drops excl.
 * Refs must already have parsed as entity refs.  cat may be NULL (an empty
 * catalog).  Returns the users, in Backstage's order, as an array of *np
 * strings the caller frees with strv_free().
 */
char		**catalog_resolve(const struct catalog *cat,
		    const char *const *refs, size_t nrefs,
		    const char *const *excl, size_t nexcl, size_t *np);

/*
 * The User entity ref names (kind User and namespace "default" when left
 * out), as the auth backend's signInWithCatalogUser finds it.  Returns 1,
 * its canonical ref in *canon and its ownership refs (itself, then each
 * group it is a member of) in *ent (*nent of them), all caller-freed; 0 if the
 * catalog holds no such user.
 */
int		 catalog_user(const struct catalog *cat, const char *ref,
		    char **canon, char ***ent, size_t *nent);

#endif
