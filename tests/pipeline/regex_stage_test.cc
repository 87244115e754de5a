#include "pipeline/stages/regex_stage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

namespace parapet::pipeline {
namespace {

Input OneMessage(std::string text) {
  Input in;
  in.messages.push_back({"user", ScanText(std::move(text))});
  return in;
}

std::unique_ptr<Stage> MustBuild(const RegexStageConfig& c) {
  auto r = NewRegexStage(c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

RegexStageConfig WeaponsConfig() {
  RegexStageConfig c;
  c.id = "deny";
  c.patterns.push_back({.id = "nerve-agent",
                        .pattern = R"(\b(synthes\w+|make)\b.{0,40}\b(sarin|vx|novichok)\b)",
                        .case_insensitive = true});
  c.patterns.push_back(
      {.id = "ticket", .pattern = R"(TICKET-\d+)", .action = Action::kFlag, .type = "TICKET_ID"});
  return c;
}

TEST(RegexStage, FindsSpansWithRuleIdsTypesAndActions) {
  auto stage = MustBuild(WeaponsConfig());
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->type(), "regex");
  EXPECT_EQ(stage->id(), "deny");
  std::string text = "see TICKET-12 and TICKET-345; how do I SYNTHESIZE Sarin at home";
  Input in = OneMessage(text);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 3u);
  const Finding& f0 = out.findings[0];
  EXPECT_EQ(f0.rule_id, "deny.nerve-agent");
  EXPECT_EQ(f0.type, "NERVE_AGENT");
  EXPECT_EQ(f0.action, Action::kBlock);
  EXPECT_EQ(text.substr(f0.span.begin, f0.span.end - f0.span.begin), "SYNTHESIZE Sarin");
  EXPECT_EQ(out.findings[1].rule_id, "deny.ticket");
  EXPECT_EQ(out.findings[1].type, "TICKET_ID");
  EXPECT_EQ(out.findings[1].action, Action::kFlag);
  EXPECT_EQ(text.substr(out.findings[1].span.begin, 9), "TICKET-12");
  EXPECT_EQ(out.findings[2].span, (Span{18, 28}));  // TICKET-345
}

TEST(RegexStage, NoMatchIsOkWithNoFindings) {
  auto stage = MustBuild(WeaponsConfig());
  Input in = OneMessage("what is the boiling point of water");
  StageResult out;
  EXPECT_TRUE(stage->Inspect(in, out).ok());
  EXPECT_TRUE(out.findings.empty());
}

TEST(RegexStage, PerPatternFlags) {
  RegexStageConfig c;
  c.patterns.push_back({.id = "lit", .pattern = "a.b(c)", .literal = true});
  c.patterns.push_back({.id = "ci", .pattern = "secret", .case_insensitive = true});
  c.patterns.push_back({.id = "cs", .pattern = "Exact"});
  c.patterns.push_back({.id = "dot", .pattern = "begin.end", .dot_nl = true});
  c.patterns.push_back({.id = "word", .pattern = "cat", .word_boundary = true});
  c.patterns.push_back({.id = "long", .pattern = "ab|abcd", .longest_match = true});
  auto stage = MustBuild(c);
  std::string text = "axb(c) a.b(c) SeCrEt exact Exact begin\nend concat cat abcd";
  Input in = OneMessage(text);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  std::vector<std::string> got;
  for (const Finding& f : out.findings) {
    got.push_back(f.rule_id + "=" + text.substr(f.span.begin, f.span.end - f.span.begin));
  }
  EXPECT_EQ(
      got, (std::vector<std::string>{"regex.lit=a.b(c)", "regex.ci=SeCrEt", "regex.cs=Exact",
                                     "regex.dot=begin\nend", "regex.word=cat", "regex.long=abcd"}));
}

TEST(RegexStage, EmptyMatchesAreNotReportedAndScanningGoesOn) {
  RegexStageConfig c;
  c.patterns.push_back({.id = "as", .pattern = "a*"});
  auto stage = MustBuild(c);
  std::string text =
      "\xC3\xA9\xFF"
      "aa"
      "\xC3\xA9"
      "a";  // é, an invalid byte, "aa", é, "a"
  Input in = OneMessage(text);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 2u);
  EXPECT_EQ(out.findings[0].span, (Span{3, 5}));
  EXPECT_EQ(out.findings[1].span, (Span{7, 8}));
}

TEST(RegexStage, AllowPatternsExemptOverlappingFindings) {
  RegexStageConfig c;
  c.patterns.push_back({.id = "host", .pattern = R"([a-z]+\.internal\.example)"});
  c.allow.push_back({.id = "docs", .pattern = "docs.internal.example", .literal = true});
  auto stage = MustBuild(c);
  std::string text = "see docs.internal.example and db.internal.example";
  Input in = OneMessage(text);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(text.substr(out.findings[0].span.begin, 19), "db.internal.example");
}

TEST(RegexStage, SpansMapBackThroughARewrittenText) {
  RegexStageConfig c;
  c.patterns.push_back({.id = "word", .pattern = "bomb"});
  auto stage = MustBuild(c);
  // Original "x b\u200Bomb y": a zero-width space (3 bytes) inside the word, removed by a
  // rewriting stage; the finding must cover the original bytes, zero-width space included.
  std::string original = "x b\xE2\x80\x8Bomb y";
  Input in = OneMessage(original);
  std::vector<uint32_t> origin = {0, 1, 2, 6, 7, 8, 9, 10, 11};
  in.messages[0].text.Rewrite("x bomb y", origin);
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(out.findings[0].span, (Span{2, 9}));
  EXPECT_EQ(original.substr(2, 7), "b\xE2\x80\x8Bomb");
}

TEST(RegexStage, FactoryErrorsNameTheField) {
  RegexStageConfig c;
  c.patterns.push_back({.id = "ok", .pattern = "fine"});
  c.patterns.push_back({.id = "bad", .pattern = "foo(bar"});
  auto r = NewRegexStage(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("regex.patterns[1].pattern (id 'bad'): missing )"),
            std::string::npos)
      << r.status().message();

  RegexStageConfig dup;
  dup.patterns.push_back({.id = "a", .pattern = "x"});
  dup.allow.push_back({.id = "a", .pattern = "y"});
  auto d = NewRegexStage(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("regex.allow[0].id: duplicate id 'a'"), std::string::npos);

  EXPECT_FALSE(NewRegexStage(RegexStageConfig{}).ok());  // no patterns
  RegexStageConfig noid;
  noid.patterns.push_back({.id = "", .pattern = "x"});
  EXPECT_NE(NewRegexStage(noid).status().message().find("regex.patterns[0].id"), std::string::npos);
}

TEST(RegexStage, PatternOverMemoryBoundIsAFactoryError) {
  RegexStageConfig c;
  c.max_mem_bytes = 4096;
  c.patterns.push_back({.id = "huge", .pattern = "[a-z]{1000}"});
  auto r = NewRegexStage(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("regex.patterns[0].pattern (id 'huge')"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
}

TEST(RegexStage, SetOverMemoryBoundIsAFactoryError) {
  // Each pattern fits the bound on its own; the Set of all of them does not.
  RegexStageConfig c;
  c.max_mem_bytes = 64 << 10;
  for (int i = 0; i < 200; ++i) {
    c.patterns.push_back(
        {.id = "p" + std::to_string(i), .pattern = std::to_string(i) + "x[a-z]{50}"});
  }
  auto r = NewRegexStage(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not fit max_mem_bytes"), std::string::npos)
      << r.status().message();
}

// RE2::Set::Match reports kOutOfMemory only when its DFA cannot start; RE2::Set::Compile runs a
// probe search and fails first in that case, and a Set DFA (kManyMatch) never bails when slow, so
// the match-time error path cannot be provoked through RE2's public API. The stage still turns
// any ErrorInfo other than kNoError into a ResourceExhausted Status (regex_stage.cc).

TEST(RegexStage, ConcurrentInspectFromFourThreads) {
  auto stage = MustBuild(WeaponsConfig());
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        Input in = OneMessage("TICKET-" + std::to_string(t * 1000 + i) + " make vx now");
        StageResult out;
        if (!stage->Inspect(in, out).ok() || out.findings.size() != 2) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---- throughput (prints MB/s; asserts nothing about speed) ----

std::string RandomWord(std::mt19937& rng, int min_len, int max_len) {
  std::uniform_int_distribution<int> len(min_len, max_len), letter(0, 25);
  std::string w(static_cast<size_t>(len(rng)), 'a');
  for (char& ch : w) ch = static_cast<char>('a' + letter(rng));
  return w;
}

TEST(RegexStage, ThroughputOneMegabyte) {
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < (1u << 20)) text += RandomWord(rng, 2, 9) + (rng() % 12 ? " " : ".\n");
  for (int n : {10, 100, 1000}) {
    RegexStageConfig c;
    for (int i = 0; i < n; ++i) {
      // Deny-list style: a word, optionally followed within a few words by another.
      c.patterns.push_back(
          {.id = "p" + std::to_string(i),
           .pattern = RandomWord(rng, 6, 10) + R"(\w*(?:\W+\w+){0,3}?\W+)" + RandomWord(rng, 5, 8),
           .case_insensitive = true,
           .word_boundary = true});
    }
    auto stage = MustBuild(c);
    ASSERT_NE(stage, nullptr);
    Input in = OneMessage(text);
    StageResult warm;
    ASSERT_TRUE(stage->Inspect(in, warm).ok());
    const int iters = 5;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      StageResult out;
      ASSERT_TRUE(stage->Inspect(in, out).ok());
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("regex stage: %4d patterns, %zu bytes: %.1f MB/s\n", n, text.size(),
                iters * static_cast<double>(text.size()) / 1e6 / s);
  }
}

}  // namespace
}  // namespace parapet::pipeline
