/*
 * test_sampler.c - the sampling chain and its RNG.
 *
 * Every random test uses a fixed seed, so a statistical bound that passes
 * passes forever; the bounds are still set loosely (chi-square at p ~ 1e-3 or
 * 5 standard errors) so a legitimate change of stream does not trip them.
 * Reference twins (naive sort, naive softmax) live here, beside the checks.
 */
#include "ajar/sampler.h"

#include <assert.h>
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "sample/rng.h"

/* ---- helpers ---------------------------------------------------------- */

static struct sampler_params params_plain(void)
{
	/* temp 1, no truncation, no penalties. */
	struct sampler_params p = sampler_params_default();
	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	p.repeat_penalty = 1.0f;
	p.seed = 1234;
	return p;
}

static struct sampler *make(const struct sampler_params *p, int32_t n_vocab)
{
	struct sampler *s = NULL;
	CHECK_OK(sampler_new(p, n_vocab, &s));
	return s;
}

/* Samples from a copy, since sampler_sample penalises in place. */
static int32_t sample_copy(struct sampler *s, const float *logits, float *scratch, int32_t n,
			   const int32_t *hist, size_t n_hist)
{
	memcpy(scratch, logits, (size_t)n * sizeof(*logits));
	return sampler_sample(s, scratch, hist, n_hist);
}

/* Counts draws per token over n_draws. counts must hold n zeros. */
static void histogram(struct sampler *s, const float *logits, int32_t n, long n_draws, long *counts)
{
	float *scratch = malloc((size_t)n * sizeof(*scratch));
	for (long i = 0; i < n_draws; i++) {
		int32_t t = sample_copy(s, logits, scratch, n, NULL, 0);
		CHECK(t >= 0 && t < n);
		if (t >= 0 && t < n)
			counts[t]++;
	}
	free(scratch);
}

/* Naive softmax of logits/temp over the tokens where keep[i] (all if NULL). */
static void softmax_ref(const float *logits, int32_t n, double temp, const bool *keep, double *prob)
{
	double max = -INFINITY, sum = 0.0;
	for (int32_t i = 0; i < n; i++)
		if (!keep || keep[i])
			max = fmax(max, logits[i]);
	for (int32_t i = 0; i < n; i++) {
		prob[i] = (!keep || keep[i]) ? exp((logits[i] - max) / temp) : 0.0;
		sum += prob[i];
	}
	for (int32_t i = 0; i < n; i++)
		prob[i] /= sum;
}

/* Pearson chi-square of counts against prob over the tokens with prob > 0;
 * a token with prob 0 and a nonzero count fails outright. */
static double chi_square(const long *counts, const double *prob, int32_t n, long n_draws, int *dof)
{
	double chi = 0.0;
	*dof = -1;
	for (int32_t i = 0; i < n; i++) {
		if (prob[i] <= 0.0) {
			CHECK_MSG(counts[i] == 0, "token %d drawn %ld times with probability 0", (int)i, counts[i]);
			continue;
		}
		double e = prob[i] * (double)n_draws;
		chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
		(*dof)++;
	}
	return chi;
}

/* Logits drawn uniformly from [lo, hi) by an RNG independent of the sampler's. */
static void random_logits(float *logits, int32_t n, uint64_t seed, float lo, float hi)
{
	struct sample_rng r;
	sample_rng_seed(&r, seed);
	for (int32_t i = 0; i < n; i++)
		logits[i] = lo + (hi - lo) * (float)sample_rng_uniform(&r);
}

/* ---- RNG -------------------------------------------------------------- */

static void test_rng_known_answers(void)
{
	/* splitmix64 from 0: the published reference outputs. */
	uint64_t x = 0;
	CHECK(sample_splitmix64(&x) == UINT64_C(0xe220a8397b1dcdaf));
	CHECK(sample_splitmix64(&x) == UINT64_C(0x6e789e6aa1b965f4));
	CHECK(sample_splitmix64(&x) == UINT64_C(0x06c45d188009454f));
	CHECK(sample_splitmix64(&x) == UINT64_C(0xf88bb8a8724c81ec));

	/* xoshiro256** from state {1, 2, 3, 4}: the first outputs of the
	 * reference C code (11520 = rotl(2 * 5, 7) * 9 by hand). */
	struct sample_rng r = { { 1, 2, 3, 4 } };
	CHECK(sample_rng_next(&r) == UINT64_C(11520));
	CHECK(sample_rng_next(&r) == UINT64_C(0));
	CHECK(sample_rng_next(&r) == UINT64_C(1509978240));
	CHECK(sample_rng_next(&r) == UINT64_C(1215971899390074240));

	/* Seeded through splitmix64(42); the same values appear in another
	 * project's xoshiro256** tests and in a Python model of the algorithm. */
	sample_rng_seed(&r, 42);
	CHECK(r.s[0] == UINT64_C(0xbdd732262feb6e95));
	CHECK(r.s[3] == UINT64_C(0x581ce1ff0e4ae394));
	CHECK(sample_rng_next(&r) == UINT64_C(0x15780b2e0c2ec716));
	CHECK(sample_rng_next(&r) == UINT64_C(0x6104d9866d113a7e));
	CHECK(sample_rng_next(&r) == UINT64_C(0xae17533239e499a1));
	CHECK(sample_rng_next(&r) == UINT64_C(0xecb8ad4703b360a1));
}

static void test_rng_uniform(void)
{
	struct sample_rng r;
	sample_rng_seed(&r, 7);
	double sum = 0.0, lo = 1.0, hi = 0.0;
	const int n = 1000000;
	for (int i = 0; i < n; i++) {
		double u = sample_rng_uniform(&r);
		CHECK(u >= 0.0 && u < 1.0);
		sum += u;
		lo = fmin(lo, u);
		hi = fmax(hi, u);
	}
	/* Mean of U(0,1): standard error sqrt(1/12/n) ~ 2.9e-4. */
	CHECK_NEAR(sum / n, 0.5, 5 * 2.9e-4);
	CHECK(lo < 1e-5 && hi > 1.0 - 1e-5);
}

/* ---- params ----------------------------------------------------------- */

static void test_defaults(void)
{
	struct sampler_params p = sampler_params_default();
	CHECK(p.temp == 0.8f);
	CHECK_EQ_INT(p.top_k, 40);
	CHECK(p.top_p == 0.95f);
	CHECK(p.min_p == 0.05f);
	CHECK(p.repeat_penalty == 1.0f);
	CHECK_EQ_INT(p.repeat_last_n, 64);
	CHECK(p.freq_penalty == 0.0f);
	CHECK(p.presence_penalty == 0.0f);
	CHECK(p.seed == 0xFFFFFFFFu);

	struct sampler *s = make(&p, 32000);
	sampler_free(s);
	sampler_free(NULL);
}

static void expect_invalid(const struct sampler_params *p, int32_t n_vocab, const char *field)
{
	struct sampler *s = (struct sampler *)&s; /* poison: must come back NULL */
	enum ajar_err err = sampler_new(p, n_vocab, &s);
	CHECK_MSG(err == AJAR_ERR_INVALID, "%s: got %d", field, (int)err);
	CHECK_MSG(s == NULL, "%s: *out not cleared", field);
	CHECK_MSG(strstr(ajar_err_msg(), field) != NULL, "message \"%s\" lacks \"%s\"", ajar_err_msg(), field);
	if (err == AJAR_OK)
		sampler_free(s);
}

static void test_param_validation(void)
{
	const struct sampler_params d = sampler_params_default();
	struct sampler_params p;

	expect_invalid(&d, 0, "n_vocab");
	expect_invalid(&d, -5, "n_vocab");

#define BAD(field, value)                           \
	do {                                        \
		p = d;                              \
		p.field = (value);                  \
		expect_invalid(&p, 100, #field);    \
	} while (0)

	BAD(temp, NAN);
	BAD(temp, INFINITY);
	BAD(temp, -INFINITY);
	BAD(top_p, 0.0f);
	BAD(top_p, -0.5f);
	BAD(top_p, 1.5f);
	BAD(top_p, NAN);
	BAD(min_p, -0.01f);
	BAD(min_p, 1.01f);
	BAD(min_p, NAN);
	BAD(repeat_penalty, 0.0f);
	BAD(repeat_penalty, -1.1f);
	BAD(repeat_penalty, NAN);
	BAD(repeat_penalty, INFINITY);
	BAD(repeat_last_n, -2);
	BAD(freq_penalty, NAN);
	BAD(freq_penalty, INFINITY);
	BAD(presence_penalty, NAN);
	BAD(presence_penalty, -INFINITY);
#undef BAD

	/* Edges that are fine: negative temp (greedy), top_p 1, min_p 0 and 1,
	 * any top_k, repeat_last_n -1 and 0, negative frequency penalty. */
	p = d;
	p.temp = -1.0f;
	p.top_p = 1.0f;
	p.min_p = 1.0f;
	p.top_k = -3;
	p.repeat_last_n = -1;
	p.freq_penalty = -0.5f;
	struct sampler *s = make(&p, 1);
	float one = 3.0f;
	if (s)
		CHECK_EQ_INT(sampler_sample(s, &one, NULL, 0), 0);
	sampler_free(s);
	p.min_p = 0.0f;
	p.repeat_last_n = 0;
	p.top_k = 1000000;
	s = make(&p, 1);
	sampler_free(s);
}

/* ---- greedy and penalties --------------------------------------------- */

static void test_argmax(void)
{
	const float a[] = { 1.0f, 3.0f, -2.0f, 3.0f, 2.9f };
	CHECK_EQ_INT(sampler_argmax(a, 5), 1);
	const float b[] = { -INFINITY, -INFINITY, -INFINITY };
	CHECK_EQ_INT(sampler_argmax(b, 3), 0);
	const float c[] = { NAN, -INFINITY, NAN, -7.0f };
	CHECK_EQ_INT(sampler_argmax(c, 4), 3);
	const float d[] = { NAN, NAN };
	CHECK_EQ_INT(sampler_argmax(d, 2), 0);
	const float e[] = { NAN, -INFINITY, -INFINITY };
	CHECK_EQ_INT(sampler_argmax(e, 3), 1);
	const float f[] = { 5.0f, INFINITY, INFINITY };
	CHECK_EQ_INT(sampler_argmax(f, 3), 1);
}

static void test_greedy(void)
{
	struct sampler_params p = sampler_params_default();
	p.temp = 0.0f;
	struct sampler *s = make(&p, 5);
	if (!s)
		return;
	float l1[] = { 0.5f, 2.0f, 2.0f, -1.0f, 1.9f };
	CHECK_EQ_INT(sampler_sample(s, l1, NULL, 0), 1); /* tie 1 vs 2: lowest id */
	float l2[] = { 0.5f, 2.0f, 2.0f, -1.0f, 2.5f };
	CHECK_EQ_INT(sampler_sample(s, l2, NULL, 0), 4);
	sampler_free(s);

	/* Negative temp is greedy too, and consumes no randomness: the same
	 * answer whatever the seed. */
	p.temp = -0.7f;
	for (uint64_t seed = 0; seed < 20; seed++) {
		p.seed = seed;
		s = make(&p, 5);
		float l[] = { 0.5f, 2.0f, 2.0f, -1.0f, 1.9f };
		CHECK_EQ_INT(sampler_sample(s, l, NULL, 0), 1);
		sampler_free(s);
	}
}

static void test_greedy_with_penalty(void)
{
	struct sampler_params p = sampler_params_default();
	p.temp = 0.0f;
	p.repeat_penalty = 1.1f;
	struct sampler *s = make(&p, 4);
	if (!s)
		return;

	/* 2.0 / 1.1 = 1.818 drops below 1.9: token 1 wins once 0 was seen. */
	const float base[] = { 2.0f, 1.9f, 0.5f, -3.0f };
	float l[4];
	const int32_t h0[] = { 0 };
	CHECK_EQ_INT(sample_copy(s, base, l, 4, NULL, 0), 0);
	CHECK_EQ_INT(sample_copy(s, base, l, 4, h0, 1), 1);
	/* Both seen: 1.818 vs 1.727; 0 is back on top. */
	const int32_t h01[] = { 1, 0 };
	CHECK_EQ_INT(sample_copy(s, base, l, 4, h01, 2), 0);
	sampler_free(s);

	/* Outside the window the penalty does not apply. */
	p.repeat_last_n = 2;
	s = make(&p, 4);
	const int32_t h_old[] = { 0, 3, 2 };
	CHECK_EQ_INT(sample_copy(s, base, l, 4, h_old, 3), 0);
	const int32_t h_new[] = { 3, 2, 0 };
	CHECK_EQ_INT(sample_copy(s, base, l, 4, h_new, 3), 1);
	sampler_free(s);
}

/* Runs one greedy sample so the penalised logits can be read back. */
static void penalise(const struct sampler_params *base, int32_t last_n, const int32_t *hist, size_t n_hist,
		     float *logits, int32_t n)
{
	struct sampler_params p = *base;
	p.temp = 0.0f;
	p.repeat_last_n = last_n;
	struct sampler *s = make(&p, n);
	if (!s)
		return;
	(void)sampler_sample(s, logits, hist, n_hist);
	sampler_free(s);
}

static void test_penalty_math(void)
{
	/* Powers of two so every expected value below is exact. */
	struct sampler_params p = sampler_params_default();
	p.repeat_penalty = 2.0f;
	p.freq_penalty = 0.25f;
	p.presence_penalty = 0.5f;

	const float base[] = { 3.0f, -1.0f, 0.0f, 4.0f, -2.5f, 1.5f, 8.0f };
	/* Oldest first. Tokens 6 and 3 sit only before the last 9; -1 and 99
	 * are out of range and ignored. */
	const int32_t hist[] = { 6, 3, 0, 1, 1, 2, -1, 4, 0, 99, 0 };
	const size_t n_hist = sizeof(hist) / sizeof(hist[0]);
	float l[7];

	/* Window = last 9: counts 0:3 1:2 2:1 4:1. */
	memcpy(l, base, sizeof(l));
	penalise(&p, 9, hist, n_hist, l, 7);
	CHECK(l[0] == 3.0f / 2.0f - 3 * 0.25f - 0.5f);  /* 0.25: positive, divided */
	CHECK(l[0] == 0.25f);
	CHECK(l[1] == -1.0f * 2.0f - 2 * 0.25f - 0.5f); /* -3: negative, multiplied */
	CHECK(l[1] == -3.0f);
	CHECK(l[2] == 0.0f - 0.25f - 0.5f);             /* zero: multiplied, stays 0 */
	CHECK(l[3] == 4.0f);                            /* outside the window */
	CHECK(l[4] == -2.5f * 2.0f - 0.25f - 0.5f);
	CHECK(l[4] == -5.75f);
	CHECK(l[5] == 1.5f);                            /* never seen */
	CHECK(l[6] == 8.0f);

	/* Whole history: 6 and 3 come in, once each. */
	memcpy(l, base, sizeof(l));
	penalise(&p, -1, hist, n_hist, l, 7);
	CHECK(l[0] == 0.25f);
	CHECK(l[3] == 4.0f / 2.0f - 0.25f - 0.5f);
	CHECK(l[6] == 8.0f / 2.0f - 0.25f - 0.5f);
	CHECK(l[5] == 1.5f);

	/* A window longer than the history is the whole history. */
	float l2[7];
	memcpy(l2, base, sizeof(l2));
	penalise(&p, 1000, hist, n_hist, l2, 7);
	CHECK(memcmp(l, l2, sizeof(l)) == 0);

	/* repeat_last_n 0 turns every penalty off. */
	memcpy(l, base, sizeof(l));
	penalise(&p, 0, hist, n_hist, l, 7);
	CHECK(memcmp(l, base, sizeof(l)) == 0);

	/* Each penalty alone. */
	struct sampler_params q = p;
	q.freq_penalty = 0.0f;
	q.presence_penalty = 0.0f;
	memcpy(l, base, sizeof(l));
	penalise(&q, 9, hist, n_hist, l, 7);
	CHECK(l[0] == 1.5f && l[1] == -2.0f && l[2] == 0.0f && l[4] == -5.0f);

	q = p;
	q.repeat_penalty = 1.0f;
	q.presence_penalty = 0.0f;
	memcpy(l, base, sizeof(l));
	penalise(&q, 9, hist, n_hist, l, 7);
	CHECK(l[0] == 2.25f && l[1] == -1.5f && l[2] == -0.25f && l[4] == -2.75f && l[5] == 1.5f);

	q = p;
	q.repeat_penalty = 1.0f;
	q.freq_penalty = 0.0f;
	memcpy(l, base, sizeof(l));
	penalise(&q, 9, hist, n_hist, l, 7);
	CHECK(l[0] == 2.5f && l[1] == -1.5f && l[2] == -0.5f && l[4] == -3.0f && l[5] == 1.5f);

	/* A penalty below 1 rewards repeats, the same formula. */
	q = p;
	q.repeat_penalty = 0.5f;
	q.freq_penalty = 0.0f;
	q.presence_penalty = 0.0f;
	memcpy(l, base, sizeof(l));
	penalise(&q, 9, hist, n_hist, l, 7);
	CHECK(l[0] == 6.0f && l[1] == -0.5f);

	/* Penalties are applied in place even when sampling (temp > 0). */
	q = p;
	q.temp = 1.0f;
	q.repeat_last_n = 9;
	struct sampler *s = make(&q, 7);
	memcpy(l, base, sizeof(l));
	if (s)
		(void)sampler_sample(s, l, hist, n_hist);
	CHECK(l[0] == 0.25f && l[1] == -3.0f && l[3] == 4.0f);
	sampler_free(s);
}

/* ---- truncation ------------------------------------------------------- */

static void test_top_k1_is_greedy(void)
{
	enum { N = 3000 };
	static float base[N], l[N];
	const float temps[] = { 0.01f, 0.8f, 1.0f, 5.0f, 1000.0f };
	for (int ti = 0; ti < 5; ti++) {
		struct sampler_params p = params_plain();
		p.top_k = 1;
		p.temp = temps[ti];
		p.seed = 99 + (uint64_t)ti;
		struct sampler *s = make(&p, N);
		if (!s)
			return;
		for (int trial = 0; trial < 40; trial++) {
			random_logits(base, N, 1000 + (uint64_t)trial, -10.0f, 10.0f);
			if (trial % 4 == 1) /* a tie for the top: lowest id */
				base[2000] = base[77] = 11.0f;
			int32_t want = sampler_argmax(base, N);
			CHECK_EQ_INT(sample_copy(s, base, l, N, NULL, 0), want);
		}
		sampler_free(s);
	}
}

/* Draws with a flat temperature and reports which tokens ever came up. */
static void drawn_set(const struct sampler_params *p, const float *logits, int32_t n, long n_draws, bool *seen)
{
	long *counts = calloc((size_t)n, sizeof(*counts));
	struct sampler *s = make(p, n);
	if (s && counts)
		histogram(s, logits, n, n_draws, counts);
	for (int32_t i = 0; i < n; i++)
		seen[i] = counts && counts[i] > 0;
	sampler_free(s);
	free(counts);
}

static void test_top_k_set(void)
{
	/* Logits on a coarse grid so there are many ties; the kept set must be
	 * the best k in (logit desc, id asc) order. A huge temperature makes the
	 * kept tokens nearly equiprobable, so each of them shows up. */
	enum { N = 1000, K = 40 };
	static float l[N];
	static bool seen[N];
	random_logits(l, N, 5, 0.0f, 1.0f);
	for (int32_t i = 0; i < N; i++)
		l[i] = floorf(l[i] * 50.0f); /* 50 levels */

	/* Reference: the K best by a quadratic scan. */
	static bool want[N];
	memset(want, 0, sizeof(want));
	for (int k = 0; k < K; k++) {
		int32_t best = -1;
		for (int32_t i = 0; i < N; i++)
			if (!want[i] && (best < 0 || l[i] > l[best]))
				best = i;
		want[best] = true;
	}

	struct sampler_params p = params_plain();
	p.top_k = K;
	p.temp = 1e6f;
	drawn_set(&p, l, N, 20000, seen);
	int mismatches = 0;
	for (int32_t i = 0; i < N; i++)
		mismatches += seen[i] != want[i];
	CHECK_EQ_INT(mismatches, 0);
}

/* Probabilities 1/2, 1/4, 1/8, ... (as logits ln p) placed at scattered ids. */
static void geometric_logits(float *l, int32_t n, const int32_t *ids, int n_ids)
{
	for (int32_t i = 0; i < n; i++)
		l[i] = -INFINITY;
	for (int r = 0; r < n_ids; r++)
		l[ids[r]] = (float)(-(r + 1) * log(2.0));
}

static void test_top_p(void)
{
	enum { N = 16 };
	/* rank r (prob 2^-(r+1)) lives at ids[r]. */
	const int32_t ids[] = { 9, 3, 14, 0, 7, 12, 1, 5, 11, 2 };
	float l[N];
	bool seen[N];
	geometric_logits(l, N, ids, 10);
	/* The -inf ids get finite low logits so they are candidates too. */
	for (int32_t i = 0; i < N; i++)
		if (l[i] == -INFINITY)
			l[i] = -12.0f;

	/* Cumulative mass: 0.5, 0.75, 0.875, 0.9375, ... */
	const struct { float top_p; int keep; } cases[] = {
		{ 0.3f, 1 }, { 0.6f, 2 }, { 0.8f, 3 }, { 0.9f, 4 }, { 0.95f, 5 },
	};
	for (int c = 0; c < 5; c++) {
		for (int flat = 0; flat < 2; flat++) {
			struct sampler_params p = params_plain();
			p.top_p = cases[c].top_p;
			/* A high temperature flattens the draw but not the nucleus,
			 * which is judged at temperature 1. */
			p.temp = flat ? 50.0f : 1.0f;
			p.seed = 7 + (uint64_t)c;
			drawn_set(&p, l, N, 20000, seen);
			for (int32_t i = 0; i < N; i++) {
				bool in = false;
				for (int r = 0; r < cases[c].keep; r++)
					in |= ids[r] == i;
				CHECK_MSG(seen[i] == in, "top_p %g temp %g: token %d seen %d, in nucleus %d",
					  (double)p.top_p, (double)p.temp, (int)i, seen[i], in);
			}
		}
	}

	/* With top-k too: top_k 3 then top_p 0.8 of the renormalised three
	 * (4/7, 2/7, 1/7: cumulative 0.571, 0.857) keeps two. */
	struct sampler_params p = params_plain();
	p.top_k = 3;
	p.top_p = 0.8f;
	p.temp = 50.0f;
	drawn_set(&p, l, N, 20000, seen);
	int n_seen = 0;
	for (int32_t i = 0; i < N; i++)
		n_seen += seen[i];
	CHECK_EQ_INT(n_seen, 2);
	CHECK(seen[ids[0]] && seen[ids[1]]);
	/* -0 and +0 are the same logit: a tie, broken by id. */
	const float zeros[4] = { -0.0f, 0.0f, 0.0f, -0.0f };
	p = params_plain();
	p.top_p = 0.3f; /* 0.25 + 0.25: the two lowest ids */
	drawn_set(&p, zeros, 4, 2000, seen);
	CHECK(seen[0] && seen[1] && !seen[2] && !seen[3]);
}

static void test_min_p(void)
{
	enum { N = 6 };
	/* p relative to the max: 1, 0.5, 0.2, 0.12, 0.09, 0.01. */
	const double ratio[N] = { 0.12, 0.5, 0.01, 1.0, 0.09, 0.2 };
	float l[N];
	bool seen[N];
	for (int32_t i = 0; i < N; i++)
		l[i] = (float)log(ratio[i]) + 3.0f;

	const float min_ps[] = { 0.1f, 0.3f, 0.6f, 1.0f, 0.005f };
	for (int c = 0; c < 5; c++) {
		struct sampler_params p = params_plain();
		p.min_p = min_ps[c];
		p.temp = 20.0f; /* flatten so every kept token shows up */
		drawn_set(&p, l, N, 20000, seen);
		for (int32_t i = 0; i < N; i++)
			CHECK_MSG(seen[i] == (ratio[i] >= (double)min_ps[c]), "min_p %g token %d",
				  (double)min_ps[c], (int)i);
	}

	/* After top-k and top-p, min-p is relative to the same max. */
	struct sampler_params p = params_plain();
	p.top_k = 4;     /* 1, 0.5, 0.2, 0.12 */
	p.top_p = 0.99f; /* all four (0.12 / 1.82 = 6.6% of the mass) */
	p.min_p = 0.15f; /* drops 0.12 */
	p.temp = 20.0f;
	drawn_set(&p, l, N, 20000, seen);
	CHECK(seen[3] && seen[1] && seen[5] && !seen[0] && !seen[2] && !seen[4]);
}

/* ---- determinism and distribution ------------------------------------ */

static void run_sequence(uint64_t seed, int32_t *out, int n)
{
	enum { V = 5000 };
	static float base[V], l[V];
	static int32_t hist[2000];
	struct sampler_params p = sampler_params_default();
	p.seed = seed;
	p.repeat_penalty = 1.1f;
	p.presence_penalty = 0.1f;
	p.top_k = 200;
	struct sampler *s = make(&p, V);
	random_logits(base, V, 31337, -4.0f, 4.0f);
	size_t n_hist = 0;
	for (int i = 0; i < n; i++) {
		out[i] = s ? sample_copy(s, base, l, V, hist, n_hist) : -1;
		if (n_hist < sizeof(hist) / sizeof(hist[0]))
			hist[n_hist++] = out[i];
	}
	sampler_free(s);
}

static void test_determinism(void)
{
	enum { N = 1000 };
	static int32_t a[N], b[N], c[N];
	run_sequence(42, a, N);
	run_sequence(42, b, N);
	run_sequence(43, c, N);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	int differ = 0;
	for (int i = 0; i < N; i++)
		differ += a[i] != c[i];
	CHECK_MSG(differ > N / 2, "seeds 42 and 43 agree on %d of %d draws", N - differ, N);
}

static void check_distribution(const struct sampler_params *p, const float *l, int32_t n, const bool *keep,
			       long n_draws, double chi_limit)
{
	long counts[64] = { 0 };
	double prob[64];
	assert(n <= 64);
	struct sampler *s = make(p, n);
	if (!s)
		return;
	histogram(s, l, n, n_draws, counts);
	sampler_free(s);
	softmax_ref(l, n, p->temp, keep, prob);

	int dof;
	double chi = chi_square(counts, prob, n, n_draws, &dof);
	CHECK_MSG(chi < chi_limit, "chi-square %.2f with %d dof (limit %.2f)", chi, dof, chi_limit);
	for (int32_t i = 0; i < n; i++) {
		double e = prob[i] * (double)n_draws;
		double se = sqrt(n_draws * prob[i] * (1.0 - prob[i]));
		CHECK_MSG(fabs((double)counts[i] - e) <= 5.0 * se + 1e-9, "token %d: %ld draws, expected %.1f +- %.1f",
			  (int)i, counts[i], e, se);
	}
}

static void test_distribution(void)
{
	/* 8 tokens, no truncation. Chi-square critical values at p = 0.001:
	 * 7 dof 24.32, 3 dof 16.27, 2 dof 13.82. */
	const float l[8] = { 1.0f, -0.5f, 2.0f, 0.3f, 0.0f, -2.0f, 1.7f, 0.9f };
	struct sampler_params p = params_plain();
	p.seed = 2024;
	check_distribution(&p, l, 8, NULL, 200000, 24.32);

	p.temp = 0.5f; /* sharper */
	p.seed = 2025;
	check_distribution(&p, l, 8, NULL, 200000, 24.32);

	p.temp = 2.5f; /* flatter */
	p.seed = 2026;
	check_distribution(&p, l, 8, NULL, 200000, 24.32);

	/* top-k 3 renormalises over tokens 2, 6, 0. */
	const bool top3[8] = { true, false, true, false, false, false, true, false };
	p = params_plain();
	p.top_k = 3;
	p.seed = 2027;
	check_distribution(&p, l, 8, top3, 200000, 13.82);

	/* min-p 0.3: keeps logit >= 2 + ln 0.3 = 0.796, i.e. 0, 2, 6, 7; at
	 * temperature 0.7 over those. */
	const bool minp[8] = { true, false, true, false, false, false, true, true };
	p = params_plain();
	p.min_p = 0.3f;
	p.temp = 0.7f;
	p.seed = 2028;
	check_distribution(&p, l, 8, minp, 200000, 16.27);
}

/* Large vocabulary: every draw lies in the nucleus computed naively. */
struct ref_entry {
	float logit;
	int32_t id;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref_entry *x = a, *y = b;
	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return x->id < y->id ? -1 : (x->id > y->id);
}

static void test_large_vocab(void)
{
	enum { V = 256000 };
	float *base = malloc(V * sizeof(*base));
	float *l = malloc(V * sizeof(*l));
	struct ref_entry *ref = malloc(V * sizeof(*ref));
	bool *allowed = calloc(V, sizeof(*allowed));
	if (!base || !l || !ref || !allowed)
		goto out;
	random_logits(base, V, 77, -8.0f, 8.0f);

	for (int i = 0; i < V; i++)
		ref[i] = (struct ref_entry){ base[i], i };
	qsort(ref, V, sizeof(*ref), ref_cmp);

	/* Naive nucleus for top_p 0.5 over the whole vocabulary. */
	double sum = 0.0, cum = 0.0;
	for (int i = 0; i < V; i++)
		sum += exp((double)ref[i].logit - ref[0].logit);
	int n_nucleus = 0;
	for (int i = 0; i < V; i++) {
		cum += exp((double)ref[i].logit - ref[0].logit);
		allowed[ref[i].id] = true;
		n_nucleus++;
		if (cum >= 0.5 * sum)
			break;
	}

	struct sampler_params p = params_plain();
	p.top_p = 0.5f;
	p.temp = 3.0f;
	struct sampler *s = make(&p, V);
	int outside = 0;
	for (int i = 0; s && i < 30; i++)
		outside += !allowed[sample_copy(s, base, l, V, NULL, 0)];
	sampler_free(s);
	CHECK_EQ_INT(outside, 0);
	CHECK(n_nucleus > 40);

	/* Default chain: top-40, then the rest. */
	memset(allowed, 0, V * sizeof(*allowed));
	for (int i = 0; i < 40; i++)
		allowed[ref[i].id] = true;
	p = sampler_params_default();
	p.seed = 5;
	s = make(&p, V);
	outside = 0;
	for (int i = 0; s && i < 200; i++)
		outside += !allowed[sample_copy(s, base, l, V, NULL, 0)];
	sampler_free(s);
	CHECK_EQ_INT(outside, 0);
out:
	free(base);
	free(l);
	free(ref);
	free(allowed);
}

/* The nucleus when more than the first guess of candidates must be sorted,
 * with ties at the boundary: exactly the naive prefix, no more, no less. */
static void test_top_p_boundary(void)
{
	enum { V = 2000 };
	static float l[V];
	static struct ref_entry ref[V];
	static bool want[V], seen[V];
	random_logits(l, V, 11, 0.0f, 1.0f);
	for (int i = 0; i < V; i++)
		l[i] = floorf(l[i] * 40.0f) / 10.0f; /* 40 levels, ~50 tokens each */
	for (int i = 0; i < V; i++)
		ref[i] = (struct ref_entry){ l[i], i };
	qsort(ref, V, sizeof(*ref), ref_cmp);

	const float top_ps[] = { 0.6f, 0.9f, 0.1f };
	for (int c = 0; c < 3; c++) {
		double sum = 0.0, cum = 0.0;
		for (int i = 0; i < V; i++)
			sum += exp((double)ref[i].logit - ref[0].logit);
		memset(want, 0, sizeof(want));
		int n_want = 0;
		for (int i = 0; i < V; i++) {
			cum += exp((double)ref[i].logit - ref[0].logit);
			want[ref[i].id] = true;
			n_want++;
			if (cum >= (double)top_ps[c] * sum)
				break;
		}
		struct sampler_params p = params_plain();
		p.top_p = top_ps[c];
		p.temp = 1e6f;
		p.seed = 600 + (uint64_t)c;
		/* ~40 draws per kept token: missing one has odds ~e^-40. */
		drawn_set(&p, l, V, 40L * n_want, seen);
		int mismatches = 0;
		for (int i = 0; i < V; i++)
			mismatches += seen[i] != want[i];
		CHECK_MSG(mismatches == 0, "top_p %g: %d mismatches, nucleus %d", (double)top_ps[c], mismatches,
			  n_want);
		if (c == 0)
			CHECK(n_want > 256); /* past the first guess */
	}
}

/* ---- non-finite logits ------------------------------------------------ */

static void test_nonfinite_logits(void)
{
	enum { N = 6 };
	struct sampler_params chains[3];
	chains[0] = params_plain();
	chains[1] = sampler_params_default();
	chains[2] = sampler_params_default();
	chains[2].top_k = 0;
	chains[2].repeat_penalty = 1.3f;
	chains[2].freq_penalty = 0.2f;
	const int32_t hist[] = { 0, 1, 2, 3, 4, 5, 5 };

	for (int c = 0; c < 3; c++) {
		struct sampler *s = make(&chains[c], N);
		if (!s)
			return;
		float l[N];
		/* NaN is never drawn. */
		const float mixed[N] = { NAN, 1.0f, NAN, 0.5f, -INFINITY, NAN };
		for (int i = 0; i < 2000; i++) {
			int32_t t = sample_copy(s, mixed, l, N, hist, 7);
			CHECK(t == 1 || t == 3);
		}
		/* Nothing drawable: the argmax rules (lowest non-NaN, else 0). */
		const float all_nan[N] = { NAN, NAN, NAN, NAN, NAN, NAN };
		CHECK_EQ_INT(sample_copy(s, all_nan, l, N, hist, 7), 0);
		const float all_ninf[N] = { NAN, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY };
		CHECK_EQ_INT(sample_copy(s, all_ninf, l, N, hist, 7), 1);
		/* +inf tokens take all the mass, shared. */
		const float pinf[N] = { 3.0f, INFINITY, 1e30f, INFINITY, -INFINITY, NAN };
		long counts[N] = { 0 };
		for (int i = 0; i < 4000; i++) {
			int32_t t = sample_copy(s, pinf, l, N, hist, 7);
			if (t >= 0 && t < N)
				counts[t]++;
		}
		CHECK(counts[1] + counts[3] == 4000);
		CHECK(counts[1] > 1500 && counts[3] > 1500);
		/* Extreme finite logits do not overflow into NaN. */
		const float huge[N] = { -FLT_MAX, FLT_MAX, -FLT_MAX, 0.0f, FLT_MAX, 1.0f };
		for (int i = 0; i < 100; i++) {
			int32_t t = sample_copy(s, huge, l, N, NULL, 0);
			CHECK(t == 1 || t == 4);
		}
		sampler_free(s);
	}

	/* Tiny temperature: a finite, very sharp distribution, still valid. */
	struct sampler_params p = params_plain();
	p.temp = 1e-30f;
	struct sampler *s = make(&p, N);
	float l[N];
	const float near[N] = { 1.0f, 1.0001f, 0.0f, -5.0f, 1.00005f, 0.5f };
	for (int i = 0; s && i < 50; i++)
		CHECK_EQ_INT(sample_copy(s, near, l, N, NULL, 0), 1);
	sampler_free(s);
}

int main(void)
{
	RUN(test_rng_known_answers);
	RUN(test_rng_uniform);
	RUN(test_defaults);
	RUN(test_param_validation);
	RUN(test_argmax);
	RUN(test_greedy);
	RUN(test_greedy_with_penalty);
	RUN(test_penalty_math);
	RUN(test_top_k1_is_greedy);
	RUN(test_top_k_set);
	RUN(test_top_p);
	RUN(test_min_p);
	RUN(test_determinism);
	RUN(test_distribution);
	RUN(test_large_vocab);
	RUN(test_top_p_boundary);
	RUN(test_nonfinite_logits);
	return check_summary();
}
