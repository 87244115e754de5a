// Tests for engine/quants.h: hand-built blocks with known values (a layout mistake fails), round
// trips within each format's error bound, the exact activation quantisers on edge cases, and
// byte-for-byte agreement with llama-quantize on the golden fixture models (skipped without them).
#include "engine/quants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

std::vector<float> Dequantize(TensorType type, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  DequantizeRow(type, src, out.data(), n);
  return out;
}

std::vector<float> RandomRow(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

// Packs 6-bit scales/mins into the 12-byte Q4_K/Q5_K layout, written from the format description
// (not from the implementation).
void PackScales(const int sc[8], const int m[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

// ---- known values ----

TEST(Quants, FloatTypesKnownValues) {
  const float f32[3] = {1.5f, -2.0f, 0.0f};
  EXPECT_EQ(Dequantize(TensorType::kF32, f32, 3), std::vector<float>(f32, f32 + 3));
  const uint16_t f16[3] = {0x3C00, 0xC000, 0x3555};  // 1, -2, 0.333251953125
  EXPECT_EQ(Dequantize(TensorType::kF16, f16, 3),
            (std::vector<float>{1.0f, -2.0f, 0.333251953125f}));
  const uint16_t bf16[2] = {0x3F80, 0xC040};  // 1, -3
  EXPECT_EQ(Dequantize(TensorType::kBF16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
  uint16_t back[3];
  QuantizeRow(TensorType::kF16, Dequantize(TensorType::kF16, f16, 3).data(), back, 3);
  EXPECT_EQ(std::memcmp(back, f16, sizeof back), 0);
}

TEST(Quants, Q4_0KnownValues) {
  BlockQ4_0 b;
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = Dequantize(TensorType::kQ4_0, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(7 - j)) << j;
  }
}

TEST(Quants, Q8_0KnownValues) {
  BlockQ8_0 b;
  b.d = 0x3400;  // 0.25
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const std::vector<float> y = Dequantize(TensorType::kQ8_0, &b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * static_cast<float>(j * 8 - 128)) << j;
}

TEST(Quants, UnpackScaleMinK4) {
  const int sc[8] = {1, 2, 3, 63, 33, 45, 17, 16};
  const int m[8] = {5, 0, 7, 8, 40, 63, 20, 1};
  uint8_t packed[12];
  PackScales(sc, m, packed);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, mm;
    UnpackScaleMinK4(j, packed, &s, &mm);
    EXPECT_EQ(s, sc[j]) << j;
    EXPECT_EQ(mm, m[j]) << j;
  }
}

// Element e of a Q4_K/Q5_K block: sub-block j = e / 32 uses byte 32 * (j / 2) + e % 32, low
// nibble for even j; Q5_K's fifth bit is bit j of qh[e % 32].
template <typename Block>
void CheckK4Or5KnownValues(TensorType type, bool five_bits) {
  const int sc[8] = {1, 2, 3, 63, 33, 45, 17, 16};
  const int m[8] = {5, 0, 7, 8, 40, 63, 20, 1};
  Block b;
  std::memset(&b, 0, sizeof b);
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  PackScales(sc, m, b.scales);
  auto quant = [&](int e) { return (e * 7 + e / 32) % (five_bits ? 32 : 16); };
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    const int q = quant(e);
    b.qs[32 * (j / 2) + e % 32] |= static_cast<uint8_t>((q & 15) << (4 * (j % 2)));
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
      b.qh[e % 32] |= static_cast<uint8_t>((q >> 4) << j);
    }
  }
  const std::vector<float> y = Dequantize(type, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], static_cast<float>(sc[j] * quant(e)) - 0.5f * static_cast<float>(m[j])) << e;
  }
}

TEST(Quants, Q4_KKnownValues) { CheckK4Or5KnownValues<BlockQ4_K>(TensorType::kQ4_K, false); }
TEST(Quants, Q5_KKnownValues) { CheckK4Or5KnownValues<BlockQ5_K>(TensorType::kQ5_K, true); }

// Element e = 128h + 32k + l: low 4 bits in ql[64h + l + 32(k%2)] (high nibble for k >= 2), top
// 2 bits at bits 2k of qh[32h + l], scale scales[e / 16], value d * scale * (q - 32).
TEST(Quants, Q6_KKnownValues) {
  BlockQ6_K b;
  std::memset(&b, 0, sizeof b);
  b.d = 0x3000;  // 0.125
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(g * 17 - 128);
  auto quant = [](int e) { return (e * 5 + e / 64) % 64; };
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32, q = quant(e);
    b.ql[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((q & 15) << (k >= 2 ? 4 : 0));
    b.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
  }
  const std::vector<float> y = Dequantize(TensorType::kQ6_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const float expected =
        0.125f * static_cast<float>(b.scales[e / 16]) * static_cast<float>(quant(e) - 32);
    EXPECT_EQ(y[e], expected) << e;
  }
}

TEST(Quants, Q8_KKnownValues) {
  BlockQ8_K b;
  std::memset(&b, 0, sizeof b);
  b.d = 0.5f;
  for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(j - 128);
  const std::vector<float> y = Dequantize(TensorType::kQ8_K, &b, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 128)) << j;
}

// ---- round trips ----

struct RoundTripCase {
  TensorType type;
  double max_rel_rms;  // RMS error / RMS of x on Gaussian data
};

class QuantsRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(QuantsRoundTrip, ErrorWithinBound) {
  const RoundTripCase c = GetParam();
  const int64_t n = 256 * 64;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<float> x = RandomRow(n, seed, seed == 3 ? 1e-3f : 1.0f);
    std::vector<uint8_t> q(RowBytes(c.type, n));
    QuantizeRow(c.type, x.data(), q.data(), n);
    const std::vector<float> y = Dequantize(c.type, q.data(), n);
    double err2 = 0, x2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      err2 += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
      x2 += x[i] * static_cast<double>(x[i]);
    }
    EXPECT_LT(std::sqrt(err2 / x2), c.max_rel_rms) << Traits(c.type).name << " seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantsRoundTrip,
                         ::testing::Values(RoundTripCase{TensorType::kF16, 3e-4},
                                           RoundTripCase{TensorType::kBF16, 2.5e-3},
                                           RoundTripCase{TensorType::kQ8_0, 0.007},
                                           RoundTripCase{TensorType::kQ8_K, 0.009},
                                           RoundTripCase{TensorType::kQ6_K, 0.027},
                                           RoundTripCase{TensorType::kQ5_K, 0.045},
                                           RoundTripCase{TensorType::kQ4_K, 0.085},
                                           RoundTripCase{TensorType::kQ4_0, 0.10}),
                         [](const auto& param_info) {
                           return std::string(Traits(param_info.param.type).name);
                         });

// Q4_0 maps the largest magnitude to -8, so values of the opposite sign reach +8 steps, where
// the top code 7 is a whole step short; everything else is within half a step.
TEST(Quants, Q4_0ErrorPerElementIsHalfAStep) {
  const std::vector<float> x = RandomRow(32 * 50, 7);
  std::vector<BlockQ4_0> q(50);
  QuantizeRow(TensorType::kQ4_0, x.data(), q.data(), 32 * 50);
  const std::vector<float> y = Dequantize(TensorType::kQ4_0, q.data(), 32 * 50);
  for (int i = 0; i < 32 * 50; ++i) {
    const float d = std::fabs(Fp16ToFp32(q[i / 32].d));
    const int code = (q[i / 32].qs[i % 16] >> (i % 32 < 16 ? 0 : 4)) & 15;
    const float steps = code == 15 ? 1.0f : 0.5f;
    // Plus the effect of rounding d to fp16 on values up to 8 steps out.
    EXPECT_LE(std::fabs(x[i] - y[i]), steps * d + 8 * d * 1e-3f) << i;
  }
}

TEST(Quants, AllZeroBlocksStayZero) {
  for (TensorType type : {TensorType::kQ4_0, TensorType::kQ8_0, TensorType::kQ4_K,
                          TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_K}) {
    const std::vector<float> x(512, 0.0f);
    std::vector<uint8_t> q(RowBytes(type, 512), 0xAB);
    QuantizeRow(type, x.data(), q.data(), 512);
    for (float v : Dequantize(type, q.data(), 512)) ASSERT_EQ(v, 0.0f) << Traits(type).name;
  }
}

// ---- exact quantisers on edge cases ----

TEST(Quants, Q8_0ReferenceRoundsHalfAwayActivationsToEven) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1 exactly, both ways of computing 1/d agree
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = 0.49f;
  BlockQ8_0 ref, act;
  QuantizeRow(TensorType::kQ8_0, x.data(), &ref, 32);
  QuantizeActivationRow(TensorType::kQ8_0, x.data(), &act, 32);
  EXPECT_EQ(ref.d, 0x3C00);
  EXPECT_EQ(act.d, 0x3C00);
  EXPECT_EQ(ref.qs[0], 127);
  EXPECT_EQ(ref.qs[1], 3);
  EXPECT_EQ(ref.qs[2], -3);
  EXPECT_EQ(ref.qs[3], 4);
  EXPECT_EQ(ref.qs[4], 0);
  EXPECT_EQ(act.qs[1], 2);
  EXPECT_EQ(act.qs[2], -2);
  EXPECT_EQ(act.qs[3], 4);
}

TEST(Quants, Q8_0ActivationsNegativeMaxAndZeros) {
  std::vector<float> x(64, 0.0f);  // block 0 all zero, block 1 led by a negative value
  x[32] = -254.0f;
  x[33] = 1.0f;
  x[34] = 3.0f;
  BlockQ8_0 q[2];
  QuantizeActivationRow(TensorType::kQ8_0, x.data(), q, 64);
  EXPECT_EQ(q[0].d, 0);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q[0].qs[j], 0);
  EXPECT_EQ(Fp16ToFp32(q[1].d), 2.0f);
  EXPECT_EQ(q[1].qs[0], -127);
  EXPECT_EQ(q[1].qs[1], 0);  // 0.5 ties to even
  EXPECT_EQ(q[1].qs[2], 2);  // 1.5 ties to even
}

TEST(Quants, Q8_KSignFollowsLargestMagnitude) {
  std::vector<float> x(512, 0.0f);
  x[0] = -127.0f;  // block 0: negative max, iscale = 1
  x[1] = 2.5f;     // ties to even
  x[2] = 3.5f;
  x[3] = -2.5f;
  x[256] = 127.0f;  // block 1: positive max, iscale = -1, so d < 0
  x[257] = 2.5f;
  BlockQ8_K q[2];
  QuantizeRow(TensorType::kQ8_K, x.data(), q, 512);
  EXPECT_EQ(q[0].d, 1.0f);
  EXPECT_EQ(q[0].qs[0], -127);
  EXPECT_EQ(q[0].qs[1], 2);
  EXPECT_EQ(q[0].qs[2], 4);
  EXPECT_EQ(q[0].qs[3], -2);
  EXPECT_EQ(q[0].bsums[0], -127 + 2 + 4 - 2);
  EXPECT_EQ(q[0].bsums[1], 0);
  EXPECT_EQ(q[1].d, -1.0f);
  EXPECT_EQ(q[1].qs[0], -127);
  EXPECT_EQ(q[1].qs[1], -2);
  EXPECT_EQ(q[1].bsums[0], -129);
}

TEST(Quants, Q8_KAllZeroAndOneLargeValue) {
  std::vector<float> x(256, 1e-3f);
  x[100] = 1e6f;
  BlockQ8_K q;
  QuantizeRow(TensorType::kQ8_K, x.data(), &q, 256);
  EXPECT_EQ(q.qs[100], -127);
  for (int j = 0; j < 256; ++j) {
    if (j != 100) {
      ASSERT_EQ(q.qs[j], 0) << j;
    }
  }
  EXPECT_EQ(q.bsums[6], -127);
  std::vector<float> zeros(256, 0.0f);
  QuantizeRow(TensorType::kQ8_K, zeros.data(), &q, 256);
  EXPECT_EQ(q.d, 0.0f);
  for (int g = 0; g < 16; ++g) EXPECT_EQ(q.bsums[g], 0);
}

TEST(Quants, Q4_0MatchesReferenceOnEdges) {
  std::vector<float> x(32, 0.0f);
  x[0] = 4.0f;    // largest magnitude, positive: d = -0.5, maps to q = 0
  x[1] = -4.0f;   // maps to 16, clamped to 15
  x[2] = 0.25f;   // x/d = -0.5: +8.5 -> 8.0 -> q = 8
  x[17] = -1.0f;  // x/d = 2 -> q = 10
  BlockQ4_0 q;
  QuantizeRow(TensorType::kQ4_0, x.data(), &q, 32);
  EXPECT_EQ(Fp16ToFp32(q.d), -0.5f);
  EXPECT_EQ(q.qs[0] & 15, 0);
  EXPECT_EQ(q.qs[1] & 15, 15);
  EXPECT_EQ(q.qs[2] & 15, 8);
  EXPECT_EQ(q.qs[1] >> 4, 10);
  EXPECT_EQ(q.qs[3] & 15, 8);  // zeros map to 8
}

// ---- agreement with llama-quantize ----

// Quantises each F32 tensor of the F32 fixture to the type the quantised fixture stores it in and
// compares bytes: llama-quantize without an importance matrix runs the ggml reference code.
void ExpectSameAsLlamaQuantize(const std::string& quantised_name) {
  const std::string f32_path = testing::EngineFixturePath("peaky-moe-F32.gguf");
  const std::string q_path = testing::EngineFixturePath(quantised_name);
  if (f32_path.empty() || q_path.empty()) {
    GTEST_SKIP() << "engine fixtures not prepared";
  }
  auto f32 = gguf::GgufFile::Open(f32_path);
  auto quantised = gguf::GgufFile::Open(q_path);
  ASSERT_TRUE(f32.ok()) << f32.status().ToString();
  ASSERT_TRUE(quantised.ok()) << quantised.status().ToString();
  std::map<std::string, int> compared;  // per type
  for (const gguf::TensorInfo& t : (*quantised)->tensors()) {
    const gguf::TensorInfo* src = (*f32)->FindTensor(t.name);
    if (src == nullptr || src->type != TensorType::kF32 || t.type == TensorType::kF32) continue;
    const std::string name(t.name);
    ASSERT_TRUE(QuantsSupport(t.type)) << name;
    const int64_t row_elems = t.ne[0];
    const size_t row_bytes = RowBytes(t.type, row_elems);
    std::vector<uint8_t> mine(row_bytes);
    int64_t mismatched_rows = 0;
    for (int64_t r = 0; r < t.rows(); ++r) {
      QuantizeRow(t.type, reinterpret_cast<const float*>(src->data) + r * row_elems, mine.data(),
                  row_elems);
      mismatched_rows += std::memcmp(mine.data(), t.data + r * row_bytes, row_bytes) != 0;
    }
    EXPECT_EQ(mismatched_rows, 0) << name << " (" << Traits(t.type).name << ") of " << t.rows();
    ++compared[Traits(t.type).name];
  }
  EXPECT_FALSE(compared.empty());
  for (const auto& [type, count] : compared)
    std::printf("  %s: %d tensors identical\n", type.c_str(), count);
}

TEST(Quants, SameBytesAsLlamaQuantizeQ8_0) { ExpectSameAsLlamaQuantize("peaky-moe-Q8_0.gguf"); }
TEST(Quants, SameBytesAsLlamaQuantizeQ4_0) { ExpectSameAsLlamaQuantize("peaky-moe-Q4_0.gguf"); }
TEST(Quants, SameBytesAsLlamaQuantizeQ6_K) { ExpectSameAsLlamaQuantize("peaky-moe-Q6_K.gguf"); }
TEST(Quants, SameBytesAsLlamaQuantizeQ4_K_M) { ExpectSameAsLlamaQuantize("peaky-moe-Q4_K_M.gguf"); }

}  // namespace
}  // namespace parapet::engine
