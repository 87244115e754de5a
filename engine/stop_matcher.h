// StopMatcher: finds the client's stop strings (OpenAI `stop`) in a stream of decoded text that
// arrives in arbitrary pieces (one token's worth at a time), so a stop string split across tokens
// is still found. It sits after the stream decoder: Push() returns the text that is safe to send
// on, holding back a tail that might still turn into a stop string.
//
// Semantics: the output equals the whole text cut at the earliest-starting occurrence of any stop
// string (the stop string and everything after it are dropped), however the text was split into
// pushes. To keep that true when stop strings overlap (stops "abcd" and "bc", text "abcd"), a
// complete match is only acted on once no earlier-starting match can still complete; until then
// the text from the earliest such start is held too. At most the longest stop string minus one
// byte (255) is ever held back. Matching is on bytes; stop strings are valid UTF-8, so the cut
// never splits a character of valid UTF-8 input.
//
// Thread-safety: per-stream state; one thread at a time.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::engine {

inline constexpr size_t kMaxStopStrings = 4;
inline constexpr size_t kMaxStopStringBytes = 256;

// OK, or InvalidArgument naming the entry: more than kMaxStopStrings strings, or one that is
// empty, longer than kMaxStopStringBytes, or not valid UTF-8.
Status ValidateStopStrings(std::span<const std::string> stops);

class StopMatcher {
 public:
  struct Output {
    std::string text;      // safe to emit now (may be empty)
    bool stopped = false;  // a stop string was hit: `text` is the last output, generation ends
  };

  // REQUIRES: ValidateStopStrings(stops).ok(). No stop strings: every push passes through.
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends `text` to the stream. Once stopped, returns {"", true} and ignores `text`.
  Output Push(std::string_view text);

  // End of stream: returns the held-back text (cut at a stop string that completed but was still
  // waiting on an overlapping, earlier-starting one; stopped() is then true). Once stopped, "".
  std::string Flush();

  bool stopped() const { return stopped_; }
  size_t held_bytes() const { return held_.size(); }

 private:
  // Earliest start of a complete stop string in `text`, or npos.
  size_t FirstMatch(std::string_view text) const;
  // Earliest start of a suffix of `text` that is a proper prefix of some stop string (text that
  // may still become a match), or text.size() if none.
  size_t FirstPartial(std::string_view text) const;

  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace parapet::engine
