#include "pipeline/internal/pending_match.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>

namespace parapet::pipeline::internal {
namespace {

TEST(PendingMatch, PrefixClosureOfSimplePatterns) {
  // Each closure compiles and accepts exactly the prefixes (and drops assertions).
  struct Case {
    const char* pattern;
    std::vector<const char*> prefixes, not_prefixes;
  };
  const std::vector<Case> cases = {
      {"pipe\\s{0,3}bomb",
       {"", "p", "pipe", "pipe  ", "pipe b", "pipebomb"},
       {"x", "pipex", "bomb"}},
      {"(?i)\\bLily\\b", {"", "l", "LI", "lily"}, {"lilyx", "y"}},
      {"(?:ab|cd)+e", {"", "a", "ab", "abcd", "abc", "abe"}, {"b", "abx", "abee"}},
      {"x{2,3}y?", {"", "x", "xxx", "xxy"}, {"xxxx", "y"}},
      {"[a-c]*\\d", {"", "abcabc", "a1"}, {"a1b", "d"}},
      {"(?P<v>k)=\\w{1,3}$", {"k", "k=", "k=abc"}, {"k=abcd", "=a"}},
      {"a(?s:.)b", {"a\n", "a\nb"}, {"ab\n"}},
      {"é+ü", {"é", "ééü"}, {"ü"}},
  };
  for (const Case& c : cases) {
    Result<std::string> pref = PrefixClosurePattern(c.pattern);
    ASSERT_TRUE(pref.ok()) << c.pattern << ": " << pref.status().ToString();
    RE2 re("(?:" + *pref + ")");
    ASSERT_TRUE(re.ok()) << c.pattern << " -> " << *pref << ": " << re.error();
    for (const char* s : c.prefixes) EXPECT_TRUE(RE2::FullMatch(s, re)) << c.pattern << " " << s;
    for (const char* s : c.not_prefixes) {
      EXPECT_FALSE(RE2::FullMatch(s, re)) << c.pattern << " " << s;
    }
  }
}

TEST(PendingMatch, MaxMatchChars) {
  auto most = [](const char* p) {
    Result<std::optional<size_t>> m = MaxMatchChars(p);
    EXPECT_TRUE(m.ok()) << p;
    return m.ok() && m->has_value() ? static_cast<int64_t>(**m) : int64_t{-1};
  };
  EXPECT_EQ(most("pipe\\s{0,3}bomb"), 11);
  EXPECT_EQ(most("\\b(?:ab|cde)\\b"), 3);
  EXPECT_EQ(most("[a-z]{2,4}é?"), 5);
  EXPECT_EQ(most("(?i)x{3}(?:y{2}){2}"), 7);
  EXPECT_EQ(most("a+"), -1);
  EXPECT_EQ(most("a{2,}"), -1);
  EXPECT_EQ(most("^$"), 0);
}

TEST(PendingMatch, UnsupportedSyntaxGivesNoMatcher) {
  EXPECT_FALSE(PrefixClosurePattern("a\\Qb*\\E").ok());
  EXPECT_FALSE(PrefixClosurePattern("a(?i)b").ok());  // a flag group inside a group
  EXPECT_EQ(PendingMatcher::Build({"a(?i)b"}, 0, 1 << 20), nullptr);
  EXPECT_TRUE(PrefixClosurePattern("(?i)ab|c").ok());  // leading flags apply to the group
}

TEST(PendingMatch, PendingFromIsTheEarliestMatchInProgress) {
  auto m = PendingMatcher::Build({"pipe\\s{0,3}bomb", "Lily"}, 0, 8 << 20);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->PendingFrom("a girl named Li"), 13u);
  EXPECT_EQ(m->PendingFrom("a pipe "), 2u);
  EXPECT_EQ(m->PendingFrom("a pipe organ"), 12u);  // nothing pending
  EXPECT_EQ(m->PendingFrom(""), 0u);
  // Right context: a complete match stays pending for that many characters after it.
  auto r = PendingMatcher::Build({"\\d{3}"}, 4, 8 << 20);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->PendingFrom("call 555 now"), 5u);
  EXPECT_EQ(r->PendingFrom("call 555 now!"), 13u);
}

// Safety, by brute force: whenever some match of a pattern in the full text starts at a and ends
// after k, PendingFrom(text[0, k)) <= a.
TEST(PendingMatch, NeverMissesAMatchInProgress) {
  const std::vector<std::string> patterns = {
      "ab+c",        "(?i)a[bc]{1,3}d?", "\\bab\\b",      "(?:ab|ba)*c", "a.{0,2}b",
      "[abc]{2}\\d", "c(?:a|b(?:a)?)c",  "(?i)b{2,}|ca$", "1\\d{2,4}\\b"};
  const std::string alphabet = "abcdAB1 2";
  std::mt19937 rng(7);
  for (const std::string& p : patterns) {
    auto m = PendingMatcher::Build({p}, 0, 8 << 20);
    ASSERT_NE(m, nullptr) << p;
    RE2 re(p);
    for (int iter = 0; iter < 150; ++iter) {
      std::string t;
      const int len = std::uniform_int_distribution<int>(1, 10)(rng);
      for (int i = 0; i < len; ++i) {
        t += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
      }
      for (size_t k = 0; k <= t.size(); ++k) {
        const size_t got = m->PendingFrom(std::string_view(t).substr(0, k));
        for (size_t a = 0; a < k; ++a) {
          for (size_t e = k + 1; e <= t.size(); ++e) {
            // The match t[a, e) of the pattern within the full text (assertions see context).
            re2::StringPiece sm;
            if (re.Match(t, a, e, RE2::ANCHOR_BOTH, &sm, 1)) {
              EXPECT_LE(got, a) << p << " on '" << t << "' cut at " << k << ": match [" << a << ", "
                                << e << ") missed";
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace parapet::pipeline::internal
