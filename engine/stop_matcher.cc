// StopMatcher implementation: each push re-scans the held tail (under 256 bytes) plus the new
// text, so the work per push is bounded by the stop strings' size times the push's size.
#include "engine/stop_matcher.h"

#include <algorithm>
#include <utility>

#include "common/utf8.h"

namespace parapet::engine {

Status ValidateStopStrings(std::span<const std::string> stops) {
  if (stops.size() > kMaxStopStrings) {
    return InvalidArgumentError("stop: at most " + std::to_string(kMaxStopStrings) +
                                " stop strings are allowed, got " + std::to_string(stops.size()));
  }
  for (size_t i = 0; i < stops.size(); ++i) {
    const std::string field = "stop[" + std::to_string(i) + "]";
    if (stops[i].empty()) return InvalidArgumentError(field + " is empty");
    if (stops[i].size() > kMaxStopStringBytes) {
      return InvalidArgumentError(field + " is " + std::to_string(stops[i].size()) +
                                  " bytes long; the limit is " +
                                  std::to_string(kMaxStopStringBytes));
    }
    if (!IsValidUtf8(stops[i])) return InvalidArgumentError(field + " is not valid UTF-8");
  }
  return Status::Ok();
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  PARAPET_CHECK(ValidateStopStrings(stops_).ok());
}

size_t StopMatcher::FirstMatch(std::string_view text) const {
  size_t first = std::string_view::npos;
  for (const std::string& stop : stops_) first = std::min(first, text.find(stop));
  return first;
}

size_t StopMatcher::FirstPartial(std::string_view text) const {
  // Only the last (longest stop - 1) positions can start a proper prefix.
  size_t longest = 0;
  for (const std::string& stop : stops_) longest = std::max(longest, stop.size());
  const size_t begin = text.size() >= longest ? text.size() - longest + 1 : 0;
  for (size_t start = begin; start < text.size(); ++start) {
    const std::string_view tail = text.substr(start);
    for (const std::string& stop : stops_) {
      if (tail.size() < stop.size() && stop.compare(0, tail.size(), tail) == 0) return start;
    }
  }
  return text.size();
}

StopMatcher::Output StopMatcher::Push(std::string_view text) {
  if (stopped_) return {"", true};
  held_.append(text);
  const size_t match = FirstMatch(held_);
  const size_t partial = FirstPartial(held_);
  Output out;
  if (match != std::string_view::npos && match <= partial) {
    // No earlier-starting stop string can still complete: cut here.
    held_.resize(match);
    out.text = std::move(held_);
    out.stopped = stopped_ = true;
    held_.clear();
    return out;
  }
  // Emit up to the first position that may still start a match (or is a pending one).
  out.text = held_.substr(0, partial);
  held_.erase(0, partial);
  return out;
}

std::string StopMatcher::Flush() {
  if (stopped_) return "";
  std::string out = std::move(held_);
  held_.clear();
  const size_t match = FirstMatch(out);
  if (match != std::string_view::npos) {
    out.resize(match);
    stopped_ = true;
  }
  return out;
}

}  // namespace parapet::engine
