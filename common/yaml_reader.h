// YamlMapReader: strict, typed reading of YAML mappings (yaml-cpp) with errors that name the
// file, line, column and field: "p.yaml:12:3: engine.max_sequences: must be >= 1". Unknown keys
// are errors. Used by every YAML format Parapet reads (the serve configuration, policies), so
// they report errors the same way. yaml-cpp's exceptions stay behind LoadYaml and the reader.
// Thread-safety: a reader is used by one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet {

// InvalidArgument "file:line:col: field: message" (line/col from `at` when it has a position).
Status YamlError(std::string_view file, const YAML::Node& at, std::string_view field,
                 std::string_view message);

// Runs `fn` (reads of a loaded document) with yaml-cpp's exceptions turned into InvalidArgument
// "file:line:col: message": a reader that missed a shape check must not throw past the format's
// one call site.
template <typename Fn>
Status GuardYaml(std::string_view file, Fn&& fn) {
  try {
    return fn();
  } catch (const YAML::Exception& e) {
    std::string where(file);
    if (e.mark.line >= 0) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return InvalidArgumentError(where + ": " + e.msg);
  }
}

// Parses a YAML document; syntax errors become "file:line:col: message". A null document (empty
// text) is returned as a null node.
Result<YAML::Node> LoadYaml(std::string_view text, std::string_view file);

class YamlMapReader {
 public:
  YamlMapReader(const YAML::Node& node, std::string path, std::string_view file)
      : node_(node), path_(std::move(path)), file_(file) {}

  Status CheckIsMap() const {
    if (node_.IsMap()) return Status::Ok();
    return Error(node_, path_.empty() ? "the document" : path_, "must be a mapping");
  }

  template <typename T>
  Status Get(const char* key, T& out) {
    seen_.insert(key);
    const YAML::Node v = node_[key];
    if (!v.IsDefined() || v.IsNull()) return Status::Ok();
    if (!v.IsScalar() || !YAML::convert<T>::decode(v, out)) {
      return Error(v, Field(key), std::string("must be ") + TypeName(out));
    }
    return Status::Ok();
  }

  // A number in [lo, hi].
  template <typename T>
  Status GetInRange(const char* key, T& out, T lo, T hi) {
    PARAPET_RETURN_IF_ERROR(Get(key, out));
    if (out < lo || out > hi) {
      std::ostringstream msg;
      msg << "must be in [" << lo << ", " << hi << "], got " << out;
      return Error(node_[key], Field(key), msg.str());
    }
    return Status::Ok();
  }

  // A list of strings (or a single string, taken as a one-element list when `allow_scalar`).
  Status GetStringList(const char* key, std::vector<std::string>& out, bool allow_scalar = false) {
    seen_.insert(key);
    const YAML::Node v = node_[key];
    if (!v.IsDefined() || v.IsNull()) return Status::Ok();
    if (allow_scalar && v.IsScalar()) {
      out = {v.Scalar()};
      return Status::Ok();
    }
    if (!v.IsSequence()) return Error(v, Field(key), "must be a list of strings");
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].IsScalar()) {
        return Error(v[i], Field(key) + "[" + std::to_string(i) + "]", "must be a string");
      }
      out.push_back(v[i].Scalar());
    }
    return Status::Ok();
  }

  // A nested mapping (absent: `fn` is not called).
  template <typename Fn>
  Status Section(const char* key, Fn fn) {
    seen_.insert(key);
    const YAML::Node v = node_[key];
    if (!v.IsDefined() || v.IsNull()) return Status::Ok();
    YamlMapReader sub(v, Field(key), file_);
    PARAPET_RETURN_IF_ERROR(sub.CheckIsMap());
    PARAPET_RETURN_IF_ERROR(fn(sub));
    return sub.Finish();
  }

  // A sequence of mappings.
  template <typename Fn>
  Status List(const char* key, Fn fn) {
    seen_.insert(key);
    const YAML::Node v = node_[key];
    if (!v.IsDefined() || v.IsNull()) return Status::Ok();
    if (!v.IsSequence()) return Error(v, Field(key), "must be a list");
    for (size_t i = 0; i < v.size(); ++i) {
      YamlMapReader item(v[i], Field(key) + "[" + std::to_string(i) + "]", file_);
      PARAPET_RETURN_IF_ERROR(item.CheckIsMap());
      PARAPET_RETURN_IF_ERROR(fn(item));
      PARAPET_RETURN_IF_ERROR(item.Finish());
    }
    return Status::Ok();
  }

  Status Finish() const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (seen_.count(key) == 0) return Error(it->first, Field(key), "unknown key");
    }
    return Status::Ok();
  }

  Status Fail(const char* key, std::string_view message) const {
    const YAML::Node v = node_[key];
    return Error(v.IsDefined() ? v : node_, Field(key), message);
  }

  // Node access for readers of custom shapes (lists of scalars, either-or fields).
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  std::string_view file() const { return file_; }
  void MarkSeen(const char* key) { seen_.insert(key); }
  std::string Field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  // "file:line:col: field: message" at `at`.
  Status Error(const YAML::Node& at, std::string_view field, std::string_view message) const {
    return YamlError(file_, at, field, message);
  }

 private:
  static const char* TypeName(const std::string&) { return "a string"; }
  static const char* TypeName(bool) { return "true or false"; }
  static const char* TypeName(double) { return "a number"; }
  static const char* TypeName(int32_t) { return "an integer"; }
  static const char* TypeName(int64_t) { return "an integer"; }

  YAML::Node node_;
  std::string path_;
  std::string_view file_;
  std::set<std::string> seen_;
};

}  // namespace parapet
