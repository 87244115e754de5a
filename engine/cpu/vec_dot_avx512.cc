// AVX-512 (F/BW/VL/DQ) vec-dot kernels for F32 and BF16, and the kAvx512 table, which takes the
// quantised types from vec_dot_q_avx512.cc and F16 from the AVX2 table. Built with
// -mavx512f/bw/vl/dq -mavx2 -mfma -mf16c; only called after DetectSimdLevel() found those.
// Thread-safe (pure functions).

// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized on their own _mm512_undefined_*()
// placeholders; silenced for this file, before any header pulls them in.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/cpu/internal/vec_dot_tables.h"

#if defined(PARAPET_X86_64)

#include <immintrin.h>

#include "engine/cpu/internal/avx2_util.h"
#include "engine/quants.h"

namespace parapet::engine::cpu::internal {
namespace {

// ---- float types ----

// Loaders: 16 floats from float or bf16 elements, and the scalar conversion for tails.
struct F32Loader {
  using Elem = float;
  static __m512 Load(const float* p) { return _mm512_loadu_ps(p); }
  static float ToFloat(float x) { return x; }
};
struct Bf16Loader {
  using Elem = uint16_t;
  static __m512 Load(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(LoadU256(p)), 16));
  }
  static float ToFloat(uint16_t h) { return Bf16ToFp32(h); }
};

// Dot of rows of `Elem` (float or bf16), 16 lanes x kU independent accumulators per row.
template <typename Loader>
struct FloatKernel512 {
  using Elem = typename Loader::Elem;

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    constexpr int kU = R <= 2 ? 4 : 2;
    const auto* w = static_cast<const Elem*>(w_row);
    const Elem* a[R];
    __m512 acc[R][kU];
    for (int r = 0; r < R; ++r) {
      a[r] = reinterpret_cast<const Elem*>(act + r * stride);
      for (int u = 0; u < kU; ++u) acc[r][u] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 * kU <= n; i += 16 * kU) {
      __m512 wv[kU];
      for (int u = 0; u < kU; ++u) wv[u] = Loader::Load(w + i + 16 * u);
      for (int r = 0; r < R; ++r) {
        for (int u = 0; u < kU; ++u) {
          acc[r][u] = _mm512_fmadd_ps(wv[u], Loader::Load(a[r] + i + 16 * u), acc[r][u]);
        }
      }
    }
    for (; i + 16 <= n; i += 16) {
      const __m512 wv = Loader::Load(w + i);
      for (int r = 0; r < R; ++r)
        acc[r][0] = _mm512_fmadd_ps(wv, Loader::Load(a[r] + i), acc[r][0]);
    }
    for (int r = 0; r < R; ++r) {
      for (int u = 1; u < kU; ++u) acc[r][0] = _mm512_add_ps(acc[r][0], acc[r][u]);
      float sum = _mm512_reduce_add_ps(acc[r][0]);
      for (int64_t j = i; j < n; ++j) sum += Loader::ToFloat(w[j]) * Loader::ToFloat(a[r][j]);
      out[r] = sum;
    }
  }
};

using F32Kernel = FloatKernel512<F32Loader>;
using Bf16Kernel = FloatKernel512<Bf16Loader>;

// ---- table ----

constexpr int kMaxRows = 4;

template <typename Kernel>
constexpr auto kDot = DotInGroups<Kernel, kMaxRows>;

constexpr VecDotKernel kF32{TensorType::kF32, QuantizeActF32, kDot<F32Kernel>};
constexpr VecDotKernel kBF16{TensorType::kBF16, QuantizeActBf16, kDot<Bf16Kernel>};

}  // namespace

const VecDotKernel* Avx512Kernel(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kF32:
      return &kF32;
    case TensorType::kF16:
      // The AVX2 kernel: 512-bit fp16 conversion measured ~30% slower on Zen 4 (two halves).
      return nullptr;
    case TensorType::kBF16:
      return &kBF16;
    default:
      return Avx512QuantKernel(weight_type);
  }
}

}  // namespace parapet::engine::cpu::internal

#else  // !PARAPET_X86_64

namespace parapet::engine::cpu::internal {
const VecDotKernel* Avx512Kernel(TensorType) { return nullptr; }
}  // namespace parapet::engine::cpu::internal

#endif
