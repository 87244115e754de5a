// OpenAI request bodies as plain structs: ChatCompletionRequest (POST /v1/chat/completions) and
// CompletionRequest (POST /v1/completions), parsed from a decoded JSON value (see json_strict.h).
// The parsers check every field's JSON type and range and reject what this server does not
// implement with a 400 that names the parameter (`param`), never silently ignoring it:
//
//   chat: model (required), messages (required, non-empty; roles system | developer (-> system) |
//         user | assistant; content a string or an array of {"type":"text","text":...} parts,
//         concatenated without separator; optional "name"), max_tokens | max_completion_tokens
//         (>= 1; both given and different -> 400), temperature [0, 2], top_p (0, 1], top_k >= 0
//         (extension), min_p [0, 1] (extension), ignore_eos (extension, bool), seed (integer), stop
//         (string or <= 4 non-empty strings), stream, stream_options {include_usage} (only with
//         stream), logprobs, top_logprobs 0..20 (requires logprobs), n (1 only), presence_penalty
//         and frequency_penalty (0 only), user, response_format ({"type":"text"} only). Accepted
//         and ignored: parallel_tool_calls, store, metadata, service_tier, safety_identifier,
//         modalities ["text"] (client frameworks send them; they change nothing here). Rejected
//         naming the param: tools, tool_choice, functions, function_call, non-empty logit_bias,
//         other content-part types, tool_calls on a message, and the other known OpenAI features
//         this server lacks (audio, prediction, reasoning_effort, ...). Unknown keys inside a
//         message or part are rejected too
//         ("messages[1].color").
//   completions: model, prompt (string, array of token ids, or an array of exactly one string),
//         max_tokens (default 16, >= 0, 0 only with echo), temperature, top_p, top_k, min_p,
//         seed, stop, stream, stream_options, logprobs (0..5 or null), echo, n / best_of (1 only),
//         presence/frequency_penalty (0 only), user; suffix and non-empty logit_bias -> 400.
//   both: a JSON null counts as "absent" for every optional field; any other unknown field ->
//         400 "Unrecognized request argument supplied: <name>" with param <name>.
//
// Ranges agree with engine::SamplingParams (temperature <= 100, top_p (0,1], min_p [0,1],
// n_logprobs <= engine::kMaxLogprobs), so a parsed request always maps to valid engine options.
// Which model names exist, and prompt length vs. context, are the handler's checks.
//
// Pure functions; thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/api_error.h"
#include "gateway/json_strict.h"

namespace parapet::gateway {

inline constexpr int32_t kMaxStopStrings = 4;
inline constexpr int32_t kMaxChatTopLogprobs = 20;
inline constexpr int32_t kMaxCompletionLogprobs = 5;
inline constexpr int32_t kDefaultCompletionMaxTokens = 16;

// Sampling fields shared by both endpoints (OpenAI defaults).
struct SamplingRequest {
  double temperature = 1.0;      // [0, 2]; 0 = greedy
  double top_p = 1.0;            // (0, 1]; 1 = off
  int32_t top_k = 0;             // >= 0; 0 = off (extension)
  double min_p = 0.0;            // [0, 1]; 0 = off (extension)
  std::optional<uint64_t> seed;  // the client's seed (negative values wrap to uint64); none =
                                 // the handler picks a random one
  bool ignore_eos = false;       // extension: keep generating past end-of-generation tokens
                                 // (benchmarks; as llama.cpp's server)
};

struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant" ("developer" is mapped to "system")
  std::string content;  // text parts concatenated; "" for an assistant message with null content
  std::string name;     // optional participant name, "" when absent
};

struct ChatCompletionRequest {
  std::string model;                  // as the client named it (existence is the handler's check)
  std::vector<ChatMessage> messages;  // at least one
  std::optional<int32_t> max_tokens;  // max_tokens or max_completion_tokens; none = up to the
                                      // context limit (the handler decides)
  SamplingRequest sampling;           // temperature, top_p, top_k, min_p, seed
  std::vector<std::string> stop;      // 0..4 non-empty strings
  bool stream = false;                // answer with SSE chunks
  bool include_usage = false;         // stream_options.include_usage (only with stream)
  bool logprobs = false;              // report the chosen tokens' log-probabilities
  int32_t top_logprobs = 0;           // alternatives per token, 0..20 (only with logprobs)
  std::string user;                   // end-user id for abuse tracking, "" when absent
};

struct CompletionRequest {
  std::string model;                   // as the client named it
  bool prompt_is_tokens = false;       // which of the two prompt forms below is used
  std::string prompt_text;             // prompt given as a string (may be empty)
  std::vector<int32_t> prompt_tokens;  // prompt given as token ids (non-empty, each >= 0;
                                       // the handler checks them against the vocabulary)
  int32_t max_tokens = kDefaultCompletionMaxTokens;  // >= 0; 0 only with echo
  SamplingRequest sampling;                          // temperature, top_p, top_k, min_p, seed
  std::vector<std::string> stop;                     // 0..4 non-empty strings
  bool stream = false;                               // answer with SSE chunks
  bool include_usage = false;       // stream_options.include_usage (only with stream)
  std::optional<int32_t> logprobs;  // none = no logprobs; else 0..5 alternatives per token
  bool echo = false;                // prepend the prompt (and its logprobs) to the output
  std::string user;                 // end-user id, "" when absent
};

// Parses a decoded chat request body. On failure: a 400 ApiError whose `param` names the field
// ("messages[2].content[0].type", "temperature", "n", ...).
ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(const boost::json::value& body);
ApiResult<CompletionRequest> ParseCompletionRequest(const boost::json::value& body);

// Conveniences: strict JSON decoding (400 "invalid_json" on failure) followed by the parser.
ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view body,
                                                            const StrictJsonOptions& options = {});
ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                    const StrictJsonOptions& options = {});
// (A string literal would otherwise be ambiguous between the two overloads.)
inline ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(const char* body) {
  return ParseChatCompletionRequest(std::string_view(body));
}
inline ApiResult<CompletionRequest> ParseCompletionRequest(const char* body) {
  return ParseCompletionRequest(std::string_view(body));
}

}  // namespace parapet::gateway
