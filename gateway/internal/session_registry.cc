// SessionRegistry implementation.
#include "gateway/internal/session_registry.h"

#include <chrono>

namespace parapet::gateway::internal {

uint64_t SessionRegistry::Add(std::weak_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_id_++;
  live_.emplace(id, std::move(session));
  return id;
}

void SessionRegistry::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(id);
  if (live_.empty()) cv_.notify_all();
}

size_t SessionRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

std::vector<std::shared_ptr<Session>> SessionRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, weak] : live_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool SessionRegistry::WaitEmpty(int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return live_.empty(); });
}

}  // namespace parapet::gateway::internal
