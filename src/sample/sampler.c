/*
 * sampler.c - the sampling chain: penalties -> top-k -> top-p -> min-p ->
 * temperature -> softmax -> draw. See include/ajar/sampler.h for the contract.
 *
 * Layout: parameter checks and new/free first, then one static function per
 * link of the chain in chain order, then sampler_sample() tying them up.
 *
 * Working set. sampler_new() allocates everything sampler_sample() will ever
 * touch, so the hot path never allocates:
 *   cand  (n_vocab) candidates {logit, id, p}; the live ones are cand[0..n)
 *   count (n_vocab) per-token occurrences in the penalty window; all zero
 *                   between calls (apply_penalties() restores that)
 *
 * Semantics that llama.cpp's chain fixes and we follow:
 *  - the repetition penalty divides a positive logit and multiplies a
 *    non-positive one, once per distinct token in the window; frequency and
 *    presence subtract count*freq and (count > 0)*presence;
 *  - top-p and min-p look at the distribution at temperature 1 over what the
 *    previous links kept; temperature only shapes the final draw;
 *  - top-p keeps the shortest best-first prefix whose mass reaches top_p;
 *    min-p keeps tokens with logit >= max_logit + ln(min_p), i.e.
 *    p >= min_p * p_max;
 *  - at least one token is always kept (the best), so the draw never starves.
 *
 * Ordering is total: a candidate is "better" with a higher logit, and on equal
 * logits with the lower id. So top-k, top-p's boundary and greedy all break
 * ties towards the lowest id, and no result depends on a sort's stability.
 *
 * Cost per call, n_vocab = V: O(V) to gather; top-k O(V log k) by a bounded
 * heap; top-p O(V) by bisecting on the boundary logit (no full sort), or
 * O(k) after top-k; min-p and the draw O(kept).
 *
 * Non-finite logits (after penalties): NaN is treated as -inf; -inf tokens are
 * never candidates; +inf is treated as FLT_MAX, so several +inf tokens share
 * the mass equally and every finite token gets none. If no token is a
 * candidate (all NaN or -inf), the result is sampler_argmax() of the penalised
 * logits: the lowest id that is not NaN, or 0 if every logit is NaN.
 *
 * Exponentials and sums are in double. The RNG stream is bit-identical
 * everywhere; exp() is the platform's libm, so a draw that lands within an
 * ulp of a boundary could in principle differ between libms.
 */
#include "ajar/sampler.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sample/rng.h"

struct sample_cand {
	float logit;   /* after penalties, finite (NaN/-inf dropped, +inf clamped) */
	int32_t id;
	double p;      /* unnormalised weight at the current step */
};

struct sampler {
	struct sampler_params params;
	int32_t n_vocab;
	struct sample_rng rng;      /* one step per draw; greedy and no-candidate calls take none */
	struct sample_cand *cand;   /* (n_vocab) owned */
	int32_t *count;             /* (n_vocab) owned; all zero between calls */
};

struct sampler_params sampler_params_default(void)
{
	return (struct sampler_params){
		.temp = 0.8f,
		.top_k = 40,
		.top_p = 0.95f,
		.min_p = 0.05f,
		.repeat_penalty = 1.0f,
		.repeat_last_n = 64,
		.freq_penalty = 0.0f,
		.presence_penalty = 0.0f,
		/* llama.cpp's LLAMA_DEFAULT_SEED; there it means "pick one at
		 * random", here it is an ordinary fixed seed. */
		.seed = 0xFFFFFFFFu,
	};
}

static enum ajar_err check_params(const struct sampler_params *p, int32_t n_vocab)
{
	/* Written as !(ok) so that NaN, which fails every comparison, is caught. */
	if (!(n_vocab > 0))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: n_vocab must be > 0, got %d", (int)n_vocab);
	if (isnan(p->temp) || isinf(p->temp))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: temp must be finite, got %g", (double)p->temp);
	if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: top_p must be in (0, 1], got %g", (double)p->top_p);
	if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: min_p must be in [0, 1], got %g", (double)p->min_p);
	if (!(p->repeat_penalty > 0.0f && p->repeat_penalty <= FLT_MAX))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: repeat_penalty must be finite and > 0, got %g",
				 (double)p->repeat_penalty);
	if (p->repeat_last_n < -1)
		return ajar_errf(AJAR_ERR_INVALID, "sampler: repeat_last_n must be >= -1, got %d",
				 (int)p->repeat_last_n);
	if (!isfinite(p->freq_penalty))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: freq_penalty must be finite, got %g",
				 (double)p->freq_penalty);
	if (!isfinite(p->presence_penalty))
		return ajar_errf(AJAR_ERR_INVALID, "sampler: presence_penalty must be finite, got %g",
				 (double)p->presence_penalty);
	return AJAR_OK;
}

enum ajar_err sampler_new(const struct sampler_params *p, int32_t n_vocab, struct sampler **out)
{
	assert(p != NULL && out != NULL);
	*out = NULL;

	enum ajar_err err = check_params(p, n_vocab);
	if (err)
		return err;

	struct sampler *s = calloc(1, sizeof(*s));
	if (!s)
		return ajar_errf(AJAR_ERR_NOMEM, "sampler: out of memory");
	s->params = *p;
	s->n_vocab = n_vocab;
	s->cand = calloc((size_t)n_vocab, sizeof(*s->cand));
	s->count = calloc((size_t)n_vocab, sizeof(*s->count));
	if (!s->cand || !s->count) {
		sampler_free(s);
		return ajar_errf(AJAR_ERR_NOMEM, "sampler: out of memory for %d candidates", (int)n_vocab);
	}
	sample_rng_seed(&s->rng, p->seed);
	*out = s;
	return AJAR_OK;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->count);
	free(s);
}

int32_t sampler_argmax(const float *logits, int32_t n)
{
	assert(logits != NULL && n > 0);
	int32_t best = -1;
	for (int32_t i = 0; i < n; i++) {
		if (isnan(logits[i]))
			continue;
		if (best < 0 || logits[i] > logits[best])
			best = i;
	}
	return best < 0 ? 0 : best;
}

/*
 * Penalties over the last repeat_last_n tokens of history (all of it for -1).
 * Two passes over the window: count, then penalise each distinct token once
 * and zero its count, which leaves s->count all zero again. O(window), not
 * O(n_vocab). History ids outside [0, n_vocab) are ignored.
 */
static void apply_penalties(struct sampler *s, float *logits, const int32_t *history, size_t n_history)
{
	const struct sampler_params *p = &s->params;
	if (p->repeat_last_n == 0 || n_history == 0)
		return;
	if (p->repeat_penalty == 1.0f && p->freq_penalty == 0.0f && p->presence_penalty == 0.0f)
		return;

	size_t start = 0;
	if (p->repeat_last_n > 0 && n_history > (size_t)p->repeat_last_n)
		start = n_history - (size_t)p->repeat_last_n;

	for (size_t i = start; i < n_history; i++) {
		int32_t t = history[i];
		if (t >= 0 && t < s->n_vocab)
			s->count[t]++;
	}
	for (size_t i = start; i < n_history; i++) {
		int32_t t = history[i];
		if (t < 0 || t >= s->n_vocab || s->count[t] == 0)
			continue;
		int32_t c = s->count[t];
		float l = logits[t];
		l = l > 0.0f ? l / p->repeat_penalty : l * p->repeat_penalty;
		l -= (float)c * p->freq_penalty + p->presence_penalty;
		logits[t] = l;
		s->count[t] = 0;
	}
}

/* Copies the candidates (see the file comment for non-finite logits) and
 * their largest logit; returns how many. */
static int32_t gather_candidates(struct sampler *s, const float *logits, float *max_logit)
{
	int32_t n = 0;
	float max = -FLT_MAX;
	for (int32_t i = 0; i < s->n_vocab; i++) {
		float l = logits[i];
		if (isnan(l) || l == -INFINITY)
			continue;
		if (l > FLT_MAX)
			l = FLT_MAX;
		if (l == 0.0f)
			l = 0.0f; /* -0 to +0, so logit_key() orders like < does */
		s->cand[n].logit = l;
		s->cand[n].id = i;
		n++;
		max = l > max ? l : max;
	}
	*max_logit = max;
	return n;
}

static inline bool cand_better(const struct sample_cand *a, const struct sample_cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Restores the heap property below root in a heap whose root is the WORST
 * element (so the heap holds the best ones seen, ready to evict its worst).
 * Moves a hole down instead of swapping at every level. */
static void heap_sift_down(struct sample_cand *h, int32_t n, int32_t root)
{
	struct sample_cand x = h[root];
	for (;;) {
		int32_t child = 2 * root + 1;
		if (child >= n)
			break;
		if (child + 1 < n && cand_better(&h[child], &h[child + 1]))
			child++; /* the worse of the two children */
		if (!cand_better(&x, &h[child]))
			break;
		h[root] = h[child];
		root = child;
	}
	h[root] = x;
}

/*
 * Moves the k best of c[0..n) to c[0..k), sorted best first. A bounded
 * heap: O(n log k) worst case, in place, no recursion and no allocation
 * (glibc's qsort may malloc, which sampler_sample promises not to). With
 * k == n this is a plain heapsort.
 */
static void select_top(struct sample_cand *c, int32_t n, int32_t k)
{
	assert(k >= 1 && k <= n);
	for (int32_t i = k / 2 - 1; i >= 0; i--)
		heap_sift_down(c, k, i);
	for (int32_t i = k; i < n; i++) {
		if (cand_better(&c[i], &c[0])) {
			c[0] = c[i];
			heap_sift_down(c, k, 0);
		}
	}
	/* Pop the worst to the back each time: the front ends up best first. */
	for (int32_t end = k - 1; end > 0; end--) {
		struct sample_cand t = c[0];
		c[0] = c[end];
		c[end] = t;
		heap_sift_down(c, end, 0);
	}
}

/* The float's bits as an unsigned key with the same order (finite floats,
 * -0 already folded into +0): flip all bits of negatives, the sign of the rest. */
static inline uint32_t logit_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Moves the candidates with key >= pivot to the front of c[0..n); returns
 * how many there are and adds their weights to *mass. */
static int32_t partition_at(struct sample_cand *c, int32_t n, uint32_t pivot, double *mass)
{
	int32_t front = 0;
	for (int32_t i = 0; i < n; i++) {
		if (logit_key(c[i].logit) >= pivot) {
			*mass += c[i].p;
			struct sample_cand t = c[front];
			c[front] = c[i];
			c[i] = t;
			front++;
		}
	}
	return front;
}

/*
 * Top-p on unsorted candidates without sorting them. The nucleus is every
 * candidate with logit above some boundary value L, plus the lowest ids of
 * those equal to L. L is found by bisection over the 32-bit keys: c[0..a)
 * holds candidates known to be in (mass_in, short of target), c[a..b) those
 * still undecided, with keys in [lo, hi]; each step partitions c[a..b) at
 * the middle key and keeps one side undecided. At most 32 steps, each over
 * a shrinking range: O(n) for any spread of logits, where a sort would be
 * O(n log n). The result is the same set a sort would give; its order is
 * not sorted (nothing after this needs it to be).
 */
static int32_t top_p_unsorted(struct sample_cand *c, int32_t n, double target)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int32_t i = 0; i < n; i++) {
		uint32_t k = logit_key(c[i].logit);
		lo = k < lo ? k : lo;
		hi = k > hi ? k : hi;
	}
	int32_t a = 0, b = n;
	double mass_in = 0.0;
	while (lo < hi) {
		uint32_t mid = (uint32_t)(lo + ((uint64_t)hi - lo + 1) / 2);
		double m = mass_in;
		int32_t front = partition_at(c + a, b - a, mid, &m);
		if (m >= target) {
			lo = mid;        /* enough mass at keys >= mid: the rest is out */
			b = a + front;
		} else {
			hi = mid - 1;    /* not enough: everything >= mid is in */
			mass_in = m;
			a += front;
		}
	}
	/* c[a..b) all share the boundary logit: take the lowest ids first. (It
	 * is empty only if rounding between summation orders misled a step.) */
	if (b > a)
		select_top(c + a, b - a, b - a);
	double cum = mass_in;
	for (int32_t i = a; i < b; i++) {
		cum += c[i].p;
		if (cum >= target)
			return i + 1;
	}
	return b; /* rounding: the sums ran in different orders */
}

/*
 * Top-p: the shortest best-first prefix whose mass reaches top_p, as a set.
 * Sorted input (after top-k) is scanned; otherwise top_p_unsorted().
 */
static int32_t apply_top_p(struct sample_cand *c, int32_t n, bool sorted, float max_logit, float top_p)
{
	double max = max_logit, sum = 0.0;
	for (int32_t i = 0; i < n; i++) {
		c[i].p = exp((double)c[i].logit - max);
		sum += c[i].p;
	}
	double target = (double)top_p * sum;
	if (!sorted)
		return top_p_unsorted(c, n, target);
	double cum = 0.0;
	for (int32_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (cum >= target)
			return i + 1;
	}
	return n; /* not reached: cum ends equal to sum >= target */
}

/* Min-p: keeps logit >= max + ln(min_p), order preserved; keeps the max. */
static int32_t apply_min_p(struct sample_cand *c, int32_t n, float max_logit, float min_p)
{
	double cutoff = (double)max_logit + log((double)min_p);
	int32_t kept = 0;
	for (int32_t i = 0; i < n; i++) {
		if ((double)c[i].logit >= cutoff)
			c[kept++] = c[i];
	}
	return kept;
}

/* Softmax at temperature temp and one draw from it. */
static int32_t draw(struct sampler *s, struct sample_cand *c, int32_t n, float max_logit)
{
	double max = max_logit, temp = s->params.temp, sum = 0.0;
	for (int32_t i = 0; i < n; i++) {
		c[i].p = exp(((double)c[i].logit - max) / temp);
		sum += c[i].p;
	}
	/* sum >= 1: the best candidate's weight is exp(0). */
	double target = sample_rng_uniform(&s->rng) * sum, cum = 0.0;
	int32_t last = 0;
	for (int32_t i = 0; i < n; i++) {
		if (c[i].p <= 0.0)
			continue;
		cum += c[i].p;
		last = i;
		if (target < cum)
			return c[i].id;
	}
	return c[last].id; /* rounding put target at the very top */
}

int32_t sampler_sample(struct sampler *s, float *logits, const int32_t *history, size_t n_history)
{
	assert(s != NULL && logits != NULL);
	assert(history != NULL || n_history == 0);
	const struct sampler_params *p = &s->params;

	apply_penalties(s, logits, history, n_history);
	if (p->temp <= 0.0f)
		return sampler_argmax(logits, s->n_vocab);

	/* The best candidate survives every link, so max_logit stays the max
	 * of what is left all the way to the draw. */
	float max_logit;
	int32_t n = gather_candidates(s, logits, &max_logit);
	if (n == 0)
		return sampler_argmax(logits, s->n_vocab);

	bool sorted = false;
	if (p->top_k > 0 && p->top_k < n) {
		select_top(s->cand, n, p->top_k);
		n = p->top_k;
		sorted = true;
	}
	if (p->top_p < 1.0f)
		n = apply_top_p(s->cand, n, sorted, max_logit, p->top_p);
	if (p->min_p > 0.0f)
		n = apply_min_p(s->cand, n, max_logit, p->min_p);

	return draw(s, s->cand, n, max_logit);
}
