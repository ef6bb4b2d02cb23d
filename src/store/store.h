/*
 * store.h - what ajar keeps between requests and restarts: API keys, access
 * requests, usage counters per key and day, the audit chain, aggregate
 * counters for the transparency report, and a few named values (meta).
 *
 * One interface, backends behind it (store_int.h): SQLite in WAL mode is
 * the embedded default ("sqlite:PATH"); a PostgreSQL backend
 * ("postgresql://...") can follow by filling the same table of operations.
 * The schema is versioned (meta "schema_version") and migrated forward in
 * one transaction at open; a store newer than this binary is refused.
 *
 * Thread safety: a struct store may be used from any number of threads at
 * once (the backend serializes). Several processes may open the same file
 * (the server and `ajar keys revoke`): a write by one is seen by the next
 * read of another, so a revocation takes effect on the very next request.
 *
 * Durability: every write function returns only once its data is on disk
 * (SQLite synchronous=FULL), so a reply sent after it survives kill -9.
 *
 * Strings in the records are fixed arrays: a value that does not fit is
 * refused with AJAR_ERR_LIMIT by the write functions, never truncated.
 */
#ifndef AJAR_STORE_STORE_H
#define AJAR_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

#define STORE_ID_MAX 48      /* ids: keys, access requests, request ids */
#define STORE_TIER_MAX 32
#define STORE_NAME_MAX 256   /* owner, names, emails, affiliations, reasons */
#define STORE_TEXT_MAX 4096  /* intended use */
#define STORE_HEX256 65      /* 64 hex digits of a SHA-256 and a NUL */

struct store;

/* ---- opening ---- */

/* "sqlite:PATH" (or a bare PATH) opens or creates the SQLite file, creating
 * its parent directory (mode 0700) if missing, and migrates the schema.
 * "postgresql://..." fails with AJAR_ERR_UNSUPPORTED naming the missing
 * backend. Errors name the file and SQLite's reason. *out: caller closes. */
enum ajar_err store_open(const char *uri, struct store **out) AJAR_MUST_CHECK;
void store_close(struct store *st);

/* The default URI when --store is not given: "sqlite:DIR/ajar.db" where DIR
 * is $AJAR_DATA, else $XDG_DATA_HOME/ajar, else $HOME/.local/share/ajar.
 * AJAR_ERR_LIMIT if it does not fit in cap. */
enum ajar_err store_default_uri(char *out, size_t cap) AJAR_MUST_CHECK;

/* The file a SQLite store lives in (secrets are kept beside it); "" for a
 * backend without one. Borrowed, valid until store_close. */
const char *store_file(const struct store *st);

/* ---- named values ---- */

/* NOT_FOUND if name is unset. The value is copied NUL-terminated into out
 * (LIMIT if it does not fit). */
enum ajar_err store_meta_get(struct store *st, const char *name, char *out, size_t cap) AJAR_MUST_CHECK;
enum ajar_err store_meta_set(struct store *st, const char *name, const char *value) AJAR_MUST_CHECK;

/* ---- API keys ---- */

struct store_key {
	char id[STORE_ID_MAX];           /* public key id, unique */
	uint8_t digest[32];              /* keyed BLAKE2b-256 of the secret; never the secret */
	char tier[STORE_TIER_MAX];
	char owner[STORE_NAME_MAX];
	char access_id[STORE_ID_MAX];    /* the access request that issued it, or "" */
	int64_t created;                 /* Unix seconds */
	int64_t expires;                 /* Unix seconds; 0 = never */
	int64_t revoked;                 /* Unix seconds it was revoked; 0 = active */
};

/* INVALID if the id exists already. */
enum ajar_err store_key_insert(struct store *st, const struct store_key *k) AJAR_MUST_CHECK;
/* NOT_FOUND if there is no such id. */
enum ajar_err store_key_get(struct store *st, const char *id, struct store_key *out) AJAR_MUST_CHECK;
/* Sets revoked = when unless already revoked (then unchanged, still OK).
 * NOT_FOUND if there is no such id. */
enum ajar_err store_key_revoke(struct store *st, const char *id, int64_t when) AJAR_MUST_CHECK;
/* Every key, oldest first. *out: caller frees (free()); NULL when *n == 0. */
enum ajar_err store_key_list(struct store *st, struct store_key **out, size_t *n) AJAR_MUST_CHECK;

/* ---- access requests ---- */

enum store_access_status {
	STORE_ACCESS_PENDING = 0,
	STORE_ACCESS_APPROVED = 1,
	STORE_ACCESS_DENIED = 2,
};

struct store_access {
	char id[STORE_ID_MAX];
	uint8_t token_digest[32];        /* keyed BLAKE2b-256 of the status token */
	char name[STORE_NAME_MAX];
	char email[STORE_NAME_MAX];
	char affiliation[STORE_NAME_MAX];
	char intended_use[STORE_TEXT_MAX];
	char tier[STORE_TIER_MAX];       /* requested */
	char license_sha256[STORE_HEX256]; /* of the license text accepted */
	int status;                      /* enum store_access_status */
	char granted_tier[STORE_TIER_MAX]; /* when approved */
	char reason[STORE_NAME_MAX];     /* why denied, or which rule approved */
	char decided_by[STORE_ID_MAX];   /* "auto", "cli", or the admin key id */
	char key_id[STORE_ID_MAX];       /* the key issued, once retrieved; "" before */
	int64_t created, decided;        /* Unix seconds; decided 0 while pending */
};

/* INVALID if the id exists already. */
enum ajar_err store_access_insert(struct store *st, const struct store_access *a) AJAR_MUST_CHECK;
enum ajar_err store_access_get(struct store *st, const char *id, struct store_access *out) AJAR_MUST_CHECK;
/* Writes status, granted_tier, reason, decided_by, decided and key_id of a
 * (matched by id). With only_if_status >= 0 the update happens only when
 * the stored status equals it, else AJAR_ERR_INVALID ("already approved"):
 * two admins deciding at once cannot both win. NOT_FOUND if no such id. */
enum ajar_err store_access_update(struct store *st, const struct store_access *a, int only_if_status) AJAR_MUST_CHECK;
/* Requests with the given status (-1: all), oldest first. *out: caller frees. */
enum ajar_err store_access_list(struct store *st, int status, struct store_access **out, size_t *n) AJAR_MUST_CHECK;

/* ---- usage per key and UTC day ---- */

struct store_usage {
	char key_id[STORE_ID_MAX];
	int64_t day;                     /* Unix seconds / 86400 */
	int64_t requests;
	int64_t tokens_in, tokens_out;
};

/* The row for (key_id, day); zeros (and OK) when there is none. */
enum ajar_err store_usage_get(struct store *st, const char *key_id, int64_t day, struct store_usage *out) AJAR_MUST_CHECK;
/* Rows with day >= since_day, by key then day. *out: caller frees. */
enum ajar_err store_usage_list(struct store *st, int64_t since_day, struct store_usage **out, size_t *n) AJAR_MUST_CHECK;

/* ---- the audit chain ---- */

/* One row. The chain itself (seq, prev, hash, the signed head) is computed
 * by src/guard/audit.c; the store keeps the columns as given. */
struct store_audit_row {
	int64_t seq;                     /* 1, 2, 3, ... with no gaps */
	int64_t ts_us;                   /* Unix microseconds */
	char kind[16];                   /* "request" or "admin" */
	char request_id[STORE_ID_MAX];
	char key_id[STORE_ID_MAX];       /* "" without a key; never the secret */
	char tier[STORE_TIER_MAX];
	char endpoint[96];               /* "POST /v1/chat/completions", "keys.revoke", ... */
	char model[STORE_NAME_MAX];
	int64_t tokens_in, tokens_out;
	int status;                      /* HTTP status; 0 for CLI admin actions */
	char outcome[16];                /* "ok", "refused", "blocked", "error" */
	char reason[128];                /* short code: "invalid_api_key", "rate_limit_requests", category... */
	int64_t latency_us;
	char prompt_sha256[STORE_HEX256];  /* of the request body; "" for none */
	char output_sha256[STORE_HEX256];  /* of the output text; "" for none */
	char *content;                   /* retention "full": JSON text, else NULL. Owned by
	                                    whoever filled the row (see store_audit_rows_free) */
	uint8_t prev[32];                /* hash of row seq-1 (zeros for seq 1) */
	uint8_t hash[32];
};

/* The signed head: the newest row's seq and hash with an Ed25519 signature. */
struct store_audit_head {
	int64_t seq;
	uint8_t hash[32];
	uint8_t sig[64];
};

/*
 * In one transaction, durable on return: inserts row (INVALID if its seq
 * exists), replaces the head, and when row->key_id is non-empty and
 * row->kind is "request" adds 1 request and its tokens to the key's usage
 * for the row's UTC day. It also adds to the aggregate counters:
 * "requests:tier:T" +1 and "tokens:tier:T" +in+out for every request row,
 * "refused:REASON" +1 when outcome is "refused", "blocked:REASON" +1 when
 * outcome is "blocked", "flagged:REASON" +1 when it is "flagged" (served,
 * with a moderation category noted).
 */
enum ajar_err store_audit_append(struct store *st, const struct store_audit_row *row,
				 const struct store_audit_head *head) AJAR_MUST_CHECK;
/* The same for n rows (consecutive seqs) in ONE transaction with one
 * fsync, head naming the last: a writer that collects the rows of several
 * requests (group commit) pays one disk flush for all. Any row refused
 * (INVALID for a seq that exists) and none is written. */
enum ajar_err store_audit_append_batch(struct store *st, const struct store_audit_row *const *rows, size_t n,
				       const struct store_audit_head *head) AJAR_MUST_CHECK;
/* NOT_FOUND for an empty chain. */
enum ajar_err store_audit_head_get(struct store *st, struct store_audit_head *out) AJAR_MUST_CHECK;
/* The row with the largest seq; NOT_FOUND when there is none. out->content
 * is malloc'd (or NULL): free it. */
enum ajar_err store_audit_last(struct store *st, struct store_audit_row *out) AJAR_MUST_CHECK;
/* Calls fn for every row with seq >= from_seq and ts_us >= since_us in
 * increasing seq order, as stored (nothing is checked here). r is valid
 * only during the call. fn returns 0 to go on, non-zero to stop (returned
 * as AJAR_OK). */
enum ajar_err store_audit_scan(struct store *st, int64_t from_seq, int64_t since_us,
			       int (*fn)(void *user, const struct store_audit_row *r), void *user) AJAR_MUST_CHECK;
/* The newest n rows (at most), newest first. Free with store_audit_rows_free. */
enum ajar_err store_audit_recent(struct store *st, size_t n, struct store_audit_row **out, size_t *n_out) AJAR_MUST_CHECK;
void store_audit_rows_free(struct store_audit_row *rows, size_t n);

/* ---- aggregate counters ---- */

struct store_counter {
	char name[STORE_NAME_MAX];       /* "requests:tier:public", "refused:invalid_api_key", ... */
	int64_t value;
};

/* Every counter, by name. *out: caller frees. */
enum ajar_err store_counters(struct store *st, struct store_counter **out, size_t *n) AJAR_MUST_CHECK;

#endif
