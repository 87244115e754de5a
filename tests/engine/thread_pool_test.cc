#include "engine/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace parapet::engine::cpu {
namespace {

// Every task of every job runs exactly once, on a valid thread index, whatever the pool size —
// including more threads than cores, where workers are often descheduled mid-job.
TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int n_threads : {1, 2, 3, 8}) {
    ThreadPool pool(n_threads);
    for (int64_t n_tasks : {1, 2, 7, 64, 1000}) {
      for (int rep = 0; rep < 50; ++rep) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n_tasks));
        std::atomic<bool> bad_thread{false};
        pool.Run(n_tasks, [&](int64_t task, int thread) {
          if (thread < 0 || thread >= n_threads) bad_thread = true;
          hits[static_cast<size_t>(task)].fetch_add(1);
        });
        for (int64_t t = 0; t < n_tasks; ++t) {
          ASSERT_EQ(hits[static_cast<size_t>(t)].load(), 1)
              << n_threads << " threads, " << n_tasks << " tasks, task " << t;
        }
        ASSERT_FALSE(bad_thread);
      }
    }
  }
}

// Thread indices are unique among concurrently running tasks, so per-thread scratch is safe.
TEST(ThreadPool, ThreadIndexIsExclusive) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> in_use(4);
  std::atomic<bool> clash{false};
  for (int rep = 0; rep < 200; ++rep) {
    pool.Run(32, [&](int64_t, int thread) {
      if (in_use[static_cast<size_t>(thread)].fetch_add(1) != 0) clash = true;
      std::this_thread::yield();
      in_use[static_cast<size_t>(thread)].fetch_sub(1);
    });
  }
  EXPECT_FALSE(clash);
}

// Workers that went to sleep between jobs wake for the next one.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // workers fall asleep
    std::atomic<int> sum{0};
    pool.Run(100, [&](int64_t task, int) { sum += static_cast<int>(task); });
    EXPECT_EQ(sum.load(), 4950);
  }
}

}  // namespace
}  // namespace parapet::engine::cpu
