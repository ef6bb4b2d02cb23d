/*
 * audit.c - the hash-chained, signed audit log (audit.h).
 *
 * Row hash input, in this order (integers 8 bytes little-endian, str = a
 * 4-byte little-endian length and the bytes, no NUL):
 *
 *     "ajar-audit-v1"  13 bytes, no length
 *     prev             32 bytes
 *     seq, ts_us       integers
 *     kind, request_id, key_id, tier, endpoint, model    str
 *     tokens_in, tokens_out, status                      integers
 *     outcome, reason                                    str
 *     latency_us                                         integer
 *     prompt_sha256, output_sha256, content ("" if NULL) str
 *
 * Head signature: Ed25519 over "ajar-audit-head-v1" (18 bytes) || seq || hash.
 *
 * The writer (struct audit) keeps the head in memory. Appends use group
 * commit: a caller queues its row and waits; whichever caller finds no
 * commit under way takes every queued row (up to APPEND_BATCH_MAX), chains
 * them after the head, signs the new head once and writes them in one
 * store transaction - one fsync for all - then wakes their callers. So a
 * lone request pays one fsync, and N requests arriving together pay about
 * two instead of N in a row. Rows form one chain in queue order, and each
 * caller returns only once its own row is durable (or failed).
 * audit_verify trusts nothing it reads: every row is re-hashed.
 */
#include "guard/audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROW_CONTEXT "ajar-audit-v1"
#define HEAD_CONTEXT "ajar-audit-head-v1"

/* Most rows one commit takes: bounds the transaction and the time the
 * first caller of a burst waits for the others. */
#define APPEND_BATCH_MAX 64

/* A caller's row waiting in the queue (on the caller's stack). */
struct pending {
	struct store_audit_row *row;
	struct pending *next;
	bool done;                       /* written or failed; err says which */
	enum ajar_err err;
	char msg[256];                   /* the failure, for the caller's thread */
};

struct audit {
	struct store *st;                /* borrowed: outlives the writer */
	uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* a copy; wiped at close */
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	pthread_mutex_t lock;            /* guards everything below */
	pthread_cond_t cv;               /* a commit ended */
	struct store_audit_head head;    /* seq 0 = empty chain; changed only by
	                                    the committing caller */
	struct pending *queue, *tail;    /* rows waiting for a commit */
	bool committing;                 /* a caller is writing a batch */
};

static void put_i64(crypto_hash_sha256_state *s, int64_t v)
{
	uint8_t b[8];
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
	crypto_hash_sha256_update(s, b, sizeof(b));
}

/* A string of at most cap bytes (fixed arrays need not hold a NUL when
 * read from an edited store, so the length is bounded). Content longer
 * than 4 GiB cannot be appended (audit_append refuses it). */
static void put_str(crypto_hash_sha256_state *s, const char *str, size_t cap)
{
	size_t n = str ? strnlen(str, cap) : 0;
	uint32_t len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	uint8_t b[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
	crypto_hash_sha256_update(s, b, sizeof(b));
	if (len)
		crypto_hash_sha256_update(s, (const unsigned char *)str, len);
}

#define PUT_FIELD(s, row, f) put_str((s), (row)->f, sizeof((row)->f))

void audit_row_hash(const struct store_audit_row *row, uint8_t out[32])
{
	crypto_hash_sha256_state s;

	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, (const unsigned char *)ROW_CONTEXT, sizeof(ROW_CONTEXT) - 1);
	crypto_hash_sha256_update(&s, row->prev, sizeof(row->prev));
	put_i64(&s, row->seq);
	put_i64(&s, row->ts_us);
	PUT_FIELD(&s, row, kind);
	PUT_FIELD(&s, row, request_id);
	PUT_FIELD(&s, row, key_id);
	PUT_FIELD(&s, row, tier);
	PUT_FIELD(&s, row, endpoint);
	PUT_FIELD(&s, row, model);
	put_i64(&s, row->tokens_in);
	put_i64(&s, row->tokens_out);
	put_i64(&s, row->status);
	PUT_FIELD(&s, row, outcome);
	PUT_FIELD(&s, row, reason);
	put_i64(&s, row->latency_us);
	PUT_FIELD(&s, row, prompt_sha256);
	PUT_FIELD(&s, row, output_sha256);
	put_str(&s, row->content ? row->content : "", SIZE_MAX);
	crypto_hash_sha256_final(&s, out);
}

/* The signed message of a head: context || seq || hash. */
static size_t head_message(const struct store_audit_head *h, uint8_t msg[sizeof(HEAD_CONTEXT) - 1 + 8 + 32])
{
	size_t n = sizeof(HEAD_CONTEXT) - 1;
	uint64_t u = (uint64_t)h->seq;

	memcpy(msg, HEAD_CONTEXT, n);
	for (int i = 0; i < 8; i++)
		msg[n++] = (uint8_t)(u >> (8 * i));
	memcpy(msg + n, h->hash, 32);
	return n + 32;
}

static bool head_signature_ok(const struct store_audit_head *h, const uint8_t pk[32])
{
	uint8_t msg[sizeof(HEAD_CONTEXT) - 1 + 8 + 32];
	size_t n = head_message(h, msg);
	return crypto_sign_verify_detached(h->sig, msg, n, pk) == 0;
}

/* The last row still hashes to its hash, the head names that hash, and
 * the head's signature is this store's key's. */
static enum ajar_err check_last_row(const struct store_audit_row *last, const struct store_audit_head *head,
				    const uint8_t pk[32])
{
	uint8_t hash[32];

	audit_row_hash(last, hash);
	if (sodium_memcmp(hash, last->hash, 32) != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "audit chain: row %lld was altered (its hash does not match)",
				 (long long)last->seq);
	if (sodium_memcmp(head->hash, last->hash, 32) != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "audit chain: the head does not match row %lld",
				 (long long)last->seq);
	if (!head_signature_ok(head, pk))
		return ajar_errf(AJAR_ERR_FORMAT, "audit chain: the head's signature (row %lld) does not verify",
				 (long long)head->seq);
	return AJAR_OK;
}

/*
 * Checks that the stored head describes the last row (seq and hash), that
 * the last row still hashes to its hash and that the head's signature is
 * this store's: a writer must not extend a chain that is already broken
 * at its end. Missing head and no rows is an empty chain.
 */
static enum ajar_err check_head(struct store *st, const uint8_t pk[32], struct store_audit_head *head)
{
	struct store_audit_row last;
	enum ajar_err err;

	memset(head, 0, sizeof(*head));
	memset(&last, 0, sizeof(last));
	enum ajar_err head_err = store_audit_head_get(st, head);
	if (head_err && head_err != AJAR_ERR_NOT_FOUND)
		return head_err;
	if (head_err)
		memset(head, 0, sizeof(*head));
	enum ajar_err last_err = store_audit_last(st, &last);
	if (last_err && last_err != AJAR_ERR_NOT_FOUND)
		return last_err;

	if (head_err && last_err)
		err = AJAR_OK;
	else if (head_err)
		err = ajar_errf(AJAR_ERR_FORMAT, "audit chain: row %lld exists but the signed head is missing",
				(long long)last.seq);
	else if (last_err)
		err = ajar_errf(AJAR_ERR_FORMAT, "audit chain: the head names row %lld but there are no rows",
				(long long)head->seq);
	else if (head->seq != last.seq)
		err = ajar_errf(AJAR_ERR_FORMAT, "audit chain: the head names row %lld but the last row is %lld",
				(long long)head->seq, (long long)last.seq);
	else
		err = check_last_row(&last, head, pk);
	free(last.content);
	return err;
}

enum ajar_err audit_open(struct store *st, const struct guard_secrets *sec, struct audit **out)
{
	struct audit *a;
	enum ajar_err err;

	*out = NULL;
	if (!sec->have_sk)
		return ajar_errf(AJAR_ERR_INVALID, "audit: writing the chain needs the signing key (the .secret file)");
	a = calloc(1, sizeof(*a));
	if (!a)
		return ajar_errf(AJAR_ERR_NOMEM, "audit: out of memory");
	a->st = st;
	memcpy(a->sk, sec->audit_sk, sizeof(a->sk));
	memcpy(a->pk, sec->audit_pk, sizeof(a->pk));
	err = check_head(st, a->pk, &a->head);
	if (err)
		goto fail;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		err = ajar_errf(AJAR_ERR_NOMEM, "audit: cannot make a mutex");
		goto fail;
	}
	if (pthread_cond_init(&a->cv, NULL) != 0) {
		pthread_mutex_destroy(&a->lock);
		err = ajar_errf(AJAR_ERR_NOMEM, "audit: cannot make a condition variable");
		goto fail;
	}
	*out = a;
	return AJAR_OK;
fail:
	sodium_memzero(a->sk, sizeof(a->sk));
	free(a);
	return err;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->lock);
	sodium_memzero(a->sk, sizeof(a->sk));
	free(a);
}

/* LIMIT if a text field of row has no NUL within its array (the store
 * would read past it). */
static enum ajar_err check_row_fields(const struct store_audit_row *row)
{
#define TERMINATED(f) (memchr(row->f, '\0', sizeof(row->f)) != NULL)
	if (!TERMINATED(kind) || !TERMINATED(request_id) || !TERMINATED(key_id) || !TERMINATED(tier) ||
	    !TERMINATED(endpoint) || !TERMINATED(model) || !TERMINATED(outcome) || !TERMINATED(reason) ||
	    !TERMINATED(prompt_sha256) || !TERMINATED(output_sha256))
		return ajar_errf(AJAR_ERR_LIMIT, "audit row: a text field fills its whole array");
#undef TERMINATED
	if (row->content && strlen(row->content) > UINT32_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "audit row: content longer than 4 GiB");
	return AJAR_OK;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Chains rows[0..n) after *head (seq, prev, hash) and makes *head the
 * new head, signed. */
static enum ajar_err chain_rows(const struct audit *a, struct store_audit_row **rows, size_t n,
				struct store_audit_head *head)
{
	uint8_t msg[sizeof(HEAD_CONTEXT) - 1 + 8 + 32];

	if (head->seq > INT64_MAX - (int64_t)n)
		return ajar_errf(AJAR_ERR_LIMIT, "audit chain: no seq after %lld", (long long)head->seq);
	for (size_t i = 0; i < n; i++) {
		rows[i]->seq = head->seq + 1;
		memcpy(rows[i]->prev, head->hash, sizeof(rows[i]->prev)); /* zeros for the first row */
		audit_row_hash(rows[i], rows[i]->hash);
		head->seq = rows[i]->seq;
		memcpy(head->hash, rows[i]->hash, sizeof(head->hash));
	}
	size_t len = head_message(head, msg);
	crypto_sign_detached(head->sig, NULL, msg, len, a->sk);
	return AJAR_OK;
}

/*
 * Another process on the same store (an admin command writing its own
 * row) may have appended since this writer last did: the store then
 * refuses the seq (INVALID), the writer reads the new head and chains the
 * batch again after it. A few rounds suffice unless writers keep racing.
 */
#define APPEND_ATTEMPTS 8

/* Writes one batch durably; on success *head is the new head. Called by
 * the committing caller without the lock (no one else touches the head). */
static enum ajar_err commit_batch(struct audit *a, struct store_audit_row **rows, size_t n,
				  struct store_audit_head *head)
{
	struct store_audit_head next, fresh;
	char refusal[512];
	enum ajar_err err;

	for (int attempt = 1;; attempt++) {
		next = *head;
		if ((err = chain_rows(a, rows, n, &next)))
			return err;
		/* The head moves only once the rows are durable, so a failed
		 * write leaves the chain as it was. */
		err = store_audit_append_batch(a->st, (const struct store_audit_row *const *)rows, n, &next);
		if (!err) {
			*head = next;
			return AJAR_OK;
		}
		if (err != AJAR_ERR_INVALID || attempt == APPEND_ATTEMPTS)
			return err;
		snprintf(refusal, sizeof(refusal), "%s", ajar_err_msg());
		enum ajar_err reload = check_head(a->st, a->pk, &fresh);
		if (reload)
			return ajar_err_wrap(reload, "audit chain: row %lld was refused and the chain cannot be re-read",
					     (long long)rows[0]->seq);
		if (fresh.seq == head->seq) /* refused for another reason: say that one */
			return ajar_errf(err, "%s", refusal);
		*head = fresh;
	}
}

/* The committing caller: takes up to APPEND_BATCH_MAX queued rows, writes
 * them with the lock released, marks them done and wakes their callers.
 * Entered and left with the lock held. */
static void commit_queued(struct audit *a)
{
	struct store_audit_row *rows[APPEND_BATCH_MAX];
	struct pending *batch = a->queue, *p = batch, *last = NULL;
	size_t n = 0;

	for (; p && n < APPEND_BATCH_MAX; p = p->next)
		rows[n++] = (last = p)->row;
	a->queue = p;
	if (!p)
		a->tail = NULL;
	last->next = NULL;
	a->committing = true;
	struct store_audit_head head = a->head;
	pthread_mutex_unlock(&a->lock);

	enum ajar_err err = commit_batch(a, rows, n, &head);
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", err ? ajar_err_msg() : "");

	pthread_mutex_lock(&a->lock);
	if (!err)
		a->head = head;
	for (p = batch; p; p = p->next) {
		p->err = err;
		snprintf(p->msg, sizeof(p->msg), "%s", msg);
		p->done = true;
	}
	a->committing = false;
	pthread_cond_broadcast(&a->cv);
}

enum ajar_err audit_append(struct audit *a, struct store_audit_row *row)
{
	struct pending me = { .row = row };
	enum ajar_err err = check_row_fields(row);
	if (err)
		return err;

	pthread_mutex_lock(&a->lock);
	if (row->ts_us == 0)
		row->ts_us = now_us();
	if (a->tail)
		a->tail->next = &me;
	else
		a->queue = &me;
	a->tail = &me;
	while (!me.done) {
		if (!a->committing)
			commit_queued(a);
		else
			pthread_cond_wait(&a->cv, &a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	if (me.err)
		return ajar_errf(me.err, "%s", me.msg);
	return AJAR_OK;
}

struct verify_scan {
	struct audit_verdict *out;
	int64_t expected;                /* the seq the next row must have */
	uint8_t prev[32];                /* the hash of the row before it */
	bool broken;
};

static int verify_fail(struct verify_scan *v, int64_t seq, const char *fmt, ...) AJAR_PRINTF(3, 4);

/* Records the first bad row and why; returns 1 to stop the scan. */
static int verify_fail(struct verify_scan *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->broken = true;
	v->out->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->out->reason, sizeof(v->out->reason), fmt, ap);
	va_end(ap);
	return 1;
}

/* Checks one row against the chain so far; stops the scan at the first
 * bad one. */
static int verify_row(void *user, const struct store_audit_row *r)
{
	struct verify_scan *v = user;
	uint8_t hash[32];

	v->out->n_rows++;
	if (r->seq > v->expected)
		return verify_fail(v, v->expected, "row %lld is missing", (long long)v->expected);
	if (r->seq != v->expected)
		return verify_fail(v, v->expected, "row %lld is out of order", (long long)v->expected);
	if (sodium_memcmp(r->prev, v->prev, 32) != 0) {
		if (r->seq == 1)
			return verify_fail(v, 1, "row 1 does not start the chain (its prev is not zero)");
		return verify_fail(v, r->seq,
				   "prev does not match row %lld: a row was inserted, deleted or reordered",
				   (long long)(r->seq - 1));
	}
	audit_row_hash(r, hash);
	if (sodium_memcmp(hash, r->hash, 32) != 0)
		return verify_fail(v, r->seq, "row %lld was altered (its hash does not match its columns)",
				   (long long)r->seq);
	memcpy(v->prev, r->hash, 32);
	v->expected++;
	return 0;
}

/* After a clean scan of last_seq rows: the head must name the last row and
 * carry a valid signature. */
static enum ajar_err verify_head(struct store *st, const uint8_t pk[32], struct verify_scan *v)
{
	struct store_audit_head head;
	int64_t last;
	enum ajar_err err;

	/* A server may append while we verify: a head newer than the rows
	 * scanned means rows came after the scan, so the scan goes on from
	 * where it stopped; only a head naming rows that are not there at all
	 * is a deletion. Bounded, so a busy server cannot keep us here. */
	for (int tries = 0;; tries++) {
		err = store_audit_head_get(st, &head);
		last = v->expected - 1;
		if (err || head.seq <= last || tries == 64)
			break;
		err = store_audit_scan(st, v->expected, INT64_MIN, verify_row, v);
		if (err)
			return err;
		if (v->broken)
			return AJAR_OK;
		if (v->expected - 1 == last)
			break; /* nothing new: the rows the head names are gone */
	}
	if (err == AJAR_ERR_NOT_FOUND) {
		if (last > 0)
			verify_fail(v, last, "the signed head is missing (the last row is %lld)", (long long)last);
		return AJAR_OK;
	}
	if (err)
		return err;
	if (head.seq > last && last == 0) {
		verify_fail(v, 1, "row 1 is missing: the head names row %lld but there are no rows",
			    (long long)head.seq);
	} else if (head.seq > last) {
		verify_fail(v, last + 1, "row %lld is missing: rows after %lld were deleted (the head names row %lld)",
			    (long long)(last + 1), (long long)last, (long long)head.seq);
	} else if (head.seq < last) {
		verify_fail(v, head.seq + 1,
			    "row %lld is not covered by the signed head (it names row %lld): "
			    "rows were added without the signing key",
			    (long long)(head.seq + 1), (long long)head.seq);
	} else if (sodium_memcmp(head.hash, v->prev, 32) != 0) {
		verify_fail(v, last, "the head does not match row %lld: the head was forged", (long long)last);
	} else if (!head_signature_ok(&head, pk)) {
		verify_fail(v, last, "the head's signature (row %lld) does not verify: forged, or another store's key",
			    (long long)last);
	}
	return AJAR_OK;
}

enum ajar_err audit_verify(struct store *st, const uint8_t audit_pk[32], struct audit_verdict *out)
{
	struct verify_scan v = {.out = out, .expected = 1};

	memset(out, 0, sizeof(*out));
	/* From the smallest seq: a forged row 0 or below must be seen too. */
	enum ajar_err err = store_audit_scan(st, INT64_MIN, INT64_MIN, verify_row, &v);
	if (err)
		return err;
	if (!v.broken) {
		err = verify_head(st, audit_pk, &v);
		if (err)
			return err;
	}
	out->ok = !v.broken;
	if (out->ok)
		out->bad_seq = 0;
	return AJAR_OK;
}

/* name: s as a JSON string. Rows were clean text when written, but an
 * edited store may hold bytes that are not UTF-8: those become '?' rather
 * than the field going missing from an export. */
static int set_text(json_t *obj, const char *name, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	json_t *v = json_stringn(s, n);
	if (!v) {
		char *copy = malloc(n + 1);
		if (!copy)
			return -1;
		for (size_t i = 0; i < n; i++)
			copy[i] = (s[i] & 0x80) ? '?' : s[i];
		v = json_stringn(copy, n);
		free(copy);
	}
	return json_object_set_new(obj, name, v);
}

static int set_hex(json_t *obj, const char *name, const uint8_t h[32])
{
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	return json_object_set_new(obj, name, json_string(hex));
}

#define SET_TEXT(o, r, f) set_text((o), #f, (r)->f, sizeof((r)->f))
#define SET_INT(o, r, f) json_object_set_new((o), #f, json_integer((r)->f))

json_t *audit_row_json(const struct store_audit_row *row)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = SET_INT(o, row, seq) | SET_INT(o, row, ts_us) | SET_TEXT(o, row, kind) |
		  SET_TEXT(o, row, request_id) | SET_TEXT(o, row, key_id) | SET_TEXT(o, row, tier) |
		  SET_TEXT(o, row, endpoint) | SET_TEXT(o, row, model) | SET_INT(o, row, tokens_in) |
		  SET_INT(o, row, tokens_out) | SET_INT(o, row, status) | SET_TEXT(o, row, outcome) |
		  SET_TEXT(o, row, reason) | SET_INT(o, row, latency_us) | SET_TEXT(o, row, prompt_sha256) |
		  SET_TEXT(o, row, output_sha256) | set_hex(o, "prev", row->prev) | set_hex(o, "hash", row->hash);
	if (row->content)
		bad |= set_text(o, "content", row->content, SIZE_MAX);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct export_scan {
	FILE *f;
	enum ajar_err err;
};

static int export_row(void *user, const struct store_audit_row *r)
{
	struct export_scan *x = user;
	json_t *o = audit_row_json(r);

	if (!o) {
		x->err = ajar_errf(AJAR_ERR_NOMEM, "audit export: row %lld: out of memory", (long long)r->seq);
		return 1;
	}
	int rc = json_dumpf(o, x->f, JSON_COMPACT);
	json_decref(o);
	if (rc != 0 || fputc('\n', x->f) == EOF) {
		x->err = ajar_errf(AJAR_ERR_IO, "audit export: row %lld: %s", (long long)r->seq, strerror(errno));
		return 1;
	}
	return 0;
}

enum ajar_err audit_export(struct store *st, int64_t since_us, FILE *f)
{
	struct export_scan x = {.f = f, .err = AJAR_OK};
	enum ajar_err err = store_audit_scan(st, INT64_MIN, since_us, export_row, &x);
	if (err)
		return err;
	if (x.err)
		return x.err;
	if (fflush(f) != 0 || ferror(f))
		return ajar_errf(AJAR_ERR_IO, "audit export: %s", strerror(errno));
	return AJAR_OK;
}

void audit_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}
