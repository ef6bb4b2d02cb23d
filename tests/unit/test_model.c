/*
 * Unit tests of the model module: the primitive ops against direct formulas,
 * the stop-string matcher, batch validation (bad batches are refused and
 * change nothing), multi-sequence batches equal to separate runs, prefix
 * truncation, and the qwen2 path (NeoX RoPE) checked by an exact
 * equivalence: stories260K with its q/k rows re-ordered per head from
 * interleaved to split halves computes the same function under NeoX RoPE.
 */
#include "ajar/generate.h"
#include "ajar/gguf.h"
#include "ajar/model.h"
#include "ajar/sampler.h"
#include "ajar/vocab.h"
#include "check.h"
#include "model/model_int.h"

#include <stdlib.h>
#include <unistd.h>

static char model_path[4096];

static void test_dot(void)
{
	float a[37], b[37];
	double ref = 0;
	for (int i = 0; i < 37; i++) {
		a[i] = (float)(i % 7) - 3.0f;
		b[i] = 0.5f * (float)i;
		ref += (double)a[i] * b[i];
	}
	CHECK_NEAR(ops_dot_f32(a, b, 37), ref, 1e-4);
	CHECK_NEAR(ops_dot_f32(a, b, 0), 0, 0);
}

static void test_rmsnorm_softmax(void)
{
	float x[4] = { 1, -2, 3, -4 }, w[4] = { 1, 2, 1, 0.5f }, out[4];
	double rms = sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
	ops_rmsnorm(out, x, w, 4, 1e-5f);
	for (int i = 0; i < 4; i++)
		CHECK_NEAR(out[i], x[i] / rms * w[i], 1e-6);

	float s[3] = { 1, 2, 3 };
	double z = exp(1) + exp(2) + exp(3);
	ops_softmax(s, 3);
	CHECK_NEAR(s[0], exp(1) / z, 1e-6);
	CHECK_NEAR(s[2], exp(3) / z, 1e-6);
}

static void test_rope(void)
{
	/* One head of 8 dims, n_rot 8, position 3, base 10000. */
	float x[8], y[8];
	for (int i = 0; i < 8; i++)
		x[i] = y[i] = (float)(i + 1);
	ops_rope(x, 1, 8, 8, 3, 10000.0f, 1.0f, AJAR_ROPE_NORM, NULL);
	ops_rope(y, 1, 8, 8, 3, 10000.0f, 1.0f, AJAR_ROPE_NEOX, NULL);
	for (int i = 0; i < 4; i++) {
		double th = 3.0 * pow(10000.0, -2.0 * i / 8.0);
		/* normal: pairs (2i, 2i+1) */
		double a = 2 * i + 1, b = 2 * i + 2;
		CHECK_NEAR(x[2 * i], a * cos(th) - b * sin(th), 1e-4);
		CHECK_NEAR(x[2 * i + 1], a * sin(th) + b * cos(th), 1e-4);
		/* neox: pairs (i, i+4) */
		a = i + 1;
		b = i + 5;
		CHECK_NEAR(y[i], a * cos(th) - b * sin(th), 1e-4);
		CHECK_NEAR(y[i + 4], a * sin(th) + b * cos(th), 1e-4);
	}
	/* Linear scaling by 4 at position 12 equals position 3 unscaled. */
	float z[8];
	for (int i = 0; i < 8; i++)
		z[i] = (float)(i + 1);
	ops_rope(z, 1, 8, 8, 12, 10000.0f, 0.25f, AJAR_ROPE_NORM, NULL);
	for (int i = 0; i < 8; i++)
		CHECK_NEAR(z[i], x[i], 1e-4);
	/* Partial rotation leaves dims past n_rot alone. */
	float p[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	ops_rope(p, 1, 8, 4, 5, 10000.0f, 1.0f, AJAR_ROPE_NORM, NULL);
	CHECK(p[4] == 5 && p[5] == 6 && p[6] == 7 && p[7] == 8);
}

static void push_all(struct stop_matcher *sm, const char *const *pieces, size_t n, char *out, bool *stopped)
{
	out[0] = '\0';
	*stopped = false;
	for (size_t i = 0; i < n && !*stopped; i++) {
		const char *rel;
		size_t nr;
		CHECK_OK(stop_matcher_push(sm, pieces[i], strlen(pieces[i]), &rel, &nr, stopped));
		strncat(out, rel, nr);
	}
	if (!*stopped) {
		const char *rel;
		size_t nr;
		stop_matcher_flush(sm, &rel, &nr);
		strncat(out, rel, nr);
	}
}

static void test_stop_matcher(void)
{
	const char *stops[] = { "END", "\n\n" };
	struct stop_matcher sm;
	char out[256];
	bool stopped;

	/* A stop string split across pieces is caught, and nothing of it leaks. */
	const char *p1[] = { "hello E", "N", "D and more" };
	stop_matcher_init(&sm, stops, 2);
	push_all(&sm, p1, 3, out, &stopped);
	CHECK(stopped);
	CHECK_STR(out, "hello ");
	stop_matcher_free(&sm);

	/* A false start is released once it cannot match. */
	const char *p2[] = { "E", "N", "x", "!" };
	stop_matcher_init(&sm, stops, 2);
	push_all(&sm, p2, 4, out, &stopped);
	CHECK(!stopped);
	CHECK_STR(out, "ENx!");
	stop_matcher_free(&sm);

	/* The earliest stop wins; held text is flushed at the end. */
	const char *p3[] = { "a\n", "\nEND", "b" };
	stop_matcher_init(&sm, stops, 2);
	push_all(&sm, p3, 3, out, &stopped);
	CHECK(stopped);
	CHECK_STR(out, "a");
	stop_matcher_free(&sm);

	const char *p4[] = { "tail E" };
	stop_matcher_init(&sm, stops, 2);
	push_all(&sm, p4, 1, out, &stopped);
	CHECK(!stopped);
	CHECK_STR(out, "tail E");
	stop_matcher_free(&sm);
}

static void test_batch_validation(void)
{
	struct ajar_model *m = NULL;
	struct ajar_context *ctx = NULL;
	struct ajar_context_params cp = { .n_ctx = 16, .n_seq = 2, .n_batch = 4, .n_threads = 2 };
	CHECK_OK(ajar_model_load(model_path, &m));
	if (!m)
		return;
	CHECK_OK(ajar_context_new(m, &cp, &ctx));
	float *logits = malloc(512 * sizeof(float));
	int32_t tok[5] = { 1, 403, 407, 261, 378 }, pos[5] = { 0, 1, 2, 3, 4 }, seq[5] = { 0 };

	struct ajar_batch b = { .n = 5, .tokens = tok, .pos = pos, .seq = seq };
	CHECK(ajar_decode(ctx, &b, logits) == AJAR_ERR_INVALID); /* over n_batch */
	b.n = 2;
	int32_t bad_tok[2] = { 1, 512 };
	b.tokens = bad_tok;
	CHECK(ajar_decode(ctx, &b, logits) == AJAR_ERR_INVALID);
	b.tokens = tok;
	int32_t gap[2] = { 0, 2 };
	b.pos = gap;
	CHECK(ajar_decode(ctx, &b, logits) == AJAR_ERR_INVALID);
	int32_t bad_seq[2] = { 0, 2 };
	b.pos = pos;
	b.seq = bad_seq;
	CHECK(ajar_decode(ctx, &b, logits) == AJAR_ERR_INVALID);
	CHECK_EQ_INT(ajar_seq_len(ctx, 0), 0); /* nothing changed */
	b.n = 0;
	CHECK(ajar_decode(ctx, &b, logits) == AJAR_ERR_INVALID);

	/* Filling the context: position 16 is refused. */
	int32_t many[16];
	for (int i = 0; i < 16; i++)
		many[i] = 300 + i;
	CHECK_OK(ajar_decode_seq(ctx, 1, many, 16, logits));
	CHECK_EQ_INT(ajar_seq_len(ctx, 1), 16);
	CHECK(ajar_decode_seq(ctx, 1, many, 1, logits) == AJAR_ERR_INVALID);
	free(logits);
	ajar_context_free(ctx);
	ajar_model_free(m);
}

/* Two sequences decoded in one interleaved batch give the same logits as each
 * decoded alone; truncating a sequence and re-decoding reproduces it. */
static void test_multi_sequence(void)
{
	struct ajar_model *m = NULL;
	struct ajar_context *ctx = NULL, *solo = NULL;
	struct ajar_context_params cp = { .n_ctx = 64, .n_seq = 2, .n_threads = 2 };
	CHECK_OK(ajar_model_load(model_path, &m));
	if (!m)
		return;
	CHECK_OK(ajar_context_new(m, &cp, &ctx));
	CHECK_OK(ajar_context_new(m, &cp, &solo));
	int32_t a[4] = { 1, 403, 407, 261 }, c[3] = { 1, 338, 401 };
	float ref_a[512], ref_c[512], both[2 * 512], again[512];

	CHECK_OK(ajar_decode_seq(solo, 0, a, 4, ref_a));
	CHECK_OK(ajar_decode_seq(solo, 1, c, 3, ref_c));

	int32_t tok[7] = { a[0], c[0], a[1], c[1], a[2], c[2], a[3] };
	int32_t pos[7] = { 0, 0, 1, 1, 2, 2, 3 }, seq[7] = { 0, 1, 0, 1, 0, 1, 0 };
	bool want[7] = { false, false, false, false, false, true, true };
	struct ajar_batch b = { .n = 7, .tokens = tok, .pos = pos, .seq = seq, .want_logits = want };
	CHECK_OK(ajar_decode(ctx, &b, both));
	double d_a = 0, d_c = 0;
	for (int i = 0; i < 512; i++) {
		d_c = fmax(d_c, fabs(both[i] - ref_c[i]));
		d_a = fmax(d_a, fabs(both[512 + i] - ref_a[i]));
	}
	CHECK_MSG(d_a < 1e-5 && d_c < 1e-5, "batched vs alone: %g %g", d_a, d_c);

	ajar_seq_truncate(ctx, 0, 2);
	CHECK_EQ_INT(ajar_seq_len(ctx, 0), 2);
	CHECK_OK(ajar_decode_seq(ctx, 0, a + 2, 2, again));
	double d = 0;
	for (int i = 0; i < 512; i++)
		d = fmax(d, fabs(again[i] - ref_a[i]));
	CHECK_MSG(d < 1e-5, "after truncation: %g", d);
	ajar_context_free(ctx);
	ajar_context_free(solo);
	ajar_model_free(m);
}

/* Writes a qwen2 copy of stories260K: same weights, q/k rows of each head
 * re-ordered (2i -> i, 2i+1 -> i + hd/2) so NeoX RoPE rotates the same pairs,
 * zero biases. The logits must equal the llama model's. */
static void write_qwen2_copy(const char *src_path, const char *out_path)
{
	struct gguf_file *f = NULL;
	struct gguf_writer *w = NULL;
	float *bufs[64] = { 0 };
	int n_bufs = 0;

	CHECK_OK(gguf_open(src_path, &f));
	CHECK_OK(gguf_writer_new(&w));
	if (!f || !w)
		goto out;
	for (size_t i = 0; i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)kv->key.len, kv->key.data);
		if (strncmp(key, "llama.", 6) == 0) {
			char k2[256];
			snprintf(k2, sizeof(k2), "qwen2.%s", key + 6);
			CHECK_OK(gguf_writer_set(w, k2, &kv->value));
		} else if (strcmp(key, "general.architecture") == 0) {
			CHECK_OK(gguf_writer_set_str(w, key, "qwen2"));
		} else {
			CHECK_OK(gguf_writer_set(w, key, &kv->value));
		}
	}
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.data);
		bool is_q = strstr(name, "attn_q.weight") != NULL, is_k = strstr(name, "attn_k.weight") != NULL;
		if (!is_q && !is_k) {
			CHECK_OK(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data));
			continue;
		}
		/* rows of 64 floats; 8 dims per head */
		const float *src = t->data;
		float *dst = malloc(t->size);
		int hd = 8, rows = (int)t->ne[1];
		for (int r = 0; r < rows; r++) {
			int head = r / hd, j = r % hd;
			int to = head * hd + (j % 2 == 0 ? j / 2 : j / 2 + hd / 2);
			memcpy(dst + (size_t)to * 64, src + (size_t)r * 64, 64 * sizeof(float));
		}
		bufs[n_bufs++] = dst;
		CHECK_OK(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, dst));
		/* zero biases of the right length */
		char bname[128];
		uint64_t bne[1] = { (uint64_t)rows };
		float *zero = calloc((size_t)rows, sizeof(float));
		bufs[n_bufs++] = zero;
		snprintf(bname, sizeof(bname), "%.*s.bias", (int)(strlen(name) - 7), name);
		CHECK_OK(gguf_writer_add_tensor(w, bname, AJAR_TYPE_F32, 1, bne, zero));
		if (is_k) {
			snprintf(bname, sizeof(bname), "%.*sv.bias", (int)(strlen(name) - 8), name);
			float *zv = calloc((size_t)rows, sizeof(float));
			bufs[n_bufs++] = zv;
			CHECK_OK(gguf_writer_add_tensor(w, bname, AJAR_TYPE_F32, 1, bne, zv));
		}
	}
	CHECK_OK(gguf_writer_write(w, out_path));
out:
	for (int i = 0; i < n_bufs; i++)
		free(bufs[i]);
	gguf_writer_free(w);
	gguf_close(f);
}

static void test_qwen2_equivalence(void)
{
	char dir[] = "/tmp/ajar-qwen2-XXXXXX", path[4096];
	struct ajar_model *llama = NULL, *qwen = NULL;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/qwen2.gguf", dir);
	write_qwen2_copy(model_path, path);
	CHECK_OK(ajar_model_load(model_path, &llama));
	CHECK_OK(ajar_model_load(path, &qwen));
	if (llama && qwen) {
		CHECK(ajar_model_hparams(qwen)->arch == AJAR_ARCH_QWEN2);
		CHECK(ajar_model_hparams(qwen)->rope_type == AJAR_ROPE_NEOX);
		struct ajar_context_params cp = { .n_ctx = 128, .n_seq = 1, .n_threads = 2 };
		struct ajar_context *c1 = NULL, *c2 = NULL;
		CHECK_OK(ajar_context_new(llama, &cp, &c1));
		CHECK_OK(ajar_context_new(qwen, &cp, &c2));
		int32_t toks[6] = { 1, 403, 407, 261, 378, 432 };
		float l1[512], l2[512];
		CHECK_OK(ajar_decode_seq(c1, 0, toks, 6, l1));
		CHECK_OK(ajar_decode_seq(c2, 0, toks, 6, l2));
		double d = 0;
		for (int i = 0; i < 512; i++)
			d = fmax(d, fabs(l1[i] - l2[i]));
		CHECK_MSG(d < 1e-4, "qwen2 copy differs by %g", d);
		ajar_context_free(c1);
		ajar_context_free(c2);
	}
	ajar_model_free(llama);
	ajar_model_free(qwen);
	unlink(path);
	rmdir(dir);
}

/* stories260K's metadata rewritten to 2 heads of 32 (1 KV head): a valid,
 * different model whose head size allows a Q8_0 cache. */
static void write_wide_head_copy(const char *src_path, const char *out_path)
{
	struct gguf_file *f = NULL;
	struct gguf_writer *w = NULL;
	CHECK_OK(gguf_open(src_path, &f));
	CHECK_OK(gguf_writer_new(&w));
	if (!f || !w)
		goto out;
	for (size_t i = 0; i < gguf_n_kv(f); i++) {
		const struct gguf_kv *kv = gguf_kv_at(f, i);
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)kv->key.len, kv->key.data);
		if (strcmp(key, "llama.attention.head_count") == 0)
			CHECK_OK(gguf_writer_set_u32(w, key, 2));
		else if (strcmp(key, "llama.attention.head_count_kv") == 0)
			CHECK_OK(gguf_writer_set_u32(w, key, 1));
		else
			CHECK_OK(gguf_writer_set(w, key, &kv->value));
	}
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.data);
		CHECK_OK(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data));
	}
	CHECK_OK(gguf_writer_write(w, out_path));
out:
	gguf_writer_free(w);
	gguf_close(f);
}

/* F16 and Q8_0 caches against the F32 cache on the same model: the logits
 * move by the rounding of K and V only. Measured here: see the printout;
 * the bounds are several times the measured values. A Q8_0 cache on a head
 * size that is not a multiple of 32 is refused with a message. */
static void test_cache_types(void)
{
	char dir[] = "/tmp/ajar-cache-XXXXXX", path[4096];
	struct ajar_model *m = NULL, *narrow = NULL;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/wide.gguf", dir);
	write_wide_head_copy(model_path, path);
	CHECK_OK(ajar_model_load(path, &m));
	CHECK_OK(ajar_model_load(model_path, &narrow));
	if (m && narrow) {
		struct ajar_context_params cp = { .n_ctx = 128, .n_seq = 1, .n_threads = 2, .cache_type = AJAR_TYPE_Q8_0 };
		struct ajar_context *bad = NULL;
		CHECK(ajar_context_new(narrow, &cp, &bad) == AJAR_ERR_INVALID);
		CHECK(strstr(ajar_err_msg(), "multiple of 32") != NULL);
		cp.cache_type = AJAR_TYPE_Q4_0;
		CHECK(ajar_context_new(m, &cp, &bad) == AJAR_ERR_INVALID);

		int32_t toks[40];
		for (int i = 0; i < 40; i++)
			toks[i] = 1 + (i * 37) % 500;
		float ref[512], got[512];
		int types[2] = { AJAR_TYPE_F16, AJAR_TYPE_Q8_0 };
		/* relative to the largest logit; measured 2.0e-3 (f16) and 6.3e-2
		 * (q8_0) on this untrained-shape model, whose attention is sharp */
		double bound[2] = { 1e-2, 1.5e-1 };
		struct ajar_context *c32 = NULL;
		cp.cache_type = AJAR_TYPE_F32;
		CHECK_OK(ajar_context_new(m, &cp, &c32));
		CHECK_OK(ajar_decode_seq(c32, 0, toks, 40, ref));
		for (int k = 0; k < 2; k++) {
			struct ajar_context *c = NULL;
			cp.cache_type = types[k];
			CHECK_OK(ajar_context_new(m, &cp, &c));
			if (!c)
				continue;
			CHECK_OK(ajar_decode_seq(c, 0, toks, 40, got));
			double d = 0, mag = 0;
			for (int i = 0; i < 512; i++) {
				d = fmax(d, fabs(got[i] - ref[i]));
				mag = fmax(mag, fabs(ref[i]));
			}
			printf("cache %s: logits differ from the f32 cache by %.3g (largest logit %.3g)\n",
			       ajar_type_name((uint32_t)types[k]), d, mag);
			CHECK_MSG(d < bound[k] * mag, "cache %d: %g", types[k], d);
			CHECK(d > 0); /* the rounding really happens */
			ajar_context_free(c);
		}
		ajar_context_free(c32);
	}
	ajar_model_free(m);
	ajar_model_free(narrow);
	unlink(path);
	rmdir(dir);
}

/* The cache's read paths compute exactly what quantize -> dequantize -> f32
 * arithmetic gives, for every cache type. */
static void test_kv_rows(void)
{
	enum ajar_type types[3] = { AJAR_TYPE_F32, AJAR_TYPE_F16, AJAR_TYPE_Q8_0 };
	float k[2 * 64], q[64], back[64], tmp[64];
	unsigned char store[2 * 64 * 4];
	for (int i = 0; i < 128; i++)
		k[i] = sinf((float)i * 0.7f) * (1.0f + (float)(i % 5));
	for (int i = 0; i < 64; i++)
		q[i] = cosf((float)i * 0.3f);
	for (int t = 0; t < 3; t++) {
		size_t hb = kv_head_bytes(types[t], 64);
		kv_store(types[t], store, k, 2, 64);
		for (int h = 0; h < 2; h++) {
			ajar_dequantize_row(types[t], store + h * hb, back, 64);
			double want = 0;
			for (int i = 0; i < 64; i++) {
				want += (double)back[i] * q[i];
				/* stored values are the rounding of the input */
				CHECK(fabs(back[i] - k[h * 64 + i]) <= (types[t] == AJAR_TYPE_Q8_0 ? 0.05 : 0.01));
			}
			CHECK_NEAR(kv_dot(types[t], store + h * hb, q, 64), want, 1e-4);
			float out[64] = { 0 };
			kv_axpy(types[t], store + h * hb, 0.5f, out, 64, tmp);
			for (int i = 0; i < 64; i++)
				CHECK_NEAR(out[i], 0.5f * back[i], 1e-6);
		}
	}
}

static void test_load_errors(void)
{
	struct ajar_model *m = NULL;
	CHECK(ajar_model_load("/nonexistent/model.gguf", &m) == AJAR_ERR_IO);
	CHECK(m == NULL);
	/* A vocab-only file has no weights: a clear error, not a crash. */
	char p[4096];
	snprintf(p, sizeof(p), "%s", fixture_path("vocab/ggml-vocab-llama-spm.gguf"));
	enum ajar_err e = ajar_model_load(p, &m);
	CHECK(e != AJAR_OK);
	CHECK(strlen(ajar_err_msg()) > 0);
	/* An architecture we do not run is named. */
	snprintf(p, sizeof(p), "%s", fixture_path("arch/tiny-t5.gguf"));
	CHECK(ajar_model_load(p, &m) == AJAR_ERR_UNSUPPORTED);
	CHECK(strstr(ajar_err_msg(), "t5") != NULL);
}

int main(void)
{
	snprintf(model_path, sizeof(model_path), "%s", fixture_path("models/stories260K.gguf"));
	RUN(test_dot);
	RUN(test_rmsnorm_softmax);
	RUN(test_rope);
	RUN(test_stop_matcher);
	RUN(test_batch_validation);
	RUN(test_multi_sequence);
	RUN(test_qwen2_equivalence);
	RUN(test_kv_rows);
	RUN(test_cache_types);
	RUN(test_load_errors);
	return check_summary();
}
