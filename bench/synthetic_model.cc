// Synthetic GGUF model writer.
#include "bench/synthetic_model.h"

#include <map>
#include <random>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/quants.h"

namespace parapet::bench {
namespace {

using engine::TensorType;

class RowPool {
 public:
  explicit RowPool(uint64_t seed) : rng_(seed) {}

  // `rows` x `cols` matrix (x n_mats) of `type`, rows drawn from a pool of random rows.
  std::string Matrix(TensorType type, int64_t cols, int64_t rows, int64_t n_mats, float scale) {
    const std::vector<std::string>& pool = Pool(type, cols, scale);
    std::string out;
    out.reserve(pool[0].size() * rows * n_mats);
    for (int64_t r = 0; r < rows * n_mats; ++r) out += pool[rng_() % pool.size()];
    return out;
  }

 private:
  const std::vector<std::string>& Pool(TensorType type, int64_t cols, float scale) {
    auto key = std::make_pair(static_cast<int>(type), cols);
    auto it = pools_.find(key);
    if (it != pools_.end()) return it->second;
    std::vector<std::string>& pool = pools_[key];
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> row(static_cast<size_t>(cols));
    for (int i = 0; i < 64; ++i) {
      for (float& x : row) x = normal(rng_);
      std::string q(engine::RowBytes(type, cols), '\0');
      engine::QuantizeRow(type, row.data(), q.data(), cols);
      pool.push_back(std::move(q));
    }
    return pool;
  }

  std::mt19937_64 rng_;
  std::map<std::pair<int, int64_t>, std::vector<std::string>> pools_;
};

struct Encoding {
  TensorType embd, output, q, kv, o, gate_up;
  TensorType down_more, down;  // ffn_down in "more bits" layers / others
};

Result<Encoding> EncodingByName(const std::string& name) {
  using T = TensorType;
  if (name == "Q4_0")
    return Encoding{T::kQ4_0, T::kQ6_K, T::kQ4_0, T::kQ4_0, T::kQ4_0, T::kQ4_0, T::kQ4_0, T::kQ4_0};
  if (name == "Q8_0")
    return Encoding{T::kQ8_0, T::kQ8_0, T::kQ8_0, T::kQ8_0, T::kQ8_0, T::kQ8_0, T::kQ8_0, T::kQ8_0};
  if (name == "Q4_K_M")
    return Encoding{T::kQ4_K, T::kQ6_K, T::kQ4_K, T::kQ8_0, T::kQ5_K, T::kQ4_K, T::kQ6_K, T::kQ4_K};
  if (name == "F16")
    return Encoding{T::kF16, T::kF16, T::kF16, T::kF16, T::kF16, T::kF16, T::kF16, T::kF16};
  // Every tensor but the norms and the router in one type.
  for (T t : {T::kBF16, T::kF32, T::kQ4_K, T::kQ5_K, T::kQ6_K}) {
    if (name == engine::Traits(t).name) return Encoding{t, t, t, t, t, t, t, t};
  }
  return InvalidArgumentError("unknown encoding '" + name +
                              "' (Q4_0, Q8_0, Q4_K_M, F16, BF16, F32, Q4_K, Q5_K, Q6_K)");
}

// llama.cpp's use_more_bits(): the first and last eighth of the layers and every third between.
bool UseMoreBits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

std::string F32Vector(int64_t n, float value) {
  std::vector<float> v(static_cast<size_t>(n), value);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string RandomF32(std::mt19937_64& rng, int64_t n, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

void AddVocab(engine::gguf::GgufWriter& w, int32_t n_vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    types.push_back(6);
  }
  while (static_cast<int32_t>(tokens.size()) < n_vocab) {
    tokens.push_back("\xE2\x96\x81t" + std::to_string(tokens.size()));
    types.push_back(1);
  }
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetF32Array("tokenizer.ggml.scores", scores);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetU32("tokenizer.ggml.bos_token_id", 1);
  w.SetU32("tokenizer.ggml.eos_token_id", 2);
}

}  // namespace

// Copies the tokenizer.* keys of `from` (strings, string arrays, integer and float arrays and
// scalars); returns the vocabulary size.
Result<int32_t> CopyVocab(engine::gguf::GgufWriter& w, const std::string& from) {
  PARAPET_ASSIGN_OR_RETURN(std::unique_ptr<engine::gguf::GgufFile> f,
                           engine::gguf::GgufFile::Open(from));
  const std::vector<std::string_view>* tokens = f->GetStringArray("tokenizer.ggml.tokens");
  if (tokens == nullptr) return InvalidArgumentError(from + ": no tokenizer.ggml.tokens");
  for (const engine::gguf::MetadataEntry& m : f->metadata()) {
    const std::string_view key = m.key;
    if (!key.starts_with("tokenizer.")) continue;
    if (const std::vector<std::string_view>* a = f->GetStringArray(key)) {
      w.SetStringArray(key, std::vector<std::string>(a->begin(), a->end()));
    } else if (std::optional<std::string_view> v = f->GetString(key)) {
      w.SetString(key, *v);
    } else if (std::optional<std::vector<int64_t>> ia = f->GetIntArray(key)) {
      w.SetI32Array(key, std::vector<int32_t>(ia->begin(), ia->end()));
    } else if (std::optional<std::vector<float>> fa = f->GetFloatArray(key)) {
      w.SetF32Array(key, *fa);
    } else if (std::optional<bool> b = f->GetBool(key)) {
      w.SetBool(key, *b);
    } else if (std::optional<int64_t> i = f->GetInt(key)) {
      w.SetU32(key, static_cast<uint32_t>(*i));
    }
  }
  return static_cast<int32_t>(tokens->size());
}

Status WriteSyntheticModel(const std::string& path, const SyntheticShape& shape,
                           const std::string& encoding, uint64_t seed) {
  PARAPET_ASSIGN_OR_RETURN(Encoding e, EncodingByName(encoding));
  SyntheticShape s = shape;
  engine::gguf::GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetString("general.name", "synthetic-" + encoding);
  w.SetU32("llama.context_length", static_cast<uint32_t>(s.n_ctx));
  w.SetU32("llama.embedding_length", static_cast<uint32_t>(s.n_embd));
  w.SetU32("llama.block_count", static_cast<uint32_t>(s.n_layer));
  w.SetU32("llama.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.SetU32("llama.attention.head_count", static_cast<uint32_t>(s.n_head));
  w.SetU32("llama.attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.SetF32("llama.rope.freq_base", 1e6f);
  w.SetF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (s.n_expert > 0) {
    w.SetU32("llama.expert_count", static_cast<uint32_t>(s.n_expert));
    w.SetU32("llama.expert_used_count", static_cast<uint32_t>(s.n_expert_used));
  }
  if (s.vocab_from.empty()) {
    AddVocab(w, s.n_vocab);
  } else {
    PARAPET_ASSIGN_OR_RETURN(s.n_vocab, CopyVocab(w, s.vocab_from));
  }
  RowPool pool(seed);
  std::mt19937_64 rng(seed + 1);
  const int64_t hd = s.n_embd / s.n_head;
  const int64_t kv_dim = hd * s.n_head_kv;
  w.AddTensor("token_embd.weight", e.embd, {s.n_embd, s.n_vocab},
              pool.Matrix(e.embd, s.n_embd, s.n_vocab, 1, 1.0f));
  w.AddTensor("output_norm.weight", TensorType::kF32, {s.n_embd}, F32Vector(s.n_embd, 1.0f));
  w.AddTensor("output.weight", e.output, {s.n_embd, s.n_vocab},
              pool.Matrix(e.output, s.n_embd, s.n_vocab, 1, 0.05f));
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const float ws = 0.03f;
    w.AddTensor(p + "attn_norm.weight", TensorType::kF32, {s.n_embd}, F32Vector(s.n_embd, 1.0f));
    w.AddTensor(p + "attn_q.weight", e.q, {s.n_embd, s.n_embd},
                pool.Matrix(e.q, s.n_embd, s.n_embd, 1, ws));
    w.AddTensor(p + "attn_k.weight", e.kv, {s.n_embd, kv_dim},
                pool.Matrix(e.kv, s.n_embd, kv_dim, 1, ws));
    w.AddTensor(p + "attn_v.weight", e.kv, {s.n_embd, kv_dim},
                pool.Matrix(e.kv, s.n_embd, kv_dim, 1, ws));
    w.AddTensor(p + "attn_output.weight", e.o, {s.n_embd, s.n_embd},
                pool.Matrix(e.o, s.n_embd, s.n_embd, 1, ws));
    w.AddTensor(p + "ffn_norm.weight", TensorType::kF32, {s.n_embd}, F32Vector(s.n_embd, 1.0f));
    const TensorType down = UseMoreBits(il, s.n_layer) ? e.down_more : e.down;
    if (s.n_expert > 0) {
      const int64_t ne = s.n_expert;
      w.AddTensor(p + "ffn_gate_inp.weight", TensorType::kF32, {s.n_embd, ne},
                  RandomF32(rng, s.n_embd * ne, 0.1f));
      w.AddTensor(p + "ffn_gate_exps.weight", e.gate_up, {s.n_embd, s.n_ff, ne},
                  pool.Matrix(e.gate_up, s.n_embd, s.n_ff, ne, ws));
      w.AddTensor(p + "ffn_up_exps.weight", e.gate_up, {s.n_embd, s.n_ff, ne},
                  pool.Matrix(e.gate_up, s.n_embd, s.n_ff, ne, ws));
      w.AddTensor(p + "ffn_down_exps.weight", down, {s.n_ff, s.n_embd, ne},
                  pool.Matrix(down, s.n_ff, s.n_embd, ne, ws));
    } else {
      w.AddTensor(p + "ffn_gate.weight", e.gate_up, {s.n_embd, s.n_ff},
                  pool.Matrix(e.gate_up, s.n_embd, s.n_ff, 1, ws));
      w.AddTensor(p + "ffn_up.weight", e.gate_up, {s.n_embd, s.n_ff},
                  pool.Matrix(e.gate_up, s.n_embd, s.n_ff, 1, ws));
      w.AddTensor(p + "ffn_down.weight", down, {s.n_ff, s.n_embd},
                  pool.Matrix(down, s.n_ff, s.n_embd, 1, ws));
    }
  }
  return w.WriteFile(path);
}

}  // namespace parapet::bench
