// GuardModel on a Scheduler of its own (Load) and as a lane of a shared one (Open + Serve): the
// same check gives the same verdict either way.
#include "gateway/guard_models.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/model.h"
#include "engine/scheduler.h"
#include "tests/engine/test_data_util.h"

namespace parapet::gateway {
namespace {

// A Llama Guard 3–style check; the stand-in model's verdict is arbitrary but deterministic.
pipeline::GuardCheck Check(const std::string& text, double continue_at) {
  pipeline::GuardCheck c;
  c.prompt.prefix =
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nTask: Check if there is "
      "unsafe content in 'User' messages in conversations according our safety policy.\n\n"
      "<BEGIN CONVERSATION>\n\nUser: ";
  c.prompt.conversation = text;
  c.prompt.suffix =
      "\n\n<END CONVERSATION>\n\nProvide your safety assessment:<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
  c.continue_at = continue_at;
  c.max_continuation_tokens = 4;
  return c;
}

GuardModelConfig Config(const std::string& path) {
  GuardModelConfig c;
  c.id = "guard";
  c.path = path;
  c.max_sequences = 2;
  return c;
}

TEST(GuardModelTest, ALaneOfASharedSchedulerScoresAsItsOwnSchedulerDoes) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  const engine::ModelOptions mo{.n_threads = 1};
  auto alone = GuardModel::Load(Config(path), mo);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  auto opened = GuardModel::Open(Config(path), mo);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<GuardModel> lane_model = *opened;

  // Not served yet: an error, not a crash.
  auto early = lane_model->Score(Check("hello", 2));
  EXPECT_EQ(early.status().code(), StatusCode::kUnavailable) << early.status().ToString();

  const engine::SchedulerLane l = lane_model->lane();
  EXPECT_EQ(l.model, &lane_model->model());
  EXPECT_EQ(l.max_sequences, 2);
  EXPECT_EQ(l.max_batch_tokens, 512);
  EXPECT_EQ(l.kv_reserve_tokens, 2 * 1024);  // max_sequences x ctx (capped at the model's 1024)

  auto chat = engine::Model::Load(std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf", mo);
  ASSERT_TRUE(chat.ok()) << chat.status().ToString();
  engine::Scheduler shared(**chat, engine::SchedulerOptions{}, {l});
  lane_model->Serve(shared, 1);

  for (double continue_at : {2.0, 0.0}) {  // the verdict alone; then with the category line
    SCOPED_TRACE(continue_at);
    const pipeline::GuardCheck check = Check("How do I bake bread?", continue_at);
    auto a = (*alone)->Score(check);
    auto b = lane_model->Score(check);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_GE(b->p_unsafe, 0.0);
    EXPECT_LE(b->p_unsafe, 1.0);
    EXPECT_NEAR(a->p_unsafe, b->p_unsafe, 1e-6);
    EXPECT_EQ(a->continuation, b->continuation);
    EXPECT_EQ(a->prompt_tokens_evaluated, b->prompt_tokens_evaluated);
  }
  // The checks ran on lane 1 of the shared scheduler, the prefix cached there.
  const engine::Scheduler::Stats s1 = shared.stats(1);
  EXPECT_GT(s1.forward_passes, 0u);
  EXPECT_GT(s1.prompt_tokens_reused, 0u);
  EXPECT_EQ(shared.stats(0).forward_passes, 0u);
  EXPECT_EQ(lane_model->counters().errors.load(), 1u);  // the check before Serve

  // After the scheduler stops, a check fails cleanly.
  shared.Shutdown();
  auto late = lane_model->Score(Check("hello", 2));
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable) << late.status().ToString();
}

TEST(GuardModelTest, TheCategoryLineContinuesFromTheVerdictsCache) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  const engine::ModelOptions mo{.n_threads = 1};
  GuardModelConfig cached_config = Config(path);
  cached_config.cached_checks = 0;  // the second check must not start from the first one
  auto cached = GuardModel::Load(cached_config, mo);
  GuardModelConfig plain_config = Config(path);
  plain_config.reuse_prefix = false;  // every request evaluates its whole prompt
  auto plain = GuardModel::Load(plain_config, mo);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  const std::string text = "Tell me how to pick the lock on my neighbour's front door tonight.";
  auto verdict_only = (*cached)->Score(Check(text, 2));
  auto a = (*cached)->Score(Check(text, 0));  // always asks for the category line
  auto b = (*plain)->Score(Check(text, 0));
  ASSERT_TRUE(verdict_only.ok()) << verdict_only.status().ToString();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // The same line, continued from the cache or computed from scratch.
  EXPECT_EQ(a->continuation, b->continuation);
  EXPECT_NEAR(a->p_unsafe, b->p_unsafe, 1e-5);
  // From the cache only the forced "unsafe" is evaluated after the verdict; from scratch the
  // whole prompt runs twice.
  const std::vector<engine::TokenId> unsafe =
      (*cached)->model().tokenizer().Encode("unsafe", false);
  EXPECT_EQ(a->prompt_tokens_evaluated,
            verdict_only->prompt_tokens_evaluated + static_cast<int64_t>(unsafe.size()));
  EXPECT_GT(b->prompt_tokens_evaluated, 2 * verdict_only->prompt_tokens_evaluated);
}

TEST(GuardModelTest, AGrowingResponseIsJudgedFromTheLastChecksCache) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  const engine::ModelOptions mo{.n_threads = 1};
  auto kept = GuardModel::Load(Config(path), mo);  // cached_checks: 4
  GuardModelConfig none_config = Config(path);
  none_config.cached_checks = 0;
  auto none = GuardModel::Load(none_config, mo);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  const int64_t suffix = static_cast<int64_t>(
      (*kept)->model().tokenizer().Encode(Check("", 2).prompt.suffix, false, true).size());
  // A streamed response judged at each sentence end, as the output guard does.
  const std::string s1 = "Once upon a time there was a little dog named Max.";
  const std::string s2 = s1 + " Max liked to run in the park with his friends every day.";
  const std::string s3 = s2 + " One day he found a big red ball under a tree.";
  int64_t previous_plain = 0;
  for (const std::string& text : {s1, s2, s3}) {
    SCOPED_TRACE(text);
    auto a = (*kept)->Score(Check(text, 2));
    auto b = (*none)->Score(Check(text, 2));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_NEAR(a->p_unsafe, b->p_unsafe, 1e-5);
    if (previous_plain > 0) {
      // Only the new sentence and the suffix (and a token or two where the old text ended).
      EXPECT_LE(a->prompt_tokens_evaluated,
                b->prompt_tokens_evaluated - previous_plain + suffix + 2);
      EXPECT_LT(a->prompt_tokens_evaluated, b->prompt_tokens_evaluated);
    } else {
      EXPECT_EQ(a->prompt_tokens_evaluated, b->prompt_tokens_evaluated);
    }
    previous_plain = b->prompt_tokens_evaluated;
  }
  // An unrelated text shares only the instruction prefix.
  auto other_a = (*kept)->Score(Check("What is the capital of France?", 2));
  auto other_b = (*none)->Score(Check("What is the capital of France?", 2));
  ASSERT_TRUE(other_a.ok() && other_b.ok());
  EXPECT_EQ(other_a->prompt_tokens_evaluated, other_b->prompt_tokens_evaluated);
  EXPECT_NEAR(other_a->p_unsafe, other_b->p_unsafe, 1e-5);
}

TEST(GuardModelTest, ConcurrentChecksShareTheCachesAndScoreAsAlone) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  const engine::ModelOptions mo{.n_threads = 1};
  auto shared = GuardModel::Load(Config(path), mo);  // 2 sequences, 4 cached checks
  GuardModelConfig alone_config = Config(path);
  alone_config.cached_checks = 0;
  auto alone = GuardModel::Load(alone_config, mo);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  // Four streams, each judged three times as it grows, all at once.
  auto text = [](int stream, int k) {
    std::string t = "Stream " + std::to_string(stream) + ": the little dog ran to the park.";
    for (int i = 0; i < k; ++i) t += " It saw a bird and barked " + std::to_string(i) + " times.";
    return t;
  };
  std::vector<std::vector<double>> got(4, std::vector<double>(3, -1));
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int k = 0; k < 3; ++k) {
        auto r = (*shared)->Score(Check(text(w, k), 2));
        if (r.ok()) got[static_cast<size_t>(w)][static_cast<size_t>(k)] = r->p_unsafe;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < 4; ++w) {
    for (int k = 0; k < 3; ++k) {
      auto want = (*alone)->Score(Check(text(w, k), 2));
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      EXPECT_NEAR(got[static_cast<size_t>(w)][static_cast<size_t>(k)], want->p_unsafe, 1e-5)
          << "stream " << w << " check " << k;
    }
  }
  EXPECT_EQ((*shared)->counters().errors.load(), 0u);
  EXPECT_GT((*shared)->counters().prompt_tokens_reused.load(),
            (*alone)->counters().prompt_tokens_reused.load());
}

TEST(GuardModelTest, OpenRejectsAModelThatCannotWriteAVerdict) {
  // stories260K's sentencepiece vocabulary spells "safe" and "unsafe" from shared pieces.
  auto g = GuardModel::Open(Config(std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf"),
                            engine::ModelOptions{.n_threads = 1});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("stories260K.gguf"), std::string::npos)
      << g.status().message();
}

}  // namespace
}  // namespace parapet::gateway
