/*
 * lint.c: `notimock lint [--json] [--base-url URL] [--url URL] FILE|- ...`.
 * A file is either Kubernetes objects (Argo CD's notification
 * configuration, Applications: lint_argocd.c cross-checks them all
 * together) or one rendered request body, diagnosed as if Argo CD had
 * POSTed it with the right headers (diag.c, offline mode).  Exit 0 without
 * error- or warning-level findings, 1 with some, 2 for usage or read
 * errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "json.h"
#include "lint.h"
#include "lint_argocd.h"
#include "log.h"
#include "url.h"
#include "xmalloc.h"

/* Files bigger than this are not request bodies (Backstage takes 100 KiB). */
#define LINT_MAX_BODY	(16 * 1024 * 1024)

static void
lint_usage(FILE *f)
{
	fprintf(f, "usage: notimock lint [--json] [--render] [--base-url URL] "
	    "[--url URL]\n                     [--cacert FILE]"
	    " FILE|- ...\n"
	    "Check Argo CD's notification objects (argocd-notifications-cm, "
	    "-secret,\nargocd-tls-certs-cm, NotificationsConfiguration, "
	    "Applications; as kubectl get\n-o yaml prints them) and rendered "
	    "webhook bodies, offline: exit 0 when clean,\n1 on findings (errors "
	    "or warnings), 2 on usage or read errors.\n"
	    "  --json          one JSON object per file: "
	    "{\"file\",\"errors\",\"warnings\",\"diagnoses\"}\n"
	    "  --base-url URL  app.baseUrl for the link check "
	    "[http://localhost:3000]\n"
	    "  --url URL       the notimock Argo CD sends to "
	    "[$NOTIMOCK_URL]: check tokens and\n"
	    "                  argocd-tls-certs-cm against it\n"
	    "  --cacert FILE   CA to reach --url over https\n"
	    "  --render        print each webhook body as Argo CD would send "
	    "it, instead\n"
	    "                  of the findings (one JSON object a line)\n");
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

/* Diagnose one body; returns the number of error- and warning-level
 * diagnoses. */
void
lint_json_line(struct json *o)
{
	char	*s;

	s = json_print(o, NULL);
	printf("%s\n", s);
	free(s);
	json_free(o);
}

/* The --json line for one file; takes diagnoses (a JSON array). */
static void
lint_print_json(const char *name, size_t nerr, size_t nwarn,
    struct json *diagnoses)
{
	struct json	*o;

	o = json_new_object();
	json_add_str(o, "file", name);
	json_add_num(o, "errors", (double)nerr);
	json_add_num(o, "warnings", (double)nwarn);
	json_add(o, "diagnoses", diagnoses);
	lint_json_line(o);
}

static size_t
lint_one(const char *name, const unsigned char *body, size_t len,
    const char *base, int json)
{
	struct diag_input	 in;
	struct diag_result	 res;
	struct json		*arr;
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
	for (nwarn = 0, i = 0; i < res.n; i++)
		nwarn += res.v[i].level == DIAG_WARNING;

	if (json) {
		s = diag_json(&res, &slen);
		arr = s != NULL ? json_parse(s, slen, 0, err, sizeof err,
		    NULL) : json_new_array();
		free(s);
		lint_print_json(name, nerr, nwarn,
		    arr != NULL ? arr : json_new_array());
	} else {
		/* Diagnoses quote the body: diag_print_text escapes them for
		 * the terminal, as the name is escaped here. */
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
	return (nerr + nwarn);
}

/* Print the findings about one file of Kubernetes objects; returns the
 * number of errors and warnings. */
static size_t
lint_objects(const char *name, const struct lint_finding *f, size_t n,
    int json)
{
	struct json	*arr, *d, *tarr;
	char		*s, ename[1024], *ev;
	size_t		 i, nerr = 0, nwarn = 0, slen;

	arr = json_new_array();
	tarr = json_new_array();
	for (i = 0; i < n; i++) {
		if (strcmp(f[i].file, name) != 0)
			continue;
		nerr += f[i].level == DIAG_ERROR;
		nwarn += f[i].level == DIAG_WARNING;
		d = json_new_object();
		json_add_str(d, "code", f[i].code);
		json_add_str(d, "level", diag_level_name(f[i].level));
		json_add_str(d, "message", f[i].message);
		json_add_str(d, "evidence", f[i].evidence);
		json_add_str(d, "fix", f[i].fix);
		json_add_num(d, "line", (double)f[i].line);
		json_append(arr, d);
		/* For people: the line leads the evidence. */
		d = json_new_object();
		json_add_str(d, "code", f[i].code);
		json_add_str(d, "level", diag_level_name(f[i].level));
		json_add_str(d, "message", f[i].message);
		xasprintf(&ev, "line %zu: %s", f[i].line, f[i].evidence);
		json_add_str(d, "evidence", ev);
		free(ev);
		json_add_str(d, "fix", f[i].fix);
		json_append(tarr, d);
	}
	if (json) {
		lint_print_json(name, nerr, nwarn, arr);
		arr = NULL;
	} else {
		log_escape_term(ename, sizeof ename, name, strlen(name));
		if (json_size(tarr) == 0)
			printf("%s: OK\n", ename);
		else {
			printf("%s: %zu error%s, %zu warning%s\n", ename, nerr,
			    nerr == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s");
			s = json_print(tarr, &slen);
			diag_print_text(stdout, s, slen, "  ");
			free(s);
		}
	}
	json_free(arr);
	json_free(tarr);
	return (nerr + nwarn);
}

/* One input, read before anything is printed. */
struct lint_input {
	const char	*name;
	unsigned char	*body;
	size_t		 len;
	int		 objects;	/* Kubernetes objects, not a body */
	int		 failed;
};

/* Read one file ("-": standard input) into in, and hand it to la when it
 * holds Argo CD objects; -1 (said on stderr) when it cannot be read. */
static int
lint_load(struct lint_argocd *la, const char *arg, struct lint_input *in)
{
	char	 ename[1024], *cause = NULL;
	FILE	*fp;
	int	 saved, rc = 0;

	in->name = strcmp(arg, "-") == 0 ? "-" : arg;
	if (strcmp(arg, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(arg, "rb")) == NULL) {
		saved = errno;
		fprintf(stderr, "notimock lint: %s: %s\n", log_escape_term(ename,
		    sizeof ename, arg, strlen(arg)), strerror(saved));
		in->failed = 1;
		return (-1);
	}
	if (lint_read(fp, &in->body, &in->len) == -1) {
		saved = errno;
		fprintf(stderr, "notimock lint: %s: %s\n", log_escape_term(ename,
		    sizeof ename, arg, strlen(arg)), strerror(saved));
		in->failed = 1;
		rc = -1;
	} else {
		switch (lint_argocd_add(la, in->name, (const char *)in->body,
		    in->len, &cause)) {
		case 1:
			in->objects = 1;
			break;
		case 0:
			break;
		default:
			fprintf(stderr, "notimock lint: %s\n",
			    log_escape_term(ename, sizeof ename, cause,
			    strlen(cause)));
			free(cause);
			in->failed = 1;
			rc = -1;
		}
	}
	if (fp != stdin)
		fclose(fp);
	return (rc);
}

int
lint_main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'c' },
		{ "render", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lint_argocd_opts		 lo;
	struct lint_argocd		*la = NULL;
	const struct lint_finding	*f = NULL;
	struct lint_input		*in = NULL;
	const char			*base_arg = "http://localhost:3000";
	char				*base, ename[1024];
	size_t				 len, errors = 0, nf = 0;
	int				 ch, json = 0, i, n = 0, rc = 0;
	int				 objects = 0;

	memset(&lo, 0, sizeof lo);
	lo.url = getenv("NOTIMOCK_URL");
	if (lo.url != NULL && *lo.url == '\0')
		lo.url = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'b':
			base_arg = optarg;
			break;
		case 'u':
			lo.url = optarg;
			break;
		case 'c':
			lo.cacert = optarg;
			break;
		case 'r':
			lo.render = 1;
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
	if (lo.url != NULL && url_check_absolute(lo.url) != URL_OK) {
		fprintf(stderr, "notimock lint: --url '%s' is not an http(s) "
		    "URL\n", log_escape_term(ename, sizeof ename, lo.url,
		    strlen(lo.url)));
		return (2);
	}
	lo.admin_token = getenv("NOTIMOCK_ADMIN_TOKEN");
	len = strlen(base_arg);
	xasprintf(&base, "%s%s", base_arg, len > 0 && base_arg[len - 1] ==
	    '/' ? "" : "/");
	lo.base_url = base;
	la = lint_argocd_new(&lo);

	in = xcalloc((size_t)(argc - optind), sizeof *in);
	for (i = optind; i < argc; i++, n++) {
		if (lint_load(la, argv[i], &in[n]) == -1)
			rc = 2;
		objects |= in[n].objects;
	}
	if (objects)
		nf = lint_argocd_run(la, &f);
	for (i = 0; i < n && !lo.render; i++) {
		if (in[i].failed)
			continue;
		if (in[i].objects)
			errors += lint_objects(in[i].name, f, nf, json);
		else
			errors += lint_one(in[i].name, in[i].body, in[i].len,
			    base, json);
	}
	for (i = 0; i < n; i++)
		free(in[i].body);
	free(in);
	lint_argocd_free(la);
	free(base);
	if (rc != 0)
		return (rc);
	return (errors > 0 ? 1 : 0);
}
