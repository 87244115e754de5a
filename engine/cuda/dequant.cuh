// Dequantisation of weight matrices (device layout, device_layout.h) to fp16, and of fp32
// activations to fp16, for the cuBLAS path of large batches (prefill): W16 · X16 with fp32
// accumulation on the tensor cores.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace parapet::engine::cuda {

// w16[r * cols + c] = W[r][c] for `rows` rows of the matrix at wq / wd (q_row_bytes and
// d_row_elems apart), `n_chunks` 16-byte chunks per row. `type` is a TensorType value other
// than F32.
cudaError_t LaunchDequantize(int type, const uint8_t* wq, const uint16_t* wd, size_t q_row_bytes,
                             size_t d_row_elems, int64_t rows, int64_t cols, int64_t n_chunks,
                             __half* w16, cudaStream_t stream);

// x16[i] = x[i] rounded to fp16 for n elements.
cudaError_t LaunchToHalf(const float* x, int64_t n, __half* x16, cudaStream_t stream);

}  // namespace parapet::engine::cuda
