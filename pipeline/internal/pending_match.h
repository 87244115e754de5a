// Pending matches, for the stream guard's early release: given the text generated so far, where
// could a match of some pattern still be in progress — started, but able to grow or change with
// text not yet generated? Text before that point cannot change those patterns' matches and may
// be released.
//
// PrefixClosurePattern rewrites an RE2 pattern R into a pattern for Pref(R), the set of prefixes
// of R's matches (the empty string included), with zero-width assertions (^ $ \b \B \A \z)
// dropped, which only adds strings: Pref(ab) = Pref(a) | a Pref(b), Pref(a|b) = Pref(a) | Pref(b),
// Pref(a{n,m}) = a{0,m-1} Pref(a), Pref(a*) = a* Pref(a), Pref(atom) = atom?. A superset is safe
// (it holds back more); a subset never happens. Patterns it does not understand (\Q..\E, flag
// groups like (?i) anywhere but at the start of a group) are an InvalidArgument error: the caller
// then falls back to the hold-back bound.
//
// PendingMatcher combines the closures of many patterns into one RE2, `(?:P1|...|Pn)\z`, plus
// each full pattern followed by up to `right_context` characters (for checks that look past a
// match, like the pii stage's "office" after a phone number). One search gives the leftmost
// position from which the rest of the text is such a prefix: the start of the earliest pending
// match.
//
// Thread-safety: immutable after Build; PendingFrom is const and thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pipeline/scan_text.h"

namespace re2 {
class RE2;
}

namespace parapet::pipeline::internal {

// Pref(pattern) as an RE2 pattern (see above); `pattern` must be valid RE2 syntax.
Result<std::string> PrefixClosurePattern(std::string_view pattern);
// `pattern` with its zero-width assertions dropped and its groups non-capturing.
Result<std::string> StrippedPattern(std::string_view pattern);
// The most characters a match of `pattern` can span; nullopt when unbounded (* + {n,}).
Result<std::optional<size_t>> MaxMatchChars(std::string_view pattern);

class PendingMatcher {
 public:
  // Null when some pattern is not understood or the combined RE2 does not fit `max_mem_bytes`.
  static std::unique_ptr<PendingMatcher> Build(const std::vector<std::string>& patterns,
                                               int right_context, int64_t max_mem_bytes);
  ~PendingMatcher();

  // The smallest offset p (a character start) such that text[p, end) is a prefix of a match
  // (or a match plus right context) of some pattern; text.size() when none is pending.
  size_t PendingFrom(std::string_view text) const;

 private:
  explicit PendingMatcher(std::unique_ptr<re2::RE2> re);
  std::unique_ptr<re2::RE2> re_;
};

// A PendingMatcher built on first use (input-only stages never pay for it), for a stage's
// PendingFrom: the pending offset of a ScanText's current text, mapped to its original text;
// nullopt when the matcher cannot be built. Thread-safe.
class LazyPendingMatcher {
 public:
  LazyPendingMatcher(std::vector<std::string> patterns, int right_context, int64_t max_mem_bytes)
      : patterns_(std::move(patterns)), right_context_(right_context), max_mem_(max_mem_bytes) {}

  std::optional<size_t> PendingFrom(const ScanText& text) const;

 private:
  const std::vector<std::string> patterns_;
  const int right_context_;
  const int64_t max_mem_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<PendingMatcher> matcher_;  // set once under once_
};

}  // namespace parapet::pipeline::internal
