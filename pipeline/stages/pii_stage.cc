// PiiStage: one RE2::Set pass over the enabled detectors' candidate patterns, then per matching
// recognizer its RE2 and check; overlapping findings keep the higher-priority detector.
#include "pipeline/stages/pii_stage.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <utility>

#include "pipeline/internal/pending_match.h"
#include "pipeline/internal/pii_recognizers.h"
#include "pipeline/internal/set_match.h"

namespace parapet::pipeline {
namespace {

using internal::PiiDetector;
using internal::PiiRecognizer;

struct CompiledRecognizer {
  const PiiRecognizer* rec = nullptr;
  std::unique_ptr<RE2> re;
  std::string rule_id;
  Action action = Action::kRedact;
};

struct Candidate {
  Finding finding;
  PiiDetector detector;
};

class PiiStage final : public Stage {
 public:
  PiiStage(const PiiStageConfig& config, std::unique_ptr<RE2::Set> set,
           std::vector<CompiledRecognizer> recs)
      : id_(config.id),
        mode_(config.mode),
        min_score_(config.min_score),
        opts_{config.ssn_unformatted_needs_context, config.phone_reject_fiction},
        set_(std::move(set)),
        recs_(std::move(recs)),
        pending_(Patterns(recs_), kRightContext, config.max_mem_bytes) {}

  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "pii"; }
  Mode mode() const override { return mode_; }

  Status Inspect(Input& input, StageResult& out) const override {
    for (size_t i = 0; i < input.messages.size(); ++i) {
      PARAPET_RETURN_IF_ERROR(InspectMessage(static_cast<int32_t>(i), input.messages[i].text, out));
    }
    return Status::Ok();
  }

  // Candidates still growing, and complete ones within kRightContext characters of the end
  // (checks look past a candidate: "office" after a phone number, more digits after a card).
  std::optional<size_t> PendingFrom(const Input& input) const override {
    if (input.messages.empty()) return std::nullopt;
    return pending_.PendingFrom(input.messages[0].text);
  }

 private:
  static constexpr int kRightContext = 16;

  static std::vector<std::string> Patterns(const std::vector<CompiledRecognizer>& recs) {
    std::vector<std::string> out;
    for (const CompiledRecognizer& r : recs) out.push_back(r.rec->pattern);
    return out;
  }

  Status InspectMessage(int32_t index, const ScanText& st, StageResult& out) const {
    const std::string& text = st.text();
    std::vector<int> hits;
    PARAPET_RETURN_IF_ERROR(
        internal::MatchSet(*set_, text, "pii stage '" + id_ + "'", index, hits));
    std::vector<Candidate> found;
    for (int h : hits) Collect(recs_[static_cast<size_t>(h)], text, index, found);
    // Keep the higher-priority detector on overlap (stable: earlier recognizers first).
    std::stable_sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
      return a.detector < b.detector;
    });
    std::vector<Candidate> kept;
    for (Candidate& c : found) {
      bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Candidate& k) {
        return k.finding.span.begin < c.finding.span.end &&
               c.finding.span.begin < k.finding.span.end;
      });
      if (!overlaps) kept.push_back(std::move(c));
    }
    std::sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
      return a.finding.span.begin < b.finding.span.begin;
    });
    for (Candidate& c : kept) {
      c.finding.span = st.ToOriginal(c.finding.span);
      out.findings.push_back(std::move(c.finding));
    }
    return Status::Ok();
  }

  // Runs one recognizer over `text`; appends accepted candidates (spans in text() offsets).
  void Collect(const CompiledRecognizer& cr, const std::string& text, int32_t index,
               std::vector<Candidate>& found) const {
    const int ngroups = std::min(cr.re->NumberOfCapturingGroups(), 1);
    std::array<re2::StringPiece, 2> m;
    size_t pos = 0;
    while (pos < text.size() &&
           cr.re->Match(text, pos, text.size(), RE2::UNANCHORED, m.data(), 1 + ngroups)) {
      const re2::StringPiece& whole = m[0];
      size_t next =
          static_cast<size_t>(whole.data() - text.data()) + std::max<size_t>(whole.size(), 1);
      const re2::StringPiece& value = ngroups == 1 && m[1].data() != nullptr ? m[1] : whole;
      size_t b = static_cast<size_t>(value.data() - text.data());
      Span span{b, b + value.size()};
      double score = 0.0;
      internal::PiiCandidate cand{text, span};
      if (span.end > span.begin && cr.rec->check(cand, opts_, &span, &score) &&
          score >= min_score_) {
        Candidate c{Finding{}, cr.rec->detector};
        c.finding.rule_id = cr.rule_id;
        c.finding.type = cr.rec->type;
        c.finding.message = index;
        c.finding.span = span;
        c.finding.score = score;
        c.finding.action = cr.action;
        found.push_back(std::move(c));
      }
      pos = next;
    }
  }

  std::string id_;
  Mode mode_;
  double min_score_;
  internal::PiiCheckOptions opts_;
  std::unique_ptr<RE2::Set> set_;
  std::vector<CompiledRecognizer> recs_;  // Set index k -> recs_[k]
  internal::LazyPendingMatcher pending_;
};

// Resolves detector names (and the "secrets" group) to per-detector actions.
Status ResolveDetectors(const PiiStageConfig& config,
                        std::array<std::optional<Action>, internal::kNumPiiDetectors>& enabled) {
  if (config.detectors.empty()) return InvalidArgumentError("pii.detectors: empty");
  for (size_t i = 0; i < config.detectors.size(); ++i) {
    const PiiDetectorConfig& d = config.detectors[i];
    const std::string field = "pii.detectors[" + std::to_string(i) + "].name";
    bool group = d.name == "secrets" || d.name == "api_key";
    bool any = false;
    for (int k = 0; k < internal::kNumPiiDetectors; ++k) {
      PiiDetector det = static_cast<PiiDetector>(k);
      if (group ? !internal::IsSecret(det) : d.name != internal::PiiDetectorName(det)) continue;
      if (enabled[k].has_value() && !group) {
        return InvalidArgumentError(field + ": detector '" + d.name + "' listed twice");
      }
      enabled[k] = d.action.value_or(internal::IsSecret(det) ? Action::kBlock : Action::kRedact);
      any = true;
    }
    if (!any) return InvalidArgumentError(field + ": unknown detector '" + d.name + "'");
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& PiiDetectorNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> v;
    for (int k = 0; k < internal::kNumPiiDetectors; ++k) {
      v.emplace_back(internal::PiiDetectorName(static_cast<PiiDetector>(k)));
    }
    return v;
  }();
  return kNames;
}

Result<std::unique_ptr<Stage>> NewPiiStage(const PiiStageConfig& config) {
  if (config.id.empty()) return InvalidArgumentError("pii.id: missing");
  if (!(config.min_score >= 0.0 && config.min_score <= 1.0)) {
    return InvalidArgumentError("pii.min_score: must be in [0, 1]");
  }
  if (config.max_mem_bytes < 1024)
    return InvalidArgumentError("pii.max_mem_bytes: must be >= 1024");
  std::array<std::optional<Action>, internal::kNumPiiDetectors> enabled;
  PARAPET_RETURN_IF_ERROR(ResolveDetectors(config, enabled));
  RE2::Options opt;
  opt.set_log_errors(false);
  opt.set_max_mem(config.max_mem_bytes);
  auto set = std::make_unique<RE2::Set>(opt, RE2::UNANCHORED);
  std::vector<CompiledRecognizer> recs;
  for (const PiiRecognizer& r : internal::PiiRecognizers()) {
    const auto& action = enabled[static_cast<size_t>(r.detector)];
    if (!action.has_value()) continue;
    const std::string name = internal::PiiDetectorName(r.detector);
    std::string err;
    CompiledRecognizer cr;
    cr.rec = &r;
    cr.re = std::make_unique<RE2>(r.pattern, opt);
    if (set->Add(r.pattern, &err) < 0 || !cr.re->ok()) {
      return InvalidArgumentError("pii detector '" + name + "': pattern does not compile within " +
                                  "max_mem_bytes: " + (err.empty() ? cr.re->error() : err));
    }
    cr.rule_id = config.id + "." + name;
    cr.action = *action;
    recs.push_back(std::move(cr));
  }
  if (!set->Compile()) {
    return InvalidArgumentError("pii.max_mem_bytes: the detectors' RE2::Set does not fit " +
                                std::to_string(config.max_mem_bytes) + " bytes");
  }
  return std::unique_ptr<Stage>(
      std::make_unique<PiiStage>(config, std::move(set), std::move(recs)));
}

}  // namespace parapet::pipeline
