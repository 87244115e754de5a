// The audit writer's file seam: what it does to files, as an interface, so that tests can make
// a write, a sync or the disk fail on cue. PosixFs() is the real one (O_APPEND files,
// fdatasync, directory fsync after creating a file, statvfs for free space).
//
// Thread-safety: PosixFs is stateless and thread-safe; an AuditFile is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace parapet::audit {

class AuditFile {
 public:
  virtual ~AuditFile() = default;
  virtual Status Append(std::string_view data) = 0;  // all of it, or an error
  virtual Status Sync() = 0;                         // fdatasync
};

class AuditFs {
 public:
  virtual ~AuditFs() = default;
  // Opens `path` for appending, creating it (and syncing its directory) when missing.
  virtual Result<std::unique_ptr<AuditFile>> OpenAppend(const std::string& path) = 0;
  virtual Result<std::string> Read(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;  // and sync it
  // File names (not paths) in `dir`, sorted.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual Result<uint64_t> FreeBytes(const std::string& dir) = 0;
};

AuditFs& PosixFs();

}  // namespace parapet::audit
