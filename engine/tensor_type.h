// TensorType: the ggml tensor element encodings that GGUF files use, with their block geometry,
// plus scalar half-precision conversions. Numbering follows the GGUF specification (ggml_type), so
// values read from a file can be compared directly. Pure data and functions; thread-safe.
//
// Block formats (all little-endian; `d`/`dmin` are IEEE fp16 unless noted):
//   F32   4 bytes/elem      F16  2 bytes/elem (IEEE half)     BF16  2 bytes/elem (bfloat16)
//   Q4_0  32 elems, 18 B:  d, qs[16] (low nibbles = elems 0..15, high = 16..31), x = d*(q-8)
//   Q8_0  32 elems, 34 B:  d, int8 qs[32], x = d*q
//   Q4_K  256 elems, 144 B: d, dmin, scales[12] (8 x 6-bit scale + 6-bit min), qs[128]
//   Q5_K  256 elems, 176 B: d, dmin, scales[12], qh[32], qs[128]
//   Q6_K  256 elems, 210 B: ql[128], qh[64], int8 scales[16], d
//   Q8_K  256 elems, 292 B: float d, int8 qs[256], int16 bsums[16] (activations only)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace parapet::engine {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct TensorTypeTraits {
  const char* name;     // "Q4_K"
  int64_t block_elems;  // elements per block (1 for plain float types)
  int64_t block_bytes;  // bytes per block
  bool supported;       // Parapet can compute with weights of this type
};

// Traits of a raw type number read from a file, or nullptr if the number names no known type.
const TensorTypeTraits* GetTensorTypeTraits(uint32_t type);
inline const TensorTypeTraits& Traits(TensorType type) {
  return *GetTensorTypeTraits(static_cast<uint32_t>(type));
}

// Bytes taken by `n_elems` elements of `type`. REQUIRES: n_elems % block_elems == 0.
inline size_t RowBytes(TensorType type, int64_t n_elems) {
  const TensorTypeTraits& t = Traits(type);
  return static_cast<size_t>(n_elems / t.block_elems * t.block_bytes);
}

inline constexpr int64_t kQK4_0 = 32;
inline constexpr int64_t kQK8_0 = 32;
inline constexpr int64_t kQK_K = 256;

// ---- half-precision scalar conversions ----

float Fp16ToFp32(uint16_t h);
uint16_t Fp32ToFp16(float f);  // round to nearest even

inline float Bf16ToFp32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint16_t Fp32ToBf16(float f);  // round to nearest even (NaN stays NaN)

}  // namespace parapet::engine
