// Unicode helpers for the tokenizers (see unicode.h).
#include "engine/internal/unicode.h"

#include <algorithm>
#include <array>

#include "common/utf8.h"

namespace parapet::engine::internal {

namespace {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
constexpr uint32_t kBmpSize = 0x10000;

// Flags for the Basic Multilingual Plane, expanded once from the range table so that the common
// case is one array load. Built on first use (thread-safe static initialisation), then immutable.
const std::array<uint8_t, kBmpSize>& BmpFlags() {
  static const std::array<uint8_t, kBmpSize> table = [] {
    std::array<uint8_t, kBmpSize> t{};
    for (size_t i = 0; i < kCodepointRangeCount; ++i) {
      const uint32_t begin = kCodepointRanges[i].start;
      if (begin >= kBmpSize) break;
      const uint32_t end = i + 1 < kCodepointRangeCount
                               ? std::min(kCodepointRanges[i + 1].start, kBmpSize)
                               : kBmpSize;
      std::fill(t.begin() + begin, t.begin() + end, kCodepointRanges[i].flags);
    }
    return t;
  }();
  return table;
}

constexpr bool IsPrintableLatin1(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteMaps {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 512> cp_to_byte{};  // every mapped code point is below U+0200
};

constexpr ByteMaps MakeByteMaps() {
  ByteMaps maps;
  for (auto& b : maps.cp_to_byte) b = -1;
  uint32_t next_extra = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const uint32_t cp = IsPrintableLatin1(b) ? b : next_extra++;
    maps.byte_to_cp[b] = cp;
    maps.cp_to_byte[cp] = static_cast<int16_t>(b);
  }
  return maps;
}

constexpr ByteMaps kByteMaps = MakeByteMaps();

}  // namespace

uint8_t CodepointFlags(uint32_t cp) {
  if (cp < kBmpSize) return BmpFlags()[cp];
  if (cp > kMaxCodepoint) return 0;
  const CodepointRange* end = kCodepointRanges + kCodepointRangeCount;
  const CodepointRange* it = std::upper_bound(
      kCodepointRanges, end, cp, [](uint32_t v, const CodepointRange& r) { return v < r.start; });
  return (it - 1)->flags;
}

size_t Utf8CharLength(std::string_view text) {
  const size_t n = Utf8SequenceLength(text);
  return n == 0 ? 1 : n;
}

DecodedText DecodeUtf8Lossy(std::string_view text) {
  DecodedText out;
  out.cps.reserve(text.size());
  out.offsets.reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    const std::string_view rest = text.substr(pos);
    const size_t n = Utf8SequenceLength(rest);
    out.offsets.push_back(pos);
    out.cps.push_back(n == 0 ? kReplacementCharacter : Utf8Decode(rest));
    pos += n == 0 ? 1 : n;
  }
  out.offsets.push_back(text.size());
  return out;
}

uint32_t ByteToCodepoint(uint8_t byte) { return kByteMaps.byte_to_cp[byte]; }

int CodepointToByte(uint32_t cp) {
  return cp < kByteMaps.cp_to_byte.size() ? kByteMaps.cp_to_byte[cp] : -1;
}

std::string ByteToUtf8(uint8_t byte) {
  std::string s;
  AppendUtf8(ByteToCodepoint(byte), &s);
  return s;
}

}  // namespace parapet::engine::internal
