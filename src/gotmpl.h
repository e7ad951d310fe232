/*
 * gotmpl.h: enough of Go's text/template and of the sprig functions to
 * render Argo CD notification templates the way the notifications
 * controller does (../shared/spec/argocd-webhook.md, section 7), for
 * `notimock lint`.
 *
 * Covered: text and {{ }} actions with {{- -}} trimming and comments;
 * pipelines; .field chains, $ and $variables (:= and =); string, raw
 * string, number, true/false/nil literals and (parenthesised) pipelines;
 * if / else if / else, range (with $i, $v :=, and else), with; the
 * builtins and, or, not, eq, ne, lt, le, gt, ge, len, index, print,
 * printf, println; and the sprig functions toJson, toRawJson,
 * toPrettyJson, quote, squote, default, empty, coalesce, toString, upper,
 * lower, title, trim, trimPrefix, trimSuffix, replace, contains, hasPrefix,
 * hasSuffix, trunc, ternary, b64enc.  Values print as Go prints them
 * (<no value>, map[k:v], int64, byte lists); toJson writes what
 * encoding/json writes (sorted keys, \u003c for <).  Anything else, such
 * as `call .repo.RepoURLToHTTPS` or `template`, is reported as unsupported
 * rather than guessed.
 *
 * The data is a JSON tree (json.h): the Application, context, secrets.
 * Values below the member named by bytes_key ("secrets") are Go byte
 * slices, as argocd-notifications-secret's data are in templates.
 */
#ifndef NOTIMOCK_GOTMPL_H
#define NOTIMOCK_GOTMPL_H

#include <stddef.h>

struct json;
struct gotmpl;

enum gotmpl_status {
	GOTMPL_OK = 0,
	GOTMPL_PARSE,		/* Go refuses the template: nothing is sent */
	GOTMPL_EXEC,		/* Go fails while rendering: nothing is sent */
	GOTMPL_UNSUPPORTED	/* outside our subset: no verdict */
};

struct gotmpl_error {
	enum gotmpl_status	 status;
	size_t			 line;		/* 1-based, in the template */
	char			 msg[256];	/* Go's words where we know them */
};

struct gotmpl_opts {
	const char	*bytes_key;	/* top-level member of []byte values */
	/*
	 * Poisoning, to prove that a template breaks on some input: every
	 * field whose name is poison_field (e.g. "message") renders as
	 * poison_value, whatever the data says.  The line of the first
	 * action that printed a poisoned value goes to poison_line.
	 */
	const char	*poison_field;
	const char	*poison_value;
};

/* Parse text (len bytes).  Returns GOTMPL_OK and *out (gotmpl_free), or
 * another status with err filled in. */
enum gotmpl_status	 gotmpl_parse(const char *text, size_t len,
			    struct gotmpl **out, struct gotmpl_error *err);
void			 gotmpl_free(struct gotmpl *);
/* Render with data as dot.  Returns GOTMPL_OK with *out (NUL-terminated,
 * caller frees; *outlen its length), or another status with err.
 * opts may be NULL.  *poison_line (if not NULL) gets 0 or the line of the
 * first poisoned action. */
enum gotmpl_status	 gotmpl_render(const struct gotmpl *,
			    const struct json *data,
			    const struct gotmpl_opts *opts, char **out,
			    size_t *outlen, struct gotmpl_error *err,
			    size_t *poison_line);
/* 1 if the template refers to the field chain path (".context.argocdUrl")
 * anywhere, also through $. */
int			 gotmpl_uses(const struct gotmpl *, const char *path);

#endif
