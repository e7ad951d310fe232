/*
 * tls.c: HTTPS for evhttp and for our HTTP client, with mbedTLS 2.28: the
 * connections.  The certificates they present are tls_ca.c's.
 *
 * A TLS connection is a bufferevent_filter over a socket bufferevent.  The
 * filter drives an mbedtls_ssl_context whose BIO callbacks read and write the
 * socket bufferevent's evbuffers, so evhttp only ever sees plaintext.  With
 * libevent 2.1.12 this needs workarounds, each marked "pitfall N" below
 * with its number in ../shared/spec/tls-on-libevent.md.  Four shape the
 * design:
 *
 *   1. a deferred kick, or replies written while EV_WRITE is off stall;
 *   2. the plaintext output drains only once its ciphertext is in the
 *      kernel, or evhttp closes before a "Connection: close" reply is out;
 *   3. a reference held around libevent's own socket callbacks, or evhttp
 *      frees the filter inside them (timer heap corruption);
 *   6. errors and EOF reach evhttp through a deferred
 *      bufferevent_trigger_event(), since filter return codes are ignored.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "util.h"
#include "xmalloc.h"

#define TLS_RECORD	16384		/* plaintext bytes per record */
#define TLS_OUT_CAP	(256 * 1024)	/* stop encrypting above this backlog */
#define TLS_SNIFF_MAX	2048		/* plain-HTTP bytes we look at */
#define TLS_SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
#define TLS_CACHE_SIZE	512
#define TLS_CACHE_SECS	3600

struct tls_server {
	struct tls_cfg		*ts_cfg;
	char			*ts_ca_pem;
	int			 ts_hs_timeout;
};

struct tls_client {
	struct tls_cfg		*tl_cfg;
};

/* One TLS connection: the filter evhttp sees, over the socket bufferevent. */
struct tls_conn {
	struct tls_cfg		*tc_cfg;
	mbedtls_ssl_context	 tc_ssl;
	struct bufferevent	*tc_filter;
	struct bufferevent	*tc_sock;

	/* libevent's own callbacks on tc_sock, which we wrap (pitfall 3). */
	bufferevent_data_cb	 tc_readcb;
	bufferevent_data_cb	 tc_writecb;
	bufferevent_event_cb	 tc_eventcb;
	void			*tc_cbarg;

	struct event		*tc_kick;
	struct event		*tc_timer;	/* handshake timeout (server) */
	struct evbuffer_cb_entry *tc_outcb;
	size_t			 tc_pending;	/* output already encrypted */
	size_t			 tc_bytes_in;	/* ciphertext received */
	evutil_socket_t		 tc_fd;
	int			 tc_errno;	/* from a failed send() */
	int			 tc_setup_err;	/* client: bad host name */
	int			 tc_hs_timeout;
	int			 tc_flags;
#define TLS_HANDSHAKE	0x001		/* handshake done */
#define TLS_DEAD	0x002		/* discard all further data */
#define TLS_REPORTED	0x004		/* evhttp has been told it is over */
#define TLS_LOGGED	0x008		/* the end has been explained */
#define TLS_KICK	0x010		/* kick pending, holds a reference */
#define TLS_NOTIFIED	0x020		/* close_notify sent */
#define TLS_SNIFFED	0x040		/* server: first byte looked at */
#define TLS_CLOSING	0x080		/* report EOF once output is flushed */
#define TLS_FAILED	0x100		/* counted in tls_counters.failed */
#define TLS_USED	0x200		/* client: a connection was started */
	unsigned char		 tc_ip[16];	/* client: IP SAN to expect */
	size_t			 tc_iplen;
	char			 tc_peer[64];
};

static struct tls_stats	 tls_counters;

static void	tls_conn_fail(struct tls_conn *, short, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	tls_sock_readcb(struct bufferevent *, void *);

/* *cause = "<what>: <mbedTLS's text for r>". */
void
tls_cause(char **cause, int r, const char *fmt, ...)
{
	va_list	 ap;
	char	*what, err[160];

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) == -1)
		fatalx("vasprintf failed");
	va_end(ap);
	mbedtls_strerror(r, err, sizeof err);
	xasprintf(cause, "%s: %s", what, err);
	free(what);
}

struct tls_cfg *
tls_cfg_new(int client, char **cause)
{
	struct tls_cfg	*cf;
	int		 r;

	cf = xcalloc(1, sizeof *cf);
	cf->cf_client = client;
	cf->cf_refs = 1;
	mbedtls_entropy_init(&cf->cf_entropy);
	mbedtls_ctr_drbg_init(&cf->cf_drbg);
	mbedtls_ssl_config_init(&cf->cf_conf);
	mbedtls_ssl_cache_init(&cf->cf_cache);
	mbedtls_x509_crt_init(&cf->cf_chain);
	mbedtls_pk_init(&cf->cf_key);
	r = mbedtls_ctr_drbg_seed(&cf->cf_drbg, mbedtls_entropy_func,
	    &cf->cf_entropy, (const unsigned char *)"notimock", 8);
	if (r != 0) {
		tls_cause(cause, r, "cannot seed the random generator");
		tls_cfg_unref(cf);
		return (NULL);
	}
	return (cf);
}

void
tls_cfg_unref(struct tls_cfg *cf)
{
	if (cf == NULL || --cf->cf_refs > 0)
		return;
	mbedtls_pk_free(&cf->cf_key);
	mbedtls_x509_crt_free(&cf->cf_chain);
	mbedtls_ssl_cache_free(&cf->cf_cache);
	mbedtls_ssl_config_free(&cf->cf_conf);
	mbedtls_ctr_drbg_free(&cf->cf_drbg);
	mbedtls_entropy_free(&cf->cf_entropy);
	free(cf);
}

/* --- mbedTLS configuration ----------------------------------------------- */

/*
 * ECDHE with AEAD only.  ChaCha20 first: with mbedTLS's software AES it is
 * the faster of the two here (see the spec, pitfall 10).
 */
static const int tls_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	0
};

/* mbedTLS's default starts with secp521r1, twice as slow per handshake. */
static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE
};

/*
 * evhttp speaks HTTP/1.x only, so never h2.  http/1.0 is listed too:
 * `curl -0` offers only that, and would otherwise get a
 * no_application_protocol alert (spec, pitfall 9).
 */
static const char *tls_alpn_server[] = { "http/1.1", "http/1.0", NULL };
static const char *tls_alpn_client[] = { "http/1.1", NULL };

static int
tls_conf(struct tls_cfg *cf, char **cause)
{
	mbedtls_ssl_config	*conf = &cf->cf_conf;
	int			 r;

	if ((r = mbedtls_ssl_config_defaults(conf, cf->cf_client ?
	    MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_cause(cause, r, "mbedtls_ssl_config_defaults");
		return (-1);
	}
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &cf->cf_drbg);
	mbedtls_ssl_conf_curves(conf, tls_curves);
	mbedtls_ssl_conf_renegotiation(conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);

	if (cf->cf_client) {
		mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(conf, &cf->cf_chain, NULL);
		r = mbedtls_ssl_conf_alpn_protocols(conf, tls_alpn_client);
	} else {
		mbedtls_ssl_conf_ciphersuites(conf, tls_suites);
		mbedtls_ssl_cache_set_max_entries(&cf->cf_cache,
		    TLS_CACHE_SIZE);
		mbedtls_ssl_cache_set_timeout(&cf->cf_cache, TLS_CACHE_SECS);
		mbedtls_ssl_conf_session_cache(conf, &cf->cf_cache,
		    mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
		if ((r = mbedtls_ssl_conf_own_cert(conf, &cf->cf_chain,
		    &cf->cf_key)) == 0)
			r = mbedtls_ssl_conf_alpn_protocols(conf,
			    tls_alpn_server);
	}
	if (r != 0) {
		tls_cause(cause, r, "cannot configure TLS");
		return (-1);
	}
	return (0);
}

/* --- Connections ---------------------------------------------------------- */

/* The peer, as it may appear in a log line. */
static const char *
tls_conn_peer(struct tls_conn *c, char *buf, size_t len)
{
	return (log_escape(buf, len, c->tc_peer, strlen(c->tc_peer)));
}

/* Server: learn the fd (the bevcb is not given it), the peer address, and
 * turn Nagle off (evhttp never does; pitfall 10). */
static void
tls_conn_learn(struct tls_conn *c)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen = sizeof ss;
	char			 host[INET6_ADDRSTRLEN];
	evutil_socket_t		 fd;
	int			 one = 1;

	if (c->tc_fd != -1 || c->tc_cfg->cf_client ||
	    (fd = bufferevent_getfd(c->tc_sock)) == -1)
		return;
	c->tc_fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1)
		return;
	if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6, &sin6->sin6_addr,
	    host, sizeof host) != NULL)
		snprintf(c->tc_peer, sizeof c->tc_peer, "[%s]:%u", host,
		    ntohs(sin6->sin6_port));
	else if (ss.ss_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr,
	    host, sizeof host) != NULL)
		snprintf(c->tc_peer, sizeof c->tc_peer, "%s:%u", host,
		    ntohs(sin->sin_port));
}

/* Tell evhttp the connection is over (pitfall 6: deferred, or evhttp
 * frees the filter while our filter code is still running). */
static void
tls_conn_report(struct tls_conn *c, short what)
{
	if (c->tc_flags & TLS_REPORTED)
		return;
	c->tc_flags |= TLS_REPORTED | TLS_DEAD;
	bufferevent_trigger_event(c->tc_filter, what,
	    BEV_TRIG_DEFER_CALLBACKS);
}

static void
tls_conn_count_failure(struct tls_conn *c)
{
	if (c->tc_cfg->cf_client ||
	    (c->tc_flags & (TLS_HANDSHAKE | TLS_FAILED)))
		return;
	c->tc_flags |= TLS_FAILED;
	tls_counters.failed++;
}

/* The one way a connection fails: log why (once), count, tell evhttp. */
static void
tls_conn_fail(struct tls_conn *c, short what, const char *fmt, ...)
{
	va_list	ap;
	char	reason[512], peer[128];

	if (c->tc_flags & TLS_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (c->tc_cfg->cf_client) {
		/* The command says it in its own words (tls_client_error). */
		snprintf(c->tc_cfg->cf_why, sizeof c->tc_cfg->cf_why, "%s",
		    reason);
		if (c->tc_cfg->cf_fail == TLS_CLIENT_OK)
			c->tc_cfg->cf_fail = TLS_CLIENT_FAILED;
	} else
		log_warnx("tls: %s: %s", tls_conn_peer(c, peer, sizeof peer),
		    reason);
	c->tc_flags |= TLS_LOGGED;
	tls_conn_count_failure(c);
	tls_conn_report(c, what);
}

/* Alert descriptions worth naming in a log line (RFC 5246, 7.2). */
static const char *
tls_alert_name(unsigned char alert)
{
	switch (alert) {
	case 40:
		return ("handshake_failure");
	case 42:
		return ("bad_certificate");
	case 45:
		return ("certificate_expired");
	case 46:
		return ("certificate_unknown");
	case 48:
		return ("unknown_ca: the client does not trust our CA");
	case 70:
		return ("protocol_version");
	case 71:
		return ("insufficient_security");
	case 80:
		return ("internal_error");
	case 112:
		return ("unrecognized_name");
	case 120:
		return ("no_application_protocol");
	default:
		return ("see RFC 5246");
	}
}

static void
tls_conn_fail_ssl(struct tls_conn *c, short what, const char *doing, int r)
{
	char		 msg[512];
	unsigned char	 alert;
	uint32_t	 flags;
	size_t		 i;

	if (r == MBEDTLS_ERR_NET_SEND_FAILED && c->tc_errno != 0)
		snprintf(msg, sizeof msg, "%s", strerror(c->tc_errno));
	else if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
	    c->tc_ssl.in_msg != NULL) {
		/* 2.28 has no getter; in_msg holds [level, description]
		 * (3.x makes the field private). */
		alert = c->tc_ssl.in_msg[1];
		snprintf(msg, sizeof msg, "peer sent alert %u (%s)", alert,
		    tls_alert_name(alert));
	} else if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED &&
	    (flags = mbedtls_ssl_get_verify_result(&c->tc_ssl)) != 0) {
		if (c->tc_cfg->cf_client)
			c->tc_cfg->cf_fail = TLS_CLIENT_UNTRUSTED;
		mbedtls_x509_crt_verify_info(msg, sizeof msg, "", flags);
		for (i = 0; msg[i] != '\0'; i++)
			if (msg[i] == '\n')
				msg[i] = msg[i + 1] == '\0' ? '\0' : ';';
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
		    " (certificate verification failed)");
	} else {
		/* A plain-HTTP server answers our ClientHello with text:
		 * no TLS record header parses. */
		if (c->tc_cfg->cf_client && (r == MBEDTLS_ERR_SSL_INVALID_RECORD
		    || r == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION ||
		    r == MBEDTLS_ERR_SSL_INVALID_MAC))
			c->tc_cfg->cf_fail = TLS_CLIENT_NOT_TLS;
		mbedtls_strerror(r, msg, sizeof msg);
	}
	tls_conn_fail(c, what, "%s: %s", doing, msg);
}

/* Pitfall 1: flush output that evhttp added while EV_WRITE was off, once
 * it has enabled EV_WRITE (so, on the next loop iteration). */
static void
tls_conn_kick(struct tls_conn *c)
{
	if (c->tc_flags & TLS_KICK)
		return;
	c->tc_flags |= TLS_KICK;
	bufferevent_incref(c->tc_filter);
	event_active(c->tc_kick, EV_TIMEOUT, 0);
}

static void
tls_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_conn		*c = arg;
	struct bufferevent	*filter = c->tc_filter;

	c->tc_flags &= ~TLS_KICK;
	bufferevent_flush(filter, EV_WRITE, BEV_NORMAL);
	bufferevent_decref(filter);
}

static void
tls_outbuf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct tls_conn	*c = arg;

	if (info->n_added == 0 ||
	    (bufferevent_get_enabled(c->tc_filter) & EV_WRITE))
		return;
	tls_conn_kick(c);
}

/* Ciphertext out: straight to the socket when nothing is queued ahead (one
 * syscall, order kept), else behind what is queued.  Never WANT_WRITE, so
 * mbedtls_ssl_write() never needs to be retried with the same buffer. */
static int
tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(c->tc_sock);
	ssize_t		 n = 0;

	if (evbuffer_get_length(out) == 0 && c->tc_fd != -1) {
		if ((n = send(c->tc_fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				c->tc_errno = errno;
				return (MBEDTLS_ERR_NET_SEND_FAILED);
			}
			n = 0;
		}
	}
	if ((size_t)n < len &&
	    evbuffer_add(out, buf + n, len - (size_t)n) == -1)
		return (MBEDTLS_ERR_SSL_ALLOC_FAILED);
	return ((int)len);
}

static int
tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn	*c = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(c->tc_sock), buf, len);
	if (n <= 0)
		return (MBEDTLS_ERR_SSL_WANT_READ);
	c->tc_bytes_in += (size_t)n;
	return (n);
}

/* Drop the plaintext whose ciphertext has reached the kernel (pitfall 2). */
static int
tls_conn_drain(struct tls_conn *c, struct evbuffer *src)
{
	size_t	n = c->tc_pending;

	if (n == 0)
		return (0);
	c->tc_pending = 0;
	evbuffer_drain(src, n);
	return (1);
}

/* Returns 0 when the handshake is done, -1 while it is not (or failed). */
static int
tls_handshake(struct tls_conn *c)
{
	const char	*alpn;
	char		 peer[128];
	int		 r;

	r = mbedtls_ssl_handshake(&c->tc_ssl);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return (-1);
	if (r != 0) {
		tls_conn_fail_ssl(c, BEV_EVENT_READING | BEV_EVENT_ERROR,
		    "handshake failed", r);
		return (-1);
	}
	c->tc_flags |= TLS_HANDSHAKE;
	if (c->tc_timer != NULL)
		event_del(c->tc_timer);
	alpn = mbedtls_ssl_get_alpn_protocol(&c->tc_ssl);
	log_debug("%s: %s: %s %s, ALPN %s", __func__,
	    tls_conn_peer(c, peer, sizeof peer),
	    mbedtls_ssl_get_version(&c->tc_ssl),
	    mbedtls_ssl_get_ciphersuite(&c->tc_ssl), alpn ? alpn : "none");
	if (c->tc_cfg->cf_client) {
		/*
		 * evhttp now writes the request line and each header with
		 * its own evbuffer_add; with EV_WRITE off they are encrypted
		 * as one record by the kick instead of one record each.
		 */
		bufferevent_disable(c->tc_filter, EV_WRITE);
		bufferevent_trigger_event(c->tc_filter, BEV_EVENT_CONNECTED,
		    BEV_TRIG_DEFER_CALLBACKS);
	} else
		tls_counters.handshakes++;
	if (evbuffer_get_length(bufferevent_get_output(c->tc_filter)) > 0)
		tls_conn_kick(c);
	return (0);
}

/* Answer plain HTTP on the TLS port with a 400 a human can act on. */
static void
tls_plain_http(struct tls_conn *c, const char *line)
{
	char		 method[17] = "GET", url[1024] = "/", jurl[2048];
	/* On the stack: this runs per connection, where nothing may exit
	 * (xasprintf would, out of memory).  The longest jurl fits both. */
	char		 peer[128], emethod[80], eurl[1200];
	char		 body[2304], reply[2560];
	const char	*p;
	size_t		 n, i, o;

	/* Take the method and path only if they look like HTTP; the path
	 * only as printable ASCII, so it needs no more JSON escaping than
	 * '"' and '\'. */
	n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (n > 0 && n < sizeof method && line[n] == ' ') {
		memcpy(method, line, n);
		method[n] = '\0';
		p = line + n + 1;
		n = strcspn(p, " \r\n");
		for (i = 0; i < n; i++)
			if (p[i] < 0x21 || p[i] > 0x7e)
				break;
		if (n > 0 && i == n && p[0] == '/' && n < sizeof url) {
			memcpy(url, p, n);
			url[n] = '\0';
		}
	}
	for (i = o = 0; url[i] != '\0'; i++) {
		if (url[i] == '"' || url[i] == '\\')
			jurl[o++] = '\\';
		jurl[o++] = url[i];
	}
	jurl[o] = '\0';
	(void)snprintf(body, sizeof body, "{\"error\":{\"name\":\"InputError\","
	    "\"message\":\"This port speaks TLS: use https://\"},\"request\":"
	    "{\"method\":\"%s\",\"url\":\"%s\"},\"response\":{\"statusCode\":"
	    "400}}", method, jurl);
	(void)snprintf(reply, sizeof reply, "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "%s", strlen(body), body);

	c->tc_flags |= TLS_DEAD | TLS_LOGGED;
	tls_counters.plain_http++;
	log_warnx("tls: %s: plain HTTP on the TLS port (%s %s): answered 400",
	    tls_conn_peer(c, peer, sizeof peer),
	    log_escape(emethod, sizeof emethod, method, strlen(method)),
	    log_escape(eurl, sizeof eurl, url, strlen(url)));
	if (tls_bio_send(c, (const unsigned char *)reply, strlen(reply)) < 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->tc_sock)) == 0)
		tls_conn_report(c, BEV_EVENT_READING | BEV_EVENT_EOF);
	else
		c->tc_flags |= TLS_CLOSING;	/* see tls_sock_writecb */
}

/*
 * Server, before the handshake: a TLS record starts with a byte < 0x80 that
 * is not a letter, a plain HTTP request with a method name.  Returns 1 for
 * TLS, 0 to wait for the rest of the request line, -1 once answered.
 */
static int
tls_sniff(struct tls_conn *c, struct evbuffer *src)
{
	struct evbuffer_ptr	 eol;
	char			 line[TLS_SNIFF_MAX + 1];
	unsigned char		 first;
	ev_ssize_t		 n;

	if (evbuffer_copyout(src, &first, 1) != 1)
		return (0);
	if (!((first >= 'A' && first <= 'Z') ||
	    (first >= 'a' && first <= 'z'))) {
		c->tc_flags |= TLS_SNIFFED;
		return (1);
	}
	eol = evbuffer_search(src, "\n", 1, NULL);
	if (eol.pos == -1 && evbuffer_get_length(src) < TLS_SNIFF_MAX)
		return (0);
	c->tc_flags |= TLS_SNIFFED;
	n = evbuffer_copyout(src, line, TLS_SNIFF_MAX);
	line[n < 0 ? 0 : n] = '\0';
	c->tc_bytes_in += evbuffer_get_length(src);
	evbuffer_drain(src, evbuffer_get_length(src));
	tls_plain_http(c, line);
	return (-1);
}

/* Input filter: ciphertext from the socket bev, plaintext to evhttp. */
static enum bufferevent_filter_result
tls_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn		*c = arg;
	struct evbuffer_iovec	 v;
	int			 r, produced = 0;

	if (c->tc_flags & TLS_DEAD) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return (BEV_ERROR);
	}
	tls_conn_learn(c);
	if (!(c->tc_flags & TLS_HANDSHAKE)) {
		if (!c->tc_cfg->cf_client && !(c->tc_flags & TLS_SNIFFED)) {
			if ((r = tls_sniff(c, src)) != 1)
				return (r == 0 ? BEV_NEED_MORE : BEV_ERROR);
		}
		/* Pitfall 4: handshake records go out through the BIO,
		 * never to dst; on success fall through, since the request
		 * may have come with the client's Finished. */
		if (tls_handshake(c) == -1)
			return ((c->tc_flags & TLS_DEAD) ? BEV_ERROR :
			    BEV_NEED_MORE);
	}

	/* Pitfall 5: read until WANT_READ whatever limit says, since
	 * plaintext left inside mbedTLS is invisible to evhttp. */
	for (;;) {
		if (evbuffer_reserve_space(dst, TLS_RECORD, &v, 1) < 1) {
			tls_conn_fail(c, BEV_EVENT_READING | BEV_EVENT_ERROR,
			    "out of buffer space");
			return (BEV_ERROR);
		}
		r = mbedtls_ssl_read(&c->tc_ssl, v.iov_base, v.iov_len);
		if (r <= 0)
			break;
		v.iov_len = (size_t)r;
		evbuffer_commit_space(dst, &v, 1);
		produced = 1;
	}
	switch (r) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		break;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		if (!(c->tc_flags & TLS_NOTIFIED)) {
			c->tc_flags |= TLS_NOTIFIED;
			mbedtls_ssl_close_notify(&c->tc_ssl);
		}
		/*
		 * A client waits for the TCP EOF that follows: evhttp may
		 * already have reset the connection for its next request, and
		 * a deferred EOF would then fail that one.
		 */
		if (c->tc_cfg->cf_client)
			c->tc_flags |= TLS_DEAD;
		else
			tls_conn_report(c, BEV_EVENT_READING | BEV_EVENT_EOF);
		break;
	case 0:
		tls_conn_report(c, BEV_EVENT_READING | BEV_EVENT_EOF);
		break;
	default:
		tls_conn_fail_ssl(c, BEV_EVENT_READING | BEV_EVENT_ERROR,
		    "read failed", r);
		break;
	}
	return (produced ? BEV_OK : BEV_NEED_MORE);
}

/*
 * Output filter: plaintext from evhttp, ciphertext to the socket bev.  The
 * first tc_pending bytes of src are already encrypted; they leave src only
 * once dst is empty, i.e. their ciphertext is in the kernel, so that
 * evhttp's "reply written" callback means what it says (pitfall 2).
 */
static enum bufferevent_filter_result
tls_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn		*c = arg;
	struct evbuffer_ptr	 pos;
	unsigned char		 buf[TLS_RECORD];
	ev_ssize_t		 n;
	int			 r, progress = 0;

	if (c->tc_flags & TLS_DEAD) {
		c->tc_pending = 0;
		evbuffer_drain(src, evbuffer_get_length(src));
		return (BEV_ERROR);
	}
	if (!(c->tc_flags & TLS_HANDSHAKE))
		return (BEV_NEED_MORE);	/* tls_handshake() kicks */

	if (evbuffer_get_length(dst) == 0)
		progress |= tls_conn_drain(c, src);
	while (evbuffer_get_length(src) > c->tc_pending &&
	    evbuffer_get_length(dst) < TLS_OUT_CAP) {
		/* Copying also merges evhttp's header and body chains into
		 * one record. */
		if (evbuffer_ptr_set(src, &pos, c->tc_pending,
		    EVBUFFER_PTR_SET) == -1 ||
		    (n = evbuffer_copyout_from(src, &pos, buf,
		    sizeof buf)) <= 0)
			break;
		if ((r = mbedtls_ssl_write(&c->tc_ssl, buf, (size_t)n)) < 0) {
			tls_conn_fail_ssl(c, BEV_EVENT_WRITING |
			    BEV_EVENT_ERROR, "write failed", r);
			return (BEV_ERROR);
		}
		c->tc_pending += (size_t)r;
		progress = 1;
	}
	if (evbuffer_get_length(dst) == 0)
		progress |= tls_conn_drain(c, src);
	/* OK without progress would make libevent's filter loop spin. */
	return (progress ? BEV_OK : BEV_NEED_MORE);
}

/* Client: the socket connected; check it and send the ClientHello. */
static void
tls_client_start(struct tls_conn *c, evutil_socket_t fd)
{
	socklen_t	len;
	int		one = 1, err = 0;

	/* evhttp reuses the bufferevent when it reconnects; the socket bev
	 * disabled itself on the old connection's EOF or error. */
	if (c->tc_flags & TLS_USED) {
		bufferevent_enable(c->tc_sock, EV_READ | EV_WRITE);
		mbedtls_ssl_session_reset(&c->tc_ssl);
		evbuffer_drain(bufferevent_get_input(c->tc_sock),
		    evbuffer_get_length(bufferevent_get_input(c->tc_sock)));
		c->tc_pending = 0;
		c->tc_bytes_in = 0;
		c->tc_errno = 0;
		c->tc_flags &= TLS_KICK;
	}
	c->tc_flags |= TLS_USED;
	c->tc_fd = fd;
	len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	/* Also marks the socket as started: see tls_client_fresh(). */
	if (err == 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof one) == -1)
		err = errno;
	if (err != 0) {
		tls_conn_fail(c, BEV_EVENT_ERROR, "connect: %s", strerror(err));
		return;
	}
	if (c->tc_setup_err != 0) {
		tls_conn_fail_ssl(c, BEV_EVENT_ERROR, "bad host name",
		    c->tc_setup_err);
		return;
	}
	/* evhttp enables reading only once the request is written. */
	bufferevent_enable(c->tc_filter, EV_READ);
	tls_handshake(c);
}

/*
 * evhttp gives no sign when it reconnects, and the new socket may get the
 * old fd number.  We turn TCP_NODELAY on when we start TLS on a socket, so a
 * socket with it off is one we have not seen.
 */
static int
tls_client_fresh(evutil_socket_t fd)
{
	socklen_t	len;
	int		on = 0;

	len = sizeof on;
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == -1)
		return (0);
	return (on == 0);
}

/* Pitfall 3: wrap libevent's filter callbacks on the socket bev in a
 * reference, so evhttp freeing the filter inside them is deferred. */
static void
tls_sock_readcb(struct bufferevent *sock, void *arg)
{
	struct tls_conn		*c = arg;
	struct bufferevent	*filter = c->tc_filter;

	bufferevent_incref(filter);
	c->tc_readcb(sock, c->tc_cbarg);
	bufferevent_decref(filter);
}

static void
tls_sock_writecb(struct bufferevent *sock, void *arg)
{
	struct tls_conn		*c = arg;
	struct bufferevent	*filter = c->tc_filter;
	evutil_socket_t		 fd;

	bufferevent_incref(filter);
	if (!c->tc_cfg->cf_client)
		tls_conn_learn(c);
	else if ((fd = bufferevent_getfd(sock)) != -1 && tls_client_fresh(fd))
		tls_client_start(c, fd);
	c->tc_writecb(sock, c->tc_cbarg);
	if ((c->tc_flags & TLS_CLOSING) &&
	    evbuffer_get_length(bufferevent_get_output(sock)) == 0) {
		c->tc_flags &= ~TLS_CLOSING;
		tls_conn_report(c, BEV_EVENT_READING | BEV_EVENT_EOF);
	}
	bufferevent_decref(filter);
}

static void
tls_sock_eventcb(struct bufferevent *sock, short what, void *arg)
{
	struct tls_conn		*c = arg;
	struct bufferevent	*filter = c->tc_filter;
	char			 peer[128];

	/* We told evhttp already; a second event would fail the next
	 * request of a client that reconnected meanwhile. */
	if (c->tc_flags & TLS_REPORTED)
		return;
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) &&
	    !(c->tc_flags & (TLS_HANDSHAKE | TLS_LOGGED))) {
		tls_conn_peer(c, peer, sizeof peer);
		if (c->tc_cfg->cf_client) {
			snprintf(c->tc_cfg->cf_why, sizeof c->tc_cfg->cf_why,
			    "the connection closed during the handshake");
			if (c->tc_cfg->cf_fail == TLS_CLIENT_OK)
				c->tc_cfg->cf_fail = TLS_CLIENT_FAILED;
			c->tc_flags |= TLS_LOGGED;
		} else if (c->tc_bytes_in > 0) {
			log_warnx("tls: %s: connection closed during the "
			    "handshake", peer);
			c->tc_flags |= TLS_LOGGED;
			tls_conn_count_failure(c);
		} else
			log_debug("%s: %s: closed before sending anything",
			    __func__, peer);
	}
	c->tc_flags |= TLS_REPORTED | TLS_DEAD;
	bufferevent_incref(filter);
	c->tc_eventcb(sock, what, c->tc_cbarg);
	bufferevent_decref(filter);
}

static void
tls_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_conn		*c = arg;
	bufferevent_event_cb	 eventcb;

	if (c->tc_flags & (TLS_HANDSHAKE | TLS_DEAD))
		return;
	/*
	 * evhttp may have freed the filter already (its own timeout), and
	 * its finalizer, which deletes this timer, not run yet.  Triggering
	 * an event would then resurrect it; bufferevent_free() clears the
	 * callbacks, so that is how we tell.
	 */
	bufferevent_getcb(c->tc_filter, NULL, NULL, &eventcb, NULL);
	if (eventcb == NULL)
		return;
	tls_conn_fail(c, BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
	    "handshake timed out after %d s", c->tc_hs_timeout);
}

/* The filter's finalizer: tc_sock may already be gone, so leave it be. */
static void
tls_conn_free(void *arg)
{
	struct tls_conn	*c = arg;
	char		 peer[128];

	if (!c->tc_cfg->cf_client) {
		tls_counters.closed++;
		if (!(c->tc_flags & (TLS_HANDSHAKE | TLS_LOGGED)) &&
		    c->tc_bytes_in > 0) {
			log_warnx("tls: %s: closed before the handshake "
			    "finished", tls_conn_peer(c, peer, sizeof peer));
			tls_conn_count_failure(c);
		}
	}
	if (c->tc_outcb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->tc_filter),
		    c->tc_outcb);
	if (c->tc_kick != NULL)
		event_free(c->tc_kick);
	if (c->tc_timer != NULL)
		event_free(c->tc_timer);
	mbedtls_ssl_free(&c->tc_ssl);
	tls_cfg_unref(c->tc_cfg);
	free(c);
}

/*
 * A connection's TLS state and its filter bufferevent, or NULL (logged)
 * when memory runs out: this runs per connection, where nothing may exit.
 */
static struct tls_conn *
tls_conn_new(struct tls_cfg *cf, struct event_base *base)
{
	struct tls_conn	*c;
	const char	*what;
	int		 r;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_warnx("tls: no memory for a connection");
		return (NULL);
	}
	c->tc_cfg = cf;
	cf->cf_refs++;
	c->tc_fd = -1;
	snprintf(c->tc_peer, sizeof c->tc_peer, "(unknown peer)");
	mbedtls_ssl_init(&c->tc_ssl);
	if ((r = mbedtls_ssl_setup(&c->tc_ssl, &cf->cf_conf)) != 0) {
		log_warnx("tls: mbedtls_ssl_setup failed: -0x%04x", -r);
		goto fail;
	}
	mbedtls_ssl_set_bio(&c->tc_ssl, c, tls_bio_send, tls_bio_recv, NULL);
	what = "event_new";
	if ((c->tc_kick = event_new(base, -1, 0, tls_kick_cb, c)) == NULL)
		goto fail_what;

	/* No fd yet: evhttp calls bufferevent_setfd() on the filter, which
	 * 2.1.12 forwards to the socket bev (pitfall 8). */
	what = "bufferevent_socket_new";
	if ((c->tc_sock = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto fail_what;
	what = "bufferevent_filter_new";
	if ((c->tc_filter = bufferevent_filter_new(c->tc_sock, tls_filter_in,
	    tls_filter_out, BEV_OPT_CLOSE_ON_FREE, tls_conn_free, c)) == NULL) {
		bufferevent_free(c->tc_sock);
		goto fail_what;
	}
	bufferevent_getcb(c->tc_sock, &c->tc_readcb, &c->tc_writecb,
	    &c->tc_eventcb, &c->tc_cbarg);
	bufferevent_setcb(c->tc_sock, tls_sock_readcb, tls_sock_writecb,
	    tls_sock_eventcb, c);
	if ((c->tc_outcb = evbuffer_add_cb(bufferevent_get_output(c->tc_filter),
	    tls_outbuf_cb, c)) == NULL) {
		log_warnx("tls: evbuffer_add_cb failed");
		/* The filter's finalizer frees c, and counts it closed. */
		if (!cf->cf_client)
			tls_counters.opened++;
		bufferevent_free(c->tc_filter);
		return (NULL);
	}
	return (c);

fail_what:
	log_warnx("tls: %s failed", what);
fail:
	if (c->tc_kick != NULL)
		event_free(c->tc_kick);
	mbedtls_ssl_free(&c->tc_ssl);
	tls_cfg_unref(cf);
	free(c);
	return (NULL);
}

/* Ours, or NULL for a bufferevent of a plain listener. */
static struct tls_conn *
tls_conn_of(struct bufferevent *bev)
{
	struct bufferevent	*sock;
	bufferevent_data_cb	 readcb;
	void			*arg;

	if (bev == NULL || (sock = bufferevent_get_underlying(bev)) == NULL)
		return (NULL);
	bufferevent_getcb(sock, &readcb, NULL, NULL, &arg);
	return (readcb == tls_sock_readcb ? arg : NULL);
}

/* --- Server --------------------------------------------------------------- */

int
tls_server_check(const struct tls_server_options *o, char **cause)
{
	struct tls_cfg	*cf;
	char		*pem = NULL;
	int		 rv;

	if ((cf = tls_cfg_new(0, cause)) == NULL)
		return (-1);
	rv = tls_ca_serving(cf, o, 1, &pem, cause);
	free(pem);
	tls_cfg_unref(cf);
	return (rv);
}

struct tls_server *
tls_server_new(struct event_base *base, const struct tls_server_options *o,
    char **cause)
{
	struct tls_server	*srv;

	srv = xcalloc(1, sizeof *srv);
	srv->ts_hs_timeout = o->handshake_timeout;
	if ((srv->ts_cfg = tls_cfg_new(0, cause)) == NULL ||
	    tls_ca_serving(srv->ts_cfg, o, 0, &srv->ts_ca_pem, cause) == -1 ||
	    tls_conf(srv->ts_cfg, cause) == -1)
		goto fail;
	tls_log_cert(&srv->ts_cfg->cf_chain);
	return (srv);

fail:
	tls_server_free(srv);
	return (NULL);
}

void
tls_server_free(struct tls_server *srv)
{
	if (srv == NULL)
		return;
	tls_cfg_unref(srv->ts_cfg);
	free(srv->ts_ca_pem);
	free(srv);
}

struct bufferevent *
tls_server_bevcb(struct event_base *base, void *arg)
{
	struct tls_server	*srv = arg;
	struct tls_conn		*c;
	struct timeval		 tv;

	if ((c = tls_conn_new(srv->ts_cfg, base)) == NULL)
		return (NULL);
	tls_counters.opened++;
	if (srv->ts_hs_timeout > 0) {
		c->tc_hs_timeout = srv->ts_hs_timeout;
		/* Without it, http.c's request deadline still ends a stalled
		 * handshake (only the log line is less precise). */
		if ((c->tc_timer = evtimer_new(base, tls_timer_cb, c)) == NULL)
			log_warnx("tls: evtimer_new failed");
		else {
			tv.tv_sec = srv->ts_hs_timeout;
			tv.tv_usec = 0;
			evtimer_add(c->tc_timer, &tv);
		}
	}
	return (c->tc_filter);
}

void
tls_close_notify(struct evhttp_connection *evcon)
{
	struct tls_conn	*c;

	/* evhttp closes without close_notify (libevent #1247); it calls
	 * this before shutdown(), and all replies are in the kernel by then,
	 * so the alert goes out last, by direct send. */
	c = tls_conn_of(evhttp_connection_get_bufferevent(evcon));
	if (c == NULL || (c->tc_flags & (TLS_DEAD | TLS_NOTIFIED)) ||
	    !(c->tc_flags & TLS_HANDSHAKE))
		return;
	c->tc_flags |= TLS_NOTIFIED;
	mbedtls_ssl_close_notify(&c->tc_ssl);
}

const char *
tls_server_ca_pem(const struct tls_server *srv)
{
	return (srv->ts_ca_pem);
}

void
tls_stats(struct tls_stats *st)
{
	*st = tls_counters;
}

const char *
tls_version(void)
{
	static char	buf[32];

	if (buf[0] == '\0')
		mbedtls_version_get_string_full(buf);
	return (buf);
}

/* --- Client --------------------------------------------------------------- */

struct tls_client *
tls_client_new(const char *cafile, char **cause)
{
	struct tls_client	*cl;
	struct tls_cfg		*cf;
	int			 r;

	if (cafile == NULL)
		cafile = TLS_SYSTEM_CA;
	if ((cf = tls_cfg_new(1, cause)) == NULL)
		return (NULL);
	/* A system bundle may hold a few certificates mbedTLS cannot
	 * parse (r > 0); what matters is that some did. */
	if ((r = mbedtls_x509_crt_parse_file(&cf->cf_chain, cafile)) < 0) {
		tls_cause(cause, r, "%s", cafile);
		goto fail;
	}
	if (cf->cf_chain.raw.p == NULL) {
		xasprintf(cause, "%s: no certificate", cafile);
		goto fail;
	}
	if (tls_conf(cf, cause) == -1)
		goto fail;
	cl = xcalloc(1, sizeof *cl);
	cl->tl_cfg = cf;
	return (cl);

fail:
	tls_cfg_unref(cf);
	return (NULL);
}

enum tls_client_failure
tls_client_error(const struct tls_client *cl, const char **why)
{
	*why = cl->tl_cfg->cf_why;
	return (cl->tl_cfg->cf_fail);
}

void
tls_client_free(struct tls_client *cl)
{
	if (cl == NULL)
		return;
	tls_cfg_unref(cl->tl_cfg);
	free(cl);
}

/* mbedTLS 2.28 matches only DNS names: check an IP host ourselves. */
static int
tls_verify_ip(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn			*c = arg;
	const mbedtls_x509_sequence	*cur;

	if (depth != 0)
		return (0);
	for (cur = &crt->subject_alt_names; cur != NULL && cur->buf.p != NULL;
	    cur = cur->next)
		if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    TLS_SAN_IP) && cur->buf.len == c->tc_iplen &&
		    memcmp(cur->buf.p, c->tc_ip, c->tc_iplen) == 0)
			return (0);
	*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return (0);
}

struct bufferevent *
tls_client_bev(struct tls_client *cl, struct event_base *base,
    const char *host)
{
	struct tls_conn	*c;
	struct tls_san	 san;
	char		*cause = NULL;

	if ((c = tls_conn_new(cl->tl_cfg, base)) == NULL)
		return (NULL);
	cl->tl_cfg->cf_fail = TLS_CLIENT_OK;	/* this connection's, now */
	cl->tl_cfg->cf_why[0] = '\0';
	snprintf(c->tc_peer, sizeof c->tc_peer, "%s", host);
	if (tls_san_parse(host, &san, &cause) == 0 &&
	    san.san_tag == TLS_SAN_IP) {
		/* No SNI for an address (RFC 6066, 3). */
		memcpy(c->tc_ip, san.san_data, san.san_len);
		c->tc_iplen = san.san_len;
		mbedtls_ssl_set_verify(&c->tc_ssl, tls_verify_ip, c);
	} else
		c->tc_setup_err = mbedtls_ssl_set_hostname(&c->tc_ssl, host);
	free(cause);
	return (c->tc_filter);
}
