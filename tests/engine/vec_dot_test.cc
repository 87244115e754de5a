// Tests for engine/cpu/vec_dot.h: every kernel variant this CPU can run (scalar, AVX2, AVX-512
// with and without VNNI) against a double-precision reference built from the dequantised weight
// and activation rows, and the SIMD variants against the scalar one, on random and extreme data,
// several row lengths and activation-row counts.
#include "engine/cpu/vec_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/internal/vec_dot_tables.h"
#include "engine/quants.h"

namespace parapet::engine::cpu {
namespace {

constexpr TensorType kWeightTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                       TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K,
                                       TensorType::kQ5_K, TensorType::kQ6_K};

struct Variant {
  std::string name;
  const VecDotKernel* kernel;
};

std::vector<Variant> VariantsFor(TensorType type) {
  // Each table's own kernel where it has one (a level may defer a type to the level below).
  std::vector<Variant> v = {{"scalar", internal::ScalarKernel(type)}};
  const SimdLevel level = DetectSimdLevel();
  if (level >= SimdLevel::kAvx2) v.push_back({"avx2", internal::Avx2Kernel(type)});
  if (level >= SimdLevel::kAvx512) {
    v.push_back({"avx512", internal::Avx512Kernel(type)});
    if (internal::CpuHasAvx512Vnni()) v.push_back({"avx512vnni", internal::Avx512VnniKernel(type)});
  }
  std::erase_if(v, [](const Variant& x) { return x.kernel == nullptr; });
  return v;
}

std::vector<int64_t> RowLengths(TensorType type) {
  switch (Traits(type).block_elems) {
    case 1:
      return {1, 7, 33, 100, 1000, 4096};
    case 32:
      return {32, 96, 160, 4096};
    default:
      return {256, 768, 4096};
  }
}

// ---- data ----

// Gaussian values with a different scale per 32 elements, so blocks differ in magnitude.
std::vector<float> RandomFloats(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.05f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n));
  float s = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) s = scale(rng);
    x[i] = s * dist(rng);
  }
  return x;
}

struct Problem {
  int64_t n = 0;
  int n_act = 0;
  std::vector<uint8_t> w;  // one weight row (at w.data() + w_offset)
  size_t w_offset = 0;
  std::vector<uint8_t> act;  // n_act rows, act_stride bytes apart
  size_t act_stride = 0;
};

Problem MakeRandomProblem(const VecDotKernel& k, TensorType wt, int64_t n, int n_act,
                          uint32_t seed) {
  std::mt19937 rng(seed);
  Problem p;
  p.n = n;
  p.n_act = n_act;
  p.w_offset = seed % 2 == 0 ? 0 : 4;  // also exercise rows that are not 32-byte aligned
  p.w.assign(p.w_offset + RowBytes(wt, n), 0);
  QuantizeRow(wt, RandomFloats(n, rng).data(), p.w.data() + p.w_offset, n);
  p.act_stride = RowBytes(k.act_type, n) + 12;  // padding between rows must be ignored
  p.act.assign(p.act_stride * n_act, 0xCD);
  for (int r = 0; r < n_act; ++r) {
    k.quantize_act(RandomFloats(n, rng).data(), p.act.data() + r * p.act_stride, n);
  }
  return p;
}

// Exact value and sum of |products| from the dequantised rows, in double.
void Reference(const Problem& p, TensorType wt, TensorType at, std::vector<double>* dot,
               std::vector<double>* abs_sum) {
  std::vector<float> w(p.n), a(p.n);
  DequantizeRow(wt, p.w.data() + p.w_offset, w.data(), p.n);
  for (int r = 0; r < p.n_act; ++r) {
    DequantizeRow(at, p.act.data() + r * p.act_stride, a.data(), p.n);
    double s = 0, s_abs = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      s += static_cast<double>(w[i]) * a[i];
      s_abs += std::fabs(static_cast<double>(w[i]) * a[i]);
    }
    dot->push_back(s);
    abs_sum->push_back(s_abs);
  }
}

// Runs every variant on `p`: each must be within 1e-5 of the sum of |products| of the reference,
// and every SIMD variant that close to the scalar kernel.
void CheckVariants(TensorType wt, const Problem& p, const std::string& what) {
  const std::vector<Variant> variants = VariantsFor(wt);
  std::vector<double> ref, abs_sum;
  Reference(p, wt, variants[0].kernel->act_type, &ref, &abs_sum);
  std::vector<float> scalar(p.n_act);
  for (const Variant& v : variants) {
    std::vector<float> out(p.n_act + 1, -12345.0f);
    v.kernel->dot(p.n, p.w.data() + p.w_offset, p.act.data(), p.act_stride, p.n_act, out.data());
    ASSERT_EQ(out[p.n_act], -12345.0f) << "wrote past out[n_act - 1]";
    for (int r = 0; r < p.n_act; ++r) {
      const double tol = 1e-5 * abs_sum[r] + 1e-30;
      EXPECT_NEAR(out[r], ref[r], tol) << v.name << " " << what << " row " << r;
      if (v.name == "scalar") {
        scalar[r] = out[r];
      } else {
        EXPECT_NEAR(out[r], scalar[r], tol) << v.name << " vs scalar, " << what << " row " << r;
      }
    }
  }
}

class VecDotTypes : public ::testing::TestWithParam<TensorType> {};

// ---- random data ----

TEST_P(VecDotTypes, AllVariantsMatchReference) {
  const TensorType wt = GetParam();
  const VecDotKernel& k = GetVecDotKernel(wt, SimdLevel::kScalar);
  uint32_t seed = 1;
  for (int64_t n : RowLengths(wt)) {
    for (int n_act : {1, 2, 3, 5, 8, 9}) {
      const Problem p = MakeRandomProblem(k, wt, n, n_act, seed++);
      CheckVariants(wt, p, "n=" + std::to_string(n) + " n_act=" + std::to_string(n_act));
    }
  }
}

// ---- several weight rows per call ----

// dot_rows on 1..kMaxDotRows weight rows spaced three rows apart (the bytes between must be
// ignored), every activation-row count, into an output wider than n_rows (the extra columns
// must stay untouched): each result within 1e-5 of the sum of |products| of the reference.
TEST_P(VecDotTypes, DotRowsMatchReference) {
  const TensorType wt = GetParam();
  uint32_t seed = 100;
  for (const Variant& v : VariantsFor(wt)) {
    if (v.kernel->dot_rows == nullptr) continue;
    for (int64_t n : RowLengths(wt)) {
      const size_t row_bytes = RowBytes(wt, n);
      const size_t w_stride = 3 * row_bytes;
      for (int n_rows = 1; n_rows <= kMaxDotRows; ++n_rows) {
        for (int n_act : {1, 2, 3, 5, 8, 9}) {
          Problem p = MakeRandomProblem(*v.kernel, wt, n, n_act, seed++);
          std::mt19937 rng(seed);
          std::vector<uint8_t> w(w_stride * n_rows, 0xCD);
          for (int i = 0; i < n_rows; ++i) {
            QuantizeRow(wt, RandomFloats(n, rng).data(), w.data() + i * w_stride, n);
          }
          const size_t out_stride = static_cast<size_t>(n_rows) + 2;
          std::vector<float> out(out_stride * n_act, -12345.0f);
          v.kernel->dot_rows(n, w.data(), w_stride, n_rows, p.act.data(), p.act_stride, n_act,
                             out.data(), out_stride);
          for (int i = 0; i < n_rows; ++i) {
            p.w.assign(w.begin() + i * w_stride, w.begin() + i * w_stride + row_bytes);
            p.w_offset = 0;
            std::vector<double> ref, abs_sum;
            Reference(p, wt, v.kernel->act_type, &ref, &abs_sum);
            for (int j = 0; j < n_act; ++j) {
              EXPECT_NEAR(out[j * out_stride + i], ref[j], 1e-5 * abs_sum[j] + 1e-30)
                  << v.name << " n=" << n << " n_rows=" << n_rows << " n_act=" << n_act << " row "
                  << i << " act " << j;
            }
          }
          for (int j = 0; j < n_act; ++j) {
            for (size_t i = n_rows; i < out_stride; ++i) {
              ASSERT_EQ(out[j * out_stride + i], -12345.0f) << v.name << " wrote past n_rows";
            }
          }
        }
      }
    }
  }
}

// ---- extreme integer ranges ----

// Random raw bytes everywhere but in the scales d / dmin (kept finite): quants of every value,
// Q6_K scales of -128, Q8_0 weights of -128, activations of +-127.
Problem MakeRawProblem(TensorType wt, int64_t n, int n_act, uint32_t seed, bool saturate) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.5f, 2.0f);
  // Saturated: every quant at its largest magnitude (Q8_0 weights -128, Q6_K scales -128).
  const uint8_t top = wt == TensorType::kQ8_0 ? 0x80 : 0xFF;
  const auto random_byte = [&] { return static_cast<uint8_t>(saturate ? top : byte(rng)); };
  Problem p;
  p.n = n;
  p.n_act = n_act;
  p.w.resize(RowBytes(wt, n));
  for (uint8_t& b : p.w) b = random_byte();
  const size_t block_bytes = static_cast<size_t>(Traits(wt).block_bytes);
  for (size_t off = 0; off < p.w.size(); off += block_bytes) {
    const uint16_t d = Fp32ToFp16(scale(rng));
    uint8_t* blk = p.w.data() + off;
    if (wt == TensorType::kQ6_K) {
      if (saturate) std::memset(blk + 192, 0x80, 16);
      std::memcpy(blk + 208, &d, 2);
    } else {
      std::memcpy(blk, &d, 2);
      if (wt == TensorType::kQ4_K || wt == TensorType::kQ5_K) std::memcpy(blk + 2, &d, 2);
    }
  }
  const bool k_act = Traits(wt).block_elems == kQK_K;
  const TensorType at = k_act ? TensorType::kQ8_K : TensorType::kQ8_0;
  p.act_stride = RowBytes(at, n);
  p.act.resize(p.act_stride * n_act);
  std::uniform_int_distribution<int> q8(-127, 127);
  for (int r = 0; r < n_act; ++r) {
    uint8_t* row = p.act.data() + r * p.act_stride;
    for (int64_t ib = 0; ib < n / Traits(at).block_elems; ++ib) {
      if (k_act) {
        auto* y = reinterpret_cast<BlockQ8_K*>(row) + ib;
        y->d = scale(rng);
        for (int8_t& q : y->qs) q = static_cast<int8_t>(saturate ? (r % 2 ? -127 : 127) : q8(rng));
        for (int g = 0; g < 16; ++g) {
          int s = 0;
          for (int j = 0; j < 16; ++j) s += y->qs[16 * g + j];
          y->bsums[g] = static_cast<int16_t>(s);
        }
      } else {
        auto* y = reinterpret_cast<BlockQ8_0*>(row) + ib;
        y->d = Fp32ToFp16(scale(rng));
        for (int8_t& q : y->qs) q = static_cast<int8_t>(saturate ? (r % 2 ? -127 : 127) : q8(rng));
      }
    }
  }
  return p;
}

class VecDotQuantTypes : public ::testing::TestWithParam<TensorType> {};

TEST_P(VecDotQuantTypes, ExtremeQuantsMatchReference) {
  const TensorType wt = GetParam();
  for (bool saturate : {false, true}) {
    for (int n_act : {1, 3, 5, 8}) {
      const Problem p = MakeRawProblem(wt, 1024, n_act, 100 + n_act, saturate);
      CheckVariants(
          wt, p, std::string(saturate ? "saturated" : "raw") + " n_act=" + std::to_string(n_act));
    }
  }
}

// ---- activation conversion and table shape ----

TEST_P(VecDotTypes, ActivationConversionIsGgmls) {
  const TensorType wt = GetParam();
  const TensorType expected_act = [&] {
    switch (wt) {
      case TensorType::kQ4_0:
      case TensorType::kQ8_0:
        return TensorType::kQ8_0;
      case TensorType::kQ4_K:
      case TensorType::kQ5_K:
      case TensorType::kQ6_K:
        return TensorType::kQ8_K;
      default:
        return wt;
    }
  }();
  std::mt19937 rng(5);
  const std::vector<float> x = RandomFloats(512, rng);
  std::vector<uint8_t> want(RowBytes(expected_act, 512));
  QuantizeActivationRow(expected_act, x.data(), want.data(), 512);
  for (const Variant& v : VariantsFor(wt)) {
    EXPECT_EQ(v.kernel->act_type, expected_act) << v.name;
    std::vector<uint8_t> got(want.size());
    v.kernel->quantize_act(x.data(), got.data(), 512);
    EXPECT_EQ(got, want) << v.name;
  }
}

TEST_P(VecDotTypes, DefaultKernelIsDetectedLevel) {
  const TensorType wt = GetParam();
  EXPECT_TRUE(VecDotSupports(wt));
  EXPECT_EQ(&GetVecDotKernel(wt), &GetVecDotKernel(wt, DetectSimdLevel()));
  EXPECT_EQ(&GetVecDotKernel(wt, SimdLevel::kScalar), internal::ScalarKernel(wt));
}

INSTANTIATE_TEST_SUITE_P(QuantisedWeightTypes, VecDotQuantTypes,
                         ::testing::Values(TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K,
                                           TensorType::kQ5_K, TensorType::kQ6_K),
                         [](const auto& param_info) {
                           return std::string(Traits(param_info.param).name);
                         });
INSTANTIATE_TEST_SUITE_P(AllWeightTypes, VecDotTypes, ::testing::ValuesIn(kWeightTypes),
                         [](const auto& param_info) {
                           return std::string(Traits(param_info.param).name);
                         });

TEST(VecDot, UnsupportedTypes) {
  EXPECT_FALSE(VecDotSupports(TensorType::kQ8_K));  // activation-only format
  EXPECT_FALSE(VecDotSupports(TensorType::kQ5_0));
  EXPECT_FALSE(VecDotSupports(TensorType::kQ2_K));
}

TEST(VecDot, SimdLevelNamesAndDetection) {
  EXPECT_STREQ(SimdLevelName(SimdLevel::kScalar), "scalar");
  EXPECT_STREQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
  EXPECT_STREQ(SimdLevelName(SimdLevel::kAvx512), "avx512");
#if defined(__x86_64__)
  if (DetectSimdLevel() >= SimdLevel::kAvx2) {
    EXPECT_TRUE(__builtin_cpu_supports("avx2"));
  }
  if (DetectSimdLevel() >= SimdLevel::kAvx512) {
    EXPECT_TRUE(__builtin_cpu_supports("avx512bw"));
  }
#endif
  std::printf("DetectSimdLevel: %s\n", SimdLevelName(DetectSimdLevel()));
}

// PARAPET_SIMD caps the level. Run in a re-executed child, since the level is cached.
TEST(VecDotDeathTest, EnvironmentCapsLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("PARAPET_SIMD", "scalar", 1);
        std::exit(DetectSimdLevel() == SimdLevel::kScalar ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("PARAPET_SIMD", "avx2", 1);
        std::exit(DetectSimdLevel() <= SimdLevel::kAvx2 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace parapet::engine::cpu
