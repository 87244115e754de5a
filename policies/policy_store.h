// PolicyStore: the running policy file. Loads it, and on Reload() (SIGHUP) or when the file
// changes on disk, parses, compiles and runs the policies' own tests on the new version, then
// swaps it in atomically. A file that fails any step never replaces the running one; the
// failure is returned (and logged by the watcher) with its reason. Requests hold the
// shared_ptr<const PolicySet> they started with, so a swap never changes a request in flight.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "policies/policy_set.h"

namespace parapet::policies {

class PolicyStore {
 public:
  // Loads `path`; fails (naming the file, line and field, or the failing test) if it does not
  // compile or its tests fail. `context` must outlive the store.
  static Result<std::unique_ptr<PolicyStore>> Open(const std::string& path,
                                                   const CompileContext& context);
  ~PolicyStore();  // stops the watcher

  std::shared_ptr<const PolicySet> current() const;
  // How many versions were loaded so far (1 after Open).
  uint64_t generation() const;

  // Re-reads the file. OK: the new version serves new requests. Error: the old one stays.
  Status Reload();

  // Called after every reload attempt (SIGHUP or the watcher), on the reloading thread, with its
  // outcome and the versions before and after (equal when it failed). Set before Watch.
  using ReloadListener =
      std::function<void(const Status&, const std::shared_ptr<const PolicySet>& before,
                         const std::shared_ptr<const PolicySet>& after)>;
  void SetReloadListener(ReloadListener listener);

  // Polls the file's modification time and size every `period` on a thread of its own and
  // reloads when they change (failures are logged, the old version keeps serving).
  void Watch(std::chrono::milliseconds period);

 private:
  PolicyStore(std::string path, const CompileContext& context);
  static Result<std::shared_ptr<const PolicySet>> LoadAndTest(const std::string& path,
                                                              const CompileContext& context);
  std::string Stamp() const;  // mtime + size of the file, "" if unreadable

  const std::string path_;
  const CompileContext& context_;
  mutable std::mutex mu_;
  std::shared_ptr<const PolicySet> current_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                   // GUARDED_BY(mu_)
  std::mutex reload_mu_;                      // one reload at a time
  std::string stamp_;                         // GUARDED_BY(reload_mu_)
  ReloadListener listener_;                   // GUARDED_BY(reload_mu_)

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;  // GUARDED_BY(watch_mu_)
  std::thread watcher_;
};

}  // namespace parapet::policies
