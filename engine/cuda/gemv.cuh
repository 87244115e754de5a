// Quantised GEMV / small-batch GEMM kernels: y = W · x for weights in their device layout
// (device_layout.h). One warp per weight row, 16-byte loads, fp32 accumulation; quantised
// types take int8 activations (QuantizeActivations) and use dp4a. Plain products read
// activation rows [0, n); grouped products (MoE) read the expert-sorted (token, expert) pairs.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace parapet::engine::cuda {

struct GemvArgs {
  int type = 0;                  // TensorType value
  const uint8_t* wq = nullptr;   // quant bytes of matrix 0
  const uint16_t* wd = nullptr;  // fp16 scales of matrix 0 (layouts with separate scales)
  size_t q_row_bytes = 0;
  size_t d_row_elems = 0;
  int64_t rows = 0;  // per matrix
  int64_t n_chunks = 0;
  int64_t mat = 0;  // plain products: the matrix
  // Activations: float rows (float types) or int8 rows + (scale, scale * sum) per 32.
  const float* x = nullptr;
  const int8_t* xq = nullptr;
  const float* xd = nullptr;  // [row][cols / 32][2]
  int64_t cols = 0;
  float* y = nullptr;  // row j at y + j * rows
  int64_t n = 0;       // plain: activation rows
  // Grouped: pair p = perm[i] of expert e's rows offsets[e] <= i < offsets[e + 1]; its
  // activation row is p / x_div, its output row p; n_expert groups_per_expert groups each.
  const int32_t* perm = nullptr;
  const int32_t* offsets = nullptr;
  int32_t x_div = 1;
  int32_t n_expert = 0;
  int64_t groups_per_expert = 0;
  // Pair products (rows_per_block 1, perm unused): block column g computes pair g with expert
  // ids[g], activation row g / x_div, output row g, for g < n.
  const int32_t* ids = nullptr;
  int rows_per_block = 1;  // 1 or kGemvMaxRows
};

// Launches the product on `stream`; returns the launch error (cudaSuccess when none).
cudaError_t LaunchGemv(const GemvArgs& a, cudaStream_t stream);

// Quantises n rows of `cols` floats (cols % 32 == 0) to int8 per 32 (scale = amax / 127):
// xq [n, cols], xd [n, cols / 32, 2] = (scale, scale * sum of the quants). With `up` (else
// nullptr) it quantises silu(x) * up, the SwiGLU of the two, without writing it.
cudaError_t LaunchQuantizeActivations(const float* x, const float* up, int64_t n, int64_t cols,
                                      int8_t* xq, float* xd, cudaStream_t stream);

}  // namespace parapet::engine::cuda
