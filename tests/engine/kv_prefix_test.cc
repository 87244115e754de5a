#include "engine/kv_prefix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/scheduler.h"
#include "tests/engine/scheduler_test_util.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

GenerateOptions Sampled(int32_t max_tokens, uint64_t seed) {
  GenerateOptions o;
  o.sampling.temperature = 0.9f;
  o.sampling.top_p = 0.95f;
  o.sampling.seed = seed;
  o.sampling.n_logprobs = 2;
  o.max_tokens = max_tokens;
  return o;
}

std::vector<TokenId> Concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A guard-style instruction block: the same for every check.
constexpr const char* kInstructions =
    "Task: check if there is unsafe content in the conversation below. Once upon a time, a "
    "little girl named Lily found a big red ball in the park and played with it all day.";

class KvPrefixTest : public ModelFixture {
 protected:
  std::vector<TokenId> Encode(const std::string& text, bool bos) {
    return model_->tokenizer().Encode(text, bos);
  }

  // Ids whose first-token log-probabilities the requests ask for: the whole vocabulary when it is
  // small (so the scores can be checked against the sampled token's), else a spread of ids.
  std::vector<TokenId> ScoreIds() const {
    const int32_t n_vocab = model_->config().n_vocab;
    std::vector<TokenId> ids;
    if (n_vocab <= 4096) {
      ids.resize(static_cast<size_t>(n_vocab));
      std::iota(ids.begin(), ids.end(), 0);
    } else {
      ids = {0, 1, 13, 500, n_vocab / 2, n_vocab - 1};
    }
    return ids;
  }

  // `r` through `scheduler`, waited for; nullptr (and a test failure) when Submit refuses it.
  static std::shared_ptr<RecordingSink> Run(Scheduler& scheduler, GenerationRequest r) {
    auto sink = std::make_shared<RecordingSink>();
    auto id = scheduler.Submit(std::move(r), sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return nullptr;
    sink->Wait();
    return sink;
  }

  // `got` (with a prefix of n_reused positions copied) against `want` (the same request without).
  void ExpectSameOutput(const RecordingSink& got, const RecordingSink& want, int32_t n_reused) {
    ASSERT_TRUE(got.status().ok()) << got.status().ToString();
    ASSERT_TRUE(want.status().ok()) << want.status().ToString();
    const GenerateResult& g = got.summary();
    const GenerateResult& w = want.summary();
    EXPECT_EQ(g.generated_ids, w.generated_ids);
    EXPECT_EQ(g.text, w.text);
    EXPECT_EQ(got.finish_reason(), want.finish_reason());
    ASSERT_EQ(g.steps.size(), w.steps.size());
    for (size_t i = 0; i < w.steps.size(); ++i) {
      EXPECT_EQ(g.steps[i].id, w.steps[i].id);
      EXPECT_NEAR(g.steps[i].logprob, w.steps[i].logprob, 1e-4) << "step " << i;
    }
    ASSERT_EQ(g.first_token_logprobs.size(), w.first_token_logprobs.size());
    for (size_t i = 0; i < w.first_token_logprobs.size(); ++i) {
      EXPECT_NEAR(g.first_token_logprobs[i], w.first_token_logprobs[i], 1e-4) << "score " << i;
    }
    EXPECT_EQ(g.prompt_tokens, w.prompt_tokens);
    EXPECT_EQ(w.prompt_tokens_evaluated, w.prompt_tokens);
    EXPECT_EQ(g.prompt_tokens_evaluated, g.prompt_tokens - n_reused);
  }

  // One request with a cached prefix equals the same request without it (prefix and rest
  // prefilled in chunks of max_batch_tokens), and the counters say what was reused.
  void ExpectPrefixReuseMatches() {
    const std::vector<TokenId> prefix = Encode(kInstructions, true);
    const std::vector<TokenId> prompt = Concat(prefix, Encode(" The dog said hello.", false));
    const int32_t max_tokens = 12;
    Scheduler scheduler(*model_, SchedulerOptions{.max_batch_tokens = 8});
    auto cached = scheduler.CachePrefix(prefix);
    ASSERT_TRUE(cached.ok()) << cached.status().ToString();
    const std::shared_ptr<const KvPrefix> kv = *cached;
    EXPECT_EQ(kv->tokens(), prefix);
    const ModelConfig& c = model_->config();
    EXPECT_EQ(kv->kv_bytes(),
              KvCache::BytesFor(c.n_layer, c.n_embd_kv(), static_cast<int64_t>(prefix.size())));
    EXPECT_EQ(scheduler.stats().kv_tokens_in_use, 0);  // outside the pool
    EXPECT_EQ(scheduler.stats().prompt_tokens_evaluated, 0u);

    GenerationRequest plain{prompt, Greedy(max_tokens)};
    plain.first_token_scores = ScoreIds();
    GenerationRequest reuse = plain;
    reuse.prefix = kv;
    auto want = Run(scheduler, plain);
    ASSERT_NE(want, nullptr);
    int64_t max_kv_in_use = 0;
    auto got = std::make_shared<RecordingSink>();
    got->on_text = [&](int) {  // the request reserves its whole prompt + max_tokens
      max_kv_in_use = std::max(max_kv_in_use, scheduler.stats().kv_tokens_in_use);
    };
    ASSERT_TRUE(scheduler.Submit(reuse, got).ok());
    got->Wait();
    ExpectSameOutput(*got, *want, static_cast<int32_t>(prefix.size()));
    EXPECT_EQ(max_kv_in_use, static_cast<int64_t>(prompt.size()) + max_tokens);

    // The scores are the first step's distribution: the chosen token's log-probability, and
    // (over the whole vocabulary) a total probability of 1.
    const GenerateResult& g = got->summary();
    ASSERT_EQ(g.first_token_logprobs.size(), plain.first_token_scores.size());
    if (g.first_token_logprobs.size() == static_cast<size_t>(c.n_vocab)) {
      ASSERT_FALSE(g.steps.empty());
      EXPECT_NEAR(g.first_token_logprobs[static_cast<size_t>(g.steps[0].id)], g.steps[0].logprob,
                  1e-6);
      double total = 0;
      for (float lp : g.first_token_logprobs) total += std::exp(static_cast<double>(lp));
      EXPECT_NEAR(total, 1.0, 1e-4);
    }

    const Scheduler::Stats st = scheduler.stats();
    EXPECT_EQ(st.prompt_tokens_reused, prefix.size());
    EXPECT_EQ(st.prompt_tokens_evaluated, 2 * prompt.size() - prefix.size());
    EXPECT_EQ(st.kv_tokens_in_use, 0);
  }
};

// ---- equal output with and without the prefix ----

TEST_F(KvPrefixTest, PrefixedRequestEqualsFullPrompt) { ExpectPrefixReuseMatches(); }

TEST_F(KvPrefixTest, PrefixedRequestEqualsFullPromptOnLlama3Fixture) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-llama3-Q8_0.gguf");
  LoadModel(path);
  ExpectPrefixReuseMatches();
}

TEST_F(KvPrefixTest, PrefixedRequestEqualsFullPromptOnMoeFixture) {
  PARAPET_REQUIRE_FIXTURE(path, "peaky-moe-Q4_K_M.gguf");
  LoadModel(path);
  ExpectPrefixReuseMatches();
}

TEST_F(KvPrefixTest, ConcurrentRequestsShareOnePrefix) {
  const std::vector<TokenId> prefix = Encode(kInstructions, true);
  const char* suffixes[] = {" The cat sat.", " Tom ran to the big tree and", " Hello",
                            " One day, the sun was hot and the birds sang in the sky."};
  std::vector<GenerationRequest> plain;
  for (size_t i = 0; i < 4; ++i) {
    GenerationRequest r{Concat(prefix, Encode(suffixes[i], false)),
                        i % 2 == 0 ? Greedy(10 + 5 * static_cast<int32_t>(i)) : Sampled(16, i)};
    r.first_token_scores = {1, 2, 100, 300};
    plain.push_back(std::move(r));
  }
  Scheduler scheduler(*model_, SchedulerOptions{.max_sequences = 5, .max_batch_tokens = 16});
  // The prefix is evaluated while another stream decodes, batched with it.
  const GenerationRequest other{Encode("Once upon a time", true), Greedy(40)};
  auto other_sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(scheduler.Submit(other, other_sink).ok());
  auto cached = scheduler.CachePrefix(prefix);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();

  std::vector<std::shared_ptr<RecordingSink>> got;
  for (const GenerationRequest& r : plain) {
    GenerationRequest reuse = r;
    reuse.prefix = *cached;
    got.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(scheduler.Submit(std::move(reuse), got.back()).ok());
  }
  for (auto& s : got) s->Wait();
  other_sink->Wait();
  cached->reset();  // the requests held their own references while they needed them
  EXPECT_EQ(scheduler.stats().prompt_tokens_reused, 4 * prefix.size());

  std::vector<std::shared_ptr<RecordingSink>> want;
  for (const GenerationRequest& r : plain) {
    want.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(scheduler.Submit(r, want.back()).ok());
  }
  for (auto& s : want) s->Wait();
  for (size_t i = 0; i < plain.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ExpectSameOutput(*got[i], *want[i], static_cast<int32_t>(prefix.size()));
  }
  auto alone = Run(scheduler, other);
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(other_sink->summary().generated_ids, alone->summary().generated_ids);
}

TEST_F(KvPrefixTest, PromptEqualToThePrefixEvaluatesItsLastToken) {
  const std::vector<TokenId> prefix = Encode(kInstructions, true);
  Scheduler scheduler(*model_, SchedulerOptions{.max_batch_tokens = 8});
  auto cached = scheduler.CachePrefix(prefix);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  const int32_t n_reused = static_cast<int32_t>(prefix.size()) - 1;
  for (const GenerateOptions& o : {Greedy(6), Greedy(1), Sampled(1, 7), Greedy(0)}) {
    SCOPED_TRACE("max_tokens " + std::to_string(o.max_tokens));
    GenerationRequest plain{prefix, o};
    plain.first_token_scores = {3, 4, 5};
    GenerationRequest reuse = plain;
    reuse.prefix = *cached;
    auto want = Run(scheduler, plain);
    auto got = Run(scheduler, reuse);
    ASSERT_NE(want, nullptr);
    ASSERT_NE(got, nullptr);
    ExpectSameOutput(*got, *want, n_reused);
    EXPECT_EQ(got->summary().prompt_tokens_evaluated, 1);
    EXPECT_LE(got->summary().generated_tokens, o.max_tokens);
    EXPECT_EQ(got->summary().first_token_logprobs.size(), 3u);  // also with max_tokens = 0
  }
  // A one-token prefix: nothing to copy, the token is evaluated.
  auto one = scheduler.CachePrefix({prefix[0]});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  GenerationRequest single{{prefix[0]}, Greedy(3)};
  auto want = Run(scheduler, single);
  single.prefix = *one;
  auto got = Run(scheduler, single);
  ASSERT_NE(want, nullptr);
  ASSERT_NE(got, nullptr);
  ExpectSameOutput(*got, *want, 0);
}

// ---- a request's own prompt kept as a prefix (GenerationRequest::keep_prompt_kv) ----

TEST_F(KvPrefixTest, KeptPromptKvContinuesAFollowUpRequest) {
  const std::vector<TokenId> prompt = Encode(kInstructions, true);
  const std::vector<TokenId> more = Encode(" The dog said hello.", false);
  Scheduler scheduler(*model_, SchedulerOptions{.max_batch_tokens = 8});
  // A verdict-like request: one token, its prompt's cache kept.
  GenerationRequest first{prompt, Greedy(1)};
  first.keep_prompt_kv = true;
  auto a = Run(scheduler, first);
  ASSERT_NE(a, nullptr);
  const std::shared_ptr<const KvPrefix> kept = a->summary().prompt_kv;
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->tokens(), prompt);
  EXPECT_EQ(scheduler.stats().kv_tokens_in_use, 0);  // outside the pool, like any prefix
  // A follow-up that extends the prompt evaluates only the new tokens and equals the whole.
  for (const GenerateOptions& o : {Greedy(8), Sampled(8, 3)}) {
    GenerationRequest whole{Concat(prompt, more), o};
    GenerationRequest follow = whole;
    follow.prefix = kept;
    auto want = Run(scheduler, whole);
    auto got = Run(scheduler, follow);
    ASSERT_NE(want, nullptr);
    ASSERT_NE(got, nullptr);
    ExpectSameOutput(*got, *want, static_cast<int32_t>(prompt.size()));
    EXPECT_EQ(got->summary().prompt_tokens_evaluated, static_cast<int32_t>(more.size()));
    EXPECT_EQ(got->summary().prompt_kv, nullptr);  // not asked for
  }
  // A cancelled request keeps nothing.
  GenerationRequest long_one{prompt, Greedy(200)};
  long_one.keep_prompt_kv = true;
  auto sink = std::make_shared<RecordingSink>();
  uint64_t id = 0;
  Gate id_known;
  sink->on_text = [&](int n) {
    if (n != 1) return;
    id_known.Wait();
    scheduler.Cancel(id);  // before the next step
  };
  auto submitted = scheduler.Submit(long_one, sink);
  ASSERT_TRUE(submitted.ok());
  id = *submitted;
  id_known.Open();
  sink->Wait();
  EXPECT_EQ(sink->finish_reason(), "cancelled");
  EXPECT_EQ(sink->summary().prompt_kv, nullptr);
}

TEST_F(KvPrefixTest, PartOfAPrefixServesAPromptThatWentOnDifferently) {
  const std::vector<TokenId> base = Encode(kInstructions, true);
  const std::vector<TokenId> a = Concat(base, Encode(" The dog said hello to the cat.", false));
  const std::vector<TokenId> b = Concat(base, Encode(" The dog ran away from home.", false));
  Scheduler scheduler(*model_, SchedulerOptions{.max_batch_tokens = 8});
  GenerationRequest first{a, Greedy(1)};
  first.keep_prompt_kv = true;
  auto kept = Run(scheduler, first);
  ASSERT_NE(kept, nullptr);
  ASSERT_NE(kept->summary().prompt_kv, nullptr);
  const auto lcp =
      static_cast<int32_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
  ASSERT_GT(lcp, static_cast<int32_t>(base.size()));  // " The dog" is shared too
  ASSERT_LT(lcp, static_cast<int32_t>(b.size()));
  GenerationRequest whole{b, Greedy(8)};
  GenerationRequest part = whole;
  part.prefix = kept->summary().prompt_kv;
  part.prefix_positions = lcp;
  auto want = Run(scheduler, whole);
  auto got = Run(scheduler, part);
  ASSERT_NE(want, nullptr);
  ASSERT_NE(got, nullptr);
  ExpectSameOutput(*got, *want, lcp);

  // Positions past the common part, or outside the prefix, are refused.
  auto sink = std::make_shared<RecordingSink>();
  for (int32_t n : {lcp + 1, static_cast<int32_t>(a.size()) + 1, -2}) {
    part.prefix_positions = n;
    auto r = scheduler.Submit(part, sink);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(sink->n_done(), 0);
}

// ---- errors ----

TEST_F(KvPrefixTest, SubmitRejectsPromptsAndPrefixesThatDoNotMatch) {
  const std::vector<TokenId> prefix = Encode(kInstructions, true);
  Scheduler scheduler(*model_, SchedulerOptions{});
  Scheduler elsewhere(*model_, SchedulerOptions{});  // idle: never touches the model
  auto cached = scheduler.CachePrefix(prefix);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  auto sink = std::make_shared<RecordingSink>();
  auto submit = [&](Scheduler& s, std::vector<TokenId> prompt, int32_t prompt_logprobs = -1) {
    GenerationRequest r{std::move(prompt), Greedy(4), prompt_logprobs};
    r.prefix = *cached;
    return s.Submit(std::move(r), sink).status();
  };
  std::vector<TokenId> changed = Concat(prefix, {5});
  changed[prefix.size() / 2] ^= 1;
  EXPECT_EQ(submit(scheduler, changed).code(), StatusCode::kInvalidArgument);
  const std::vector<TokenId> shorter(prefix.begin(), prefix.end() - 1);
  EXPECT_EQ(submit(scheduler, shorter).code(), StatusCode::kInvalidArgument);
  const Status foreign = submit(elsewhere, Concat(prefix, {5}));
  EXPECT_EQ(foreign.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(foreign.message().find("another scheduler"), std::string::npos) << foreign.ToString();
  EXPECT_EQ(submit(scheduler, Concat(prefix, {5}), 2).code(), StatusCode::kInvalidArgument);
  GenerationRequest bad_score{Concat(prefix, {5}), Greedy(4)};
  bad_score.first_token_scores = {0, model_->config().n_vocab};
  EXPECT_EQ(scheduler.Submit(bad_score, sink).status().code(), StatusCode::kInvalidArgument);
  bad_score.first_token_scores = {-1};
  EXPECT_EQ(scheduler.Submit(bad_score, sink).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sink->n_done(), 0);
  EXPECT_EQ(scheduler.stats().queued + scheduler.stats().running, 0);
  EXPECT_EQ(scheduler.stats().prompt_tokens_reused, 0u);
}

TEST_F(KvPrefixTest, CachePrefixRejectsBadTokensAndOverload) {
  Scheduler scheduler(*model_,
                      SchedulerOptions{.max_sequences = 1, .kv_pool_tokens = 64, .max_queue = 1});
  const ModelConfig& c = model_->config();
  EXPECT_EQ(scheduler.CachePrefix({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.CachePrefix({1, c.n_vocab}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.CachePrefix({-1}).status().code(), StatusCode::kInvalidArgument);
  const std::vector<TokenId> too_long(static_cast<size_t>(c.n_ctx_train) + 1, 1);
  EXPECT_EQ(scheduler.CachePrefix(too_long).status().code(), StatusCode::kInvalidArgument);
  // Longer than the KV pool but within the context: fine (the prefix is outside the pool).
  const std::vector<TokenId> beyond_pool(100, 1);
  auto big = scheduler.CachePrefix(beyond_pool);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ((*big)->tokens().size(), 100u);

  // Overload: the only slot is busy and the queue is full.
  Gate running, release;
  auto a = std::make_shared<RecordingSink>();
  a->on_text = [&](int n) {
    if (n == 1) {
      running.Open();
      release.Wait();
    }
  };
  const GenerationRequest req{Encode("Once upon a time", true), Greedy(4)};
  ASSERT_TRUE(scheduler.Submit(req, a).ok());
  running.Wait();
  auto b = std::make_shared<RecordingSink>();
  ASSERT_TRUE(scheduler.Submit(req, b).ok());
  EXPECT_EQ(scheduler.CachePrefix({1, 2, 3}).status().code(), StatusCode::kResourceExhausted);
  release.Open();
  a->Wait();
  b->Wait();
  EXPECT_TRUE(scheduler.CachePrefix({1, 2, 3}).ok());
}

TEST_F(KvPrefixTest, ModelCopyKvPrefixChecksItsArguments) {
  const std::vector<TokenId> prompt = Encode("Once upon a time", true);
  const auto n = static_cast<int32_t>(prompt.size());
  std::unique_ptr<KvCache> from = model_->NewKvCache(n);
  std::vector<BatchToken> batch;
  for (int32_t i = 0; i < n; ++i) batch.push_back({prompt[static_cast<size_t>(i)], i, from.get()});
  ASSERT_TRUE(model_->Forward(batch, nullptr).ok());
  std::unique_ptr<KvCache> to = model_->NewKvCache(n - 1);
  EXPECT_EQ(model_->CopyKvPrefix(*from, n, *to).code(), StatusCode::kInvalidArgument);  // no room
  std::unique_ptr<KvCache> big = model_->NewKvCache(2 * n);
  EXPECT_EQ(model_->CopyKvPrefix(*from, n + 1, *big).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(model_->CopyKvPrefix(*from, n - 1, *big).ok());
  EXPECT_EQ(big->n_past(), n - 1);
  EXPECT_EQ(model_->CopyKvPrefix(*from, 1, *big).code(),
            StatusCode::kInvalidArgument);  // not empty
  const ModelConfig& c = model_->config();
  for (int32_t l = 0; l < c.n_layer; ++l) {
    for (int32_t p = 0; p < n - 1; ++p) {
      EXPECT_TRUE(std::equal(from->k(l, p), from->k(l, p) + c.n_embd_kv(), big->k(l, p)));
      EXPECT_TRUE(std::equal(from->v(l, p), from->v(l, p) + c.n_embd_kv(), big->v(l, p)));
    }
  }
  // The seeded cache continues at position n - 1.
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  const BatchToken last{prompt.back(), n - 1, big.get(), true};
  EXPECT_TRUE(model_->Forward({&last, 1}, logits.data()).ok());
}

}  // namespace
}  // namespace parapet::engine
