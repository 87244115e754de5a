// Model: a loaded Llama-architecture model (dense or Mixtral-style MoE) ready to run. Owns the
// memory-mapped GGUF file, its ModelConfig, Weights, Tokenizer and a compute Backend, and
// implements the forward pass once for every backend:
//   x = embed(token)
//   per layer: h = x + Wo·Attn(RoPE(Wq·n), RoPE(Wk·n), Wv·n) with n = RmsNorm(x)
//              x = h + FFN(RmsNorm(h)), FFN = down(silu(gate·) * up·) or, for MoE, the
//              router-weighted sum over the top-k experts (softmax -> top-k -> renormalise)
//   logits = Wout·RmsNorm(x)
// Thread-safety: Load() and the const accessors are thread-safe; Forward() is not (it uses
// per-model scratch buffers and the backend): callers run one forward pass at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/tokenizer.h"
#include "engine/weights.h"

namespace parapet::engine {

namespace gguf {
class GgufFile;
}

struct ModelOptions {
  int n_threads = 0;            // CPU threads; 0 = all hardware threads
  std::string backend = "cpu";  // "cpu" or "cuda" (when built with CUDA; see BuiltBackends())
};

// One token of a forward batch.
struct BatchToken {
  TokenId token = 0;
  int32_t pos = 0;           // position in its sequence; the cache must hold [0, pos) already
  KvCache* kv = nullptr;     // the sequence's cache
  bool want_logits = false;  // write this token's logits
};

class Model {
 public:
  // Opens, validates and binds `path`. Errors name the file and the offending key or tensor.
  static Result<std::unique_ptr<Model>> Load(const std::string& path,
                                             const ModelOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& path() const { return path_; }
  const gguf::GgufFile& file() const { return *file_; }
  const ModelConfig& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const Backend& backend() const { return *backend_; }
  Backend& backend() { return *backend_; }
  int n_threads() const { return n_threads_; }

  // A cache for one sequence of up to n_ctx tokens, in the backend's memory. REQUIRES: n_ctx >= 1.
  std::unique_ptr<KvCache> NewKvCache(int32_t n_ctx) const;

  // Seeds `to` with the first n positions of `from` (another cache of this model, e.g. a cached
  // prompt prefix): copies their keys and values for every layer and sets to.n_past() = n, so
  // the next Forward for `to` continues at position n. Errors: InvalidArgument when `from` holds
  // fewer than n positions, `to` has room for fewer, or `to` is not empty; the backend's error
  // (ResourceExhausted for a cache without device memory; a CUDA fault, which sticks).
  Status CopyKvPrefix(const KvCache& from, int32_t n, KvCache& to);

  // Runs `batch` (tokens of one or more sequences) through the model, appending their keys and
  // values to the caches, and writes n_vocab logits for each token with want_logits, in batch
  // order, into `logits` (host memory). Errors: InvalidArgument for a token id out of range, a
  // position beyond the cache or not directly after the cache's n_past (per sequence, in batch
  // order); the backend's error (e.g. a CUDA fault, which then sticks).
  Status Forward(std::span<const BatchToken> batch, float* logits);

 private:
  Model() = default;
  Status UploadWeights();
  float* Scratch(int slot, int64_t n_floats);
  void FeedForward(int layer, int64_t n);
  void MoeFeedForward(int layer, int64_t n);

  std::string path_;
  std::unique_ptr<gguf::GgufFile> file_;
  ModelConfig config_;
  Weights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Backend> backend_;
  int n_threads_ = 1;
  // Activations live in backend buffers (Backend::Buffer), one slot per intermediate; see the
  // shapes at each step in model.cc.
};

}  // namespace parapet::engine
