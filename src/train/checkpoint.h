/*
 * checkpoint.h - the training checkpoint: everything a resumed run needs to
 * continue as if never stopped (weights, AdamW moments, step, RNG state,
 * position in the data), in one file that a crash can never leave half
 * written and a corrupt copy can never get past.
 *
 * File layout (little-endian; v1):
 *
 *   offset  size  field
 *   0       8     magic "AJARCKPT"
 *   8       4     version (1)
 *   12      4     n_tensors (at most CHECKPOINT_MAX_TENSORS)
 *   16      8     file_size: the whole file, trailer included
 *   24      8     step
 *   32      8     rng_state
 *   40      8     data_file: index of the data file being read
 *   48      8     data_offset: byte offset within it
 *   56      4     meta_len (at most CHECKPOINT_MAX_META)
 *   60      4     reserved, 0
 *   64      meta_len          meta: key=value lines (hyperparameters), UTF-8, no NUL
 *   ...     n_tensors x       directory entry: u32 name_len (1..CHECKPOINT_MAX_NAME),
 *                             name bytes (no NUL), u64 count of floats
 *   ...     4 x sum(count)    the tensors' floats, in directory order, back to back
 *   end-8   8                 checksum of bytes [0, file_size - 8) (checkpoint_checksum)
 *
 * Writing goes to PATH.tmp.XXXXXX beside PATH, is fsync'd, renamed over
 * PATH, and the folder fsync'd: at any moment PATH is either the old
 * checkpoint or the new one, whole. A writer killed part-way leaves its
 * temporary file behind (nothing can remove it after SIGKILL) but never
 * touches PATH.
 *
 * Reading (checkpoint_open) checks the header against the file's size,
 * then the checksum of the whole file, then every directory entry, before
 * it reports success; only then do checkpoint_read_tensors copy into the
 * caller's buffers, after checking every requested name and size. Any
 * mismatch is AJAR_ERR_FORMAT (the file) or AJAR_ERR_INVALID / NOT_FOUND
 * (the caller's request), never a crash.
 */
#ifndef AJAR_TRAIN_CHECKPOINT_H
#define AJAR_TRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "ajar/err.h"

#define CHECKPOINT_VERSION 1
#define CHECKPOINT_HEADER_SIZE 64
/* Caps on what a file may claim, so a corrupt header cannot make the reader
 * allocate without bound: a Llama model has ~10 tensors a layer, three
 * checkpointed copies each (weights, m, v), and hyperparameters are a few lines. */
#define CHECKPOINT_MAX_TENSORS 65536
#define CHECKPOINT_MAX_NAME 255
#define CHECKPOINT_MAX_META (1u << 20)

/* The run's position, saved beside the tensors. */
struct checkpoint_state {
	uint64_t step;        /* optimizer steps taken */
	uint64_t rng_state;   /* the sampler of batches, to continue its sequence */
	uint64_t data_file;   /* index of the data file being read */
	uint64_t data_offset; /* byte offset of the next read in that file */
};

/* One named tensor of n floats: the source when writing, the destination
 * when reading. data is borrowed. */
struct checkpoint_tensor {
	const char *name; /* 1..CHECKPOINT_MAX_NAME bytes, unique within a file */
	float *data;      /* (n) */
	size_t n;
};

/*
 * Writes a checkpoint to path, replacing any file there only once the new
 * one is complete and on disk. meta: meta_len bytes of key=value lines (may
 * be NULL when meta_len is 0). The file is created mode 0600: a checkpoint
 * may hold a model not meant for others. INVALID for a bad name or meta, IO
 * on a failed write (the old file stays; the temporary file is removed) -
 * or, rarely, when only the final folder fsync failed: the new file is in
 * place then but its name may not survive a power cut.
 */
enum ajar_err checkpoint_write(const char *path, const struct checkpoint_state *state, const char *meta,
			       size_t meta_len, const struct checkpoint_tensor *tensors,
			       size_t n_tensors) AJAR_MUST_CHECK;

/* An open, fully validated checkpoint file. */
struct checkpoint_file;

/* Opens and validates path (header, size, checksum, directory); *out is
 * the caller's to checkpoint_close. NOT_FOUND if it does not exist, FORMAT
 * if it is damaged in any way, IO or NOMEM otherwise. */
enum ajar_err checkpoint_open(const char *path, struct checkpoint_file **out) AJAR_MUST_CHECK;
void checkpoint_close(struct checkpoint_file *f);

const struct checkpoint_state *checkpoint_get_state(const struct checkpoint_file *f);

/* The meta text, NUL-terminated (meta_len bytes); borrowed until close. */
const char *checkpoint_meta(const struct checkpoint_file *f, size_t *len);

/* The value of key in the meta lines ("key=value\n"): a pointer into the
 * meta text and its length up to the line's end; NOT_FOUND if absent. */
enum ajar_err checkpoint_meta_get(const struct checkpoint_file *f, const char *key, const char **value,
				  size_t *len) AJAR_MUST_CHECK;

size_t checkpoint_n_tensors(const struct checkpoint_file *f);
/* Name (borrowed until close) and float count of tensor i < n_tensors. */
const char *checkpoint_tensor_name(const struct checkpoint_file *f, size_t i, size_t *n);

/*
 * Copies each wanted tensor (by name) into its data. Every name must be in
 * the file (NOT_FOUND) with exactly n floats (INVALID) - all are checked
 * before the first copy, so on any error no buffer has been written. Tensors
 * in the file that are not asked for are skipped.
 */
enum ajar_err checkpoint_read_tensors(struct checkpoint_file *f, const struct checkpoint_tensor *want,
				      size_t n_want) AJAR_MUST_CHECK;

/* The file's 64-bit checksum of len bytes (exposed so tests can craft
 * files with a valid checksum around a bad field). A one-word change is
 * always detected; any other damage is missed with probability 2^-64. */
uint64_t checkpoint_checksum(const void *data, size_t len);

#endif
