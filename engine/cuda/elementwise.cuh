// Element-wise kernels: SiLU·mul, scaled add, row gather (the CPU backend's SwiGlu, AddScaled,
// GatherRows).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace parapet::engine::cuda {

// gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i].
cudaError_t LaunchSwiGlu(float* gate, const float* up, int64_t n, cudaStream_t stream);
// y[i] += scale * x[i] (y[i] += x[i] when scale == 1, as the CPU rounds).
cudaError_t LaunchAddScaled(float* y, const float* x, float scale, int64_t n, cudaStream_t stream);
// y[j] = x[rows[j]] for m rows of dim floats.
cudaError_t LaunchGatherRows(const float* x, const int32_t* rows, int64_t m, int64_t dim, float* y,
                             cudaStream_t stream);

}  // namespace parapet::engine::cuda
