/*
 * cmd_bench.c - `ajar bench`: prompt-processing and generation speed,
 * measured the way llama.cpp's llama-bench measures them, so the two
 * programs' numbers can be put side by side (bench/compare.sh).
 *
 *   pp (prompt processing): one batch of n_prompt tokens decoded into an
 *       empty sequence; the first token is BOS when the model adds one, the
 *       rest random ids from a fixed-seed generator (llama-bench's
 *       test_prompt, with n_batch = n_prompt).
 *   tg (text generation): n_gen tokens decoded one at a time into an empty
 *       sequence, starting from BOS (or a random id), each next token random
 *       (llama-bench's test_gen). Logits are computed for every step.
 *
 * Each test runs once untimed to warm up (llama-bench: the whole prompt for
 * pp, a single token for tg), then R timed repetitions, each from an empty
 * cache. The result is the mean and sample standard deviation of the
 * per-repetition tokens/s values, as llama-bench reports them.
 */
#include "ajar/gguf.h"
#include "ajar/kernels.h"
#include "ajar/model.h"
#include "ajar/quantize.h"
#include "ajar/tensor.h"
#include "ajar/threadpool.h"
#include "ajar/vocab.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest test sizes: a prompt is one batch (the context's batch cap), and
 * positions of both tests share one context. */
#define BENCH_MAX_PROMPT 65536
#define BENCH_MAX_GEN (1 << 20)
#define BENCH_MAX_REPS 1000
#define BENCH_SEED 0x62656e6368ull /* "bench": same token ids every run */

static const char bench_help[] =
	"usage: ajar bench -m MODEL [-p N] [-n N] [-t THREADS] [-r REPS] [--json]\n"
	"  -m, --model PATH      GGUF model\n"
	"  -p, --n-prompt N      prompt-processing test: N tokens in one batch (default 512; 0 = skip)\n"
	"  -n, --n-gen N         generation test: N tokens one at a time (default 128; 0 = skip)\n"
	"  -t, --threads N       threads (default: all CPUs)\n"
	"  -r, --repetitions N   timed repetitions per test, after one warm-up (default 5)\n"
	"      --cache-type T    KV cache element type: f32 (default), f16 (llama-bench's default), q8_0\n"
	"      --json            print one JSON object instead of the table\n"
	"  Tokens are random ids (fixed seed) after BOS, as in llama-bench; t/s is the mean of the\n"
	"  per-repetition rates, ± their sample standard deviation.\n";

struct bench_opts {
	const char *model;
	long long n_prompt, n_gen, n_threads, reps;
	int cache_type; /* enum ajar_type */
	bool json;
};

struct bench {
	struct ajar_context *ctx;
	const struct ajar_vocab *vocab;
	int32_t n_tokens;  /* random ids are drawn from [0, n_tokens) */
	uint64_t rng;
	int32_t *tokens;   /* [max(n_prompt, 1)] */
	int32_t *pos;      /* [max(n_prompt, 1)] */
	int32_t *seq;      /* [max(n_prompt, 1)] zeros */
	float *logits;     /* [n_vocab] */
};

/* One test's results. */
struct test_result {
	int64_t n;          /* tokens per repetition; 0 = skipped */
	double *samples;    /* [reps] tokens/s; owned */
	double mean, sd;
};

static int parse_bench_opts(struct args *a, struct bench_opts *o)
{
	const char *v;

	memset(o, 0, sizeof(*o));
	o->n_prompt = 512;
	o->n_gen = 128;
	o->reps = 5;
	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			fputs(bench_help, stdout);
			return -1;
		} else if (args_opt(a, "--model", "-m", &v)) {
			o->model = v;
		} else if (args_opt(a, "--n-prompt", "-p", &v)) {
			if (!args_int(a, "-p", v, 0, BENCH_MAX_PROMPT, &o->n_prompt))
				return 2;
		} else if (args_opt(a, "--n-gen", "-n", &v)) {
			if (!args_int(a, "-n", v, 0, BENCH_MAX_GEN, &o->n_gen))
				return 2;
		} else if (args_opt(a, "--threads", "-t", &v)) {
			if (!args_int(a, "--threads", v, 1, 1024, &o->n_threads))
				return 2;
		} else if (args_opt(a, "--repetitions", "-r", &v)) {
			if (!args_int(a, "--repetitions", v, 1, BENCH_MAX_REPS, &o->reps))
				return 2;
		} else if (args_opt(a, "--cache-type", NULL, &v)) {
			if (strcmp(v, "f32") == 0) {
				o->cache_type = AJAR_TYPE_F32;
			} else if (strcmp(v, "f16") == 0) {
				o->cache_type = AJAR_TYPE_F16;
			} else if (strcmp(v, "q8_0") == 0) {
				o->cache_type = AJAR_TYPE_Q8_0;
			} else {
				args_error(a, "--cache-type: '%s' is not f32, f16 or q8_0", v);
				return 2;
			}
		} else if (args_flag(a, "--json", NULL)) {
			o->json = true;
		} else {
			args_error(a, "unknown option '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (!o->model) {
		args_error(a, "-m MODEL is required (see --help)");
		return 2;
	}
	if (o->n_prompt == 0 && o->n_gen == 0) {
		args_error(a, "nothing to measure: -p and -n are both 0");
		return 2;
	}
	if (o->n_threads == 0)
		o->n_threads = threadpool_ncpu();
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: a fixed, portable sequence of token ids. */
static int32_t random_token(struct bench *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (int32_t)(z % (uint64_t)b->n_tokens);
}

static int32_t first_token(struct bench *b)
{
	int32_t bos = vocab_bos(b->vocab);
	return vocab_add_bos(b->vocab) && bos >= 0 ? bos : random_token(b);
}

/* Decodes n tokens as one batch into an empty sequence 0; *secs is the time
 * of the decode alone. */
static enum ajar_err run_prompt(struct bench *b, int64_t n, double *secs)
{
	ajar_seq_truncate(b->ctx, 0, 0);
	b->tokens[0] = first_token(b);
	for (int64_t i = 1; i < n; i++)
		b->tokens[i] = random_token(b);
	struct ajar_batch batch = { .n = (uint32_t)n, .tokens = b->tokens, .pos = b->pos, .seq = b->seq };
	double t0 = now_s();
	enum ajar_err err = ajar_decode(b->ctx, &batch, b->logits);
	*secs = now_s() - t0;
	return err;
}

/* Decodes n tokens one at a time into an empty sequence 0. */
static enum ajar_err run_gen(struct bench *b, int64_t n, double *secs)
{
	int32_t token, pos, seq = 0;
	enum ajar_err err = AJAR_OK;

	ajar_seq_truncate(b->ctx, 0, 0);
	token = first_token(b);
	double t0 = now_s();
	for (int64_t i = 0; i < n && !err; i++) {
		pos = (int32_t)i;
		struct ajar_batch batch = { .n = 1, .tokens = &token, .pos = &pos, .seq = &seq };
		err = ajar_decode(b->ctx, &batch, b->logits);
		token = random_token(b);
	}
	*secs = now_s() - t0;
	return err;
}

/* Mean and sample standard deviation (n - 1), as llama-bench's avg/stdev. */
static void summarize(struct test_result *r, long long reps)
{
	double sum = 0, sq = 0;
	for (long long i = 0; i < reps; i++)
		sum += r->samples[i];
	r->mean = sum / (double)reps;
	for (long long i = 0; i < reps; i++)
		sq += (r->samples[i] - r->mean) * (r->samples[i] - r->mean);
	r->sd = reps > 1 ? sqrt(sq / (double)(reps - 1)) : 0.0;
}

/* One warm-up, then reps timed runs of a test. */
static enum ajar_err run_test(struct bench *b, bool is_prompt, int64_t n, long long reps, struct test_result *r)
{
	enum ajar_err err;
	double secs;

	r->n = n;
	if (n == 0)
		return AJAR_OK;
	r->samples = calloc((size_t)reps, sizeof(double));
	if (!r->samples)
		return ajar_errf(AJAR_ERR_NOMEM, "samples");
	err = is_prompt ? run_prompt(b, n, &secs) : run_gen(b, 1, &secs);
	for (long long i = 0; i < reps && !err; i++) {
		err = is_prompt ? run_prompt(b, n, &secs) : run_gen(b, n, &secs);
		r->samples[i] = (double)n / (secs > 0 ? secs : 1e-9);
	}
	if (err)
		return err;
	summarize(r, reps);
	return AJAR_OK;
}

/* ---- describing the model ------------------------------------------------------ */

struct model_desc {
	char label[96];            /* "llama 1.1B Q4_0" */
	uint64_t file_bytes;       /* the GGUF file */
	uint64_t weights_bytes;    /* tensor data (llama-bench's "size") */
	uint64_t bytes_per_token;  /* weights read to generate one token */
	uint64_t n_params;
	const char *ftype;
};

static void describe_model(const struct ajar_model *m, struct model_desc *d)
{
	const struct gguf_file *f = ajar_model_gguf(m);
	const struct ajar_hparams *hp = ajar_model_hparams(m);
	uint64_t by_type[AJAR_TYPE_COUNT] = { 0 }, embd = 0;
	uint32_t ft;
	char size[16];

	memset(d, 0, sizeof(*d));
	d->file_bytes = gguf_file_size(f);
	d->n_params = ajar_model_n_params(m);
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		d->weights_bytes += t->size;
		if (t->type < AJAR_TYPE_COUNT && t->n_dims >= 2)
			by_type[t->type] += t->size;
		if (gguf_str_eq(t->name, "token_embd.weight"))
			embd = t->size;
	}
	/* The embedding matrix is read one row per token unless it is also the
	 * output projection. */
	d->bytes_per_token = d->weights_bytes - (hp->tied_output ? 0 : embd);
	if (gguf_get_u32(f, "general.file_type", &ft) == AJAR_OK) {
		d->ftype = ajar_ftype_name(ft);
	} else { /* no file type: name the type holding most weight bytes */
		uint32_t best = 0;
		for (uint32_t t = 0; t < AJAR_TYPE_COUNT; t++)
			if (by_type[t] > by_type[best])
				best = t;
		d->ftype = ajar_type_name(best);
	}
	if (d->n_params >= 1000000000ull)
		snprintf(size, sizeof(size), "%.1fB", (double)d->n_params / 1e9);
	else if (d->n_params >= 1000000ull)
		snprintf(size, sizeof(size), "%.0fM", (double)d->n_params / 1e6);
	else
		snprintf(size, sizeof(size), "%.0fK", (double)d->n_params / 1e3);
	snprintf(d->label, sizeof(d->label), "%s %s %s", hp->arch_name, size, d->ftype);
}

/* ---- output ------------------------------------------------------------------- */

static void print_row(const struct model_desc *d, const char *backend, long long threads, const char *test,
		      const struct test_result *r)
{
	char size[32], params[32], rate[48];
	if (d->weights_bytes < (1ull << 30))
		snprintf(size, sizeof(size), "%.2f MiB", (double)d->weights_bytes / (1024.0 * 1024.0));
	else
		snprintf(size, sizeof(size), "%.2f GiB", (double)d->weights_bytes / (1024.0 * 1024.0 * 1024.0));
	if (d->n_params < 1000000000ull)
		snprintf(params, sizeof(params), "%.2f M", (double)d->n_params / 1e6);
	else
		snprintf(params, sizeof(params), "%.2f B", (double)d->n_params / 1e9);
	snprintf(rate, sizeof(rate), "%.2f ± %.2f", r->mean, r->sd);
	/* "±" is two bytes: one more column of width keeps the table aligned */
	printf("| %-24s | %10s | %10s | %-12s | %7lld | %-8s | %21s |\n", d->label, size, params, backend, threads, test,
	       rate);
}

static void print_table(const struct model_desc *d, const struct bench_opts *o, const char *level,
			const struct test_result *pp, const struct test_result *tg)
{
	char backend[32], test[32];
	snprintf(backend, sizeof(backend), "CPU %s", level);
	printf("| %-24s | %10s | %10s | %-12s | %7s | %-8s | %20s |\n", "model", "size", "params", "backend", "threads",
	       "test", "t/s");
	printf("| %s | %s: | %s: | %s | %s: | %s | %s: |\n", "------------------------", "---------", "---------",
	       "------------", "------", "--------", "-------------------");
	if (pp->n) {
		snprintf(test, sizeof(test), "pp%lld", o->n_prompt);
		print_row(d, backend, o->n_threads, test, pp);
	}
	if (tg->n) {
		snprintf(test, sizeof(test), "tg%lld", o->n_gen);
		print_row(d, backend, o->n_threads, test, tg);
	}
}

static json_t *json_rate(const struct test_result *r, double v)
{
	return r->n ? json_real(v) : json_null();
}

static json_t *json_samples(const struct test_result *r, long long reps)
{
	json_t *arr = json_array();
	for (long long i = 0; r->n && i < reps; i++)
		json_array_append_new(arr, json_real(r->samples[i]));
	return arr;
}

static int print_json(const struct model_desc *d, const struct bench_opts *o, const char *level,
		      const struct test_result *pp, const struct test_result *tg)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "model", json_string(o->model));
	json_object_set_new(obj, "model_desc", json_string(d->label));
	json_object_set_new(obj, "ftype", json_string(d->ftype));
	json_object_set_new(obj, "model_bytes", json_integer((json_int_t)d->file_bytes));
	json_object_set_new(obj, "weights_bytes", json_integer((json_int_t)d->weights_bytes));
	json_object_set_new(obj, "tg_bytes_per_token", json_integer((json_int_t)d->bytes_per_token));
	json_object_set_new(obj, "n_params", json_integer((json_int_t)d->n_params));
	json_object_set_new(obj, "threads", json_integer(o->n_threads));
	json_object_set_new(obj, "cpu_level", json_string(level));
	json_object_set_new(obj, "cache_type", json_string(ajar_type_name((uint32_t)o->cache_type)));
	json_object_set_new(obj, "n_prompt", json_integer(o->n_prompt));
	json_object_set_new(obj, "n_gen", json_integer(o->n_gen));
	json_object_set_new(obj, "reps", json_integer(o->reps));
	json_object_set_new(obj, "pp_tokens_per_s", json_rate(pp, pp->mean));
	json_object_set_new(obj, "pp_sd", json_rate(pp, pp->sd));
	json_object_set_new(obj, "pp_samples", json_samples(pp, o->reps));
	json_object_set_new(obj, "tg_tokens_per_s", json_rate(tg, tg->mean));
	json_object_set_new(obj, "tg_sd", json_rate(tg, tg->sd));
	json_object_set_new(obj, "tg_samples", json_samples(tg, o->reps));
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(obj);
	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

/* ---- the command ----------------------------------------------------------------- */

int cmd_bench(int argc, char **argv)
{
	struct args a;
	struct bench_opts o;
	struct ajar_model *m = NULL;
	struct bench b = { .rng = BENCH_SEED };
	struct test_result pp = { 0 }, tg = { 0 };
	struct model_desc d;
	int rc;

	args_init(&a, "bench", argc, argv);
	if ((rc = parse_bench_opts(&a, &o)))
		return rc < 0 ? 0 : rc;
	/* A bad AJAR_CPU is reported and the best level used; the output
	 * names the level that was measured. */
	if (ajar_kernels_init())
		args_error(&a, "warning: %s", ajar_err_msg());
	const char *level = ajar_cpu_level_name(ajar_cpu_level());
	if (ajar_model_load(o.model, &m)) {
		args_fail(&a);
		return 1;
	}
	size_t nb = o.n_prompt > 0 ? (size_t)o.n_prompt : 1;
	struct ajar_context_params cp = {
		.n_ctx = (uint32_t)(o.n_prompt + o.n_gen), .n_seq = 1, .n_batch = (uint32_t)nb,
		.n_threads = (int)o.n_threads, .cache_type = o.cache_type,
	};
	b.vocab = ajar_model_vocab(m);
	b.n_tokens = vocab_n_tokens(b.vocab);
	b.tokens = malloc(nb * sizeof(int32_t));
	b.pos = malloc(nb * sizeof(int32_t));
	b.seq = calloc(nb, sizeof(int32_t));
	b.logits = malloc(ajar_model_hparams(m)->n_vocab * sizeof(float));
	if (!b.tokens || !b.pos || !b.seq || !b.logits) {
		ajar_errf(AJAR_ERR_NOMEM, "bench buffers");
		goto fail;
	}
	if (b.n_tokens <= 0) {
		ajar_errf(AJAR_ERR_FORMAT, "%s: the vocabulary is empty", o.model);
		goto fail;
	}
	for (size_t i = 0; i < nb; i++)
		b.pos[i] = (int32_t)i;
	if (ajar_context_new(m, &cp, &b.ctx) || run_test(&b, true, o.n_prompt, o.reps, &pp) ||
	    run_test(&b, false, o.n_gen, o.reps, &tg))
		goto fail;
	describe_model(m, &d);
	if (o.json) {
		if (print_json(&d, &o, level, &pp, &tg)) {
			ajar_errf(AJAR_ERR_NOMEM, "could not encode the result as JSON");
			goto fail;
		}
	} else {
		print_table(&d, &o, level, &pp, &tg);
	}
	rc = 0;
	goto out;
fail:
	args_fail(&a);
	rc = 1;
out:
	free(pp.samples);
	free(tg.samples);
	free(b.tokens);
	free(b.pos);
	free(b.seq);
	free(b.logits);
	ajar_context_free(b.ctx);
	ajar_model_free(m);
	return rc;
}
