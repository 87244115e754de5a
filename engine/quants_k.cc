// Reference (de)quantisers of the K-quant formats (Q4_K, Q5_K, Q6_K). The quantisers reproduce
// ggml's quantize_row_q{4,5,6}_K_ref step by step, including its least-squares search for each
// sub-block's scale and min, so that their output matches llama-quantize's byte for byte. Float
// expressions are written in ggml's evaluation order and compiled with -ffp-contract=off; do not
// "simplify" them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/internal/quants_k.h"

namespace parapet::engine::internal {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// ---- scale searches ----

// Asymmetric fit for Q4_K / Q5_K sub-blocks (ggml's make_qkx2_quants, use_mad = false): finds
// scale and min so that x ~= scale * L - min with L in [0, nmax], minimising the weighted squared
// error over nstep + 1 candidate scales. Writes L, stores min (>= 0) in *the_min and returns scale.
float FitScaleMin(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                  float rmin, float rdelta, int nstep) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(NearestInt(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  uint8_t trial[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const auto lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;  // written so that NaN skips, as in ggml
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float cur_error = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * trial[i] + this_min - x[i];
      cur_error += weights[i] * (diff * diff);
    }
    if (cur_error < best_error) {
      std::copy(trial, trial + n, L);
      best_error = cur_error;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

// Symmetric fit for Q6_K sub-blocks (ggml's make_qx_quants with rmse_type 1, no importance
// weights): x ~= scale * (L - nmax), L in [0, 2*nmax), weights x^2, 19 candidate scales.
float FitScale(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  auto quant = [nmax](float v) { return std::clamp(NearestInt(v), -nmax, nmax - 1); };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = quant(iscale * x[i]);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const auto l = static_cast<float>(quant(iscale * x[i]));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + quant(iscale * x[i]));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// ---- Q4_K / Q5_K shared steps ----

// Quantises the 8 sub-block scales and mins of one block to 6 bits, packs them and sets d, dmin.
// Then requantises x against the rounded scales into L (values 0..nmax).
template <typename Block>
void PackScalesAndRequantise(const float* x, const float* scales, const float* mins, int nmax,
                             Block* y, uint8_t* L) {
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(y->scales, 0, sizeof y->scales);
  for (int j = 0; j < 8; ++j) {
    // The uint8_t wrap of a (never expected) negative value is ggml's behaviour too.
    const uint8_t ls =
        std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_min * mins[j])));
    if (j < 4) {
      y->scales[j] = ls;
      y->scales[j + 4] = lm;
    } else {
      y->scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      y->scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      y->scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  y->d = Fp32ToFp16(max_scale / 63.f);
  y->dmin = Fp32ToFp16(max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    UnpackScaleMinK4(j, y->scales, &sc, &m);
    const float d = Fp16ToFp32(y->d) * sc;
    if (d == 0) continue;  // keeps the search's L, as ggml does
    const float dm = Fp16ToFp32(y->dmin) * m;
    for (int i = 0; i < 32; ++i) {
      L[32 * j + i] =
          static_cast<uint8_t>(std::clamp(NearestInt((x[32 * j + i] + dm) / d), 0, nmax));
    }
  }
}

// Fits all 8 sub-blocks of one 256-element block: scales[j], mins[j] and L.
void FitSubBlocks(const float* x, int nmax, float rmin, float rdelta, int nstep, float* scales,
                  float* mins, uint8_t* L) {
  float weights[32];
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int i = 0; i < 32; ++i) sum_x2 += xs[i] * xs[i];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int i = 0; i < 32; ++i) weights[i] = av_x + std::fabs(xs[i]);
    scales[j] = FitScaleMin(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, rdelta, nstep);
  }
}

template <typename Block>
void DequantizeK4Or5(const Block& b, const uint8_t* qh, float* y) {
  const float d = Fp16ToFp32(b.d);
  const float min = Fp16ToFp32(b.dmin);
  for (int c = 0; c < 4; ++c) {  // 64-element chunks: sub-blocks 2c (low nibbles) and 2c+1
    const uint8_t* q = b.qs + 32 * c;
    for (int half = 0; half < 2; ++half) {
      uint8_t sc, m;
      UnpackScaleMinK4(2 * c + half, b.scales, &sc, &m);
      const float dl = d * sc;
      const float ml = min * m;
      const int shift = 4 * half;
      for (int l = 0; l < 32; ++l) {
        int v = (q[l] >> shift) & 0xF;
        if (qh != nullptr && (qh[l] >> (2 * c + half) & 1) != 0) v += 16;
        *y++ = dl * static_cast<float>(v) - ml;
      }
    }
  }
}

}  // namespace

// ---- Q4_K ----

void DequantizeQ4_K(const BlockQ4_K* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) DequantizeK4Or5(src[i], nullptr, dst + i * kQK_K);
}

void QuantizeQ4_K(const float* src, BlockQ4_K* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    uint8_t L[kQK_K];
    float scales[8], mins[8];
    FitSubBlocks(x, 15, -1.f, 0.1f, 20, scales, mins, L);
    PackScalesAndRequantise(x, scales, mins, 15, &dst[i], L);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        dst[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + l + 32] << 4));
      }
    }
  }
}

// ---- Q5_K ----

void DequantizeQ5_K(const BlockQ5_K* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) DequantizeK4Or5(src[i], src[i].qh, dst + i * kQK_K);
}

void QuantizeQ5_K(const float* src, BlockQ5_K* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    uint8_t L[kQK_K];
    float scales[8], mins[8];
    FitSubBlocks(x, 31, -0.5f, 0.1f, 15, scales, mins, L);
    BlockQ5_K& y = dst[i];
    PackScalesAndRequantise(x, scales, mins, 31, &y, L);
    std::memset(y.qh, 0, sizeof y.qh);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * c + l];
        const int hi = L[64 * c + l + 32];
        y.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        y.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      }
    }
  }
}

// ---- Q6_K ----

void DequantizeQ6_K(const BlockQ6_K* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ6_K& b = src[i];
    const float d = Fp16ToFp32(b.d);
    float* y = dst + i * kQK_K;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        for (int k = 0; k < 4; ++k) {
          const int low = (ql[l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
          const int q = (low | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
          y[128 * h + 32 * k + l] =
              d * static_cast<float>(sc[l / 16 + 2 * k]) * static_cast<float>(q);
        }
      }
    }
  }
}

void QuantizeQ6_K(const float* src, BlockQ6_K* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    BlockQ6_K& y = dst[i];
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = FitScale(16, 32, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    std::memset(&y, 0, sizeof y);
    if (max_abs_scale < kGroupMaxEps) continue;  // all-zero block: d = 0
    const float iscale = -128.f / max_scale;
    y.d = Fp32ToFp16(1 / iscale);
    for (int g = 0; g < 16; ++g) {
      y.scales[g] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[g])));
    }
    for (int g = 0; g < 16; ++g) {
      const float d = Fp16ToFp32(y.d) * y.scales[g];
      if (d == 0) continue;  // keeps the search's L, as ggml does
      for (int j = 0; j < 16; ++j) {
        L[16 * g + j] =
            static_cast<int8_t>(std::clamp(NearestInt(x[16 * g + j] / d), -32, 31) + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q[4] = {Lh[l], Lh[l + 32], Lh[l + 64], Lh[l + 96]};
        y.ql[64 * h + l] = static_cast<uint8_t>((q[0] & 0xF) | ((q[2] & 0xF) << 4));
        y.ql[64 * h + l + 32] = static_cast<uint8_t>((q[1] & 0xF) | ((q[3] & 0xF) << 4));
        y.qh[32 * h + l] = static_cast<uint8_t>((q[0] >> 4) | ((q[1] >> 4) << 2) |
                                                ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6));
      }
    }
  }
}

}  // namespace parapet::engine::internal
