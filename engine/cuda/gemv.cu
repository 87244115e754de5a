// Quantised GEMV kernels (gemv.cuh). Each weight type decodes one 16-byte chunk of a row at a
// time (DotChunk); the kernel spreads a row's chunks over the 32 lanes of a warp, keeps kN
// activation rows' partial sums in registers and reduces them across the warp at the end.
// Block layouts are in engine/quants.h and engine/cuda/device_layout.h.
#include <cuda_fp16.h>

#include "engine/cuda/gemv.cuh"
#include "engine/cuda/launch_config.h"

namespace parapet::engine::cuda {
namespace {

// TensorType values (engine/tensor_type.h).
enum : int {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30
};

__device__ __forceinline__ int4 Load16(const void* p) {
  return __ldg(reinterpret_cast<const int4*>(p));
}
__device__ __forceinline__ float Half(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ int Dot4(int4 w, int4 x, int acc) {
  acc = __dp4a(w.x, x.x, acc);
  acc = __dp4a(w.y, x.y, acc);
  acc = __dp4a(w.z, x.z, acc);
  return __dp4a(w.w, x.w, acc);
}
__device__ __forceinline__ int4 Map4(int4 v, unsigned shift, unsigned mask) {
  return int4{static_cast<int>((static_cast<unsigned>(v.x) >> shift) & mask),
              static_cast<int>((static_cast<unsigned>(v.y) >> shift) & mask),
              static_cast<int>((static_cast<unsigned>(v.z) >> shift) & mask),
              static_cast<int>((static_cast<unsigned>(v.w) >> shift) & mask)};
}
__device__ __forceinline__ int4 Or4(int4 a, int4 b) {
  return int4{a.x | b.x, a.y | b.y, a.z | b.z, a.w | b.w};
}
__device__ __forceinline__ int4 Shl4(int4 a, int s) {
  return int4{a.x << s, a.y << s, a.z << s, a.w << s};
}
__device__ __forceinline__ int4 Sub32(int4 a) {  // per byte q - 32 (q in [0, 63])
  return int4{
      static_cast<int>(__vsubss4(a.x, 0x20202020)), static_cast<int>(__vsubss4(a.y, 0x20202020)),
      static_cast<int>(__vsubss4(a.z, 0x20202020)), static_cast<int>(__vsubss4(a.w, 0x20202020))};
}
__device__ __forceinline__ float2 Scale(const float* xd, int64_t block) {
  return __ldg(reinterpret_cast<const float2*>(xd) + block);
}

// Activation rows of one block: element offsets of kN rows into the float rows (x) or the int8
// rows (q) with their per-32 (scale, scale * sum) pairs (d, 16 floats per 256 elements).
template <int kN>
struct Acts {
  const float* x;
  const int8_t* q;
  const float* d;
  int64_t off[kN];
};

// Q4_K / Q5_K sub-block scale and min (engine/quants.h UnpackScaleMinK4).
__device__ __forceinline__ void ScaleMinK4(const uint8_t* s, int j, float* sc, float* m) {
  if (j < 4) {
    *sc = static_cast<float>(__ldg(s + j) & 63);
    *m = static_cast<float>(__ldg(s + j + 4) & 63);
  } else {
    *sc = static_cast<float>((__ldg(s + j + 4) & 0xF) | ((__ldg(s + j - 4) >> 6) << 4));
    *m = static_cast<float>((__ldg(s + j + 4) >> 4) | ((__ldg(s + j) >> 6) << 4));
  }
}

// ---- one 16-byte chunk per type: acc[j] += (chunk's weights) · (activation row j) ----

template <int kType, int kN>
__device__ __forceinline__ void DotChunk(const uint8_t* wq, const uint16_t* wd, int64_t c,
                                         const Acts<kN>& a, float* acc) {
  if constexpr (kType == kF32) {
    const float4 w = __ldg(reinterpret_cast<const float4*>(wq) + c);
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const float4 x = __ldg(reinterpret_cast<const float4*>(a.x + a.off[j]) + c);
      acc[j] += w.x * x.x + w.y * x.y + w.z * x.z + w.w * x.w;
    }
  } else if constexpr (kType == kF16 || kType == kBF16) {
    const int4 w = Load16(wq + 16 * c);
    float f[8];
    const unsigned u[4] = {static_cast<unsigned>(w.x), static_cast<unsigned>(w.y),
                           static_cast<unsigned>(w.z), static_cast<unsigned>(w.w)};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (kType == kF16) {
        f[2 * i] = Half(static_cast<uint16_t>(u[i] & 0xFFFF));
        f[2 * i + 1] = Half(static_cast<uint16_t>(u[i] >> 16));
      } else {
        f[2 * i] = __uint_as_float(u[i] << 16);
        f[2 * i + 1] = __uint_as_float(u[i] & 0xFFFF0000u);
      }
    }
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const float4 x0 = __ldg(reinterpret_cast<const float4*>(a.x + a.off[j]) + 2 * c);
      const float4 x1 = __ldg(reinterpret_cast<const float4*>(a.x + a.off[j]) + 2 * c + 1);
      acc[j] += f[0] * x0.x + f[1] * x0.y + f[2] * x0.z + f[3] * x0.w + f[4] * x1.x + f[5] * x1.y +
                f[6] * x1.z + f[7] * x1.w;
    }
  } else if constexpr (kType == kQ8_0) {
    // 16 int8 quants: elements 16c .. 16c+15 of block c/2.
    const int4 w = Load16(wq + 16 * c);
    const float dw = Half(__ldg(wd + c / 2));
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const int s = Dot4(w, Load16(a.q + a.off[j] + 16 * c), 0);
      acc[j] += dw * Scale(a.d + a.off[j] / 16, c / 2).x * static_cast<float>(s);
    }
  } else if constexpr (kType == kQ4_0) {
    // Block c: low nibbles are elements 0..15, high nibbles 16..31; x = d * (q - 8).
    const int4 w = Load16(wq + 16 * c);
    const int4 lo = Map4(w, 0, 0x0F0F0F0F);
    const int4 hi = Map4(w, 4, 0x0F0F0F0F);
    const float dw = Half(__ldg(wd + c));
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const int s = Dot4(hi, Load16(a.q + a.off[j] + 32 * c + 16),
                         Dot4(lo, Load16(a.q + a.off[j] + 32 * c), 0));
      const float2 xs = Scale(a.d + a.off[j] / 16, c);
      acc[j] += dw * (xs.x * static_cast<float>(s) - 8.0f * xs.y);
    }
  } else if constexpr (kType == kQ4_K || kType == kQ5_K) {
    // Chunk cc of block kb: qs bytes 16cc .. 16cc+15 = elements l0 .. l0+15 of sub-blocks 2i
    // (low nibbles) and 2i+1 (high nibbles).
    constexpr int kBlock = kType == kQ4_K ? 144 : 176;
    constexpr int kQs = kType == kQ4_K ? 16 : 48;
    const int64_t kb = c >> 3;
    const int cc = static_cast<int>(c & 7);
    const int i = cc >> 1;
    const int l0 = (cc & 1) * 16;
    const uint8_t* blk = wq + kb * kBlock;
    const int4 w = Load16(blk + kQs + 16 * cc);
    int4 lo = Map4(w, 0, 0x0F0F0F0F);
    int4 hi = Map4(w, 4, 0x0F0F0F0F);
    if constexpr (kType == kQ5_K) {
      const int4 h = Load16(blk + 16 + l0);
      lo = Or4(lo, Shl4(Map4(h, 2 * i, 0x01010101), 4));
      hi = Or4(hi, Shl4(Map4(h, 2 * i + 1, 0x01010101), 4));
    }
    const uint32_t dd = __ldg(reinterpret_cast<const uint32_t*>(blk));
    const float d = Half(static_cast<uint16_t>(dd & 0xFFFF));
    const float dmin = Half(static_cast<uint16_t>(dd >> 16));
    float sc0, m0, sc1, m1;
    ScaleMinK4(blk + 4, 2 * i, &sc0, &m0);
    ScaleMinK4(blk + 4, 2 * i + 1, &sc1, &m1);
    const int64_t col = kb * 256 + 64 * i + l0;
    const int64_t xb = kb * 8 + 2 * i;  // x block of sub-block 2i
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const int s0 = Dot4(lo, Load16(a.q + a.off[j] + col), 0);
      const int s1 = Dot4(hi, Load16(a.q + a.off[j] + col + 32), 0);
      const float2 x0 = Scale(a.d + a.off[j] / 16, xb);
      const float2 x1 = Scale(a.d + a.off[j] / 16, xb + 1);
      float v = d * (sc0 * x0.x * static_cast<float>(s0) + sc1 * x1.x * static_cast<float>(s1));
      if (l0 == 0) v -= dmin * (m0 * x0.y + m1 * x1.y);  // the mins once per sub-block
      acc[j] += v;
    }
  } else if constexpr (kType == kQ6_K) {
    // Repacked block (208 B: ql[128], qh[64], scales[16]) + d apart. Chunk cc covers ql bytes
    // 64h + off .. +15: elements l0+t+32k of half h for k = klo (low nibble), khi (high).
    const int64_t kb = c >> 3;
    const int cc = static_cast<int>(c & 7);
    const int h = cc >> 2;
    const int off = (cc & 3) * 16;
    const int l0 = off & 31;
    const int klo = off >> 5;  // 0 or 1
    const int khi = klo + 2;
    const uint8_t* blk = wq + kb * 208;
    const int4 ql = Load16(blk + 64 * h + off);
    const int4 qh = Load16(blk + 128 + 32 * h + l0);
    const int4 lo = Sub32(Or4(Map4(ql, 0, 0x0F0F0F0F), Shl4(Map4(qh, 2 * klo, 0x03030303), 4)));
    const int4 hi = Sub32(Or4(Map4(ql, 4, 0x0F0F0F0F), Shl4(Map4(qh, 2 * khi, 0x03030303), 4)));
    const auto* scales = reinterpret_cast<const int8_t*>(blk + 192);
    const float d = Half(__ldg(wd + kb));
    const float sc_lo = d * static_cast<float>(__ldg(scales + 8 * h + l0 / 16 + 2 * klo));
    const float sc_hi = d * static_cast<float>(__ldg(scales + 8 * h + l0 / 16 + 2 * khi));
    const int64_t base = kb * 256 + 128 * h + l0;
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const int s_lo = Dot4(lo, Load16(a.q + a.off[j] + base + 32 * klo), 0);
      const int s_hi = Dot4(hi, Load16(a.q + a.off[j] + base + 32 * khi), 0);
      const float2 x_lo = Scale(a.d + a.off[j] / 16, kb * 8 + 4 * h + klo);
      const float2 x_hi = Scale(a.d + a.off[j] / 16, kb * 8 + 4 * h + khi);
      acc[j] +=
          sc_lo * x_lo.x * static_cast<float>(s_lo) + sc_hi * x_hi.x * static_cast<float>(s_hi);
    }
  }
}

// ---- the kernel ----

template <int kType, int kN>
__global__ void __launch_bounds__(kGemvWarps * 32) GemvKernel(GemvArgs a) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  if (row >= a.rows) return;
  const int64_t g = blockIdx.y;
  int64_t mat = a.mat;
  int64_t begin = g * kN;
  int64_t end = a.n;
  const bool sorted = a.perm != nullptr && a.ids == nullptr;
  if (a.ids != nullptr) {
    mat = a.ids[g];
  } else if (sorted) {
    const GroupSlice s = GroupOf(g, a.groups_per_expert, a.offsets, kN);
    mat = s.expert;
    begin = s.begin;
    end = a.offsets[s.expert + 1];
  }
  const int cnt = static_cast<int>(min(static_cast<int64_t>(kN), end - begin));
  if (cnt <= 0) return;
  int64_t out_row[kN];
  Acts<kN> acts{a.x, a.xq, a.xd, {}};
#pragma unroll
  for (int j = 0; j < kN; ++j) {
    const int64_t i = begin + (j < cnt ? j : 0);  // rows past cnt repeat row 0, unwritten
    const int64_t p = sorted ? a.perm[i] : i;
    const int64_t xr = p / a.x_div;
    out_row[j] = p;
    acts.off[j] = xr * a.cols;
  }
  const uint8_t* wq = a.wq + (mat * a.rows + row) * a.q_row_bytes;
  const uint16_t* wd = a.wd != nullptr ? a.wd + (mat * a.rows + row) * a.d_row_elems : nullptr;
  float acc[kN];
#pragma unroll
  for (int j = 0; j < kN; ++j) acc[j] = 0.0f;
#pragma unroll(kN == 1 ? 4 : 1)
  for (int64_t c = lane; c < a.n_chunks; c += 32) DotChunk<kType, kN>(wq, wd, c, acts, acc);
#pragma unroll
  for (int j = 0; j < kN; ++j) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc[j] += __shfl_xor_sync(0xFFFFFFFFu, acc[j], o);
  }
  if (lane == 0) {
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      if (j < cnt) a.y[out_row[j] * a.rows + row] = acc[j];
    }
  }
}

template <int kType>
cudaError_t LaunchType(const GemvArgs& a, cudaStream_t stream) {
  const bool grouped = a.perm != nullptr && a.ids == nullptr;
  if (a.ids != nullptr && a.rows_per_block != 1) return cudaErrorInvalidValue;
  const Grid2 grid = grouped ? GroupedGemvGrid(a.rows, a.groups_per_expert * a.rows_per_block,
                                               a.n_expert, a.rows_per_block)
                             : GemvGrid(a.rows, a.n, a.rows_per_block);
  if (grid.x == 0 || grid.y == 0) return cudaSuccess;
  if (grid.y > kMaxGridY || grid.x > 0x7FFFFFFF) return cudaErrorInvalidConfiguration;
  const dim3 blocks(static_cast<unsigned>(grid.x), static_cast<unsigned>(grid.y));
  if (a.rows_per_block == 1) {
    GemvKernel<kType, 1><<<blocks, kGemvWarps * 32, 0, stream>>>(a);
  } else {
    GemvKernel<kType, kGemvMaxRows><<<blocks, kGemvWarps * 32, 0, stream>>>(a);
  }
  return cudaGetLastError();
}

// ---- activation quantisation ----

// One warp per 32-element block: scale = amax / 127, q = round(x / scale).
// With `up`, quantises silu(x) * up instead (SwiGLU fused, rounding as the SwiGlu kernel).
__global__ void QuantizeKernel(const float* x, const float* up, int64_t n_blocks, int8_t* xq,
                               float* xd) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  if (b >= n_blocks) return;
  const int lane = static_cast<int>(threadIdx.x & 31);
  float v = x[b * 32 + lane];
  if (up != nullptr) v = __fmul_rn(v / (1.0f + expf(-v)), up[b * 32 + lane]);
  float amax = fabsf(v);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, o));
  const float d = amax / 127.0f;
  const int q = amax == 0.0f ? 0 : __float2int_rn(v / d);
  int sum = q;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
  xq[b * 32 + lane] = static_cast<int8_t>(q);
  if (lane == 0) {
    xd[2 * b] = d;
    xd[2 * b + 1] = d * static_cast<float>(sum);
  }
}

}  // namespace

cudaError_t LaunchGemv(const GemvArgs& a, cudaStream_t stream) {
  switch (a.type) {
    case kF32:
      return LaunchType<kF32>(a, stream);
    case kF16:
      return LaunchType<kF16>(a, stream);
    case kBF16:
      return LaunchType<kBF16>(a, stream);
    case kQ8_0:
      return LaunchType<kQ8_0>(a, stream);
    case kQ4_0:
      return LaunchType<kQ4_0>(a, stream);
    case kQ4_K:
      return LaunchType<kQ4_K>(a, stream);
    case kQ5_K:
      return LaunchType<kQ5_K>(a, stream);
    case kQ6_K:
      return LaunchType<kQ6_K>(a, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchQuantizeActivations(const float* x, const float* up, int64_t n, int64_t cols,
                                      int8_t* xq, float* xd, cudaStream_t stream) {
  const int64_t n_blocks = n * cols / 32;
  if (n_blocks == 0) return cudaSuccess;
  constexpr int kWarps = 8;
  QuantizeKernel<<<static_cast<unsigned>((n_blocks + kWarps - 1) / kWarps), kWarps * 32, 0,
                   stream>>>(x, up, n_blocks, xq, xd);
  return cudaGetLastError();
}

}  // namespace parapet::engine::cuda
