// PolicyStore: load, test, swap; keep the last good version.
#include "policies/policy_store.h"

#include <sys/stat.h>

#include "common/logging.h"

namespace parapet::policies {

PolicyStore::PolicyStore(std::string path, const CompileContext& context)
    : path_(std::move(path)), context_(context) {}

PolicyStore::~PolicyStore() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

Result<std::shared_ptr<const PolicySet>> PolicyStore::LoadAndTest(const std::string& path,
                                                                  const CompileContext& context) {
  PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<const PolicySet> set, PolicySet::Load(path, context));
  std::vector<TestFailure> failures = RunPolicyTests(*set);
  if (!failures.empty()) {
    const TestFailure& f = failures.front();
    return InvalidArgumentError(path + ": " + std::to_string(failures.size()) +
                                " policy test(s) failed; first: policy '" + f.policy + "', test '" +
                                f.test + "': " + f.reason);
  }
  return set;
}

Result<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& path,
                                                       const CompileContext& context) {
  std::unique_ptr<PolicyStore> store(new PolicyStore(path, context));
  store->stamp_ = store->Stamp();
  PARAPET_ASSIGN_OR_RETURN(store->current_, LoadAndTest(path, context));
  store->generation_ = 1;
  return store;
}

std::shared_ptr<const PolicySet> PolicyStore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

uint64_t PolicyStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

std::string PolicyStore::Stamp() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return "";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size);
}

void PolicyStore::SetReloadListener(ReloadListener listener) {
  std::lock_guard<std::mutex> reload(reload_mu_);
  listener_ = std::move(listener);
}

Status PolicyStore::Reload() {
  std::lock_guard<std::mutex> reload(reload_mu_);
  stamp_ = Stamp();
  const std::shared_ptr<const PolicySet> before = current();
  Result<std::shared_ptr<const PolicySet>> next = LoadAndTest(path_, context_);
  if (!next.ok()) {
    if (listener_) listener_(next.status(), before, before);
    return next.status();
  }
  std::shared_ptr<const PolicySet> after = std::move(next).value();
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = after;
    ++generation_;
  }
  if (listener_) listener_(Status::Ok(), before, after);
  return Status::Ok();
}

void PolicyStore::Watch(std::chrono::milliseconds period) {
  if (watcher_.joinable()) return;
  watcher_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(watch_mu_);
    while (!watch_cv_.wait_for(lock, period, [this] { return stopping_; })) {
      std::string stamp;
      {
        std::lock_guard<std::mutex> reload(reload_mu_);
        stamp = stamp_;
      }
      if (Stamp() == stamp) continue;
      lock.unlock();
      Status s = Reload();
      if (s.ok()) {
        PARAPET_LOG(kInfo) << "policy file changed: " << path_ << " reloaded (generation "
                           << generation() << ")";
      } else {
        PARAPET_LOG(kError) << "policy file changed but was not loaded, the previous version "
                               "keeps serving: "
                            << s.message();
      }
      lock.lock();
    }
  });
}

}  // namespace parapet::policies
