// Sampler: picks the next token from one decode step's logits (greedy, temperature, top-k, top-p,
// min-p, seeded) and reports log-probabilities for the OpenAI `logprobs` / `top_logprobs` fields.
// It sits after the forward pass (which yields [n_vocab] logits per sequence) and before the
// stream decoder and stop matcher. Model-independent, CPU only, standard library only.
//
// Semantics of one Sample() call, in order (HF transformers' warper order):
//   1. NaN logits count as -inf; +inf logits count as the largest finite float.
//   2. Greedy (temperature <= 0, or so small that 1/temperature overflows, or top_k == 1): the
//      highest logit wins, lowest id on exact ties. No random draw is used.
//   3. top_k > 0 keeps the k highest logits (ties: lower id first).
//   4. Temperature scales what is left: p_i ∝ exp((logit_i - max) / temperature).
//   5. top_p < 1 keeps the smallest prefix of that distribution, sorted by probability descending
//      (ties: lower id first), whose mass reaches top_p (the token that crosses it is kept).
//   6. min_p > 0 keeps the tokens with p_i >= min_p * max_i p_i.
//   7. One token is drawn from the kept tokens, proportionally to p_i.
// Steps 5 and 6 are both computed on the distribution of step 4, so the kept set is their
// intersection. Tokens whose scaled logit is more than 80 below the maximum get probability 0.
//
// Reported log-probabilities are the log-softmax of the RAW logits (temperature and filters are
// ignored), as OpenAI reports them. If every logit is -inf (or NaN), token 0 is returned with
// logprob -inf, and `top` lists ids 0, 1, ... with logprob -inf.
//
// Randomness: xoshiro256** seeded through splitmix64 from `seed` (both fixed, published
// algorithms), one 53-bit uniform draw per non-greedy step. Same seed + same logits => same
// tokens, independent of the standard library. (Between x86-64 machines with and without AVX2 a
// draw that lands within float rounding of a token boundary may differ.)
//
// Cost per step: O(n_vocab): a max pass and an exp pass always (the exp pass is repeated with the
// temperature when there is no top-k), plus for top-p over the whole vocabulary two histogram
// passes that skip 256-token blocks which cannot reach the nucleus; no sort of the vocabulary.
// On x86-64 the two main passes run with AVX2 + FMA when the CPU has them. Memory: about
// 4 bytes per vocabulary entry, allocated in the constructor, plus scratch that grows with the
// nucleus (top-p) or k (top-k > 1024 selects with nth_element over 8 bytes per entry).
//
// Thread-safety: a Sampler is per-sequence state; one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"

namespace parapet::engine {

inline constexpr int32_t kMaxLogprobs = 20;

struct SamplingParams {
  // <= 0 means greedy. At most 100.
  float temperature = 1.0f;
  // Keep only the k most likely tokens; 0 = off, 1 = greedy.
  int32_t top_k = 0;
  // Nucleus mass in (0, 1] over the temperature-scaled, top-k-filtered distribution; 1 = off.
  float top_p = 1.0f;
  // In [0, 1]: drop tokens less likely than min_p times the most likely one; 0 = off.
  float min_p = 0.0f;
  // Seeds the PRNG; the caller picks a random one when the client gave none.
  uint64_t seed = 0;
  // How many top alternatives to report per step, 0..kMaxLogprobs.
  int32_t n_logprobs = 0;
};

// OK, or InvalidArgument naming the offending field (NaN or out of range).
Status ValidateSamplingParams(const SamplingParams& params);

struct TokenLogprob {
  int32_t id;
  float logprob;  // log-softmax of the raw logits
};

struct SampleResult {
  int32_t id;                     // the chosen token
  float logprob;                  // its log-softmax of the raw logits
  std::vector<TokenLogprob> top;  // n_logprobs entries, by logit desc (ties: lower id first)
};

// The log-softmax of the RAW logits (as SampleResult::logprob: NaN as -inf, +inf as the largest
// finite float) at each of `ids`, in order; all -inf if every logit is -inf or NaN. Used for
// classifier-style scores of chosen tokens (e.g. a guard model's "safe" / "unsafe").
// REQUIRES: every id in [0, logits.size()).
std::vector<float> RawLogprobs(std::span<const float> logits, std::span<const int32_t> ids);

class Sampler {
 public:
  // REQUIRES: ValidateSamplingParams(params).ok(), n_vocab > 0.
  Sampler(const SamplingParams& params, int32_t n_vocab);

  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Picks the next token. REQUIRES: logits.size() == n_vocab. Never fails.
  SampleResult Sample(std::span<const float> logits);
  // Scores a given token instead of drawing one: `id`, its log-probability and the top-N, as
  // Sample would report them (no random draw, sampling filters ignored). Used to score prompt
  // tokens (`echo` with logprobs). REQUIRES: logits.size() == n_vocab, 0 <= id < n_vocab.
  SampleResult Score(std::span<const float> logits, int32_t id);

  const SamplingParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  // A token and a score: its logit (top-k, top-n) or its weight (nucleus).
  struct Candidate {
    float score;
    int32_t id;
  };

  uint64_t NextU64();    // xoshiro256**
  double NextUniform();  // in [0, 1), 53 bits
  bool IsGreedy() const;
  // True when this sampler's steps fill candidates_ with the top-k.
  bool UsesTopK() const;
  // First id holding max_logit (block_max_ must be current).
  int32_t ArgMax(std::span<const float> logits, float max_logit) const;
  // The k best tokens by logit (desc, lower id first on ties), sorted, into `out`.
  void SelectBest(std::span<const float> logits, int32_t k, std::vector<Candidate>& out) const;
  // Non-greedy steps: the top-k path and the whole-vocabulary path. Both return the chosen id.
  int32_t SampleFromCandidates(float max_logit);
  int32_t SampleFromAll(std::span<const float> logits, float max_logit, double raw_mass);
  // top_p over weights_ (scaled by `scale`, total mass `total`): the last token of the nucleus
  // in rank order; the nucleus is every token ranking at or before it.
  Candidate FindNucleusCut(float max_logit, float scale, double total);
  // Level 1 of the nucleus search: the weight bucket where it ends (mass above it -> `above`).
  uint32_t NucleusBucket(double target, double& above);
  // Levels 2 and 3: the exact last token within that bucket.
  Candidate NucleusCutInBucket(uint32_t bucket, double target, double& above);
  // Applies min_p to kept_weights_ and draws one of kept_ids_.
  int32_t DrawFromKept();
  void FillTop(std::span<const float> logits, double log_sum_exp, SampleResult& result);

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t rng_[4];

  std::vector<float> weights_;          // [n_vocab] exp(logit - max) / exp((logit - max) / T)
  std::vector<float> block_max_;        // [ceil(n_vocab / 256)] max logit per block of 256
  std::vector<double> block_mass_;      // [ceil(n_vocab / 256)] sum of weights_ per block
  std::vector<double> bucket_mass_;     // top-p: weight mass per weight bucket (3 levels)
  std::vector<uint32_t> fine_count_;    // top-p: tokens per exact weight (last level)
  std::vector<uint32_t> heavy_blocks_;  // top-p: blocks that may hold nucleus tokens
  std::vector<Candidate> candidates_;   // top-k / top-n, best first
  std::vector<Candidate> pool_;         // top-p: tokens of the bucket where the nucleus ends,
                                        // in id order
  std::vector<int32_t> kept_ids_;       // top-k path: tokens that survive the filters
  std::vector<float> kept_weights_;     // and their unnormalised probabilities
};

}  // namespace parapet::engine
