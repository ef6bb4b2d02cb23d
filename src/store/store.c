/*
 * store.c - the backend-independent half of the store: which backend a URI
 * names, the default URI, checks on the records a caller hands in (so that
 * every backend refuses the same things the same way), and thin wrappers
 * that call through the backend's table of operations (store_int.h).
 *
 * Layout: URI parsing and store_open; store_default_uri; record checks;
 * one wrapper per operation, in the order of store.h.
 */
#include "store/store_int.h"

#include <assert.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- opening ---- */

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum ajar_err store_open(const char *uri, struct store **out)
{
	const char *path = uri;

	assert(uri && out);
	*out = NULL;
	if (has_prefix(uri, "postgresql://") || has_prefix(uri, "postgres://"))
		return ajar_errf(AJAR_ERR_UNSUPPORTED,
				 "PostgreSQL stores are not built into this ajar yet; use sqlite:PATH");
	if (has_prefix(uri, "sqlite:"))
		path = uri + strlen("sqlite:");
	else if (strstr(uri, "://"))
		/* Some other scheme: refuse rather than create a file of that name. */
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "store '%s': unknown kind of store; use sqlite:PATH", uri);
	if (path[0] == '\0')
		return ajar_errf(AJAR_ERR_INVALID, "store '%s': no file named", uri);
	return store_sqlite_open(path, out);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *store_file(const struct store *st)
{
	return st->file;
}

/* The home directory: $HOME, else the password database's entry. NULL if
 * neither gives one. */
static const char *home_dir(char *buf, size_t cap)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;

	if (home && home[0])
		return home;
	if (getpwuid_r(getuid(), &pw, buf, cap, &found) != 0 || !found || !found->pw_dir || !found->pw_dir[0])
		return NULL;
	return found->pw_dir;
}

enum ajar_err store_default_uri(char *out, size_t cap)
{
	const char *data = getenv("AJAR_DATA");
	const char *xdg = getenv("XDG_DATA_HOME");
	char pwbuf[1024];
	int n;

	if (data && data[0]) {
		n = snprintf(out, cap, "sqlite:%s/ajar.db", data);
	} else if (xdg && xdg[0] == '/') {
		/* The XDG spec says a relative $XDG_DATA_HOME is invalid and to be ignored. */
		n = snprintf(out, cap, "sqlite:%s/ajar/ajar.db", xdg);
	} else {
		const char *home = home_dir(pwbuf, sizeof(pwbuf));
		if (!home)
			return ajar_errf(AJAR_ERR_NOT_FOUND,
					 "no home directory to keep the store in; set AJAR_DATA or pass --store");
		n = snprintf(out, cap, "sqlite:%s/.local/share/ajar/ajar.db", home);
	}
	if (n < 0 || (size_t)n >= cap)
		return ajar_errf(AJAR_ERR_LIMIT, "default store path is longer than %zu bytes", cap ? cap - 1 : 0);
	return AJAR_OK;
}

/* ---- checks on records handed in ---- */

/* A fixed string fits when it is NUL-terminated within its array. */
#define FITS(field) (memchr((field), '\0', sizeof(field)) != NULL)

static enum ajar_err too_long(const char *what, const char *field, size_t cap)
{
	return ajar_errf(AJAR_ERR_LIMIT, "%s: %s is longer than %zu bytes", what, field, cap - 1);
}

#define CHECK_FITS(what, rec, field)                                            \
	do {                                                                    \
		if (!FITS((rec)->field))                                        \
			return too_long((what), #field, sizeof((rec)->field));  \
	} while (0)

static enum ajar_err check_key(const struct store_key *k)
{
	CHECK_FITS("key", k, id);
	CHECK_FITS("key", k, tier);
	CHECK_FITS("key", k, owner);
	CHECK_FITS("key", k, access_id);
	if (k->id[0] == '\0')
		return ajar_errf(AJAR_ERR_INVALID, "key: empty id");
	return AJAR_OK;
}

static bool access_status_valid(int status)
{
	return status == STORE_ACCESS_PENDING || status == STORE_ACCESS_APPROVED || status == STORE_ACCESS_DENIED;
}

static enum ajar_err check_access(const struct store_access *a)
{
	CHECK_FITS("access request", a, id);
	CHECK_FITS("access request", a, name);
	CHECK_FITS("access request", a, email);
	CHECK_FITS("access request", a, affiliation);
	CHECK_FITS("access request", a, intended_use);
	CHECK_FITS("access request", a, tier);
	CHECK_FITS("access request", a, license_sha256);
	CHECK_FITS("access request", a, granted_tier);
	CHECK_FITS("access request", a, reason);
	CHECK_FITS("access request", a, decided_by);
	CHECK_FITS("access request", a, key_id);
	if (a->id[0] == '\0')
		return ajar_errf(AJAR_ERR_INVALID, "access request: empty id");
	if (!access_status_valid(a->status))
		return ajar_errf(AJAR_ERR_INVALID, "access request '%s': status %d is not pending, approved or denied",
				 a->id, a->status);
	return AJAR_OK;
}

static enum ajar_err check_audit_row(const struct store_audit_row *r)
{
	CHECK_FITS("audit row", r, kind);
	CHECK_FITS("audit row", r, request_id);
	CHECK_FITS("audit row", r, key_id);
	CHECK_FITS("audit row", r, tier);
	CHECK_FITS("audit row", r, endpoint);
	CHECK_FITS("audit row", r, model);
	CHECK_FITS("audit row", r, outcome);
	CHECK_FITS("audit row", r, reason);
	CHECK_FITS("audit row", r, prompt_sha256);
	CHECK_FITS("audit row", r, output_sha256);
	return AJAR_OK;
}

/* ---- named values ---- */

/* Named values are small settings (a key fingerprint, a policy digest); the
 * cap keeps one from being a place to store anything large. */
#define META_VALUE_MAX 65536

enum ajar_err store_meta_get(struct store *st, const char *name, char *out, size_t cap)
{
	assert(st && name && out);
	if (cap == 0)
		return ajar_errf(AJAR_ERR_LIMIT, "meta '%s': no room for the value", name);
	out[0] = '\0';
	return st->ops->meta_get(st, name, out, cap);
}

enum ajar_err store_meta_set(struct store *st, const char *name, const char *value)
{
	assert(st && name && value);
	if (name[0] == '\0')
		return ajar_errf(AJAR_ERR_INVALID, "meta: empty name");
	/* The schema version says which migrations have run; only the store
	 * itself may change it, or the next open would skip or redo them. */
	if (strcmp(name, "schema_version") == 0)
		return ajar_errf(AJAR_ERR_INVALID, "meta 'schema_version' is kept by the store itself");
	if (strlen(name) >= STORE_NAME_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "meta: name longer than %d bytes", STORE_NAME_MAX - 1);
	if (strlen(value) > META_VALUE_MAX)
		return ajar_errf(AJAR_ERR_LIMIT, "meta '%s': value longer than %d bytes", name, META_VALUE_MAX);
	return st->ops->meta_set(st, name, value);
}

/* ---- API keys ---- */

enum ajar_err store_key_insert(struct store *st, const struct store_key *k)
{
	enum ajar_err err;

	assert(st && k);
	if ((err = check_key(k)))
		return err;
	return st->ops->key_insert(st, k);
}

enum ajar_err store_key_get(struct store *st, const char *id, struct store_key *out)
{
	assert(st && id && out);
	memset(out, 0, sizeof(*out));
	return st->ops->key_get(st, id, out);
}

enum ajar_err store_key_revoke(struct store *st, const char *id, int64_t when)
{
	assert(st && id);
	/* revoked == 0 means active, so a revocation "at 0" would be lost. */
	if (when <= 0)
		return ajar_errf(AJAR_ERR_INVALID, "key '%s': revocation time %lld is not after 1970", id,
				 (long long)when);
	return st->ops->key_revoke(st, id, when);
}

enum ajar_err store_key_list(struct store *st, struct store_key **out, size_t *n)
{
	assert(st && out && n);
	*out = NULL;
	*n = 0;
	return st->ops->key_list(st, out, n);
}

/* ---- access requests ---- */

enum ajar_err store_access_insert(struct store *st, const struct store_access *a)
{
	enum ajar_err err;

	assert(st && a);
	if ((err = check_access(a)))
		return err;
	return st->ops->access_insert(st, a);
}

enum ajar_err store_access_get(struct store *st, const char *id, struct store_access *out)
{
	assert(st && id && out);
	memset(out, 0, sizeof(*out));
	return st->ops->access_get(st, id, out);
}

enum ajar_err store_access_update(struct store *st, const struct store_access *a, int only_if_status)
{
	enum ajar_err err;

	assert(st && a);
	if ((err = check_access(a)))
		return err;
	return st->ops->access_update(st, a, only_if_status < 0 ? -1 : only_if_status);
}

enum ajar_err store_access_list(struct store *st, int status, struct store_access **out, size_t *n)
{
	assert(st && out && n);
	*out = NULL;
	*n = 0;
	return st->ops->access_list(st, status < 0 ? -1 : status, out, n);
}

/* ---- usage ---- */

enum ajar_err store_usage_get(struct store *st, const char *key_id, int64_t day, struct store_usage *out)
{
	assert(st && key_id && out);
	memset(out, 0, sizeof(*out));
	out->day = day;
	/* A key id too long to have been stored has no usage: zeros, as for any other. */
	if (strlen(key_id) >= sizeof(out->key_id))
		return AJAR_OK;
	memcpy(out->key_id, key_id, strlen(key_id) + 1);
	return st->ops->usage_get(st, key_id, day, out);
}

enum ajar_err store_usage_list(struct store *st, int64_t since_day, struct store_usage **out, size_t *n)
{
	assert(st && out && n);
	*out = NULL;
	*n = 0;
	return st->ops->usage_list(st, since_day, out, n);
}

/* ---- the audit chain ---- */

enum ajar_err store_audit_append(struct store *st, const struct store_audit_row *row,
				 const struct store_audit_head *head)
{
	enum ajar_err err;

	assert(st && row && head);
	if ((err = check_audit_row(row)))
		return err;
	return st->ops->audit_append(st, &row, 1, head);
}

enum ajar_err store_audit_append_batch(struct store *st, const struct store_audit_row *const *rows, size_t n,
				       const struct store_audit_head *head)
{
	enum ajar_err err;

	assert(st && rows && head);
	if (n == 0)
		return ajar_errf(AJAR_ERR_INVALID, "audit append: no rows");
	for (size_t i = 0; i < n; i++)
		if ((err = check_audit_row(rows[i])))
			return err;
	return st->ops->audit_append(st, rows, n, head);
}

enum ajar_err store_audit_head_get(struct store *st, struct store_audit_head *out)
{
	assert(st && out);
	memset(out, 0, sizeof(*out));
	return st->ops->audit_head_get(st, out);
}

enum ajar_err store_audit_last(struct store *st, struct store_audit_row *out)
{
	assert(st && out);
	memset(out, 0, sizeof(*out));
	return st->ops->audit_last(st, out);
}

enum ajar_err store_audit_scan(struct store *st, int64_t from_seq, int64_t since_us,
			       int (*fn)(void *user, const struct store_audit_row *r), void *user)
{
	assert(st && fn);
	return st->ops->audit_scan(st, from_seq, since_us, fn, user);
}

enum ajar_err store_audit_recent(struct store *st, size_t n, struct store_audit_row **out, size_t *n_out)
{
	assert(st && out && n_out);
	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return AJAR_OK;
	return st->ops->audit_recent(st, n, out, n_out);
}

void store_audit_rows_free(struct store_audit_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		free(rows[i].content);
	free(rows);
}

/* ---- aggregate counters ---- */

enum ajar_err store_counters(struct store *st, struct store_counter **out, size_t *n)
{
	assert(st && out && n);
	*out = NULL;
	*n = 0;
	return st->ops->counters(st, out, n);
}
