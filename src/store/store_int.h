/*
 * store_int.h - what a store backend provides: one table of operations,
 * filled once per backend, and the common head of every store handle.
 *
 * store.c parses the URI, checks the caller's records (strings that do not
 * fit, statuses out of range) and then calls through st->ops, so a backend
 * sees only well-formed input: every fixed string NUL-terminated within its
 * array. A backend must still treat what it reads back from its storage as
 * untrusted (the file may have been edited by hand).
 *
 * Each operation has the contract of the store_* function of the same name
 * in store.h, including thread safety (the backend serializes) and
 * durability (a write returns once it is on disk).
 */
#ifndef AJAR_STORE_STORE_INT_H
#define AJAR_STORE_STORE_INT_H

#include "store/store.h"

struct store_ops {
	const char *name; /* "sqlite", for messages */
	void (*close)(struct store *st);

	enum ajar_err (*meta_get)(struct store *st, const char *name, char *out, size_t cap);
	enum ajar_err (*meta_set)(struct store *st, const char *name, const char *value);

	enum ajar_err (*key_insert)(struct store *st, const struct store_key *k);
	enum ajar_err (*key_get)(struct store *st, const char *id, struct store_key *out);
	enum ajar_err (*key_revoke)(struct store *st, const char *id, int64_t when);
	enum ajar_err (*key_list)(struct store *st, struct store_key **out, size_t *n);

	enum ajar_err (*access_insert)(struct store *st, const struct store_access *a);
	enum ajar_err (*access_get)(struct store *st, const char *id, struct store_access *out);
	enum ajar_err (*access_update)(struct store *st, const struct store_access *a, int only_if_status);
	enum ajar_err (*access_list)(struct store *st, int status, struct store_access **out, size_t *n);

	enum ajar_err (*usage_get)(struct store *st, const char *key_id, int64_t day, struct store_usage *out);
	enum ajar_err (*usage_list)(struct store *st, int64_t since_day, struct store_usage **out, size_t *n);

	/* rows[0..n) in one transaction, then the head (store_audit_append_batch). */
	enum ajar_err (*audit_append)(struct store *st, const struct store_audit_row *const *rows, size_t n,
				      const struct store_audit_head *head);
	enum ajar_err (*audit_head_get)(struct store *st, struct store_audit_head *out);
	enum ajar_err (*audit_last)(struct store *st, struct store_audit_row *out);
	enum ajar_err (*audit_scan)(struct store *st, int64_t from_seq, int64_t since_us,
				    int (*fn)(void *user, const struct store_audit_row *r), void *user);
	enum ajar_err (*audit_recent)(struct store *st, size_t n, struct store_audit_row **out, size_t *n_out);

	enum ajar_err (*counters)(struct store *st, struct store_counter **out, size_t *n);
};

/* The first member of every backend's handle; a backend casts a
 * struct store * back to its own type. Both fields are set at open and
 * never change, so they need no lock. */
struct store {
	const struct store_ops *ops;
	const char *file; /* store_file(): borrowed from the backend's handle; "" if none */
};

/* Day of a Unix-microseconds time (UTC), rounded toward minus infinity so
 * that a time before 1970 still falls in the day it belongs to. */
static inline int64_t store_day_of_us(int64_t ts_us)
{
	const int64_t day_us = 86400LL * 1000000LL;
	int64_t d = ts_us / day_us;
	return (ts_us % day_us < 0) ? d - 1 : d;
}

/* Opens or creates the SQLite store at path (already stripped of
 * "sqlite:"), migrating its schema. *out: caller closes (store_close). */
enum ajar_err store_sqlite_open(const char *path, struct store **out);

#endif
