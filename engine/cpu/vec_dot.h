// VecDotKernel: the inner kernels of the CPU matmul, one per weight type and instruction set,
// chosen at run time. A matmul converts each activation row once into the kernel's `act_type`
// (as llama.cpp's CPU backend does: F32 -> F32, F16 -> F16, BF16 -> BF16, Q4_0/Q8_0 -> Q8_0,
// Q4_K/Q5_K/Q6_K -> Q8_K) and then dots every weight row against one or more activation rows.
// The integer arithmetic and the activation quantisation are those of ggml's
// ggml_vec_dot_<w>_<act> and quantize_row_<act>, so results equal llama.cpp's up to float
// summation order. Every SIMD level agrees with kScalar to ~1e-5 of the sum of |products|.
//
// Thread-safety: kernels are pure functions of their arguments; the tables are immutable and
// DetectSimdLevel() caches its answer on first use (thread-safe static).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor_type.h"

namespace parapet::engine::cpu {

enum class SimdLevel { kScalar, kAvx2, kAvx512 };

// The best level this CPU and OS support: kAvx2 needs AVX2+FMA+F16C, kAvx512 needs AVX-512
// F/BW/VL/DQ (the AVX-512 integer kernels also use VNNI where present). The environment variable
// PARAPET_SIMD=scalar|avx2|avx512 caps the result (it never raises it). Computed once.
SimdLevel DetectSimdLevel();
const char* SimdLevelName(SimdLevel level);  // "scalar", "avx2", "avx512"

struct VecDotKernel {
  // The format activations must be in: RowBytes(act_type, n) bytes per row.
  TensorType act_type;
  // Converts `n` floats into one activation row at `dst` (ggml's from_float for act_type).
  void (*quantize_act)(const float* x, void* dst, int64_t n);
  // out[j] = dot(w_row, activation row j) for j in [0, n_act); activation row j starts at
  // act + j * act_stride. `n` is the row length in elements; w_row is one row of the weight type.
  // Activation rows must come from quantize_act (the integer kernels rely on its quants lying
  // in [-127, 127]). REQUIRES: n a multiple of the weight type's block size (32 or 256 for
  // quantised types), n_act >= 1; pointers aligned for the element / block type (2 bytes for
  // fp16-scaled blocks, F16 and BF16; 4 for F32 and Q8_K). Vector loads are unaligned.
  void (*dot)(int64_t n, const void* w_row, const void* act, size_t act_stride, int n_act,
              float* out);
  // Several weight rows at once: out[j * out_stride + i] = dot(weight row i, activation row j)
  // for i in [0, n_rows), j in [0, n_act); weight row i starts at w + i * w_stride. Sharing the
  // activation loads and conversions over the rows makes it faster than n_rows calls of `dot`
  // where a type has its own (nullptr where it has none: callers then loop over `dot`).
  // REQUIRES: as for `dot`, and n_rows in [1, kMaxDotRows].
  void (*dot_rows)(int64_t n, const void* w, size_t w_stride, int n_rows, const void* act,
                   size_t act_stride, int n_act, float* out, size_t out_stride) = nullptr;
};

// The most weight rows one `dot_rows` call takes.
inline constexpr int kMaxDotRows = 4;

// Whether GetVecDotKernel accepts `weight_type` (F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K).
bool VecDotSupports(TensorType weight_type);

// The kernel for `weight_type` at DetectSimdLevel(). REQUIRES: VecDotSupports(weight_type).
const VecDotKernel& GetVecDotKernel(TensorType weight_type);
// The kernel at `level`, for tests and benchmarks.
// REQUIRES: VecDotSupports(weight_type), the CPU supports `level` (any level up to
// DetectSimdLevel() does).
const VecDotKernel& GetVecDotKernel(TensorType weight_type, SimdLevel level);

}  // namespace parapet::engine::cpu
