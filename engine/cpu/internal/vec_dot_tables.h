// The per-instruction-set kernel tables behind engine/cpu/vec_dot.h, and the pieces they share.
// Internal to engine/cpu (tests may include it to reach a specific variant). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/cpu/vec_dot.h"

namespace parapet::engine::cpu::internal {

// Each returns the level's kernel for `weight_type`, or nullptr where it has none (unsupported
// type, or a level not compiled for this architecture).
const VecDotKernel* ScalarKernel(TensorType weight_type);
const VecDotKernel* Avx2Kernel(TensorType weight_type);
const VecDotKernel* Avx512Kernel(TensorType weight_type);
// The quantised-type parts of the AVX-512 table, built without and with VNNI
// (vec_dot_q_avx512.cc, vec_dot_q_avx512vnni.cc).
const VecDotKernel* Avx512QuantKernel(TensorType weight_type);
const VecDotKernel* Avx512VnniKernel(TensorType weight_type);
// The K-quant parts of the AVX2 table (vec_dot_kquants_avx2.cc).
const VecDotKernel* Avx2KQuantKernel(TensorType weight_type);

// Whether the CPU has AVX-512 VNNI (used by GetVecDotKernel at kAvx512).
bool CpuHasAvx512Vnni();

// Activation converters shared by all levels (engine/quants.h QuantizeActivationRow).
void QuantizeActF32(const float* x, void* dst, int64_t n);
void QuantizeActF16(const float* x, void* dst, int64_t n);
void QuantizeActBf16(const float* x, void* dst, int64_t n);
void QuantizeActQ8_0(const float* x, void* dst, int64_t n);
void QuantizeActQ8_K(const float* x, void* dst, int64_t n);

// Runs Kernel::Run<R>(n, w_row, act_rows, act_stride, out) over all n_act activation rows in
// groups of kMaxRows (the last group smaller), so one unpacked weight block serves R rows.
template <typename Kernel, int kMaxRows>
void DotInGroups(int64_t n, const void* w_row, const void* act, size_t act_stride, int n_act,
                 float* out) {
  const auto* a = static_cast<const uint8_t*>(act);
  int r = 0;
  for (; r + kMaxRows <= n_act; r += kMaxRows) {
    Kernel::template Run<kMaxRows>(n, w_row, a + r * act_stride, act_stride, out + r);
  }
  const int left = n_act - r;
  if (left == 0) return;
  a += r * act_stride;
  out += r;
  if constexpr (kMaxRows > 4) {
    if (left >= 4) {
      Kernel::template Run<4>(n, w_row, a, act_stride, out);
      if (left == 4) return;
      a += 4 * act_stride;
      out += 4;
      return DotInGroups<Kernel, 3>(n, w_row, a, act_stride, left - 4, out);
    }
  }
  switch (left) {
    case 3:
      return Kernel::template Run<3>(n, w_row, a, act_stride, out);
    case 2:
      return Kernel::template Run<2>(n, w_row, a, act_stride, out);
    default:
      return Kernel::template Run<1>(n, w_row, a, act_stride, out);
  }
}

// Runs Kernel::RunRows<W, R>(n, w, w_stride, act_rows, act_stride, out, out_stride) for n_rows
// weight rows (W = n_rows <= kMaxDotRows) over all n_act activation rows in groups of at most
// kMaxActRows (the last group smaller): the VecDotKernel::dot_rows entry point.
template <typename Kernel, int kMaxActRows, int W = kMaxDotRows>
void DotRowsInGroups(int64_t n, const void* w, size_t w_stride, int n_rows, const void* act,
                     size_t act_stride, int n_act, float* out, size_t out_stride) {
  if constexpr (W > 1) {
    if (n_rows < W) {
      return DotRowsInGroups<Kernel, kMaxActRows, W - 1>(n, w, w_stride, n_rows, act, act_stride,
                                                         n_act, out, out_stride);
    }
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* a = static_cast<const uint8_t*>(act);
  int r = 0;
  for (; r + kMaxActRows <= n_act; r += kMaxActRows) {
    Kernel::template RunRows<W, kMaxActRows>(n, wb, w_stride, a + r * act_stride, act_stride,
                                             out + r * out_stride, out_stride);
  }
  a += r * act_stride;
  out += r * out_stride;
  switch (n_act - r) {
    case 0:
      return;
    case 1:
      return Kernel::template RunRows<W, 1>(n, wb, w_stride, a, act_stride, out, out_stride);
    case 2:
      if constexpr (kMaxActRows > 2) {
        return Kernel::template RunRows<W, 2>(n, wb, w_stride, a, act_stride, out, out_stride);
      }
      break;
    default:
      if constexpr (kMaxActRows > 3) {
        return Kernel::template RunRows<W, 3>(n, wb, w_stride, a, act_stride, out, out_stride);
      }
      break;
  }
}

}  // namespace parapet::engine::cpu::internal
