// ScanText: rewritten text with a byte map back to the original.
#include "pipeline/scan_text.h"

#include "common/check.h"

namespace parapet::pipeline {

ScanText::ScanText(std::string original) : original_(std::move(original)), text_(original_) {}

void ScanText::Rewrite(std::string rewritten, std::vector<uint32_t> origin) {
  PARAPET_CHECK(origin.size() == rewritten.size() + 1);
  PARAPET_CHECK(origin.back() == text_.size());
  for (size_t i = 1; i < origin.size(); ++i) PARAPET_CHECK(origin[i - 1] <= origin[i]);
  // Compose with the map already in place: offsets of the current text -> original offsets.
  if (!origin_.empty()) {
    for (uint32_t& o : origin) o = origin_[o];
  }
  origin_ = std::move(origin);
  text_ = std::move(rewritten);
}

Span ScanText::ToOriginal(Span s) const {
  PARAPET_CHECK(s.begin <= s.end && s.end <= text_.size());
  if (origin_.empty()) return s;
  if (s.begin == s.end) return Span{origin_[s.begin], origin_[s.begin]};
  // The end: where the bytes after the span's last byte start in the original, unless that
  // byte shares its origin with the last one (one original character expanded into several
  // bytes): then the span ends where the next distinct origin starts.
  size_t e = s.end;
  while (e < text_.size() && origin_[e] == origin_[s.end - 1]) ++e;
  return Span{origin_[s.begin], origin_[e]};
}

}  // namespace parapet::pipeline
