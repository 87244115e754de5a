// Dequantisation kernels (dequant.cuh): one thread per 16-byte chunk of a row, decoding it as
// the GEMV kernels do (gemv.cu) and writing the values as fp16.
#include "engine/cuda/dequant.cuh"

namespace parapet::engine::cuda {
namespace {

enum : int { kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30 };

__device__ __forceinline__ float Half(uint16_t h) { return __half2float(__ushort_as_half(h)); }

// Q4_K / Q5_K sub-block scale and min (engine/quants.h UnpackScaleMinK4).
__device__ __forceinline__ void ScaleMin(const uint8_t* s, int j, float* sc, float* m) {
  if (j < 4) {
    *sc = static_cast<float>(s[j] & 63);
    *m = static_cast<float>(s[j + 4] & 63);
  } else {
    *sc = static_cast<float>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<float>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

template <int kType>
__global__ void DequantizeKernel(const uint8_t* wq, const uint16_t* wd, size_t q_row_bytes,
                                 size_t d_row_elems, int64_t rows, int64_t cols, int64_t n_chunks,
                                 __half* w16) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * n_chunks) return;
  const int64_t r = t / n_chunks;
  const int64_t c = t % n_chunks;
  const uint8_t* q = wq + r * q_row_bytes;
  const uint16_t* d = wd != nullptr ? wd + r * d_row_elems : nullptr;
  __half* out = w16 + r * cols;
  if constexpr (kType == kF16 || kType == kBF16) {
    const auto* h = reinterpret_cast<const uint16_t*>(q + 16 * c);
    for (int i = 0; i < 8; ++i) {
      const float v =
          kType == kF16 ? Half(h[i]) : __uint_as_float(static_cast<unsigned>(h[i]) << 16);
      out[8 * c + i] = __float2half_rn(v);
    }
  } else if constexpr (kType == kQ8_0) {
    const auto* qs = reinterpret_cast<const int8_t*>(q + 16 * c);
    const float dw = Half(d[c / 2]);
    for (int i = 0; i < 16; ++i) out[16 * c + i] = __float2half_rn(dw * static_cast<float>(qs[i]));
  } else if constexpr (kType == kQ4_0) {
    const uint8_t* qs = q + 16 * c;
    const float dw = Half(d[c]);
    for (int i = 0; i < 16; ++i) {
      out[32 * c + i] = __float2half_rn(dw * static_cast<float>((qs[i] & 0xF) - 8));
      out[32 * c + 16 + i] = __float2half_rn(dw * static_cast<float>((qs[i] >> 4) - 8));
    }
  } else if constexpr (kType == kQ4_K || kType == kQ5_K) {
    constexpr int kBlock = kType == kQ4_K ? 144 : 176;
    constexpr int kQs = kType == kQ4_K ? 16 : 48;
    const int64_t kb = c >> 3;
    const int cc = static_cast<int>(c & 7);
    const int i = cc >> 1;
    const int l0 = (cc & 1) * 16;
    const uint8_t* blk = q + kb * kBlock;
    const float dd = Half(*reinterpret_cast<const uint16_t*>(blk));
    const float dmin = Half(*reinterpret_cast<const uint16_t*>(blk + 2));
    float sc0, m0, sc1, m1;
    ScaleMin(blk + 4, 2 * i, &sc0, &m0);
    ScaleMin(blk + 4, 2 * i + 1, &sc1, &m1);
    const int64_t col = kb * 256 + 64 * i + l0;
    for (int t2 = 0; t2 < 16; ++t2) {
      const uint8_t b = blk[kQs + 16 * cc + t2];
      int lo = b & 0xF, hi = b >> 4;
      if constexpr (kType == kQ5_K) {
        const uint8_t h = blk[16 + l0 + t2];
        lo |= ((h >> (2 * i)) & 1) << 4;
        hi |= ((h >> (2 * i + 1)) & 1) << 4;
      }
      out[col + t2] = __float2half_rn(dd * sc0 * static_cast<float>(lo) - dmin * m0);
      out[col + 32 + t2] = __float2half_rn(dd * sc1 * static_cast<float>(hi) - dmin * m1);
    }
  } else if constexpr (kType == kQ6_K) {
    const int64_t kb = c >> 3;
    const int cc = static_cast<int>(c & 7);
    const int h = cc >> 2;
    const int off = (cc & 3) * 16;
    const int l0 = off & 31;
    const int klo = off >> 5;
    const int khi = klo + 2;
    const uint8_t* blk = q + kb * 208;
    const auto* scales = reinterpret_cast<const int8_t*>(blk + 192);
    const float dd = Half(d[kb]);
    const float sc_lo = dd * static_cast<float>(scales[8 * h + l0 / 16 + 2 * klo]);
    const float sc_hi = dd * static_cast<float>(scales[8 * h + l0 / 16 + 2 * khi]);
    const int64_t base = kb * 256 + 128 * h + l0;
    for (int t2 = 0; t2 < 16; ++t2) {
      const uint8_t ql = blk[64 * h + off + t2];
      const uint8_t qh = blk[128 + 32 * h + l0 + t2];
      const int lo = ((ql & 0xF) | (((qh >> (2 * klo)) & 3) << 4)) - 32;
      const int hi = ((ql >> 4) | (((qh >> (2 * khi)) & 3) << 4)) - 32;
      out[base + 32 * klo + t2] = __float2half_rn(sc_lo * static_cast<float>(lo));
      out[base + 32 * khi + t2] = __float2half_rn(sc_hi * static_cast<float>(hi));
    }
  }
}

__global__ void ToHalfKernel(const float* x, int64_t n, __half* x16) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x16[i] = __float2half_rn(x[i]);
}

template <int kType>
cudaError_t Launch(const uint8_t* wq, const uint16_t* wd, size_t q_row_bytes, size_t d_row_elems,
                   int64_t rows, int64_t cols, int64_t n_chunks, __half* w16, cudaStream_t stream) {
  const int64_t total = rows * n_chunks;
  if (total == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  DequantizeKernel<kType>
      <<<static_cast<unsigned>((total + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
          wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchDequantize(int type, const uint8_t* wq, const uint16_t* wd, size_t q_row_bytes,
                             size_t d_row_elems, int64_t rows, int64_t cols, int64_t n_chunks,
                             __half* w16, cudaStream_t stream) {
  switch (type) {
    case kF16:
      return Launch<kF16>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kBF16:
      return Launch<kBF16>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kQ8_0:
      return Launch<kQ8_0>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kQ4_0:
      return Launch<kQ4_0>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kQ4_K:
      return Launch<kQ4_K>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kQ5_K:
      return Launch<kQ5_K>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    case kQ6_K:
      return Launch<kQ6_K>(wq, wd, q_row_bytes, d_row_elems, rows, cols, n_chunks, w16, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchToHalf(const float* x, int64_t n, __half* x16, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  ToHalfKernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(x, n,
                                                                                              x16);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
