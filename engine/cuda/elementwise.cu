// Element-wise kernels (elementwise.cuh).
#include "engine/cuda/elementwise.cuh"

namespace parapet::engine::cuda {
namespace {

constexpr int kThreads = 256;

unsigned Blocks(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__global__ void SwiGluKernel(float* gate, const float* up, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float g = gate[i];
  gate[i] = __fmul_rn(g / (1.0f + expf(-g)), up[i]);
}

__global__ void AddScaledKernel(float* y, const float* x, float scale, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  y[i] = scale == 1.0f ? __fadd_rn(y[i], x[i]) : __fadd_rn(y[i], __fmul_rn(scale, x[i]));
}

__global__ void GatherRowsKernel(const float* x, const int32_t* rows, int64_t dim, float* y) {
  const float* src = x + static_cast<int64_t>(rows[blockIdx.x]) * dim;
  float* dst = y + static_cast<int64_t>(blockIdx.x) * dim;
  for (int64_t d = threadIdx.x; d < dim; d += kThreads) dst[d] = src[d];
}

}  // namespace

cudaError_t LaunchSwiGlu(float* gate, const float* up, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  SwiGluKernel<<<Blocks(n), kThreads, 0, stream>>>(gate, up, n);
  return cudaGetLastError();
}

cudaError_t LaunchAddScaled(float* y, const float* x, float scale, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  AddScaledKernel<<<Blocks(n), kThreads, 0, stream>>>(y, x, scale, n);
  return cudaGetLastError();
}

cudaError_t LaunchGatherRows(const float* x, const int32_t* rows, int64_t m, int64_t dim, float* y,
                             cudaStream_t stream) {
  if (m == 0) return cudaSuccess;
  GatherRowsKernel<<<static_cast<unsigned>(m), kThreads, 0, stream>>>(x, rows, dim, y);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
