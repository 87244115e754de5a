// Unicode helpers shared by the text stages (unicode, keywords): lenient UTF-8 decoding,
// character classes from utf8proc, and NFKC normalisation that keeps an exact byte map back to
// its input. Internal to pipeline/. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parapet::pipeline::internal {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

struct DecodedChar {
  uint32_t cp = 0;   // the code point; U+FFFD for an invalid or truncated sequence
  uint32_t len = 0;  // bytes consumed: 1..4 (an invalid sequence consumes one byte)
};

// Decodes the character at s[pos]. REQUIRES: pos < s.size().
DecodedChar DecodeLenient(std::string_view s, size_t pos);

// Start of the character that ends at s[pos] (pos > 0): steps back over at most three
// continuation bytes. On invalid input it may land inside a sequence; callers treat that byte as
// U+FFFD through DecodeLenient.
size_t PreviousCharStart(std::string_view s, size_t pos);

// Letters (L*), marks (M*) and numbers (N*): the characters a word is made of.
bool IsWordChar(uint32_t cp);
bool IsLetter(uint32_t cp);
bool IsMark(uint32_t cp);
// Unicode White_Space (Zs, Zl, Zp, TAB..CR, NEL).
bool IsWhiteSpace(uint32_t cp);
// Simple (one-to-one) Unicode lowercase mapping.
uint32_t SimpleLower(uint32_t cp);

// Invisible characters the unicode stage strips: zero-width (U+200B..U+200D, U+2060..U+2064,
// U+FEFF, U+00AD soft hyphen, U+034F, U+180E, Hangul fillers U+115F/U+1160/U+3164/U+FFA0, tag
// characters U+E0000..U+E007F) and bidi controls (U+200E/F, U+061C, U+202A..U+202E,
// U+2066..U+2069). Variation selectors (U+FE00..U+FE0F, U+E0100..U+E01EF) only when asked.
bool IsInvisible(uint32_t cp, bool variation_selectors);

struct NormalizeOptions {
  bool nfkc = true;                        // NFKC (else code points pass through unchanged)
  bool casefold = false;                   // Unicode case folding (full: "ß" -> "ss")
  bool strip_invisible = true;             // drop IsInvisible() characters
  bool strip_variation_selectors = false;  // ... and variation selectors
  bool strip_marks = false;                // drop combining marks after decomposition (nfkc)
};

// Normalises `in` into `out`. Invalid UTF-8 becomes U+FFFD (one per invalid byte). `origin` gets
// out.size() + 1 entries: origin[i] is the byte offset in `in` where the input behind out[i]
// starts (non-decreasing), origin.back() == in.size() — the map ScanText::Rewrite takes.
//
// How the map is exact: NFKC only combines or reorders characters within a run that starts at a
// composition boundary (a starter that cannot be the second half of a composition) and extends up
// to the next one. Each run is normalised on its own and all its output bytes map to the start of
// the run's first input character; an input character whose decomposition holds several starters
// ("㎏" -> "kg") yields several runs with the same origin. Concatenating the runs equals
// normalising the whole text (tested against utf8proc_NFKC).
void NormalizeWithOrigin(std::string_view in, const NormalizeOptions& options, std::string& out,
                         std::vector<uint32_t>& origin);

}  // namespace parapet::pipeline::internal
