/*
 * json.h: the one module that owns cJSON.
 *
 * Everything else sees `struct json *` (an opaque cJSON node) and these
 * calls.  Parsing follows JavaScript's JSON.parse as Backstage runs it
 * (Node 20, body-parser strict mode): the error text is V8's, positions are
 * UTF-16 code units, invalid UTF-8 becomes U+FFFD, a duplicated key keeps the
 * position of its first occurrence and the value of its last.  Printing
 * follows JSON.stringify: compact, no escaping of '/' or non-ASCII, numbers
 * in JavaScript's shortest round-trip form.
 *
 * Strings are UTF-8, except that U+0000 is held as the bytes C0 80 and an
 * unpaired surrogate (JSON allows "\ud800") as ED A0..BF xx, so that no
 * JavaScript string is lost; json_print writes both back as \u escapes.
 * Objects behave like JavaScript objects: one member per key, and keys
 * that are array indices ("0", "42") come first in numeric order.
 */
#ifndef NOTIMOCK_JSON_H
#define NOTIMOCK_JSON_H

#include <stddef.h>

struct json;

/* Deepest nesting of arrays and objects json_parse accepts (V8 has no
 * such limit; ours keeps recursion in the rest of the code bounded). */
#define JSON_MAX_DEPTH	1000
/* Room for any json_parse message. */
#define JSON_ERRLEN	256

enum json_type {
	JSON_INVALID = 0,
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

/* Parse len bytes.  strict: do what express.json() does to a request body
 * (body-parser 1.20, strict mode): drop a leading UTF-8 BOM, answer {} for
 * an empty body, and refuse a top level that is not an object or array
 * with body-parser's imitation of V8's message.  A body of only whitespace
 * is NOT empty there: it gets "Unexpected end of JSON input".  Not strict:
 * plain JSON.parse of the UTF-8 text.  On failure returns NULL and writes
 * V8's message (without any prefix) to err (JSON_ERRLEN bytes suffice); a
 * nesting deeper than JSON_MAX_DEPTH fails with "Maximum JSON nesting depth
 * exceeded at position N".  If errpos is not NULL it receives the byte
 * offset of the failure (for diagnostics; -1 when V8 names no position).
 * Returns a tree owned by the caller (json_free). */
struct json	*json_parse(const char *buf, size_t len, int strict, char *err,
		    size_t errlen, long *errpos);
void		 json_free(struct json *);

enum json_type	 json_type(const struct json *);
/* Object member by exact key, or NULL (also NULL when obj is not an object). */
struct json	*json_get(const struct json *obj, const char *key);
/* String value, or NULL if v is not a string.  Borrowed from v. */
const char	*json_string(const struct json *v);
/* Number value, or 0 if v is not a number. */
double		 json_number(const struct json *v);
/* Number of array elements or object members; 0 for scalars. */
size_t		 json_size(const struct json *v);
/* Iteration over arrays and objects: first child, next sibling, NULL at end. */
struct json	*json_first(const struct json *v);
struct json	*json_next(const struct json *child);
/* Key of an object member (a child reached through json_first/next). */
const char	*json_key(const struct json *member);

/* Builders.  Each returns a new value owned by the caller until it is added
 * to a container, which then owns it. */
struct json	*json_new_object(void);
struct json	*json_new_array(void);
struct json	*json_new_string(const char *);	/* NULL gives null */
struct json	*json_new_number(double);
struct json	*json_new_bool(int);
struct json	*json_new_null(void);
struct json	*json_dup(const struct json *);	/* deep copy */
/* Set an object member (key copied) as JavaScript's obj[key] = v does: a
 * new key is appended (an array-index key goes among the index keys), an
 * existing key keeps its place and gets v.  Or append to an array.  Both
 * take ownership of v, and free it if the container is of the wrong type. */
void		 json_add(struct json *obj, const char *key, struct json *v);
void		 json_append(struct json *arr, struct json *v);
/* Convenience: add a string (copied; NULL adds null). */
void		 json_add_str(struct json *obj, const char *key, const char *s);
void		 json_add_num(struct json *obj, const char *key, double n);
void		 json_add_bool(struct json *obj, const char *key, int b);
/* Remove and free an object member; no-op if absent. */
void		 json_del(struct json *obj, const char *key);

/* Compact JSON.stringify form.  Returns a NUL-terminated string the caller
 * frees; *lenp (if not NULL) gets its length. */
char		*json_print(const struct json *, size_t *lenp);

/*
 * The JSON writer, for code that writes JSON by hand on a hot path rather
 * than through a tree (stored headers, diagnoses); json_print writes
 * through it too.  A growing string, NUL-terminated after every call:
 * start from JSON_BUF_INIT and take the text with json_buf_take.
 */
struct json_buf {
	char		*p;
	size_t		 len;
	size_t		 cap;
};
#define JSON_BUF_INIT	{ NULL, 0, 0 }

/* Append n bytes as they are (punctuation, keys known to need no escape). */
void		 json_buf_raw(struct json_buf *, const void *p, size_t n);
/* Append s as a quoted JSON string literal, escaped like JSON.stringify. */
void		 json_buf_str(struct json_buf *, const char *s, size_t len);
/* Append n as json_print() writes a number (JavaScript's toString). */
void		 json_buf_num(struct json_buf *, double n);
/* Append len raw bytes (not a json.h string: any bytes at all) as a
 * quoted string: strict UTF-8 as it is, each other byte as U+FFFD, NUL as
 * \u0000.  Returns 1 if no byte was replaced. */
int		 json_buf_bytes(struct json_buf *, const void *, size_t len);
/* 1 if text is exactly what json_print() writes for the value it parses
 * to, so that it may be appended as it is (json_buf_raw) where that value
 * is printed; 0 if it is not, or if telling would cost a parse (then
 * parse and print it). */
int		 json_printed(const char *text, size_t len);
/* The text (caller frees; "" if nothing was written) and its length in
 * *lenp (if not NULL); the buffer is empty again. */
char		*json_buf_take(struct json_buf *, size_t *lenp);

/* Library version for the start-up log line. */
const char	*json_version(void);

#endif
