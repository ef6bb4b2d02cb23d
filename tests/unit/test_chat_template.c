/*
 * Unit tests for the chat templates (src/text/chat_template.c) and an
 * integration test of `ajar chat` ($AJAR_BIN; skipped when it is unset).
 *
 * Rendering: one conversation (a system message, user / assistant / user /
 * assistant / user, one reply padded with spaces to show which formats trim)
 * with the generation prompt, in every family, against the exact expected
 * text. Each expected string is what llama.cpp's llama_chat_apply_template()
 * (c392e509) produces, and was checked by rendering the family's published
 * template (tokenizer_config.json chat_template, or the template embedded in
 * the model's GGUF) with Jinja2 as transformers does (trim_blocks,
 * lstrip_blocks, BOS omitted: the tokenizer adds it). Where llama.cpp's
 * rendering departs from the published template, the comment says how.
 *
 * Detection: real templates, or verbatim excerpts of long ones, from the
 * sources named beside each; the two vocab fixtures that carry a template;
 * names; the fallback for none and for an unknown one.
 */
#include "ajar/chat.h"
#include "ajar/gguf.h"
#include "ajar/vocab.h"
#include "check.h"
#include "spawn_util.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- rendering ------------------------------------------------------- */

static const struct chat_msg conversation[] = {
	{ "system", "You are a helpful assistant" },
	{ "user", "Hello" },
	{ "assistant", "Hi there" },
	{ "user", "Who are you" },
	{ "assistant", "   I am an assistant   " },
	{ "user", "Another question" },
};

static const struct {
	enum chat_family family;
	const char *expected;
} rendered[] = {
	/* Qwen/Qwen2.5-7B-Instruct, HuggingFaceTB/SmolLM2, teknium/OpenHermes-2.5 */
	{ CHAT_FAMILY_CHATML,
	  "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
	  "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
	  "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
	  "<|im_start|>assistant\n" },
	/* mistralai/Mistral-7B-Instruct-v0.1/v0.2 (old template, which refuses a
	 * system role: llama.cpp puts it on a line of the first turn) */
	{ CHAT_FAMILY_LLAMA2,
	  "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"
	  "   I am an assistant   </s>[INST] Another question [/INST]" },
	/* the Llama 2 format (huggingface.co/blog/llama2), llama.cpp's spacing */
	{ CHAT_FAMILY_LLAMA2_SYS,
	  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"
	  "   I am an assistant   </s>[INST] Another question [/INST]" },
	/* TheBloke/FusionNet_34Bx2_MoE-AWQ; the published template also puts a
	 * space before and after each reply ("[/INST] Hi there </s>") */
	{ CHAT_FAMILY_LLAMA2_SYS_BOS,
	  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]"
	  "   I am an assistant   </s><s>[INST] Another question [/INST]" },
	/* meta-llama/Llama-2-7b-chat-hf; the published template gives
	 * "Hello [/INST] Hi there </s><s>[INST] Who are you [/INST] I am an
	 * assistant </s><s>[INST] ..." (spaces around replies, BOS per turn) */
	{ CHAT_FAMILY_LLAMA2_SYS_STRIP,
	  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"
	  "I am an assistant</s>[INST] Another question [/INST]" },
	/* mistralai/Mixtral-8x7B-Instruct-v0.1, Mistral-7B-Instruct-v0.2 (the
	 * "v1" template with a system prompt): identical */
	{ CHAT_FAMILY_MISTRAL_V1,
	  " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]"
	  "    I am an assistant   </s> [INST] Another question [/INST]" },
	/* mistralai/Mistral-Large-Instruct-2407 ("v3"); the published template
	 * puts the system text in the last user turn, llama.cpp in the first */
	{ CHAT_FAMILY_MISTRAL_V3,
	  "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST]"
	  " I am an assistant</s>[INST] Another question[/INST]" },
	/* mistralai/Mistral-Nemo-Instruct-2407 ("v3-tekken"); system placement
	 * as for v3 */
	{ CHAT_FAMILY_MISTRAL_V3_TEKKEN,
	  "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]"
	  "   I am an assistant   </s>[INST]Another question[/INST]" },
	/* mistralai/Mistral-Large-Instruct-2411 ("v7"): identical */
	{ CHAT_FAMILY_MISTRAL_V7,
	  "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>"
	  "[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]" },
	/* microsoft/Phi-3.5-mini-instruct, Phi-3-small: identical */
	{ CHAT_FAMILY_PHI3,
	  "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
	  "<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n"
	  "<|assistant|>\n" },
	/* microsoft/phi-4: identical */
	{ CHAT_FAMILY_PHI4,
	  "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|>"
	  "<|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you<|im_end|>"
	  "<|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question"
	  "<|im_end|><|im_start|>assistant<|im_sep|>" },
	/* tiiuae/Falcon3 as llama.cpp writes it */
	{ CHAT_FAMILY_FALCON3,
	  "<|system|>\nYou are a helpful assistant\n<|user|>\nHello\n<|assistant|>\nHi there\n<|user|>\nWho are you\n"
	  "<|assistant|>\n   I am an assistant   \n<|user|>\nAnother question\n<|assistant|>\n" },
	/* stabilityai StableLM Zephyr: the zephyr template with eos_token
	 * <|endoftext|> */
	{ CHAT_FAMILY_ZEPHYR,
	  "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there"
	  "<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n"
	  "<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n" },
	/* HuggingFaceH4/zephyr-7b-beta, TinyLlama/TinyLlama-1.1B-Chat-v1.0
	 * (eos_token </s>): identical */
	{ CHAT_FAMILY_ZEPHYR_BETA,
	  "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
	  "<|user|>\nWho are you</s>\n<|assistant|>\n   I am an assistant   </s>\n<|user|>\nAnother question</s>\n"
	  "<|assistant|>\n" },
	/* mlabonne/AlphaMonarch-7B: identical after the first BOS */
	{ CHAT_FAMILY_MONARCH,
	  "system\nYou are a helpful assistant</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>user\n"
	  "Who are you</s>\n<s>assistant\n   I am an assistant   </s>\n<s>user\nAnother question</s>\n<s>assistant\n" },
	/* google/gemma-7b-it, gemma-2-2b-it: identical without the system
	 * message, which the published template refuses and llama.cpp merges */
	{ CHAT_FAMILY_GEMMA,
	  "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there"
	  "<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant"
	  "<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n" },
	/* OrionStarAI/Orion-14B-Chat (system merged into the first user turn) */
	{ CHAT_FAMILY_ORION,
	  "Human: You are a helpful assistant\n\nHello\n\nAssistant: </s>Hi there</s>Human: Who are you\n\n"
	  "Assistant: </s>   I am an assistant   </s>Human: Another question\n\nAssistant: </s>" },
	/* openchat/openchat-3.5-0106; the published template writes the system
	 * message as "GPT4 Correct System: ..." */
	{ CHAT_FAMILY_OPENCHAT,
	  "You are a helpful assistant<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant:"
	  " Hi there<|end_of_turn|>GPT4 Correct User: Who are you<|end_of_turn|>GPT4 Correct Assistant:    I am an"
	  " assistant   <|end_of_turn|>GPT4 Correct User: Another question<|end_of_turn|>GPT4 Correct Assistant:" },
	/* eachadea/vicuna-13b-1.1 (no published template; the Vicuna v1.1 format) */
	{ CHAT_FAMILY_VICUNA,
	  "You are a helpful assistant\n\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:"
	  "    I am an assistant   </s>\nUSER: Another question\nASSISTANT:" },
	{ CHAT_FAMILY_VICUNA_ORCA,
	  "SYSTEM: You are a helpful assistant\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:"
	  "    I am an assistant   </s>\nUSER: Another question\nASSISTANT:" },
	/* deepseek-ai/deepseek-coder-33b-instruct, deepseek-coder:1.3b GGUF: identical */
	{ CHAT_FAMILY_DEEPSEEK,
	  "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\n"
	  "Who are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n"
	  "### Response:\n" },
	/* deepseek-ai/DeepSeek-V2, DeepSeek-Coder-V2: identical */
	{ CHAT_FAMILY_DEEPSEEK2,
	  "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<｜end▁of▁sentence｜>User: Who are you\n\n"
	  "Assistant:    I am an assistant   <｜end▁of▁sentence｜>User: Another question\n\nAssistant:" },
	/* deepseek-ai/DeepSeek-V3, DeepSeek-R1; the published template writes
	 * the system text with no blank line after it (and R1's opens the reply
	 * with "<think>\n") */
	{ CHAT_FAMILY_DEEPSEEK3,
	  "You are a helpful assistant\n\n<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you"
	  "<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another question<｜Assistant｜>" },
	/* CohereForAI/c4ai-command-r-plus, command-r:35b GGUF: identical */
	{ CHAT_FAMILY_COMMAND_R,
	  "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|>"
	  "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"
	  "Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|>"
	  "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|>"
	  "<|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>" },
	/* meta-llama/Meta-Llama-3-8B-Instruct: identical (3.1+ add a
	 * "Cutting Knowledge Date" header to the system message) */
	{ CHAT_FAMILY_LLAMA3,
	  "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user"
	  "<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
	  "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant"
	  "<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question"
	  "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
	/* THUDM/chatglm3-6b */
	{ CHAT_FAMILY_CHATGLM3,
	  "[gMASK]sop<|system|>\n You are a helpful assistant<|user|>\n Hello<|assistant|>\n Hi there<|user|>\n"
	  " Who are you<|assistant|>\n    I am an assistant   <|user|>\n Another question<|assistant|>" },
	/* THUDM/glm-4-9b-chat */
	{ CHAT_FAMILY_CHATGLM4,
	  "[gMASK]<sop><|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\n"
	  "Who are you<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>" },
	/* THUDM/glm-edge */
	{ CHAT_FAMILY_GLMEDGE,
	  "<|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you"
	  "<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>" },
	/* MiniCPM-3B-OpenHermes-2.5-v2 */
	{ CHAT_FAMILY_MINICPM,
	  "You are a helpful assistant<用户>Hello<AI>Hi there<用户>Who are you<AI>I am an assistant<用户>"
	  "Another question<AI>" },
	/* LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct; the published template (and
	 * EXAONE 3.5's) does not trim the messages */
	{ CHAT_FAMILY_EXAONE3,
	  "[|system|]You are a helpful assistant[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n"
	  "[|user|]Who are you\n[|assistant|]I am an assistant[|endofturn|]\n[|user|]Another question\n"
	  "[|assistant|]" },
	/* RWKV World (a format, not a Jinja template; the model ends a turn
	 * with "\n\n") */
	{ CHAT_FAMILY_RWKV_WORLD,
	  "You are a helpful assistant\n\nUser: Hello\n\nAssistant:Hi there\n\nUser: Who are you\n\nAssistant:"
	  "   I am an assistant   \n\nUser: Another question\n\nAssistant:" },
	/* ibm-granite/granite-3.0-8b-instruct; the published generation prompt
	 * has no newline after <|end_of_role|> */
	{ CHAT_FAMILY_GRANITE,
	  "<|start_of_role|>system<|end_of_role|>You are a helpful assistant<|end_of_text|>\n<|start_of_role|>user"
	  "<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hi there<|end_of_text|>\n"
	  "<|start_of_role|>user<|end_of_role|>Who are you<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>"
	  "   I am an assistant   <|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Another question"
	  "<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>\n" },
	/* ai-sage/GigaChat-20B-A3B-instruct (bos_token <s>, its
	 * additional_special_tokens filled in) */
	{ CHAT_FAMILY_GIGACHAT,
	  "<s>You are a helpful assistant<|message_sep|>user<|role_sep|>Hello<|message_sep|>available functions"
	  "<|role_sep|>[]<|message_sep|>assistant<|role_sep|>Hi there<|message_sep|>user<|role_sep|>Who are you"
	  "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>   I am an assistant   "
	  "<|message_sep|>user<|role_sep|>Another question<|message_sep|>available functions<|role_sep|>[]"
	  "<|message_sep|>assistant<|role_sep|>" },
	/* Infinigence/Megrez-3B-Instruct: identical */
	{ CHAT_FAMILY_MEGREZ,
	  "<|role_start|>system<|role_end|>You are a helpful assistant<|turn_end|><|role_start|>user<|role_end|>Hello"
	  "<|turn_end|><|role_start|>assistant<|role_end|>Hi there<|turn_end|><|role_start|>user<|role_end|>"
	  "Who are you<|turn_end|><|role_start|>assistant<|role_end|>   I am an assistant   <|turn_end|>"
	  "<|role_start|>user<|role_end|>Another question<|turn_end|><|role_start|>assistant<|role_end|>" },
};

/* Renders msgs in family f; NULL on failure (reported). Caller frees. */
static char *render(enum chat_family f, const struct chat_msg *msgs, size_t n, bool gen)
{
	char *out = NULL;
	size_t len = 0;
	enum ajar_err err = chat_render(f, msgs, n, gen, &out, &len);
	CHECK_MSG(err == AJAR_OK, "%s: %s", chat_family_name(f), ajar_err_msg());
	if (err)
		return NULL;
	CHECK_EQ_INT(len, strlen(out));
	return out;
}

static void test_render_every_family(void)
{
	bool seen[CHAT_FAMILY_COUNT] = { false };

	for (size_t i = 0; i < ARRAY_LEN(rendered); i++) {
		char *out = render(rendered[i].family, conversation, ARRAY_LEN(conversation), true);
		if (out)
			CHECK_MSG(strcmp(out, rendered[i].expected) == 0, "%s:\n  got      \"%s\"\n  expected \"%s\"",
				  chat_family_name(rendered[i].family), out, rendered[i].expected);
		free(out);
		seen[rendered[i].family] = true;
	}
	for (int f = 0; f < CHAT_FAMILY_COUNT; f++)
		CHECK_MSG(seen[f], "family %s has no rendering test", chat_family_name((enum chat_family)f));
}

/* Without the generation prompt: the same text minus the opening of the
 * reply, for the families that have one; unchanged for those whose user turn
 * already ends with it. */
static void test_render_without_generation_prompt(void)
{
	static const struct {
		enum chat_family family;
		const char *gen; /* the suffix add_generation_prompt adds */
	} gens[] = {
		{ CHAT_FAMILY_CHATML, "<|im_start|>assistant\n" },
		{ CHAT_FAMILY_LLAMA3, "<|start_header_id|>assistant<|end_header_id|>\n\n" },
		{ CHAT_FAMILY_GEMMA, "<start_of_turn>model\n" },
		{ CHAT_FAMILY_PHI3, "<|assistant|>\n" },
		{ CHAT_FAMILY_DEEPSEEK3, "<｜Assistant｜>" },
		{ CHAT_FAMILY_COMMAND_R, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>" },
		{ CHAT_FAMILY_ZEPHYR_BETA, "<|assistant|>\n" },
		{ CHAT_FAMILY_MONARCH, "<s>assistant\n" },
		{ CHAT_FAMILY_LLAMA2_SYS, "" },
		{ CHAT_FAMILY_MISTRAL_V1, "" },
		{ CHAT_FAMILY_MISTRAL_V3, "" },
		{ CHAT_FAMILY_MISTRAL_V7, "" },
		{ CHAT_FAMILY_ORION, "" },
		{ CHAT_FAMILY_MINICPM, "" },
		{ CHAT_FAMILY_RWKV_WORLD, "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(gens); i++) {
		char *with = render(gens[i].family, conversation, ARRAY_LEN(conversation), true);
		char *without = render(gens[i].family, conversation, ARRAY_LEN(conversation), false);
		if (with && without) {
			size_t lw = strlen(with), lo = strlen(without), lg = strlen(gens[i].gen);
			CHECK_MSG(lw == lo + lg && memcmp(with, without, lo) == 0 && strcmp(with + lo, gens[i].gen) == 0,
				  "%s: \"%s\" vs \"%s\"", chat_family_name(gens[i].family), with, without);
		}
		free(with);
		free(without);
	}
}

/* A new chat (system + first user message) and a single user turn. */
static void test_render_short_conversations(void)
{
	static const struct chat_msg first[] = { { "system", "Be brief." }, { "user", "Hi" } };
	static const struct chat_msg user_only[] = { { "user", "  Hi  " } };
	static const struct {
		enum chat_family family;
		const struct chat_msg *msgs;
		size_t n;
		const char *expected;
	} cases[] = {
		{ CHAT_FAMILY_CHATML, first, 2,
		  "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" },
		{ CHAT_FAMILY_LLAMA3, first, 2,
		  "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
		  "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" },
		{ CHAT_FAMILY_GEMMA, first, 2,
		  "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n" },
		{ CHAT_FAMILY_LLAMA2_SYS, first, 2, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]" },
		{ CHAT_FAMILY_MISTRAL_V7, first, 2, "[SYSTEM_PROMPT] Be brief.[/SYSTEM_PROMPT][INST] Hi[/INST]" },
		{ CHAT_FAMILY_GEMMA, user_only, 1, "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n" },
		{ CHAT_FAMILY_CHATML, user_only, 1, "<|im_start|>user\n  Hi  <|im_end|>\n<|im_start|>assistant\n" },
		{ CHAT_FAMILY_GIGACHAT, user_only, 1,
		  "<s>user<|role_sep|>  Hi  <|message_sep|>available functions<|role_sep|>[]<|message_sep|>"
		  "assistant<|role_sep|>" },
		{ CHAT_FAMILY_LLAMA2_SYS_STRIP, user_only, 1, "[INST] Hi [/INST]" },
		/* no messages: just the generation prompt (or the fixed head) */
		{ CHAT_FAMILY_CHATML, NULL, 0, "<|im_start|>assistant\n" },
		{ CHAT_FAMILY_CHATGLM4, NULL, 0, "[gMASK]<sop><|assistant|>" },
		{ CHAT_FAMILY_MISTRAL_V3, NULL, 0, "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *out = render(cases[i].family, cases[i].msgs, cases[i].n, true);
		if (out)
			CHECK_MSG(strcmp(out, cases[i].expected) == 0, "case %zu (%s): \"%s\"", i,
				  chat_family_name(cases[i].family), out);
		free(out);
	}
}

static void test_render_errors(void)
{
	char *out = (char *)"untouched";
	size_t len = 7;
	const struct chat_msg tool[] = { { "user", "Hi" }, { "tool", "42" } };
	const struct chat_msg no_content[] = { { "user", NULL } };
	const struct chat_msg no_role[] = { { NULL, "Hi" } };
	const struct chat_msg upper[] = { { "User", "Hi" } };
	const struct chat_msg ok[] = { { "user", "Hi" } };

	for (int f = 0; f < CHAT_FAMILY_COUNT; f++) {
		CHECK_EQ_INT(chat_render((enum chat_family)f, tool, 2, true, &out, &len), AJAR_ERR_INVALID);
		CHECK_EQ_INT(chat_render((enum chat_family)f, no_content, 1, true, &out, &len), AJAR_ERR_INVALID);
		CHECK_EQ_INT(chat_render((enum chat_family)f, no_role, 1, true, &out, &len), AJAR_ERR_INVALID);
		CHECK_EQ_INT(chat_render((enum chat_family)f, upper, 1, true, &out, &len), AJAR_ERR_INVALID);
	}
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_CHATML, tool, 2, true, &out, &len), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "unknown role 'tool'") != NULL);
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_CHATML, no_content, 1, true, &out, &len), AJAR_ERR_INVALID);
	CHECK(strstr(ajar_err_msg(), "no content") != NULL);
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_COUNT, ok, 1, true, &out, &len), AJAR_ERR_INVALID);
	CHECK_EQ_INT(chat_render((enum chat_family)-1, ok, 1, true, &out, &len), AJAR_ERR_INVALID);
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_CHATML, NULL, 1, true, &out, &len), AJAR_ERR_INVALID);
	/* nothing was written on failure */
	CHECK_STR(out, "untouched");
	CHECK_EQ_INT(len, 7);
}

/* The rendered prompt is capped at CHAT_RENDER_MAX, like the tokenizer's
 * input; exactly at the cap is allowed. */
static void test_render_limit(void)
{
	size_t overhead = strlen("<|im_start|>user\n<|im_end|>\n");
	char *big = malloc(CHAT_RENDER_MAX + 1);
	char *out = NULL;
	size_t len = 0;

	if (!big)
		return;
	memset(big, 'a', CHAT_RENDER_MAX);
	big[CHAT_RENDER_MAX - overhead] = '\0';
	struct chat_msg m = { "user", big };
	CHECK_OK(chat_render(CHAT_FAMILY_CHATML, &m, 1, false, &out, &len));
	CHECK_EQ_INT(len, CHAT_RENDER_MAX);
	free(out);
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_CHATML, &m, 1, true, &out, &len), AJAR_ERR_LIMIT);
	big[CHAT_RENDER_MAX - overhead] = 'a';
	big[CHAT_RENDER_MAX] = '\0';
	CHECK_EQ_INT(chat_render(CHAT_FAMILY_LLAMA3, &m, 1, true, &out, &len), AJAR_ERR_LIMIT);
	free(big);
}

/* ---- stop strings ---------------------------------------------------- */

static void test_stop_strings(void)
{
	static const struct {
		enum chat_family family;
		const char *stop;
	} expected[] = {
		{ CHAT_FAMILY_CHATML, "<|im_end|>" },   { CHAT_FAMILY_LLAMA3, "<|eot_id|>" },
		{ CHAT_FAMILY_LLAMA2, "</s>" },         { CHAT_FAMILY_MISTRAL_V7, "</s>" },
		{ CHAT_FAMILY_ZEPHYR_BETA, "</s>" },    { CHAT_FAMILY_GEMMA, "<end_of_turn>" },
		{ CHAT_FAMILY_PHI3, "<|end|>" },        { CHAT_FAMILY_COMMAND_R, "<|END_OF_TURN_TOKEN|>" },
		{ CHAT_FAMILY_DEEPSEEK, "<|EOT|>" },    { CHAT_FAMILY_DEEPSEEK3, "<｜end▁of▁sentence｜>" },
		{ CHAT_FAMILY_ZEPHYR, "<|endoftext|>" }, { CHAT_FAMILY_PHI4, "<|im_end|>" },
	};
	for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
		size_t n;
		const char *const *stops = chat_stop_strings(expected[i].family, &n);
		bool found = false;
		for (size_t k = 0; k < n; k++)
			found = found || strcmp(stops[k], expected[i].stop) == 0;
		CHECK_MSG(found, "%s lacks the stop string %s", chat_family_name(expected[i].family), expected[i].stop);
	}

	/* In every family, text after a reply starts the end of the turn with one
	 * of the stop strings, so generation that writes the marker as text ends
	 * exactly where the reply does. */
	static const struct chat_msg turn[] = { { "user", "Q1" }, { "assistant", "REPLY" }, { "user", "Q2" } };
	for (int f = 0; f < CHAT_FAMILY_COUNT; f++) {
		size_t n;
		const char *const *stops = chat_stop_strings((enum chat_family)f, &n);
		CHECK_MSG(n >= 1 && stops, "%s has no stop strings", chat_family_name((enum chat_family)f));
		char *out = render((enum chat_family)f, turn, 3, true);
		if (!out || !stops)
			continue;
		const char *after = strstr(out, "REPLY");
		bool stopped = false;
		for (size_t k = 0; after && k < n; k++)
			stopped = stopped || strncmp(after + 5, stops[k], strlen(stops[k])) == 0 ||
				  (stops[k][0] != '\n' && strncmp(after + 5, "\n", 1) == 0 &&
				   strncmp(after + 6, stops[k], strlen(stops[k])) == 0);
		CHECK_MSG(stopped, "%s: no stop string right after the reply in \"%s\"",
			  chat_family_name((enum chat_family)f), out);
		free(out);
	}
	size_t n = 99;
	CHECK(chat_stop_strings(CHAT_FAMILY_COUNT, &n) == NULL);
	CHECK_EQ_INT(n, 0);
}

/* ---- detection ------------------------------------------------------- */

static const struct {
	const char *source; /* where the template comes from */
	const char *jinja;
	enum chat_family expected;
} real_templates[] = {
	{ "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF)",
	  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
	  "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>'"
	  " + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt"
	  " %}{{ '<|im_start|>assistant\n' }}{% endif %}",
	  CHAT_FAMILY_CHATML },
	{ "Qwen/Qwen2.5-7B-Instruct (excerpt)",
	  "{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]"
	  "['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by "
	  "Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}",
	  CHAT_FAMILY_CHATML },
	{ "microsoft/phi-4",
	  "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + "
	  "message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + "
	  "message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{% elif (message['role'] == 'assistant') "
	  "%}{{message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}",
	  CHAT_FAMILY_PHI4 },
	{ "mistralai/Mistral-7B-Instruct-v0.2 (old)",
	  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
	  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
	  "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
	  "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
	  "are supported!') }}{% endif %}{% endfor %}",
	  CHAT_FAMILY_LLAMA2 },
	{ "TheBloke/FusionNet_34Bx2_MoE-AWQ",
	  "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}"
	  "\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]"
	  "['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] "
	  "<<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == "
	  "'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
	  CHAT_FAMILY_LLAMA2_SYS_BOS },
	{ "meta-llama/Llama-2-7b-chat-hf",
	  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
	  "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
	  "%}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
	  "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
	  "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
	  "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
	  "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
	  "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
	  CHAT_FAMILY_LLAMA2_SYS_STRIP },
	{ "mistralai/Mixtral-8x7B-Instruct-v0.1 (GGUF, excerpt)",
	  "    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n"
	  "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
	  "        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n"
	  "    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n",
	  CHAT_FAMILY_MISTRAL_V1 },
	{ "mistralai/Mistral-Large-Instruct-2407 (excerpt)",
	  "        {%- if tools is not none and (message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS] "
	  "[\" }}\n            {%- for tool in tools %}\n"
	  "        {%- if loop.last and system_message is defined %}\n            {{- \"[INST] \" + system_message + "
	  "\"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST] \" + "
	  "message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n",
	  CHAT_FAMILY_MISTRAL_V3 },
	{ "mistralai/Mistral-Nemo-Instruct-2407 (excerpt)",
	  "            {{- \"[AVAILABLE_TOOLS][\" }}\n"
	  "        {%- if loop.last and system_message is defined %}\n            {{- \"[INST]\" + system_message + "
	  "\"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST]\" + "
	  "message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n",
	  CHAT_FAMILY_MISTRAL_V3_TEKKEN },
	{ "mistralai/Mistral-Large-Instruct-2411",
	  "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content']"
	  " + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + "
	  "'[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% "
	  "else %}{{ raise_exception('Only user, system and assistant roles are supported!') }}{% endif %}{% endfor %}",
	  CHAT_FAMILY_MISTRAL_V7 },
	{ "microsoft/Phi-3.5-mini-instruct",
	  "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + "
	  "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + "
	  "'<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + "
	  "'<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ "
	  "eos_token }}{% endif %}",
	  CHAT_FAMILY_PHI3 },
	{ "TinyLlama/TinyLlama-1.1B-Chat-v1.0 (GGUF), HuggingFaceH4/zephyr-7b-beta",
	  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
	  "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
	  "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
	  "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
	  CHAT_FAMILY_ZEPHYR_BETA },
	{ "mlabonne/AlphaMonarch-7B",
	  "{% for message in messages %}{{bos_token + message['role'] + '\\n' + message['content'] + eos_token + '\\n'}}"
	  "{% endfor %}{% if add_generation_prompt %}{{ bos_token + 'assistant\\n' }}{% endif %}",
	  CHAT_FAMILY_MONARCH },
	{ "google/gemma-2-2b-it",
	  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% "
	  "endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
	  "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
	  "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif "
	  "%}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if "
	  "add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
	  CHAT_FAMILY_GEMMA },
	{ "OrionStarAI/Orion-14B-Chat",
	  "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if message['role'] == 'user' %}{{ "
	  "'Human: ' + message['content'] + '\\n\\nAssistant: ' + eos_token }}{% elif message['role'] == 'assistant' %}"
	  "{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
	  CHAT_FAMILY_ORION },
	{ "openchat/openchat-3.5-0106",
	  "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + ': ' + "
	  "message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct "
	  "Assistant:' }}{% endif %}",
	  CHAT_FAMILY_OPENCHAT },
	{ "Vicuna v1.1 (as llama.cpp's tests write it)",
	  "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] + '\n\n' -}}"
	  "{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}"
	  "{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if "
	  "add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}",
	  CHAT_FAMILY_VICUNA },
	{ "Orca-Vicuna (as llama.cpp's tests write it)",
	  "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{-'SYSTEM: ' + message['content'] + '\n' "
	  "-}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}"
	  "{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if "
	  "add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}",
	  CHAT_FAMILY_VICUNA_ORCA },
	{ "deepseek-ai/deepseek-coder-1.3b-instruct (GGUF, excerpt)",
	  "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- "
	  "else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n"
	  "        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n"
	  "    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
	  CHAT_FAMILY_DEEPSEEK },
	{ "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct (GGUF)",
	  "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}"
	  "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% "
	  "elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif "
	  "message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if "
	  "add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
	  CHAT_FAMILY_DEEPSEEK2 },
	{ "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B (excerpt)",
	  "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set "
	  "ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
	  "{% set content = message['content'] %}{% if '</think>' in content %}{% set content = "
	  "content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}",
	  CHAT_FAMILY_DEEPSEEK3 },
	{ "CohereForAI/c4ai-command-r-v01 (GGUF, excerpt)",
	  "{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + "
	  "'<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% set content = message['content'] "
	  "%}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + "
	  "'<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ "
	  "'<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% "
	  "endfor %}",
	  CHAT_FAMILY_COMMAND_R },
	{ "meta-llama/Meta-Llama-3-8B-Instruct",
	  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
	  "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
	  "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
	  "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
	  CHAT_FAMILY_LLAMA3 },
	{ "meta-llama/Llama-3.1-8B-Instruct (excerpt)",
	  "{#- System message #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if tools is not none "
	  "%}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
	  "        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
	  "'<|eot_id|>' }}\n",
	  CHAT_FAMILY_LLAMA3 },
	{ "THUDM/chatglm3-6b",
	  "{% for message in messages %}{% if loop.first %}[gMASK]sop<|{{ message['role'] }}|>\n {{ message['content'] "
	  "}}{% else %}<|{{ message['role'] }}|>\n {{ message['content'] }}{% endif %}{% endfor %}{% if "
	  "add_generation_prompt %}<|assistant|>{% endif %}",
	  CHAT_FAMILY_CHATGLM3 },
	{ "THUDM/glm-4-9b-chat (GGUF, excerpt)",
	  "[gMASK]<sop>{% for item in messages %}{% if item['tools'] is defined %}<|system|>\n",
	  CHAT_FAMILY_CHATGLM4 },
	{ "THUDM/glm-edge",
	  "{% for item in messages %}{% if item['role'] == 'system' %}<|system|>\n{{ item['content'] }}{% elif "
	  "item['role'] == 'user' %}<|user|>\n{{ item['content'] }}{% elif item['role'] == 'assistant' %}<|assistant|>\n"
	  "{{ item['content'] }}{% endif %}{% endfor %}<|assistant|>",
	  CHAT_FAMILY_GLMEDGE },
	{ "MiniCPM-3B-OpenHermes-2.5-v2",
	  "{% for message in messages %}{% if message['role'] == 'user' %}{{'<用户>' + message['content'].strip() + "
	  "'<AI>'}}{% else %}{{message['content'].strip()}}{% endif %}{% endfor %}",
	  CHAT_FAMILY_MINICPM },
	{ "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct (GGUF)",
	  "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\n'"
	  " }}{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}{% if message['role'] == 'user' %}{{ '\n'"
	  " }}{% else %}{{ '[|endofturn|]\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '[|assistant|]' }}"
	  "{% endif %}",
	  CHAT_FAMILY_EXAONE3 },
	{ "RWKV World (convert_hf_to_gguf.py writes the name)", "rwkv-world", CHAT_FAMILY_RWKV_WORLD },
	{ "ibm-granite/granite-3.0-8b-instruct (excerpt)",
	  "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n    {{- "
	  "'<|start_of_role|>system<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}\n",
	  CHAT_FAMILY_GRANITE },
	{ "ai-sage/GigaChat-20B-A3B-instruct (excerpt)",
	  "    {%- if message['role'] == 'user' -%}\n        {{ message['role'] + additional_special_tokens[0] + "
	  "message['content'] + additional_special_tokens[1] -}}\n",
	  CHAT_FAMILY_GIGACHAT },
	{ "Infinigence/Megrez-3B-Instruct",
	  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
	  "'<|role_start|>system<|role_end|>你是Megrez-3B-Instruct，将针对用户的问题给出详细的、积极的回答。<|turn_end|>' }}{% "
	  "endif %}{{ '<|role_start|>' + message['role'] + '<|role_end|>' + message['content'] + '<|turn_end|>' }}{% "
	  "endfor %}{% if add_generation_prompt %}{{ '<|role_start|>assistant<|role_end|>' }}{% endif %}",
	  CHAT_FAMILY_MEGREZ },
};

static void test_detect_real_templates(void)
{
	for (size_t i = 0; i < ARRAY_LEN(real_templates); i++) {
		enum chat_family f = CHAT_FAMILY_COUNT;
		enum ajar_err err = chat_template_detect(real_templates[i].jinja, strlen(real_templates[i].jinja), &f);
		CHECK_MSG(err == AJAR_OK && f == real_templates[i].expected, "%s: got %s (%d), expected %s",
			  real_templates[i].source, chat_family_name(f), (int)err,
			  chat_family_name(real_templates[i].expected));
	}
}

/* The length is what counts: a template need not be NUL-terminated, and a
 * marker past len is not seen. */
static void test_detect_uses_length(void)
{
	const char *t = "<|start_header_id|>user<|end_header_id|> and later <|im_start|>";
	enum chat_family f;
	CHECK_OK(chat_template_detect(t, strlen(t), &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_CHATML);
	CHECK_OK(chat_template_detect(t, strlen("<|start_header_id|>user<|end_header_id|>"), &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_LLAMA3);
	CHECK_OK(chat_template_detect("gemmaXYZ", 5, &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_GEMMA);
}

static void test_detect_names_and_fallback(void)
{
	enum chat_family f;

	/* every name detects as itself, as llama.cpp accepts names */
	for (int i = 0; i < CHAT_FAMILY_COUNT; i++) {
		const char *name = chat_family_name((enum chat_family)i);
		CHECK_OK(chat_template_detect(name, strlen(name), &f));
		CHECK_EQ_INT(f, i);
	}
	/* llama.cpp's "mistral" prefix rule: the old Mistral format (llama2) */
	CHECK_OK(chat_template_detect("mistral", 7, &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_LLAMA2);

	f = CHAT_FAMILY_GEMMA;
	CHECK_EQ_INT(chat_template_detect(NULL, 0, &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(f, CHAT_FAMILY_CHATML);
	CHECK(strstr(ajar_err_msg(), "no chat template; using chatml") != NULL);
	f = CHAT_FAMILY_GEMMA;
	CHECK_EQ_INT(chat_template_detect("", 0, &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(f, CHAT_FAMILY_FALLBACK);

	const char *odd = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}";
	f = CHAT_FAMILY_GEMMA;
	CHECK_EQ_INT(chat_template_detect(odd, strlen(odd), &f), AJAR_ERR_UNSUPPORTED);
	CHECK_EQ_INT(f, CHAT_FAMILY_CHATML);
	CHECK_STR(ajar_err_msg(), "unknown chat template; using chatml");
}

static void test_family_names(void)
{
	enum chat_family f;

	for (int i = 0; i < CHAT_FAMILY_COUNT; i++) {
		const char *name = chat_family_name((enum chat_family)i);
		CHECK(strcmp(name, "unknown") != 0);
		CHECK_OK(chat_family_from_name(name, &f));
		CHECK_EQ_INT(f, i);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(name, chat_family_name((enum chat_family)j)) != 0);
	}
	CHECK_OK(chat_family_from_name("chatml", &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_CHATML);
	CHECK_OK(chat_family_from_name("llama3", &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_LLAMA3);
	CHECK_OK(chat_family_from_name("mistral-v3-tekken", &f));
	CHECK_EQ_INT(f, CHAT_FAMILY_MISTRAL_V3_TEKKEN);
	f = CHAT_FAMILY_GEMMA;
	CHECK_EQ_INT(chat_family_from_name("ChatML", &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(chat_family_from_name("llama", &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(chat_family_from_name("", &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(chat_family_from_name(NULL, &f), AJAR_ERR_NOT_FOUND);
	CHECK_EQ_INT(f, CHAT_FAMILY_GEMMA);
	CHECK_EQ_INT(chat_family_from_name("bogus", &f), AJAR_ERR_NOT_FOUND);
	CHECK(strstr(ajar_err_msg(), "'bogus'") != NULL);
	CHECK(strstr(ajar_err_msg(), "chatml") != NULL && strstr(ajar_err_msg(), "megrez") != NULL);
	CHECK_STR(chat_family_name(CHAT_FAMILY_COUNT), "unknown");
	CHECK_STR(chat_family_name((enum chat_family)-1), "unknown");
}

/* ---- models ---------------------------------------------------------- */

static void test_model_templates(void)
{
	static const struct {
		const char *path;
		enum ajar_err err;
		enum chat_family family;
	} models[] = {
		{ "vocab/ggml-vocab-phi-3.gguf", AJAR_OK, CHAT_FAMILY_PHI3 },
		{ "vocab/ggml-vocab-qwen2.gguf", AJAR_OK, CHAT_FAMILY_CHATML },
		{ "models/stories260K.gguf", AJAR_ERR_NOT_FOUND, CHAT_FAMILY_CHATML },
		{ "vocab/ggml-vocab-llama-spm.gguf", AJAR_ERR_NOT_FOUND, CHAT_FAMILY_CHATML },
	};
	for (size_t i = 0; i < ARRAY_LEN(models); i++) {
		struct gguf_file *g = NULL;
		enum chat_family f = CHAT_FAMILY_COUNT;
		CHECK_OK(gguf_open(fixture_path(models[i].path), &g));
		if (!g)
			continue;
		CHECK_EQ_INT(chat_template_for_model(g, NULL, &f), models[i].err);
		CHECK_MSG(f == models[i].family, "%s: %s", models[i].path, chat_family_name(f));
		/* an override wins; an unknown name is a usage error */
		CHECK_OK(chat_template_for_model(g, "gemma", &f));
		CHECK_EQ_INT(f, CHAT_FAMILY_GEMMA);
		CHECK_EQ_INT(chat_template_for_model(g, "no-such-template", &f), AJAR_ERR_INVALID);
		CHECK_EQ_INT(f, CHAT_FAMILY_GEMMA);
		CHECK(strstr(ajar_err_msg(), "no-such-template") != NULL);
		gguf_close(g);
	}
}

/* Writes a vocab-only GGUF with the given chat template and EOS text. */
static bool write_zephyr_vocab(const char *path, const char *jinja, const char *eos_text)
{
	struct gguf_writer *w = NULL;
	struct gguf_str tokens[3] = { { "<unk>", 5 }, { "<s>", 3 }, { eos_text, strlen(eos_text) } };
	bool ok = gguf_writer_new(&w) == AJAR_OK && gguf_writer_set_str(w, "general.architecture", "llama") == AJAR_OK &&
		  gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 3) == AJAR_OK &&
		  gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) == AJAR_OK &&
		  gguf_writer_set_str(w, "tokenizer.chat_template", jinja) == AJAR_OK &&
		  gguf_writer_write(w, path) == AJAR_OK;
	gguf_writer_free(w);
	return ok;
}

/* The zephyr template spells the message end eos_token: the model's EOS
 * text decides between </s> (zephyr-beta) and <|endoftext|> (zephyr). */
static void test_model_zephyr_eos(void)
{
	const char *jinja = NULL;
	char path[] = "/tmp/ajar-chat-zephyr-XXXXXX";
	int fd = mkstemp(path);
	static const struct {
		const char *eos;
		enum chat_family family;
	} cases[] = { { "</s>", CHAT_FAMILY_ZEPHYR_BETA },
		      { "<|endoftext|>", CHAT_FAMILY_ZEPHYR },
		      { "<eos>", CHAT_FAMILY_ZEPHYR_BETA } };

	for (size_t i = 0; i < ARRAY_LEN(real_templates) && !jinja; i++)
		if (real_templates[i].expected == CHAT_FAMILY_ZEPHYR_BETA)
			jinja = real_templates[i].jinja; /* TinyLlama's */
	CHECK(jinja != NULL);
	if (fd < 0 || !jinja)
		return;
	close(fd);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct gguf_file *g = NULL;
		enum chat_family f = CHAT_FAMILY_COUNT;
		CHECK(write_zephyr_vocab(path, jinja, cases[i].eos));
		CHECK_OK(gguf_open(path, &g));
		if (!g)
			continue;
		CHECK_OK(chat_template_for_model(g, NULL, &f));
		CHECK_MSG(f == cases[i].family, "eos %s: %s", cases[i].eos, chat_family_name(f));
		gguf_close(g);
	}
	unlink(path);
}

/* Rendered with parse_special, the template's markers become the model's
 * control tokens; as plain text they would not. */
static void test_tokenize_rendered_phi3(void)
{
	struct gguf_file *g = NULL;
	struct ajar_vocab *v = NULL;
	char *text = NULL;
	size_t len = 0;
	int32_t *ids = NULL;
	size_t n = 0;
	/* <|system|> <|end|> <|user|> <|assistant|> in Phi-3's vocabulary */
	static const int32_t markers[] = { 32006, 32007, 32010, 32001 };

	CHECK_OK(gguf_open(fixture_path("vocab/ggml-vocab-phi-3.gguf"), &g));
	if (!g)
		return;
	CHECK_OK(vocab_load(g, &v));
	gguf_close(g);
	if (!v)
		return;
	CHECK_OK(chat_render(CHAT_FAMILY_PHI3, conversation, ARRAY_LEN(conversation), true, &text, &len));
	for (int parse_special = 1; parse_special >= 0 && text; parse_special--) {
		CHECK_OK(vocab_tokenize(v, text, len, true, parse_special, &ids, &n));
		for (size_t k = 0; k < ARRAY_LEN(markers); k++) {
			bool found = false;
			for (size_t j = 0; j < n; j++)
				found = found || ids[j] == markers[k];
			CHECK_MSG(found == (parse_special != 0), "marker %d %s with parse_special=%d", markers[k],
				  found ? "present" : "absent", parse_special);
			CHECK_EQ_INT(vocab_token_type(v, markers[k]), AJAR_TOKEN_CONTROL);
		}
		CHECK(n > 0 && ids[0] == vocab_bos(v));
		free(ids);
		ids = NULL;
	}
	free(text);
	vocab_free(v);
}

/* ---- `ajar chat` ----------------------------------------------------- */

static int count_char(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

static void test_cli_chat(void)
{
	if (!getenv("AJAR_BIN")) {
		printf("skip test_cli_chat: AJAR_BIN is not set\n");
		return;
	}
	const char *model = fixture_path("models/stories260K.gguf");
	char model_arg[4096];
	snprintf(model_arg, sizeof(model_arg), "%s", model);

	/* --help: exit 0, the options and the template names */
	const char *help[] = { "chat", "--help", NULL };
	struct run_result r = ajar_spawn(help, "", 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "--chat-template") && strstr(r.out, "--system") && strstr(r.out, "zephyr-beta"));
	free(r.out);

	/* piped: one reply per line, no "> " prompt; no template in the model
	 * gives one warning line naming the chatml fallback */
	const char *one[] = { "chat", "-m", model_arg, "-n", "12", "--temp", "0", NULL };
	r = ajar_spawn(one, "Hi\n", 0);
	CHECK_MSG(r.status == 0, "status %d, stderr: %s", r.status, r.err);
	CHECK(strlen(r.out) > 1 && r.out[strlen(r.out) - 1] == '\n');
	CHECK(strncmp(r.out, "> ", 2) != 0);
	CHECK_MSG(strstr(r.err, "warning") && strstr(r.err, "using chatml") && count_char(r.err, '\n') == 1,
		  "stderr: %s", r.err);
	char *first = r.out;

	/* greedy is deterministic, and reusing the KV cache across turns gives
	 * the same replies as decoding every turn from scratch */
	const char *input = "Once upon a time\nThe cat sat\n/reset\nA dog \\\nran\n\nThen\n/exit\nnot read\n";
	const char *reuse[] = { "chat", "-m", model_arg, "-n", "16", "--temp", "0", "--system", "Tell a story.", NULL };
	const char *fresh[] = { "chat", "-m", model_arg, "-n", "16", "--temp", "0", "--system", "Tell a story.",
				"--no-prefix-reuse", NULL };
	struct run_result a = ajar_spawn(reuse, input, 0), b = ajar_spawn(fresh, input, 0);
	CHECK_MSG(a.status == 0 && b.status == 0, "status %d %d, stderr: %s", a.status, b.status, a.err);
	CHECK_MSG(strcmp(a.out, b.out) == 0, "with reuse:\n%s\nwithout:\n%s", a.out, b.out);
	/* four messages answered (the empty line is skipped, "/exit" ends) */
	CHECK_MSG(count_char(a.out, '\n') >= 4, "output: %s", a.out);
	free(a.out);
	free(b.out);
	r = ajar_spawn(one, "Hi\n", 0);
	CHECK_STR(r.out, first);
	free(r.out);
	free(first);

	/* end of input at once: nothing to answer */
	r = ajar_spawn(one, "", 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "");
	free(r.out);

	/* a template name: accepted, or one line and exit 2 */
	const char *named[] = { "chat", "-m", model_arg, "-n", "4", "--temp", "0", "--chat-template", "llama3", NULL };
	r = ajar_spawn(named, "Hi\n", 0);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.err, "warning") == NULL);
	free(r.out);
	const char *bad_name[] = { "chat", "-m", model_arg, "--chat-template", "nope", NULL };
	r = ajar_spawn(bad_name, "Hi\n", 0);
	CHECK_EQ_INT(r.status, 2);
	CHECK_MSG(count_char(r.err, '\n') == 1 && strstr(r.err, "nope"), "stderr: %s", r.err);
	free(r.out);

	/* usage errors and a missing model: one line each */
	const char *no_model[] = { "chat", NULL };
	const char *bad_opt[] = { "chat", "-m", model_arg, "--bogus", NULL };
	const char *bad_temp[] = { "chat", "-m", model_arg, "--temp", "hot", NULL };
	const char *missing[] = { "chat", "-m", "/nonexistent/model.gguf", NULL };
	const struct {
		const char *const *args;
		int status;
	} errs[] = { { no_model, 2 }, { bad_opt, 2 }, { bad_temp, 2 }, { missing, 1 } };
	for (size_t i = 0; i < ARRAY_LEN(errs); i++) {
		r = ajar_spawn(errs[i].args, "Hi\n", 0);
		CHECK_MSG(r.status == errs[i].status && count_char(r.err, '\n') == 1, "case %zu: status %d, stderr: %s",
			  i, r.status, r.err);
		free(r.out);
	}

	/* a message larger than the context: one error line for that turn,
	 * exit 1, and the chat goes on to the next message */
	char *huge = malloc(20000);
	if (huge) {
		size_t k = 0;
		while (k < 6000) {
			memcpy(huge + k, "long ", 5);
			k += 5;
		}
		memcpy(huge + k, "\nHi\n", 5);
		const char *small_ctx[] = { "chat", "-m", model_arg, "-n", "4", "--temp", "0", NULL };
		r = ajar_spawn(small_ctx, huge, 0);
		CHECK_EQ_INT(r.status, 1);
		CHECK_MSG(strstr(r.err, "raise --ctx") != NULL, "stderr: %s", r.err);
		CHECK_MSG(count_char(r.out, '\n') == 1, "stdout: %s", r.out);
		free(r.out);
		free(huge);
	}
}

int main(void)
{
	RUN(test_render_every_family);
	RUN(test_render_without_generation_prompt);
	RUN(test_render_short_conversations);
	RUN(test_render_errors);
	RUN(test_render_limit);
	RUN(test_stop_strings);
	RUN(test_detect_real_templates);
	RUN(test_detect_uses_length);
	RUN(test_detect_names_and_fallback);
	RUN(test_family_names);
	RUN(test_model_templates);
	RUN(test_model_zephyr_eos);
	RUN(test_tokenize_rendered_phi3);
	RUN(test_cli_chat);
	return check_summary();
}
