// Sampler implementation. The per-element loops (weights, sums) are written branch-free over
// fixed-width lanes so that -O3 vectorises them without -ffast-math; selection (top-k, top-n,
// nucleus) avoids any sort over the whole vocabulary.
#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

namespace parapet::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMaxFinite = std::numeric_limits<float>::max();
constexpr size_t kLanes = 16;   // independent accumulators in the vector loops
constexpr size_t kBlock = 256;  // tokens per block; per-block maxima and masses let scans skip
constexpr int32_t kHeapSelectMaxK = 1024;
// exp() below this is treated as 0 (e^-80 ~ 1.8e-35, far below any float sum's resolution).
constexpr float kMinExpArg = -80.0f;

// ---- scalar helpers ----

// `take_a ? a : b` through bit masks. A plain ?: with a constant operand lets GCC thread the
// constant into two code paths, which stops the loops below from vectorising.
inline float Select(bool take_a, float a, float b) {
  const uint32_t mask = take_a ? 0xFFFFFFFFu : 0u;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) |
                              (std::bit_cast<uint32_t>(b) & ~mask));
}

// NaN -> -inf, +inf -> largest finite float; everything else unchanged.
inline float Clean(float v) { return Select(v == v, Select(v < kMaxFinite, v, kMaxFinite), -kInf); }

// exp(x) for x <= 0: Cody-Waite reduction to r in [-ln2/2, ln2/2] and the Cephes expf
// polynomial (about 1 ulp); 0 for x < -80 (including -inf). Branch-free so loops vectorise.
inline float ExpNonPositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float xc = Select(x < kMinExpArg, kMinExpArg, x);
  const float t = xc * kLog2e + kRound;
  const float n = t - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const uint32_t n_bits = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kRound);
  const float scaled = std::bit_cast<float>(std::bit_cast<uint32_t>(p) + (n_bits << 23));
  return Select(x < kMinExpArg, 0.0f, scaled);
}

// True if `a` ranks before `b`: higher score first, lower id on ties.
struct RanksBefore {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  }
};

inline float Max(float a, float b) { return Select(a > b, a, b); }

// ---- vector passes ----

// The maximum of Clean(logits); block_max[b] gets the maximum of block b.
inline float ScanMaxImpl(std::span<const float> logits, float* block_max) {
  const size_t n = logits.size();
  float max_logit = -kInf;
  for (size_t begin = 0, b = 0; begin < n; begin += kBlock, ++b) {
    const size_t end = std::min(begin + kBlock, n);
    float lanes[kLanes];
    std::fill(std::begin(lanes), std::end(lanes), -kInf);
    size_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) lanes[j] = Max(lanes[j], Clean(logits[i + j]));
    }
    float m = -kInf;
    for (float v : lanes) m = Max(m, v);
    for (; i < end; ++i) m = Max(m, Clean(logits[i]));
    block_max[b] = m;
    max_logit = Max(max_logit, m);
  }
  return max_logit;
}

// w[i] = value(i) for i < n; block_mass[b] = the sum of block b's weights, accumulated in kLanes
// partial sums so the loop vectorises. Returns the total (the block masses summed in order).
template <typename Value>
inline double FillAndSumBlocks(size_t n, float* w, double* block_mass, Value value) {
  double total = 0.0;
  for (size_t begin = 0, b = 0; begin < n; begin += kBlock, ++b) {
    const size_t end = std::min(begin + kBlock, n);
    float lanes[kLanes] = {};
    size_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) {
        w[i + j] = value(i + j);
        lanes[j] += w[i + j];
      }
    }
    double mass = 0.0;
    for (float v : lanes) mass += v;
    for (; i < end; ++i) {
      w[i] = value(i);
      mass += w[i];
    }
    block_mass[b] = mass;
    total += mass;
  }
  return total;
}

// w[i] = exp((Clean(logits[i]) - max_logit) * scale), with block masses as above.
inline double WeighImpl(std::span<const float> logits, float max_logit, float scale, float* w,
                        double* block_mass) {
  return FillAndSumBlocks(logits.size(), w, block_mass, [&](size_t i) {
    return ExpNonPositive((Clean(logits[i]) - max_logit) * scale);
  });
}

// ---- instruction-set dispatch ----
// The two passes above are most of a step's cost. On x86-64 they are also compiled for
// AVX2 + FMA and picked at run time (about 3x faster than the SSE2 baseline). FMA contraction
// may change the last bit of a weight, so which token a seed draws may differ between machines
// with and without AVX2 in rare near-tie cases; on one machine it never varies.

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PARAPET_SAMPLER_DISPATCH 1
__attribute__((target("avx2,fma"))) float ScanMaxAvx2(std::span<const float> logits,
                                                      float* block_max) {
  return ScanMaxImpl(logits, block_max);
}
__attribute__((target("avx2,fma"))) double WeighAvx2(std::span<const float> logits, float max_logit,
                                                     float scale, float* w, double* block_mass) {
  return WeighImpl(logits, max_logit, scale, w, block_mass);
}
bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

float ScanMax(std::span<const float> logits, float* block_max) {
#ifdef PARAPET_SAMPLER_DISPATCH
  if (HasAvx2()) return ScanMaxAvx2(logits, block_max);
#endif
  return ScanMaxImpl(logits, block_max);
}

double Weigh(std::span<const float> logits, float max_logit, float scale, float* w,
             double* block_mass) {
#ifdef PARAPET_SAMPLER_DISPATCH
  if (HasAvx2()) return WeighAvx2(logits, max_logit, scale, w, block_mass);
#endif
  return WeighImpl(logits, max_logit, scale, w, block_mass);
}

// Keeps w[i] where token i ranks at or before `cut` (weight desc, id asc) and w[i] >= min_weight;
// zeroes the rest and refreshes the block masses. Returns the new total.
double ApplyCut(float cut_weight, uint32_t cut_id, float min_weight, std::span<float> w,
                double* block_mass) {
  auto keep = [&](uint32_t i, float v) {
    return Select(((v > cut_weight) | ((v == cut_weight) & (i <= cut_id))) & (v >= min_weight), v,
                  0.0f);
  };
  return FillAndSumBlocks(w.size(), w.data(), block_mass,
                          [&](size_t i) { return keep(static_cast<uint32_t>(i), w[i]); });
}

// top-p buckets weights in [0, 1] by their bit pattern, which is monotone in the value: bits >> 20
// (exponent and top 3 mantissa bits, buckets about 9% wide), then the next 8 bits. Bucket 0
// holds weight 0 only: positive weights are at least e^-80, far above the denormals.
constexpr uint32_t kWeightBuckets = (0x3F800000u >> 20) + 1;  // bucket of 1.0f, plus one
constexpr uint32_t kSubBins = 256;                            // level 2: bits 19..12
constexpr uint32_t kFineBins = 4096;                          // level 3: bits 11..0
constexpr size_t kHistograms = 4;

// Adds copies 1..kHistograms-1 of an interleaved histogram of `n_bins` into copy 0.
void MergeHistograms(double* mass, size_t n_bins) {
  for (size_t b = 0; b < n_bins; ++b) {
    for (size_t h = 1; h < kHistograms; ++h) mass[b] += mass[h * n_bins + b];
  }
}

// Walks mass[top], mass[top - 1], ... and returns the first bin where `above` plus the bin
// reaches `want` (or 0), having added the bins passed over to `above`.
uint32_t WalkDown(const double* mass, uint32_t top, double want, double& above) {
  uint32_t i = top;
  while (i > 0 && above + mass[i] < want) above += mass[i--];
  return i;
}

}  // namespace

// ---- validation ----

Status ValidateSamplingParams(const SamplingParams& p) {
  auto bad = [](const char* field, const std::string& rule) {
    return InvalidArgumentError(std::string("sampling parameter '") + field + "' " + rule);
  };
  if (!(p.temperature >= 0.0f && p.temperature <= 100.0f)) {
    return bad("temperature", "must be in [0, 100], got " + std::to_string(p.temperature));
  }
  if (p.top_k < 0) return bad("top_k", "must be >= 0, got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return bad("top_p", "must be in (0, 1], got " + std::to_string(p.top_p));
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return bad("min_p", "must be in [0, 1], got " + std::to_string(p.min_p));
  }
  if (p.n_logprobs < 0 || p.n_logprobs > kMaxLogprobs) {
    return bad("n_logprobs", "must be in [0, " + std::to_string(kMaxLogprobs) + "], got " +
                                 std::to_string(p.n_logprobs));
  }
  return Status::Ok();
}

// ---- raw log-probabilities ----

std::vector<float> RawLogprobs(std::span<const float> logits, std::span<const int32_t> ids) {
  std::vector<float> out(ids.size(), -kInf);
  const size_t n_blocks = (logits.size() + kBlock - 1) / kBlock;
  std::vector<float> block_max(n_blocks);
  const float max_logit = ScanMax(logits, block_max.data());
  if (max_logit == -kInf) return out;
  // The same passes as Sampler::Sample, so the values equal its reported log-probabilities.
  std::vector<float> w(logits.size());
  std::vector<double> block_mass(n_blocks);
  const double raw_mass = Weigh(logits, max_logit, 1.0f, w.data(), block_mass.data());
  const double log_sum_exp = static_cast<double>(max_logit) + std::log(raw_mass);
  for (size_t i = 0; i < ids.size(); ++i) {
    PARAPET_CHECK(ids[i] >= 0 && static_cast<size_t>(ids[i]) < logits.size());
    out[i] = static_cast<float>(static_cast<double>(Clean(logits[static_cast<size_t>(ids[i])])) -
                                log_sum_exp);
  }
  return out;
}

// ---- Sampler ----

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab) {
  PARAPET_CHECK(ValidateSamplingParams(params).ok());
  PARAPET_CHECK(n_vocab > 0);
  // splitmix64 expands the seed into xoshiro256**'s state (never all zero).
  uint64_t x = params.seed;
  for (uint64_t& s : rng_) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    s = z ^ (z >> 31);
  }
  const size_t n = static_cast<size_t>(n_vocab);
  weights_.resize(n);
  block_max_.resize((n + kBlock - 1) / kBlock);
  block_mass_.resize((n + kBlock - 1) / kBlock);
  bucket_mass_.resize(std::max<size_t>(kHistograms * kWeightBuckets, kFineBins));
  fine_count_.resize(kHistograms * kFineBins);
}

uint64_t Sampler::NextU64() {
  const uint64_t result = std::rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = std::rotl(rng_[3], 45);
  return result;
}

bool Sampler::IsGreedy() const {
  // A temperature so small that 1 / temperature overflows is greedy too (and must be: the
  // scaled logit of the best token would be 0 * inf).
  return params_.temperature <= 0.0f || params_.top_k == 1 || 1.0f / params_.temperature == kInf;
}

bool Sampler::UsesTopK() const {
  return !IsGreedy() && params_.top_k > 1 && params_.top_k < n_vocab_;
}

double Sampler::NextUniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

SampleResult Sampler::Sample(std::span<const float> logits) {
  PARAPET_CHECK(logits.size() == static_cast<size_t>(n_vocab_));
  SampleResult result{0, -kInf, {}};
  const float max_logit = ScanMax(logits, block_max_.data());
  if (max_logit == -kInf) {  // nothing is possible: deterministic token 0
    for (int32_t id = 0; id < std::min(params_.n_logprobs, n_vocab_); ++id) {
      result.top.push_back({id, -kInf});
    }
    return result;
  }
  // log-sum-exp of the raw logits, for the reported log-probabilities.
  const double raw_mass = Weigh(logits, max_logit, 1.0f, weights_.data(), block_mass_.data());
  const double log_sum_exp = static_cast<double>(max_logit) + std::log(raw_mass);

  if (IsGreedy()) {
    result.id = ArgMax(logits, max_logit);
  } else if (UsesTopK()) {
    SelectBest(logits, params_.top_k, candidates_);
    result.id = SampleFromCandidates(max_logit);
  } else {
    result.id = SampleFromAll(logits, max_logit, raw_mass);
  }
  result.logprob = static_cast<float>(static_cast<double>(Clean(logits[result.id])) - log_sum_exp);
  FillTop(logits, log_sum_exp, result);
  return result;
}

SampleResult Sampler::Score(std::span<const float> logits, int32_t id) {
  PARAPET_CHECK(logits.size() == static_cast<size_t>(n_vocab_));
  PARAPET_CHECK(id >= 0 && id < n_vocab_);
  SampleResult result{id, -kInf, {}};
  const float max_logit = ScanMax(logits, block_max_.data());
  if (max_logit == -kInf) {
    for (int32_t i = 0; i < std::min(params_.n_logprobs, n_vocab_); ++i) {
      result.top.push_back({i, -kInf});
    }
    return result;
  }
  const double raw_mass = Weigh(logits, max_logit, 1.0f, weights_.data(), block_mass_.data());
  const double log_sum_exp = static_cast<double>(max_logit) + std::log(raw_mass);
  result.logprob = static_cast<float>(static_cast<double>(Clean(logits[id])) - log_sum_exp);
  // FillTop reuses the top-k ranking only on the sampling path; rank afresh here.
  const int32_t n_top = std::min(params_.n_logprobs, n_vocab_);
  if (n_top > 0) {
    SelectBest(logits, n_top, candidates_);
    for (int32_t i = 0; i < n_top; ++i) {
      const Candidate& c = candidates_[static_cast<size_t>(i)];
      result.top.push_back({c.id, static_cast<float>(static_cast<double>(c.score) - log_sum_exp)});
    }
  }
  return result;
}

int32_t Sampler::ArgMax(std::span<const float> logits, float max_logit) const {
  size_t b = 0;
  while (block_max_[b] != max_logit) ++b;
  size_t i = b * kBlock;
  while (Clean(logits[i]) != max_logit) ++i;
  return static_cast<int32_t>(i);
}

void Sampler::SelectBest(std::span<const float> logits, int32_t k,
                         std::vector<Candidate>& out) const {
  out.clear();
  const size_t n = logits.size();
  const size_t k_size = std::min(static_cast<size_t>(k), n);
  if (k_size > kHeapSelectMaxK) {
    // Large k: one nth_element over every token, then sort the winners.
    out.resize(n);
    for (size_t i = 0; i < n; ++i) out[i] = {Clean(logits[i]), static_cast<int32_t>(i)};
    std::nth_element(out.begin(), out.begin() + static_cast<ptrdiff_t>(k_size - 1), out.end(),
                     RanksBefore{});
    out.resize(k_size);
    std::sort(out.begin(), out.end(), RanksBefore{});
    return;
  }
  // Small k: a heap of the k best so far whose front is the worst of them. Ids are scanned in
  // increasing order, so a newcomer with an equal logit ranks after every member: only a strictly
  // larger logit displaces the front, and blocks whose maximum is not larger are skipped.
  out.reserve(k_size);
  for (size_t i = 0; i < k_size; ++i) {
    out.push_back({Clean(logits[i]), static_cast<int32_t>(i)});
    std::push_heap(out.begin(), out.end(), RanksBefore{});
  }
  float worst = out.front().score;
  for (size_t i = k_size; i < n;) {
    const size_t block_end = std::min((i / kBlock + 1) * kBlock, n);
    if (block_max_[i / kBlock] <= worst) {
      i = block_end;
      continue;
    }
    for (; i < block_end; ++i) {
      const float v = Clean(logits[i]);
      if (v <= worst) continue;
      std::pop_heap(out.begin(), out.end(), RanksBefore{});
      out.back() = {v, static_cast<int32_t>(i)};
      std::push_heap(out.begin(), out.end(), RanksBefore{});
      worst = out.front().score;
    }
  }
  std::sort_heap(out.begin(), out.end(), RanksBefore{});
}

int32_t Sampler::SampleFromCandidates(float max_logit) {
  // candidates_: the top-k, best first; the first holds max_logit (weight 1).
  const float scale = 1.0f / params_.temperature;
  kept_ids_.clear();
  kept_weights_.clear();
  double total = 0.0;
  for (const Candidate& c : candidates_) {
    const float w = ExpNonPositive((c.score - max_logit) * scale);
    kept_ids_.push_back(c.id);
    kept_weights_.push_back(w);
    total += w;
  }
  if (params_.top_p < 1.0f) {
    const double target = static_cast<double>(params_.top_p) * total;
    double mass = 0.0;
    size_t keep = 0;
    while (keep < kept_weights_.size() && mass < target) mass += kept_weights_[keep++];
    kept_ids_.resize(std::max<size_t>(keep, 1));
    kept_weights_.resize(kept_ids_.size());
  }
  return DrawFromKept();
}

int32_t Sampler::SampleFromAll(std::span<const float> logits, float max_logit, double raw_mass) {
  const float scale = 1.0f / params_.temperature;
  double total = raw_mass;  // weights_ already hold exp(logit - max): right for temperature 1
  if (params_.temperature != 1.0f) {
    total = Weigh(logits, max_logit, scale, weights_.data(), block_mass_.data());
  }
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
    // min_p is relative to the most likely token, whose weight is 1.
    Candidate cut{0.0f, n_vocab_};  // ranks after every token: keeps all
    if (params_.top_p < 1.0f) cut = FindNucleusCut(max_logit, scale, total);
    total = ApplyCut(cut.score, static_cast<uint32_t>(cut.id), params_.min_p, weights_,
                     block_mass_.data());
  }
  // Find the block holding the target mass, then the token inside it.
  const double target = NextUniform() * total;
  double mass = 0.0;
  size_t b = 0;
  while (b + 1 < block_mass_.size() && mass + block_mass_[b] <= target) mass += block_mass_[b++];
  const size_t end = std::min((b + 1) * kBlock, weights_.size());
  int32_t chosen = -1;
  for (size_t i = b * kBlock; i < end; ++i) {
    if (weights_[i] <= 0.0f) continue;
    chosen = static_cast<int32_t>(i);
    mass += weights_[i];
    if (mass > target) break;
  }
  if (chosen >= 0) return chosen;
  // Rounding put the target past the last non-empty block: take the last possible token.
  for (size_t i = weights_.size(); i-- > 0;) {
    if (weights_[i] > 0.0f) return static_cast<int32_t>(i);
  }
  return 0;  // unreachable: the max token has weight 1
}

Sampler::Candidate Sampler::FindNucleusCut(float max_logit, float scale, double total) {
  // Only tokens weighing at least `floor` can be in the nucleus: the others weigh at most
  // n * floor = (1 - top_p) * total / 2 together, so the heavier ones alone reach top_p. Blocks
  // whose maximum is below the floor are skipped by every pass.
  const double target = static_cast<double>(params_.top_p) * total;
  const float floor = static_cast<float>((total - target) / (2.0 * static_cast<double>(n_vocab_)));
  const float min_block_logit = max_logit + (std::log(floor) - 0.01f) / scale;
  heavy_blocks_.clear();
  for (uint32_t b = 0; b < block_max_.size(); ++b) {
    if (block_max_[b] >= min_block_logit) heavy_blocks_.push_back(b);
  }
  double above = 0.0;
  const uint32_t bucket = NucleusBucket(target, above);
  return NucleusCutInBucket(bucket, target, above);
}

uint32_t Sampler::NucleusBucket(double target, double& above) {
  // The histogram is kept in kHistograms interleaved copies so that neighbouring tokens, often in
  // one bucket, do not wait on each other's update.
  double* mass = bucket_mass_.data();  // [kHistograms][kWeightBuckets]
  std::fill(mass, mass + kHistograms * kWeightBuckets, 0.0);
  for (uint32_t b : heavy_blocks_) {
    const size_t end = std::min((b + 1) * kBlock, weights_.size());
    for (size_t i = b * kBlock; i < end; ++i) {
      mass[(i % kHistograms) * kWeightBuckets + (std::bit_cast<uint32_t>(weights_[i]) >> 20)] +=
          weights_[i];
    }
  }
  MergeHistograms(mass, kWeightBuckets);
  return WalkDown(mass, kWeightBuckets - 1, target, above);
}

Sampler::Candidate Sampler::NucleusCutInBucket(uint32_t bucket, double target, double& above) {
  // Level 2: the sub-bucket (next 8 bits); the bucket's tokens go to pool_ in id order.
  double* sub_mass = bucket_mass_.data();  // [kHistograms][kSubBins]
  std::fill(sub_mass, sub_mass + kHistograms * kSubBins, 0.0);
  pool_.clear();
  for (uint32_t b : heavy_blocks_) {
    const size_t end = std::min((b + 1) * kBlock, weights_.size());
    for (size_t i = b * kBlock; i < end; ++i) {
      const uint32_t bits = std::bit_cast<uint32_t>(weights_[i]);
      if ((bits >> 20) != bucket) continue;
      sub_mass[(i % kHistograms) * kSubBins + ((bits >> 12) & 0xFF)] += weights_[i];
      pool_.push_back({weights_[i], static_cast<int32_t>(i)});
    }
  }
  MergeHistograms(sub_mass, kSubBins);
  const uint32_t sub = WalkDown(sub_mass, kSubBins - 1, target, above);
  // If rounding leaves the levels below empty, the whole bucket is in (and if the bucket is
  // empty too, everything is).
  Candidate cut{0.0f, n_vocab_};
  if (!pool_.empty()) cut = *std::max_element(pool_.begin(), pool_.end(), RanksBefore{});
  std::erase_if(pool_, [sub](const Candidate& c) {
    return ((std::bit_cast<uint32_t>(c.score) >> 12) & 0xFF) != sub;
  });
  // Level 3: the low 12 bits, which leaves one exact weight; its mass is count * weight. Its
  // tokens rank by id, which is pool_'s order, so no sort is needed even when thousands tie.
  std::fill(fine_count_.begin(), fine_count_.end(), 0u);
  for (size_t i = 0; i < pool_.size(); ++i) {
    const uint32_t bin = std::bit_cast<uint32_t>(pool_[i].score) & 0xFFF;
    ++fine_count_[(i % kHistograms) * kFineBins + bin];
  }
  const uint32_t high_bits = (bucket << 20) | (sub << 12);
  double* fine_mass = bucket_mass_.data();  // [kFineBins]
  for (uint32_t f = 0; f < kFineBins; ++f) {
    uint32_t count = 0;
    for (size_t h = 0; h < kHistograms; ++h) count += fine_count_[h * kFineBins + f];
    fine_mass[f] = count * static_cast<double>(std::bit_cast<float>(high_bits | f));
  }
  const uint32_t fine = WalkDown(fine_mass, kFineBins - 1, target, above);
  for (const Candidate& c : pool_) {
    if ((std::bit_cast<uint32_t>(c.score) & 0xFFF) != fine) continue;
    cut = c;
    above += c.score;
    if (above >= target) break;
  }
  return cut;
}

int32_t Sampler::DrawFromKept() {
  // min_p: weights are relative to the most likely token (weight 1).
  if (params_.min_p > 0.0f) {
    for (float& w : kept_weights_) w = w < params_.min_p ? 0.0f : w;
  }
  double total = 0.0;
  for (float w : kept_weights_) total += w;
  const double target = NextUniform() * total;
  double mass = 0.0;
  int32_t chosen = kept_ids_.front();
  for (size_t i = 0; i < kept_ids_.size(); ++i) {
    if (kept_weights_[i] <= 0.0f) continue;
    chosen = kept_ids_[i];
    mass += kept_weights_[i];
    if (mass > target) break;
  }
  return chosen;
}

void Sampler::FillTop(std::span<const float> logits, double log_sum_exp, SampleResult& result) {
  const int32_t n_top = std::min(params_.n_logprobs, n_vocab_);
  if (n_top == 0) return;
  // The top-k path already ranked the k best tokens; otherwise rank the n_top best now.
  if (!(UsesTopK() && params_.top_k >= n_top)) SelectBest(logits, n_top, candidates_);
  result.top.reserve(static_cast<size_t>(n_top));
  for (int32_t i = 0; i < n_top; ++i) {
    const Candidate& c = candidates_[static_cast<size_t>(i)];
    result.top.push_back({c.id, static_cast<float>(static_cast<double>(c.score) - log_sum_exp)});
  }
}

}  // namespace parapet::engine
