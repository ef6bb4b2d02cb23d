/*
 * Tests of the signed provenance record (src/guard/provenance.c) and of
 * `ajar provenance verify` ($AJAR_BIN): a signed record verifies; changing
 * any one field, one byte of the text or of the signature, or checking
 * with another key fails with the message that names it; records of the
 * wrong shape are FORMAT; and the command checks a saved response end to
 * end with the DB.pub (or the store) that secrets_load made.
 */
#include "check.h"
#include "spawn_util.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>

#include "guard/provenance.h"
#include "guard/secrets.h"

#define MODEL_SHA "047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b"
#define POLICY_SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const char text[] = "Once upon a time, there was a little dog.";

static uint8_t pk[32], sk[64], pk2[32], sk2[64];

static struct provenance_fields fields(void)
{
	struct provenance_fields f = {
		.response_id = "chatcmpl-42",
		.model_sha256 = MODEL_SHA,
		.policy_sha256 = POLICY_SHA,
		.created = 1735689600,
		.watermark = "kgw-v1",
		.text = text,
		.text_len = sizeof(text) - 1,
	};
	return f;
}

static json_t *signed_record(void)
{
	struct provenance_fields f = fields();
	json_t *p = provenance_sign(&f, sk, pk);
	CHECK(p != NULL);
	return p;
}

/* Runs verify on prov and checks the code and that the message has needle. */
static void expect_fail(json_t *prov, const char *t, size_t len, const uint8_t *key, enum ajar_err want,
			const char *needle, const char *what)
{
	enum ajar_err err = provenance_verify(prov, t, len, key);
	CHECK_MSG(err == want, "%s: got %s (%s), want %s", what, ajar_err_name(err), ajar_err_msg(),
		  ajar_err_name(want));
	CHECK_MSG(strstr(ajar_err_msg(), needle) != NULL, "%s: message '%s' lacks '%s'", what, ajar_err_msg(), needle);
}

static void test_sign_verify(void)
{
	json_t *p = signed_record();
	uint8_t h[32];
	char hex[65];

	CHECK_OK(provenance_verify(p, text, sizeof(text) - 1, pk));
	CHECK_EQ_INT(json_integer_value(json_object_get(p, "version")), 1);
	CHECK_STR(json_string_value(json_object_get(p, "response_id")), "chatcmpl-42");
	CHECK_STR(json_string_value(json_object_get(p, "model_sha256")), MODEL_SHA);
	CHECK_STR(json_string_value(json_object_get(p, "watermark")), "kgw-v1");
	CHECK_EQ_INT(json_integer_value(json_object_get(p, "created")), 1735689600);
	crypto_hash_sha256(h, (const unsigned char *)text, sizeof(text) - 1);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	CHECK_STR(json_string_value(json_object_get(p, "text_sha256")), hex);
	crypto_hash_sha256(h, pk, 32);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	hex[16] = '\0';
	CHECK_STR(json_string_value(json_object_get(p, "key_id")), hex);
	CHECK_EQ_INT(json_object_size(p), 9);
	/* Ed25519 signatures are 64 bytes: 88 characters of padded base64. */
	CHECK_EQ_INT(strlen(json_string_value(json_object_get(p, "signature"))), 88);

	/* The signature is over the documented canonical text. */
	char canon[1024];
	uint8_t sig[64];
	size_t n_sig = 0;
	int n = snprintf(canon, sizeof(canon),
			 "version=1\nresponse_id=chatcmpl-42\nmodel_sha256=%s\npolicy_sha256=%s\ncreated=1735689600\n"
			 "watermark=kgw-v1\ntext_sha256=%s\nkey_id=%s\n",
			 MODEL_SHA, POLICY_SHA, json_string_value(json_object_get(p, "text_sha256")), hex);
	const char *b64 = json_string_value(json_object_get(p, "signature"));
	CHECK(sodium_base642bin(sig, sizeof(sig), b64, strlen(b64), NULL, &n_sig, NULL,
				sodium_base64_VARIANT_ORIGINAL) == 0);
	CHECK(crypto_sign_verify_detached(sig, (const unsigned char *)canon, (unsigned long long)n, pk) == 0);

	/* An empty text and "none" watermark are fine. */
	struct provenance_fields f = fields();
	f.text = "";
	f.text_len = 0;
	f.watermark = NULL;
	json_t *q = provenance_sign(&f, sk, pk);
	CHECK(q != NULL);
	CHECK_STR(json_string_value(json_object_get(q, "watermark")), "none");
	CHECK_OK(provenance_verify(q, "", 0, pk));
	json_decref(q);
	json_decref(p);
}

/* Each field changed alone: the record must fail, naming why. */
static void test_each_field_changed(void)
{
	static const struct {
		const char *field;
		const char *value;   /* new string value, or NULL for an integer change */
		json_int_t ivalue;
		enum ajar_err want;
		const char *needle;
	} cases[] = {
		{ "response_id", "chatcmpl-43", 0, AJAR_ERR_INVALID, "signature does not verify" },
		{ "model_sha256", "147bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b", 0,
		  AJAR_ERR_INVALID, "signature does not verify" },
		{ "policy_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a09", 0,
		  AJAR_ERR_INVALID, "signature does not verify" },
		{ "created", NULL, 1735689601, AJAR_ERR_INVALID, "signature does not verify" },
		{ "watermark", "none", 0, AJAR_ERR_INVALID, "signature does not verify" },
		{ "text_sha256", "0000000000000000000000000000000000000000000000000000000000000000", 0,
		  AJAR_ERR_INVALID, "signature does not verify" },
		{ "key_id", "0123456789abcdef", 0, AJAR_ERR_INVALID, "key_id is not this key's" },
		{ "version", NULL, 2, AJAR_ERR_FORMAT, "version 2" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *p = signed_record();
		if (cases[i].value)
			json_object_set_new(p, cases[i].field, json_string(cases[i].value));
		else
			json_object_set_new(p, cases[i].field, json_integer(cases[i].ivalue));
		expect_fail(p, text, sizeof(text) - 1, pk, cases[i].want, cases[i].needle, cases[i].field);
		json_decref(p);
	}
}

static void test_text_signature_key(void)
{
	json_t *p = signed_record();
	char t[sizeof(text)];

	/* One byte of the text, anywhere; and a text one byte shorter. */
	memcpy(t, text, sizeof(text));
	t[0] = 'o';
	expect_fail(p, t, sizeof(text) - 1, pk, AJAR_ERR_INVALID, "text_sha256 does not match the text", "text[0]");
	memcpy(t, text, sizeof(text));
	t[sizeof(text) - 2] = '!';
	expect_fail(p, t, sizeof(text) - 1, pk, AJAR_ERR_INVALID, "text_sha256 does not match the text", "last byte");
	expect_fail(p, text, sizeof(text) - 2, pk, AJAR_ERR_INVALID, "text_sha256 does not match the text", "shorter");

	/* One bit of the signature. */
	uint8_t sig[64];
	char b64[89];
	size_t n_sig = 0;
	const char *orig = json_string_value(json_object_get(p, "signature"));
	CHECK(sodium_base642bin(sig, sizeof(sig), orig, strlen(orig), NULL, &n_sig, NULL,
				sodium_base64_VARIANT_ORIGINAL) == 0);
	sig[10] ^= 1;
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	json_t *q = json_deep_copy(p);
	json_object_set_new(q, "signature", json_string(b64));
	expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_INVALID, "signature does not verify", "signature bit");
	json_decref(q);

	/* Another key; and a record by another key that claims our key id. */
	expect_fail(p, text, sizeof(text) - 1, pk2, AJAR_ERR_INVALID, "key_id is not this key's", "other key");
	struct provenance_fields f = fields();
	q = provenance_sign(&f, sk2, pk2);
	json_object_set(q, "key_id", json_object_get(p, "key_id"));
	expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_INVALID, "signature does not verify", "forged key id");
	json_decref(q);
	json_decref(p);
}

static void test_malformed(void)
{
	static const char *const names[] = { "version", "response_id", "model_sha256", "policy_sha256", "created",
					     "watermark", "text_sha256", "key_id", "signature" };
	json_t *p = signed_record(), *q;

	q = json_array();
	expect_fail(q, text, 0, pk, AJAR_ERR_FORMAT, "not a JSON object", "array");
	json_decref(q);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		q = json_deep_copy(p);
		json_object_del(q, names[i]);
		expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_FORMAT, names[i], "missing field");
		/* The wrong JSON type: a string where an integer goes, else a number. */
		json_object_set_new(q, names[i],
				    json_is_integer(json_object_get(p, names[i])) ? json_string("1") : json_integer(1));
		expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_FORMAT, names[i], "mistyped field");
		json_decref(q);
	}
	static const struct {
		const char *field, *value, *needle;
	} bad[] = {
		{ "model_sha256", "047BF46455A544931CFF6FEF14D7910154C56AFBC23AB1C5E56A72E69912C04B", "hex" },
		{ "policy_sha256", "abc", "hex" },
		{ "key_id", "0123456789abcdeg", "hex" },
		{ "response_id", "a\nkey_id=x", "newline" },
		{ "signature", "not base64!", "base64" },
		{ "signature", "AAAA", "base64" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = json_deep_copy(p);
		json_object_set_new(q, bad[i].field, json_string(bad[i].value));
		expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_FORMAT, bad[i].needle, bad[i].value);
		json_decref(q);
	}
	q = json_deep_copy(p);
	json_object_set_new(q, "comment", json_string("unsigned"));
	expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_FORMAT, "unknown field 'comment'", "extra field");
	json_decref(q);
	q = json_deep_copy(p);
	json_object_set_new(q, "version", json_integer(0));
	expect_fail(q, text, sizeof(text) - 1, pk, AJAR_ERR_FORMAT, "version 0", "version 0");
	json_decref(q);

	/* Fields that would make an ambiguous or unverifiable record are not signed. */
	struct provenance_fields f = fields();
	f.response_id = "x\nmodel_sha256=0";
	CHECK(provenance_sign(&f, sk, pk) == NULL);
	f = fields();
	f.model_sha256 = "not-hex";
	CHECK(provenance_sign(&f, sk, pk) == NULL);
	json_decref(p);
}

/* ---- the command ---- */

struct tmp_dir {
	char dir[64];
	char db[128];
};

static void tmp_dir_remove(struct tmp_dir *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(t->dir);
}

/* Writes a response with the given object kind and text, signed by sec
 * (over sign_text, to make a changed text), to dir/name. */
static void write_response(const char *path, const char *object, const char *body_text, const char *sign_text,
			   const struct guard_secrets *sec)
{
	struct provenance_fields f = fields();
	f.text = sign_text;
	f.text_len = strlen(sign_text);
	json_t *choice = strcmp(object, "chat.completion") == 0
				 ? json_pack("{s:i,s:{s:s,s:s},s:s}", "index", 0, "message", "role", "assistant",
					     "content", body_text, "finish_reason", "stop")
				 : json_pack("{s:i,s:s,s:s}", "index", 0, "text", body_text, "finish_reason", "stop");
	json_t *resp = json_pack("{s:s,s:s,s:i,s:s,s:[o],s:o}", "id", "chatcmpl-42", "object", object, "created",
				 1735689600, "model", "stories260K", "choices", choice, "provenance",
				 provenance_sign(&f, sec->audit_sk, sec->audit_pk));
	CHECK(resp != NULL);
	CHECK(json_dump_file(resp, path, JSON_INDENT(2)) == 0);
	json_decref(resp);
}

static struct run_result run(const char *const *args)
{
	return ajar_spawn(args, NULL, 0);
}

static void test_cli(void)
{
	struct tmp_dir t, other;
	struct guard_secrets sec, sec2;
	char chat[256], compl[256], bad[256], pub[256], pub2[256], uri[256], key_id[17];
	uint8_t h[32];
	char hex[65];

	snprintf(t.dir, sizeof(t.dir), "/tmp/ajar-prov-XXXXXX");
	snprintf(other.dir, sizeof(other.dir), "/tmp/ajar-prov-XXXXXX");
	CHECK(mkdtemp(t.dir) && mkdtemp(other.dir));
	snprintf(t.db, sizeof(t.db), "%s/t.db", t.dir);
	snprintf(other.db, sizeof(other.db), "%s/t.db", other.dir);
	CHECK_OK(secrets_load(t.db, true, &sec));
	CHECK_OK(secrets_load(other.db, true, &sec2));
	snprintf(chat, sizeof(chat), "%s/chat.json", t.dir);
	snprintf(compl, sizeof(compl), "%s/compl.json", t.dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", t.dir);
	snprintf(pub, sizeof(pub), "%s.pub", t.db);
	snprintf(pub2, sizeof(pub2), "%s.pub", other.db);
	snprintf(uri, sizeof(uri), "sqlite:%s", t.db);
	crypto_hash_sha256(h, sec.audit_pk, 32);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	memcpy(key_id, hex, 16);
	key_id[16] = '\0';

	write_response(chat, "chat.completion", "Hello there.", "Hello there.", &sec);
	write_response(compl, "text_completion", "Once upon a time", "Once upon a time", &sec);
	write_response(bad, "chat.completion", "Hello there!", "Hello there.", &sec);

	const char *a1[] = { "provenance", "verify", chat, "--pub", pub, NULL };
	struct run_result r = run(a1);
	CHECK_MSG(r.status == 0, "status %d: %s", r.status, r.err);
	CHECK_MSG(strstr(r.out, "provenance verified: response chatcmpl-42, model SHA-256 " MODEL_SHA) != NULL, "%s",
		  r.out);
	CHECK_MSG(strstr(r.out, key_id) != NULL, "%s lacks key %s", r.out, key_id);
	CHECK_EQ_INT(count_lines(r.out), 1);
	free(r.out);

	const char *a2[] = { "provenance", "verify", compl, "--store", uri, NULL };
	r = run(a2);
	CHECK_MSG(r.status == 0, "status %d: %s", r.status, r.err);
	CHECK(strstr(r.out, "provenance verified") != NULL);
	free(r.out);

	const char *a3[] = { "provenance", "verify", bad, "--pub", pub, NULL };
	r = run(a3);
	CHECK_FAILS_WITH(r, "text_sha256 does not match the text");
	CHECK_EQ_INT(r.status, 1);
	free(r.out);

	const char *a4[] = { "provenance", "verify", chat, "--pub", pub2, NULL };
	r = run(a4);
	CHECK_FAILS_WITH(r, "key_id is not this key's");
	free(r.out);

	/* A response without provenance; a file that is not JSON. */
	FILE *fp = fopen(bad, "w");
	if (fp) {
		fputs("{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"x\"}}]}", fp);
		fclose(fp);
	}
	r = run(a3);
	CHECK_FAILS_WITH(r, "no \"provenance\"");
	free(r.out);
	fp = fopen(bad, "w");
	if (fp) {
		fputs("not json", fp);
		fclose(fp);
	}
	r = run(a3);
	CHECK_FAILS_WITH(r, "not JSON");
	free(r.out);

	/* Usage errors exit 2. */
	const char *u1[] = { "provenance", NULL };
	const char *u2[] = { "provenance", "check", chat, NULL };
	const char *u3[] = { "provenance", "verify", chat, "--pub", pub, "--store", uri, NULL };
	const char *const *usage[] = { u1, u2, u3 };
	for (size_t i = 0; i < 3; i++) {
		r = run(usage[i]);
		CHECK_FAILS_WITH(r, "");
		CHECK_EQ_INT(r.status, 2);
		free(r.out);
	}
	const char *h1[] = { "provenance", "--help", NULL };
	r = run(h1);
	CHECK(r.status == 0 && strstr(r.out, "usage: ajar provenance verify") != NULL);
	free(r.out);

	secrets_wipe(&sec);
	secrets_wipe(&sec2);
	tmp_dir_remove(&t);
	tmp_dir_remove(&other);
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	RUN(test_sign_verify);
	RUN(test_each_field_changed);
	RUN(test_text_signature_key);
	RUN(test_malformed);
	if (getenv("AJAR_BIN"))
		RUN(test_cli);
	else
		fprintf(stderr, "AJAR_BIN not set: skipping the command tests\n");
	return check_summary();
}
