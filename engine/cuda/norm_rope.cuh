// RMSNorm and RoPE kernels (the CPU backend's RmsNorm / Rope, engine/cpu/cpu_backend.cc).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace parapet::engine::cuda {

// y[i] = x[i] * (1 / sqrt(mean(x[i]^2) + eps)) * w, sum of squares in double as the CPU does.
// With xq/xd (else nullptr; REQUIRES dim % 32 == 0) y is also quantised as
// LaunchQuantizeActivations does (gemv.cuh), for the products that read it.
cudaError_t LaunchRmsNorm(const float* x, const float* w, int64_t n, int64_t dim, float eps,
                          float* y, int8_t* xq, float* xd, cudaStream_t stream);

// Rotates adjacent pairs of the first n_rot dims of every q and k head of row i at position
// pos[i]; theta of pair p = pos * theta_scale^p (multiplied up as the CPU does), divided by
// freq_factors[p] when given, times freq_scale.
cudaError_t LaunchRope(float* q, float* k, const int32_t* pos, int64_t n, int32_t n_head,
                       int32_t n_head_kv, int32_t head_dim, int32_t n_rot, float theta_scale,
                       float freq_scale, const float* freq_factors, cudaStream_t stream);

}  // namespace parapet::engine::cuda
