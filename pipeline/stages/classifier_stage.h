// The "classifier" stage: a fastText model (pipeline/internal/classifier_model.h) scores each
// message. The text is normalised as at training (ClassifierText), split into windows of
// `window_words` words (consecutive windows overlap by half), and each label's score is its
// highest probability over the windows — a long text is as suspicious as its worst part.
//
// Per configured label: a score at or above `threshold` is a finding with the label's action
// (block by default); at or above `flag_threshold` (when set, below `threshold`) a flag. Every
// label of the model also gets a score-only finding (action allow: it changes nothing) so the
// verdict, `policy explain`, `/v1/moderations` category scores and the audit records see the
// scores. Findings: rule id "<id>.<label>", type = the label upper-cased, span = empty (the whole
// message), score = the probability.
//
// Thread-safety: immutable after NewClassifierStage; Inspect may run on many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

struct ClassifierLabelConfig {
  std::string label;             // a label of the model (without "__label__")
  double threshold = 1.1;        // > 1: never acts (score-only)
  double flag_threshold = 1.1;   // > 1: no flag band
  std::optional<Action> action;  // default: the stage's action; allow | flag | block
};

struct ClassifierStageConfig {
  std::string id = "classifier";
  Mode mode = Mode::kEnforce;
  std::string model;                          // .bin / .ftz path
  std::vector<ClassifierLabelConfig> labels;  // at least one
  Action action = Action::kBlock;             // redact is not allowed (no span to mask)
  int window_words = 256;                     // >= 8
  // Texts with fewer words are scored but never acted on: one or two words carry too little
  // evidence for a bag-of-words model ("Hi" and "Go" can score anything).
  int min_words = 1;
  bool whole_text = false;  // output stages: score the whole response so far, not a window
  // Input stages: score only messages with these roles (empty: every message the policy scans).
  // A jailbreak detector is meant for what end users write, not the operator's system prompt.
  std::vector<std::string> roles;
};

// Builds the stage, loading the model. Errors name the field: "<id>.model: …: not a fastText
// model", "<id>.labels[1].label: the model has no label 'x' (labels: attack, benign)".
Result<std::unique_ptr<Stage>> NewClassifierStage(const ClassifierStageConfig& config);

}  // namespace parapet::pipeline
