// DeviceLayout: see device_layout.h.
#include "engine/cuda/device_layout.h"

#include <cstring>

#include "engine/quants.h"

namespace parapet::engine::cuda {

DeviceLayout LayoutFor(TensorType type, int64_t cols) {
  DeviceLayout l;
  if (cols <= 0) return l;
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16: {
      if (cols % 8 != 0) return l;
      const size_t elem = type == TensorType::kF32 ? 4 : 2;
      l.q_row_bytes = static_cast<size_t>(cols) * elem;
      l.n_chunks = static_cast<int64_t>(l.q_row_bytes / 16);
      break;
    }
    case TensorType::kQ8_0:
      if (cols % kQK8_0 != 0) return l;
      l.q_row_bytes = static_cast<size_t>(cols);
      l.d_row_elems = static_cast<size_t>(cols / kQK8_0);
      l.n_chunks = cols / 16;
      l.int8_act = true;
      break;
    case TensorType::kQ4_0:
      if (cols % kQK4_0 != 0) return l;
      l.q_row_bytes = static_cast<size_t>(cols / 2);
      l.d_row_elems = static_cast<size_t>(cols / kQK4_0);
      l.n_chunks = cols / kQK4_0;
      l.int8_act = true;
      break;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K: {
      if (cols % kQK_K != 0) return l;
      const int64_t nb = cols / kQK_K;
      const size_t block = type == TensorType::kQ4_K ? 144 : type == TensorType::kQ5_K ? 176 : 208;
      l.q_row_bytes = static_cast<size_t>(nb) * block;
      l.d_row_elems = type == TensorType::kQ6_K ? static_cast<size_t>(nb) : 0;
      l.n_chunks = nb * 8;
      l.int8_act = true;
      break;
    }
    default:
      return l;
  }
  l.supported = true;
  return l;
}

bool RepackIsCopy(TensorType type) {
  return type != TensorType::kQ8_0 && type != TensorType::kQ4_0 && type != TensorType::kQ6_K;
}

void RepackRows(TensorType type, int64_t cols, const uint8_t* src, int64_t n_rows, uint8_t* q,
                uint16_t* d) {
  const DeviceLayout l = LayoutFor(type, cols);
  const size_t row_bytes = RowBytes(type, cols);
  if (RepackIsCopy(type)) {
    std::memcpy(q, src, row_bytes * static_cast<size_t>(n_rows));
    return;
  }
  const int64_t n_blocks = static_cast<int64_t>(l.d_row_elems) * n_rows;  // one scale per block
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (type == TensorType::kQ8_0) {
      BlockQ8_0 blk;
      std::memcpy(&blk, src + b * sizeof(BlockQ8_0), sizeof blk);
      d[b] = blk.d;
      std::memcpy(q + b * kQK8_0, blk.qs, sizeof blk.qs);
    } else if (type == TensorType::kQ4_0) {
      BlockQ4_0 blk;
      std::memcpy(&blk, src + b * sizeof(BlockQ4_0), sizeof blk);
      d[b] = blk.d;
      std::memcpy(q + b * sizeof blk.qs, blk.qs, sizeof blk.qs);
    } else {  // Q6_K
      BlockQ6_K blk;
      std::memcpy(&blk, src + b * sizeof(BlockQ6_K), sizeof blk);
      d[b] = blk.d;
      // ql, qh and scales are the first 208 bytes of the block.
      std::memcpy(q + b * 208, reinterpret_cast<const uint8_t*>(&blk), 208);
    }
  }
}

}  // namespace parapet::engine::cuda
