// Chat template detection and rendering. The strings and the detection order follow llama.cpp's
// llama-chat.cpp so that a GGUF file gets the same prompt here as under llama.cpp.
#include "engine/chat_template.h"

#include <array>
#include <utility>

namespace parapet::engine {
namespace {

constexpr std::array<std::pair<const char*, ChatTemplate>, 11> kNames = {{
    {"mistral", ChatTemplate::kMistral},
    {"mistral-v1", ChatTemplate::kMistralV1},
    {"mistral-v3", ChatTemplate::kMistralV3},
    {"mistral-v3-tekken", ChatTemplate::kMistralV3Tekken},
    {"mistral-v7", ChatTemplate::kMistralV7},
    {"mistral-v7-tekken", ChatTemplate::kMistralV7Tekken},
    {"llama2", ChatTemplate::kLlama2},
    {"llama2-sys-bos", ChatTemplate::kLlama2SysBos},
    {"llama2-sys-strip", ChatTemplate::kLlama2SysStrip},
    {"chatml", ChatTemplate::kChatMl},
    {"llama3", ChatTemplate::kLlama3},
}};

// Whitespace as C's isspace() in the "C" locale, which is what llama.cpp trims.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// ---- detection ----

// The [INST] family, once the template is known to use [INST] (llama.cpp's order of checks).
ChatTemplate DetectInstFamily(std::string_view jinja) {
  auto has = [jinja](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
  if (has("[SYSTEM_PROMPT]")) return ChatTemplate::kMistralV7;
  // Mistral's official v1 template, or the v3 / v3-tekken ones (which carry tool markup).
  if (has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]")) {
    if (has(" [INST]")) return ChatTemplate::kMistralV1;
    if (has("\"[INST]\"")) return ChatTemplate::kMistralV3Tekken;
    return ChatTemplate::kMistralV3;
  }
  // Llama-2 and its variants.
  if (has("content.strip()")) return ChatTemplate::kLlama2SysStrip;
  if (has("bos_token + '[INST]")) return ChatTemplate::kLlama2SysBos;
  if (has("<<SYS>>")) return ChatTemplate::kLlama2;
  return ChatTemplate::kMistral;
}

// True for the families llama.cpp recognises before it looks for Llama-3's markers (Phi-3,
// ChatGLM, Falcon-3, Zephyr, Monarch, Gemma, Orion, OpenChat, Vicuna, DeepSeek, Command-R).
bool IsEarlierOtherFamily(std::string_view jinja) {
  auto has = [jinja](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
  return (has("<|assistant|>") && (has("<|end|>") || has("<|user|>"))) || has("[gMASK]<sop>") ||
         (has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>")) ||
         (has("<|user|>") && has("<|endoftext|>")) || has("bos_token + message['role']") ||
         has("<start_of_turn>") || has("'\\n\\nAssistant: ' + eos_token") || has("GPT4 Correct ") ||
         (has("USER: ") && has("ASSISTANT: ")) || (has("### Instruction:") && has("<|EOT|>")) ||
         (has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>"));
}

// ---- validation ----

bool IsKnownRole(std::string_view role) {
  return role == "system" || role == "user" || role == "assistant";
}

bool NeedsAlternation(ChatTemplate tmpl) {
  return tmpl != ChatTemplate::kChatMl && tmpl != ChatTemplate::kLlama3 &&
         tmpl != ChatTemplate::kMistralV7 && tmpl != ChatTemplate::kMistralV7Tekken;
}

Status ValidateMessages(ChatTemplate tmpl, std::span<const ChatMessage> messages) {
  if (messages.empty()) return InvalidArgumentError("messages: the list is empty");
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!IsKnownRole(messages[i].role)) {
      return InvalidArgumentError("messages[" + std::to_string(i) + "].role: '" + messages[i].role +
                                  "' is not supported (system, user or assistant)");
    }
  }
  if (!NeedsAlternation(tmpl)) return Status::Ok();
  const size_t first = messages[0].role == "system" ? 1 : 0;
  if (first == messages.size()) {
    return InvalidArgumentError(std::string("messages: the ") + ChatTemplateName(tmpl) +
                                " chat template needs a user message");
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const char* want = (i - first) % 2 == 0 ? "user" : "assistant";
    if (messages[i].role != want) {
      return InvalidArgumentError("messages[" + std::to_string(i) + "].role: the " +
                                  ChatTemplateName(tmpl) +
                                  " chat template needs an optional system message, then "
                                  "alternating user/assistant messages; expected '" +
                                  want + "', got '" + messages[i].role + "'");
    }
  }
  return Status::Ok();
}

// ---- rendering ----

// The rendered text, recording where message contents go.
class ChatWriter {
 public:
  ChatWriter& operator+=(std::string_view template_text) {
    out_.text += template_text;
    return *this;
  }
  void Content(std::string_view content) {
    const size_t begin = out_.text.size();
    out_.text += content;
    if (!content.empty()) out_.content_spans.push_back(TextSpan{begin, out_.text.size()});
  }
  RenderedChat Take() { return std::move(out_); }

 private:
  RenderedChat out_;
};

void RenderChatMl(std::span<const ChatMessage> messages, bool add_assistant_prefix,
                  ChatWriter& out) {
  for (const ChatMessage& m : messages) {
    out += "<|im_start|>" + m.role + "\n";
    out.Content(m.content);
    out += "<|im_end|>\n";
  }
  if (add_assistant_prefix) out += "<|im_start|>assistant\n";
}

void RenderLlama3(std::span<const ChatMessage> messages, bool add_assistant_prefix,
                  ChatWriter& out) {
  for (const ChatMessage& m : messages) {
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
    out.Content(Trim(m.content));
    out += "<|eot_id|>";
  }
  if (add_assistant_prefix) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
}

void RenderMistralV7(std::span<const ChatMessage> messages, bool tekken, ChatWriter& out) {
  const std::string space = tekken ? "" : " ";
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      out += "[SYSTEM_PROMPT]" + space;
      out.Content(m.content);
      out += "[/SYSTEM_PROMPT]";
    } else if (m.role == "user") {
      out += "[INST]" + space;
      out.Content(m.content);
      out += "[/INST]";
    } else {
      out += space;
      out.Content(m.content);
      out += "</s>";
    }
  }
}

// v1: " [INST] sys\n\nuser [/INST] assistant</s>"; v3: no leading spaces, assistant trimmed;
// v3-tekken: no spaces at all.
void RenderMistralV1V3(std::span<const ChatMessage> messages, ChatTemplate tmpl, ChatWriter& out) {
  const std::string leading = tmpl == ChatTemplate::kMistralV1 ? " " : "";
  const std::string trailing = tmpl == ChatTemplate::kMistralV3Tekken ? "" : " ";
  const bool trim_assistant = tmpl == ChatTemplate::kMistralV3;
  bool inside_turn = false;
  for (const ChatMessage& m : messages) {
    if (!inside_turn) {
      out += leading + "[INST]" + trailing;
      inside_turn = true;
    }
    if (m.role == "system") {
      out.Content(m.content);
      out += "\n\n";
    } else if (m.role == "user") {
      out.Content(m.content);
      out += leading + "[/INST]";
    } else {
      out += trailing;
      out.Content(trim_assistant ? Trim(m.content) : std::string_view(m.content));
      out += "</s>";
      inside_turn = false;
    }
  }
}

// kMistral (no <<SYS>>) and the Llama-2 variants. The first "[INST] " follows the BOS that the
// tokenizer adds; later turns open with "[INST] " (or "<s>[INST] ").
void RenderLlama2(std::span<const ChatMessage> messages, ChatTemplate tmpl, ChatWriter& out) {
  const bool system_block = tmpl != ChatTemplate::kMistral;
  const bool bos_inside = tmpl == ChatTemplate::kLlama2SysBos;
  const bool strip = tmpl == ChatTemplate::kLlama2SysStrip;
  bool inside_turn = true;
  out += "[INST] ";
  for (const ChatMessage& m : messages) {
    const std::string_view content = strip ? Trim(m.content) : std::string_view(m.content);
    if (!inside_turn) {
      out += bos_inside ? "<s>[INST] " : "[INST] ";
      inside_turn = true;
    }
    if (m.role == "system") {
      out += system_block ? "<<SYS>>\n" : "";
      out.Content(content);
      out += system_block ? "\n<</SYS>>\n\n" : "\n";
    } else if (m.role == "user") {
      out.Content(content);
      out += " [/INST]";
    } else {
      out.Content(content);
      out += "</s>";
      inside_turn = false;
    }
  }
}

}  // namespace

std::optional<ChatTemplate> DetectChatTemplate(std::string_view jinja) {
  auto has = [jinja](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) {
    // Phi-4 and SmolVLM use <|im_start|> without being ChatML.
    if (has("<|im_sep|>") || has("<end_of_utterance>")) return std::nullopt;
    return ChatTemplate::kChatMl;
  }
  if (jinja.starts_with("mistral") || has("[INST]")) return DetectInstFamily(jinja);
  if (IsEarlierOtherFamily(jinja)) return std::nullopt;
  if (has("<|start_header_id|>") && has("<|end_header_id|>")) return ChatTemplate::kLlama3;
  return std::nullopt;
}

std::optional<ChatTemplate> ChatTemplateFromName(std::string_view name) {
  if (name == "llama2-sys") return ChatTemplate::kLlama2;
  for (const auto& [n, tmpl] : kNames) {
    if (name == n) return tmpl;
  }
  return std::nullopt;
}

const char* ChatTemplateName(ChatTemplate tmpl) {
  for (const auto& [n, t] : kNames) {
    if (t == tmpl) return n;
  }
  return "unknown";  // unreachable: every enumerator is in kNames
}

Result<std::string> ApplyChatTemplate(ChatTemplate tmpl, std::span<const ChatMessage> messages,
                                      bool add_assistant_prefix) {
  PARAPET_ASSIGN_OR_RETURN(RenderedChat r,
                           RenderChatTemplate(tmpl, messages, add_assistant_prefix));
  return std::move(r.text);
}

Result<RenderedChat> RenderChatTemplate(ChatTemplate tmpl, std::span<const ChatMessage> messages,
                                        bool add_assistant_prefix) {
  PARAPET_RETURN_IF_ERROR(ValidateMessages(tmpl, messages));
  ChatWriter out;
  switch (tmpl) {
    case ChatTemplate::kChatMl:
      RenderChatMl(messages, add_assistant_prefix, out);
      break;
    case ChatTemplate::kLlama3:
      RenderLlama3(messages, add_assistant_prefix, out);
      break;
    case ChatTemplate::kMistralV7:
    case ChatTemplate::kMistralV7Tekken:
      RenderMistralV7(messages, tmpl == ChatTemplate::kMistralV7Tekken, out);
      break;
    case ChatTemplate::kMistralV1:
    case ChatTemplate::kMistralV3:
    case ChatTemplate::kMistralV3Tekken:
      RenderMistralV1V3(messages, tmpl, out);
      break;
    case ChatTemplate::kMistral:
    case ChatTemplate::kLlama2:
    case ChatTemplate::kLlama2SysBos:
    case ChatTemplate::kLlama2SysStrip:
      RenderLlama2(messages, tmpl, out);
      break;
  }
  return out.Take();
}

Result<ChatTemplate> ResolveChatTemplate(std::optional<std::string_view> model_jinja,
                                         std::string_view name) {
  const char* kKnown = "mistral, mistral-v1, mistral-v3, mistral-v7, llama2, chatml, llama3";
  if (!name.empty()) {
    if (std::optional<ChatTemplate> t = ChatTemplateFromName(name)) return *t;
    return InvalidArgumentError("unknown chat template '" + std::string(name) +
                                "' (known: " + kKnown + ")");
  }
  if (!model_jinja) {
    return InvalidArgumentError(std::string("the model has no chat template; name one (") + kKnown +
                                ")");
  }
  if (std::optional<ChatTemplate> t = DetectChatTemplate(*model_jinja)) return *t;
  return InvalidArgumentError(
      std::string("the model's chat template is not one Parapet recognises; name one (") + kKnown +
      ")");
}

Result<std::vector<TokenId>> EncodeChat(const Tokenizer& tokenizer, ChatTemplate tmpl,
                                        std::span<const ChatMessage> messages) {
  PARAPET_ASSIGN_OR_RETURN(RenderedChat rendered, RenderChatTemplate(tmpl, messages, true));
  return tokenizer.Encode(rendered.text, tokenizer.add_bos_default(), /*parse_special=*/true,
                          rendered.content_spans);
}

}  // namespace parapet::engine
