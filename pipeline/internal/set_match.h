// MatchSet: one RE2::Set pass over a message for the regex and pii stages, with RE2's match-time
// errors (the DFA out of its memory budget) turned into "could not decide".
// Thread-safety: RE2::Set::Match is const and thread-safe.
#pragma once

#include <re2/set.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::pipeline::internal {

// The ids of the patterns of `set` that match `text`, sorted, in `hits`. ResourceExhausted naming
// `stage` ("regex stage 'deny'") and the message index when RE2 could not finish.
Status MatchSet(const RE2::Set& set, const std::string& text, std::string_view stage, int32_t index,
                std::vector<int>& hits);

}  // namespace parapet::pipeline::internal
