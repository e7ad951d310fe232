/*
 * test_catalog.c: entity files, derived relations, and recipient
 * resolution in the order Backstage's resolver produces.
 *
 * The expected orders for the first catalog are those the reference
 * backend (notifications-backend 0.6.11 with the real catalog) answered
 * for the same entities; see the spec, section 5.
 */
#include "unit.h"

#include "catalog.h"
#include "util.h"

/* The oracle's test entities, and a few more. */
static const char catalog_yaml[] =
    "apiVersion: backstage.io/v1alpha1\n"
    "kind: User\n"
    "metadata: {name: guest}\n"
    "spec: {memberOf: [team-a]}\n"
    "---\n"
    "kind: User\n"
    "metadata: {name: alice}\n"
    "spec: {memberOf: [team-a]}\n"
    "---\n"
    "kind: User\n"
    "metadata: {name: bob}\n"
    "spec: {memberOf: [team-b]}\n"
    "---\n"
    "kind: Group\n"
    "metadata: {name: team-a}\n"
    "spec: {type: team, children: []}\n"
    "---\n"
    "kind: Group\n"
    "metadata: {name: team-b}\n"
    "spec: {type: team, children: []}\n"
    "---\n"
    "kind: Group\n"
    "metadata: {name: platform}\n"
    "spec: {type: department, children: [team-b]}\n"
    "---\n"
    "kind: Component\n"
    "metadata: {name: order-service}\n"
    "spec: {type: service, owner: group:default/team-a}\n"
    "---\n"
    "kind: Component\n"
    "metadata: {name: billing}\n"
    "spec: {type: service, owner: user:default/bob}\n"
    "---\n"
    /* Members named by the group, a cycle through spec.parent, a
     * description with ${} that must stay as written. */
    "kind: Group\n"
    "metadata: {name: ring, description: 'uses ${NOPE}'}\n"
    "spec: {members: [zed, Carol], parent: loop, children: []}\n"
    "---\n"
    "kind: Group\n"
    "metadata: {name: loop}\n"
    "spec: {parent: ring, children: []}\n"
    "---\n"
    "kind: System\n"
    "metadata: {name: shop, namespace: Sales}\n"
    "spec: {owner: group:default/ring}\n"
    "---\n"
    /* An owner without a namespace is in the entity's own. */
    "kind: System\n"
    "metadata: {name: till, namespace: sales}\n"
    "spec: {owner: ring}\n"
    "---\n";

static const char location_yaml[] =
    "kind: Location\n"
    "metadata: {name: more}\n"
    "spec: {targets: [./more.yaml, ./more.yaml]}\n";

static const char more_yaml[] =
    "kind: User\n"
    "metadata: {name: dora}\n"
    "spec: {memberOf: [group:default/team-b]}\n";

static char	 unit_dir[64];

static void
write_file(const char *name, const char *text)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", unit_dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Remove what load() and the tests wrote. */
static void
cleanup(void)
{
	static const char *names[] = { "entities.yaml", "location.yaml",
	    "more.yaml", "bad.yaml", "noname.yaml" };
	char	path[128];
	size_t	i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", unit_dir, names[i]);
		unlink(path);
	}
	rmdir(unit_dir);
}

static struct catalog *
load(int with_location)
{
	char		 a[128], b[128], *files[2], *cause = NULL;
	struct catalog	*cat;

	snprintf(unit_dir, sizeof unit_dir, "/tmp/test_catalog.XXXXXX");
	if (mkdtemp(unit_dir) == NULL)
		exit(1);
	write_file("entities.yaml", catalog_yaml);
	write_file("location.yaml", location_yaml);
	write_file("more.yaml", more_yaml);
	snprintf(a, sizeof a, "%s/entities.yaml", unit_dir);
	snprintf(b, sizeof b, "%s/location.yaml", unit_dir);
	files[0] = a;
	files[1] = b;
	cat = catalog_load(files, with_location ? 2 : 1, &cause);
	if (cat == NULL) {
		fprintf(stderr, "# %s\n", cause);
		exit(1);
	}
	return (cat);
}

/* Resolve and compare with a "|"-joined expectation. */
static int
resolves(struct catalog *cat, const char *const *refs, size_t n,
    const char *const *excl, size_t nexcl, const char *want)
{
	char	**users, got[1024] = "";
	size_t	 nu, i;

	users = catalog_resolve(cat, refs, n, excl, nexcl, &nu);
	for (i = 0; i < nu; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s",
		    i > 0 ? "|" : "", users[i]);
	strv_free(users, nu);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "#   got      \"%s\"\n#   expected \"%s\"\n",
		    got, want);
		return (0);
	}
	return (1);
}

static void
test_counts(void)
{
	struct catalog	*cat = load(1);

	/* 12 entities, the Location and dora from the file it names. */
	CHECK_INT(catalog_count(cat), 14);
end:
	catalog_free(cat);
	cleanup();
}

static void
test_oracle_orders(void)
{
	struct catalog		*cat = load(0);
	const char *const	 r1[] = { "component:default/order-service",
	    "user:default/guest", "user:default/alice", "user:default/guest" };
	const char *const	 r2[] = { "group:default/team-a" };
	const char *const	 r3[] = { "component:default/order-service",
	    "component:default/billing", "component:default/missing" };
	const char *const	 r4[] = { "group:default/platform" };

	CHECK(resolves(cat, r1, 4, NULL, 0, "user:default/guest|"
	    "user:default/alice"));
	CHECK(resolves(cat, r2, 1, NULL, 0, "user:default/alice|"
	    "user:default/guest"));
	CHECK(resolves(cat, r3, 3, NULL, 0, "user:default/bob|"
	    "user:default/alice|user:default/guest"));
	CHECK(resolves(cat, r4, 1, NULL, 0, "user:default/bob"));
end:
	catalog_free(cat);
	cleanup();
}

static void
test_exclusions(void)
{
	struct catalog		*cat = load(0);
	const char *const	 r1[] = { "group:default/team-a",
	    "user:default/alice" };
	const char *const	 x1[] = { "user:default/alice" };
	const char *const	 r2[] = { "component:default/order-service" };
	const char *const	 x2[] = { "group:default/team-a" };
	const char *const	 x3[] = { "Group:default/team-a" };
	const char *const	 r4[] = { "User:Default/Alice" };
	const char *const	 x4[] = { "user:default/alice" };

	CHECK(resolves(cat, r1, 2, x1, 1, "user:default/guest"));
	/* An excluded owner is not expanded. */
	CHECK(resolves(cat, r2, 1, x2, 1, ""));
	/* Exclusions compare exactly: another spelling excludes nothing. */
	CHECK(resolves(cat, r2, 1, x3, 1, "user:default/alice|"
	    "user:default/guest"));
	CHECK(resolves(cat, r4, 1, x4, 1, "User:Default/Alice"));
end:
	catalog_free(cat);
	cleanup();
}

static void
test_lookups_and_cycles(void)
{
	struct catalog		*cat = load(1);
	const char *const	 r1[] = { "GROUP:default/Team-A" };
	const char *const	 r2[] = { "group:team-a" };
	const char *const	 r3[] = { "system:sales/shop" };
	const char *const	 r4[] = { "group:default/team-b" };
	const char *const	 r5[] = { "user:default/nobody",
	    "component:default/billing" };
	const char *const	 r6[] = { "system:sales/till" };

	/* The catalog lower-cases refs; it does not fill in namespaces. */
	CHECK(resolves(cat, r1, 1, NULL, 0, "user:default/alice|"
	    "user:default/guest"));
	CHECK(resolves(cat, r2, 1, NULL, 0, ""));
	/* A group's own spec.members (lower-cased), and a parent cycle. */
	CHECK(resolves(cat, r3, 1, NULL, 0, "user:default/carol|"
	    "user:default/zed"));
	/* memberOf from a file a Location entity named. */
	CHECK(resolves(cat, r4, 1, NULL, 0, "user:default/bob|"
	    "user:default/dora"));
	CHECK(resolves(cat, r5, 2, NULL, 0, "user:default/nobody|"
	    "user:default/bob"));
	CHECK(resolves(cat, r6, 1, NULL, 0, ""));
end:
	catalog_free(cat);
	cleanup();
}

static void
test_user_ownership(void)
{
	struct catalog	*cat = load(0);
	char		*canon = NULL, **ent = NULL;
	size_t		 nent = 0;

	CHECK_INT(catalog_user(cat, "User:default/Guest", &canon, &ent,
	    &nent), 1);
	CHECK_STR(canon, "user:default/guest");
	CHECK_INT(nent, 2);
	CHECK_STR(ent[0], "user:default/guest");
	CHECK_STR(ent[1], "group:default/team-a");
	strv_free(ent, nent);
	free(canon);
	ent = NULL;
	canon = NULL;
	CHECK_INT(catalog_user(cat, "guest", &canon, &ent, &nent), 1);
	CHECK_STR(canon, "user:default/guest");
	strv_free(ent, nent);
	free(canon);
	ent = NULL;
	canon = NULL;
	CHECK_INT(catalog_user(cat, "user:development/guest", &canon, &ent,
	    &nent), 0);
	CHECK_INT(catalog_user(cat, "group:default/team-a", &canon, &ent,
	    &nent), 0);
	CHECK_INT(catalog_user(NULL, "user:default/guest", &canon, &ent,
	    &nent), 0);
end:
	strv_free(ent, nent);
	free(canon);
	catalog_free(cat);
	cleanup();
}

static void
test_bad_files(void)
{
	char		*cause = NULL, path[128];
	char		*files[1];
	struct catalog	*cat;

	snprintf(unit_dir, sizeof unit_dir, "/tmp/test_catalog.XXXXXX");
	CHECK(mkdtemp(unit_dir) != NULL);
	files[0] = path;
	snprintf(path, sizeof path, "%s/missing.yaml", unit_dir);
	cat = catalog_load(files, 1, &cause);
	CHECK(cat == NULL && cause != NULL);
	free(cause);
	cause = NULL;
	write_file("bad.yaml", "kind: User\nmetadata: {name: [x\n");
	snprintf(path, sizeof path, "%s/bad.yaml", unit_dir);
	cat = catalog_load(files, 1, &cause);
	CHECK(cat == NULL && cause != NULL && strstr(cause, "bad.yaml"));
	free(cause);
	cause = NULL;
	/* An entity without a name is skipped, not fatal. */
	write_file("noname.yaml", "kind: User\nmetadata: {}\n---\n"
	    "kind: User\nmetadata: {name: ok}\n");
	snprintf(path, sizeof path, "%s/noname.yaml", unit_dir);
	cat = catalog_load(files, 1, &cause);
	CHECK(cat != NULL);
	CHECK_INT(catalog_count(cat), 1);
	catalog_free(cat);
end:
	free(cause);
	cleanup();
}

static const struct unit_test tests[] = {
	{ "entities and Location targets load", test_counts },
	{ "resolution orders match the reference backend", test_oracle_orders },
	{ "excludeEntityRef at every level, compared exactly",
	    test_exclusions },
	{ "lower-cased lookups, spec.members, parent cycles",
	    test_lookups_and_cycles },
	{ "a signed-in user's ownership refs", test_user_ownership },
	{ "unreadable files fail, nameless entities are skipped",
	    test_bad_files },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
