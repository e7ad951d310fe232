/*
 * tls.c: HTTPS for evhttp and for our HTTP client, with mbedTLS 2.28, and
 * the certificates the server presents.
 *
 * A TLS connection is a bufferevent_filter over a socket bufferevent.  The
 * filter drives an mbedtls_ssl_context whose BIO callbacks read and write the
 * socket bufferevent's evbuffers, so evhttp only ever sees plaintext.  With
 * libevent 2.1.12 this needs four workarounds, marked "pitfall N" below and
 * explained in ../shared/spec/tls-on-libevent.md:
 *
 *   1. a deferred kick, or replies written while EV_WRITE is off stall;
 *   2. the plaintext output drains only once its ciphertext is in the
 *      kernel, or evhttp closes before a "Connection: close" reply is out;
 *   3. a reference held around libevent's own socket callbacks, or evhttp
 *      frees the filter inside them (timer heap corruption);
 *   4. errors and EOF reach evhttp through a deferred
 *      bufferevent_trigger_event(), since filter return codes are ignored.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "log.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define TLS_RECORD	16384		/* plaintext bytes per record */
#define TLS_OUT_CAP	(256 * 1024)	/* stop encrypting above this backlog */
#define TLS_SNIFF_MAX	2048		/* plain-HTTP bytes we look at */
#define TLS_PEM_MAX	16384
#define TLS_DAY		86400
#define TLS_CA_DAYS	3650
#define TLS_LEAF_DAYS	365
#define TLS_RENEW_DAYS	30
#define TLS_CA_SUBJECT	"CN=notimock CA"
#define TLS_LEAF_SUBJECT "CN=localhost"
#define TLS_SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
#define TLS_CACHE_SIZE	512
#define TLS_CACHE_SECS	3600

/* GeneralName tags (RFC 5280), context-specific and primitive. */
#define TLS_SAN_DNS	2
#define TLS_SAN_IP	7

/*
 * What a server or a client shares with its connections: random generator,
 * ssl config, certificates.  Every connection holds a reference, so the
 * owner may be freed before evhttp's last bufferevent is finalized.
 */
struct tls_cfg {
	mbedtls_entropy_context	 cf_entropy;
	mbedtls_ctr_drbg_context cf_drbg;
	mbedtls_ssl_config	 cf_conf;
	mbedtls_ssl_cache_context cf_cache;
	mbedtls_x509_crt	 cf_chain;	/* ours, or the trusted CAs */
	mbedtls_pk_context	 cf_key;
	int			 cf_client;
	unsigned int		 cf_refs;
	/* Client side: why the last connection failed, for the CLI to
	 * explain (a command prints no server-style log lines). */
	enum tls_client_failure	 cf_fail;
	char			 cf_why[512];
};

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

/* A name for the subjectAltName extension. */
struct tls_san {
	int			 san_tag;	/* TLS_SAN_DNS or TLS_SAN_IP */
	size_t			 san_len;
	unsigned char		 san_data[256];
};

static struct tls_stats	 tls_counters;

static void	tls_conn_fail(struct tls_conn *, short, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	tls_cause(char **, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	tls_sock_readcb(struct bufferevent *, void *);
static void	tls_cfg_unref(struct tls_cfg *);

/* *cause = "<what>: <mbedTLS's text for r>". */
static void
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

static struct tls_cfg *
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

static void
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

/* --- Names (subjectAltName) ---------------------------------------------- */

/* Parse a DNS name or an IP literal ("::1" or "[::1]"). */
static int
tls_san_parse(const char *s, struct tls_san *san, char **cause)
{
	char	 inner[INET6_ADDRSTRLEN];
	size_t	 len = strlen(s), i;

	memset(san, 0, sizeof *san);
	if (len > 2 && s[0] == '[' && s[len - 1] == ']' &&
	    len - 2 < sizeof inner) {
		memcpy(inner, s + 1, len - 2);
		inner[len - 2] = '\0';
	} else
		snprintf(inner, sizeof inner, "%s", s);

	san->san_tag = TLS_SAN_IP;
	if (inet_pton(AF_INET, s, san->san_data) == 1) {
		san->san_len = 4;
		return (0);
	}
	if (inet_pton(AF_INET6, inner, san->san_data) == 1) {
		san->san_len = 16;
		return (0);
	}

	/* DNS names are compared case-insensitively: keep them lower case. */
	san->san_tag = TLS_SAN_DNS;
	if (len == 0 || len > 253)
		goto bad;
	for (i = 0; i < len; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			san->san_data[i] = (unsigned char)(s[i] - 'A' + 'a');
		else if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("-._*", s[i]) != NULL)
			san->san_data[i] = (unsigned char)s[i];
		else
			goto bad;
	}
	san->san_len = len;
	return (0);
bad:
	xasprintf(cause, "'%s' is neither a DNS name nor an IP address", s);
	return (-1);
}

/* localhost, 127.0.0.1, ::1 and the extra names, without duplicates. */
static int
tls_sans_build(const char **extra, struct tls_san **out, size_t *outn,
    char **cause)
{
	static const char	*always[] = { "localhost", "127.0.0.1", "::1" };
	struct tls_san		*sans, san;
	size_t			 n = 0, max, i, j;

	max = 3;
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		max++;
	sans = xreallocarray(NULL, max, sizeof *sans);
	for (i = 0; i < max; i++) {
		if (tls_san_parse(i < 3 ? always[i] : extra[i - 3], &san,
		    cause) == -1) {
			free(sans);
			return (-1);
		}
		for (j = 0; j < n; j++)
			if (sans[j].san_tag == san.san_tag &&
			    sans[j].san_len == san.san_len &&
			    memcmp(sans[j].san_data, san.san_data,
			    san.san_len) == 0)
				break;
		if (j == n)
			sans[n++] = san;
	}
	*out = sans;
	*outn = n;
	return (0);
}

/* Does the certificate carry exactly these names? */
static int
tls_sans_match(const mbedtls_x509_crt *crt, const struct tls_san *sans,
    size_t n)
{
	const mbedtls_x509_sequence	*cur;
	size_t				 count = 0, i;

	for (cur = &crt->subject_alt_names; cur != NULL && cur->buf.p != NULL;
	    cur = cur->next) {
		for (i = 0; i < n; i++)
			if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
			    sans[i].san_tag) &&
			    cur->buf.len == sans[i].san_len &&
			    memcmp(cur->buf.p, sans[i].san_data,
			    sans[i].san_len) == 0)
				break;
		if (i == n)
			return (0);
		count++;
	}
	return (count == n);
}

/* "DNS:localhost, IP:127.0.0.1, ..." for the start-up log. */
static void
tls_sans_format(const mbedtls_x509_crt *crt, char *buf, size_t len)
{
	const mbedtls_x509_sequence	*cur;
	char				 one[300], ip[INET6_ADDRSTRLEN];
	size_t				 off = 0, n;

	buf[0] = '\0';
	for (cur = &crt->subject_alt_names; cur != NULL && cur->buf.p != NULL;
	    cur = cur->next) {
		n = cur->buf.len;
		if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    TLS_SAN_DNS) && n < 256)
			snprintf(one, sizeof one, "DNS:%.*s", (int)n,
			    (const char *)cur->buf.p);
		else if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    TLS_SAN_IP) && (n == 4 || n == 16) &&
		    inet_ntop(n == 4 ? AF_INET : AF_INET6, cur->buf.p, ip,
		    sizeof ip) != NULL)
			snprintf(one, sizeof one, "IP:%s", ip);
		else
			snprintf(one, sizeof one, "other");
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off == 0 ? "" : ", ", one);
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
}

/* --- Certificates --------------------------------------------------------- */

static time_t
tls_x509_time(const mbedtls_x509_time *t)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return (timegm(&tm));
}

static int
tls_expires_within(const mbedtls_x509_crt *crt, int days)
{
	return (tls_x509_time(&crt->valid_to) - time(NULL) <
	    (time_t)days * TLS_DAY);
}

/* PEM text of one DER certificate. */
static char *
tls_der_pem(const unsigned char *der, size_t len)
{
	unsigned char	*buf;
	size_t		 size = len * 2 + 128, olen;

	buf = xmalloc(size);
	if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	    "-----END CERTIFICATE-----\n", der, len, buf, size, &olen) != 0)
		fatalx("tls: cannot encode a certificate as PEM");
	return ((char *)buf);
}

static int
tls_genkey(struct tls_cfg *cf, mbedtls_pk_context *key, char **cause)
{
	int	r;

	r = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (r == 0)
		r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
		    mbedtls_pk_ec(*key), mbedtls_ctr_drbg_random, &cf->cf_drbg);
	if (r != 0) {
		tls_cause(cause, r, "cannot generate a key");
		return (-1);
	}
	return (0);
}

/* Write one TLV (tag, length, bytes) backwards, as asn1write does. */
static int
tls_asn1_tlv(unsigned char **p, unsigned char *start, int tag,
    const unsigned char *data, size_t len)
{
	int	r, n;

	if ((n = mbedtls_asn1_write_raw_buffer(p, start, data, len)) < 0)
		return (n);
	if ((r = mbedtls_asn1_write_len(p, start, len)) < 0)
		return (r);
	n += r;
	if ((r = mbedtls_asn1_write_tag(p, start, (unsigned char)tag)) < 0)
		return (r);
	return (n + r);
}

/*
 * The subjectAltName value: a GeneralNames SEQUENCE.  mbedTLS 2.28 can
 * parse it but not write it, and verifying clients (Go, curl) ignore the CN.
 * Returns the length, written at the end of buf, or a negative mbedTLS error.
 */
static int
tls_san_der(const struct tls_san *sans, size_t n, unsigned char *buf,
    size_t size, unsigned char **start)
{
	unsigned char	*p = buf + size;
	size_t		 i, total = 0;
	int		 r;

	for (i = n; i-- > 0;) {
		r = tls_asn1_tlv(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    sans[i].san_tag, sans[i].san_data, sans[i].san_len);
		if (r < 0)
			return (r);
		total += (size_t)r;
	}
	if ((r = mbedtls_asn1_write_len(&p, buf, total)) < 0)
		return (r);
	total += (size_t)r;
	if ((r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE)) < 0)
		return (r);
	*start = p;
	return ((int)total + r);
}

/*
 * Close the n bytes written backwards before p (down to buf) as one
 * SEQUENCE: *start gets where it begins, the return its whole length, or
 * an mbedTLS error (< 0).
 */
static int
tls_asn1_seq(unsigned char *p, unsigned char *buf, int n,
    unsigned char **start)
{
	int	r;

	if ((r = mbedtls_asn1_write_len(&p, buf, (size_t)n)) < 0)
		return (r);
	n += r;
	if ((r = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE)) < 0)
		return (r);
	*start = p;
	return (n + r);
}

/* extendedKeyUsage = SEQUENCE { serverAuth }. */
static int
tls_eku_der(unsigned char *buf, size_t size, unsigned char **start)
{
	unsigned char	*p = buf + size;
	int		 n;

	if ((n = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))) < 0)
		return (n);
	return (tls_asn1_seq(p, buf, n, start));
}

/*
 * The keyIdentifier of crt's subjectKeyIdentifier, which the
 * authorityKeyIdentifier of what it issues must repeat: OpenSSL (curl,
 * Python) takes a mismatch to mean "not the issuer".  mbedTLS 2.28 derives
 * the AKI from the key (SHA-1), which is only one way to make an SKI (Go
 * 1.25 uses truncated SHA-256), and does not parse the SKI itself.
 * Returns 0 with *id pointing into crt, or -1 when it has none.
 */
static int
tls_crt_ski(const mbedtls_x509_crt *crt, const unsigned char **id,
    size_t *idlen)
{
	unsigned char	*p = crt->v3_ext.p, *end, *ext_end, *oid;
	size_t		 len, oidlen;
	int		 critical, r;

	if (p == NULL || crt->v3_ext.len == 0)
		return (-1);
	end = p + crt->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return (-1);
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return (-1);
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oidlen,
		    MBEDTLS_ASN1_OID) != 0)
			return (-1);
		oid = p;
		p += oidlen;
		if ((r = mbedtls_asn1_get_bool(&p, ext_end, &critical)) != 0 &&
		    r != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG)
			return (-1);
		if (mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0)
			return (-1);
		if (oidlen == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER)
		    && memcmp(oid, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
		    oidlen) == 0) {
			if (mbedtls_asn1_get_tag(&p, ext_end, &len,
			    MBEDTLS_ASN1_OCTET_STRING) != 0 || len == 0)
				return (-1);
			*id = p;
			*idlen = len;
			return (0);
		}
		p = ext_end;
	}
	return (-1);
}

/* authorityKeyIdentifier = SEQUENCE { [0] keyIdentifier }. */
static int
tls_aki_der(const unsigned char *id, size_t idlen, unsigned char *buf,
    size_t size, unsigned char **start)
{
	unsigned char	*p = buf + size;
	int		 n;

	if ((n = tls_asn1_tlv(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0, id,
	    idlen)) < 0)
		return (n);
	return (tls_asn1_seq(p, buf, n, start));
}

/*
 * The issuer name as the CA's subject reads, string types included:
 * mbedTLS writes the issuer from text as UTF8String, where Go (and so
 * cert-manager) and OpenSSL's default mask write PrintableString, and
 * verifiers match issuer to subject byte for byte.
 */
static void
tls_issuer_types(mbedtls_asn1_named_data *issuer,
    const mbedtls_x509_name *subject)
{
	mbedtls_asn1_named_data	*n;
	const mbedtls_x509_name	*s;

	for (n = issuer; n != NULL; n = n->next)
		for (s = subject; s != NULL; s = s->next)
			if (s->oid.p != NULL && s->oid.len == n->oid.len &&
			    s->val.len == n->val.len &&
			    memcmp(s->oid.p, n->oid.p, n->oid.len) == 0 &&
			    memcmp(s->val.p, n->val.p, n->val.len) == 0) {
				n->val.tag = s->val.tag;
				break;
			}
}

static void
tls_x509_date(time_t t, char out[16])
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/*
 * Issue a certificate for key, signed by issuer_key: a CA when sans is
 * NULL, else a server leaf with those names.  issuer_crt is the issuing
 * CA's certificate (its name's string types and its SKI are copied), or
 * NULL for a self-signed one.  Returns its PEM or NULL.
 */
static char *
tls_issue(struct tls_cfg *cf, mbedtls_pk_context *key, const char *subject,
    mbedtls_pk_context *issuer_key, const char *issuer,
    const mbedtls_x509_crt *issuer_crt, int days,
    const struct tls_san *sans, size_t nsans, char **cause)
{
	mbedtls_x509write_cert	 crt;
	mbedtls_mpi		 serial;
	unsigned char		*ext = NULL, *der, *pem = NULL, akibuf[128];
	const unsigned char	*ski;
	size_t			 extlen, skilen;
	char			 from[16], to[16];
	time_t			 now = time(NULL);
	int			 r, len;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	tls_x509_date(now - TLS_DAY, from);
	tls_x509_date(now + (time_t)days * TLS_DAY, to);

	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, key);
	mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
	if ((r = mbedtls_mpi_fill_random(&serial, 16, mbedtls_ctr_drbg_random,
	    &cf->cf_drbg)) != 0 ||
	    (r = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (r = mbedtls_x509write_crt_set_validity(&crt, from, to)) != 0 ||
	    (r = mbedtls_x509write_crt_set_subject_name(&crt, subject)) != 0 ||
	    (r = mbedtls_x509write_crt_set_issuer_name(&crt, issuer)) != 0 ||
	    (r = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0)
		goto fail;
	if (issuer_crt != NULL)
		tls_issuer_types(crt.issuer, &issuer_crt->subject);
	if (issuer_crt != NULL && tls_crt_ski(issuer_crt, &ski, &skilen) == 0 &&
	    skilen <= sizeof akibuf - 8) {
		if ((len = tls_aki_der(ski, skilen, akibuf, sizeof akibuf,
		    &der)) < 0) {
			r = len;
			goto fail;
		}
		if ((r = mbedtls_x509write_crt_set_extension(&crt,
		    MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), 0,
		    der, (size_t)len)) != 0)
			goto fail;
	} else if ((r = mbedtls_x509write_crt_set_authority_key_identifier(
	    &crt)) != 0)
		goto fail;

	if (sans == NULL) {
		if ((r = mbedtls_x509write_crt_set_basic_constraints(&crt, 1,
		    0)) != 0 ||
		    (r = mbedtls_x509write_crt_set_key_usage(&crt,
		    MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN))
		    != 0)
			goto fail;
	} else {
		if ((r = mbedtls_x509write_crt_set_basic_constraints(&crt, 0,
		    -1)) != 0 ||
		    (r = mbedtls_x509write_crt_set_key_usage(&crt,
		    MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0)
			goto fail;
		extlen = nsans * (sizeof sans->san_data + 8) + 16;
		ext = xmalloc(extlen);
		if ((len = tls_san_der(sans, nsans, ext, extlen, &der)) < 0) {
			r = len;
			goto fail;
		}
		if ((r = mbedtls_x509write_crt_set_extension(&crt,
		    MBEDTLS_OID_SUBJECT_ALT_NAME,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, der,
		    (size_t)len)) != 0)
			goto fail;
		if ((len = tls_eku_der(ext, extlen, &der)) < 0) {
			r = len;
			goto fail;
		}
		if ((r = mbedtls_x509write_crt_set_extension(&crt,
		    MBEDTLS_OID_EXTENDED_KEY_USAGE,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, der,
		    (size_t)len)) != 0)
			goto fail;
	}

	pem = xmalloc(TLS_PEM_MAX);
	if ((r = mbedtls_x509write_crt_pem(&crt, pem, TLS_PEM_MAX,
	    mbedtls_ctr_drbg_random, &cf->cf_drbg)) != 0)
		goto fail;
	goto out;

fail:
	tls_cause(cause, r, "cannot issue a certificate for %s", subject);
	free(pem);
	pem = NULL;
out:
	free(ext);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return ((char *)pem);
}

static char *
tls_key_pem(mbedtls_pk_context *key, char **cause)
{
	unsigned char	*pem;
	int		 r;

	pem = xmalloc(TLS_PEM_MAX);
	if ((r = mbedtls_pk_write_key_pem(key, pem, TLS_PEM_MAX)) != 0) {
		tls_cause(cause, r, "cannot encode a key");
		free(pem);
		return (NULL);
	}
	return ((char *)pem);
}

/* Replace dir/name with data in one rename(), so a crash never leaves half
 * a key.  mkstemp() creates the file 0600, so keys are never readable. */
static int
tls_write_file(const char *dir, const char *name, const char *data,
    mode_t mode, char **cause)
{
	char	*path, *tmp;
	size_t	 len = strlen(data);
	int	 fd, saved;

	xasprintf(&path, "%s/%s", dir, name);
	xasprintf(&tmp, "%s/.%s.XXXXXX", dir, name);
	if ((fd = mkstemp(tmp)) == -1)
		goto fail;
	if (fchmod(fd, mode) == -1)
		goto fail;
	if (util_write_all(fd, data, len) == -1)
		goto fail;
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	free(tmp);
	free(path);
	return (0);

fail:
	saved = errno;
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	} else
		unlink(tmp);
	xasprintf(cause, "%s: %s", path, strerror(saved));
	free(tmp);
	free(path);
	errno = saved;
	return (-1);
}

static int
tls_exists(const char *dir, const char *name)
{
	char	*path;
	int	 r;

	xasprintf(&path, "%s/%s", dir, name);
	r = access(path, F_OK) == 0;
	free(path);
	return (r);
}

/* Can path be read?  mbedTLS says only "PK - Read/write of file failed"
 * for a missing file: say which file, and why, in the system's words. */
static int
tls_readable(const char *path, const char *what, char **cause)
{
	FILE	*f;

	if ((f = fopen(path, "rb")) == NULL) {
		xasprintf(cause, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return (-1);
	}
	fclose(f);
	return (0);
}

/* Load a certificate chain and its private key from PEM files. */
static int
tls_load_pair(mbedtls_x509_crt *crt, mbedtls_pk_context *key,
    const char *crtpath, const char *keypath, char **cause)
{
	int	r;

	if (tls_readable(crtpath, "the certificate", cause) == -1 ||
	    tls_readable(keypath, "the private key", cause) == -1)
		return (-1);
	if ((r = mbedtls_x509_crt_parse_file(crt, crtpath)) != 0) {
		if (r > 0)
			xasprintf(cause, "%s: %d certificates do not parse",
			    crtpath, r);
		else
			tls_cause(cause, r, "%s", crtpath);
		return (-1);
	}
	if ((r = mbedtls_pk_parse_keyfile(key, keypath, NULL)) != 0) {
		tls_cause(cause, r, "%s", keypath);
		return (-1);
	}
	if ((r = mbedtls_pk_check_pair(&crt->pk, key)) != 0) {
		tls_cause(cause, r, "the private key %s does not match the "
		    "certificate %s", keypath, crtpath);
		return (-1);
	}
	return (0);
}

/* Why the leaf in dir must be issued again, or NULL when it can be served.
 * Leaves it loaded in cf either way. */
static const char *
tls_leaf_check(struct tls_cfg *cf, const char *dir, mbedtls_x509_crt *ca,
    const struct tls_san *sans, size_t nsans)
{
	char		*crtpath, *keypath, *cause = NULL;
	const char	*why = NULL;
	uint32_t	 flags;

	if (!tls_exists(dir, "cert.pem") || !tls_exists(dir, "key.pem"))
		return ("none found");
	xasprintf(&crtpath, "%s/cert.pem", dir);
	xasprintf(&keypath, "%s/key.pem", dir);
	if (tls_load_pair(&cf->cf_chain, &cf->cf_key, crtpath, keypath,
	    &cause) == -1) {
		log_warnx("tls: %s", cause);
		why = "it cannot be used";
	} else if (tls_expires_within(&cf->cf_chain, TLS_RENEW_DAYS))
		why = "it expires within 30 days";
	else if (mbedtls_x509_crt_verify(&cf->cf_chain, ca, NULL, NULL, &flags,
	    NULL, NULL) != 0)
		why = "the CA did not issue it";
	else if (!tls_sans_match(&cf->cf_chain, sans, nsans))
		why = "the requested names changed";
	free(cause);
	free(keypath);
	free(crtpath);
	return (why);
}

/*
 * The generated certificates in dir: a CA (ca.pem, ca-key.pem) and a leaf it
 * signed (cert.pem, key.pem).  Reuse what is there; make a CA if there is
 * none, and issue the leaf again when its names changed or it is about to
 * expire.  The leaf and its key end up in cf, the CA's PEM in *ca_pem.
 */
static int
tls_state_load(struct tls_cfg *cf, const char *dir, const char **extra,
    char **ca_pem, char **cause)
{
	mbedtls_x509_crt	 ca;
	mbedtls_pk_context	 cakey;
	struct tls_san		*sans = NULL;
	size_t			 nsans;
	char			*capath, *cakeypath;
	char			*pem = NULL, *keypem = NULL;
	char			 issuer[256];
	const char		*why = NULL;
	int			 have_crt, have_key, rv = -1, r;

	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&cakey);
	xasprintf(&capath, "%s/ca.pem", dir);
	xasprintf(&cakeypath, "%s/ca-key.pem", dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (tls_sans_build(extra, &sans, &nsans, cause) == -1)
		goto out;

	/* A CA the user may have trusted is never replaced silently. */
	have_crt = tls_exists(dir, "ca.pem");
	have_key = tls_exists(dir, "ca-key.pem");
	if (have_crt != have_key) {
		xasprintf(cause, "%s exists but %s does not: remove it to make "
		    "a new CA", have_crt ? capath : cakeypath,
		    have_crt ? cakeypath : capath);
		goto out;
	}
	if (have_crt) {
		if (tls_load_pair(&ca, &cakey, capath, cakeypath, cause) == -1)
			goto out;
		if (tls_expires_within(&ca, TLS_RENEW_DAYS)) {
			log_warnx("tls: %s expires within %d days: making a "
			    "new CA, which clients must trust again", capath,
			    TLS_RENEW_DAYS);
			mbedtls_x509_crt_free(&ca);
			mbedtls_x509_crt_init(&ca);
			mbedtls_pk_free(&cakey);
			mbedtls_pk_init(&cakey);
			have_crt = 0;
		}
	}
	if (!have_crt) {
		if (tls_genkey(cf, &cakey, cause) == -1 ||
		    (keypem = tls_key_pem(&cakey, cause)) == NULL ||
		    (pem = tls_issue(cf, &cakey, TLS_CA_SUBJECT, &cakey,
		    TLS_CA_SUBJECT, NULL, TLS_CA_DAYS, NULL, 0, cause)) == NULL)
			goto out;
		if (tls_write_file(dir, "ca-key.pem", keypem, 0600,
		    cause) == -1 ||
		    tls_write_file(dir, "ca.pem", pem, 0644, cause) == -1)
			goto out;
		if ((r = mbedtls_x509_crt_parse(&ca, (unsigned char *)pem,
		    strlen(pem) + 1)) != 0) {
			tls_cause(cause, r, "%s", capath);
			goto out;
		}
		log_info("tls: created CA %s", capath);
		free(pem);
		free(keypem);
		pem = keypem = NULL;
	}

	if ((why = tls_leaf_check(cf, dir, &ca, sans, nsans)) != NULL) {
		mbedtls_x509_crt_free(&cf->cf_chain);
		mbedtls_x509_crt_init(&cf->cf_chain);
		mbedtls_pk_free(&cf->cf_key);
		mbedtls_pk_init(&cf->cf_key);
		if (mbedtls_x509_dn_gets(issuer, sizeof issuer,
		    &ca.subject) < 0) {
			xasprintf(cause, "%s: cannot read the subject", capath);
			goto out;
		}
		if (tls_genkey(cf, &cf->cf_key, cause) == -1 ||
		    (keypem = tls_key_pem(&cf->cf_key, cause)) == NULL ||
		    (pem = tls_issue(cf, &cf->cf_key, TLS_LEAF_SUBJECT, &cakey,
		    issuer, &ca, TLS_LEAF_DAYS, sans, nsans, cause)) == NULL)
			goto out;
		if (tls_write_file(dir, "key.pem", keypem, 0600, cause) == -1 ||
		    tls_write_file(dir, "cert.pem", pem, 0644, cause) == -1)
			goto out;
		if ((r = mbedtls_x509_crt_parse(&cf->cf_chain,
		    (unsigned char *)pem, strlen(pem) + 1)) != 0) {
			tls_cause(cause, r, "%s/cert.pem", dir);
			goto out;
		}
		log_info("tls: issued %s/cert.pem (%s)", dir, why);
	}
	*ca_pem = tls_der_pem(ca.raw.p, ca.raw.len);
	rv = 0;

out:
	free(pem);
	free(keypem);
	free(sans);
	free(cakeypath);
	free(capath);
	mbedtls_pk_free(&cakey);
	mbedtls_x509_crt_free(&ca);
	return (rv);
}

/* --cert/--key given: serve that chain; clients trust its last certificate. */
static int
tls_load_given(struct tls_cfg *cf, const struct tls_server_options *o,
    char **ca_pem, char **cause)
{
	mbedtls_x509_crt	*last;

	if (o->key_file == NULL) {
		xasprintf(cause, "--tls-cert %s needs --tls-key (its private "
		    "key) as well", o->cert_file);
		return (-1);
	}
	if (tls_load_pair(&cf->cf_chain, &cf->cf_key, o->cert_file,
	    o->key_file, cause) == -1)
		return (-1);
	for (last = &cf->cf_chain; last->next != NULL &&
	    last->next->raw.p != NULL; last = last->next)
		;
	*ca_pem = tls_der_pem(last->raw.p, last->raw.len);
	return (0);
}

static int
tls_self_signed(const mbedtls_x509_crt *crt)
{
	return (crt->issuer_raw.len == crt->subject_raw.len &&
	    memcmp(crt->issuer_raw.p, crt->subject_raw.p,
	    crt->subject_raw.len) == 0);
}

/*
 * --tls-ca-cert/--tls-ca-key given (say, a Kubernetes Secret mounted
 * read-only): issue a fresh leaf for the names from that CA at every start
 * and keep it in memory only.  Nothing is written, so a restart with an
 * empty state directory serves a leaf that clients trusting the same CA
 * still accept.  Clients trust the last certificate of the CA file.
 */
static int
tls_issue_from_ca(struct tls_cfg *cf, const struct tls_server_options *o,
    char **ca_pem, char **cause)
{
	mbedtls_x509_crt	 ca;
	const mbedtls_x509_crt	*c, *last;
	mbedtls_pk_context	 cakey;
	struct tls_san		*sans = NULL;
	size_t			 nsans;
	char			*pem = NULL, issuer[512];
	int			 rv = -1, r;

	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&cakey);
	if (o->ca_key_file == NULL || o->ca_cert_file == NULL) {
		xasprintf(cause, "--tls-ca-cert and --tls-ca-key go together: "
		    "%s given alone", o->ca_key_file == NULL ?
		    "--tls-ca-cert" : "--tls-ca-key");
		goto out;
	}
	if (tls_readable(o->ca_cert_file, "the CA certificate", cause) == -1 ||
	    tls_readable(o->ca_key_file, "the CA key", cause) == -1)
		goto out;
	if ((r = mbedtls_x509_crt_parse_file(&ca, o->ca_cert_file)) != 0) {
		if (r > 0)
			xasprintf(cause, "CA certificate %s: %d certificates "
			    "do not parse", o->ca_cert_file, r);
		else
			tls_cause(cause, r, "CA certificate %s",
			    o->ca_cert_file);
		goto out;
	}
	if ((r = mbedtls_pk_parse_keyfile(&cakey, o->ca_key_file,
	    NULL)) != 0) {
		tls_cause(cause, r, "CA key %s", o->ca_key_file);
		goto out;
	}
	if ((r = mbedtls_pk_check_pair(&ca.pk, &cakey)) != 0) {
		xasprintf(cause, "CA key %s does not match the CA certificate "
		    "%s", o->ca_key_file, o->ca_cert_file);
		goto out;
	}
	if (!ca.ca_istrue || mbedtls_x509_crt_check_key_usage(&ca,
	    MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
		xasprintf(cause, "CA certificate %s is not a CA (it needs "
		    "basicConstraints CA:TRUE and, if it has a key usage, "
		    "keyCertSign)", o->ca_cert_file);
		goto out;
	}
	if (mbedtls_x509_time_is_past(&ca.valid_to)) {
		xasprintf(cause, "CA certificate %s expired on "
		    "%04d-%02d-%02d", o->ca_cert_file, ca.valid_to.year,
		    ca.valid_to.mon, ca.valid_to.day);
		goto out;
	}
	if (tls_sans_build(o->sans, &sans, &nsans, cause) == -1)
		goto out;
	if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.subject) < 0) {
		xasprintf(cause, "CA certificate %s: cannot read its subject",
		    o->ca_cert_file);
		goto out;
	}
	if (tls_genkey(cf, &cf->cf_key, cause) == -1 ||
	    (pem = tls_issue(cf, &cf->cf_key, TLS_LEAF_SUBJECT, &cakey, issuer,
	    &ca, TLS_LEAF_DAYS, sans, nsans, cause)) == NULL)
		goto out;
	if ((r = mbedtls_x509_crt_parse(&cf->cf_chain, (unsigned char *)pem,
	    strlen(pem) + 1)) != 0) {
		tls_cause(cause, r, "the issued certificate");
		goto out;
	}
	/* Verifiers such as Go match the issuer to the CA byte for byte. */
	if (cf->cf_chain.issuer_raw.len != ca.subject_raw.len ||
	    memcmp(cf->cf_chain.issuer_raw.p, ca.subject_raw.p,
	    ca.subject_raw.len) != 0) {
		xasprintf(cause, "CA certificate %s: its subject (%s) cannot be "
		    "written back byte for byte; use a CA made by 'notimock ca "
		    "create'", o->ca_cert_file, issuer);
		goto out;
	}
	/* An intermediate CA (and any above it that is not the root) goes
	 * out with the leaf. */
	last = &ca;
	for (c = &ca; c != NULL && c->raw.p != NULL; c = c->next) {
		last = c;
		if (!tls_self_signed(c) && (r = mbedtls_x509_crt_parse_der(
		    &cf->cf_chain, c->raw.p, c->raw.len)) != 0) {
			tls_cause(cause, r, "CA certificate %s",
			    o->ca_cert_file);
			goto out;
		}
	}
	*ca_pem = tls_der_pem(last->raw.p, last->raw.len);
	log_info("tls: issued the serving certificate from CA %s (kept in "
	    "memory only)", o->ca_cert_file);
	rv = 0;

out:
	free(pem);
	free(sans);
	mbedtls_pk_free(&cakey);
	mbedtls_x509_crt_free(&ca);
	return (rv);
}

/* One line a user can check a client against: names, expiry, fingerprint. */
static void
tls_log_cert(const mbedtls_x509_crt *crt)
{
	unsigned char	 sum[32];
	char		 subject[256], sans[1024], fp[32 * 3];
	size_t		 i;

	mbedtls_sha256_ret(crt->raw.p, crt->raw.len, sum, 0);
	for (i = 0; i < sizeof sum; i++)
		snprintf(fp + i * 3, sizeof fp - i * 3, "%02X%s", sum[i],
		    i + 1 < sizeof sum ? ":" : "");
	if (mbedtls_x509_dn_gets(subject, sizeof subject, &crt->subject) < 0)
		snprintf(subject, sizeof subject, "?");
	tls_sans_format(crt, sans, sizeof sans);
	log_info("tls: serving %s (%s), expires %04d-%02d-%02d, SHA-256 %s",
	    subject, sans, crt->valid_to.year, crt->valid_to.mon,
	    crt->valid_to.day, fp);
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

/* Tell evhttp the connection is over (pitfall 4: deferred, or evhttp
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
	char		 peer[128], emethod[80], eurl[1200], *body, *reply;
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
	xasprintf(&body, "{\"error\":{\"name\":\"InputError\",\"message\":"
	    "\"This port speaks TLS: use https://\"},\"request\":{\"method\":"
	    "\"%s\",\"url\":\"%s\"},\"response\":{\"statusCode\":400}}",
	    method, jurl);
	xasprintf(&reply, "HTTP/1.1 400 Bad Request\r\n"
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
	free(reply);
	free(body);
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

	c = xcalloc(1, sizeof *c);
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
	int		 rv = -1;

	if ((cf = tls_cfg_new(0, cause)) == NULL)
		return (-1);
	if (o->cert_file == NULL && o->key_file != NULL)
		xasprintf(cause, "--tls-key %s needs --tls-cert (the "
		    "certificate it belongs to) as well", o->key_file);
	else if (o->cert_file != NULL && (o->ca_cert_file != NULL ||
	    o->ca_key_file != NULL))
		xasprintf(cause, "--tls-cert and --tls-ca-cert exclude each "
		    "other: serve a certificate, or have one issued from a CA");
	else if (o->cert_file != NULL)
		rv = tls_load_given(cf, o, &pem, cause);
	else if (o->ca_cert_file != NULL || o->ca_key_file != NULL)
		rv = tls_issue_from_ca(cf, o, &pem, cause);
	else
		rv = 0;		/* generated at start, beside the database */
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
	if ((srv->ts_cfg = tls_cfg_new(0, cause)) == NULL)
		goto fail;
	if (o->cert_file != NULL && (o->ca_cert_file != NULL ||
	    o->ca_key_file != NULL)) {
		xasprintf(cause, "--tls-cert and --tls-ca-cert exclude each "
		    "other: serve a certificate, or have one issued from a CA");
		goto fail;
	}
	if (o->cert_file == NULL && o->key_file != NULL) {
		xasprintf(cause, "--tls-key %s needs --tls-cert (the "
		    "certificate it belongs to) as well", o->key_file);
		goto fail;
	}
	if (o->cert_file != NULL) {
		if (tls_load_given(srv->ts_cfg, o, &srv->ts_ca_pem,
		    cause) == -1)
			goto fail;
	} else if (o->ca_cert_file != NULL || o->ca_key_file != NULL) {
		if (tls_issue_from_ca(srv->ts_cfg, o, &srv->ts_ca_pem,
		    cause) == -1)
			goto fail;
	} else if (o->state_dir == NULL) {
		xasprintf(cause, "no certificate and no directory to keep a "
		    "generated one in");
		goto fail;
	} else if (tls_state_load(srv->ts_cfg, o->state_dir, o->sans,
	    &srv->ts_ca_pem, cause) == -1)
		goto fail;
	if (tls_conf(srv->ts_cfg, cause) == -1)
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

int
tls_ca_create(char **crt_pem, char **key_pem, char **cause)
{
	struct tls_cfg		*cf;
	mbedtls_pk_context	 key;
	int			 rv = -1;

	*crt_pem = *key_pem = NULL;
	mbedtls_pk_init(&key);
	if ((cf = tls_cfg_new(0, cause)) == NULL)
		return (-1);
	if (tls_genkey(cf, &key, cause) == -1 ||
	    (*key_pem = tls_key_pem(&key, cause)) == NULL ||
	    (*crt_pem = tls_issue(cf, &key, TLS_CA_SUBJECT, &key,
	    TLS_CA_SUBJECT, NULL, TLS_CA_DAYS, NULL, 0, cause)) == NULL) {
		free(*key_pem);
		*key_pem = NULL;
		goto out;
	}
	rv = 0;
out:
	mbedtls_pk_free(&key);
	tls_cfg_unref(cf);
	return (rv);
}

/*
 * Only the certificates: mbedTLS skips any text around and between the
 * PEM blocks, and that text would otherwise travel on (into a YAML block
 * scalar, where a U+2028 or NEL ends the line, or onto a terminal).
 */
char *
tls_pem_certs(const char *pem, int want_ca, char **cause)
{
	mbedtls_x509_crt	 crt;
	const mbedtls_x509_crt	*c;
	struct evbuffer		*out = NULL;
	char			*one, *res = NULL;
	int			 r;

	mbedtls_x509_crt_init(&crt);
	if (strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		xasprintf(cause, "not a PEM certificate");
		goto out;
	}
	if ((r = mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem,
	    strlen(pem) + 1)) != 0) {
		if (r > 0)
			xasprintf(cause, "%d certificates do not parse", r);
		else
			tls_cause(cause, r, "the certificate does not parse");
		goto out;
	}
	if (want_ca && !crt.ca_istrue) {
		xasprintf(cause, "the certificate is not a CA (no "
		    "basicConstraints CA:TRUE)");
		goto out;
	}
	if ((out = evbuffer_new()) == NULL)
		fatalx("tls: out of memory");
	for (c = &crt; c != NULL && c->raw.p != NULL; c = c->next) {
		one = tls_der_pem(c->raw.p, c->raw.len);
		evbuffer_add(out, one, strlen(one));
		free(one);
	}
	res = util_evbuffer_str(out, NULL);
out:
	if (out != NULL)
		evbuffer_free(out);
	mbedtls_x509_crt_free(&crt);
	return (res);
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
