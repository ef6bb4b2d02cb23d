/*
 * watermark_eval.c - how well the watermark (include/ajar/watermark.h) works
 * and what it costs: the figures in docs/SAFETY.md "## Watermark".
 *
 * Build against a build folder's libraries (no CMake target):
 *
 *     cc -O2 -std=gnu11 -D_GNU_SOURCE -Iinclude bench/watermark_eval.c \
 *        build/libajar_model.a build/libajar_text.a build/libajar_sample.a \
 *        build/libajar_gguf.a build/libajar_tensor.a build/libajar_core.a \
 *        -lsodium -lpcre2-8 -lutf8proc -lm -lpthread -o /tmp/watermark_eval
 *
 * Run:
 *     watermark_eval speed [n_vocab] [calls]
 *         apply() per call at a vocabulary of n_vocab (default 128256), both
 *         hashes: the fastest of `calls` calls (default 2000), thread CPU time.
 *     watermark_eval quality MODEL [n_marked] [n_plain] [n_tokens] [hash] [h] [delta]
 *         e.g. watermark_eval quality ../shared/fixtures/models/stories260K.gguf 100 200 200
 *         n_marked watermarked and n_plain unwatermarked generations of
 *         n_tokens each (ctx 512, temperature 1, no top-k/top-p/min-p, EOS
 *         ignored so every text has n_tokens), 20 prompts x seeds; the key
 *         is fixed (bytes 0..31) so runs repeat exactly. Prints detection at
 *         z >= 4, z distributions and histograms, detection after replacing
 *         10% and 20% of the tokens with uniform random ones, the mean NLL
 *         per token of each set under the plain model, and the mean spike
 *         entropy and Shannon entropy of the plain model's next-token
 *         distributions (Kirchenbauer et al. 2023, sec. 4).
 *
 * The NLL and entropies come from a probe processor placed before the
 * watermark in the generate() chain, so it sees the plain model's logits at
 * every step and the token finally chosen.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ajar/generate.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/vocab.h"
#include "ajar/watermark.h"

static double thread_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rng_next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static struct watermark_params fixed_params(enum watermark_hash hash, int h, double delta)
{
	struct watermark_params p = watermark_params_default();
	for (int i = 0; i < WATERMARK_KEY_BYTES; i++)
		p.key[i] = (uint8_t)i;
	p.hash = hash;
	p.context = h;
	p.delta = delta;
	return p;
}

/* ---- speed ---- */

static int run_speed(int32_t n_vocab, int calls)
{
	float *logits = calloc((size_t)n_vocab, sizeof(float));
	int32_t hist[16];
	if (!logits)
		return 1;
	for (int i = 0; i < 16; i++)
		hist[i] = (int32_t)(rng_next() % (uint64_t)n_vocab);
	for (int hash = 0; hash < 2; hash++) {
		struct watermark_params p = fixed_params((enum watermark_hash)hash, hash ? 4 : 1, 2.0);
		struct watermark *w = NULL;
		if (watermark_new(&p, n_vocab, &w)) {
			fprintf(stderr, "watermark_new: %s\n", ajar_err_msg());
			return 1;
		}
		struct logits_proc lp = watermark_proc(w);
		double best = 1e9, total = 0;
		for (int c = 0; c < calls; c++) {
			hist[c % 16] = (int32_t)(rng_next() % (uint64_t)n_vocab); /* a new seed each call */
			double t0 = thread_seconds();
			lp.apply(lp.state, logits, n_vocab, hist, 16);
			double dt = thread_seconds() - t0;
			best = dt < best ? dt : best;
			total += dt;
		}
		printf("apply %s h=%d n_vocab=%d: best %.1f us, mean %.1f us per call (%.2f ns per token)\n",
		       hash ? "self-hash" : "left-hash", p.context, n_vocab, best * 1e6, total / calls * 1e6,
		       best * 1e9 / n_vocab);
		watermark_free(w);
	}
	free(logits);
	return 0;
}

/* ---- quality ---- */

/* Sees the plain model's logits before the watermark; sums the chosen
 * token's NLL and each step's entropies. */
struct probe {
	float *lp;        /* log-probabilities of the last step (owned, n_vocab) */
	int32_t n_vocab;
	double zeta;      /* the spike-entropy modulus for gamma, delta */
	double nll, spike, shannon;
	size_t steps;
};

static void probe_apply(void *state, float *logits, int32_t n, const int32_t *hist, size_t n_hist)
{
	struct probe *pr = state;
	(void)hist;
	(void)n_hist;
	float mx = logits[0];
	for (int32_t v = 1; v < n; v++)
		mx = logits[v] > mx ? logits[v] : mx;
	double sum = 0;
	for (int32_t v = 0; v < n; v++)
		sum += exp((double)(logits[v] - mx));
	double lse = (double)mx + log(sum), spike = 0, ent = 0;
	for (int32_t v = 0; v < n; v++) {
		double lp = (double)logits[v] - lse, pv = exp(lp);
		pr->lp[v] = (float)lp;
		spike += pv / (1 + pr->zeta * pv);
		ent -= pv > 0 ? pv * lp : 0;
	}
	pr->spike += spike;
	pr->shannon += ent;
}

static void probe_accept(void *state, int32_t token)
{
	struct probe *pr = state;
	pr->nll -= pr->lp[token];
	pr->steps++;
}

static const char *const prompts[20] = {
	"Once upon a time", "One day", "Lily and Ben", "There was a big dog", "The sun was hot",
	"Tom had a red ball", "In the park", "A little bird", "Mom said", "The cat wanted",
	"Sara found a box", "It was a rainy day", "The boy was sad", "Tim liked to", "A girl named Sue",
	"The old man", "At school", "Max the puppy", "The tree was tall", "Anna saw a frog",
};

struct sample_set {
	double *z;         /* per text: z, and after 10% / 20% replacement */
	double *z10, *z20;
	size_t n;
	double nll, spike, shannon;
	size_t steps;
};

/* Replaces a fraction of the tokens (each position independently) with
 * uniform random vocabulary tokens: the paper's simplest edit attack. */
static double z_after_replacing(const struct watermark_params *p, const int32_t *t, size_t n, double frac,
				int32_t n_vocab)
{
	int32_t *c = malloc(n * sizeof(*c));
	struct watermark_score s = { 0 };
	for (size_t i = 0; i < n; i++)
		c[i] = (double)(rng_next() >> 11) * 0x1p-53 < frac ? (int32_t)(rng_next() % (uint64_t)n_vocab) : t[i];
	if (watermark_detect(p, c, n, 4.0, &s))
		fprintf(stderr, "detect: %s\n", ajar_err_msg());
	free(c);
	return s.z_score;
}

static int generate_set(struct ajar_context *ctx, const struct ajar_model *m, const struct watermark_params *p,
			bool marked, size_t count, int32_t n_tokens, uint64_t seed0, struct sample_set *out)
{
	int32_t n_vocab = (int32_t)ajar_model_hparams(m)->n_vocab;
	struct watermark *w = NULL;
	struct probe pr = { .lp = malloc((size_t)n_vocab * sizeof(float)), .n_vocab = n_vocab };
	double alpha = exp(p->delta);
	pr.zeta = (1 - p->gamma) * (alpha - 1) / (1 + (alpha - 1) * p->gamma);
	out->z = calloc(count, sizeof(double));
	out->z10 = calloc(count, sizeof(double));
	out->z20 = calloc(count, sizeof(double));
	out->n = count;
	if (watermark_new(p, n_vocab, &w))
		return 1;
	struct logits_proc procs[2] = { { &pr, probe_apply, probe_accept }, watermark_proc(w) };
	for (size_t i = 0; i < count; i++) {
		struct sampler_params sp = sampler_params_default();
		sp.temp = 1.0f, sp.top_k = 0, sp.top_p = 1.0f, sp.min_p = 0.0f, sp.seed = seed0 + i;
		struct sampler *smp = NULL;
		int32_t *prompt = NULL;
		size_t n_prompt = 0;
		struct gen_result res = { 0 };
		struct gen_params gp = { .n_predict = n_tokens, .ignore_eog = true, .procs = procs,
					 .n_procs = marked ? 2 : 1 };
		const char *text = prompts[i % 20];
		struct watermark_score s;
		ajar_seq_truncate(ctx, 0, 0);
		if (sampler_new(&sp, n_vocab, &smp) ||
		    vocab_tokenize(ajar_model_vocab(m), text, strlen(text), true, false, &prompt, &n_prompt) ||
		    generate(ctx, 0, smp, prompt, n_prompt, &gp, NULL, NULL, &res) ||
		    watermark_detect(p, res.tokens, res.n_tokens, 4.0, &s)) {
			fprintf(stderr, "generation %zu: %s\n", i, ajar_err_msg());
			return 1;
		}
		out->z[i] = s.z_score;
		out->z10[i] = z_after_replacing(p, res.tokens, res.n_tokens, 0.10, n_vocab);
		out->z20[i] = z_after_replacing(p, res.tokens, res.n_tokens, 0.20, n_vocab);
		free(res.tokens);
		free(prompt);
		sampler_free(smp);
	}
	out->nll = pr.nll, out->spike = pr.spike, out->shannon = pr.shannon, out->steps = pr.steps;
	watermark_free(w);
	free(pr.lp);
	return 0;
}

static void print_distribution(const char *name, const double *z, size_t n)
{
	double sum = 0, sq = 0, mn = 1e9, mx = -1e9;
	size_t det = 0, hist[8] = { 0 };
	static const char *const bins[8] = { "<-2", "-2..0", "0..2", "2..4", "4..6", "6..8", "8..10", ">=10" };
	for (size_t i = 0; i < n; i++) {
		sum += z[i];
		sq += z[i] * z[i];
		mn = z[i] < mn ? z[i] : mn;
		mx = z[i] > mx ? z[i] : mx;
		det += z[i] >= 4.0;
		int b = z[i] < -2 ? 0 : z[i] >= 10 ? 7 : 1 + (int)floor((z[i] + 2) / 2);
		hist[b]++;
	}
	double mean = sum / (double)n, sd = sqrt((sq - (double)n * mean * mean) / (double)(n > 1 ? n - 1 : 1));
	printf("%-26s detected %3zu/%zu  z mean %6.2f sd %5.2f min %6.2f max %6.2f  |", name, det, n, mean, sd, mn,
	       mx);
	for (int b = 0; b < 8; b++)
		printf(" %s:%zu", bins[b], hist[b]);
	printf("\n");
}

static int run_quality(int argc, char **argv)
{
	const char *model = argv[2];
	size_t n_marked = argc > 3 ? strtoul(argv[3], NULL, 10) : 100;
	size_t n_plain = argc > 4 ? strtoul(argv[4], NULL, 10) : 200;
	int32_t n_tokens = argc > 5 ? (int32_t)strtol(argv[5], NULL, 10) : 200;
	enum watermark_hash hash = argc > 6 && strcmp(argv[6], "self") == 0 ? WATERMARK_SELF_HASH : WATERMARK_LEFT_HASH;
	int h = argc > 7 ? (int)strtol(argv[7], NULL, 10) : 1;
	double delta = argc > 8 ? strtod(argv[8], NULL) : 2.0;
	struct ajar_model *m = NULL;
	struct ajar_context *ctx = NULL;
	struct ajar_context_params cp = { .n_ctx = 512, .n_seq = 1, .n_threads = 1 };
	struct sample_set marked = { 0 }, plain = { 0 };
	struct watermark_params p = fixed_params(hash, h, delta);
	char id[64];

	if (ajar_model_load(model, &m) || ajar_context_new(m, &cp, &ctx)) {
		fprintf(stderr, "%s: %s\n", model, ajar_err_msg());
		return 1;
	}
	printf("scheme %s, %zu watermarked + %zu plain texts of %d tokens, ctx 512, temperature 1\n",
	       watermark_scheme_id(&p, id, sizeof(id)), n_marked, n_plain, n_tokens);
	if (generate_set(ctx, m, &p, true, n_marked, n_tokens, 1000, &marked) ||
	    generate_set(ctx, m, &p, false, n_plain, n_tokens, 5000, &plain))
		return 1;
	print_distribution("watermarked", marked.z, marked.n);
	print_distribution("watermarked, 10% replaced", marked.z10, marked.n);
	print_distribution("watermarked, 20% replaced", marked.z20, marked.n);
	print_distribution("plain", plain.z, plain.n);
	print_distribution("plain, 10% replaced", plain.z10, plain.n);
	print_distribution("plain, 20% replaced", plain.z20, plain.n);
	printf("NLL per token under the plain model: watermarked %.4f (ppl %.3f), plain %.4f (ppl %.3f)\n",
	       marked.nll / (double)marked.steps, exp(marked.nll / (double)marked.steps),
	       plain.nll / (double)plain.steps, exp(plain.nll / (double)plain.steps));
	printf("plain model's next-token distributions: mean spike entropy %.4f (modulus %.3f), mean Shannon "
	       "entropy %.3f nats (watermarked runs: %.4f, %.3f)\n",
	       plain.spike / (double)plain.steps, (1 - p.gamma) * (exp(p.delta) - 1) / (1 + (exp(p.delta) - 1) * p.gamma),
	       plain.shannon / (double)plain.steps, marked.spike / (double)marked.steps,
	       marked.shannon / (double)marked.steps);
	double alpha = exp(p.delta), s_mean = marked.spike / (double)marked.steps, t = (double)n_tokens - h;
	double green_lb = p.gamma * alpha * s_mean / (1 + (alpha - 1) * p.gamma);
	printf("paper's Theorem 2 bound at this spike entropy: green fraction >= %.3f, expected z >= %.2f over %.0f "
	       "tokens\n",
	       green_lb, (green_lb - p.gamma) * t / sqrt(t * p.gamma * (1 - p.gamma)), t);
	ajar_context_free(ctx);
	ajar_model_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "speed") == 0)
		return run_speed(argc > 2 ? (int32_t)strtol(argv[2], NULL, 10) : 128256,
				 argc > 3 ? (int)strtol(argv[3], NULL, 10) : 2000);
	if (argc >= 3 && strcmp(argv[1], "quality") == 0)
		return run_quality(argc, argv);
	fprintf(stderr, "usage: watermark_eval speed [n_vocab] [calls] | quality MODEL [n_marked] [n_plain] "
			"[n_tokens] [left|self] [h] [delta]\n");
	return 2;
}
