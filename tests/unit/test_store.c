/*
 * test_store.c - the store (src/store) on real SQLite files in a temporary
 * directory: every operation round-trips; the refusals (duplicates, races
 * on access decisions, strings too long, a store from a newer ajar, a file
 * that is not a database or is someone else's); the audit append's single
 * transaction (a refused row changes nothing); durability across close and
 * open; a second handle on the same file seeing the first's writes at once,
 * and two processes writing at the same time;
 * rows edited by hand (wrong blob lengths, overlong strings) read safely;
 * many threads on one handle.
 *
 * With AJAR_STORE_BENCH=1 also times 1000 audit appends and 100000 key
 * reads (in $AJAR_STORE_BENCH_DIR if set, else the temporary directory)
 * and prints the means.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store/store.h"

static char tmp_dir[64];

/* tmp_dir/name in a static buffer. */
static const char *tmp_path(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", tmp_dir, name);
	return buf;
}

/* "sqlite:" tmp_dir/name in a static buffer. */
static const char *tmp_uri(const char *name)
{
	static char buf[300];
	snprintf(buf, sizeof(buf), "sqlite:%s/%s", tmp_dir, name);
	return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *open_ok(const char *uri)
{
	struct store *st = NULL;
	CHECK_OK(store_open(uri, &st));
	return st;
}

/* Runs one statement on the file directly, as someone editing it by hand. */
static void sql_by_hand(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK_MSG(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
	sqlite3_free(msg);
	sqlite3_close(db);
}

static void make_key(struct store_key *k, const char *id, int64_t created)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", id);
	for (int i = 0; i < 32; i++)
		k->digest[i] = (uint8_t)(i * 7 + id[0]);
	snprintf(k->tier, sizeof(k->tier), "researcher");
	snprintf(k->owner, sizeof(k->owner), "owner of %s", id);
	snprintf(k->access_id, sizeof(k->access_id), "acc_%s", id);
	k->created = created;
	k->expires = created + 86400;
}

static void make_access(struct store_access *a, const char *id, int64_t created)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	for (int i = 0; i < 32; i++)
		a->token_digest[i] = (uint8_t)(255 - i);
	snprintf(a->name, sizeof(a->name), "Ada %s", id);
	snprintf(a->email, sizeof(a->email), "%s@example.org", id);
	snprintf(a->affiliation, sizeof(a->affiliation), "Analytical Engines Ltd");
	snprintf(a->intended_use, sizeof(a->intended_use), "Evaluating refusals, with \"quotes\" and ümlauts");
	snprintf(a->tier, sizeof(a->tier), "researcher");
	memset(a->license_sha256, 'a', 64);
	a->status = STORE_ACCESS_PENDING;
	a->created = created;
}

/* A request row at ts_us; key_id may be "". content may be NULL. */
static void make_row(struct store_audit_row *r, int64_t seq, int64_t ts_us, const char *key_id, const char *tier,
		     const char *outcome, const char *reason, int64_t in, int64_t out, char *content)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ts_us = ts_us;
	snprintf(r->kind, sizeof(r->kind), "request");
	snprintf(r->request_id, sizeof(r->request_id), "req-%lld", (long long)seq);
	snprintf(r->key_id, sizeof(r->key_id), "%s", key_id);
	snprintf(r->tier, sizeof(r->tier), "%s", tier);
	snprintf(r->endpoint, sizeof(r->endpoint), "POST /v1/chat/completions");
	snprintf(r->model, sizeof(r->model), "tiny");
	r->tokens_in = in;
	r->tokens_out = out;
	r->status = strcmp(outcome, "ok") == 0 ? 200 : 403;
	snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	r->latency_us = 1000 + (seq & 0xffff);
	memset(r->prompt_sha256, 'b', 64);
	r->content = content;
	for (int i = 0; i < 32; i++) {
		r->prev[i] = (uint8_t)((uint64_t)seq - 1 + (uint64_t)i);
		r->hash[i] = (uint8_t)((uint64_t)seq + (uint64_t)i);
	}
}

static void make_head(struct store_audit_head *h, const struct store_audit_row *r)
{
	h->seq = r->seq;
	memcpy(h->hash, r->hash, 32);
	for (int i = 0; i < 64; i++)
		h->sig[i] = (uint8_t)((uint64_t)r->seq * 3 + (uint64_t)i);
}

static enum ajar_err append(struct store *st, const struct store_audit_row *r)
{
	struct store_audit_head h;
	make_head(&h, r);
	return store_audit_append(st, r, &h);
}

static int64_t counter(struct store *st, const char *name)
{
	struct store_counter *c = NULL;
	size_t n = 0;
	int64_t v = -1;

	CHECK_OK(store_counters(st, &c, &n));
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			v = c[i].value;
	free(c);
	return v;
}

static bool rows_equal(const struct store_audit_row *a, const struct store_audit_row *b)
{
	bool content_eq = (!a->content && !b->content) ||
			  (a->content && b->content && strcmp(a->content, b->content) == 0);
	return a->seq == b->seq && a->ts_us == b->ts_us && !strcmp(a->kind, b->kind) &&
	       !strcmp(a->request_id, b->request_id) && !strcmp(a->key_id, b->key_id) && !strcmp(a->tier, b->tier) &&
	       !strcmp(a->endpoint, b->endpoint) && !strcmp(a->model, b->model) && a->tokens_in == b->tokens_in &&
	       a->tokens_out == b->tokens_out && a->status == b->status && !strcmp(a->outcome, b->outcome) &&
	       !strcmp(a->reason, b->reason) && a->latency_us == b->latency_us &&
	       !strcmp(a->prompt_sha256, b->prompt_sha256) && !strcmp(a->output_sha256, b->output_sha256) &&
	       content_eq && !memcmp(a->prev, b->prev, 32) && !memcmp(a->hash, b->hash, 32);
}

/* ---- opening ---- */

static void test_uri(void)
{
	struct store *st = NULL;
	char uri[512];

	CHECK_EQ_INT(store_open("postgresql://db.example/ajar", &st), AJAR_ERR_UNSUPPORTED);
	CHECK(strstr(ajar_err_msg(), "PostgreSQL") != NULL);
	CHECK(st == NULL);
	CHECK_EQ_INT(store_open("postgres://db.example/ajar", &st), AJAR_ERR_UNSUPPORTED);
	CHECK_EQ_INT(store_open("mysql://db.example/ajar", &st), AJAR_ERR_UNSUPPORTED);
	CHECK_EQ_INT(store_open("sqlite:", &st), AJAR_ERR_INVALID);
	CHECK_EQ_INT(store_open("", &st), AJAR_ERR_INVALID);

	/* sqlite::memory: is a private store without a file. */
	st = open_ok("sqlite::memory:");
	if (st) {
		CHECK_STR(store_file(st), "");
		store_close(st);
	}

	char *saved_data = getenv("AJAR_DATA") ? strdup(getenv("AJAR_DATA")) : NULL;
	char *saved_xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
	char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("AJAR_DATA", "/srv/ajar", 1);
	CHECK_OK(store_default_uri(uri, sizeof(uri)));
	CHECK_STR(uri, "sqlite:/srv/ajar/ajar.db");
	CHECK_EQ_INT(store_default_uri(uri, 10), AJAR_ERR_LIMIT);
	unsetenv("AJAR_DATA");
	setenv("XDG_DATA_HOME", "/home/u/.data", 1);
	CHECK_OK(store_default_uri(uri, sizeof(uri)));
	CHECK_STR(uri, "sqlite:/home/u/.data/ajar/ajar.db");
	setenv("XDG_DATA_HOME", "relative/is/ignored", 1);
	setenv("HOME", "/home/u", 1);
	CHECK_OK(store_default_uri(uri, sizeof(uri)));
	CHECK_STR(uri, "sqlite:/home/u/.local/share/ajar/ajar.db");
	unsetenv("XDG_DATA_HOME");
	if (saved_data)
		setenv("AJAR_DATA", saved_data, 1);
	if (saved_xdg)
		setenv("XDG_DATA_HOME", saved_xdg, 1);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_data);
	free(saved_xdg);
	free(saved_home);
}

static void test_open_creates(void)
{
	struct store *st = open_ok(tmp_uri("new/deeper/ajar.db"));
	struct stat sb;
	char version[16];

	if (!st)
		return;
	CHECK_STR(store_file(st), tmp_path("new/deeper/ajar.db"));
	CHECK(stat(tmp_path("new"), &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
	CHECK(stat(tmp_path("new/deeper"), &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(stat(tmp_path("new/deeper/ajar.db"), &sb) == 0 && (sb.st_mode & 0777) == 0600);
	/* The WAL takes the database file's mode. */
	CHECK(stat(tmp_path("new/deeper/ajar.db-wal"), &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK_OK(store_meta_get(st, "schema_version", version, sizeof(version)));
	CHECK_STR(version, "1");
	store_close(st);

	/* A bare path works too, and opening again is a no-op migration. */
	st = open_ok(tmp_path("new/deeper/ajar.db"));
	if (st) {
		CHECK_OK(store_meta_get(st, "schema_version", version, sizeof(version)));
		CHECK_STR(version, "1");
		store_close(st);
	}

	/* A parent that is a file: an error naming it, no crash. */
	FILE *fp = fopen(tmp_path("plainfile"), "w");
	if (fp)
		fclose(fp);
	st = NULL;
	CHECK_EQ_INT(store_open(tmp_uri("plainfile/ajar.db"), &st), AJAR_ERR_IO);
	CHECK(strstr(ajar_err_msg(), "plainfile") != NULL);
}

static void test_meta(void)
{
	struct store *st = open_ok(tmp_uri("meta.db"));
	char out[32];

	if (!st)
		return;
	CHECK_EQ_INT(store_meta_get(st, "policy_sha256", out, sizeof(out)), AJAR_ERR_NOT_FOUND);
	CHECK_OK(store_meta_set(st, "policy_sha256", "abc"));
	CHECK_OK(store_meta_get(st, "policy_sha256", out, sizeof(out)));
	CHECK_STR(out, "abc");
	CHECK_OK(store_meta_set(st, "policy_sha256", "0123456789"));
	CHECK_OK(store_meta_get(st, "policy_sha256", out, sizeof(out)));
	CHECK_STR(out, "0123456789");
	CHECK_EQ_INT(store_meta_get(st, "policy_sha256", out, 10), AJAR_ERR_LIMIT);
	CHECK_OK(store_meta_get(st, "policy_sha256", out, 11));
	CHECK_EQ_INT(store_meta_set(st, "schema_version", "2"), AJAR_ERR_INVALID);
	CHECK_OK(store_meta_get(st, "schema_version", out, sizeof(out)));
	CHECK_STR(out, "1");
	store_close(st);
}

/* ---- keys and access requests ---- */

static void test_keys(void)
{
	struct store *st = open_ok(tmp_uri("keys.db"));
	struct store_key k, got, *list = NULL;
	size_t n = 0;

	if (!st)
		return;
	make_key(&k, "kb", 2000);
	CHECK_OK(store_key_insert(st, &k));
	CHECK_OK(store_key_get(st, "kb", &got));
	CHECK(memcmp(&k, &got, sizeof(k)) == 0);
	CHECK_EQ_INT(store_key_insert(st, &k), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "kb") != NULL);
	CHECK_EQ_INT(store_key_get(st, "nope", &got), AJAR_ERR_NOT_FOUND);

	make_key(&k, "ka", 1000); /* older, inserted later */
	CHECK_OK(store_key_insert(st, &k));
	make_key(&k, "kc", 2000); /* same time as kb, inserted after it */
	CHECK_OK(store_key_insert(st, &k));
	CHECK_OK(store_key_list(st, &list, &n));
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_STR(list[0].id, "ka");
		CHECK_STR(list[1].id, "kb");
		CHECK_STR(list[2].id, "kc");
		CHECK_STR(list[1].owner, "owner of kb");
	}
	free(list);

	CHECK_OK(store_key_revoke(st, "kb", 5000));
	CHECK_OK(store_key_get(st, "kb", &got));
	CHECK_EQ_INT(got.revoked, 5000);
	CHECK_OK(store_key_revoke(st, "kb", 6000)); /* twice: OK, first time kept */
	CHECK_OK(store_key_get(st, "kb", &got));
	CHECK_EQ_INT(got.revoked, 5000);
	CHECK_EQ_INT(store_key_revoke(st, "nope", 5000), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_key_revoke(st, "ka", 0), AJAR_ERR_INVALID);
	CHECK_OK(store_key_get(st, "ka", &got));
	CHECK_EQ_INT(got.revoked, 0);
	store_close(st);

	/* An empty store lists nothing, with a NULL array. */
	st = open_ok(tmp_uri("keys-empty.db"));
	if (st) {
		list = (struct store_key *)&n;
		CHECK_OK(store_key_list(st, &list, &n));
		CHECK(list == NULL && n == 0);
		store_close(st);
	}
}

static void test_access(void)
{
	struct store *st = open_ok(tmp_uri("access.db"));
	struct store_access a, got, *list = NULL;
	size_t n = 0;

	if (!st)
		return;
	make_access(&a, "acc1", 100);
	CHECK_OK(store_access_insert(st, &a));
	CHECK_OK(store_access_get(st, "acc1", &got));
	CHECK(memcmp(&a, &got, sizeof(a)) == 0);
	CHECK_EQ_INT(store_access_insert(st, &a), AJAR_ERR_INVALID);
	CHECK_EQ_INT(store_access_get(st, "nope", &got), AJAR_ERR_NOT_FOUND);
	make_access(&a, "acc2", 200);
	CHECK_OK(store_access_insert(st, &a));
	make_access(&a, "acc3", 50);
	CHECK_OK(store_access_insert(st, &a));

	/* Two deciders: the first wins, the second is told it is decided. */
	CHECK_OK(store_access_get(st, "acc1", &got));
	struct store_access approve = got, deny = got;
	approve.status = STORE_ACCESS_APPROVED;
	snprintf(approve.granted_tier, sizeof(approve.granted_tier), "researcher");
	snprintf(approve.reason, sizeof(approve.reason), "rule edu-domain");
	snprintf(approve.decided_by, sizeof(approve.decided_by), "auto");
	approve.decided = 150;
	deny.status = STORE_ACCESS_DENIED;
	snprintf(deny.reason, sizeof(deny.reason), "no");
	snprintf(deny.decided_by, sizeof(deny.decided_by), "cli");
	deny.decided = 151;
	CHECK_OK(store_access_update(st, &approve, STORE_ACCESS_PENDING));
	CHECK_EQ_INT(store_access_update(st, &deny, STORE_ACCESS_PENDING), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "already approved") != NULL);
	CHECK_OK(store_access_get(st, "acc1", &got));
	CHECK(memcmp(&approve, &got, sizeof(got)) == 0);

	/* Unconditional: the key id recorded once retrieved. */
	snprintf(approve.key_id, sizeof(approve.key_id), "key123");
	CHECK_OK(store_access_update(st, &approve, -1));
	CHECK_OK(store_access_get(st, "acc1", &got));
	CHECK_STR(got.key_id, "key123");
	CHECK_STR(got.name, "Ada acc1"); /* not among the updated columns */

	struct store_access ghost = approve;
	snprintf(ghost.id, sizeof(ghost.id), "ghost");
	CHECK_EQ_INT(store_access_update(st, &ghost, -1), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_access_update(st, &ghost, STORE_ACCESS_PENDING), AJAR_ERR_NOT_FOUND);
	ghost = approve;
	ghost.status = 7;
	CHECK_EQ_INT(store_access_update(st, &ghost, -1), AJAR_ERR_INVALID);

	CHECK_OK(store_access_list(st, STORE_ACCESS_PENDING, &list, &n));
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].id, "acc3"); /* oldest first */
		CHECK_STR(list[1].id, "acc2");
	}
	free(list);
	CHECK_OK(store_access_list(st, -1, &list, &n));
	CHECK_EQ_INT(n, 3);
	free(list);
	CHECK_OK(store_access_list(st, STORE_ACCESS_DENIED, &list, &n));
	CHECK(n == 0 && list == NULL);
	store_close(st);
}

static void test_limits(void)
{
	struct store *st = open_ok(tmp_uri("limits.db"));
	struct store_key k;
	struct store_access a;
	struct store_audit_row r;
	char *big;

	if (!st)
		return;
	make_key(&k, "k", 1);
	memset(k.id, 'x', sizeof(k.id)); /* no NUL: one byte too long */
	CHECK_EQ_INT(store_key_insert(st, &k), AJAR_ERR_LIMIT);
	make_key(&k, "k", 1);
	memset(k.owner, 'o', sizeof(k.owner));
	CHECK_EQ_INT(store_key_insert(st, &k), AJAR_ERR_LIMIT);
	make_key(&k, "k", 1);
	memset(k.owner, 'o', sizeof(k.owner) - 1); /* exactly fits */
	CHECK_OK(store_key_insert(st, &k));

	make_access(&a, "a", 1);
	memset(a.intended_use, 'u', sizeof(a.intended_use));
	CHECK_EQ_INT(store_access_insert(st, &a), AJAR_ERR_LIMIT);
	make_access(&a, "a", 1);
	memset(a.license_sha256, 'f', sizeof(a.license_sha256));
	CHECK_EQ_INT(store_access_insert(st, &a), AJAR_ERR_LIMIT);

	make_row(&r, 1, 1, "", "public", "ok", "", 0, 0, NULL);
	memset(r.reason, 'r', sizeof(r.reason));
	CHECK_EQ_INT(append(st, &r), AJAR_ERR_LIMIT);
	make_row(&r, 1, 1, "", "public", "ok", "", 0, 0, NULL);
	memset(r.kind, 'k', sizeof(r.kind));
	CHECK_EQ_INT(append(st, &r), AJAR_ERR_LIMIT);
	CHECK_EQ_INT(store_audit_last(st, &r), AJAR_ERR_NOT_FOUND);

	big = malloc(70000);
	if (big) {
		memset(big, 'v', 69999);
		big[69999] = '\0';
		CHECK_EQ_INT(store_meta_set(st, "big", big), AJAR_ERR_LIMIT);
		free(big);
	}
	store_close(st);
}

/* ---- the audit chain, usage and counters ---- */

#define DAY_US (86400LL * 1000000LL)

/* A duplicate seq is refused and the whole append undone: no usage, no
 * counters, the head unchanged (the state test_audit_append_effects left). */
static void check_duplicate_undone(struct store *st)
{
	struct store_audit_row r;
	struct store_audit_head h;
	struct store_usage u;

	make_row(&r, 3, 10 * DAY_US + 9, "k1", "public", "ok", "", 1000, 1000, NULL);
	CHECK_EQ_INT(append(st, &r), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "exists already") != NULL);
	CHECK_OK(store_usage_get(st, "k1", 10, &u));
	CHECK(u.requests == 2 && u.tokens_in == 11);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), 3);
	CHECK_EQ_INT(counter(st, "tokens:tier:public"), 33);
	CHECK_OK(store_audit_head_get(st, &h));
	CHECK_EQ_INT(h.seq, 7);
	CHECK_OK(store_audit_last(st, &r));
	CHECK_EQ_INT(r.ts_us, 11 * DAY_US + 3);
	free(r.content);
}

/* Several rows in one transaction (group commit): all of them, with their
 * usage and counters, and the head naming the last; a batch with one seq
 * that exists writes nothing at all. */
static void test_audit_append_batch(void)
{
	struct store *st = open_ok(tmp_uri("batch.db"));
	struct store_audit_row r[4], back;
	const struct store_audit_row *rows[4] = { &r[0], &r[1], &r[2], &r[3] };
	struct store_audit_head h, hb;
	struct store_usage u;

	if (!st)
		return;
	for (int i = 0; i < 3; i++)
		make_row(&r[i], i + 1, 10 * DAY_US + i, "k1", "public", "ok", "", 10, 5, NULL);
	make_head(&h, &r[2]);
	CHECK_OK(store_audit_append_batch(st, rows, 3, &h));
	CHECK_OK(store_audit_head_get(st, &hb));
	CHECK_EQ_INT(hb.seq, 3);
	CHECK(memcmp(hb.sig, h.sig, 64) == 0);
	CHECK_OK(store_audit_last(st, &back));
	CHECK(rows_equal(&back, &r[2]));
	free(back.content);
	CHECK_OK(store_usage_get(st, "k1", 10, &u));
	CHECK_EQ_INT(u.requests, 3);
	CHECK_EQ_INT(u.tokens_in + u.tokens_out, 45);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), 3);

	/* Rows 4, 5 and a second 3: refused whole. */
	make_row(&r[0], 4, 11 * DAY_US, "k1", "public", "ok", "", 1, 1, NULL);
	make_row(&r[1], 5, 11 * DAY_US + 1, "k1", "public", "ok", "", 1, 1, NULL);
	make_row(&r[2], 3, 11 * DAY_US + 2, "k1", "public", "ok", "", 1, 1, NULL);
	make_head(&h, &r[2]);
	CHECK_EQ_INT(store_audit_append_batch(st, rows, 3, &h), AJAR_ERR_INVALID);
	CHECK_OK(store_audit_head_get(st, &hb));
	CHECK_EQ_INT(hb.seq, 3);
	CHECK_OK(store_audit_last(st, &back));
	CHECK_EQ_INT(back.seq, 3);
	free(back.content);
	CHECK_OK(store_usage_get(st, "k1", 11, &u));
	CHECK_EQ_INT(u.requests, 0);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), 3);
	CHECK_EQ_INT(store_audit_append_batch(st, rows, 0, &h), AJAR_ERR_INVALID);

	/* A served request with a moderation category noted: flagged:CAT. */
	make_row(&r[0], 4, 11 * DAY_US + 3, "k1", "public", "flagged", "violence", 1, 1, NULL);
	make_head(&h, &r[0]);
	CHECK_OK(store_audit_append_batch(st, rows, 1, &h));
	CHECK_EQ_INT(counter(st, "flagged:violence"), 1);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), 4);
	store_close(st);
}

static void test_audit_append_effects(void)
{
	struct store *st = open_ok(tmp_uri("effects.db"));
	struct store_audit_row r;
	struct store_usage u, *ul = NULL;
	size_t n = 0;

	if (!st)
		return;
	/* Day 10: two requests by k1, one by k2; day 11: one by k1. */
	make_row(&r, 1, 10 * DAY_US + 5, "k1", "public", "ok", "", 10, 20, NULL);
	CHECK_OK(append(st, &r));
	make_row(&r, 2, 10 * DAY_US + DAY_US - 1, "k1", "public", "ok", "", 1, 2, NULL);
	CHECK_OK(append(st, &r));
	make_row(&r, 3, 10 * DAY_US + 7, "k2", "researcher", "ok", "", 100, 200, NULL);
	CHECK_OK(append(st, &r));
	make_row(&r, 4, 11 * DAY_US, "k1", "public", "refused", "rate_limit_requests", 0, 0, NULL);
	CHECK_OK(append(st, &r));
	/* Without a key: counters but no usage. */
	make_row(&r, 5, 11 * DAY_US + 1, "", "anonymous", "refused", "invalid_api_key", 0, 0, NULL);
	CHECK_OK(append(st, &r));
	make_row(&r, 6, 11 * DAY_US + 2, "k2", "researcher", "blocked", "violence", 5, 0, NULL);
	CHECK_OK(append(st, &r));
	/* An admin action with a key: neither usage nor tier counters. */
	make_row(&r, 7, 11 * DAY_US + 3, "k2", "researcher", "ok", "", 0, 0, NULL);
	snprintf(r.kind, sizeof(r.kind), "admin");
	snprintf(r.endpoint, sizeof(r.endpoint), "keys.revoke");
	CHECK_OK(append(st, &r));

	CHECK_OK(store_usage_get(st, "k1", 10, &u));
	CHECK_STR(u.key_id, "k1");
	CHECK(u.day == 10 && u.requests == 2 && u.tokens_in == 11 && u.tokens_out == 22);
	CHECK_OK(store_usage_get(st, "k1", 11, &u));
	CHECK(u.requests == 1 && u.tokens_in == 0 && u.tokens_out == 0);
	CHECK_OK(store_usage_get(st, "k2", 11, &u));
	CHECK(u.requests == 1 && u.tokens_in == 5); /* the admin row added nothing */
	CHECK_OK(store_usage_get(st, "k3", 10, &u));
	CHECK(u.day == 10 && u.requests == 0 && u.tokens_in == 0 && u.tokens_out == 0);
	CHECK_OK(store_usage_get(st, "", 11, &u));
	CHECK_EQ_INT(u.requests, 0);

	CHECK_OK(store_usage_list(st, 11, &ul, &n));
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK(!strcmp(ul[0].key_id, "k1") && ul[0].day == 11);
		CHECK(!strcmp(ul[1].key_id, "k2") && ul[1].day == 11);
	}
	free(ul);
	CHECK_OK(store_usage_list(st, 0, &ul, &n));
	CHECK_EQ_INT(n, 4);
	if (n == 4) /* by key, then day */
		CHECK(!strcmp(ul[0].key_id, "k1") && ul[0].day == 10 && ul[1].day == 11 &&
		      !strcmp(ul[2].key_id, "k2") && ul[2].day == 10);
	free(ul);

	CHECK_EQ_INT(counter(st, "requests:tier:public"), 3);
	CHECK_EQ_INT(counter(st, "tokens:tier:public"), 33);
	CHECK_EQ_INT(counter(st, "requests:tier:researcher"), 2);
	CHECK_EQ_INT(counter(st, "tokens:tier:researcher"), 305);
	CHECK_EQ_INT(counter(st, "requests:tier:anonymous"), 1);
	CHECK_EQ_INT(counter(st, "tokens:tier:anonymous"), 0);
	CHECK_EQ_INT(counter(st, "refused:rate_limit_requests"), 1);
	CHECK_EQ_INT(counter(st, "refused:invalid_api_key"), 1);
	CHECK_EQ_INT(counter(st, "blocked:violence"), 1);

	struct store_counter *c = NULL;
	CHECK_OK(store_counters(st, &c, &n));
	CHECK_EQ_INT(n, 9); /* tokens:tier:anonymous (0) too */
	for (size_t i = 1; i < n; i++) /* by name */
		CHECK(strcmp(c[i - 1].name, c[i].name) < 0);
	free(c);

	check_duplicate_undone(st);
	store_close(st);
}

struct scan_log {
	int64_t seqs[64];
	size_t n;
	size_t stop_after; /* 0: never */
};

static int scan_collect(void *user, const struct store_audit_row *r)
{
	struct scan_log *log = user;
	if (log->n < 64)
		log->seqs[log->n++] = r->seq;
	return log->stop_after && log->n >= log->stop_after;
}

static void test_audit_rows(void)
{
	struct store *st = open_ok(tmp_uri("audit.db"));
	struct store_audit_row rows[10], got, *recent = NULL;
	struct store_audit_head h, hgot;
	char content[3][32] = {"{\"prompt\":\"hi\"}", "", "{\"x\":1}"};
	struct scan_log log;
	size_t n = 0;

	if (!st)
		return;
	CHECK_EQ_INT(store_audit_head_get(st, &hgot), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_audit_last(st, &got), AJAR_ERR_NOT_FOUND);
	CHECK_OK(store_audit_recent(st, 5, &recent, &n));
	CHECK(recent == NULL && n == 0);

	/* ts_us goes back once (a clock step) at seq 6. */
	for (int i = 0; i < 10; i++) {
		int64_t ts = 1000 * (i + 1) - (i == 5 ? 4500 : 0);
		make_row(&rows[i], i + 1, ts, i % 2 ? "k1" : "", "public", "ok", "", i, 2 * i,
			 i < 3 ? content[i] : NULL);
		snprintf(rows[i].output_sha256, sizeof(rows[i].output_sha256), "%064d", i);
		make_head(&h, &rows[i]);
		CHECK_OK(store_audit_append(st, &rows[i], &h));
	}
	CHECK_OK(store_audit_head_get(st, &hgot));
	CHECK(hgot.seq == 10 && memcmp(hgot.hash, rows[9].hash, 32) == 0 && memcmp(hgot.sig, h.sig, 64) == 0);

	CHECK_OK(store_audit_last(st, &got));
	CHECK(rows_equal(&got, &rows[9]));
	free(got.content);

	/* Content: NULL, "" and text each come back as they went in. */
	CHECK_OK(store_audit_recent(st, 100, &recent, &n));
	CHECK_EQ_INT(n, 10);
	for (size_t i = 0; i < n; i++) /* newest first */
		CHECK(rows_equal(&recent[i], &rows[9 - i]));
	if (n == 10) {
		CHECK(recent[9].content && strcmp(recent[9].content, content[0]) == 0);
		CHECK(recent[8].content && recent[8].content[0] == '\0');
		CHECK(recent[0].content == NULL);
	}
	store_audit_rows_free(recent, n);
	CHECK_OK(store_audit_recent(st, 3, &recent, &n));
	CHECK(n == 3 && recent[0].seq == 10 && recent[2].seq == 8);
	store_audit_rows_free(recent, n);

	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, 0, 0, scan_collect, &log));
	CHECK_EQ_INT(log.n, 10);
	for (size_t i = 0; i < log.n; i++)
		CHECK_EQ_INT(log.seqs[i], (int64_t)i + 1);

	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, 4, 0, scan_collect, &log));
	CHECK(log.n == 7 && log.seqs[0] == 4 && log.seqs[6] == 10);

	/* since 3000 us: rows 3, 4, 5, 7... but not 6 (ts 1500), in seq order. */
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, 0, 3000, scan_collect, &log));
	CHECK_EQ_INT(log.n, 7);
	if (log.n == 7)
		CHECK(log.seqs[0] == 3 && log.seqs[2] == 5 && log.seqs[3] == 7 && log.seqs[6] == 10);
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, 9, 3000, scan_collect, &log));
	CHECK(log.n == 2 && log.seqs[0] == 9);
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, 0, 999999, scan_collect, &log));
	CHECK_EQ_INT(log.n, 0);

	memset(&log, 0, sizeof(log));
	log.stop_after = 3;
	CHECK_OK(store_audit_scan(st, 2, 0, scan_collect, &log));
	CHECK(log.n == 3 && log.seqs[2] == 4);
	store_close(st);
}

struct scan_count {
	int64_t n, last, fat;
	bool ordered;
};

static int scan_count(void *user, const struct store_audit_row *r)
{
	struct scan_count *c = user;
	c->ordered = c->ordered && r->seq == c->last + 1;
	c->last = r->seq;
	c->n++;
	c->fat += r->content && strlen(r->content) == 299999;
	return 0;
}

/* Scans cross batch boundaries, the row-count ones and the content-size
 * ones, and a callback may use the store (no lock is held during it). */
static int scan_nested(void *user, const struct store_audit_row *r)
{
	struct store *st = user;
	struct store_audit_head h;
	return r->seq == 3 && store_audit_head_get(st, &h) != AJAR_OK;
}

static void test_audit_scan_long(void)
{
	struct store *st = open_ok(tmp_uri("long.db"));
	struct store_audit_row r;
	struct scan_count c = {0, 0, 0, true};
	char *fat = malloc(300000);

	if (!st || !fat) {
		free(fat);
		store_close(st);
		return;
	}
	memset(fat, 'c', 299999);
	fat[299999] = '\0';
	for (int i = 1; i <= 200; i++) {
		make_row(&r, i, i, "", "public", "ok", "", 0, 0, i % 4 == 0 ? fat : NULL);
		if (append(st, &r) != AJAR_OK) {
			CHECK_MSG(0, "append %d: %s", i, ajar_err_msg());
			break;
		}
	}
	CHECK_OK(store_audit_scan(st, 0, 0, scan_count, &c));
	CHECK(c.n == 200 && c.last == 200 && c.ordered && c.fat == 50);
	c = (struct scan_count){0, 149, 0, true};
	CHECK_OK(store_audit_scan(st, 100, 150, scan_count, &c));
	CHECK(c.n == 51 && c.last == 200 && c.ordered);
	c = (struct scan_count){0, 179, 0, true};
	CHECK_OK(store_audit_scan(st, 180, 150, scan_count, &c));
	CHECK(c.n == 21 && c.last == 200 && c.ordered);
	CHECK_OK(store_audit_scan(st, 0, 0, scan_nested, st));
	free(fat);
	store_close(st);
}

/* Scans from the smallest possible seq (audit_verify's "a forged row 0 or
 * below must be seen too") and past the largest. */
static void test_audit_scan_extremes(void)
{
	struct store *st = open_ok(tmp_uri("extremes.db"));
	struct store_audit_row r;
	struct scan_log log;
	int64_t seqs[] = {-5, 0, 1, INT64_MAX};

	if (!st)
		return;
	for (size_t i = 0; i < 4; i++) {
		make_row(&r, seqs[i], -1000 + (int64_t)i, "", "public", "ok", "", 0, 0, NULL);
		CHECK_OK(append(st, &r));
	}
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, INT64_MIN, INT64_MIN, scan_collect, &log));
	CHECK(log.n == 4 && log.seqs[0] == -5 && log.seqs[1] == 0 && log.seqs[3] == INT64_MAX);
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, INT64_MAX, INT64_MIN, scan_collect, &log));
	CHECK(log.n == 1 && log.seqs[0] == INT64_MAX);
	memset(&log, 0, sizeof(log));
	CHECK_OK(store_audit_scan(st, INT64_MIN, -998, scan_collect, &log));
	CHECK(log.n == 2 && log.seqs[0] == 1);
	CHECK_OK(store_audit_last(st, &r));
	CHECK_EQ_INT(r.seq, INT64_MAX);
	free(r.content);
	store_close(st);
}

/* ---- files: durability, other processes, hand edits, bad files ---- */

static void test_reopen(void)
{
	struct store *st = open_ok(tmp_uri("durable.db"));
	struct store_key k, kgot;
	struct store_access a, agot;
	struct store_audit_row r, rgot;
	struct store_audit_head h, hgot;
	struct store_usage u;
	char v[16];

	if (!st)
		return;
	make_key(&k, "durable", 42);
	make_access(&a, "durable-acc", 43);
	make_row(&r, 1, 5 * DAY_US, "durable", "public", "ok", "", 3, 4, "{\"c\":1}");
	make_head(&h, &r);
	CHECK_OK(store_key_insert(st, &k));
	CHECK_OK(store_access_insert(st, &a));
	CHECK_OK(store_audit_append(st, &r, &h));
	CHECK_OK(store_meta_set(st, "name", "value"));
	CHECK_OK(store_key_revoke(st, "durable", 99));
	k.revoked = 99;
	store_close(st);

	st = open_ok(tmp_uri("durable.db"));
	if (!st)
		return;
	CHECK_OK(store_key_get(st, "durable", &kgot));
	CHECK(memcmp(&k, &kgot, sizeof(k)) == 0);
	CHECK_OK(store_access_get(st, "durable-acc", &agot));
	CHECK(memcmp(&a, &agot, sizeof(a)) == 0);
	CHECK_OK(store_audit_last(st, &rgot));
	CHECK(rows_equal(&r, &rgot));
	free(rgot.content);
	CHECK_OK(store_audit_head_get(st, &hgot));
	CHECK(memcmp(&h, &hgot, sizeof(h)) == 0);
	CHECK_OK(store_usage_get(st, "durable", 5, &u));
	CHECK(u.requests == 1 && u.tokens_in == 3 && u.tokens_out == 4);
	CHECK_EQ_INT(counter(st, "tokens:tier:public"), 7);
	CHECK_OK(store_meta_get(st, "name", v, sizeof(v)));
	CHECK_STR(v, "value");
	store_close(st);
}

static void test_two_handles(void)
{
	struct store *server = open_ok(tmp_uri("shared.db"));
	struct store *cli = open_ok(tmp_uri("shared.db"));
	struct store_key k, got;
	struct store_audit_row r;

	if (!server || !cli) {
		store_close(server);
		store_close(cli);
		return;
	}
	make_key(&k, "shared", 1);
	CHECK_OK(store_key_insert(server, &k));
	CHECK_OK(store_key_get(server, "shared", &got)); /* the server's cached read */
	CHECK_EQ_INT(got.revoked, 0);
	CHECK_OK(store_key_get(cli, "shared", &got));
	CHECK_OK(store_key_revoke(cli, "shared", 777));
	CHECK_OK(store_key_get(server, "shared", &got)); /* the very next read sees it */
	CHECK_EQ_INT(got.revoked, 777);

	/* Appends from both interleave in one chain. */
	make_row(&r, 1, 1, "shared", "public", "ok", "", 1, 1, NULL);
	CHECK_OK(append(server, &r));
	make_row(&r, 2, 2, "", "", "ok", "", 0, 0, NULL);
	snprintf(r.kind, sizeof(r.kind), "admin");
	CHECK_OK(append(cli, &r));
	make_row(&r, 2, 3, "", "", "ok", "", 0, 0, NULL);
	CHECK_EQ_INT(append(server, &r), AJAR_ERR_INVALID);
	CHECK_OK(store_audit_last(server, &r));
	CHECK_EQ_INT(r.seq, 2);
	free(r.content);
	store_close(cli);
	store_close(server);
}

/* Writes by two processes at once (the server and the CLI) wait for each
 * other (busy_timeout) instead of failing. Returns the failures. */
static int write_batch(const char *prefix, int64_t first_seq)
{
	struct store *st = NULL;
	struct store_key k;
	struct store_audit_row r;
	char id[32];
	int failures = 0;

	if (store_open(tmp_uri("procs.db"), &st) != AJAR_OK) {
		fprintf(stderr, "%s: open: %s\n", prefix, ajar_err_msg());
		return 1;
	}
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		make_key(&k, id, i);
		make_row(&r, first_seq + i, i, id, "public", "ok", "", 1, 0, NULL);
		if (store_key_insert(st, &k) != AJAR_OK || append(st, &r) != AJAR_OK) {
			fprintf(stderr, "%s %d: %s\n", prefix, i, ajar_err_msg());
			failures++;
		}
	}
	store_close(st);
	return failures;
}

static void test_two_processes(void)
{
	struct store *st = open_ok(tmp_uri("procs.db")); /* created before the race */
	struct store_key *keys = NULL;
	size_t n = 0;
	int status = 0;
	pid_t pid;

	store_close(st);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(write_batch("child", 1000) ? 1 : 0);
	CHECK_EQ_INT(write_batch("parent", 2000), 0);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	st = open_ok(tmp_uri("procs.db"));
	if (!st)
		return;
	CHECK_OK(store_key_list(st, &keys, &n));
	CHECK_EQ_INT(n, 80);
	free(keys);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), 80);
	store_close(st);
}

static void test_hand_edited(void)
{
	struct store *st = open_ok(tmp_uri("edited.db"));
	struct store_key k, got;
	struct store_audit_row r, *rows = NULL;
	struct store_audit_head h;
	struct store_access a, agot;
	size_t n = 0;

	if (!st)
		return;
	make_key(&k, "short", 1);
	CHECK_OK(store_key_insert(st, &k));
	make_key(&k, "long", 2);
	CHECK_OK(store_key_insert(st, &k));
	make_access(&a, "acc", 3);
	CHECK_OK(store_access_insert(st, &a));
	make_row(&r, 1, 1, "", "public", "ok", "", 0, 0, NULL);
	CHECK_OK(append(st, &r));

	/* Edits by someone else while the store is open. */
	sql_by_hand(tmp_path("edited.db"), "UPDATE keys SET digest = x'0102', tier = 42 WHERE id = 'short'");
	sql_by_hand(tmp_path("edited.db"), "UPDATE keys SET digest = zeroblob(1000), owner = printf('%.2000c', 'o'),"
					   " access_id = 12.5 WHERE id = 'long'");
	sql_by_hand(tmp_path("edited.db"), "UPDATE access_requests SET status = 99999999999, intended_use ="
					   " printf('%.9000c', 'u'), token_digest = 'text' WHERE id = 'acc'");
	sql_by_hand(tmp_path("edited.db"), "UPDATE audit SET prev = x'ff', hash = zeroblob(64), kind = "
					   "'a-kind-far-too-long-for-its-array', content = x'00ff' WHERE seq = 1");
	sql_by_hand(tmp_path("edited.db"), "UPDATE audit_head SET sig = x'01'");

	CHECK_OK(store_key_get(st, "short", &got));
	CHECK(got.digest[0] == 1 && got.digest[1] == 2 && got.digest[2] == 0 && got.digest[31] == 0);
	CHECK_STR(got.tier, "42");
	CHECK_OK(store_key_get(st, "long", &got));
	CHECK_EQ_INT(strlen(got.owner), STORE_NAME_MAX - 1);
	CHECK_STR(got.access_id, "12.5");
	CHECK_OK(store_access_get(st, "acc", &agot));
	CHECK_EQ_INT(agot.status, 2147483647);
	CHECK_EQ_INT(strlen(agot.intended_use), STORE_TEXT_MAX - 1);
	CHECK(memcmp(agot.token_digest, "text", 4) == 0 && agot.token_digest[4] == 0);
	CHECK_OK(store_audit_recent(st, 1, &rows, &n));
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK(rows[0].prev[0] == 0xff && rows[0].prev[1] == 0);
		CHECK_EQ_INT(strlen(rows[0].kind), sizeof(rows[0].kind) - 1);
		CHECK(rows[0].content != NULL);
	}
	store_audit_rows_free(rows, n);
	CHECK_OK(store_audit_head_get(st, &h));
	CHECK(h.sig[0] == 1 && h.sig[1] == 0 && h.sig[63] == 0);
	store_close(st);
}

static void test_bad_files(void)
{
	struct store *st = NULL;
	FILE *fp = fopen(tmp_path("garbage.db"), "wb");
	uint8_t junk[4096];

	if (fp) {
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 131 + 7);
		fwrite(junk, 1, sizeof(junk), fp);
		fclose(fp);
	}
	CHECK_EQ_INT(store_open(tmp_uri("garbage.db"), &st), AJAR_ERR_FORMAT);
	CHECK(st == NULL);
	CHECK_MSG(strstr(ajar_err_msg(), "garbage.db") != NULL, "%s", ajar_err_msg());

	fp = fopen(tmp_path("short.db"), "wb");
	if (fp) {
		fputs("hello\n", fp);
		fclose(fp);
	}
	CHECK_EQ_INT(store_open(tmp_uri("short.db"), &st), AJAR_ERR_FORMAT);

	/* A SQLite file with a valid header and garbage after it. */
	st = open_ok(tmp_uri("torn.db"));
	store_close(st);
	st = NULL;
	fp = fopen(tmp_path("torn.db"), "r+b");
	if (fp) {
		fseek(fp, 100, SEEK_SET);
		fwrite(junk, 1, sizeof(junk), fp);
		fclose(fp);
	}
	enum ajar_err err = store_open(tmp_uri("torn.db"), &st);
	CHECK_MSG(err == AJAR_ERR_FORMAT || err == AJAR_ERR_IO, "%d: %s", err, ajar_err_msg());
	store_close(st);
	st = NULL;

	/* Someone else's database: refused, not filled with our tables. */
	sql_by_hand(tmp_path("other.db"), "CREATE TABLE photos(id INTEGER PRIMARY KEY, path TEXT)");
	CHECK_EQ_INT(store_open(tmp_uri("other.db"), &st), AJAR_ERR_FORMAT);
	CHECK(strstr(ajar_err_msg(), "other than ajar") != NULL);

	/* A directory where the file should be. */
	mkdir(tmp_path("adir.db"), 0700);
	CHECK_EQ_INT(store_open(tmp_uri("adir.db"), &st), AJAR_ERR_IO);
	CHECK(st == NULL);
}

static void test_future_and_broken_version(void)
{
	struct store *st = open_ok(tmp_uri("future.db"));

	store_close(st);
	st = NULL;
	sql_by_hand(tmp_path("future.db"), "UPDATE meta SET value = '99' WHERE name = 'schema_version'");
	CHECK_EQ_INT(store_open(tmp_uri("future.db"), &st), AJAR_ERR_UNSUPPORTED);
	CHECK(st == NULL);
	CHECK_MSG(strstr(ajar_err_msg(), "99") && strstr(ajar_err_msg(), "newer"), "%s", ajar_err_msg());

	sql_by_hand(tmp_path("future.db"), "UPDATE meta SET value = 'one' WHERE name = 'schema_version'");
	CHECK_EQ_INT(store_open(tmp_uri("future.db"), &st), AJAR_ERR_FORMAT);
	sql_by_hand(tmp_path("future.db"), "DELETE FROM meta WHERE name = 'schema_version'");
	CHECK_EQ_INT(store_open(tmp_uri("future.db"), &st), AJAR_ERR_FORMAT);
	CHECK(st == NULL);
}

/* ---- threads ---- */

struct thread_arg {
	struct store *st;
	int index;
	int failures;
};

#define THREAD_N 4
#define THREAD_ROWS 25

static void *thread_main(void *p)
{
	struct thread_arg *arg = p;
	struct store_audit_row r;
	struct store_key k, got;
	char id[16];

	for (int i = 0; i < THREAD_ROWS; i++) {
		int64_t seq = (int64_t)arg->index * THREAD_ROWS + i + 1;
		snprintf(id, sizeof(id), "t%d-%d", arg->index, i);
		make_key(&k, id, seq);
		make_row(&r, seq, seq, id, "public", "ok", "", 1, 1, NULL);
		if (store_key_insert(arg->st, &k) || append(arg->st, &r) || store_key_get(arg->st, id, &got) ||
		    got.created != seq)
			arg->failures++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct store *st = open_ok(tmp_uri("threads.db"));
	pthread_t th[THREAD_N];
	struct thread_arg args[THREAD_N];
	struct store_key *keys = NULL;
	size_t n = 0;

	if (!st)
		return;
	for (int i = 0; i < THREAD_N; i++) {
		args[i] = (struct thread_arg){st, i, 0};
		CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
	}
	for (int i = 0; i < THREAD_N; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
	}
	CHECK_OK(store_key_list(st, &keys, &n));
	CHECK_EQ_INT(n, THREAD_N * THREAD_ROWS);
	free(keys);
	CHECK_EQ_INT(counter(st, "requests:tier:public"), THREAD_N * THREAD_ROWS);
	store_close(st);
}

/* ---- timing (opt-in) ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define BENCH_APPENDS 1000
#define BENCH_GETS 100000

static void bench(void)
{
	const char *dir = getenv("AJAR_STORE_BENCH_DIR");
	static double took[BENCH_APPENDS];
	char uri[512];
	struct store *st;
	struct store_audit_row r;
	struct store_key k, got;
	double t0, sum = 0, per_get;
	int done = 0;

	snprintf(uri, sizeof(uri), "sqlite:%s/bench.db", dir ? dir : tmp_dir);
	st = open_ok(uri);
	if (!st)
		return;
	make_key(&k, "benchkey", 1);
	CHECK_OK(store_key_insert(st, &k));
	for (int i = 1; i <= BENCH_APPENDS; i++, done++) {
		make_row(&r, i, i, "benchkey", "public", i % 10 ? "ok" : "refused", "rate_limit_requests", 10, 20, NULL);
		t0 = now_s();
		if (append(st, &r) != AJAR_OK) {
			CHECK_MSG(0, "append %d: %s", i, ajar_err_msg());
			break;
		}
		took[done] = now_s() - t0;
		sum += took[done];
	}
	t0 = now_s();
	for (int i = 0; i < BENCH_GETS; i++)
		if (store_key_get(st, "benchkey", &got) != AJAR_OK)
			break;
	per_get = (now_s() - t0) / BENCH_GETS;
	if (done > 0) {
		qsort(took, (size_t)done, sizeof(took[0]), cmp_double);
		printf("bench (%s): store_audit_append mean %.1f us, p50 %.1f us, p99 %.1f us (%d calls);"
		       " store_key_get mean %.2f us\n",
		       uri + 7, sum / done * 1e6, took[done / 2] * 1e6, took[done * 99 / 100] * 1e6, done,
		       per_get * 1e6);
	}
	store_close(st);
	if (dir) {
		char path[512];
		const char *suffix[] = {"", "-wal", "-shm"};
		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/bench.db%s", dir, suffix[i]);
			unlink(path);
		}
	}
}

int main(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar-test-store-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_uri);
	RUN(test_open_creates);
	RUN(test_meta);
	RUN(test_keys);
	RUN(test_access);
	RUN(test_limits);
	RUN(test_audit_append_effects);
	RUN(test_audit_append_batch);
	RUN(test_audit_rows);
	RUN(test_audit_scan_long);
	RUN(test_audit_scan_extremes);
	RUN(test_reopen);
	RUN(test_two_handles);
	RUN(test_two_processes);
	RUN(test_hand_edited);
	RUN(test_bad_files);
	RUN(test_future_and_broken_version);
	RUN(test_threads);
	if (getenv("AJAR_STORE_BENCH"))
		RUN(bench);
	rm_tree(tmp_dir);
	return check_summary();
}
