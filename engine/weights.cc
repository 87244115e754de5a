// Weights: binding GGUF tensors to the model's structure, with shape and type checks.
#include "engine/weights.h"

#include <string>

#include "engine/gguf/gguf_file.h"

namespace parapet::engine {
namespace {

class Binder {
 public:
  explicit Binder(const gguf::GgufFile& f) : f_(f) {}

  // Binds `name` as a matrix [cols -> rows] (x n_mats). A missing optional tensor leaves `out`
  // empty.
  Status Matrix(const std::string& name, int64_t cols, int64_t rows, int64_t n_mats,
                WeightTensor* out, bool optional = false) {
    const gguf::TensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) {
      if (optional) return Status::Ok();
      return InvalidArgumentError("missing tensor '" + name + "'");
    }
    int64_t want[4] = {cols, rows, n_mats, 1};
    for (int d = 0; d < 4; ++d) {
      if (t->ne[d] != want[d]) return ShapeError(name, *t, want);
    }
    if (!Traits(t->type).supported) {
      return InvalidArgumentError("tensor '" + name + "' has unsupported type " +
                                  Traits(t->type).name +
                                  " (supported: F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)");
    }
    // The kernels load F32 rows as floats and read the fp16 fields of F16/BF16/quantised rows
    // as uint16_t; a hostile general.alignment could place data anywhere.
    const uintptr_t need = t->type == TensorType::kF32 ? alignof(float) : alignof(uint16_t);
    if (reinterpret_cast<uintptr_t>(t->data) % need != 0 || RowBytes(t->type, cols) % need != 0) {
      return InvalidArgumentError("tensor '" + name + "' is misaligned");
    }
    out->name = t->name;
    out->type = t->type;
    out->cols = cols;
    out->rows = rows;
    out->n_mats = n_mats;
    out->row_bytes = RowBytes(t->type, cols);
    out->mat_bytes = out->row_bytes * static_cast<size_t>(rows);
    out->data = t->data;
    return Status::Ok();
  }

  // Binds an F32 vector of `n` elements.
  Status Vector(const std::string& name, int64_t n, const float** out, bool optional = false) {
    const gguf::TensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) {
      if (optional) return Status::Ok();
      return InvalidArgumentError("missing tensor '" + name + "'");
    }
    int64_t want[4] = {n, 1, 1, 1};
    for (int d = 0; d < 4; ++d) {
      if (t->ne[d] != want[d]) return ShapeError(name, *t, want);
    }
    if (t->type != TensorType::kF32) {
      return InvalidArgumentError("tensor '" + name + "' must be F32, is " + Traits(t->type).name);
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return InvalidArgumentError("tensor '" + name + "' is misaligned");
    }
    *out = reinterpret_cast<const float*>(t->data);
    return Status::Ok();
  }

 private:
  static Status ShapeError(const std::string& name, const gguf::TensorInfo& t,
                           const int64_t want[4]) {
    auto dims = [](const int64_t* ne) {
      return "[" + std::to_string(ne[0]) + ", " + std::to_string(ne[1]) + ", " +
             std::to_string(ne[2]) + ", " + std::to_string(ne[3]) + "]";
    };
    return InvalidArgumentError("tensor '" + name + "' has shape " + dims(t.ne) + ", expected " +
                                dims(want));
  }

  const gguf::GgufFile& f_;
};

Status BindLayer(Binder& b, const ModelConfig& c, int il, LayerWeights* l) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t q_dim = int64_t{c.n_head} * c.head_dim;
  const int64_t kv_dim = c.n_embd_kv();
  PARAPET_RETURN_IF_ERROR(b.Vector(p + "attn_norm.weight", c.n_embd, &l->attn_norm));
  PARAPET_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", c.n_embd, q_dim, 1, &l->wq));
  PARAPET_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", c.n_embd, kv_dim, 1, &l->wk));
  PARAPET_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", c.n_embd, kv_dim, 1, &l->wv));
  PARAPET_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", q_dim, c.n_embd, 1, &l->wo));
  PARAPET_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.weight", c.n_embd, &l->ffn_norm));
  if (!c.is_moe()) {
    PARAPET_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff, 1, &l->ffn_gate));
    PARAPET_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", c.n_embd, c.n_ff, 1, &l->ffn_up));
    return b.Matrix(p + "ffn_down.weight", c.n_ff, c.n_embd, 1, &l->ffn_down);
  }
  PARAPET_RETURN_IF_ERROR(
      b.Matrix(p + "ffn_gate_inp.weight", c.n_embd, c.n_expert, 1, &l->ffn_router));
  if (l->ffn_router.type != TensorType::kF32) {
    return InvalidArgumentError("tensor '" + p + "ffn_gate_inp.weight' (router) must be F32");
  }
  PARAPET_RETURN_IF_ERROR(
      b.Matrix(p + "ffn_gate_exps.weight", c.n_embd, c.n_ff, c.n_expert, &l->ffn_gate_exps));
  PARAPET_RETURN_IF_ERROR(
      b.Matrix(p + "ffn_up_exps.weight", c.n_embd, c.n_ff, c.n_expert, &l->ffn_up_exps));
  return b.Matrix(p + "ffn_down_exps.weight", c.n_ff, c.n_embd, c.n_expert, &l->ffn_down_exps);
}

}  // namespace

Result<Weights> Weights::FromGguf(const gguf::GgufFile& file, ModelConfig* config) {
  Weights w;
  const gguf::TensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr) return InvalidArgumentError("missing tensor 'token_embd.weight'");
  if (embd->ne[1] < 1 || embd->ne[1] > (int64_t{1} << 24)) {
    return InvalidArgumentError("tensor 'token_embd.weight' has an implausible vocabulary size");
  }
  config->n_vocab = static_cast<int32_t>(embd->ne[1]);
  const ModelConfig& c = *config;
  Binder b(file);
  PARAPET_RETURN_IF_ERROR(b.Matrix("token_embd.weight", c.n_embd, c.n_vocab, 1, &w.token_embd));
  PARAPET_RETURN_IF_ERROR(b.Vector("output_norm.weight", c.n_embd, &w.output_norm));
  PARAPET_RETURN_IF_ERROR(b.Matrix("output.weight", c.n_embd, c.n_vocab, 1, &w.output, true));
  if (!w.output.present()) {
    w.output = w.token_embd;
    w.tied_output = true;
  }
  PARAPET_RETURN_IF_ERROR(b.Vector("rope_freqs.weight", c.n_rot / 2, &w.rope_freqs, true));
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int il = 0; il < c.n_layer; ++il) {
    PARAPET_RETURN_IF_ERROR(BindLayer(b, c, il, &w.layers[static_cast<size_t>(il)]));
  }
  return w;
}

}  // namespace parapet::engine
