// KvCache: one sequence's attention keys and values for every layer, up to `n_ctx` positions.
// Layout per layer: k[pos][n_embd_kv], v[pos][n_embd_kv] (float32), so that appending a token
// writes one contiguous row and attention reads positions in order. The storage is host memory
// (the CPU backend) or memory owned by a backend (device memory for CUDA); k()/v() return
// pointers into it that only that backend dereferences.
// Owned by one sequence; not thread-safe (the forward pass writes it from one batch at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace parapet::engine {

class KvCache {
 public:
  // Host storage.
  KvCache(int32_t n_layer, int32_t n_embd_kv, int32_t n_ctx)
      : n_layer_(n_layer),
        n_embd_kv_(n_embd_kv),
        n_ctx_(n_ctx),
        host_(std::make_unique_for_overwrite<float[]>(2 * Elems(n_layer, n_embd_kv, n_ctx))),
        k_(host_.get()),
        v_(host_.get() + Elems(n_layer, n_embd_kv, n_ctx)) {}
  // Backend storage: `k` and `v` each hold n_layer * n_ctx * n_embd_kv floats and stay valid
  // while `owner` lives.
  KvCache(int32_t n_layer, int32_t n_embd_kv, int32_t n_ctx, float* k, float* v,
          std::shared_ptr<void> owner)
      : n_layer_(n_layer),
        n_embd_kv_(n_embd_kv),
        n_ctx_(n_ctx),
        k_(k),
        v_(v),
        owner_(std::move(owner)) {}
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int32_t n_layer() const { return n_layer_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_embd_kv() const { return n_embd_kv_; }
  // Positions [0, n_past) hold valid entries.
  int32_t n_past() const { return n_past_; }
  void set_n_past(int32_t n) { n_past_ = n; }
  // Forgets everything (the storage is reused).
  void Clear() { n_past_ = 0; }

  float* k(int32_t layer, int32_t pos) { return k_ + Index(layer, pos); }
  float* v(int32_t layer, int32_t pos) { return v_ + Index(layer, pos); }
  const float* k(int32_t layer, int32_t pos) const { return k_ + Index(layer, pos); }
  const float* v(int32_t layer, int32_t pos) const { return v_ + Index(layer, pos); }

  size_t bytes() const { return BytesFor(n_layer_, n_embd_kv_, n_ctx_); }
  // What a cache of this geometry occupies, computed without allocating it.
  static uint64_t BytesFor(int32_t n_layer, int32_t n_embd_kv, int64_t n_ctx) {
    return 2 * sizeof(float) * static_cast<uint64_t>(n_layer) * static_cast<uint64_t>(n_embd_kv) *
           static_cast<uint64_t>(n_ctx);
  }

 private:
  static size_t Elems(int32_t n_layer, int32_t n_embd_kv, int32_t n_ctx) {
    return static_cast<size_t>(n_layer) * static_cast<size_t>(n_ctx) *
           static_cast<size_t>(n_embd_kv);
  }
  size_t Index(int32_t layer, int32_t pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + static_cast<size_t>(pos)) * n_embd_kv_;
  }

  int32_t n_layer_;
  int32_t n_embd_kv_;
  int32_t n_ctx_;
  int32_t n_past_ = 0;
  // Host storage, left uninitialised: only positions below n_past() are ever read, and a large
  // cache's pages are then touched as positions fill instead of all being zeroed at admission
  // (a 4096-position Mixtral-sized cache: 1 GiB). Null for backend storage.
  std::unique_ptr<float[]> host_;
  float* k_;
  float* v_;
  std::shared_ptr<void> owner_;
};

}  // namespace parapet::engine
