/*
 * chat.h - chat templates: turning a conversation into the one prompt string
 * a chat model was trained on, and recognising which format a model wants.
 *
 * ajar has no Jinja interpreter. Like llama.cpp's llama_chat_apply_template()
 * (src/llama-chat.cpp at c392e509, 2025-02-20, our behavioural reference), it
 * knows a fixed set of formats ("families") written out in C, and recognises
 * the family of a model by looking for telling substrings in the Jinja source
 * that the GGUF key tokenizer.chat_template carries. The families, their
 * names (for --chat-template) and the strings they render are llama.cpp's,
 * byte for byte, plus one ajar addition ("zephyr-beta", see below).
 *
 *   name               format (system S, user U, assistant A; "gen" = what
 *                      add_generation_prompt appends)
 *   chatml             <|im_start|>ROLE\n...<|im_end|>\n; gen <|im_start|>assistant\n
 *                      (Qwen, SmolLM, Yi, OpenHermes, ...)
 *   llama2             [INST] S\nU [/INST]A</s>[INST] U [/INST]  (no gen: a user
 *   llama2-sys           turn already ends with the assistant prefix)
 *   llama2-sys-bos     same with [INST] <<SYS>>\nS\n<</SYS>>\n\n; -bos puts <s>
 *   llama2-sys-strip     before every later [INST]; -strip trims each message
 *   mistral-v1         " [INST] S\n\nU [/INST] A</s>"       (no gen)
 *   mistral-v3         "[INST] S\n\nU[/INST] A</s>", A trimmed (no gen)
 *   mistral-v3-tekken  "[INST]S\n\nU[/INST]A</s>"           (no gen)
 *   mistral-v7         [SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] U[/INST] A</s> (no gen)
 *   phi3               <|ROLE|>\n...<|end|>\n; gen <|assistant|>\n
 *   phi4               <|im_start|>ROLE<|im_sep|>...<|im_end|>
 *   falcon3            <|ROLE|>\n...\n; gen <|assistant|>\n
 *   zephyr             <|ROLE|>\n...<|endoftext|>\n; gen <|assistant|>\n (StableLM Zephyr)
 *   zephyr-beta        <|ROLE|>\n...</s>\n; gen <|assistant|>\n   (ajar: the
 *                      template of HuggingFaceH4/zephyr-7b-beta and
 *                      TinyLlama-1.1B-Chat, whose eos_token is </s>)
 *   monarch            ROLE\n...</s>\n with <s> before every message but the first
 *   gemma              <start_of_turn>user\n...<end_of_turn>\n, assistant is
 *                      "model", S merged into the first user turn, all trimmed
 *   orion              Human: U\n\nAssistant: </s>A</s>
 *   openchat           GPT4 Correct User: U<|end_of_turn|>GPT4 Correct Assistant: ...
 *   vicuna, vicuna-orca  USER: U\nASSISTANT: A</s>\n; gen ASSISTANT:
 *   deepseek           ### Instruction:\nU\n### Response:\nA\n<|EOT|>\n (DeepSeek Coder)
 *   deepseek2          User: U\n\nAssistant: A<｜end▁of▁sentence｜>; gen Assistant:
 *   deepseek3          <｜User｜>U<｜Assistant｜>A<｜end▁of▁sentence｜> (V3, R1)
 *   command-r          <|START_OF_TURN_TOKEN|><|USER_TOKEN|>U<|END_OF_TURN_TOKEN|>...
 *   llama3             <|start_header_id|>ROLE<|end_header_id|>\n\n...<|eot_id|>
 *   chatglm3, chatglm4, glmedge, minicpm, exaone3, rwkv-world, granite,
 *   gigachat, megrez   as llama.cpp renders them
 *
 * BOS: no family writes the model's BOS token at the start of the prompt;
 * the tokenizer adds it (vocab_tokenize with add_special, or by hand where
 * vocab_add_bos() says so), as llama.cpp does. The text does contain "<s>"
 * inside the history for llama2-sys-bos and monarch, and at the start for
 * gigachat, exactly where llama.cpp puts it: tokenize with parse_special so
 * that these and the template's control tokens become control tokens.
 *
 * Roles are "system", "user" and "assistant"; anything else is refused.
 * All functions are pure and thread-safe.
 */
#ifndef AJAR_CHAT_H
#define AJAR_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "ajar/err.h"

struct gguf_file;

enum chat_family {
	CHAT_FAMILY_CHATML,
	CHAT_FAMILY_LLAMA2,
	CHAT_FAMILY_LLAMA2_SYS,
	CHAT_FAMILY_LLAMA2_SYS_BOS,
	CHAT_FAMILY_LLAMA2_SYS_STRIP,
	CHAT_FAMILY_MISTRAL_V1,
	CHAT_FAMILY_MISTRAL_V3,
	CHAT_FAMILY_MISTRAL_V3_TEKKEN,
	CHAT_FAMILY_MISTRAL_V7,
	CHAT_FAMILY_PHI3,
	CHAT_FAMILY_PHI4,
	CHAT_FAMILY_FALCON3,
	CHAT_FAMILY_ZEPHYR,
	CHAT_FAMILY_ZEPHYR_BETA,
	CHAT_FAMILY_MONARCH,
	CHAT_FAMILY_GEMMA,
	CHAT_FAMILY_ORION,
	CHAT_FAMILY_OPENCHAT,
	CHAT_FAMILY_VICUNA,
	CHAT_FAMILY_VICUNA_ORCA,
	CHAT_FAMILY_DEEPSEEK,
	CHAT_FAMILY_DEEPSEEK2,
	CHAT_FAMILY_DEEPSEEK3,
	CHAT_FAMILY_COMMAND_R,
	CHAT_FAMILY_LLAMA3,
	CHAT_FAMILY_CHATGLM3,
	CHAT_FAMILY_CHATGLM4,
	CHAT_FAMILY_GLMEDGE,
	CHAT_FAMILY_MINICPM,
	CHAT_FAMILY_EXAONE3,
	CHAT_FAMILY_RWKV_WORLD,
	CHAT_FAMILY_GRANITE,
	CHAT_FAMILY_GIGACHAT,
	CHAT_FAMILY_MEGREZ,
	CHAT_FAMILY_COUNT
};

/* The family used when a model's template is absent or not recognised. */
#define CHAT_FAMILY_FALLBACK CHAT_FAMILY_CHATML

/* One message. Both strings are borrowed for the duration of the call. */
struct chat_msg {
	const char *role;    /* "system", "user" or "assistant" */
	const char *content; /* NUL-terminated UTF-8 (not checked) */
};

/* The name --chat-template takes ("chatml", "llama3", ...); "unknown" for a
 * value out of range. Never NULL. */
const char *chat_family_name(enum chat_family f);

/* The family with this exact name. AJAR_ERR_NOT_FOUND (message lists the
 * names) if there is none. */
enum ajar_err chat_family_from_name(const char *name, enum chat_family *out) AJAR_MUST_CHECK;

/*
 * Recognises the family from a Jinja template's source (len bytes, need not
 * be NUL-terminated), by llama.cpp's substring rules in llama.cpp's order: a
 * family name is accepted as is; then <|im_start|> (phi4 if <|im_sep|>, else
 * chatml); text starting with "mistral" or containing [INST] (mistral-v7 with
 * [SYSTEM_PROMPT]; v1/v3/v3-tekken for Mistral's official templates; else the
 * llama2 variant its <<SYS>>, "bos_token + '[INST]" and "content.strip()"
 * say); <|assistant|> with <|end|> (phi3); ... <|start_header_id|> with
 * <|end_header_id|> (llama3); and so on for every family above. The one ajar
 * rule, tried before llama.cpp's <|assistant|>+<|user|> rule (which would take
 * it for glmedge): '<|user|>\n' + message['content'] + eos_token means
 * zephyr-beta.
 *
 * Returns AJAR_OK with *out set; or, with *out = CHAT_FAMILY_FALLBACK (chatml)
 * and a message the caller may show as a warning:
 *   AJAR_ERR_NOT_FOUND    jinja is NULL or empty ("the model has no chat
 *                         template; using chatml")
 *   AJAR_ERR_UNSUPPORTED  no rule matched ("unknown chat template; using chatml")
 */
enum ajar_err chat_template_detect(const char *jinja, size_t len, enum chat_family *out) AJAR_MUST_CHECK;

/*
 * The family for a model: the one named by override_name when it is not NULL
 * (an unknown name is AJAR_ERR_INVALID, naming the valid ones, and *out is
 * untouched), otherwise
 * chat_template_detect() on the GGUF string tokenizer.chat_template, with
 * its statuses and fallback (a key of another type counts as absent).
 */
enum ajar_err chat_template_for_model(const struct gguf_file *f, const char *override_name,
				      enum chat_family *out) AJAR_MUST_CHECK;

/* Rendered prompts larger than this are refused (AJAR_ERR_LIMIT); it is also
 * vocab_tokenize()'s limit. */
#define CHAT_RENDER_MAX ((size_t)16 << 20)

/*
 * Renders n messages (msgs may be NULL when n is 0) in family f, then, if
 * add_generation_prompt, the text that opens the assistant's reply (for the
 * families whose user turn already ends with it, nothing). On success *out is
 * NUL-terminated and owned by the caller (free()); *len is its length.
 * AJAR_ERR_INVALID for a NULL role or content, an unknown role or family;
 * AJAR_ERR_LIMIT past CHAT_RENDER_MAX; on error nothing is owed.
 */
enum ajar_err chat_render(enum chat_family f, const struct chat_msg *msgs, size_t n, bool add_generation_prompt,
			  char **out, size_t *len) AJAR_MUST_CHECK;

/*
 * The strings that end an assistant turn in family f's format ("<|im_end|>",
 * "<|eot_id|>", "</s>", "<end_of_turn>", "<|end|>", ...): generation should
 * stop on them as well as on end-of-generation tokens, for vocabularies
 * where they are not single tokens or not marked as EOG. Returns a static
 * array of *n (>= 1) strings; *n = 0 and NULL for an unknown family.
 */
const char *const *chat_stop_strings(enum chat_family f, size_t *n);

#endif
