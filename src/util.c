/* util.c: time, ids, numbers and durations. */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"

int64_t
util_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
util_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

char *
util_iso_ms(int64_t ms, char buf[UTIL_ISO_LEN])
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;
	char		tmp[96];

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	memcpy(buf, tmp, UTIL_ISO_LEN - 1);
	buf[UTIL_ISO_LEN - 1] = '\0';
	return (buf);
}

/* Days from 1970-01-01 to y-m-1, proleptic Gregorian. */
static int64_t
util_days(int64_t y, int m)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static int
util_digits(const char **sp, int min, int max, int *v)
{
	const char	*s = *sp;
	int		 n = 0;

	*v = 0;
	while (isdigit((unsigned char)*s) && n < max) {
		*v = *v * 10 + (*s++ - '0');
		n++;
	}
	if (n < min)
		return (-1);
	*sp = s;
	return (0);
}

/* A time "HH:MM[:SS[.fff]]" and a zone ("Z", "GMT", "UTC", "+HH:MM",
 * "+HHMM", "GMT+HHMM"), as both of V8's parsers take them.  Adds the time
 * to *ms.  Returns -1 on junk. */
static int
util_date_time(const char **sp, int64_t *ms, int iso)
{
	const char	*s = *sp;
	int		 h, mi, sec = 0, frac = 0, fd = 0, zh, zm = 0, sign;

	if (util_digits(&s, iso ? 2 : 1, 2, &h) == -1 || *s++ != ':' ||
	    util_digits(&s, 2, 2, &mi) == -1)
		return (-1);
	if (*s == ':') {
		s++;
		if (util_digits(&s, 2, 2, &sec) == -1)
			return (-1);
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				if (fd < 3) {
					frac = frac * 10 + (*s - '0');
					fd++;
				}
				s++;
			}
			if (fd == 0)
				return (-1);
			while (fd++ < 3)
				frac *= 10;
		}
	}
	if (h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi || sec || frac)))
		return (-1);
	*ms += ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
	while (!iso && *s == ' ')
		s++;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (!iso && (strncmp(s, "GMT", 3) == 0 ||
	    strncmp(s, "UTC", 3) == 0))
		s += 3;
	if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (util_digits(&s, 2, 2, &zh) == -1)
			return (-1);
		if (*s == ':')
			s++;
		if (util_digits(&s, 2, 2, &zm) == -1)
			return (-1);
		*ms -= (int64_t)sign * (zh * 60 + zm) * 60000;
	}
	*sp = s;
	return (0);
}

static const char *util_months[] = { "jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

/* The month the word of letters at *p names by its first three letters
 * ("Nov", "november", any case): 1 to 12, or 0.  *p moves past the word. */
static int
util_month(const char **p)
{
	const char	*w = *p;
	int		 i;

	while (isalpha((unsigned char)**p))
		(*p)++;
	for (i = 0; i < 12; i++)
		if (*p - w >= 3 && strncasecmp(w, util_months[i], 3) == 0)
			return (i + 1);
	return (0);
}

/* Date.parse's ISO forms: [+-YY]YYYY[-MM[-DD]][THH:MM...].  0, -1 for
 * NaN, or 1 where s is not one of them (V8 then tries its legacy parser). */
static int
util_parse_iso(const char *s, int64_t *ms)
{
	const char	*p = s;
	int		 y = 0, mo = 1, d = 1, sign;

	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (util_digits(&p, 6, 6, &y) == -1)
			return (1);
		y *= sign;
	} else if (util_digits(&p, 4, 4, &y) == -1 || isdigit((unsigned char)*p))
		return (1);
	if (*p == '-') {
		p++;
		if (util_digits(&p, 2, 2, &mo) == -1)
			return (1);
		if (*p == '-') {
			p++;
			if (util_digits(&p, 2, 2, &d) == -1)
				return (1);
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	*ms = (util_days(y, mo) + d - 1) * 86400000LL;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)
	    p[1]))) {
		p++;
		if (util_date_time(&p, ms, 1) == -1)
			return (-1);
	}
	/* Not ISO after all ("2026/11/29") if anything follows. */
	return (*p == '\0' ? 0 : 1);
}

/* V8's legacy forms (see util_parse_date); 0, or -1 for NaN. */
static int
util_parse_legacy(const char *s, int64_t *ms)
{
	const char	*p = s;
	int		 y, mo, d, a, b, c, mon = 0;
	char		 sep;

	while (*p == ' ')
		p++;
	/* An optional weekday ("Sun," "Sunday"), or the month first. */
	if (isalpha((unsigned char)*p)) {
		if ((mon = util_month(&p)) == 0) {	/* a weekday */
			if (*p == ',')
				p++;
			while (*p == ' ')
				p++;
			if (isalpha((unsigned char)*p) &&
			    (mon = util_month(&p)) == 0)
				return (-1);
		}
		while (*p == ' ' || *p == ',')
			p++;
	}
	if (util_digits(&p, 1, 4, &a) == -1)
		return (-1);
	if (mon != 0) {
		/* "Nov 29 2026" / "Nov 29, 2026" */
		while (*p == ' ' || *p == ',')
			p++;
		if (util_digits(&p, 4, 4, &y) == -1)
			return (-1);
		mo = mon;
		d = a;
	} else if (*p == '/' || *p == '-') {
		sep = *p++;
		if (util_digits(&p, 1, 2, &b) == -1 || *p++ != sep ||
		    util_digits(&p, 1, 4, &c) == -1)
			return (-1);
		if (a > 31) {			/* 2026/11/29 */
			y = a;
			mo = b;
			d = c;
		} else {			/* 11/29/2026 */
			mo = a;
			d = b;
			y = c;
		}
	} else {
		/* "29 Nov 2026" */
		while (*p == ' ')
			p++;
		if ((mo = util_month(&p)) == 0)
			return (-1);
		while (*p == ' ' || *p == ',')
			p++;
		if (util_digits(&p, 4, 4, &y) == -1)
			return (-1);
		d = a;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	*ms = (util_days(y, mo) + d - 1) * 86400000LL;
	while (*p == ' ' || *p == 'T')
		p++;
	if (isdigit((unsigned char)*p) && util_date_time(&p, ms, 0) == -1)
		return (-1);
	while (*p == ' ')
		p++;
	if (*p == '(' && p[strlen(p) - 1] == ')')
		p += strlen(p);
	return (*p == '\0' ? 0 : -1);
}

/*
 * Date.parse() as far as clients use it: the ISO forms (YYYY, YYYY-MM,
 * YYYY-MM-DD, with a time and zone, ±YYYYYY years), and V8's legacy forms
 * "Nov 29 2026", "29 Nov 2026", "Sun, 29 Nov 2026 13:48:04 GMT" (what
 * toUTCString() gives; toString()'s "(zone name)" is ignored),
 * "2026/11/29" and "11/29/2026".  Times without a zone are taken as UTC
 * (notimock runs in UTC).  Returns -1 where Date.parse gives NaN.
 */
int
util_parse_date(const char *s, int64_t *ms)
{
	int	r;

	if ((r = util_parse_iso(s, ms)) != 1)
		return (r);
	return (util_parse_legacy(s, ms));
}

int
util_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		off += (size_t)n;
	}
	return (0);
}

void
util_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += n;
		len -= (size_t)n;
	}
}

char *
util_uuid4(char buf[UTIL_UUID_LEN])
{
	static unsigned char	 pool[4096];
	static size_t		 used = sizeof pool;
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		*b;
	char			*o;
	size_t			 i;

	/* Draw 16 bytes at a time from a pool refilled by one syscall. */
	if (used + 16 > sizeof pool) {
		util_random(pool, sizeof pool);
		used = 0;
	}
	b = pool + used;
	used += 16;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	/* By hand, not snprintf's 16 %02x: one per POST (issue 11). */
	for (i = 0, o = buf; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = '\0';
	return (buf);
}

long long
util_strtonum(const char *s, long long min, long long max, const char **errstr)
{
	char		*end;
	long long	 v;

	*errstr = NULL;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
		*errstr = "invalid";
		return (0);
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*errstr = "invalid";
		return (0);
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < min) {
		*errstr = "too small";
		return (0);
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > max) {
		*errstr = "too large";
		return (0);
	}
	return (v);
}

int
util_parse_duration(const char *s, int64_t *ms)
{
	char	*end;
	double	 v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || v < 0 || v > 86400.0 * 365 * 10)
		return (-1);
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else if (strcmp(end, "h") == 0)
		v *= 3600000;
	else if (strcmp(end, "d") == 0)
		v *= 86400000;
	else
		return (-1);
	*ms = (int64_t)v;
	return (0);
}

int
util_strcaseeq(const char *a, const char *b)
{
	return (strcasecmp(a, b) == 0);
}

int
util_strncaseeq(const char *a, const char *b, size_t n)
{
	return (strncasecmp(a, b, n) == 0);
}

/* --- lists of owned strings -------------------------------------------- */

int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return (1);
	return (0);
}

void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

void
strv_addu(char ***v, size_t *n, const char *s)
{
	if (!strv_has(*v, *n, s))
		strv_add(v, n, s);
}

void
strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* --- a set of borrowed strings ----------------------------------------- */

struct strset {
	const char	**slot;
	size_t		  cap;		/* a power of two */
	size_t		  n;
};

static uint64_t
strset_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (h);
}

struct strset *
strset_new(void)
{
	struct strset	*set;

	set = xcalloc(1, sizeof *set);
	set->cap = 16;
	set->slot = xcalloc(set->cap, sizeof *set->slot);
	return (set);
}

void
strset_free(struct strset *set)
{
	if (set == NULL)
		return;
	free(set->slot);
	free(set);
}

/* The slot that holds s, or the empty slot where it would go. */
static size_t
strset_find(const struct strset *set, const char *s)
{
	size_t	i = (size_t)strset_hash(s) & (set->cap - 1);

	while (set->slot[i] != NULL && strcmp(set->slot[i], s) != 0)
		i = (i + 1) & (set->cap - 1);
	return (i);
}

int
strset_has(const struct strset *set, const char *s)
{
	return (set->slot[strset_find(set, s)] != NULL);
}

int
strset_add(struct strset *set, const char *s)
{
	const char	**old;
	size_t		  i, oldcap;

	if (set->slot[strset_find(set, s)] != NULL)
		return (0);
	if ((set->n + 1) * 2 > set->cap) {	/* keep it at most half full */
		old = set->slot;
		oldcap = set->cap;
		set->cap *= 2;
		set->slot = xcalloc(set->cap, sizeof *set->slot);
		for (i = 0; i < oldcap; i++)
			if (old[i] != NULL)
				set->slot[strset_find(set, old[i])] = old[i];
		free(old);
	}
	set->slot[strset_find(set, s)] = s;
	set->n++;
	return (1);
}

char *
util_evbuffer_str(struct evbuffer *evb, size_t *lenp)
{
	size_t	 len = evbuffer_get_length(evb);
	char	*s = xmalloc(len + 1);

	(void)evbuffer_copyout(evb, s, len);	/* fails only when frozen */
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (s);
}
