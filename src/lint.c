/*
 * lint.c: `notimock lint [--json] [--base-url URL] FILE|- ...`.  Each file
 * is one rendered request body, diagnosed as if Argo CD had POSTed it with
 * the right headers (diag.c, offline mode): JSON syntax, template leftovers
 * and the Backstage contract.  Exit 0 without error-level diagnoses, 1 with
 * some, 2 for usage or read errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "json.h"
#include "lint.h"
#include "log.h"
#include "url.h"
#include "xmalloc.h"

/* Files bigger than this are not request bodies (Backstage takes 100 KiB). */
#define LINT_MAX_BODY	(16 * 1024 * 1024)

static void
lint_usage(FILE *f)
{
	fprintf(f, "usage: notimock lint [--json] [--base-url URL] FILE|- "
	    "...\n"
	    "Diagnose rendered Argo CD webhook bodies offline: exit 0 when no "
	    "body has an\nerror-level diagnosis, 1 otherwise, 2 on usage or "
	    "read errors.\n"
	    "  --json          one JSON object per file: "
	    "{\"file\",\"errors\",\"diagnoses\"}\n"
	    "  --base-url URL  app.baseUrl for the link check "
	    "[http://localhost:3000]\n");
}

/* Read all of f; returns -1 with errno on failure or if too big. */
static int
lint_read(FILE *f, unsigned char **bufp, size_t *lenp)
{
	unsigned char	*buf = NULL;
	size_t		 len = 0, cap = 0, n;

	for (;;) {
		if (len == cap) {
			if (cap >= LINT_MAX_BODY) {
				free(buf);
				errno = EFBIG;
				return (-1);
			}
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				return (-1);
			}
			break;
		}
	}
	*bufp = buf;
	*lenp = len;
	return (0);
}

/* Diagnose one body; returns the number of error-level diagnoses. */
static size_t
lint_one(const char *name, const unsigned char *body, size_t len,
    const char *base, int json)
{
	struct diag_input	 in;
	struct diag_result	 res;
	struct json		*o, *arr;
	char			*s, err[JSON_ERRLEN], ename[1024];
	size_t			 nerr, nwarn, i, slen;

	memset(&in, 0, sizeof in);
	in.offline = 1;
	in.method = "POST";
	in.body = body;
	in.body_len = len;
	in.json_errpos = -1;
	in.base_url = base;
	diag_run(NULL, &in, &res);
	nerr = diag_errors(&res);

	if (json) {
		o = json_new_object();
		json_add_str(o, "file", name);
		json_add_num(o, "errors", (double)nerr);
		s = diag_json(&res, &slen);
		arr = s != NULL ? json_parse(s, slen, 0, err, sizeof err,
		    NULL) : json_new_array();
		free(s);
		json_add(o, "diagnoses", arr != NULL ? arr : json_new_array());
		s = json_print(o, NULL);
		printf("%s\n", s);
		free(s);
		json_free(o);
	} else {
		/* Diagnoses quote the body: diag_print_text escapes them for
		 * the terminal, as the name is escaped here. */
		for (nwarn = 0, i = 0; i < res.n; i++)
			nwarn += res.v[i].level == DIAG_WARNING;
		log_escape_term(ename, sizeof ename, name, strlen(name));
		if (res.n == 0)
			printf("%s: OK\n", ename);
		else
			printf("%s: %zu error%s, %zu warning%s\n", ename, nerr,
			    nerr == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s");
		if ((s = diag_json(&res, &slen)) != NULL) {
			diag_print_text(stdout, s, slen, "  ");
			free(s);
		}
	}
	diag_clear(&res);
	return (nerr);
}

int
lint_main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*base_arg = "http://localhost:3000";
	char		*base, ename[1024];
	unsigned char	*body;
	size_t		 len, errors = 0;
	FILE		*f;
	int		 ch, json = 0, i, rc = 0, saved;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'b':
			base_arg = optarg;
			break;
		case 'h':
			lint_usage(stdout);
			return (0);
		default:
			lint_usage(stderr);
			return (2);
		}
	}
	if (optind >= argc) {
		lint_usage(stderr);
		return (2);
	}
	if (url_check_absolute(base_arg) != URL_OK) {
		fprintf(stderr, "notimock lint: --base-url '%s' is not an "
		    "http(s) URL\n", log_escape_term(ename, sizeof ename,
		    base_arg, strlen(base_arg)));
		return (2);
	}
	len = strlen(base_arg);
	xasprintf(&base, "%s%s", base_arg, len > 0 && base_arg[len - 1] ==
	    '/' ? "" : "/");

	for (i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			f = stdin;
		else if ((f = fopen(argv[i], "rb")) == NULL) {
			saved = errno;
			fprintf(stderr, "notimock lint: %s: %s\n",
			    log_escape_term(ename, sizeof ename, argv[i],
			    strlen(argv[i])), strerror(saved));
			rc = 2;
			continue;
		}
		if (lint_read(f, &body, &len) == -1) {
			saved = errno;
			fprintf(stderr, "notimock lint: %s: %s\n",
			    log_escape_term(ename, sizeof ename, argv[i],
			    strlen(argv[i])), strerror(saved));
			rc = 2;
		} else {
			errors += lint_one(f == stdin ? "-" : argv[i], body,
			    len, base, json);
			free(body);
		}
		if (f != stdin)
			fclose(f);
	}
	free(base);
	if (rc != 0)
		return (rc);
	return (errors > 0 ? 1 : 0);
}
