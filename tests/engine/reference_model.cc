// ReferenceModel: loading (dequantise everything once) and the one-token forward pass.
#include "tests/engine/reference_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/quants.h"

namespace parapet::engine::testing {
namespace {

// ---- loading ----

std::string Shape(const int64_t* ne) {
  return "[" + std::to_string(ne[0]) + ", " + std::to_string(ne[1]) + ", " + std::to_string(ne[2]) +
         ", " + std::to_string(ne[3]) + "]";
}

// Finds `name` and checks its ggml shape is {ne0, ne1, ne2, 1} and its type is readable.
Result<const gguf::TensorInfo*> FindChecked(const gguf::GgufFile& file, const std::string& name,
                                            int64_t ne0, int64_t ne1, int64_t ne2) {
  const gguf::TensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return InvalidArgumentError("reference: missing tensor '" + name + "'");
  const int64_t want[4] = {ne0, ne1, ne2, 1};
  if (!std::equal(want, want + 4, t->ne)) {
    return InvalidArgumentError("reference: tensor '" + name + "' has shape " + Shape(t->ne) +
                                ", expected " + Shape(want));
  }
  if (!QuantsSupport(t->type)) {
    return InvalidArgumentError("reference: tensor '" + name + "' has type " +
                                Traits(t->type).name + ", which DequantizeRow cannot read");
  }
  return t;
}

// Dequantises `name`, ggml ne {cols, rows, n_mats}, into n_mats matrices [rows, cols].
Status LoadMatrices(const gguf::GgufFile& file, const std::string& name, int64_t cols, int64_t rows,
                    int64_t n_mats, std::vector<FloatMatrix>* out) {
  PARAPET_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, FindChecked(file, name, cols, rows, n_mats));
  const size_t row_bytes = RowBytes(t->type, cols);
  out->assign(static_cast<size_t>(n_mats), FloatMatrix{});
  for (int64_t m = 0; m < n_mats; ++m) {
    FloatMatrix& mat = (*out)[static_cast<size_t>(m)];
    mat.rows = rows;
    mat.cols = cols;
    mat.data.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = t->data + static_cast<size_t>(m * rows + r) * row_bytes;
      DequantizeRow(t->type, src, mat.data.data() + r * cols, cols);
    }
  }
  return Status::Ok();
}

Status LoadMatrix(const gguf::GgufFile& file, const std::string& name, int64_t cols, int64_t rows,
                  FloatMatrix* out) {
  std::vector<FloatMatrix> one;
  PARAPET_RETURN_IF_ERROR(LoadMatrices(file, name, cols, rows, 1, &one));
  *out = std::move(one[0]);
  return Status::Ok();
}

Status LoadVector(const gguf::GgufFile& file, const std::string& name, int64_t n,
                  std::vector<float>* out) {
  FloatMatrix m;
  PARAPET_RETURN_IF_ERROR(LoadMatrix(file, name, n, 1, &m));
  *out = std::move(m.data);
  return Status::Ok();
}

// The production binding must view the file's bytes of `name` (or of `fallback` when `name` is
// absent, as for a tied output matrix).
Status CheckBound(const gguf::GgufFile& file, const std::string& name, const void* bound,
                  const std::string& fallback = "") {
  const gguf::TensorInfo* t = file.FindTensor(name);
  if (t == nullptr && !fallback.empty()) t = file.FindTensor(fallback);
  const void* want = t != nullptr ? t->data : nullptr;
  if (bound != want) {
    return InternalError("reference: Weights binds '" + name + "' to other bytes than the file");
  }
  return Status::Ok();
}

Status CheckLayerBound(const gguf::GgufFile& file, const ModelConfig& c, const LayerWeights& l,
                       const std::string& p) {
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "attn_norm.weight", l.attn_norm));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "attn_q.weight", l.wq.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "attn_k.weight", l.wk.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "attn_v.weight", l.wv.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "attn_output.weight", l.wo.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_norm.weight", l.ffn_norm));
  if (!c.is_moe()) {
    PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_gate.weight", l.ffn_gate.data));
    PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_up.weight", l.ffn_up.data));
    return CheckBound(file, p + "ffn_down.weight", l.ffn_down.data);
  }
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_gate_inp.weight", l.ffn_router.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_gate_exps.weight", l.ffn_gate_exps.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, p + "ffn_up_exps.weight", l.ffn_up_exps.data));
  return CheckBound(file, p + "ffn_down_exps.weight", l.ffn_down_exps.data);
}

// Every tensor `weights` binds views the bytes the file has under that tensor's name.
Status CheckBindings(const gguf::GgufFile& file, const ModelConfig& c, const Weights& weights) {
  PARAPET_RETURN_IF_ERROR(CheckBound(file, "token_embd.weight", weights.token_embd.data));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, "output_norm.weight", weights.output_norm));
  PARAPET_RETURN_IF_ERROR(
      CheckBound(file, "output.weight", weights.output.data, "token_embd.weight"));
  PARAPET_RETURN_IF_ERROR(CheckBound(file, "rope_freqs.weight", weights.rope_freqs));
  if (weights.layers.size() != static_cast<size_t>(c.n_layer)) {
    return InternalError("reference: Weights has the wrong number of layers");
  }
  for (int il = 0; il < c.n_layer; ++il) {
    PARAPET_RETURN_IF_ERROR(CheckLayerBound(file, c, weights.layers[static_cast<size_t>(il)],
                                            "blk." + std::to_string(il) + "."));
  }
  return Status::Ok();
}

// ---- arithmetic (double accumulation) ----

double Dot(const float* a, const float* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

// y = W·x: x [w.cols] -> y [w.rows].
std::vector<float> MatVec(const FloatMatrix& w, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r) {
    y[static_cast<size_t>(r)] =
        static_cast<float>(Dot(w.data.data() + r * w.cols, x.data(), w.cols));
  }
  return y;
}

// y = x / sqrt(mean(x^2) + eps) * weight: [n] -> [n].
std::vector<float> RmsNorm(const std::vector<float>& x, const std::vector<float>& weight,
                           float eps) {
  const double mean_sq =
      Dot(x.data(), x.data(), static_cast<int64_t>(x.size())) / static_cast<double>(x.size());
  const double scale = 1.0 / std::sqrt(mean_sq + static_cast<double>(eps));
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(x[i] * scale * weight[i]);
  return y;
}

// In-place softmax of `v` in double.
void Softmax(std::vector<double>* v) {
  const double mx = *std::max_element(v->begin(), v->end());
  double sum = 0;
  for (double& e : *v) sum += e = std::exp(e - mx);
  for (double& e : *v) e /= sum;
}

double Silu(double x) { return x / (1.0 + std::exp(-x)); }

// x += y, both [n].
void AddTo(std::vector<float>* x, const std::vector<float>& y) {
  for (size_t i = 0; i < x->size(); ++i) (*x)[i] += y[i];
}

}  // namespace

// ---- ReferenceModel::Load ----

Result<std::unique_ptr<ReferenceModel>> ReferenceModel::Load(const gguf::GgufFile& file,
                                                             const ModelConfig& config,
                                                             const Weights& weights) {
  const ModelConfig& c = config;
  PARAPET_RETURN_IF_ERROR(CheckBindings(file, c, weights));
  std::unique_ptr<ReferenceModel> m(new ReferenceModel(config));
  PARAPET_RETURN_IF_ERROR(
      LoadMatrix(file, "token_embd.weight", c.n_embd, c.n_vocab, &m->token_embd_));
  PARAPET_RETURN_IF_ERROR(LoadVector(file, "output_norm.weight", c.n_embd, &m->output_norm_));
  if (file.FindTensor("output.weight") != nullptr) {
    PARAPET_RETURN_IF_ERROR(LoadMatrix(file, "output.weight", c.n_embd, c.n_vocab, &m->output_));
  }
  if (file.FindTensor("rope_freqs.weight") != nullptr) {
    PARAPET_RETURN_IF_ERROR(LoadVector(file, "rope_freqs.weight", c.n_rot / 2, &m->rope_freqs_));
  }
  m->layers_.resize(static_cast<size_t>(c.n_layer));
  for (int il = 0; il < c.n_layer; ++il) {
    PARAPET_RETURN_IF_ERROR(m->LoadLayer(file, il));
  }
  m->k_cache_.resize(static_cast<size_t>(c.n_layer));
  m->v_cache_.resize(static_cast<size_t>(c.n_layer));
  return m;
}

Status ReferenceModel::LoadLayer(const gguf::GgufFile& file, int il) {
  const ModelConfig& c = config_;
  Layer& l = layers_[static_cast<size_t>(il)];
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t q_dim = int64_t{c.n_head} * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_head_kv} * c.head_dim;
  PARAPET_RETURN_IF_ERROR(LoadVector(file, p + "attn_norm.weight", c.n_embd, &l.attn_norm));
  PARAPET_RETURN_IF_ERROR(LoadMatrix(file, p + "attn_q.weight", c.n_embd, q_dim, &l.wq));
  PARAPET_RETURN_IF_ERROR(LoadMatrix(file, p + "attn_k.weight", c.n_embd, kv_dim, &l.wk));
  PARAPET_RETURN_IF_ERROR(LoadMatrix(file, p + "attn_v.weight", c.n_embd, kv_dim, &l.wv));
  PARAPET_RETURN_IF_ERROR(LoadMatrix(file, p + "attn_output.weight", q_dim, c.n_embd, &l.wo));
  PARAPET_RETURN_IF_ERROR(LoadVector(file, p + "ffn_norm.weight", c.n_embd, &l.ffn_norm));
  // Dense: ffn_{gate,up,down}.weight; MoE: a router and the experts stacked along ggml ne[2].
  const int64_t n_mats = c.is_moe() ? c.n_expert : 1;
  const std::string suffix = c.is_moe() ? "_exps.weight" : ".weight";
  if (c.is_moe()) {
    PARAPET_RETURN_IF_ERROR(
        LoadMatrix(file, p + "ffn_gate_inp.weight", c.n_embd, c.n_expert, &l.router));
  }
  PARAPET_RETURN_IF_ERROR(
      LoadMatrices(file, p + "ffn_gate" + suffix, c.n_embd, c.n_ff, n_mats, &l.ffn_gate));
  PARAPET_RETURN_IF_ERROR(
      LoadMatrices(file, p + "ffn_up" + suffix, c.n_embd, c.n_ff, n_mats, &l.ffn_up));
  return LoadMatrices(file, p + "ffn_down" + suffix, c.n_ff, c.n_embd, n_mats, &l.ffn_down);
}

// ---- ReferenceModel::Forward ----

std::vector<float> ReferenceModel::Forward(TokenId token, int pos) {
  const ModelConfig& c = config_;
  // x = token_embd[token]                                   [n_embd]
  const float* embd_row = token_embd_.data.data() + int64_t{token} * c.n_embd;
  std::vector<float> x(embd_row, embd_row + c.n_embd);
  for (int il = 0; il < c.n_layer; ++il) {
    const Layer& l = layers_[static_cast<size_t>(il)];
    // attn_in = RmsNorm(x) * attn_norm                      [n_embd]
    const std::vector<float> attn_in = RmsNorm(x, l.attn_norm, c.rms_eps);
    std::vector<float> attn_out;  // [n_head*head_dim]
    Attention(il, attn_in, pos, &attn_out);
    // x += Wo·attn_out                                      [n_embd]
    AddTo(&x, MatVec(l.wo, attn_out));
    // ffn_in = RmsNorm(x) * ffn_norm                        [n_embd]
    const std::vector<float> ffn_in = RmsNorm(x, l.ffn_norm, c.rms_eps);
    // x += FFN(ffn_in)                                      [n_embd]
    AddTo(&x, c.is_moe() ? MoeFfn(l, ffn_in)
                         : SwiGluFfn(l.ffn_gate[0], l.ffn_up[0], l.ffn_down[0], ffn_in));
  }
  // logits = W_out · (RmsNorm(x) * output_norm)             [n_vocab]
  const std::vector<float> out_in = RmsNorm(x, output_norm_, c.rms_eps);
  return MatVec(output_.data.empty() ? token_embd_ : output_, out_in);
}

// Rotates the first n_rot dims of one head [head_dim] as llama does: adjacent pairs
// (x[2i], x[2i+1]) by theta_i = pos * freq_scale * freq_base^(-2i/n_rot) / rope_freqs[i].
void ReferenceModel::ApplyRope(float* head, int pos) const {
  const ModelConfig& c = config_;
  for (int32_t i = 0; i < c.n_rot / 2; ++i) {
    double theta = pos * std::pow(static_cast<double>(c.rope_freq_base),
                                  -2.0 * i / static_cast<double>(c.n_rot));
    if (!rope_freqs_.empty()) theta /= rope_freqs_[static_cast<size_t>(i)];
    theta *= c.rope_freq_scale;
    const double x0 = head[2 * i];
    const double x1 = head[2 * i + 1];
    head[2 * i] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    head[2 * i + 1] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

void ReferenceModel::Attention(int layer, const std::vector<float>& xn, int pos,
                               std::vector<float>* out) {
  const ModelConfig& c = config_;
  const Layer& l = layers_[static_cast<size_t>(layer)];
  const int64_t hd = c.head_dim;
  const int64_t kv_dim = int64_t{c.n_head_kv} * hd;
  // q = RoPE(Wq·xn) [n_head*hd], k = RoPE(Wk·xn) [n_head_kv*hd], v = Wv·xn [n_head_kv*hd]
  std::vector<float> q = MatVec(l.wq, xn);
  std::vector<float> k = MatVec(l.wk, xn);
  const std::vector<float> v = MatVec(l.wv, xn);
  for (int32_t h = 0; h < c.n_head; ++h) ApplyRope(q.data() + h * hd, pos);
  for (int32_t h = 0; h < c.n_head_kv; ++h) ApplyRope(k.data() + h * hd, pos);
  // cache[layer][pos] = k, v                                [n_ctx][n_head_kv*hd]
  std::vector<float>& kc = k_cache_[static_cast<size_t>(layer)];
  std::vector<float>& vc = v_cache_[static_cast<size_t>(layer)];
  const size_t need = static_cast<size_t>((pos + 1) * kv_dim);
  if (kc.size() < need) {
    kc.resize(need);
    vc.resize(need);
  }
  std::copy(k.begin(), k.end(), kc.begin() + pos * kv_dim);
  std::copy(v.begin(), v.end(), vc.begin() + pos * kv_dim);
  // Each query head h reads KV head h / (n_head / n_head_kv) over positions [0, pos].
  const int32_t heads_per_kv = c.n_head / c.n_head_kv;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  out->assign(static_cast<size_t>(c.n_head * hd), 0.0f);  // [n_head*hd]
  std::vector<double> att(static_cast<size_t>(pos + 1));  // [pos+1]
  std::vector<double> acc(static_cast<size_t>(hd));       // [hd]
  for (int32_t h = 0; h < c.n_head; ++h) {
    const int64_t kv_off = int64_t{h / heads_per_kv} * hd;
    const float* qh = q.data() + h * hd;
    // att[t] = softmax_t(q_h · k_t / sqrt(hd))               [pos+1]
    for (size_t t = 0; t < att.size(); ++t) {
      att[t] = Dot(qh, kc.data() + static_cast<int64_t>(t) * kv_dim + kv_off, hd) * scale;
    }
    Softmax(&att);
    // out_h = sum_t att[t] * v_t                             [hd]
    std::fill(acc.begin(), acc.end(), 0.0);
    for (size_t t = 0; t < att.size(); ++t) {
      const float* vt = vc.data() + static_cast<int64_t>(t) * kv_dim + kv_off;
      for (size_t d = 0; d < acc.size(); ++d) acc[d] += att[t] * vt[d];
    }
    std::copy(acc.begin(), acc.end(), out->begin() + h * hd);
  }
}

// down · (silu(gate·xn) * (up·xn)): xn [n_embd] -> [n_ff] -> [n_embd].
std::vector<float> ReferenceModel::SwiGluFfn(const FloatMatrix& gate, const FloatMatrix& up,
                                             const FloatMatrix& down,
                                             const std::vector<float>& xn) const {
  const std::vector<float> g = MatVec(gate, xn);  // [n_ff]
  const std::vector<float> u = MatVec(up, xn);    // [n_ff]
  std::vector<float> hidden(g.size());            // [n_ff]
  for (size_t i = 0; i < g.size(); ++i) hidden[i] = static_cast<float>(Silu(g[i]) * u[i]);
  return MatVec(down, hidden);  // [n_embd]
}

// Router: p = softmax(router·xn) [n_expert]; the n_expert_used largest (ties: lower index),
// renormalised to sum 1, weight their experts' SwiGLU outputs.
std::vector<float> ReferenceModel::MoeFfn(const Layer& l, const std::vector<float>& xn) const {
  const ModelConfig& c = config_;
  const std::vector<float> router_logits = MatVec(l.router, xn);  // [n_expert]
  std::vector<double> p(router_logits.begin(), router_logits.end());
  Softmax(&p);
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)];
  });
  order.resize(static_cast<size_t>(c.n_expert_used));  // [n_expert_used]
  double p_sum = 0;
  for (int32_t e : order) p_sum += p[static_cast<size_t>(e)];
  std::vector<double> acc(static_cast<size_t>(c.n_embd), 0.0);  // [n_embd]
  for (int32_t e : order) {
    const size_t ue = static_cast<size_t>(e);
    const std::vector<float> y = SwiGluFfn(l.ffn_gate[ue], l.ffn_up[ue], l.ffn_down[ue], xn);
    const double w = p[ue] / p_sum;
    for (size_t i = 0; i < acc.size(); ++i) acc[i] += w * y[i];
  }
  return std::vector<float>(acc.begin(), acc.end());
}

}  // namespace parapet::engine::testing
