/*
 * chat_template.c - chat prompt formats, and recognising them from a model's
 * Jinja template (see include/ajar/chat.h for the list and the rules).
 *
 * Layout:
 *   1. an output buffer with a hard cap and a sticky error, so each renderer
 *      is straight-line code;
 *   2. the family table: most formats are "head, then per message
 *      pre[role] + content + post[role], then gen" and are only data; the few
 *      that merge or reorder messages (llama2, mistral v1/v3, gemma, orion,
 *      monarch, gigachat) have a renderer of their own beside the table;
 *   3. detection from the Jinja source, in llama.cpp's order;
 *   4. the public functions.
 *
 * The strings are llama.cpp's (src/llama-chat.cpp, c392e509), checked against
 * the published templates in tests/unit/test_chat_template.c.
 */
#include "ajar/chat.h"
#include "ajar/gguf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DeepSeek's and MiniCPM's markers are not ASCII: U+FF5C FULLWIDTH VERTICAL
 * LINE, U+2581 LOWER ONE EIGHTH BLOCK (SentencePiece's space), 用户 ("user"). */
#define FW_BAR "\xEF\xBD\x9C"
#define SP_SPACE "\xE2\x96\x81"
#define DS_EOS "<" FW_BAR "end" SP_SPACE "of" SP_SPACE "sentence" FW_BAR ">"
#define DS_USER "<" FW_BAR "User" FW_BAR ">"
#define DS_ASSISTANT "<" FW_BAR "Assistant" FW_BAR ">"
#define CPM_USER "<\xE7\x94\xA8\xE6\x88\xB7>"

/* ---- 1. output buffer ---- */

struct out_buf {
	char *p;   /* owned; NUL-terminated while err == AJAR_OK */
	size_t len, cap;
	enum ajar_err err; /* first failure; later appends do nothing */
};

static void put_n(struct out_buf *b, const char *s, size_t n)
{
	if (b->err || n == 0)
		return;
	if (n > CHAT_RENDER_MAX - b->len) {
		b->err = ajar_errf(AJAR_ERR_LIMIT, "chat prompt is larger than %zu bytes", CHAT_RENDER_MAX);
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = ajar_errf(AJAR_ERR_NOMEM, "chat prompt buffer of %zu bytes", cap);
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void put(struct out_buf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

/* llama.cpp's trim(): isspace() in the C locale, at both ends. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void put_trimmed(struct out_buf *b, const char *s)
{
	size_t start = 0, end = strlen(s);
	while (start < end && is_space(s[start]))
		start++;
	while (end > start && is_space(s[end - 1]))
		end--;
	put_n(b, s + start, end - start);
}

/* ---- 2. the families ---- */

enum chat_role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_COUNT };

static const char *const role_names[ROLE_COUNT] = { "system", "user", "assistant" };

/* The role of a message chat_render() has validated. */
static enum chat_role role_of(const struct chat_msg *m)
{
	if (strcmp(m->role, "system") == 0)
		return ROLE_SYSTEM;
	return strcmp(m->role, "user") == 0 ? ROLE_USER : ROLE_ASSISTANT;
}

typedef void (*render_fn)(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);

struct family_spec {
	const char *name;
	render_fn render;               /* NULL: the generic renderer with the fields below */
	const char *head;               /* before the first message */
	const char *pre[ROLE_COUNT];    /* around each message, by role */
	const char *post[ROLE_COUNT];
	bool trim;                      /* content trimmed of surrounding whitespace */
	const char *gen;                /* the generation prompt; NULL: none */
	const char *stops[4];           /* end-of-turn strings, NULL-terminated */
};

static void render_llama2(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);
static void render_mistral(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);
static void render_monarch(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);
static void render_gemma(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);
static void render_orion(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);
static void render_gigachat(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen);

/* pre/post by role: { system, user, assistant }. */
static const struct family_spec families[CHAT_FAMILY_COUNT] = {
	[CHAT_FAMILY_CHATML] = {
		"chatml", NULL, "",
		{ "<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n" },
		{ "<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n" },
		false, "<|im_start|>assistant\n", { "<|im_end|>" } },
	[CHAT_FAMILY_LLAMA2] = { "llama2", render_llama2, .stops = { "</s>" } },
	[CHAT_FAMILY_LLAMA2_SYS] = { "llama2-sys", render_llama2, .stops = { "</s>" } },
	[CHAT_FAMILY_LLAMA2_SYS_BOS] = { "llama2-sys-bos", render_llama2, .stops = { "</s>" } },
	[CHAT_FAMILY_LLAMA2_SYS_STRIP] = { "llama2-sys-strip", render_llama2, .stops = { "</s>" } },
	[CHAT_FAMILY_MISTRAL_V1] = { "mistral-v1", render_mistral, .stops = { "</s>" } },
	[CHAT_FAMILY_MISTRAL_V3] = { "mistral-v3", render_mistral, .stops = { "</s>" } },
	[CHAT_FAMILY_MISTRAL_V3_TEKKEN] = { "mistral-v3-tekken", render_mistral, .stops = { "</s>" } },
	[CHAT_FAMILY_MISTRAL_V7] = {
		"mistral-v7", NULL, "",
		{ "[SYSTEM_PROMPT] ", "[INST] ", " " },
		{ "[/SYSTEM_PROMPT]", "[/INST]", "</s>" },
		false, NULL, { "</s>" } },
	[CHAT_FAMILY_PHI3] = {
		"phi3", NULL, "",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "<|end|>\n", "<|end|>\n", "<|end|>\n" },
		false, "<|assistant|>\n", { "<|end|>", "<|endoftext|>" } },
	[CHAT_FAMILY_PHI4] = {
		"phi4", NULL, "",
		{ "<|im_start|>system<|im_sep|>", "<|im_start|>user<|im_sep|>", "<|im_start|>assistant<|im_sep|>" },
		{ "<|im_end|>", "<|im_end|>", "<|im_end|>" },
		false, "<|im_start|>assistant<|im_sep|>", { "<|im_end|>" } },
	[CHAT_FAMILY_FALCON3] = {
		"falcon3", NULL, "",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "\n", "\n", "\n" },
		false, "<|assistant|>\n", { "<|endoftext|>", "<|user|>" } },
	[CHAT_FAMILY_ZEPHYR] = {
		"zephyr", NULL, "",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "<|endoftext|>\n", "<|endoftext|>\n", "<|endoftext|>\n" },
		false, "<|assistant|>\n", { "<|endoftext|>" } },
	[CHAT_FAMILY_ZEPHYR_BETA] = {
		"zephyr-beta", NULL, "",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "</s>\n", "</s>\n", "</s>\n" },
		false, "<|assistant|>\n", { "</s>" } },
	[CHAT_FAMILY_MONARCH] = { "monarch", render_monarch, .stops = { "</s>" } },
	[CHAT_FAMILY_GEMMA] = { "gemma", render_gemma, .stops = { "<end_of_turn>" } },
	[CHAT_FAMILY_ORION] = { "orion", render_orion, .stops = { "</s>" } },
	[CHAT_FAMILY_OPENCHAT] = {
		"openchat", NULL, "",
		{ "", "GPT4 Correct User: ", "GPT4 Correct Assistant: " },
		{ "<|end_of_turn|>", "<|end_of_turn|>", "<|end_of_turn|>" },
		false, "GPT4 Correct Assistant:", { "<|end_of_turn|>" } },
	[CHAT_FAMILY_VICUNA] = {
		"vicuna", NULL, "",
		{ "", "USER: ", "ASSISTANT: " },
		{ "\n\n", "\n", "</s>\n" },
		false, "ASSISTANT:", { "</s>" } },
	[CHAT_FAMILY_VICUNA_ORCA] = {
		"vicuna-orca", NULL, "",
		{ "SYSTEM: ", "USER: ", "ASSISTANT: " },
		{ "\n", "\n", "</s>\n" },
		false, "ASSISTANT:", { "</s>" } },
	[CHAT_FAMILY_DEEPSEEK] = {
		"deepseek", NULL, "",
		{ "", "### Instruction:\n", "### Response:\n" },
		{ "", "\n", "\n<|EOT|>\n" },
		false, "### Response:\n", { "<|EOT|>" } },
	[CHAT_FAMILY_DEEPSEEK2] = {
		"deepseek2", NULL, "",
		{ "", "User: ", "Assistant: " },
		{ "\n\n", "\n\n", DS_EOS },
		false, "Assistant:", { DS_EOS } },
	[CHAT_FAMILY_DEEPSEEK3] = {
		"deepseek3", NULL, "",
		{ "", DS_USER, DS_ASSISTANT },
		{ "\n\n", "", DS_EOS },
		false, DS_ASSISTANT, { DS_EOS } },
	[CHAT_FAMILY_COMMAND_R] = {
		"command-r", NULL, "",
		{ "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
		  "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>" },
		{ "<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>" },
		true, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", { "<|END_OF_TURN_TOKEN|>" } },
	[CHAT_FAMILY_LLAMA3] = {
		"llama3", NULL, "",
		{ "<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
		  "<|start_header_id|>assistant<|end_header_id|>\n\n" },
		{ "<|eot_id|>", "<|eot_id|>", "<|eot_id|>" },
		true, "<|start_header_id|>assistant<|end_header_id|>\n\n", { "<|eot_id|>", "<|end_of_text|>" } },
	[CHAT_FAMILY_CHATGLM3] = {
		"chatglm3", NULL, "[gMASK]sop",
		{ "<|system|>\n ", "<|user|>\n ", "<|assistant|>\n " },
		{ "", "", "" },
		false, "<|assistant|>", { "<|user|>", "<|observation|>" } },
	[CHAT_FAMILY_CHATGLM4] = {
		"chatglm4", NULL, "[gMASK]<sop>",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "", "", "" },
		false, "<|assistant|>", { "<|user|>", "<|observation|>" } },
	[CHAT_FAMILY_GLMEDGE] = {
		"glmedge", NULL, "",
		{ "<|system|>\n", "<|user|>\n", "<|assistant|>\n" },
		{ "", "", "" },
		false, "<|assistant|>", { "<|user|>" } },
	[CHAT_FAMILY_MINICPM] = {
		"minicpm", NULL, "",
		{ "", CPM_USER, "" },
		{ "", "<AI>", "" },
		true, NULL, { CPM_USER, "</s>" } },
	[CHAT_FAMILY_EXAONE3] = {
		"exaone3", NULL, "",
		{ "[|system|]", "[|user|]", "[|assistant|]" },
		{ "[|endofturn|]\n", "\n", "[|endofturn|]\n" },
		true, "[|assistant|]", { "[|endofturn|]" } },
	[CHAT_FAMILY_RWKV_WORLD] = {
		/* the model must end its turn with "\n\n" */
		"rwkv-world", NULL, "",
		{ "", "User: ", "" },
		{ "\n\n", "\n\nAssistant:", "\n\n" },
		false, NULL, { "\n\n" } },
	[CHAT_FAMILY_GRANITE] = {
		"granite", NULL, "",
		{ "<|start_of_role|>system<|end_of_role|>", "<|start_of_role|>user<|end_of_role|>",
		  "<|start_of_role|>assistant<|end_of_role|>" },
		{ "<|end_of_text|>\n", "<|end_of_text|>\n", "<|end_of_text|>\n" },
		false, "<|start_of_role|>assistant<|end_of_role|>\n", { "<|end_of_text|>" } },
	[CHAT_FAMILY_GIGACHAT] = { "gigachat", render_gigachat, .stops = { "<|message_sep|>" } },
	[CHAT_FAMILY_MEGREZ] = {
		"megrez", NULL, "",
		{ "<|role_start|>system<|role_end|>", "<|role_start|>user<|role_end|>",
		  "<|role_start|>assistant<|role_end|>" },
		{ "<|turn_end|>", "<|turn_end|>", "<|turn_end|>" },
		false, "<|role_start|>assistant<|role_end|>", { "<|turn_end|>" } },
};

static void render_generic(struct out_buf *b, const struct family_spec *s, const struct chat_msg *m, size_t n,
			   bool gen)
{
	put(b, s->head);
	for (size_t i = 0; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		put(b, s->pre[r]);
		if (s->trim)
			put_trimmed(b, m[i].content);
		else
			put(b, m[i].content);
		put(b, s->post[r]);
	}
	if (gen && s->gen)
		put(b, s->gen);
}

/*
 * Llama 2: "[INST] " opens the first turn (its BOS is the tokenizer's); a
 * system message goes inside it, as <<SYS>> for the -sys variants or as a
 * plain line for llama2; "</s>" closes an assistant turn and the next user
 * message opens a new "[INST] " ("<s>[INST] " for -sys-bos).
 */
static void render_llama2(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	bool sys_block = f != CHAT_FAMILY_LLAMA2;
	bool bos_inside = f == CHAT_FAMILY_LLAMA2_SYS_BOS;
	bool strip = f == CHAT_FAMILY_LLAMA2_SYS_STRIP;
	bool inside_turn = true;

	put(b, "[INST] ");
	for (size_t i = 0; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		if (!inside_turn) {
			put(b, bos_inside ? "<s>[INST] " : "[INST] ");
			inside_turn = true;
		}
		if (r == ROLE_SYSTEM && sys_block)
			put(b, "<<SYS>>\n");
		if (strip)
			put_trimmed(b, m[i].content);
		else
			put(b, m[i].content);
		if (r == ROLE_SYSTEM) {
			put(b, sys_block ? "\n<</SYS>>\n\n" : "\n");
		} else if (r == ROLE_USER) {
			put(b, " [/INST]");
		} else {
			put(b, "</s>");
			inside_turn = false;
		}
	}
}

/*
 * Mistral's official v1, v3 and v3-tekken formats differ only in spacing:
 * v1 puts a space before [INST] and [/INST] and after [INST]; v3 only after
 * [INST] (and before the reply, which it trims); tekken nowhere.
 */
static void render_mistral(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	const char *lead = f == CHAT_FAMILY_MISTRAL_V1 ? " " : "";
	const char *trail = f == CHAT_FAMILY_MISTRAL_V3_TEKKEN ? "" : " ";
	bool trim_reply = f == CHAT_FAMILY_MISTRAL_V3;
	bool inside_turn = false;

	for (size_t i = 0; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		if (!inside_turn) {
			put(b, lead);
			put(b, "[INST]");
			put(b, trail);
			inside_turn = true;
		}
		if (r == ROLE_SYSTEM) {
			put(b, m[i].content);
			put(b, "\n\n");
		} else if (r == ROLE_USER) {
			put(b, m[i].content);
			put(b, lead);
			put(b, "[/INST]");
		} else {
			put(b, trail);
			if (trim_reply)
				put_trimmed(b, m[i].content);
			else
				put(b, m[i].content);
			put(b, "</s>");
			inside_turn = false;
		}
	}
}

/* mlabonne/AlphaMonarch-7B: "<s>" before every message but the first. */
static void render_monarch(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put(b, "<s>");
		put(b, m[i].role);
		put(b, "\n");
		put(b, m[i].content);
		put(b, "</s>\n");
	}
	if (gen)
		put(b, "<s>assistant\n");
}

/*
 * Gemma has no system role: the (trimmed) system text opens the next user
 * turn, followed by a blank line. The assistant is "model"; every message is
 * trimmed.
 */
static void render_gemma(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	const char *sys = NULL; /* pending system text, merged into the next user turn */

	for (size_t i = 0; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		if (r == ROLE_SYSTEM) {
			sys = m[i].content;
			continue;
		}
		put(b, r == ROLE_ASSISTANT ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
		if (sys && r == ROLE_USER) {
			size_t before = b->len;
			put_trimmed(b, sys);
			if (b->len != before) /* an all-space system text adds nothing */
				put(b, "\n\n");
			sys = NULL;
		}
		put_trimmed(b, m[i].content);
		put(b, "<end_of_turn>\n");
	}
	if (gen)
		put(b, "<start_of_turn>model\n");
}

/* OrionStarAI/Orion-14B-Chat: the system text opens the next user turn; the
 * user turn already ends with the assistant prefix and an EOS. */
static void render_orion(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	const char *sys = NULL;

	for (size_t i = 0; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		if (r == ROLE_SYSTEM) {
			sys = m[i].content;
		} else if (r == ROLE_USER) {
			put(b, "Human: ");
			if (sys && sys[0]) {
				put(b, sys);
				put(b, "\n\n");
			}
			sys = NULL;
			put(b, m[i].content);
			put(b, "\n\nAssistant: </s>");
		} else {
			put(b, m[i].content);
			put(b, "</s>");
		}
	}
}

/* ai-sage/GigaChat: "<s>", an optional leading system text, then role<|role_sep|>
 * turns; each user turn declares an empty function list. */
static void render_gigachat(struct out_buf *b, enum chat_family f, const struct chat_msg *m, size_t n, bool gen)
{
	size_t i = 0;

	put(b, "<s>");
	if (n > 0 && role_of(&m[0]) == ROLE_SYSTEM) {
		put(b, m[0].content);
		put(b, "<|message_sep|>");
		i = 1;
	}
	for (; i < n; i++) {
		enum chat_role r = role_of(&m[i]);
		if (r == ROLE_USER) {
			put(b, "user<|role_sep|>");
			put(b, m[i].content);
			put(b, "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>");
		} else if (r == ROLE_ASSISTANT) {
			put(b, "assistant<|role_sep|>");
			put(b, m[i].content);
			put(b, "<|message_sep|>");
		}
		/* a later system message has no place in this format: dropped, as in llama.cpp */
	}
	if (gen)
		put(b, "assistant<|role_sep|>");
}

/* ---- 3. detection ---- */

struct jinja_src {
	const char *s;
	size_t len;
};

static bool has(const struct jinja_src *t, const char *needle)
{
	return memmem(t->s, t->len, needle, strlen(needle)) != NULL;
}

/* The [INST] templates: Mistral's official v1/v3/v3-tekken/v7 or a llama2
 * variant. */
static enum chat_family detect_inst(const struct jinja_src *t)
{
	if (has(t, "[SYSTEM_PROMPT]"))
		return CHAT_FAMILY_MISTRAL_V7;
	/* Mistral's official v1 template, and v3/v3-tekken (which offer tools) */
	if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
		if (has(t, " [INST]"))
			return CHAT_FAMILY_MISTRAL_V1;
		if (has(t, "\"[INST]\""))
			return CHAT_FAMILY_MISTRAL_V3_TEKKEN;
		return CHAT_FAMILY_MISTRAL_V3;
	}
	if (has(t, "content.strip()"))
		return CHAT_FAMILY_LLAMA2_SYS_STRIP;
	if (has(t, "bos_token + '[INST]"))
		return CHAT_FAMILY_LLAMA2_SYS_BOS;
	if (has(t, "<<SYS>>"))
		return CHAT_FAMILY_LLAMA2_SYS;
	return CHAT_FAMILY_LLAMA2;
}

/* Returns CHAT_FAMILY_COUNT when no rule matches. */
static enum chat_family detect_rules(const struct jinja_src *t)
{
	if (has(t, "<|im_start|>"))
		return has(t, "<|im_sep|>") ? CHAT_FAMILY_PHI4 : CHAT_FAMILY_CHATML;
	if ((t->len >= 7 && memcmp(t->s, "mistral", 7) == 0) || has(t, "[INST]"))
		return detect_inst(t);
	if (has(t, "<|assistant|>") && has(t, "<|end|>"))
		return CHAT_FAMILY_PHI3;
	/* ajar: HuggingFaceH4/zephyr-7b-beta and TinyLlama-Chat, which
	 * llama.cpp's next rule would take for glmedge. The '\n' in the Jinja
	 * string literal may be stored as a newline or as backslash-n. */
	if (has(t, "'<|user|>\n' + message['content'] + eos_token") ||
	    has(t, "'<|user|>\\n' + message['content'] + eos_token"))
		return CHAT_FAMILY_ZEPHYR_BETA;
	if (has(t, "<|assistant|>") && has(t, "<|user|>"))
		return has(t, "</s>") ? CHAT_FAMILY_FALCON3 : CHAT_FAMILY_GLMEDGE;
	if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
		return CHAT_FAMILY_ZEPHYR;
	if (has(t, "bos_token + message['role']"))
		return CHAT_FAMILY_MONARCH;
	if (has(t, "<start_of_turn>"))
		return CHAT_FAMILY_GEMMA;
	if (has(t, "'\\n\\nAssistant: ' + eos_token"))
		return CHAT_FAMILY_ORION;
	if (has(t, "GPT4 Correct "))
		return CHAT_FAMILY_OPENCHAT;
	if (has(t, "USER: ") && has(t, "ASSISTANT: "))
		return has(t, "SYSTEM: ") ? CHAT_FAMILY_VICUNA_ORCA : CHAT_FAMILY_VICUNA;
	if (has(t, "### Instruction:") && has(t, "<|EOT|>"))
		return CHAT_FAMILY_DEEPSEEK;
	if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>"))
		return CHAT_FAMILY_COMMAND_R;
	if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
		return CHAT_FAMILY_LLAMA3;
	if (has(t, "[gMASK]sop"))
		return CHAT_FAMILY_CHATGLM3;
	if (has(t, "[gMASK]<sop>"))
		return CHAT_FAMILY_CHATGLM4;
	if (has(t, CPM_USER))
		return CHAT_FAMILY_MINICPM;
	if (has(t, "'Assistant: ' + message['content'] + eos_token"))
		return CHAT_FAMILY_DEEPSEEK2;
	if (has(t, DS_ASSISTANT) && has(t, DS_USER) && has(t, DS_EOS))
		return CHAT_FAMILY_DEEPSEEK3;
	if (has(t, "[|system|]") && has(t, "[|assistant|]") && has(t, "[|endofturn|]"))
		return CHAT_FAMILY_EXAONE3;
	if (has(t, "rwkv-world"))
		return CHAT_FAMILY_RWKV_WORLD;
	if (has(t, "<|start_of_role|>"))
		return CHAT_FAMILY_GRANITE;
	if (has(t, "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"))
		return CHAT_FAMILY_GIGACHAT;
	if (has(t, "<|role_start|>"))
		return CHAT_FAMILY_MEGREZ;
	return CHAT_FAMILY_COUNT;
}

/* ---- 4. public functions ---- */

const char *chat_family_name(enum chat_family f)
{
	if ((unsigned)f >= CHAT_FAMILY_COUNT)
		return "unknown";
	return families[f].name;
}

/* The family named by s[0..len), or CHAT_FAMILY_COUNT. */
static enum chat_family family_by_name(const char *s, size_t len)
{
	for (int f = 0; f < CHAT_FAMILY_COUNT; f++)
		if (strlen(families[f].name) == len && memcmp(families[f].name, s, len) == 0)
			return (enum chat_family)f;
	return CHAT_FAMILY_COUNT;
}

/* The error for an unknown --chat-template name, listing the known ones. */
static enum ajar_err unknown_name(enum ajar_err code, const char *name)
{
	char list[448];
	size_t used = 0;

	list[0] = '\0';
	for (int i = 0; i < CHAT_FAMILY_COUNT; i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", families[i].name);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	return ajar_errf(code, "unknown chat template '%.40s' (known: %s)", name ? name : "(null)", list);
}

enum ajar_err chat_family_from_name(const char *name, enum chat_family *out)
{
	enum chat_family f = name ? family_by_name(name, strlen(name)) : CHAT_FAMILY_COUNT;
	if (f == CHAT_FAMILY_COUNT)
		return unknown_name(AJAR_ERR_NOT_FOUND, name);
	*out = f;
	return AJAR_OK;
}

enum ajar_err chat_template_detect(const char *jinja, size_t len, enum chat_family *out)
{
	struct jinja_src t = { jinja, len };

	*out = CHAT_FAMILY_FALLBACK;
	if (!jinja || len == 0)
		return ajar_errf(AJAR_ERR_NOT_FOUND, "the model has no chat template; using %s",
				 families[CHAT_FAMILY_FALLBACK].name);
	enum chat_family f = family_by_name(jinja, len);
	if (f == CHAT_FAMILY_COUNT)
		f = detect_rules(&t);
	if (f == CHAT_FAMILY_COUNT)
		return ajar_errf(AJAR_ERR_UNSUPPORTED, "unknown chat template; using %s",
				 families[CHAT_FAMILY_FALLBACK].name);
	*out = f;
	return AJAR_OK;
}

/* True if the model's EOS token is spelled s (zephyr-style templates write
 * eos_token after every message). */
static bool eos_text_is(const struct gguf_file *f, const char *s)
{
	const struct gguf_value *tokens;
	uint32_t eos;

	if (gguf_get_u32(f, "tokenizer.ggml.eos_token_id", &eos) != AJAR_OK ||
	    gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens) != AJAR_OK ||
	    eos >= tokens->v.arr.count)
		return false;
	return gguf_str_eq(tokens->v.arr.items[eos].v.str, s);
}

enum ajar_err chat_template_for_model(const struct gguf_file *f, const char *override_name, enum chat_family *out)
{
	struct gguf_str jinja = { NULL, 0 };
	enum ajar_err err;

	if (override_name) {
		enum chat_family named = family_by_name(override_name, strlen(override_name));
		if (named == CHAT_FAMILY_COUNT)
			return unknown_name(AJAR_ERR_INVALID, override_name);
		*out = named;
		return AJAR_OK;
	}
	if (gguf_get_str(f, "tokenizer.chat_template", &jinja) != AJAR_OK)
		jinja.len = 0;
	err = chat_template_detect(jinja.data, (size_t)jinja.len, out);
	/* The zephyr template spells the end of a message eos_token: </s> for
	 * zephyr-7b-beta and TinyLlama, <|endoftext|> for StableLM Zephyr. */
	if (!err && *out == CHAT_FAMILY_ZEPHYR_BETA && eos_text_is(f, "<|endoftext|>"))
		*out = CHAT_FAMILY_ZEPHYR;
	return err;
}

enum ajar_err chat_render(enum chat_family f, const struct chat_msg *msgs, size_t n, bool add_generation_prompt,
			  char **out, size_t *len)
{
	struct out_buf b = { 0 };

	if ((unsigned)f >= CHAT_FAMILY_COUNT)
		return ajar_errf(AJAR_ERR_INVALID, "chat template family %d out of range", (int)f);
	if (n > 0 && !msgs)
		return ajar_errf(AJAR_ERR_INVALID, "chat: %zu messages but no array", n);
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].role)
			return ajar_errf(AJAR_ERR_INVALID, "chat message %zu has no role", i);
		if (!msgs[i].content)
			return ajar_errf(AJAR_ERR_INVALID, "chat message %zu (%s) has no content", i, msgs[i].role);
		bool known = false;
		for (int r = 0; r < ROLE_COUNT; r++)
			known = known || strcmp(msgs[i].role, role_names[r]) == 0;
		if (!known)
			return ajar_errf(AJAR_ERR_INVALID,
					 "chat message %zu: unknown role '%.64s' (system, user or assistant)", i,
					 msgs[i].role);
	}
	const struct family_spec *s = &families[f];
	if (s->render)
		s->render(&b, f, msgs, n, add_generation_prompt);
	else
		render_generic(&b, s, msgs, n, add_generation_prompt);
	if (!b.err && !b.p) { /* nothing rendered: still a valid empty string */
		b.p = malloc(1);
		if (!b.p)
			b.err = ajar_errf(AJAR_ERR_NOMEM, "chat prompt");
		else
			b.p[0] = '\0';
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return AJAR_OK;
}

const char *const *chat_stop_strings(enum chat_family f, size_t *n)
{
	*n = 0;
	if ((unsigned)f >= CHAT_FAMILY_COUNT)
		return NULL;
	while (*n < 4 && families[f].stops[*n])
		(*n)++;
	return families[f].stops;
}
