/*
 * test_keys.c - the store's secrets files and API keys on a real SQLite
 * store: files made once with mode 0600 and read back the same, tampered
 * or world-readable files refused, a DB.pub alone enough to verify; keys
 * checked, refused in every malformed shape, revoked (also from a second
 * handle, as `ajar keys revoke` does beside a server), expired, rotated;
 * and no byte of a key's secret anywhere in the store's files.
 *
 * Prints the mean cost of keys_check over 1000 calls.
 */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "guard/keys.h"
#include "guard/secrets.h"
#include "store/store.h"

static char tmp_dir[64];
static const int64_t now0 = 1800000000; /* a fixed "now" */

/* tmp_dir/name in buf (cap 512). */
static char *tmp_path(char *buf, const char *name)
{
	snprintf(buf, 512, "%s/%s", tmp_dir, name);
	return buf;
}

/* The whole file, malloc'd (caller frees), or NULL. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			buf[n] = 0;
		*len = (size_t)n;
	}
	fclose(fp);
	return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "wb");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(text, fp);
	fclose(fp);
	CHECK(chmod(path, mode) == 0);
}

static void remove_with_suffixes(const char *db)
{
	static const char *const suffixes[] = {"", ".secret", ".pub", "-wal", "-shm", "-journal"};
	char p[600];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
		unlink(p);
	}
}

/* ---- secrets ---- */

static void test_secrets_files(void)
{
	char db[512], secret[600], pub[600];
	struct guard_secrets a, b;
	struct stat sb;

	tmp_path(db, "sec.db");
	snprintf(secret, sizeof(secret), "%s.secret", db);
	snprintf(pub, sizeof(pub), "%s.pub", db);
	CHECK_EQ_INT(secrets_load(db, false, &a), AJAR_ERR_NOT_FOUND);

	CHECK_OK(secrets_load(db, true, &a));
	CHECK(a.have_sk);
	CHECK(stat(secret, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(pub, &sb) == 0);
	/* Written through temporary files, none of which is left behind. */
	DIR *d = opendir(tmp_dir);
	CHECK(d != NULL);
	for (struct dirent *e; d && (e = readdir(d));)
		CHECK_MSG(strstr(e->d_name, ".tmp") == NULL, "left behind: %s", e->d_name);
	if (d)
		closedir(d);
	uint8_t zero[32] = {0};
	CHECK(memcmp(a.digest_key, zero, 32) != 0);

	/* Loaded again, with or without create: the same keys. */
	CHECK_OK(secrets_load(db, false, &b));
	CHECK(b.have_sk);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_OK(secrets_load(db, true, &b));
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);

	/* The digest is keyed: same input, same key, same digest; another key differs. */
	uint8_t d1[32], d2[32];
	secrets_digest(&a, "hello", 5, d1);
	secrets_digest(&b, "hello", 5, d2);
	CHECK(memcmp(d1, d2, 32) == 0);
	b.digest_key[0] ^= 1;
	secrets_digest(&b, "hello", 5, d2);
	CHECK(memcmp(d1, d2, 32) != 0);

	/* The public key signs what the secret key signs. */
	uint8_t sig[64];
	crypto_sign_detached(sig, NULL, (const uint8_t *)"m", 1, a.audit_sk);
	CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, a.audit_pk) == 0);

	/* Only DB.pub: enough to verify, have_sk false; create refuses to
	 * make new keys that would orphan the chain. */
	char moved[700];
	snprintf(moved, sizeof(moved), "%s.moved", secret);
	CHECK(rename(secret, moved) == 0);
	CHECK_OK(secrets_load(db, false, &b));
	CHECK(!b.have_sk);
	CHECK(memcmp(b.audit_pk, a.audit_pk, 32) == 0);
	CHECK(memcmp(b.digest_key, zero, 32) == 0);
	CHECK_EQ_INT(secrets_load(db, true, &b), AJAR_ERR_NOT_FOUND);
	CHECK(rename(moved, secret) == 0);

	/* A missing DB.pub is derived again from DB.secret. */
	CHECK(unlink(pub) == 0);
	CHECK_OK(secrets_load(db, true, &b));
	CHECK(stat(pub, &sb) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);

	/* Readable by others: refused. */
	CHECK(chmod(secret, 0644) == 0);
	CHECK_EQ_INT(secrets_load(db, false, &b), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "chmod 600") != NULL);
	CHECK(chmod(secret, 0640) == 0);
	CHECK_EQ_INT(secrets_load(db, true, &b), AJAR_ERR_INVALID);
	CHECK(chmod(secret, 0600) == 0);
	CHECK_OK(secrets_load(db, false, &b));
	secrets_wipe(&a);
	secrets_wipe(&b);
	CHECK(memcmp(a.digest_key, zero, 32) == 0 && !a.have_sk);
	remove_with_suffixes(db);
}

/* DB.secret or DB.pub replaced by text: FORMAT, naming the file. */
static void expect_tampered(const char *db, const char *which, const char *text)
{
	char path[600];
	size_t len;
	struct guard_secrets s;

	snprintf(path, sizeof(path), "%s.%s", db, which);
	uint8_t *saved = read_all(path, &len);
	CHECK(saved != NULL);
	write_text(path, text, strcmp(which, "secret") == 0 ? 0600 : 0644);
	enum ajar_err err = secrets_load(db, true, &s);
	CHECK_MSG(err == AJAR_ERR_FORMAT, "%s = %s: %d %s", which, text, err, ajar_err_msg());
	CHECK_MSG(strstr(ajar_err_msg(), path) != NULL, "message names the file: %s", ajar_err_msg());
	if (saved) {
		write_text(path, (const char *)saved, strcmp(which, "secret") == 0 ? 0600 : 0644);
		free(saved);
	}
	CHECK_OK(secrets_load(db, false, &s));
}

static void test_secrets_tampered(void)
{
	char db[512], text[400], hex_d[65], hex_sk[129], hex_pk[65];
	struct guard_secrets s, other;

	tmp_path(db, "tamper.db");
	CHECK_OK(secrets_load(db, true, &s));
	sodium_bin2hex(hex_d, sizeof(hex_d), s.digest_key, 32);
	sodium_bin2hex(hex_sk, sizeof(hex_sk), s.audit_sk, 64);
	sodium_bin2hex(hex_pk, sizeof(hex_pk), s.audit_pk, 32);

	expect_tampered(db, "secret", "");
	expect_tampered(db, "secret", "{\"digest_key\": \"00\"");
	expect_tampered(db, "secret", "[1, 2]");
	snprintf(text, sizeof(text), "{\"audit_sk\": \"%s\"}", hex_sk);
	expect_tampered(db, "secret", text);
	snprintf(text, sizeof(text), "{\"digest_key\": \"%.62s\", \"audit_sk\": \"%s\"}", hex_d, hex_sk);
	expect_tampered(db, "secret", text);
	snprintf(text, sizeof(text), "{\"digest_key\": \"%.63sg\", \"audit_sk\": \"%s\"}", hex_d, hex_sk);
	expect_tampered(db, "secret", text);
	snprintf(text, sizeof(text), "{\"digest_key\": 5, \"audit_sk\": \"%s\"}", hex_sk);
	expect_tampered(db, "secret", text);
	/* The seed changed: the key's two halves disagree. */
	hex_sk[0] = hex_sk[0] == '0' ? '1' : '0';
	snprintf(text, sizeof(text), "{\"digest_key\": \"%s\", \"audit_sk\": \"%s\"}", hex_d, hex_sk);
	expect_tampered(db, "secret", text);
	hex_sk[0] = hex_sk[0] == '0' ? '1' : '0';
	snprintf(text, sizeof(text), "{\"digest_key\": \"%s\", \"digest_key\": \"%s\", \"audit_sk\": \"%s\"}",
		 hex_d, hex_d, hex_sk);
	expect_tampered(db, "secret", text);

	/* DB.pub of another key pair. */
	char db2[512];
	tmp_path(db2, "other.db");
	CHECK_OK(secrets_load(db2, true, &other));
	sodium_bin2hex(hex_pk, sizeof(hex_pk), other.audit_pk, 32);
	snprintf(text, sizeof(text), "{\"audit_pk\": \"%s\"}", hex_pk);
	expect_tampered(db, "pub", text);
	expect_tampered(db, "pub", "{\"audit_pk\": \"abc\"}");
	expect_tampered(db, "pub", "not json");
	remove_with_suffixes(db);
	remove_with_suffixes(db2);
}

/* ---- keys ---- */

struct fixture {
	char db[512];
	char uri[600];
	struct store *st;
	struct guard_secrets sec;
};

static bool fixture_open(struct fixture *f, const char *name)
{
	tmp_path(f->db, name);
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->db);
	f->st = NULL;
	CHECK_OK(store_open(f->uri, &f->st));
	if (!f->st)
		return false;
	enum ajar_err err = secrets_load(store_file(f->st), true, &f->sec);
	CHECK_OK(err);
	return err == AJAR_OK;
}

static void fixture_close(struct fixture *f)
{
	store_close(f->st);
	secrets_wipe(&f->sec);
	remove_with_suffixes(f->db);
}

static enum key_verdict check_key(struct fixture *f, const char *key, int64_t now, struct store_key *rec)
{
	enum key_verdict v = KEY_OK;
	CHECK_OK(keys_check(f->st, &f->sec, key, now, &v, rec));
	return v;
}

static void test_create_and_check(void)
{
	struct fixture f;
	char key[KEY_STRING_MAX];
	struct store_key rec, got;

	if (!fixture_open(&f, "keys.db"))
		return;
	CHECK_OK(keys_create(f.st, &f.sec, "researcher", "alice@example.org", 0, NULL, now0, key, sizeof(key),
			     &rec));
	CHECK_EQ_INT(strlen(key), 65);
	CHECK(strncmp(key, "ajar_", 5) == 0 && key[21] == '_');
	CHECK(strncmp(key + 5, rec.id, 16) == 0 && strlen(rec.id) == 16);
	CHECK_STR(rec.tier, "researcher");
	CHECK_STR(rec.owner, "alice@example.org");
	CHECK_STR(rec.access_id, "");
	CHECK_EQ_INT(rec.created, now0);
	CHECK_EQ_INT(rec.expires, 0);
	CHECK_EQ_INT(rec.revoked, 0);

	memset(&got, 0, sizeof(got));
	CHECK_EQ_INT(check_key(&f, key, now0, &got), KEY_OK);
	CHECK_STR(got.id, rec.id);
	CHECK_STR(got.tier, "researcher");
	CHECK(memcmp(got.digest, rec.digest, 32) == 0);
	/* Far in the future still fine: it never expires. */
	CHECK_EQ_INT(check_key(&f, key, INT64_MAX, NULL), KEY_OK);

	/* Another secret with the same id. Position 30 is inside the secret,
	 * away from the last character's padding bits. */
	char wrong[KEY_STRING_MAX];
	memcpy(wrong, key, sizeof(wrong));
	wrong[30] = wrong[30] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check_key(&f, wrong, now0, NULL), KEY_UNKNOWN);
	/* An id nobody has. */
	memcpy(wrong, key, sizeof(wrong));
	wrong[6] = wrong[6] == 'a' ? 'b' : 'a';
	CHECK_EQ_INT(check_key(&f, wrong, now0, NULL), KEY_UNKNOWN);

	/* Two keys, unrelated. */
	char key2[KEY_STRING_MAX];
	struct store_key rec2;
	CHECK_OK(keys_create(f.st, &f.sec, "public", NULL, 0, NULL, now0, key2, sizeof(key2), &rec2));
	CHECK(strcmp(rec.id, rec2.id) != 0);
	CHECK_STR(rec2.owner, "");
	CHECK_EQ_INT(check_key(&f, key2, now0, NULL), KEY_OK);

	/* Refusals of keys_create and keys_create_as. */
	char small[32];
	CHECK_EQ_INT(keys_create(f.st, &f.sec, "", NULL, 0, NULL, now0, key, sizeof(key), NULL), AJAR_ERR_INVALID);
	CHECK_EQ_INT(keys_create(f.st, &f.sec, NULL, NULL, 0, NULL, now0, key, sizeof(key), NULL), AJAR_ERR_INVALID);
	CHECK_EQ_INT(keys_create(f.st, &f.sec, "public", NULL, 0, NULL, now0, small, sizeof(small), NULL),
		     AJAR_ERR_LIMIT);
	CHECK_STR(small, "");
	char long_owner[400];
	memset(long_owner, 'o', sizeof(long_owner) - 1);
	long_owner[sizeof(long_owner) - 1] = 0;
	CHECK_EQ_INT(keys_create(f.st, &f.sec, "public", long_owner, 0, NULL, now0, key, sizeof(key), NULL),
		     AJAR_ERR_LIMIT);
	CHECK_EQ_INT(keys_create(f.st, &f.sec, "public", NULL, -5, NULL, now0, key, sizeof(key), NULL),
		     AJAR_ERR_INVALID);
	CHECK_EQ_INT(keys_create_as(f.st, &f.sec, rec.id, "public", NULL, 0, NULL, now0, key, sizeof(key), NULL),
		     AJAR_ERR_INVALID);
	CHECK_STR(key, "");
	CHECK_EQ_INT(keys_create_as(f.st, &f.sec, "ABCDEFGHIJKLMNOP", "public", NULL, 0, NULL, now0, key,
				    sizeof(key), NULL),
		     AJAR_ERR_INVALID);
	CHECK_OK(keys_create_as(f.st, &f.sec, "abcdefghijklmnop", "public", NULL, 0, "req_x", now0, key,
				sizeof(key), &rec));
	CHECK(strncmp(key, "ajar_abcdefghijklmnop_", 22) == 0);
	CHECK_STR(rec.access_id, "req_x");
	CHECK_EQ_INT(check_key(&f, key, now0, NULL), KEY_OK);

	/* Base32 of known bytes (RFC 4648 test vector "foobar" padded to 10 bytes). */
	char id[KEY_ID_LEN + 1];
	keys_base32_id((const uint8_t *)"foobar\0\0\0\0", id);
	CHECK_STR(id, "mzxw6ytboiaaaaaa");
	fixture_close(&f);
}

static void test_malformed(void)
{
	struct fixture f;
	char key[KEY_STRING_MAX], bad[256];
	struct store_key rec;

	if (!fixture_open(&f, "malformed.db"))
		return;
	CHECK_OK(keys_create(f.st, &f.sec, "public", NULL, 0, NULL, now0, key, sizeof(key), &rec));

	static const char *const fixed[] = {
		"", "ajar_", "ajar", "sk-abcdef", "Bearer ajar_x", "ajar__", "AJAR_",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		CHECK_MSG(check_key(&f, fixed[i], now0, NULL) == KEY_MALFORMED, "'%s'", fixed[i]);
	CHECK_EQ_INT(check_key(&f, NULL, now0, NULL), KEY_MALFORMED);

	/* One change at a time to a valid key. */
	struct {
		size_t pos;
		char c;
	} edits[] = {
		{0, 'A'},  {4, '-'},  /* prefix */
		{5, 'A'},  {6, '1'},  {7, '8'}, {20, '_'}, {12, '='}, /* id: not lowercase base32 */
		{21, '-'}, /* separator */
		{22, '+'}, {40, '/'}, {64, '='}, {30, ' '}, {50, '.'}, /* secret: not base64url */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(bad, key, KEY_STRING_MAX);
		bad[edits[i].pos] = edits[i].c;
		CHECK_MSG(check_key(&f, bad, now0, NULL) == KEY_MALFORMED, "edit %zu: %s", i, bad);
	}
	/* Lengths: one short, one long, very long. */
	memcpy(bad, key, KEY_STRING_MAX);
	bad[64] = 0;
	CHECK_EQ_INT(check_key(&f, bad, now0, NULL), KEY_MALFORMED);
	memcpy(bad, key, 65);
	bad[65] = 'A';
	bad[66] = 0;
	CHECK_EQ_INT(check_key(&f, bad, now0, NULL), KEY_MALFORMED);
	size_t big = 100000;
	char *huge = malloc(big + 1);
	CHECK(huge != NULL);
	if (huge) {
		memcpy(huge, key, 65);
		memset(huge + 65, 'A', big - 65);
		huge[big] = 0;
		CHECK_EQ_INT(check_key(&f, huge, now0, NULL), KEY_MALFORMED);
		free(huge);
	}
	/* The last character carries 2 unused bits: a non-zero one makes a
	 * second spelling of the same secret, which is refused. */
	memcpy(bad, key, KEY_STRING_MAX);
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t v = (size_t)(strchr(alphabet, bad[64]) - alphabet);
	CHECK(v % 4 == 0);
	bad[64] = alphabet[v + 1];
	CHECK_EQ_INT(check_key(&f, bad, now0, NULL), KEY_MALFORMED);

	CHECK_STR(key_verdict_message(KEY_MALFORMED), "malformed API key (expected ajar_...)");
	CHECK_STR(key_verdict_message(KEY_UNKNOWN), "incorrect API key");
	CHECK_STR(key_verdict_message(KEY_REVOKED), "API key revoked");
	CHECK_STR(key_verdict_message(KEY_EXPIRED), "API key expired");
	fixture_close(&f);
}

static void test_revoke_and_expire(void)
{
	struct fixture f;
	char key[KEY_STRING_MAX], key2[KEY_STRING_MAX];
	struct store_key rec, rec2, got;
	struct store *other = NULL;

	if (!fixture_open(&f, "revoke.db"))
		return;
	CHECK_OK(keys_create(f.st, &f.sec, "public", "bob", 0, NULL, now0, key, sizeof(key), &rec));
	CHECK_EQ_INT(check_key(&f, key, now0, NULL), KEY_OK);
	CHECK_OK(keys_revoke(f.st, rec.id, now0 + 5));
	CHECK_EQ_INT(check_key(&f, key, now0 + 5, &got), KEY_REVOKED);
	CHECK_EQ_INT(got.revoked, now0 + 5);
	CHECK_OK(keys_revoke(f.st, rec.id, now0 + 9)); /* twice: fine, first time kept */
	CHECK_EQ_INT(check_key(&f, key, now0, &got), KEY_REVOKED);
	CHECK_EQ_INT(got.revoked, now0 + 5);
	CHECK_EQ_INT(keys_revoke(f.st, "nosuchkeyid00000", now0), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(keys_revoke(f.st, "", now0), AJAR_ERR_NOT_FOUND);

	/* Revoked through a second handle on the same file (the CLI beside
	 * the server): the next check on the first handle sees it. */
	CHECK_OK(keys_create(f.st, &f.sec, "public", "carol", 0, NULL, now0, key2, sizeof(key2), &rec2));
	CHECK_EQ_INT(check_key(&f, key2, now0, NULL), KEY_OK);
	CHECK_OK(store_open(f.uri, &other));
	if (other) {
		CHECK_OK(keys_revoke(other, rec2.id, now0 + 1));
		CHECK_EQ_INT(check_key(&f, key2, now0 + 1, NULL), KEY_REVOKED);
		store_close(other);
	}

	/* Expiry: in force at exactly `expires`. */
	CHECK_OK(keys_create(f.st, &f.sec, "public", "dan", now0 + 100, NULL, now0, key, sizeof(key), &rec));
	CHECK_EQ_INT(rec.expires, now0 + 100);
	CHECK_EQ_INT(check_key(&f, key, now0, NULL), KEY_OK);
	CHECK_EQ_INT(check_key(&f, key, now0 + 99, NULL), KEY_OK);
	CHECK_EQ_INT(check_key(&f, key, now0 + 100, NULL), KEY_EXPIRED);
	CHECK_EQ_INT(check_key(&f, key, now0 + 1000, NULL), KEY_EXPIRED);
	/* A revoked key says revoked, expired or not. */
	CHECK_OK(keys_revoke(f.st, rec.id, now0 + 200));
	CHECK_EQ_INT(check_key(&f, key, now0 + 1000, NULL), KEY_REVOKED);
	fixture_close(&f);
}

static void test_rotate(void)
{
	struct fixture f;
	char key[KEY_STRING_MAX], fresh[KEY_STRING_MAX], again[KEY_STRING_MAX];
	struct store_key rec, rotated;

	if (!fixture_open(&f, "rotate.db"))
		return;
	CHECK_OK(keys_create(f.st, &f.sec, "partner", "erin@example.com", now0 + 5000, "req_abc", now0, key,
			     sizeof(key), &rec));
	CHECK_OK(keys_rotate(f.st, &f.sec, rec.id, now0 + 10, fresh, sizeof(fresh), &rotated));
	CHECK(strcmp(rotated.id, rec.id) != 0);
	CHECK_STR(rotated.tier, "partner");
	CHECK_STR(rotated.owner, "erin@example.com");
	CHECK_STR(rotated.access_id, "req_abc");
	CHECK_EQ_INT(rotated.expires, now0 + 5000);
	CHECK_EQ_INT(rotated.created, now0 + 10);
	CHECK_EQ_INT(check_key(&f, key, now0 + 10, NULL), KEY_REVOKED);
	struct store_key got;
	CHECK_EQ_INT(check_key(&f, fresh, now0 + 10, &got), KEY_OK);
	CHECK_STR(got.tier, "partner");

	/* The revoked one cannot be rotated again; unknown ids are NOT_FOUND. */
	CHECK_EQ_INT(keys_rotate(f.st, &f.sec, rec.id, now0 + 20, again, sizeof(again), NULL), AJAR_ERR_INVALID);
	CHECK_STR(again, "");
	CHECK_EQ_INT(keys_rotate(f.st, &f.sec, "nosuchkeyid00000", now0, again, sizeof(again), NULL),
		     AJAR_ERR_NOT_FOUND);
	/* The replacement rotates on. */
	CHECK_OK(keys_rotate(f.st, &f.sec, rotated.id, now0 + 30, again, sizeof(again), NULL));
	CHECK_EQ_INT(check_key(&f, fresh, now0 + 30, NULL), KEY_REVOKED);
	CHECK_EQ_INT(check_key(&f, again, now0 + 30, NULL), KEY_OK);
	fixture_close(&f);
}

/* True if needle (n bytes) occurs in hay. */
static bool contains(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* Neither the secret text nor its bytes in any file of the store (the
 * database, its WAL and shared memory, DB.pub, DB.secret). */
static void check_no_secret(const char *db, const char *key)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".pub", ".secret"};
	uint8_t raw[32];
	size_t raw_len = 0;
	char path[600];

	CHECK(sodium_base642bin(raw, sizeof(raw), key + 22, 43, NULL, &raw_len, NULL,
				sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t len;
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		uint8_t *bytes = read_all(path, &len);
		if (!bytes)
			continue;
		CHECK_MSG(!contains(bytes, len, key + 22, 43), "%s holds the key's secret text", path);
		CHECK_MSG(!contains(bytes, len, key + 22, 16), "%s holds part of the key's secret text", path);
		CHECK_MSG(!contains(bytes, len, raw, sizeof(raw)), "%s holds the key's secret bytes", path);
		free(bytes);
	}
}

static void test_store_holds_no_secret(void)
{
	struct fixture f;
	char keys[8][KEY_STRING_MAX];
	struct store_key rec;

	if (!fixture_open(&f, "nosecret.db"))
		return;
	for (int i = 0; i < 8; i++)
		CHECK_OK(keys_create(f.st, &f.sec, "public", "x", 0, NULL, now0, keys[i], sizeof(keys[i]), &rec));
	CHECK_OK(keys_rotate(f.st, &f.sec, rec.id, now0, keys[7], sizeof(keys[7]), NULL));
	/* While open (the rows may sit in the WAL) and after closing. */
	for (int i = 0; i < 8; i++)
		check_no_secret(f.db, keys[i]);
	store_close(f.st);
	for (int i = 0; i < 8; i++)
		check_no_secret(f.db, keys[i]);
	CHECK_OK(store_open(f.uri, &f.st));
	if (f.st)
		CHECK_EQ_INT(check_key(&f, keys[0], now0, NULL), KEY_OK);
	fixture_close(&f);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Mean cost of keys_check on an existing key, reported, not asserted
 * beyond a generous bound (it runs on every request). */
static void test_check_cost(void)
{
	struct fixture f;
	char key[KEY_STRING_MAX];
	struct store_key rec;
	enum key_verdict v = KEY_MALFORMED;
	int ok = 0;

	if (!fixture_open(&f, "cost.db"))
		return;
	for (int i = 0; i < 50; i++) /* a table with some rows, not one */
		CHECK_OK(keys_create(f.st, &f.sec, "public", NULL, 0, NULL, now0, key, sizeof(key), &rec));
	double t0 = now_seconds();
	for (int i = 0; i < 1000; i++) {
		CHECK_OK(keys_check(f.st, &f.sec, key, now0, &v, &rec));
		ok += v == KEY_OK;
	}
	double mean_us = (now_seconds() - t0) / 1000 * 1e6;
	CHECK_EQ_INT(ok, 1000);
	printf("keys_check: %.2f us per call (mean of 1000)\n", mean_us);
	CHECK(mean_us < 5000);
	fixture_close(&f);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ajar-test-keys-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_secrets_files);
	RUN(test_secrets_tampered);
	RUN(test_create_and_check);
	RUN(test_malformed);
	RUN(test_revoke_and_expire);
	RUN(test_rotate);
	RUN(test_store_holds_no_secret);
	RUN(test_check_cost);
	if (rmdir(tmp_dir) != 0)
		fprintf(stderr, "leftover files in %s\n", tmp_dir);
	return check_summary();
}
