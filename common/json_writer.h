// JsonWriter: builds compact JSON text (no whitespace) for command-line output, with correct
// string escaping (control characters, quotes, backslashes; invalid UTF-8 is replaced by U+FFFD
// so the output is always valid JSON). Not thread-safe; one writer per document.
//
//   JsonWriter w;
//   w.BeginObject(); w.Key("ids"); w.BeginArray(); w.Int(1); w.EndArray(); w.EndObject();
//   std::string text = w.str();   // {"ids":[1]}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parapet {

// Appends `text` to `out` as a JSON string literal, quotes included.
void AppendJsonString(std::string_view text, std::string* out);

class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  void Double(double value);  // non-finite values are written as null
  void Bool(bool value);
  void Null();

  // Key followed by a value, for flat objects.
  void StringField(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
  void IntField(std::string_view key, int64_t value) {
    Key(key);
    Int(value);
  }
  void DoubleField(std::string_view key, double value) {
    Key(key);
    Double(value);
  }

  const std::string& str() const { return out_; }

 private:
  void Separate();

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written into it yet
  bool after_key_ = false;
};

}  // namespace parapet
