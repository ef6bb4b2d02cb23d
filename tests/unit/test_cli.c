/*
 * Integration tests of the `ajar` binary ($AJAR_BIN): the JSON interfaces
 * other tools rely on (run --json, logits, tokenize --ids), info, and
 * import-llama2c, checked against llama.cpp's reference outputs; and how bad
 * input is handled: every failure exits non-zero with exactly one line on
 * stderr that names the problem, and never crashes (a signal would show as a
 * non-1/2 status).
 */
#include "check.h"
#include "spawn_util.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

static char model[4096], bin_path[4096], tok_path[4096];

static json_t *reference_cases(void)
{
	json_error_t e;
	json_t *root = json_load_file(fixture_path("reference/stories260K.json"), 0, &e);
	return root;
}

static void test_run_json_matches_llama_cpp(void)
{
	json_t *root = reference_cases();
	json_t *cases = json_object_get(root, "cases");
	CHECK(json_array_size(cases) == 6);
	for (size_t c = 0; c < json_array_size(cases); c++) {
		json_t *cs = json_array_get(cases, c);
		const char *prompt = json_string_value(json_object_get(cs, "prompt"));
		const char *args[] = { "run", "-m", model, "-p", prompt, "-n", "48", "--temp", "0", "--json", "-t", "2", NULL };
		struct run_result r = ajar_spawn(args, NULL, 0);
		CHECK_MSG(r.status == 0, "run failed: %s", r.err);
		json_error_t e;
		json_t *out = json_loads(r.out, 0, &e);
		CHECK_MSG(out != NULL, "run --json printed invalid JSON: %s", r.out);
		if (out) {
			CHECK(json_equal(json_object_get(out, "prompt_tokens"), json_object_get(cs, "prompt_tokens")));
			CHECK(json_equal(json_object_get(out, "tokens"), json_object_get(cs, "greedy_tokens")));
			CHECK_STR(json_string_value(json_object_get(out, "text")),
				  json_string_value(json_object_get(cs, "greedy_text")));
		}
		json_decref(out);
		free(r.out);
	}
	json_decref(root);
}

static void test_logits_json(void)
{
	json_t *root = reference_cases();
	json_t *cs = json_array_get(json_object_get(root, "cases"), 0);
	const char *args[] = { "logits", "-m", model, "-p", json_string_value(json_object_get(cs, "prompt")), NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_MSG(r.status == 0, "logits failed: %s", r.err);
	json_t *out = json_loads(r.out, 0, NULL);
	CHECK(out != NULL);
	if (out) {
		json_t *ref = json_array_get(json_object_get(cs, "logits"), 0);
		json_t *got = json_object_get(out, "logits");
		CHECK(json_equal(json_object_get(out, "tokens"), json_object_get(cs, "prompt_tokens")));
		CHECK_EQ_INT(json_array_size(got), 512);
		double worst = 0;
		for (size_t i = 0; i < json_array_size(got) && i < json_array_size(ref); i++)
			worst = fmax(worst, fabs(json_number_value(json_array_get(got, i)) -
						 json_number_value(json_array_get(ref, i))));
		CHECK_MSG(worst < 1e-3, "logits differ by %g", worst);
	}
	json_decref(out);
	json_decref(root);
	free(r.out);
}

static void test_tokenize(void)
{
	const char *a1[] = { "tokenize", "-m", model, "--ids", "Once upon a time", NULL };
	struct run_result r = ajar_spawn(a1, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "[1, 403, 407, 261, 378]\n");
	free(r.out);

	const char *a2[] = { "tokenize", "-m", model, "--ids", "--no-bos", "Once upon a time", NULL };
	r = ajar_spawn(a2, NULL, 0);
	CHECK_STR(r.out, "[403, 407, 261, 378]\n");
	free(r.out);

	/* <s> is text unless --special */
	const char *a3[] = { "tokenize", "-m", model, "--ids", "--no-bos", "--special", "<s>", NULL };
	r = ajar_spawn(a3, NULL, 0);
	CHECK_STR(r.out, "[1]\n");
	free(r.out);
	const char *a4[] = { "tokenize", "-m", model, "--ids", "--no-bos", "<s>", NULL };
	r = ajar_spawn(a4, NULL, 0);
	CHECK(strcmp(r.out, "[1]\n") != 0 && r.out[0] == '[');
	free(r.out);

	/* TEXT is literal: a backslash-n stays two characters. */
	const char *a5[] = { "tokenize", "-m", fixture_path("vocab/ggml-vocab-llama-spm.gguf"), "--ids", "--no-bos",
			     "Hello world", NULL };
	r = ajar_spawn(a5, NULL, 0);
	CHECK_STR(r.out, "[15043, 3186]\n");
	free(r.out);
}

static void test_info(void)
{
	const char *args[] = { "info", model, NULL };
	struct run_result r = ajar_spawn(args, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "architecture:  llama") != NULL);
	CHECK(strstr(r.out, "047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b") != NULL);
	CHECK(strstr(r.out, "context:       128") != NULL);
	CHECK(strstr(r.out, "F32") != NULL);
	CHECK(strstr(r.out, "tokenizer.ggml.model = \"llama\"") != NULL);
	free(r.out);
}

static void test_import_then_run(void)
{
	char dir[] = "/tmp/ajar-cli-XXXXXX", out[4096];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(out, sizeof(out), "%s/imported.gguf", dir);
	const char *a1[] = { "import-llama2c", bin_path, tok_path, "-o", out, NULL };
	struct run_result r = ajar_spawn(a1, NULL, 0);
	CHECK_MSG(r.status == 0, "import failed: %s", r.err);
	free(r.out);
	const char *a2[] = { "run", "-m", out, "-p", "Once upon a time", "-n", "48", "--temp", "0", "--json", NULL };
	r = ajar_spawn(a2, NULL, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	json_t *root = reference_cases();
	json_t *cs = json_array_get(json_object_get(root, "cases"), 0);
	CHECK(j && json_equal(json_object_get(j, "tokens"), json_object_get(cs, "greedy_tokens")));
	json_decref(j);
	json_decref(root);
	free(r.out);
	/* Importing a checkpoint whose size contradicts its header fails. */
	const char *a3[] = { "import-llama2c", tok_path, tok_path, "-o", out, NULL };
	r = ajar_spawn(a3, NULL, 0);
	CHECK_FAILS_WITH(r, "checkpoint");
	free(r.out);
	unlink(out);
	rmdir(dir);
}

static void test_sampling_seed(void)
{
	const char *args[] = { "run", "-m", model, "-p", "The dog", "-n", "30", "--temp", "1", "--seed", "42", "--json", NULL };
	struct run_result a = ajar_spawn(args, NULL, 0), b = ajar_spawn(args, NULL, 0);
	CHECK_EQ_INT(a.status, 0);
	json_t *ja = json_loads(a.out, 0, NULL), *jb = json_loads(b.out, 0, NULL);
	CHECK(ja && jb && json_equal(json_object_get(ja, "tokens"), json_object_get(jb, "tokens")));
	json_decref(ja);
	json_decref(jb);
	free(a.out);
	free(b.out);
	/* stop string: generation ends before "Lily" appears */
	const char *s[] = { "run", "-m", model, "-p", "Once upon a time", "-n", "48", "--temp", "0", "--stop", "Lily", "--json", NULL };
	struct run_result r = ajar_spawn(s, NULL, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	if (j) {
		CHECK_STR(json_string_value(json_object_get(j, "text")), ", there was a little girl named ");
		CHECK_STR(json_string_value(json_object_get(j, "finish_reason")), "stop");
	}
	json_decref(j);
	free(r.out);
}

static void test_bad_input(void)
{
	struct run_result r;
	const char *missing[] = { "run", "-m", "/nonexistent.gguf", "-p", "x", NULL };
	r = ajar_spawn(missing, NULL, 0);
	CHECK_FAILS_WITH(r, "/nonexistent.gguf");
	free(r.out);

	const char *not_gguf[] = { "info", tok_path, NULL };
	r = ajar_spawn(not_gguf, NULL, 0);
	CHECK_FAILS_WITH(r, "magic");
	free(r.out);

	const char *unknown_cmd[] = { "frobnicate", NULL };
	r = ajar_spawn(unknown_cmd, NULL, 0);
	CHECK_FAILS_WITH(r, "unknown command");
	free(r.out);

	const char *bad_opt[] = { "run", "-m", model, "-p", "x", "--bogus", NULL };
	r = ajar_spawn(bad_opt, NULL, 0);
	CHECK_FAILS_WITH(r, "--bogus");
	free(r.out);

	const char *bad_num[] = { "run", "-m", model, "-p", "x", "-n", "12abc", NULL };
	r = ajar_spawn(bad_num, NULL, 0);
	CHECK_FAILS_WITH(r, "not an integer");
	free(r.out);

	const char *bad_temp[] = { "run", "-m", model, "-p", "x", "--top-p", "1.5", NULL };
	r = ajar_spawn(bad_temp, NULL, 0);
	CHECK_FAILS_WITH(r, "--top-p");
	free(r.out);

	const char *no_value[] = { "run", "-m", NULL };
	r = ajar_spawn(no_value, NULL, 0);
	CHECK_FAILS_WITH(r, "needs a value");
	free(r.out);

	/* A prompt longer than the context is refused, not truncated silently. */
	char *long_prompt = malloc(20000);
	for (int i = 0; i < 19999; i++)
		long_prompt[i] = "abcdefgh "[i % 9];
	long_prompt[19999] = '\0';
	const char *too_long[] = { "run", "-m", model, "-p", long_prompt, "-n", "4", NULL };
	r = ajar_spawn(too_long, NULL, 0);
	CHECK_FAILS_WITH(r, "context");
	free(r.out);
	free(long_prompt);

	/* --ctx beyond training length works, with one warning line. */
	const char *big_ctx[] = { "run", "-m", model, "-p", "x", "-n", "2", "--ctx", "512", "--json", NULL };
	r = ajar_spawn(big_ctx, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.err, "warning") != NULL);
	free(r.out);

	/* Invalid UTF-8 in the prompt is tokenized as bytes, and the output is
	 * still valid JSON. */
	const char *bad_utf8[] = { "run", "-m", model, "-p", "caf\xC3 \xFF\xFE", "-n", "4", "--temp", "0", "--json", NULL };
	r = ajar_spawn(bad_utf8, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	json_decref(j);
	free(r.out);

	const char *help[] = { "run", "--help", NULL };
	r = ajar_spawn(help, NULL, 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "usage: ajar run") != NULL);
	free(r.out);
}

int main(void)
{
	if (!getenv("AJAR_BIN")) {
		fprintf(stderr, "AJAR_BIN is not set: run this test through ctest\n");
		return 1;
	}
	snprintf(model, sizeof(model), "%s", fixture_path("models/stories260K.gguf"));
	snprintf(bin_path, sizeof(bin_path), "%s", fixture_path("models/stories260K.bin"));
	snprintf(tok_path, sizeof(tok_path), "%s", fixture_path("models/tok512.bin"));
	RUN(test_run_json_matches_llama_cpp);
	RUN(test_logits_json);
	RUN(test_tokenize);
	RUN(test_info);
	RUN(test_import_then_run);
	RUN(test_sampling_seed);
	RUN(test_bad_input);
	return check_summary();
}
