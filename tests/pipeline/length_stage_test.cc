#include "pipeline/stages/length_stage.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "pipeline/stages/unicode_stage.h"

namespace parapet::pipeline {
namespace {

// Counts whitespace-separated words: a stand-in for the model's tokenizer.
class WordCounter final : public TokenCounter {
 public:
  int64_t CountTokens(std::string_view text) const override {
    int64_t n = 0;
    bool in_word = false;
    for (char c : text) {
      bool space = c == ' ' || c == '\n';
      if (!space && !in_word) ++n;
      in_word = !space;
    }
    return n;
  }
};

Input MakeInput(std::vector<std::string> texts) {
  Input in;
  for (std::string& t : texts) in.messages.push_back(Message{"user", ScanText(std::move(t))});
  return in;
}

// The rule ids reported for `texts`; checks the shape of every finding.
std::vector<std::string> Violations(const LengthStageConfig& config, std::vector<std::string> texts,
                                    std::shared_ptr<const TokenCounter> counter = nullptr) {
  Result<std::unique_ptr<Stage>> stage = NewLengthStage(config, std::move(counter));
  EXPECT_TRUE(stage.ok()) << stage.status().ToString();
  Input in = MakeInput(std::move(texts));
  StageResult out;
  EXPECT_TRUE((*stage)->Inspect(in, out).ok());
  std::vector<std::string> ids;
  for (const Finding& f : out.findings) {
    EXPECT_EQ(f.message, -1);
    EXPECT_EQ(f.span, Span{});
    EXPECT_EQ(f.type, "LENGTH");
    EXPECT_EQ(f.action, config.action);
    ids.push_back(f.rule_id);
  }
  return ids;
}

using V = std::vector<std::string>;

TEST(LengthStage, CharactersAreCodePoints) {
  LengthStageConfig c;
  c.id = "len";
  c.max_chars_per_message = 5;
  EXPECT_TRUE(Violations(c, {"h\xC3\xA9llo", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80"}).empty());
  EXPECT_EQ(Violations(c, {"ok", "h\xC3\xA9llo!"}), (V{"len.max_chars_per_message"}));
  c.max_chars_per_message = 3;
  EXPECT_EQ(Violations(c, {"\xFF\xFF\xFF\xFF"}), (V{"len.max_chars_per_message"}));  // 4 bytes
  EXPECT_TRUE(Violations(c, {"\xFF\xFF\xFF"}).empty());
}

TEST(LengthStage, TotalsAndMessageCount) {
  LengthStageConfig c;
  c.id = "len";
  c.max_chars_total = 10;
  c.max_messages = 2;
  EXPECT_TRUE(Violations(c, {"12345", "67890"}).empty());
  EXPECT_EQ(Violations(c, {"12345", "678901"}), (V{"len.max_chars_total"}));
  EXPECT_EQ(Violations(c, {"1", "2", "3"}), (V{"len.max_messages"}));
  c.action = Action::kFlag;
  EXPECT_EQ(Violations(c, {"123456", "7890", "x"}), (V{"len.max_chars_total", "len.max_messages"}));
}

TEST(LengthStage, Tokens) {
  auto counter = std::make_shared<WordCounter>();
  LengthStageConfig c;
  c.id = "len";
  c.max_tokens_total = 4;
  c.max_tokens_per_message = 3;
  EXPECT_TRUE(Violations(c, {"one two", "three four"}, counter).empty());
  EXPECT_EQ(Violations(c, {"one two three", "four five"}, counter), (V{"len.max_tokens_total"}));
  EXPECT_EQ(Violations(c, {"a b c d e"}, counter),
            (V{"len.max_tokens_per_message", "len.max_tokens_total"}));
}

TEST(LengthStage, EmptyInputAndNoLimits) {
  LengthStageConfig c;
  c.max_chars_total = 1;
  c.max_messages = 1;
  EXPECT_TRUE(Violations(c, {}).empty());
  EXPECT_TRUE(Violations(c, {""}).empty());
  EXPECT_TRUE(Violations(LengthStageConfig{}, {std::string(100000, 'x')}).empty());
}

TEST(LengthStage, CountsTheOriginalNotTheNormalisedText) {
  // A megabyte of zero-width spaces vanishes from the normalised text, not from the limit.
  std::string padded = "hi";
  for (int i = 0; i < 1000; ++i) padded += "\xE2\x80\x8B";
  Input in = MakeInput({padded});
  auto unicode = NewUnicodeStage(UnicodeStageConfig{});
  ASSERT_TRUE(unicode.ok());
  StageResult out;
  ASSERT_TRUE((*unicode)->Inspect(in, out).ok());
  ASSERT_EQ(in.messages[0].text.text(), "hi");
  LengthStageConfig c;
  c.max_chars_per_message = 100;
  auto stage = NewLengthStage(c);
  ASSERT_TRUE(stage.ok());
  ASSERT_TRUE((*stage)->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(out.findings[0].rule_id, "length.max_chars_per_message");
}

TEST(LengthStage, FactoryErrors) {
  LengthStageConfig c;
  c.id = "len";
  c.max_tokens_total = 100;
  Result<std::unique_ptr<Stage>> s = NewLengthStage(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "len.max_tokens_total: a token limit needs the model's token counter, and none was "
            "given");
  EXPECT_TRUE(NewLengthStage(c, std::make_shared<WordCounter>()).ok());
  // A counter owned elsewhere, passed without ownership.
  WordCounter owned_elsewhere;
  EXPECT_TRUE(NewLengthStage(c, std::shared_ptr<const TokenCounter>(
                                    std::shared_ptr<const TokenCounter>(), &owned_elsewhere))
                  .ok());
  c = {};
  c.id = "len";
  c.max_messages = -1;
  EXPECT_EQ(NewLengthStage(c).status().message(), "len.max_messages: negative limit");
  c.max_messages = 0;
  c.action = Action::kRedact;
  EXPECT_EQ(NewLengthStage(c).status().message(),
            "len.action: redact is not supported (allow | flag | block)");
  c.action = Action::kBlock;
  c.id = "";
  EXPECT_FALSE(NewLengthStage(c).ok());
}

TEST(LengthStage, SameResultsFromFourThreads) {
  LengthStageConfig c;
  c.max_chars_total = 8;
  c.max_tokens_total = 2;
  auto stage = NewLengthStage(c, std::make_shared<WordCounter>());
  ASSERT_TRUE(stage.ok());
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        Input in = MakeInput({i % 2 ? "a b c d e" : "ab"});
        StageResult out;
        if (!(*stage)->Inspect(in, out).ok()) ++bad[t];
        if (out.findings.size() != (i % 2 ? 2u : 0u)) ++bad[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace parapet::pipeline
