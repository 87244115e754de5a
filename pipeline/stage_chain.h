// StageChain: a policy's stages in order over one Input, and the Verdict they add up to.
// Each stage sees the text as the stages before it left it (a unicode stage normalises for the
// rest). Findings of enforcing stages decide the verdict — block beats redact beats flag beats
// allow; findings of shadow stages are recorded in the verdict but never change it. A stage that
// cannot decide (error Status) is handled per the policy's `on_error`: block (the default: fail
// closed), or allow (the error is recorded and the chain goes on).
//
// Thread-safety: a StageChain is immutable after construction; Run may be called from many
// threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

enum class OnError { kBlock, kAllow };

// Which of a chain's stages one Run uses (the stream guard runs local and whole-text stages on
// different stretches of text; Stage::whole_text()).
enum class StageSelection { kAll, kLocal, kWholeText };

// What one stage did in one run.
struct StageReport {
  std::string stage_id;
  std::string type;
  Mode mode = Mode::kEnforce;
  double micros = 0;  // time Inspect took
  Status status;      // not OK: the stage could not decide
  size_t n_findings = 0;
  // Only when Run was asked for it: Stage::PendingFrom right after this stage's Inspect.
  std::optional<size_t> pending_from;
  bool skipped = false;  // Stage::ShouldRun said no: not run (status OK, no findings)
};

struct Verdict {
  Action action = Action::kAllow;  // the decision (enforcing stages only)
  std::vector<Finding> findings;   // enforcing stages' findings, in stage order
  std::vector<Finding> shadow;     // shadow stages' findings (never acted on)
  std::vector<StageReport> stages;
  // The finding that decided a block (rule id and message for the client), when action is
  // kBlock; a stage error under on_error: block has rule_id "<stage id>.error".
  const Finding* deciding() const {
    return deciding_index < 0 ? nullptr : &findings[deciding_index];
  }
  int32_t deciding_index = -1;
};

class StageChain {
 public:
  StageChain(std::vector<std::unique_ptr<const Stage>> stages, OnError on_error);

  // Runs every stage (all of them, even after a block, so the verdict and the audit trail see
  // every finding) — except a stage whose ShouldRun, given the stages before it in this run,
  // says no; it is reported as skipped. Message texts in `input` end up as the last rewriting stage
  // left them. With a selection, only those stages run (the others are skipped, not reported). With
  // `pending`, each report also gets the stage's PendingFrom (the stream guard's early release).
  Verdict Run(Input& input, StageSelection which = StageSelection::kAll,
              bool pending = false) const;

  size_t size() const { return stages_.size(); }
  bool has_whole_text_stages() const;
  bool has_costly_whole_text_stages() const;  // Stage::costly() among them
  const std::vector<std::unique_ptr<const Stage>>& stages() const { return stages_; }
  OnError on_error() const { return on_error_; }

 private:
  std::vector<std::unique_ptr<const Stage>> stages_;
  OnError on_error_;
};

// `original` with every redact-or-block finding's span (for message `index`) replaced by `mask`,
// where "{type}" in the mask becomes the finding's type ("[{type}]" -> "[EMAIL]"). Overlapping
// spans merge (the first type wins). Findings of other messages are ignored.
std::string Redact(const std::string& original, const std::vector<Finding>& findings, int32_t index,
                   const std::string& mask);

}  // namespace parapet::pipeline
