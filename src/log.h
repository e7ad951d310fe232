/*
 * log.h: one small logger.  Lines go to stderr with a timestamp, as text or
 * as one JSON object per line.  Client bytes must pass through log_escape()
 * before they are logged; tokens are never logged (see auth_fingerprint()).
 */
#ifndef NOTIMOCK_LOG_H
#define NOTIMOCK_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

/* Set up once at start: verbosity (0 = info, <0 quieter, >0 debug) and
 * format ("text" or "json").  Also routes libevent's messages here. */
void	log_init(int verbosity, int json);
int	log_enabled(enum log_level);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Escape untrusted bytes for a log line or a terminal: printable ASCII is
 * kept, '"' and '\\' and everything else become \xNN, and the result is cut
 * to at most max input bytes (with "..." appended).  Writes into buf
 * (always NUL-terminated) and returns it. */
char	*log_escape(char *buf, size_t buflen, const char *s, size_t len);

#endif
