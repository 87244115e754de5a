// ThreadPool: a fixed set of worker threads for the CPU backend's data-parallel loops. Run()
// hands out task indices [0, n_tasks) dynamically (an atomic counter) to the workers and the
// calling thread, and returns when all tasks are done. Workers spin briefly between runs (decode
// issues hundreds of small runs per token, so sleeping through each gap would dominate), then
// block on a futex-backed atomic wait.
// Thread-safety: Run() must not be called concurrently from several threads (one pool per
// forward pass); the pool itself is safe to destroy while idle.
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

  // Calls fn(task, thread) for every task in [0, n_tasks); `thread` is in [0, n_threads()).
  void Run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

 private:
  void WorkerLoop(int thread);
  void DoTasks(int thread);

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> active_{0};
  std::atomic<bool> stop_{false};
  int64_t n_tasks_ = 0;
  const std::function<void(int64_t, int)>* fn_ = nullptr;
};

}  // namespace parapet::engine::cpu
