// GuardModelRegistry and the template names.
#include "pipeline/guard_model.h"

namespace parapet::pipeline {

std::optional<GuardTemplate> GuardTemplateFromName(std::string_view name) {
  if (name == "llama-guard-3") return GuardTemplate::kLlamaGuard3;
  if (name == "llama-guard-3-1b") return GuardTemplate::kLlamaGuard3_1B;
  if (name == "llama-guard-2") return GuardTemplate::kLlamaGuard2;
  return std::nullopt;
}

const char* GuardTemplateName(GuardTemplate t) {
  switch (t) {
    case GuardTemplate::kLlamaGuard3:
      return "llama-guard-3";
    case GuardTemplate::kLlamaGuard3_1B:
      return "llama-guard-3-1b";
    case GuardTemplate::kLlamaGuard2:
      return "llama-guard-2";
  }
  return "?";
}

Status GuardModelRegistry::Add(std::shared_ptr<const GuardScorer> scorer) {
  PARAPET_CHECK(scorer != nullptr);
  const std::string& id = scorer->model_id();
  if (id.empty()) return InvalidArgumentError("guard model: empty model id");
  if (scorers_.count(id) != 0) {
    return InvalidArgumentError("guard model '" + id + "': loaded twice (ids must be unique)");
  }
  scorers_.emplace(id, std::move(scorer));
  return Status::Ok();
}

std::shared_ptr<const GuardScorer> GuardModelRegistry::Find(std::string_view model_id) const {
  auto it = scorers_.find(model_id);
  return it == scorers_.end() ? nullptr : it->second;
}

std::vector<std::string> GuardModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [id, scorer] : scorers_) out.push_back(id);
  return out;
}

}  // namespace parapet::pipeline
