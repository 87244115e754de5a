// Attention kernels (attention.cuh).
#include <cmath>

#include "engine/cuda/attention.cuh"

namespace parapet::engine::cuda {
namespace {

constexpr int kAttnWarps = 8;
constexpr int kDimsPerLane = kMaxHeadDim / 32;

__global__ void KvStoreKernel(int32_t layer, const float* k, const float* v,
                              const AttentionRowInfo* rows, int32_t kv_dim) {
  const AttentionRowInfo r = rows[blockIdx.x];
  const size_t at = (static_cast<size_t>(layer) * r.n_ctx + static_cast<size_t>(r.pos)) * kv_dim;
  for (int32_t d = threadIdx.x; d < kv_dim; d += blockDim.x) {
    r.k[at + d] = k[static_cast<size_t>(blockIdx.x) * kv_dim + d];
    r.v[at + d] = v[static_cast<size_t>(blockIdx.x) * kv_dim + d];
  }
}

__global__ void __launch_bounds__(kAttnWarps * 32)
    AttentionKernel(int32_t layer, const float* q, const AttentionRowInfo* rows, int32_t n_head,
                    int32_t n_head_kv, int32_t head_dim, float scale, float* out) {
  const int32_t h = blockIdx.x;
  const int64_t i = blockIdx.y;
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int warp = static_cast<int>(threadIdx.x >> 5);
  const AttentionRowInfo r = rows[i];
  const int32_t kv_dim = n_head_kv * head_dim;
  const int32_t kvh = h / (n_head / n_head_kv);
  const size_t layer_at = static_cast<size_t>(layer) * r.n_ctx * kv_dim + kvh * head_dim;
  const float* kb = r.k + layer_at;
  const float* vb = r.v + layer_at;
  const float* qh = q + (i * n_head + h) * head_dim;
  float qv[kDimsPerLane], acc[kDimsPerLane];
#pragma unroll
  for (int t = 0; t < kDimsPerLane; ++t) {
    const int d = lane + 32 * t;
    qv[t] = d < head_dim ? qh[d] : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int32_t p = warp; p <= r.pos; p += kAttnWarps) {
    const float* kp = kb + static_cast<size_t>(p) * kv_dim;
    float s = 0.0f;
#pragma unroll
    for (int t = 0; t < kDimsPerLane; ++t) {
      const int d = lane + 32 * t;
      if (d < head_dim) s += qv[t] * kp[d];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xFFFFFFFFu, s, o);
    s *= scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);
    const float e = expf(s - m_new);
    l = l * corr + e;
    const float* vp = vb + static_cast<size_t>(p) * kv_dim;
#pragma unroll
    for (int t = 0; t < kDimsPerLane; ++t) {
      const int d = lane + 32 * t;
      acc[t] = acc[t] * corr + (d < head_dim ? e * vp[d] : 0.0f);
    }
    m = m_new;
  }
  __shared__ float s_m[kAttnWarps], s_l[kAttnWarps], s_acc[kAttnWarps][kMaxHeadDim];
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int t = 0; t < kDimsPerLane; ++t) {
    const int d = lane + 32 * t;
    if (d < head_dim) s_acc[warp][d] = acc[t];
  }
  __syncthreads();
  float mx = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) mx = fmaxf(mx, s_m[w]);
  float total = 0.0f;
  for (int w = 0; w < kAttnWarps; ++w) {
    if (s_l[w] > 0.0f) total += s_l[w] * expf(s_m[w] - mx);
  }
  float* oh = out + (i * n_head + h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += kAttnWarps * 32) {
    float o = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) {
      if (s_l[w] > 0.0f) o += s_acc[w][d] * expf(s_m[w] - mx);
    }
    oh[d] = o / total;
  }
}

}  // namespace

cudaError_t LaunchAttention(int32_t layer, const float* q, const float* k, const float* v,
                            const AttentionRowInfo* rows, int64_t n, int32_t n_head,
                            int32_t n_head_kv, int32_t head_dim, float* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (head_dim > kMaxHeadDim || n_head % n_head_kv != 0) return cudaErrorInvalidValue;
  KvStoreKernel<<<static_cast<unsigned>(n), 128, 0, stream>>>(layer, k, v, rows,
                                                              n_head_kv * head_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  AttentionKernel<<<dim3(static_cast<unsigned>(n_head), static_cast<unsigned>(n)), kAttnWarps * 32,
                    0, stream>>>(layer, q, rows, n_head, n_head_kv, head_dim, scale, out);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
