/*
 * diag_outcome.c: the checks after the answer: an accepted send that
 * reached nobody, and the history of requests (retries and duplicates),
 * the only diagnosis with state (struct diag, one per server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"
#include "json.h"
#include "xmalloc.h"

/* --- the outcome ------------------------------------------------------- */

void
diag_no_recipients(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const struct json	*recip;
	const char		*type;
	char			*refs, *t;

	if (in->offline || in->status != 200 || json_size(in->users) != 0 ||
	    json_type(x->json) != JSON_OBJECT)
		return;
	recip = json_get(x->json, "recipients");
	type = json_string(json_get(recip, "type"));
	if (type == NULL || strcmp(type, "entity") != 0)
		return;
	refs = json_print(in->entities != NULL ? in->entities :
	    json_get(recip, "entityRef"), NULL);
	t = diag_escape((const unsigned char *)refs,
	    strlen(refs) < 300 ? strlen(refs) : 300);
	DIAG_SAY0(x->res, DT_NO_RECIPIENTS, diag_fmt("entityRef %s reached no "
	    "user; the answer is []", t));
	free(t);
	free(refs);
}

/* --- retries ----------------------------------------------------------- */

/*
 * v in decimal at b (room for 21 bytes and a NUL); its length.  What
 * snprintf's "%lld" writes: the chain of a duplicate is formatted on every
 * repeated POST, 12 snprintf calls that were ~2 % of a POST's instructions
 * under wrk, whose bodies all repeat (issue 11).
 */
static size_t
diag_lld(char *b, long long v)
{
	char			 t[24];
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;
	size_t			 n = 0, i = 0;

	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		b[i++] = '-';
	while (n > 0)
		b[i++] = t[--n];
	b[i] = '\0';
	return (i);
}

static int
diag_retriable(int status)
{
	/* 0: no answer at all (a fault's drop or reset): Argo CD's client
	 * retries connection errors too. */
	return (status == 0 || status == 429 ||
	    (status >= 500 && status != 501));
}

void
diag_retry(struct diag *d, struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	struct diag_result	*res = x->res;
	struct diag_seen	*prev = NULL, *s, last;
	const char		*fp = "", *colon;
	char			 host[64], chain[DIAG_CHAIN * 24], gap[32];
	char			 attempt[24], pseq[24], pstatus[24];
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i, k, hostlen, o;
	int64_t			 ms;

	if (d == NULL || in->offline || (strcmp(in->method, "GET") == 0 &&
	    in->body_len == 0) || strcmp(in->method, "HEAD") == 0)
		return;
	/* The origin: the client's address (Argo CD opens a new connection,
	 * so a new port, for every attempt) and its credential. */
	hostlen = 0;
	if (in->remote != NULL) {
		colon = strrchr(in->remote, ':');
		hostlen = colon != NULL ? (size_t)(colon - in->remote) :
		    strlen(in->remote);
	}
	if (hostlen >= sizeof host)
		hostlen = sizeof host - 1;
	memcpy(host, in->remote != NULL ? in->remote : "", hostlen);
	host[hostlen] = '\0';
	if (in->who != NULL)
		fp = in->who->fp;
	h = diag_hash(h, host, hostlen + 1);
	h = diag_hash(h, fp, strlen(fp) + 1);
	/* Retries repeat the headers too: a changed Content-Type is the
	 * user fixing the config, not Argo CD trying again. */
	if (in->content_type != NULL)
		h = diag_hash(h, in->content_type,
		    strlen(in->content_type) + 1);
	if (in->user_agent != NULL)
		h = diag_hash(h, in->user_agent, strlen(in->user_agent) + 1);
	h = diag_hash(h, in->method, strlen(in->method) + 1);
	h = diag_hash(h, in->uri, strlen(in->uri) + 1);
	h = diag_hash(h, in->body, in->body_len);

	for (k = 0; k < d->used; k++) {
		s = &d->ring[(d->next + DIAG_RING - 1 - k) % DIAG_RING];
		if (s->hash == h && s->len == in->body_len) {
			if (in->now_ms - s->when <= DIAG_RETRY_WINDOW_MS)
				prev = s;
			break;
		}
	}

	/* Remember this request.  prev is copied first: on a full ring the
	 * slot reused may be prev's own. */
	if (prev != NULL)
		last = *prev;
	s = &d->ring[d->next];
	d->next = (d->next + 1) % DIAG_RING;
	if (d->used < DIAG_RING)
		d->used++;
	memset(s, 0, sizeof *s);
	s->hash = h;
	s->len = in->body_len;
	s->when = in->now_ms;
	s->seq = in->seq;
	s->status = in->status;
	s->attempt = 1;
	if (prev == NULL)
		return;
	prev = &last;
	s->attempt = prev->attempt + 1;
	for (i = prev->nchain > DIAG_CHAIN - 1 ? prev->nchain -
	    (DIAG_CHAIN - 1) : 0; i < prev->nchain; i++)
		s->chain[s->nchain++] = prev->chain[i];
	s->chain[s->nchain++] = prev->seq;

	res->attempt = s->attempt;
	res->nprevious = s->nchain;
	memcpy(res->previous, s->chain, s->nchain * sizeof *s->chain);
	/* "#1, #2, ...": DIAG_CHAIN numbers of at most 20 digits fit. */
	o = 0;
	chain[0] = '\0';
	for (i = 0; i < s->nchain; i++) {
		if (i > 0) {
			chain[o++] = ',';
			chain[o++] = ' ';
		}
		chain[o++] = '#';
		o += diag_lld(chain + o, (long long)s->chain[i]);
	}
	ms = in->now_ms - prev->when;
	/* The evidence names the credential by its keyed fingerprint: an
	 * accepted token is a configured one.  fp is already that: auth_check
	 * fingerprinted this request's Authorization token (the one hash per
	 * request, issue 11), and it is empty when there was none. */
	snprintf(gap, sizeof gap, "%lld.%01lld s", (long long)(ms / 1000),
	    (long long)(ms % 1000 / 100));

	diag_lld(attempt, s->attempt);
	diag_lld(pseq, (long long)prev->seq);
	diag_lld(pstatus, prev->status);
	if (diag_retriable(prev->status))
		DIAG_SAY(res, DT_RETRY, diag_fmt("same origin (%s, token %s), "
		    "method, URL and %zu-byte body as delivery %s, %s after the "
		    "last", host, *fp ? fp : "none", in->body_len, chain, gap),
		    attempt, pseq, gap, prev->status ?
		    DIAG_PART(DT_P_ANSWERED) : DIAG_PART(DT_P_NO_ANSWER),
		    pstatus, s->attempt > DIAG_ARGOCD_ATTEMPTS ?
		    DIAG_PART(DT_P_OVER_MAX) : "");
	else if (prev->status >= 200 && prev->status < 300)
		/* A repeat of a refused request changes nothing; a repeat of
		 * an accepted one is a second notification. */
		DIAG_SAY(res, DT_DUPLICATE, diag_fmt("same origin (%s, token "
		    "%s), method, URL and %zu-byte body as delivery %s", host,
		    *fp ? fp : "none", in->body_len, chain), gap, pseq,
		    pstatus, pstatus);
}
