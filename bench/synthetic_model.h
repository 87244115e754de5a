// Synthesises GGUF models of a given Llama/Mixtral shape with random weights, for benchmarks
// (speed does not depend on the values). Weights are quantised from a small pool of random rows
// per (type, row length) and tiled, so a 800 MB model is written in seconds.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace parapet::bench {

struct SyntheticShape {
  int32_t n_embd = 1024;
  int32_t n_layer = 8;
  int32_t n_head = 16;
  int32_t n_head_kv = 4;
  int32_t n_ff = 3584;
  int32_t n_expert = 8;  // 0 = dense
  int32_t n_expert_used = 2;
  int32_t n_vocab = 32000;
  int32_t n_ctx = 4096;
  // A GGUF whose tokenizer (tokenizer.* keys) the model takes instead of the synthetic byte
  // vocabulary (e.g. ../shared/data/tokenizer/ggml-vocab-llama-bpe.gguf for Llama 3 models);
  // n_vocab then follows it.
  std::string vocab_from;
};

// Tensor encodings: "Q4_0", "Q8_0" (as llama-quantize writes them: output Q6_K for Q4_0) or
// "Q4_K_M" (llama-quantize's mix: token_embd Q4_K, output Q6_K, attn_q Q4_K, attn_k/v Q8_0,
// attn_output Q5_K, ffn_gate/up Q4_K, ffn_down Q6_K in layers 0, 3, 6, 7 of 8 and Q4_K in the
// others). Norms and the router are F32.
Status WriteSyntheticModel(const std::string& path, const SyntheticShape& shape,
                           const std::string& encoding, uint64_t seed = 1);

}  // namespace parapet::bench
