// Encoders for OpenAI response bodies, from plain structs (no engine types): chat.completion,
// chat.completion.chunk (streaming), text_completion (non-stream and stream), the /v1/models list,
// response ids, and Server-Sent-Events framing. Output is compact JSON with OpenAI's key order:
//
//   chat.completion: {"id":"chatcmpl-…","object":"chat.completion","created":<unix s>,
//     "model":…,"choices":[{"index":0,"message":{"role":"assistant","content":…,"refusal":null},
//     "logprobs":null|{"content":[<token>…],"refusal":null},"finish_reason":…
//     [,"content_filter_results":{…}]}],"usage":{"prompt_tokens":…,"completion_tokens":…,
//     "total_tokens":…},"system_fingerprint":…}
//   <token> = {"token":…,"logprob":…,"bytes":[…],"top_logprobs":[{"token":…,"logprob":…,
//     "bytes":[…]}…]}
//   chat.completion.chunk: {"id","object":"chat.completion.chunk","created","model",
//     "system_fingerprint","choices":[{"index":0,"delta":{…},"logprobs":…,"finish_reason":…}]
//     [,"usage":null]}. The stream is: a role chunk (delta {"role":"assistant","content":""}),
//     content chunks (delta {"content":…}), a finish chunk (delta {}, finish_reason set), and,
//     with stream_options.include_usage, a last chunk with "choices":[] and the usage; with
//     include_usage every other chunk carries "usage":null (as OpenAI sends it).
//   text_completion: {"id":"cmpl-…","object":"text_completion","created","model",
//     "choices":[{"text":…,"index":0,"logprobs":null|{"tokens":[…],"token_logprobs":[…],
//     "top_logprobs":[{tok:lp…}…],"text_offset":[…]},"finish_reason":…}],"usage":{…},
//     "system_fingerprint":…}; stream chunks have the same shape (without usage unless
//     include_usage, then "usage":null and a final "choices":[] chunk).
//   models: {"object":"list","data":[{"id","object":"model","created","owned_by"}…]}
//
// finish_reason is "stop" | "length" | "content_filter". A content-filter stop may carry the
// policy's rule id and message in the Azure-style extension field on the choice:
//   "content_filter_results":{"policy":{"filtered":true,"rule_id":…,"message":…}}
//
// Token text: a token whose bytes are not valid UTF-8 on their own (a byte-fallback piece, half a
// character) is shown as "bytes:\xNN…" (OpenAI's convention; valid JSON, distinct per byte string)
// in `token` and in the legacy top_logprobs keys, while chat's `bytes` keeps the true bytes.
// Log-probabilities: -inf is written as -9999.0 (as OpenAI does), NaN as null (used for the
// first echoed prompt token, which has no logprob).
//
// Pure functions and small value types; thread-safe except that one ChatChunkEncoder or
// CompletionChunkEncoder is used by one stream at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parapet::gateway {

// One generated (or echoed) token and its log-probability, with the top alternatives.
struct TokenLogprob {
  std::string token;                                // the token's raw bytes (any bytes)
  double logprob = 0;                               // natural log; -inf -> -9999.0, NaN -> null
  std::vector<std::pair<std::string, double>> top;  // alternatives, most likely first
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // total_tokens is written as their sum
};

// Why the output policy stopped generation (finish_reason "content_filter").
struct ContentFilterInfo {
  std::string rule_id;  // e.g. "weapons.nerve-agent"
  std::string message;  // the policy's user-facing message (never the matched text)
};

// Fields every response object of one request shares.
struct ResponseMeta {
  std::string id;                  // "chatcmpl-…" / "cmpl-…" (NewResponseId)
  int64_t created = 0;             // Unix seconds
  std::string model;               // the model name as the client asked for it
  std::string system_fingerprint;  // identifies model + config, e.g. "fp_<8 hex>"
};

// prefix + 24 random base62 characters (OpenSSL RAND_bytes), e.g. NewResponseId("chatcmpl-").
std::string NewResponseId(std::string_view prefix);

// ---- chat completions ----

struct ChatCompletion {
  ResponseMeta meta;                                // id, created, model, fingerprint
  std::string content;                              // the assistant's text
  std::string finish_reason;                        // "stop" | "length" | "content_filter"
  std::optional<ContentFilterInfo> content_filter;  // only with finish_reason content_filter
  bool with_logprobs = false;                       // "logprobs": null when false
  std::vector<TokenLogprob> logprobs;               // one per generated token (when with_logprobs)
  Usage usage;
};

std::string EncodeChatCompletion(const ChatCompletion& completion);

// Encodes the chunks of one streamed chat completion (JSON only; wrap each in SseData).
class ChatChunkEncoder {
 public:
  // `with_logprobs`: content chunks carry "logprobs":{"content":[…]} (else null).
  ChatChunkEncoder(ResponseMeta meta, bool include_usage, bool with_logprobs);

  // delta {"role":"assistant","content":""}: the first chunk.
  std::string RoleChunk() const;
  // delta {"content": text} with the logprobs of the tokens that produced `text`.
  std::string ContentChunk(std::string_view text,
                           std::span<const TokenLogprob> logprobs = {}) const;
  // delta {}, finish_reason set; `filter` adds content_filter_results.
  std::string FinishChunk(std::string_view finish_reason,
                          const std::optional<ContentFilterInfo>& filter = std::nullopt) const;
  // "choices":[] with the usage. Send only when include_usage (after FinishChunk).
  std::string UsageChunk(const Usage& usage) const;

  bool include_usage() const { return include_usage_; }

 private:
  ResponseMeta meta_;
  bool include_usage_;
  bool with_logprobs_;
};

// ---- legacy completions ----

struct CompletionResult {
  ResponseMeta meta;                                // id ("cmpl-…"), created, model, fingerprint
  std::string text;                                 // echoed prompt (if echo) + generated text
  std::string finish_reason;                        // "stop" | "length" | "content_filter"
  std::optional<ContentFilterInfo> content_filter;  // only with finish_reason content_filter
  bool with_logprobs = false;                       // "logprobs": null when false
  std::vector<TokenLogprob> logprobs;  // echoed prompt tokens first (if echo), then generated;
                                       // the first echoed token's logprob is NaN (-> null)
  Usage usage;                         // tokens in and out
};

std::string EncodeCompletion(const CompletionResult& completion);

// Encodes the chunks of one streamed text completion. Tracks text_offset across chunks.
class CompletionChunkEncoder {
 public:
  CompletionChunkEncoder(ResponseMeta meta, bool include_usage, bool with_logprobs);

  // {"text": text, "finish_reason": null} with the logprobs of the tokens that produced it.
  std::string TextChunk(std::string_view text, std::span<const TokenLogprob> logprobs = {});
  // {"text": "", "finish_reason": …}.
  std::string FinishChunk(std::string_view finish_reason,
                          const std::optional<ContentFilterInfo>& filter = std::nullopt);
  // "choices":[] with the usage. Send only when include_usage.
  std::string UsageChunk(const Usage& usage) const;

 private:
  ResponseMeta meta_;
  bool include_usage_;
  bool with_logprobs_;
  std::string pending_utf8_;  // bytes of an incomplete character carried into the next offset
  int64_t text_offset_ = 0;   // characters emitted so far (text_offset of the next token)
};

// ---- models ----

struct ModelInfo {
  std::string id;                    // the name clients pass as "model"
  int64_t created = 0;               // Unix seconds
  std::string owned_by = "parapet";  // organisation shown to clients
};

std::string EncodeModel(const ModelInfo& model);
std::string EncodeModelList(std::span<const ModelInfo> models);

// ---- Server-Sent Events framing ----

std::string SseData(std::string_view json);        // "data: <json>\n\n"
std::string SseDone();                             // "data: [DONE]\n\n"
std::string SseComment(std::string_view comment);  // ": <comment>\n\n" (newlines -> spaces)

// ---- helpers (exposed for tests and the handler) ----

// The token as shown in JSON: itself when valid UTF-8, else "bytes:" + "\xNN" per byte.
std::string DisplayToken(std::string_view token_bytes);

}  // namespace parapet::gateway
