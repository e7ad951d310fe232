/*
 * diag_cost.c: what diagnosis costs per request, against parsing the same
 * body (json_parse, which every POST pays anyway), both measured in this
 * run.  Built by tests/bench/diag; was a timed assertion in test_diag,
 * which make check must not have (machines are noisy).
 *
 *   diag_cost [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "crypto.h"
#include "diag.h"
#include "json.h"

#define NOTIFS	"/api/notifications/notifications"
#define TOKEN	"s3cr3t-token-0123456789"

static const char clean[] = "{\"recipients\":{\"type\":\"entity\","
    "\"entityRef\":\"user:default/alice\"},\"payload\":{\"title\":"
    "\"Synced guestbook\",\"description\":\"successfully synced (all tasks "
    "run)\",\"link\":\"https://argocd.example.com/applications/guestbook\","
    "\"severity\":\"normal\",\"topic\":\"argocd.sync.succeeded\",\"scope\":"
    "\"argocd/guestbook\"}}";
/* A refused send that fires several diagnoses (their text is built). */
static const char broken[] = "{\"recipients\":{\"type\":\"entity\","
    "\"entityRef\":\"<no value>\"},\"payload\":{\"title\":\"Synced\","
    "\"severity\":\"High\",\"link\":\"<no value>/applications/x\"}}";

static double
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3);
}

/* Mean microseconds of one json_parse of body. */
static double
parse_us(const char *body, int n)
{
	char		 err[JSON_ERRLEN];
	long		 pos;
	double		 t0;
	int		 i;

	t0 = now_us();
	for (i = 0; i < n; i++)
		json_free(json_parse(body, strlen(body), 1, err, sizeof err,
		    &pos));
	return ((now_us() - t0) / n);
}

/* Mean microseconds of diag_run (and, when json, diag_json) on body. */
static double
diag_us(const char *body, const char *authz, enum auth_result auth,
    int status, int json, int n, size_t *ndiag)
{
	struct diag		*dg = diag_new();
	struct diag_input	 in;
	struct diag_result	 res;
	struct principal	 who;
	struct json		*parsed, *users, *entities;
	char			 err[JSON_ERRLEN], fps[CRYPTO_FP_LEN], *s;
	double			 t0, t;
	int			 i;

	memset(&in, 0, sizeof in);
	memset(&who, 0, sizeof who);
	who.type = PRINCIPAL_SERVICE;
	who.subject = "argocd-notifications";
	crypto_fingerprint(TOKEN, strlen(TOKEN), who.fp);
	crypto_fingerprint(TOKEN, strlen(TOKEN), fps);
	in.method = "POST";
	in.uri = in.path = NOTIFS;
	in.content_type = "application/json";
	in.authorization = authz;
	in.user_agent = "Go-http-client/1.1";
	in.auth_checked = 1;
	in.auth = auth;
	in.who = auth == AUTH_OK ? &who : NULL;
	in.token_fps = fps;
	in.body = (const unsigned char *)body;
	in.body_len = strlen(body);
	in.json_errpos = -1;
	parsed = json_parse(body, strlen(body), 1, err, sizeof err,
	    &in.json_errpos);
	in.json = parsed;
	if (parsed == NULL)
		in.json_error = err;
	users = json_new_array();
	if (auth == AUTH_OK)
		json_append(users, json_new_string("user:default/alice"));
	entities = json_new_array();
	in.users = users;
	in.entities = entities;
	in.status = status;
	in.response = "[]";
	in.response_len = 2;
	in.remote = "10.0.0.7:40312";
	in.base_url = "http://localhost:3000/";
	in.now_ms = 1795955912797LL;
	in.seq = 1;

	*ndiag = 0;
	t0 = now_us();
	for (i = 0; i < n; i++) {
		in.now_ms += 20000;	/* never a retry */
		*ndiag = diag_run(dg, &in, &res);
		if (json) {
			s = diag_json(&res, NULL);
			free(s);
		}
		diag_clear(&res);
	}
	t = (now_us() - t0) / n;
	json_free(parsed);
	json_free(users);
	json_free(entities);
	diag_free(dg);
	return (t);
}

int
main(int argc, char **argv)
{
	int	 n = argc > 1 ? atoi(argv[1]) : 20000;
	double	 pc, pb, dc, db;
	size_t	 nc, nb;

	if (n <= 0)
		n = 20000;
	pc = parse_us(clean, n);
	dc = diag_us(clean, "Bearer " TOKEN, AUTH_OK, 200, 0, n, &nc);
	pb = parse_us(broken, n);
	db = diag_us(broken, "Bearer wrong-token-0123456789", AUTH_ILLEGAL,
	    401, 1, n, &nb);
	printf("%-34s %9s %9s %7s\n", "case", "diag us", "parse us", "ratio");
	printf("%-34s %9.2f %9.2f %7.2f\n", "clean POST (0 diagnoses)", dc, pc,
	    dc / pc);
	printf("%-34s %9.2f %9.2f %7.2f\n", "refused POST, diag_json", db, pb,
	    db / pb);
	printf("  (%zu diagnoses)\n", nb);
	printf("{\"clean_us\":%.3f,\"clean_parse_us\":%.3f,\"clean_ratio\":%.3f,"
	    "\"refused_us\":%.3f,\"refused_parse_us\":%.3f,"
	    "\"refused_ratio\":%.3f,\"refused_diagnoses\":%zu,"
	    "\"iterations\":%d}\n", dc, pc, dc / pc, db, pb, db / pb, nb, n);
	return (nc == 0 ? 0 : 1);
}
