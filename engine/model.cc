// Model: loading and the forward pass.
#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "engine/gguf/gguf_file.h"
#include "engine/quants.h"

namespace parapet::engine {

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const ModelOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  PARAPET_ASSIGN_OR_RETURN(m->file_, gguf::GgufFile::Open(path));
  auto config = ModelConfig::FromGguf(*m->file_);
  if (!config.ok()) return config.status().WithContext(path);
  m->config_ = std::move(config).value();
  auto weights = Weights::FromGguf(*m->file_, &m->config_);
  if (!weights.ok()) return weights.status().WithContext(path);
  m->weights_ = std::move(weights).value();
  auto tokenizer = Tokenizer::FromGguf(*m->file_);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
  m->tokenizer_ = std::move(tokenizer).value();
  if (m->tokenizer_->n_vocab() != m->config_.n_vocab) {
    return InvalidArgumentError(
        path + ": tokenizer has " + std::to_string(m->tokenizer_->n_vocab()) +
        " tokens but token_embd has " + std::to_string(m->config_.n_vocab) + " rows");
  }
  if (options.backend != "cpu") {
    return InvalidArgumentError("unknown backend '" + options.backend + "' (available: cpu)");
  }
  int n_threads = options.n_threads;
  if (n_threads <= 0)
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n_threads > 256) return InvalidArgumentError("--threads must be at most 256");
  m->n_threads_ = n_threads;
  m->backend_ = NewCpuBackend(n_threads);
  return m;
}

std::unique_ptr<KvCache> Model::NewKvCache(int32_t n_ctx) const {
  return std::make_unique<KvCache>(config_.n_layer, config_.n_embd_kv(), n_ctx);
}

Status Model::Forward(std::span<const BatchToken> batch, float* logits) {
  const ModelConfig& c = config_;
  const int64_t n = static_cast<int64_t>(batch.size());
  if (n == 0) return Status::Ok();
  // Validate ids and positions before touching any cache. `next` tracks each sequence's
  // expected position through the batch.
  std::vector<std::pair<KvCache*, int32_t>> next;
  for (const BatchToken& b : batch) {
    if (b.token < 0 || b.token >= c.n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(b.token) + " is outside [0, " +
                                  std::to_string(c.n_vocab) + ")");
    }
    if (b.kv == nullptr || b.pos < 0 || b.pos >= b.kv->n_ctx()) {
      return InvalidArgumentError("position " + std::to_string(b.pos) +
                                  " is outside the context window");
    }
    auto it =
        std::find_if(next.begin(), next.end(), [&](const auto& e) { return e.first == b.kv; });
    if (it == next.end()) it = next.insert(next.end(), {b.kv, b.kv->n_past()});
    if (b.pos != it->second) {
      return InvalidArgumentError("position " + std::to_string(b.pos) +
                                  " does not follow the sequence's previous position " +
                                  std::to_string(it->second - 1));
    }
    ++it->second;
  }
  for (const auto& [kv, n_past] : next) kv->set_n_past(n_past);
  const int64_t q_dim = int64_t{c.n_head} * c.head_dim;
  const int64_t kv_dim = c.n_embd_kv();
  x_.resize(n * c.n_embd);
  xn_.resize(n * c.n_embd);
  q_.resize(n * q_dim);
  k_.resize(n * kv_dim);
  v_.resize(n * kv_dim);
  attn_.resize(n * q_dim);
  tmp_.resize(n * c.n_embd);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  std::vector<AttentionRow> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const BatchToken& b = batch[static_cast<size_t>(i)];
    // x[i] = token_embd[token]  [n_embd]
    DequantizeRow(weights_.token_embd.type, weights_.token_embd.row(0, b.token),
                  x_.data() + i * c.n_embd, c.n_embd);
    pos[static_cast<size_t>(i)] = b.pos;
    rows[static_cast<size_t>(i)] = AttentionRow{b.kv, b.pos};
  }
  RopeParams rope{c.n_rot, c.rope_freq_base, c.rope_freq_scale, weights_.rope_freqs};
  Backend& be = *backend_;
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& l = weights_.layers[static_cast<size_t>(il)];
    // ---- attention ----
    be.RmsNorm(x_.data(), l.attn_norm, n, c.n_embd, c.rms_eps, xn_.data());  // [n, n_embd]
    be.MatMul(l.wq, 0, xn_.data(), n, q_.data());                            // [n, q_dim]
    be.MatMul(l.wk, 0, xn_.data(), n, k_.data());                            // [n, kv_dim]
    be.MatMul(l.wv, 0, xn_.data(), n, v_.data());                            // [n, kv_dim]
    be.Rope(q_.data(), k_.data(), pos, c.n_head, c.n_head_kv, c.head_dim, rope);
    be.Attention(il, q_.data(), k_.data(), v_.data(), rows, c.n_head, c.n_head_kv, c.head_dim,
                 attn_.data());                        // [n, q_dim]
    be.MatMul(l.wo, 0, attn_.data(), n, tmp_.data());  // [n, n_embd]
    be.AddScaled(x_.data(), tmp_.data(), 1.0f, n * c.n_embd);
    // ---- feed-forward ----
    be.RmsNorm(x_.data(), l.ffn_norm, n, c.n_embd, c.rms_eps, xn_.data());
    if (c.is_moe()) {
      MoeFeedForward(il, n);
    } else {
      FeedForward(il, n);
    }
  }
  // ---- output ----
  std::vector<int64_t> out_rows;
  for (int64_t i = 0; i < n; ++i) {
    if (batch[static_cast<size_t>(i)].want_logits) out_rows.push_back(i);
  }
  if (out_rows.empty()) return Status::Ok();
  const int64_t m = static_cast<int64_t>(out_rows.size());
  for (int64_t j = 0; j < m; ++j) {  // gather the rows that want logits
    std::memmove(tmp_.data() + j * c.n_embd,
                 x_.data() + out_rows[static_cast<size_t>(j)] * c.n_embd, sizeof(float) * c.n_embd);
  }
  be.RmsNorm(tmp_.data(), weights_.output_norm, m, c.n_embd, c.rms_eps, xn_.data());
  be.MatMul(weights_.output, 0, xn_.data(), m, logits);  // [m, n_vocab]
  return Status::Ok();
}

void Model::FeedForward(int layer, int64_t n) {
  const ModelConfig& c = config_;
  const LayerWeights& l = weights_.layers[static_cast<size_t>(layer)];
  gate_.resize(n * c.n_ff);
  up_.resize(n * c.n_ff);
  backend_->MatMul(l.ffn_gate, 0, xn_.data(), n, gate_.data());  // [n, n_ff]
  backend_->MatMul(l.ffn_up, 0, xn_.data(), n, up_.data());      // [n, n_ff]
  backend_->SwiGlu(gate_.data(), up_.data(), n * c.n_ff);
  backend_->MatMul(l.ffn_down, 0, gate_.data(), n, tmp_.data());  // [n, n_embd]
  backend_->AddScaled(x_.data(), tmp_.data(), 1.0f, n * c.n_embd);
}

void Model::MoeFeedForward(int layer, int64_t n) {
  const ModelConfig& c = config_;
  const LayerWeights& l = weights_.layers[static_cast<size_t>(layer)];
  const int32_t n_exp = c.n_expert;
  const int32_t k = c.n_expert_used;
  router_.resize(n * n_exp);
  backend_->MatMul(l.ffn_router, 0, xn_.data(), n, router_.data());  // [n, n_expert]
  // Routing: softmax over experts -> top-k -> renormalise the k weights.
  std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(n_exp));
  std::vector<int32_t> order(static_cast<size_t>(n_exp));
  std::vector<float> p(static_cast<size_t>(n_exp));
  for (int64_t i = 0; i < n; ++i) {
    const float* logit = router_.data() + i * n_exp;
    const float mx = *std::max_element(logit, logit + n_exp);
    float sum = 0;
    for (int32_t e = 0; e < n_exp; ++e) sum += p[static_cast<size_t>(e)] = std::exp(logit[e] - mx);
    for (float& v : p) v /= sum;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] ||
             (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b);
    });
    float wsum = 0;
    for (int32_t j = 0; j < k; ++j) wsum += p[static_cast<size_t>(order[static_cast<size_t>(j)])];
    for (int32_t j = 0; j < k; ++j) {
      const int32_t e = order[static_cast<size_t>(j)];
      routed[static_cast<size_t>(e)].emplace_back(i, p[static_cast<size_t>(e)] / wsum);
    }
  }
  ffn_out_.assign(n * c.n_embd, 0.0f);
  for (int32_t e = 0; e < n_exp; ++e) {
    const auto& list = routed[static_cast<size_t>(e)];
    if (list.empty()) continue;
    const int64_t m = static_cast<int64_t>(list.size());
    gathered_.resize(m * c.n_embd);
    for (int64_t j = 0; j < m; ++j) {  // [m, n_embd] rows routed to expert e
      std::memcpy(gathered_.data() + j * c.n_embd,
                  xn_.data() + list[static_cast<size_t>(j)].first * c.n_embd,
                  sizeof(float) * c.n_embd);
    }
    gate_.resize(m * c.n_ff);
    up_.resize(m * c.n_ff);
    expert_out_.resize(m * c.n_embd);
    backend_->MatMul(l.ffn_gate_exps, e, gathered_.data(), m, gate_.data());  // [m, n_ff]
    backend_->MatMul(l.ffn_up_exps, e, gathered_.data(), m, up_.data());      // [m, n_ff]
    backend_->SwiGlu(gate_.data(), up_.data(), m * c.n_ff);
    backend_->MatMul(l.ffn_down_exps, e, gate_.data(), m, expert_out_.data());  // [m, n_embd]
    for (int64_t j = 0; j < m; ++j) {
      const auto& [row, weight] = list[static_cast<size_t>(j)];
      backend_->AddScaled(ffn_out_.data() + row * c.n_embd, expert_out_.data() + j * c.n_embd,
                          weight, c.n_embd);
    }
  }
  backend_->AddScaled(x_.data(), ffn_out_.data(), 1.0f, n * c.n_embd);
}

}  // namespace parapet::engine
