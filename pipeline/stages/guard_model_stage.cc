// GuardModelStage: turns -> prompt -> scorer -> score, categories, findings.
#include "pipeline/stages/guard_model_stage.h"

#include <chrono>
#include <cmath>
#include <set>
#include <utility>

#include "pipeline/internal/guard_prompt.h"

namespace parapet::pipeline {
namespace {

using internal::GuardRole;
using internal::GuardTurn;

// The conversation to render: turns whose texts it owns, and the judged message's index.
struct Conversation {
  std::vector<std::pair<GuardRole, std::string>> turns;
  int32_t judged = -1;

  // Appends a turn; consecutive turns of one role become one, joined by a blank line (the
  // models expect alternating turns).
  void Add(GuardRole role, std::string_view text) {
    if (!turns.empty() && turns.back().first == role) {
      turns.back().second += "\n\n";
      turns.back().second += text;
    } else {
      turns.emplace_back(role, std::string(text));
    }
  }
};

GuardRole RoleOf(const std::string& role) {
  return role == "assistant" ? GuardRole::kAgent : GuardRole::kUser;  // user, system: the client
}

bool ValidCode(const std::string& code) {
  if (code.empty()) return false;
  for (char c : code) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class GuardModelStage final : public Stage {
 public:
  GuardModelStage(const GuardModelStageConfig& c, std::shared_ptr<const GuardScorer> scorer,
                  std::vector<GuardCategory> taxonomy)
      : c_(c), scorer_(std::move(scorer)), renderer_(c.prompt_template, std::move(taxonomy)) {
    for (const GuardCategory& cat : renderer_.taxonomy()) codes_.insert(cat.code);
  }

  const std::string& id() const override { return c_.id; }
  std::string_view type() const override { return "guard_model"; }
  Mode mode() const override { return c_.mode; }
  bool whole_text() const override { return c_.output; }
  bool costly() const override { return true; }

  bool ShouldRun(const PriorStages& prior) const override {
    if (c_.skip_if_blocked && prior.action == Action::kBlock) return false;
    if (c_.run_if_flagged_by.empty()) return true;
    for (const std::string& want : c_.run_if_flagged_by) {
      const PriorStage* found = nullptr;
      for (const PriorStage& s : prior.stages) {
        if (s.id == want) found = &s;
      }
      if (found == nullptr) return true;  // not in this run: no evidence that it is clean
      if (found->ran && (found->error || found->strongest != Action::kAllow)) return true;
    }
    return false;
  }

  Status Inspect(Input& input, StageResult& out) const override {
    if (scorer_ == nullptr) {
      return UnavailableError(c_.id + ": guard model '" + c_.model +
                              "' is not loaded (the policy was compiled without guard models)");
    }
    const Conversation conv = c_.output ? OutputConversation(input) : InputConversation(input);
    if (conv.judged < 0) return Status::Ok();  // nothing of the judged role to check
    std::vector<GuardTurn> views;
    for (const auto& [role, text] : conv.turns) views.push_back(GuardTurn{role, text});
    GuardCheck check;
    check.prompt = renderer_.Render(c_.output ? GuardRole::kAgent : GuardRole::kUser, views);
    check.continue_at = c_.threshold;
    check.max_continuation_tokens = c_.max_continuation_tokens;
    check.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(c_.timeout_ms);
    Result<GuardScore> score = scorer_->Score(check);
    if (!score.ok()) return score.status().WithContext(c_.id + ": guard model '" + c_.model + "'");
    return Decide(*score, conv.judged, out);
  }

 private:
  Conversation InputConversation(const Input& input) const {
    Conversation conv;
    for (size_t i = 0; i < input.messages.size(); ++i) {
      if (RoleOf(input.messages[i].role) == GuardRole::kUser) {
        conv.judged = static_cast<int32_t>(i);
      }
    }
    if (conv.judged < 0) return conv;
    const auto text = [&](size_t i) -> const std::string& { return input.messages[i].text.text(); };
    if (c_.conversation == GuardConversation::kLast) {
      conv.Add(GuardRole::kUser, text(static_cast<size_t>(conv.judged)));
      return conv;
    }
    for (size_t i = 0; i <= static_cast<size_t>(conv.judged); ++i) {
      const GuardRole role = RoleOf(input.messages[i].role);
      if (conv.turns.empty() && role == GuardRole::kAgent) continue;  // start with the user
      conv.Add(role, text(i));
    }
    return conv;
  }

  Conversation OutputConversation(const Input& input) const {
    Conversation conv;
    if (input.messages.empty()) return conv;
    if (c_.conversation == GuardConversation::kLast) {
      for (auto it = input.context.rbegin(); it != input.context.rend(); ++it) {
        if (RoleOf(it->role) == GuardRole::kUser) {
          conv.Add(GuardRole::kUser, it->content);
          break;
        }
      }
    } else {
      for (const ContextTurn& t : input.context) {
        const GuardRole role = RoleOf(t.role);
        if (conv.turns.empty() && role == GuardRole::kAgent) continue;
        conv.Add(role, t.content);
      }
    }
    // The response (a prefilled assistant turn before it joins it).
    conv.judged = static_cast<int32_t>(input.messages.size() - 1);
    conv.Add(GuardRole::kAgent, input.messages.back().text.text());
    return conv;
  }

  Status Decide(const GuardScore& score, int32_t judged, StageResult& out) const {
    const double p = score.p_unsafe;
    if (!(p >= 0 && p <= 1)) {
      return InternalError(c_.id + ": guard model '" + c_.model +
                           "' returned P(unsafe) = " + std::to_string(p) + ", outside [0, 1]");
    }
    Finding overall;
    overall.rule_id = c_.id + ".unsafe";
    overall.type = "UNSAFE";
    overall.message = judged;
    overall.score = p;
    overall.action = Action::kAllow;
    if (p < c_.threshold) {
      out.findings.push_back(std::move(overall));
      return Status::Ok();
    }
    Result<internal::GuardVerdict> verdict =
        internal::ParseGuardOutput("unsafe" + score.continuation);
    if (!verdict.ok()) return verdict.status().WithContext(c_.id);
    for (const std::string& code : verdict->categories) {
      if (codes_.count(code) == 0) {
        return InternalError(c_.id + ": guard model answered category '" + code +
                             "', which is not in the taxonomy");
      }
    }
    if (verdict->categories.empty()) overall.action = c_.default_action;
    out.findings.push_back(std::move(overall));
    for (const std::string& code : verdict->categories) {
      Finding f;
      f.rule_id = c_.id + "." + code;
      f.type = code;
      f.message = judged;
      f.score = p;
      auto it = c_.category_actions.find(code);
      f.action = it != c_.category_actions.end() ? it->second : c_.default_action;
      out.findings.push_back(std::move(f));
    }
    return Status::Ok();
  }

  GuardModelStageConfig c_;
  std::shared_ptr<const GuardScorer> scorer_;
  internal::GuardPromptRenderer renderer_;
  std::set<std::string> codes_;
};

Status ValidateTaxonomy(const GuardModelStageConfig& c) {
  std::set<std::string> codes;
  for (size_t i = 0; i < c.taxonomy.size(); ++i) {
    const GuardCategory& cat = c.taxonomy[i];
    const std::string field = c.id + ".taxonomy[" + std::to_string(i) + "]";
    if (!ValidCode(cat.code)) {
      return InvalidArgumentError(field + ".code: a code like S1 (letters, digits, _ and -)");
    }
    if (!codes.insert(cat.code).second) {
      return InvalidArgumentError(field + ".code: '" + cat.code + "' appears twice");
    }
    if (cat.name.empty()) return InvalidArgumentError(field + ".name: missing");
    if (cat.name.find('\n') != std::string::npos) {
      return InvalidArgumentError(field + ".name: one line (the description goes below it)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Stage>> NewGuardModelStage(const GuardModelStageConfig& c,
                                                  std::shared_ptr<const GuardScorer> scorer) {
  if (c.id.empty()) return InvalidArgumentError("guard_model.id: missing");
  if (c.model.empty()) return InvalidArgumentError(c.id + ".model: missing (a loaded guard model)");
  if (!(c.threshold >= 0 && c.threshold <= 1)) {
    return InvalidArgumentError(c.id + ".threshold: must be in [0, 1]");
  }
  if (c.timeout_ms < 1) return InvalidArgumentError(c.id + ".timeout_ms: must be >= 1");
  if (c.max_continuation_tokens < 1) {
    return InvalidArgumentError(c.id + ".max_continuation_tokens: must be >= 1");
  }
  if (c.default_action == Action::kRedact) {
    return InvalidArgumentError(c.id +
                                ".default_action: allow, flag or block (a verdict has no span)");
  }
  PARAPET_RETURN_IF_ERROR(ValidateTaxonomy(c));
  std::vector<GuardCategory> taxonomy =
      c.taxonomy.empty() ? internal::DefaultGuardTaxonomy(c.prompt_template) : c.taxonomy;
  std::string known;
  for (const GuardCategory& cat : taxonomy) known += (known.empty() ? "" : ", ") + cat.code;
  for (const auto& [code, action] : c.category_actions) {
    bool in = false;
    for (const GuardCategory& cat : taxonomy) in = in || cat.code == code;
    if (!in) {
      return InvalidArgumentError(c.id + ".categories: '" + code + "' is not in the taxonomy (" +
                                  known + ")");
    }
    if (action == Action::kRedact) {
      return InvalidArgumentError(c.id + ".categories." + code + ": allow, flag or block");
    }
  }
  for (const std::string& s : c.run_if_flagged_by) {
    if (s.empty() || s == c.id) {
      return InvalidArgumentError(c.id + ".run_if_flagged_by: name earlier stages ('" + s + "')");
    }
  }
  return std::unique_ptr<Stage>(
      std::make_unique<GuardModelStage>(c, std::move(scorer), std::move(taxonomy)));
}

}  // namespace parapet::pipeline
