// Small AVX2 helpers for the vec-dot kernels. Include only from files built with at least
// -mavx2 -mfma -mf16c (the *_avx2.cc / *_avx512*.cc files). Everything is in an anonymous
// namespace on purpose: each file gets its own copy compiled for its own instruction set, so the
// linker can never hand an AVX-512 build of a helper to the AVX2 kernels. Where the including
// file is built with AVX-512 VNNI, the integer dot helpers use vpdpbusd / vpdpwssd.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace parapet::engine::cpu::internal {
namespace {  // NOLINT(build/namespaces): per-ISA copies, see above

inline float HsumF32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i LoadU256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Sums of 4 adjacent products of unsigned bytes `u` and signed bytes `s`, as 8 int32.
// REQUIRES (without VNNI): each pair u0*s0 + u1*s1 fits in int16 (no saturation).
inline __m256i DotU8S8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// acc + sums of 4 adjacent products of unsigned bytes `u` and signed bytes `s`, as 8 int32.
// REQUIRES (without VNNI): as DotU8S8.
inline __m256i DotU8S8Acc(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, DotU8S8(u, s));
#endif
}

// acc + sums of 2 adjacent products of int16 `a` and `b`, as 8 int32.
inline __m256i MaddAcc(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

}  // namespace
}  // namespace parapet::engine::cpu::internal
