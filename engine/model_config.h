// ModelConfig: the hyperparameters of a Llama-architecture model (dense Llama/Mistral or
// Mixtral-style MoE) read from GGUF metadata (`<arch>.*` keys). Plain data; immutable once built.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parapet::engine {

namespace gguf {
class GgufFile;
}

struct ModelConfig {
  std::string arch;                 // general.architecture ("llama")
  std::string name;                 // general.name, if any
  int32_t n_vocab = 0;              // rows of token_embd
  int32_t n_ctx_train = 0;          // <arch>.context_length
  int32_t n_embd = 0;               // <arch>.embedding_length
  int32_t n_layer = 0;              // <arch>.block_count
  int32_t n_head = 0;               // <arch>.attention.head_count
  int32_t n_head_kv = 0;            // <arch>.attention.head_count_kv (defaults to n_head)
  int32_t head_dim = 0;             // <arch>.attention.key_length (defaults to n_embd / n_head)
  int32_t n_ff = 0;                 // <arch>.feed_forward_length (per expert for MoE)
  int32_t n_expert = 0;             // <arch>.expert_count (0 = dense)
  int32_t n_expert_used = 0;        // <arch>.expert_used_count
  int32_t n_rot = 0;                // <arch>.rope.dimension_count (defaults to head_dim)
  float rope_freq_base = 10000.0f;  // <arch>.rope.freq_base
  float rope_freq_scale = 1.0f;     // 1 / <arch>.rope.scaling.factor for linear scaling
  float rms_eps = 1e-5f;            // <arch>.attention.layer_norm_rms_epsilon

  bool is_moe() const { return n_expert > 1; }
  int32_t n_embd_kv() const { return n_head_kv * head_dim; }

  // Reads and validates the hyperparameters. Errors name the offending key.
  static Result<ModelConfig> FromGguf(const gguf::GgufFile& file);
};

}  // namespace parapet::engine
