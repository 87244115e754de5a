// POSIX files for the audit writer.
#include "audit/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace parapet::audit {
namespace {

Status Errno(const std::string& what) {
  const int e = errno;
  const std::string m = what + ": " + std::strerror(e);
  return e == ENOSPC ? ResourceExhaustedError(m) : DataLossError(m);
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

class PosixFile final : public AuditFile {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { close(fd_); }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno(path_ + ": write");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fdatasync(fd_) != 0) return Errno(path_ + ": fdatasync");
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

class Posix final : public AuditFs {
 public:
  Result<std::unique_ptr<AuditFile>> OpenAppend(const std::string& path) override {
    struct stat st;
    const bool existed = stat(path.c_str(), &st) == 0;
    const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return Errno(path + ": open");
    if (!existed) {
      const int dfd = open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        const int rc = fsync(dfd);
        close(dfd);
        if (rc != 0) {
          close(fd);
          return Errno(DirOf(path) + ": fsync");
        }
      }
    }
    return std::unique_ptr<AuditFile>(new PosixFile(fd, path));
  }

  Result<std::string> Read(const std::string& path) override {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno(path + ": open");
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = Errno(path + ": read");
        close(fd);
        return s;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno(path + ": open");
    Status s;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = Errno(path + ": ftruncate");
    } else if (fsync(fd) != 0) {
      s = Errno(path + ": fsync");
    }
    close(fd);
    return s;
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return Errno(dir + ": opendir");
    std::vector<std::string> out;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<uint64_t> FreeBytes(const std::string& dir) override {
    struct statvfs s;
    if (statvfs(dir.c_str(), &s) != 0) return Errno(dir + ": statvfs");
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }
};

}  // namespace

AuditFs& PosixFs() {
  static Posix fs;
  return fs;
}

}  // namespace parapet::audit
