// ClassifierStage: windows, per-label thresholds, score findings.
#include "pipeline/stages/classifier_stage.h"

#include <algorithm>

#include "pipeline/internal/classifier_model.h"

namespace parapet::pipeline {
namespace {

struct LabelRule {
  size_t index = 0;  // in the model's labels
  std::string rule_id;
  std::string type;
  double threshold = 1.1;
  double flag_threshold = 1.1;
  Action action = Action::kBlock;
};

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '-') c = '_';
  }
  return s;
}

class ClassifierStage final : public Stage {
 public:
  ClassifierStage(const ClassifierStageConfig& c,
                  std::shared_ptr<const internal::ClassifierModel> model,
                  std::vector<LabelRule> rules)
      : id_(c.id),
        mode_(c.mode),
        window_words_(static_cast<size_t>(c.window_words)),
        min_words_(static_cast<size_t>(c.min_words)),
        whole_text_(c.whole_text),
        roles_(c.roles),
        model_(std::move(model)),
        rules_(std::move(rules)) {}

  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "classifier"; }
  Mode mode() const override { return mode_; }
  bool whole_text() const override { return whole_text_; }

  Status Inspect(Input& input, StageResult& out) const override {
    for (size_t m = 0; m < input.messages.size(); ++m) {
      if (!roles_.empty() &&
          std::find(roles_.begin(), roles_.end(), input.messages[m].role) == roles_.end()) {
        continue;
      }
      // The original text: the classifier normalises as it did at training.
      size_t words = 0;
      const std::vector<double> scores =
          model_->ScoreText(input.messages[m].text.original(), window_words_, &words);
      const bool may_act = words >= min_words_;
      for (size_t l = 0; l < model_->labels().size(); ++l) {
        const LabelRule* rule = nullptr;
        for (const LabelRule& r : rules_) {
          if (r.index == l) rule = &r;
        }
        Finding f;
        f.rule_id = rule != nullptr ? rule->rule_id : id_ + "." + model_->labels()[l];
        f.type = rule != nullptr ? rule->type : Upper(model_->labels()[l]);
        f.message = static_cast<int32_t>(m);
        f.score = scores[l];
        f.action = Action::kAllow;
        if (rule == nullptr || !may_act) {
          // score only
        } else if (scores[l] >= rule->threshold) {
          f.action = rule->action;
        } else if (scores[l] >= rule->flag_threshold) {
          f.action = Action::kFlag;
        }
        out.findings.push_back(std::move(f));
      }
    }
    return Status::Ok();
  }

 private:
  std::string id_;
  Mode mode_;
  size_t window_words_;
  size_t min_words_;
  bool whole_text_;
  std::vector<std::string> roles_;
  std::shared_ptr<const internal::ClassifierModel> model_;
  std::vector<LabelRule> rules_;
};

}  // namespace

Result<std::unique_ptr<Stage>> NewClassifierStage(const ClassifierStageConfig& c) {
  if (c.id.empty()) return InvalidArgumentError("classifier.id: missing");
  if (c.model.empty()) return InvalidArgumentError(c.id + ".model: missing (a .bin or .ftz file)");
  if (c.window_words < 8) return InvalidArgumentError(c.id + ".window_words: must be >= 8");
  if (c.min_words < 1) return InvalidArgumentError(c.id + ".min_words: must be >= 1");
  if (c.action == Action::kRedact) {
    return InvalidArgumentError(c.id +
                                ".action: allow, flag or block (a score has no span to redact)");
  }
  if (c.labels.empty()) return InvalidArgumentError(c.id + ".labels: name at least one label");
  Result<std::shared_ptr<const internal::ClassifierModel>> model =
      internal::ClassifierModel::Load(c.model);
  if (!model.ok()) return model.status().WithContext(c.id + ".model");
  std::vector<LabelRule> rules;
  for (size_t i = 0; i < c.labels.size(); ++i) {
    const ClassifierLabelConfig& l = c.labels[i];
    const std::string field = c.id + ".labels[" + std::to_string(i) + "]";
    const std::vector<std::string>& names = (*model)->labels();
    auto it = std::find(names.begin(), names.end(), l.label);
    if (it == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      return InvalidArgumentError(field + ".label: the model has no label '" + l.label +
                                  "' (labels: " + known + ")");
    }
    for (const LabelRule& r : rules) {
      if (names[r.index] == l.label) {
        return InvalidArgumentError(field + ".label: '" + l.label + "' appears twice");
      }
    }
    if (!(l.threshold >= 0)) return InvalidArgumentError(field + ".threshold: must be >= 0");
    if (!(l.flag_threshold >= 0)) return InvalidArgumentError(field + ".flag: must be >= 0");
    const Action action = l.action.value_or(c.action);
    if (action == Action::kRedact) {
      return InvalidArgumentError(field + ".action: allow, flag or block");
    }
    rules.push_back(LabelRule{static_cast<size_t>(it - names.begin()), c.id + "." + l.label,
                              Upper(l.label), l.threshold, l.flag_threshold, action});
  }
  return std::unique_ptr<Stage>(std::make_unique<ClassifierStage>(c, *model, std::move(rules)));
}

}  // namespace parapet::pipeline
