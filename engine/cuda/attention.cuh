// Attention kernels: KV-cache store and causal attention over each row's cache (the CPU
// backend's Attention, engine/cpu/cpu_backend.cc).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace parapet::engine::cuda {

// One batch row's cache: k/v storage bases (KvCache layout: [layer][pos][n_embd_kv]), its
// context length and the row's position.
struct AttentionRowInfo {
  float* k = nullptr;
  float* v = nullptr;
  int32_t n_ctx = 0;
  int32_t pos = 0;
};

// Largest head_dim the attention kernel takes.
inline constexpr int32_t kMaxHeadDim = 256;

// Stores k/v rows [n, n_head_kv*head_dim] into each row's cache at its position in `layer`,
// then writes out[i] = softmax(q[i] · K / sqrt(head_dim)) · V over positions [0, pos] of row
// i's cache. One block per (head, row); its warps split the positions (online softmax) and
// combine at the end, so the grid does not depend on the positions.
cudaError_t LaunchAttention(int32_t layer, const float* q, const float* k, const float* v,
                            const AttentionRowInfo* rows, int64_t n, int32_t n_head,
                            int32_t n_head_kv, int32_t head_dim, float* out, cudaStream_t stream);

}  // namespace parapet::engine::cuda
