// The 256-bit Q4_0 / Q8_0 x Q8_0 vec-dot kernel, shared by the AVX2 and the AVX-512 builds
// (included by vec_dot_avx2.cc and vec_dot_q_avx512_impl.h; under VNNI its integer dots use
// vpdpbusd). Internal linkage on purpose, see avx2_util.h. Thread-safe (pure functions).
//
// Per block and activation row the dot of the 32 quants is exact in int32, then
// acc += d_w * d_y * sum. Q8_0 moves w's sign onto y (so maddubs / vpdpbusd see unsigned x signed
// bytes); Q4_0 dots its unsigned nibbles and starts from -8 * sum(y), computed once per
// activation block and shared by all weight rows of a call. One call takes up to W weight rows x
// R activation rows, so activation loads and scale conversions are shared. Blocks go in groups
// of 8 whose fp16 scales are converted together and whose products d_w * d_y are broadcast from a
// small table.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

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

template <typename Block>
struct Q0Kernel {
  static constexpr bool kIsQ4 = std::is_same_v<Block, BlockQ4_0>;

  // Per-activation-block state shared by every weight row of a call: the quants and, for Q4_0,
  // -8 * (sums of 4 adjacent quants), which turns the dot of the unsigned nibbles 0..15 into the
  // dot of the signed weights (nibble - 8) lane by lane, exactly.
  struct ActBlock {
    __m256i y;
    __m256i offset;
  };
  static ActBlock LoadAct(const BlockQ8_0& b) {
    ActBlock a{LoadU256(b.qs), _mm256_setzero_si256()};
    if constexpr (kIsQ4) {
      a.offset = DotU8S8(_mm256_set1_epi8(8), _mm256_sub_epi8(_mm256_setzero_si256(), a.y));
    }
    return a;
  }

  // Per-weight-block state: Q4_0 keeps its unsigned nibbles; Q8_0 its |w| (w's sign goes onto
  // the activation, so maddubs / vpdpbusd see unsigned x signed bytes).
  static __m256i UnpackW(const Block& b) {
    if constexpr (kIsQ4) {
      // The 16 bytes in both halves (a broadcast load, no shuffle), the upper half shifted to
      // its high nibbles.
      const __m256i raw =
          _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
      return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)),
                              _mm256_set1_epi8(0x0F));
    } else {
      return LoadU256(b.qs);
    }
  }
  static __m256i BlockDot(__m256i w, const ActBlock& a) {
    if constexpr (kIsQ4) {
      return DotU8S8Acc(a.offset, w, a.y);
    } else {
      return DotU8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a.y, w));
    }
  }

  // Independent accumulator chains per (weight row, activation row), so that small calls are not
  // bound by FMA latency.
  template <int W, int R>
  static constexpr int kChains = (W * R >= 4) ? 1 : 4 / (W * R);

  // Blocks ib .. ib + n_blocks - 1 (n_blocks <= 8) of W weight rows x R activation rows into
  // acc[b % kChains][i][r]. The combined scales d_w * d_y go through a small table and are
  // broadcast from memory (a load, not a shuffle on the busy vector ports).
  template <int W, int R>
  static void AddBlocks(const uint8_t* w, size_t w_stride, const uint8_t* act, size_t stride,
                        int64_t ib, int n_blocks, __m256 (*acc)[W][R]) {
    alignas(32) float scale[W][R][8];
    if (n_blocks == 8) {
      __m256 dy[R];
      for (int r = 0; r < R; ++r)
        dy[r] = GatherHalvesAsFloat8(&ActRow(act, stride, r)[ib].d, sizeof(BlockQ8_0));
      for (int i = 0; i < W; ++i) {
        const __m256 dw = GatherHalvesAsFloat8(&WRow(w, w_stride, i)[ib].d, sizeof(Block));
        for (int r = 0; r < R; ++r) _mm256_store_ps(scale[i][r], _mm256_mul_ps(dw, dy[r]));
      }
    } else {
      for (int b = 0; b < n_blocks; ++b) {
        for (int i = 0; i < W; ++i) {
          const float dw = HalfToFloat(WRow(w, w_stride, i)[ib + b].d);
          for (int r = 0; r < R; ++r)
            scale[i][r][b] = dw * HalfToFloat(ActRow(act, stride, r)[ib + b].d);
        }
      }
    }
    for (int b = 0; b < n_blocks; ++b) {
      ActBlock a[R];
      for (int r = 0; r < R; ++r) a[r] = LoadAct(ActRow(act, stride, r)[ib + b]);
      for (int i = 0; i < W; ++i) {
        const __m256i q = UnpackW(WRow(w, w_stride, i)[ib + b]);
        for (int r = 0; r < R; ++r) {
          const __m256 sum = _mm256_cvtepi32_ps(BlockDot(q, a[r]));
          __m256& a_ir = acc[b % kChains<W, R>][i][r];
          a_ir = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[i][r][b]), sum, a_ir);
        }
      }
    }
  }

  // out[r * out_stride + i] = dot(weight row i, activation row r), i < W, r < R.
  template <int W, int R>
  static void RunRows(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* act,
                      size_t stride, float* out, size_t out_stride) {
    const int64_t nb = n / kQK8_0;
    constexpr int kC = kChains<W, R>;
    __m256 acc[kC][W][R];
    for (int c = 0; c < kC; ++c) {
      for (int i = 0; i < W; ++i) {
        for (int r = 0; r < R; ++r) acc[c][i][r] = _mm256_setzero_ps();
      }
    }
    for (int64_t ib = 0; ib < nb; ib += 8) {
      AddBlocks<W, R>(w, w_stride, act, stride, ib, static_cast<int>(std::min<int64_t>(8, nb - ib)),
                      acc);
    }
    for (int i = 0; i < W; ++i) {
      for (int r = 0; r < R; ++r) {
        __m256 sum = acc[0][i][r];
        for (int c = 1; c < kC; ++c) sum = _mm256_add_ps(sum, acc[c][i][r]);
        out[r * out_stride + i] = HsumF32(sum);
      }
    }
  }

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    RunRows<1, R>(n, static_cast<const uint8_t*>(w_row), 0, act, stride, out, 1);
  }

 private:
  static const BlockQ8_0* ActRow(const uint8_t* act, size_t stride, int r) {
    return reinterpret_cast<const BlockQ8_0*>(act + r * stride);
  }
  static const Block* WRow(const uint8_t* w, size_t w_stride, int i) {
    return reinterpret_cast<const Block*>(w + i * w_stride);
  }
};

}  // namespace
}  // namespace parapet::engine::cpu::internal
