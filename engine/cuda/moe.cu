// MoE routing kernels (moe.cuh).
#include "engine/cuda/moe.cuh"

namespace parapet::engine::cuda {
namespace {

// Routes token i (the CPU backend's Route).
__device__ void RouteToken(const float* logits, int64_t i, int32_t n_expert, int32_t k,
                           int32_t* ids, float* weights) {
  const float* l = logits + i * n_expert;
  float p[kMaxExperts];
  float mx = l[0];
  for (int32_t e = 1; e < n_expert; ++e) mx = fmaxf(mx, l[e]);
  float sum = 0.0f;
  for (int32_t e = 0; e < n_expert; ++e) {
    p[e] = expf(l[e] - mx);
    sum += p[e];
  }
  for (int32_t e = 0; e < n_expert; ++e) p[e] /= sum;
  int32_t chosen[kMaxExpertsUsed];
  float wsum = 0.0f;
  for (int32_t j = 0; j < k; ++j) {
    int32_t best = -1;
    for (int32_t e = 0; e < n_expert; ++e) {
      bool taken = false;
      for (int32_t t = 0; t < j; ++t) taken |= chosen[t] == e;
      if (!taken && (best < 0 || p[e] > p[best])) best = e;
    }
    chosen[j] = best;
    wsum += p[best];
  }
  for (int32_t j = 0; j < k; ++j) {
    ids[i * k + j] = chosen[j];
    weights[i * k + j] = p[chosen[j]] / wsum;
  }
}

// Thread e < n_expert counts and lists expert e's pairs in order (block-wide; ids visible).
__device__ void GroupPairs(const int32_t* ids, int64_t n_pairs, int32_t n_expert, int32_t* offsets,
                           int32_t* perm) {
  __shared__ int32_t counts[kMaxExperts];
  const auto e = static_cast<int32_t>(threadIdx.x);
  if (e < n_expert) {
    int32_t c = 0;
    for (int64_t p = 0; p < n_pairs; ++p) c += ids[p] == e;
    counts[e] = c;
  }
  __syncthreads();
  if (e < n_expert) {
    int32_t begin = 0;
    for (int32_t j = 0; j < e; ++j) begin += counts[j];
    offsets[e] = begin;
    if (e == n_expert - 1) offsets[n_expert] = begin + counts[e];
    for (int64_t p = 0; p < n_pairs; ++p) {
      if (ids[p] == e) perm[begin++] = static_cast<int32_t>(p);
    }
  }
}

// One block: every token routed, then (when offsets != nullptr) the pairs grouped.
__global__ void RouteKernel(const float* logits, int64_t n, int32_t n_expert, int32_t k,
                            int32_t* ids, float* weights, int32_t* offsets, int32_t* perm) {
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    RouteToken(logits, i, n_expert, k, ids, weights);
  if (offsets == nullptr) return;
  __syncthreads();
  GroupPairs(ids, n * k, n_expert, offsets, perm);
}

__global__ void GroupKernel(const int32_t* ids, int64_t n_pairs, int32_t n_expert, int32_t* offsets,
                            int32_t* perm) {
  GroupPairs(ids, n_pairs, n_expert, offsets, perm);
}

__global__ void CombineKernel(const float* y, const int32_t* ids, const float* weights, int32_t k,
                              int64_t dim, float* out) {
  const int64_t i = blockIdx.x;
  int32_t order[kMaxExpertsUsed];
  for (int32_t j = 0; j < k; ++j) order[j] = j;
  for (int32_t a = 1; a < k; ++a) {  // insertion sort by expert id
    for (int32_t b = a; b > 0 && ids[i * k + order[b]] < ids[i * k + order[b - 1]]; --b) {
      const int32_t t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  }
  for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int32_t j = 0; j < k; ++j) {
      const int64_t p = i * k + order[j];
      const float w = weights[p];
      acc =
          w == 1.0f ? __fadd_rn(acc, y[p * dim + d]) : __fadd_rn(acc, __fmul_rn(w, y[p * dim + d]));
    }
    out[i * dim + d] = __fadd_rn(out[i * dim + d], acc);
  }
}

}  // namespace

cudaError_t LaunchRoute(const float* logits, int64_t n, int32_t n_expert, int32_t k, int32_t* ids,
                        float* weights, int32_t* offsets, int32_t* perm, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (n_expert > kMaxExperts || k > kMaxExpertsUsed || k > n_expert) return cudaErrorInvalidValue;
  RouteKernel<<<1, kMaxExperts, 0, stream>>>(logits, n, n_expert, k, ids, weights, offsets, perm);
  return cudaGetLastError();
}

cudaError_t LaunchGroupByExpert(const int32_t* ids, int64_t n_pairs, int32_t n_expert,
                                int32_t* offsets, int32_t* perm, cudaStream_t stream) {
  if (n_expert > kMaxExperts) return cudaErrorInvalidValue;
  const int threads = (n_expert + 31) / 32 * 32;
  GroupKernel<<<1, threads, 0, stream>>>(ids, n_pairs, n_expert, offsets, perm);
  return cudaGetLastError();
}

cudaError_t LaunchCombineExperts(const float* y, const int32_t* ids, const float* weights,
                                 int64_t n, int32_t k, int64_t dim, float* out,
                                 cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (k > kMaxExpertsUsed) return cudaErrorInvalidValue;
  CombineKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(y, ids, weights, k, dim, out);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
