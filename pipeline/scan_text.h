// ScanText: one message's text as the policy stages see it, plus the map back to the original.
// A rewriting stage (unicode normalisation) replaces the text; later stages see the new text, and
// every span they report is mapped back to byte offsets of the original message, so redactions
// and audit offsets always refer to what the client sent.
//
// Thread-safety: per request; one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parapet::pipeline {

// A half-open byte range [begin, end).
struct Span {
  size_t begin = 0;
  size_t end = 0;
  bool operator==(const Span&) const = default;
};

class ScanText {
 public:
  explicit ScanText(std::string original);

  // The text stages inspect now (valid UTF-8 when the original is).
  const std::string& text() const { return text_; }
  const std::string& original() const { return original_; }
  bool rewritten() const { return !origin_.empty(); }

  // Replaces text() with `rewritten`. `origin` has rewritten.size() + 1 entries: origin[i] is
  // the byte offset in the CURRENT text() where the bytes that produced rewritten[i] start
  // (non-decreasing), and origin.back() == text().size(). REQUIRES: those properties (checked).
  void Rewrite(std::string rewritten, std::vector<uint32_t> origin);

  // The original byte range that `s` (a range of text()) came from: from the start of the
  // original bytes behind s.begin to the end of the original bytes behind s.end - 1.
  // REQUIRES: s.begin <= s.end <= text().size().
  Span ToOriginal(Span s) const;

 private:
  std::string original_;
  std::string text_;
  // Empty while text_ == original_; else [text_.size() + 1] offsets into original_.
  std::vector<uint32_t> origin_;
};

}  // namespace parapet::pipeline
