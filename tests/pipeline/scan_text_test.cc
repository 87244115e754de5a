#include "pipeline/scan_text.h"

#include <gtest/gtest.h>

namespace parapet::pipeline {
namespace {

TEST(ScanText, UnchangedTextMapsToItself) {
  ScanText t("hello world");
  EXPECT_FALSE(t.rewritten());
  EXPECT_EQ(t.ToOriginal({6, 11}), (Span{6, 11}));
}

TEST(ScanText, DeletionsAndExpansionsMapBack) {
  // "a\u200Bbc" (zero-width space, 3 bytes, removed) -> "abc".
  ScanText t(
      "a\xE2\x80\x8B"
      "bc");
  t.Rewrite("abc", {0, 4, 5, 6});
  EXPECT_EQ(t.text(), "abc");
  EXPECT_EQ(t.ToOriginal({1, 3}), (Span{4, 6}));  // "bc"
  EXPECT_EQ(t.ToOriginal({0, 2}), (Span{0, 5}));  // "ab" spans the removed character
  // A second rewrite composes: "abc" -> "AABC" ('a' expanded to two bytes).
  t.Rewrite("AABC", {0, 0, 1, 2, 3});
  EXPECT_EQ(t.ToOriginal({0, 1}), (Span{0, 4}));  // half of the expansion: the whole 'a'
  EXPECT_EQ(t.ToOriginal({2, 4}), (Span{4, 6}));
  EXPECT_EQ(t.original(),
            "a\xE2\x80\x8B"
            "bc");
}

}  // namespace
}  // namespace parapet::pipeline
