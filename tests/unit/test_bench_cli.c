/*
 * Tests of `ajar bench` and `ajar quantize` through the binary ($AJAR_BIN),
 * on the stories260K fixture:
 *   - bench --json prints one object with the documented fields and positive
 *     rates; -p 0 / -n 0 skip a test; bad arguments fail with one line;
 *   - quantize to Q8_0, Q4_0, F16 (and the K types where this build has
 *     their quantizers) writes a file that loads and generates: the tensor
 *     types follow llama.cpp's policy and fallbacks (stories260K's rows are
 *     64 and 172 values long, so K types and, for ffn_down, every 32-value
 *     block type fall back, and the fallbacks are reported), metadata is
 *     copied with general.file_type / quantization_version set;
 *   - Q8_0's greedy tokens agree with F32's over 48 tokens on the 6 reference
 *     prompts: measured 288 of 288 with F32 activations, 280 of 288 (worst
 *     prompt: its first 40) with Q8_0-quantized activations as llama.cpp
 *     computes; the test asks for the first 16 of each, so a kernel change
 *     that moves a near-tie does not fail it. Q4_0 still tells a story;
 *   - bad input (missing, malformed, unknown type, a NaN weight) fails with one line and
 *     writes nothing, and a write that fails part-way (file size limit) leaves
 *     an existing OUT untouched and no temp file behind.
 */
#include "check.h"
#include "spawn_util.h"

#include "ajar/gguf.h"
#include "ajar/tensor.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char model[4096], dir[64] = "/tmp/ajar-bench-cli-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[8][4096];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 4096, "%s/%s", dir, name);
	return p;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Number of directory entries whose name starts with prefix. */
static int count_prefixed(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* ---- bench ------------------------------------------------------------------ */

static void check_rate_fields(json_t *j, const char *prefix, long long reps)
{
	char key[64];
	snprintf(key, sizeof(key), "%s_tokens_per_s", prefix);
	json_t *mean = json_object_get(j, key);
	CHECK_MSG(json_is_number(mean) && json_number_value(mean) > 0, "%s missing or not positive", key);
	snprintf(key, sizeof(key), "%s_sd", prefix);
	json_t *sd = json_object_get(j, key);
	CHECK_MSG(json_is_number(sd) && json_number_value(sd) >= 0, "%s missing or negative", key);
	snprintf(key, sizeof(key), "%s_samples", prefix);
	json_t *samples = json_object_get(j, key);
	CHECK_EQ_INT(json_array_size(samples), reps);
	double sum = 0;
	for (size_t i = 0; i < json_array_size(samples); i++) {
		double v = json_number_value(json_array_get(samples, i));
		CHECK(v > 0);
		sum += v;
	}
	/* the mean is the mean of the per-repetition rates */
	if (json_array_size(samples) && mean)
		CHECK_NEAR(json_number_value(mean), sum / (double)json_array_size(samples),
			   1e-6 * json_number_value(mean));
}

static void test_bench_json(void)
{
	const char *args[] = { "bench", "-m", model, "-p", "32", "-n", "8", "-r", "2", "-t", "2", "--json", NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "bench failed: %s", r.err);
	CHECK_EQ_INT(count_lines(r.out), 1);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	CHECK_MSG(json_is_object(j), "bench --json printed invalid JSON: %s", r.out);
	if (j) {
		struct stat st;
		CHECK(stat(model, &st) == 0);
		check_rate_fields(j, "pp", 2);
		check_rate_fields(j, "tg", 2);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "threads")), 2);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "model_bytes")), st.st_size);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_prompt")), 32);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_gen")), 8);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "reps")), 2);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "n_params")), 292800);
		CHECK_STR(json_string_value(json_object_get(j, "model")), model);
		const char *level = json_string_value(json_object_get(j, "cpu_level"));
		CHECK(level && (strcmp(level, "scalar") == 0 || strcmp(level, "avx2") == 0 ||
				strcmp(level, "avx512") == 0));
		json_int_t wb = json_integer_value(json_object_get(j, "weights_bytes"));
		json_int_t bpt = json_integer_value(json_object_get(j, "tg_bytes_per_token"));
		CHECK(wb > 0 && wb <= st.st_size && bpt > 0 && bpt <= wb);
	}
	json_decref(j);
	free(r.out);
}

static void test_bench_skip_and_table(void)
{
	/* -p 0: only generation */
	const char *a1[] = { "bench", "-m", model, "-p", "0", "-n", "4", "-r", "1", "--json", NULL };
	struct run_result r = ajar_spawn(a1, NULL, 0);
	CHECK_MSG(r.status == 0, "bench failed: %s", r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	if (j) {
		CHECK(json_is_null(json_object_get(j, "pp_tokens_per_s")));
		CHECK(json_is_null(json_object_get(j, "pp_sd")));
		CHECK_EQ_INT(json_array_size(json_object_get(j, "pp_samples")), 0);
		check_rate_fields(j, "tg", 1);
	}
	json_decref(j);
	free(r.out);

	/* the human table: a header, a rule, one row per test */
	const char *a2[] = { "bench", "-m", model, "-p", "16", "-n", "0", "-r", "2", "-t", "1", NULL };
	r = ajar_spawn(a2, NULL, 0);
	CHECK_MSG(r.status == 0, "bench failed: %s", r.err);
	CHECK_EQ_INT(count_lines(r.out), 3);
	CHECK(strstr(r.out, "| model") == r.out);
	CHECK(strstr(r.out, "pp16") != NULL);
	CHECK(strstr(r.out, "tg") == NULL);
	CHECK(strstr(r.out, "±") != NULL);
	CHECK(strstr(r.out, "llama") != NULL);
	free(r.out);
}

static void test_bench_bad_args(void)
{
	static const struct {
		const char *args[12];
		const char *needle;
	} cases[] = {
		{ { "bench", NULL }, "-m MODEL" },
		{ { "bench", "-m", "/nonexistent.gguf", NULL }, "/nonexistent.gguf" },
		{ { "bench", "-m", NULL }, "needs a value" },
		{ { "bench", "-m", "M", "-p", "-1", NULL }, "-p" },
		{ { "bench", "-m", "M", "-n", "12x", NULL }, "not an integer" },
		{ { "bench", "-m", "M", "-r", "0", NULL }, "--repetitions" },
		{ { "bench", "-m", "M", "-t", "0", NULL }, "--threads" },
		{ { "bench", "-m", "M", "-p", "0", "-n", "0", NULL }, "nothing to measure" },
		{ { "bench", "-m", "M", "--frobnicate", NULL }, "--frobnicate" },
		{ { "bench", "-m", "M", "-p", "1000000", NULL }, "-p" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_result r = ajar_spawn(cases[i].args, NULL, 0);
		CHECK_FAILS_WITH(r, cases[i].needle);
		CHECK_MSG(r.out[0] == '\0', "case %zu printed to stdout: %s", i, r.out);
		free(r.out);
	}
	/* a file that is not a model */
	const char *a[] = { "bench", "-m", fixture_path("models/tok512.bin"), "-r", "1", NULL };
	struct run_result r = ajar_spawn(a, NULL, 0);
	CHECK_FAILS_WITH(r, "tok512.bin");
	free(r.out);

	const char *help[] = { "bench", "--help", NULL };
	r = ajar_spawn(help, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "usage: ajar bench") != NULL);
	free(r.out);
}

/* ---- quantize ------------------------------------------------------------------ */

/* Quantizes the fixture to `type` at tmp/name; returns quantize's stdout
 * (caller frees) or NULL on failure. */
static char *quantize(const char *type, const char *name, const char *extra)
{
	const char *args[] = { "quantize", model, tmp_path(name), type, "-t", "2", extra, NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "quantize %s failed: %s", type, r.err);
	CHECK_MSG(r.err[0] == '\0', "quantize %s wrote to stderr: %s", type, r.err);
	if (r.status != 0) {
		free(r.out);
		return NULL;
	}
	return r.out;
}

/* The type of each tensor of path, checked against expect(name). */
static void check_types(const char *path, uint32_t (*expect)(const char *name))
{
	struct gguf_file *f = NULL;
	CHECK_OK(gguf_open(path, &f));
	if (!f)
		return;
	CHECK_EQ_INT(gguf_n_tensors(f), 48);
	for (size_t i = 0; i < gguf_n_tensors(f); i++) {
		const struct gguf_tensor_info *t = gguf_tensor_at(f, i);
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.data);
		uint32_t want = expect(name);
		CHECK_MSG(t->type == want, "%s: %s is %s, expected %s", path, name, ajar_type_name(t->type),
			  ajar_type_name(want));
	}
	gguf_close(f);
}

static bool is_norm(const char *name)
{
	return strstr(name, "_norm.weight") != NULL;
}

static bool is_ffn_down(const char *name)
{
	return strstr(name, "ffn_down") != NULL;
}

/* Q8_0: everything Q8_0 but norms (F32) and ffn_down, whose rows of 172
 * are not whole 32-value blocks (F16). */
static uint32_t expect_q8_0(const char *name)
{
	return is_norm(name) ? AJAR_TYPE_F32 : is_ffn_down(name) ? AJAR_TYPE_F16 : AJAR_TYPE_Q8_0;
}

static bool have_quantizer(uint32_t type)
{
	return ajar_type_traits(type)->has_kernels;
}

/* Q4_0: output.weight would be Q6_K, which rows of 64 cannot hold: Q8_0. */
static uint32_t expect_q4_0(const char *name)
{
	if (is_norm(name))
		return AJAR_TYPE_F32;
	if (is_ffn_down(name))
		return AJAR_TYPE_F16;
	return strcmp(name, "output.weight") == 0 ? AJAR_TYPE_Q8_0 : AJAR_TYPE_Q4_0;
}

static uint32_t expect_q4_0_pure(const char *name)
{
	return is_norm(name) ? AJAR_TYPE_F32 : is_ffn_down(name) ? AJAR_TYPE_F16 : AJAR_TYPE_Q4_0;
}

static uint32_t expect_f16(const char *name)
{
	return is_norm(name) ? AJAR_TYPE_F32 : AJAR_TYPE_F16;
}

/* Q4_K_M on 5 layers: the "more bits" layers are 2 and 4 (i >= 7*5/8 = 4;
 * (i - 0) % 3 == 2). Q4_K -> Q5_0 and Q6_K -> Q8_0 on 64-value rows; the
 * 172-value ffn_down rows end at F16 either way. output.weight is Q8_0
 * directly (its rows are not whole Q4_K blocks). */
static uint32_t expect_q4_k_m(const char *name)
{
	if (is_norm(name))
		return AJAR_TYPE_F32;
	if (is_ffn_down(name))
		return AJAR_TYPE_F16;
	if (strcmp(name, "output.weight") == 0)
		return AJAR_TYPE_Q8_0;
	if (strstr(name, "attn_v.weight"))
		return strstr(name, "blk.2.") || strstr(name, "blk.4.") ? AJAR_TYPE_Q8_0 : AJAR_TYPE_Q5_0;
	return AJAR_TYPE_Q5_0;
}

/* Every key of the input is in the output with the same value, but the two
 * that quantize sets. */
static void check_metadata(const char *path, uint32_t file_type)
{
	struct gguf_file *in = NULL, *out = NULL;
	CHECK_OK(gguf_open(model, &in));
	CHECK_OK(gguf_open(path, &out));
	if (!in || !out)
		goto done;
	for (size_t i = 0; i < gguf_n_kv(in); i++) {
		const struct gguf_kv *kv = gguf_kv_at(in, i);
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)kv->key.len, kv->key.data);
		const struct gguf_value *v = gguf_find(out, key);
		CHECK_MSG(v != NULL, "%s: key %s missing", path, key);
		if (!v)
			continue;
		CHECK_EQ_INT(v->type, kv->value.type);
		if (v->type == GGUF_TYPE_STRING)
			CHECK(v->v.str.len == kv->value.v.str.len &&
			      memcmp(v->v.str.data, kv->value.v.str.data, v->v.str.len) == 0);
		else if (v->type == GGUF_TYPE_ARRAY)
			CHECK(v->v.arr.count == kv->value.v.arr.count && v->v.arr.elem_type == kv->value.v.arr.elem_type);
		else
			CHECK(v->v.u64 == kv->value.v.u64);
	}
	uint32_t ft = 999, qv = 999;
	CHECK_OK(gguf_get_u32(out, "general.file_type", &ft));
	CHECK_OK(gguf_get_u32(out, "general.quantization_version", &qv));
	CHECK_EQ_INT(ft, file_type);
	CHECK_EQ_INT(qv, 2);
	CHECK_EQ_INT(gguf_n_kv(out), gguf_n_kv(in) + 2); /* the fixture has neither key */
done:
	gguf_close(in);
	gguf_close(out);
}

/* Greedy tokens of a model for a prompt (caller decrefs), or NULL. */
static json_t *greedy(const char *path, const char *prompt)
{
	const char *args[] = { "run", "-m", path, "-p", prompt, "-n", "48", "--temp", "0", "--json", "-t", "2", NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "run on %s failed: %s", path, r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	free(r.out);
	CHECK(j != NULL);
	return j;
}

static size_t common_prefix(json_t *a, json_t *b)
{
	size_t k = 0;
	while (k < json_array_size(a) && k < json_array_size(b) &&
	       json_integer_value(json_array_get(a, k)) == json_integer_value(json_array_get(b, k)))
		k++;
	return k;
}

/* How many of a few very common story words the text holds. */
static int story_words(const char *text)
{
	static const char *words[] = { " the ", " a ", " and ", " was ", " to ", " she ", " he ", " her ",
				       " little ", " day", " said", " was ", " they ", " with ", " play" };
	int n = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		n += strstr(text, words[i]) != NULL;
	return n;
}

static const char *const prompts[] = { "Once upon a time", "Lily had a red ball", "The dog", "",
				       "One day, a little girl named", "Tom and Sue went to the park" };

static void test_quantize_q8_0(void)
{
	char *out = quantize("Q8_0", "q8_0.gguf", NULL);
	if (!out)
		return;
	/* the five ffn_down fallbacks are listed, and counted in the summary */
	CHECK(strstr(out, "blk.0.ffn_down.weight") != NULL);
	CHECK(strstr(out, "fallback from Q8_0: rows of 172") != NULL);
	CHECK(strstr(out, "5 tensor(s) needed a fallback type") != NULL);
	free(out);
	check_types(tmp_path("q8_0.gguf"), expect_q8_0);
	check_metadata(tmp_path("q8_0.gguf"), 7);

	size_t worst = 48, total = 0;
	for (size_t i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++) {
		json_t *f = greedy(model, prompts[i]), *q = greedy(tmp_path("q8_0.gguf"), prompts[i]);
		size_t k = common_prefix(json_object_get(f, "tokens"), json_object_get(q, "tokens"));
		CHECK_MSG(k >= 16, "Q8_0 and F32 agree on only %zu leading tokens for '%s'", k, prompts[i]);
		worst = k < worst ? k : worst;
		total += k;
		json_decref(f);
		json_decref(q);
	}
	printf("Q8_0 vs F32 greedy agreement: %zu of %zu tokens (worst prompt: %zu of 48 leading tokens)\n", total,
	       48 * sizeof(prompts) / sizeof(prompts[0]), worst);
}

static void test_quantize_q4_0_and_f16(void)
{
	char *out = quantize("q4_0", "q4_0.gguf", NULL);
	if (out) {
		CHECK(strstr(out, "output.weight") != NULL && strstr(out, "fallback from Q6_K") != NULL);
		CHECK(strstr(out, "6 tensor(s) needed a fallback type") != NULL);
		free(out);
		check_types(tmp_path("q4_0.gguf"), expect_q4_0);
		check_metadata(tmp_path("q4_0.gguf"), 2);
		/* a plausible story: common words, and the start of F32's */
		json_t *f = greedy(model, prompts[0]), *q = greedy(tmp_path("q4_0.gguf"), prompts[0]);
		const char *text = json_string_value(json_object_get(q, "text"));
		CHECK_MSG(text && story_words(text) >= 4, "Q4_0 story: %s", text ? text : "(none)");
		size_t k = common_prefix(json_object_get(f, "tokens"), json_object_get(q, "tokens"));
		CHECK_MSG(k >= 8, "Q4_0 agrees with F32 on %zu leading tokens (measured 23)", k);
		printf("Q4_0 vs F32, '%s': %zu of 48 leading tokens agree; text:%s\n", prompts[0], k, text ? text : "");
		json_decref(f);
		json_decref(q);
	}

	/* --pure: output.weight keeps the base type */
	out = quantize("Q4_0", "q4_0_pure.gguf", "--pure");
	free(out);
	check_types(tmp_path("q4_0_pure.gguf"), expect_q4_0_pure);

	/* F16 changes no greedy token */
	out = quantize("F16", "f16.gguf", NULL);
	free(out);
	check_types(tmp_path("f16.gguf"), expect_f16);
	check_metadata(tmp_path("f16.gguf"), 1);
	json_t *f = greedy(model, prompts[1]), *h = greedy(tmp_path("f16.gguf"), prompts[1]);
	CHECK_EQ_INT(common_prefix(json_object_get(f, "tokens"), json_object_get(h, "tokens")), 48);
	json_decref(f);
	json_decref(h);

	/* requantizing: Q8_0 in, Q4_0 out (dequantized to F32 first) */
	const char *args[] = { "quantize", tmp_path("q8_0.gguf"), tmp_path("q8_q4.gguf"), "Q4_0", "-q", NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "requantize failed: %s", r.err);
	CHECK_EQ_INT(count_lines(r.out), 2); /* -q: the summary and the fallback count */
	free(r.out);
	json_t *rq = greedy(tmp_path("q8_q4.gguf"), prompts[0]);
	CHECK(rq && story_words(json_string_value(json_object_get(rq, "text"))) >= 4);
	json_decref(rq);
}

static void test_quantize_k_types(void)
{
	if (!have_quantizer(AJAR_TYPE_Q4_K)) {
		/* refused up front, not silently written as Q5_0 */
		const char *args[] = { "quantize", model, tmp_path("q4_k_m.gguf"), "Q4_K_M", NULL };
		struct run_result r = ajar_spawn(args, NULL, 0);
		CHECK_FAILS_WITH(r, "Q4_K");
		CHECK(!file_exists(tmp_path("q4_k_m.gguf")));
		free(r.out);
		printf("K-quant quantizers not in this build: Q4_K_M refused, as expected\n");
		return;
	}
	char *out = quantize("Q4_K_M", "q4_k_m.gguf", NULL);
	if (!out)
		return;
	CHECK(strstr(out, "fallback from Q4_K: rows of 64 are not whole Q4_K blocks of 256") != NULL);
	CHECK(strstr(out, "fallback from Q6_K") != NULL);
	free(out);
	check_types(tmp_path("q4_k_m.gguf"), expect_q4_k_m);
	check_metadata(tmp_path("q4_k_m.gguf"), 15);
	json_t *q = greedy(tmp_path("q4_k_m.gguf"), prompts[0]);
	CHECK(q && story_words(json_string_value(json_object_get(q, "text"))) >= 4);
	json_decref(q);

	/* the alias, and the other K file types, all fall back on this model */
	static const char *const types[] = { "Q4_K", "Q5_K_M", "Q5_K_S", "Q4_K_S", "Q6_K" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (!have_quantizer(AJAR_TYPE_Q5_K) && strstr(types[i], "Q5"))
			continue;
		if (!have_quantizer(AJAR_TYPE_Q6_K) && strstr(types[i], "Q6"))
			continue;
		out = quantize(types[i], "k.gguf", "-q");
		CHECK(out && strstr(out, "needed a fallback type") != NULL);
		free(out);
		json_t *j = greedy(tmp_path("k.gguf"), prompts[0]);
		CHECK(j != NULL);
		json_decref(j);
	}
}

static void test_quantize_bad_input(void)
{
	struct run_result r;
	const char *out = tmp_path("bad-out.gguf");

	const char *missing[] = { "quantize", "/nonexistent.gguf", out, "Q8_0", NULL };
	r = ajar_spawn(missing, NULL, 0);
	CHECK_FAILS_WITH(r, "/nonexistent.gguf");
	CHECK_EQ_INT(r.status, 1);
	free(r.out);

	/* a truncated model: the header promises more than the file holds */
	const char *trunc = tmp_path("truncated.gguf");
	FILE *src = fopen(model, "rb"), *dst = fopen(trunc, "wb");
	char buf[50000];
	size_t got = src ? fread(buf, 1, sizeof(buf), src) : 0;
	if (dst)
		fwrite(buf, 1, got, dst);
	if (src)
		fclose(src);
	if (dst)
		fclose(dst);
	const char *malformed[] = { "quantize", trunc, out, "Q8_0", NULL };
	r = ajar_spawn(malformed, NULL, 0);
	CHECK_FAILS_WITH(r, "truncated.gguf");
	free(r.out);

	const char *not_gguf[] = { "quantize", fixture_path("models/tok512.bin"), out, "Q8_0", NULL };
	r = ajar_spawn(not_gguf, NULL, 0);
	CHECK_FAILS_WITH(r, "magic");
	free(r.out);

	const char *bad_type[] = { "quantize", model, out, "Q3_X", NULL };
	r = ajar_spawn(bad_type, NULL, 0);
	CHECK_FAILS_WITH(r, "unknown type 'Q3_X'");
	CHECK_EQ_INT(r.status, 2);
	free(r.out);

	const char *too_few[] = { "quantize", model, out, NULL };
	r = ajar_spawn(too_few, NULL, 0);
	CHECK_FAILS_WITH(r, "IN OUT TYPE");
	free(r.out);

	const char *too_many[] = { "quantize", model, out, "Q8_0", "extra", NULL };
	r = ajar_spawn(too_many, NULL, 0);
	CHECK_FAILS_WITH(r, "extra");
	free(r.out);

	const char *bad_opt[] = { "quantize", model, out, "Q8_0", "--bogus", NULL };
	r = ajar_spawn(bad_opt, NULL, 0);
	CHECK_FAILS_WITH(r, "--bogus");
	free(r.out);

	const char *bad_threads[] = { "quantize", model, out, "Q8_0", "-t", "0", NULL };
	r = ajar_spawn(bad_threads, NULL, 0);
	CHECK_FAILS_WITH(r, "--threads");
	free(r.out);

	/* an output directory that does not exist */
	const char *no_dir[] = { "quantize", model, "/nonexistent-dir/out.gguf", "Q8_0", "-q", NULL };
	r = ajar_spawn(no_dir, NULL, 0);
	CHECK_FAILS_WITH(r, "/nonexistent-dir/out.gguf");
	free(r.out);

	/* a NaN in a weight is refused, as llama.cpp's row validation does */
	const char *nan_path = tmp_path("nan.gguf");
	struct gguf_file *f = NULL;
	CHECK_OK(gguf_open(model, &f));
	const struct gguf_tensor_info *t = f ? gguf_find_tensor(f, "blk.1.attn_q.weight") : NULL;
	CHECK(t != NULL);
	if (t) {
		long at = (long)(gguf_data_offset(f) + t->offset) + 3 * 64 * 4 + 5 * 4; /* row 3, value 5 */
		FILE *in = fopen(model, "rb"), *o = fopen(nan_path, "wb");
		int ch;
		for (long i = 0; in && o && (ch = fgetc(in)) != EOF; i++)
			fputc(i >= at && i < at + 4 ? (i == at + 3 ? 0x7f : i == at + 2 ? 0xc0 : 0) : ch, o);
		if (in)
			fclose(in);
		if (o)
			fclose(o);
		const char *nan_args[] = { "quantize", nan_path, out, "Q4_0", NULL };
		r = ajar_spawn(nan_args, NULL, 0);
		CHECK_FAILS_WITH(r, "blk.1.attn_q.weight': row 3 has a value that is not finite");
		free(r.out);
	}
	gguf_close(f);

	CHECK(!file_exists(out));
	CHECK_EQ_INT(count_prefixed("bad-out.gguf"), 0);

	const char *help[] = { "quantize", "--help", NULL };
	r = ajar_spawn(help, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "usage: ajar quantize") != NULL);
	free(r.out);
}

/* A write that fails part-way leaves an existing OUT as it was and no temp
 * file; so does a failure before any writing. */
static void test_quantize_atomic(void)
{
	const char *out = tmp_path("atomic.gguf");
	static const char sentinel[] = "the previous file\n";
	FILE *fp = fopen(out, "wb");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(sentinel, fp);
	fclose(fp);

	/* the output is ~360 KiB; the limit stops it at 64 KiB */
	const char *args[] = { "quantize", model, out, "Q8_0", "-q", NULL };
	struct run_result r = ajar_spawn(args, NULL, 64 * 1024);
	CHECK_FAILS_WITH(r, "write");
	CHECK_EQ_INT(r.status, 1);
	free(r.out);

	const char *bad[] = { "quantize", "/nonexistent.gguf", out, "Q8_0", NULL };
	r = ajar_spawn(bad, NULL, 0);
	CHECK_EQ_INT(r.status, 1);
	free(r.out);

	char back[64] = { 0 };
	fp = fopen(out, "rb");
	CHECK(fp != NULL);
	if (fp) {
		size_t n = fread(back, 1, sizeof(back) - 1, fp);
		back[n] = '\0';
		fclose(fp);
	}
	CHECK_STR(back, sentinel);
	CHECK_EQ_INT(count_prefixed("atomic.gguf"), 1); /* no atomic.gguf.tmp.* left */

	/* without the limit it replaces the file */
	r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "quantize failed: %s", r.err);
	free(r.out);
	struct gguf_file *f = NULL;
	CHECK_OK(gguf_open(out, &f));
	gguf_close(f);
	CHECK_EQ_INT(count_prefixed("atomic.gguf"), 1);
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4200];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	if (!getenv("AJAR_BIN")) {
		fprintf(stderr, "AJAR_BIN is not set: run this test through ctest\n");
		return 1;
	}
	snprintf(model, sizeof(model), "%s", fixture_path("models/stories260K.gguf"));
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_bench_json);
	RUN(test_bench_skip_and_table);
	RUN(test_bench_bad_args);
	RUN(test_quantize_q8_0);
	RUN(test_quantize_q4_0_and_f16);
	RUN(test_quantize_k_types);
	RUN(test_quantize_bad_input);
	RUN(test_quantize_atomic);
	remove_dir();
	return check_summary();
}
