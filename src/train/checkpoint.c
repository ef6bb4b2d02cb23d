/*
 * checkpoint.c - writing and reading training checkpoints (the format is
 * the offset table in checkpoint.h).
 *
 * Layout of this file: the checksum (a streaming 64-bit hash), byte
 * encoding helpers, the streaming writer (a buffered fd that hashes what
 * passes through it, then the temp-file / fsync / rename / folder-fsync
 * dance), and the reader (header, checksum pass, directory parse, then
 * copies on request).
 *
 * Tensors can be hundreds of megabytes, so neither side holds a whole file
 * in memory: the writer streams through a 1 MiB buffer, and the reader
 * hashes the file in 1 MiB chunks and later preads each tensor straight
 * into the caller's buffer.
 */
#include "train/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Integers are stored little-endian byte by byte, but the tensors are
 * written as the host's floats in one piece: that is only the file format
 * on a little-endian host. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes floats in host order and needs a little-endian host"
#endif

static const char checkpoint_magic[8] = { 'A', 'J', 'A', 'R', 'C', 'K', 'P', 'T' };

/* Bytes of one directory entry besides the name: u32 name_len, u64 count. */
#define DIR_ENTRY_FIXED 12
#define TRAILER_SIZE 8
#define IO_CHUNK (1u << 20)

/* ---- checksum ---------------------------------------------------------- */

/*
 * One lane of the xxHash64 round over 8-byte words. Each round is a
 * bijection of the accumulator for a fixed word and of the word for a fixed
 * accumulator, so two inputs of the same length that differ in one word
 * always end in different sums; the length goes in last so a truncated
 * input differs too. Not a defence against a forger - a check for torn
 * writes and flipped bits.
 */
#define HASH_P1 11400714785074694791ull
#define HASH_P2 14029467366897019727ull
#define HASH_P3 1609587929392839161ull

struct hash_state {
	uint64_t acc;
	uint64_t len;
	unsigned char tail[8]; /* bytes not yet making up a whole word */
	size_t n_tail;
};

static uint64_t hash_round(uint64_t acc, uint64_t word)
{
	acc += word * HASH_P2;
	acc = (acc << 31) | (acc >> 33);
	return acc * HASH_P1;
}

static void hash_init(struct hash_state *h)
{
	memset(h, 0, sizeof(*h));
	h->acc = HASH_P3;
}

static void hash_update(struct hash_state *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t word;

	h->len += len;
	if (h->n_tail) {
		size_t take = 8 - h->n_tail < len ? 8 - h->n_tail : len;
		memcpy(h->tail + h->n_tail, p, take);
		h->n_tail += take;
		p += take;
		len -= take;
		if (h->n_tail < 8)
			return;
		memcpy(&word, h->tail, 8);
		h->acc = hash_round(h->acc, word);
		h->n_tail = 0;
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&word, p, 8);
		h->acc = hash_round(h->acc, word);
	}
	memcpy(h->tail, p, len);
	h->n_tail = len;
}

static uint64_t hash_final(const struct hash_state *h)
{
	uint64_t word = 0, acc = h->acc;

	memcpy(&word, h->tail, h->n_tail); /* zero-padded; the length below tells the padding apart */
	acc = hash_round(acc, word);
	acc = hash_round(acc, h->len);
	acc ^= acc >> 33; /* xxHash64's avalanche: every input bit reaches every output bit */
	acc *= HASH_P2;
	acc ^= acc >> 29;
	acc *= HASH_P3;
	acc ^= acc >> 32;
	return acc;
}

uint64_t checkpoint_checksum(const void *data, size_t len)
{
	struct hash_state h;

	hash_init(&h);
	hash_update(&h, data, len);
	return hash_final(&h);
}

/* ---- byte encoding ------------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Orders name pointers by the names they point to. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts names (an array of n pointers) and says whether any name repeats. */
static bool sorted_names_unique(const char **names, size_t n)
{
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			return false;
	return true;
}


/* ---- writer ------------------------------------------------------------- */

/* A buffered fd that hashes every byte put through it. */
struct stream_writer {
	int fd;
	const char *path; /* the temporary file, for messages */
	struct hash_state hash;
	unsigned char *buf; /* (IO_CHUNK) owned */
	size_t used;
};

static enum ajar_err write_all(int fd, const char *path, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ajar_errf(AJAR_ERR_IO, "%s: write: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return AJAR_OK;
}

static enum ajar_err writer_flush(struct stream_writer *w)
{
	enum ajar_err err = write_all(w->fd, w->path, w->buf, w->used);
	w->used = 0;
	return err;
}

/* Appends len bytes; with hashed, they count toward the checksum. */
static enum ajar_err writer_put(struct stream_writer *w, const void *data, size_t len, bool hashed)
{
	const unsigned char *p = data;

	if (len == 0) /* data may be NULL then (no meta, an empty tensor) */
		return AJAR_OK;
	if (hashed)
		hash_update(&w->hash, data, len);
	if (w->used + len > IO_CHUNK) {
		enum ajar_err err = writer_flush(w);
		if (err)
			return err;
		if (len >= IO_CHUNK) /* a big tensor goes straight from the caller's memory */
			return write_all(w->fd, w->path, p, len);
	}
	memcpy(w->buf + w->used, p, len);
	w->used += len;
	return AJAR_OK;
}

/*
 * Checks what the caller asks to write and computes the file's size. The
 * reader enforces the same limits, so a file this writes it can read.
 */
static enum ajar_err check_write_args(const char *meta, size_t meta_len, const struct checkpoint_tensor *tensors,
				      size_t n_tensors, uint64_t *file_size)
{
	enum ajar_err err = AJAR_OK;
	uint64_t size = CHECKPOINT_HEADER_SIZE + meta_len + TRAILER_SIZE;

	if (n_tensors > CHECKPOINT_MAX_TENSORS)
		return ajar_errf(AJAR_ERR_INVALID, "checkpoint: %zu tensors, at most %d", n_tensors,
				 CHECKPOINT_MAX_TENSORS);
	if (meta_len > CHECKPOINT_MAX_META || (meta_len && (!meta || memchr(meta, '\0', meta_len))))
		return ajar_errf(AJAR_ERR_INVALID, "checkpoint: meta must be under %u bytes of text without NUL",
				 CHECKPOINT_MAX_META);
	const char **names = malloc((n_tensors ? n_tensors : 1) * sizeof(*names));
	if (!names)
		return ajar_errf(AJAR_ERR_NOMEM, "checkpoint: %zu names", n_tensors);
	for (size_t i = 0; i < n_tensors; i++) {
		size_t len = tensors[i].name ? strlen(tensors[i].name) : 0;
		if (len == 0 || len > CHECKPOINT_MAX_NAME) {
			err = ajar_errf(AJAR_ERR_INVALID, "checkpoint: tensor %zu: name must be 1..%d bytes", i,
					CHECKPOINT_MAX_NAME);
			goto out;
		}
		/* 2^40 floats a tensor (4 TiB), far beyond any model trained on a
		 * CPU, keeps the sum over CHECKPOINT_MAX_TENSORS below overflow. */
		if ((uint64_t)tensors[i].n > (1ull << 40)) {
			err = ajar_errf(AJAR_ERR_INVALID, "checkpoint: tensor '%s': %zu floats", tensors[i].name,
					tensors[i].n);
			goto out;
		}
		size += DIR_ENTRY_FIXED + len + (uint64_t)tensors[i].n * sizeof(float);
		names[i] = tensors[i].name;
	}
	if (!sorted_names_unique(names, n_tensors))
		err = ajar_errf(AJAR_ERR_INVALID, "checkpoint: two tensors share a name");
	*file_size = size;
out:
	free(names);
	return err;
}

static enum ajar_err write_header(struct stream_writer *w, const struct checkpoint_state *st, uint64_t file_size,
				  size_t n_tensors, size_t meta_len)
{
	unsigned char h[CHECKPOINT_HEADER_SIZE] = { 0 };

	memcpy(h, checkpoint_magic, 8);
	put_u32(h + 8, CHECKPOINT_VERSION);
	put_u32(h + 12, (uint32_t)n_tensors);
	put_u64(h + 16, file_size);
	put_u64(h + 24, st->step);
	put_u64(h + 32, st->rng_state);
	put_u64(h + 40, st->data_file);
	put_u64(h + 48, st->data_offset);
	put_u32(h + 56, (uint32_t)meta_len);
	return writer_put(w, h, sizeof(h), true);
}

/* Everything after the header: meta, directory, tensors, checksum. */
static enum ajar_err write_body(struct stream_writer *w, const char *meta, size_t meta_len,
				const struct checkpoint_tensor *tensors, size_t n_tensors)
{
	enum ajar_err err = writer_put(w, meta, meta_len, true);
	unsigned char fixed[8];

	for (size_t i = 0; i < n_tensors && !err; i++) {
		size_t len = strlen(tensors[i].name);
		put_u32(fixed, (uint32_t)len);
		err = writer_put(w, fixed, 4, true);
		if (!err)
			err = writer_put(w, tensors[i].name, len, true);
		put_u64(fixed, tensors[i].n);
		if (!err)
			err = writer_put(w, fixed, 8, true);
	}
	for (size_t i = 0; i < n_tensors && !err; i++)
		err = writer_put(w, tensors[i].data, tensors[i].n * sizeof(float), true);
	if (err)
		return err;
	put_u64(fixed, hash_final(&w->hash));
	err = writer_put(w, fixed, 8, false);
	return err ? err : writer_flush(w);
}

/* fsyncs the folder holding path, so the rename itself is on disk. */
static enum ajar_err sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	enum ajar_err err = AJAR_OK;

	if (!dir)
		return ajar_errf(AJAR_ERR_NOMEM, "checkpoint: folder of %s", path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		err = ajar_errf(AJAR_ERR_IO, "%s: fsync of folder: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return err;
}

enum ajar_err checkpoint_write(const char *path, const struct checkpoint_state *state, const char *meta,
			       size_t meta_len, const struct checkpoint_tensor *tensors, size_t n_tensors)
{
	struct stream_writer w = { .fd = -1 };
	uint64_t file_size = 0;
	size_t tmp_len = strlen(path) + sizeof(".tmp.XXXXXX");
	char *tmp = NULL;
	enum ajar_err err = check_write_args(meta, meta_len, tensors, n_tensors, &file_size);

	if (err)
		return err;
	tmp = malloc(tmp_len);
	w.buf = malloc(IO_CHUNK);
	if (!tmp || !w.buf) {
		err = ajar_errf(AJAR_ERR_NOMEM, "checkpoint: write buffer");
		goto out;
	}
	snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
	w.fd = mkostemp(tmp, O_CLOEXEC);
	if (w.fd < 0) {
		err = ajar_errf(AJAR_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	w.path = tmp;
	hash_init(&w.hash);
	err = write_header(&w, state, file_size, n_tensors, meta_len);
	if (!err)
		err = write_body(&w, meta, meta_len, tensors, n_tensors);
	/* The data must be on disk before the name points at it, or a crash
	 * after the rename could leave PATH naming a file with holes. */
	if (!err && fsync(w.fd) != 0)
		err = ajar_errf(AJAR_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
	if (close(w.fd) != 0 && !err)
		err = ajar_errf(AJAR_ERR_IO, "%s: close: %s", tmp, strerror(errno));
	w.fd = -1;
	if (!err && rename(tmp, path) != 0)
		err = ajar_errf(AJAR_ERR_IO, "%s: rename to %s: %s", tmp, path, strerror(errno));
	if (err) {
		unlink(tmp);
		goto out;
	}
	err = sync_parent_dir(path);
out:
	free(w.buf);
	free(tmp);
	return err;
}

/* ---- reader ------------------------------------------------------------- */

struct checkpoint_entry {
	const char *name; /* into checkpoint_file.names */
	uint64_t count;   /* floats */
	uint64_t offset;  /* of the first float in the file */
};

struct checkpoint_file {
	int fd;
	char *path; /* owned, for messages */
	uint64_t size;
	struct checkpoint_state state;
	char *meta; /* (meta_len + 1) owned, NUL-terminated */
	size_t meta_len;
	size_t n_tensors;
	struct checkpoint_entry *entries; /* (n_tensors) owned, in file order */
	struct checkpoint_entry *by_name; /* (n_tensors) owned: the entries again, sorted by name for bsearch */
	char *names;                      /* owned: every name, each NUL-terminated */
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct checkpoint_entry *)a)->name, ((const struct checkpoint_entry *)b)->name);
}

/* Reads exactly len bytes at off; a short read is FORMAT (the file is
 * shorter than its header said, or shrank under us). */
static enum ajar_err read_at(struct checkpoint_file *f, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t r = pread(f->fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ajar_errf(AJAR_ERR_IO, "%s: read: %s", f->path, strerror(errno));
		if (r == 0)
			return ajar_errf(AJAR_ERR_FORMAT, "%s: ends early at byte %llu", f->path,
					 (unsigned long long)off);
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return AJAR_OK;
}

/* The fixed header, checked against the file's real size. */
static enum ajar_err parse_header(struct checkpoint_file *f)
{
	unsigned char h[CHECKPOINT_HEADER_SIZE];

	if (f->size < CHECKPOINT_HEADER_SIZE + TRAILER_SIZE)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: %llu bytes, too short for a checkpoint", f->path,
				 (unsigned long long)f->size);
	enum ajar_err err = read_at(f, h, sizeof(h), 0);
	if (err)
		return err;
	if (memcmp(h, checkpoint_magic, 8) != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: not an ajar checkpoint (bad magic)", f->path);
	uint32_t version = get_u32(h + 8);
	if (version != CHECKPOINT_VERSION)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: checkpoint version %u, this build reads %d", f->path, version,
				 CHECKPOINT_VERSION);
	uint64_t size = get_u64(h + 16);
	if (size != f->size)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: header says %llu bytes, file has %llu (torn write?)", f->path,
				 (unsigned long long)size, (unsigned long long)f->size);
	f->n_tensors = get_u32(h + 12);
	f->meta_len = get_u32(h + 56);
	if (f->n_tensors > CHECKPOINT_MAX_TENSORS || f->meta_len > CHECKPOINT_MAX_META ||
	    f->meta_len > f->size - CHECKPOINT_HEADER_SIZE - TRAILER_SIZE || get_u32(h + 60) != 0)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: header sizes out of range (%zu tensors, %zu meta bytes)",
				 f->path, f->n_tensors, f->meta_len);
	f->state.step = get_u64(h + 24);
	f->state.rng_state = get_u64(h + 32);
	f->state.data_file = get_u64(h + 40);
	f->state.data_offset = get_u64(h + 48);
	return AJAR_OK;
}

/* Hashes the whole file but the trailer and compares with the trailer. */
static enum ajar_err verify_checksum(struct checkpoint_file *f)
{
	uint64_t body = f->size - TRAILER_SIZE;
	unsigned char *buf = malloc(IO_CHUNK), trailer[TRAILER_SIZE];
	struct hash_state h;
	enum ajar_err err = AJAR_OK;

	if (!buf)
		return ajar_errf(AJAR_ERR_NOMEM, "checkpoint: read buffer");
	hash_init(&h);
	for (uint64_t off = 0; off < body && !err; off += IO_CHUNK) {
		size_t len = body - off < IO_CHUNK ? (size_t)(body - off) : IO_CHUNK;
		err = read_at(f, buf, len, off);
		if (!err)
			hash_update(&h, buf, len);
	}
	if (!err)
		err = read_at(f, trailer, TRAILER_SIZE, body);
	if (!err && get_u64(trailer) != hash_final(&h))
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: checksum mismatch (the file is damaged or torn)", f->path);
	free(buf);
	return err;
}

/* Parses one directory entry at dir[*pos] (dir_len bytes in all); its name
 * is copied NUL-terminated to *names_end. */
static enum ajar_err parse_entry(struct checkpoint_file *f, const unsigned char *dir, size_t dir_len, size_t *pos,
				 size_t i, char **names_end)
{
	struct checkpoint_entry *e = &f->entries[i];

	if (dir_len - *pos < 4)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: tensor %zu: directory ends early", f->path, i);
	uint32_t len = get_u32(dir + *pos);
	*pos += 4;
	if (len == 0 || len > CHECKPOINT_MAX_NAME || dir_len - *pos < (size_t)len + 8)
		return ajar_errf(AJAR_ERR_FORMAT, "%s: tensor %zu: bad name length %u", f->path, i, len);
	if (memchr(dir + *pos, '\0', len))
		return ajar_errf(AJAR_ERR_FORMAT, "%s: tensor %zu: NUL in name", f->path, i);
	memcpy(*names_end, dir + *pos, len);
	(*names_end)[len] = '\0';
	e->name = *names_end;
	*names_end += len + 1;
	*pos += len;
	e->count = get_u64(dir + *pos);
	*pos += 8;
	/* Bounding each count by the file size keeps count * 4 and the running
	 * offset far from overflow; the caller checks the offsets add up. */
	if (e->count > f->size / sizeof(float))
		return ajar_errf(AJAR_ERR_FORMAT, "%s: tensor '%s': %llu floats exceed the file", f->path, e->name,
				 (unsigned long long)e->count);
	return AJAR_OK;
}

/*
 * The directory: it has no stored length, so read as much of the file
 * after the meta as the largest possible directory could take, then parse.
 * The tensors' data must fill exactly the rest of the file.
 */
static enum ajar_err parse_directory(struct checkpoint_file *f)
{
	uint64_t dir_off = CHECKPOINT_HEADER_SIZE + f->meta_len;
	uint64_t avail = f->size - TRAILER_SIZE - dir_off;
	uint64_t most = (uint64_t)f->n_tensors * (DIR_ENTRY_FIXED + CHECKPOINT_MAX_NAME);
	size_t dir_len = (size_t)(avail < most ? avail : most), pos = 0;
	size_t n = f->n_tensors ? f->n_tensors : 1;
	unsigned char *dir = malloc(dir_len ? dir_len : 1);
	enum ajar_err err = AJAR_OK;

	f->entries = calloc(n, sizeof(*f->entries));
	f->by_name = calloc(n, sizeof(*f->by_name));
	f->names = malloc(dir_len + 1);
	if (!dir || !f->entries || !f->by_name || !f->names) {
		err = ajar_errf(AJAR_ERR_NOMEM, "%s: directory of %zu tensors", f->path, f->n_tensors);
		goto out;
	}
	err = read_at(f, dir, dir_len, dir_off);
	char *names_end = f->names;
	for (size_t i = 0; i < f->n_tensors && !err; i++)
		err = parse_entry(f, dir, dir_len, &pos, i, &names_end);
	if (err)
		goto out;
	uint64_t off = dir_off + pos;
	for (size_t i = 0; i < f->n_tensors; i++) {
		f->entries[i].offset = off;
		off += f->entries[i].count * sizeof(float);
	}
	memcpy(f->by_name, f->entries, f->n_tensors * sizeof(*f->entries));
	qsort(f->by_name, f->n_tensors, sizeof(*f->by_name), entry_cmp);
	if (off != f->size - TRAILER_SIZE)
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: tensors end at byte %llu, data ends at %llu", f->path,
				(unsigned long long)off, (unsigned long long)(f->size - TRAILER_SIZE));
	for (size_t i = 1; i < f->n_tensors && !err; i++)
		if (strcmp(f->by_name[i - 1].name, f->by_name[i].name) == 0)
			err = ajar_errf(AJAR_ERR_FORMAT, "%s: two tensors named '%s'", f->path, f->by_name[i].name);
out:
	free(dir);
	return err;
}

static enum ajar_err read_meta(struct checkpoint_file *f)
{
	f->meta = malloc(f->meta_len + 1);
	if (!f->meta)
		return ajar_errf(AJAR_ERR_NOMEM, "%s: meta", f->path);
	enum ajar_err err = read_at(f, f->meta, f->meta_len, CHECKPOINT_HEADER_SIZE);
	if (err)
		return err;
	f->meta[f->meta_len] = '\0';
	if (memchr(f->meta, '\0', f->meta_len))
		return ajar_errf(AJAR_ERR_FORMAT, "%s: NUL in meta", f->path);
	return AJAR_OK;
}

enum ajar_err checkpoint_open(const char *path, struct checkpoint_file **out)
{
	struct checkpoint_file *f = calloc(1, sizeof(*f));
	struct stat sb;
	enum ajar_err err = AJAR_OK;

	*out = NULL;
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return ajar_errf(AJAR_ERR_NOMEM, "checkpoint: open %s", path);
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		err = errno == ENOENT ? ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no such file", path)
				      : ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	f->size = (uint64_t)sb.st_size;
	err = parse_header(f);
	if (!err)
		err = verify_checksum(f);
	if (!err)
		err = read_meta(f);
	if (!err)
		err = parse_directory(f);
out:
	if (err)
		checkpoint_close(f);
	else
		*out = f;
	return err;
}

void checkpoint_close(struct checkpoint_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->meta);
	free(f->entries);
	free(f->by_name);
	free(f->names);
	free(f);
}

const struct checkpoint_state *checkpoint_get_state(const struct checkpoint_file *f)
{
	return &f->state;
}

const char *checkpoint_meta(const struct checkpoint_file *f, size_t *len)
{
	if (len)
		*len = f->meta_len;
	return f->meta;
}

enum ajar_err checkpoint_meta_get(const struct checkpoint_file *f, const char *key, const char **value, size_t *len)
{
	size_t key_len = strlen(key);

	for (const char *line = f->meta; *line;) {
		const char *end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		if ((size_t)(end - line) > key_len && memcmp(line, key, key_len) == 0 && line[key_len] == '=') {
			*value = line + key_len + 1;
			*len = (size_t)(end - *value);
			return AJAR_OK;
		}
		line = *end ? end + 1 : end;
	}
	return ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no '%s' in the checkpoint's meta", f->path, key);
}

size_t checkpoint_n_tensors(const struct checkpoint_file *f)
{
	return f->n_tensors;
}

const char *checkpoint_tensor_name(const struct checkpoint_file *f, size_t i, size_t *n)
{
	if (n)
		*n = (size_t)f->entries[i].count;
	return f->entries[i].name;
}

/* The entry named name; NULL if none. */
static const struct checkpoint_entry *find_entry(const struct checkpoint_file *f, const char *name)
{
	struct checkpoint_entry key = { .name = name };
	return bsearch(&key, f->by_name, f->n_tensors, sizeof(*f->by_name), entry_cmp);
}

enum ajar_err checkpoint_read_tensors(struct checkpoint_file *f, const struct checkpoint_tensor *want, size_t n_want)
{
	for (size_t i = 0; i < n_want; i++) {
		const struct checkpoint_entry *e = find_entry(f, want[i].name);
		if (!e)
			return ajar_errf(AJAR_ERR_NOT_FOUND, "%s: no tensor '%s'", f->path, want[i].name);
		if (e->count != want[i].n)
			return ajar_errf(AJAR_ERR_INVALID, "%s: tensor '%s' has %llu floats, %zu expected", f->path,
					 want[i].name, (unsigned long long)e->count, want[i].n);
	}
	for (size_t i = 0; i < n_want; i++) {
		const struct checkpoint_entry *e = find_entry(f, want[i].name);
		enum ajar_err err = read_at(f, want[i].data, want[i].n * sizeof(float), e->offset);
		if (err)
			return err;
	}
	return AJAR_OK;
}
