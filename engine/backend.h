// Backend: the numeric operations a forward pass needs, implemented per device (engine/cpu/ and,
// when built with CUDA, engine/cuda/). The model's structure (layer order, residuals, when to
// route, sampling) lives in engine/model.cc and is written once; backends only do numbers. No
// device types appear here.
//
// Memory: activation buffers (Buffer), KV caches (NewKvCache) and uploaded weights live in the
// backend's memory space (host memory for the CPU backend, device memory for CUDA); pointers into
// it are only dereferenced by the backend. Host data enters through Write and the ops that take
// host spans (token ids, positions, row lists); results leave through Read. Weights are named by
// their host WeightTensor / host float pointer and must be registered once with UploadTensor /
// UploadVector before an op uses them. Shapes are [rows, cols] with cols contiguous.
//
// Steps: Model::Forward brackets each batch with BeginStep / EndStep. A backend may record the
// operations of a step and replay them for later steps with the same key (the CUDA backend
// captures a CUDA graph), so within a step every op's launch parameters must depend only on the
// key; per-step data (ids, positions, caches) must come through the host spans of the ops.
// Errors: ops return nothing; the first device error is kept and returned by EndStep and Read
// (and by every later call: a device fault leaves the state unknown, so it sticks).
// Thread-safety: a Backend instance runs one operation at a time (it may use its own threads
// inside an operation); the caller serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
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

// The merged expert weights of one MoE layer (n_mats = n_expert each).
struct ExpertWeights {
  const WeightTensor* gate = nullptr;  // [n_embd -> n_ff] x n_expert
  const WeightTensor* up = nullptr;    // [n_embd -> n_ff] x n_expert
  const WeightTensor* down = nullptr;  // [n_ff -> n_embd] x n_expert
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory ----

  // A scratch buffer of at least `bytes` in the backend's memory, one per `slot` (< 64). The
  // contents are undefined; the pointer stays valid until the next Buffer call for the same slot
  // with a larger size.
  virtual void* Buffer(int slot, size_t bytes) = 0;
  // A KV cache for one sequence, its storage in the backend's memory.
  virtual std::unique_ptr<KvCache> NewKvCache(int32_t n_layer, int32_t n_embd_kv,
                                              int32_t n_ctx) = 0;
  // Makes `w` (or the n floats at `v`) usable by the ops; call once per weight before use (a
  // second call for the same host address replaces the first). The host data must stay valid
  // while the backend lives (the CPU backend reads it in place).
  virtual Status UploadTensor(const WeightTensor& w) = 0;
  virtual Status UploadVector(const float* v, int64_t n) = 0;
  // Copies `bytes` from host memory into backend memory at `dst` (ordered with the ops).
  virtual void Write(void* dst, const void* host_src, size_t bytes) = 0;
  // Waits for the ops so far and copies `bytes` at `src` into host memory.
  virtual Status Read(void* host_dst, const void* src, size_t bytes) = 0;
  // Copies the keys and values of positions [0, n) of every layer from `from` into `to` (both
  // made by this backend's NewKvCache, with equal n_layer and n_embd_kv), ordered with the ops:
  // a later step sees them. Leaves n_past to the caller. Outside a step only (never between
  // BeginStep and EndStep: a replayed step must not contain it). Errors: ResourceExhausted when
  // a cache has no storage (the device had no memory for it); the backend's sticky error.
  // REQUIRES: 0 <= n <= min(from.n_ctx(), to.n_ctx()).
  virtual Status CopyKvPositions(const KvCache& from, KvCache& to, int32_t n) = 0;

  // ---- steps ----

  // Starts a step; `key` != 0 marks steps whose op sequence and launch parameters are equal for
  // equal keys (so the backend may replay them); 0 = never replay.
  virtual void BeginStep(uint64_t key) = 0;
  // Runs / finishes the step's ops and waits for them. Returns the first error.
  virtual Status EndStep() = 0;

  // ---- ops ----

  // x[i] = row tokens[i] of `table`, dequantised: x is [n, table.cols].
  virtual void Embed(const WeightTensor& table, std::span<const int32_t> tokens, float* x) = 0;

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

  // y[j] = x[rows[j]] for rows of `dim` floats (y must not overlap x).
  virtual void GatherRows(const float* x, std::span<const int32_t> rows, int64_t dim, float* y) = 0;

  // MoE routing of n tokens: p = softmax(logits[i]) over n_expert, the k most probable experts
  // (ties to the lower index) in descending order to ids[i*k + j], their probabilities
  // renormalised over the k to weights[i*k + j]. ids/weights are in backend memory.
  virtual void Route(const float* logits, int64_t n, int32_t n_expert, int32_t k, int32_t* ids,
                     float* weights) = 0;

  // The routed expert FFN, added to out: out[i] += f[i] where f[i] = the sum over j < k, in
  // ascending expert order, of weights[i*k+j] * down_e(silu(gate_e · x[i]) * (up_e · x[i]))
  // with e = ids[i*k+j] (f summed first, then added). x and out are [n, n_embd], distinct;
  // ids/weights as written by Route.
  virtual void MoeFfn(const ExpertWeights& w, const float* x, const int32_t* ids,
                      const float* weights, int64_t n, int32_t k, float* out) = 0;
};

// The CPU backend with `n_threads` threads (>= 1).
std::unique_ptr<Backend> NewCpuBackend(int n_threads);

// The backend called `name` ("cpu", or "cuda" when built with CUDA and a device is usable).
// Errors: InvalidArgument for an unknown or not-built backend, Unavailable when the device
// cannot be used (the message says why).
Result<std::unique_ptr<Backend>> NewBackend(const std::string& name, int n_threads);

// Names of the backends this build contains, e.g. "cpu, cuda".
std::string BuiltBackends();

}  // namespace parapet::engine
