/*
 * llama2c.c - llama2.c checkpoint + tokenizer to a GGUF llama model. The
 * layouts are in include/ajar/llama2c.h. Every size is checked against the
 * file before it is used.
 */
#include "ajar/llama2c.h"
#include "ajar/gguf.h"
#include "ajar/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mapped {
	const unsigned char *p;
	size_t size;
};

static enum ajar_err map_file(const char *path, struct mapped *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ajar_errf(AJAR_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size <= 0) {
		close(fd);
		return ajar_errf(AJAR_ERR_FORMAT, "%s: empty or unreadable", path);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return ajar_errf(AJAR_ERR_IO, "%s: mmap: %s", path, strerror(errno));
	m->p = p;
	m->size = (size_t)st.st_size;
	return AJAR_OK;
}

static void unmap_file(struct mapped *m)
{
	if (m->p)
		munmap((void *)m->p, m->size);
}

struct l2c_config {
	int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
	bool shared;
};

/* The tokenizer, converted to GGUF's form. */
struct l2c_vocab {
	struct gguf_str *tokens; /* data points into text (owned) */
	char *text;
	float *scores;
	int32_t *types;
	int32_t n;
};

static void vocab_release(struct l2c_vocab *v)
{
	free(v->tokens);
	free(v->text);
	free(v->scores);
	free(v->types);
}

static bool is_byte_piece(const unsigned char *s, int32_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	return len == 6 && memcmp(s, "<0x", 3) == 0 && strchr(hex, s[3]) && strchr(hex, s[4]) && s[5] == '>';
}

static enum ajar_err read_tokenizer(const struct mapped *m, int32_t n, struct l2c_vocab *v)
{
	size_t off = 4, text_len = 0;

	/* First pass: validate and size the text (spaces grow to 3 bytes). */
	if (m->size < 4)
		return ajar_errf(AJAR_ERR_FORMAT, "tokenizer: file of %zu bytes has no header", m->size);
	for (int32_t i = 0; i < n; i++) {
		int32_t len;
		if (m->size - off < 8)
			return ajar_errf(AJAR_ERR_FORMAT, "tokenizer: offset %zu: token %d truncated", off, i);
		memcpy(&len, m->p + off + 4, 4);
		if (len < 0 || (size_t)len > m->size - off - 8)
			return ajar_errf(AJAR_ERR_FORMAT, "tokenizer: offset %zu: token %d length %d exceeds the file", off,
					 i, len);
		for (int32_t j = 0; j < len; j++)
			text_len += m->p[off + 8 + j] == ' ' ? 3 : 1;
		off += 8 + (size_t)len;
	}
	v->n = n;
	v->tokens = calloc((size_t)n, sizeof(*v->tokens));
	v->text = malloc(text_len + 1);
	v->scores = calloc((size_t)n, sizeof(*v->scores));
	v->types = calloc((size_t)n, sizeof(*v->types));
	if (!v->tokens || !v->text || !v->scores || !v->types)
		return ajar_errf(AJAR_ERR_NOMEM, "tokenizer of %d tokens", n);

	char *w = v->text;
	off = 4;
	for (int32_t i = 0; i < n; i++) {
		int32_t len;
		const unsigned char *s = m->p + off + 8;
		memcpy(&v->scores[i], m->p + off, 4);
		memcpy(&len, m->p + off + 4, 4);
		off += 8 + (size_t)len;
		v->tokens[i].data = w;
		if (len == 5 && memcmp(s, "\n<s>\n", 5) == 0) {
			s += 1;
			len = 3;
		} else if (len == 6 && memcmp(s, "\n</s>\n", 6) == 0) {
			s += 1;
			len = 4;
		}
		for (int32_t j = 0; j < len; j++) {
			if (s[j] == ' ') {
				memcpy(w, "\xE2\x96\x81", 3); /* U+2581 */
				w += 3;
			} else {
				*w++ = (char)s[j];
			}
		}
		v->tokens[i].len = (uint64_t)(w - v->tokens[i].data);
		if (i == 0)
			v->types[i] = 2; /* unknown */
		else if (i == 1 || i == 2)
			v->types[i] = 3; /* control: BOS, EOS */
		else if (is_byte_piece(s, len))
			v->types[i] = 6; /* byte */
		else
			v->types[i] = 1; /* normal */
	}
	return AJAR_OK;
}

static enum ajar_err check_config(const struct l2c_config *c, size_t file_size, size_t *n_floats)
{
	if (c->dim <= 0 || c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
	    c->vocab <= 0 || c->seq_len <= 0 || c->dim > 65536 || c->hidden > 1 << 20 || c->n_layers > 1024 ||
	    c->vocab > 1 << 24 || c->seq_len > 1 << 24)
		return ajar_errf(AJAR_ERR_FORMAT,
				 "checkpoint header is implausible: dim %d hidden %d layers %d heads %d kv heads %d "
				 "vocab %d seq_len %d",
				 c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab, c->seq_len);
	if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2)
		return ajar_errf(AJAR_ERR_FORMAT, "checkpoint: dim %d, %d heads and %d kv heads do not divide evenly",
				 c->dim, c->n_heads, c->n_kv_heads);
	uint64_t d = (uint64_t)c->dim, l = (uint64_t)c->n_layers, h = (uint64_t)c->hidden;
	uint64_t kv = d * (uint64_t)c->n_kv_heads / (uint64_t)c->n_heads, hs = d / (uint64_t)c->n_heads;
	uint64_t n = (uint64_t)c->vocab * d + l * (d + d * d + 2 * kv * d + d * d + d + 3 * h * d) + d +
		     (uint64_t)c->seq_len * hs;
	if (!c->shared)
		n += (uint64_t)c->vocab * d;
	if (n > (file_size - 28) / 4 || 28 + n * 4 != file_size)
		return ajar_errf(AJAR_ERR_FORMAT, "checkpoint: the header implies %llu bytes but the file has %zu",
				 (unsigned long long)(28 + n * 4), file_size);
	*n_floats = (size_t)n;
	return AJAR_OK;
}

static enum ajar_err add_tensor(struct gguf_writer *w, const char *name, uint64_t ne0, uint64_t ne1,
				const float **p)
{
	uint64_t ne[2] = { ne0, ne1 };
	enum ajar_err err = gguf_writer_add_tensor(w, name, AJAR_TYPE_F32, ne1 == 1 ? 1 : 2, ne, *p);
	*p += ne0 * ne1;
	return err;
}

static enum ajar_err write_metadata(struct gguf_writer *w, const struct l2c_config *c, const struct l2c_vocab *v)
{
	enum ajar_err err;
	if ((err = gguf_writer_set_str(w, "general.architecture", "llama")) ||
	    (err = gguf_writer_set_str(w, "general.name", "llama2.c import")) ||
	    (err = gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c->seq_len)) ||
	    (err = gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->dim)) ||
	    (err = gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden)) ||
	    (err = gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads)) ||
	    (err = gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads)) ||
	    (err = gguf_writer_set_u32(w, "llama.block_count", (uint32_t)c->n_layers)) ||
	    (err = gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads))) ||
	    (err = gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f)) ||
	    (err = gguf_writer_set_str(w, "tokenizer.ggml.model", "llama")) ||
	    (err = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->tokens, (uint64_t)v->n)) ||
	    (err = gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v->scores, (uint64_t)v->n)) ||
	    (err = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->types, (uint64_t)v->n)) ||
	    (err = gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)) ||
	    (err = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1)) ||
	    (err = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2)))
		return err;
	return AJAR_OK;
}

static enum ajar_err write_tensors(struct gguf_writer *w, const struct l2c_config *c, const float *base)
{
	uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden, L = (uint64_t)c->n_layers;
	uint64_t kv = d * (uint64_t)c->n_kv_heads / (uint64_t)c->n_heads;
	const float *emb = base, *p = base;
	const float *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
	enum ajar_err err;
	char name[64];

	if ((err = add_tensor(w, "token_embd.weight", d, (uint64_t)c->vocab, &p)))
		return err;
	/* Per-kind arrays for all layers follow one another. */
	rms_att = p; p += L * d;
	wq = p; p += L * d * d;
	wk = p; p += L * kv * d;
	wv = p; p += L * kv * d;
	wo = p; p += L * d * d;
	rms_ffn = p; p += L * d;
	w1 = p; p += L * h * d;
	w2 = p; p += L * d * h;
	w3 = p; p += L * h * d;
	const float *rms_final = p;
	p += d + (uint64_t)c->seq_len * (d / (uint64_t)c->n_heads); /* skip freq_cis real + imag */
	const float *classifier = c->shared ? emb : p;

	const float *q = rms_final;
	if ((err = add_tensor(w, "output_norm.weight", d, 1, &q)))
		return err;
	if (!c->shared) {
		q = classifier;
		if ((err = add_tensor(w, "output.weight", d, (uint64_t)c->vocab, &q)))
			return err;
	}
	for (uint64_t l = 0; l < L; l++) {
		const struct {
			const char *suffix;
			const float *src;
			uint64_t ne0, ne1;
		} t[] = {
			{ "attn_norm.weight", rms_att + l * d, d, 1 },
			{ "attn_q.weight", wq + l * d * d, d, d },
			{ "attn_k.weight", wk + l * kv * d, d, kv },
			{ "attn_v.weight", wv + l * kv * d, d, kv },
			{ "attn_output.weight", wo + l * d * d, d, d },
			{ "ffn_norm.weight", rms_ffn + l * d, d, 1 },
			{ "ffn_gate.weight", w1 + l * h * d, d, h },
			{ "ffn_down.weight", w2 + l * d * h, h, d },
			{ "ffn_up.weight", w3 + l * h * d, d, h },
		};
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			const float *src = t[i].src;
			snprintf(name, sizeof(name), "blk.%llu.%s", (unsigned long long)l, t[i].suffix);
			if ((err = add_tensor(w, name, t[i].ne0, t[i].ne1, &src)))
				return err;
		}
	}
	return AJAR_OK;
}

enum ajar_err llama2c_import(const char *model_path, const char *tokenizer_path, const char *out_path)
{
	struct mapped mm = { 0 }, tm = { 0 };
	struct l2c_config c;
	struct l2c_vocab v = { 0 };
	struct gguf_writer *w = NULL;
	size_t n_floats;
	enum ajar_err err;
	int32_t hdr[7];

	if ((err = map_file(model_path, &mm)))
		goto out;
	if (mm.size < 28) {
		err = ajar_errf(AJAR_ERR_FORMAT, "%s: too short for a llama2.c checkpoint", model_path);
		goto out;
	}
	memcpy(hdr, mm.p, sizeof(hdr));
	c = (struct l2c_config){ hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5] < 0 ? -hdr[5] : hdr[5], hdr[6],
				 hdr[5] > 0 };
	if (hdr[5] == INT32_MIN)
		c.vocab = 0;
	if ((err = check_config(&c, mm.size, &n_floats))) {
		err = ajar_err_wrap(err, "%s", model_path);
		goto out;
	}
	if ((err = map_file(tokenizer_path, &tm)))
		goto out;
	if ((err = read_tokenizer(&tm, c.vocab, &v))) {
		err = ajar_err_wrap(err, "%s", tokenizer_path);
		goto out;
	}
	if ((err = gguf_writer_new(&w)) || (err = write_metadata(w, &c, &v)) ||
	    (err = write_tensors(w, &c, (const float *)(mm.p + 28))) || (err = gguf_writer_write(w, out_path)))
		goto out;
out:
	gguf_writer_free(w);
	vocab_release(&v);
	unmap_file(&tm);
	unmap_file(&mm);
	return err;
}
