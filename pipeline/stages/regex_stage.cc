// RegexStage: one RE2::Set pass per message, then per matching pattern an RE2 for its spans.
#include "pipeline/stages/regex_stage.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "pipeline/internal/pending_match.h"
#include "pipeline/internal/set_match.h"

namespace parapet::pipeline {
namespace {

struct CompiledPattern {
  std::string id;
  std::string rule_id;
  std::string type;
  Action action = Action::kBlock;
  std::unique_ptr<RE2> re;
};

// The pattern as the Set and the per-pattern RE2 see it: flags inline, so that one Set (which
// has one Options for all its patterns) honours each pattern's own flags.
std::string EffectivePattern(const std::string& pattern, bool literal, bool case_insensitive,
                             bool dot_nl, bool word_boundary) {
  std::string body = literal ? RE2::QuoteMeta(pattern) : pattern;
  std::string flags = std::string(case_insensitive ? "i" : "") + (dot_nl ? "s" : "");
  std::string out = "(?" + flags + ":" + body + ")";
  if (word_boundary) out = "\\b" + out + "\\b";
  return out;
}

RE2::Options BaseOptions(int64_t max_mem_bytes) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(max_mem_bytes);
  return o;
}

bool ValidId(const std::string& id) {
  if (id.empty()) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

std::string DefaultType(const std::string& id) {
  std::string t = id;
  for (char& c : t) c = c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return t;
}

// Compiles `effective`; on failure the error names `field` and gives RE2's text for the
// pattern as the author wrote it (not the wrapped form) when that alone fails.
Result<std::unique_ptr<RE2>> CompileOne(const std::string& field, const std::string& raw,
                                        const std::string& effective, bool longest_match,
                                        int64_t max_mem_bytes) {
  RE2::Options o = BaseOptions(max_mem_bytes);
  o.set_longest_match(longest_match);
  auto re = std::make_unique<RE2>(effective, o);
  if (re->ok()) return re;
  std::string why = re->error();
  if (re->error_code() == RE2::ErrorPatternTooLarge) {
    why = "pattern too large for max_mem_bytes=" + std::to_string(max_mem_bytes) + " (" + why + ")";
  } else {
    RE2 alone(raw, BaseOptions(max_mem_bytes));
    if (!alone.ok()) why = alone.error();
  }
  return InvalidArgumentError(field + ": " + why);
}

std::vector<Span> FindAll(const RE2& re, const std::string& text) {
  std::vector<Span> spans;
  re2::StringPiece m;
  size_t pos = 0;
  while (pos <= text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
    size_t b = static_cast<size_t>(m.data() - text.data());
    size_t e = b + m.size();
    if (e > b) {
      spans.push_back({b, e});
      pos = e;
    } else {  // empty match: nothing to report; step over one UTF-8 character
      pos = b + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  return spans;
}

class RegexStage final : public Stage {
 public:
  RegexStage(std::string id, Mode mode, std::unique_ptr<RE2::Set> set,
             std::vector<CompiledPattern> deny, std::vector<std::unique_ptr<RE2>> allow,
             int64_t max_mem_bytes)
      : id_(std::move(id)),
        mode_(mode),
        set_(std::move(set)),
        deny_(std::move(deny)),
        allow_(std::move(allow)),
        pending_(AllPatterns(deny_, allow_), 0, max_mem_bytes) {}

  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "regex"; }
  Mode mode() const override { return mode_; }

  Status Inspect(Input& input, StageResult& out) const override {
    for (size_t i = 0; i < input.messages.size(); ++i) {
      PARAPET_RETURN_IF_ERROR(InspectMessage(static_cast<int32_t>(i), input.messages[i].text, out));
    }
    return Status::Ok();
  }

  std::vector<std::string> RulesLongerThan(size_t chars) const override {
    std::vector<std::string> out;
    auto check = [&](const std::string& rule, const RE2& re) {
      Result<std::optional<size_t>> most = internal::MaxMatchChars(re.pattern());
      if (!most.ok()) return;  // not analysable: no claim either way
      if (!most->has_value()) {
        out.push_back(rule + ": can match any number of characters (* + or {n,})");
      } else if (**most > chars) {
        out.push_back(rule + ": can match up to " + std::to_string(**most) + " characters");
      }
    };
    for (const CompiledPattern& p : deny_) check(p.rule_id, *p.re);
    for (size_t k = 0; k < allow_.size(); ++k) {
      check(id_ + ".allow[" + std::to_string(k) + "]", *allow_[k]);
    }
    return out;
  }

  // Deny and allow patterns alike: an allow match still growing could exempt a deny match.
  std::optional<size_t> PendingFrom(const Input& input) const override {
    if (input.messages.empty()) return std::nullopt;
    return pending_.PendingFrom(input.messages[0].text);
  }

 private:
  static std::vector<std::string> AllPatterns(const std::vector<CompiledPattern>& deny,
                                              const std::vector<std::unique_ptr<RE2>>& allow) {
    std::vector<std::string> all;
    for (const CompiledPattern& p : deny) all.push_back(p.re->pattern());
    for (const std::unique_ptr<RE2>& a : allow) all.push_back(a->pattern());
    return all;
  }

  Status InspectMessage(int32_t index, const ScanText& st, StageResult& out) const {
    const std::string& text = st.text();
    std::vector<int> hits;
    PARAPET_RETURN_IF_ERROR(
        internal::MatchSet(*set_, text, "regex stage '" + id_ + "'", index, hits));
    if (hits.empty()) return Status::Ok();
    std::vector<Span> allowed;
    for (int h : hits) {
      size_t k = static_cast<size_t>(h);
      if (k < deny_.size()) continue;
      for (Span s : FindAll(*allow_[k - deny_.size()], text)) allowed.push_back(s);
    }
    for (int h : hits) {
      size_t k = static_cast<size_t>(h);
      if (k >= deny_.size()) break;
      const CompiledPattern& p = deny_[k];
      for (Span s : FindAll(*p.re, text)) {
        bool exempt = std::any_of(allowed.begin(), allowed.end(),
                                  [&](Span a) { return a.begin < s.end && s.begin < a.end; });
        if (exempt) continue;
        Finding f;
        f.rule_id = p.rule_id;
        f.type = p.type;
        f.message = index;
        f.span = st.ToOriginal(s);
        f.action = p.action;
        out.findings.push_back(std::move(f));
      }
    }
    return Status::Ok();
  }

  std::string id_;
  Mode mode_;
  std::unique_ptr<RE2::Set> set_;
  std::vector<CompiledPattern> deny_;        // Set indices [0, deny_.size())
  std::vector<std::unique_ptr<RE2>> allow_;  // Set indices deny_.size() + k
  internal::LazyPendingMatcher pending_;
};

// Checks each deny or allow entry, adds it to the one Set and compiles its own RE2.
class SetBuilder {
 public:
  explicit SetBuilder(int64_t max_mem_bytes)
      : max_mem_bytes_(max_mem_bytes),
        set_(std::make_unique<RE2::Set>(BaseOptions(max_mem_bytes), RE2::UNANCHORED)) {}

  // `field` is "regex.patterns[3]"; errors name it and the pattern id.
  Result<std::unique_ptr<RE2>> Add(const std::string& field, const std::string& id,
                                   const std::string& pattern, const std::string& effective,
                                   bool longest_match) {
    if (!ValidId(id)) return InvalidArgumentError(field + ".id: missing or not [A-Za-z0-9_.-]+");
    if (std::find(seen_.begin(), seen_.end(), id) != seen_.end()) {
      return InvalidArgumentError(field + ".id: duplicate id '" + id + "'");
    }
    seen_.push_back(id);
    const std::string where = field + ".pattern (id '" + id + "')";
    if (pattern.empty()) return InvalidArgumentError(where + ": empty");
    std::string err;
    if (set_->Add(effective, &err) < 0) {
      RE2 alone(pattern, BaseOptions(max_mem_bytes_));
      return InvalidArgumentError(where + ": " + (alone.ok() ? err : alone.error()));
    }
    return CompileOne(where, pattern, effective, longest_match, max_mem_bytes_);
  }

  // Compiles the Set; an error when it does not fit max_mem_bytes.
  Result<std::unique_ptr<RE2::Set>> Finish() {
    if (!set_->Compile()) {
      return InvalidArgumentError(
          "regex.patterns: the RE2::Set of " + std::to_string(seen_.size()) +
          " patterns does not fit max_mem_bytes=" + std::to_string(max_mem_bytes_));
    }
    return std::move(set_);
  }

 private:
  int64_t max_mem_bytes_;
  std::unique_ptr<RE2::Set> set_;
  std::vector<std::string> seen_;
};

}  // namespace

Result<std::unique_ptr<Stage>> NewRegexStage(const RegexStageConfig& config) {
  if (!ValidId(config.id)) return InvalidArgumentError("regex.id: missing or not [A-Za-z0-9_.-]+");
  if (config.patterns.empty()) return InvalidArgumentError("regex.patterns: empty");
  if (config.max_mem_bytes < 1024) {
    return InvalidArgumentError("regex.max_mem_bytes: must be >= 1024");
  }
  SetBuilder builder(config.max_mem_bytes);
  std::vector<CompiledPattern> deny;
  for (size_t i = 0; i < config.patterns.size(); ++i) {
    const RegexPatternConfig& p = config.patterns[i];
    CompiledPattern c;
    PARAPET_ASSIGN_OR_RETURN(
        c.re, builder.Add("regex.patterns[" + std::to_string(i) + "]", p.id, p.pattern,
                          EffectivePattern(p.pattern, p.literal, p.case_insensitive, p.dot_nl,
                                           p.word_boundary),
                          p.longest_match));
    c.id = p.id;
    c.rule_id = config.id + "." + p.id;
    c.type = p.type.empty() ? DefaultType(p.id) : p.type;
    c.action = p.action.value_or(config.action);
    deny.push_back(std::move(c));
  }
  std::vector<std::unique_ptr<RE2>> allow;
  for (size_t i = 0; i < config.allow.size(); ++i) {
    const RegexAllowConfig& a = config.allow[i];
    std::unique_ptr<RE2> re;
    PARAPET_ASSIGN_OR_RETURN(
        re, builder.Add("regex.allow[" + std::to_string(i) + "]", a.id, a.pattern,
                        EffectivePattern(a.pattern, a.literal, a.case_insensitive, a.dot_nl,
                                         a.word_boundary),
                        false));
    allow.push_back(std::move(re));
  }
  std::unique_ptr<RE2::Set> set;
  PARAPET_ASSIGN_OR_RETURN(set, builder.Finish());
  return std::unique_ptr<Stage>(std::make_unique<RegexStage>(config.id, config.mode, std::move(set),
                                                             std::move(deny), std::move(allow),
                                                             config.max_mem_bytes));
}

}  // namespace parapet::pipeline
