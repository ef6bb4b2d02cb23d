/*
 * test_checkpoint.c - training checkpoints (src/train/checkpoint.h): a
 * round trip of tensors, state and meta; damaged files (truncated at every
 * length, every byte flipped, bad magic, version and sizes behind a valid
 * checksum) all refused as FORMAT without a crash and without touching the
 * caller's buffers; and a writer SIGKILLed at many moments never replacing
 * the checkpoint already there.
 */
#include "ajar/err.h"
#include "check.h"
#include "train/checkpoint.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/ajar-checkpoint-XXXXXX";

static const char *at(const char *name)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	return b;
}

/* Files in dir whose name contains ".tmp."; with unlink_them, removes them
 * (in passes: entries unlinked during readdir can hide others from it). */
static int temp_files(bool unlink_them)
{
	int n = 0, pass_n;
	do {
		pass_n = 0;
		DIR *d = opendir(dir);
		for (struct dirent *e; d && (e = readdir(d));) {
			if (!strstr(e->d_name, ".tmp."))
				continue;
			pass_n++;
			if (unlink_them)
				unlink(at(e->d_name));
		}
		if (d)
			closedir(d);
		if (n == 0)
			n = pass_n;
	} while (unlink_them && pass_n > 0);
	return n;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	if (fp && fseek(fp, 0, SEEK_END) == 0) {
		long n = ftell(fp);
		buf = malloc((size_t)n + 1);
		rewind(fp);
		*len = fread(buf, 1, (size_t)n, fp);
	}
	if (fp)
		fclose(fp);
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	CHECK(fp && fwrite(data, 1, len, fp) == len);
	if (fp)
		fclose(fp);
}

static void fill(float *x, size_t n, float seed)
{
	for (size_t i = 0; i < n; i++)
		x[i] = seed + (float)i * 0.25f - (float)(i % 7);
}

static const char meta_text[] = "dim=64\nlayers=2\nlr=0.0003\ndi=x\n";

/* A small checkpoint: three tensors of 5, 3 and 0 floats. */
static void write_small(const char *path)
{
	static float a[5], b[3], empty[1];
	fill(a, 5, 1.0f);
	fill(b, 3, -2.0f);
	struct checkpoint_tensor t[3] = { { "wq", a, 5 }, { "m.wq", b, 3 }, { "empty", empty, 0 } };
	struct checkpoint_state st = { 7, 0x123456789abcdef0ull, 3, 1ull << 40 };
	CHECK_OK(checkpoint_write(path, &st, meta_text, strlen(meta_text), t, 3));
}

static void test_round_trip(void)
{
	enum { BIG = 300000 }; /* over the writer's 1 MiB buffer: written straight from memory */
	float *big = malloc(BIG * sizeof(float)), *big2 = malloc(BIG * sizeof(float));
	float w[10], m[10], v[10], norm[4], w2[10], m2[10], v2[10], norm2[4];
	struct checkpoint_file *f = NULL;

	fill(big, BIG, 0.5f);
	fill(w, 10, 1.0f), fill(m, 10, 2.0f), fill(v, 10, 3.0f), fill(norm, 4, 4.0f);
	struct checkpoint_tensor t[5] = {
		{ "tok_emb", big, BIG }, { "w", w, 10 }, { "m.w", m, 10 }, { "v.w", v, 10 }, { "norm", norm, 4 },
	};
	struct checkpoint_state st = { 1234, UINT64_MAX - 5, 2, 987654321 };
	CHECK_OK(checkpoint_write(at("rt.ckpt"), &st, meta_text, strlen(meta_text), t, 5));
	CHECK_EQ_INT(temp_files(false), 0);
	CHECK_OK(checkpoint_open(at("rt.ckpt"), &f));
	if (!f)
		goto out;
	const struct checkpoint_state *got = checkpoint_get_state(f);
	CHECK(got->step == 1234 && got->rng_state == UINT64_MAX - 5 && got->data_file == 2 &&
	      got->data_offset == 987654321);
	size_t len = 0, n = 0;
	CHECK_STR(checkpoint_meta(f, &len), meta_text);
	const char *val = NULL;
	CHECK_OK(checkpoint_meta_get(f, "lr", &val, &len));
	CHECK(len == 6 && memcmp(val, "0.0003", 6) == 0);
	CHECK_OK(checkpoint_meta_get(f, "di", &val, &len)); /* not "dim" */
	CHECK(len == 1 && *val == 'x');
	CHECK_EQ_INT(checkpoint_meta_get(f, "d", &val, &len), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(checkpoint_n_tensors(f), 5);
	CHECK_STR(checkpoint_tensor_name(f, 0, &n), "tok_emb");
	CHECK_EQ_INT(n, BIG);

	/* Read in another order, one tensor left out. */
	struct checkpoint_tensor want[4] = { { "norm", norm2, 4 }, { "v.w", v2, 10 }, { "tok_emb", big2, BIG },
					     { "w", w2, 10 } };
	CHECK_OK(checkpoint_read_tensors(f, want, 4));
	CHECK(memcmp(big, big2, BIG * sizeof(float)) == 0);
	CHECK(memcmp(w, w2, sizeof(w)) == 0 && memcmp(v, v2, sizeof(v)) == 0 && memcmp(norm, norm2, sizeof(norm)) == 0);

	/* A wrong size or a missing name: refused before any buffer is written. */
	memset(m2, 0x55, sizeof(m2));
	memset(w2, 0x55, sizeof(w2));
	struct checkpoint_tensor bad_size[2] = { { "w", w2, 10 }, { "m.w", m2, 9 } };
	CHECK_EQ_INT(checkpoint_read_tensors(f, bad_size, 2), AJAR_ERR_INVALID);
	struct checkpoint_tensor missing[2] = { { "w", w2, 10 }, { "m.x", m2, 10 } };
	CHECK_EQ_INT(checkpoint_read_tensors(f, missing, 2), AJAR_ERR_NOT_FOUND);
	for (int i = 0; i < 10; i++)
		CHECK(((unsigned char *)w2)[i] == 0x55);
	checkpoint_close(f);

	/* Replacing: the new file is what loads; nothing left behind. */
	write_small(at("rt.ckpt"));
	CHECK_OK(checkpoint_open(at("rt.ckpt"), &f));
	if (f)
		CHECK_EQ_INT(checkpoint_get_state(f)->step, 7);
	checkpoint_close(f);
	CHECK_EQ_INT(temp_files(false), 0);
out:
	free(big);
	free(big2);
}

static void test_write_errors(void)
{
	float x[2] = { 1, 2 };
	struct checkpoint_state st = { 0 };
	struct checkpoint_tensor dup[2] = { { "a", x, 2 }, { "a", x, 1 } };
	struct checkpoint_tensor noname[1] = { { "", x, 2 } };
	char longname[CHECKPOINT_MAX_NAME + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct checkpoint_tensor toolong[1] = { { longname, x, 2 } };

	CHECK_EQ_INT(checkpoint_write(at("e.ckpt"), &st, NULL, 0, dup, 2), AJAR_ERR_INVALID);
	CHECK_EQ_INT(checkpoint_write(at("e.ckpt"), &st, NULL, 0, noname, 1), AJAR_ERR_INVALID);
	CHECK_EQ_INT(checkpoint_write(at("e.ckpt"), &st, NULL, 0, toolong, 1), AJAR_ERR_INVALID);
	CHECK_EQ_INT(checkpoint_write(at("e.ckpt"), &st, "a=\0b", 4, dup, 1), AJAR_ERR_INVALID);
	CHECK_EQ_INT(checkpoint_write("/nonexistent-dir/e.ckpt", &st, NULL, 0, dup, 1), AJAR_ERR_IO);
	CHECK(access(at("e.ckpt"), F_OK) != 0);
	CHECK_EQ_INT(temp_files(false), 0);

	/* No tensors, no meta: still a valid file. */
	struct checkpoint_file *f = NULL;
	CHECK_OK(checkpoint_write(at("e.ckpt"), &st, NULL, 0, NULL, 0));
	CHECK_OK(checkpoint_open(at("e.ckpt"), &f));
	if (f)
		CHECK_EQ_INT(checkpoint_n_tensors(f), 0);
	checkpoint_close(f);
	CHECK_EQ_INT(checkpoint_open(at("missing.ckpt"), &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(checkpoint_open(dir, &f), AJAR_ERR_FORMAT);
	CHECK(f == NULL);
}

/* Opens path expecting FORMAT; label says which damage, for the message. */
static void expect_format(const char *path, const char *label, size_t where)
{
	struct checkpoint_file *f = NULL;
	enum ajar_err err = checkpoint_open(path, &f);
	CHECK_MSG(err == AJAR_ERR_FORMAT, "%s at %zu: got %s (%s)", label, where, ajar_err_name(err), ajar_err_msg());
	CHECK(f == NULL);
	checkpoint_close(f);
}

static void test_truncated_and_flipped(void)
{
	size_t len = 0;
	write_small(at("small.ckpt"));
	unsigned char *good = read_file(at("small.ckpt"), &len), *bad = malloc(len);
	CHECK(good && len > 100);
	if (!good || !bad)
		goto out;
	for (size_t cut = 0; cut < len; cut++) {
		write_file(at("cut.ckpt"), good, cut);
		expect_format(at("cut.ckpt"), "truncated", cut);
	}
	/* Every byte, one bit and all bits: the header checks or the checksum catch each. */
	for (size_t i = 0; i < len; i++) {
		for (int k = 0; k < 2; k++) {
			memcpy(bad, good, len);
			bad[i] ^= k ? 0xff : 0x01;
			write_file(at("flip.ckpt"), bad, len);
			expect_format(at("flip.ckpt"), "flipped", i);
		}
	}
	/* A byte too many. */
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, good, len);
	longer[len] = 0;
	write_file(at("long.ckpt"), longer, len + 1);
	expect_format(at("long.ckpt"), "appended", len);
	free(longer);
out:
	free(good);
	free(bad);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A copy of good with bytes [off, off + bytes) set to v (little-endian) and
 * the checksum made valid again, so the field checks themselves are tested. */
static void expect_patched_format(const unsigned char *good, size_t len, size_t off, uint64_t v, int bytes,
				  const char *label)
{
	unsigned char *bad = malloc(len);
	memcpy(bad, good, len);
	put_le(bad + off, v, bytes);
	put_le(bad + len - 8, checkpoint_checksum(bad, len - 8), 8);
	write_file(at("patched.ckpt"), bad, len);
	expect_format(at("patched.ckpt"), label, off);
	free(bad);
}

static void test_bad_fields(void)
{
	size_t len = 0;
	write_small(at("small.ckpt"));
	unsigned char *good = read_file(at("small.ckpt"), &len);
	if (!good)
		return;
	size_t meta_len = strlen(meta_text), dir0 = 64 + meta_len; /* first directory entry, "wq" */

	expect_patched_format(good, len, 0, 0x5450434b52414a42ull, 8, "magic");
	expect_patched_format(good, len, 8, 2, 4, "version");
	expect_patched_format(good, len, 8, 0, 4, "version 0");
	expect_patched_format(good, len, 12, 0xffffffffu, 4, "n_tensors absurd");
	expect_patched_format(good, len, 12, CHECKPOINT_MAX_TENSORS, 4, "n_tensors at cap");
	expect_patched_format(good, len, 12, 4, 4, "n_tensors one more");
	expect_patched_format(good, len, 12, 2, 4, "n_tensors one less");
	expect_patched_format(good, len, 16, UINT64_MAX, 8, "file_size");
	expect_patched_format(good, len, 56, 0xfffffff0u, 4, "meta_len absurd");
	expect_patched_format(good, len, 56, len, 4, "meta_len past end");
	expect_patched_format(good, len, 56, meta_len + 1, 4, "meta_len one more");
	expect_patched_format(good, len, 60, 1, 4, "reserved");
	expect_patched_format(good, len, 64 + 3, 0, 1, "NUL in meta");
	expect_patched_format(good, len, dir0, 0, 4, "name_len 0");
	expect_patched_format(good, len, dir0, 0xffffffffu, 4, "name_len absurd");
	expect_patched_format(good, len, dir0, CHECKPOINT_MAX_NAME + 1, 4, "name_len over cap");
	expect_patched_format(good, len, dir0, 3, 4, "name_len one more");
	expect_patched_format(good, len, dir0 + 4, 0, 1, "NUL in name");
	expect_patched_format(good, len, dir0 + 6, UINT64_MAX, 8, "count absurd");
	expect_patched_format(good, len, dir0 + 6, 1ull << 62, 8, "count 2^62");
	expect_patched_format(good, len, dir0 + 6, 6, 8, "count one more");
	expect_patched_format(good, len, dir0 + 6, 4, 8, "count one less");
	free(good);

	/* Two tensors "aa" and "ab", no meta; the second renamed "aa". */
	float x[1] = { 1 };
	struct checkpoint_tensor two[2] = { { "aa", x, 1 }, { "ab", x, 1 } };
	struct checkpoint_state st = { 0 };
	CHECK_OK(checkpoint_write(at("dup.ckpt"), &st, NULL, 0, two, 2));
	good = read_file(at("dup.ckpt"), &len);
	if (!good)
		return;
	size_t second_name = 64 + (4 + 2 + 8) + 4;
	CHECK(memcmp(good + second_name, "ab", 2) == 0);
	expect_patched_format(good, len, second_name + 1, 'a', 1, "duplicate name");
	CHECK(strstr(ajar_err_msg(), "two tensors") != NULL);
	free(good);
}

/*
 * The disk fills up part-way (RLIMIT_FSIZE in a child, SIGXFSZ ignored so
 * write() fails with EFBIG): IO, the temporary file removed, the old
 * checkpoint untouched.
 */
static void test_disk_full(void)
{
	enum { N = 1 << 18 }; /* 1 MiB of floats against a 64 KiB limit */
	static float big[N];
	struct checkpoint_file *f = NULL;

	write_small(at("full.ckpt"));
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit lim = { 64 << 10, 64 << 10 };
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
			_exit(100);
		struct checkpoint_tensor t[1] = { { "big", big, N } };
		struct checkpoint_state st = { 8, 0, 0, 0 };
		_exit((int)checkpoint_write(at("full.ckpt"), &st, NULL, 0, t, 1));
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), AJAR_ERR_IO);
	CHECK_EQ_INT(temp_files(false), 0);
	CHECK_OK(checkpoint_open(at("full.ckpt"), &f));
	if (f)
		CHECK_EQ_INT(checkpoint_get_state(f)->step, 7);
	checkpoint_close(f);
}

/* Checks path loads whole as the small checkpoint (step 7) or the big one
 * (step 8, n floats of fill(seed 9)); returns the step, 0 on failure. */
static uint64_t load_either(const char *path, const float *big, size_t n, float *scratch)
{
	struct checkpoint_file *f = NULL;
	uint64_t step = 0;
	float a[5], ref[5];

	CHECK_OK(checkpoint_open(path, &f));
	if (!f)
		return 0;
	step = checkpoint_get_state(f)->step;
	if (step == 7) {
		struct checkpoint_tensor t[1] = { { "wq", a, 5 } };
		fill(ref, 5, 1.0f);
		CHECK_OK(checkpoint_read_tensors(f, t, 1));
		CHECK(memcmp(a, ref, sizeof(a)) == 0);
	} else {
		struct checkpoint_tensor t[1] = { { "big", scratch, n } };
		CHECK_EQ_INT(step, 8);
		CHECK_OK(checkpoint_read_tensors(f, t, 1));
		CHECK(memcmp(scratch, big, n * sizeof(float)) == 0);
	}
	checkpoint_close(f);
	return step;
}

/*
 * A writer SIGKILLed at many moments (before it starts, mid-data, during
 * fsync, after the rename): PATH is always a whole checkpoint, the old one
 * unless the new one was complete. At least one kill must land mid-write
 * (a temporary file left behind), or the test proved nothing.
 */
static void test_kill_during_write(void)
{
	enum { N = 8 << 20 }; /* 32 MiB: tens of milliseconds to write */
	static const int delays_us[] = { 0, 100, 300, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 40000, 80000 };
	float *big = malloc(N * sizeof(float)), *scratch = malloc(N * sizeof(float));
	char path[512]; /* at()'s buffers are reused by temp_files */
	snprintf(path, sizeof(path), "%s", at("kill.ckpt"));
	int mid_write = 0, completed = 0;

	fill(big, N, 9.0f);
	for (size_t k = 0; k < sizeof(delays_us) / sizeof(delays_us[0]); k++) {
		write_small(path);
		pid_t pid = fork();
		if (pid == 0) {
			struct checkpoint_tensor t[1] = { { "big", big, N } };
			struct checkpoint_state st = { 8, 1, 2, 3 };
			_exit(checkpoint_write(path, &st, "k=v\n", 4, t, 1) == AJAR_OK ? 0 : 1);
		}
		CHECK(pid > 0);
		if (pid <= 0)
			break;
		usleep((useconds_t)delays_us[k]);
		kill(pid, SIGKILL);
		int status = 0;
		waitpid(pid, &status, 0);
		bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		uint64_t step = load_either(path, big, N, scratch);
		if (finished)
			CHECK_EQ_INT(step, 8);
		completed += step == 8;
		mid_write += temp_files(true) > 0;
	}
	printf("kill during write: %d of %zu kills mid-write, %d writes completed\n", mid_write,
	       sizeof(delays_us) / sizeof(delays_us[0]), completed);
	CHECK_MSG(mid_write > 0, "no kill landed mid-write (%d completed)", completed);
	free(big);
	free(scratch);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_round_trip);
	RUN(test_write_errors);
	RUN(test_truncated_and_flipped);
	RUN(test_bad_fields);
	RUN(test_disk_full);
	RUN(test_kill_during_write);
	temp_files(true);
	const char *files[] = { "rt.ckpt", "e.ckpt", "small.ckpt", "cut.ckpt", "flip.ckpt", "long.ckpt",
				"patched.ckpt", "dup.ckpt", "kill.ckpt", "full.ckpt" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(at(files[i]));
	rmdir(dir);
	return check_summary();
}
