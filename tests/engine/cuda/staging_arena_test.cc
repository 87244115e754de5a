// Tests for engine/cuda/staging_arena.h: aligned offsets, reuse of a span within a step,
// overflow, and identical offsets for identical steps (what graph replay relies on).
#include "engine/cuda/staging_arena.h"

#include <gtest/gtest.h>

#include <vector>

namespace parapet::engine::cuda {
namespace {

TEST(StagingArena, AlignsAndReusesSpansWithinAStep) {
  StagingArena a(1024);
  int pos[3] = {1, 2, 3};
  const auto s1 = a.Take(pos, 1, sizeof pos);
  ASSERT_TRUE(s1.fits);
  EXPECT_TRUE(s1.fresh);
  EXPECT_EQ(s1.offset, 0u);
  const auto s2 = a.TakeUnique(5);
  EXPECT_EQ(s2.offset, 16u);
  const auto again = a.Take(pos, 1, sizeof pos);  // the same positions, next layer
  EXPECT_FALSE(again.fresh);
  EXPECT_EQ(again.offset, s1.offset);
  const auto other_tag = a.Take(pos, 2, sizeof pos);
  EXPECT_TRUE(other_tag.fresh);
  EXPECT_EQ(other_tag.offset, 32u);
  EXPECT_EQ(a.used(), 32u + sizeof pos);
}

TEST(StagingArena, ReportsOverflowAndResets) {
  StagingArena a(64);
  EXPECT_TRUE(a.TakeUnique(40).fits);
  EXPECT_FALSE(a.TakeUnique(40).fits);
  a.Reset();
  EXPECT_EQ(a.used(), 0u);
  EXPECT_TRUE(a.TakeUnique(64).fits);
  a.Reset();
  a.set_capacity(128);
  EXPECT_TRUE(a.TakeUnique(100).fits);
}

TEST(StagingArena, SameRequestsGiveSameOffsets) {
  StagingArena a(4096);
  std::vector<int> pos(8), rows(8);
  auto step = [&] {
    a.Reset();
    std::vector<size_t> offs;
    offs.push_back(a.TakeUnique(100).offset);
    for (int layer = 0; layer < 4; ++layer) {
      offs.push_back(a.Take(pos.data(), 1, 32).offset);
      offs.push_back(a.Take(rows.data(), 2, 64).offset);
    }
    return offs;
  };
  EXPECT_EQ(step(), step());
}

}  // namespace
}  // namespace parapet::engine::cuda
