/*
 * Tests of the admin commands of the `ajar` binary ($AJAR_BIN): keys
 * (create, list, revoke, rotate), access (list, show, approve, deny), audit
 * (verify, export) and card, each against a store in a fresh temporary
 * folder. Every admin action must show up as a row of the audit chain, the
 * chain must verify, and an edit made behind the server's back (an UPDATE
 * through the SQLite C API) must be found and named. Every failure exits 1
 * or 2 with one line on stderr; a crash would show as another status.
 */
#include "check.h"
#include "spawn_util.h"

#include <dirent.h>
#include <jansson.h>
#include <regex.h>
#include <sqlite3.h>
#include <time.h>

#include "guard/access.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "store/store.h"

#define STORIES_SHA256 "047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b"

static char model[4096];

/* A temporary folder holding one store. */
struct tmp_store {
	char dir[64];
	char uri[160]; /* sqlite:DIR/t.db */
	char db[128];  /* DIR/t.db */
};

static void tmp_store_make(struct tmp_store *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/ajar-cli-guard-XXXXXX");
	if (!mkdtemp(t->dir))
		t->dir[0] = '\0';
	snprintf(t->db, sizeof(t->db), "%s/t.db", t->dir);
	snprintf(t->uri, sizeof(t->uri), "sqlite:%s", t->db);
}

static void tmp_store_remove(struct tmp_store *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[4096];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(t->dir);
}

static struct run_result run(const char *const *args)
{
	return ajar_spawn(args, NULL, 0);
}

/* stdout of a run as JSON (NULL if it is not). Caller decrefs. */
static json_t *out_json(const struct run_result *r)
{
	json_error_t e;
	json_t *v = json_loads(r->out, 0, &e);
	CHECK_MSG(v != NULL, "not JSON (%s): %s", e.text, r->out);
	return v;
}

/* A string member of o, "" when absent or not a string. */
static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bool key_shape_ok(const char *key)
{
	regex_t re;
	bool ok;
	if (regcomp(&re, "^ajar_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$", REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = key && regexec(&re, key, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* The status of key id in `keys list --json`, or "" if it is not listed. */
static void key_status(const struct tmp_store *t, const char *id, char *status, size_t cap)
{
	const char *args[] = { "keys", "list", "--store", t->uri, "--json", NULL };
	struct run_result r = run(args);
	json_t *v = out_json(&r), *k;
	size_t i;

	CHECK_EQ_INT(r.status, 0);
	snprintf(status, cap, "%s", "");
	json_array_foreach(json_object_get(v, "keys"), i, k) {
		if (strcmp(json_string_value(json_object_get(k, "id")), id) == 0)
			snprintf(status, cap, "%s", json_string_value(json_object_get(k, "status")));
	}
	json_decref(v);
	free(r.out);
}

static void test_help(void)
{
	static const char *const cmds[] = { "keys", "access", "audit", "card" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *args[] = { cmds[i], "--help", NULL };
		struct run_result r = run(args);
		CHECK_MSG(r.status == 0, "%s --help: status %d", cmds[i], r.status);
		CHECK_MSG(strstr(r.out, "usage: ajar ") != NULL, "%s --help: %s", cmds[i], r.out);
		free(r.out);
	}
	const char *args[] = { "--help", NULL };
	struct run_result r = run(args);
	CHECK(strstr(r.out, "keys") && strstr(r.out, "access") && strstr(r.out, "audit") && strstr(r.out, "card"));
	free(r.out);
}

/* Usage errors: status 2, one line. */
static void test_usage_errors(void)
{
	static const char *const cases[][6] = {
		{ "keys", NULL },
		{ "keys", "frobnicate", NULL },
		{ "keys", "create", NULL },
		{ "keys", "revoke", NULL },
		{ "keys", "list", "extra", NULL },
		{ "keys", "list", "--tier", "public", NULL },
		{ "keys", "create", "--tier", NULL },
		{ "access", NULL },
		{ "access", "approve", NULL },
		{ "access", "deny", "someid", NULL },
		{ "access", "list", "--status", "bogus", NULL },
		{ "audit", NULL },
		{ "audit", "frobnicate", NULL },
		{ "audit", "export", "--since", "yesterday", NULL },
		{ "audit", "export", "--since", "2026-02-30", NULL },
		{ "card", NULL },
		{ "card", "a.gguf", "b.gguf", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_result r = run(cases[i]);
		CHECK_MSG(r.status == 2, "case %zu (%s %s): status %d", i, cases[i][0], cases[i][1] ? cases[i][1] : "",
			  r.status);
		CHECK_MSG(count_lines(r.err) == 1, "case %zu: stderr: %s", i, r.err);
		free(r.out);
	}
}

/* keys create --json: the five members, a key of the documented shape. */
static json_t *create_key(const struct tmp_store *t, const char *tier, const char *owner)
{
	const char *args[] = { "keys", "create", "--tier", tier, "--owner", owner, "--store", t->uri, "--json", NULL };
	struct run_result r = run(args);
	CHECK_MSG(r.status == 0, "keys create: %s", r.err);
	json_t *v = out_json(&r);
	free(r.out);
	const char *key = json_string_value(json_object_get(v, "key"));
	const char *id = json_string_value(json_object_get(v, "id"));
	CHECK_MSG(key_shape_ok(key), "key %s", key ? key : "(none)");
	CHECK(id && key && strlen(id) == 16 && strncmp(key + 5, id, 16) == 0);
	CHECK_STR(json_string_value(json_object_get(v, "tier")), tier);
	CHECK_STR(json_string_value(json_object_get(v, "owner")), owner);
	CHECK(json_is_null(json_object_get(v, "expires")));
	CHECK_EQ_INT(json_object_size(v), 5);
	return v;
}

/* Neither listing shows any part of the secret of key. */
static void check_list_hides(const struct tmp_store *t, const char *key)
{
	const char *a1[] = { "keys", "list", "--store", t->uri, NULL };
	const char *a2[] = { "keys", "list", "--store", t->uri, "--json", NULL };
	const char *secret = key + 5 + 16 + 1;
	struct run_result r1 = run(a1), r2 = run(a2);
	CHECK(r1.status == 0 && r2.status == 0);
	CHECK(strstr(r1.out, secret) == NULL && strstr(r2.out, secret) == NULL);
	CHECK(strstr(r1.out, "active") != NULL);
	free(r1.out);
	free(r2.out);
}

static void check_fails(const char *const *args, int status, const char *needle)
{
	struct run_result r = run(args);
	CHECK_FAILS_WITH(r, needle);
	CHECK_MSG(r.status == status, "status %d, wanted %d: %s", r.status, status, r.err);
	free(r.out);
}

/* create x2, revoke, rotate: four audit rows. Returns the ids in order. */
static void keys_actions(const struct tmp_store *t, char id1[32], char id2[32])
{
	char status[32];
	json_t *k1 = create_key(t, "public", "alice");
	snprintf(id1, 32, "%s", str_of(k1, "id"));

	/* Human output, with an expiry. */
	const char *a2[] = { "keys", "create", "--tier", "researcher", "--expires", "30d", "--store", t->uri, NULL };
	struct run_result r = run(a2);
	CHECK_MSG(r.status == 0, "keys create: %s", r.err);
	CHECK(strstr(r.out, "key: ajar_") && strstr(r.out, "(shown once; store it now)"));
	const char *idl = strstr(r.out, "\nid: ");
	snprintf(id2, 32, "%.16s", idl ? idl + 5 : "");
	CHECK(strstr(r.out, "tier: researcher") != NULL);
	free(r.out);

	check_list_hides(t, json_string_value(json_object_get(k1, "key")));
	key_status(t, id1, status, sizeof(status));
	CHECK_STR(status, "active");
	key_status(t, id2, status, sizeof(status));
	CHECK_STR(status, "active");

	const char *a3[] = { "keys", "revoke", id1, "--store", t->uri, NULL };
	r = run(a3);
	CHECK_MSG(r.status == 0, "keys revoke: %s", r.err);
	free(r.out);
	key_status(t, id1, status, sizeof(status));
	CHECK_STR(status, "revoked");
	r = run(a3); /* again: no change, no second audit row */
	CHECK_MSG(r.status == 0 && strstr(r.out, "already"), "revoke twice: %s %s", r.out, r.err);
	free(r.out);

	const char *a4[] = { "keys", "rotate", id2, "--store", t->uri, "--json", NULL };
	r = run(a4);
	CHECK_MSG(r.status == 0, "keys rotate: %s", r.err);
	json_t *v = out_json(&r);
	const char *nid = json_string_value(json_object_get(v, "id"));
	CHECK(nid && strcmp(nid, id2) != 0);
	CHECK(key_shape_ok(json_string_value(json_object_get(v, "key"))));
	CHECK_STR(str_of(v, "replaces"), id2);
	CHECK_STR(str_of(v, "tier"), "researcher");
	key_status(t, id2, status, sizeof(status));
	CHECK_STR(status, "revoked");
	key_status(t, nid ? nid : "", status, sizeof(status));
	CHECK_STR(status, "active");
	json_decref(v);
	free(r.out);
	json_decref(k1);
}

static void keys_failures(const struct tmp_store *t, const char *revoked_id)
{
	const char *a1[] = { "keys", "create", "--tier", "nosuchtier", "--store", t->uri, NULL };
	check_fails(a1, 1, "nosuchtier");
	const char *a2[] = { "keys", "create", "--tier", "public", "--expires", "banana", "--store", t->uri, NULL };
	check_fails(a2, 2, "--expires");
	const char *a3[] = { "keys", "create", "--tier", "public", "--expires", "2001-01-01", "--store", t->uri, NULL };
	check_fails(a3, 2, "past");
	const char *a4[] = { "keys", "create", "--tier", "public", "--expires", "0d", "--store", t->uri, NULL };
	check_fails(a4, 2, "--expires");
	const char *a5[] = { "keys", "revoke", "nosuchkeyid", "--store", t->uri, NULL };
	check_fails(a5, 1, "nosuchkeyid");
	const char *a6[] = { "keys", "rotate", revoked_id, "--store", t->uri, NULL };
	check_fails(a6, 1, "revoked");
	const char *a7[] = { "keys", "list", "--store", "sqlite:/proc/nonexistent/t.db", NULL };
	struct run_result r = run(a7);
	CHECK_FAILS_WITH(r, "/proc/nonexistent");
	free(r.out);
}

/* audit verify --json: {"ok", "rows", "bad_seq", "reason"}. */
static json_t *verify_json(const struct tmp_store *t, int want_status)
{
	const char *args[] = { "audit", "verify", "--store", t->uri, "--json", NULL };
	struct run_result r = run(args);
	CHECK_MSG(r.status == want_status, "audit verify: status %d: %s", r.status, r.err);
	json_t *v = out_json(&r);
	free(r.out);
	return v;
}

static void check_export(const struct tmp_store *t, const char *id1, const char *id2)
{
	static const char *const endpoints[] = { "keys.create", "keys.create", "keys.revoke", "keys.rotate" };
	const char *key_ids[] = { id1, id2, id1, id2 };
	const char *args[] = { "audit", "export", "--since", "0", "--store", t->uri, NULL };
	struct run_result r = run(args);
	CHECK_MSG(r.status == 0, "audit export: %s", r.err);
	CHECK_EQ_INT(count_lines(r.out), 4);
	char *line = r.out;
	for (int i = 0; i < 4 && line && *line; i++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *row = json_loads(line, 0, NULL);
		CHECK_MSG(row != NULL, "line %d: %s", i, line);
		CHECK_EQ_INT(json_integer_value(json_object_get(row, "seq")), i + 1);
		CHECK_STR(str_of(row, "kind"), "admin");
		CHECK_STR(str_of(row, "endpoint"), endpoints[i]);
		CHECK_STR(str_of(row, "key_id"), key_ids[i]);
		CHECK_STR(str_of(row, "outcome"), "ok");
		json_decref(row);
		line = nl ? nl + 1 : NULL;
	}
	free(r.out);

	const char *a2[] = { "audit", "export", "--since", "2999-01-01", "--store", t->uri, NULL };
	r = run(a2);
	CHECK(r.status == 0 && r.out[0] == '\0');
	free(r.out);
	const char *a3[] = { "audit", "export", "--since", "1970-01-01T00:00:00Z", "--store", t->uri, NULL };
	r = run(a3);
	CHECK(r.status == 0 && count_lines(r.out) == 4);
	free(r.out);
}

/* Changes one column of audit row seq, as someone with the file could. */
static void tamper(const struct tmp_store *t, int seq)
{
	sqlite3 *db = NULL;
	char sql[128];
	CHECK(sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE audit SET reason = 'nothing to see' WHERE seq = %d", seq);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	CHECK_EQ_INT(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

static void test_keys_and_audit(void)
{
	struct tmp_store t;
	char id1[32], id2[32];

	tmp_store_make(&t);
	keys_actions(&t, id1, id2);
	keys_failures(&t, id1);

	const char *args[] = { "audit", "verify", "--store", t.uri, NULL };
	struct run_result r = run(args);
	CHECK_MSG(r.status == 0, "audit verify: %s", r.err);
	CHECK_MSG(strstr(r.out, "4 rows") != NULL, "audit verify: %s", r.out);
	free(r.out);
	json_t *v = verify_json(&t, 0);
	CHECK(json_is_true(json_object_get(v, "ok")));
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "rows")), 4);
	json_decref(v);
	check_export(&t, id1, id2);

	tamper(&t, 2);
	r = run(args);
	CHECK_FAILS_WITH(r, "row 2");
	CHECK_EQ_INT(r.status, 1);
	free(r.out);
	v = verify_json(&t, 1);
	CHECK(json_is_false(json_object_get(v, "ok")));
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "bad_seq")), 2);
	json_decref(v);
	tmp_store_remove(&t);
}

/* Two requests for the researcher tier (not approved automatically by the
 * built-in policy), submitted through the library as the server would. */
static void submit_requests(const struct tmp_store *t, char ids[2][STORE_ID_MAX])
{
	struct store *st = NULL;
	struct policy *p = NULL;
	struct guard_secrets sec = { 0 };
	struct store_access out;
	char token[ACCESS_TOKEN_MAX], param[64];

	CHECK_OK(store_open(t->uri, &st));
	CHECK_OK(policy_load(NULL, &p));
	if (st)
		CHECK_OK(secrets_load(store_file(st), true, &sec));
	for (int i = 0; st && p && i < 2; i++) {
		json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "name", i ? "Bob" : "Ada", "email",
					 i ? "bob@example.org" : "ada@example.org", "affiliation", "A lab",
					 "intended_use", "evaluation", "tier", "researcher", "accept_license", 1);
		ids[i][0] = '\0';
		CHECK_OK(access_submit(st, &sec, p, body, (int64_t)time(NULL), &out, token, sizeof(token), param,
				       sizeof(param)));
		CHECK_EQ_INT(out.status, STORE_ACCESS_PENDING);
		snprintf(ids[i], STORE_ID_MAX, "%s", out.id);
		json_decref(body);
	}
	secrets_wipe(&sec);
	if (p)
		policy_free(p);
	if (st)
		store_close(st);
}

static json_t *show_access(const struct tmp_store *t, const char *id)
{
	const char *args[] = { "access", "show", id, "--store", t->uri, "--json", NULL };
	struct run_result r = run(args);
	CHECK_MSG(r.status == 0, "access show: %s", r.err);
	json_t *v = out_json(&r);
	free(r.out);
	return v;
}

static void test_access(void)
{
	struct tmp_store t;
	char ids[2][STORE_ID_MAX];

	tmp_store_make(&t);
	const char *a1[] = { "access", "list", "--store", t.uri, NULL };
	struct run_result r = run(a1);
	CHECK(r.status == 0 && r.out[0] == '\0');
	free(r.out);
	const char *a2[] = { "access", "list", "--store", t.uri, "--json", NULL };
	r = run(a2);
	json_t *v = out_json(&r);
	CHECK(r.status == 0 && json_array_size(json_object_get(v, "requests")) == 0);
	json_decref(v);
	free(r.out);
	const char *a3[] = { "access", "approve", "nosuchrequest", "--store", t.uri, NULL };
	check_fails(a3, 1, "nosuchrequest");
	const char *a4[] = { "access", "show", "nosuchrequest", "--store", t.uri, NULL };
	check_fails(a4, 1, "nosuchrequest");

	submit_requests(&t, ids);
	const char *a5[] = { "access", "list", "--status", "pending", "--store", t.uri, NULL };
	r = run(a5);
	CHECK(r.status == 0 && count_lines(r.out) == 3 && strstr(r.out, ids[0]) && strstr(r.out, ids[1]));
	free(r.out);

	const char *a6[] = { "access", "approve", ids[1], "--tier", "admin", "--store", t.uri, NULL };
	r = run(a6);
	CHECK_FAILS_WITH(r, "admin");
	free(r.out);
	const char *a7[] = { "access", "approve", ids[0], "--tier", "partner", "--store", t.uri, NULL };
	r = run(a7);
	CHECK_MSG(r.status == 0 && strstr(r.out, "partner"), "approve: %s %s", r.out, r.err);
	free(r.out);
	r = run(a7); /* a decision is made once */
	CHECK_FAILS_WITH(r, "");
	free(r.out);
	const char *a8[] = { "access", "deny", ids[1], "--reason", "intended use too vague", "--store", t.uri, NULL };
	r = run(a8);
	CHECK_MSG(r.status == 0, "deny: %s", r.err);
	free(r.out);

	v = show_access(&t, ids[0]);
	CHECK_STR(str_of(v, "status"), "approved");
	CHECK_STR(str_of(v, "granted_tier"), "partner");
	json_decref(v);
	v = show_access(&t, ids[1]);
	CHECK_STR(str_of(v, "status"), "denied");
	json_decref(v);
	r = run(a5);
	CHECK(r.status == 0 && r.out[0] == '\0');
	free(r.out);

	v = verify_json(&t, 0);
	CHECK(json_is_true(json_object_get(v, "ok")));
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "rows")), 2);
	json_decref(v);
	const char *a9[] = { "audit", "export", "--store", t.uri, NULL };
	r = run(a9);
	CHECK(count_lines(r.out) == 2 && strstr(r.out, "access.approve") && strstr(r.out, "access.deny"));
	free(r.out);
	tmp_store_remove(&t);
}

static void test_card(void)
{
	const char *a1[] = { "card", model, NULL };
	struct run_result r = run(a1);
	CHECK_MSG(r.status == 0, "card: %s", r.err);
	json_t *v = out_json(&r);
	CHECK_STR(str_of(json_object_get(v, "model"), "sha256"), STORIES_SHA256);
	CHECK(json_is_object(json_object_get(v, "safeguards")));
	CHECK(json_object_get(v, "usage") == NULL);
	CHECK(json_is_string(json_object_get(json_object_get(v, "license"), "sha256")));
	json_decref(v);
	free(r.out);

	const char *a2[] = { "card", model, "--html", NULL };
	r = run(a2);
	CHECK(r.status == 0 && strncmp(r.out, "<!DOCTYPE html>", 15) == 0);
	free(r.out);

	const char *a3[] = { "card", "/nonexistent/model.gguf", NULL };
	check_fails(a3, 1, "/nonexistent/model.gguf");
	const char *a4[] = { "card", model, "--card", "/nonexistent/CARD.md", NULL };
	check_fails(a4, 1, "/nonexistent/CARD.md");
	const char *a5[] = { "card", model, "--policy", "/nonexistent/policy.json", NULL };
	check_fails(a5, 1, "/nonexistent/policy.json");
	const char *a6[] = { "card", fixture_path("models/tok512.bin"), NULL };
	r = run(a6);
	CHECK_FAILS_WITH(r, "tok512.bin");
	free(r.out);
}

int main(void)
{
	struct tmp_store home;

	/* Every command here names its store; should one not, it must not
	 * touch the real default store of whoever runs the tests. */
	tmp_store_make(&home);
	setenv("AJAR_DATA", home.dir, 1);
	snprintf(model, sizeof(model), "%s", fixture_path("models/stories260K.gguf"));
	RUN(test_help);
	RUN(test_usage_errors);
	RUN(test_keys_and_audit);
	RUN(test_access);
	RUN(test_card);
	tmp_store_remove(&home);
	return check_summary();
}
