// Unicode support for the tokenizers: code-point category flags (what the pre-tokenizer regexes
// call \p{L}, \p{N}, \p{P}, \s ...), lossy UTF-8 decoding that never fails, and GPT-2's
// byte <-> code point mapping used by byte-level BPE vocabularies.
//
// The flag table is generated from Python's unicodedata by scripts/gen_unicode_tables.py into
// unicode_tables.cc (ranges of equal flags). Pure functions over immutable data; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parapet::engine::internal {

// Every code point has exactly one general-category flag (kLetter ... kControl; unassigned and
// private-use code points are kControl) and may also have kWhitespace (the White_Space property).
// A value of 0 therefore means "no code point" (used for positions outside a word).
enum CodepointFlag : uint8_t {
  kLetter = 1 << 0,       // \p{L}
  kNumber = 1 << 1,       // \p{N}
  kPunctuation = 1 << 2,  // \p{P}
  kSymbol = 1 << 3,       // \p{S}
  kMark = 1 << 4,         // \p{M}
  kSeparator = 1 << 5,    // \p{Z}
  kControl = 1 << 6,      // \p{C}
  kWhitespace = 1 << 7,   // \s (Unicode White_Space)
};

struct CodepointRange {
  uint32_t start;
  uint8_t flags;
};
// Generated (unicode_tables.cc): sorted by start, first start is 0.
extern const CodepointRange kCodepointRanges[];
extern const size_t kCodepointRangeCount;

// Flags of `cp`; 0 for values above U+10FFFF.
uint8_t CodepointFlags(uint32_t cp);

// What a byte the decoder cannot accept becomes (llama.cpp does the same), so that pre-tokenizer
// rules see a symbol; the original byte is still what gets encoded.
inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Text decoded to code points. `offsets[i]` is the byte offset of code point i in the source and
// offsets.back() == source size, so code point i spans [offsets[i], offsets[i + 1]).
struct DecodedText {
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;
};

// Decodes `text`. Each well-formed UTF-8 sequence gives its code point;
// each byte that does not start one (stray continuation, overlong, surrogate, truncated) gives
// kReplacementCharacter spanning that single byte.
DecodedText DecodeUtf8Lossy(std::string_view text);

// Byte length of the UTF-8 character at the start of `text`: the sequence length when well
// formed, else 1 (a bad byte stands alone). REQUIRES: !text.empty().
size_t Utf8CharLength(std::string_view text);

// GPT-2 byte-level mapping: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order (so the space 0x20 becomes U+0120 'Ġ').
uint32_t ByteToCodepoint(uint8_t byte);
// The inverse: the byte whose mapping is `cp`, or -1 if none.
int CodepointToByte(uint32_t cp);

// The UTF-8 text of ByteToCodepoint(byte) (1 or 2 bytes).
std::string ByteToUtf8(uint8_t byte);

}  // namespace parapet::engine::internal
