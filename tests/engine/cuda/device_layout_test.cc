// Tests for engine/cuda/device_layout.h: the device layout of every weight type and the
// repacking, checked by rebuilding the ggml blocks from the repacked arrays.
#include "engine/cuda/device_layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/quants.h"

namespace parapet::engine::cuda {
namespace {

TEST(DeviceLayout, RowBytesAreSixteenByteMultiples) {
  for (TensorType t :
       {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ4_0,
        TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    const DeviceLayout l = LayoutFor(t, 512);
    ASSERT_TRUE(l.supported) << Traits(t).name;
    EXPECT_EQ(l.q_row_bytes % 16, 0u) << Traits(t).name;
    // Same bits per weight as the file: quant bytes + separate scales == ggml row bytes.
    EXPECT_EQ(l.q_row_bytes + 2 * l.d_row_elems, RowBytes(t, 512)) << Traits(t).name;
  }
  EXPECT_EQ(LayoutFor(TensorType::kQ4_K, 512).n_chunks, 16);
  EXPECT_EQ(LayoutFor(TensorType::kQ8_0, 512).n_chunks, 32);
  EXPECT_EQ(LayoutFor(TensorType::kQ4_0, 512).n_chunks, 16);
  EXPECT_EQ(LayoutFor(TensorType::kF16, 512).n_chunks, 64);
  EXPECT_FALSE(LayoutFor(TensorType::kF16, 1).n_chunks);
  EXPECT_TRUE(LayoutFor(TensorType::kF16, 1024).int8_act == false);
  EXPECT_TRUE(LayoutFor(TensorType::kQ6_K, 1024).int8_act);
}

TEST(DeviceLayout, RejectsOddShapesAndTypes) {
  EXPECT_FALSE(LayoutFor(TensorType::kQ4_K, 128).supported);  // not a whole super-block
  EXPECT_FALSE(LayoutFor(TensorType::kQ8_0, 48).supported);
  EXPECT_FALSE(LayoutFor(TensorType::kF32, 12).supported);    // row not 16-byte aligned
  EXPECT_FALSE(LayoutFor(TensorType::kQ8_K, 256).supported);  // activations only
  EXPECT_FALSE(LayoutFor(TensorType::kQ2_K, 256).supported);
}

// Rebuilds ggml blocks from the repacked arrays and compares them with the source bytes.
void ExpectRoundTrip(TensorType type, int64_t cols, int64_t rows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const size_t row_bytes = RowBytes(type, cols);
  std::vector<uint8_t> src(row_bytes * rows);
  std::vector<float> x(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = dist(rng);
    QuantizeRow(type, x.data(), src.data() + r * row_bytes, cols);
  }
  const DeviceLayout l = LayoutFor(type, cols);
  std::vector<uint8_t> q(l.q_row_bytes * rows);
  std::vector<uint16_t> d(l.d_row_elems * rows + 1);
  RepackRows(type, cols, src.data(), rows, q.data(), d.data());
  std::vector<uint8_t> back(src.size());
  const int64_t n_blocks = static_cast<int64_t>(l.d_row_elems) * rows;
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (type == TensorType::kQ8_0) {
      BlockQ8_0 blk;
      blk.d = d[b];
      std::memcpy(blk.qs, q.data() + b * 32, 32);
      std::memcpy(back.data() + b * sizeof blk, &blk, sizeof blk);
    } else if (type == TensorType::kQ4_0) {
      BlockQ4_0 blk;
      blk.d = d[b];
      std::memcpy(blk.qs, q.data() + b * 16, 16);
      std::memcpy(back.data() + b * sizeof blk, &blk, sizeof blk);
    } else {
      BlockQ6_K blk;
      std::memcpy(&blk, q.data() + b * 208, 208);
      blk.d = d[b];
      std::memcpy(back.data() + b * sizeof blk, &blk, sizeof blk);
    }
  }
  if (RepackIsCopy(type)) back.assign(q.begin(), q.end());
  EXPECT_EQ(back, src) << Traits(type).name;
}

TEST(DeviceLayout, RepackKeepsEveryBit) {
  for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ6_K, TensorType::kQ4_K,
                       TensorType::kQ5_K, TensorType::kF16, TensorType::kBF16, TensorType::kF32}) {
    ExpectRoundTrip(t, 512, 3);
    ExpectRoundTrip(t, 256, 5);
  }
}

}  // namespace
}  // namespace parapet::engine::cuda
