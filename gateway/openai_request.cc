// Parsers for the OpenAI chat and legacy completion request bodies.
#include "gateway/openai_request.h"

#include <boost/json/value.hpp>
#include <limits>

#include "gateway/internal/json_fields.h"

namespace parapet::gateway {
namespace {

namespace json = boost::json;
using internal::EchoKey;
using internal::FieldError;
using internal::JsonKindName;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Known OpenAI chat features this server does not implement: 400 naming them.
bool IsUnsupportedChatParam(std::string_view key) {
  static constexpr std::string_view kNames[] = {
      "tools",     "tool_choice", "functions",        "function_call",
      "audio",     "prediction",  "reasoning_effort", "web_search_options",
      "verbosity", "background",  "prompt_cache_key"};
  for (std::string_view name : kNames) {
    if (key == name) return true;
  }
  return false;
}

// ---- fields shared by both endpoints ----

// Reads the sampling, stop, stream and penalty fields. Sets *handled when `key` is one of them.
FieldError ReadCommonField(std::string_view key, const json::value& v, SamplingRequest* sampling,
                           std::vector<std::string>* stop, bool* stream, bool* include_usage,
                           bool* saw_stream_options, std::string* user, bool* handled) {
  *handled = true;
  std::string param(key);
  if (key == "temperature")
    return internal::ReadNumber(v, param, 0, true, 2, &sampling->temperature);
  if (key == "top_p") return internal::ReadNumber(v, param, 0, false, 1, &sampling->top_p);
  if (key == "min_p") return internal::ReadNumber(v, param, 0, true, 1, &sampling->min_p);
  if (key == "ignore_eos") return internal::ReadBool(v, param, &sampling->ignore_eos);
  if (key == "top_k") {
    int64_t k = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 0, kInt32Max, &k));
    sampling->top_k = static_cast<int32_t>(k);
    return std::nullopt;
  }
  if (key == "seed") {
    uint64_t seed = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadSeed(v, param, &seed));
    sampling->seed = seed;
    return std::nullopt;
  }
  if (key == "stop") return internal::ReadStop(v, param, kMaxStopStrings, stop);
  if (key == "stream") return internal::ReadBool(v, param, stream);
  if (key == "stream_options") {
    *saw_stream_options = true;
    return internal::ReadStreamOptions(v, include_usage);
  }
  if (key == "presence_penalty" || key == "frequency_penalty") {
    return internal::RequireZero(v, param);
  }
  if (key == "logit_bias") return internal::RequireEmptyObject(v, param);
  if (key == "user") return internal::ReadString(v, param, user);
  if (key == "n") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 1, kInt32Max, &n));
    if (n != 1) return UnsupportedParam("n", "only n=1 is supported");
    return std::nullopt;
  }
  *handled = false;
  return std::nullopt;
}

FieldError CheckStreamOptions(bool stream, bool saw_stream_options) {
  if (saw_stream_options && !stream) {
    return InvalidParam("stream_options",
                        "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  }
  return std::nullopt;
}

ApiError NotAnObject(const json::value& body) {
  return InvalidParam("",
                      std::string("Invalid request body: expected a JSON object, but got ") +
                          JsonKindName(body) + ".",
                      "invalid_type");
}

// ---- chat messages ----

FieldError ReadContentParts(const json::array& parts, const std::string& param, std::string* out) {
  if (parts.empty()) {
    return InvalidParam(param, "Invalid '" + param + "': expected a non-empty array of parts.");
  }
  for (size_t j = 0; j < parts.size(); ++j) {
    std::string part_param = param + "[" + std::to_string(j) + "]";
    if (!parts[j].is_object()) return InvalidType(part_param, "an object", JsonKindName(parts[j]));
    const json::object& part = parts[j].get_object();
    const json::value* type = part.if_contains("type");
    if (type == nullptr) return MissingParam(part_param + ".type");
    std::string type_name;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadString(*type, part_param + ".type", &type_name));
    if (type_name != "text") {
      return UnsupportedParam(part_param + ".type", "only text content parts are supported");
    }
    const json::value* text = part.if_contains("text");
    if (text == nullptr) return MissingParam(part_param + ".text");
    if (!text->is_string())
      return InvalidType(part_param + ".text", "a string", JsonKindName(*text));
    out->append(text->get_string().data(), text->get_string().size());
    for (const auto& field : part) {
      if (field.key() != "type" && field.key() != "text") {
        return UnrecognizedParam(part_param + "." + EchoKey(field.key()));
      }
    }
  }
  return std::nullopt;
}

FieldError ReadContent(const json::value& v, const std::string& param, std::string* out) {
  if (v.is_string()) {
    out->assign(v.get_string().data(), v.get_string().size());
    return std::nullopt;
  }
  if (v.is_array()) return ReadContentParts(v.get_array(), param, out);
  return InvalidType(param, "a string or an array of content parts", JsonKindName(v));
}

FieldError ReadRole(const json::value& v, const std::string& param, std::string* role) {
  PARAPET_API_RETURN_IF_ERROR(internal::ReadString(v, param, role));
  if (*role == "developer") *role = "system";
  if (*role == "system" || *role == "user" || *role == "assistant") return std::nullopt;
  if (*role == "tool" || *role == "function") {
    return UnsupportedParam(param, "tool and function messages are not supported");
  }
  return InvalidParam(param, "Invalid '" + param +
                                 "': expected one of 'system', 'developer', 'user', 'assistant'.");
}

FieldError ReadMessage(const json::value& v, const std::string& param, ChatMessage* message) {
  if (!v.is_object()) return InvalidType(param, "an object", JsonKindName(v));
  const json::object& object = v.get_object();
  const json::value* role = object.if_contains("role");
  if (role == nullptr) return MissingParam(param + ".role");
  PARAPET_API_RETURN_IF_ERROR(ReadRole(*role, param + ".role", &message->role));
  bool assistant = message->role == "assistant";
  bool has_content = false;
  for (const auto& field : object) {
    std::string_view key = field.key();
    const json::value& value = field.value();
    std::string field_param = param + "." + EchoKey(key);
    if (key == "role") continue;
    if (key == "content") {
      if (value.is_null() && assistant) continue;
      has_content = true;
      PARAPET_API_RETURN_IF_ERROR(ReadContent(value, field_param, &message->content));
    } else if (key == "name") {
      PARAPET_API_RETURN_IF_ERROR(internal::ReadString(value, field_param, &message->name));
    } else if (assistant && key == "refusal") {
      if (!value.is_null() && !value.is_string()) {
        return InvalidType(field_param, "a string", JsonKindName(value));
      }
    } else if (key == "tool_calls" || key == "function_call" || key == "audio" ||
               key == "tool_call_id") {
      if (!value.is_null()) return UnsupportedParam(field_param);
    } else {
      return UnrecognizedParam(field_param);
    }
  }
  if (!has_content && !assistant) return MissingParam(param + ".content");
  return std::nullopt;
}

FieldError ReadMessages(const json::value& v, std::vector<ChatMessage>* messages) {
  if (!v.is_array()) return InvalidType("messages", "an array", JsonKindName(v));
  const json::array& array = v.get_array();
  if (array.empty()) {
    return InvalidParam("messages",
                        "Invalid 'messages': empty array. Expected an array with minimum length "
                        "1, but got an empty array instead.",
                        "empty_array");
  }
  messages->resize(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    PARAPET_API_RETURN_IF_ERROR(
        ReadMessage(array[i], "messages[" + std::to_string(i) + "]", &(*messages)[i]));
  }
  return std::nullopt;
}

FieldError ReadResponseFormat(const json::value& v) {
  if (!v.is_object()) return InvalidType("response_format", "an object", JsonKindName(v));
  const json::value* type = v.get_object().if_contains("type");
  if (type == nullptr) return MissingParam("response_format.type");
  std::string name;
  PARAPET_API_RETURN_IF_ERROR(internal::ReadString(*type, "response_format.type", &name));
  if (name == "text") return std::nullopt;
  if (name == "json_object" || name == "json_schema") {
    return UnsupportedParam("response_format", "only {\"type\": \"text\"} is supported");
  }
  return InvalidParam("response_format.type",
                      "Invalid 'response_format.type': expected 'text', 'json_object' or "
                      "'json_schema'.");
}

// ---- chat ----

// One top-level chat field; sets *max_tokens_seen for the max_tokens pair check.
FieldError ReadChatField(std::string_view key, const json::value& v, ChatCompletionRequest* r,
                         std::optional<int64_t>* max_completion_tokens, bool* saw_top_logprobs,
                         bool* saw_stream_options) {
  std::string param(key);
  bool handled = false;
  PARAPET_API_RETURN_IF_ERROR(ReadCommonField(key, v, &r->sampling, &r->stop, &r->stream,
                                              &r->include_usage, saw_stream_options, &r->user,
                                              &handled));
  if (handled) return std::nullopt;
  if (key == "model") return internal::ReadString(v, param, &r->model);
  if (key == "messages") return ReadMessages(v, &r->messages);
  if (key == "max_tokens" || key == "max_completion_tokens") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 1, kInt32Max, &n));
    if (key == "max_tokens") {
      r->max_tokens = static_cast<int32_t>(n);
    } else {
      *max_completion_tokens = n;
    }
    return std::nullopt;
  }
  if (key == "logprobs") return internal::ReadBool(v, param, &r->logprobs);
  if (key == "top_logprobs") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 0, kMaxChatTopLogprobs, &n));
    r->top_logprobs = static_cast<int32_t>(n);
    *saw_top_logprobs = true;
    return std::nullopt;
  }
  if (key == "response_format") return ReadResponseFormat(v);
  if (key == "modalities") {
    if (v.is_array() && v.get_array().size() == 1 && v.get_array()[0] == "text")
      return std::nullopt;
    return UnsupportedParam(param, "only [\"text\"] is supported");
  }
  // Accepted and ignored: they change nothing on this server.
  if (key == "parallel_tool_calls" || key == "store") {
    bool ignored = false;
    return internal::ReadBool(v, param, &ignored);
  }
  if (key == "service_tier" || key == "safety_identifier") {
    std::string ignored;
    return internal::ReadString(v, param, &ignored);
  }
  if (key == "metadata") {
    if (!v.is_object()) return InvalidType(param, "an object", JsonKindName(v));
    return std::nullopt;
  }
  if (IsUnsupportedChatParam(key)) return UnsupportedParam(param);
  return UnrecognizedParam(EchoKey(key));
}

FieldError CheckChat(const ChatCompletionRequest& r, const json::object& body,
                     std::optional<int64_t> max_completion_tokens, bool saw_top_logprobs,
                     bool saw_stream_options, ChatCompletionRequest* out) {
  if (!body.contains("model") || body.at("model").is_null()) return MissingParam("model");
  if (!body.contains("messages") || body.at("messages").is_null()) return MissingParam("messages");
  if (max_completion_tokens) {
    if (r.max_tokens && *r.max_tokens != *max_completion_tokens) {
      return InvalidParam("max_tokens",
                          "'max_tokens' and 'max_completion_tokens' were both given, with "
                          "different values.");
    }
    out->max_tokens = static_cast<int32_t>(*max_completion_tokens);
  }
  if (saw_top_logprobs && !r.logprobs) {
    return InvalidParam("top_logprobs",
                        "Invalid 'top_logprobs': 'logprobs' must be set to true when "
                        "'top_logprobs' is used.");
  }
  return CheckStreamOptions(r.stream, saw_stream_options);
}

// ---- completions ----

FieldError ReadTokenIds(const json::array& a, const std::string& param, std::vector<int32_t>* ids) {
  if (a.empty()) return InvalidParam(param, "Invalid '" + param + "': empty token array.");
  ids->reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t id = 0;
    PARAPET_API_RETURN_IF_ERROR(
        internal::ReadInt(a[i], param + "[" + std::to_string(i) + "]", 0, kInt32Max, &id));
    ids->push_back(static_cast<int32_t>(id));
  }
  return std::nullopt;
}

FieldError ReadPrompt(const json::value& v, CompletionRequest* r) {
  if (v.is_string()) {
    r->prompt_text.assign(v.get_string().data(), v.get_string().size());
    return std::nullopt;
  }
  if (!v.is_array()) return InvalidType("prompt", "a string or an array", JsonKindName(v));
  const json::array& a = v.get_array();
  if (a.empty()) return InvalidParam("prompt", "Invalid 'prompt': empty array.");
  if (a[0].is_number()) {
    r->prompt_is_tokens = true;
    return ReadTokenIds(a, "prompt", &r->prompt_tokens);
  }
  if (a.size() > 1) return UnsupportedParam("prompt", "only one prompt per request is supported");
  if (a[0].is_string()) {
    r->prompt_text.assign(a[0].get_string().data(), a[0].get_string().size());
    return std::nullopt;
  }
  if (a[0].is_array()) {
    r->prompt_is_tokens = true;
    return ReadTokenIds(a[0].get_array(), "prompt[0]", &r->prompt_tokens);
  }
  return InvalidType("prompt[0]", "a string, an integer or an array", JsonKindName(a[0]));
}

FieldError ReadCompletionField(std::string_view key, const json::value& v, CompletionRequest* r,
                               bool* saw_stream_options) {
  std::string param(key);
  bool handled = false;
  PARAPET_API_RETURN_IF_ERROR(ReadCommonField(key, v, &r->sampling, &r->stop, &r->stream,
                                              &r->include_usage, saw_stream_options, &r->user,
                                              &handled));
  if (handled) return std::nullopt;
  if (key == "model") return internal::ReadString(v, param, &r->model);
  if (key == "prompt") return ReadPrompt(v, r);
  if (key == "max_tokens") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 0, kInt32Max, &n));
    r->max_tokens = static_cast<int32_t>(n);
    return std::nullopt;
  }
  if (key == "logprobs") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 0, kMaxCompletionLogprobs, &n));
    r->logprobs = static_cast<int32_t>(n);
    return std::nullopt;
  }
  if (key == "echo") return internal::ReadBool(v, param, &r->echo);
  if (key == "best_of") {
    int64_t n = 0;
    PARAPET_API_RETURN_IF_ERROR(internal::ReadInt(v, param, 1, kInt32Max, &n));
    if (n != 1) return UnsupportedParam("best_of", "only best_of=1 is supported");
    return std::nullopt;
  }
  if (key == "suffix") {
    if (!v.is_string()) return InvalidType(param, "a string", JsonKindName(v));
    if (!v.get_string().empty()) return UnsupportedParam(param);
    return std::nullopt;
  }
  return UnrecognizedParam(EchoKey(key));
}

}  // namespace

ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(const boost::json::value& body) {
  if (!body.is_object()) return NotAnObject(body);
  ChatCompletionRequest r;
  std::optional<int64_t> max_completion_tokens;
  bool saw_top_logprobs = false;
  bool saw_stream_options = false;
  for (const auto& field : body.get_object()) {
    if (field.value().is_null()) continue;  // null = absent
    PARAPET_API_RETURN_IF_ERROR(ReadChatField(field.key(), field.value(), &r,
                                              &max_completion_tokens, &saw_top_logprobs,
                                              &saw_stream_options));
  }
  PARAPET_API_RETURN_IF_ERROR(CheckChat(r, body.get_object(), max_completion_tokens,
                                        saw_top_logprobs, saw_stream_options, &r));
  return r;
}

ApiResult<CompletionRequest> ParseCompletionRequest(const boost::json::value& body) {
  if (!body.is_object()) return NotAnObject(body);
  CompletionRequest r;
  bool saw_stream_options = false;
  for (const auto& field : body.get_object()) {
    if (field.value().is_null()) continue;  // null = absent
    PARAPET_API_RETURN_IF_ERROR(
        ReadCompletionField(field.key(), field.value(), &r, &saw_stream_options));
  }
  const json::object& object = body.get_object();
  if (!object.contains("model") || object.at("model").is_null()) return MissingParam("model");
  if (!object.contains("prompt") || object.at("prompt").is_null()) return MissingParam("prompt");
  if (r.max_tokens == 0 && !r.echo) {
    return InvalidParam("max_tokens",
                        "Invalid 'max_tokens': 0 is only allowed together with 'echo': true.");
  }
  PARAPET_API_RETURN_IF_ERROR(CheckStreamOptions(r.stream, saw_stream_options));
  return r;
}

ApiResult<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view body,
                                                            const StrictJsonOptions& options) {
  auto value = ParseStrictJson(body, options);
  if (!value.ok()) return InvalidJson(value.status());
  return ParseChatCompletionRequest(*value);
}

ApiResult<CompletionRequest> ParseCompletionRequest(std::string_view body,
                                                    const StrictJsonOptions& options) {
  auto value = ParseStrictJson(body, options);
  if (!value.ok()) return InvalidJson(value.status());
  return ParseCompletionRequest(*value);
}

}  // namespace parapet::gateway
