// Typed field readers for the OpenAI request parsers.
#include "gateway/internal/json_fields.h"

#include <cmath>
#include <cstdio>

namespace parapet::gateway::internal {
namespace {

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

double AsDouble(const boost::json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

}  // namespace

const char* JsonKindName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      return "an integer";
    case boost::json::kind::double_:
      return "a decimal number";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
    case boost::json::kind::null:
      return "null";
  }
  return "a value";
}

FieldError ReadString(const boost::json::value& v, const std::string& param, std::string* out) {
  if (!v.is_string()) return InvalidType(param, "a string", JsonKindName(v));
  out->assign(v.get_string().data(), v.get_string().size());
  return std::nullopt;
}

FieldError ReadBool(const boost::json::value& v, const std::string& param, bool* out) {
  if (!v.is_bool()) return InvalidType(param, "a boolean", JsonKindName(v));
  *out = v.get_bool();
  return std::nullopt;
}

FieldError ReadInt(const boost::json::value& v, const std::string& param, int64_t min, int64_t max,
                   int64_t* out) {
  if (!v.is_int64() && !v.is_uint64()) return InvalidType(param, "an integer", JsonKindName(v));
  bool in_range = v.is_int64() ? (v.get_int64() >= min && v.get_int64() <= max)
                               : (max >= 0 && v.get_uint64() <= static_cast<uint64_t>(max));
  if (!in_range) {
    std::string got = v.is_int64() ? std::to_string(v.get_int64()) : std::to_string(v.get_uint64());
    std::string range = max == INT64_MAX
                            ? ">= " + std::to_string(min)
                            : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    return InvalidParam(param, "Invalid '" + param + "': expected an integer " + range +
                                   ", but got " + got + " instead.");
  }
  *out = v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.get_uint64());
  return std::nullopt;
}

FieldError ReadNumber(const boost::json::value& v, const std::string& param, double min,
                      bool min_inclusive, double max, double* out) {
  if (!v.is_number()) return InvalidType(param, "a number", JsonKindName(v));
  double d = AsDouble(v);
  bool in_range = (min_inclusive ? d >= min : d > min) && d <= max;
  if (!in_range) {
    std::string range =
        std::string(min_inclusive ? "[" : "(") + FormatNumber(min) + ", " + FormatNumber(max) + "]";
    return InvalidParam(param, "Invalid '" + param + "': expected a number in " + range +
                                   ", but got " + FormatNumber(d) + " instead.");
  }
  *out = d;
  return std::nullopt;
}

FieldError ReadSeed(const boost::json::value& v, const std::string& param, uint64_t* out) {
  if (v.is_int64()) {
    *out = static_cast<uint64_t>(v.get_int64());
  } else if (v.is_uint64()) {
    *out = v.get_uint64();
  } else {
    return InvalidType(param, "an integer", JsonKindName(v));
  }
  return std::nullopt;
}

FieldError ReadStop(const boost::json::value& v, const std::string& param, size_t max_count,
                    std::vector<std::string>* out) {
  out->clear();
  auto add = [&](const boost::json::value& s, const std::string& p) -> FieldError {
    if (!s.is_string()) return InvalidType(p, "a string", JsonKindName(s));
    if (s.get_string().empty()) return InvalidParam(p, "Invalid '" + p + "': empty stop string.");
    out->emplace_back(s.get_string().data(), s.get_string().size());
    return std::nullopt;
  };
  if (v.is_string()) return add(v, param);
  if (!v.is_array()) return InvalidType(param, "a string or an array of strings", JsonKindName(v));
  const boost::json::array& a = v.get_array();
  if (a.size() > max_count) {
    return InvalidParam(param, "Invalid '" + param + "': at most " + std::to_string(max_count) +
                                   " stop sequences are allowed, but got " +
                                   std::to_string(a.size()) + ".");
  }
  for (size_t i = 0; i < a.size(); ++i) {
    PARAPET_API_RETURN_IF_ERROR(add(a[i], param + "[" + std::to_string(i) + "]"));
  }
  return std::nullopt;
}

FieldError RequireZero(const boost::json::value& v, const std::string& param) {
  if (!v.is_number()) return InvalidType(param, "a number", JsonKindName(v));
  if (AsDouble(v) != 0) return UnsupportedParam(param, "only 0 is supported");
  return std::nullopt;
}

FieldError ReadStreamOptions(const boost::json::value& v, bool* include_usage) {
  if (!v.is_object()) return InvalidType("stream_options", "an object", JsonKindName(v));
  for (const auto& field : v.get_object()) {
    if (field.key() == "include_usage") {
      if (field.value().is_null()) continue;
      PARAPET_API_RETURN_IF_ERROR(
          ReadBool(field.value(), "stream_options.include_usage", include_usage));
    } else if (field.key() == "include_obfuscation") {
      // OpenAI's padding against length side channels; accepted, nothing to pad here.
      bool ignored = false;
      PARAPET_API_RETURN_IF_ERROR(
          ReadBool(field.value(), "stream_options.include_obfuscation", &ignored));
    } else {
      return UnrecognizedParam("stream_options." + EchoKey(field.key()));
    }
  }
  return std::nullopt;
}

FieldError RequireEmptyObject(const boost::json::value& v, const std::string& param) {
  if (!v.is_object()) return InvalidType(param, "an object", JsonKindName(v));
  if (!v.get_object().empty()) return UnsupportedParam(param);
  return std::nullopt;
}

std::string EchoKey(std::string_view key) { return std::string(key.substr(0, 64)); }

}  // namespace parapet::gateway::internal
