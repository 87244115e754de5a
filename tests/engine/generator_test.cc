#include "engine/generator.h"

#include <gtest/gtest.h>

#include "engine/model.h"

namespace parapet::engine {
namespace {

// The shipped demo model (models/stories260K.gguf, always in the tree).
class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Model::Load(std::string(PARAPET_SOURCE_DIR) + "/models/stories260K.gguf",
                         ModelOptions{.n_threads = 1});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value();
    prompt_ = model_->tokenizer().Encode("Once upon a time", true);
  }

  GenerateOptions Greedy(int32_t max_tokens) {
    GenerateOptions o;
    o.sampling.temperature = 0;
    o.max_tokens = max_tokens;
    return o;
  }

  std::unique_ptr<Model> model_;
  std::vector<TokenId> prompt_;
};

TEST_F(GenerateTest, GreedyStoryAndTimings) {
  auto r = Generate(*model_, prompt_, Greedy(30));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // llama2.c's run.c writes the same words for this checkpoint (shared data golden).
  EXPECT_EQ(r->text.rfind(", there was a little girl named Lily. She loved to play outside", 0), 0u)
      << r->text;
  EXPECT_EQ(r->generated_tokens, 30);
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_EQ(r->prompt_tokens, static_cast<int32_t>(prompt_.size()));
  EXPECT_GT(r->decode_ms, 0);
}

TEST_F(GenerateTest, StopStringEndsGenerationAndIsDropped) {
  GenerateOptions o = Greedy(60);
  o.stop = {"Lily"};
  std::string streamed;
  auto r = Generate(*model_, prompt_, o, [&](std::string_view t) {
    streamed += t;
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->text, ", there was a little girl named ");
  EXPECT_EQ(streamed, r->text);
}

TEST_F(GenerateTest, CallbackCancels) {
  int calls = 0;
  auto r = Generate(*model_, prompt_, Greedy(50), [&](std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "cancelled");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r->generated_tokens, 3);
}

TEST_F(GenerateTest, SeededSamplingRepeats) {
  GenerateOptions o;
  o.sampling.temperature = 0.9f;
  o.sampling.seed = 1234;
  o.max_tokens = 40;
  auto a = Generate(*model_, prompt_, o);
  auto b = Generate(*model_, prompt_, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->generated_ids, b->generated_ids);
  o.sampling.seed = 99;
  auto c = Generate(*model_, prompt_, o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->generated_ids, c->generated_ids);
}

TEST_F(GenerateTest, FullContextEndsWithLength) {
  GenerateOptions o = Greedy(1000);
  o.n_ctx = 20;
  auto r = Generate(*model_, prompt_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_EQ(r->prompt_tokens + r->generated_tokens, 21);  // the last token needs no KV slot
}

TEST_F(GenerateTest, BadOptionsAreErrors) {
  GenerateOptions o = Greedy(5);
  EXPECT_EQ(Generate(*model_, {}, o).status().code(), StatusCode::kInvalidArgument);
  o.n_ctx = 3;  // shorter than the prompt
  EXPECT_EQ(Generate(*model_, prompt_, o).status().code(), StatusCode::kInvalidArgument);
  o.n_ctx = model_->config().n_ctx_train + 1;
  EXPECT_EQ(Generate(*model_, prompt_, o).status().code(), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.sampling.top_p = 0;
  EXPECT_EQ(Generate(*model_, prompt_, o).status().code(), StatusCode::kInvalidArgument);
  o = Greedy(5);
  o.stop = {""};
  EXPECT_EQ(Generate(*model_, prompt_, o).status().code(), StatusCode::kInvalidArgument);
  o = Greedy(-1);
  EXPECT_EQ(Generate(*model_, prompt_, o).status().code(), StatusCode::kInvalidArgument);
  std::vector<TokenId> bad = prompt_;
  bad.push_back(model_->config().n_vocab);
  EXPECT_EQ(Generate(*model_, bad, Greedy(5)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GenerateTest, KvBudgetIsEnforcedBeforeAllocating) {
  GenerateOptions o = Greedy(5);
  o.max_kv_bytes = 1024;
  auto r = Generate(*model_, prompt_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("KV cache"), std::string::npos);
}

}  // namespace
}  // namespace parapet::engine
