/*
 * test_entity.c: entity references as @backstage/catalog-model 1.10.3
 * parses them.
 *
 * The expected names and messages come from running that package's own
 * parseEntityRef() and stringifyEntityRef() under Node 20 on each ref.
 * Note the two quoting styles: the "missing kind" Error quotes the ref with
 * JSON.stringify, the TypeError pastes it between plain double quotes.
 */
#include "unit.h"

#include "entity.h"

#define NOKIND	" had missing or empty kind (e.g. did not start with " \
		"\"component:\" or similar)"
#define NOTFORM	" was not on the form [<kind>:][<namespace>/]<name>"

struct bad_case {
	const char	*ref;
	const char	*errname;
	const char	*msg;
};

static const struct bad_case bad_cases[] = {
	{ "", "Error", "Entity reference must not be empty" },
	{ "guest", "Error", "Entity reference \"guest\"" NOKIND },
	{ "<no value>", "Error", "Entity reference \"<no value>\"" NOKIND },
	{ "user:", "TypeError", "Entity reference \"user:\"" NOTFORM },
	{ ":x", "TypeError", "Entity reference \":x\"" NOTFORM },
	{ "default/guest", "Error",
	    "Entity reference \"default/guest\"" NOKIND },
	{ "a/b:c", "Error", "Entity reference \"a/b:c\"" NOKIND },
	{ "/x", "TypeError", "Entity reference \"/x\"" NOTFORM },
	{ "user:/x", "TypeError", "Entity reference \"user:/x\"" NOTFORM },
	{ "user:default/", "TypeError",
	    "Entity reference \"user:default/\"" NOTFORM },
	{ "guest\"", "Error", "Entity reference \"guest\\\"\"" NOKIND },
	{ "a\\b", "Error", "Entity reference \"a\\\\b\"" NOKIND },
	{ "tab\there", "Error", "Entity reference \"tab\\there\"" NOKIND },
	{ "nl\nx", "Error", "Entity reference \"nl\\nx\"" NOKIND },
	{ "\001", "Error", "Entity reference \"\\u0001\"" NOKIND },
	{ "\177", "Error", "Entity reference \"\177\"" NOKIND },
	{ "\303\244/\303\266", "Error",
	    "Entity reference \"\303\244/\303\266\"" NOKIND },
	{ "a\"b:", "TypeError", "Entity reference \"a\"b:\"" NOTFORM },
	{ "a\"b:/x", "TypeError", "Entity reference \"a\"b:/x\"" NOTFORM },
	{ ":", "TypeError", "Entity reference \":\"" NOTFORM },
	{ "/", "TypeError", "Entity reference \"/\"" NOTFORM },
	{ ":/", "TypeError", "Entity reference \":/\"" NOTFORM },
	{ "a:/", "TypeError", "Entity reference \"a:/\"" NOTFORM },
	{ "a:b/", "TypeError", "Entity reference \"a:b/\"" NOTFORM },
	{ "//", "TypeError", "Entity reference \"//\"" NOTFORM },
	{ "::", "TypeError", "Entity reference \"::\"" NOTFORM },
	{ "x/", "TypeError", "Entity reference \"x/\"" NOTFORM },
	{ "group:/", "TypeError", "Entity reference \"group:/\"" NOTFORM },
	{ "a/b/c", "Error", "Entity reference \"a/b/c\"" NOKIND },
	{ NULL, NULL, NULL }
};

struct good_case {
	const char	*ref;
	const char	*kind;
	const char	*namespace;
	const char	*name;
	const char	*canonical;
	int		 is_user;
};

static const struct good_case good_cases[] = {
	{ "user:default/guest", "user", "default", "guest",
	    "user:default/guest", 1 },
	{ "user:guest", "user", "default", "guest",
	    "user:default/guest", 1 },
	{ "User:Default/Guest", "User", "Default", "Guest",
	    "user:default/guest", 1 },
	{ "group:default/team-a", "group", "default", "team-a",
	    "group:default/team-a", 0 },
	{ "component:default/foo:bar", "component", "default", "foo:bar",
	    "component:default/foo:bar", 0 },
	{ "foo:bar", "foo", "default", "bar",
	    "foo:default/bar", 0 },
	{ "x:y:z", "x", "default", "y:z",
	    "x:default/y:z", 0 },
	{ "user:default/guest/x", "user", "default", "guest/x",
	    "user:default/guest/x", 1 },
	{ "not a ref::", "not a ref", "default", ":",
	    "not a ref:default/:", 0 },
	{ "component:default/nothere", "component", "default", "nothere",
	    "component:default/nothere", 0 },
	{ "user::", "user", "default", ":",
	    "user:default/:", 1 },
	{ "user:a/b/c", "user", "a", "b/c",
	    "user:a/b/c", 1 },
	{ " user:x", " user", "default", "x",
	    " user:default/x", 0 },
	{ "user :x", "user ", "default", "x",
	    "user :default/x", 0 },
	{ "USER:x", "USER", "default", "x",
	    "user:default/x", 1 },
	{ "uSeR:a/b", "uSeR", "a", "b",
	    "user:a/b", 1 },
	{ "Component:Default/My-App", "Component", "Default", "My-App",
	    "component:default/my-app", 0 },
	{ "k:\303\204\303\226/\303\234\320\226", "k", "\303\204\303\226",
	    "\303\234\320\226",
	    "k:\303\244\303\266/\303\274\320\266", 0 },
	{ "k:\303\237/x", "k", "\303\237", "x",
	    "k:\303\237/x", 0 },
	{ "\303\251:x", "\303\251", "default", "x",
	    "\303\251:default/x", 0 },
	{ "kind:ns/name", "kind", "ns", "name",
	    "kind:ns/name", 0 },
	{ "a:b:c/d", "a", "b:c", "d",
	    "a:b:c/d", 0 },
	{ "a:b/c/d:e", "a", "b", "c/d:e",
	    "a:b/c/d:e", 0 },
	{ NULL, NULL, NULL, NULL, NULL, 0 }
};

/* The rows of spec section 4.7, with their full error bodies' texts. */
static void
test_spec_rows(void)
{
	struct entity_ref	er;
	char			en[32], msg[512];

	CHECK_INT(entity_parse("", &er, en, sizeof en, msg, sizeof msg), -1);
	CHECK_STR(en, "Error");
	CHECK_STR(msg, "Entity reference must not be empty");

	CHECK_INT(entity_parse("guest", &er, en, sizeof en, msg, sizeof msg),
	    -1);
	CHECK_STR(en, "Error");
	CHECK_STR(msg, "Entity reference \"guest\" had missing or empty kind "
	    "(e.g. did not start with \"component:\" or similar)");

	CHECK_INT(entity_parse("<no value>", &er, en, sizeof en, msg,
	    sizeof msg), -1);
	CHECK_STR(en, "Error");
	CHECK_STR(msg, "Entity reference \"<no value>\" had missing or empty "
	    "kind (e.g. did not start with \"component:\" or similar)");

	CHECK_INT(entity_parse("user:", &er, en, sizeof en, msg, sizeof msg),
	    -1);
	CHECK_STR(en, "TypeError");
	CHECK_STR(msg, "Entity reference \"user:\" was not on the form "
	    "[<kind>:][<namespace>/]<name>");

	CHECK_INT(entity_parse(":x", &er, en, sizeof en, msg, sizeof msg), -1);
	CHECK_STR(en, "TypeError");
	CHECK_STR(msg, "Entity reference \":x\" was not on the form "
	    "[<kind>:][<namespace>/]<name>");
end:	;
}

static void
test_bad_table(void)
{
	const struct bad_case	*c;
	struct entity_ref	 er;
	char			 en[32], msg[512];
	int			 bad = 0;

	for (c = bad_cases; c->ref != NULL; c++) {
		memset(en, 'x', sizeof en);
		memset(msg, 'x', sizeof msg);
		if (entity_parse(c->ref, &er, en, sizeof en, msg,
		    sizeof msg) != -1) {
			fprintf(stderr, "# \"%s\" parsed\n", c->ref);
			entity_ref_clear(&er);
			bad++;
			continue;
		}
		if (strcmp(en, c->errname) != 0 || strcmp(msg, c->msg) != 0) {
			fprintf(stderr, "# \"%s\":\n#   got      %s: %s\n"
			    "#   expected %s: %s\n", c->ref, en, msg,
			    c->errname, c->msg);
			bad++;
		}
		/* A failed parse leaves nothing to free. */
		CHECK(er.kind == NULL && er.namespace == NULL &&
		    er.name == NULL);
	}
	CHECK_INT(bad, 0);
end:	;
}

static void
test_good_table(void)
{
	const struct good_case	*c;
	struct entity_ref	 er;
	char			 en[32], msg[512], *canon = NULL;
	int			 bad = 0;

	for (c = good_cases; c->ref != NULL; c++) {
		if (entity_parse(c->ref, &er, en, sizeof en, msg,
		    sizeof msg) == -1) {
			fprintf(stderr, "# \"%s\": %s: %s\n", c->ref, en, msg);
			bad++;
			continue;
		}
		canon = entity_canonical(&er);
		if (strcmp(er.kind, c->kind) != 0 ||
		    strcmp(er.namespace, c->namespace) != 0 ||
		    strcmp(er.name, c->name) != 0 ||
		    strcmp(canon, c->canonical) != 0) {
			fprintf(stderr, "# \"%s\": got [%s] [%s] [%s] %s\n",
			    c->ref, er.kind, er.namespace, er.name, canon);
			bad++;
		}
		if (entity_is_user(c->ref) != c->is_user) {
			fprintf(stderr, "# \"%s\": entity_is_user %d\n",
			    c->ref, entity_is_user(c->ref));
			bad++;
		}
		free(canon);
		canon = NULL;
		entity_ref_clear(&er);
	}
	CHECK_INT(bad, 0);
end:
	free(canon);
}

/* The namespace defaults to "default"; the kind keeps its case. */
static void
test_defaults(void)
{
	struct entity_ref	er;
	char			en[32], msg[256];

	CHECK_INT(entity_parse("User:Guest", &er, en, sizeof en, msg,
	    sizeof msg), 0);
	CHECK_STR(er.kind, "User");
	CHECK_STR(er.namespace, "default");
	CHECK_STR(er.name, "Guest");
	entity_ref_clear(&er);
	CHECK(er.kind == NULL);
	/* Clearing twice is harmless. */
	entity_ref_clear(&er);
end:	;
}

/* entity_is_user() works on raw strings, as the resolver's partition. */
static void
test_is_user(void)
{
	CHECK_INT(entity_is_user("user:default/guest"), 1);
	CHECK_INT(entity_is_user("User:Default/Guest"), 1);
	CHECK_INT(entity_is_user("USER:x"), 1);
	CHECK_INT(entity_is_user("group:default/team-a"), 0);
	CHECK_INT(entity_is_user("users:x"), 0);
	CHECK_INT(entity_is_user("use:x"), 0);
	CHECK_INT(entity_is_user("guest"), 0);
	CHECK_INT(entity_is_user("default/user:x"), 0);
	CHECK_INT(entity_is_user(""), 0);
	CHECK_INT(entity_is_user(NULL), 0);
end:	;
}

/* Long refs are fine and a short message buffer is cut, not overrun. */
static void
test_buffers(void)
{
	struct entity_ref	 er;
	char			 en[6], msg[16], *ref = NULL, *canon = NULL;
	size_t			 n = 200000;

	CHECK_INT(entity_parse("guest", &er, en, sizeof en, msg, sizeof msg),
	    -1);
	CHECK_STR(en, "Error");
	CHECK_STR(msg, "Entity referenc");
	CHECK_INT(entity_parse("user:", &er, en, sizeof en, msg, sizeof msg),
	    -1);
	CHECK_STR(en, "TypeE");
	CHECK_INT(entity_parse("guest", &er, NULL, 0, NULL, 0), -1);

	ref = malloc(n + 1);
	CHECK(ref != NULL);
	memset(ref, '"', n);
	ref[n] = '\0';
	CHECK_INT(entity_parse(ref, &er, en, sizeof en, msg, sizeof msg), -1);
	memcpy(ref, "User:", 5);
	ref[1000] = '/';
	CHECK_INT(entity_parse(ref, &er, en, sizeof en, msg, sizeof msg), 0);
	CHECK_INT(strlen(er.namespace), 995);
	CHECK_INT(strlen(er.name), n - 1001);
	canon = entity_canonical(&er);
	CHECK_INT(strncmp(canon, "user:", 5), 0);
	CHECK_INT(strlen(canon), n);
	entity_ref_clear(&er);
end:
	free(canon);
	free(ref);
}

static const struct unit_test tests[] = {
	{ "spec 4.7 rows", test_spec_rows },
	{ "malformed refs (catalog-model answers)", test_bad_table },
	{ "valid refs (catalog-model answers)", test_good_table },
	{ "namespace default", test_defaults },
	{ "entity_is_user", test_is_user },
	{ "long refs and short buffers", test_buffers },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
