#include "pipeline/internal/aho_corasick.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace parapet::pipeline::internal {
namespace {

using Hits = std::vector<std::pair<uint32_t, size_t>>;  // (pattern, end)

Hits ScanAll(const AhoCorasick& ac, std::string_view text) {
  Hits hits;
  ac.Scan(text, [&](uint32_t p, size_t end) { hits.emplace_back(p, end); });
  std::sort(hits.begin(), hits.end(), [](auto a, auto b) {
    return a.second != b.second ? a.second < b.second : a.first < b.first;
  });
  return hits;
}

Hits Naive(const std::vector<std::string>& patterns, std::string_view text) {
  Hits hits;
  for (size_t end = 1; end <= text.size(); ++end) {
    for (uint32_t p = 0; p < patterns.size(); ++p) {
      const std::string& s = patterns[p];
      if (s.size() <= end && text.substr(end - s.size(), s.size()) == s) hits.emplace_back(p, end);
    }
  }
  return hits;
}

TEST(AhoCorasick, ClassicExample) {
  std::vector<std::string> patterns = {"he", "she", "his", "hers"};
  Result<AhoCorasick> ac = AhoCorasick::Build(patterns, 1 << 20);
  ASSERT_TRUE(ac.ok());
  EXPECT_EQ(ScanAll(*ac, "ushers"), (Hits{{0, 4}, {1, 4}, {3, 6}}));
  EXPECT_TRUE(ScanAll(*ac, "").empty());
  EXPECT_TRUE(ScanAll(*ac, "xyz\xFF").empty());
}

TEST(AhoCorasick, MatchesNaiveSearchOnRandomInputs) {
  std::mt19937 rng(3);
  auto random_string = [&](size_t max_len, int alphabet) {
    std::string s;
    for (size_t n = 1 + rng() % max_len; n > 0; --n)
      s.push_back(static_cast<char>('a' + rng() % alphabet));
    return s;
  };
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<std::string> patterns;
    for (size_t n = 1 + rng() % 20; n > 0; --n) patterns.push_back(random_string(5, 3));
    Result<AhoCorasick> ac = AhoCorasick::Build(patterns, 1 << 20);
    ASSERT_TRUE(ac.ok());
    std::string text = random_string(200, 4);
    ASSERT_EQ(ScanAll(*ac, text), Naive(patterns, text));
  }
}

TEST(AhoCorasick, MemoryBudget) {
  Result<AhoCorasick> ac = AhoCorasick::Build({"abcdefgh"}, 16);
  EXPECT_EQ(ac.status().code(), StatusCode::kResourceExhausted);
  Result<AhoCorasick> ok = AhoCorasick::Build({"abcdefgh"}, 1024);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->n_states(), 9u);
  EXPECT_EQ(ok->table_bytes(), 9u * 9u * 4u);  // 9 states x (8 bytes + "other") x 4 bytes
}

}  // namespace
}  // namespace parapet::pipeline::internal
