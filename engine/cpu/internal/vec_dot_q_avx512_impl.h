// AVX-512 vec-dot kernels for the quantised weight types (Q4_0, Q8_0 x Q8_0; Q4_K, Q5_K, Q6_K x
// Q8_K). Not a normal header: it is included by exactly two files, vec_dot_q_avx512.cc (AVX-512
// F/BW/VL/DQ) and vec_dot_q_avx512vnni.cc (the same plus VNNI), after defining
// PARAPET_AVX512_Q_TABLE to the name of the table function to emit. Where VNNI is on, integer
// dot products use vpdpbusd / vpdpwssd instead of maddubs + madd + add.
//
// The K-quant arithmetic is that of the AVX2 kernels (see vec_dot_kquants_avx2.cc) on 64
// elements per instruction. Q4_0 / Q8_0 use the 256-bit kernel of vec_dot_q0_impl.h (with
// vpdpbusd under VNNI), which measured faster than a 512-bit one on Zen 4: their 32-element
// blocks each need their own scale, so wider registers mostly add shuffles.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "engine/cpu/internal/avx2_util.h"
#include "engine/cpu/internal/vec_dot_q0_impl.h"
#include "engine/cpu/internal/vec_dot_tables.h"
#include "engine/quants.h"

#ifndef PARAPET_AVX512_Q_TABLE
#error "define PARAPET_AVX512_Q_TABLE before including vec_dot_q_avx512_impl.h"
#endif

namespace parapet::engine::cpu::internal {
namespace {  // NOLINT(build/namespaces): per-ISA copies, see avx2_util.h

// ---- helpers ----

inline __m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
// acc + sums of 2 adjacent products of int16 `a` and `b`, as 16 int32.
inline __m512i MaddAcc512(__m512i acc, __m512i a, __m512i b) {
#if defined(__AVX512VNNI__)
  return _mm512_dpwssd_epi32(acc, a, b);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

inline const BlockQ8_K& ActBlockK(const uint8_t* act, size_t stride, int r, int64_t ib) {
  return reinterpret_cast<const BlockQ8_K*>(act + r * stride)[ib];
}

// ---- Q4_K / Q5_K ----

inline void UnpackScalesMins512(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kTop2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t v[4] = {u[0] & kLow6, (u[2] & kLow4) | (((u[0] >> 6) & kTop2) << 4), u[1] & kLow6,
                         ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kTop2) << 4)};
  std::memcpy(out, v, 16);
}

// vpermw index vectors: lane i of 64-element chunk c takes scale word (32/L)*c + i/L, where L
// int16 lanes (2L elements) share a scale: L = 16 for Q4_K/Q5_K, 8 for Q6_K.
template <int L>
struct ScaleIndex {
  alignas(64) int16_t idx[4][32];
  constexpr ScaleIndex() : idx{} {
    for (int c = 0; c < 4; ++c) {
      for (int i = 0; i < 32; ++i) idx[c][i] = static_cast<int16_t>((32 / L) * c + i / L);
    }
  }
  __m512i operator[](int c) const { return _mm512_load_si512(idx[c]); }
};
constexpr ScaleIndex<16> kK4ScaleIndex;
constexpr ScaleIndex<8> kK6ScaleIndex;

template <typename Block>
struct K4Or5Kernel512 {
  static constexpr bool kHasHighBit = std::is_same_v<Block, BlockQ5_K>;

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    const auto* w = static_cast<const Block*>(w_row);
    const __m512i nib = _mm512_set1_epi8(0x0F);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
      const Block& b = w[ib];
      alignas(16) uint8_t sm[16];
      UnpackScalesMins512(b.scales, sm);
      const __m128i sm128 = _mm_load_si128(reinterpret_cast<const __m128i*>(sm));
      const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(
          sm128, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
      const __m512i scales16 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(sm128));
      const float dmin = HalfToFloat(b.dmin);
      __m512i sumi[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ8_K& y = ActBlockK(act, stride, r, ib);
        const __m256i mins_dot = _mm256_madd_epi16(LoadU256(y.bsums), mins16);
        acc[r] = _mm512_fnmadd_ps(_mm512_set1_ps(dmin * y.d),
                                  _mm512_cvtepi32_ps(_mm512_zextsi256_si512(mins_dot)), acc[r]);
        sumi[r] = _mm512_setzero_si512();
      }
      // Lower 256 bits: sub-block 2c (bit 2c of qh); upper: 2c+1 (bit 2c of qh >> 1).
      __m512i high_bits;
      if constexpr (kHasHighBit) {
        const __m256i qh = LoadU256(b.qh);
        high_bits = Join(qh, _mm256_srli_epi16(qh, 1));
      }
      for (int c = 0; c < 4; ++c) {
        const __m256i bits = LoadU256(b.qs + 32 * c);
        __m512i q = _mm512_and_si512(Join(bits, _mm256_srli_epi16(bits, 4)), nib);
        if constexpr (kHasHighBit) {
          const __m512i bit4 = _mm512_set1_epi8(0x10);
          q = _mm512_or_si512(q, _mm512_and_si512(_mm512_slli_epi16(high_bits, 4), bit4));
          high_bits = _mm512_srli_epi16(high_bits, 2);
        }
        const __m512i scale = _mm512_permutexvar_epi16(kK4ScaleIndex[c], scales16);
        for (int r = 0; r < R; ++r) {
          const __m512i y = _mm512_loadu_si512(ActBlockK(act, stride, r, ib).qs + 64 * c);
          sumi[r] = MaddAcc512(sumi[r], _mm512_maddubs_epi16(q, y), scale);
        }
      }
      const float dw = HalfToFloat(b.d);
      for (int r = 0; r < R; ++r) {
        const __m512 d = _mm512_set1_ps(dw * ActBlockK(act, stride, r, ib).d);
        acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[r]), acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
  }
};

// ---- Q6_K ----

struct Q6KKernel512 {
  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    const auto* w = static_cast<const BlockQ6_K*>(w_row);
    const __m512i nib = _mm512_set1_epi8(0x0F);
    const __m512i top = _mm512_set1_epi8(0x30);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
      const BlockQ6_K& b = w[ib];
      const __m256i scales16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
      const __m512i scales512 = _mm512_zextsi256_si512(scales16);
      __m512i sumi[R];
      for (int r = 0; r < R; ++r) {  // start from -32 * sum_g scale_g * bsum_g
        const __m256i offset =
            _mm256_madd_epi16(LoadU256(ActBlockK(act, stride, r, ib).bsums), scales16);
        sumi[r] = _mm512_zextsi256_si512(
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)));
      }
      for (int h = 0; h < 2; ++h) {
        // ql01 holds the low nibbles of elements 0..63 of the half and the high nibbles of
        // 64..127; qh2 = [qh | qh >> 2] lines their 2-bit tops up at bits 0-1 and 4-5.
        const __m512i ql01 = _mm512_loadu_si512(b.ql + 64 * h);
        const __m256i qh = LoadU256(b.qh + 32 * h);
        const __m512i qh2 = Join(qh, _mm256_srli_epi16(qh, 2));
        const __m512i q[2] = {
            _mm512_or_si512(_mm512_and_si512(ql01, nib),
                            _mm512_and_si512(_mm512_slli_epi16(qh2, 4), top)),
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql01, 4), nib),
                            _mm512_and_si512(qh2, top)),
        };
        for (int k = 0; k < 2; ++k) {
          const __m512i scale = _mm512_permutexvar_epi16(kK6ScaleIndex[2 * h + k], scales512);
          for (int r = 0; r < R; ++r) {
            const int8_t* y = ActBlockK(act, stride, r, ib).qs + 128 * h + 64 * k;
            sumi[r] = MaddAcc512(sumi[r], _mm512_maddubs_epi16(q[k], _mm512_loadu_si512(y)), scale);
          }
        }
      }
      const float dw = HalfToFloat(b.d);
      for (int r = 0; r < R; ++r) {
        const __m512 d = _mm512_set1_ps(dw * ActBlockK(act, stride, r, ib).d);
        acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[r]), acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
  }
};

// ---- table ----

constexpr int kMaxRows = 4;

template <typename Kernel>
constexpr auto kDot = DotInGroups<Kernel, kMaxRows>;

// 32 vector registers: up to 4 weight rows x 4 activation rows per multi-row call.
template <typename Kernel>
constexpr auto kDotRows = DotRowsInGroups<Kernel, 4>;

constexpr VecDotKernel kQ4_0{TensorType::kQ8_0, QuantizeActQ8_0, kDot<Q0Kernel<BlockQ4_0>>,
                             kDotRows<Q0Kernel<BlockQ4_0>>};
constexpr VecDotKernel kQ8_0{TensorType::kQ8_0, QuantizeActQ8_0, kDot<Q0Kernel<BlockQ8_0>>,
                             kDotRows<Q0Kernel<BlockQ8_0>>};
constexpr VecDotKernel kQ4_K{TensorType::kQ8_K, QuantizeActQ8_K, kDot<K4Or5Kernel512<BlockQ4_K>>};
constexpr VecDotKernel kQ5_K{TensorType::kQ8_K, QuantizeActQ8_K, kDot<K4Or5Kernel512<BlockQ5_K>>};
constexpr VecDotKernel kQ6_K{TensorType::kQ8_K, QuantizeActQ8_K, kDot<Q6KKernel512>};

}  // namespace

const VecDotKernel* PARAPET_AVX512_Q_TABLE(TensorType weight_type) {
  switch (weight_type) {
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
