#include "gateway/signals.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <thread>

namespace parapet::gateway {
namespace {

TEST(SignalWatcher, HupReloadsAndTermEndsTheLoop) {
  SignalWatcher watcher;
  std::atomic<int> reloads{0};
  std::raise(SIGHUP);  // queued before Run
  auto result = std::async(std::launch::async, [&] { return watcher.Run([&] { ++reloads; }); });
  for (int i = 0; i < 200 && reloads.load() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(reloads.load(), 1);
  std::raise(SIGTERM);
  ASSERT_EQ(result.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(result.get(), SIGTERM);
}

TEST(SignalWatcher, StopEndsTheLoop) {
  SignalWatcher watcher;
  auto result = std::async(std::launch::async, [&] { return watcher.Run([] {}); });
  watcher.Stop();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(result.get(), 0);
}

}  // namespace
}  // namespace parapet::gateway
