// Unicode helpers: lenient decoding, utf8proc character classes, NFKC with an origin map.
#include "pipeline/internal/unicode_text.h"

#include <utf8proc.h>

#include <algorithm>

#include "common/utf8.h"

namespace parapet::pipeline::internal {

DecodedChar DecodeLenient(std::string_view s, size_t pos) {
  std::string_view rest = s.substr(pos);
  size_t len = Utf8SequenceLength(rest);
  if (len == 0) return {kReplacementChar, 1};
  return {Utf8Decode(rest), static_cast<uint32_t>(len)};
}

size_t PreviousCharStart(std::string_view s, size_t pos) {
  size_t p = pos - 1;
  for (int i = 0; i < 3 && p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80; ++i) --p;
  // Only a lead byte whose sequence ends exactly at `pos` starts the character.
  if (DecodeLenient(s, p).len == pos - p) return p;
  return pos - 1;
}

namespace {

utf8proc_category_t Category(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

}  // namespace

bool IsLetter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool IsMark(uint32_t cp) {
  if (cp < 0x80) return false;
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

bool IsWordChar(uint32_t cp) {
  if (cp < 0x80) return IsLetter(cp) || (cp >= '0' && cp <= '9');
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;  // L*, M*, N*
}

bool IsWhiteSpace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  if (cp == 0x85) return true;
  utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

uint32_t SimpleLower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

bool IsInvisible(uint32_t cp, bool variation_selectors) {
  if (cp < 0xAD) return false;
  if (variation_selectors && ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF))) {
    return true;
  }
  switch (cp) {
    case 0x00AD:
    case 0x034F:
    case 0x061C:
    case 0x115F:
    case 0x1160:
    case 0x180E:
    case 0x3164:
    case 0xFEFF:
    case 0xFFA0:
      return true;
    default:
      break;
  }
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
         (cp >= 0xE0000 && cp <= 0xE007F);
}

// ---- normalisation ----

namespace {

bool IsHangulVowelOrTrail(int32_t c) {
  return (c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2);
}

// True when nothing before `c` (a fully decomposed code point) can compose or reorder with it:
// a starter (combining class 0) that is not the second half of any composition. utf8proc 2.6
// marks "second halves" with comb_index >= 0x8000; Hangul jamo compose algorithmically.
bool IsCompositionBoundary(int32_t c) {
  if (c < 0x80) return true;
  const utf8proc_property_t* p = utf8proc_get_property(c);
  if (p->combining_class != 0) return false;
  if (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) return false;
  return !IsHangulVowelOrTrail(c);
}

int CombiningClass(int32_t c) { return c < 0x300 ? 0 : utf8proc_get_property(c)->combining_class; }

class Normalizer {
 public:
  Normalizer(const NormalizeOptions& options, std::string& out, std::vector<uint32_t>& origin)
      : options_(options), out_(out), origin_(origin) {
    if (options.nfkc) {
      flags_ =
          static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE);
    }
    if (options.casefold) flags_ = static_cast<utf8proc_option_t>(flags_ | UTF8PROC_CASEFOLD);
  }

  // Adds one input character that starts at byte `src` of the input.
  void Add(uint32_t cp, uint32_t src) {
    if (options_.strip_invisible && IsInvisible(cp, options_.strip_variation_selectors)) return;
    if (cp < 0x80) {
      if (options_.casefold && cp >= 'A' && cp <= 'Z') cp += 32;
      AddDecomposed(static_cast<int32_t>(cp), src);
      return;
    }
    if (flags_ == 0) return AddDecomposed(static_cast<int32_t>(cp), src);
    int32_t buf[32];
    utf8proc_ssize_t n =
        utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32, flags_, nullptr);
    if (n < 0) return AddDecomposed(static_cast<int32_t>(cp), src);  // not reachable: valid cp
    const int32_t* d = buf;
    if (n > 32) {
      big_.resize(static_cast<size_t>(n));
      n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), big_.data(), n, flags_,
                                  nullptr);
      d = big_.data();
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) {
      if (options_.strip_marks && IsMark(static_cast<uint32_t>(d[i]))) continue;
      AddDecomposed(d[i], src);
    }
  }

  // Adds ASCII character `c` at `src`, known to be followed by ASCII or the end of the input.
  void AddLoneAscii(char c, uint32_t src) {
    if (!run_.empty()) Flush();
    if (options_.casefold && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    out_.push_back(c);
    origin_.push_back(src);
  }

  void Finish(size_t in_size) {
    Flush();
    origin_.push_back(static_cast<uint32_t>(in_size));
  }

 private:
  void AddDecomposed(int32_t c, uint32_t src) {
    if (!options_.nfkc) return Emit(c, src);
    if (run_.empty() || IsCompositionBoundary(c)) {
      Flush();
      run_origin_ = src;
    }
    run_.push_back(c);
    run_src_.push_back(src);
  }

  // A run that normalisation leaves as it is keeps each character's own origin (as text without
  // any change maps); one it changes (composes, reorders) maps wholly to its starter.
  void Flush() {
    bool changed = false;
    if (run_.size() > 1) {
      const std::vector<int32_t> before = run_;
      // Canonical ordering: stable-sort each stretch of non-starters by combining class
      // (O(n log n) even for a long adversarial run of marks).
      for (size_t i = 0; i < run_.size();) {
        size_t j = i;
        while (j < run_.size() && CombiningClass(run_[j]) != 0) ++j;
        if (j - i > 1) {
          std::stable_sort(
              run_.begin() + static_cast<ptrdiff_t>(i), run_.begin() + static_cast<ptrdiff_t>(j),
              [](int32_t a, int32_t b) { return CombiningClass(a) < CombiningClass(b); });
        }
        i = j == i ? i + 1 : j;
      }
      utf8proc_ssize_t n = utf8proc_normalize_utf32(
          run_.data(), static_cast<utf8proc_ssize_t>(run_.size()),
          static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
      if (n >= 0) run_.resize(static_cast<size_t>(n));
      changed = run_ != before;
    }
    for (size_t i = 0; i < run_.size(); ++i) Emit(run_[i], changed ? run_origin_ : run_src_[i]);
    run_.clear();
    run_src_.clear();
  }

  void Emit(int32_t c, uint32_t src) {
    if (c < 0x80) {
      out_.push_back(static_cast<char>(c));
      origin_.push_back(src);
      return;
    }
    size_t before = out_.size();
    AppendUtf8(static_cast<uint32_t>(c), &out_);
    origin_.insert(origin_.end(), out_.size() - before, src);
  }

  const NormalizeOptions& options_;
  std::string& out_;
  std::vector<uint32_t>& origin_;
  utf8proc_option_t flags_ = static_cast<utf8proc_option_t>(0);
  std::vector<int32_t> run_;       // decomposed code points of the current run
  std::vector<uint32_t> run_src_;  // where each of them came from
  uint32_t run_origin_ = 0;
  std::vector<int32_t> big_;  // decompositions longer than the stack buffer
};

}  // namespace

void NormalizeWithOrigin(std::string_view in, const NormalizeOptions& options, std::string& out,
                         std::vector<uint32_t>& origin) {
  out.clear();
  origin.clear();
  out.reserve(in.size());
  origin.reserve(in.size() + 1);
  Normalizer normalizer(options, out, origin);
  for (size_t pos = 0; pos < in.size();) {
    // Fast path: an ASCII character followed by ASCII (or the end) is a run of its own.
    if (static_cast<unsigned char>(in[pos]) < 0x80 &&
        (pos + 1 == in.size() || static_cast<unsigned char>(in[pos + 1]) < 0x80)) {
      normalizer.AddLoneAscii(in[pos], static_cast<uint32_t>(pos));
      ++pos;
      continue;
    }
    DecodedChar d = DecodeLenient(in, pos);
    normalizer.Add(d.cp, static_cast<uint32_t>(pos));
    pos += d.len;
  }
  normalizer.Finish(in.size());
}

}  // namespace parapet::pipeline::internal
