// What admitting a request costs in KV memory on the CPU backend (Google Benchmark): a KvCache of
// the request's reservation is made and its first 100 positions written, as a prompt's prefill
// writes them, then freed. The baseline in the same run does the same with a zero-filled buffer,
// which touches every page of the reservation up front.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "engine/kv_cache.h"

namespace parapet::engine {
namespace {

constexpr int32_t kNEmbdKv = 1024;  // Mixtral / Mistral 7B: 8 KV heads x 128
constexpr int32_t kWritten = 100;   // prompt positions written after admission

// args: n_layer, n_ctx
void BM_KvCacheAdmit(benchmark::State& state) {
  const auto n_layer = static_cast<int32_t>(state.range(0));
  const auto n_ctx = static_cast<int32_t>(state.range(1));
  std::vector<float> row(kNEmbdKv, 1.0f);
  for (auto _ : state) {
    auto kv = std::make_unique<KvCache>(n_layer, kNEmbdKv, n_ctx);
    for (int32_t l = 0; l < n_layer; ++l) {
      for (int32_t p = 0; p < kWritten; ++p) {
        std::memcpy(kv->k(l, p), row.data(), sizeof(float) * kNEmbdKv);
        std::memcpy(kv->v(l, p), row.data(), sizeof(float) * kNEmbdKv);
      }
    }
    benchmark::DoNotOptimize(kv->k(0, 0));
  }
  state.counters["reserved_MiB"] =
      static_cast<double>(KvCache::BytesFor(n_layer, kNEmbdKv, n_ctx)) / (1 << 20);
}

// The baseline: the same reservation zero-filled at admission.
void BM_ZeroFilledAdmit(benchmark::State& state) {
  const auto n_layer = static_cast<int32_t>(state.range(0));
  const auto n_ctx = static_cast<int32_t>(state.range(1));
  const size_t per_layer = static_cast<size_t>(n_ctx) * kNEmbdKv;
  std::vector<float> row(kNEmbdKv, 1.0f);
  for (auto _ : state) {
    std::vector<float> kv(2 * static_cast<size_t>(n_layer) * per_layer);
    float* k = kv.data();
    float* v = kv.data() + kv.size() / 2;
    for (int32_t l = 0; l < n_layer; ++l) {
      for (int32_t p = 0; p < kWritten; ++p) {
        std::memcpy(k + l * per_layer + static_cast<size_t>(p) * kNEmbdKv, row.data(),
                    sizeof(float) * kNEmbdKv);
        std::memcpy(v + l * per_layer + static_cast<size_t>(p) * kNEmbdKv, row.data(),
                    sizeof(float) * kNEmbdKv);
      }
    }
    benchmark::DoNotOptimize(kv.data());
  }
}

// 4 layers (the Mixtral-shaped benchmark model), 32 layers (Mixtral 8x7B); 512 / 4096 positions.
void Args(benchmark::internal::Benchmark* b) {
  for (int64_t layers : {4, 32}) {
    for (int64_t ctx : {512, 4096}) b->Args({layers, ctx});
  }
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_KvCacheAdmit)->Apply(Args);
BENCHMARK(BM_ZeroFilledAdmit)->Apply(Args);

}  // namespace
}  // namespace parapet::engine

BENCHMARK_MAIN();
