// Pre-tokenizer splitters (see unicode_pretokenizer.h).
//
// Like llama.cpp, a pre-tokenizer is a list of stages. The text starts as one chunk; each stage
// splits every chunk into pieces and the pieces become the next stage's chunks. A stage sees only
// its chunk: positions outside it read as "no code point" (flags 0), as a regex run on the chunk
// alone would. Regex-style stages emit each leftmost match and each gap between matches as a piece
// (std::regex_iterator semantics); the GPT-2 and Llama-3 stages are ports of llama.cpp's custom
// splitters, including their handling of a trailing space.
//
// llama.cpp runs the DeepSeek and default regexes through std::regex on a rewritten text in which
// every non-ASCII whitespace code point became U+000B; character classes below therefore never
// match non-ASCII whitespace, and \s means the White_Space property.
#include "engine/internal/unicode_pretokenizer.h"

#include <algorithm>
#include <array>
#include <utility>

#include "engine/internal/unicode.h"

namespace parapet::engine::internal {

namespace {

constexpr uint32_t kNoCodepoint = 0xFFFFFFFF;

struct FlaggedText {
  std::span<const uint32_t> cps;
  std::vector<uint8_t> flags;
};

// One chunk [begin, end) of the text being split.
class Chunk {
 public:
  Chunk(const FlaggedText& text, size_t begin, size_t end)
      : text_(text), begin_(begin), end_(end) {}

  size_t begin() const { return begin_; }
  size_t end() const { return end_; }
  uint32_t Cp(size_t pos) const { return Inside(pos) ? text_.cps[pos] : kNoCodepoint; }
  uint8_t Flags(size_t pos) const { return Inside(pos) ? text_.flags[pos] : 0; }
  bool Has(size_t pos, uint8_t flag) const { return (Flags(pos) & flag) != 0; }
  bool IsNewline(size_t pos) const { return Cp(pos) == '\r' || Cp(pos) == '\n'; }

  // First position at or after `pos` whose flags fail `pred` (flags 0 past the end).
  template <typename Pred>
  size_t RunEnd(size_t pos, Pred pred) const {
    while (Inside(pos) && pred(text_.flags[pos])) ++pos;
    return pos;
  }

 private:
  bool Inside(size_t pos) const { return pos >= begin_ && pos < end_; }

  const FlaggedText& text_;
  size_t begin_;
  size_t end_;
};

// Appends the lengths of consecutive pieces of one chunk to a word-length list.
class PieceWriter {
 public:
  PieceWriter(std::vector<size_t>& out, size_t begin) : out_(out), piece_begin_(begin) {}

  // Ends the current piece at `end` (nothing is written for an empty piece).
  void EndAt(size_t end) {
    if (end > piece_begin_) out_.push_back(end - piece_begin_);
    piece_begin_ = end;
  }

 private:
  std::vector<size_t>& out_;
  size_t piece_begin_;
};

using Stage = void (*)(const Chunk& chunk, PieceWriter& writer);

// ---- shared pieces of the GPT-2 and Llama-3 rules ----

bool IsLetter(uint8_t f) { return (f & kLetter) != 0; }
bool IsNumber(uint8_t f) { return (f & kNumber) != 0; }
// [^\s\p{L}\p{N}] for a code point that exists.
bool IsOther(uint8_t f) { return f != 0 && (f & (kWhitespace | kLetter | kNumber)) == 0; }

// 's|'t|'re|'ve|'m|'ll|'d at `pos`; returns the match length or 0. With `ignore_case` the letters
// match either case (llama.cpp lowercases them; no non-ASCII code point lowercases to one of
// these letters, so ASCII folding is exact).
size_t MatchContraction(const Chunk& c, size_t pos, bool ignore_case) {
  if (c.Cp(pos) != '\'') return 0;
  auto letter = [&](size_t p) {
    const uint32_t cp = c.Cp(p);
    return ignore_case && cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp;
  };
  const uint32_t a = letter(pos + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const uint32_t b = letter(pos + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// \s+(?!\S)|\s+ at `pos`: a whitespace run leaves its last code point to the following word.
// Returns the end of the piece, or pos if there is no whitespace at pos.
size_t MatchWhitespaceRun(const Chunk& c, size_t pos) {
  const size_t run_end = c.RunEnd(pos, [](uint8_t f) { return (f & kWhitespace) != 0; });
  if (run_end - pos > 1 && c.Cp(run_end) != kNoCodepoint) return run_end - 1;
  return run_end;
}

// ---- GPT-2 ----

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void SplitGpt2(const Chunk& c, PieceWriter& w) {
  for (size_t pos = c.begin(); pos < c.end();) {
    if (const size_t n = MatchContraction(c, pos, /*ignore_case=*/false); n > 0) {
      pos += n;
      w.EndAt(pos);
      continue;
    }
    const size_t body = pos + (c.Cp(pos) == ' ' ? 1 : 0);  // after the optional space
    const uint8_t f = c.Flags(body);
    if (IsLetter(f) || IsNumber(f) || IsOther(f)) {
      const auto pred = IsLetter(f) ? IsLetter : IsNumber(f) ? IsNumber : IsOther;
      pos = c.RunEnd(body, pred);
      w.EndAt(pos);
      continue;
    }
    const size_t ws_end = MatchWhitespaceRun(c, pos);
    pos = ws_end > pos ? ws_end : pos + 1;
    w.EndAt(pos);
  }
}

// ---- Llama-3 ----

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
void SplitLlama3(const Chunk& c, PieceWriter& w) {
  for (size_t pos = c.begin(); pos < c.end();) {
    if (const size_t n = MatchContraction(c, pos, /*ignore_case=*/true); n > 0) {
      pos += n;
      w.EndAt(pos);
      continue;
    }
    const uint32_t cp = c.Cp(pos);
    const uint8_t f = c.Flags(pos);
    // [^\r\n\p{L}\p{N}]?\p{L}+ : one optional leading code point, then letters.
    if (!c.IsNewline(pos) && !IsNumber(f) && (IsLetter(f) || c.Has(pos + 1, kLetter))) {
      pos = c.RunEnd(pos + 1, IsLetter);
      w.EndAt(pos);
      continue;
    }
    // \p{N}{1,3}
    if (IsNumber(f)) {
      const size_t run_end = c.RunEnd(pos, IsNumber);
      while (pos < run_end) {
        pos = std::min(pos + 3, run_end);
        w.EndAt(pos);
      }
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'. As in llama.cpp, a space that ends the chunk also lands here
    // and becomes a piece of its own (the regex's \s+ would give the same piece).
    const uint8_t f_body = cp == ' ' ? c.Flags(pos + 1) : f;
    if ((f_body & (kWhitespace | kLetter | kNumber)) == 0) {
      pos = c.RunEnd(pos + (cp == ' ' ? 1 : 0), IsOther);
      while (c.IsNewline(pos)) ++pos;
      w.EndAt(pos);
      continue;
    }
    // \s*[\r\n]+ : whitespace up to the run's last CR or LF.
    const size_t ws_end = c.RunEnd(pos, [](uint8_t x) { return (x & kWhitespace) != 0; });
    size_t newline_end = pos;
    for (size_t p = pos; p < ws_end; ++p) {
      if (c.IsNewline(p)) newline_end = p + 1;
    }
    if (newline_end > pos) {
      pos = newline_end;
    } else {
      const size_t run_end = MatchWhitespaceRun(c, pos);
      pos = run_end > pos ? run_end : pos + 1;
    }
    w.EndAt(pos);
  }
}

// ---- regex-style stages ----

// Emits every leftmost match of `match` (length at a position, 0 for none) and the gaps between.
template <typename Matcher>
void SplitAtMatches(const Chunk& c, PieceWriter& w, Matcher match) {
  for (size_t pos = c.begin(); pos < c.end();) {
    const size_t n = match(c, pos);
    if (n == 0) {
      ++pos;
      continue;
    }
    w.EndAt(pos);
    pos += n;
    w.EndAt(pos);
  }
}

struct CodepointSpan {
  uint32_t first;
  uint32_t last;
};

// A character class as std::regex saw it: non-ASCII whitespace had become U+000B and matches
// no class here.
template <size_t N>
bool InClass(const std::array<CodepointSpan, N>& spans, const Chunk& c, size_t pos) {
  const uint32_t cp = c.Cp(pos);
  if (cp == kNoCodepoint || (cp > 0x7F && c.Has(pos, kWhitespace))) return false;
  for (const CodepointSpan& s : spans) {
    if (cp < s.first) return false;  // spans are sorted
    if (cp <= s.last) return true;
  }
  return false;
}

// \s?[class]+ ; returns the match length at pos or 0.
template <size_t N>
size_t MatchSpaceThenClass(const std::array<CodepointSpan, N>& spans, const Chunk& c, size_t pos) {
  const size_t body = pos + (c.Has(pos, kWhitespace) && InClass(spans, c, pos + 1) ? 1 : 0);
  size_t end = body;
  while (InClass(spans, c, end)) ++end;
  return end > body ? end - pos : 0;
}

// \p{N} as llama.cpp's collapsed-text regex sees it: ASCII digits, or a non-ASCII number that is
// not whitespace.
bool IsCollapsedNumber(const Chunk& c, size_t pos) {
  const uint32_t cp = c.Cp(pos);
  if (cp == kNoCodepoint) return false;
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return c.Flags(pos) == kNumber;
}

// \p{N}+
void SplitNumberRuns(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) {
    size_t end = pos;
    while (IsCollapsedNumber(ch, end)) ++end;
    return end - pos;
  });
}

// ---- DeepSeek-LLM ----

// The cased letters of DeepSeek's second regex, \s?[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]+ (its
// class written as code point ranges).
constexpr std::array<CodepointSpan, 84> kDeepseekLetters = {{
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
}};

// \s?[!-/:-~！-／：-～‘-‟　-。]+
constexpr std::array<CodepointSpan, 6> kDeepseekPunctuation = {{
    {0x21, 0x2F},
    {0x3A, 0x7E},
    {0x2018, 0x201F},
    {0x3000, 0x3002},
    {0xFF01, 0xFF0F},
    {0xFF1A, 0xFF5E},
}};

// [一-龥ࠀ-一가-퟿]+
constexpr std::array<CodepointSpan, 2> kDeepseekCjk = {{{0x800, 0x9FA5}, {0xAC00, 0xD7FF}}};

// [\r\n]
void SplitDeepseekNewlines(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) -> size_t { return ch.IsNewline(pos); });
}

void SplitDeepseekLetters(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) {
    return MatchSpaceThenClass(kDeepseekLetters, ch, pos);
  });
}

void SplitDeepseekPunctuation(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) {
    return MatchSpaceThenClass(kDeepseekPunctuation, ch, pos);
  });
}

// \s+$ : the whitespace run that ends the chunk (the leftmost position a match can start).
void SplitTrailingWhitespace(const Chunk& c, PieceWriter& w) {
  size_t start = c.end();
  while (start > c.begin() && c.Has(start - 1, kWhitespace)) --start;
  w.EndAt(start);
}

void SplitDeepseekCjk(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) {
    size_t end = pos;
    while (InClass(kDeepseekCjk, ch, end)) ++end;
    return end - pos;
  });
}

// ---- default ----

// [\p{P}\$\+<=>\^~\|]+ : ASCII !-/ :-@ [-_ {-~ (all but the backquote), or non-ASCII punctuation.
bool IsDefaultPunctuation(const Chunk& c, size_t pos) {
  const uint32_t cp = c.Cp(pos);
  if (cp == kNoCodepoint) return false;
  if (cp < 0x80) {
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x5F) ||
           (cp >= 0x7B && cp <= 0x7E);
  }
  return c.Flags(pos) == kPunctuation;
}

void SplitDefaultPunctuation(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) {
    size_t end = pos;
    while (IsDefaultPunctuation(ch, end)) ++end;
    return end - pos;
  });
}

bool IsAsciiDigit(uint32_t cp) { return cp >= '0' && cp <= '9'; }

// [0-9][0-9][0-9]
void SplitDigitTriples(const Chunk& c, PieceWriter& w) {
  SplitAtMatches(c, w, [](const Chunk& ch, size_t pos) -> size_t {
    const bool triple =
        IsAsciiDigit(ch.Cp(pos)) && IsAsciiDigit(ch.Cp(pos + 1)) && IsAsciiDigit(ch.Cp(pos + 2));
    return triple ? 3 : 0;
  });
}

// ---- driver ----

std::span<const Stage> StagesFor(PreTokenizer kind) {
  static constexpr Stage kDefaultStages[] = {SplitDefaultPunctuation, SplitGpt2, SplitNumberRuns,
                                             SplitDigitTriples};
  static constexpr Stage kGpt2Stages[] = {SplitGpt2};
  static constexpr Stage kLlama3Stages[] = {SplitLlama3};
  static constexpr Stage kDeepseekStages[] = {SplitDeepseekNewlines,    SplitDeepseekLetters,
                                              SplitDeepseekPunctuation, SplitTrailingWhitespace,
                                              SplitDeepseekCjk,         SplitNumberRuns};
  switch (kind) {
    case PreTokenizer::kDefault:
      return kDefaultStages;
    case PreTokenizer::kGpt2:
      return kGpt2Stages;
    case PreTokenizer::kLlama3:
      return kLlama3Stages;
    case PreTokenizer::kDeepseekLlm:
      return kDeepseekStages;
  }
  return kGpt2Stages;
}

}  // namespace

std::vector<size_t> SplitWords(PreTokenizer kind, std::span<const uint32_t> cps) {
  FlaggedText text{cps, {}};
  text.flags.reserve(cps.size());
  for (uint32_t cp : cps) text.flags.push_back(CodepointFlags(cp));

  std::vector<size_t> chunks;
  if (!cps.empty()) chunks.push_back(cps.size());
  std::vector<size_t> pieces;
  for (Stage stage : StagesFor(kind)) {
    pieces.clear();
    pieces.reserve(chunks.size() * 2);
    size_t begin = 0;
    for (size_t len : chunks) {
      const Chunk chunk(text, begin, begin + len);
      PieceWriter writer(pieces, begin);
      stage(chunk, writer);
      writer.EndAt(chunk.end());  // whatever follows the last match
      begin += len;
    }
    std::swap(chunks, pieces);
  }
  return chunks;
}

}  // namespace parapet::engine::internal
