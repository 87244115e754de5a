// Strict JSON decoding: Boost.JSON's basic_parser (which validates UTF-8 and surrogate escapes)
// driving our own handler, which builds the value on a boost::json::value_stack and adds the
// checks a plain boost::json::parse lacks (depth, duplicate keys, number overflow).
#include "gateway/json_strict.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <cmath>
#include <exception>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/utf8.h"

namespace parapet::gateway {
namespace {

namespace json = boost::json;
using json::error_code;
using json::string_view;

// basic_parser handler: builds the value and enforces the extra rules. On a violation it records
// `reason` and fails the parse (basic_parser then reports how many bytes it consumed).
class StrictHandler {
 public:
  static constexpr size_t max_object_size = static_cast<size_t>(-1);
  static constexpr size_t max_array_size = static_cast<size_t>(-1);
  static constexpr size_t max_key_size = static_cast<size_t>(-1);
  static constexpr size_t max_string_size = static_cast<size_t>(-1);

  StrictHandler(size_t max_depth, json::storage_ptr storage)
      : max_depth_(max_depth), stack_(json::storage_ptr(), temp_, sizeof temp_) {
    stack_.reset(std::move(storage));
  }

  json::value Release() { return stack_.release(); }
  const char* reason() const { return reason_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code& ec) {
    if (!Enter(ec)) return false;
    if (key_sets_.size() <= open_objects_) key_sets_.emplace_back();
    key_sets_[open_objects_++].clear();
    return true;
  }
  bool on_object_end(size_t n, error_code&) {
    --open_objects_;
    --depth_;
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(error_code& ec) { return Enter(ec); }
  bool on_array_end(size_t n, error_code&) {
    --depth_;
    stack_.push_array(n);
    return true;
  }

  bool on_key_part(string_view s, size_t, error_code&) {
    key_.append(s.data(), s.size());
    stack_.push_chars(s);
    return true;
  }
  bool on_key(string_view s, size_t, error_code& ec) {
    key_.append(s.data(), s.size());
    bool inserted = key_sets_[open_objects_ - 1].insert(std::move(key_)).second;
    key_.clear();
    if (!inserted) return Fail(ec, "duplicate key");
    stack_.push_key(s);
    return true;
  }
  bool on_string_part(string_view s, size_t, error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(string_view s, size_t, error_code&) {
    stack_.push_string(s);
    return true;
  }

  bool on_number_part(string_view s, error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t v, string_view, error_code&) {
    number_.clear();
    stack_.push_int64(v);
    return true;
  }
  bool on_uint64(uint64_t v, string_view, error_code&) {
    number_.clear();
    stack_.push_uint64(v);
    return true;
  }
  bool on_double(double v, string_view s, error_code& ec) {
    number_.append(s.data(), s.size());
    // Boost turns integers beyond 64 bits into doubles (losing digits) and huge exponents into
    // infinity; both are overflows here.
    bool integer_syntax = number_.find_first_of(".eE") == std::string::npos;
    number_.clear();
    if (!std::isfinite(v)) return Fail(ec, "number out of range");
    if (integer_syntax) return Fail(ec, "integer out of range");
    stack_.push_double(v);
    return true;
  }
  bool on_bool(bool v, error_code&) {
    stack_.push_bool(v);
    return true;
  }
  bool on_null(error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code& ec) { return Fail(ec, "comments not allowed"); }
  bool on_comment(string_view, error_code& ec) { return Fail(ec, "comments not allowed"); }

 private:
  bool Enter(error_code& ec) {
    if (++depth_ > max_depth_) return Fail(ec, "nesting too deep");
    return true;
  }
  bool Fail(error_code& ec, const char* reason) {
    reason_ = reason;
    ec = json::error::syntax;
    return false;
  }

  size_t max_depth_;
  size_t depth_ = 0;
  size_t open_objects_ = 0;
  std::vector<std::unordered_set<std::string>> key_sets_;  // [open_objects_] keys seen so far
  std::string key_;                                        // key parts seen so far
  std::string number_;                                     // number parts seen so far
  const char* reason_ = nullptr;
  unsigned char temp_[4096];  // the value stack's first scratch space (no heap for small bodies)
  json::value_stack stack_;
};

Status ErrorAt(size_t offset, const char* reason) {
  return InvalidArgumentError("invalid JSON at byte " + std::to_string(offset) + ": " + reason);
}

// Names the error basic_parser reported at `offset`.
const char* DescribeParserError(std::string_view text, size_t offset, const error_code& ec) {
  if (ec == json::error::incomplete) return "unexpected end of input";
  if (offset < text.size() && static_cast<unsigned char>(text[offset]) >= 0x80 &&
      Utf8SequenceLength(text.substr(offset)) == 0) {
    return "invalid UTF-8";
  }
  if (ec == json::error::syntax && offset < text.size() && text[offset] == '"') {
    return "invalid string (bad escape or unpaired surrogate)";
  }
  return "syntax error";
}

}  // namespace

Result<boost::json::value> ParseStrictJson(std::string_view text, const StrictJsonOptions& options,
                                           boost::json::storage_ptr storage) {
  if (text.size() > options.max_bytes) {
    return InvalidArgumentError("JSON document of " + std::to_string(text.size()) +
                                " bytes exceeds the limit of " + std::to_string(options.max_bytes));
  }
  try {
    json::parse_options parse_options;
    parse_options.max_depth = options.max_depth + 1;  // our own check fires first
    json::basic_parser<StrictHandler> parser(parse_options, options.max_depth, std::move(storage));
    error_code ec;
    size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (ec) {
      const char* reason = parser.handler().reason();
      return ErrorAt(n, reason ? reason : DescribeParserError(text, n, ec));
    }
    if (n != text.size()) return ErrorAt(n, "unexpected data after the value");
    return parser.handler().Release();
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory decoding JSON");
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace parapet::gateway
