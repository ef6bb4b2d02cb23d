/*
 * test_small_file.c - small_file_read / small_file_write (src/core): the
 * files beside the store (secrets, the audit public key, the watermark key).
 */
#include "ajar/err.h"
#include "check.h"
#include "core/small_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/ajar-small-file-XXXXXX";

static const char *at(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* Files in dir whose name contains ".tmp.": none may be left behind. */
static int temp_files(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		n += strstr(e->d_name, ".tmp.") != NULL;
	if (d)
		closedir(d);
	return n;
}

static void test_exclusive_write(void)
{
	char buf[64];
	size_t len = 0;
	bool existed = true;

	CHECK_OK(small_file_write(at("a"), "first\n", 6, 0600, true, &existed));
	CHECK(!existed);
	/* A second creator loses: the first file stays, and it is told so. */
	CHECK_OK(small_file_write(at("a"), "second\n", 7, 0600, true, &existed));
	CHECK(existed);
	CHECK_OK(small_file_read(at("a"), true, buf, sizeof(buf), &len));
	CHECK_EQ_INT(len, 6);
	CHECK_STR(buf, "first\n");
	struct stat sb;
	CHECK(stat(at("a"), &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK_EQ_INT(temp_files(), 0);
}

static void test_replace_write(void)
{
	char buf[64];
	size_t len = 0;

	CHECK_OK(small_file_write(at("b"), "one", 3, 0644, false, NULL));
	CHECK_OK(small_file_write(at("b"), "two!", 4, 0644, false, NULL));
	CHECK_OK(small_file_read(at("b"), false, buf, sizeof(buf), &len));
	CHECK_STR(buf, "two!");
	/* 0644 is readable by others: refused where the file must be private. */
	CHECK_EQ_INT(small_file_read(at("b"), true, buf, sizeof(buf), &len), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "chmod 600") != NULL);
	CHECK_EQ_INT(temp_files(), 0);
}

static void test_read_errors(void)
{
	char buf[8];
	size_t len = 0;

	CHECK_EQ_INT(small_file_read(at("missing"), false, buf, sizeof(buf), &len), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(small_file_read(dir, false, buf, sizeof(buf), &len), AJAR_ERR_FORMAT); /* a folder */
	CHECK_OK(small_file_write(at("big"), "0123456789", 10, 0600, false, NULL));
	CHECK_EQ_INT(small_file_read(at("big"), true, buf, sizeof(buf), &len), AJAR_ERR_FORMAT);
	CHECK_EQ_INT(small_file_write("/nonexistent-dir/x", "x", 1, 0600, true, NULL), AJAR_ERR_IO);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_exclusive_write);
	RUN(test_replace_write);
	RUN(test_read_errors);
	unlink(at("a"));
	unlink(at("b"));
	unlink(at("big"));
	rmdir(dir);
	return check_summary();
}
