// ThreadPool implementation.
#include "engine/cpu/thread_pool.h"

#include "common/check.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PARAPET_CPU_RELAX() _mm_pause()
#else
#define PARAPET_CPU_RELAX() \
  do {                      \
  } while (0)
#endif

namespace parapet::engine::cpu {
namespace {
constexpr int kWorkerSpins = 4000;  // pauses (~tens of microseconds) before a worker sleeps
constexpr int kCallerSpins = 1000;  // pauses before the caller starts yielding its core
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  PARAPET_CHECK(n_threads >= 1);
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

bool ThreadPool::DoTasks(int thread) {
  bool ran = false;
  uint64_t job = job_.load(std::memory_order_seq_cst);
  for (;;) {
    const uint64_t index = job & kIndexMask;
    const uint64_t n_tasks = (job >> kIndexBits) & kIndexMask;
    if (index >= n_tasks) return ran;
    // Claim `index` of this job; fails (and reloads) if another thread claimed it first or a
    // new job replaced this one.
    if (!job_.compare_exchange_weak(job, job + 1, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      continue;
    }
    (*fn_)(static_cast<int64_t>(index), thread);
    done_.fetch_add(1, std::memory_order_acq_rel);
    ran = true;
    job = job_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop(int thread) {
  for (;;) {
    int spins = 0;
    while (spins < kWorkerSpins) {
      if (stop_.load(std::memory_order_relaxed)) return;
      spins = DoTasks(thread) ? 0 : spins + 1;
      PARAPET_CPU_RELAX();
    }
    // Sleep until the next job. Re-check for work after registering as a sleeper, so a job
    // published in between is not missed.
    const uint32_t seen = wake_.load(std::memory_order_acquire);
    // seq_cst here and on job_ in Run()/DoTasks(): either Run() sees this sleeper and wakes it,
    // or the DoTasks() below sees Run()'s job.
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (!DoTasks(thread) && !stop_.load()) wake_.wait(seen, std::memory_order_acquire);
    sleepers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::Run(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
  if (n_tasks <= 0) return;
  PARAPET_CHECK(n_tasks <= static_cast<int64_t>(kIndexMask));
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  fn_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  generation_ = (generation_ + 1) & 0xFFFFFF;
  job_.store(generation_ << (2 * kIndexBits) | static_cast<uint64_t>(n_tasks) << kIndexBits,
             std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    wake_.fetch_add(1, std::memory_order_acq_rel);
    wake_.notify_all();
  }
  DoTasks(0);
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_tasks; ++spins) {
    if (spins < kCallerSpins) {
      PARAPET_CPU_RELAX();
    } else {
      std::this_thread::yield();  // a worker holding a task is descheduled: give it the core
    }
  }
}

}  // namespace parapet::engine::cpu
