// Quantised weight blocks and reference scalar conversions between them and float: the numeric
// ground truth that the SIMD matmul kernels (engine/cpu/vec_dot.h) and the GPU kernels are tested
// against. Pure functions on caller-owned memory; thread-safe.
//
// Every conversion is bit-exact with ggml's reference code (ggml-quants.c `dequantize_row_*` and
// `quantize_row_*_ref`, which llama-quantize runs when no importance matrix is given), so a
// GGUF file we quantise matches one made by llama.cpp byte for byte. Block layouts (see also
// engine/tensor_type.h; all little-endian, fp16 = IEEE half):
//
//   Q4_0 (32 elems, 18 B): fp16 d; u8 qs[16]. Element j < 16 is the low nibble of qs[j], element
//        j + 16 the high nibble; x = d * (q - 8).
//   Q8_0 (32 elems, 34 B): fp16 d; i8 qs[32]; x = d * q.
//   Q4_K (256 elems, 144 B): fp16 d, dmin; u8 scales[12]; u8 qs[128]. Eight sub-blocks of 32
//        with a 6-bit scale sc and a 6-bit min m each; x = d*sc*q - dmin*m, q a 4-bit value.
//        Sub-block pair (2i, 2i+1) uses qs[32i .. 32i+31]: low nibbles for 2i, high for 2i+1.
//        Scale packing (j = sub-block): j < 4: sc = scales[j] & 63, m = scales[j+4] & 63;
//        j >= 4: sc = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,
//                m  = (scales[j+4] >> 4) | (scales[j]   >> 6) << 4.
//   Q5_K (256 elems, 176 B): as Q4_K plus u8 qh[32] between scales and qs: bit 2i of qh[l] is
//        the fifth bit of element l of sub-block 2i, bit 2i+1 that of element l of 2i+1.
//   Q6_K (256 elems, 210 B): u8 ql[128]; u8 qh[64]; i8 scales[16]; fp16 d. Two halves of 128;
//        in half h, element l + 32k (l < 32, k < 4) has low 4 bits from ql[64h + l + 32(k&1)]
//        (low nibble for k < 2, high nibble otherwise) and high 2 bits from bits 2k..2k+1 of
//        qh[32h + l]; x = d * scales[8h + l/16 + 2k] * (q - 32).
//   Q8_K (256 elems, 292 B): f32 d; i8 qs[256]; i16 bsums[16] (sum of each group of 16 qs);
//        x = d * q. Only used for activations.
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/tensor_type.h"

namespace parapet::engine {

// ---- block structs (memory images of the formats above) ----

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale and min of sub-block `j` (0..7) of a Q4_K / Q5_K block.
inline void UnpackScaleMinK4(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// ggml's nearest_int: round to nearest, ties to even, for |x| < 2^22.
inline int NearestInt(float x) {
  float biased = x + 12582912.f;  // 1.5 * 2^23: the integer lands in the low mantissa bits
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof bits);
  return (bits & 0x007FFFFF) - 0x00400000;
}

// ---- row conversions ----

// Whether DequantizeRow / QuantizeRow handle `type`: F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K,
// Q6_K and Q8_K.
bool QuantsSupport(TensorType type);

// Decodes `n` elements of `type` at `src` into `dst`.
// REQUIRES: QuantsSupport(type), n a multiple of the type's block size.
void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n);

// Encodes `n` floats into RowBytes(type, n) bytes at `dst` exactly as ggml's quantize_row_*_ref
// (F16/BF16: round to nearest even), including the K-quants' scale searches; the tests check
// byte equality with llama-quantize's output on the fixture models.
// REQUIRES: QuantsSupport(type), n a multiple of the type's block size.
void QuantizeRow(TensorType type, const float* src, void* dst, int64_t n);

// Encodes activations the way llama.cpp's x86 CPU backend does before a matmul (its
// `from_float` / quantize_row_q8_0 with AVX2): identical to QuantizeRow except for Q8_0, where
// ggml-cpu computes id = 127/amax (not 1/d) and rounds x*id to nearest even (not away from
// zero); the two differ only on rare ties. Used for the activation side of every CPU matmul.
// REQUIRES: as QuantizeRow.
void QuantizeActivationRow(TensorType type, const float* src, void* dst, int64_t n);

}  // namespace parapet::engine
