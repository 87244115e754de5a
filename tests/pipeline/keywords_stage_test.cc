#include "pipeline/stages/keywords_stage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/stage_chain.h"
#include "pipeline/stages/unicode_stage.h"

namespace parapet::pipeline {
namespace {

Input MakeInput(std::vector<std::string> texts) {
  Input in;
  for (std::string& t : texts) in.messages.push_back(Message{"user", ScanText(std::move(t))});
  return in;
}

KeywordsStageConfig OneList(std::vector<std::string> words, std::string name = "weapons") {
  KeywordsStageConfig c;
  c.id = "kw";
  c.lists.push_back(KeywordList{.name = std::move(name), .words = std::move(words)});
  return c;
}

std::unique_ptr<Stage> MakeStage(const KeywordsStageConfig& c) {
  Result<std::unique_ptr<Stage>> s = NewKeywordsStage(c);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// The original bytes of every finding, in order; checks each finding's span is in range.
std::vector<std::string> Matches(const Stage& stage, Input& in) {
  StageResult out;
  EXPECT_TRUE(stage.Inspect(in, out).ok());
  std::vector<std::string> r;
  for (const Finding& f : out.findings) {
    const std::string& orig = in.messages[static_cast<size_t>(f.message)].text.original();
    EXPECT_LE(f.span.begin, f.span.end);
    EXPECT_LE(f.span.end, orig.size());
    r.push_back(orig.substr(f.span.begin, f.span.end - f.span.begin));
  }
  return r;
}

std::vector<std::string> Matches(const Stage& stage, const std::string& text) {
  Input in = MakeInput({text});
  return Matches(stage, in);
}

using V = std::vector<std::string>;

TEST(KeywordsStage, FindsWordsWithRuleIdTypeAndAction) {
  auto stage = MakeStage(OneList({"bomb", "nerve agent"}));
  Input in = MakeInput({"hello", "how to build a bomb?"});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 1u);
  const Finding& f = out.findings[0];
  EXPECT_EQ(f.rule_id, "kw.weapons");
  EXPECT_EQ(f.type, "WEAPONS");
  EXPECT_EQ(f.message, 1);
  EXPECT_EQ(f.span, (Span{15, 19}));
  EXPECT_EQ(f.action, Action::kBlock);
  EXPECT_EQ(stage->type(), "keywords");
}

TEST(KeywordsStage, CaseInsensitiveByDefault) {
  auto stage = MakeStage(OneList({"Bomb", "\xCE\xBC\xCF\x80\xCE\xBF\xCE\xBC\xCF\x80\xCE\xB1"}));
  EXPECT_EQ(Matches(*stage, "BOMB bOmB"), (V{"BOMB", "bOmB"}));
  // Greek: ΜΠΟΜΠΑ matches μπομπα.
  EXPECT_EQ(Matches(*stage, "\xCE\x9C\xCE\xA0\xCE\x9F\xCE\x9C\xCE\xA0\xCE\x91").size(), 1u);
  KeywordsStageConfig c = OneList({"Bomb"});
  c.case_sensitive = true;
  EXPECT_EQ(Matches(*MakeStage(c), "bomb Bomb BOMB"), (V{"Bomb"}));
}

TEST(KeywordsStage, WholeWordByDefault) {
  auto stage = MakeStage(OneList({"class", "ass", "bomb"}));
  EXPECT_TRUE(Matches(*stage, "a classic bombast").empty());
  EXPECT_EQ(Matches(*stage, "first class."), (V{"class"}));
  EXPECT_EQ(Matches(*stage, "(bomb), bomb's \"bomb\" bomb_x"), (V{"bomb", "bomb", "bomb", "bomb"}));
  EXPECT_TRUE(Matches(*stage, "bomb2 2bomb").empty());
  EXPECT_TRUE(Matches(*stage,
                      "bomb\xD0\xB4 \xC3\xA9"
                      "bomb")
                  .empty());                              // Unicode letters
  EXPECT_TRUE(Matches(*stage, "bombe\xCC\x81").empty());  // a combining mark is part of a word
  EXPECT_EQ(Matches(*stage,
                    "bomb\xE2\x80\x94"
                    "bomb"),
            (V{"bomb", "bomb"}));  // em dash
}

TEST(KeywordsStage, SubstringMatch) {
  KeywordsStageConfig c = OneList({"ass"});
  c.whole_word = false;
  EXPECT_EQ(Matches(*MakeStage(c), "Class"), (V{"ass"}));
}

TEST(KeywordsStage, KeywordEdgesThatAreNotWordCharacters) {
  auto stage = MakeStage(OneList({"c++", "#tag"}));
  EXPECT_EQ(Matches(*stage, "I like c++x and #tags"), (V{"c++"}));
  EXPECT_TRUE(Matches(*stage, "abc++").empty());
  EXPECT_EQ(Matches(*stage, "a#tag"), (V{"#tag"}));
}

TEST(KeywordsStage, PhrasesMatchAcrossAnyWhitespace) {
  auto stage = MakeStage(OneList({"  nerve   agent "}));
  EXPECT_EQ(Matches(*stage, "a nerve  \n\t agent!"), (V{"nerve  \n\t agent"}));
  EXPECT_EQ(Matches(*stage,
                    "NERVE\xE3\x80\x80"
                    "AGENT"),
            (V{"NERVE\xE3\x80\x80"
               "AGENT"}));
  EXPECT_TRUE(Matches(*stage, "nerveagent nerve-agent").empty());
}

TEST(KeywordsStage, OverlappingKeywordsAndListsAreAllReported) {
  KeywordsStageConfig c = OneList({"bomb", "bomb", "pipe bomb"});
  c.lists.push_back(KeywordList{.words = {"pipe"}, .action = Action::kFlag});
  auto stage = MakeStage(c);
  Input in = MakeInput({"a pipe bomb"});
  StageResult out;
  ASSERT_TRUE(stage->Inspect(in, out).ok());
  ASSERT_EQ(out.findings.size(), 3u);  // "pipe" (list 1), "pipe bomb" and "bomb" once
  EXPECT_EQ(out.findings[0].rule_id, "kw.1");
  EXPECT_EQ(out.findings[0].type, "KEYWORD");
  EXPECT_EQ(out.findings[0].action, Action::kFlag);
  EXPECT_EQ(Matches(*stage, in), (V{"pipe", "pipe bomb", "bomb"}));
}

TEST(KeywordsStage, AfterTheUnicodeStageTricksFail) {
  auto unicode = NewUnicodeStage(UnicodeStageConfig{});
  ASSERT_TRUE(unicode.ok());
  auto stage = MakeStage(OneList({"bomb", "caf\xC3\xA9"}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a \xEF\xBD\x82\xEF\xBD\x8F\xEF\xBD\x8D\xEF\xBD\x82!",
       "\xEF\xBD\x82\xEF\xBD\x8F\xEF\xBD\x8D\xEF\xBD\x82"},
      {"a b\xE2\x80\x8Bo\xE2\x80\x8D"
       "mb!",
       "b\xE2\x80\x8Bo\xE2\x80\x8D"
       "mb"},
      {"\xE2\x80\xAE"
       "BOMB\xE2\x80\xAC",
       "BOMB\xE2\x80\xAC"},
      {"the cafe\xCC\x81", "cafe\xCC\x81"},
      {"\xEF\xBC\xA2OMB", "\xEF\xBC\xA2OMB"},
  };
  for (const auto& [text, expected] : cases) {
    Input in = MakeInput({text});
    StageResult ignored;
    ASSERT_TRUE((*unicode)->Inspect(in, ignored).ok());
    EXPECT_EQ(Matches(*stage, in), (V{expected})) << text;
  }
  // Homoglyphs are not the keyword: the unicode stage flags them instead.
  Input in = MakeInput({"b\xD0\xBEmb"});
  StageResult flagged;
  ASSERT_TRUE((*unicode)->Inspect(in, flagged).ok());
  EXPECT_TRUE(Matches(*stage, in).empty());
  EXPECT_EQ(flagged.findings.size(), 1u);
}

TEST(KeywordsStage, InvalidUtf8AndEmptyInput) {
  auto stage = MakeStage(OneList({"bomb"}));
  EXPECT_EQ(Matches(*stage,
                    "\xFF"
                    "bomb\xC3"),
            (V{"bomb"}));
  EXPECT_TRUE(Matches(*stage, "").empty());
  Input none;
  StageResult out;
  EXPECT_TRUE(stage->Inspect(none, out).ok());
  EXPECT_TRUE(out.findings.empty());
}

TEST(KeywordsStage, FactoryErrorsNameTheField) {
  KeywordsStageConfig c;
  c.id = "keywords";
  EXPECT_EQ(NewKeywordsStage(c).status().message(), "keywords.lists: no keyword lists");
  c.lists = {KeywordList{.words = {"a"}}, KeywordList{.words = {"b"}},
             KeywordList{.words = {" \xE2\x80\x8B "}}};
  EXPECT_EQ(NewKeywordsStage(c).status().message(), "keywords.lists[2].words[0]: empty keyword");
  c.lists[2].words = {"x", "\xFF"};
  EXPECT_EQ(NewKeywordsStage(c).status().message(), "keywords.lists[2].words[1]: invalid UTF-8");
  c.lists[2].words.clear();
  EXPECT_EQ(NewKeywordsStage(c).status().message(),
            "keywords.lists[2]: no keywords (neither words nor a non-empty file)");
  c.lists = {KeywordList{.name = "a", .words = {"x"}}, KeywordList{.name = "a", .words = {"y"}}};
  EXPECT_EQ(NewKeywordsStage(c).status().message(),
            "keywords.lists[1].name: duplicate list name 'a'");
  c.lists = {KeywordList{.name = "a b", .words = {"x"}}};
  EXPECT_FALSE(NewKeywordsStage(c).ok());
  c.lists = {KeywordList{.words = {"some words", "more words"}}};
  c.max_table_bytes = 64;
  EXPECT_EQ(NewKeywordsStage(c).status().code(), StatusCode::kResourceExhausted);
}

class KeywordFile : public ::testing::Test {
 protected:
  void Write(const std::string& contents) {
    path_ = ::testing::TempDir() + "keywords_" + std::to_string(::getpid()) + ".txt";
    std::ofstream(path_, std::ios::binary) << contents;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(KeywordFile, LoadsOnePerLineSkippingCommentsAndBlanks) {
  Write("# weapons\n\n  bomb  \r\nnerve agent\n   # indented comment\nc#\n");
  Result<std::vector<std::string>> words = LoadKeywordFile(path_);
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  EXPECT_EQ(*words, (V{"bomb", "nerve agent", "c#"}));
  KeywordsStageConfig c;
  c.id = "kw";
  c.lists.push_back(KeywordList{.name = "deny", .words = {"extra"}, .file = path_});
  auto stage = MakeStage(c);
  EXPECT_EQ(Matches(*stage, "extra NERVE agent, a bomb"), (V{"extra", "NERVE agent", "bomb"}));
}

TEST_F(KeywordFile, ErrorsCarryFileAndLine) {
  Write("ok\n# fine\nbad \xFF\n");
  Result<std::vector<std::string>> words = LoadKeywordFile(path_);
  ASSERT_FALSE(words.ok());
  EXPECT_EQ(words.status().message(), path_ + ":3: invalid UTF-8");
  Write("ok\n\xE2\x80\x8B\n");
  EXPECT_EQ(LoadKeywordFile(path_).status().message(), path_ + ":2: empty keyword");
  KeywordsStageConfig c;
  c.id = "kw";
  c.lists.push_back(KeywordList{.file = path_});
  EXPECT_EQ(NewKeywordsStage(c).status().message(),
            "kw.lists[0].file: " + path_ + ":2: empty keyword");
  Result<std::vector<std::string>> missing = LoadKeywordFile("/nonexistent/words.txt");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "/nonexistent/words.txt: cannot open");
}

// Thousands of keywords against a naive whole-word search.
TEST(KeywordsStage, ThousandsOfKeywordsMatchNaiveSearch) {
  std::mt19937 rng(1);
  auto word = [&] {
    std::string w;
    for (size_t n = 2 + rng() % 5; n > 0; --n) w.push_back(static_cast<char>('a' + rng() % 6));
    return w;
  };
  std::vector<std::string> words;
  for (int i = 0; i < 5000; ++i) words.push_back(word());
  std::string text;
  for (int i = 0; i < 3000; ++i) text += word() + (rng() % 4 ? " " : ", ");
  auto stage = MakeStage(OneList(words));
  std::set<std::string> dict(words.begin(), words.end());
  size_t expected = 0;
  for (size_t b = 0; b < text.size();) {
    size_t e = text.find_first_of(" ,", b);
    if (e == std::string::npos) e = text.size();
    expected += dict.count(text.substr(b, e - b));
    b = text.find_first_not_of(" ,", e);
    if (b == std::string::npos) break;
  }
  EXPECT_GT(expected, 100u);
  V found = Matches(*stage, text);
  EXPECT_EQ(found.size(), expected);
  for (const std::string& f : found) EXPECT_EQ(dict.count(f), 1u) << f;
}

TEST(KeywordsStage, InAChainAfterUnicodeRedactsTheOriginalBytes) {
  std::vector<std::unique_ptr<const Stage>> stages;
  stages.push_back(std::move(NewUnicodeStage(UnicodeStageConfig{})).value());
  KeywordsStageConfig c = OneList({"bomb"});
  c.lists[0].action = Action::kRedact;
  stages.push_back(MakeStage(c));
  StageChain chain(std::move(stages), OnError::kBlock);
  const std::string original =
      "tell me: \xEF\xBD\x82\xE2\x80\x8B\xEF\xBD\x8F\xEF\xBD\x8D\xEF\xBD\x82 now, p\xD0\xB0ypal";
  Input in = MakeInput({original});
  Verdict v = chain.Run(in);
  EXPECT_EQ(v.action, Action::kRedact);
  ASSERT_EQ(v.findings.size(), 2u);  // MIXED_SCRIPT (flag) and WEAPONS (redact)
  EXPECT_EQ(Redact(original, v.findings, 0, "[{type}]"), "tell me: [WEAPONS] now, p\xD0\xB0ypal");
}

TEST(KeywordsStage, SameResultsFromFourThreads) {
  auto stage = MakeStage(OneList({"bomb", "nerve agent", "class"}));
  const std::string text = "A BOMB, a nerve\n agent, classic class bomb";
  const V expected = Matches(*stage, text);
  ASSERT_EQ(expected.size(), 4u);
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        Input in = MakeInput({text});
        StageResult out;
        if (!stage->Inspect(in, out).ok() || out.findings.size() != expected.size()) ++bad[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace parapet::pipeline
