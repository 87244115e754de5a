// Portable scalar vec-dot kernels: the fallback on CPUs without AVX2 and the oracle the SIMD
// kernels are tested against. Integer sums per block, as ggml's *_generic kernels; float rows
// accumulate in double. Thread-safe (pure functions).
#include <cstring>
#include <type_traits>

#include "engine/cpu/internal/vec_dot_tables.h"
#include "engine/quants.h"

namespace parapet::engine::cpu::internal {
namespace {

// ---- float types ----

float DotF32(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = reinterpret_cast<const float*>(act);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

template <float (*kToFloat)(uint16_t)>
float DotHalf(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = reinterpret_cast<const uint16_t*>(act);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(kToFloat(x[i]) * kToFloat(y[i]));
  return static_cast<float>(sum);
}

// ---- 32-element blocks (activations Q8_0) ----

float DotQ4_0(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      sumi += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
      sumi += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + kQK8_0 / 2];
    }
    sum += static_cast<float>(sumi) * (Fp16ToFp32(x[ib].d) * Fp16ToFp32(y[ib].d));
  }
  return sum;
}

float DotQ8_0(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
    sum += static_cast<float>(sumi) * (Fp16ToFp32(x[ib].d) * Fp16ToFp32(y[ib].d));
  }
  return sum;
}

// ---- K-quants (activations Q8_K) ----

// Q4_K and Q5_K: sum_j sc_j * (q . y)_j scaled by d, minus dmin * sum_j m_j * (sum of y)_j, where
// the activation sums come from the Q8_K block's bsums (two per 32-element sub-block).
template <typename Block>
float DotK4Or5(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const Block& b = x[ib];
    const BlockQ8_K& a = y[ib];
    int sumi = 0;
    int sum_mins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(j, b.scales, &sc, &m);
      const uint8_t* q = b.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      int dot = 0;
      for (int l = 0; l < 32; ++l) {
        int v = (q[l] >> shift) & 0xF;
        if constexpr (std::is_same_v<Block, BlockQ5_K>) v |= ((b.qh[l] >> j) & 1) << 4;
        dot += v * a.qs[32 * j + l];
      }
      sumi += sc * dot;
      sum_mins += m * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
    }
    sum += Fp16ToFp32(b.d) * a.d * static_cast<float>(sumi);
    sum -= Fp16ToFp32(b.dmin) * a.d * static_cast<float>(sum_mins);
  }
  return sum;
}

float DotQ4_K(int64_t n, const void* w, const uint8_t* act) {
  return DotK4Or5<BlockQ4_K>(n, w, act);
}
float DotQ5_K(int64_t n, const void* w, const uint8_t* act) {
  return DotK4Or5<BlockQ5_K>(n, w, act);
}

float DotQ6_K(int64_t n, const void* w, const uint8_t* act) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
    const BlockQ6_K& b = x[ib];
    const BlockQ8_K& a = y[ib];
    int group_dot[16] = {};
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 32; ++l) {
          const int low = (b.ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
          const int q = (low | (((b.qh[32 * h + l] >> (2 * k)) & 3) << 4)) - 32;
          const int e = 128 * h + 32 * k + l;
          group_dot[e / 16] += q * a.qs[e];
        }
      }
    }
    int sumi = 0;
    for (int g = 0; g < 16; ++g) sumi += b.scales[g] * group_dot[g];
    sum += Fp16ToFp32(b.d) * a.d * static_cast<float>(sumi);
  }
  return sum;
}

// ---- tables ----

template <float (*kRowDot)(int64_t, const void*, const uint8_t*)>
void DotEachRow(int64_t n, const void* w_row, const void* act, size_t act_stride, int n_act,
                float* out) {
  const auto* a = static_cast<const uint8_t*>(act);
  for (int r = 0; r < n_act; ++r) out[r] = kRowDot(n, w_row, a + r * act_stride);
}

constexpr VecDotKernel kF32{TensorType::kF32, QuantizeActF32, DotEachRow<DotF32>};
constexpr VecDotKernel kF16{TensorType::kF16, QuantizeActF16, DotEachRow<DotHalf<Fp16ToFp32>>};
constexpr VecDotKernel kBF16{TensorType::kBF16, QuantizeActBf16, DotEachRow<DotHalf<Bf16ToFp32>>};
constexpr VecDotKernel kQ4_0{TensorType::kQ8_0, QuantizeActQ8_0, DotEachRow<DotQ4_0>};
constexpr VecDotKernel kQ8_0{TensorType::kQ8_0, QuantizeActQ8_0, DotEachRow<DotQ8_0>};
constexpr VecDotKernel kQ4_K{TensorType::kQ8_K, QuantizeActQ8_K, DotEachRow<DotQ4_K>};
constexpr VecDotKernel kQ5_K{TensorType::kQ8_K, QuantizeActQ8_K, DotEachRow<DotQ5_K>};
constexpr VecDotKernel kQ6_K{TensorType::kQ8_K, QuantizeActQ8_K, DotEachRow<DotQ6_K>};

}  // namespace

const VecDotKernel* ScalarKernel(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kF32:
      return &kF32;
    case TensorType::kF16:
      return &kF16;
    case TensorType::kBF16:
      return &kBF16;
    case TensorType::kQ4_0:
      return &kQ4_0;
    case TensorType::kQ8_0:
      return &kQ8_0;
    case TensorType::kQ4_K:
      return &kQ4_K;
    case TensorType::kQ5_K:
      return &kQ5_K;
    case TensorType::kQ6_K:
      return &kQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace parapet::engine::cpu::internal
