// SessionRegistry: the live sessions of one server, for the connection cap and for Shutdown
// (which must reach every session and wait for them to end). Holds sessions weakly; a session
// adds itself when created and removes itself in its destructor. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace parapet::gateway::internal {

class Session;

class SessionRegistry {
 public:
  uint64_t Add(std::weak_ptr<Session> session);
  void Remove(uint64_t id);
  size_t size() const;
  std::vector<std::shared_ptr<Session>> Snapshot() const;
  // Waits until no session is left or `timeout_ms` passes; true if none is left.
  bool WaitEmpty(int64_t timeout_ms) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  uint64_t next_id_ = 1;                                       // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, std::weak_ptr<Session>> live_;  // GUARDED_BY(mu_)
};

}  // namespace parapet::gateway::internal
