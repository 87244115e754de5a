// The 256-bit Q4_0 / Q8_0 x Q8_0 vec-dot kernel, shared by the AVX2 and the AVX-512 builds
// (included by vec_dot_avx2.cc and vec_dot_q_avx512_impl.h; under VNNI its integer dots use
// vpdpbusd). Internal linkage on purpose, see avx2_util.h. Thread-safe (pure functions).
//
// Per block and activation row the dot of the 32 quants is exact in int32 (|w| times y with
// w's sign moved onto y, so maddubs sees unsigned x signed bytes), then acc += d_w * d_y * sum.
// Blocks go in groups of 8 whose combined scales d_w * d_y are built as one vector per row and
// picked per block with a lane permute: the fp16 conversions are paid once per 8 blocks.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/cpu/internal/avx2_util.h"
#include "engine/quants.h"

namespace parapet::engine::cpu::internal {
namespace {  // NOLINT(build/namespaces): per-ISA copies, see avx2_util.h

// The 8 fp16 values at base + i * stride (the scales of 8 consecutive blocks) as floats. They are
// packed in general-purpose registers, which these kernels leave idle; the empty asm keeps the
// compiler from turning that into a chain of vector shuffles on the busy vector ports.
inline __m256 GatherHalvesAsFloat8(const void* base, size_t stride) {
  const auto* p = static_cast<const uint8_t*>(base);
  uint64_t packed[2];
  for (int k = 0; k < 2; ++k) {
    uint64_t v = 0;
    for (int i = 0; i < 4; ++i) {
      uint16_t h;
      std::memcpy(&h, p + (4 * k + i) * stride, sizeof h);
      v |= static_cast<uint64_t>(h) << (16 * i);
      asm("" : "+r"(v));
    }
    packed[k] = v;
  }
  return _mm256_cvtph_ps(
      _mm_set_epi64x(static_cast<int64_t>(packed[1]), static_cast<int64_t>(packed[0])));
}

// 32 signed weights of a block: Q4_0 nibbles minus 8, or Q8_0 bytes as they are.
inline __m256i UnpackQ0(const BlockQ4_0& b) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  const __m256i nibbles =
      _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}
inline __m256i UnpackQ0(const BlockQ8_0& b) { return LoadU256(b.qs); }

template <typename Block>
struct Q0Kernel {
  // Blocks ib .. ib+7 into the accumulators acc[b % 4][r] (four chains, so that one row is not
  // bound by FMA latency).
  template <int R>
  static void AddGroup(const Block* w, const uint8_t* act, size_t stride, int64_t ib,
                       __m256 (*acc)[R]) {
    const __m256 dw = GatherHalvesAsFloat8(&w[ib].d, sizeof(Block));
    __m256 scale[R];
    for (int r = 0; r < R; ++r) {
      const BlockQ8_0* y = reinterpret_cast<const BlockQ8_0*>(act + r * stride) + ib;
      scale[r] = _mm256_mul_ps(dw, GatherHalvesAsFloat8(&y->d, sizeof(BlockQ8_0)));
    }
    for (int b = 0; b < 8; ++b) {
      const __m256i q = UnpackQ0(w[ib + b]);
      const __m256i abs_q = _mm256_sign_epi8(q, q);
      const __m256i lane = _mm256_set1_epi32(b);
      for (int r = 0; r < R; ++r) {
        const BlockQ8_0& y = reinterpret_cast<const BlockQ8_0*>(act + r * stride)[ib + b];
        const __m256i sum = DotU8S8(abs_q, _mm256_sign_epi8(LoadU256(y.qs), q));
        const __m256 d = _mm256_permutevar8x32_ps(scale[r], lane);
        acc[b % 4][r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[b % 4][r]);
      }
    }
  }

  // One block (the tail of a row that is not a multiple of 8 blocks).
  template <int R>
  static void AddBlock(const Block& b, const uint8_t* act, size_t stride, int64_t ib, __m256* acc) {
    const __m256i q = UnpackQ0(b);
    const __m256i abs_q = _mm256_sign_epi8(q, q);
    const float dw = HalfToFloat(b.d);
    for (int r = 0; r < R; ++r) {
      const BlockQ8_0& y = reinterpret_cast<const BlockQ8_0*>(act + r * stride)[ib];
      const __m256i sum = DotU8S8(abs_q, _mm256_sign_epi8(LoadU256(y.qs), q));
      acc[r] =
          _mm256_fmadd_ps(_mm256_set1_ps(dw * HalfToFloat(y.d)), _mm256_cvtepi32_ps(sum), acc[r]);
    }
  }

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    const auto* w = static_cast<const Block*>(w_row);
    const int64_t nb = n / kQK8_0;
    __m256 acc[4][R];
    for (auto& chain : acc) {
      for (int r = 0; r < R; ++r) chain[r] = _mm256_setzero_ps();
    }
    int64_t ib = 0;
    for (; ib + 8 <= nb; ib += 8) AddGroup<R>(w, act, stride, ib, acc);
    for (; ib < nb; ++ib) AddBlock<R>(w[ib], act, stride, ib, acc[ib % 4]);
    for (int r = 0; r < R; ++r) {
      const __m256 sum =
          _mm256_add_ps(_mm256_add_ps(acc[0][r], acc[1][r]), _mm256_add_ps(acc[2][r], acc[3][r]));
      out[r] = HsumF32(sum);
    }
  }
};

}  // namespace
}  // namespace parapet::engine::cpu::internal
