// RMSNorm and RoPE kernels (norm_rope.cuh).
#include "engine/cuda/norm_rope.cuh"

namespace parapet::engine::cuda {
namespace {

constexpr int kNormThreads = 256;

__global__ void RmsNormKernel(const float* x, const float* w, int64_t dim, float eps, float* y,
                              int8_t* xq, float* xd) {
  const float* xi = x + blockIdx.x * dim;
  float* yi = y + blockIdx.x * dim;
  double sum = 0;
  for (int64_t d = threadIdx.x; d < dim; d += kNormThreads) {
    sum += static_cast<double>(__fmul_rn(xi[d], xi[d]));
  }
  __shared__ double part[kNormThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = sum;
  __syncthreads();
  double total = 0;
#pragma unroll
  for (int i = 0; i < kNormThreads / 32; ++i) total += part[i];
  const float scale = 1.0f / sqrtf(static_cast<float>(total / static_cast<double>(dim)) + eps);
  if (xq == nullptr) {
    for (int64_t d = threadIdx.x; d < dim; d += kNormThreads) {
      yi[d] = __fmul_rn(__fmul_rn(xi[d], scale), w[d]);
    }
    return;
  }
  // dim % 32 == 0: each warp's 32 consecutive elements are one quantisation block.
  const int lane = static_cast<int>(threadIdx.x & 31);
  for (int64_t d = threadIdx.x; d < dim; d += kNormThreads) {
    const float v = __fmul_rn(__fmul_rn(xi[d], scale), w[d]);
    yi[d] = v;
    float amax = fabsf(v);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, o));
    const float dq = amax / 127.0f;
    const int q = amax == 0.0f ? 0 : __float2int_rn(v / dq);
    int sum = q;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
    const int64_t at = blockIdx.x * dim + d;
    xq[at] = static_cast<int8_t>(q);
    if (lane == 0) {
      xd[at / 16] = dq;  // block at / 32: (scale, scale * sum)
      xd[at / 16 + 1] = dq * static_cast<float>(sum);
    }
  }
}

// One thread per (row, head, pair) over q heads then k heads.
__global__ void RopeKernel(float* q, float* k, const int32_t* pos, int64_t n, int32_t n_head,
                           int32_t n_head_kv, int32_t head_dim, int32_t n_rot, float theta_scale,
                           float freq_scale, const float* freq_factors) {
  const int32_t n_pairs = n_rot / 2;
  const int64_t per_row = static_cast<int64_t>(n_head + n_head_kv) * n_pairs;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * per_row) return;
  const int64_t i = t / per_row;
  const int64_t r = t % per_row;
  const auto head = static_cast<int32_t>(r / n_pairs);
  const auto p = static_cast<int32_t>(r % n_pairs);
  float theta = static_cast<float>(pos[i]);
  for (int32_t j = 0; j < p; ++j) theta = __fmul_rn(theta, theta_scale);
  const float ff = freq_factors != nullptr ? freq_factors[p] : 1.0f;
  const float a = freq_scale * (theta / ff);
  const float c = cosf(a);
  const float s = sinf(a);
  float* v = head < n_head ? q + (i * n_head + head) * head_dim
                           : k + (i * n_head_kv + (head - n_head)) * head_dim;
  const float x0 = v[2 * p];
  const float x1 = v[2 * p + 1];
  v[2 * p] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
  v[2 * p + 1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

}  // namespace

cudaError_t LaunchRmsNorm(const float* x, const float* w, int64_t n, int64_t dim, float eps,
                          float* y, int8_t* xq, float* xd, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (xq != nullptr && dim % 32 != 0) return cudaErrorInvalidValue;
  RmsNormKernel<<<static_cast<unsigned>(n), kNormThreads, 0, stream>>>(x, w, dim, eps, y, xq, xd);
  return cudaGetLastError();
}

cudaError_t LaunchRope(float* q, float* k, const int32_t* pos, int64_t n, int32_t n_head,
                       int32_t n_head_kv, int32_t head_dim, int32_t n_rot, float theta_scale,
                       float freq_scale, const float* freq_factors, cudaStream_t stream) {
  const int64_t total = n * (n_head + n_head_kv) * (n_rot / 2);
  if (total == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  RopeKernel<<<static_cast<unsigned>((total + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      q, k, pos, n, n_head, n_head_kv, head_dim, n_rot, theta_scale, freq_scale, freq_factors);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
