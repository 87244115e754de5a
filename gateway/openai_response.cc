// Encoders for the OpenAI response bodies and SSE framing (formats: openai_response.h).
#include "gateway/openai_response.h"

#include <openssl/rand.h>

#include <cmath>
#include <random>

#include "common/json_writer.h"
#include "common/utf8.h"

namespace parapet::gateway {
namespace {

// ---- shared pieces ----

// -inf -> -9999 (OpenAI's stand-in); NaN stays NaN and the writer prints null.
double WireLogprob(double logprob) {
  return std::isinf(logprob) && logprob < 0 ? -9999.0 : logprob;
}

void WriteHeader(JsonWriter& w, const ResponseMeta& meta, std::string_view object) {
  w.StringField("id", meta.id);
  w.StringField("object", object);
  w.IntField("created", meta.created);
  w.StringField("model", meta.model);
}

void WriteFingerprint(JsonWriter& w, const ResponseMeta& meta) {
  w.Key("system_fingerprint");
  meta.system_fingerprint.empty() ? w.Null() : w.String(meta.system_fingerprint);
}

void WriteUsage(JsonWriter& w, const Usage& usage) {
  w.Key("usage");
  w.BeginObject();
  w.IntField("prompt_tokens", usage.prompt_tokens);
  w.IntField("completion_tokens", usage.completion_tokens);
  w.IntField("total_tokens", usage.prompt_tokens + usage.completion_tokens);
  w.EndObject();
}

void WriteFinishReason(JsonWriter& w, std::string_view finish_reason) {
  w.Key("finish_reason");
  finish_reason.empty() ? w.Null() : w.String(finish_reason);
}

void WriteContentFilter(JsonWriter& w, const std::optional<ContentFilterInfo>& filter) {
  if (!filter) return;
  w.Key("content_filter_results");
  w.BeginObject();
  w.Key("policy");
  w.BeginObject();
  w.Key("filtered");
  w.Bool(true);
  w.StringField("rule_id", filter->rule_id);
  w.StringField("message", filter->message);
  w.EndObject();
  w.EndObject();
}

// ---- chat logprobs ----

void WriteBytes(JsonWriter& w, std::string_view bytes) {
  w.Key("bytes");
  w.BeginArray();
  for (char c : bytes) w.Int(static_cast<unsigned char>(c));
  w.EndArray();
}

void WriteChatToken(JsonWriter& w, std::string_view token, double logprob) {
  w.StringField("token", DisplayToken(token));
  w.DoubleField("logprob", WireLogprob(logprob));
  WriteBytes(w, token);
}

// "logprobs": null | {"content":[…],"refusal":null}
void WriteChatLogprobs(JsonWriter& w, bool with_logprobs, std::span<const TokenLogprob> tokens) {
  w.Key("logprobs");
  if (!with_logprobs) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("content");
  w.BeginArray();
  for (const TokenLogprob& t : tokens) {
    w.BeginObject();
    WriteChatToken(w, t.token, t.logprob);
    w.Key("top_logprobs");
    w.BeginArray();
    for (const auto& [token, logprob] : t.top) {
      w.BeginObject();
      WriteChatToken(w, token, logprob);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("refusal");
  w.Null();
  w.EndObject();
}

// ---- legacy logprobs ----

// Adds `bytes` to the text seen so far and advances `offset` by the characters they complete
// (an invalid byte counts as one character, as the U+FFFD that replaces it in "text").
void AdvanceTextOffset(std::string_view bytes, std::string* pending, int64_t* offset) {
  pending->append(bytes);
  size_t pos = 0;
  while (pos < pending->size()) {
    std::string_view rest = std::string_view(*pending).substr(pos);
    size_t len = Utf8SequenceLength(rest);
    if (len == 0 && Utf8IncompleteTail(rest) == rest.size()) break;  // wait for more bytes
    pos += len == 0 ? 1 : len;
    ++*offset;
  }
  pending->erase(0, pos);
}

// "logprobs": null | {"tokens":[…],"token_logprobs":[…],"top_logprobs":[…],"text_offset":[…]}
void WriteLegacyLogprobs(JsonWriter& w, bool with_logprobs, std::span<const TokenLogprob> tokens,
                         std::string* pending, int64_t* offset) {
  w.Key("logprobs");
  if (!with_logprobs) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("tokens");
  w.BeginArray();
  for (const TokenLogprob& t : tokens) w.String(DisplayToken(t.token));
  w.EndArray();
  w.Key("token_logprobs");
  w.BeginArray();
  for (const TokenLogprob& t : tokens) w.Double(WireLogprob(t.logprob));
  w.EndArray();
  w.Key("top_logprobs");
  w.BeginArray();
  for (const TokenLogprob& t : tokens) {
    if (std::isnan(t.logprob)) {  // the first echoed token: no distribution
      w.Null();
      continue;
    }
    w.BeginObject();
    std::vector<std::string> keys;  // a key twice would make the object invalid: first wins
    for (const auto& [token, logprob] : t.top) {
      std::string key = DisplayToken(token);
      bool seen = false;
      for (const std::string& k : keys) seen = seen || k == key;
      if (seen) continue;
      w.DoubleField(key, WireLogprob(logprob));
      keys.push_back(std::move(key));
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("text_offset");
  w.BeginArray();
  for (const TokenLogprob& t : tokens) {
    w.Int(*offset);
    AdvanceTextOffset(t.token, pending, offset);
  }
  w.EndArray();
  w.EndObject();
}

void WriteModel(JsonWriter& w, const ModelInfo& model) {
  w.BeginObject();
  w.StringField("id", model.id);
  w.StringField("object", "model");
  w.IntField("created", model.created);
  w.StringField("owned_by", model.owned_by);
  w.EndObject();
}

}  // namespace

// ---- ids and token display ----

std::string NewResponseId(std::string_view prefix) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id(prefix);
  unsigned char buf[64];
  while (id.size() < prefix.size() + 24) {
    if (RAND_bytes(buf, sizeof buf) != 1) {
      std::random_device rd;  // ids are not secrets; any decent randomness will do
      for (unsigned char& b : buf) b = static_cast<unsigned char>(rd());
    }
    for (unsigned char b : buf) {
      if (b >= 248 || id.size() == prefix.size() + 24) continue;  // 248 = 4 * 62: no bias
      id.push_back(kAlphabet[b % 62]);
    }
  }
  return id;
}

std::string DisplayToken(std::string_view token_bytes) {
  if (IsValidUtf8(token_bytes)) return std::string(token_bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "bytes:";
  for (char c : token_bytes) {
    unsigned char b = static_cast<unsigned char>(c);
    out += "\\x";
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// ---- chat completions ----

std::string EncodeChatCompletion(const ChatCompletion& c) {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, c.meta, "chat.completion");
  w.Key("choices");
  w.BeginArray();
  w.BeginObject();
  w.IntField("index", 0);
  w.Key("message");
  w.BeginObject();
  w.StringField("role", "assistant");
  w.StringField("content", c.content);
  w.Key("refusal");
  w.Null();
  w.EndObject();
  WriteChatLogprobs(w, c.with_logprobs, c.logprobs);
  WriteFinishReason(w, c.finish_reason);
  WriteContentFilter(w, c.content_filter);
  w.EndObject();
  w.EndArray();
  WriteUsage(w, c.usage);
  WriteFingerprint(w, c.meta);
  w.EndObject();
  return w.str();
}

ChatChunkEncoder::ChatChunkEncoder(ResponseMeta meta, bool include_usage, bool with_logprobs)
    : meta_(std::move(meta)), include_usage_(include_usage), with_logprobs_(with_logprobs) {}

namespace {

// Everything around one chunk's single choice; `choice` writes the choice's fields after index.
template <typename WriteChoice>
std::string ChatChunk(const ResponseMeta& meta, bool include_usage, WriteChoice&& choice) {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, meta, "chat.completion.chunk");
  WriteFingerprint(w, meta);
  w.Key("choices");
  w.BeginArray();
  w.BeginObject();
  w.IntField("index", 0);
  choice(w);
  w.EndObject();
  w.EndArray();
  if (include_usage) {
    w.Key("usage");
    w.Null();
  }
  w.EndObject();
  return w.str();
}

}  // namespace

std::string ChatChunkEncoder::RoleChunk() const {
  return ChatChunk(meta_, include_usage_, [&](JsonWriter& w) {
    w.Key("delta");
    w.BeginObject();
    w.StringField("role", "assistant");
    w.StringField("content", "");
    w.Key("refusal");
    w.Null();
    w.EndObject();
    WriteChatLogprobs(w, false, {});
    WriteFinishReason(w, "");
  });
}

std::string ChatChunkEncoder::ContentChunk(std::string_view text,
                                           std::span<const TokenLogprob> logprobs) const {
  return ChatChunk(meta_, include_usage_, [&](JsonWriter& w) {
    w.Key("delta");
    w.BeginObject();
    w.StringField("content", text);
    w.EndObject();
    WriteChatLogprobs(w, with_logprobs_, logprobs);
    WriteFinishReason(w, "");
  });
}

std::string ChatChunkEncoder::FinishChunk(std::string_view finish_reason,
                                          const std::optional<ContentFilterInfo>& filter) const {
  return ChatChunk(meta_, include_usage_, [&](JsonWriter& w) {
    w.Key("delta");
    w.BeginObject();
    w.EndObject();
    WriteChatLogprobs(w, false, {});
    WriteFinishReason(w, finish_reason);
    WriteContentFilter(w, filter);
  });
}

std::string ChatChunkEncoder::UsageChunk(const Usage& usage) const {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, meta_, "chat.completion.chunk");
  WriteFingerprint(w, meta_);
  w.Key("choices");
  w.BeginArray();
  w.EndArray();
  WriteUsage(w, usage);
  w.EndObject();
  return w.str();
}

// ---- legacy completions ----

std::string EncodeCompletion(const CompletionResult& c) {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, c.meta, "text_completion");
  w.Key("choices");
  w.BeginArray();
  w.BeginObject();
  w.StringField("text", c.text);
  w.IntField("index", 0);
  std::string pending;
  int64_t offset = 0;
  WriteLegacyLogprobs(w, c.with_logprobs, c.logprobs, &pending, &offset);
  WriteFinishReason(w, c.finish_reason);
  WriteContentFilter(w, c.content_filter);
  w.EndObject();
  w.EndArray();
  WriteUsage(w, c.usage);
  WriteFingerprint(w, c.meta);
  w.EndObject();
  return w.str();
}

CompletionChunkEncoder::CompletionChunkEncoder(ResponseMeta meta, bool include_usage,
                                               bool with_logprobs)
    : meta_(std::move(meta)), include_usage_(include_usage), with_logprobs_(with_logprobs) {}

namespace {

template <typename WriteChoice>
std::string CompletionChunk(const ResponseMeta& meta, bool include_usage, WriteChoice&& choice) {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, meta, "text_completion");
  w.Key("choices");
  w.BeginArray();
  w.BeginObject();
  choice(w);
  w.EndObject();
  w.EndArray();
  if (include_usage) {
    w.Key("usage");
    w.Null();
  }
  WriteFingerprint(w, meta);
  w.EndObject();
  return w.str();
}

}  // namespace

std::string CompletionChunkEncoder::TextChunk(std::string_view text,
                                              std::span<const TokenLogprob> logprobs) {
  return CompletionChunk(meta_, include_usage_, [&](JsonWriter& w) {
    w.StringField("text", text);
    w.IntField("index", 0);
    WriteLegacyLogprobs(w, with_logprobs_, logprobs, &pending_utf8_, &text_offset_);
    WriteFinishReason(w, "");
  });
}

std::string CompletionChunkEncoder::FinishChunk(std::string_view finish_reason,
                                                const std::optional<ContentFilterInfo>& filter) {
  return CompletionChunk(meta_, include_usage_, [&](JsonWriter& w) {
    w.StringField("text", "");
    w.IntField("index", 0);
    w.Key("logprobs");
    w.Null();
    WriteFinishReason(w, finish_reason);
    WriteContentFilter(w, filter);
  });
}

std::string CompletionChunkEncoder::UsageChunk(const Usage& usage) const {
  JsonWriter w;
  w.BeginObject();
  WriteHeader(w, meta_, "text_completion");
  w.Key("choices");
  w.BeginArray();
  w.EndArray();
  WriteUsage(w, usage);
  WriteFingerprint(w, meta_);
  w.EndObject();
  return w.str();
}

// ---- models ----

std::string EncodeModel(const ModelInfo& model) {
  JsonWriter w;
  WriteModel(w, model);
  return w.str();
}

std::string EncodeModelList(std::span<const ModelInfo> models) {
  JsonWriter w;
  w.BeginObject();
  w.StringField("object", "list");
  w.Key("data");
  w.BeginArray();
  for (const ModelInfo& model : models) WriteModel(w, model);
  w.EndArray();
  w.EndObject();
  return w.str();
}

// ---- Server-Sent Events ----

std::string SseData(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

std::string SseDone() { return "data: [DONE]\n\n"; }

std::string SseComment(std::string_view comment) {
  std::string out = ": ";
  for (char c : comment) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  out.append("\n\n");
  return out;
}

}  // namespace parapet::gateway
