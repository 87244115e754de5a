// ParseTime / FormatTime: civil-date arithmetic after H. Hinnant's days_from_civil.
#include "audit/timestamp.h"

#include <cstdio>

namespace parapet::audit {
namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

// Reads exactly `n` decimal digits at `*pos`; false when any is missing.
bool Digits(std::string_view s, size_t* pos, int n, int64_t* out) {
  if (*pos + n > s.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// Fills `*t` from `s`; false for any syntax or range error.
bool Parse(std::string_view s, TimeUs* t) {
  size_t pos = 0;
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, frac_us = 0;
  if (!Digits(s, &pos, 4, &y) || !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &mo) ||
      !Expect(s, &pos, '-') || !Digits(s, &pos, 2, &d)) {
    return false;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return false;
  if (pos < s.size()) {
    if (!Expect(s, &pos, 'T') || !Digits(s, &pos, 2, &h) || !Expect(s, &pos, ':') ||
        !Digits(s, &pos, 2, &mi) || !Expect(s, &pos, ':') || !Digits(s, &pos, 2, &sec)) {
      return false;
    }
    if (h > 23 || mi > 59 || sec > 59) return false;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int n = 0;
      for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++n) {
        if (n < 6) frac_us = frac_us * 10 + (s[pos] - '0');
      }
      if (n == 0 || n > 9) return false;
      for (int i = n; i < 6; ++i) frac_us *= 10;
    }
    if (!Expect(s, &pos, 'Z') || pos != s.size()) return false;
  }
  *t = ((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60 * kMicrosPerSecond +
       sec * kMicrosPerSecond + frac_us;
  return true;
}

}  // namespace

Result<TimeUs> ParseTime(std::string_view text) {
  TimeUs t = 0;
  if (!Parse(text, &t)) {
    return InvalidArgumentError("bad time \"" + std::string(text) +
                                "\": expected a UTC time such as 2026-11-30, "
                                "2026-11-30T01:02:03Z or 2026-11-30T01:02:03.456Z");
  }
  return t;
}

std::string FormatTime(TimeUs t) {
  PARAPET_CHECK(t >= 0);
  const int64_t days = t / kMicrosPerDay;
  const int64_t rem = (t % kMicrosPerDay) / kMicrosPerSecond;
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

}  // namespace parapet::audit
