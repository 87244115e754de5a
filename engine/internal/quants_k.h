// Reference (de)quantisers of the K-quant super-block formats Q4_K, Q5_K and Q6_K, split out of
// engine/quants.cc; only quants.cc calls them. Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "engine/quants.h"

namespace parapet::engine::internal {

// Each takes `nb` whole blocks (nb * 256 elements).
void DequantizeQ4_K(const BlockQ4_K* src, float* dst, int64_t nb);
void DequantizeQ5_K(const BlockQ5_K* src, float* dst, int64_t nb);
void DequantizeQ6_K(const BlockQ6_K* src, float* dst, int64_t nb);

void QuantizeQ4_K(const float* src, BlockQ4_K* dst, int64_t nb);
void QuantizeQ5_K(const float* src, BlockQ5_K* dst, int64_t nb);
void QuantizeQ6_K(const float* src, BlockQ6_K* dst, int64_t nb);

}  // namespace parapet::engine::internal
