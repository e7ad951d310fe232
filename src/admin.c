/*
 * admin.c: the admin token check of /mock/, /metrics and /mock/faults
 * (admin.h).  Moved out of mock.c so that fault.c and metrics.c need not
 * call up into the assertion API.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "crypto.h"
#include "http.h"
#include "server.h"
#include "settings.h"
#include "util.h"

int
admin_authorized(struct req *r, const struct http_param *v, size_t n)
{
	const char	*hdr, *tok = NULL;
	unsigned char	 a[CRYPTO_SHA256_LEN];
	size_t		 i;

	if (!r->srv->admin_set)
		return (1);
	hdr = http_header(r, "Authorization");
	if (hdr != NULL && util_strncaseeq(hdr, "Bearer ", 7)) {
		tok = hdr + 7;
		while (*tok == ' ')
			tok++;
	} else {
		for (i = 0; i < n; i++)
			if (strcmp(v[i].name, "access_token") == 0)
				tok = v[i].value;
	}
	if (tok == NULL || *tok == '\0') {
		http_add_header(r, "WWW-Authenticate",
		    "Bearer realm=\"notimock\"");
		http_error(r, 401, "AuthenticationError", "Missing admin token");
		return (0);
	}
	/* Equal-length digests: the comparison time says nothing about the
	 * token's length or content.  The token's own was made once, by
	 * server_start. */
	crypto_sha256(tok, strlen(tok), a);
	if (!crypto_equal(a, r->srv->admin_digest, sizeof a)) {
		http_add_header(r, "WWW-Authenticate",
		    "Bearer realm=\"notimock\", error=\"invalid_token\"");
		http_error(r, 401, "AuthenticationError", "Illegal admin token");
		return (0);
	}
	return (1);
}

int
admin_authorize(struct req *r)
{
	struct http_param	*v = NULL;
	size_t			 n = 0;
	int			 ok;

	(void)http_query_parse(r->query, 0, &v, &n);
	ok = admin_authorized(r, v, n);
	http_params_free(v, n);
	return (ok);
}
