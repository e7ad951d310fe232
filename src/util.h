/*
 * util.h: time, ids, numbers and durations: small helpers with no library
 * behind them; and the one copy of a libevent buffer into a C string.
 */
#ifndef NOTIMOCK_UTIL_H
#define NOTIMOCK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_ISO_LEN	25	/* "2026-11-29T12:38:32.797Z" + NUL */
#define UTIL_UUID_LEN	37

/* Wall-clock milliseconds since the epoch. */
int64_t		 util_now_ms(void);
/* Monotonic microseconds, for durations. */
int64_t		 util_mono_us(void);
/* ISO-8601 UTC with milliseconds and 'Z', as JavaScript's toISOString(). */
char		*util_iso_ms(int64_t ms, char buf[UTIL_ISO_LEN]);
/* Date.parse() as far as clients use it (the ISO forms, toUTCString()'s
 * and V8's common legacy forms) into epoch ms; a time without a zone is
 * UTC.  Returns -1 where Date.parse gives NaN. */
int		 util_parse_date(const char *, int64_t *ms);
/* Write all of buf to fd, again after EINTR.  Returns -1 (errno set). */
int		 util_write_all(int fd, const void *buf, size_t len);
/* A random UUID v4, lower-case. */
char		*util_uuid4(char buf[UTIL_UUID_LEN]);
/* Fill buf with random bytes from the kernel. */
void		 util_random(void *buf, size_t len);
/* strtonum: parse a decimal integer in [min, max]; on error returns 0 and
 * sets *errstr to "invalid", "too small" or "too large". */
long long	 util_strtonum(const char *, long long min, long long max,
		    const char **errstr);
/* A duration such as "30s", "500ms", "2m", "1h" or a bare number of
 * seconds, into milliseconds.  Returns -1 on junk. */
int		 util_parse_duration(const char *, int64_t *ms);
/* The bytes of evb as a new NUL-terminated string (caller frees), their
 * count in *lenp if not NULL.  evb keeps them. */
struct evbuffer;
char		*util_evbuffer_str(struct evbuffer *evb, size_t *lenp);
/* Case-insensitive ASCII comparisons. */
int		 util_strcaseeq(const char *, const char *);
int		 util_strncaseeq(const char *, const char *, size_t);

/*
 * A list of strings the list owns (char **v, size_t n), as callers keep
 * them: strv_add appends a copy, strv_addu only if absent (a JavaScript
 * Set's add, linear: for short lists), strv_free frees the strings and v.
 */
void		 strv_add(char ***v, size_t *n, const char *s);
void		 strv_addu(char ***v, size_t *n, const char *s);
int		 strv_has(char *const *v, size_t n, const char *s);
void		 strv_free(char **v, size_t n);

/*
 * A set of strings (open addressing, FNV-1a), for de-duplicating client-
 * sized lists in linear time.  It borrows the strings: they must outlive
 * the set.
 */
struct strset;

struct strset	*strset_new(void);
void		 strset_free(struct strset *);
/* Add s; returns 1 if it was new, 0 if it was there already. */
int		 strset_add(struct strset *, const char *s);
int		 strset_has(const struct strset *, const char *s);

#endif
