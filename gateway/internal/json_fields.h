// Typed field readers for the OpenAI request parsers: each checks one JSON value's type and range
// and, on failure, returns the ApiError (400, naming `param`) the client should see, in OpenAI's
// wording ("Invalid type for 'n': expected an integer, but got a string instead."). Internal to
// gateway/. Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/api_error.h"

namespace parapet::gateway::internal {

// nullopt = the value was acceptable (and stored); else the error to return.
using FieldError = std::optional<ApiError>;

// Returns from the enclosing function (whose result converts from ApiError) on a FieldError.
#define PARAPET_API_RETURN_IF_ERROR(expr)                             \
  do {                                                                \
    ::parapet::gateway::internal::FieldError parapet_field_ = (expr); \
    if (parapet_field_) return std::move(*parapet_field_);            \
  } while (0)

// "a string", "an integer", "a decimal number", "a boolean", "an array", "an object", "null".
const char* JsonKindName(const boost::json::value& v);

FieldError ReadString(const boost::json::value& v, const std::string& param, std::string* out);
FieldError ReadBool(const boost::json::value& v, const std::string& param, bool* out);
// An integer (JSON int, not a decimal number) in [min, max].
FieldError ReadInt(const boost::json::value& v, const std::string& param, int64_t min, int64_t max,
                   int64_t* out);
// Any JSON number in the interval: [min, max], or (min, max] when !min_inclusive.
FieldError ReadNumber(const boost::json::value& v, const std::string& param, double min,
                      bool min_inclusive, double max, double* out);
// Any JSON integer that fits int64 or uint64; negative values wrap (two's complement).
FieldError ReadSeed(const boost::json::value& v, const std::string& param, uint64_t* out);
// A string, or an array of at most `max_count` strings; each non-empty.
FieldError ReadStop(const boost::json::value& v, const std::string& param, size_t max_count,
                    std::vector<std::string>* out);
// Must be numerically 0 (penalties and other knobs this server does not implement).
FieldError RequireZero(const boost::json::value& v, const std::string& param);
// {"include_usage": bool} (unknown keys rejected as "stream_options.<key>").
FieldError ReadStreamOptions(const boost::json::value& v, bool* include_usage);
// An object; non-empty -> unsupported (logit_bias).
FieldError RequireEmptyObject(const boost::json::value& v, const std::string& param);

// `key` cut to at most 64 bytes for echoing in an error (the JSON writer repairs a cut character).
std::string EchoKey(std::string_view key);

}  // namespace parapet::gateway::internal
