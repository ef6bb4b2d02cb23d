/*
 * cmd_run.c - `ajar run` (generate from a prompt) and `ajar logits` (the
 * prompt's tokens and its last position's logits, as JSON).
 */
#include "ajar/generate.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/tensor.h"
#include "ajar/vocab.h"
#include "ajar/watermark.h"
#include "cli/args.h"
#include "cli/commands.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PROMPT_FILE_MAX ((size_t)64 << 20)
#define MAX_STOPS 16

struct run_opts {
	const char *model;
	const char *prompt;
	char *prompt_owned;     /* from -f; freed at exit */
	long long n_predict;
	long long n_ctx;
	long long n_threads;
	bool json;
	bool ignore_eos;
	bool no_bos;
	bool special;
	const char *stop[MAX_STOPS];
	size_t n_stop;
	struct sampler_params sp;
	bool seed_given;
	int cache_type;         /* enum ajar_type */
	bool watermark;         /* apply the watermark (watermark.h) */
	const char *key_file;   /* its key; NULL = as the server finds it */
	const char *policy;     /* its parameters; NULL = built-in policy */
};

static const char run_help[] =
	"usage: ajar run -m MODEL (-p PROMPT | -f FILE) [options]\n"
	"  -m, --model PATH        GGUF model\n"
	"  -p, --prompt TEXT       prompt (taken literally)\n"
	"  -f, --file PATH         read the prompt from a file\n"
	"  -n, --n-predict N       tokens to generate (default 128; -1 = until the context is full)\n"
	"      --ctx N             context size (default: the model's context_length)\n"
	"  -t, --threads N         threads (default: all CPUs)\n"
	"      --cache-type T      KV cache element type: f32 (default), f16, q8_0\n"
	"      --temp T            temperature (default 0.8; 0 = greedy)\n"
	"      --top-k K           (default 40; 0 = off)\n"
	"      --top-p P           (default 0.95; 1 = off)\n"
	"      --min-p P           (default 0.05; 0 = off)\n"
	"      --repeat-penalty R  (default 1.0 = off)\n"
	"      --repeat-last-n N   penalty window (default 64; -1 = all)\n"
	"      --frequency-penalty F, --presence-penalty P   (default 0)\n"
	"      --seed S            RNG seed (default: random)\n"
	"      --stop TEXT         stop string (repeatable, up to 16)\n"
	"      --ignore-eos        do not stop at end-of-generation tokens\n"
	"      --special           parse special-token text (e.g. <s>) in the prompt\n"
	"      --no-bos            do not add the model's BOS token\n"
	"      --json              print {\"prompt_tokens\",\"tokens\",\"text\",...} instead of streaming text\n"
	"      --watermark         watermark the output as the server does (ajar watermark detect finds it)\n"
	"      --key-file F        watermark key (default: the policy's, else beside the default store;\n"
	"                          made if missing)\n"
	"      --policy P          policy with the watermark parameters (default: built-in)\n";

static const char logits_help[] =
	"usage: ajar logits -m MODEL (-p PROMPT | -f FILE) [--ctx N] [-t N] [--cache-type T] [--special] [--no-bos]\n"
	"  prints {\"tokens\":[...],\"logits\":[...]}: the prompt token ids (with BOS where the model adds\n"
	"  one) and the full logits vector at the last prompt position.\n";

/* Parses the options shared by run and logits; returns 0 to go on, else an
 * exit status. */
static int parse_opts(struct args *a, struct run_opts *o, bool is_run)
{
	const char *v;
	double d;
	long long ll;

	memset(o, 0, sizeof(*o));
	o->n_predict = 128;
	o->sp = sampler_params_default();
	while (a->i < a->argc) {
		if (args_flag(a, "--help", "-h")) {
			fputs(is_run ? run_help : logits_help, stdout);
			return -1;
		} else if (args_opt(a, "--model", "-m", &v)) {
			o->model = v;
		} else if (args_opt(a, "--prompt", "-p", &v)) {
			o->prompt = v;
		} else if (args_opt(a, "--file", "-f", &v)) {
			size_t len;
			free(o->prompt_owned);
			o->prompt_owned = NULL;
			if (read_file(v, PROMPT_FILE_MAX, &o->prompt_owned, &len)) {
				args_fail(a);
				return 1;
			}
			o->prompt = o->prompt_owned;
		} else if (args_opt(a, "--ctx", "-c", &v)) {
			if (!args_int(a, "--ctx", v, 1, 1 << 20, &o->n_ctx))
				return 2;
		} else if (args_opt(a, "--threads", "-t", &v)) {
			if (!args_int(a, "--threads", v, 1, 1024, &o->n_threads))
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
		} else if (args_flag(a, "--special", NULL)) {
			o->special = true;
		} else if (args_flag(a, "--no-bos", NULL)) {
			o->no_bos = true;
		} else if (is_run && args_opt(a, "--n-predict", "-n", &v)) {
			if (!args_int(a, "-n", v, -1, 1 << 24, &o->n_predict))
				return 2;
		} else if (is_run && args_opt(a, "--temp", NULL, &v)) {
			if (!args_float(a, "--temp", v, 0, 100, &d))
				return 2;
			o->sp.temp = (float)d;
		} else if (is_run && args_opt(a, "--top-k", NULL, &v)) {
			if (!args_int(a, "--top-k", v, 0, 1 << 24, &ll))
				return 2;
			o->sp.top_k = (int32_t)ll;
		} else if (is_run && args_opt(a, "--top-p", NULL, &v)) {
			if (!args_float(a, "--top-p", v, 0, 1, &d))
				return 2;
			o->sp.top_p = (float)d;
		} else if (is_run && args_opt(a, "--min-p", NULL, &v)) {
			if (!args_float(a, "--min-p", v, 0, 1, &d))
				return 2;
			o->sp.min_p = (float)d;
		} else if (is_run && args_opt(a, "--repeat-penalty", NULL, &v)) {
			if (!args_float(a, "--repeat-penalty", v, 0.01, 100, &d))
				return 2;
			o->sp.repeat_penalty = (float)d;
		} else if (is_run && args_opt(a, "--repeat-last-n", NULL, &v)) {
			if (!args_int(a, "--repeat-last-n", v, -1, 1 << 24, &ll))
				return 2;
			o->sp.repeat_last_n = (int32_t)ll;
		} else if (is_run && args_opt(a, "--frequency-penalty", NULL, &v)) {
			if (!args_float(a, "--frequency-penalty", v, -2, 2, &d))
				return 2;
			o->sp.freq_penalty = (float)d;
		} else if (is_run && args_opt(a, "--presence-penalty", NULL, &v)) {
			if (!args_float(a, "--presence-penalty", v, -2, 2, &d))
				return 2;
			o->sp.presence_penalty = (float)d;
		} else if (is_run && args_opt(a, "--seed", "-s", &v)) {
			if (!args_int(a, "--seed", v, 0, INT64_MAX, &ll))
				return 2;
			o->sp.seed = (uint64_t)ll;
			o->seed_given = true;
		} else if (is_run && args_opt(a, "--stop", NULL, &v)) {
			if (o->n_stop == MAX_STOPS) {
				args_error(a, "at most %d --stop strings", MAX_STOPS);
				return 2;
			}
			o->stop[o->n_stop++] = v;
		} else if (is_run && args_flag(a, "--json", NULL)) {
			o->json = true;
		} else if (is_run && args_flag(a, "--ignore-eos", NULL)) {
			o->ignore_eos = true;
		} else if (is_run && args_flag(a, "--watermark", NULL)) {
			o->watermark = true;
		} else if (is_run && args_opt(a, "--key-file", NULL, &v)) {
			o->key_file = v;
		} else if (is_run && args_opt(a, "--policy", NULL, &v)) {
			o->policy = v;
		} else {
			args_error(a, "unknown option '%s' (see --help)", a->argv[a->i]);
			return 2;
		}
	}
	if (!o->model || !o->prompt) {
		args_error(a, "-m MODEL and -p PROMPT (or -f FILE) are required (see --help)");
		return 2;
	}
	if (!o->seed_given && getrandom(&o->sp.seed, sizeof(o->sp.seed), 0) != sizeof(o->sp.seed))
		o->sp.seed = (uint64_t)time(NULL);
	return 0;
}

struct loaded {
	struct ajar_model *model;
	struct ajar_context *ctx;
	int32_t *tokens;
	size_t n_tokens;
};

static void loaded_free(struct loaded *l)
{
	free(l->tokens);
	ajar_context_free(l->ctx);
	ajar_model_free(l->model);
}

/* Loads the model, makes a one-sequence context and tokenizes the prompt. */
static int load_all(struct args *a, const struct run_opts *o, struct loaded *l)
{
	const struct ajar_hparams *hp;
	struct ajar_context_params cp = { 0 };

	memset(l, 0, sizeof(*l));
	if (ajar_model_load(o->model, &l->model)) {
		args_fail(a);
		return 1;
	}
	hp = ajar_model_hparams(l->model);
	cp.n_ctx = (uint32_t)o->n_ctx;
	cp.n_seq = 1;
	cp.n_threads = (int)o->n_threads;
	cp.cache_type = o->cache_type;
	if (o->n_ctx > (long long)hp->n_ctx_train)
		fprintf(stderr, "ajar %s: warning: --ctx %lld is larger than the model's training context %u\n", a->cmd,
			o->n_ctx, hp->n_ctx_train);
	if (ajar_context_new(l->model, &cp, &l->ctx) ||
	    vocab_tokenize(ajar_model_vocab(l->model), o->prompt, strlen(o->prompt), !o->no_bos, o->special,
			   &l->tokens, &l->n_tokens)) {
		args_fail(a);
		return 1;
	}
	if (l->n_tokens == 0) {
		args_error(a, "the prompt has no tokens (empty prompt with --no-bos?)");
		return 1;
	}
	if (l->n_tokens >= ajar_context_n_ctx(l->ctx)) {
		args_error(a, "the prompt has %zu tokens; the context holds %u (raise --ctx)", l->n_tokens,
			   ajar_context_n_ctx(l->ctx));
		return 1;
	}
	return 0;
}

static json_t *json_ids(const int32_t *ids, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_integer(ids[i]));
	return arr;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct text_sink {
	bool stream;  /* write to stdout as it comes */
	char *buf;    /* or collect (json) */
	size_t len, cap;
	bool oom;
};

static int on_text(void *user, const char *text, size_t len)
{
	struct text_sink *s = user;
	if (s->stream) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		size_t cap = (s->len + len + 1) * 2;
		char *p = realloc(s->buf, cap);
		if (!p) {
			s->oom = true;
			return 1;
		}
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, text, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct args a;
	struct run_opts o;
	struct loaded l;
	struct sampler *smp = NULL;
	struct gen_result res = { 0 };
	struct text_sink sink = { 0 };
	struct watermark_params wp;
	struct watermark *wm = NULL;
	struct logits_proc wm_proc;
	double z_threshold;
	int rc;

	args_init(&a, "run", argc, argv);
	if ((rc = parse_opts(&a, &o, true)))
		goto out_opts;
	if ((rc = load_all(&a, &o, &l)))
		goto out;
	if (sampler_new(&o.sp, (int32_t)ajar_model_hparams(l.model)->n_vocab, &smp)) {
		args_fail(&a);
		rc = 1;
		goto out;
	}
	struct gen_params gp = {
		.n_predict = (int32_t)o.n_predict, .stop = o.stop, .n_stop = o.n_stop, .ignore_eog = o.ignore_eos
	};
	if (o.watermark) {
		rc = cli_watermark_params(&a, o.policy, o.key_file, true, &wp, &z_threshold);
		if (!rc && watermark_new(&wp, (int32_t)ajar_model_hparams(l.model)->n_vocab, &wm)) {
			args_fail(&a);
			rc = 1;
		}
		sodium_memzero(wp.key, sizeof(wp.key));
		if (rc)
			goto out;
		wm_proc = watermark_proc(wm);
		gp.procs = &wm_proc;
		gp.n_procs = 1;
	}
	sink.stream = !o.json;
	if (sink.stream) {
		fputs(o.prompt, stdout);
		fflush(stdout);
	}
	double t0 = now_s();
	if (generate(l.ctx, 0, smp, l.tokens, l.n_tokens, &gp, on_text, &sink, &res) || sink.oom) {
		if (sink.stream)
			fputc('\n', stdout);
		args_fail(&a);
		rc = 1;
		goto out;
	}
	double dt = now_s() - t0;
	if (o.json) {
		json_t *obj = json_object();
		json_object_set_new(obj, "prompt_tokens", json_ids(l.tokens, l.n_tokens));
		json_object_set_new(obj, "tokens", json_ids(res.tokens, res.n_tokens));
		json_object_set_new(obj, "text", json_stringn(sink.buf ? sink.buf : "", sink.len));
		json_object_set_new(obj, "finish_reason", json_string(gen_finish_name(res.finish)));
		json_object_set_new(obj, "seed", json_integer((json_int_t)o.sp.seed));
		char *s = json_dumps(obj, JSON_COMPACT);
		json_decref(obj);
		if (!s) {
			args_error(&a, "could not encode the result as JSON");
			rc = 1;
			goto out;
		}
		puts(s);
		free(s);
	} else {
		fputc('\n', stdout);
		fflush(stdout); /* before the stats line on stderr */
		fprintf(stderr, "ajar run: %zu prompt + %zu generated tokens in %.2f s (%.1f tokens/s), stopped: %s\n",
			l.n_tokens, res.n_tokens, dt, dt > 0 ? (double)res.n_tokens / dt : 0.0,
			gen_finish_name(res.finish));
	}
	rc = 0;
out:
	free(res.tokens);
	free(sink.buf);
	sampler_free(smp);
	watermark_free(wm);
	loaded_free(&l);
out_opts:
	free(o.prompt_owned);
	return rc < 0 ? 0 : rc;
}

int cmd_logits(int argc, char **argv)
{
	struct args a;
	struct run_opts o;
	struct loaded l;
	float *logits = NULL;
	int rc;

	args_init(&a, "logits", argc, argv);
	if ((rc = parse_opts(&a, &o, false)))
		goto out_opts;
	if ((rc = load_all(&a, &o, &l)))
		goto out;
	uint32_t n_vocab = ajar_model_hparams(l.model)->n_vocab;
	logits = malloc(n_vocab * sizeof(float));
	if (!logits || ajar_decode_seq(l.ctx, 0, l.tokens, l.n_tokens, logits)) {
		if (!logits)
			ajar_errf(AJAR_ERR_NOMEM, "logits");
		args_fail(&a);
		rc = 1;
		goto out;
	}
	json_t *obj = json_object();
	json_t *arr = json_array();
	/* JSON has no NaN or infinity: such a logit is written as null. */
	for (uint32_t i = 0; i < n_vocab; i++)
		json_array_append_new(arr, isfinite(logits[i]) ? json_real(logits[i]) : json_null());
	json_object_set_new(obj, "tokens", json_ids(l.tokens, l.n_tokens));
	json_object_set_new(obj, "logits", arr);
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(obj);
	if (!s) {
		args_error(&a, "could not encode the result as JSON");
		rc = 1;
		goto out;
	}
	puts(s);
	free(s);
	rc = 0;
out:
	free(logits);
	loaded_free(&l);
out_opts:
	free(o.prompt_owned);
	return rc < 0 ? 0 : rc;
}
