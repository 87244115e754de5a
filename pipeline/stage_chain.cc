// StageChain: running stages, deciding the verdict, applying redactions.
#include "pipeline/stage_chain.h"

#include <algorithm>
#include <chrono>

namespace parapet::pipeline {
namespace {

int Rank(Action a) {
  switch (a) {
    case Action::kAllow:
      return 0;
    case Action::kFlag:
      return 1;
    case Action::kRedact:
      return 2;
    case Action::kBlock:
      return 3;
  }
  return 3;
}

}  // namespace

StageChain::StageChain(std::vector<std::unique_ptr<const Stage>> stages, OnError on_error)
    : stages_(std::move(stages)), on_error_(on_error) {}

bool StageChain::has_costly_whole_text_stages() const {
  for (const std::unique_ptr<const Stage>& s : stages_) {
    if (s->whole_text() && s->costly()) return true;
  }
  return false;
}

bool StageChain::has_whole_text_stages() const {
  return std::any_of(stages_.begin(), stages_.end(),
                     [](const std::unique_ptr<const Stage>& s) { return s->whole_text(); });
}

Verdict StageChain::Run(Input& input, StageSelection which, bool pending) const {
  Verdict v;
  std::vector<PriorStage> prior;  // ids view the stages' own strings
  for (const std::unique_ptr<const Stage>& stage : stages_) {
    if (which != StageSelection::kAll &&
        stage->whole_text() != (which == StageSelection::kWholeText)) {
      continue;
    }
    if (!stage->ShouldRun(PriorStages{v.action, prior})) {
      StageReport report;
      report.stage_id = stage->id();
      report.type = std::string(stage->type());
      report.mode = stage->mode();
      report.skipped = true;
      v.stages.push_back(std::move(report));
      prior.push_back(PriorStage{stage->id(), stage->mode(), false, false, Action::kAllow});
      continue;
    }
    StageResult result;
    const auto t0 = std::chrono::steady_clock::now();
    Status st = stage->Inspect(input, result);
    const auto t1 = std::chrono::steady_clock::now();
    StageReport report{stage->id(),
                       std::string(stage->type()),
                       stage->mode(),
                       std::chrono::duration<double, std::micro>(t1 - t0).count(),
                       st,
                       result.findings.size(),
                       std::nullopt};
    if (pending && st.ok()) report.pending_from = stage->PendingFrom(input);
    const bool shadow = stage->mode() == Mode::kShadow;
    if (!st.ok() && !shadow && on_error_ == OnError::kBlock) {
      // Could not decide, and the policy fails closed.
      Finding f;
      f.rule_id = stage->id() + ".error";
      f.type = "STAGE_ERROR";
      f.action = Action::kBlock;
      result.findings.push_back(std::move(f));
    }
    PriorStage done{stage->id(), stage->mode(), true, !st.ok(), Action::kAllow};
    std::vector<Finding>& into = shadow ? v.shadow : v.findings;
    for (Finding& f : result.findings) {
      if (Rank(f.action) > Rank(done.strongest)) done.strongest = f.action;
      if (!shadow && Rank(f.action) > Rank(v.action)) {
        v.action = f.action;
        if (f.action == Action::kBlock) v.deciding_index = static_cast<int32_t>(into.size());
      }
      into.push_back(std::move(f));
    }
    v.stages.push_back(std::move(report));
    prior.push_back(done);
  }
  return v;
}

std::string Redact(const std::string& original, const std::vector<Finding>& findings, int32_t index,
                   const std::string& mask) {
  std::vector<const Finding*> spans;
  for (const Finding& f : findings) {
    if (f.message == index && f.span.end > f.span.begin && f.span.end <= original.size() &&
        (f.action == Action::kRedact || f.action == Action::kBlock)) {
      spans.push_back(&f);
    }
  }
  std::stable_sort(spans.begin(), spans.end(), [](const Finding* a, const Finding* b) {
    return a->span.begin < b->span.begin;
  });
  std::string out;
  size_t at = 0;
  for (size_t i = 0; i < spans.size();) {
    const Finding* first = spans[i];
    size_t end = first->span.end;
    for (++i; i < spans.size() && spans[i]->span.begin < end; ++i) {
      end = std::max(end, spans[i]->span.end);
    }
    out.append(original, at, first->span.begin - at);
    std::string m = mask;
    for (size_t p; (p = m.find("{type}")) != std::string::npos;) m.replace(p, 6, first->type);
    out += m;
    at = end;
  }
  out.append(original, at, std::string::npos);
  return out;
}

}  // namespace parapet::pipeline
