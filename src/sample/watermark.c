/*
 * watermark.c - the green-list soft watermark (watermark.h): the keyed
 * green-list test, the logits processor, the detector and the key file.
 *
 * Layout: the integer mixer and the two seed functions (left-hash: keyed
 * BLAKE2b of the context; self-hash: min of keyed per-token hashes times the
 * candidate's) first, then the processor (whose apply() is the hot loop: one
 * hash per step, then O(vocab) multiplies and compares, no allocation), then
 * the detector (a hash set of distinct (context, token) pairs), then the key
 * file (hex, 0600, created atomically like the server's own secrets).
 *
 * The green test for candidate v under seed s is
 *
 *     mix64(s ^ v * WM_MUL) < threshold,   threshold = floor(gamma * 2^64)
 *
 * where mix64 is the splitmix64 finalizer (a bijection of 64-bit words with
 * full avalanche), so for a fixed seed each token is green independently
 * with probability gamma, and nobody without the key can tell which.
 */
#include "ajar/watermark.h"
#include "core/small_file.h"
#include "sample/watermark_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WM_MUL WATERMARK_MUL
#define mix64 watermark_mix64

/* Domain-separation string for the self-hash per-token key k, so that k is
 * unrelated to any left-hash seed made with the same key. */
static const char SELF_KEY_LABEL[] = "ajar watermark self-hash key v1";

/* A key file is 64 hex digits and a newline; anything larger is not ours. */
#define KEY_FILE_MAX 256

struct watermark {
	struct watermark_params p;  /* copied at new */
	int32_t n_vocab;
	uint64_t threshold;         /* floor(gamma * 2^64): green below it */
	float delta;
	uint64_t self_k;            /* self-hash: the per-token key k */
	uint64_t *self_f;           /* self-hash: f(v) = mix64(v ^ k), n_vocab entries (owned); else NULL */
	bool avx512;                /* use watermark_avx512.c's loops */
};

static uint64_t load_le64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

/* gamma in (0, 1) as a 64-bit cut-off; 2^64 itself is not representable,
 * so gamma is clamped just below 1 by the caller's range check. */
static uint64_t gamma_threshold(double gamma)
{
	double t = ldexp(gamma, 64);
	if (t >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)t;
}

static enum ajar_err check_params(const struct watermark_params *p)
{
	if (!(p->gamma > 0 && p->gamma < 1))
		return ajar_errf(AJAR_ERR_INVALID, "watermark gamma %g is not in (0, 1)", p->gamma);
	if (!(p->delta >= 0 && isfinite(p->delta)))
		return ajar_errf(AJAR_ERR_INVALID, "watermark delta %g is not a finite number >= 0", p->delta);
	if (p->context < 1 || p->context > WATERMARK_MAX_CONTEXT)
		return ajar_errf(AJAR_ERR_INVALID, "watermark context %d is not in 1..%d", p->context,
				 WATERMARK_MAX_CONTEXT);
	if (p->hash != WATERMARK_LEFT_HASH && p->hash != WATERMARK_SELF_HASH)
		return ajar_errf(AJAR_ERR_INVALID, "watermark hash %d is neither left-hash (0) nor self-hash (1)",
				 (int)p->hash);
	return AJAR_OK;
}

/* Left-hash seed: the first 8 bytes (little-endian) of keyed BLAKE2b-256 over
 * the h context tokens as little-endian int32, oldest first. */
static uint64_t left_seed(const uint8_t key[WATERMARK_KEY_BYTES], const int32_t *ctx, int h)
{
	uint8_t msg[4 * WATERMARK_MAX_CONTEXT], out[crypto_generichash_BYTES];
	for (int i = 0; i < h; i++) {
		uint32_t t = (uint32_t)ctx[i];
		msg[4 * i + 0] = (uint8_t)t;
		msg[4 * i + 1] = (uint8_t)(t >> 8);
		msg[4 * i + 2] = (uint8_t)(t >> 16);
		msg[4 * i + 3] = (uint8_t)(t >> 24);
	}
	crypto_generichash(out, sizeof(out), msg, (size_t)(4 * h), key, WATERMARK_KEY_BYTES);
	return load_le64(out);
}

/* The self-hash per-token key k: keyed BLAKE2b of a fixed label. */
static uint64_t self_key(const uint8_t key[WATERMARK_KEY_BYTES])
{
	uint8_t out[crypto_generichash_BYTES];
	crypto_generichash(out, sizeof(out), (const unsigned char *)SELF_KEY_LABEL, sizeof(SELF_KEY_LABEL) - 1, key,
			   WATERMARK_KEY_BYTES);
	return load_le64(out);
}

static inline uint64_t self_f(uint64_t k, int32_t t)
{
	return mix64((uint64_t)(uint32_t)t ^ k);
}

/* min of f over the context: the part of the self-hash seed shared by all
 * candidates of a step. */
static uint64_t self_ctx_min(uint64_t k, const int32_t *ctx, int h)
{
	uint64_t m = UINT64_MAX;
	for (int i = 0; i < h; i++) {
		uint64_t f = self_f(k, ctx[i]);
		m = f < m ? f : m;
	}
	return m;
}

static inline bool green_left(uint64_t seed, uint64_t threshold, int32_t v)
{
	return mix64(seed ^ ((uint64_t)(uint32_t)v * WM_MUL)) < threshold;
}

static inline bool green_self(uint64_t ctx_min, uint64_t fv, uint64_t threshold, int32_t v)
{
	uint64_t m = fv < ctx_min ? fv : ctx_min;
	return mix64((m * fv) ^ ((uint64_t)(uint32_t)v * WM_MUL)) < threshold;
}

struct watermark_params watermark_params_default(void)
{
	struct watermark_params p;
	memset(&p, 0, sizeof(p));
	p.gamma = 0.25;
	p.delta = 2.0;
	p.context = 1;
	p.hash = WATERMARK_LEFT_HASH;
	return p;
}

/* A number with at least one decimal ("2.0", "0.25"), so ids read alike. */
static void format_number(double x, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%.6g", x);
	if (n > 0 && (size_t)n + 2 < cap && !strpbrk(buf, ".eEn"))
		memcpy(buf + n, ".0", 3);
}

const char *watermark_scheme_id(const struct watermark_params *p, char *buf, size_t cap)
{
	char g[32], d[32];
	if (cap == 0)
		return buf;
	format_number(p->gamma, g, sizeof(g));
	format_number(p->delta, d, sizeof(d));
	int n = snprintf(buf, cap, "kgw-%s-h%d-g%s-d%s", p->hash == WATERMARK_SELF_HASH ? "selfhash" : "lefthash",
			 p->context, g, d);
	if (n < 0)
		buf[0] = '\0';
	return buf;
}

bool watermark_is_green(const struct watermark_params *p, const int32_t *ctx, int32_t token)
{
	uint64_t threshold = gamma_threshold(p->gamma);
	int h = p->context < 1 ? 1 : p->context > WATERMARK_MAX_CONTEXT ? WATERMARK_MAX_CONTEXT : p->context;
	if (p->hash == WATERMARK_SELF_HASH) {
		uint64_t k = self_key(p->key);
		return green_self(self_ctx_min(k, ctx, h), self_f(k, token), threshold, token);
	}
	return green_left(left_seed(p->key, ctx, h), threshold, token);
}

/* ---- the processor ---- */

/* Scalar reference of the left-hash step: what apply() must do. Branch-free
 * (a select, not a jump), so it pipelines; the cost is three 64-bit
 * multiplies per token, which the AVX-512 level does eight at a time. */
void watermark_apply_left_scalar(float *logits, int32_t begin, int32_t end, uint64_t seed, uint64_t thr,
				 float delta)
{
	for (int32_t v = begin; v < end; v++)
		logits[v] += mix64(seed ^ ((uint64_t)(uint32_t)v * WM_MUL)) < thr ? delta : 0.0f;
}

void watermark_apply_self_scalar(float *logits, int32_t begin, int32_t end, const uint64_t *f, uint64_t ctx_min,
				 uint64_t thr, float delta)
{
	for (int32_t v = begin; v < end; v++) {
		uint64_t fv = f[v];
		uint64_t m = fv < ctx_min ? fv : ctx_min;
		logits[v] += mix64((m * fv) ^ ((uint64_t)(uint32_t)v * WM_MUL)) < thr ? delta : 0.0f;
	}
}

bool watermark_have_avx512(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	const char *env = getenv("AJAR_CPU");
	if (env && (strcmp(env, "scalar") == 0 || strcmp(env, "avx2") == 0))
		return false;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512vl");
#else
	return false;
#endif
}

static void apply_left(const struct watermark *w, float *logits, int32_t n, uint64_t seed)
{
	if (w->avx512)
		watermark_apply_left_avx512(logits, n, seed, w->threshold, w->delta);
	else
		watermark_apply_left_scalar(logits, 0, n, seed, w->threshold, w->delta);
}

static void apply_self(const struct watermark *w, float *logits, int32_t n, uint64_t ctx_min)
{
	if (w->avx512)
		watermark_apply_self_avx512(logits, n, w->self_f, ctx_min, w->threshold, w->delta);
	else
		watermark_apply_self_scalar(logits, 0, n, w->self_f, ctx_min, w->threshold, w->delta);
}

static void wm_apply(void *state, float *logits, int32_t n_vocab, const int32_t *history, size_t n_history)
{
	const struct watermark *w = state;
	int h = w->p.context;
	if (n_history < (size_t)h || w->delta == 0)
		return;
	const int32_t *ctx = history + n_history - h;
	int32_t n = n_vocab < w->n_vocab ? n_vocab : w->n_vocab;
	if (w->p.hash == WATERMARK_SELF_HASH)
		apply_self(w, logits, n, self_ctx_min(w->self_k, ctx, h));
	else
		apply_left(w, logits, n, left_seed(w->p.key, ctx, h));
}

/* The green list depends only on history, which apply() is given whole. */
static void wm_accept(void *state, int32_t token)
{
	(void)state;
	(void)token;
}

enum ajar_err watermark_new(const struct watermark_params *p, int32_t n_vocab, struct watermark **out)
{
	enum ajar_err err;
	*out = NULL;
	if ((err = check_params(p)))
		return err;
	if (n_vocab <= 0)
		return ajar_errf(AJAR_ERR_INVALID, "watermark: vocabulary of %d tokens", n_vocab);
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_IO, "libsodium failed to initialize");
	struct watermark *w = calloc(1, sizeof(*w));
	if (!w)
		return ajar_errf(AJAR_ERR_NOMEM, "watermark state");
	w->p = *p;
	w->n_vocab = n_vocab;
	w->threshold = gamma_threshold(p->gamma);
	w->delta = (float)p->delta;
	w->avx512 = watermark_have_avx512();
	if (p->hash == WATERMARK_SELF_HASH) {
		w->self_k = self_key(p->key);
		w->self_f = malloc((size_t)n_vocab * sizeof(*w->self_f));
		if (!w->self_f) {
			watermark_free(w);
			return ajar_errf(AJAR_ERR_NOMEM, "watermark self-hash table of %d tokens", n_vocab);
		}
		for (int32_t v = 0; v < n_vocab; v++)
			w->self_f[v] = self_f(w->self_k, v);
	}
	*out = w;
	return AJAR_OK;
}

void watermark_free(struct watermark *w)
{
	if (!w)
		return;
	free(w->self_f);
	sodium_memzero(w, sizeof(*w)); /* the key lives in w->p */
	free(w);
}

struct logits_proc watermark_proc(struct watermark *w)
{
	struct logits_proc lp = { .state = w, .apply = wm_apply, .accept = wm_accept };
	return lp;
}

/* ---- detection ---- */

/* Distinct (context, token) pairs: open addressing over positions, each slot
 * holding the position i of the first occurrence of tokens[i-h..i]. The
 * bucket hash is salted with a key-derived word so that text chosen to
 * collide (the detector is a public endpoint) cannot make it quadratic. */
struct pair_set {
	size_t *slot;  /* SIZE_MAX = empty; mask + 1 entries (owned) */
	size_t mask;
	uint64_t salt;
};

static uint64_t pair_hash(const struct pair_set *s, const int32_t *t, int len)
{
	uint64_t x = s->salt;
	for (int i = 0; i < len; i++)
		x = mix64(x ^ ((uint64_t)(uint32_t)t[i] * WM_MUL));
	return x;
}

/* True if tokens[i-h..i] was not seen before (and now is). */
static bool pair_insert(struct pair_set *s, const int32_t *tokens, size_t i, int h)
{
	const int32_t *pair = tokens + i - (size_t)h;
	size_t bytes = (size_t)(h + 1) * sizeof(*tokens);
	size_t b = (size_t)pair_hash(s, pair, h + 1) & s->mask;
	while (s->slot[b] != SIZE_MAX) {
		if (memcmp(tokens + s->slot[b] - (size_t)h, pair, bytes) == 0)
			return false;
		b = (b + 1) & s->mask;
	}
	s->slot[b] = i;
	return true;
}

static void score_finish(const struct watermark_params *p, double z_threshold, struct watermark_score *out)
{
	double t = (double)out->tokens_scored;
	if (out->tokens_scored == 0) {
		out->p_value = 1.0;
		return;
	}
	out->green_fraction = (double)out->green / t;
	out->z_score = ((double)out->green - p->gamma * t) / sqrt(t * p->gamma * (1 - p->gamma));
	out->p_value = 0.5 * erfc(out->z_score / sqrt(2.0));
	out->detected = out->z_score >= z_threshold;
}

enum ajar_err watermark_detect(const struct watermark_params *p, const int32_t *tokens, size_t n, double z_threshold,
			       struct watermark_score *out)
{
	enum ajar_err err;
	memset(out, 0, sizeof(*out));
	out->p_value = 1.0;
	if ((err = check_params(p)))
		return err;
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_IO, "libsodium failed to initialize");
	size_t h = (size_t)p->context;
	if (n <= h) {
		score_finish(p, z_threshold, out);
		return AJAR_OK;
	}
	/* At most half full: probes stay short. */
	size_t cap = 16;
	while (cap < 2 * (n - h)) {
		if (cap > SIZE_MAX / 4 / sizeof(size_t))
			return ajar_errf(AJAR_ERR_LIMIT, "watermark detect: %zu tokens", n);
		cap *= 2;
	}
	struct pair_set set = { .slot = malloc(cap * sizeof(size_t)), .mask = cap - 1 };
	if (!set.slot)
		return ajar_errf(AJAR_ERR_NOMEM, "watermark detect: a set of %zu pairs", cap);
	memset(set.slot, 0xFF, cap * sizeof(size_t));
	uint64_t threshold = gamma_threshold(p->gamma);
	uint64_t k = self_key(p->key);
	set.salt = mix64(k ^ WM_MUL);
	for (size_t i = h; i < n; i++) {
		if (!pair_insert(&set, tokens, i, (int)h))
			continue;
		const int32_t *ctx = tokens + i - h;
		bool g = p->hash == WATERMARK_SELF_HASH
				 ? green_self(self_ctx_min(k, ctx, (int)h), self_f(k, tokens[i]), threshold, tokens[i])
				 : green_left(left_seed(p->key, ctx, (int)h), threshold, tokens[i]);
		out->tokens_scored++;
		out->green += g;
	}
	free(set.slot);
	score_finish(p, z_threshold, out);
	return AJAR_OK;
}

/* ---- the key file ---- */

static enum ajar_err parse_key(const char *path, const char *text, size_t len, uint8_t key[WATERMARK_KEY_BYTES])
{
	size_t got = 0;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len != 2 * WATERMARK_KEY_BYTES ||
	    sodium_hex2bin(key, WATERMARK_KEY_BYTES, text, len, NULL, &got, NULL) != 0 || got != WATERMARK_KEY_BYTES)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: a watermark key file must hold %d hex digits and a newline",
				 path, 2 * WATERMARK_KEY_BYTES);
	return AJAR_OK;
}

/*
 * Makes path with a fresh key unless it exists. link(), unlike rename(),
 * fails when the name exists, so of two processes creating the key at once
 * (the server and a CLI command) one wins and the other reads its file.
 */
static enum ajar_err create_key_file(const char *path)
{
	uint8_t key[WATERMARK_KEY_BYTES];
	char text[2 * WATERMARK_KEY_BYTES + 2];

	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(text, sizeof(text), key, sizeof(key));
	text[2 * WATERMARK_KEY_BYTES] = '\n';
	enum ajar_err err = small_file_write(path, text, sizeof(text) - 1, 0600, true, NULL);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	return err;
}

enum ajar_err watermark_key_load(const char *path, bool create, uint8_t key[WATERMARK_KEY_BYTES])
{
	char text[KEY_FILE_MAX];
	size_t len = 0;
	enum ajar_err err;

	if (!path || !*path)
		return ajar_errf(AJAR_ERR_INVALID, "watermark key file: no path");
	if (sodium_init() < 0)
		return ajar_errf(AJAR_ERR_IO, "libsodium failed to initialize");
	err = small_file_read(path, true, text, sizeof(text), &len);
	if (err == AJAR_ERR_NOT_FOUND && create) {
		if ((err = create_key_file(path)))
			return err;
		err = small_file_read(path, true, text, sizeof(text), &len);
	}
	if (!err)
		err = parse_key(path, text, len, key);
	sodium_memzero(text, sizeof(text));
	return err;
}
