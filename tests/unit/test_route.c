/* test_route.c: the route tables' matcher (route.c). */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "route.h"
#include "unit.h"

static void h_a(struct req *r, void *arg) { }
static void h_b(struct req *r, void *arg) { }
static void h_id(struct req *r, void *arg) { }
static void h_all(struct req *r, void *arg) { }

static const struct route table[] = {
	{ HTTP_POST, "/", h_a, NULL, ROUTE_SLASH },
	{ HTTP_GET | HTTP_HEAD, "/", h_b, NULL, ROUTE_SLASH },
	{ HTTP_POST, "/update", h_a, NULL, ROUTE_SLASH },
	{ HTTP_GET | HTTP_HEAD, "/status", h_b, NULL, ROUTE_SLASH },
	{ HTTP_GET | HTTP_HEAD, "/notifications/:id", h_id, NULL, ROUTE_SLASH },
	{ HTTP_GET | HTTP_HEAD, "/:id", h_id, NULL, ROUTE_SLASH },
	{ HTTP_DELETE, "/strict", h_a, NULL, 0 },
};
#define N	(sizeof table / sizeof table[0])

static void
test_literal_and_slash(void)
{
	struct route_match	m;

	CHECK(route_find(table, N, HTTP_POST, "/", &m) == &table[0]);
	CHECK(route_find(table, N, HTTP_HEAD, "/", &m) == &table[1]);
	CHECK(route_find(table, N, HTTP_POST, "//", &m) == &table[0]);
	CHECK(route_find(table, N, HTTP_GET, "/STATUS/", &m) == &table[3]);
	CHECK(route_find(table, N, HTTP_GET, "/status//", &m) == NULL);
	CHECK(route_find(table, N, HTTP_DELETE, "/strict", &m) == &table[6]);
	CHECK(route_find(table, N, HTTP_DELETE, "/strict/", &m) == NULL);
end:
	;
}

static void
test_params(void)
{
	struct route_match	m;

	/* A GET of /update is /:id, with the id captured. */
	CHECK(route_find(table, N, HTTP_GET, "/update", &m) == &table[5]);
	CHECK_INT(m.paramlen, 6);
	CHECK(strncmp(m.param, "update", 6) == 0);
	CHECK(route_find(table, N, HTTP_GET, "/Notifications/abc/", &m) ==
	    &table[4]);
	CHECK_INT(m.paramlen, 3);
	CHECK(strncmp(m.param, "abc", 3) == 0);
	/* A segment is never empty, and takes no '/'. */
	CHECK(route_find(table, N, HTTP_GET, "/notifications//", &m) == NULL);
	CHECK_INT(m.allow, 0);
	CHECK(route_find(table, N, HTTP_GET, "/a/b", &m) == NULL);
end:
	;
}

static void
test_allow(void)
{
	struct route_match	m;
	char			buf[64];

	CHECK(route_find(table, N, HTTP_PUT, "/update", &m) == NULL);
	CHECK_STR(route_allow(m.allow, ",", buf, sizeof buf), "GET,HEAD,POST");
	CHECK(route_find(table, N, HTTP_OPTIONS, "/status", &m) == NULL);
	CHECK_STR(route_allow(m.allow, ",", buf, sizeof buf), "GET,HEAD");
	CHECK(route_find(table, N, HTTP_OPTIONS, "/x/y", &m) == NULL);
	CHECK_INT(m.allow, 0);
	CHECK_STR(route_allow(HTTP_DELETE | HTTP_GET, ", ", buf, sizeof buf),
	    "GET, DELETE");
	CHECK_STR(route_allow(0, ", ", buf, sizeof buf), "");
	CHECK_STR(route_allow(HTTP_GET | HTTP_POST, ", ", buf, 5), "GET");
	CHECK_STR(route_method_name(HTTP_PATCH), "PATCH");
	CHECK_STR(route_method_name(0), "UNKNOWN");
end:
	;
}

static void
test_prefix(void)
{
	static const struct route top[] = {
		{ ROUTE_ANY, "/api/notifications", h_a, NULL, ROUTE_PREFIX },
		{ ROUTE_ANY, "/metrics", h_b, NULL, ROUTE_SLASH },
		{ ROUTE_ANY, "/", h_all, NULL, ROUTE_PREFIX },
	};
	size_t	n = sizeof top / sizeof top[0];

	CHECK(route_find(top, n, HTTP_GET, "/api/notifications", NULL) ==
	    &top[0]);
	CHECK(route_find(top, n, HTTP_GET, "/API/Notifications/x/y", NULL) ==
	    &top[0]);
	CHECK(route_find(top, n, HTTP_GET, "/api/notificationsx", NULL) ==
	    &top[2]);
	CHECK(route_find(top, n, HTTP_GET, "/metrics/", NULL) == &top[1]);
	CHECK(route_find(top, n, HTTP_GET, "/metrics/x", NULL) == &top[2]);
	CHECK(route_find(top, n, HTTP_GET, "", NULL) == &top[2]);
end:
	;
}

static const struct unit_test tests[] = {
	{ "literal segments, case and one trailing slash", test_literal_and_slash },
	{ "':name' segments and their capture", test_params },
	{ "the methods a path allows, spelled out", test_allow },
	{ "prefix routes", test_prefix },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
