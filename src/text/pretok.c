/*
 * pretok.c - the byte-level BPE pre-tokenizer: cut text into the words that
 * BPE then merges within, as llama.cpp's unicode_regex_split (c392e50) does.
 *
 * 1. Decode. llama.cpp turns the text into code points first
 *    (bpe_decode_lenient(): every invalid byte becomes U+FFFD) and builds
 *    the words from those code points, re-encoded. So "\xff" is tokenized
 *    as "\xef\xbf\xbd", an overlong "\xc0\x80" as "\0", and a surrogate
 *    "\xed\xa0\x80" stays as it is. A code point above U+10FFFF (from
 *    F4 90.. or F5..F7 leads) makes llama.cpp throw; here it is U+FFFD.
 *
 * 2. Split. tokenizer.ggml.pre names a list of regexes (llama.cpp's
 *    llm_tokenizer_bpe constructor); each one cuts every word left by the
 *    previous one, on its own: the matches become words and so do the gaps
 *    between them, and a pattern sees only the word (lookaheads and "$"
 *    stop at its end). llama.cpp runs these with hand-written code for the
 *    GPT-2 and Llama-3 patterns and with std::regex over a "collapsed" text
 *    (one byte per code point, by category) for the rest; both are the
 *    Hugging Face regex semantics, which PCRE2 (UTF + UCP) gives directly,
 *    once three things are pinned down:
 *      - \s is Unicode White_Space (llama.cpp's table), written out as
 *        PRE_WS below: PCRE2's own \s lacks U+0085;
 *      - literal character classes never match white space: llama.cpp
 *        replaces every non-ASCII white space character by \v before its
 *        std::wregex sees it, so "[\x{800}-\x{4E00}]" there skips U+3000 etc.;
 *      - Llama 3's (?i:'s|'t|...) is the ASCII-only '[sS]|'[tT]|... that
 *        llama.cpp uses.
 *    Tekken's "(?=[\p{L}])([^a-z])" is written as the class [^\P{L}a-z]
 *    (a letter other than a-z), the same set without a repeated group.
 *    \p{L}, \p{N}, \p{P} then agree with llama.cpp's tables except for
 *    code points whose category changed between Unicode versions (PCRE2
 *    10.42 has Unicode 14).
 *
 * The subject PCRE2 sees is the re-encoded text with surrogates swapped for
 * U+E000 (same length, and like a surrogate it is neither letter, number,
 * punctuation nor space), so it is always valid UTF-8.
 *
 * Cost: linear in the text for every pattern here (no repeated groups, so
 * PCRE2's match limits are lifted, see struct pretok); "\s+$" is done by
 * hand (PRETOK_TRAILING_WS) because a backtracking engine spends quadratic
 * time on a long run of spaces that does not end the word.
 */
#include "text/bpe_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the patterns ---------------------------------------------------------- */

/* Unicode White_Space, the set llama.cpp's \s means (inside a class). */
#define PRE_WS "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define PRE_S "[" PRE_WS "]"
#define PRE_NOT_S "[^" PRE_WS "]"

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
#define PRE_GPT2 \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" PRE_WS "\\p{L}\\p{N}]+|" PRE_S "+(?!" PRE_NOT_S ")"

/* Llama 3 (digits in threes) and Qwen2 (single digits). */
#define PRE_LLAMA3_LIKE(digits)                                                                                \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" digits          \
	"| ?[^" PRE_WS "\\p{L}\\p{N}]+[\\r\\n]*|" PRE_S "*[\\r\\n]+|" PRE_S "+(?!" PRE_NOT_S ")|" PRE_S "+"
#define PRE_LLAMA3 PRE_LLAMA3_LIKE("\\p{N}{1,3}")
#define PRE_QWEN2 PRE_LLAMA3_LIKE("\\p{N}")

/* The CJK class of DeepSeek's pre-tokenizers: [一-龥ࠀ-一가-퟿], white space
 * taken out of U+0800..U+4E00 (see the file comment). */
#define PRE_DEEPSEEK_CJK                                                                                   \
	"[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}"         \
	"\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

/* DeepSeek LLM's cased letters (Python's \p{LC}, spelled out in its
 * tokenizer.json). */
#define PRE_DEEPSEEK_LETTERS                                                                                 \
	"A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"            \
	"\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"      \
	"\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"             \
	"\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"          \
	"\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"          \
	"\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"  \
	"\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}" \
	"\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"           \
	"\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"            \
	"\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"            \
	"\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"           \
	"\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"          \
	"\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"       \
	"\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}" \
	"\\x{1E900}-\\x{1E943}"

/* Bloom / Poro / GPT3-Finnish: " ?[^(\s|.,!?…。，、।۔،)]+" */
#define PRE_PORO " ?[^(" PRE_WS "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

/* Stands for "\s+$" (PRETOK_TRAILING_WS). */
#define PRE_TRAILING_WS ""

/*
 * The regex sets, as llama.cpp's llm_tokenizer_bpe (c392e50) lists them per
 * LLAMA_VOCAB_PRE_TYPE_*. An empty string is the hand-made "\s+$".
 */
struct pretok_set {
	const char *name;
	const char *regex[PRETOK_MAX_STAGES]; /* NULL-terminated */
};

static const struct pretok_set set_default = {
	"default", { "[\\p{P}\\$\\+<=>\\^~\\|]+", PRE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL } };
static const struct pretok_set set_llama3 = { "llama3", { PRE_LLAMA3, NULL } };
static const struct pretok_set set_qwen2 = { "qwen2", { PRE_QWEN2, NULL } };
static const struct pretok_set set_gpt2 = { "gpt2", { PRE_GPT2, NULL } };
static const struct pretok_set set_starcoder = { "starcoder", { "\\p{N}", PRE_GPT2, NULL } };
static const struct pretok_set set_falcon = {
	"falcon", { "[\\p{P}\\$\\+<=>\\^~\\|`]+", PRE_GPT2, "[0-9][0-9][0-9]", NULL } };
static const struct pretok_set set_deepseek_llm = {
	"deepseek-llm",
	{ "[\\r\\n]", PRE_S "?[" PRE_DEEPSEEK_LETTERS "]+",
	  PRE_S "?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}]+", PRE_TRAILING_WS,
	  PRE_DEEPSEEK_CJK, "\\p{N}+", NULL } };
static const struct pretok_set set_deepseek_coder = {
	"deepseek-coder", { "[\\r\\n]", PRE_S "?\\p{L}+", PRE_S "?\\p{P}+", PRE_DEEPSEEK_CJK, "\\p{N}", NULL } };
static const struct pretok_set set_deepseek3 = {
	"deepseek-v3",
	{ "\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
	  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
	  "| ?[\\p{P}\\p{S}]+[\\r\\n]*|" PRE_S "*[\\r\\n]+|" PRE_S "+(?!" PRE_NOT_S ")|" PRE_S "+",
	  NULL } };
static const struct pretok_set set_poro = { "poro", { PRE_PORO, NULL } };
static const struct pretok_set set_viking = { "viking", { PRE_PORO, "\\p{N}", NULL } };
static const struct pretok_set set_tekken = {
	"tekken",
	{ "[^\\r\\n\\p{L}\\p{N}]?[^\\P{L}a-z]*[^\\P{L}A-Z]+|[^\\r\\n\\p{L}\\p{N}]?[^\\P{L}a-z]+[^\\P{L}A-Z]*"
	  "|\\p{N}| ?[^" PRE_WS "\\p{L}\\p{N}]+[\\r\\n/]*|" PRE_S "*[\\r\\n]+|" PRE_S "+(?!" PRE_NOT_S ")|" PRE_S "+",
	  NULL } };
static const struct pretok_set set_chameleon = {
	"chameleon",
	{ "<sentinel:[0-9]+>", "IMGIMG(?:A|B|C|D|E|F|G|H|I){1,4}Z", "[\\t\\n]|    |  ", "\\p{N}",
	  "[\\p{P}!-/:-@\\[-`{-~]", PRE_GPT2, NULL } };

enum {
	PRE_FLAG_IGNORE_MERGES = 1 << 0,
	PRE_FLAG_ADD_BOS = 1 << 1,
	PRE_FLAG_NO_BOS = 1 << 2,
};

/* tokenizer.ggml.pre values llama.cpp c392e50 knows, and what they select. */
static const struct {
	const char *name;
	const struct pretok_set *set;
	unsigned flags;
} pre_names[] = {
	{ "default", &set_default, 0 },
	{ "llama3", &set_llama3, PRE_FLAG_IGNORE_MERGES | PRE_FLAG_ADD_BOS },
	{ "llama-v3", &set_llama3, PRE_FLAG_IGNORE_MERGES | PRE_FLAG_ADD_BOS },
	{ "llama-bpe", &set_llama3, PRE_FLAG_IGNORE_MERGES | PRE_FLAG_ADD_BOS },
	{ "falcon3", &set_llama3, PRE_FLAG_IGNORE_MERGES | PRE_FLAG_ADD_BOS },
	{ "dbrx", &set_llama3, 0 },
	{ "smaug-bpe", &set_llama3, 0 },
	{ "chatglm-bpe", &set_llama3, PRE_FLAG_NO_BOS },
	{ "deepseek-llm", &set_deepseek_llm, 0 },
	{ "deepseek-coder", &set_deepseek_coder, 0 },
	{ "deepseek-v3", &set_deepseek3, 0 },
	{ "falcon", &set_falcon, 0 },
	{ "mpt", &set_gpt2, 0 },
	{ "gpt-2", &set_gpt2, 0 },
	{ "phi-2", &set_gpt2, 0 },
	{ "jina-es", &set_gpt2, 0 },
	{ "jina-de", &set_gpt2, 0 },
	{ "jina-v1-en", &set_gpt2, 0 },
	{ "jina-v2-es", &set_gpt2, 0 },
	{ "jina-v2-de", &set_gpt2, 0 },
	{ "jina-v2-code", &set_gpt2, 0 },
	{ "roberta-bpe", &set_gpt2, 0 },
	{ "gigachat", &set_gpt2, 0 },
	{ "olmo", &set_gpt2, 0 },
	{ "jais", &set_gpt2, 0 },
	{ "starcoder", &set_starcoder, 0 },
	{ "refact", &set_starcoder, 0 },
	{ "command-r", &set_starcoder, 0 },
	{ "smollm", &set_starcoder, 0 },
	{ "codeshell", &set_starcoder, 0 },
	{ "exaone", &set_starcoder, 0 },
	{ "minerva-7b", &set_starcoder, 0 },
	{ "qwen2", &set_qwen2, 0 },
	{ "deepseek-r1-qwen", &set_qwen2, 0 },
	{ "stablelm2", &set_qwen2, 0 },
	{ "megrez", &set_qwen2, 0 },
	{ "poro-chat", &set_poro, 0 },
	{ "bloom", &set_poro, 0 },
	{ "gpt3-finnish", &set_poro, 0 },
	{ "viking", &set_viking, 0 },
	{ "tekken", &set_tekken, PRE_FLAG_IGNORE_MERGES | PRE_FLAG_ADD_BOS },
	{ "chameleon", &set_chameleon, PRE_FLAG_ADD_BOS },
};

/* ---- set-up ---------------------------------------------------------------- */

void pretok_free(struct pretok *p)
{
	for (size_t i = 0; i < p->n_stages; i++)
		pcre2_code_free(p->stages[i].re);
	pcre2_match_context_free(p->mctx);
	memset(p, 0, sizeof(*p));
}

static enum ajar_err compile_stage(struct pretok_stage *st, const char *pattern)
{
	if (pattern[0] == '\0') {
		st->kind = PRETOK_TRAILING_WS;
		st->re = NULL;
		return AJAR_OK;
	}
	int code;
	PCRE2_SIZE at;
	/* MATCH_INVALID_UTF: the subject is valid UTF-8 by construction, but if
	 * it were not, PCRE2 must still not misbehave; it also skips the
	 * up-front validity scan that would otherwise run on every call. */
	st->kind = PRETOK_REGEX;
	st->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
			       &code, &at, NULL);
	if (!st->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "vocab: pre-tokenizer regex at %zu: %s", (size_t)at,
				 (const char *)msg);
	}
	/* JIT is an optimisation: without it (no JIT support) the interpreter runs. */
	(void)pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE);
	return AJAR_OK;
}

enum ajar_err pretok_init(struct pretok *p, const char *name, size_t len)
{
	memset(p, 0, sizeof(*p));
	if (!name || len == 0) {
		name = "default";
		len = strlen(name);
	}
	size_t k = 0, n_names = sizeof(pre_names) / sizeof(pre_names[0]);
	while (k < n_names && !(strlen(pre_names[k].name) == len && memcmp(pre_names[k].name, name, len) == 0))
		k++;
	if (k == n_names)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "vocab: unknown pre-tokenizer type '%.*s'",
				 (int)(len > 64 ? 64 : len), name);
	const struct pretok_set *set = pre_names[k].set;
	p->set = set->name;
	p->ignore_merges = pre_names[k].flags & PRE_FLAG_IGNORE_MERGES;
	p->add_bos = pre_names[k].flags & PRE_FLAG_ADD_BOS;
	p->no_bos = pre_names[k].flags & PRE_FLAG_NO_BOS;
	p->mctx = pcre2_match_context_create(NULL);
	if (!p->mctx)
		return ajar_errf(AJAR_ERR_NOMEM, "vocab: PCRE2 match context");
	pcre2_set_match_limit(p->mctx, UINT32_MAX);
	pcre2_set_depth_limit(p->mctx, UINT32_MAX);
	pcre2_set_heap_limit(p->mctx, UINT32_MAX);
	for (size_t i = 0; i < PRETOK_MAX_STAGES && set->regex[i]; i++) {
		enum ajar_err err = compile_stage(&p->stages[i], set->regex[i]);
		if (err) {
			pretok_free(p);
			return err;
		}
		p->n_stages = i + 1;
	}
	return AJAR_OK;
}

/* ---- splitting --------------------------------------------------------------- */

void pretok_work_free(struct pretok_work *w)
{
	free(w->subj_buf);
	free(w->text);
	free(w->words);
	free(w->next);
	pcre2_match_data_free(w->md);
	memset(w, 0, sizeof(*w));
}

static enum ajar_err grow(void **buf, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return AJAR_OK;
	size_t c = *cap ? *cap : 64;
	while (c < n)
		c *= 2;
	void *p = realloc(*buf, c * sz);
	if (!p)
		return ajar_errf(AJAR_ERR_NOMEM, "tokenize: %zu bytes of pre-tokenizer scratch", c * sz);
	*buf = p;
	*cap = c;
	return AJAR_OK;
}

/*
 * Step 1: w->text = text re-encoded from llama.cpp's code points (at most
 * 3 bytes per input byte: an invalid byte becomes U+FFFD), and w->subj.
 */
static enum ajar_err decode(struct pretok_work *w, const char *text, size_t len, size_t *out_len)
{
	enum ajar_err err = grow((void **)&w->text, &w->text_cap, 3 * len + 1, 1);
	if (err)
		return err;
	const unsigned char *s = (const unsigned char *)text;
	size_t k = 0;
	bool surrogates = false;
	for (size_t i = 0; i < len;) {
		size_t n;
		uint32_t cp = bpe_decode_lenient(s + i, len - i, &n);
		if (cp > 0x10FFFF)
			cp = 0xFFFD;
		surrogates |= cp >= 0xD800 && cp <= 0xDFFF;
		k += bpe_encode(cp, w->text + k);
		i += n;
	}
	*out_len = k;
	w->subj = w->text;
	if (!surrogates)
		return AJAR_OK;
	if ((err = grow((void **)&w->subj_buf, &w->subj_cap, k, 1)))
		return err;
	memcpy(w->subj_buf, w->text, k);
	for (size_t i = 0; i + 2 < k; i++) {
		/* ED A0..BF xx is a surrogate; EE 80 80 is U+E000. Elsewhere in
		 * well-formed text ED is followed by 80..9F, so this cannot misfire. */
		if ((unsigned char)w->subj_buf[i] == 0xED && (unsigned char)w->subj_buf[i + 1] >= 0xA0) {
			w->subj_buf[i] = (char)0xEE;
			w->subj_buf[i + 1] = (char)0x80;
			w->subj_buf[i + 2] = (char)0x80;
			i += 2;
		}
	}
	w->subj = w->subj_buf;
	return AJAR_OK;
}

static enum ajar_err push_word(struct pretok_work *w, size_t off, size_t len)
{
	enum ajar_err err = grow((void **)&w->next, &w->next_cap, w->n_next + 1, sizeof(*w->next));
	if (err)
		return err;
	w->next[w->n_next++] = (struct pretok_word){ (uint32_t)off, (uint32_t)len };
	return AJAR_OK;
}

static bool is_space_cp(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* "\s+$" on one word: its trailing run of white space, if any, is cut off. */
static enum ajar_err split_trailing_ws(struct pretok_work *w, struct pretok_word wd)
{
	const unsigned char *s = (const unsigned char *)w->subj + wd.off;
	size_t run = wd.len; /* start of the current run of spaces; len if none */
	for (size_t i = 0; i < wd.len;) {
		size_t n;
		uint32_t cp = bpe_decode_lenient(s + i, wd.len - i, &n);
		if (!is_space_cp(cp))
			run = wd.len;
		else if (run == wd.len)
			run = i;
		i += n;
	}
	enum ajar_err err;
	if (run > 0 && (err = push_word(w, wd.off, run)))
		return err;
	if (run < wd.len)
		return push_word(w, wd.off + run, wd.len - run);
	return AJAR_OK;
}

/* One regex over one word: matches and the gaps between them become words. */
static enum ajar_err split_regex(struct pretok_work *w, const pcre2_code *re, pcre2_match_context *mctx,
			       struct pretok_word wd)
{
	PCRE2_SPTR subj = (PCRE2_SPTR)w->subj + wd.off;
	size_t pos = 0, gap = 0;
	enum ajar_err err;
	while (pos < wd.len) {
		int rc = pcre2_match(re, subj, wd.len, pos, 0, w->md, mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			return ajar_errf(AJAR_ERR_LIMIT, "tokenize: pre-tokenizer regex failed: %s", (const char *)msg);
		}
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
		size_t start = ov[0], end = ov[1];
		if (start > gap && (err = push_word(w, wd.off + gap, start - gap)))
			return err;
		if (end > start) {
			if ((err = push_word(w, wd.off + start, end - start)))
				return err;
			gap = pos = end;
		} else {
			/* No pattern here matches empty, but never loop on one:
			 * step over a character, as regex iterators do. */
			size_t n;
			(void)bpe_decode_lenient(subj + end, wd.len - end, &n);
			gap = end;
			pos = end + n;
		}
	}
	if (gap < wd.len)
		return push_word(w, wd.off + gap, wd.len - gap);
	return AJAR_OK;
}

enum ajar_err pretok_split(const struct pretok *p, struct pretok_work *w, const char *text, size_t len)
{
	size_t n;
	enum ajar_err err = decode(w, text, len, &n);
	if (err)
		return err;
	w->n_words = 0;
	if (n == 0)
		return AJAR_OK;
	if (!w->md && !(w->md = pcre2_match_data_create(1, NULL)))
		return ajar_errf(AJAR_ERR_NOMEM, "tokenize: PCRE2 match data");
	if ((err = grow((void **)&w->words, &w->words_cap, 1, sizeof(*w->words))))
		return err;
	w->words[0] = (struct pretok_word){ 0, (uint32_t)n };
	w->n_words = 1;
	for (size_t s = 0; s < p->n_stages; s++) {
		const struct pretok_stage *st = &p->stages[s];
		w->n_next = 0;
		for (size_t i = 0; i < w->n_words; i++) {
			err = st->kind == PRETOK_TRAILING_WS ? split_trailing_ws(w, w->words[i])
							     : split_regex(w, st->re, p->mctx, w->words[i]);
			if (err)
				return err;
		}
		struct pretok_word *tmp = w->words;
		size_t tmp_cap = w->words_cap;
		w->words = w->next;
		w->words_cap = w->next_cap;
		w->n_words = w->n_next;
		w->next = tmp;
		w->next_cap = tmp_cap;
	}
	return AJAR_OK;
}
