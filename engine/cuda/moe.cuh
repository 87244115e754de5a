// MoE routing kernels, all on the device (no host round trip inside a step): routing
// (softmax -> top-k -> renormalise), grouping of the (token, expert) pairs by expert, and the
// weighted combination of the experts' outputs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace parapet::engine::cuda {

inline constexpr int32_t kMaxExperts = 256;
inline constexpr int32_t kMaxExpertsUsed = 16;

// Per token i: p = softmax(logits[i]); ids[i*k..] = the k largest (ties to the lower index) in
// descending order; weights = their p renormalised over the k (the CPU backend's Route). With
// offsets/perm, the same launch also groups the pairs (as LaunchGroupByExpert).
cudaError_t LaunchRoute(const float* logits, int64_t n, int32_t n_expert, int32_t k, int32_t* ids,
                        float* weights, int32_t* offsets, int32_t* perm, cudaStream_t stream);

// Sorts the n*k pairs (pair p = token p / k) by expert, stably: offsets [n_expert + 1] and
// perm [n*k] such that perm[offsets[e] .. offsets[e+1]) are expert e's pairs in pair order.
cudaError_t LaunchGroupByExpert(const int32_t* ids, int64_t n_pairs, int32_t n_expert,
                                int32_t* offsets, int32_t* perm, cudaStream_t stream);

// out[i] += the sum over the token's k pairs in ascending expert order of weights[p] * y[p]
// (rows of dim floats), rounding as the CPU backend's accumulation does.
cudaError_t LaunchCombineExperts(const float* y, const int32_t* ids, const float* weights,
                                 int64_t n, int32_t k, int64_t dim, float* out,
                                 cudaStream_t stream);

}  // namespace parapet::engine::cuda
