// One Scheduler over several models (lanes): a chat model and guard models beside it share the
// scheduler thread and the KV pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/model.h"
#include "engine/scheduler.h"
#include "tests/engine/scheduler_test_util.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

class SchedulerLanesTest : public ModelFixture {
 protected:
  // A second model for lane 1: another instance of stories260K, or `path`.
  void LoadGuard(const std::string& path = "") {
    auto m = Model::Load(path.empty() ? model_->path() : path, ModelOptions{.n_threads = 1});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    guard_ = std::move(m).value();
  }

  static GenerateResult Reference(Model& model, const GenerationRequest& r) {
    auto g = Generate(model, r.prompt, r.options);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? *g : GenerateResult{};
  }

  static GenerationRequest OnLane(std::vector<TokenId> prompt, GenerateOptions o, int32_t lane) {
    GenerationRequest r{std::move(prompt), std::move(o)};
    r.lane = lane;
    return r;
  }

  // Requests on both lanes at once; each equals Generate on its own model.
  void ExpectEachLaneEqualsGenerate() {
    const char* prompts[] = {"Once upon a time", "Lily liked to", "The big dog ran", "Tom saw"};
    std::vector<GenerationRequest> requests;
    for (int i = 0; i < 4; ++i) {
      Model& m = i % 2 == 0 ? *model_ : *guard_;
      requests.push_back(OnLane(m.tokenizer().Encode(prompts[i], true), Greedy(12 + 5 * i), i % 2));
    }
    std::vector<std::shared_ptr<RecordingSink>> sinks;
    Scheduler::Stats chat, guard;
    {
      Scheduler scheduler(*model_, SchedulerOptions{},
                          {SchedulerLane{guard_.get(), 2, 64, 8, 256}});
      ASSERT_EQ(scheduler.lanes(), 2);
      for (const GenerationRequest& r : requests) {
        sinks.push_back(std::make_shared<RecordingSink>());
        ASSERT_TRUE(scheduler.Submit(r, sinks.back()).ok());
      }
      for (auto& s : sinks) s->Wait();
      chat = scheduler.stats(0);
      guard = scheduler.stats(1);
    }
    uint64_t generated[2] = {0, 0};
    for (size_t i = 0; i < requests.size(); ++i) {
      SCOPED_TRACE("request " + std::to_string(i));
      const GenerateResult want = Reference(i % 2 == 0 ? *model_ : *guard_, requests[i]);
      EXPECT_TRUE(sinks[i]->status().ok()) << sinks[i]->status().ToString();
      EXPECT_EQ(sinks[i]->summary().generated_ids, want.generated_ids);
      EXPECT_EQ(sinks[i]->text(), want.text);
      EXPECT_EQ(sinks[i]->finish_reason(), want.finish_reason);
      generated[i % 2] += want.generated_ids.size();
    }
    EXPECT_EQ(chat.tokens_generated, generated[0]);
    EXPECT_EQ(guard.tokens_generated, generated[1]);
    EXPECT_GT(chat.forward_passes, 0u);
    EXPECT_GT(guard.forward_passes, 0u);
    EXPECT_EQ(chat.kv_bytes_in_use, 0u);
    EXPECT_EQ(chat.kv_pool_tokens, SchedulerOptions{}.kv_pool_tokens);
    EXPECT_EQ(guard.kv_pool_tokens, 256);
    const ModelConfig& c = model_->config();
    const ModelConfig& g = guard_->config();
    EXPECT_EQ(chat.kv_pool_bytes, KvCache::BytesFor(c.n_layer, c.n_embd_kv(), 4096) +
                                      KvCache::BytesFor(g.n_layer, g.n_embd_kv(), 256));
  }

  std::unique_ptr<Model> guard_;
};

TEST_F(SchedulerLanesTest, EachLaneEqualsGenerateOnItsModel) {
  LoadGuard();
  ExpectEachLaneEqualsGenerate();
}

TEST_F(SchedulerLanesTest, EachLaneEqualsGenerateWithAModelOfAnotherShape) {
  // A Llama-3-architecture guard (other vocabulary, layers and KV width) beside stories260K.
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  LoadGuard(path);
  ExpectEachLaneEqualsGenerate();
}

TEST_F(SchedulerLanesTest, GuardReserveIsKeptAndGuardChecksPassAWaitingChatRequest) {
  LoadGuard();  // same geometry: positions of both lanes cost the same bytes
  const std::vector<TokenId> prompt = model_->tokenizer().Encode("Once upon a time", true);
  const int32_t n = static_cast<int32_t>(prompt.size());
  // Lane 0 may use 40 positions; lane 1 keeps 30 for itself (the pool: 70).
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 1, .kv_pool_tokens = 40},
                      {SchedulerLane{guard_.get(), 4, 64, 8, 30}});

  // Never fits lane 0: it cannot take lane 1's reserve.
  auto refused = std::make_shared<RecordingSink>();
  auto r = scheduler.Submit(OnLane(prompt, Greedy(41 - n), 0), refused);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("holds only 40"), std::string::npos) << r.status().message();
  // Lane 1 may borrow lane 0's part when it is free: up to 70.
  EXPECT_EQ(scheduler.Submit(OnLane(prompt, Greedy(71 - n), 1), refused).status().code(),
            StatusCode::kInvalidArgument);

  auto chat = std::make_shared<RecordingSink>();          // 35 positions, decoding a while
  auto chat_waiting = std::make_shared<RecordingSink>();  // no slot until `chat` ends
  auto check = std::make_shared<RecordingSink>();         // 20 positions: within the reserve
  auto big_check = std::make_shared<RecordingSink>();     // 40: must borrow what `chat` holds
  Gate started, submitted;
  std::atomic<bool> check_done_while_chat_ran{false};
  std::atomic<int> big_check_tokens_while_chat_ran{0};
  std::atomic<int64_t> max_lane0_kv{0};
  chat->on_text = [&](int k) {  // scheduler thread
    if (k == 1) {               // the others queue while `chat` holds its slot and 35 positions
      started.Open();
      submitted.Wait();
    }
    if (check->n_done() == 1) check_done_while_chat_ran = true;
    big_check_tokens_while_chat_ran =
        std::max(big_check_tokens_while_chat_ran.load(), big_check->n_text());
    max_lane0_kv = std::max(max_lane0_kv.load(), scheduler.stats(0).kv_tokens_in_use);
  };
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(35 - n), 0), chat).ok());
  started.Wait();
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(10), 0), chat_waiting).ok());
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(20 - n), 1), check).ok());
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(40 - n), 1), big_check).ok());
  submitted.Open();
  for (auto* s : {&chat, &chat_waiting, &check, &big_check}) (*s)->Wait();

  EXPECT_TRUE(check_done_while_chat_ran);         // passed the chat request waiting for a slot
  EXPECT_EQ(big_check_tokens_while_chat_ran, 0);  // waited for the space `chat` held
  EXPECT_EQ(max_lane0_kv, 35);
  EXPECT_EQ(chat->finish_reason(), "length");
  EXPECT_EQ(big_check->finish_reason(), "length");
  EXPECT_EQ(big_check->summary().generated_ids,
            Reference(*guard_, OnLane(prompt, Greedy(40 - n), 1)).generated_ids);
  const Scheduler::Stats s0 = scheduler.stats(0), s1 = scheduler.stats(1);
  EXPECT_EQ(s0.kv_tokens_in_use + s1.kv_tokens_in_use, 0);
  EXPECT_EQ(s0.kv_bytes_in_use, 0u);
  EXPECT_EQ(s0.kv_pool_tokens, 40);
  EXPECT_EQ(s1.kv_pool_tokens, 30);
  EXPECT_EQ(s1.tokens_generated, static_cast<uint64_t>(20 - n + 40 - n));
}

TEST_F(SchedulerLanesTest, ChatCannotTakeTheGuardReserveEvenWhenIdle) {
  LoadGuard();
  const std::vector<TokenId> prompt = model_->tokenizer().Encode("Once upon a time", true);
  const int32_t n = static_cast<int32_t>(prompt.size());
  Scheduler scheduler(*model_, SchedulerOptions{.kv_pool_tokens = 40},
                      {SchedulerLane{guard_.get(), 4, 64, 8, 30}});
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  int max_running = 0;
  for (int i = 0; i < 2; ++i) {  // 25 each: two do not fit 40, though the pool is 70
    auto s = std::make_shared<RecordingSink>();
    s->on_text = [&](int) { max_running = std::max(max_running, scheduler.stats(0).running); };
    sinks.push_back(s);
    ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(25 - n), 0), s).ok());
  }
  for (auto& s : sinks) s->Wait();
  EXPECT_EQ(max_running, 1);
  for (auto& s : sinks) EXPECT_EQ(s->finish_reason(), "length");
}

TEST_F(SchedulerLanesTest, CancelAndPrefixesStayWithinTheirLane) {
  LoadGuard();
  const std::vector<TokenId> prompt = model_->tokenizer().Encode("Once upon a time", true);
  Scheduler scheduler(*model_, SchedulerOptions{}, {SchedulerLane{guard_.get(), 2, 64, 8, 256}});
  // A prefix of lane 1 serves lane 1 only.
  auto prefix = scheduler.CachePrefix({prompt.begin(), prompt.begin() + 3}, 1);
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  auto sink = std::make_shared<RecordingSink>();
  GenerationRequest on0 = OnLane(prompt, Greedy(5), 0);
  on0.prefix = *prefix;
  auto r = scheduler.Submit(on0, sink);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("another model"), std::string::npos);
  GenerationRequest on1 = OnLane(prompt, Greedy(5), 1);
  on1.prefix = *prefix;
  ASSERT_TRUE(scheduler.Submit(on1, sink).ok());
  sink->Wait();
  EXPECT_EQ(sink->summary().generated_ids,
            Reference(*guard_, OnLane(prompt, Greedy(5), 1)).generated_ids);
  EXPECT_EQ(scheduler.stats(1).prompt_tokens_reused, 3u);
  EXPECT_EQ(scheduler.stats(0).prompt_tokens_reused, 0u);

  // Lanes that do not exist.
  for (int32_t lane : {-1, 2}) {
    EXPECT_EQ(scheduler.Submit(OnLane(prompt, Greedy(5), lane), sink).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(scheduler.CachePrefix(prompt, lane).status().code(), StatusCode::kInvalidArgument);
  }

  // A cancelled guard sequence is counted on its lane.
  auto cancelled = std::make_shared<RecordingSink>();
  Gate first;
  uint64_t id = 0;
  cancelled->on_text = [&](int k) {
    if (k == 1) first.Wait();
  };
  auto submitted = scheduler.Submit(OnLane(prompt, Greedy(200), 1), cancelled);
  ASSERT_TRUE(submitted.ok());
  id = *submitted;
  scheduler.Cancel(id);
  first.Open();
  cancelled->Wait();
  EXPECT_EQ(cancelled->finish_reason(), "cancelled");
  EXPECT_LT(cancelled->summary().generated_ids.size(), 200u);
  EXPECT_EQ(scheduler.stats(1).cancelled_running + scheduler.stats(0).cancelled_running,
            cancelled->n_text() > 0 ? 1u : 0u);
  EXPECT_EQ(scheduler.stats(0).cancelled_running, 0u);
  EXPECT_LE(scheduler.stats(1).cancel_passes_max, 1u);
}

TEST_F(SchedulerLanesTest, ShutdownEndsBothLanesAndRefusesNewWork) {
  LoadGuard();
  const std::vector<TokenId> prompt = model_->tokenizer().Encode("Once upon a time", true);
  Scheduler scheduler(*model_, SchedulerOptions{}, {SchedulerLane{guard_.get(), 2, 64, 8, 256}});
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Gate started;
  a->on_text = [&](int k) {
    if (k == 1) started.Open();
  };
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(200), 0), a).ok());
  ASSERT_TRUE(scheduler.Submit(OnLane(prompt, Greedy(200), 1), b).ok());
  started.Wait();
  scheduler.Shutdown();
  EXPECT_EQ(a->n_done(), 1);
  EXPECT_EQ(b->n_done(), 1);
  EXPECT_EQ(a->finish_reason(), "cancelled");
  EXPECT_EQ(b->finish_reason(), "cancelled");
  auto late = std::make_shared<RecordingSink>();
  EXPECT_EQ(scheduler.Submit(OnLane(prompt, Greedy(5), 1), late).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(scheduler.CachePrefix(prompt, 1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(late->n_done(), 0);
  scheduler.Shutdown();  // again: nothing to do
  EXPECT_EQ(scheduler.stats(1).running, 0);
  EXPECT_EQ(scheduler.stats(0).kv_bytes_in_use, 0u);
}

TEST_F(SchedulerLanesTest, LaneOptionsAreValidated) {
  LoadGuard();
  EXPECT_TRUE(ValidateSchedulerLane(SchedulerLane{guard_.get()}, 1).ok());
  EXPECT_FALSE(ValidateSchedulerLane(SchedulerLane{}, 1).ok());
  Status s = ValidateSchedulerLane(SchedulerLane{guard_.get(), 0}, 3);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("lane 3"), std::string::npos) << s.message();
  EXPECT_FALSE(ValidateSchedulerLane(SchedulerLane{guard_.get(), 8, 4}, 1).ok());
  EXPECT_FALSE(ValidateSchedulerLane(SchedulerLane{guard_.get(), 4, 64, 0}, 1).ok());
  EXPECT_FALSE(ValidateSchedulerLane(SchedulerLane{guard_.get(), 4, 64, 8, -1}, 1).ok());
}

}  // namespace
}  // namespace parapet::engine
