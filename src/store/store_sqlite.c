/*
 * store_sqlite.c - the SQLite backend of the store (store.h, store_int.h).
 *
 * One sqlite3 connection per handle, opened without SQLite's own mutexes
 * and serialized by the handle's pthread mutex instead: every operation
 * takes the lock for its statements, so the prepared statements and the
 * connection's error state are never used by two threads at once. Other
 * processes (the CLI beside the server) open their own connections; WAL
 * mode lets them read while one writes, busy_timeout makes a writer wait
 * up to 5 s for another's transaction, and synchronous=FULL makes every
 * commit wait for its fsync, which is what "durable on return" means.
 * Every statement is reset as soon as it is used, so no read transaction
 * stays open and each read sees the latest commit of any process.
 *
 * Layout: the schema and its migrations; the statement cache; reading and
 * binding columns; opening (directory, file mode, pragmas, migration);
 * then the operations in the order of store.h, and the table of them.
 *
 * What is read back is not trusted: the file may have been edited by hand.
 * Strings longer than their arrays are cut to fit, blobs of the wrong
 * length are cut or padded with zeros, NULLs read as "" or 0.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the schema ---- */

/* Version 1. Tables keyed by a text name are WITHOUT ROWID: one b-tree
 * instead of two, which is one b-tree write less for each of the usage and
 * counter upserts that every audit append makes. keys and access_requests
 * keep their rowid, the insertion order that "oldest first" falls back on.
 * The audit head is a one-row table (id 1) of its own so seq, hash and
 * signature keep their types; audit_ts lets a scan "since" a time start
 * near the end of a long chain instead of at its first row. */
static const char schema_v1[] =
	"CREATE TABLE meta("
	" name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE keys("
	" id TEXT PRIMARY KEY NOT NULL, digest BLOB NOT NULL, tier TEXT NOT NULL,"
	" owner TEXT NOT NULL, access_id TEXT NOT NULL, created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL, revoked INTEGER NOT NULL);"
	"CREATE TABLE access_requests("
	" id TEXT PRIMARY KEY NOT NULL, token_digest BLOB NOT NULL, name TEXT NOT NULL,"
	" email TEXT NOT NULL, affiliation TEXT NOT NULL, intended_use TEXT NOT NULL,"
	" tier TEXT NOT NULL, license_sha256 TEXT NOT NULL, status INTEGER NOT NULL,"
	" granted_tier TEXT NOT NULL, reason TEXT NOT NULL, decided_by TEXT NOT NULL,"
	" key_id TEXT NOT NULL, created INTEGER NOT NULL, decided INTEGER NOT NULL);"
	"CREATE TABLE usage("
	" key_id TEXT NOT NULL, day INTEGER NOT NULL, requests INTEGER NOT NULL,"
	" tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,"
	" PRIMARY KEY(key_id, day)) WITHOUT ROWID;"
	"CREATE TABLE audit("
	" seq INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, kind TEXT NOT NULL,"
	" request_id TEXT NOT NULL, key_id TEXT NOT NULL, tier TEXT NOT NULL,"
	" endpoint TEXT NOT NULL, model TEXT NOT NULL, tokens_in INTEGER NOT NULL,"
	" tokens_out INTEGER NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,"
	" reason TEXT NOT NULL, latency_us INTEGER NOT NULL, prompt_sha256 TEXT NOT NULL,"
	" output_sha256 TEXT NOT NULL, content TEXT, prev BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE INDEX audit_ts ON audit(ts_us);"
	"CREATE TABLE audit_head("
	" id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
	" hash BLOB NOT NULL, sig BLOB NOT NULL);"
	"CREATE TABLE counters("
	" name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;";

/* migrations[v] takes a store from version v-1 to v. All the steps an open
 * needs run in one transaction with the new version, so a store is always
 * at exactly one version. Append here; never edit a step once released. */
static const char *const migrations[] = {
	NULL, /* version 0: a new, empty file */
	schema_v1,
};
#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])) - 1)

/* ---- the statement cache ---- */

#define KEY_COLS "id, digest, tier, owner, access_id, created, expires, revoked"
#define ACCESS_COLS                                                                   \
	"id, token_digest, name, email, affiliation, intended_use, tier, license_sha256," \
	" status, granted_tier, reason, decided_by, key_id, created, decided"
#define AUDIT_COLS                                                                    \
	"seq, ts_us, kind, request_id, key_id, tier, endpoint, model, tokens_in,"        \
	" tokens_out, status, outcome, reason, latency_us, prompt_sha256,"               \
	" output_sha256, content, prev, hash"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_META_GET,
	ST_META_SET,
	ST_KEY_INSERT,
	ST_KEY_GET,
	ST_KEY_REVOKE,
	ST_KEY_LIST,
	ST_ACCESS_INSERT,
	ST_ACCESS_GET,
	ST_ACCESS_UPDATE,
	ST_ACCESS_STATUS,
	ST_ACCESS_LIST,
	ST_USAGE_GET,
	ST_USAGE_LIST,
	ST_USAGE_ADD,
	ST_AUDIT_INSERT,
	ST_HEAD_PUT,
	ST_HEAD_GET,
	ST_AUDIT_LAST,
	ST_AUDIT_FIRST_SINCE,
	ST_AUDIT_RANGE,
	ST_AUDIT_RECENT,
	ST_COUNTER_ADD,
	ST_COUNTERS,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	/* IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies;
	 * a deferred transaction that later needs it can fail at once. */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_META_GET] = "SELECT value FROM meta WHERE name = ?1",
	[ST_META_SET] = "INSERT INTO meta(name, value) VALUES(?1, ?2)"
			" ON CONFLICT(name) DO UPDATE SET value = excluded.value",
	[ST_KEY_INSERT] = "INSERT INTO keys(" KEY_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_KEY_GET] = "SELECT " KEY_COLS " FROM keys WHERE id = ?1",
	/* One statement, so it is atomic; changes() counts the matched row
	 * even when it was revoked already and keeps its first time. */
	[ST_KEY_REVOKE] = "UPDATE keys SET revoked = CASE WHEN revoked = 0 THEN ?2 ELSE revoked END"
			  " WHERE id = ?1",
	[ST_KEY_LIST] = "SELECT " KEY_COLS " FROM keys ORDER BY created, rowid",
	[ST_ACCESS_INSERT] = "INSERT INTO access_requests(" ACCESS_COLS ") VALUES(?1, ?2, ?3, ?4, ?5,"
			     " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[ST_ACCESS_GET] = "SELECT " ACCESS_COLS " FROM access_requests WHERE id = ?1",
	/* The status test is inside the UPDATE, so two deciders racing in two
	 * processes cannot both match the pending row. */
	[ST_ACCESS_UPDATE] = "UPDATE access_requests SET status = ?2, granted_tier = ?3, reason = ?4,"
			     " decided_by = ?5, decided = ?6, key_id = ?7"
			     " WHERE id = ?1 AND (?8 < 0 OR status = ?8)",
	[ST_ACCESS_STATUS] = "SELECT status FROM access_requests WHERE id = ?1",
	[ST_ACCESS_LIST] = "SELECT " ACCESS_COLS " FROM access_requests"
			   " WHERE ?1 < 0 OR status = ?1 ORDER BY created, rowid",
	[ST_USAGE_GET] = "SELECT requests, tokens_in, tokens_out FROM usage WHERE key_id = ?1 AND day = ?2",
	[ST_USAGE_LIST] = "SELECT key_id, day, requests, tokens_in, tokens_out FROM usage"
			  " WHERE day >= ?1 ORDER BY key_id, day",
	[ST_USAGE_ADD] = "INSERT INTO usage(key_id, day, requests, tokens_in, tokens_out)"
			 " VALUES(?1, ?2, 1, ?3, ?4) ON CONFLICT(key_id, day) DO UPDATE SET"
			 " requests = requests + 1, tokens_in = tokens_in + excluded.tokens_in,"
			 " tokens_out = tokens_out + excluded.tokens_out",
	[ST_AUDIT_INSERT] = "INSERT INTO audit(" AUDIT_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			    " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
	[ST_HEAD_PUT] = "INSERT OR REPLACE INTO audit_head(id, seq, hash, sig) VALUES(1, ?1, ?2, ?3)",
	[ST_HEAD_GET] = "SELECT seq, hash, sig FROM audit_head WHERE id = 1",
	[ST_AUDIT_LAST] = "SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_FIRST_SINCE] = "SELECT min(seq) FROM audit WHERE ts_us >= ?1",
	/* "+ts_us" keeps the planner on the seq (rowid) order: through the
	 * ts_us index it would sort the whole tail for every batch. */
	[ST_AUDIT_RANGE] = "SELECT " AUDIT_COLS " FROM audit WHERE seq >= ?1 AND +ts_us >= ?2"
			   " ORDER BY seq LIMIT ?3",
	[ST_AUDIT_RECENT] = "SELECT " AUDIT_COLS " FROM audit ORDER BY seq DESC LIMIT ?1",
	[ST_COUNTER_ADD] = "INSERT INTO counters(name, value) VALUES(?1, ?2)"
			   " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
	[ST_COUNTERS] = "SELECT name, value FROM counters ORDER BY name",
};

struct sqlite_store {
	struct store base;             /* first: struct store * casts to this */
	pthread_mutex_t lock;          /* serializes every use of db and stmts */
	sqlite3 *db;                   /* guarded by lock */
	sqlite3_stmt *stmts[ST_COUNT]; /* guarded by lock; NULL until first used */
	char path[];                   /* the file as given; set at open, never changes */
};

static struct sqlite_store *as_sqlite(struct store *st)
{
	return (struct sqlite_store *)st;
}

static enum ajar_err code_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM: return AJAR_ERR_NOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_FORMAT: return AJAR_ERR_FORMAT;
	case SQLITE_CONSTRAINT: return AJAR_ERR_INVALID;
	case SQLITE_TOOBIG: return AJAR_ERR_LIMIT;
	default: return AJAR_ERR_IO;
	}
}

/* "store PATH: WHAT: SQLite's reason", with the code SQLite's error maps to.
 * Call before the failed statement is reset. */
static enum ajar_err db_err(struct sqlite_store *s, const char *fmt, ...) AJAR_PRINTF(2, 3);
static enum ajar_err db_err(struct sqlite_store *s, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!s->db)
		return ajar_errf(AJAR_ERR_NOMEM, "store %s: %s: out of memory", s->path, what);
	return ajar_errf(code_of(sqlite3_extended_errcode(s->db)), "store %s: %s: %s", s->path, what,
			 sqlite3_errmsg(s->db));
}

/* The cached statement id, prepared on first use. Needs the lock. */
static enum ajar_err stmt_get(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out)
{
	enum ajar_err err = AJAR_OK;

	if (!s->stmts[id] &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL) != SQLITE_OK)
		err = db_err(s, "preparing a statement");
	*out = s->stmts[id]; /* NULL on failure */
	return err;
}

/* Ends a use of a cached statement: ends its read transaction, if any, and
 * drops the bindings (they point into the caller's memory). */
static void stmt_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* Runs q, which returns no rows, and ends its use. */
static enum ajar_err stmt_exec(struct sqlite_store *s, sqlite3_stmt *q, const char *what)
{
	enum ajar_err err = AJAR_OK;

	if (sqlite3_step(q) != SQLITE_DONE)
		err = db_err(s, "%s", what);
	stmt_done(q);
	return err;
}

/* A binding failed (out of memory, a value too big): the error, q ended. */
static enum ajar_err bind_failed(struct sqlite_store *s, sqlite3_stmt *q, const char *what)
{
	enum ajar_err err = db_err(s, "%s", what);
	stmt_done(q);
	return err;
}

static enum ajar_err tx_run(struct sqlite_store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, id, &q);
	return err ? err : stmt_exec(s, q, what);
}

/* Undoes an open transaction after a failure. Not a cached statement and no
 * error of its own: the message of the failure that brought us here stays.
 * SQLite may have rolled back already (a full disk), hence the test. */
static void tx_rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void lock(struct sqlite_store *s)
{
	pthread_mutex_lock(&s->lock);
}

static void unlock(struct sqlite_store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* ---- columns in and out ---- */

static int bind_str(sqlite3_stmt *q, int i, const char *str)
{
	return sqlite3_bind_text(q, i, str, -1, SQLITE_STATIC);
}

static int bind_bytes(sqlite3_stmt *q, int i, const uint8_t *b, int n)
{
	return sqlite3_bind_blob(q, i, b, n, SQLITE_STATIC);
}

/* Column i as a string in out[cap], cut to fit; NULL reads as "". */
static void col_str(sqlite3_stmt *q, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;

	if (n > cap - 1)
		n = cap - 1;
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

/* Column i as exactly len bytes: a longer blob is cut, a shorter one (or
 * NULL) padded with zeros. */
static void col_bytes(sqlite3_stmt *q, int i, uint8_t *out, size_t len)
{
	const void *b = sqlite3_column_blob(q, i);
	size_t n = b ? (size_t)sqlite3_column_bytes(q, i) : 0;

	memset(out, 0, len);
	if (n > len)
		n = len;
	if (n)
		memcpy(out, b, n);
}

static int64_t col_i64(sqlite3_stmt *q, int i)
{
	return sqlite3_column_int64(q, i);
}

static int col_int(sqlite3_stmt *q, int i)
{
	int64_t v = sqlite3_column_int64(q, i);
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* Column i as a malloc'd string (caller frees), NULL for SQL NULL. */
static enum ajar_err col_dup(sqlite3_stmt *q, int i, char **out)
{
	const unsigned char *t;
	size_t n;

	*out = NULL;
	if (sqlite3_column_type(q, i) == SQLITE_NULL)
		return AJAR_OK;
	t = sqlite3_column_text(q, i);
	n = (size_t)sqlite3_column_bytes(q, i);
	if (!t || !(*out = malloc(n + 1)))
		return ajar_errf(AJAR_ERR_NOMEM, "store: no memory for %zu bytes of audit content", n);
	memcpy(*out, t, n);
	(*out)[n] = '\0';
	return AJAR_OK;
}

static enum ajar_err key_read(sqlite3_stmt *q, void *out)
{
	struct store_key *k = out;

	col_str(q, 0, k->id, sizeof(k->id));
	col_bytes(q, 1, k->digest, sizeof(k->digest));
	col_str(q, 2, k->tier, sizeof(k->tier));
	col_str(q, 3, k->owner, sizeof(k->owner));
	col_str(q, 4, k->access_id, sizeof(k->access_id));
	k->created = col_i64(q, 5);
	k->expires = col_i64(q, 6);
	k->revoked = col_i64(q, 7);
	return AJAR_OK;
}

static enum ajar_err access_read(sqlite3_stmt *q, void *out)
{
	struct store_access *a = out;

	col_str(q, 0, a->id, sizeof(a->id));
	col_bytes(q, 1, a->token_digest, sizeof(a->token_digest));
	col_str(q, 2, a->name, sizeof(a->name));
	col_str(q, 3, a->email, sizeof(a->email));
	col_str(q, 4, a->affiliation, sizeof(a->affiliation));
	col_str(q, 5, a->intended_use, sizeof(a->intended_use));
	col_str(q, 6, a->tier, sizeof(a->tier));
	col_str(q, 7, a->license_sha256, sizeof(a->license_sha256));
	a->status = col_int(q, 8);
	col_str(q, 9, a->granted_tier, sizeof(a->granted_tier));
	col_str(q, 10, a->reason, sizeof(a->reason));
	col_str(q, 11, a->decided_by, sizeof(a->decided_by));
	col_str(q, 12, a->key_id, sizeof(a->key_id));
	a->created = col_i64(q, 13);
	a->decided = col_i64(q, 14);
	return AJAR_OK;
}

static enum ajar_err usage_read(sqlite3_stmt *q, void *out)
{
	struct store_usage *u = out;

	col_str(q, 0, u->key_id, sizeof(u->key_id));
	u->day = col_i64(q, 1);
	u->requests = col_i64(q, 2);
	u->tokens_in = col_i64(q, 3);
	u->tokens_out = col_i64(q, 4);
	return AJAR_OK;
}

static enum ajar_err counter_read(sqlite3_stmt *q, void *out)
{
	struct store_counter *c = out;

	col_str(q, 0, c->name, sizeof(c->name));
	c->value = col_i64(q, 1);
	return AJAR_OK;
}

/* Reads AUDIT_COLS; out->content is malloc'd (or NULL) even on failure
 * of nothing else, so the caller always frees it. */
static enum ajar_err audit_read(sqlite3_stmt *q, void *out)
{
	struct store_audit_row *r = out;

	r->seq = col_i64(q, 0);
	r->ts_us = col_i64(q, 1);
	col_str(q, 2, r->kind, sizeof(r->kind));
	col_str(q, 3, r->request_id, sizeof(r->request_id));
	col_str(q, 4, r->key_id, sizeof(r->key_id));
	col_str(q, 5, r->tier, sizeof(r->tier));
	col_str(q, 6, r->endpoint, sizeof(r->endpoint));
	col_str(q, 7, r->model, sizeof(r->model));
	r->tokens_in = col_i64(q, 8);
	r->tokens_out = col_i64(q, 9);
	r->status = col_int(q, 10);
	col_str(q, 11, r->outcome, sizeof(r->outcome));
	col_str(q, 12, r->reason, sizeof(r->reason));
	r->latency_us = col_i64(q, 13);
	col_str(q, 14, r->prompt_sha256, sizeof(r->prompt_sha256));
	col_str(q, 15, r->output_sha256, sizeof(r->output_sha256));
	col_bytes(q, 17, r->prev, sizeof(r->prev));
	col_bytes(q, 18, r->hash, sizeof(r->hash));
	return col_dup(q, 16, &r->content);
}

static void audit_rows_drop(void *rows, size_t n)
{
	store_audit_rows_free(rows, n);
}

/* Steps q once: a row goes through read into out; no row is NOT_FOUND
 * (without a message: the caller names what was missing). Ends q's use. */
static enum ajar_err fetch_one(struct sqlite_store *s, sqlite3_stmt *q, enum ajar_err (*read)(sqlite3_stmt *q, void *out), void *out,
			       const char *what)
{
	enum ajar_err err;
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		err = read(q, out);
	else if (rc == SQLITE_DONE)
		err = AJAR_ERR_NOT_FOUND;
	else
		err = db_err(s, "%s", what);
	stmt_done(q);
	return err;
}

/* A list stops growing at this many bytes of records: the bound on what
 * one call can be made to allocate by a store that grew past reason or
 * was stuffed by hand. */
#define LIST_BYTES_MAX ((size_t)256 << 20)

/* Every row of q, through read, into a malloc'd array (*out, *n); ends q's
 * use. On failure nothing is returned: drop (or free) takes what was read. */
static enum ajar_err fetch_all(struct sqlite_store *s, sqlite3_stmt *q, size_t size, enum ajar_err (*read)(sqlite3_stmt *q, void *out),
			       void (*drop)(void *items, size_t n), void **out, size_t *n, const char *what)
{
	char *items = NULL;
	size_t count = 0, cap = 0;
	enum ajar_err err = AJAR_OK;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (count == cap) {
			size_t new_cap = cap ? cap * 2 : 16;
			if (new_cap > LIST_BYTES_MAX / size)
				new_cap = LIST_BYTES_MAX / size;
			if (new_cap <= count) {
				err = ajar_errf(AJAR_ERR_LIMIT, "store %s: %s: more than %zu MiB of records",
						s->path, what, LIST_BYTES_MAX >> 20);
				break;
			}
			char *grown = realloc(items, new_cap * size);
			if (!grown) {
				err = ajar_errf(AJAR_ERR_NOMEM, "store %s: %s: out of memory", s->path, what);
				break;
			}
			items = grown;
			cap = new_cap;
		}
		memset(items + count * size, 0, size);
		err = read(q, items + count * size);
		count++; /* counted even on failure: drop frees what it holds */
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_err(s, "%s", what);
	stmt_done(q);
	if (err) {
		if (drop)
			drop(items, count);
		else
			free(items);
		return err;
	}
	*out = count ? items : NULL;
	if (!count)
		free(items);
	*n = count;
	return AJAR_OK;
}

/* ---- opening ---- */

/* Creates the missing directories on the way to path's file, mode 0700:
 * the store holds key digests and the audit log, readable by its owner
 * alone. */
static enum ajar_err make_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat sb;
	size_t n;

	if (!slash || slash == path)
		return AJAR_OK; /* the current directory, or / */
	n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return ajar_errf(AJAR_ERR_LIMIT, "store %s: path longer than %zu bytes", path, sizeof(dir) - 1);
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return ajar_errf(AJAR_ERR_IO, "store %s: %s is not a directory", path, dir);
		return AJAR_OK;
	}
	for (size_t i = 1; i <= n; i++) {
		if (i < n && dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return ajar_errf(AJAR_ERR_IO, "store %s: cannot create directory %s: %s", path, dir,
					 strerror(errno));
		if (i < n)
			dir[i] = '/';
	}
	return AJAR_OK;
}

/* Creates the file, empty, with mode 0600 if it does not exist, before
 * SQLite would create it 0644. SQLite gives the -wal and -shm files the
 * mode of the database file, so they are private too. An existing file
 * keeps the mode its owner gave it. */
static enum ajar_err create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		return AJAR_OK;
	}
	if (errno == EEXIST)
		return AJAR_OK;
	return ajar_errf(AJAR_ERR_IO, "store %s: cannot create: %s", path, strerror(errno));
}

static enum ajar_err configure(struct sqlite_store *s)
{
	/* busy_timeout first: switching to WAL takes a lock that another
	 * process may hold. journal_mode is also the first read of the file,
	 * where one that is not a database fails (NOTADB, reported as FORMAT).
	 * A filesystem without shared memory stays in rollback mode: slower
	 * for readers, as durable, so that is not an error. foreign_keys is
	 * on so later schema versions can rely on it (version 1 has none). */
	static const char *const pragmas[] = {
		"PRAGMA busy_timeout = 5000",
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = ON",
	};
	/* The file may come from anywhere: no SQL functions run from its
	 * schema (triggers, views), and no writes to sqlite_master. */
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA /* SQLite 3.31 */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
#endif
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++)
		if (sqlite3_exec(s->db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
			return db_err(s, "opening");
	return AJAR_OK;
}

/* The integer result of a one-off query (0 when it returns no row). */
static enum ajar_err query_i64(struct sqlite_store *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return db_err(s, "reading the schema");
	rc = sqlite3_step(q);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		enum ajar_err err = db_err(s, "reading the schema");
		sqlite3_finalize(q);
		return err;
	}
	sqlite3_finalize(q);
	return AJAR_OK;
}

/* Parses the stored schema_version, a decimal number >= 1. */
static enum ajar_err parse_version(struct sqlite_store *s, const char *text, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end != '\0' || v < 1)
		return ajar_errf(AJAR_ERR_FORMAT, "store %s: schema_version '%s' is not a version number", s->path,
				 text);
	*out = v;
	return AJAR_OK;
}


/* The value of name into out[cap]: NOT_FOUND (without a message) when it
 * is unset, LIMIT when it does not fit. Needs the lock. */
static enum ajar_err meta_fetch(struct sqlite_store *s, const char *name, char *out, size_t cap)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_META_GET, &q);
	int rc;

	if (err)
		return err;
	if (bind_str(q, 1, name) != SQLITE_OK)
		return bind_failed(s, q, "reading meta");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);
		size_t n = t ? (size_t)sqlite3_column_bytes(q, 0) : 0;
		if (n >= cap) {
			err = ajar_errf(AJAR_ERR_LIMIT, "store %s: meta '%s': a value of %zu bytes does not fit in %zu",
					s->path, name, n, cap);
		} else {
			if (n)
				memcpy(out, t, n);
			out[n] = '\0';
		}
	} else if (rc == SQLITE_DONE) {
		err = AJAR_ERR_NOT_FOUND;
	} else {
		err = db_err(s, "reading meta '%s'", name);
	}
	stmt_done(q);
	return err;
}

static enum ajar_err meta_put(struct sqlite_store *s, const char *name, const char *value)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_META_SET, &q);

	if (err)
		return err;
	if ((bind_str(q, 1, name) | bind_str(q, 2, value)) != SQLITE_OK)
		return bind_failed(s, q, "writing meta");
	return stmt_exec(s, q, "writing meta");
}

/* The schema version of the file: 0 for a new, empty one. A file with
 * tables but no meta, or meta but no version, is someone else's database
 * and is refused rather than filled with our tables. */
static enum ajar_err read_version(struct sqlite_store *s, int64_t *out)
{
	char text[32];
	int64_t has_meta, n_tables;
	enum ajar_err err;

	*out = 0;
	if ((err = query_i64(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
			     &has_meta)) ||
	    (err = query_i64(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &n_tables)))
		return err;
	if (!has_meta) {
		if (n_tables)
			return ajar_errf(AJAR_ERR_FORMAT, "store %s: a SQLite database of something other than ajar",
					 s->path);
		return AJAR_OK;
	}
	err = meta_fetch(s, "schema_version", text, sizeof(text));
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(AJAR_ERR_FORMAT, "store %s: no schema_version in meta: not an ajar store", s->path);
	if (err == AJAR_ERR_LIMIT)
		return ajar_errf(AJAR_ERR_FORMAT, "store %s: schema_version is not a version number", s->path);
	if (err)
		return err;
	return parse_version(s, text, out);
}

static enum ajar_err too_new(struct sqlite_store *s, int64_t version)
{
	return ajar_errf(AJAR_ERR_UNSUPPORTED,
			 "store %s: schema version %lld is newer than this ajar knows (%lld); use a newer ajar",
			 s->path, (long long)version, (long long)SCHEMA_VERSION);
}

/* Brings the file to SCHEMA_VERSION. A store already there is only read,
 * so a read-only file of the current version still opens. */
static enum ajar_err migrate(struct sqlite_store *s)
{
	char text[24];
	int64_t v;
	enum ajar_err err = read_version(s, &v);

	if (err)
		return err;
	if (v == SCHEMA_VERSION)
		return AJAR_OK;
	if (v > SCHEMA_VERSION)
		return too_new(s, v);
	if ((err = tx_run(s, ST_BEGIN, "migrating the schema")))
		return err;
	/* Again under the write lock: another process may have migrated it
	 * between our first look and now. */
	if ((err = read_version(s, &v)))
		goto fail;
	if (v > SCHEMA_VERSION) {
		err = too_new(s, v);
		goto fail;
	}
	for (int64_t i = v + 1; i <= SCHEMA_VERSION; i++) {
		if (sqlite3_exec(s->db, migrations[i], NULL, NULL, NULL) != SQLITE_OK) {
			err = db_err(s, "migrating the schema to version %lld", (long long)i);
			goto fail;
		}
	}
	snprintf(text, sizeof(text), "%lld", (long long)SCHEMA_VERSION);
	if ((err = meta_put(s, "schema_version", text)) || (err = tx_run(s, ST_COMMIT, "migrating the schema")))
		goto fail;
	return AJAR_OK;
fail:
	tx_rollback(s);
	return err;
}

/* ---- named values ---- */

static enum ajar_err sq_meta_get(struct store *st, const char *name, char *out, size_t cap)
{
	struct sqlite_store *s = as_sqlite(st);
	enum ajar_err err;

	lock(s);
	err = meta_fetch(s, name, out, cap);
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "store %s: no meta '%s'", s->path, name);
	return err;
}

static enum ajar_err sq_meta_set(struct store *st, const char *name, const char *value)
{
	struct sqlite_store *s = as_sqlite(st);
	enum ajar_err err;

	lock(s);
	err = meta_put(s, name, value);
	unlock(s);
	return err;
}

/* ---- API keys ---- */

static enum ajar_err sq_key_insert(struct store *st, const struct store_key *k)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_KEY_INSERT, &q))) {
		if ((bind_str(q, 1, k->id) | bind_bytes(q, 2, k->digest, sizeof(k->digest)) | bind_str(q, 3, k->tier) |
		     bind_str(q, 4, k->owner) | bind_str(q, 5, k->access_id) | sqlite3_bind_int64(q, 6, k->created) |
		     sqlite3_bind_int64(q, 7, k->expires) | sqlite3_bind_int64(q, 8, k->revoked)) != SQLITE_OK)
			err = bind_failed(s, q, "adding a key");
		else
			err = stmt_exec(s, q, "adding a key");
	}
	unlock(s);
	/* The id is the only constraint a complete record can break. */
	if (err == AJAR_ERR_INVALID)
		return ajar_errf(err, "store %s: key '%s' exists already", s->path, k->id);
	return err;
}

static enum ajar_err sq_key_get(struct store *st, const char *id, struct store_key *out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_KEY_GET, &q))) {
		if (bind_str(q, 1, id) != SQLITE_OK)
			err = bind_failed(s, q, "reading a key");
		else
			err = fetch_one(s, q, key_read, out, "reading a key");
	}
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "no key '%s'", id);
	return err;
}

static enum ajar_err sq_key_revoke(struct store *st, const char *id, int64_t when)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_KEY_REVOKE, &q))) {
		if ((bind_str(q, 1, id) | sqlite3_bind_int64(q, 2, when)) != SQLITE_OK)
			err = bind_failed(s, q, "revoking a key");
		else if (!(err = stmt_exec(s, q, "revoking a key")) && sqlite3_changes(s->db) == 0)
			err = AJAR_ERR_NOT_FOUND;
	}
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "no key '%s'", id);
	return err;
}

static enum ajar_err sq_key_list(struct store *st, struct store_key **out, size_t *n)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	void *items = NULL;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_KEY_LIST, &q)))
		err = fetch_all(s, q, sizeof(**out), key_read, NULL, &items, n, "listing keys");
	unlock(s);
	*out = items;
	return err;
}

/* ---- access requests ---- */

static enum ajar_err sq_access_insert(struct store *st, const struct store_access *a)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_ACCESS_INSERT, &q))) {
		if ((bind_str(q, 1, a->id) | bind_bytes(q, 2, a->token_digest, sizeof(a->token_digest)) |
		     bind_str(q, 3, a->name) | bind_str(q, 4, a->email) | bind_str(q, 5, a->affiliation) |
		     bind_str(q, 6, a->intended_use) | bind_str(q, 7, a->tier) | bind_str(q, 8, a->license_sha256) |
		     sqlite3_bind_int(q, 9, a->status) | bind_str(q, 10, a->granted_tier) | bind_str(q, 11, a->reason) |
		     bind_str(q, 12, a->decided_by) | bind_str(q, 13, a->key_id) | sqlite3_bind_int64(q, 14, a->created) |
		     sqlite3_bind_int64(q, 15, a->decided)) != SQLITE_OK)
			err = bind_failed(s, q, "adding an access request");
		else
			err = stmt_exec(s, q, "adding an access request");
	}
	unlock(s);
	if (err == AJAR_ERR_INVALID)
		return ajar_errf(err, "store %s: access request '%s' exists already", s->path, a->id);
	return err;
}

static enum ajar_err sq_access_get(struct store *st, const char *id, struct store_access *out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_ACCESS_GET, &q))) {
		if (bind_str(q, 1, id) != SQLITE_OK)
			err = bind_failed(s, q, "reading an access request");
		else
			err = fetch_one(s, q, access_read, out, "reading an access request");
	}
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "no access request '%s'", id);
	return err;
}

static const char *access_status_name(int status)
{
	switch (status) {
	case STORE_ACCESS_PENDING: return "pending";
	case STORE_ACCESS_APPROVED: return "approved";
	case STORE_ACCESS_DENIED: return "denied";
	}
	return "in an unknown state";
}

/* Why an update matched no row: no such request (NOT_FOUND), or its status
 * was not the one required (INVALID). Needs the lock. */
static enum ajar_err access_unchanged(struct sqlite_store *s, const char *id)
{
	sqlite3_stmt *q;
	int rc;
	enum ajar_err err = stmt_get(s, ST_ACCESS_STATUS, &q);

	if (err)
		return err;
	if (bind_str(q, 1, id) != SQLITE_OK)
		return bind_failed(s, q, "reading an access request");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		err = ajar_errf(AJAR_ERR_INVALID, "access request '%s' is already %s", id,
				access_status_name(col_int(q, 0)));
	else if (rc == SQLITE_DONE)
		err = ajar_errf(AJAR_ERR_NOT_FOUND, "no access request '%s'", id);
	else
		err = db_err(s, "reading an access request");
	stmt_done(q);
	return err;
}

static enum ajar_err sq_access_update(struct store *st, const struct store_access *a, int only_if_status)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_ACCESS_UPDATE, &q))) {
		if ((bind_str(q, 1, a->id) | sqlite3_bind_int(q, 2, a->status) | bind_str(q, 3, a->granted_tier) |
		     bind_str(q, 4, a->reason) | bind_str(q, 5, a->decided_by) | sqlite3_bind_int64(q, 6, a->decided) |
		     bind_str(q, 7, a->key_id) | sqlite3_bind_int(q, 8, only_if_status)) != SQLITE_OK)
			err = bind_failed(s, q, "updating an access request");
		else if (!(err = stmt_exec(s, q, "updating an access request")) && sqlite3_changes(s->db) == 0)
			err = access_unchanged(s, a->id);
	}
	unlock(s);
	return err;
}

static enum ajar_err sq_access_list(struct store *st, int status, struct store_access **out, size_t *n)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	void *items = NULL;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_ACCESS_LIST, &q))) {
		if (sqlite3_bind_int(q, 1, status) != SQLITE_OK)
			err = bind_failed(s, q, "listing access requests");
		else
			err = fetch_all(s, q, sizeof(**out), access_read, NULL, &items, n, "listing access requests");
	}
	unlock(s);
	*out = items;
	return err;
}

/* ---- usage ---- */

static enum ajar_err usage_counts_read(sqlite3_stmt *q, void *out)
{
	struct store_usage *u = out;

	u->requests = col_i64(q, 0);
	u->tokens_in = col_i64(q, 1);
	u->tokens_out = col_i64(q, 2);
	return AJAR_OK;
}

static enum ajar_err sq_usage_get(struct store *st, const char *key_id, int64_t day, struct store_usage *out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_USAGE_GET, &q))) {
		if ((bind_str(q, 1, key_id) | sqlite3_bind_int64(q, 2, day)) != SQLITE_OK)
			err = bind_failed(s, q, "reading usage");
		else
			err = fetch_one(s, q, usage_counts_read, out, "reading usage");
	}
	unlock(s);
	return err == AJAR_ERR_NOT_FOUND ? AJAR_OK : err; /* no row: the zeros store.c set */
}

static enum ajar_err sq_usage_list(struct store *st, int64_t since_day, struct store_usage **out, size_t *n)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	void *items = NULL;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_USAGE_LIST, &q))) {
		if (sqlite3_bind_int64(q, 1, since_day) != SQLITE_OK)
			err = bind_failed(s, q, "listing usage");
		else
			err = fetch_all(s, q, sizeof(**out), usage_read, NULL, &items, n, "listing usage");
	}
	unlock(s);
	*out = items;
	return err;
}

/* ---- the audit chain ---- */

static enum ajar_err audit_insert(struct sqlite_store *s, const struct store_audit_row *r)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_AUDIT_INSERT, &q);

	if (err)
		return err;
	if ((sqlite3_bind_int64(q, 1, r->seq) | sqlite3_bind_int64(q, 2, r->ts_us) | bind_str(q, 3, r->kind) |
	     bind_str(q, 4, r->request_id) | bind_str(q, 5, r->key_id) | bind_str(q, 6, r->tier) |
	     bind_str(q, 7, r->endpoint) | bind_str(q, 8, r->model) | sqlite3_bind_int64(q, 9, r->tokens_in) |
	     sqlite3_bind_int64(q, 10, r->tokens_out) | sqlite3_bind_int(q, 11, r->status) |
	     bind_str(q, 12, r->outcome) | bind_str(q, 13, r->reason) | sqlite3_bind_int64(q, 14, r->latency_us) |
	     bind_str(q, 15, r->prompt_sha256) | bind_str(q, 16, r->output_sha256) |
	     (r->content ? bind_str(q, 17, r->content) : sqlite3_bind_null(q, 17)) |
	     bind_bytes(q, 18, r->prev, sizeof(r->prev)) | bind_bytes(q, 19, r->hash, sizeof(r->hash))) != SQLITE_OK)
		return bind_failed(s, q, "appending to the audit log");
	err = stmt_exec(s, q, "appending to the audit log");
	if (err == AJAR_ERR_INVALID)
		return ajar_errf(err, "store %s: audit row %lld exists already", s->path, (long long)r->seq);
	return err;
}

static enum ajar_err head_put(struct sqlite_store *s, const struct store_audit_head *h)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_HEAD_PUT, &q);

	if (err)
		return err;
	if ((sqlite3_bind_int64(q, 1, h->seq) | bind_bytes(q, 2, h->hash, sizeof(h->hash)) |
	     bind_bytes(q, 3, h->sig, sizeof(h->sig))) != SQLITE_OK)
		return bind_failed(s, q, "writing the audit head");
	return stmt_exec(s, q, "writing the audit head");
}

static enum ajar_err usage_add(struct sqlite_store *s, const struct store_audit_row *r)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_USAGE_ADD, &q);

	if (err)
		return err;
	if ((bind_str(q, 1, r->key_id) | sqlite3_bind_int64(q, 2, store_day_of_us(r->ts_us)) |
	     sqlite3_bind_int64(q, 3, r->tokens_in) | sqlite3_bind_int64(q, 4, r->tokens_out)) != SQLITE_OK)
		return bind_failed(s, q, "adding usage");
	return stmt_exec(s, q, "adding usage");
}

static enum ajar_err counter_add(struct sqlite_store *s, const char *name, int64_t delta)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_COUNTER_ADD, &q);

	if (err)
		return err;
	if ((bind_str(q, 1, name) | sqlite3_bind_int64(q, 2, delta)) != SQLITE_OK)
		return bind_failed(s, q, "adding to a counter");
	return stmt_exec(s, q, "adding to a counter");
}

/* The aggregate counters a row adds to (store.h, store_audit_append).
 * refused:/blocked:/flagged: count every row with that outcome, whatever
 * its kind. */
static enum ajar_err counters_add(struct sqlite_store *s, const struct store_audit_row *r)
{
	char name[STORE_NAME_MAX];
	enum ajar_err err;
	int64_t tokens;

	if (strcmp(r->kind, "request") == 0) {
		if (__builtin_add_overflow(r->tokens_in, r->tokens_out, &tokens))
			tokens = INT64_MAX;
		snprintf(name, sizeof(name), "requests:tier:%s", r->tier);
		if ((err = counter_add(s, name, 1)))
			return err;
		snprintf(name, sizeof(name), "tokens:tier:%s", r->tier);
		if ((err = counter_add(s, name, tokens)))
			return err;
	}
	if (strcmp(r->outcome, "refused") == 0 || strcmp(r->outcome, "blocked") == 0 ||
	    strcmp(r->outcome, "flagged") == 0) {
		snprintf(name, sizeof(name), "%s:%s", r->outcome, r->reason);
		if ((err = counter_add(s, name, 1)))
			return err;
	}
	return AJAR_OK;
}

/* One row with what it adds to usage and the counters. */
static enum ajar_err audit_insert_all(struct sqlite_store *s, const struct store_audit_row *row)
{
	enum ajar_err err = audit_insert(s, row);
	if (!err && row->key_id[0] && strcmp(row->kind, "request") == 0)
		err = usage_add(s, row);
	if (!err)
		err = counters_add(s, row);
	return err;
}

static enum ajar_err sq_audit_append(struct store *st, const struct store_audit_row *const *rows, size_t n,
				     const struct store_audit_head *head)
{
	struct sqlite_store *s = as_sqlite(st);
	enum ajar_err err;

	lock(s);
	if (!(err = tx_run(s, ST_BEGIN, "starting an audit append"))) {
		for (size_t i = 0; i < n && !err; i++)
			err = audit_insert_all(s, rows[i]);
		if (!err)
			err = head_put(s, head);
		if (!err)
			err = tx_run(s, ST_COMMIT, "committing an audit append");
		if (err)
			tx_rollback(s);
	}
	unlock(s);
	return err;
}

static enum ajar_err head_read(sqlite3_stmt *q, void *out)
{
	struct store_audit_head *h = out;

	h->seq = col_i64(q, 0);
	col_bytes(q, 1, h->hash, sizeof(h->hash));
	col_bytes(q, 2, h->sig, sizeof(h->sig));
	return AJAR_OK;
}

static enum ajar_err sq_audit_head_get(struct store *st, struct store_audit_head *out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_HEAD_GET, &q)))
		err = fetch_one(s, q, head_read, out, "reading the audit head");
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "store %s: the audit log is empty (no head)", s->path);
	return err;
}

static enum ajar_err sq_audit_last(struct store *st, struct store_audit_row *out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_AUDIT_LAST, &q)))
		err = fetch_one(s, q, audit_read, out, "reading the audit log");
	unlock(s);
	if (err == AJAR_ERR_NOT_FOUND)
		return ajar_errf(err, "store %s: the audit log is empty", s->path);
	return err;
}

/* A scan reads this many rows per turn of the lock, and calls its callback
 * without the lock held: requests keep appending during a long scan, and
 * the callback may use the store itself. Fewer rows once their content
 * passes SCAN_BATCH_BYTES, so "full" retention cannot make a batch huge. */
#define SCAN_BATCH_ROWS 64
#define SCAN_BATCH_BYTES ((size_t)4 << 20)

/* The smallest seq of a row with ts_us >= since_us into *first; *any false
 * when there is none. Rows before it are all older, so a scan starts there
 * (through the ts_us index) instead of at the first row. Needs the lock. */
static enum ajar_err audit_first_since(struct sqlite_store *s, int64_t since_us, int64_t *first, bool *any)
{
	sqlite3_stmt *q;
	enum ajar_err err = stmt_get(s, ST_AUDIT_FIRST_SINCE, &q);
	int rc;

	*any = false;
	if (err)
		return err;
	if (sqlite3_bind_int64(q, 1, since_us) != SQLITE_OK)
		return bind_failed(s, q, "reading the audit log");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*any = true;
		*first = sqlite3_column_int64(q, 0);
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = db_err(s, "reading the audit log");
	}
	stmt_done(q);
	return err;
}

/* The next rows with seq >= from and ts_us >= since_us into batch[*n]
 * (SCAN_BATCH_ROWS at most). Each row's content is malloc'd, also on
 * failure: the caller frees batch[0..*n). Needs the lock. */
static enum ajar_err audit_batch(struct sqlite_store *s, int64_t from, int64_t since_us,
				 struct store_audit_row *batch, size_t *n)
{
	sqlite3_stmt *q;
	size_t bytes = 0;
	int rc = SQLITE_ROW;
	enum ajar_err err = stmt_get(s, ST_AUDIT_RANGE, &q);

	*n = 0;
	if (err)
		return err;
	if ((sqlite3_bind_int64(q, 1, from) | sqlite3_bind_int64(q, 2, since_us) |
	     sqlite3_bind_int64(q, 3, SCAN_BATCH_ROWS)) != SQLITE_OK)
		return bind_failed(s, q, "reading the audit log");
	while (*n < SCAN_BATCH_ROWS && bytes < SCAN_BATCH_BYTES && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_audit_row *r = &batch[(*n)++];
		memset(r, 0, sizeof(*r));
		if ((err = audit_read(q, r)))
			break;
		bytes += r->content ? strlen(r->content) : 0;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_err(s, "reading the audit log");
	stmt_done(q);
	return err;
}

static enum ajar_err sq_audit_scan(struct store *st, int64_t from_seq, int64_t since_us,
				   int (*fn)(void *user, const struct store_audit_row *r), void *user)
{
	struct sqlite_store *s = as_sqlite(st);
	struct store_audit_row *batch = malloc(SCAN_BATCH_ROWS * sizeof(*batch));
	enum ajar_err err = AJAR_OK;
	bool more = true;
	int64_t next = from_seq, first;

	if (!batch)
		return ajar_errf(AJAR_ERR_NOMEM, "store %s: no memory to scan the audit log", s->path);
	if (since_us > 0) {
		lock(s);
		err = audit_first_since(s, since_us, &first, &more);
		unlock(s);
		if (more && first > next)
			next = first;
	}
	while (!err && more) {
		size_t n = 0;
		lock(s);
		err = audit_batch(s, next, since_us, batch, &n);
		unlock(s);
		more = !err && n > 0;
		for (size_t i = 0; more && i < n; i++)
			more = fn(user, &batch[i]) == 0;
		if (n > 0 && batch[n - 1].seq == INT64_MAX)
			more = false;
		else if (n > 0)
			next = batch[n - 1].seq + 1;
		for (size_t i = 0; i < n; i++)
			free(batch[i].content);
	}
	free(batch);
	return err;
}

static enum ajar_err sq_audit_recent(struct store *st, size_t n, struct store_audit_row **out, size_t *n_out)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	void *items = NULL;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_AUDIT_RECENT, &q))) {
		if (sqlite3_bind_int64(q, 1, n > INT64_MAX ? INT64_MAX : (int64_t)n) != SQLITE_OK)
			err = bind_failed(s, q, "reading the audit log");
		else
			err = fetch_all(s, q, sizeof(**out), audit_read, audit_rows_drop, &items, n_out,
					"reading the audit log");
	}
	unlock(s);
	*out = items;
	return err;
}

/* ---- aggregate counters ---- */

static enum ajar_err sq_counters(struct store *st, struct store_counter **out, size_t *n)
{
	struct sqlite_store *s = as_sqlite(st);
	sqlite3_stmt *q;
	void *items = NULL;
	enum ajar_err err;

	lock(s);
	if (!(err = stmt_get(s, ST_COUNTERS, &q)))
		err = fetch_all(s, q, sizeof(**out), counter_read, NULL, &items, n, "reading the counters");
	unlock(s);
	*out = items;
	return err;
}

/* ---- opening and closing ---- */

static void sq_close(struct store *st)
{
	struct sqlite_store *s = as_sqlite(st);

	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	/* The last connection to close checkpoints the WAL into the file. */
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.key_insert = sq_key_insert,
	.key_get = sq_key_get,
	.key_revoke = sq_key_revoke,
	.key_list = sq_key_list,
	.access_insert = sq_access_insert,
	.access_get = sq_access_get,
	.access_update = sq_access_update,
	.access_list = sq_access_list,
	.usage_get = sq_usage_get,
	.usage_list = sq_usage_list,
	.audit_append = sq_audit_append,
	.audit_head_get = sq_audit_head_get,
	.audit_last = sq_audit_last,
	.audit_scan = sq_audit_scan,
	.audit_recent = sq_audit_recent,
	.counters = sq_counters,
};

/* ":memory:" is SQLite's private in-memory database: no file to create,
 * and store_file() gives "" for it. */
enum ajar_err store_sqlite_open(const char *path, struct store **out)
{
	size_t len = strlen(path);
	bool memory = strcmp(path, ":memory:") == 0;
	struct sqlite_store *s;
	enum ajar_err err;

	*out = NULL;
	if (len >= PATH_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "store path longer than %d bytes", PATH_MAX - 1);
	if (!memory && ((err = make_parent(path)) || (err = create_private(path))))
		return err;
	if (!(s = calloc(1, sizeof(*s) + len + 1)))
		return ajar_errf(AJAR_ERR_NOMEM, "store %s: out of memory", path);
	memcpy(s->path, path, len + 1);
	s->base.ops = &sqlite_ops;
	s->base.file = memory ? "" : s->path;
	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		err = db_err(s, "opening");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if ((err = configure(s)) || (err = migrate(s)))
		goto fail;
	*out = &s->base;
	return AJAR_OK;
fail:
	sq_close(&s->base);
	return err;
}
