// Logging and check-failure implementation.
#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "common/check.h"

namespace parapet {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_write_mu;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "D";
    case LogLevel::kInfo:
      return "I";
    case LogLevel::kWarning:
      return "W";
    case LogLevel::kError:
      return "E";
    case LogLevel::kOff:
      break;
  }
  return "?";
}

void WriteLine(const char* level, const std::string& text) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                ts.tv_nsec / 1000000);
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fprintf(stderr, "%s %s %s\n", stamp, level, text.c_str());
  std::fflush(stderr);
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

namespace internal {

LogMessage::LogMessage(LogLevel level, const char* /*file*/, int /*line*/) : level_(level) {}

LogMessage::~LogMessage() { WriteLine(LevelName(level_), stream_.str()); }

void CheckFailed(const char* file, int line, const char* condition, const char* msg) {
  std::string text =
      std::string("check failed at ") + file + ":" + std::to_string(line) + ": " + condition;
  if (msg != nullptr && msg[0] != '\0') text += std::string(" (") + msg + ")";
  WriteLine("F", text);
  std::abort();
}

}  // namespace internal
}  // namespace parapet
