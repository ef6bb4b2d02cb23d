/*
 * Tests of the transparency record (src/guard/transparency.c): the facts of
 * the fixture model against the GGUF reader and an independent SHA-256 of
 * the file's bytes; the record with the built-in policy (safeguards without
 * any key material, the license digest); the HTML page escaping what it
 * shows; a missing card file; and usage aggregates against audit rows and
 * keys written through the guard modules into a real store.
 */
#include "check.h"

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ajar/gguf.h"
#include "guard/audit.h"
#include "guard/keys.h"
#include "guard/policy.h"
#include "guard/secrets.h"
#include "guard/transparency.h"
#include "store/store.h"

/* From fixtures/README.md: made by llama.cpp, reproducible byte for byte. */
#define STORIES_SHA256 "047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b"

static char model_path[4096];

/* SHA-256 of the file read with stdio, not through the gguf mapping. */
static void file_sha256(const char *path, char hex[65], long *size)
{
	unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	FILE *f = fopen(path, "rb");
	size_t n;

	*size = 0;
	hex[0] = '\0';
	if (!f)
		return;
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		crypto_hash_sha256_update(&st, buf, n);
		*size += (long)n;
	}
	fclose(f);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

static json_int_t member_int(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void test_model_facts(void)
{
	json_t *facts = NULL;
	struct gguf_file *f = NULL;
	char hex[65];
	long size;

	CHECK_OK(transparency_model_facts(model_path, &facts));
	CHECK_OK(gguf_open(model_path, &f));
	if (!facts || !f)
		goto out;
	file_sha256(model_path, hex, &size);
	CHECK_STR(json_string_value(json_object_get(facts, "sha256")), hex);
	CHECK_STR(hex, STORIES_SHA256);
	CHECK_EQ_INT(member_int(facts, "file_size"), size);
	CHECK_STR(json_string_value(json_object_get(facts, "file")), "stories260K.gguf");
	CHECK_STR(json_string_value(json_object_get(facts, "architecture")), "llama");
	/* The converter's values (fixtures/README.md), read by gguf here too. */
	CHECK_EQ_INT(member_int(facts, "context_length"), 128);
	CHECK_EQ_INT(member_int(facts, "embedding_length"), 64);
	CHECK_EQ_INT(member_int(facts, "block_count"), 5);
	CHECK_EQ_INT(member_int(facts, "vocab_size"), 512);
	uint32_t ctx = 0;
	CHECK_OK(gguf_get_u32(f, "llama.context_length", &ctx));
	CHECK_EQ_INT(member_int(facts, "context_length"), ctx);

	/* Parameters and tensor types against the tensor infos. */
	uint64_t params = 0;
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
	}
	CHECK_EQ_INT(member_int(facts, "parameters"), params);
	json_t *types = json_object_get(facts, "tensor_types");
	const char *k;
	json_t *v;
	json_int_t sum = 0;
	json_object_foreach(types, k, v) {
		sum += json_integer_value(v);
	}
	CHECK_EQ_INT(sum, gguf_n_tensors(f));
	CHECK_EQ_INT(member_int(types, "f32"), gguf_n_tensors(f)); /* every tensor is F32 */
	CHECK(json_object_get(facts, "name") != NULL);
out:
	json_decref(facts);
	gguf_close(f);
}

static void test_model_facts_bad_files(void)
{
	json_t *facts = NULL;

	CHECK(transparency_model_facts("/nonexistent/model.gguf", &facts) == AJAR_ERR_IO);
	CHECK(strstr(ajar_err_msg(), "/nonexistent/model.gguf") != NULL);
	CHECK(facts == NULL);
	/* A file that is not GGUF: the tokenizer of the llama2.c checkpoint. */
	CHECK(transparency_model_facts(fixture_path("models/tok512.bin"), &facts) == AJAR_ERR_FORMAT);
	CHECK(facts == NULL);
}

/* True if any object member anywhere under v is named like key material. */
static bool has_key_member(const json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m) {
			if (strcmp(k, "key") == 0 || strstr(k, "key_file") || strstr(k, "secret") ||
			    strstr(k, "digest_key") || strstr(k, "audit_sk") || has_key_member(m))
				return true;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (has_key_member(m))
				return true;
		}
	}
	return false;
}

static void test_record_default_policy(void)
{
	struct policy *p = NULL;
	json_t *facts = NULL, *rec = NULL;
	char hex[65];

	CHECK_OK(policy_load(NULL, &p));
	CHECK_OK(transparency_model_facts(model_path, &facts));
	if (!p || !facts)
		goto out;
	CHECK_OK(transparency_record(facts, p, NULL, NULL, 1700000000, &rec));
	if (!rec)
		goto out;
	CHECK(json_object_get(rec, "model") == facts); /* a reference, not a copy */
	CHECK(json_object_get(rec, "usage") == NULL);  /* no store */
	CHECK_EQ_INT(member_int(rec, "generated_at"), 1700000000);
	json_t *safeguards = json_object_get(rec, "safeguards");
	CHECK(json_is_object(safeguards) && json_object_size(safeguards) > 0);
	CHECK(!has_key_member(safeguards));
	char *text = json_dumps(rec, 0);
	CHECK(text && !strstr(text, "key_file"));
	free(text);
	json_t *lic = json_object_get(rec, "license");
	CHECK_STR(json_string_value(json_object_get(lic, "sha256")), p->license_sha256);
	const char *lt = json_string_value(json_object_get(lic, "text"));
	CHECK(lt != NULL);
	if (lt) {
		unsigned char h[32];
		crypto_hash_sha256(h, (const unsigned char *)lt, strlen(lt));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		CHECK_STR(hex, p->license_sha256);
	}
	/* The default policy names no card file. */
	if (!p->card_path)
		CHECK(json_is_null(json_object_get(rec, "card")));
	char *page = transparency_html(rec);
	CHECK(page && strncmp(page, "<!DOCTYPE html>", 15) == 0);
	CHECK(page && strstr(page, STORIES_SHA256));
	CHECK(page && strstr(page, "<details>"));
	CHECK(page && strstr(page, "</html>"));
	free(page);
out:
	json_decref(rec);
	json_decref(facts);
	policy_free(p);
}

static char tmp_dir[64];

static void make_tmp_dir(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar-transp-XXXXXX");
	if (!mkdtemp(tmp_dir))
		tmp_dir[0] = '\0';
}

/* Removes tmp_dir and the files in it (the test makes no subfolders). */
static void remove_tmp_dir(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;
	char p[4096];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", tmp_dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(tmp_dir);
}

static void test_html_escapes_card(void)
{
	struct policy *p = NULL;
	json_t *facts = NULL, *rec = NULL;
	char card[4096];

	make_tmp_dir();
	snprintf(card, sizeof(card), "%s/card <b>.md", tmp_dir);
	FILE *f = fopen(card, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("# A model\n<script>alert(\"x\")</script> & 'quotes' <img src=x onerror=y>\n", f);
	fclose(f);
	CHECK_OK(policy_load(NULL, &p));
	CHECK_OK(transparency_model_facts(model_path, &facts));
	if (p && facts)
		CHECK_OK(transparency_record(facts, p, card, NULL, 0, &rec));
	if (rec) {
		json_t *c = json_object_get(rec, "card");
		CHECK_STR(json_string_value(json_object_get(c, "source")), card);
		CHECK(strstr(json_string_value(json_object_get(c, "text")), "<script>") != NULL);
		char *page = transparency_html(rec);
		CHECK(page != NULL);
		if (page) {
			CHECK(strstr(page, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"));
			CHECK(strcasestr(page, "<script") == NULL);
			CHECK(strstr(page, "<img") == NULL);
			CHECK(strstr(page, "<b>") == NULL); /* the card's file name, shown as its source */
			CHECK(strstr(page, "card &lt;b&gt;.md"));
		}
		free(page);
	}
	json_decref(rec);
	json_decref(facts);
	policy_free(p);
	remove_tmp_dir();
}

static void test_missing_card(void)
{
	struct policy *p = NULL;
	json_t *rec = NULL;

	CHECK_OK(policy_load(NULL, &p));
	if (!p)
		return;
	CHECK(transparency_record(NULL, p, "/nonexistent/CARD.md", NULL, 0, &rec) == AJAR_ERR_IO);
	CHECK(strstr(ajar_err_msg(), "/nonexistent/CARD.md") != NULL);
	CHECK(rec == NULL);
	policy_free(p);
}

/* A card that is not UTF-8 text cannot go into the JSON record: FORMAT,
 * naming the file, rather than a record with a broken string. */
static void test_card_not_text(void)
{
	struct policy *p = NULL;
	json_t *rec = NULL;
	char card[4096];

	make_tmp_dir();
	snprintf(card, sizeof(card), "%s/card.md", tmp_dir);
	FILE *f = fopen(card, "wb");
	CHECK(f != NULL);
	if (f) {
		fputs("caf\xe9 \xff\xfe\n", f);
		fclose(f);
	}
	CHECK_OK(policy_load(NULL, &p));
	if (p) {
		CHECK(transparency_record(NULL, p, card, NULL, 0, &rec) == AJAR_ERR_FORMAT);
		CHECK(strstr(ajar_err_msg(), card) != NULL);
		CHECK(rec == NULL);
		policy_free(p);
	}
	remove_tmp_dir();
}

/* One audit row of kind "request". */
static void append_request(struct audit *au, const char *key_id, const char *tier, const char *outcome,
			   const char *reason, int64_t tin, int64_t tout)
{
	struct store_audit_row r = { 0 };
	snprintf(r.kind, sizeof(r.kind), "request");
	snprintf(r.key_id, sizeof(r.key_id), "%s", key_id);
	snprintf(r.tier, sizeof(r.tier), "%s", tier);
	snprintf(r.endpoint, sizeof(r.endpoint), "POST /v1/chat/completions");
	snprintf(r.outcome, sizeof(r.outcome), "%s", outcome);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	r.status = strcmp(outcome, "ok") == 0 ? 200 : strcmp(outcome, "refused") == 0 ? 429 : 400;
	r.tokens_in = tin;
	r.tokens_out = tout;
	CHECK_OK(audit_append(au, &r));
}

static void insert_access(struct store *st, const char *id, int status)
{
	struct store_access a = { 0 };
	snprintf(a.id, sizeof(a.id), "%s", id);
	snprintf(a.name, sizeof(a.name), "Ada");
	snprintf(a.email, sizeof(a.email), "ada@example.org");
	snprintf(a.tier, sizeof(a.tier), "researcher");
	a.status = status;
	a.created = 1000;
	CHECK_OK(store_access_insert(st, &a));
}

/* The usage section of a record equals what the rows and keys add up to. */
static void check_usage(const json_t *u)
{
	json_t *by_tier = json_object_get(u, "requests_by_tier");
	CHECK_EQ_INT(member_int(json_object_get(by_tier, "public"), "requests"), 3);
	CHECK_EQ_INT(member_int(json_object_get(by_tier, "public"), "tokens"), 3 + 5 + 7 + 1);
	CHECK_EQ_INT(member_int(json_object_get(by_tier, "researcher"), "requests"), 1);
	CHECK_EQ_INT(member_int(json_object_get(by_tier, "researcher"), "tokens"), 4);
	CHECK_EQ_INT(member_int(json_object_get(u, "refusals_by_reason"), "rate_limit_requests"), 1);
	CHECK_EQ_INT(json_object_size(json_object_get(u, "refusals_by_reason")), 1);
	CHECK_EQ_INT(member_int(json_object_get(u, "blocked_by_category"), "violence"), 1);
	CHECK_EQ_INT(json_object_size(json_object_get(u, "blocked_by_category")), 1);
	json_t *keys = json_object_get(u, "keys");
	CHECK_EQ_INT(member_int(keys, "active"), 1);
	CHECK_EQ_INT(member_int(keys, "revoked"), 1);
	CHECK_EQ_INT(member_int(keys, "expired"), 1);
	json_t *acc = json_object_get(u, "access_requests");
	CHECK_EQ_INT(member_int(acc, "pending"), 2);
	CHECK_EQ_INT(member_int(acc, "approved"), 1);
	CHECK_EQ_INT(member_int(acc, "denied"), 1);
}

static void test_usage(void)
{
	struct store *st = NULL;
	struct guard_secrets sec = { 0 };
	struct audit *au = NULL;
	struct policy *p = NULL;
	struct store_key k1, k2, k3;
	json_t *u = NULL, *rec = NULL;
	char uri[4096], key[KEY_STRING_MAX];
	int64_t now = (int64_t)time(NULL);

	make_tmp_dir();
	snprintf(uri, sizeof(uri), "sqlite:%s/t.db", tmp_dir);
	CHECK_OK(store_open(uri, &st));
	if (!st)
		goto out;
	/* An empty store: every aggregate present, all zero. */
	CHECK_OK(transparency_usage(st, now, &u));
	CHECK_EQ_INT(json_object_size(json_object_get(u, "requests_by_tier")), 0);
	CHECK_EQ_INT(member_int(json_object_get(u, "keys"), "active"), 0);
	CHECK_EQ_INT(member_int(json_object_get(u, "access_requests"), "pending"), 0);
	json_decref(u);
	u = NULL;

	CHECK_OK(secrets_load(store_file(st), true, &sec));
	CHECK_OK(audit_open(st, &sec, &au));
	if (!au)
		goto out;
	CHECK_OK(keys_create(st, &sec, "public", "a", 0, NULL, now, key, sizeof(key), &k1));
	CHECK_OK(keys_create(st, &sec, "public", "b", 0, NULL, now, key, sizeof(key), &k2));
	CHECK_OK(keys_create(st, &sec, "researcher", "c", now + 10, NULL, now, key, sizeof(key), &k3));
	CHECK_OK(keys_revoke(st, k2.id, now));
	append_request(au, k1.id, "public", "ok", "", 3, 5);
	append_request(au, k1.id, "public", "ok", "", 7, 1);
	append_request(au, k1.id, "public", "refused", "rate_limit_requests", 0, 0);
	append_request(au, k3.id, "researcher", "blocked", "violence", 4, 0);
	insert_access(st, "req1", STORE_ACCESS_PENDING);
	insert_access(st, "req2", STORE_ACCESS_PENDING);
	insert_access(st, "req3", STORE_ACCESS_APPROVED);
	insert_access(st, "req4", STORE_ACCESS_DENIED);

	/* At now + 20 the researcher key has expired. */
	CHECK_OK(transparency_usage(st, now + 20, &u));
	if (u)
		check_usage(u);
	CHECK_OK(policy_load(NULL, &p));
	if (p)
		CHECK_OK(transparency_record(NULL, p, NULL, st, now + 20, &rec));
	if (rec) {
		check_usage(json_object_get(rec, "usage"));
		CHECK(json_is_null(json_object_get(rec, "model")));
		char *page = transparency_html(rec);
		CHECK(page && strstr(page, "rate limit requests"));
		CHECK(page && strstr(page, "violence"));
		free(page);
	}
out:
	json_decref(u);
	json_decref(rec);
	if (p)
		policy_free(p);
	if (au)
		audit_close(au);
	if (st)
		store_close(st);
	secrets_wipe(&sec);
	remove_tmp_dir();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(model_path, sizeof(model_path), "%s", fixture_path("models/stories260K.gguf"));
	RUN(test_model_facts);
	RUN(test_model_facts_bad_files);
	RUN(test_record_default_policy);
	RUN(test_html_escapes_card);
	RUN(test_missing_card);
	RUN(test_card_not_text);
	RUN(test_usage);
	return check_summary();
}
