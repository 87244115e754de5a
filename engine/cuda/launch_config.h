// Launch configuration of the CUDA backend's kernels, as plain host arithmetic (no CUDA types)
// so that it is unit-tested without a device.
//
// GEMV (gemv.cuh): one warp per weight row, kGemvWarps warps per block; each block's column y
// covers up to kN activation rows. kN is 1 when every group holds at most one row (batch-1
// decode, or the MoE path with one token), else kGemvMaxRows. Plain products have
// ceil(n / kN) groups; grouped (MoE) products have n_expert * ceil(n_tokens / kN) groups, of
// which those past an expert's count exit at once, so the grid is fixed by the step's shape
// alone (no host round trip for the counts, and a CUDA graph can replay it).
#pragma once

#include <cstdint>

// Shared by host code and kernels.
#ifdef __CUDACC__
#define PARAPET_HOST_DEVICE __host__ __device__
#else
#define PARAPET_HOST_DEVICE
#endif

namespace parapet::engine::cuda {

inline constexpr int kGemvWarps = 4;    // warps (= weight rows) per block
inline constexpr int kGemvMaxRows = 8;  // activation rows per block in batched products

struct Grid2 {
  int64_t x = 0;
  int64_t y = 0;
};

// Activation rows per block for a product over `n` activation rows (plain) or `n_tokens` tokens
// (grouped: at most one row per token and expert).
inline int GemvRowsPerBlock(int64_t n) { return n <= 1 ? 1 : kGemvMaxRows; }

inline Grid2 GemvGrid(int64_t weight_rows, int64_t n, int rows_per_block) {
  return Grid2{(weight_rows + kGemvWarps - 1) / kGemvWarps,
               (n + rows_per_block - 1) / rows_per_block};
}

// Grouped product: groups per expert and the grid.
inline int64_t GemvGroupsPerExpert(int64_t n_tokens, int rows_per_block) {
  return (n_tokens + rows_per_block - 1) / rows_per_block;
}
inline Grid2 GroupedGemvGrid(int64_t weight_rows, int64_t n_tokens, int32_t n_expert,
                             int rows_per_block) {
  return Grid2{(weight_rows + kGemvWarps - 1) / kGemvWarps,
               n_expert * GemvGroupsPerExpert(n_tokens, rows_per_block)};
}

// The group `g` of a grouped product: expert and the first of its rows (index into the
// expert-sorted pair list); rows [begin, min(begin + rows_per_block, end)) where `end` is the
// expert's end offset.
struct GroupSlice {
  int32_t expert = 0;
  int64_t begin = 0;
};
PARAPET_HOST_DEVICE inline GroupSlice GroupOf(int64_t g, int64_t groups_per_expert,
                                              const int32_t* offsets, int rows_per_block) {
  const auto e = static_cast<int32_t>(g / groups_per_expert);
  return GroupSlice{e, offsets[e] + (g % groups_per_expert) * rows_per_block};
}

// Largest CUDA grid y dimension.
inline constexpr int64_t kMaxGridY = 65535;

}  // namespace parapet::engine::cuda
