// JsonWriter implementation.
#include "common/json_writer.h"

#include <cmath>
#include <cstdio>

#include "common/utf8.h"

namespace parapet {

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out->append(buf);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(text.substr(i));
    if (len == 0) {
      out->append("\xEF\xBF\xBD");  // U+FFFD for an invalid byte
      ++i;
    } else {
      out->append(text.substr(i, len));
      i += len;
    }
  }
  out->push_back('"');
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

void JsonWriter::BeginObject() {
  Separate();
  out_.push_back('{');
  first_.push_back(true);
}
void JsonWriter::EndObject() {
  out_.push_back('}');
  first_.pop_back();
}
void JsonWriter::BeginArray() {
  Separate();
  out_.push_back('[');
  first_.push_back(true);
}
void JsonWriter::EndArray() {
  out_.push_back(']');
  first_.pop_back();
}
void JsonWriter::Key(std::string_view key) {
  Separate();
  AppendJsonString(key, &out_);
  out_.push_back(':');
  after_key_ = true;
}
void JsonWriter::String(std::string_view value) {
  Separate();
  AppendJsonString(value, &out_);
}
void JsonWriter::Int(int64_t value) {
  Separate();
  out_.append(std::to_string(value));
}
void JsonWriter::Double(double value) {
  Separate();
  if (!std::isfinite(value)) {
    out_.append("null");
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  out_.append(buf);
}
void JsonWriter::Bool(bool value) {
  Separate();
  out_.append(value ? "true" : "false");
}
void JsonWriter::Null() {
  Separate();
  out_.append("null");
}

}  // namespace parapet
