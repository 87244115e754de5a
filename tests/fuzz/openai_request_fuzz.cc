// libFuzzer target for the OpenAI request path: strict JSON decoding, then the chat and legacy
// completion parsers on whatever decoded. Also checks two properties that must hold for any input:
// every error body, and a response that carries the input's bytes as content and as a token, is
// JSON that our own strict decoder accepts (valid UTF-8, no duplicate keys). Any crash, sanitizer
// report or failed property (abort) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/json_strict.h"
#include "gateway/openai_request.h"
#include "gateway/openai_response.h"

namespace {

using namespace parapet::gateway;

void RequireStrictJson(const std::string& json) {
  if (!ParseStrictJson(json).ok()) std::abort();
}

void CheckEncoders(std::string_view bytes) {
  std::string text(bytes.substr(0, 256));
  ChatCompletion chat;
  chat.meta = {"chatcmpl-fuzz", 1, text, text};
  chat.content = text;
  chat.finish_reason = "stop";
  chat.with_logprobs = true;
  chat.logprobs = {{text, -1.0, {{text, -2.0}, {std::string(bytes.substr(0, 1)), -3.0}}}};
  RequireStrictJson(EncodeChatCompletion(chat));
  CompletionResult completion;
  completion.meta = chat.meta;
  completion.text = text;
  completion.with_logprobs = true;
  completion.logprobs = chat.logprobs;
  RequireStrictJson(EncodeCompletion(completion));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckEncoders(bytes);
  StrictJsonOptions options;
  options.max_bytes = 1 << 20;
  auto value = ParseStrictJson(bytes, options);
  if (!value.ok()) {
    RequireStrictJson(InvalidJson(value.status()).Body());
    return 0;
  }
  auto chat = ParseChatCompletionRequest(*value);
  if (!chat.ok()) {
    RequireStrictJson(chat.error().Body());
  } else if (chat->messages.empty()) {
    std::abort();  // a parsed chat request always has at least one message
  }
  auto completion = ParseCompletionRequest(*value);
  if (!completion.ok()) {
    RequireStrictJson(completion.error().Body());
  } else if (completion->prompt_is_tokens && completion->prompt_tokens.empty()) {
    std::abort();  // a token prompt is never empty
  }
  return 0;
}
