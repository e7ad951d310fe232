/*
 * db_pack.c: a delivery's large texts, packed (issue 11: a delivery must
 * cost at most 1 KB of disk).
 *
 * Seven fields of a delivery are never looked at by SQL, only by C once a
 * row is read: the headers, body, response, payload, recipients, users and
 * diagnoses.  Most of their bytes repeat, within a row (the payload is
 * inside the body and again inside the response) and across rows (the same
 * headers, the same JSON keys, a diagnosis's prose, the same application's
 * title and link).  So a row stores them as one BLOB, `packed`: the raw
 * deflate (RFC 1951, zlib) of the fields framed as below, with a preset
 * dictionary: the last DB_PACK_DICT_MAX bytes of recent rows' framed
 * fields, kept in the table pack_dicts and named by the row's `dict`.  A
 * guide-like delivery of ~1.5 KB packs to ~100 bytes.
 *
 *	packed	= varint(raw length) deflate(raw)
 *	raw	= 7 x (u32le length, or 0xffffffff for NULL; the bytes)
 *
 * A dictionary is made from the first row, and again when a row packs
 * poorly (more than a quarter of its raw size and DB_PACK_POOR bytes) and
 * enough rows have used the current one: 8 for the first new one since
 * start, twice as many for each next, DB_PACK_RENEW at most.  So traffic
 * that changes shape soon brings a dictionary that fits it (a duplicate
 * send's diagnosis only appears from the second row on), and a store of
 * ever-changing rows makes at most one per DB_PACK_RENEW deliveries.
 * Dictionaries are small (4 KiB) and never deleted.  Unpacking
 * gives back the very bytes packed; db_row_record() and notimock_filter()
 * unpack, so nothing above db_*.c sees the difference.  Rows written
 * before schema 6 keep the plain columns (packed is NULL) and are read as
 * they were.  tests/e2e/conftest.py (stored_delivery) unpacks the same
 * way in Python.
 *
 * The cost, on the loop, per delivery (issue 11's hot path): loading a
 * 4 KiB dictionary into a fresh deflate stream took as long as deflating
 * the row, and level 6's lazy matching as long again.  So one stream is
 * primed with the current dictionary once (db_pack_prime) and each row is
 * deflated by a copy of it (deflateCopy), at level 3 with an 8 KiB window
 * (a dictionary and a typical row fit in it; inflate's 32 KiB window reads
 * any smaller one, so rows packed before read as they were): about half
 * the CPU, for ~6 % more packed bytes (tests/bench/run; zlib's figures
 * in README's Performance).  A copy duplicates the whole stream state,
 * so memLevel 4 keeps it small (a 2 K-entry hash and a 1 K-symbol block
 * buffer, ample for a row: 40 KiB copied, not 64) and its buffers come
 * from an arena (db_pack_zalloc).  Level 1 packed 2 % more bytes for no
 * measurable CPU here, and zstd with the same dictionary took ~5 us a row
 * to zlib's ~9.5 for 3 % more bytes (README: not worth a new format).
 *
 * A dictionary is written in the iteration's transaction, by the row that
 * needs it.  If that transaction rolls back, its number may be handed out
 * again for other bytes, so db_pack_forget() drops every dictionary held
 * in memory.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <zlib.h>

#include "db.h"
#include "db_int.h"
#include "json.h"
#include "xmalloc.h"

#define DB_PACK_FIELDS		7
#define DB_PACK_DICT_MAX	4096
#define DB_PACK_RENEW		256
#define DB_PACK_POOR		128
#define DB_PACK_CACHE		4
#define DB_PACK_NULL		0xffffffffU
#define DB_PACK_LEVEL		3	/* see above */
#define DB_PACK_WBITS		13	/* an 8 KiB window */
#define DB_PACK_MEMLEVEL	4	/* hash and buffers to match it */
#define DB_PACK_ARENA		(64 * 1024)	/* a copy's buffers (~42 KiB) */

struct db_pack_dict {
	int64_t		 id;		/* 0: empty slot */
	unsigned char	*bytes;
	size_t		 len;
};

struct db_pack {
	z_stream		 primed;	/* cur loaded, nothing deflated */
	int64_t			 primed_id;	/* its dictionary, 0: none */
	int			 primed_ok;	/* deflateInit2 done */
	z_stream		 inf;
	int			 inf_ok;
	struct db_pack_dict	 cur;		/* the one new rows use */
	int			 uses;		/* rows packed with cur */
	int			 renew;		/* uses before a new one */
	struct db_pack_dict	 cache[DB_PACK_CACHE];	/* for reading */
	size_t			 next;		/* cache slot to replace */
	unsigned char		 recent[DB_PACK_DICT_MAX];
	size_t			 recent_len;
	unsigned char		*raw, *out;
	size_t			 raw_cap, out_cap;
	unsigned char		*arena;		/* the copy's buffers */
	size_t			 arena_used;	/* handed out, this copy */
	int			 arena_on;	/* during deflateCopy */
};

/*
 * zlib's allocator for the primed stream and its copies.  A copy's five
 * buffers (its state, window, hash chains and output) come from one arena
 * reused for every row, not from malloc: five malloc/free pairs of up to
 * 16 KiB per row, and the heap consolidation their frees set off, were
 * ~4 % of the loop's CPU under POSTs (issue 11).  Only what deflateCopy
 * asks for while arena_on is set comes from it; the primed stream's own
 * buffers, and anything past the arena's end, come from calloc.
 */
static voidpf
db_pack_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct db_pack	*p = opaque;
	size_t		 n = ((size_t)items * size + 63) & ~(size_t)63;
	voidpf		 v;

	if (p->arena_on && p->arena != NULL &&
	    n <= DB_PACK_ARENA - p->arena_used) {
		v = p->arena + p->arena_used;
		p->arena_used += n;
		return (v);
	}
	return (calloc(items, size));
}

static void
db_pack_zfree(voidpf opaque, voidpf v)
{
	struct db_pack	*p = opaque;
	unsigned char	*b = v;

	if (p->arena != NULL && b >= p->arena && b < p->arena + DB_PACK_ARENA)
		return;		/* the arena's: reused by the next copy */
	free(v);
}

int
db_pack_open(struct db *db, char **cause)
{
	struct db_pack	*p;

	p = xcalloc(1, sizeof *p);
	p->renew = 8;
	db->pack = p;
	if (inflateInit2(&p->inf, -15) != Z_OK) {
		xasprintf(cause, "zlib: cannot start (%s)", zlibVersion());
		return (-1);
	}
	p->inf_ok = 1;
	return (0);
}

static void
db_pack_dict_clear(struct db_pack_dict *d)
{
	free(d->bytes);
	memset(d, 0, sizeof *d);
}

void
db_pack_forget(struct db *db)
{
	struct db_pack	*p = db->pack;
	size_t		 i;

	if (p == NULL)
		return;
	db_pack_dict_clear(&p->cur);
	for (i = 0; i < DB_PACK_CACHE; i++)
		db_pack_dict_clear(&p->cache[i]);
	p->uses = 0;
	p->primed_id = 0;	/* that number may name other bytes next */
}

void
db_pack_close(struct db *db)
{
	struct db_pack	*p = db->pack;

	if (p == NULL)
		return;
	db_pack_forget(db);
	if (p->primed_ok)
		deflateEnd(&p->primed);
	if (p->inf_ok)
		inflateEnd(&p->inf);
	free(p->raw);
	free(p->out);
	free(p->arena);
	free(p);
	db->pack = NULL;
}

/* Append one field to p->raw at *len. */
static void
db_pack_field(struct db_pack *p, size_t *len, const void *v, size_t n)
{
	uint32_t	u = v == NULL ? DB_PACK_NULL : (uint32_t)n;
	size_t		need = *len + 4 + (v == NULL ? 0 : n);
	int		i;

	if (need > p->raw_cap) {
		p->raw_cap = need * 2;
		p->raw = xreallocarray(p->raw, p->raw_cap, 1);
	}
	for (i = 0; i < 4; i++)
		p->raw[(*len)++] = (unsigned char)(u >> (8 * i));
	if (v != NULL && n > 0) {
		memcpy(p->raw + *len, v, n);
		*len += n;
	}
}

/* p->primed: a stream with dictionary d loaded.  -1 if zlib fails. */
static int
db_pack_prime(struct db_pack *p, const struct db_pack_dict *d)
{
	if (p->primed_ok && p->primed_id == d->id)
		return (0);
	if (p->primed_ok)
		deflateEnd(&p->primed);
	p->primed_ok = 0;
	p->primed_id = 0;
	memset(&p->primed, 0, sizeof p->primed);
	p->primed.zalloc = db_pack_zalloc;
	p->primed.zfree = db_pack_zfree;
	p->primed.opaque = p;
	if (p->arena == NULL)
		p->arena = xmalloc(DB_PACK_ARENA);
	if (deflateInit2(&p->primed, DB_PACK_LEVEL, Z_DEFLATED,
	    -DB_PACK_WBITS, DB_PACK_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return (-1);
	p->primed_ok = 1;
	if (deflateSetDictionary(&p->primed, d->bytes, (uInt)d->len) != Z_OK)
		return (-1);
	p->primed_id = d->id;
	return (0);
}

/* Deflate p->raw (len bytes) with dictionary d into p->out, on a copy of
 * the primed stream; the packed size, or 0 on failure. */
static size_t
db_pack_deflate(struct db_pack *p, size_t len, const struct db_pack_dict *d)
{
	z_stream s;
	size_t	 cap, n = 0;
	uint64_t v = len;
	int	 rc;

	if (db_pack_prime(p, d) == -1)
		return (0);
	cap = deflateBound(&p->primed, (uLong)len) + 10;
	if (cap > p->out_cap) {
		p->out_cap = cap;
		p->out = xreallocarray(p->out, cap, 1);
	}
	do {
		p->out[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			p->out[n] |= 0x80;
		n++;
	} while (v != 0);
	p->arena_used = 0;
	p->arena_on = 1;
	rc = deflateCopy(&s, &p->primed);
	p->arena_on = 0;
	if (rc != Z_OK)
		return (0);
	s.next_in = p->raw;
	s.avail_in = (uInt)len;
	s.next_out = p->out + n;
	s.avail_out = (uInt)(cap - n);
	rc = deflate(&s, Z_FINISH);
	n = cap - s.avail_out;
	deflateEnd(&s);
	return (rc == Z_STREAM_END ? n : 0);
}

/* A new dictionary from the recent rows and this one (raw, len), stored
 * in the open transaction; it becomes p->cur. */
static int
db_pack_new_dict(struct db *db, size_t len)
{
	struct db_pack	*p = db->pack;
	sqlite3_stmt	*st = db->st[ST_PACK_DICT_ADD];
	unsigned char	*d;
	size_t		 n, from_raw;

	from_raw = len < DB_PACK_DICT_MAX ? len : DB_PACK_DICT_MAX;
	n = p->recent_len + from_raw;
	if (n > DB_PACK_DICT_MAX)
		n = DB_PACK_DICT_MAX;
	d = xmalloc(n);
	/* Nearest last: deflate finds the closest matches cheapest. */
	memcpy(d, p->recent + p->recent_len - (n - from_raw), n - from_raw);
	memcpy(d + (n - from_raw), p->raw + len - from_raw, from_raw);
	sqlite3_bind_blob(st, 1, d, (int)n, SQLITE_STATIC);
	if (db_step_done(db, st, "storing a dictionary") == -1) {
		free(d);
		return (-1);
	}
	db_pack_dict_clear(&p->cur);
	p->cur.id = sqlite3_last_insert_rowid(db->h);
	p->cur.bytes = d;
	p->cur.len = n;
	p->uses = 0;
	return (0);
}

/* Keep the last DB_PACK_DICT_MAX bytes of the rows packed. */
static void
db_pack_remember(struct db_pack *p, size_t len)
{
	size_t	keep;

	if (len >= DB_PACK_DICT_MAX) {
		memcpy(p->recent, p->raw + len - DB_PACK_DICT_MAX,
		    DB_PACK_DICT_MAX);
		p->recent_len = DB_PACK_DICT_MAX;
		return;
	}
	keep = DB_PACK_DICT_MAX - len;
	if (p->recent_len > keep) {
		memmove(p->recent, p->recent + p->recent_len - keep, keep);
		p->recent_len = keep;
	}
	memcpy(p->recent + p->recent_len, p->raw, len);
	p->recent_len += len;
}

int
db_pack(struct db *db, const struct db_delivery *d, const void **out,
    size_t *outlen, int64_t *dict)
{
	struct db_pack	*p = db->pack;
	size_t		 len = 0, n;
	const char	*s;

	s = d->headers ? d->headers : "[]";
	db_pack_field(p, &len, s, strlen(s));
	db_pack_field(p, &len, d->body_len ? d->body : "", d->body_len);
	db_pack_field(p, &len, d->response ? d->response : "",
	    d->response ? d->response_len : 0);
	db_pack_field(p, &len, d->payload, d->payload ? strlen(d->payload) : 0);
	db_pack_field(p, &len, d->recipients, d->recipients ?
	    strlen(d->recipients) : 0);
	s = d->users ? d->users : "[]";
	db_pack_field(p, &len, s, strlen(s));
	s = d->diagnoses ? d->diagnoses : "[]";
	db_pack_field(p, &len, s, strlen(s));
	if (len > 0x7fffffff)
		return (-1);
	if (p->cur.id == 0 && db_pack_new_dict(db, len) == -1)
		return (-1);
	if ((n = db_pack_deflate(p, len, &p->cur)) == 0)
		return (-1);
	if (n * 4 > len && n > DB_PACK_POOR && p->uses >= p->renew) {
		if (db_pack_new_dict(db, len) == -1 ||
		    (n = db_pack_deflate(p, len, &p->cur)) == 0)
			return (-1);
		if ((p->renew *= 2) > DB_PACK_RENEW)
			p->renew = DB_PACK_RENEW;
	}
	p->uses++;
	db_pack_remember(p, len);
	*out = p->out;
	*outlen = n;
	*dict = p->cur.id;
	return (0);
}

/* The dictionary numbered id (borrowed), or NULL. */
static const struct db_pack_dict *
db_pack_dict(struct db *db, int64_t id)
{
	struct db_pack		*p = db->pack;
	struct db_pack_dict	*d;
	sqlite3_stmt		*st = db->st[ST_PACK_DICT_GET];
	const void		*b;
	size_t			 i;

	if (p->cur.id == id)
		return (&p->cur);
	for (i = 0; i < DB_PACK_CACHE; i++)
		if (p->cache[i].id == id)
			return (&p->cache[i]);
	d = &p->cache[p->next];
	p->next = (p->next + 1) % DB_PACK_CACHE;
	db_pack_dict_clear(d);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		b = sqlite3_column_blob(st, 0);
		d->len = (size_t)sqlite3_column_bytes(st, 0);
		d->bytes = xmalloc(d->len + 1);
		if (d->len > 0)
			memcpy(d->bytes, b, d->len);
		d->id = id;
	}
	sqlite3_reset(st);
	return (d->id == id ? d : NULL);
}

/* Field i of raw (len bytes) as a new NUL-terminated string; *np gets its
 * length.  -1 if raw is cut short. */
static int
db_unpack_field(const unsigned char *raw, size_t len, size_t *at,
    char **v, size_t *np)
{
	uint32_t	u = 0;
	int		i;

	*v = NULL;
	if (np != NULL)
		*np = 0;
	if (len - *at < 4)
		return (-1);
	for (i = 0; i < 4; i++)
		u |= (uint32_t)raw[(*at)++] << (8 * i);
	if (u == DB_PACK_NULL)
		return (0);
	if (len - *at < u)
		return (-1);
	*v = xmalloc((size_t)u + 1);
	memcpy(*v, raw + *at, u);
	(*v)[u] = '\0';
	*at += u;
	if (np != NULL)
		*np = u;
	return (0);
}

/* payload.description when it is a string, as json_extract gives it. */
char *
db_unpack_description(const char *payload)
{
	struct json	*j, *v;
	char		 err[JSON_ERRLEN], *s = NULL;

	if (payload == NULL || (j = json_parse(payload, strlen(payload), 0,
	    err, sizeof err, NULL)) == NULL)
		return (NULL);
	if ((v = json_get(j, "description")) != NULL &&
	    json_string(v) != NULL)
		s = xstrdup(json_string(v));
	json_free(j);
	return (s);
}

int
db_unpack(struct db *db, const void *packed, size_t plen, int64_t id,
    int description, struct db_record *r)
{
	struct db_pack			*p = db->pack;
	const struct db_pack_dict	*d;
	const unsigned char		*b = packed;
	unsigned char			*raw;
	char				*body;
	uint64_t			 len = 0;
	size_t				 n = 0, at = 0;
	int				 shift = 0, rc = -1;

	do {
		if (n >= plen || shift > 28)
			return (-1);
		len |= (uint64_t)(b[n] & 0x7f) << shift;
		shift += 7;
	} while (b[n++] & 0x80);
	if (len > 0x7fffffff || (d = db_pack_dict(db, id)) == NULL)
		return (-1);
	raw = xmalloc(len + 1);
	if (inflateReset(&p->inf) != Z_OK ||
	    inflateSetDictionary(&p->inf, d->bytes, (uInt)d->len) != Z_OK)
		goto out;
	p->inf.next_in = (unsigned char *)(uintptr_t)(b + n);
	p->inf.avail_in = (uInt)(plen - n);
	p->inf.next_out = raw;
	p->inf.avail_out = (uInt)len;
	if (inflate(&p->inf, Z_FINISH) != Z_STREAM_END ||
	    p->inf.avail_out != 0)
		goto out;
	if (db_unpack_field(raw, len, &at, &r->headers, NULL) == -1 ||
	    db_unpack_field(raw, len, &at, &body, &r->body_len) == -1 ||
	    (r->body = (unsigned char *)body, 0) ||
	    db_unpack_field(raw, len, &at, &r->response, NULL) == -1 ||
	    db_unpack_field(raw, len, &at, &r->payload, NULL) == -1 ||
	    db_unpack_field(raw, len, &at, &r->recipients, NULL) == -1 ||
	    db_unpack_field(raw, len, &at, &r->users, NULL) == -1 ||
	    db_unpack_field(raw, len, &at, &r->diagnoses, NULL) == -1)
		goto out;
	if (description) {
		free(r->description);
		r->description = db_unpack_description(r->payload);
	}
	rc = 0;
out:
	free(raw);
	return (rc);
}
