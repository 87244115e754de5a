#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model.h"
#include "tests/engine/scheduler_test_util.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

class SchedulerTest : public ModelFixture {
 protected:
  std::vector<TokenId> Encode(const std::string& text) {
    return model_->tokenizer().Encode(text, true);
  }

  GenerateResult Reference(const GenerationRequest& r) {
    auto g = Generate(*model_, r.prompt, r.options);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? *g : GenerateResult{};
  }

  // Every request through one scheduler at once, then each compared with Generate alone.
  void ExpectBatchedEqualsAlone(const std::vector<GenerationRequest>& requests,
                                const SchedulerOptions& options) {
    std::vector<std::shared_ptr<RecordingSink>> sinks;
    uint64_t total_generated = 0;
    {
      Scheduler scheduler(*model_, options);
      for (const GenerationRequest& r : requests) {
        sinks.push_back(std::make_shared<RecordingSink>());
        ASSERT_TRUE(scheduler.Submit(r, sinks.back()).ok());
      }
      for (auto& s : sinks) s->Wait();
      Scheduler::Stats st = scheduler.stats();
      EXPECT_EQ(st.kv_tokens_in_use, 0);
      EXPECT_EQ(st.running, 0);
      total_generated = st.tokens_generated;
      // Batching happened: fewer passes than the tokens generated one sequence at a time.
      EXPECT_LT(st.forward_passes, total_generated);
    }
    uint64_t expected_generated = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      SCOPED_TRACE("request " + std::to_string(i));
      GenerateResult want = Reference(requests[i]);
      const RecordingSink& s = *sinks[i];
      ASSERT_EQ(s.n_done(), 1);
      EXPECT_TRUE(s.status().ok()) << s.status().ToString();
      EXPECT_EQ(s.summary().generated_ids, want.generated_ids);
      EXPECT_EQ(s.summary().text, want.text);
      EXPECT_EQ(s.text(), want.text);
      EXPECT_EQ(s.finish_reason(), want.finish_reason);
      EXPECT_EQ(s.summary().finish_reason, want.finish_reason);
      ASSERT_EQ(s.summary().steps.size(), want.steps.size());
      for (size_t k = 0; k < want.steps.size(); ++k) {
        EXPECT_EQ(s.summary().steps[k].id, want.steps[k].id);
        EXPECT_NEAR(s.summary().steps[k].logprob, want.steps[k].logprob, 1e-4);
      }
      expected_generated += want.generated_ids.size();
    }
    EXPECT_EQ(total_generated, expected_generated);
  }

  std::vector<GenerationRequest> MixedRequests(const GenerateOptions& base) {
    const char* prompts[] = {"Once upon a time", "Lily liked to", "The big dog ran",
                             "One day, a little boy named Tom went to the park with his mom"};
    const int32_t lengths[] = {12, 30, 45, 20};
    std::vector<GenerationRequest> requests;
    for (size_t i = 0; i < 4; ++i) {
      GenerationRequest r{Encode(prompts[i]), base};
      r.options.max_tokens = lengths[i];
      r.options.sampling.seed = base.sampling.seed + i;
      requests.push_back(std::move(r));
    }
    return requests;
  }
};

// ---- isolation: batched output equals engine::Generate ----

TEST_F(SchedulerTest, BatchedGreedyEqualsGenerate) {
  ExpectBatchedEqualsAlone(MixedRequests(Greedy(0)), SchedulerOptions{});
}

TEST_F(SchedulerTest, BatchedSeededSamplingEqualsGenerate) {
  GenerateOptions o;
  o.sampling.temperature = 0.9f;
  o.sampling.top_p = 0.95f;
  o.sampling.seed = 42;
  o.sampling.n_logprobs = 3;
  ExpectBatchedEqualsAlone(MixedRequests(o), SchedulerOptions{});
}

TEST_F(SchedulerTest, SmallBatchesEqualGenerate) {
  // Prompts prefilled in chunks of a few tokens, interleaved with decode steps.
  ExpectBatchedEqualsAlone(MixedRequests(Greedy(0)),
                           SchedulerOptions{.max_sequences = 3, .max_batch_tokens = 5});
}

TEST_F(SchedulerTest, MoeModelBatchedEqualsGenerate) {
  PARAPET_REQUIRE_SHARED(path, "models/stories260K-moe4x2-scaled.gguf");
  LoadModel(path);
  ExpectBatchedEqualsAlone(MixedRequests(Greedy(0)),
                           SchedulerOptions{.max_sequences = 4, .max_batch_tokens = 7});
}

// ---- chunked prefill ----

TEST_F(SchedulerTest, LongPromptIsPrefilledWhileAnotherStreamDecodes) {
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 2, .max_batch_tokens = 4});
  Gate a_started, b_submitted;
  auto a = std::make_shared<RecordingSink>();
  a->on_text = [&](int n) {
    if (n == 1) {
      a_started.Open();
      b_submitted.Wait();  // B is queued before A's next step
    }
  };
  auto b = std::make_shared<RecordingSink>();
  int a_tokens_before_b = -1;
  b->on_text = [&](int n) {
    if (n == 1) a_tokens_before_b = a->n_text();
  };
  GenerationRequest ra{Encode("Once upon a time"), Greedy(60)};
  GenerationRequest rb{
      Encode("One day, a little girl named Lily went to the park with her mom and her dog. "
             "They saw a big tree and a red ball."),
      Greedy(10)};
  ASSERT_GE(rb.prompt.size(), 30u);
  ASSERT_TRUE(scheduler.Submit(ra, a).ok());
  a_started.Wait();
  ASSERT_TRUE(scheduler.Submit(rb, b).ok());
  b_submitted.Open();
  a->Wait();
  b->Wait();
  // With A decoding, B gets 3 prompt tokens per pass: A streamed a token in every one of them.
  const int prefill_passes = static_cast<int>((rb.prompt.size() + 2) / 3);
  EXPECT_GE(a_tokens_before_b, prefill_passes);
  EXPECT_EQ(a->summary().generated_ids, Reference(ra).generated_ids);
  EXPECT_EQ(b->summary().generated_ids, Reference(rb).generated_ids);
  EXPECT_EQ(a->n_done() + b->n_done(), 2);
}

// ---- KV pool ----

TEST_F(SchedulerTest, RequestsWaitForThePoolAndRunWhenItFrees) {
  const std::vector<TokenId> prompt = Encode("Once upon a time");
  const int64_t one = static_cast<int64_t>(prompt.size()) + 20;
  // Room for one request at a time, though there are enough slots for all.
  Scheduler scheduler(*model_, SchedulerOptions{.kv_pool_tokens = one + one / 2});
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  int max_running = 0;
  int64_t max_kv = 0;
  for (int i = 0; i < 3; ++i) {
    auto s = std::make_shared<RecordingSink>();
    s->on_text = [&](int) {  // scheduler thread only
      Scheduler::Stats st = scheduler.stats();
      max_running = std::max(max_running, st.running);
      max_kv = std::max(max_kv, st.kv_tokens_in_use);
    };
    sinks.push_back(s);
    ASSERT_TRUE(scheduler.Submit(GenerationRequest{prompt, Greedy(20)}, s).ok());
  }
  for (auto& s : sinks) s->Wait();  // before Reference: Forward is not thread-safe
  const GenerateResult want = Reference(GenerationRequest{prompt, Greedy(20)});
  for (auto& s : sinks) {
    s->Wait();
    EXPECT_EQ(s->n_done(), 1);
    EXPECT_EQ(s->finish_reason(), "length");
    EXPECT_EQ(s->summary().generated_ids, want.generated_ids);
  }
  EXPECT_EQ(max_running, 1);
  EXPECT_EQ(max_kv, one);
  Scheduler::Stats st = scheduler.stats();
  EXPECT_EQ(st.kv_tokens_in_use, 0);
  EXPECT_EQ(st.kv_pool_tokens, one + one / 2);
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_EQ(st.tokens_generated, 60u);

  // Can never fit the pool: refused at once.
  auto big = std::make_shared<RecordingSink>();
  auto r =
      scheduler.Submit(GenerationRequest{prompt, Greedy(static_cast<int32_t>(one + one / 2))}, big);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("pool"), std::string::npos);
  EXPECT_EQ(big->n_done(), 0);
}

// ---- overload ----

TEST_F(SchedulerTest, FullQueueIsResourceExhaustedAndEarlierRequestsComplete) {
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 1, .max_queue = 2});
  Gate running, release;
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 4; ++i) sinks.push_back(std::make_shared<RecordingSink>());
  sinks[0]->on_text = [&](int n) {
    if (n == 1) {
      running.Open();
      release.Wait();
    }
  };
  const GenerationRequest req{Encode("Once upon a time"), Greedy(8)};
  ASSERT_TRUE(scheduler.Submit(req, sinks[0]).ok());
  running.Wait();  // the only slot is taken; the queue is empty
  EXPECT_TRUE(scheduler.Submit(req, sinks[1]).ok());
  EXPECT_TRUE(scheduler.Submit(req, sinks[2]).ok());
  auto over = scheduler.Submit(req, sinks[3]);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(scheduler.stats().queued, 2);
  release.Open();
  for (int i = 0; i < 3; ++i) {
    sinks[i]->Wait();
    EXPECT_EQ(sinks[i]->n_done(), 1);
    EXPECT_EQ(sinks[i]->finish_reason(), "length");
    EXPECT_EQ(sinks[i]->summary().generated_tokens, 8);
  }
  EXPECT_EQ(sinks[3]->n_done(), 0);
  EXPECT_TRUE(scheduler.Submit(req, sinks[3]).ok());  // room again
  sinks[3]->Wait();
  EXPECT_EQ(sinks[3]->n_done(), 1);
}

// ---- cancellation ----

TEST_F(SchedulerTest, CancelWhileQueued) {
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 1});
  Gate running, release;
  auto a = std::make_shared<RecordingSink>();
  a->on_text = [&](int n) {
    if (n == 1) {
      running.Open();
      release.Wait();
    }
  };
  auto b = std::make_shared<RecordingSink>();
  const GenerationRequest req{Encode("Once upon a time"), Greedy(10)};
  ASSERT_TRUE(scheduler.Submit(req, a).ok());
  running.Wait();
  auto id_b = scheduler.Submit(req, b);
  ASSERT_TRUE(id_b.ok());
  EXPECT_EQ(scheduler.stats().queued, 1);
  scheduler.Cancel(*id_b);
  scheduler.Cancel(*id_b);    // twice: still one OnDone
  scheduler.Cancel(9999999);  // unknown: ignored
  release.Open();
  b->Wait();
  a->Wait();
  EXPECT_EQ(b->n_done(), 1);
  EXPECT_TRUE(b->status().ok());
  EXPECT_EQ(b->finish_reason(), "cancelled");
  EXPECT_EQ(b->n_text(), 0);
  EXPECT_EQ(a->finish_reason(), "length");
  EXPECT_EQ(a->n_done(), 1);
  scheduler.Cancel(*id_b);  // finished: ignored
  EXPECT_EQ(scheduler.stats().kv_tokens_in_use, 0);
  EXPECT_EQ(b->n_done(), 1);
}

TEST_F(SchedulerTest, CancelWhileDecodingStopsBeforeTheNextStep) {
  Scheduler scheduler(*model_, SchedulerOptions{});
  Gate third_token, cancelled;
  auto a = std::make_shared<RecordingSink>();
  a->on_text = [&](int n) {
    if (n == 3) {
      third_token.Open();
      cancelled.Wait();
    }
  };
  auto other = std::make_shared<RecordingSink>();
  const GenerationRequest ra{Encode("Once upon a time"), Greedy(40)};
  const GenerationRequest ro{Encode("The big dog ran"), Greedy(25)};
  auto id_a = scheduler.Submit(ra, a);
  ASSERT_TRUE(id_a.ok());
  ASSERT_TRUE(scheduler.Submit(ro, other).ok());
  third_token.Wait();
  scheduler.Cancel(*id_a);
  cancelled.Open();
  a->Wait();
  EXPECT_EQ(a->n_done(), 1);
  EXPECT_TRUE(a->status().ok());
  EXPECT_EQ(a->finish_reason(), "cancelled");
  EXPECT_EQ(a->n_text(), 3);
  EXPECT_EQ(a->summary().generated_tokens, 3);
  // The other stream is unaffected.
  other->Wait();
  EXPECT_EQ(other->summary().generated_ids, Reference(ro).generated_ids);
  EXPECT_EQ(a->n_text_after_done(), 0);
  EXPECT_EQ(scheduler.stats().kv_tokens_in_use, 0);
  EXPECT_EQ(a->n_done(), 1);
  // Cancelled between passes (inside a sink call): no further pass included it.
  EXPECT_EQ(scheduler.stats().cancelled_running, 1u);
  EXPECT_EQ(scheduler.stats().cancel_passes_max, 0u);
}

TEST_F(SchedulerTest, DestructorCancelsWorkInFlight) {
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  {
    // Declared before the scheduler: the hook below uses them while it is destroyed.
    const GenerationRequest req{Encode("Once upon a time"), Greedy(100)};
    Gate first_token, queue_full;
    Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 2, .max_queue = 2});
    for (int i = 0; i < 2; ++i) sinks.push_back(std::make_shared<RecordingSink>());
    sinks[0]->on_text = [&](int n) {
      if (n != 1) return;
      first_token.Open();
      queue_full.Wait();
      // Holds the scheduler thread until the destructor has begun: a probe Submit meets the
      // full queue (ResourceExhausted, no side effect) until then, Unavailable after.
      auto probe = std::make_shared<RecordingSink>();
      while (scheduler.Submit(req, probe).status().code() != StatusCode::kUnavailable) {
        std::this_thread::yield();
      }
    };
    for (auto& s : sinks) ASSERT_TRUE(scheduler.Submit(req, s).ok());
    first_token.Wait();  // the scheduler thread is parked: the queue only grows now
    for (;;) {
      auto s = std::make_shared<RecordingSink>();
      auto r = scheduler.Submit(req, s);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
        break;
      }
      sinks.push_back(s);
    }
    EXPECT_EQ(scheduler.stats().queued, 2);
    queue_full.Open();
  }
  for (auto& s : sinks) {
    EXPECT_EQ(s->n_done(), 1);
    EXPECT_EQ(s->n_text_after_done(), 0);
    EXPECT_TRUE(s->status().ok());
    EXPECT_EQ(s->finish_reason(), "cancelled");
  }
  EXPECT_EQ(sinks[0]->n_text(), 1);
  EXPECT_EQ(sinks[sinks.size() - 1]->n_text(), 0);
  EXPECT_EQ(sinks[sinks.size() - 2]->n_text(), 0);
}

// ---- finish reasons ----

TEST_F(SchedulerTest, StopStringAndLengthFinishReasons) {
  const std::vector<TokenId> prompt = Encode("Once upon a time");
  std::vector<GenerationRequest> requests;
  GenerateOptions stop = Greedy(60);
  stop.stop = {"Lily"};
  requests.push_back({prompt, stop});
  requests.push_back({prompt, Greedy(5)});
  requests.push_back({prompt, Greedy(0)});
  GenerateOptions full = Greedy(1000);
  full.n_ctx = 20;  // the context fills before max_tokens
  requests.push_back({prompt, full});
  requests.push_back({prompt, Greedy(1000)});  // capped at the model's context length
  ExpectBatchedEqualsAlone(requests, SchedulerOptions{.max_batch_tokens = 8});

  Scheduler scheduler(*model_, SchedulerOptions{});
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (const GenerationRequest& r : requests) {
    sinks.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(scheduler.Submit(r, sinks.back()).ok());
  }
  for (auto& s : sinks) s->Wait();
  EXPECT_EQ(sinks[0]->finish_reason(), "stop");
  EXPECT_EQ(sinks[0]->text(), ", there was a little girl named ");
  EXPECT_EQ(sinks[1]->finish_reason(), "length");
  EXPECT_EQ(sinks[1]->n_text(), 5);
  EXPECT_EQ(sinks[2]->finish_reason(), "length");
  EXPECT_EQ(sinks[2]->n_text(), 0);
  EXPECT_EQ(sinks[3]->finish_reason(), "length");
  EXPECT_EQ(sinks[3]->summary().prompt_tokens + sinks[3]->summary().generated_tokens, 21);
  EXPECT_EQ(sinks[4]->finish_reason(), "length");
  EXPECT_EQ(sinks[4]->summary().prompt_tokens + sinks[4]->summary().generated_tokens,
            model_->config().n_ctx_train + 1);
  for (auto& s : sinks) EXPECT_EQ(s->n_done(), 1);
}

// ---- validation ----

// ---- prompt scores (`echo` with logprobs) ----

TEST_F(SchedulerTest, PromptScoresEqualOneForwardPassOverThePrompt) {
  const std::vector<TokenId> prompt =
      Encode("One day, a little boy named Tom went to the park with his mom");
  const int32_t n_vocab = model_->config().n_vocab;
  const size_t n = prompt.size();
  // Reference: every prompt token's logits from one pass on a fresh cache.
  std::unique_ptr<KvCache> kv = model_->NewKvCache(static_cast<int32_t>(n));
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(BatchToken{prompt[i], static_cast<int32_t>(i), kv.get(), true});
  }
  std::vector<float> logits(n * static_cast<size_t>(n_vocab));
  ASSERT_TRUE(model_->Forward(batch, logits.data()).ok());

  // Scored in chunks of a few tokens while another request decodes beside it.
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 2, .max_batch_tokens = 5});
  auto other = std::make_shared<RecordingSink>();
  auto scored = std::make_shared<RecordingSink>();
  ASSERT_TRUE(scheduler.Submit({Encode("Once upon a time"), Greedy(20)}, other).ok());
  ASSERT_TRUE(scheduler.Submit({prompt, Greedy(0), 3}, scored).ok());
  scored->Wait();
  other->Wait();
  ASSERT_TRUE(scored->status().ok());
  EXPECT_EQ(scored->finish_reason(), "length");
  EXPECT_TRUE(scored->summary().generated_ids.empty());
  const std::vector<SampleResult>& steps = scored->summary().prompt_steps;
  ASSERT_EQ(steps.size(), n - 1);
  for (size_t i = 0; i + 1 < n; ++i) {
    const float* row = logits.data() + i * static_cast<size_t>(n_vocab);
    double max = row[0];
    for (int32_t v = 1; v < n_vocab; ++v) max = std::max<double>(max, row[v]);
    double sum = 0;
    for (int32_t v = 0; v < n_vocab; ++v) sum += std::exp(row[v] - max);
    const double want = row[prompt[i + 1]] - max - std::log(sum);
    EXPECT_EQ(steps[i].id, prompt[i + 1]);
    EXPECT_NEAR(steps[i].logprob, want, 1e-4) << "prompt token " << i + 1;
    ASSERT_EQ(steps[i].top.size(), 3u);
    EXPECT_GE(steps[i].top[0].logprob, steps[i].logprob - 1e-6);
  }
  // The other stream is not disturbed by the scoring beside it.
  EXPECT_EQ(other->summary().generated_ids,
            Reference({Encode("Once upon a time"), Greedy(20)}).generated_ids);
}

TEST_F(SchedulerTest, SubmitRejectsBadRequests) {
  Scheduler scheduler(*model_, SchedulerOptions{.kv_pool_tokens = 100});
  auto sink = std::make_shared<RecordingSink>();
  const std::vector<TokenId> prompt = Encode("Once upon a time");
  auto code = [&](GenerationRequest r) {
    return scheduler.Submit(std::move(r), sink).status().code();
  };
  EXPECT_EQ(code({{}, Greedy(5)}), StatusCode::kInvalidArgument);
  std::vector<TokenId> bad = prompt;
  bad.push_back(model_->config().n_vocab);
  EXPECT_EQ(code({bad, Greedy(5)}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({prompt, Greedy(-1)}), StatusCode::kInvalidArgument);
  GenerateOptions o = Greedy(5);
  o.sampling.top_p = 0;
  EXPECT_EQ(code({prompt, o}), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.stop = {""};
  EXPECT_EQ(code({prompt, o}), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.n_ctx = model_->config().n_ctx_train + 1;
  EXPECT_EQ(code({prompt, o}), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.n_ctx = 2;  // shorter than the prompt
  EXPECT_EQ(code({prompt, o}), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.teacher_forcing = true;
  EXPECT_EQ(code({prompt, o}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({prompt, Greedy(100)}), StatusCode::kInvalidArgument);  // over the pool
  EXPECT_EQ(code({prompt, Greedy(5), kMaxLogprobs + 1}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({prompt, Greedy(5), -2}), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink->n_done(), 0);
  EXPECT_EQ(scheduler.stats().queued + scheduler.stats().running, 0);

  EXPECT_TRUE(ValidateSchedulerOptions(SchedulerOptions{}).ok());
  EXPECT_FALSE(ValidateSchedulerOptions(SchedulerOptions{.max_sequences = 0}).ok());
  EXPECT_FALSE(
      ValidateSchedulerOptions(SchedulerOptions{.max_sequences = 8, .max_batch_tokens = 4}).ok());
  EXPECT_FALSE(ValidateSchedulerOptions(SchedulerOptions{.kv_pool_tokens = 0}).ok());
  EXPECT_FALSE(ValidateSchedulerOptions(SchedulerOptions{.max_queue = 0}).ok());
}

}  // namespace
}  // namespace parapet::engine
