#include "pipeline/stages/guard_model_stage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "pipeline/stage_chain.h"

namespace parapet::pipeline {
namespace {

// A guard model stand-in: P(unsafe) and the continuation come from a function of the
// conversation part of the prompt; it can take time (and then honours the deadline) or fail.
// Records every check it was given.
class FakeScorer : public GuardScorer {
 public:
  using Fn = std::function<GuardScore(const std::string& conversation)>;
  explicit FakeScorer(Fn fn) : fn_(std::move(fn)) {}

  const std::string& model_id() const override { return id_; }
  Result<GuardScore> Score(const GuardCheck& check) const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      checks_.push_back(check);
    }
    if (!error_.ok()) return error_;
    if (latency_ms_ > 0) {
      const auto done = std::chrono::steady_clock::now() + std::chrono::milliseconds(latency_ms_);
      if (done > check.deadline) {
        std::this_thread::sleep_until(check.deadline);
        return DeadlineExceededError("guard check cancelled at its deadline");
      }
      std::this_thread::sleep_until(done);
    }
    GuardScore s = fn_(check.prompt.conversation);
    if (s.p_unsafe < check.continue_at) s.continuation.clear();  // as the engine does
    return s;
  }

  std::vector<GuardCheck> checks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return checks_;
  }

  std::string id_ = "llama-guard-3";
  Status error_;
  int latency_ms_ = 0;

 private:
  Fn fn_;
  mutable std::mutex mu_;
  mutable std::vector<GuardCheck> checks_;
};

// "bomb" -> unsafe S9 (0.97); "lawyer" -> unsafe S6 (0.7); "cheese" -> 0.4 unsafe, no category;
// else 0.01.
GuardScore ByKeyword(const std::string& conversation) {
  if (conversation.find("bomb") != std::string::npos) return {0.97, "\nS9", 0};
  if (conversation.find("lawyer") != std::string::npos) return {0.7, "\nS6", 0};
  if (conversation.find("cheese") != std::string::npos) return {0.4, "", 0};
  return {0.01, "", 0};
}

std::shared_ptr<FakeScorer> Scorer(FakeScorer::Fn fn = ByKeyword) {
  return std::make_shared<FakeScorer>(std::move(fn));
}

GuardModelStageConfig Config() {
  GuardModelStageConfig c;
  c.id = "guard";
  c.model = "llama-guard-3";
  c.category_actions = {{"S1", Action::kBlock}, {"S9", Action::kBlock}, {"S6", Action::kFlag}};
  return c;
}

std::unique_ptr<Stage> Build(const GuardModelStageConfig& c,
                             std::shared_ptr<const GuardScorer> scorer) {
  Result<std::unique_ptr<Stage>> s = NewGuardModelStage(c, std::move(scorer));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

Input UserInput(std::initializer_list<std::pair<const char*, const char*>> turns) {
  Input in;
  for (const auto& [role, text] : turns) in.messages.push_back(Message{role, ScanText(text)});
  return in;
}

const Finding* FindRule(const std::vector<Finding>& fs, const std::string& rule) {
  for (const Finding& f : fs) {
    if (f.rule_id == rule) return &f;
  }
  return nullptr;
}

TEST(GuardModelStage, SafeReportsTheScoreOnly) {
  auto scorer = Scorer();
  auto stage = Build(Config(), scorer);
  Input in = UserInput({{"system", "be nice"}, {"user", "how do I kill a Python process?"}});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  const Finding& f = out.findings[0];
  EXPECT_EQ(f.rule_id, "guard.unsafe");
  EXPECT_EQ(f.type, "UNSAFE");
  EXPECT_EQ(f.action, Action::kAllow);
  EXPECT_DOUBLE_EQ(f.score, 0.01);
  EXPECT_EQ(f.message, 1);  // the judged (last user) message
  EXPECT_EQ(f.span, Span{});
  const std::vector<GuardCheck> checks = scorer->checks();
  ASSERT_EQ(checks.size(), 1u);
  const GuardCheck& check = checks[0];
  EXPECT_EQ(check.prompt.conversation, "User: how do I kill a Python process?\n\n");
  EXPECT_TRUE(check.prompt.prefix.starts_with("<|begin_of_text|>"));
  EXPECT_DOUBLE_EQ(check.continue_at, 0.5);
  EXPECT_GT(check.deadline, std::chrono::steady_clock::now());
  EXPECT_EQ(stage->type(), "guard_model");
}

TEST(GuardModelStage, UnsafeCategoriesMapToActions) {
  auto stage = Build(Config(), Scorer());
  Input in = UserInput({{"user", "how to build a bomb"}});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 2u);
  EXPECT_EQ(out.findings[0].rule_id, "guard.unsafe");
  EXPECT_EQ(out.findings[0].action, Action::kAllow);  // the score; the category acts
  EXPECT_DOUBLE_EQ(out.findings[0].score, 0.97);
  EXPECT_EQ(out.findings[1].rule_id, "guard.S9");
  EXPECT_EQ(out.findings[1].type, "S9");
  EXPECT_EQ(out.findings[1].action, Action::kBlock);
  EXPECT_DOUBLE_EQ(out.findings[1].score, 0.97);

  out.findings.clear();
  Input lawyer = UserInput({{"user", "act as my lawyer"}});
  ASSERT_TRUE(stage->Inspect(lawyer, out).ok());
  ASSERT_NE(FindRule(out.findings, "guard.S6"), nullptr);
  EXPECT_EQ(FindRule(out.findings, "guard.S6")->action, Action::kFlag);
}

TEST(GuardModelStage, SeveralCategoriesAndTheDefaultAction) {
  auto stage_cfg = Config();
  stage_cfg.default_action = Action::kFlag;
  auto stage = Build(stage_cfg, Scorer([](const std::string&) {
                       return GuardScore{0.9, "\nS1, S13,S6", 0};
                     }));
  Input in = UserInput({{"user", "x"}});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 4u);
  EXPECT_EQ(FindRule(out.findings, "guard.S1")->action, Action::kBlock);
  EXPECT_EQ(FindRule(out.findings, "guard.S13")->action, Action::kFlag);  // default_action
  EXPECT_EQ(FindRule(out.findings, "guard.S6")->action, Action::kFlag);
}

TEST(GuardModelStage, UnsafeWithoutCategoryUsesTheDefaultAction) {
  auto stage = Build(Config(), Scorer([](const std::string&) { return GuardScore{0.8, "", 0}; }));
  Input in = UserInput({{"user", "x"}});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(out.findings[0].rule_id, "guard.unsafe");
  EXPECT_EQ(out.findings[0].action, Action::kBlock);
}

TEST(GuardModelStage, Threshold) {
  for (double threshold : {0.3, 0.4, 0.5}) {
    GuardModelStageConfig c = Config();
    c.threshold = threshold;
    auto scorer = Scorer();
    auto stage = Build(c, scorer);
    Input in = UserInput({{"user", "more cheese please"}});  // P(unsafe) = 0.4
    StageResult out;
    ASSERT_TRUE(stage->Inspect(in, out).ok());
    ASSERT_EQ(out.findings.size(), 1u);
    EXPECT_EQ(out.findings[0].action, threshold <= 0.4 ? Action::kBlock : Action::kAllow)
        << threshold;
    EXPECT_DOUBLE_EQ(scorer->checks()[0].continue_at, threshold);
  }
}

TEST(GuardModelStage, DeadlineExceededIsAnErrorOnErrorDecides) {
  GuardModelStageConfig c = Config();
  c.timeout_ms = 20;
  auto slow = Scorer();
  slow->latency_ms_ = 2000;
  auto stage = Build(c, slow);
  Input in = UserInput({{"user", "hello"}});
  StageResult out;
  const auto t0 = std::chrono::steady_clock::now();
  Status st = stage->Inspect(in, out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(st.message().find("guard: guard model 'llama-guard-3'"), std::string::npos)
      << st.message();

  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(Build(c, slow));
  const StageChain closed(std::move(stages), OnError::kBlock);
  Input in2 = UserInput({{"user", "hello"}});
  Verdict v = closed.Run(in2);
  EXPECT_EQ(v.action, Action::kBlock);
  ASSERT_NE(v.deciding(), nullptr);
  EXPECT_EQ(v.deciding()->rule_id, "guard.error");

  // Within the budget the same model decides.
  slow->latency_ms_ = 1;
  c.timeout_ms = 5000;
  auto ok = Build(c, slow);
  out.findings.clear();
  EXPECT_TRUE(ok->Inspect(in, out).ok());
}

TEST(GuardModelStage, MalformedAnswersAndBadScoresAreErrors) {
  struct Case {
    GuardScore score;
    const char* why;
  };
  for (const Case& k :
       {Case{{0.9, "\nI cannot answer that", 0}, "not in the expected format"},
        Case{{0.9, "\nS1\nS2", 0}, "not in the expected format"},
        Case{{0.9, "\nS15", 0}, "'S15', which is not in the taxonomy"},
        Case{{1.5, "", 0}, "outside [0, 1]"}, Case{{-0.1, "", 0}, "outside [0, 1]"}}) {
    auto stage = Build(Config(), Scorer([&](const std::string&) { return k.score; }));
    Input in = UserInput({{"user", "x"}});
    StageResult out;
    Status st = stage->Inspect(in, out);
    EXPECT_EQ(st.code(), StatusCode::kInternal) << k.why;
    EXPECT_NE(st.message().find(k.why), std::string::npos) << st.message();
    EXPECT_TRUE(out.findings.empty());
  }
  // Through the chain: on_error allow lets the request through, the error recorded.
  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(Build(Config(), Scorer([](const std::string&) {
                           return GuardScore{0.9, "\nbanana", 0};
                         })));
  const StageChain open(std::move(stages), OnError::kAllow);
  Input in = UserInput({{"user", "x"}});
  Verdict v = open.Run(in);
  EXPECT_EQ(v.action, Action::kAllow);
  ASSERT_EQ(v.stages.size(), 1u);
  EXPECT_FALSE(v.stages[0].status.ok());
}

TEST(GuardModelStage, ScorerErrorsPassThrough) {
  auto scorer = Scorer();
  scorer->error_ = ResourceExhaustedError("guard queue full");
  auto stage = Build(Config(), scorer);
  Input in = UserInput({{"user", "x"}});
  StageResult out;
  EXPECT_EQ(stage->Inspect(in, out).code(), StatusCode::kResourceExhausted);
}

TEST(GuardModelStage, WithoutAScorerEveryCheckIsUnavailable) {
  auto stage = Build(Config(), nullptr);
  Input in = UserInput({{"user", "x"}});
  StageResult out;
  Status st = stage->Inspect(in, out);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("'llama-guard-3' is not loaded"), std::string::npos);
}

TEST(GuardModelStage, InputConversationLastOrAll) {
  auto scorer = Scorer();
  GuardModelStageConfig c = Config();
  auto last = Build(c, scorer);
  c.conversation = GuardConversation::kAll;
  auto all = Build(c, scorer);
  Input in = UserInput({{"assistant", "(a prefill before anything)"},
                        {"system", "You are terse."},
                        {"user", "hi"},
                        {"assistant", "hello"},
                        {"user", "first"},
                        {"user", "second"},
                        {"assistant", "trailing"}});
  StageResult out;
  ASSERT_TRUE(last->Inspect(in, out).ok());
  ASSERT_TRUE(all->Inspect(in, out).ok());
  ASSERT_EQ(scorer->checks().size(), 2u);
  EXPECT_EQ(scorer->checks()[0].prompt.conversation, "User: second\n\n");
  EXPECT_EQ(scorer->checks()[1].prompt.conversation,
            "User: You are terse.\n\nhi\n\nAgent: hello\n\nUser: first\n\nsecond\n\n");
  EXPECT_EQ(out.findings[0].message, 5);
  // Nothing of the user's: nothing to judge.
  Input none = UserInput({{"assistant", "only me"}});
  out.findings.clear();
  ASSERT_TRUE(last->Inspect(none, out).ok());
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(scorer->checks().size(), 2u);
}

TEST(GuardModelStage, InputSeesTheNormalisedText) {
  auto scorer = Scorer();
  auto stage = Build(Config(), scorer);
  Input in = UserInput({{"user", "b\xE2\x80\x8Bomb"}});  // a zero-width space inside
  std::vector<uint32_t> origin = {0, 4, 5, 6, 7};
  in.messages[0].text.Rewrite("bomb", origin);  // as a unicode stage would
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  EXPECT_EQ(scorer->checks()[0].prompt.conversation, "User: bomb\n\n");
  EXPECT_NE(FindRule(out.findings, "guard.S9"), nullptr);
}

TEST(GuardModelStage, OutputJudgesTheResponseInItsConversation) {
  auto scorer = Scorer();
  GuardModelStageConfig c = Config();
  c.output = true;
  auto last = Build(c, scorer);
  EXPECT_TRUE(last->whole_text());
  c.conversation = GuardConversation::kAll;
  auto all = Build(c, scorer);
  const std::vector<ContextTurn> context = {
      {"system", "sys"}, {"user", "q1"}, {"assistant", "a1"}, {"user", "q2"}};
  Input in;
  in.messages.push_back(Message{"assistant", ScanText("the answer")});
  in.context = context;
  StageResult out;
  ASSERT_TRUE(last->Inspect(in, out).ok());
  ASSERT_TRUE(all->Inspect(in, out).ok());
  in.context = {};
  ASSERT_TRUE(last->Inspect(in, out).ok());
  const std::vector<GuardCheck> checks = scorer->checks();
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].prompt.conversation, "User: q2\n\nAgent: the answer\n\n");
  EXPECT_EQ(checks[1].prompt.conversation,
            "User: sys\n\nq1\n\nAgent: a1\n\nUser: q2\n\nAgent: the answer\n\n");
  EXPECT_EQ(checks[2].prompt.conversation, "Agent: the answer\n\n");
  EXPECT_NE(checks[0].prompt.prefix.find("unsafe content in 'Agent' messages"), std::string::npos);
  EXPECT_NE(checks[0].prompt.suffix.find("ONLY THE LAST Agent message"), std::string::npos);
  EXPECT_EQ(out.findings[0].message, 0);
}

TEST(GuardModelStage, PrefixIsTheSameForEveryCheck) {
  auto scorer = Scorer();
  auto stage = Build(Config(), scorer);
  for (const char* text : {"one", "two", "a much longer third message"}) {
    Input in = UserInput({{"user", text}});
    StageResult out;
    ASSERT_TRUE(stage->Inspect(in, out).ok());
  }
  const std::vector<GuardCheck> checks = scorer->checks();
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].prompt.prefix, checks[2].prompt.prefix);
  EXPECT_EQ(checks[0].prompt.suffix, checks[2].prompt.suffix);
  EXPECT_NE(checks[0].prompt.conversation, checks[2].prompt.conversation);
}

// ---- chaining ----

// Flags (or blocks) messages containing `needle`; "!fail": cannot decide on text with "FAIL".
class NeedleStage : public Stage {
 public:
  NeedleStage(std::string id, std::string needle, Action action, Mode mode = Mode::kEnforce)
      : id_(std::move(id)), needle_(std::move(needle)), action_(action), mode_(mode) {}
  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "needle"; }
  Mode mode() const override { return mode_; }
  Status Inspect(Input& input, StageResult& out) const override {
    if (needle_ == "!fail" && input.messages[0].text.text().find("FAIL") != std::string::npos) {
      return InternalError("broken");
    }
    for (size_t m = 0; m < input.messages.size(); ++m) {
      if (input.messages[m].text.text().find(needle_) != std::string::npos) {
        Finding f;
        f.rule_id = id_ + ".hit";
        f.message = static_cast<int32_t>(m);
        f.action = action_;
        out.findings.push_back(std::move(f));
      }
    }
    return Status::Ok();
  }

 private:
  std::string id_, needle_;
  Action action_;
  Mode mode_;
};

struct Chain {
  std::shared_ptr<FakeScorer> scorer = Scorer();
  std::unique_ptr<StageChain> chain;
  Verdict Run(const char* text) {
    Input in = UserInput({{"user", text}});
    return chain->Run(in);
  }
};

Chain MakeChain(std::vector<std::string> run_if, bool skip_if_blocked = true,
                OnError on_error = OnError::kBlock) {
  Chain c;
  GuardModelStageConfig g = Config();
  g.run_if_flagged_by = std::move(run_if);
  g.skip_if_blocked = skip_if_blocked;
  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(std::make_unique<NeedleStage>("deny", "forbidden", Action::kBlock));
  stages.push_back(std::make_unique<NeedleStage>("suspicious", "attack", Action::kFlag));
  stages.push_back(std::make_unique<NeedleStage>("broken", "!fail", Action::kFlag));
  stages.push_back(Build(g, c.scorer));
  c.chain = std::make_unique<StageChain>(std::move(stages), on_error);
  return c;
}

TEST(GuardModelStage, RunIfFlaggedBy) {
  Chain c = MakeChain({"suspicious"}, true, OnError::kAllow);
  Verdict v = c.Run("a plain question");
  EXPECT_TRUE(c.scorer->checks().empty());
  ASSERT_EQ(v.stages.size(), 4u);
  EXPECT_TRUE(v.stages[3].skipped);
  EXPECT_EQ(v.stages[3].stage_id, "guard");
  EXPECT_EQ(FindRule(v.findings, "guard.unsafe"), nullptr);

  v = c.Run("an attack with a bomb");
  EXPECT_EQ(c.scorer->checks().size(), 1u);
  EXPECT_FALSE(v.stages[3].skipped);
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_NE(FindRule(v.findings, "guard.S9"), nullptr);

  // A named stage that could not decide counts as a reason to check.
  Chain e = MakeChain({"broken"}, true, OnError::kAllow);
  e.Run("a plain question");
  EXPECT_EQ(e.scorer->checks().size(), 0u);
  e.Run("FAIL on a plain question");
  EXPECT_EQ(e.scorer->checks().size(), 1u);
  // A name this run does not include (another StageSelection) never skips the check.
  Chain m = MakeChain({"not-in-this-run"});
  m.Run("a plain question");
  EXPECT_EQ(m.scorer->checks().size(), 1u);
}

TEST(GuardModelStage, SkipIfBlocked) {
  Chain skip = MakeChain({}, true);
  Verdict v = skip.Run("forbidden words");
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_TRUE(skip.scorer->checks().empty());
  EXPECT_TRUE(v.stages[3].skipped);
  EXPECT_EQ(v.deciding()->rule_id, "deny.hit");

  Chain always = MakeChain({}, false);
  v = always.Run("forbidden words");
  EXPECT_EQ(always.scorer->checks().size(), 1u);
  EXPECT_FALSE(v.stages[3].skipped);

  // Without a block, the guard runs.
  v = skip.Run("hello");
  EXPECT_EQ(skip.scorer->checks().size(), 1u);
}

TEST(GuardModelStage, ConcurrentChecks) {
  auto scorer = Scorer();
  auto stage = Build(Config(), scorer);
  std::vector<std::thread> threads;
  std::atomic<int> blocked{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Input in = UserInput({{"user", (i + t) % 2 == 0 ? "a bomb" : "a cat"}});
        StageResult out;
        ASSERT_TRUE(stage->Inspect(in, out).ok());
        if (FindRule(out.findings, "guard.S9") != nullptr) ++blocked;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(blocked.load(), 100);
  EXPECT_EQ(scorer->checks().size(), 200u);
}

TEST(GuardModelStage, ConfigErrorsNameTheField) {
  auto err = [](GuardModelStageConfig c) {
    Result<std::unique_ptr<Stage>> s = NewGuardModelStage(c, nullptr);
    return s.ok() ? std::string("OK") : s.status().message();
  };
  GuardModelStageConfig c = Config();
  EXPECT_EQ(err(c), "OK");
  c.model = "";
  EXPECT_EQ(err(c), "guard.model: missing (a loaded guard model)");
  c = Config();
  c.threshold = 1.5;
  EXPECT_EQ(err(c), "guard.threshold: must be in [0, 1]");
  c = Config();
  c.category_actions["S15"] = Action::kBlock;
  EXPECT_EQ(err(c),
            "guard.categories: 'S15' is not in the taxonomy (S1, S2, S3, S4, S5, S6, S7, S8, S9, "
            "S10, S11, S12, S13, S14)");
  c = Config();
  c.prompt_template = GuardTemplate::kLlamaGuard2;
  c.category_actions = {{"S14", Action::kBlock}};  // Llama Guard 2 stops at S11
  EXPECT_NE(err(c).find("'S14' is not in the taxonomy"), std::string::npos);
  c = Config();
  c.category_actions["S1"] = Action::kRedact;
  EXPECT_EQ(err(c), "guard.categories.S1: allow, flag or block");
  c = Config();
  c.default_action = Action::kRedact;
  EXPECT_EQ(err(c), "guard.default_action: allow, flag or block (a verdict has no span)");
  c = Config();
  c.taxonomy = {{"S1", "Fraud", ""}, {"S1", "Spam", ""}};
  c.category_actions = {};
  EXPECT_EQ(err(c), "guard.taxonomy[1].code: 'S1' appears twice");
  c.taxonomy = {{"S 1", "Fraud", ""}};
  EXPECT_EQ(err(c), "guard.taxonomy[0].code: a code like S1 (letters, digits, _ and -)");
  c.taxonomy = {{"F1", "Fraud", ""}};
  c.category_actions = {{"F1", Action::kFlag}};
  EXPECT_EQ(err(c), "OK");
  c = Config();
  c.timeout_ms = 0;
  EXPECT_EQ(err(c), "guard.timeout_ms: must be >= 1");
  c = Config();
  c.run_if_flagged_by = {"guard"};
  EXPECT_EQ(err(c), "guard.run_if_flagged_by: name earlier stages ('guard')");
}

TEST(GuardModelRegistry, AddAndFind) {
  GuardModelRegistry r;
  EXPECT_TRUE(r.empty());
  auto a = Scorer();
  auto b = Scorer();
  b->id_ = "llama-guard-3-1b";
  ASSERT_TRUE(r.Add(a).ok());
  ASSERT_TRUE(r.Add(b).ok());
  EXPECT_EQ(r.Add(Scorer()).message(),
            "guard model 'llama-guard-3': loaded twice (ids must be "
            "unique)");
  EXPECT_EQ(r.Find("llama-guard-3"), a);
  EXPECT_EQ(r.Find("nope"), nullptr);
  EXPECT_EQ(r.names(), (std::vector<std::string>{"llama-guard-3", "llama-guard-3-1b"}));
  EXPECT_EQ(GuardTemplateFromName("llama-guard-2"), GuardTemplate::kLlamaGuard2);
  EXPECT_EQ(GuardTemplateFromName("llama-guard"), std::nullopt);
  EXPECT_STREQ(GuardTemplateName(GuardTemplate::kLlamaGuard3_1B), "llama-guard-3-1b");
}

}  // namespace
}  // namespace parapet::pipeline
