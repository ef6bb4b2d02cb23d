/*
 * audit.h - the tamper-evident audit log: every request (allowed or
 * refused) and every admin action is a row; each row carries the SHA-256 of
 * the row before it, and the newest row's (seq, hash) - the head - is
 * signed with the store's Ed25519 key.
 *
 * Row hash: SHA-256 over "ajar-audit-v1", prev (32 bytes), then every
 * other column in a fixed order, integers as 8 bytes little-endian and
 * strings as a 4-byte little-endian length and the bytes (content as a
 * string, "" when NULL), so no two different rows hash the same input.
 * Head signature: Ed25519 over "ajar-audit-head-v1" || seq (8 bytes LE) ||
 * hash.
 *
 * audit_verify walks the rows in seq order and names the first bad one:
 * a row whose hash does not match its columns (edited), whose prev is not
 * the hash of the row before (inserted, deleted or reordered), a gap in
 * seq (deleted), or a head that does not match the last row or whose
 * signature fails (the newest rows deleted or the head forged).
 */
#ifndef AJAR_GUARD_AUDIT_H
#define AJAR_GUARD_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ajar/err.h"
#include "guard/secrets.h"
#include "store/store.h"

struct audit;

/* Opens the chain writer: reads the head (and checks it against the last
 * row, FORMAT if they disagree). sec must have the signing key. *out:
 * caller closes with audit_close. Thread-safe after open. */
enum ajar_err audit_open(struct store *st, const struct guard_secrets *sec, struct audit **out) AJAR_MUST_CHECK;
void audit_close(struct audit *a);

/* Appends row: fills seq, prev and hash (and ts_us if 0), signs the new
 * head and writes both durably before returning. Rows are appended one at
 * a time in the order of the calls. */
enum ajar_err audit_append(struct audit *a, struct store_audit_row *row) AJAR_MUST_CHECK;

/* The hash of row as defined above (row->prev included; row->hash ignored). */
void audit_row_hash(const struct store_audit_row *row, uint8_t out[32]);

struct audit_verdict {
	bool ok;
	int64_t n_rows;          /* rows checked */
	int64_t bad_seq;         /* the first bad row's seq (or where it should be); 0 if ok */
	char reason[256];        /* what is wrong with it */
};

/* Verifies the whole chain with the public key. An error return means the
 * store could not be read; a broken chain is AJAR_OK with ok false. */
enum ajar_err audit_verify(struct store *st, const uint8_t audit_pk[32], struct audit_verdict *out) AJAR_MUST_CHECK;

/* A row as a JSON object (hashes in hex). Caller decrefs. */
json_t *audit_row_json(const struct store_audit_row *row);

/* Writes rows with ts_us >= since_us as JSON lines to f. */
enum ajar_err audit_export(struct store *st, int64_t since_us, FILE *f) AJAR_MUST_CHECK;

/* SHA-256 of data as 64 hex digits and a NUL. */
void audit_sha256_hex(const void *data, size_t len, char out[65]);

#endif
