// Row conversions for the plain float types and the 32-element block formats, plus the dispatch
// for all supported types (the K-quants live in quants_k.cc). Compiled with -ffp-contract=off so
// that float expressions round exactly as ggml's C code does.
#include "engine/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/check.h"
#include "engine/internal/quants_k.h"

namespace parapet::engine {
namespace {

// ---- Q4_0 ----

void DequantizeQ4_0(const BlockQ4_0* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Fp16ToFp32(src[i].d);
    float* y = dst + i * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((src[i].qs[j] & 0x0F) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((src[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// quantize_row_q4_0_ref: the element of largest magnitude maps to -8 exactly.
void QuantizeQ4_0(const float* src, BlockQ4_0* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK4_0;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      // Truncation after +8.5 rounds half up; values are >= 0 here, so int and int8 casts agree.
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + kQK4_0 / 2] * id + 8.5f));
      dst[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---- Q8_0 ----

void DequantizeQ8_0(const BlockQ8_0* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Fp16ToFp32(src[i].d);
    for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = static_cast<float>(src[i].qs[j]) * d;
  }
}

float BlockAbsMax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

// quantize_row_q8_0_ref: id = 1/d, round half away from zero.
void QuantizeQ8_0(const float* src, BlockQ8_0* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK8_0;
    const float d = BlockAbsMax(x, kQK8_0) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    dst[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK8_0; ++j) dst[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

// ggml-cpu's x86 quantize_row_q8_0: id = 127/amax, round half to even.
void QuantizeQ8_0Activations(const float* src, BlockQ8_0* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK8_0;
    const float amax = BlockAbsMax(x, kQK8_0);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    dst[i].d = Fp32ToFp16(amax / 127.0f);
    for (int j = 0; j < kQK8_0; ++j) dst[i].qs[j] = static_cast<int8_t>(NearestInt(x[j] * id));
  }
}

// ---- Q8_K ----

void DequantizeQ8_K(const BlockQ8_K* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    for (int j = 0; j < kQK_K; ++j)
      dst[i * kQK_K + j] = src[i].d * static_cast<float>(src[i].qs[j]);
  }
}

// quantize_row_q8_K_ref: the element of largest magnitude maps to -127 (so d takes its sign).
// An all-zero block gets d = 0 and zero quants and sums.
void QuantizeQ8_K(const float* src, BlockQ8_K* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    BlockQ8_K& y = dst[i];
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    std::memset(&y, 0, sizeof y);
    if (amax == 0.0f) continue;
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y.qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y.qs[g * 16 + j];
      y.bsums[g] = static_cast<int16_t>(sum);
    }
    y.d = 1 / iscale;
  }
}

// ---- plain float types ----

void DequantizeFloat(TensorType type, const void* src, float* dst, int64_t n) {
  if (type == TensorType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = type == TensorType::kF16 ? Fp16ToFp32(h[i]) : Bf16ToFp32(h[i]);
  }
}

void QuantizeFloat(TensorType type, const float* src, void* dst, int64_t n) {
  if (type == TensorType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    h[i] = type == TensorType::kF16 ? Fp32ToFp16(src[i]) : Fp32ToBf16(src[i]);
  }
}

int64_t CheckedBlocks(TensorType type, int64_t n) {
  PARAPET_CHECK_MSG(QuantsSupport(type), Traits(type).name);
  const int64_t block = Traits(type).block_elems;
  PARAPET_CHECK(n >= 0 && n % block == 0);
  return n / block;
}

}  // namespace

bool QuantsSupport(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ4_0:
    case TensorType::kQ8_0:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kQ8_K:
      return true;
    default:
      return false;
  }
}

void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n) {
  const int64_t nb = CheckedBlocks(type, n);
  switch (type) {
    case TensorType::kQ4_0:
      return DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case TensorType::kQ8_0:
      return DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case TensorType::kQ4_K:
      return internal::DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, nb);
    case TensorType::kQ5_K:
      return internal::DequantizeQ5_K(static_cast<const BlockQ5_K*>(src), dst, nb);
    case TensorType::kQ6_K:
      return internal::DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, nb);
    case TensorType::kQ8_K:
      return DequantizeQ8_K(static_cast<const BlockQ8_K*>(src), dst, nb);
    default:
      return DequantizeFloat(type, src, dst, n);
  }
}

void QuantizeRow(TensorType type, const float* src, void* dst, int64_t n) {
  const int64_t nb = CheckedBlocks(type, n);
  switch (type) {
    case TensorType::kQ4_0:
      return QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case TensorType::kQ8_0:
      return QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case TensorType::kQ4_K:
      return internal::QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), nb);
    case TensorType::kQ5_K:
      return internal::QuantizeQ5_K(src, static_cast<BlockQ5_K*>(dst), nb);
    case TensorType::kQ6_K:
      return internal::QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), nb);
    case TensorType::kQ8_K:
      return QuantizeQ8_K(src, static_cast<BlockQ8_K*>(dst), nb);
    default:
      return QuantizeFloat(type, src, dst, n);
  }
}

void QuantizeActivationRow(TensorType type, const float* src, void* dst, int64_t n) {
  if (type == TensorType::kQ8_0) {
    return QuantizeQ8_0Activations(src, static_cast<BlockQ8_0*>(dst), CheckedBlocks(type, n));
  }
  QuantizeRow(type, src, dst, n);
}

}  // namespace parapet::engine
