// AVX2 + FMA + F16C vec-dot kernels for the float types and the 32-element block formats
// (Q4_0, Q8_0: internal/vec_dot_q0_impl.h); the K-quants are in vec_dot_kquants_avx2.cc. Built with
// -mavx2 -mfma -mf16c and only called after DetectSimdLevel() found those. Thread-safe (pure
// functions).
//
// Each kernel is a struct with `template <int R> Run(...)` computing R activation rows at once:
// a weight block is loaded and unpacked once, then dotted against R activation blocks.
#include "engine/cpu/internal/vec_dot_tables.h"

#if defined(PARAPET_X86_64)

#include <immintrin.h>

#include "engine/cpu/internal/avx2_util.h"
#include "engine/cpu/internal/vec_dot_q0_impl.h"
#include "engine/quants.h"

namespace parapet::engine::cpu::internal {
namespace {

// ---- float types ----

// Loaders: 8 floats from float, fp16 or bf16 elements, and the scalar conversion for tails.
struct F32Loader {
  using Elem = float;
  static __m256 Load(const float* p) { return _mm256_loadu_ps(p); }
  static float ToFloat(float x) { return x; }
};
struct F16Loader {
  using Elem = uint16_t;
  static __m256 Load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float ToFloat(uint16_t h) { return _cvtsh_ss(h); }
};
struct Bf16Loader {
  using Elem = uint16_t;
  static __m256 Load(const uint16_t* p) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float ToFloat(uint16_t h) { return Bf16ToFp32(h); }
};

// Dot of rows of `Elem` (float, fp16 or bf16), 8 lanes x kU independent accumulators per row.
template <typename Loader>
struct FloatKernel {
  using Elem = typename Loader::Elem;

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    constexpr int kU = R <= 2 ? 4 : 2;
    const auto* w = static_cast<const Elem*>(w_row);
    const Elem* a[R];
    __m256 acc[R][kU];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const Elem*>(act + r * stride);
      for (int u = 0; u < kU; ++u) acc[r][u] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 * kU <= n; i += 8 * kU) {
      __m256 wv[kU];
      for (int u = 0; u < kU; ++u) wv[u] = Loader::Load(w + i + 8 * u);
      for (int r = 0; r < R; ++r) {
        for (int u = 0; u < kU; ++u) {
          acc[r][u] = _mm256_fmadd_ps(wv[u], Loader::Load(a[r] + i + 8 * u), acc[r][u]);
        }
      }
    }
    for (; i + 8 <= n; i += 8) {
      const __m256 wv = Loader::Load(w + i);
      for (int r = 0; r < R; ++r)
        acc[r][0] = _mm256_fmadd_ps(wv, Loader::Load(a[r] + i), acc[r][0]);
    }
    for (int r = 0; r < R; ++r) {
      for (int u = 1; u < kU; ++u) acc[r][0] = _mm256_add_ps(acc[r][0], acc[r][u]);
      float sum = HsumF32(acc[r][0]);
      for (int64_t j = i; j < n; ++j) sum += Loader::ToFloat(w[j]) * Loader::ToFloat(a[r][j]);
      out[r] = sum;
    }
  }
};

using F32Kernel = FloatKernel<F32Loader>;
using F16Kernel = FloatKernel<F16Loader>;
using Bf16Kernel = FloatKernel<Bf16Loader>;

// ---- tables ----

constexpr int kMaxRows = 4;

template <typename Kernel>
constexpr auto kDot = DotInGroups<Kernel, kMaxRows>;

constexpr VecDotKernel kF32{TensorType::kF32, QuantizeActF32, kDot<F32Kernel>};
constexpr VecDotKernel kF16{TensorType::kF16, QuantizeActF16, kDot<F16Kernel>};
constexpr VecDotKernel kBF16{TensorType::kBF16, QuantizeActBf16, kDot<Bf16Kernel>};
// 16 ymm registers: up to 4 weight rows x 2 activation rows per multi-row call.
template <typename Kernel>
constexpr auto kDotRows = DotRowsInGroups<Kernel, 2>;

constexpr VecDotKernel kQ4_0{TensorType::kQ8_0, QuantizeActQ8_0, kDot<Q0Kernel<BlockQ4_0>>,
                             kDotRows<Q0Kernel<BlockQ4_0>>};
constexpr VecDotKernel kQ8_0{TensorType::kQ8_0, QuantizeActQ8_0, kDot<Q0Kernel<BlockQ8_0>>,
                             kDotRows<Q0Kernel<BlockQ8_0>>};

}  // namespace

const VecDotKernel* Avx2Kernel(TensorType weight_type) {
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
    default:
      return Avx2KQuantKernel(weight_type);
  }
}

}  // namespace parapet::engine::cpu::internal

#else  // !PARAPET_X86_64

namespace parapet::engine::cpu::internal {
const VecDotKernel* Avx2Kernel(TensorType) { return nullptr; }
}  // namespace parapet::engine::cpu::internal

#endif
