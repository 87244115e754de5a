// DeviceLayout: how the CUDA backend stores a weight matrix on the device, and the host-side
// repacking into that layout. Quantised formats stay quantised (same bits per weight); only the
// formats whose blocks are not a multiple of 16 bytes are split, so that every kernel load is an
// aligned 16-byte load:
//   F32, F16, BF16, Q4_K (144 B), Q5_K (176 B): the ggml row bytes as they are.
//   Q8_0: the int8 quants of a row, then (in a separate array) one fp16 scale per 32.
//   Q4_0: the 16 quant bytes of each block, then one fp16 scale per block separately.
//   Q6_K: each block's ql[128], qh[64], scales[16] (208 B), then one fp16 d per block separately.
// A row's quant bytes are q_row_bytes long (a multiple of 16) and its scales d_row_elems fp16s.
// A kernel chunk is 16 quant bytes; n_chunks(cols) of them cover a row (for the K-quants one
// chunk is 16 bytes of qs/ql, eight per 256-element block).
// Pure host code, no CUDA types; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor_type.h"

namespace parapet::engine::cuda {

struct DeviceLayout {
  bool supported = false;  // the type and row length can live on the device
  bool int8_act = false;   // the kernels use int8-quantised activations (quantised types)
  size_t q_row_bytes = 0;  // quant bytes per row, a multiple of 16
  size_t d_row_elems = 0;  // fp16 scales per row in the separate scale array (0: none)
  int64_t n_chunks = 0;    // 16-byte work units per row
};

// The layout of rows of `cols` elements of `type`; supported = false for other types or for
// row lengths that are not a multiple of the block size (or of 8 for float types).
DeviceLayout LayoutFor(TensorType type, int64_t cols);

// Repacks `n_rows` ggml rows of `cols` elements (row_bytes = RowBytes(type, cols) apart, from
// `src`) into `q` (n_rows * q_row_bytes) and `d` (n_rows * d_row_elems fp16, ignored when the
// layout has none). REQUIRES: LayoutFor(type, cols).supported.
void RepackRows(TensorType type, int64_t cols, const uint8_t* src, int64_t n_rows, uint8_t* q,
                uint16_t* d);

// Whether RepackRows is a plain copy for `type` (the device can take the file's bytes as they are).
bool RepackIsCopy(TensorType type);

}  // namespace parapet::engine::cuda
