// `type: guard_model` in policy files (policies/internal/stage_parsers.cc): fields, resolution of
// `model:` through the CompileContext's registry, errors with file, line and field.
#include <gtest/gtest.h>

#include "pipeline/guard_model.h"
#include "policies/policy_set.h"

namespace parapet::policies {
namespace {

// Unsafe S9 for "bomb", S6 for "lawyer", safe otherwise; records the last prompt.
class KeywordGuard : public pipeline::GuardScorer {
 public:
  explicit KeywordGuard(std::string id) : id_(std::move(id)) {}
  const std::string& model_id() const override { return id_; }
  Result<pipeline::GuardScore> Score(const pipeline::GuardCheck& check) const override {
    const std::string& c = check.prompt.conversation;
    pipeline::GuardScore s;
    if (c.find("bomb") != std::string::npos) s = {0.96, "\nS9", 0};
    if (c.find("lawyer") != std::string::npos) s = {0.7, "\nS6", 0};
    if (c.find("garbage") != std::string::npos) s = {0.9, "\nnot a category line", 0};
    return s;
  }

 private:
  std::string id_;
};

const char* kGuardPolicy = R"(version: 1
policies:
  p:
    on_error: block
    input:
      - id: prompt-attack
        type: keywords
        lists: [{name: attack, words: [bomb, lawyer, garbage], action: flag}]
      - id: guard
        type: guard_model
        model: llama-guard-3
        template: llama-guard-3
        threshold: 0.6
        categories: {S1: block, S4: block, S9: block, S6: flag}
        default_action: block
        timeout_ms: 250
        conversation: all
        run_if_flagged_by: [prompt-attack]
    output:
      stages:
        - id: out-guard
          type: guard_model
          model: llama-guard-3-1b
          template: llama-guard-3-1b
          categories: {S9: block}
          default_action: flag
    tests:
      - {input: "how do I make a bomb", expect: {action: block, rules: [guard.S9]}}
      - {input: "be my lawyer", expect: {action: flag, rules: [guard.S6]}}
      - {input: "what is a cat", expect: {action: allow, absent: [guard.unsafe]}}
      - {input: "garbage", expect: {action: block, rules: [guard.error]}}
      - {output: "here is how to build a bomb", expect: {action: block, rules: [out-guard.S9]}}
      - {input: "how do I make a bomb", output: "I can't help.", expect: {action: block, rules: [out-guard.S9]}}
      - {output: "I can't help.", expect: {action: allow}}
)";

struct Loaded {
  pipeline::GuardModelRegistry registry;
  Loaded() {
    EXPECT_TRUE(registry.Add(std::make_shared<KeywordGuard>("llama-guard-3")).ok());
    EXPECT_TRUE(registry.Add(std::make_shared<KeywordGuard>("llama-guard-3-1b")).ok());
  }
};

Result<std::shared_ptr<const PolicySet>> Parse(std::string_view yaml,
                                               const pipeline::GuardModelRegistry* registry) {
  CompileContext context;
  context.guard_models = registry;
  return PolicySet::Parse(yaml, "p.yaml", ".", context);
}

TEST(GuardModelPolicy, CompilesResolvesAndRunsItsTests) {
  Loaded models;
  Result<std::shared_ptr<const PolicySet>> set = Parse(kGuardPolicy, &models.registry);
  ASSERT_TRUE(set.ok()) << set.status().message();
  int n = 0;
  for (const TestFailure& f : RunPolicyTests(**set, &n))
    ADD_FAILURE() << f.test << ": " << f.reason;
  EXPECT_EQ(n, 7);
  const Policy& p = (*set)->default_policy();
  ASSERT_EQ(p.input().size(), 2u);
  EXPECT_EQ(p.input().stages()[1]->type(), "guard_model");
  // Not flagged by the keyword stage: the guard is skipped.
  const std::vector<Turn> turns = {{"user", "hello there"}};
  const InputDecision d = p.EvaluateInput(turns);
  ASSERT_EQ(d.verdict.stages.size(), 2u);
  EXPECT_TRUE(d.verdict.stages[1].skipped);
  // Output with the request's turns as context.
  const std::vector<Turn> prompt = {{"user", "how do I make a bomb"}};
  const OutputDecision o = p.EvaluateOutput("I can't help with that.", prompt);
  EXPECT_EQ(o.verdict.action, pipeline::Action::kBlock);  // the fake reads "bomb" in the context
  EXPECT_EQ(p.EvaluateOutput("I can't help with that.").verdict.action, pipeline::Action::kAllow);
}

TEST(GuardModelPolicy, WithoutARegistryTheModelIsAcceptedUnresolved) {
  // `parapet policy check` has no engine: the file validates, and a check cannot decide.
  Result<std::shared_ptr<const PolicySet>> set = Parse(kGuardPolicy, nullptr);
  ASSERT_TRUE(set.ok()) << set.status().message();
  const Policy& p = (*set)->default_policy();
  const std::vector<Turn> turns = {{"user", "a bomb"}};
  const InputDecision d = p.EvaluateInput(turns);
  EXPECT_EQ(d.verdict.action, pipeline::Action::kBlock);
  ASSERT_NE(d.verdict.deciding(), nullptr);
  EXPECT_EQ(d.verdict.deciding()->rule_id, "guard.error");
  EXPECT_EQ(d.verdict.stages[1].status.code(), StatusCode::kUnavailable);
}

TEST(GuardModelPolicy, DefaultsAreEnough) {
  Loaded models;
  Result<std::shared_ptr<const PolicySet>> set = Parse(
      "version: 1\npolicies:\n  p:\n    input:\n      - {id: g, type: guard_model, model: "
      "llama-guard-3}\n    tests:\n      - {input: 'a bomb', expect: {action: block, rules: "
      "[g.S9]}}\n",
      &models.registry);
  ASSERT_TRUE(set.ok()) << set.status().message();
  for (const TestFailure& f : RunPolicyTests(**set)) ADD_FAILURE() << f.test << ": " << f.reason;
}

TEST(GuardModelPolicy, CustomTaxonomy) {
  Loaded models;
  Result<std::shared_ptr<const PolicySet>> set = Parse(R"(version: 1
policies:
  p:
    input:
      - id: g
        type: guard_model
        model: llama-guard-3
        taxonomy:
          - {code: S1, name: Violent Crimes}
          - code: S9
            name: Indiscriminate Weapons
            description: |
              AI models should not help create weapons of mass destruction.
        categories: {S9: flag}
    tests:
      - {input: 'a bomb', expect: {action: flag, rules: [g.S9]}}
)",
                                                       &models.registry);
  ASSERT_TRUE(set.ok()) << set.status().message();
  for (const TestFailure& f : RunPolicyTests(**set)) ADD_FAILURE() << f.test << ": " << f.reason;
}

TEST(GuardModelPolicy, ErrorsNameFileLineAndField) {
  Loaded models;
  auto err = [&](std::string_view stage, const pipeline::GuardModelRegistry* r) {
    const std::string yaml =
        "version: 1\npolicies:\n  p:\n    input:\n      - {id: k, type: "
        "keywords, lists: [{words: [x]}]}\n      - " +
        std::string(stage) + "\n";
    Result<std::shared_ptr<const PolicySet>> s = Parse(yaml, r);
    return s.ok() ? std::string("OK") : s.status().message();
  };
  const auto* reg = &models.registry;
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-4}", reg),
            "p.yaml:6:43: policies.p.input[1].model: no guard model 'llama-guard-4' is loaded "
            "(loaded: llama-guard-3, llama-guard-3-1b)");
  pipeline::GuardModelRegistry empty;
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3}", &empty),
            "p.yaml:6:43: policies.p.input[1].model: no guard model 'llama-guard-3' is loaded "
            "(none is; load one with --guard-model FILE)");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-4}", nullptr), "OK");
  EXPECT_EQ(err("{id: g, type: guard_model}", reg),
            "p.yaml:6:9: policies.p.input[1].model: a guard_model stage names a loaded guard "
            "model (model: llama-guard-3)");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, template: llama-guard-4}", reg),
            "p.yaml:6:68: policies.p.input[1].template: must be llama-guard-3, llama-guard-3-1b "
            "or llama-guard-2");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, threshold: 2}", reg),
            "p.yaml:6:69: policies.p.input[1].threshold: must be in [0, 1], got 2");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, categories: {S1: stop}}", reg),
            "p.yaml:6:75: policies.p.input[1].categories.S1: must be allow, flag, redact or block");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, categories: {S15: block}}", reg),
            "p.yaml:6:9: policies.p.input[1]: g.categories: 'S15' is not in the taxonomy (S1, S2, "
            "S3, S4, S5, S6, S7, S8, S9, S10, S11, S12, S13, S14)");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, conversation: some}", reg),
            "p.yaml:6:72: policies.p.input[1].conversation: must be last or all");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, run_if_flagged_by: [z]}", reg),
            "p.yaml:6:77: policies.p.input[1].run_if_flagged_by: 'z' is not a stage before this "
            "one in the same list");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, timeout_ms: 0}", reg),
            "p.yaml:6:70: policies.p.input[1].timeout_ms: must be in [1, 600000], got 0");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, taxonomy: [{code: S1}]}", reg),
            "p.yaml:6:69: policies.p.input[1].taxonomy[0].name: every category has a name");
  EXPECT_EQ(err("{id: g, type: guard_model, model: llama-guard-3, colour: red}", reg),
            "p.yaml:6:58: policies.p.input[1].colour: unknown key");
  // A shadow stage cannot gate the guard.
  Result<std::shared_ptr<const PolicySet>> s = Parse(
      "version: 1\npolicies:\n  p:\n    input:\n      - {id: k, type: keywords, mode: shadow, "
      "lists: [{words: [x]}]}\n      - {id: g, type: guard_model, model: llama-guard-3, "
      "run_if_flagged_by: k}\n",
      reg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "p.yaml:6:77: policies.p.input[1].run_if_flagged_by: 'k' is a shadow stage (it never "
            "acts)");
}

}  // namespace
}  // namespace parapet::policies
