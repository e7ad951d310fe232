/*
 * diag.h: diagnoses of one delivery.  Real Backstage answers a misconfigured
 * Argo CD with a terse 400 or 401; notimock sees the raw request, so it says
 * what is wrong and which configuration change fixes it.  The rules come
 * from ../shared/spec/argocd-webhook.md section 10; the codes are listed in
 * README.md, "Troubleshooting Argo CD with notimock".
 *
 * Diagnosis is pure logic over a struct diag_input, and never changes the
 * answer: it runs once the answer is decided.  Only the retry detector has
 * state, a small ring in struct diag (one per server).  A clean, accepted
 * POST allocates nothing here and costs a few passes over its body.
 */
#ifndef NOTIMOCK_DIAG_H
#define NOTIMOCK_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth.h"

struct json;
struct diag;

enum diag_level { DIAG_ERROR = 0, DIAG_WARNING, DIAG_INFO };

/* Everything diagnosis looks at.  All borrowed; NULL means absent. */
struct diag_input {
	const char		*method;	/* "POST" */
	const char		*uri;		/* as sent: path and query */
	const char		*path;		/* decoded path, no query */
	const char		*content_type;	/* the raw header */
	/* The raw Authorization header: looked at, never copied into a
	 * diagnosis, stored or logged (fingerprints only). */
	const char		*authorization;
	const char		*user_agent;
	int			 auth_checked;	/* the barrier ran */
	enum auth_result	 auth;
	const struct principal	*who;
	const char		*token_fps;	/* configured, ", "-joined */
	const unsigned char	*body;
	size_t			 body_len;
	const struct json	*json;		/* the parsed body */
	const char		*json_error;	/* the parser's message */
	long			 json_errpos;	/* its byte offset, -1: none */
	int			 status;	/* the answer */
	const char		*response;
	size_t			 response_len;
	const struct json	*users;		/* array of users reached */
	const struct json	*entities;	/* array of refs addressed */
	const char		*remote;	/* "addr:port" */
	const char		*base_url;	/* app.baseUrl with a '/' */
	int64_t			 now_ms;
	int64_t			 seq;		/* this delivery; 0 offline */
	/* notimock lint: a body alone, with no request and no answer. */
	int			 offline;
};

#define DIAG_MAX	16	/* diagnoses kept per delivery */
#define DIAG_CHAIN	8	/* earlier attempts remembered per retry */

#define DIAG_ARGS	16	/* arguments of one diagnosis's text */

/*
 * One row of the table of diagnosis texts (diag_codes.c): the prose of
 * every diagnosis is data there, and a stored diagnosis needs only the
 * row's key, its arguments and its evidence to be told again, word for
 * word (diag_json_compact, diag_expand).
 *
 * In message and fix, "%s" takes the next argument, in order through the
 * message then the fix, and "%%" is a '%'.  An argument may be a part: a
 * row with no code, whose message is spliced in there and takes the
 * arguments that follow (a sentence that is said only sometimes).
 */
struct diag_text {
	const char		*key;		/* stable: stored; "code.variant" */
	const char		*code;		/* README's code; NULL: a part */
	enum diag_level		 level;
	const char		*message;
	const char		*fix;
};

extern const struct diag_text	diag_texts[];
extern const size_t		diag_ntexts;
/* The row with this key, or NULL. */
const struct diag_text	*diag_text_find(const char *key);

struct diagnosis {
	const char		*code;		/* static, kebab-case, stable */
	enum diag_level		 level;
	char			*message;
	char			*evidence;
	char			*fix;
	/* What the table does not hold: the row, and the arguments its
	 * message and fix took (NUL-separated; bit i of parts says that
	 * argument i is the key of a part). */
	const struct diag_text	*text;
	char			*args;
	size_t			 argslen;
	size_t			 nargs;
	uint32_t		 parts;
};

struct diag_result {
	struct diagnosis	 v[DIAG_MAX];
	size_t			 n;
	/* For "retry" and "duplicate": the attempt number of this request
	 * and the seqs of the earlier attempts, oldest first. */
	int			 attempt;
	int64_t			 previous[DIAG_CHAIN];
	size_t			 nprevious;
};

/* The retry detector's state (one per server). */
struct diag	*diag_new(void);
void		 diag_free(struct diag *);
/* The answer to delivery seq never reached its client (it left while a
 * fault held the answer): a repeat of it is then a retry, as after no
 * answer at all, not a second send. */
void		 diag_unanswered(struct diag *, int64_t seq);

/* Diagnose one request into res (release with diag_clear).  d may be NULL:
 * no retry detection.  Records the request in d's ring.  Returns the number
 * of diagnoses. */
size_t		 diag_run(struct diag *d, const struct diag_input *in,
		    struct diag_result *res);
void		 diag_clear(struct diag_result *);
/* Number of error-level diagnoses. */
size_t		 diag_errors(const struct diag_result *);
const char	*diag_level_name(enum diag_level);

/* The diagnoses as a JSON array of {code, level, message, evidence, fix}
 * (plus attempt and previous for retries), or NULL when there are none.
 * Caller frees. */
char		*diag_json(const struct diag_result *, size_t *lenp);
/*
 * The same array for storage: each diagnosis as {code, level, t, a,
 * evidence} (plus attempt and previous), where t is its text's key and a
 * its arguments (a part as {"p": key}); message and fix are left to the
 * table.  code and level stay, so that filters on the stored text work on
 * both forms.  NULL when there are none.  Caller frees.
 */
char		*diag_json_compact(const struct diag_result *, size_t *lenp);
/*
 * A stored array as users see it: diag_json()'s bytes, with each compact
 * diagnosis's message and fix told again from the table.  An array with
 * no compact member (rows stored before, text of any other shape) comes
 * back as it is.  Never NULL (a copy).  Caller frees.
 */
char		*diag_expand(const char *stored, size_t len, size_t *lenp);
/* The codes, ","-joined ("missing-content-type,no-value"), or NULL when
 * there are none: for the access log line.  Caller frees. */
char		*diag_codes(const struct diag_result *);
/* Print a diagnoses JSON array (as stored in deliveries.diagnoses) for a
 * human on a terminal, escaped with log_escape_term, each line prefixed by
 * indent.  Returns the number printed, or -1 if the text is not such an
 * array. */
int		 diag_print_text(FILE *, const char *json, size_t len,
		    const char *indent);

#endif
