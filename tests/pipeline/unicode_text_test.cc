#include "pipeline/internal/unicode_text.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/utf8.h"

namespace parapet::pipeline::internal {
namespace {

// Code points that exercise NFKC: ASCII, combining marks of several classes, Hangul jamo and
// syllables, compatibility characters, composition exclusions and starters that compose.
const std::vector<uint32_t> kPool = {
    'a',    'e',    'o',    's',    'A',    ' ',    '1',    0x300,  0x301,  0x307,  0x323,
    0x327,  0x345,  0x344,  0x1100, 0x1112, 0x1161, 0x1175, 0x11A8, 0x11C2, 0xAC00, 0xD7A3,
    0xB47,  0xB3E,  0xB57,  0xCBF,  0xCD5,  0xFF41, 0xFF21, 0xFB01, 0x338F, 0xFDFA, 0x1E9B,
    0x212B, 0x2126, 0x3099, 0x309A, 0x304B, 0x30AB, 0xFF76, 0xFF9E, 0x0958, 0x093C, 0x0915,
    0x1F80, 0x03B1, 0x0313, 0xC5,   0xDF,   0x130,  0xFB2C, 0x05BC, 0x05C1, 0x2460, 0xB5};

std::string RandomText(std::mt19937& rng, size_t n_chars) {
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) AppendUtf8(kPool[rng() % kPool.size()], &s);
  return s;
}

std::string ReferenceNfkc(const std::string& s, int options) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  EXPECT_GE(n, 0);
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

void ExpectValidOrigin(const std::string& in, const std::string& out,
                       const std::vector<uint32_t>& origin) {
  ASSERT_EQ(origin.size(), out.size() + 1);
  EXPECT_EQ(origin.back(), in.size());
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_LE(origin[i], origin[i + 1]);
    ASSERT_LT(origin[i], in.size());
    // Each origin is the start of an input character.
    ASSERT_NE(static_cast<unsigned char>(in[origin[i]]) & 0xC0, 0x80);
  }
}

TEST(NormalizeWithOrigin, MatchesUtf8procNfkcRunByRun) {
  std::mt19937 rng(42);
  const int nfkc = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE;
  NormalizeOptions plain, folded;
  plain.strip_invisible = folded.strip_invisible = false;
  folded.casefold = true;
  std::string out;
  std::vector<uint32_t> origin;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = RandomText(rng, 1 + rng() % 12);
    NormalizeWithOrigin(s, plain, out, origin);
    ASSERT_EQ(out, ReferenceNfkc(s, nfkc)) << "input " << s;
    ExpectValidOrigin(s, out, origin);
    NormalizeWithOrigin(s, folded, out, origin);
    ASSERT_EQ(out, ReferenceNfkc(s, nfkc | UTF8PROC_CASEFOLD)) << "input " << s;
  }
}

TEST(NormalizeWithOrigin, InvisibleCharactersVanishWithoutTrace) {
  const std::vector<uint32_t> invisible = {0x200B, 0x200C, 0x200D,  0x2060, 0xFEFF,
                                           0xAD,   0x202A, 0x202E,  0x2066, 0x2069,
                                           0x200E, 0x200F, 0xE0041, 0x180E, 0x61C};
  std::mt19937 rng(7);
  NormalizeOptions options;
  std::string clean_out, dirty_out;
  std::vector<uint32_t> clean_origin, origin;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string clean, dirty;
    size_t n = rng() % 16;
    for (size_t i = 0; i < n; ++i) {
      while (rng() % 3 == 0) AppendUtf8(invisible[rng() % invisible.size()], &dirty);
      uint32_t cp = kPool[rng() % kPool.size()];
      AppendUtf8(cp, &clean);
      AppendUtf8(cp, &dirty);
    }
    if (rng() % 2) AppendUtf8(invisible[rng() % invisible.size()], &dirty);
    NormalizeWithOrigin(clean, options, clean_out, clean_origin);
    NormalizeWithOrigin(dirty, options, dirty_out, origin);
    ASSERT_EQ(dirty_out, clean_out);
    ExpectValidOrigin(dirty, dirty_out, origin);
  }
}

TEST(NormalizeWithOrigin, LongRunOfMarksIsNotQuadratic) {
  std::string s = "a";
  for (int i = 0; i < 200000; ++i) AppendUtf8(i % 2 ? 0x301 : 0x323, &s);
  std::string out;
  std::vector<uint32_t> origin;
  NormalizeWithOrigin(s, NormalizeOptions{}, out, origin);
  // Canonical order puts every U+0323 (class 220) first; a + U+0323 compose into U+1EA1.
  EXPECT_EQ(out.size(), s.size());
  EXPECT_EQ(out.substr(0, 5), "\xE1\xBA\xA1\xCC\xA3");
  EXPECT_EQ(origin[out.size() - 1], 0u);
}

TEST(UnicodeText, CharacterClasses) {
  EXPECT_TRUE(IsWordChar('a'));
  EXPECT_TRUE(IsWordChar('7'));
  EXPECT_FALSE(IsWordChar('_'));
  EXPECT_TRUE(IsWordChar(0x436));  // ж
  EXPECT_TRUE(IsWordChar(0x301));  // combining acute
  EXPECT_FALSE(IsWordChar(0x2014));
  EXPECT_TRUE(IsWhiteSpace(0x3000));
  EXPECT_TRUE(IsWhiteSpace('\n'));
  EXPECT_FALSE(IsWhiteSpace(0x200B));
  EXPECT_EQ(SimpleLower(0x416), 0x436u);
  EXPECT_EQ(SimpleLower('Q'), static_cast<uint32_t>('q'));
  std::string s = "a\xD0\xB6\xFF";
  EXPECT_EQ(PreviousCharStart(s, 3), 1u);
  EXPECT_EQ(PreviousCharStart(s, 4), 3u);
  EXPECT_EQ(DecodeLenient(s, 3).cp, kReplacementChar);
}

}  // namespace
}  // namespace parapet::pipeline::internal
