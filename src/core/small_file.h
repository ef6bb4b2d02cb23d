/*
 * small_file.h - the few small files ajar keeps beside its store (the
 * server's secrets, the audit public key, the watermark key): read whole
 * with a size cap, and written so that a crash never leaves half a file.
 */
#ifndef AJAR_CORE_SMALL_FILE_H
#define AJAR_CORE_SMALL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ajar/err.h"

/*
 * Reads path into buf (NUL-terminated, *len bytes, at most cap - 1). With
 * private_only the file must grant group and others nothing (INVALID
 * otherwise, saying to chmod 600). A missing file is NOT_FOUND, quietly:
 * the caller decides what that means. Not a regular file, or larger than
 * cap - 1 bytes: FORMAT.
 */
enum ajar_err small_file_read(const char *path, bool private_only, char *buf, size_t cap, size_t *len) AJAR_MUST_CHECK;

/*
 * Writes data to a fresh temporary file beside path with mode, fsync'd,
 * then puts it in place and fsyncs the folder. With exclusive the name is
 * linked (link() fails when it exists: of two processes creating the file
 * at once one wins, and *existed tells the loser; the loser's data is
 * dropped); without it the file is replaced (rename). existed may be NULL.
 */
enum ajar_err small_file_write(const char *path, const void *data, size_t len, mode_t mode, bool exclusive,
			       bool *existed) AJAR_MUST_CHECK;

#endif
