// UTC timestamps as the audit tools read and print them: ISO-8601 text ("2026-11-30",
// "2026-11-30T01:02:03Z", "2026-11-30T01:02:03.456789Z") to and from microseconds since the Unix
// epoch. The audit log's `ts` fields (audit/FORMAT.md) and the `--since`/`--until` flags of
// `parapet audit query` both go through ParseTime, so they compare as times, not as text.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parapet::audit {

// Microseconds since 1970-01-01T00:00:00Z.
using TimeUs = int64_t;

// Parses a UTC date ("2026-11-30", midnight) or date-time with a trailing "Z"
// ("2026-11-30T01:02:03Z", optionally with 1 to 9 fractional digits, kept to the microsecond).
// Years 1970..9999. InvalidArgument, naming the text and the accepted forms, for anything else
// (other time zones, out-of-range fields such as a 31st of April or hour 24).
Result<TimeUs> ParseTime(std::string_view text);

// "2026-11-30T01:02:03Z" (whole seconds, truncated). REQUIRES: t >= 0.
std::string FormatTime(TimeUs t);

inline constexpr TimeUs kMicrosPerSecond = 1'000'000;
inline constexpr TimeUs kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr TimeUs kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr TimeUs kMicrosPerDay = 24 * kMicrosPerHour;

}  // namespace parapet::audit
