/*
 * small_file.c - reading and atomically writing small files
 * (small_file.h). A write goes to PATH.tmp.XXXXXX, is fsync'd, and is then
 * linked or renamed over PATH, and the folder is fsync'd so the new name
 * survives a crash too.
 */
#include "core/small_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ajar_err small_file_read(const char *path, bool private_only, char *buf, size_t cap, size_t *len)
{
	enum ajar_err err = AJAR_OK;
	struct stat sb;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no such file", path);
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	if (private_only && (sb.st_mode & 077) != 0) {
		err = ajar_errf(AJAR_ERR_INVALID, "%s: mode %03o lets group or others read it; run chmod 600 on it",
				path, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap - 1) {
			err = ajar_errf(AJAR_ERR_FORMAT, "%s: larger than %zu bytes", path, cap - 1);
			goto out;
		}
	}
	buf[n] = '\0';
	*len = n;
out:
	close(fd);
	return err;
}

/* fsync of the folder holding path, so a rename or link in it is durable. */
static enum ajar_err sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!slash) {
		dir[0] = '.';
		n = 1;
	} else if (n == 0) {
		dir[0] = '/';
		n = 1;
	} else if (n >= sizeof(dir)) {
		return ajar_errf(AJAR_ERR_LIMIT, "%s: path too long", path);
	} else {
		memcpy(dir, path, n);
	}
	dir[n] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", dir, strerror(errno));
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	if (rc != 0)
		return ajar_errf(AJAR_ERR_IO, "%s: fsync: %s", dir, strerror(saved));
	return AJAR_OK;
}

/* Writes data to a fresh temporary file beside path with mode, fsync'd;
 * its name goes to tmp (cap >= PATH_MAX). */
static enum ajar_err write_temp_file(const char *path, const void *data, size_t len, mode_t mode, char *tmp,
				     size_t cap)
{
	int k = snprintf(tmp, cap, "%s.tmp.XXXXXX", path);
	if (k < 0 || (size_t)k >= cap)
		return ajar_errf(AJAR_ERR_LIMIT, "%s: path too long", path);
	int fd = mkstemp(tmp); /* mode 0600 until fchmod */
	if (fd < 0)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", tmp, strerror(errno));
	enum ajar_err err = AJAR_OK;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, (const char *)data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = ajar_errf(AJAR_ERR_IO, "%s: %s", tmp, strerror(errno));
			break;
		}
		done += (size_t)w;
	}
	if (!err && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && !err)
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", tmp, strerror(errno));
	if (err)
		unlink(tmp);
	return err;
}

enum ajar_err small_file_write(const char *path, const void *data, size_t len, mode_t mode, bool exclusive,
			       bool *existed)
{
	char tmp[PATH_MAX];
	enum ajar_err err = write_temp_file(path, data, len, mode, tmp, sizeof(tmp));

	if (existed)
		*existed = false;
	if (err)
		return err;
	if (exclusive) {
		if (link(tmp, path) != 0) {
			if (errno == EEXIST) {
				if (existed)
					*existed = true;
			} else {
				err = ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
			}
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return err ? err : sync_parent_dir(path);
}
