// ReferenceModel: a plain, readable float forward pass over a Llama-architecture GGUF model
// (dense or Mixtral-style MoE), one token at a time in the style of llama2.c. It is linked only
// into tests, where it is the oracle that the optimised backends behind engine/model.h must match
// within a tolerance. Every weight is dequantised to float once at load; dot products, norms and
// softmaxes accumulate in double; the KV cache holds float. It reads its tensors from the
// GgufFile by their llama.cpp names and is written apart from engine/model.cc, so that a mistake
// there does not reappear here.
// Thread-safety: Load() is thread-safe; Forward() writes the model's own KV cache, so one thread
// at a time per instance.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "engine/model_config.h"
#include "engine/tokenizer.h"
#include "engine/weights.h"

namespace parapet::engine {
namespace gguf {
class GgufFile;
}

namespace testing {

// A dense float matrix, row-major: `rows` outputs x `cols` inputs, so that y = W·x has
// y[r] = sum_c data[r * cols + c] * x[c].
struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // [rows, cols]
};

class ReferenceModel {
 public:
  // Dequantises every tensor of `file` that the model uses. `config` gives the hyperparameters
  // (as ModelConfig::FromGguf + Weights::FromGguf produced them); `weights` is the production
  // binding of the same file, which must view the same bytes under each name (a check of
  // engine/weights.cc; an Internal error names the first tensor bound differently).
  // InvalidArgument when a tensor is missing, has an unexpected shape, or a type DequantizeRow
  // cannot read. The result keeps no pointer into `file`.
  static Result<std::unique_ptr<ReferenceModel>> Load(const gguf::GgufFile& file,
                                                      const ModelConfig& config,
                                                      const Weights& weights);

  // Runs `token` at position `pos` and returns its n_vocab logits. The key and value of `pos` are
  // written to the cache and attention reads cache positions [0, pos], so a new sequence starts
  // simply by passing pos = 0 again.
  // REQUIRES: 0 <= token < n_vocab; 0 <= pos < n_ctx_train; positions [0, pos) were written by
  // the earlier calls of this sequence.
  std::vector<float> Forward(TokenId token, int pos);

  const ModelConfig& config() const { return config_; }

 private:
  struct Layer {
    std::vector<float> attn_norm;  // [n_embd]
    FloatMatrix wq;                // [n_head*head_dim, n_embd]
    FloatMatrix wk;                // [n_head_kv*head_dim, n_embd]
    FloatMatrix wv;                // [n_head_kv*head_dim, n_embd]
    FloatMatrix wo;                // [n_embd, n_head*head_dim]
    std::vector<float> ffn_norm;   // [n_embd]
    FloatMatrix router;            // MoE only: [n_expert, n_embd]
    // Dense: one entry each; MoE: one per expert.
    std::vector<FloatMatrix> ffn_gate;  // [n_ff, n_embd] each
    std::vector<FloatMatrix> ffn_up;    // [n_ff, n_embd] each
    std::vector<FloatMatrix> ffn_down;  // [n_embd, n_ff] each
  };

  explicit ReferenceModel(const ModelConfig& config) : config_(config) {}

  // Dequantises blk.<il>.* into layers_[il].
  Status LoadLayer(const gguf::GgufFile& file, int il);
  void Attention(int layer, const std::vector<float>& xn, int pos, std::vector<float>* out);
  std::vector<float> SwiGluFfn(const FloatMatrix& gate, const FloatMatrix& up,
                               const FloatMatrix& down, const std::vector<float>& xn) const;
  std::vector<float> MoeFfn(const Layer& layer, const std::vector<float>& xn) const;
  void ApplyRope(float* head, int pos) const;

  ModelConfig config_;
  FloatMatrix token_embd_;          // [n_vocab, n_embd]
  std::vector<float> output_norm_;  // [n_embd]
  FloatMatrix output_;              // [n_vocab, n_embd]; empty when tied to token_embd_
  std::vector<float> rope_freqs_;   // [n_rot/2] divisors, or empty
  std::vector<Layer> layers_;
  // KV cache per layer: [positions written][n_head_kv*head_dim], grown as positions arrive.
  std::vector<std::vector<float>> k_cache_;
  std::vector<std::vector<float>> v_cache_;
};

}  // namespace testing
}  // namespace parapet::engine
