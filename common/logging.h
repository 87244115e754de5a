// Process-wide logging to stderr: `PARAPET_LOG(kInfo) << "loaded " << n << " tensors";`.
// One line per statement, prefixed with a UTC timestamp and the level. The logger is the only
// global in Parapet; it is thread-safe (lines from different threads never interleave).
#pragma once

#include <sstream>

namespace parapet {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Messages below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

namespace internal {

// Collects one log line and writes it on destruction.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace parapet

#define PARAPET_LOG(level)                                     \
  if (::parapet::LogLevel::level < ::parapet::GetLogLevel()) { \
  } else                                                       \
    ::parapet::internal::LogMessage(::parapet::LogLevel::level, __FILE__, __LINE__).stream()
