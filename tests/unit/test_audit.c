/*
 * test_audit.c - the audit chain on a real SQLite store: a chain of N rows
 * verifies; each way of tampering with the file directly (through the
 * sqlite3 C API, as someone with the file would) is caught at the right
 * row - an edited column, a deleted row (first, middle, last, the tail),
 * a forged row inserted with the seqs after it shifted, two rows swapped,
 * a forged, stale or missing head - each on a fresh copy of the chain.
 * Also: reopening continues the chain, two writers on one file (server
 * and CLI) interleave, four threads append at once, export writes one
 * JSON object per row.
 *
 * Prints the mean cost of audit_append over 1000 calls.
 */
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "guard/audit.h"
#include "guard/secrets.h"
#include "store/store.h"

#define N_ROWS 20
#define T0 1700000000000000LL /* ts_us of row 0: rows are T0 + seq ms */

static char tmp_dir[64];
static char pristine[512];           /* the chain every tampering starts from */
static struct guard_secrets secrets; /* its keys */

static void db_path(char *out, const char *name)
{
	snprintf(out, 512, "%s/%s", tmp_dir, name);
}

static void remove_db(const char *db)
{
	static const char *const suffixes[] = {"", ".secret", ".pub", "-wal", "-shm"};
	char path[600];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		unlink(path);
	}
}

static struct store *open_store(const char *db)
{
	char uri[600];
	struct store *st = NULL;
	snprintf(uri, sizeof(uri), "sqlite:%s", db);
	CHECK_OK(store_open(uri, &st));
	return st;
}

/* Row i of the test chain: a request, with content on every third. */
static void make_row(struct store_audit_row *r, int i, char *content, size_t content_cap)
{
	memset(r, 0, sizeof(*r));
	r->ts_us = T0 + (int64_t)i * 1000;
	snprintf(r->kind, sizeof(r->kind), "%s", i % 5 == 0 ? "admin" : "request");
	snprintf(r->request_id, sizeof(r->request_id), "req-%d", i);
	snprintf(r->key_id, sizeof(r->key_id), "key%d", i % 3);
	snprintf(r->tier, sizeof(r->tier), "public");
	snprintf(r->endpoint, sizeof(r->endpoint), "POST /v1/chat/completions");
	snprintf(r->model, sizeof(r->model), "tiny");
	r->tokens_in = 10 + i;
	r->tokens_out = 20 + i;
	r->status = 200;
	snprintf(r->outcome, sizeof(r->outcome), "ok");
	r->latency_us = 1234 + i;
	audit_sha256_hex(r->request_id, strlen(r->request_id), r->prompt_sha256);
	if (i % 3 == 0) {
		snprintf(content, content_cap, "{\"prompt\":\"hello %d\",\"output\":\"\\u00e9\"}", i);
		r->content = content;
	}
}

/* Appends rows first..last of the test chain through a. */
static void append_rows(struct audit *a, int first, int last)
{
	for (int i = first; i <= last; i++) {
		struct store_audit_row r;
		char content[128];
		make_row(&r, i, content, sizeof(content));
		CHECK_OK(audit_append(a, &r));
		CHECK_EQ_INT(r.seq, i);
	}
}

static void expect_ok(struct store *st, int64_t n)
{
	struct audit_verdict v;
	CHECK_OK(audit_verify(st, secrets.audit_pk, &v));
	CHECK_MSG(v.ok, "bad_seq %lld: %s", (long long)v.bad_seq, v.reason);
	CHECK_EQ_INT(v.n_rows, n);
	CHECK_EQ_INT(v.bad_seq, 0);
}

static void test_build_and_verify(void)
{
	struct audit *a = NULL;

	db_path(pristine, "pristine.db");
	struct store *st = open_store(pristine);
	if (!st)
		return;
	CHECK_OK(secrets_load(store_file(st), true, &secrets));
	expect_ok(st, 0); /* the empty chain */
	CHECK_OK(audit_open(st, &secrets, &a));
	if (a) {
		append_rows(a, 1, N_ROWS);
		audit_close(a);
	}
	expect_ok(st, N_ROWS);

	/* The rows as stored link up. */
	struct store_audit_row *rows = NULL;
	size_t n = 0;
	CHECK_OK(store_audit_recent(st, 2, &rows, &n));
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_EQ_INT(rows[0].seq, N_ROWS);
		CHECK(memcmp(rows[0].prev, rows[1].hash, 32) == 0);
		uint8_t h[32];
		audit_row_hash(&rows[0], h);
		CHECK(memcmp(h, rows[0].hash, 32) == 0);
	}
	store_audit_rows_free(rows, n);

	/* Another store's public key: the head's signature fails. */
	struct audit_verdict v;
	uint8_t other_pk[32], other_sk[64];
	crypto_sign_keypair(other_pk, other_sk);
	CHECK_OK(audit_verify(st, other_pk, &v));
	CHECK(!v.ok);
	CHECK_EQ_INT(v.bad_seq, N_ROWS);
	CHECK(strstr(v.reason, "signature") != NULL);

	/* Without the signing key there is no writer. */
	struct guard_secrets pub_only = secrets;
	pub_only.have_sk = false;
	CHECK_EQ_INT(audit_open(st, &pub_only, &a), AJAR_ERR_INVALID);
	store_close(st);
}

/* Copies the file from to to; false if from cannot be read. */
static bool copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	if (!in)
		return false;
	FILE *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	bool ok = out != NULL;
	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	fclose(in);
	if (out && fclose(out) != 0)
		ok = false;
	return ok;
}

/* A fresh copy of the pristine chain's database (and WAL, if one was
 * left) at name. */
static bool copy_pristine(char *out, const char *name)
{
	char from[600], to[600];

	db_path(out, name);
	remove_db(out);
	bool ok = copy_file(pristine, out);
	CHECK_MSG(ok, "copying %s", pristine);
	snprintf(from, sizeof(from), "%s-wal", pristine);
	snprintf(to, sizeof(to), "%s-wal", out);
	copy_file(from, to);
	return ok;
}

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	CHECK_MSG(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_free(msg);
}

/* The stored hash of row seq into out. */
static void sql_row_hash(sqlite3 *db, int64_t seq, uint8_t out[32])
{
	sqlite3_stmt *q = NULL;
	memset(out, 0, 32);
	CHECK(sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = ?1", -1, &q, NULL) == SQLITE_OK);
	sqlite3_bind_int64(q, 1, seq);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32)
		memcpy(out, sqlite3_column_blob(q, 0), 32);
	else
		CHECK_MSG(0, "no hash for row %lld", (long long)seq);
	sqlite3_finalize(q);
}

/* Inserts a well-formed forged row at seq whose prev is the stored hash
 * of row seq-1: the forger's best effort without the signing key. */
static void sql_insert_forged(sqlite3 *db, int64_t seq)
{
	struct store_audit_row r;
	char content[128];
	sqlite3_stmt *q = NULL;

	make_row(&r, (int)seq, content, sizeof(content));
	snprintf(r.reason, sizeof(r.reason), "forged");
	r.seq = seq;
	sql_row_hash(db, seq - 1, r.prev);
	audit_row_hash(&r, r.hash);
	CHECK(sqlite3_prepare_v2(db,
				 "INSERT INTO audit(seq, ts_us, kind, request_id, key_id, tier, endpoint, model,"
				 " tokens_in, tokens_out, status, outcome, reason, latency_us, prompt_sha256,"
				 " output_sha256, content, prev, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
				 " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
				 -1, &q, NULL) == SQLITE_OK);
	sqlite3_bind_int64(q, 1, r.seq);
	sqlite3_bind_int64(q, 2, r.ts_us);
	const char *texts[] = {r.kind, r.request_id, r.key_id, r.tier, r.endpoint, r.model};
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(q, 3 + i, texts[i], -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 9, r.tokens_in);
	sqlite3_bind_int64(q, 10, r.tokens_out);
	sqlite3_bind_int64(q, 11, r.status);
	sqlite3_bind_text(q, 12, r.outcome, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 13, r.reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 14, r.latency_us);
	sqlite3_bind_text(q, 15, r.prompt_sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 16, r.output_sha256, -1, SQLITE_TRANSIENT);
	if (r.content)
		sqlite3_bind_text(q, 17, r.content, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, 17);
	sqlite3_bind_blob(q, 18, r.prev, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 19, r.hash, 32, SQLITE_TRANSIENT);
	CHECK_MSG(sqlite3_step(q) == SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(q);
}

enum forge { FORGE_NONE, FORGE_INSERT_7, FORGE_APPEND };

struct tamper_case {
	const char *name;
	const char *sql;      /* run first, if any */
	enum forge forge;     /* then this, if any */
	int64_t bad_seq;      /* expected first bad row */
	const char *reason;   /* a part of the expected reason */
	bool open_fails;      /* audit_open refuses to extend it */
};

static const struct tamper_case cases[] = {
	{"edit a number", "UPDATE audit SET tokens_out = tokens_out + 1 WHERE seq = 7", 0, 7, "row 7 was altered",
	 false},
	{"edit a string", "UPDATE audit SET model = 'other' WHERE seq = 1", 0, 1, "row 1 was altered", false},
	{"edit content", "UPDATE audit SET content = '{}' WHERE seq = 9", 0, 9, "row 9 was altered", false},
	{"drop content", "UPDATE audit SET content = NULL WHERE seq = 12", 0, 12, "row 12 was altered", false},
	{"edit the hash", "UPDATE audit SET hash = zeroblob(32) WHERE seq = 5", 0, 5, "row 5 was altered", false},
	{"edit the last row", "UPDATE audit SET status = 500 WHERE seq = 20", 0, 20, "row 20 was altered", true},
	{"delete a row", "DELETE FROM audit WHERE seq = 7", 0, 7, "row 7 is missing", false},
	{"delete the first row", "DELETE FROM audit WHERE seq = 1", 0, 1, "row 1 is missing", false},
	{"delete the last row", "DELETE FROM audit WHERE seq = 20", 0, 20, "rows after 19 were deleted", true},
	{"delete the tail", "DELETE FROM audit WHERE seq >= 15", 0, 15, "rows after 14 were deleted", true},
	{"delete every row", "DELETE FROM audit", 0, 1, "row 1 is missing", true},
	{"insert a forged row", "UPDATE audit SET seq = -seq WHERE seq >= 7; UPDATE audit SET seq = 1 - seq WHERE seq < 0",
	 FORGE_INSERT_7, 8, "prev does not match row 7", true},
	{"append a forged row", NULL, FORGE_APPEND, 21, "row 21 is not covered by the signed head", true},
	{"insert a row 0", "UPDATE audit SET seq = 0 WHERE seq = 20; UPDATE audit_head SET seq = 19, hash = "
			   "(SELECT hash FROM audit WHERE seq = 19)",
	 0, 1, "row 1 is out of order", true},
	{"swap two rows", "UPDATE audit SET seq = -1 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = 8;"
			  " UPDATE audit SET seq = 8 WHERE seq = -1",
	 0, 7, "prev does not match row 6", false},
	{"forge the signature", "UPDATE audit_head SET sig = zeroblob(64)", 0, 20, "signature", true},
	{"forge the head hash", "UPDATE audit_head SET hash = zeroblob(32)", 0, 20, "head does not match row 20",
	 true},
	{"roll the head back", "UPDATE audit_head SET seq = 19", 0, 20, "row 20 is not covered", true},
	{"head to row 19", "DELETE FROM audit WHERE seq = 20; UPDATE audit_head SET seq = 19, hash = "
			   "(SELECT hash FROM audit WHERE seq = 19)",
	 0, 19, "signature", true},
	{"delete the head", "DELETE FROM audit_head", 0, 20, "head is missing", true},
};

static void run_tamper_case(const struct tamper_case *c, int index)
{
	char db[512], name[64];
	sqlite3 *sq = NULL;
	struct audit_verdict v;

	snprintf(name, sizeof(name), "tamper%d.db", index);
	if (!copy_pristine(db, name))
		return;
	CHECK(sqlite3_open(db, &sq) == SQLITE_OK);
	if (c->sql)
		sql_exec(sq, c->sql);
	if (c->forge == FORGE_INSERT_7)
		sql_insert_forged(sq, 7);
	else if (c->forge == FORGE_APPEND)
		sql_insert_forged(sq, N_ROWS + 1);
	sqlite3_close(sq);

	struct store *st = open_store(db);
	if (!st)
		return;
	CHECK_OK(audit_verify(st, secrets.audit_pk, &v));
	CHECK_MSG(!v.ok, "%s: verified", c->name);
	CHECK_MSG(v.bad_seq == c->bad_seq, "%s: bad_seq %lld, expected %lld (%s)", c->name, (long long)v.bad_seq,
		  (long long)c->bad_seq, v.reason);
	CHECK_MSG(strstr(v.reason, c->reason) != NULL, "%s: reason '%s', expected '%s'", c->name, v.reason,
		  c->reason);
	struct audit *a = NULL;
	enum ajar_err err = audit_open(st, &secrets, &a);
	if (c->open_fails)
		CHECK_MSG(err == AJAR_ERR_FORMAT, "%s: audit_open gave %d", c->name, err);
	else
		CHECK_MSG(err == AJAR_OK, "%s: audit_open: %s", c->name, ajar_err_msg());
	audit_close(a);
	store_close(st);
	remove_db(db);
}

static void test_tampering(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_tamper_case(&cases[i], (int)i);

	/* audit_open names the row when the end of the chain is broken. */
	char db[512];
	if (!copy_pristine(db, "tamper-open.db"))
		return;
	sqlite3 *sq = NULL;
	CHECK(sqlite3_open(db, &sq) == SQLITE_OK);
	sql_exec(sq, "DELETE FROM audit WHERE seq = 20");
	sqlite3_close(sq);
	struct store *st = open_store(db);
	struct audit *a = NULL;
	if (st) {
		CHECK_EQ_INT(audit_open(st, &secrets, &a), AJAR_ERR_FORMAT);
		CHECK_MSG(strstr(ajar_err_msg(), "row 20") && strstr(ajar_err_msg(), "19"), "%s", ajar_err_msg());
		store_close(st);
	}
	remove_db(db);
}

static void test_reopen_continues(void)
{
	char db[512];
	struct audit *a = NULL;

	if (!copy_pristine(db, "reopen.db"))
		return;
	struct store *st = open_store(db);
	if (!st)
		return;
	CHECK_OK(audit_open(st, &secrets, &a));
	if (a) {
		append_rows(a, N_ROWS + 1, N_ROWS + 5);
		/* A row the store would have to cut is refused, and the chain
		 * goes on at the same seq. */
		struct store_audit_row r;
		char content[128];
		make_row(&r, 0, content, sizeof(content));
		memset(r.kind, 'k', sizeof(r.kind));
		CHECK_EQ_INT(audit_append(a, &r), AJAR_ERR_LIMIT);
		append_rows(a, N_ROWS + 6, N_ROWS + 6);
		audit_close(a);
	}
	store_close(st);
	st = open_store(db);
	if (!st)
		return;
	expect_ok(st, N_ROWS + 6);
	CHECK_OK(audit_open(st, &secrets, &a));
	if (a) {
		struct store_audit_row r;
		char content[128];
		make_row(&r, 1, content, sizeof(content));
		r.ts_us = 0; /* filled in: now */
		CHECK_OK(audit_append(a, &r));
		CHECK_EQ_INT(r.seq, N_ROWS + 7);
		CHECK(r.ts_us > T0);
		audit_close(a);
	}
	expect_ok(st, N_ROWS + 7);
	store_close(st);
	remove_db(db);
}

/* Two handles on one file, as the server and `ajar keys revoke` are: each
 * writer's head goes stale when the other appends, and rows still form
 * one chain. */
static void test_two_writers(void)
{
	char db[512];
	struct audit *a1 = NULL, *a2 = NULL;

	if (!copy_pristine(db, "writers.db"))
		return;
	struct store *s1 = open_store(db), *s2 = open_store(db);
	if (s1 && s2) {
		CHECK_OK(audit_open(s1, &secrets, &a1));
		CHECK_OK(audit_open(s2, &secrets, &a2));
	}
	if (a1 && a2) {
		for (int i = 1; i <= 10; i++) {
			struct store_audit_row r;
			char content[128];
			make_row(&r, i, content, sizeof(content));
			CHECK_OK(audit_append(i % 3 ? a1 : a2, &r));
			CHECK_EQ_INT(r.seq, N_ROWS + i);
		}
		expect_ok(s2, N_ROWS + 10);
	}
	audit_close(a1);
	audit_close(a2);
	store_close(s1);
	store_close(s2);
	remove_db(db);
}

struct appender {
	struct audit *a;
	int id;
	int n;
	int64_t last_seq;
	int failures;
};

static void *append_thread(void *p)
{
	struct appender *w = p;
	for (int i = 0; i < w->n; i++) {
		struct store_audit_row r;
		memset(&r, 0, sizeof(r));
		snprintf(r.kind, sizeof(r.kind), "request");
		snprintf(r.request_id, sizeof(r.request_id), "t%d-%d", w->id, i);
		snprintf(r.outcome, sizeof(r.outcome), "ok");
		if (audit_append(w->a, &r) != AJAR_OK)
			w->failures++;
		else if (r.seq <= w->last_seq)
			w->failures++; /* a thread's own rows come in its order */
		else
			w->last_seq = r.seq;
	}
	return NULL;
}

static void test_threads(void)
{
	char db[512];
	struct audit *a = NULL;
	struct appender w[4];
	pthread_t th[4];

	db_path(db, "threads.db");
	struct store *st = open_store(db);
	if (!st)
		return;
	CHECK_OK(audit_open(st, &secrets, &a));
	if (a) {
		for (int i = 0; i < 4; i++) {
			w[i] = (struct appender){.a = a, .id = i, .n = 50};
			pthread_create(&th[i], NULL, append_thread, &w[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ_INT(w[i].failures, 0);
		}
		audit_close(a);
	}
	expect_ok(st, 200);
	store_close(st);
	remove_db(db);
}

struct export_check {
	int64_t expect_seq;
	int lines;
	int with_content;
	bool bad;
};

static void check_export_lines(FILE *f, struct export_check *x)
{
	char line[4096];
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		json_error_t jerr;
		json_t *o = json_loads(line, 0, &jerr);
		x->lines++;
		CHECK_MSG(o != NULL, "line %d: %s", x->lines, jerr.text);
		if (!o) {
			x->bad = true;
			continue;
		}
		int64_t seq = json_integer_value(json_object_get(o, "seq"));
		CHECK_EQ_INT(seq, x->expect_seq);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "ts_us")), T0 + seq * 1000);
		const char *hash = json_string_value(json_object_get(o, "hash"));
		CHECK(hash && strlen(hash) == 64);
		CHECK(json_string_value(json_object_get(o, "prev")) != NULL);
		CHECK(json_object_get(o, "content") == NULL || seq % 3 == 0);
		x->with_content += json_object_get(o, "content") != NULL;
		x->expect_seq++;
		json_decref(o);
	}
}

static void test_export(void)
{
	struct store *st = open_store(pristine);
	if (!st)
		return;
	FILE *f = tmpfile();
	CHECK(f != NULL);
	if (f) {
		CHECK_OK(audit_export(st, 0, f));
		struct export_check x = {.expect_seq = 1};
		check_export_lines(f, &x);
		CHECK_EQ_INT(x.lines, N_ROWS);
		CHECK_EQ_INT(x.with_content, N_ROWS / 3);
		fclose(f);
	}
	f = tmpfile();
	if (f) {
		CHECK_OK(audit_export(st, T0 + 10 * 1000, f));
		struct export_check x = {.expect_seq = 10};
		check_export_lines(f, &x);
		CHECK_EQ_INT(x.lines, N_ROWS - 9);
		fclose(f);
	}
	/* One row as JSON: content when present, hashes in hex. */
	struct store_audit_row r;
	char content[128];
	make_row(&r, 3, content, sizeof(content));
	memset(r.hash, 0xab, 32);
	json_t *o = audit_row_json(&r);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(json_string_value(json_object_get(o, "content")), content);
		CHECK_STR(json_string_value(json_object_get(o, "hash")),
			  "abababababababababababababababababababababababababababababababab");
		CHECK_STR(json_string_value(json_object_get(o, "prev")),
			  "0000000000000000000000000000000000000000000000000000000000000000");
		CHECK_STR(json_string_value(json_object_get(o, "endpoint")), "POST /v1/chat/completions");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "tokens_out")), 23);
		json_decref(o);
	}
	r.content = NULL;
	o = audit_row_json(&r);
	CHECK(o && json_object_get(o, "content") == NULL);
	json_decref(o);
	store_close(st);
}

/* Every column feeds the hash; NULL content hashes as "". */
static void test_row_hash(void)
{
	struct store_audit_row r, m;
	char content[128];
	uint8_t h0[32], h1[32];

	make_row(&r, 3, content, sizeof(content));
	audit_row_hash(&r, h0);
	for (int field = 0; field < 18; field++) {
		m = r;
		switch (field) {
		case 0: m.seq++; break;
		case 1: m.ts_us++; break;
		case 2: m.kind[0] ^= 1; break;
		case 3: m.request_id[0] ^= 1; break;
		case 4: m.key_id[0] ^= 1; break;
		case 5: m.tier[0] ^= 1; break;
		case 6: m.endpoint[0] ^= 1; break;
		case 7: m.model[0] ^= 1; break;
		case 8: m.tokens_in++; break;
		case 9: m.tokens_out++; break;
		case 10: m.status++; break;
		case 11: m.outcome[0] ^= 1; break;
		case 12: m.reason[0] = 'x'; break;
		case 13: m.latency_us++; break;
		case 14: m.prompt_sha256[0] ^= 1; break;
		case 15: m.output_sha256[0] = 'x'; break;
		case 16: m.content = "{}"; break;
		case 17: m.prev[31] ^= 1; break;
		}
		audit_row_hash(&m, h1);
		CHECK_MSG(memcmp(h0, h1, 32) != 0, "field %d does not change the hash", field);
	}
	/* Lengths are hashed: moving a byte from one string to the next differs. */
	m = r;
	snprintf(m.tier, sizeof(m.tier), "publi");
	snprintf(m.endpoint, sizeof(m.endpoint), "cPOST /v1/chat/completions");
	audit_row_hash(&m, h1);
	CHECK(memcmp(h0, h1, 32) != 0);
	m = r;
	m.content = NULL;
	audit_row_hash(&m, h0);
	m.content = "";
	audit_row_hash(&m, h1);
	CHECK(memcmp(h0, h1, 32) == 0);

	char hex[65];
	audit_sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	audit_sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Mean cost of one durable append (hash, signature, one fsync'd store
 * transaction), reported. */
static void test_append_cost(void)
{
	char db[512];
	struct audit *a = NULL;

	db_path(db, "cost.db");
	struct store *st = open_store(db);
	if (!st)
		return;
	CHECK_OK(audit_open(st, &secrets, &a));
	if (a) {
		double t0 = now_seconds();
		int ok = 0;
		for (int i = 1; i <= 1000; i++) {
			struct store_audit_row r;
			char content[128];
			make_row(&r, i, content, sizeof(content));
			ok += audit_append(a, &r) == AJAR_OK;
		}
		double mean_us = (now_seconds() - t0) / 1000 * 1e6;
		CHECK_EQ_INT(ok, 1000);
		printf("audit_append: %.1f us per call (mean of 1000, durable)\n", mean_us);
		audit_close(a);
	}
	double t0 = now_seconds();
	expect_ok(st, 1000);
	printf("audit_verify: %.1f us per row (1000 rows)\n", (now_seconds() - t0) / 1000 * 1e6);
	store_close(st);
	remove_db(db);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar-test-audit-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_build_and_verify);
	RUN(test_row_hash);
	RUN(test_tampering);
	RUN(test_reopen_continues);
	RUN(test_two_writers);
	RUN(test_threads);
	RUN(test_export);
	RUN(test_append_cost);
	remove_db(pristine);
	secrets_wipe(&secrets);
	if (rmdir(tmp_dir) != 0)
		fprintf(stderr, "leftover files in %s\n", tmp_dir);
	return check_summary();
}
