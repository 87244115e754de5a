// Google Benchmark for the CPU matmul inner kernels (engine/cpu/vec_dot.h): one thread computes a
// 1024 x 4096 weight matrix (1024 rows of 4096 elements) times n_act activation rows, for each
// weight type and each SIMD level this CPU supports. Reported bytes/s count weight bytes only, so
// at n_act = 1 it is the decode-time streaming rate. The matrix (2.3-16.8 MB) may sit in L3.
//
//   parapet_vec_dot_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "engine/cpu/vec_dot.h"
#include "engine/quants.h"

namespace parapet::engine::cpu {
namespace {

constexpr int64_t kRowElems = 4096;
constexpr int64_t kRows = 1024;

// `rows` > 1: through dot_rows, that many weight rows per call (as the CPU matmul calls it).
void BM_VecDot(benchmark::State& state, TensorType type, SimdLevel level, int n_act, int rows) {
  const VecDotKernel& k = GetVecDotKernel(type, level);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kRowElems);

  const size_t row_bytes = RowBytes(type, kRowElems);
  std::vector<uint8_t> w(row_bytes * kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : x) v = dist(rng);
    QuantizeRow(type, x.data(), w.data() + r * row_bytes, kRowElems);
  }
  const size_t act_stride = RowBytes(k.act_type, kRowElems);
  std::vector<uint8_t> act(act_stride * n_act);
  for (int j = 0; j < n_act; ++j) {
    for (float& v : x) v = dist(rng);
    k.quantize_act(x.data(), act.data() + j * act_stride, kRowElems);
  }
  std::vector<float> out(static_cast<size_t>(kRows * n_act));

  for (auto _ : state) {
    if (rows > 1 && k.dot_rows != nullptr) {
      // Rows kRows / rows apart, as the CPU matmul groups them.
      const int64_t step = kRows / rows;
      for (int64_t r = 0; r < step; ++r) {
        k.dot_rows(kRowElems, w.data() + r * row_bytes, step * row_bytes, rows, act.data(),
                   act_stride, n_act, out.data() + r * rows, rows);
      }
    } else {
      for (int64_t r = 0; r < kRows; ++r) {
        k.dot(kRowElems, w.data() + r * row_bytes, act.data(), act_stride, n_act,
              out.data() + r * n_act);
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

void RegisterAll() {
  const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                              TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                              TensorType::kQ5_K, TensorType::kQ6_K};
  const SimdLevel levels[] = {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512};
  for (TensorType type : types) {
    for (SimdLevel level : levels) {
      if (level > DetectSimdLevel()) continue;
      for (int rows : {1, kMaxDotRows}) {
        if (rows > 1 && GetVecDotKernel(type, level).dot_rows == nullptr) continue;
        for (int n_act : {1, 8}) {
          const std::string name = std::string("VecDot/") + Traits(type).name + "/" +
                                   SimdLevelName(level) + "/rows:" + std::to_string(rows) +
                                   "/n_act:" + std::to_string(n_act);
          benchmark::RegisterBenchmark(name.c_str(), BM_VecDot, type, level, n_act, rows)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace
}  // namespace parapet::engine::cpu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  parapet::engine::cpu::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
