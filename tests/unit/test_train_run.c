/*
 * test_train_run.c - the training loop end to end on a tiny model (dim 32,
 * 2 layers, 2 heads, ctx 32, 300-token BPE) and a few KB of text the test
 * writes: validation loss falls, a resumed run repeats an uninterrupted one
 * bit for bit, the GGUF loads and decodes in ajar (and `ajar run` runs it
 * when $AJAR_BIN is set), a seed fixes the run, and bad inputs are refused
 * with one line.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ajar/model.h"
#include "ajar/vocab.h"
#include "check.h"
#include "spawn_util.h"
#include "train/train_run.h"

static char dir[64];
static char corpus[128];

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* ~12 KB of sentences drawn from a small grammar: regular enough that a
 * tiny model learns it in a few dozen steps. */
static void write_corpus(void)
{
	static const char *subj[] = { "the cat", "a dog", "the old man", "my sister", "the bird" };
	static const char *verb[] = { "sees", "likes", "finds", "walks to", "waits for" };
	static const char *obj[] = { "the house.", "a red ball.", "the river.", "the small garden.", "her friend." };
	uint64_t s = 42;
	FILE *f;

	path_in(corpus, sizeof(corpus), "corpus.txt");
	f = fopen(corpus, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	for (int i = 0; i < 480; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		fprintf(f, "%s %s %s%s", subj[(s >> 33) % 5], verb[(s >> 40) % 5], obj[(s >> 50) % 5],
			i % 6 == 5 ? "\n" : " ");
	}
	fclose(f);
}

static const char *files[1];

static void tiny_opts(struct train_run_opts *o, const char *out, int steps)
{
	train_run_opts_default(o);
	files[0] = corpus;
	o->data = files;
	o->n_data = 1;
	o->out = out;
	o->dim = 32;
	o->n_layers = 2;
	o->n_heads = 2;
	o->n_ctx = 32;
	o->vocab_size = 300;
	o->batch = 4;
	o->steps = steps;
	o->lr = 5e-3f;
	o->eval_every = 20;
	o->ckpt_every = 20;
	o->seed = 7;
}

/* The model (of n_vocab <= 300 tokens) decodes one position in ajar with
 * finite logits. */
static void check_loads(const char *path, int n_vocab)
{
	struct ajar_model *m = NULL;
	struct ajar_context *ctx = NULL;
	int32_t *ids = NULL;
	size_t n = 0;

	CHECK_OK(ajar_model_load(path, &m));
	if (!m)
		return;
	CHECK_OK(vocab_tokenize(ajar_model_vocab(m), "the cat sees", 12, false, false, &ids, &n));
	CHECK(n >= 1);
	struct ajar_context_params cp = { .n_ctx = 32, .n_seq = 1, .n_batch = 32, .n_threads = 1 };
	CHECK_OK(ajar_context_new(m, &cp, &ctx));
	if (ctx && n >= 1) {
		int32_t pos = 0, seq = 0;
		bool want = true;
		float logits[300];
		struct ajar_batch b = { .n = 1, .tokens = ids, .pos = &pos, .seq = &seq, .want_logits = &want };
		CHECK_OK(ajar_decode(ctx, &b, logits));
		int bad = 0;
		for (int i = 0; i < n_vocab; i++)
			bad += !isfinite(logits[i]);
		CHECK_EQ_INT(bad, 0);
	}
	free(ids);
	ajar_context_free(ctx);
	ajar_model_free(m);
}

static void test_trains_and_loads(void)
{
	struct train_run_opts o;
	struct train_run_result r;
	char out[128], log[128];

	path_in(out, sizeof(out), "m.gguf");
	path_in(log, sizeof(log), "loss.csv");
	tiny_opts(&o, out, 60);
	o.log_path = log;
	CHECK_OK(train_run(&o, &r));
	printf("train: %llu train / %llu val tokens, vocab %d, %zu params, val loss %.4f -> %.4f, %.0f tokens/s\n",
	       (unsigned long long)r.n_train_tokens, (unsigned long long)r.n_val_tokens, r.n_vocab, r.n_params,
	       (double)r.first_val_loss, (double)r.last_val_loss, r.tokens_per_s);
	CHECK_EQ_INT(r.n_vocab, 300);
	CHECK_MSG(r.last_val_loss < r.first_val_loss - 1.0f, "val loss %g -> %g", (double)r.first_val_loss,
		  (double)r.last_val_loss);
	/* the log: header, step 0, and one row a step */
	FILE *f = fopen(log, "r");
	CHECK(f != NULL);
	if (f) {
		int lines = 0, c;
		while ((c = fgetc(f)) != EOF)
			lines += c == '\n';
		fclose(f);
		CHECK_EQ_INT(lines, 62);
	}
	check_loads(out, 300);
	if (getenv("AJAR_BIN")) {
		const char *args[] = { "run", "-m", out, "-p", "the cat", "-n", "8", NULL };
		struct run_result rr = ajar_spawn(args, NULL, 0);
		CHECK_MSG(rr.status == 0, "ajar run exit %d: %s", rr.status, rr.err);
		free(rr.out);
	}
}

/* 40 steps straight (one thread) against 20, a checkpoint, and a resumed
 * run to 40 (two threads). */
static void test_resume(void)
{
	struct train_run_opts o;
	struct train_run_result r;
	char out_a[128], out_b[128], ckpt[160];
	float la[40] = { 0 }, lb[40] = { 0 };

	path_in(out_a, sizeof(out_a), "a.gguf");
	path_in(out_b, sizeof(out_b), "b.gguf");
	snprintf(ckpt, sizeof(ckpt), "%s.ckpt", out_b);
	tiny_opts(&o, out_a, 40);
	o.write_gguf = false;
	o.losses = la;
	CHECK_OK(train_run(&o, &r));
	float final_a = r.last_val_loss;
	tiny_opts(&o, out_b, 40);
	o.n_threads = 2; /* run b, stopped and resumed, on two threads: nothing may change */
	o.write_gguf = false;
	o.stop_at = 20;
	o.losses = lb;
	CHECK_OK(train_run(&o, &r));
	o.stop_at = 0;
	o.resume_path = ckpt;
	CHECK_OK(train_run(&o, &r));
	CHECK(memcmp(la, lb, sizeof(la)) == 0);
	int differ = 0;
	for (int i = 0; i < 40; i++)
		differ += memcmp(&la[i], &lb[i], sizeof(float)) != 0;
	printf("resume: %d of 40 step losses differ; step 40 loss %.6f / %.6f, final val %.6f / %.6f\n", differ,
	       (double)la[39], (double)lb[39], (double)final_a, (double)r.last_val_loss);
	CHECK(memcmp(&final_a, &r.last_val_loss, sizeof(float)) == 0);
	/* a checkpoint of other settings is refused */
	o.batch = 3;
	enum ajar_err err = train_run(&o, &r);
	CHECK_EQ_INT(err, AJAR_ERR_INVALID);
	CHECK(strchr(ajar_err_msg(), '\n') == NULL);
}

/* The same with two accumulated micro-batches a step and the tokenizer
 * taken from the GGUF test_trains_and_loads wrote (m.gguf). */
static void test_resume_accum_vocab(void)
{
	struct train_run_opts o;
	struct train_run_result r;
	char vocab[128], out_a[128], out_b[128], ckpt[160];
	float la[20] = { 0 }, lb[20] = { 0 };

	path_in(vocab, sizeof(vocab), "m.gguf");
	path_in(out_a, sizeof(out_a), "va.gguf");
	path_in(out_b, sizeof(out_b), "vb.gguf");
	snprintf(ckpt, sizeof(ckpt), "%s.ckpt", out_b);
	tiny_opts(&o, out_a, 20);
	o.vocab_path = vocab;
	o.accum = 2;
	o.eval_every = o.ckpt_every = 5;
	o.losses = la;
	CHECK_OK(train_run(&o, &r));
	CHECK_EQ_INT(r.n_vocab, 300);
	o.out = out_b;
	o.losses = lb;
	o.stop_at = 7; /* between checkpoints: the stop writes its own */
	CHECK_OK(train_run(&o, &r));
	CHECK(access(out_b, F_OK) != 0); /* no model before the last step */
	o.stop_at = 0;
	o.resume_path = ckpt;
	CHECK_OK(train_run(&o, &r));
	CHECK(memcmp(la, lb, sizeof(la)) == 0);
	check_loads(out_b, 300);
}

static void test_determinism(void)
{
	struct train_run_opts o;
	struct train_run_result r1, r2, r3;
	char out[128];

	path_in(out, sizeof(out), "d.gguf");
	tiny_opts(&o, out, 10);
	o.write_gguf = false;
	CHECK_OK(train_run(&o, &r1));
	CHECK_OK(train_run(&o, &r2));
	o.seed = 8;
	CHECK_OK(train_run(&o, &r3));
	CHECK(memcmp(&r1.last_train_loss, &r2.last_train_loss, sizeof(float)) == 0);
	CHECK(r1.last_train_loss != r3.last_train_loss);
}

/* err with a one-line message. */
static void expect_err(const struct train_run_opts *o, enum ajar_err want, const char *what)
{
	struct train_run_result r;
	enum ajar_err err = train_run(o, &r);
	CHECK_MSG(err == want, "%s: got %d want %d", what, (int)err, (int)want);
	CHECK_MSG(strchr(ajar_err_msg(), '\n') == NULL, "%s: message has a newline", what);
	printf("%s: %s\n", what, ajar_err_msg());
}

static void test_bad_inputs(void)
{
	struct train_run_opts o;
	char out[128], missing[128], empty[128], bad[128];
	static const char *one[1];

	path_in(out, sizeof(out), "bad.gguf");
	path_in(missing, sizeof(missing), "missing.txt");
	path_in(empty, sizeof(empty), "empty.txt");
	path_in(bad, sizeof(bad), "corrupt.ckpt");
	FILE *f = fopen(empty, "w");
	if (f)
		fclose(f);
	f = fopen(bad, "w");
	if (f) {
		fputs("AJARCKPT not really a checkpoint", f);
		fclose(f);
	}
	tiny_opts(&o, out, 5);
	one[0] = missing;
	o.data = one;
	expect_err(&o, AJAR_ERR_IO, "missing data");
	one[0] = empty;
	expect_err(&o, AJAR_ERR_INVALID, "empty data");
	tiny_opts(&o, out, 5);
	o.n_ctx = 0;
	expect_err(&o, AJAR_ERR_INVALID, "ctx 0");
	tiny_opts(&o, out, 5);
	o.n_ctx = 4096;
	expect_err(&o, AJAR_ERR_INVALID, "ctx past the data");
	tiny_opts(&o, out, 5);
	o.resume_path = bad;
	expect_err(&o, AJAR_ERR_FORMAT, "corrupt checkpoint");
	CHECK(access(out, F_OK) != 0);
	if (getenv("AJAR_BIN")) {
		const char *args[] = { "train", "--data", corpus, "--out", out, "--ctx", "0", NULL };
		struct run_result rr = ajar_spawn(args, NULL, 0);
		CHECK_EQ_INT(rr.status, 2);
		CHECK_EQ_INT(count_lines(rr.err), 1);
		free(rr.out);
	}
}

/* `ajar train` itself: a run, then the same run resumed from its final
 * checkpoint (nothing left to do but write the model again). */
static void test_cli(void)
{
	char out[128], ckpt[160];

	if (!getenv("AJAR_BIN"))
		return;
	path_in(out, sizeof(out), "cli.gguf");
	snprintf(ckpt, sizeof(ckpt), "%s.ckpt", out);
	const char *args[] = { "train", "--data", corpus, "--out", out, "--dim", "32", "--layers", "1", "--heads",
			       "2", "--ctx", "16", "--vocab-size", "280", "--steps", "4", "--batch", "2",
			       "--resume", ckpt, NULL };
	args[19] = NULL; /* the first run has nothing to resume */
	struct run_result rr = ajar_spawn(args, NULL, 0);
	CHECK_MSG(rr.status == 0, "ajar train exit %d: %s", rr.status, rr.err);
	CHECK(rr.out && strstr(rr.out, "wrote ") != NULL);
	free(rr.out);
	args[19] = "--resume";
	rr = ajar_spawn(args, NULL, 0);
	CHECK_MSG(rr.status == 0, "ajar train --resume exit %d: %s", rr.status, rr.err);
	free(rr.out);
	check_loads(out, 280);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ajar_test_train_run_%ld", (long)getpid());
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		return 1;
	}
	write_corpus();
	RUN(test_trains_and_loads);
	RUN(test_resume);
	RUN(test_resume_accum_vocab);
	RUN(test_determinism);
	RUN(test_bad_inputs);
	RUN(test_cli);
	int rc = check_summary();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
