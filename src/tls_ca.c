/*
 * tls_ca.c: the certificates the server presents, with mbedTLS: the
 * generated CA and the leaf it issues (kept in the state directory), a
 * leaf issued at every start from a CA the user gives, or the user's own
 * chain; and `notimock ca`'s fresh CA and certificate filtering.
 * The connections that present them are tls.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "util.h"
#include "xmalloc.h"

#define TLS_PEM_MAX	16384
#define TLS_DAY		86400
#define TLS_CA_DAYS	3650
#define TLS_LEAF_DAYS	365
#define TLS_RENEW_DAYS	30
#define TLS_CA_SUBJECT	"CN=notimock CA"
#define TLS_LEAF_SUBJECT "CN=localhost"

/* --- Names (subjectAltName) ---------------------------------------------- */

/* Parse a DNS name or an IP literal ("::1" or "[::1]"). */
int
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

/*
 * The serving certificate and key into cf as o asks, and the PEM clients
 * should trust in *ca_pem: --tls-cert's chain, a leaf issued from
 * --tls-ca-cert, or (unless check_only, which writes nothing) the
 * generated ones in o->state_dir.
 */
int
tls_ca_serving(struct tls_cfg *cf, const struct tls_server_options *o,
    int check_only, char **ca_pem, char **cause)
{
	if (o->cert_file == NULL && o->key_file != NULL) {
		xasprintf(cause, "--tls-key %s needs --tls-cert (the "
		    "certificate it belongs to) as well", o->key_file);
		return (-1);
	}
	if (o->cert_file != NULL && (o->ca_cert_file != NULL ||
	    o->ca_key_file != NULL)) {
		xasprintf(cause, "--tls-cert and --tls-ca-cert exclude each "
		    "other: serve a certificate, or have one issued from a CA");
		return (-1);
	}
	if (o->cert_file != NULL)
		return (tls_load_given(cf, o, ca_pem, cause));
	if (o->ca_cert_file != NULL || o->ca_key_file != NULL)
		return (tls_issue_from_ca(cf, o, ca_pem, cause));
	if (check_only)
		return (0);	/* generated at start, beside the database */
	if (o->state_dir == NULL) {
		xasprintf(cause, "no certificate and no directory to keep a "
		    "generated one in");
		return (-1);
	}
	return (tls_state_load(cf, o->state_dir, o->sans, ca_pem, cause));
}

/* One line a user can check a client against: names, expiry, fingerprint. */
void
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

/* --- notimock ca ---------------------------------------------------------- */

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
