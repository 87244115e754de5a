// Test helpers for the Scheduler suites (scheduler_test.cc, kv_prefix_test.cc): a TokenSink that
// records one request's output and a one-shot latch for steering the scheduler thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <memory>

#include "engine/model.h"
#include "engine/scheduler.h"

namespace parapet::engine {

// A fixture over one model, stories260K unless a test loads another.
class ModelFixture : public ::testing::Test {
 protected:
  void SetUp() override { LoadModel(std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf"); }

  void LoadModel(const std::string& path) {
    auto m = Model::Load(path, ModelOptions{.n_threads = 1});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value();
  }

  std::unique_ptr<Model> model_;
};

// Greedy decoding of up to `max_tokens` tokens.
inline GenerateOptions Greedy(int32_t max_tokens) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_tokens = max_tokens;
  return o;
}

// Records one request's output; Wait() blocks until OnDone. `on_text` (optional) runs on the
// scheduler thread after each OnText is recorded, with the number of calls so far.
class RecordingSink : public TokenSink {
 public:
  void OnText(std::string_view text, TokenId id, const SampleResult&) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (n_done_ > 0) ++n_text_after_done_;
      text_ += text;
      ids_.push_back(id);
      ++n_text_;
    }
    if (on_text) on_text(n_text());
  }
  void OnDone(const Status& status, std::string_view finish_reason,
              const GenerateResult& summary) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++n_done_;
    status_ = status;
    finish_reason_ = std::string(finish_reason);
    summary_ = summary;
    cv_.notify_all();
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return n_done_ > 0; });
  }
  int n_text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return n_text_;
  }
  int n_done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return n_done_;
  }
  // Call after Wait().
  const Status& status() const { return status_; }
  const std::string& finish_reason() const { return finish_reason_; }
  const GenerateResult& summary() const { return summary_; }
  const std::string& text() const { return text_; }
  int n_text_after_done() const { return n_text_after_done_; }

  std::function<void(int n_text)> on_text;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  std::vector<TokenId> ids_;
  int n_text_ = 0;
  int n_done_ = 0;
  int n_text_after_done_ = 0;
  Status status_;
  std::string finish_reason_;
  GenerateResult summary_;
};

// A one-shot latch: Wait() blocks until Open().
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace parapet::engine
