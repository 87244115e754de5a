// Weights: read-only views of a model's tensors inside the memory-mapped GGUF file, checked
// against the ModelConfig (names, shapes, supported types) before any of them is used.
// Tensor names follow llama.cpp: token_embd, output_norm, output (falls back to token_embd when
// tied), rope_freqs, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm} and either
// blk.N.ffn_{gate,up,down} (dense) or blk.N.ffn_gate_inp (router, F32) +
// blk.N.ffn_{gate,up,down}_exps (experts stacked along ne[2]).
// Immutable; valid while the GgufFile lives; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/model_config.h"
#include "engine/tensor_type.h"

namespace parapet::engine {

namespace gguf {
class GgufFile;
}

// A 2-D weight matrix (or a stack of `n_mats` of them): `rows` outputs x `cols` inputs,
// row-major, each row `row_bytes` long in `type` encoding.
struct WeightTensor {
  std::string_view name;  // the tensor name, a view into the mapped file
  TensorType type = TensorType::kF32;
  int64_t cols = 0;    // ne[0]: input features
  int64_t rows = 0;    // ne[1]: output features
  int64_t n_mats = 1;  // ne[2]: experts
  size_t row_bytes = 0;
  size_t mat_bytes = 0;
  const uint8_t* data = nullptr;

  bool present() const { return data != nullptr; }
  const uint8_t* row(int64_t mat, int64_t r) const {
    return data + static_cast<size_t>(mat) * mat_bytes + static_cast<size_t>(r) * row_bytes;
  }
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  WeightTensor wq, wk, wv, wo;      // [n_embd -> n_head*hd], [-> n_kv*hd] x2, [n_head*hd -> n_embd]
  const float* ffn_norm = nullptr;  // [n_embd]
  // Dense FFN.
  WeightTensor ffn_gate, ffn_up, ffn_down;
  // MoE FFN.
  WeightTensor ffn_router;                                 // F32 [n_embd -> n_expert]
  WeightTensor ffn_gate_exps, ffn_up_exps, ffn_down_exps;  // n_mats = n_expert
};

struct Weights {
  WeightTensor token_embd;             // [n_embd] x n_vocab
  const float* output_norm = nullptr;  // [n_embd]
  WeightTensor output;                 // [n_embd -> n_vocab]; == token_embd when tied
  bool tied_output = false;
  const float* rope_freqs = nullptr;  // optional [n_rot / 2] frequency divisors
  std::vector<LayerWeights> layers;

  // Binds and validates every tensor; also sets config->n_vocab. Errors name the tensor.
  static Result<Weights> FromGguf(const gguf::GgufFile& file, ModelConfig* config);
};

}  // namespace parapet::engine
