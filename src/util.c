/* util.c: time, ids, numbers and durations. */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
util_days(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static int
util_digits(const char **sp, int n, int *out)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*sp)[i]))
			return (-1);
		v = v * 10 + ((*sp)[i] - '0');
	}
	*sp += n;
	*out = v;
	return (0);
}

int
util_parse_date(const char *s, int64_t *ms)
{
	int	y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fd = 0;
	int	zh = 0, zm = 0, sign = 0, local = 0;

	if (util_digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    util_digits(&s, 2, &mo) == -1 || *s++ != '-' ||
	    util_digits(&s, 2, &d) == -1)
		return (-1);
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		local = 1;
		if (util_digits(&s, 2, &h) == -1 || *s++ != ':' ||
		    util_digits(&s, 2, &mi) == -1)
			return (-1);
		if (*s == ':') {
			s++;
			if (util_digits(&s, 2, &sec) == -1)
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
				while (fd < 3) {
					frac *= 10;
					fd++;
				}
			}
		}
		if (h > 24 || mi > 59 || sec > 59)
			return (-1);
		if (*s == 'Z' || *s == 'z') {
			s++;
			local = 0;
		} else if (*s == '+' || *s == '-') {
			sign = *s++ == '+' ? 1 : -1;
			if (util_digits(&s, 2, &zh) == -1)
				return (-1);
			if (*s == ':')
				s++;
			if (util_digits(&s, 2, &zm) == -1)
				return (-1);
			local = 0;
		}
	}
	if (*s != '\0')
		return (-1);
	/* A date-time without a zone is local time for Date.parse; notimock
	 * runs in UTC containers, so treat it as UTC. */
	(void)local;
	*ms = ((util_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000)
	    + frac;
	if (sign != 0)
		*ms -= (int64_t)sign * (zh * 60 + zm) * 60000;
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
	unsigned char		*b;

	/* Draw 16 bytes at a time from a pool refilled by one syscall. */
	if (used + 16 > sizeof pool) {
		util_random(pool, sizeof pool);
		used = 0;
	}
	b = pool + used;
	used += 16;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, UTIL_UUID_LEN,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
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
	if (errno != 0 || v < 0 || v > 86400.0 * 365)
		return (-1);
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else if (strcmp(end, "h") == 0)
		v *= 3600000;
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
