// Chat templates: turn an OpenAI-style message list into the prompt text a chat model was trained
// on, for the common families (Mistral/Mixtral [INST], Llama-2 <<SYS>>, ChatML, Llama-3). The
// output matches llama.cpp's built-in renderer (llm_chat_apply_template in llama-chat.cpp)
// byte for byte, and DetectChatTemplate() recognises a GGUF `tokenizer.chat_template` Jinja string
// by the same distinctive substrings as llama.cpp's llm_chat_detect_template. No Jinja is run.
//
// BOS: the rendered text never starts with the BOS token text (<s>, <|begin_of_text|>). The
// caller tokenizes it with add_bos = tokenizer.add_bos_default(), which supplies it, and with
// parse_special = true, so that control texts inside it ([INST] where it is a control token,
// </s>, <|im_start|>, <|eot_id|> ...) become their tokens. Texts after the first turn (</s>, and
// <s> in kLlama2SysBos) are part of the rendering, as in llama.cpp.
// Control texts typed by a user inside message content must not become control tokens (llama.cpp's
// server lets them, so a user can forge turns): RenderChatTemplate() reports where the contents
// lie, and Tokenizer::Encode(..., literal = content_spans) keeps them plain text.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer.h"

namespace parapet::engine {

enum class ChatTemplate {
  // Mistral/Mixtral-Instruct v0.1/v0.2 original template: [INST] turns, a system message folded
  // into the first one as "<system>\n" (llama.cpp's "llama2"). Needs alternating turns.
  kMistral,
  // Mistral's official tokenizer versions (llama.cpp's "mistral-v1" ... "mistral-v7-tekken").
  // v1 is Mixtral-8x7B-Instruct's current template. v1/v3 need alternating turns; v7 does not.
  kMistralV1,
  kMistralV3,
  kMistralV3Tekken,
  kMistralV7,
  kMistralV7Tekken,
  // Llama-2-chat: [INST] turns with the system message in <<SYS>> ... <</SYS>> (llama.cpp's
  // "llama2-sys"), plus the variants that put <s> before later turns and that strip contents.
  // Meta's own Llama-2-chat template is detected as kLlama2SysStrip. Need alternating turns.
  kLlama2,
  kLlama2SysBos,
  kLlama2SysStrip,
  // <|im_start|>role\ncontent<|im_end|>\n (Qwen, OpenHermes, Yi, ...). Any order of roles.
  kChatMl,
  // <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> (Llama-3/3.1/3.2/3.3-Instruct).
  kLlama3,
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The template a `tokenizer.chat_template` Jinja source renders like, or nullopt if it is not one
// of the above (including the families llama.cpp knows but Parapet does not render).
std::optional<ChatTemplate> DetectChatTemplate(std::string_view jinja);

// By name: "mistral", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
// "mistral-v7-tekken", "llama2" (alias "llama2-sys"), "llama2-sys-bos", "llama2-sys-strip",
// "chatml", "llama3". nullopt for anything else.
std::optional<ChatTemplate> ChatTemplateFromName(std::string_view name);

// The canonical name, as accepted by ChatTemplateFromName().
const char* ChatTemplateName(ChatTemplate tmpl);

// Renders `messages`. `add_assistant_prefix` appends the opener of the assistant's turn where the
// template has one (ChatML, Llama-3); the [INST] templates end a user turn with [/INST], which is
// already the cue, so for them it changes nothing. Contents are inserted verbatim except where
// llama.cpp trims them (Llama-3: all; kMistralV3: assistant; kLlama2SysStrip: all).
// Fails with InvalidArgument for an empty list, a role other than system/user/assistant, and, for
// templates that need alternating turns, anything but an optional leading system message followed
// by user, assistant, user, ... (at least one user message).
Result<std::string> ApplyChatTemplate(ChatTemplate tmpl, std::span<const ChatMessage> messages,
                                      bool add_assistant_prefix);

// The same rendering, plus where each message's content landed in the text (sorted, disjoint), to
// be passed as Tokenizer::Encode's `literal` spans.
struct RenderedChat {
  std::string text;
  std::vector<TextSpan> content_spans;
};
Result<RenderedChat> RenderChatTemplate(ChatTemplate tmpl, std::span<const ChatMessage> messages,
                                        bool add_assistant_prefix);

// The template to use for a model: `name` when not empty (InvalidArgument if unknown), else the
// one detected from the model's Jinja `tokenizer.chat_template` (nullopt = the model has none;
// InvalidArgument when it has none or one Parapet does not recognise). Errors say how to name one.
Result<ChatTemplate> ResolveChatTemplate(std::optional<std::string_view> model_jinja,
                                         std::string_view name);

// Renders `messages` with the assistant prefix and tokenizes the result (BOS as the tokenizer
// defaults): control tokens come only from the template, never from message contents.
Result<std::vector<TokenId>> EncodeChat(const Tokenizer& tokenizer, ChatTemplate tmpl,
                                        std::span<const ChatMessage> messages);

}  // namespace parapet::engine
