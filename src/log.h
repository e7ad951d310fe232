/*
 * log.h: one small logger.  Lines go to stderr with a timestamp, as text or
 * as one JSON object per line.  Client bytes must pass through log_escape()
 * before they are logged; tokens are never logged, only their keyed
 * fingerprint (crypto_fingerprint()).
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
/*
 * A line with fields: in text the message alone, as log_info writes it; in
 * JSON the fields follow "msg" as members of the same object (the access
 * log's remote, method, path, status...).  String values are escaped for
 * JSON; a LOG_F_LIST value "a,b" becomes ["a","b"].
 */
enum log_ftype { LOG_F_STR, LOG_F_NUM, LOG_F_LIST, LOG_F_BOOL };
struct log_field {
	const char	*key;
	enum log_ftype	 type;
	const char	*s;		/* LOG_F_STR (NULL: null), LOG_F_LIST */
	double		 n;		/* LOG_F_NUM, LOG_F_BOOL */
};
void	log_info_fields(const struct log_field *, size_t,
	    const char *, ...) __attribute__((format(printf, 3, 4)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Escape untrusted bytes for a log line or a terminal: printable ASCII is
 * kept, '"' and '\\' and everything else become \xNN, and the result is cut
 * to at most max input bytes (with "..." appended).  Writes into buf
 * (always NUL-terminated) and returns it. */
char	*log_escape(char *buf, size_t buflen, const char *s, size_t len);

/*
 * Escape untrusted text for a terminal (everything the command-line client
 * prints from a server or a payload): valid UTF-8 is kept, so titles stay
 * readable, but C0 controls, DEL, C1 controls and the bidirectional
 * formatting characters (log_term_unsafe) become \xNN or \u{NNNN}, as do
 * bytes that are not UTF-8.  A backslash is kept: the text is for people,
 * and diagnoses already spell \n and \xNN themselves.  The result is cut to
 * fit buf (always NUL-terminated), with "..."; LOG_TERM_SIZE(len) bytes
 * always hold all of it.  Returns buf.
 */
#define LOG_TERM_SIZE(len)	((len) * 4 + 4)
char	*log_escape_term(char *buf, size_t buflen, const char *s, size_t len);
/* 1 if code point cp must not reach a terminal as it is: C0, DEL, C1, and
 * the bidi marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069). */
int	log_term_unsafe(unsigned int cp);

#endif
