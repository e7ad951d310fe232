/*
 * diag_print.c: stored diagnoses printed for a person on a terminal
 * (notimock lint, list, wait), escaped with log_escape_term.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Print stored text for a terminal: each line through log_escape_term
 * (diagnoses quote payloads, and Backstage's own messages, such as an
 * invalid entity ref's, carry them raw), with indent before every line
 * after the first.
 */
static void
diag_print_lines(FILE *f, const char *s, const char *indent)
{
	const char	*nl;
	char		*buf;
	size_t		 size = LOG_TERM_SIZE(strlen(s));

	buf = xmalloc(size);
	while ((nl = strchr(s, '\n')) != NULL) {
		fprintf(f, "%s\n%s", log_escape_term(buf, size, s,
		    (size_t)(nl - s)), indent);
		s = nl + 1;
	}
	fprintf(f, "%s\n", log_escape_term(buf, size, s, strlen(s)));
	free(buf);
}

int
diag_print_text(FILE *f, const char *text, size_t len, const char *indent)
{
	struct json	*arr, *e;
	char		 err[JSON_ERRLEN], *more, word[128];
	const char	*s;
	int		 n = 0;

	if ((arr = json_parse(text, len, 0, err, sizeof err, NULL)) == NULL)
		return (-1);
	if (json_type(arr) != JSON_ARRAY) {
		json_free(arr);
		return (-1);
	}
	xasprintf(&more, "%s        ", indent);
	for (e = json_first(arr); e != NULL; e = json_next(e)) {
		s = json_string(json_get(e, "level"));
		s = s != NULL ? s : "?";
		fprintf(f, "%s%-7s ", indent, log_escape_term(word,
		    sizeof word, s, strlen(s)));
		s = json_string(json_get(e, "code"));
		s = s != NULL ? s : "?";
		fprintf(f, "%s: ", log_escape_term(word, sizeof word, s,
		    strlen(s)));
		s = json_string(json_get(e, "message"));
		diag_print_lines(f, s ? s : "", more);
		if ((s = json_string(json_get(e, "evidence"))) != NULL) {
			fprintf(f, "%s  evidence: ", more);
			diag_print_lines(f, s, more);
		}
		if ((s = json_string(json_get(e, "fix"))) != NULL) {
			fprintf(f, "%s  fix: ", more);
			diag_print_lines(f, s, more);
		}
		n++;
	}
	free(more);
	json_free(arr);
	return (n);
}

