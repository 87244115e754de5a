// Measures the pii stage on presidio-research's synthetic dataset
// (<shared>/data/pii/presidio-synth/synth_dataset_v2.json, MIT): precision and recall per entity
// type, printed as a table. Label mapping (theirs -> ours): EMAIL_ADDRESS -> EMAIL,
// PHONE_NUMBER -> PHONE, CREDIT_CARD -> CREDIT_CARD, IBAN_CODE -> IBAN, US_SSN -> US_SSN,
// IP_ADDRESS -> IP_ADDRESS; their other labels (PERSON, STREET_ADDRESS, ...) are not ours and a
// finding on them is a false positive. Matching is by span overlap: a finding is a true positive
// when it overlaps a gold span of its type, a gold span is recalled when a finding of its type
// overlaps it. Skips when the shared data is absent. Asserts only floors well below the measured
// values, so a regression shows up without making the numbers a contract.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "pipeline/stages/pii_stage.h"

namespace parapet::pipeline {
namespace {

// ---- a minimal JSON reader (objects, arrays, strings, numbers, literals) ----

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  double number = 0;
  std::string str;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;
  const Json* Get(const std::string& k) const {
    for (const auto& [name, v] : fields) {
      if (name == k) return &v;
    }
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& s) : s_(s) {}
  bool Parse(Json* out) {
    Ws();
    return Value(out);
  }

 private:
  void Ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  static void Utf8(uint32_t cp, std::string* o) {
    if (cp < 0x80) {
      o->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      o->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      o->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      o->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  uint32_t Hex4() {
    uint32_t v = static_cast<uint32_t>(std::stoul(s_.substr(i_, 4), nullptr, 16));
    i_ += 4;
    return v;
  }
  bool String(std::string* o) {
    ++i_;  // '"'
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c != '\\') {
        o->push_back(c);
        continue;
      }
      char e = s_[i_++];
      const char* from = "\"\\/bfnrt";
      const char* to = "\"\\/\b\f\n\r\t";
      if (const char* p = std::strchr(from, e); p != nullptr && e != 'u') {
        o->push_back(to[p - from]);
      } else if (e == 'u') {
        uint32_t cp = Hex4();
        if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(i_, 2, "\\u") == 0) {
          i_ += 2;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (Hex4() - 0xDC00);
        }
        Utf8(cp, o);
      } else {
        return false;
      }
    }
    ++i_;
    return true;
  }
  bool Value(Json* out) {
    char c = s_[i_];
    if (c == '"') {
      out->kind = Json::kString;
      return String(&out->str);
    }
    if (c == '{' || c == '[') {
      out->kind = c == '{' ? Json::kObject : Json::kArray;
      ++i_;
      Ws();
      while (s_[i_] != (c == '{' ? '}' : ']')) {
        std::string key;
        if (c == '{') {
          if (!String(&key)) return false;
          Ws();
          ++i_;  // ':'
          Ws();
        }
        Json v;
        if (!Value(&v)) return false;
        if (c == '{') {
          out->fields.emplace_back(std::move(key), std::move(v));
        } else {
          out->items.push_back(std::move(v));
        }
        Ws();
        if (s_[i_] == ',') ++i_;
        Ws();
      }
      ++i_;
      return true;
    }
    size_t j = i_;
    while (j < s_.size() && std::strchr(",}] \n\r\t", s_[j]) == nullptr) ++j;
    std::string tok = s_.substr(i_, j - i_);
    i_ = j;
    if (tok == "null") return true;
    if (tok == "true" || tok == "false") {
      out->kind = Json::kBool;
      return true;
    }
    out->kind = Json::kNumber;
    out->number = std::stod(tok);
    return true;
  }
  const std::string& s_;
  size_t i_ = 0;
};

// Byte offset of each code point index of UTF-8 `s` (size: code points + 1).
std::vector<size_t> CodePointOffsets(const std::string& s) {
  std::vector<size_t> off;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) off.push_back(i);
  }
  off.push_back(s.size());
  return off;
}

struct Counts {
  int gold = 0, recalled = 0, predicted = 0, correct = 0;
};

TEST(PiiEval, PresidioSynthPrecisionRecall) {
  const std::string path =
      std::string(PARAPET_SHARED_DIR) + "/data/pii/presidio-synth/synth_dataset_v2.json";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "shared data " << path << " not found; skipping the PII evaluation";
  }
  std::ifstream f(path);
  std::stringstream buf;
  buf << f.rdbuf();
  const std::string json = buf.str();
  Json root;
  ASSERT_TRUE(JsonReader(json).Parse(&root));
  ASSERT_EQ(root.kind, Json::kArray);

  const std::map<std::string, std::string> kMap = {
      {"EMAIL_ADDRESS", "EMAIL"}, {"PHONE_NUMBER", "PHONE"}, {"CREDIT_CARD", "CREDIT_CARD"},
      {"IBAN_CODE", "IBAN"},      {"US_SSN", "US_SSN"},      {"IP_ADDRESS", "IP_ADDRESS"}};
  PiiStageConfig config;
  for (const std::string& n : PiiDetectorNames()) config.detectors.push_back({.name = n});
  auto stage = NewPiiStage(config);
  ASSERT_TRUE(stage.ok()) << stage.status().ToString();

  std::map<std::string, Counts> counts;
  for (const auto& [theirs, ours] : kMap) counts[ours];
  int shown = 0;
  const bool verbose = std::getenv("PARAPET_PII_EVAL_VERBOSE") != nullptr;
  for (const Json& row : root.items) {
    const std::string& text = row.Get("full_text")->str;
    std::vector<size_t> cp = CodePointOffsets(text);
    std::vector<std::pair<std::string, Span>> gold;
    for (const Json& s : row.Get("spans")->items) {
      auto it = kMap.find(s.Get("entity_type")->str);
      std::string type = it == kMap.end() ? "" : it->second;
      gold.push_back({type, Span{cp[static_cast<size_t>(s.Get("start_position")->number)],
                                 cp[static_cast<size_t>(s.Get("end_position")->number)]}});
    }
    Input in;
    in.messages.push_back({"user", ScanText(text)});
    StageResult out;
    ASSERT_TRUE((*stage)->Inspect(in, out).ok());
    auto overlap = [](Span a, Span b) { return a.begin < b.end && b.begin < a.end; };
    for (const Finding& fd : out.findings) {
      Counts& c = counts[fd.type];
      ++c.predicted;
      bool ok = std::any_of(gold.begin(), gold.end(), [&](const auto& g) {
        return g.first == fd.type && overlap(g.second, fd.span);
      });
      c.correct += ok;
      if (!ok && verbose && shown++ < 40) {
        std::printf("FP %s '%s' in: %s\n", fd.type.c_str(),
                    text.substr(fd.span.begin, fd.span.end - fd.span.begin).c_str(), text.c_str());
      }
    }
    for (const auto& [type, span] : gold) {
      if (type.empty()) continue;
      Counts& c = counts[type];
      ++c.gold;
      bool hit = std::any_of(out.findings.begin(), out.findings.end(), [&](const Finding& fd) {
        return fd.type == type && overlap(fd.span, span);
      });
      c.recalled += hit;
      if (!hit && verbose && shown++ < 80) {
        std::printf("FN %s '%s'\n", type.c_str(),
                    text.substr(span.begin, span.end - span.begin).c_str());
      }
    }
  }
  std::printf("%-22s %6s %6s %9s %7s\n", "type", "gold", "found", "precision", "recall");
  for (const auto& [type, c] : counts) {
    double p = c.predicted ? static_cast<double>(c.correct) / c.predicted : 0.0;
    double r = c.gold ? static_cast<double>(c.recalled) / c.gold : 0.0;
    std::printf("%-22s %6d %6d %9.3f %7.3f\n", type.c_str(), c.gold, c.predicted, p, r);
  }
  // Floors far below the measured numbers (README): a regression trips them, noise does not.
  EXPECT_GE(counts["EMAIL"].recalled, counts["EMAIL"].gold * 9 / 10);
  EXPECT_GE(counts["CREDIT_CARD"].recalled, counts["CREDIT_CARD"].gold * 7 / 10);
}

}  // namespace
}  // namespace parapet::pipeline
