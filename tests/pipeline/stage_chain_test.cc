#include "pipeline/stage_chain.h"

#include <gtest/gtest.h>

#include <thread>

namespace parapet::pipeline {
namespace {

// Reports a fixed finding wherever `needle` occurs (or fails, or uppercases the text).
class FakeStage : public Stage {
 public:
  FakeStage(std::string id, std::string needle, Action action, Mode mode = Mode::kEnforce)
      : id_(std::move(id)), needle_(std::move(needle)), action_(action), mode_(mode) {}
  static std::unique_ptr<const Stage> Failing(std::string id, Mode mode = Mode::kEnforce) {
    auto s = std::make_unique<FakeStage>(std::move(id), "", Action::kAllow, mode);
    s->fail_ = true;
    return s;
  }
  static std::unique_ptr<const Stage> Upper(std::string id) {
    auto s = std::make_unique<FakeStage>(std::move(id), "", Action::kAllow);
    s->upper_ = true;
    return s;
  }

  const std::string& id() const override { return id_; }
  std::string_view type() const override { return "fake"; }
  Mode mode() const override { return mode_; }
  Status Inspect(Input& input, StageResult& out) const override {
    if (fail_) return ResourceExhaustedError("out of budget");
    for (size_t m = 0; m < input.messages.size(); ++m) {
      ScanText& t = input.messages[m].text;
      if (upper_) {
        std::string up = t.text();
        for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        std::vector<uint32_t> origin(up.size() + 1);
        for (size_t i = 0; i < origin.size(); ++i) origin[i] = static_cast<uint32_t>(i);
        t.Rewrite(std::move(up), std::move(origin));
        continue;
      }
      for (size_t p = 0; !needle_.empty() && (p = t.text().find(needle_, p)) != std::string::npos;
           p += needle_.size()) {
        Finding f;
        f.rule_id = id_ + ".hit";
        f.type = "SECRET";
        f.message = static_cast<int32_t>(m);
        f.span = t.ToOriginal({p, p + needle_.size()});
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
  bool fail_ = false, upper_ = false;
};

Input OneMessage(std::string text) {
  Input in;
  in.messages.push_back(Message{"user", ScanText(std::move(text))});
  return in;
}

StageChain Chain(std::vector<std::unique_ptr<const Stage>> stages, OnError e = OnError::kBlock) {
  return StageChain(std::move(stages), e);
}

TEST(StageChain, StrongestEnforcingActionWins) {
  std::vector<std::unique_ptr<const Stage>> s;
  s.push_back(std::make_unique<FakeStage>("a", "cat", Action::kFlag));
  s.push_back(std::make_unique<FakeStage>("b", "dog", Action::kRedact));
  s.push_back(std::make_unique<FakeStage>("c", "cow", Action::kBlock));
  StageChain chain = Chain(std::move(s));
  Input in = OneMessage("cat and dog");
  Verdict v = chain.Run(in);
  EXPECT_EQ(v.action, Action::kRedact);
  EXPECT_EQ(v.findings.size(), 2u);
  EXPECT_EQ(v.deciding(), nullptr);
  Input in2 = OneMessage("cat, cow and dog");
  Verdict v2 = chain.Run(in2);
  EXPECT_EQ(v2.action, Action::kBlock);
  ASSERT_NE(v2.deciding(), nullptr);
  EXPECT_EQ(v2.deciding()->rule_id, "c.hit");
  EXPECT_EQ(v2.findings.size(), 3u);  // every stage ran after the block
  EXPECT_EQ(v2.stages.size(), 3u);
}

TEST(StageChain, ShadowFindingsNeverChangeTheVerdict) {
  std::vector<std::unique_ptr<const Stage>> s;
  s.push_back(std::make_unique<FakeStage>("a", "cat", Action::kBlock, Mode::kShadow));
  s.push_back(FakeStage::Failing("b", Mode::kShadow));
  StageChain chain = Chain(std::move(s));
  Input in = OneMessage("cat");
  Verdict v = chain.Run(in);
  EXPECT_EQ(v.action, Action::kAllow);
  EXPECT_TRUE(v.findings.empty());
  EXPECT_EQ(v.shadow.size(), 1u);
  EXPECT_FALSE(v.stages[1].status.ok());
}

TEST(StageChain, StageErrorsFailClosedUnlessThePolicySaysAllow) {
  for (OnError e : {OnError::kBlock, OnError::kAllow}) {
    std::vector<std::unique_ptr<const Stage>> s;
    s.push_back(FakeStage::Failing("budget"));
    s.push_back(std::make_unique<FakeStage>("a", "cat", Action::kFlag));
    StageChain chain = Chain(std::move(s), e);
    Input in = OneMessage("cat");
    Verdict v = chain.Run(in);
    EXPECT_EQ(v.stages[0].status.code(), StatusCode::kResourceExhausted);
    if (e == OnError::kBlock) {
      EXPECT_EQ(v.action, Action::kBlock);
      ASSERT_NE(v.deciding(), nullptr);
      EXPECT_EQ(v.deciding()->rule_id, "budget.error");
    } else {
      EXPECT_EQ(v.action, Action::kFlag);
    }
  }
}

TEST(StageChain, LaterStagesSeeRewrittenTextAndSpansPointAtTheOriginal) {
  std::vector<std::unique_ptr<const Stage>> s;
  s.push_back(FakeStage::Upper("upper"));
  s.push_back(std::make_unique<FakeStage>("a", "KEY", Action::kRedact));
  StageChain chain = Chain(std::move(s));
  Input in = OneMessage("my key is key");
  Verdict v = chain.Run(in);
  ASSERT_EQ(v.findings.size(), 2u);
  EXPECT_EQ(in.messages[0].text.original().substr(v.findings[1].span.begin, 3), "key");
  EXPECT_EQ(Redact(in.messages[0].text.original(), v.findings, 0, "[{type}]"),
            "my [SECRET] is [SECRET]");
}

TEST(StageChain, RedactMergesOverlapsAndIgnoresOtherMessages) {
  std::vector<Finding> f(4);
  f[0] = {"r.a", "EMAIL", 0, {3, 8}, 1, Action::kRedact};
  f[1] = {"r.b", "PHONE", 0, {6, 10}, 1, Action::kRedact};
  f[2] = {"r.c", "X", 1, {0, 2}, 1, Action::kRedact};
  f[3] = {"r.d", "Y", 0, {0, 1}, 1, Action::kFlag};
  EXPECT_EQ(Redact("0123456789ab", f, 0, "<{type}>"), "012<EMAIL>ab");
  EXPECT_EQ(Redact("abc", {}, 0, "x"), "abc");
}

TEST(StageChain, RunsFromManyThreads) {
  std::vector<std::unique_ptr<const Stage>> s;
  s.push_back(std::make_unique<FakeStage>("a", "cat", Action::kRedact));
  const StageChain chain = Chain(std::move(s));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        Input in = OneMessage("a cat, a cat");
        if (chain.Run(in).findings.size() == 2) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 800);
}

// Runs only when the stage before it reported something; records what it was told.
class AfterFlagStage : public FakeStage {
 public:
  AfterFlagStage() : FakeStage("after", "secret", Action::kBlock) {}
  bool ShouldRun(const PriorStages& prior) const override {
    seen_action = prior.action;
    seen_n = prior.stages.size();
    return !prior.stages.empty() && prior.stages.back().strongest != Action::kAllow;
  }
  mutable Action seen_action = Action::kAllow;
  mutable size_t seen_n = 0;
};

TEST(StageChain, StagesCanSkipThemselvesGivenWhatRanBefore) {
  auto after = std::make_unique<AfterFlagStage>();
  const AfterFlagStage* probe = after.get();
  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(std::make_unique<FakeStage>("first", "word", Action::kFlag));
  stages.push_back(std::move(after));
  const StageChain chain(std::move(stages), OnError::kBlock);
  Input in;
  in.messages.push_back(Message{"user", ScanText("a secret")});
  Verdict v = chain.Run(in);
  EXPECT_EQ(v.action, Action::kAllow);  // "after" would block, but it did not run
  ASSERT_EQ(v.stages.size(), 2u);
  EXPECT_FALSE(v.stages[0].skipped);
  EXPECT_TRUE(v.stages[1].skipped);
  EXPECT_EQ(v.stages[1].stage_id, "after");
  EXPECT_TRUE(v.stages[1].status.ok());
  EXPECT_EQ(probe->seen_n, 1u);

  Input flagged;
  flagged.messages.push_back(Message{"user", ScanText("a word and a secret")});
  v = chain.Run(flagged);
  EXPECT_EQ(probe->seen_action, Action::kFlag);
  EXPECT_FALSE(v.stages[1].skipped);
  EXPECT_EQ(v.action, Action::kBlock);
}

}  // namespace
}  // namespace parapet::pipeline
