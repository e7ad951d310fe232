/*
 * log.c: timestamped lines on stderr, as text or JSON, and libevent's own
 * messages through the same path.  Nothing here allocates, so it is safe to
 * call from fatal paths.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "codec.h"
#include "log.h"

static int	log_verbosity;		/* 0 info, <0 quieter, 1 debug, 2 trace */
static int	log_json;

static const char *log_names[] = { "error", "warn", "info", "debug", "trace" };

static void	log_vwrite(enum log_level, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	log_vwrite_fields(enum log_level, const char *,
		    const struct log_field *, size_t, const char *, va_list)
		    __attribute__((format(printf, 5, 0)));

/* libevent's warnings and errors come here (event_set_log_callback). */
static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_init(int verbosity, int json)
{
	log_verbosity = verbosity;
	log_json = json;
	event_set_log_callback(log_libevent);
}

int
log_enabled(enum log_level lvl)
{
	return ((int)lvl <= (int)LOG_LVL_INFO + log_verbosity);
}

/* Append s to the line as a JSON string body (no quotes).  Valid UTF-8
 * stays; a byte that is not is written as U+FFFD, so that every line is
 * JSON a parser takes. */
static size_t
log_json_escape(char *out, size_t outlen, const char *s)
{
	size_t		 o = 0, n, len = strlen(s);
	uint32_t	 cp;
	unsigned char	 c;

	while (*s != '\0' && o + 7 < outlen) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
		else if (c < 0x80)
			out[o++] = (char)c;
		else if ((n = codec_utf8_decode((const unsigned char *)s, len,
		    &cp)) > 0) {
			if (o + n + 1 >= outlen)
				break;
			memcpy(out + o, s, n);
			o += n;
			s += n;
			len -= n;
			continue;
		} else
			o += (size_t)snprintf(out + o, outlen - o, "\\ufffd");
		s++;
		len--;
	}
	out[o] = '\0';
	return (o);
}

/* The fields of a JSON line after "msg", as ",\"key\":value" pairs. */
static size_t
log_json_fields(char *out, size_t outlen, const struct log_field *f,
    size_t nf)
{
	const char	*p, *end;
	size_t		 o = 0, i;
	int		 first;

	for (i = 0; i < nf && o + 64 < outlen; i++) {
		o += (size_t)snprintf(out + o, outlen - o, ",\"%s\":", f[i].key);
		switch (f[i].type) {
		case LOG_F_STR:
			if (f[i].s == NULL) {
				o += (size_t)snprintf(out + o, outlen - o, "null");
				break;
			}
			out[o++] = '"';
			o += log_json_escape(out + o, outlen - o - 32, f[i].s);
			out[o++] = '"';
			break;
		case LOG_F_NUM:
			o += (size_t)snprintf(out + o, outlen - o, "%.15g",
			    f[i].n);
			break;
		case LOG_F_LIST:	/* "a,b" as ["a","b"] */
			out[o++] = '[';
			first = 1;
			for (p = f[i].s; p != NULL && *p != '\0' &&
			    o + 40 < outlen; p = *end ? end + 1 : end) {
				char item[128];

				end = p + strcspn(p, ",");
				snprintf(item, sizeof item, "%.*s",
				    (int)(end - p), p);
				o += (size_t)snprintf(out + o, outlen - o,
				    "%s\"", first ? "" : ",");
				o += log_json_escape(out + o, outlen - o - 32,
				    item);
				out[o++] = '"';
				first = 0;
			}
			out[o++] = ']';
			break;
		case LOG_F_BOOL:
			o += (size_t)snprintf(out + o, outlen - o, "%s",
			    f[i].n != 0 ? "true" : "false");
			break;
		}
		out[o] = '\0';
	}
	return (o);
}

static void
log_vwrite(enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
	log_vwrite_fields(lvl, suffix, NULL, 0, fmt, ap);
}

static void
log_vwrite_fields(enum log_level lvl, const char *suffix,
    const struct log_field *f, size_t nf, const char *fmt, va_list ap)
{
	char		 msg[8192], line[16384], ts[64];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 n;

	if (!log_enabled(lvl))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (suffix != NULL) {
		n = strlen(msg);
		snprintf(msg + n, sizeof msg - n, ": %s", suffix);
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	if (log_json) {
		n = (size_t)snprintf(line, sizeof line,
		    "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
		    log_names[lvl]);
		n += log_json_escape(line + n, sizeof line - n - 3, msg);
		n += (size_t)snprintf(line + n, sizeof line - n, "\"");
		if (nf > 0)
			n += log_json_fields(line + n, sizeof line - n - 3, f,
			    nf);
		snprintf(line + n, sizeof line - n, "}\n");
	} else
		snprintf(line, sizeof line, "%s %-5s %s\n", ts, log_names[lvl],
		    msg);
	fputs(line, stderr);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_info_fields(const struct log_field *f, size_t nf, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite_fields(LOG_LVL_INFO, NULL, f, nf, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_escape(char *buf, size_t buflen, const char *s, size_t len)
{
	size_t		 i, o = 0;
	unsigned char	 c;

	if (buflen == 0)
		return (buf);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 + 4 >= buflen)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 + 4 >= buflen)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			codec_hex_encode(&c, 1, buf + o);
			o += 2;
		}
	}
	if (i < len && buflen >= 4) {
		while (o + 4 > buflen)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return (buf);
}

int
log_term_unsafe(unsigned int cp)
{
	return (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
	    cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069));
}

char *
log_escape_term(char *buf, size_t buflen, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, o = 0, n, tl;
	uint32_t		 cp;
	char			 tmp[16];

	if (buflen == 0)
		return (buf);
	while (i < len) {
		if ((n = codec_utf8_decode(p + i, len - i, &cp)) == 0) {
			snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
			n = 1;
		} else if (log_term_unsafe(cp))
			snprintf(tmp, sizeof tmp, cp < 0x80 ? "\\x%02x" :
			    "\\u{%04x}", cp);
		else {
			memcpy(tmp, p + i, n);
			tmp[n] = '\0';
		}
		tl = strlen(tmp);
		/* Keep room for "..." and the NUL. */
		if (o + tl + 4 > buflen)
			break;
		memcpy(buf + o, tmp, tl);
		o += tl;
		i += n;
	}
	if (i < len && o + 4 <= buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return (buf);
}
