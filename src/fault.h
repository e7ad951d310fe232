/*
 * fault.h: fault injection (README.md, "Testing failures").
 *
 * Rules come from --fault SPEC at start and from /mock/faults at run time.
 * The notifications plugin asks fault_check() once per request, before its
 * credential barrier: a rule that matches decides how the request is
 * answered (a status in Backstage's error shape, a delay, no answer, a TCP
 * reset) and the request is still stored as a delivery, with the rule's id.
 * With no rules the check costs one test.
 */
#ifndef NOTIMOCK_FAULT_H
#define NOTIMOCK_FAULT_H

#include <stddef.h>
#include <stdint.h>

struct faults;
struct req;

#define FAULT_ID_LEN	24

/* What the plugin knows of a request when it asks; all borrowed. */
struct fault_in {
	const char		*method;
	const char		*path;		/* decoded, no query */
	const char		*origin;	/* token subject, NULL if none */
	const unsigned char	*body;
	size_t			 body_len;
};

/* What a rule that fired does to the request. */
struct fault_hit {
	char		 id[FAULT_ID_LEN];	/* "f1" */
	int		 status;		/* 0: pass through */
	int		 retry_after;		/* seconds, -1: no header */
	int64_t		 delay_ms;		/* hold the answer this long */
	int		 drop;			/* close without an answer */
	int		 reset;			/* close with a TCP RST */
};

struct faults	*fault_new(void);
void		 fault_free(struct faults *);
/* Add a rule from a spec ("status=503,503;times=2;entity=component:x/y").
 * Returns -1 and *cause (caller frees) if the spec is not valid. */
int		 fault_add_spec(struct faults *, const char *spec, char **cause);
/* Try the rules in order; 1 and *hit filled if one fired (counted), 0 if
 * the request passes through. */
int		 fault_check(struct faults *, const struct fault_in *,
		    struct fault_hit *hit);
/* Backstage's error name for a status (ServiceUnavailableError, ...). */
const char	*fault_error_name(int status);
/* The JSON object stored with a faulted delivery (caller frees). */
char		*fault_hit_json(const struct fault_hit *);
/* That JSON once the client left during the delay, after_ms into the
 * request: "answered": false (caller frees). */
char		*fault_note_gone(const char *fault, int64_t after_ms);
/* Rules that can still fire (for /metrics). */
size_t		 fault_active_count(const struct faults *);
/* Rules that fired, in total, since start (for /metrics). */
uint64_t	 fault_fired_total(const struct faults *);

/* /mock/faults and /mock/faults/{id} (behind the admin token). */
void		 fault_route(struct req *, void *);

#endif
