// Backend: the numeric operations a forward pass needs, implemented per device (engine/cpu/,
// later engine/cuda/). The model's structure (layer order, residuals, router, sampling) lives in
// engine/model.cc and is written once; backends only do numbers. No device types appear here.
//
// Buffers passed to a backend are float32 arrays in the backend's memory space; for the CPU
// backend that is host memory. Shapes are given as [rows, cols] with cols contiguous.
// Thread-safety: a Backend instance runs one operation at a time (it may use its own threads
// inside an operation); the caller serialises calls.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "engine/weights.h"

namespace parapet::engine {

class KvCache;

struct RopeParams {
  int32_t n_rot = 0;  // rotated dims per head (adjacent pairs, llama layout)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;              // linear position scaling
  const float* freq_factors = nullptr;  // optional [n_rot/2] divisors (Llama-3.1 rope_freqs)
};

// One row of a batch for attention: which sequence's cache and which position it occupies.
struct AttentionRow {
  KvCache* kv = nullptr;
  int32_t pos = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // y[i] = W[mat] · x[i] for i in [0, n): x is [n, w.cols], y is [n, w.rows].
  virtual void MatMul(const WeightTensor& w, int64_t mat, const float* x, int64_t n, float* y) = 0;

  // y[i] = x[i] / rms(x[i]) * weight for n rows of `dim`.
  virtual void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                       float* y) = 0;

  // Rotates q [n, n_head*head_dim] and k [n, n_head_kv*head_dim] in place at positions `pos`.
  virtual void Rope(float* q, float* k, std::span<const int32_t> pos, int32_t n_head,
                    int32_t n_head_kv, int32_t head_dim, const RopeParams& params) = 0;

  // Stores k/v rows of `layer` into each row's cache at its position, then computes causal
  // attention for every row over its cache positions [0, pos]: out [n, n_head*head_dim].
  virtual void Attention(int32_t layer, const float* q, const float* k, const float* v,
                         std::span<const AttentionRow> rows, int32_t n_head, int32_t n_head_kv,
                         int32_t head_dim, float* out) = 0;

  // gate[i] = silu(gate[i]) * up[i] for n_elems elements.
  virtual void SwiGlu(float* gate, const float* up, int64_t n_elems) = 0;

  // y[i] += scale * x[i] for n_elems elements.
  virtual void AddScaled(float* y, const float* x, float scale, int64_t n_elems) = 0;
};

// The CPU backend with `n_threads` threads (>= 1).
std::unique_ptr<Backend> NewCpuBackend(int n_threads);

}  // namespace parapet::engine
