// The keywords stage: lists folded and compiled into one Aho–Corasick automaton; each message's
// text is folded the same way (with a byte map back to it) and scanned once.
#include "pipeline/stages/keywords_stage.h"

#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "common/utf8.h"
#include "pipeline/internal/aho_corasick.h"
#include "pipeline/internal/unicode_text.h"

namespace parapet::pipeline {
namespace {

using internal::DecodedChar;
using internal::DecodeLenient;

// Folds `s` for matching: each whitespace run becomes one ' ', characters are lowercased when
// `lower`, invalid bytes become U+FFFD. `origin`, if given, gets out.size() + 1 offsets into `s`
// (where the character behind each folded byte starts; the last is s.size()).
void Fold(std::string_view s, bool lower, std::string& out, std::vector<uint32_t>* origin) {
  out.clear();
  out.reserve(s.size());
  if (origin != nullptr) {
    origin->clear();
    origin->reserve(s.size() + 1);
  }
  bool in_space = false;
  for (size_t pos = 0; pos < s.size();) {
    auto b = static_cast<unsigned char>(s[pos]);
    if (b < 0x80) {  // fast path
      bool space = b == ' ' || (b >= 0x09 && b <= 0x0D);
      if (!space || !in_space) {
        out.push_back(space ? ' ' : static_cast<char>(lower && b >= 'A' && b <= 'Z' ? b + 32 : b));
        if (origin != nullptr) origin->push_back(static_cast<uint32_t>(pos));
      }
      in_space = space;
      ++pos;
      continue;
    }
    DecodedChar d = DecodeLenient(s, pos);
    size_t before = out.size();
    if (internal::IsWhiteSpace(d.cp)) {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      in_space = false;
      uint32_t c = lower ? internal::SimpleLower(d.cp) : d.cp;
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else {
        AppendUtf8(c, &out);
      }
    }
    if (origin != nullptr) origin->insert(origin->end(), out.size() - before, pos);
    pos += d.len;
  }
  if (origin != nullptr) origin->push_back(static_cast<uint32_t>(s.size()));
}

// A keyword as the automaton holds it: NFKC without invisible characters, folded, trimmed.
Result<std::string> FoldKeyword(std::string_view raw, bool case_sensitive) {
  if (!IsValidUtf8(raw)) return InvalidArgumentError("invalid UTF-8");
  std::string normalized, folded;
  std::vector<uint32_t> unused;
  internal::NormalizeWithOrigin(raw, internal::NormalizeOptions{}, normalized, unused);
  Fold(normalized, !case_sensitive, folded, nullptr);
  size_t b = folded.find_first_not_of(' ');
  if (b == std::string::npos) return InvalidArgumentError("empty keyword");
  size_t e = folded.find_last_not_of(' ');
  return folded.substr(b, e + 1 - b);
}

bool ValidListName(std::string_view name) {
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string UpperAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

struct ListInfo {
  std::string rule_id;
  std::string type;
  Action action;
};

struct PatternInfo {
  uint32_t list = 0;
  uint32_t len = 0;         // folded bytes
  bool word_start = false;  // starts with a word character: check the boundary before
  bool word_end = false;    // ends with one: check the boundary after
};

class KeywordsStage final : public Stage {
 public:
  KeywordsStage(const KeywordsStageConfig& config, std::vector<ListInfo> lists,
                std::vector<PatternInfo> patterns, internal::AhoCorasick ac)
      : id_(config.id),
        mode_(config.mode),
        whole_word_(config.whole_word),
        case_sensitive_(config.case_sensitive),
        lists_(std::move(lists)),
        patterns_(std::move(patterns)),
        ac_(std::move(ac)) {}

  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "keywords"; }
  Mode mode() const override { return mode_; }

  Status Inspect(Input& input, StageResult& out) const override {
    std::string folded;
    std::vector<uint32_t> fmap;
    std::vector<std::pair<uint32_t, size_t>> hits;  // (pattern, end in folded)
    for (size_t i = 0; i < input.messages.size(); ++i) {
      const ScanText& text = input.messages[i].text;
      // Most messages match nothing: fold without the byte map first, build it only for hits.
      Fold(text.text(), !case_sensitive_, folded, nullptr);
      hits.clear();
      ac_.Scan(folded, [&](uint32_t p, size_t end) { hits.emplace_back(p, end); });
      if (hits.empty()) continue;
      Fold(text.text(), !case_sensitive_, folded, &fmap);
      for (const auto& [p, end] : hits) {
        const PatternInfo& pat = patterns_[p];
        Span span{fmap[end - pat.len], fmap[end]};
        if (whole_word_ && !AtWordBoundaries(text.text(), span, pat)) continue;
        const ListInfo& list = lists_[pat.list];
        out.findings.push_back(Finding{.rule_id = list.rule_id,
                                       .type = list.type,
                                       .message = static_cast<int32_t>(i),
                                       .span = text.ToOriginal(span),
                                       .score = 1.0,
                                       .action = list.action});
      }
    }
    return Status::Ok();
  }

  // An occurrence still to be completed starts where the longest suffix of the folded text that
  // begins some keyword starts (an occurrence right at the end is in it too: the character after
  // it decides its word boundary).
  std::optional<size_t> PendingFrom(const Input& input) const override {
    if (input.messages.empty()) return std::nullopt;
    const ScanText& st = input.messages[0].text;
    std::string folded;
    std::vector<uint32_t> fmap;
    Fold(st.text(), !case_sensitive_, folded, &fmap);
    const size_t at = fmap[folded.size() - ac_.SuffixDepth(folded)];
    return st.ToOriginal(Span{at, at}).begin;
  }

 private:
  static bool AtWordBoundaries(std::string_view t, Span s, const PatternInfo& pat) {
    if (pat.word_start && s.begin > 0 &&
        internal::IsWordChar(DecodeLenient(t, internal::PreviousCharStart(t, s.begin)).cp)) {
      return false;
    }
    return !(pat.word_end && s.end < t.size() && internal::IsWordChar(DecodeLenient(t, s.end).cp));
  }

  const std::string id_;
  const Mode mode_;
  const bool whole_word_;
  const bool case_sensitive_;
  const std::vector<ListInfo> lists_;
  const std::vector<PatternInfo> patterns_;
  const internal::AhoCorasick ac_;
};

bool StartsWithWordChar(std::string_view s) { return internal::IsWordChar(DecodeLenient(s, 0).cp); }
bool EndsWithWordChar(std::string_view s) {
  return internal::IsWordChar(DecodeLenient(s, internal::PreviousCharStart(s, s.size())).cp);
}

}  // namespace

Result<std::vector<std::string>> LoadKeywordFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  std::vector<std::string> words;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    size_t b = line.find_first_not_of(" \t\r\f\v");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t e = line.find_last_not_of(" \t\r\f\v");
    std::string word = line.substr(b, e + 1 - b);
    Result<std::string> folded = FoldKeyword(word, true);
    if (!folded.ok()) {
      return Status(folded.status().code(),
                    path + ":" + std::to_string(line_no) + ": " + folded.status().message());
    }
    words.push_back(std::move(word));
  }
  if (in.bad()) return DataLossError(path + ": read error");
  return words;
}

Result<std::unique_ptr<Stage>> NewKeywordsStage(const KeywordsStageConfig& config) {
  const std::string& id = config.id;
  if (id.empty()) return InvalidArgumentError("keywords.id: empty stage id");
  if (config.lists.empty()) return InvalidArgumentError(id + ".lists: no keyword lists");
  std::vector<ListInfo> lists;
  std::vector<PatternInfo> patterns;
  std::vector<std::string> folded_words;
  std::unordered_set<std::string> names;
  for (size_t li = 0; li < config.lists.size(); ++li) {
    const KeywordList& list = config.lists[li];
    const std::string field = id + ".lists[" + std::to_string(li) + "]";
    if (!ValidListName(list.name)) {
      return InvalidArgumentError(field + ".name: '" + list.name + "' is not [A-Za-z0-9_-]+");
    }
    if (!list.name.empty() && !names.insert(list.name).second) {
      return InvalidArgumentError(field + ".name: duplicate list name '" + list.name + "'");
    }
    std::vector<std::string> file_words;
    if (!list.file.empty()) {
      Result<std::vector<std::string>> loaded = LoadKeywordFile(list.file);
      if (!loaded.ok()) return loaded.status().WithContext(field + ".file");
      file_words = std::move(loaded).value();
    }
    if (list.words.empty() && file_words.empty()) {
      return InvalidArgumentError(field + ": no keywords (neither words nor a non-empty file)");
    }
    lists.push_back(
        ListInfo{.rule_id = id + "." + (list.name.empty() ? std::to_string(li) : list.name),
                 .type = list.name.empty() ? "KEYWORD" : UpperAscii(list.name),
                 .action = list.action});
    std::unordered_set<std::string> seen;  // duplicates within a list are reported once
    auto add = [&](const std::string& word, const std::string& where) -> Status {
      Result<std::string> folded = FoldKeyword(word, config.case_sensitive);
      if (!folded.ok()) return folded.status().WithContext(where);
      if (!seen.insert(*folded).second) return Status::Ok();
      patterns.push_back(PatternInfo{.list = static_cast<uint32_t>(li),
                                     .len = static_cast<uint32_t>(folded->size()),
                                     .word_start = StartsWithWordChar(*folded),
                                     .word_end = EndsWithWordChar(*folded)});
      folded_words.push_back(std::move(folded).value());
      return Status::Ok();
    };
    for (size_t wi = 0; wi < list.words.size(); ++wi) {
      PARAPET_RETURN_IF_ERROR(add(list.words[wi], field + ".words[" + std::to_string(wi) + "]"));
    }
    for (const std::string& word : file_words) PARAPET_RETURN_IF_ERROR(add(word, field + ".file"));
  }
  Result<internal::AhoCorasick> ac =
      internal::AhoCorasick::Build(folded_words, config.max_table_bytes);
  if (!ac.ok()) return ac.status().WithContext(id + ".max_table_bytes");
  return std::unique_ptr<Stage>(
      new KeywordsStage(config, std::move(lists), std::move(patterns), std::move(ac).value()));
}

}  // namespace parapet::pipeline
