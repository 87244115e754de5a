// AVX2 vec-dot kernels for the K-quants (Q4_K, Q5_K, Q6_K weights x Q8_K activations). Built
// with -mavx2 -mfma -mf16c. Thread-safe (pure functions).
//
// Per 256-element block and activation row the integer part is exact: maddubs multiplies the
// unsigned weight quants (0..31 or 0..63) by the signed activation bytes into int16 pairs
// (|pair| <= 2*63*127, no saturation), madd applies the sub-block scale and sums into int32.
// Mins (Q4_K/Q5_K) and the -32 offset of Q6_K are applied through the activation block's bsums,
// so they cost one madd per block instead of work per element.
#include "engine/cpu/internal/vec_dot_tables.h"

#if defined(PARAPET_X86_64)

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "engine/cpu/internal/avx2_util.h"
#include "engine/quants.h"

namespace parapet::engine::cpu::internal {
namespace {

inline const BlockQ8_K& ActBlock(const uint8_t* act, size_t stride, int r, int64_t ib) {
  return reinterpret_cast<const BlockQ8_K*>(act + r * stride)[ib];
}

// ---- Q4_K / Q5_K ----

// vpshufb pattern that copies int16 word j (0..7) of each 128-bit lane to all of that lane.
inline __m256i WordBroadcast(int j) {
  const auto lo = static_cast<char>(2 * j);
  const auto hi = static_cast<char>(2 * j + 1);
  return _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                          lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi);
}

// The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K block, 6 bits each.
inline void UnpackScalesMins(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kTop2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t v[4] = {u[0] & kLow6, (u[2] & kLow4) | (((u[0] >> 6) & kTop2) << 4), u[1] & kLow6,
                         ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kTop2) << 4)};
  std::memcpy(out, v, 16);
}

template <typename Block>
struct K4Or5Kernel {
  static constexpr bool kHasHighBit = std::is_same_v<Block, BlockQ5_K>;

  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    const auto* w = static_cast<const Block*>(w_row);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
      const Block& b = w[ib];
      alignas(16) uint8_t sm[16];
      UnpackScalesMins(b.scales, sm);
      // mins[k / 2] for the 16 bsums k (two per 32-element sub-block), as int16.
      const __m128i sm128 = _mm_load_si128(reinterpret_cast<const __m128i*>(sm));
      const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(
          sm128, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
      // The 8 scales as int16, in both 128-bit lanes (for in-lane broadcasts).
      const __m256i scales16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm128));
      const float dmin = HalfToFloat(b.dmin);
      __m256i sumi[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ8_K& y = ActBlock(act, stride, r, ib);
        const __m256i mins_dot = _mm256_madd_epi16(LoadU256(y.bsums), mins16);
        acc[r] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * y.d), _mm256_cvtepi32_ps(mins_dot), acc[r]);
        sumi[r] = _mm256_setzero_si256();
      }
      __m256i high_bits;
      if constexpr (kHasHighBit) high_bits = LoadU256(b.qh);
      for (int c = 0; c < 4; ++c) {  // 64 elements: sub-block 2c (low nibbles), 2c+1 (high)
        const __m256i bits = LoadU256(b.qs + 32 * c);
        const __m256i nib = _mm256_set1_epi8(0x0F);
        __m256i lo = _mm256_and_si256(bits, nib);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), nib);
        if constexpr (kHasHighBit) {
          // Bits 2c and 2c+1 of qh are at bits 0 and 1 after shifting by 2c (each 16-bit lane
          // shifts, but the bits used never cross a byte).
          const __m256i bit4 = _mm256_set1_epi8(0x10);
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(high_bits, 4), bit4));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(high_bits, 3), bit4));
          high_bits = _mm256_srli_epi16(high_bits, 2);
        }
        const __m256i scale_lo = _mm256_shuffle_epi8(scales16, WordBroadcast(2 * c));
        const __m256i scale_hi = _mm256_shuffle_epi8(scales16, WordBroadcast(2 * c + 1));
        for (int r = 0; r < R; ++r) {
          const int8_t* y = ActBlock(act, stride, r, ib).qs + 64 * c;
          sumi[r] = MaddAcc(sumi[r], _mm256_maddubs_epi16(lo, LoadU256(y)), scale_lo);
          sumi[r] = MaddAcc(sumi[r], _mm256_maddubs_epi16(hi, LoadU256(y + 32)), scale_hi);
        }
      }
      const float dw = HalfToFloat(b.d);
      for (int r = 0; r < R; ++r) {
        const __m256 d = _mm256_set1_ps(dw * ActBlock(act, stride, r, ib).d);
        acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r]), acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) out[r] = HsumF32(acc[r]);
  }
};

// ---- Q6_K ----

struct Q6KKernel {
  template <int R>
  static void Run(int64_t n, const void* w_row, const uint8_t* act, size_t stride, float* out) {
    const auto* w = static_cast<const BlockQ6_K*>(w_row);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < n / kQK_K; ++ib) {
      const BlockQ6_K& b = w[ib];
      const __m256i scales16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
      // Start from -32 * sum_g scale_g * bsum_g: the offset of the stored quants (0..63).
      __m256i sumi[R];
      for (int r = 0; r < R; ++r) {
        const __m256i offset =
            _mm256_madd_epi16(LoadU256(ActBlock(act, stride, r, ib).bsums), scales16);
        sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
      }
      for (int h = 0; h < 2; ++h) {  // halves of 128 elements
        const __m256i ql0 = LoadU256(b.ql + 64 * h);
        const __m256i ql1 = LoadU256(b.ql + 64 * h + 32);
        const __m256i qh = LoadU256(b.qh + 32 * h);
        const __m256i nib = _mm256_set1_epi8(0x0F);
        const __m256i top = _mm256_set1_epi8(0x30);
        // Elements 32k..32k+31 of the half: low nibble of ql0/ql1, high 2 bits from qh bits 2k.
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, nib),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 4), top)),
            _mm256_or_si256(_mm256_and_si256(ql1, nib),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 2), top)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), nib),
                            _mm256_and_si256(qh, top)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), nib),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), top)),
        };
        for (int k = 0; k < 4; ++k) {
          // int16 lanes 0..7 cover elements 0..15 (scale 8h+2k), lanes 8..15 the rest.
          const int g = 8 * h + 2 * k;
          // Words g, g+1 (one dword) to every dword, then word g to the low lane, g+1 to the high.
          const __m256i pair = _mm256_permutevar8x32_epi32(scales16, _mm256_set1_epi32(g / 2));
          const __m256i scale = _mm256_shuffle_epi8(
              pair, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2,
                                     3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
          for (int r = 0; r < R; ++r) {
            const int8_t* y = ActBlock(act, stride, r, ib).qs + 128 * h + 32 * k;
            sumi[r] = MaddAcc(sumi[r], _mm256_maddubs_epi16(q[k], LoadU256(y)), scale);
          }
        }
      }
      const float dw = HalfToFloat(b.d);
      for (int r = 0; r < R; ++r) {
        const __m256 d = _mm256_set1_ps(dw * ActBlock(act, stride, r, ib).d);
        acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r]), acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) out[r] = HsumF32(acc[r]);
  }
};

// ---- table ----

constexpr int kMaxRows = 4;

constexpr VecDotKernel kQ4_K{TensorType::kQ8_K, QuantizeActQ8_K,
                             DotInGroups<K4Or5Kernel<BlockQ4_K>, kMaxRows>};
constexpr VecDotKernel kQ5_K{TensorType::kQ8_K, QuantizeActQ8_K,
                             DotInGroups<K4Or5Kernel<BlockQ5_K>, kMaxRows>};
constexpr VecDotKernel kQ6_K{TensorType::kQ8_K, QuantizeActQ8_K, DotInGroups<Q6KKernel, kMaxRows>};

}  // namespace

const VecDotKernel* Avx2KQuantKernel(TensorType weight_type) {
  switch (weight_type) {
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

#else  // !PARAPET_X86_64

namespace parapet::engine::cpu::internal {
const VecDotKernel* Avx2KQuantKernel(TensorType) { return nullptr; }
}  // namespace parapet::engine::cpu::internal

#endif
