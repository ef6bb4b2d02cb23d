/*
 * train_run.c - the training loop (train_run.h says what a run does).
 *
 * Layout: options and hyperparameter text; data (tokenizer, tokens, splits);
 * batches and validation; checkpoint save and restore; the loop.
 *
 * Everything a step depends on is (weights, m, v, step, rng): the batch of
 * step s is drawn from the RNG state after step s - 1, so saving those five
 * is enough for a resumed run to repeat an uninterrupted one exactly.
 */
#include "train/train_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "train/adamw.h"
#include "train/bpe_train.h"
#include "train/checkpoint.h"
#include "train/train_model.h"

/* Largest data file read at once, as `ajar train-tokenizer` takes it. */
#define TRAIN_FILE_MAX ((size_t)1 << 30)
/* Validation windows evaluated at most: enough for a steady number, few
 * enough that evaluating costs a few steps' time. */
#define TRAIN_VAL_MAX_WINDOWS 64
#define TRAIN_GRAD_CLIP 1.0

void train_run_opts_default(struct train_run_opts *o)
{
	*o = (struct train_run_opts){ .dim = 64, .n_layers = 2, .n_heads = 4, .n_ctx = 64, .vocab_size = 512,
				      .steps = 200, .batch = 8, .accum = 1, .eval_every = 20, .ckpt_every = 20,
				      .lr = 1e-3f, .seed = 1, .n_threads = 1, .write_gguf = true };
}

/* The state of one run; every pointer owned and freed by run_free. */
struct run {
	const struct train_run_opts *o;
	struct gguf_file *vocab_file; /* the tokenizer GGUF, open until the model is written */
	struct ajar_vocab *vocab;
	int32_t *tokens;              /* (n_tokens) all data; the last n_val are validation */
	size_t n_tokens, n_val;
	struct train_model *model;
	struct adamw opt;
	bool opt_ready;
	struct adamw_tensor *at;      /* (n_tensors) for adamw_step */
	float **grads;                /* (n_tensors) for grad_clip */
	size_t *sizes;                /* (n_tensors) */
	int32_t *batch;               /* (batch, n_ctx + 1) one micro-batch */
	uint64_t rng;                 /* splitmix64 state: which windows the next step trains on */
	uint64_t step;                /* optimizer steps done */
	char meta[512];               /* the hyperparameters and a checksum of the tokens, as the
				       * checkpoint stores them: a resumed run must see the same data */
	FILE *log;
};

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static enum ajar_err check_opts(const struct train_run_opts *o)
{
	if (!o->data || o->n_data < 1 || !o->out)
		return ajar_errf(AJAR_ERR_INVALID, "at least one data file and an output path are required");
	if (o->dim < 1 || o->n_layers < 1 || o->n_heads < 1 || o->n_ctx < 1 || o->steps < 1 || o->batch < 1 ||
	    o->accum < 1 || o->eval_every < 1 || o->ckpt_every < 1 || o->stop_at < 0 || o->stop_at > o->steps ||
	    o->n_threads < 0 || o->n_threads > TRAIN_MAX_THREADS)
		return ajar_errf(AJAR_ERR_INVALID, "dim, layers, heads, ctx, steps, batch, accum, eval and "
						   "checkpoint intervals must be at least 1 (and stop_at <= steps, "
						   "threads 0..256)");
	if (!(o->lr > 0 && o->lr < 1))
		return ajar_errf(AJAR_ERR_INVALID, "learning rate %g is not in (0, 1)", (double)o->lr);
	if (!o->vocab_path && (o->vocab_size < (int)BPE_TRAIN_MIN_VOCAB || o->vocab_size > (int)BPE_TRAIN_MAX_VOCAB))
		return ajar_errf(AJAR_ERR_INVALID, "vocabulary size %d is not in %u..%u", o->vocab_size,
				 BPE_TRAIN_MIN_VOCAB, BPE_TRAIN_MAX_VOCAB);
	return AJAR_OK;
}

/* ---- data ------------------------------------------------------------------ */

static enum ajar_err read_whole(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	enum ajar_err err = AJAR_OK;

	if (!f)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb;
			if (cap >= TRAIN_FILE_MAX) {
				err = ajar_errf(AJAR_ERR_LIMIT, "%s: larger than %zu bytes", path, TRAIN_FILE_MAX);
				goto out;
			}
			if (!(nb = realloc(buf, ncap + 1))) {
				err = ajar_errf(AJAR_ERR_NOMEM, "%s: no memory", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				err = ajar_errf(AJAR_ERR_IO, "%s: read failed", path);
			break;
		}
	}
out:
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return AJAR_OK;
}

/* Trains the BPE on every file and opens it as a GGUF: written beside out,
 * mapped, and unlinked at once (the mapping stays valid), so the run reads
 * the tokenizer exactly as any later user of the model will. */
static enum ajar_err train_tokenizer(struct run *r)
{
	const struct train_run_opts *o = r->o;
	struct bpe_trainer *t = NULL;
	char path[4096];
	enum ajar_err err;

	if (snprintf(path, sizeof(path), "%s.vocab.tmp", o->out) >= (int)sizeof(path))
		return ajar_errf(AJAR_ERR_LIMIT, "output path too long");
	if ((err = bpe_train_new(&t)))
		return err;
	for (int i = 0; i < o->n_data; i++) {
		char *text = NULL;
		size_t len = 0;
		if ((err = read_whole(o->data[i], &text, &len)))
			goto out;
		err = bpe_train_feed(t, text, len);
		free(text);
		if (err)
			goto out;
	}
	if ((err = bpe_train_run(t, (uint32_t)o->vocab_size)) || (err = bpe_train_write(t, path)))
		goto out;
	err = gguf_open(path, &r->vocab_file);
	unlink(path);
out:
	bpe_train_free(t);
	return err;
}

/* Appends ids to r->tokens, growing it. */
static enum ajar_err append_tokens(struct run *r, size_t *cap, const int32_t *ids, size_t n)
{
	if (n == 0) /* an empty file: r->tokens may still be NULL */
		return AJAR_OK;
	if (r->n_tokens + n > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		while (ncap < r->n_tokens + n)
			ncap *= 2;
		int32_t *nt = realloc(r->tokens, ncap * sizeof(*nt));
		if (!nt)
			return ajar_errf(AJAR_ERR_NOMEM, "no memory for %zu tokens", ncap);
		r->tokens = nt;
		*cap = ncap;
	}
	memcpy(r->tokens + r->n_tokens, ids, n * sizeof(*ids));
	r->n_tokens += n;
	return AJAR_OK;
}

/* Tokenizes every file, each followed by EOS so windows that cross files
 * see where a document ends, and splits off the validation tokens. */
static enum ajar_err load_tokens(struct run *r)
{
	const struct train_run_opts *o = r->o;
	size_t cap = 0;
	int32_t eos = vocab_eos(r->vocab);
	enum ajar_err err;

	for (int i = 0; i < o->n_data; i++) {
		char *text = NULL;
		size_t len = 0, n = 0;
		int32_t *ids = NULL;
		if ((err = read_whole(o->data[i], &text, &len)))
			return err;
		err = vocab_tokenize(r->vocab, text, len, false, false, &ids, &n);
		free(text);
		if (!err)
			err = append_tokens(r, &cap, ids, n);
		free(ids);
		if (!err && eos >= 0)
			err = append_tokens(r, &cap, &eos, 1);
		if (err)
			return err;
	}
	r->n_val = r->n_tokens / 20;
	size_t need = (size_t)o->n_ctx + 1;
	if (r->n_val < need || r->n_tokens - r->n_val < need + 1)
		return ajar_errf(AJAR_ERR_INVALID,
				 "the data is %zu tokens; ctx %d needs at least %zu (5%% held out for validation "
				 "must hold one window of ctx + 1)", r->n_tokens, o->n_ctx, need * 20);
	return AJAR_OK;
}

static enum ajar_err load_data(struct run *r)
{
	enum ajar_err err;
	if (r->o->vocab_path)
		err = gguf_open(r->o->vocab_path, &r->vocab_file);
	else
		err = train_tokenizer(r);
	if (err || (err = vocab_load(r->vocab_file, &r->vocab)))
		return err;
	return load_tokens(r);
}

/* ---- batches and validation ------------------------------------------------- */

/* Fills r->batch with batch random windows of the training split. */
static void draw_batch(struct run *r)
{
	size_t win = (size_t)r->o->n_ctx + 1;
	size_t starts = r->n_tokens - r->n_val - win + 1; /* >= 1 by load_tokens */
	for (int b = 0; b < r->o->batch; b++) {
		size_t s = (size_t)(splitmix64(&r->rng) % starts);
		memcpy(r->batch + (size_t)b * win, r->tokens + s, win * sizeof(int32_t));
	}
}

/* Mean loss over up to TRAIN_VAL_MAX_WINDOWS windows that tile the
 * validation split, in batches of up to batch rows. */
static enum ajar_err validate(struct run *r, float *loss)
{
	int ctx = r->o->n_ctx;
	size_t win = (size_t)ctx + 1;
	size_t n_win = (r->n_val - 1) / (size_t)ctx; /* consecutive windows share one token */
	const int32_t *val = r->tokens + (r->n_tokens - r->n_val);
	double sum = 0;

	if (n_win > TRAIN_VAL_MAX_WINDOWS)
		n_win = TRAIN_VAL_MAX_WINDOWS;
	for (size_t w = 0; w < n_win;) {
		int rows = 0;
		for (; rows < r->o->batch && w < n_win; rows++, w++)
			memcpy(r->batch + (size_t)rows * win, val + w * (size_t)ctx, win * sizeof(int32_t));
		float l = 0;
		enum ajar_err err = train_forward(r->model, r->batch, rows, ctx, &l);
		if (err)
			return err;
		sum += (double)l * rows;
	}
	*loss = (float)(sum / (double)n_win);
	return AJAR_OK;
}

/* ---- model, optimizer, checkpoint ------------------------------------------ */

static enum ajar_err setup_model(struct run *r)
{
	const struct train_run_opts *o = r->o;
	struct train_config c = {
		.n_vocab = vocab_n_tokens(r->vocab), .dim = o->dim, .n_layers = o->n_layers, .n_heads = o->n_heads,
		.n_kv_heads = o->n_heads,
		/* Llama's 8/3 dim SwiGLU width, rounded up to a multiple of 32 for the kernels' blocks */
		.hidden = (int)(((long long)o->dim * 8 / 3 + 31) / 32 * 32),
		.n_ctx = o->n_ctx, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
	};
	enum ajar_err err = train_model_create(&c, o->batch, o->seed, &r->model);
	if (err)
		return err;
	if (o->n_threads > 1) {
		err = train_model_set_threads(r->model, o->n_threads);
		if (err)
			return err;
	}
	size_t n = r->model->n_tensors;
	r->at = calloc(n, sizeof(*r->at));
	r->grads = calloc(n, sizeof(*r->grads));
	r->sizes = calloc(n, sizeof(*r->sizes));
	r->batch = calloc((size_t)o->batch * ((size_t)o->n_ctx + 1), sizeof(int32_t));
	if (!r->at || !r->grads || !r->sizes || !r->batch)
		return ajar_errf(AJAR_ERR_NOMEM, "no memory for the optimizer");
	train_model_adamw_tensors(r->model, r->at);
	for (size_t i = 0; i < n; i++) {
		r->grads[i] = r->model->tensors[i].grad;
		r->sizes[i] = r->model->tensors[i].n;
	}
	if ((err = adamw_init(&r->opt, r->sizes, n)))
		return err;
	r->opt_ready = true;
	/* the batch sampler's seed differs from the weights' so the two streams are independent */
	r->rng = o->seed ^ 0x5851f42d4c957f2dull;
	int len = snprintf(r->meta, sizeof(r->meta),
			   "dim=%d\nlayers=%d\nheads=%d\nctx=%d\nvocab=%d\nhidden=%d\nsteps=%d\nbatch=%d\n"
			   "accum=%d\nlr=%.9g\nseed=%llu\ntokens=%zu\ndata=%016llx\n",
			   o->dim, o->n_layers, o->n_heads, o->n_ctx, c.n_vocab, c.hidden, o->steps, o->batch,
			   o->accum, (double)o->lr, (unsigned long long)o->seed, r->n_tokens,
			   (unsigned long long)checkpoint_checksum(r->tokens, r->n_tokens * sizeof(int32_t)));
	if (len < 0 || (size_t)len >= sizeof(r->meta))
		return ajar_errf(AJAR_ERR_LIMIT, "hyperparameter text too long");
	return AJAR_OK;
}

/* The checkpoint's tensors: each weight under its GGUF name, then "m." and
 * "v." + name for its AdamW moments. names: (3 n_tensors, 64) caller's. */
static void ckpt_tensors(struct run *r, struct checkpoint_tensor *ct, char (*names)[64])
{
	size_t n = r->model->n_tensors;
	for (size_t i = 0; i < n; i++) {
		const struct train_tensor *t = &r->model->tensors[i];
		snprintf(names[i], 64, "%s", t->name);
		snprintf(names[n + i], 64, "m.%s", t->name);
		snprintf(names[2 * n + i], 64, "v.%s", t->name);
		ct[i] = (struct checkpoint_tensor){ names[i], t->data, t->n };
		ct[n + i] = (struct checkpoint_tensor){ names[n + i], adamw_m(&r->opt, i), t->n };
		ct[2 * n + i] = (struct checkpoint_tensor){ names[2 * n + i], adamw_v(&r->opt, i), t->n };
	}
}

static char *ckpt_path(const struct train_run_opts *o)
{
	size_t len = strlen(o->out) + sizeof(".ckpt");
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%s.ckpt", o->out);
	return p;
}

/* Loads the run's state from path (load) or saves it there. */
static enum ajar_err ckpt_io(struct run *r, const char *path, bool load)
{
	size_t n = r->model->n_tensors;
	struct checkpoint_tensor *ct = calloc(3 * n, sizeof(*ct));
	char(*names)[64] = calloc(3 * n, sizeof(*names));
	struct checkpoint_file *f = NULL;
	enum ajar_err err = AJAR_OK;

	if (!ct || !names) {
		err = ajar_errf(AJAR_ERR_NOMEM, "no memory for the checkpoint");
		goto out;
	}
	ckpt_tensors(r, ct, names);
	if (!load) {
		struct checkpoint_state st = { .step = r->step, .rng_state = r->rng, .data_offset = r->n_tokens };
		err = checkpoint_write(path, &st, r->meta, strlen(r->meta), ct, 3 * n);
		goto out;
	}
	if ((err = checkpoint_open(path, &f)))
		goto out;
	size_t meta_len = 0;
	const char *meta = checkpoint_meta(f, &meta_len);
	const struct checkpoint_state *st = checkpoint_get_state(f);
	if (meta_len != strlen(r->meta) || memcmp(meta, r->meta, meta_len) != 0 || st->data_offset != r->n_tokens) {
		size_t at = 0, line = 0;
		while (at < meta_len && meta[at] == r->meta[at]) /* r->meta ends in NUL: stops there */
			if (meta[at++] == '\n')
				line = at;
		err = ajar_errf(AJAR_ERR_INVALID, "%s was made with other settings or data: its %.*s, this run's %.*s",
				path, (int)strcspn(meta + line, "\n"), meta + line, (int)strcspn(r->meta + line, "\n"),
				r->meta + line);
		goto out;
	}
	if (st->step > (uint64_t)r->o->steps) {
		err = ajar_errf(AJAR_ERR_INVALID, "%s is at step %llu, past the run's %d steps", path,
				(unsigned long long)st->step, r->o->steps);
		goto out;
	}
	if ((err = checkpoint_read_tensors(f, ct, 3 * n)))
		goto out;
	r->step = st->step;
	r->opt.step = st->step;
	r->rng = st->rng_state;
out:
	checkpoint_close(f);
	free(names);
	free(ct);
	return err;
}

/* ---- the loop --------------------------------------------------------------- */

/* One optimizer step: accum micro-batches, clipping, AdamW. */
static enum ajar_err train_step(struct run *r, float lr, float *loss)
{
	const struct train_run_opts *o = r->o;
	double sum = 0;
	enum ajar_err err;

	train_model_zero_grads(r->model);
	for (int a = 0; a < o->accum; a++) {
		float l = 0;
		draw_batch(r);
		if ((err = train_model_accumulate(r->model, r->batch, o->batch, o->n_ctx, 1.0f / (float)o->accum, &l)))
			return err;
		sum += l;
	}
	*loss = (float)(sum / o->accum);
	double norm = grad_clip(r->grads, r->sizes, r->model->n_tensors, TRAIN_GRAD_CLIP);
	if (!isfinite(norm))
		return ajar_errf(AJAR_ERR_INVALID, "step %llu: the gradient is not finite (loss %g); try a lower --lr",
				 (unsigned long long)r->step + 1, (double)*loss);
	struct adamw_params hp = adamw_params_default();
	hp.lr = lr;
	return adamw_step(&r->opt, &hp, r->at, r->model->n_tensors);
}

static void log_row(struct run *r, uint64_t step, float lr, float train_loss, float val_loss, double tps)
{
	if (!r->log)
		return;
	fprintf(r->log, "%llu,", (unsigned long long)step);
	if (step > 0)
		fprintf(r->log, "%.9g,%.9g,", (double)lr, (double)train_loss);
	else
		fputs(",,", r->log);
	if (!isnan(val_loss))
		fprintf(r->log, "%.9g", (double)val_loss);
	fprintf(r->log, ",%.1f\n", tps);
	fflush(r->log);
}

static enum ajar_err run_loop(struct run *r, const char *ckpt, struct train_run_result *res)
{
	const struct train_run_opts *o = r->o;
	uint64_t total = (uint64_t)o->steps, stop = o->stop_at ? (uint64_t)o->stop_at : total;
	uint64_t warmup = total / 20 ? total / 20 : 1;
	double tokens_per_step = (double)o->batch * o->accum * o->n_ctx, busy = 0;
	uint64_t here = 0; /* steps taken in this process, for the rate */
	enum ajar_err err;

	while (r->step < stop) {
		struct train_progress p = { .total = total, .val_loss = NAN };
		p.lr = lr_at(r->step, warmup, total, o->lr, o->lr / 10);
		double t0 = now_s();
		if ((err = train_step(r, p.lr, &p.train_loss)))
			return err;
		busy += now_s() - t0;
		here++;
		p.step = ++r->step;
		if (o->losses)
			o->losses[p.step - 1] = p.train_loss;
		if (p.step % (uint64_t)o->eval_every == 0 || p.step == stop) {
			if ((err = validate(r, &p.val_loss)))
				return err;
			if (isnan(res->first_val_loss))
				res->first_val_loss = p.val_loss;
			res->last_val_loss = p.val_loss;
		}
		p.tokens_per_s = busy > 0 ? tokens_per_step * (double)here / busy : 0;
		p.eta_s = busy / (double)here * (double)(stop - p.step);
		res->tokens_per_s = p.tokens_per_s;
		res->last_train_loss = p.train_loss;
		log_row(r, p.step, p.lr, p.train_loss, p.val_loss, p.tokens_per_s);
		if (p.step % (uint64_t)o->ckpt_every == 0 || p.step == stop)
			if ((err = ckpt_io(r, ckpt, false)))
				return err;
		if (o->on_step)
			o->on_step(o->user, &p);
	}
	return AJAR_OK;
}

static void run_free(struct run *r)
{
	if (r->log)
		fclose(r->log);
	if (r->opt_ready)
		adamw_free(&r->opt);
	free(r->batch);
	free(r->sizes);
	free(r->grads);
	free(r->at);
	train_model_free(r->model);
	free(r->tokens);
	vocab_free(r->vocab);
	gguf_close(r->vocab_file);
}

/* Before step 1 of a fresh run: the untrained model's validation loss, the
 * baseline the curve starts from. A resumed run appends to the log. */
static enum ajar_err start(struct run *r, struct train_run_result *res)
{
	const struct train_run_opts *o = r->o;
	enum ajar_err err;

	if (o->resume_path && (err = ckpt_io(r, o->resume_path, true)))
		return err;
	if (o->log_path) {
		r->log = fopen(o->log_path, o->resume_path ? "a" : "w");
		if (!r->log)
			return ajar_errf(AJAR_ERR_IO, "%s: %s", o->log_path, strerror(errno));
		if (!o->resume_path)
			fputs("step,lr,train_loss,val_loss,tokens_per_s\n", r->log);
	}
	if (!o->resume_path) {
		float val = 0;
		if ((err = validate(r, &val)))
			return err;
		res->first_val_loss = res->last_val_loss = val;
		log_row(r, 0, 0, 0, val, 0);
	}
	return AJAR_OK;
}

enum ajar_err train_run(const struct train_run_opts *o, struct train_run_result *res)
{
	struct run r = { .o = o };
	char *ckpt = NULL;
	enum ajar_err err;

	*res = (struct train_run_result){ .first_val_loss = NAN, .last_val_loss = NAN, .last_train_loss = NAN };
	if ((err = check_opts(o)))
		return err;
	if (!(ckpt = ckpt_path(o))) {
		err = ajar_errf(AJAR_ERR_NOMEM, "no memory");
		goto out;
	}
	if ((err = load_data(&r)) || (err = setup_model(&r)))
		goto out;
	res->n_val_tokens = r.n_val;
	res->n_train_tokens = r.n_tokens - r.n_val;
	res->n_vocab = r.model->cfg.n_vocab;
	res->n_params = r.model->n_params;
	if ((err = start(&r, res)) || (err = run_loop(&r, ckpt, res)))
		goto out;
	if (o->write_gguf && (!o->stop_at || o->stop_at == o->steps))
		err = train_gguf_write(r.model, r.vocab_file, o->out);
out:
	free(ckpt);
	run_free(&r);
	return err;
}
