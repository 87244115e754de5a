// ModelConfig: reading hyperparameters from GGUF metadata.
#include "engine/model_config.h"

#include <cmath>

#include "engine/gguf/gguf_file.h"

namespace parapet::engine {
namespace {

Status ReadInt(const gguf::GgufFile& f, const std::string& key, int64_t lo, int64_t hi,
               int32_t* out, bool required) {
  if (f.Find(key) == nullptr) {
    if (required) return InvalidArgumentError("missing metadata key '" + key + "'");
    return Status::Ok();
  }
  std::optional<int64_t> v = f.GetInt(key);
  if (!v) return InvalidArgumentError("metadata '" + key + "' must be an integer");
  if (*v < lo || *v > hi) {
    return InvalidArgumentError("metadata '" + key + "' = " + std::to_string(*v) +
                                " is out of range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  }
  *out = static_cast<int32_t>(*v);
  return Status::Ok();
}

Status ReadFloat(const gguf::GgufFile& f, const std::string& key, double lo, double hi,
                 float* out) {
  if (f.Find(key) == nullptr) return Status::Ok();
  std::optional<double> v = f.GetFloat(key);
  if (!v || !std::isfinite(*v) || *v < lo || *v > hi) {
    return InvalidArgumentError("metadata '" + key + "' must be a number in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *out = static_cast<float>(*v);
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ModelConfig::FromGguf(const gguf::GgufFile& f) {
  ModelConfig c;
  std::optional<std::string_view> arch = f.GetString("general.architecture");
  if (!arch) return InvalidArgumentError("missing metadata key 'general.architecture'");
  c.arch = std::string(*arch);
  if (c.arch != "llama") {
    return InvalidArgumentError("unsupported architecture '" + c.arch +
                                "' (supported: llama, including Mistral and Mixtral)");
  }
  if (auto name = f.GetString("general.name")) c.name = std::string(*name);
  const std::string p = c.arch + ".";
  constexpr int64_t kBig = int64_t{1} << 24;
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "context_length", 1, kBig, &c.n_ctx_train, true));
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "embedding_length", 1, 1 << 16, &c.n_embd, true));
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "block_count", 1, 1024, &c.n_layer, true));
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "feed_forward_length", 1, 1 << 20, &c.n_ff, true));
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "attention.head_count", 1, 1024, &c.n_head, true));
  c.n_head_kv = c.n_head;
  PARAPET_RETURN_IF_ERROR(
      ReadInt(f, p + "attention.head_count_kv", 1, c.n_head, &c.n_head_kv, false));
  if (c.n_head % c.n_head_kv != 0) {
    return InvalidArgumentError(
        "metadata '" + p + "attention.head_count' (" + std::to_string(c.n_head) +
        ") is not a multiple of head_count_kv (" + std::to_string(c.n_head_kv) + ")");
  }
  c.head_dim = c.n_embd / c.n_head;
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "attention.key_length", 1, 4096, &c.head_dim, false));
  int32_t value_length = c.head_dim;
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "attention.value_length", 1, 4096, &value_length, false));
  if (value_length != c.head_dim || c.head_dim % 2 != 0) {
    return InvalidArgumentError("metadata '" + p +
                                "attention.key_length/value_length': unsupported head size");
  }
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "expert_count", 0, 1024, &c.n_expert, false));
  PARAPET_RETURN_IF_ERROR(
      ReadInt(f, p + "expert_used_count", 0, c.n_expert, &c.n_expert_used, false));
  if (c.n_expert > 1 && c.n_expert_used < 1) {
    return InvalidArgumentError("metadata '" + p + "expert_used_count' must be >= 1 for MoE");
  }
  c.n_rot = c.head_dim;
  PARAPET_RETURN_IF_ERROR(ReadInt(f, p + "rope.dimension_count", 2, c.head_dim, &c.n_rot, false));
  if (c.n_rot % 2 != 0) {
    return InvalidArgumentError("metadata '" + p + "rope.dimension_count' must be even");
  }
  PARAPET_RETURN_IF_ERROR(ReadFloat(f, p + "rope.freq_base", 1e-3, 1e12, &c.rope_freq_base));
  PARAPET_RETURN_IF_ERROR(ReadFloat(f, p + "attention.layer_norm_rms_epsilon", 0, 1, &c.rms_eps));
  if (auto type = f.GetString(p + "rope.scaling.type"); type && *type == "linear") {
    float factor = 1.0f;
    PARAPET_RETURN_IF_ERROR(ReadFloat(f, p + "rope.scaling.factor", 1e-3, 1e3, &factor));
    c.rope_freq_scale = 1.0f / factor;
  }
  c.n_vocab = 0;  // set from token_embd by Weights
  return c;
}

}  // namespace parapet::engine
