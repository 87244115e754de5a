// Tests for engine/cuda/launch_config.h: GEMV grids for plain and grouped (MoE) products,
// including row counts that are not multiples of the block sizes.
#include "engine/cuda/launch_config.h"

#include <gtest/gtest.h>

#include <vector>

namespace parapet::engine::cuda {
namespace {

TEST(LaunchConfig, RowsPerBlock) {
  EXPECT_EQ(GemvRowsPerBlock(1), 1);
  EXPECT_EQ(GemvRowsPerBlock(2), kGemvMaxRows);
  EXPECT_EQ(GemvRowsPerBlock(500), kGemvMaxRows);
}

TEST(LaunchConfig, PlainGridCoversEveryRow) {
  for (int64_t rows : {1, 3, 4, 5, 4095, 4096, 14336}) {
    for (int64_t n : {1, 2, 8, 9, 130}) {
      const int rpb = GemvRowsPerBlock(n);
      const Grid2 g = GemvGrid(rows, n, rpb);
      EXPECT_GE(g.x * kGemvWarps, rows);
      EXPECT_LT((g.x - 1) * kGemvWarps, rows);
      EXPECT_GE(g.y * rpb, n);
      EXPECT_LT((g.y - 1) * rpb, n);
    }
  }
}

TEST(LaunchConfig, GroupedGridIsFixedByShapeAndCoversEveryPair) {
  // 5 tokens, top-2 of 4 experts: counts 3, 0, 5, 2 (each <= n_tokens).
  const std::vector<int32_t> offsets = {0, 3, 3, 8, 10};
  const int64_t n_tokens = 5;
  for (int rpb : {1, kGemvMaxRows}) {
    const int64_t gpe = GemvGroupsPerExpert(n_tokens, rpb);
    const Grid2 g = GroupedGemvGrid(4096, n_tokens, 4, rpb);
    EXPECT_EQ(g.y, 4 * gpe);
    std::vector<int> seen(10, 0);
    for (int64_t y = 0; y < g.y; ++y) {
      const GroupSlice s = GroupOf(y, gpe, offsets.data(), rpb);
      const int64_t end = offsets[static_cast<size_t>(s.expert) + 1];
      for (int64_t i = s.begin; i < std::min<int64_t>(s.begin + rpb, end); ++i) {
        ++seen[static_cast<size_t>(i)];
        EXPECT_GE(i, offsets[static_cast<size_t>(s.expert)]);
      }
    }
    for (int c : seen) EXPECT_EQ(c, 1) << "rows per block " << rpb;
  }
}

}  // namespace
}  // namespace parapet::engine::cuda
