// ThreadPool: a fixed set of worker threads for the CPU backend's data-parallel loops. Run()
// publishes a job (function + task count) and the workers and the calling thread claim task
// indices [0, n_tasks) from one atomic word until none are left; Run() returns when every task has
// finished. A worker that wakes late simply finds nothing left to claim, so a descheduled worker
// never delays the caller (important on small, shared machines). Workers spin briefly between
// jobs (decode issues hundreds of small jobs per token), then sleep on a futex-backed wait.
//
// Thread-safety: Run() must not be called concurrently from several threads (one pool per
// backend, one operation at a time); destroying the pool while idle is safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace parapet::engine::cpu {

class ThreadPool {
 public:
  // `n_threads` counts the caller: n_threads - 1 workers are started. REQUIRES: n_threads >= 1.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(task, thread) for every task in [0, n_tasks); `thread` is in [0, n_threads()) and
  // unique among concurrently running calls (so per-thread scratch can be indexed by it).
  // REQUIRES: n_tasks < 2^20.
  void Run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

 private:
  // The job word: generation (24 bits) | n_tasks (20 bits) | next task index (20 bits).
  static constexpr int kIndexBits = 20;
  static constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

  void WorkerLoop(int thread);
  // Claims and runs tasks of the current job until none are left; returns whether it ran any.
  bool DoTasks(int thread);

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> job_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<uint32_t> wake_{0};  // bumped for every job; sleepers wait on it
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int)>* fn_ = nullptr;  // valid while its job has tasks
  uint64_t generation_ = 0;
};

}  // namespace parapet::engine::cpu
