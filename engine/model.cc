// Model: loading and the forward pass.
#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "common/check.h"
#include "engine/gguf/gguf_file.h"

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
  int n_threads = options.n_threads;
  if (n_threads <= 0)
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n_threads > 256) return InvalidArgumentError("--threads must be at most 256");
  m->n_threads_ = n_threads;
  PARAPET_ASSIGN_OR_RETURN(m->backend_, NewBackend(options.backend, n_threads));
  Status uploaded = m->UploadWeights();
  if (!uploaded.ok()) return uploaded.WithContext(path);
  return m;
}

Status Model::UploadWeights() {
  Backend& be = *backend_;
  const ModelConfig& c = config_;
  auto tensor = [&](const WeightTensor& w) {
    return w.present() ? be.UploadTensor(w) : Status::Ok();
  };
  auto vec = [&](const float* v, int64_t n) { return v ? be.UploadVector(v, n) : Status::Ok(); };
  PARAPET_RETURN_IF_ERROR(vec(weights_.output_norm, c.n_embd));
  PARAPET_RETURN_IF_ERROR(tensor(weights_.output));
  PARAPET_RETURN_IF_ERROR(vec(weights_.rope_freqs, c.n_rot / 2));
  for (const LayerWeights& l : weights_.layers) {
    PARAPET_RETURN_IF_ERROR(vec(l.attn_norm, c.n_embd));
    PARAPET_RETURN_IF_ERROR(vec(l.ffn_norm, c.n_embd));
    for (const WeightTensor* w :
         {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down, &l.ffn_router,
          &l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) {
      PARAPET_RETURN_IF_ERROR(tensor(*w));
    }
  }
  return Status::Ok();
}

std::unique_ptr<KvCache> Model::NewKvCache(int32_t n_ctx) const {
  return backend_->NewKvCache(config_.n_layer, config_.n_embd_kv(), n_ctx);
}

Status Model::CopyKvPrefix(const KvCache& from, int32_t n, KvCache& to) {
  PARAPET_CHECK(from.n_layer() == config_.n_layer && from.n_embd_kv() == config_.n_embd_kv());
  PARAPET_CHECK(to.n_layer() == config_.n_layer && to.n_embd_kv() == config_.n_embd_kv());
  if (n < 0 || n > from.n_past()) {
    return InvalidArgumentError("cannot copy " + std::to_string(n) + " KV positions from a cache " +
                                "holding " + std::to_string(from.n_past()));
  }
  if (n > to.n_ctx()) {
    return InvalidArgumentError("cannot copy " + std::to_string(n) + " KV positions into a cache " +
                                "of " + std::to_string(to.n_ctx()));
  }
  if (to.n_past() != 0) return InvalidArgumentError("the KV cache to seed is not empty");
  PARAPET_RETURN_IF_ERROR(backend_->CopyKvPositions(from, to, n));
  to.set_n_past(n);
  return Status::Ok();
}

namespace {

// Backend buffer slots, one per intermediate of the forward pass.
enum Slot : int {
  kX,        // [n, n_embd] residual stream
  kXn,       // [n, n_embd] normalised
  kQ,        // [n, n_head*hd]
  kK,        // [n, n_kv*hd]
  kV,        // [n, n_kv*hd]
  kAttn,     // [n, n_head*hd]
  kTmp,      // [n, n_embd]
  kGate,     // [n, n_ff]
  kUp,       // [n, n_ff]
  kRouter,   // [n, n_expert]
  kIds,      // [n, n_expert_used] int32 expert ids
  kWeights,  // [n, n_expert_used] routing weights
  kLogits,   // [m, n_vocab]
};

// Steps of at most this many tokens may be replayed by the backend (decode steps).
constexpr int64_t kMaxReplayTokens = 8;

}  // namespace

float* Model::Scratch(int slot, int64_t n_floats) {
  return static_cast<float*>(backend_->Buffer(slot, sizeof(float) * static_cast<size_t>(n_floats)));
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
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  std::vector<int32_t> pos(static_cast<size_t>(n));
  std::vector<AttentionRow> rows(static_cast<size_t>(n));
  std::vector<int32_t> out_rows;
  for (int64_t i = 0; i < n; ++i) {
    const BatchToken& b = batch[static_cast<size_t>(i)];
    tokens[static_cast<size_t>(i)] = b.token;
    pos[static_cast<size_t>(i)] = b.pos;
    rows[static_cast<size_t>(i)] = AttentionRow{b.kv, b.pos};
    if (b.want_logits) out_rows.push_back(static_cast<int32_t>(i));
  }
  const int64_t m = static_cast<int64_t>(out_rows.size());
  Backend& be = *backend_;
  be.BeginStep(n <= kMaxReplayTokens ? (uint64_t{1} << 63) | (uint64_t(n) << 32) | uint64_t(m) : 0);
  float* x = Scratch(kX, n * c.n_embd);
  float* xn = Scratch(kXn, n * c.n_embd);
  float* q = Scratch(kQ, n * q_dim);
  float* k = Scratch(kK, n * kv_dim);
  float* v = Scratch(kV, n * kv_dim);
  float* attn = Scratch(kAttn, n * q_dim);
  float* tmp = Scratch(kTmp, n * c.n_embd);
  be.Embed(weights_.token_embd, tokens, x);  // x[i] = token_embd[token]  [n, n_embd]
  RopeParams rope{c.n_rot, c.rope_freq_base, c.rope_freq_scale, weights_.rope_freqs};
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& l = weights_.layers[static_cast<size_t>(il)];
    // ---- attention ----
    be.RmsNorm(x, l.attn_norm, n, c.n_embd, c.rms_eps, xn);  // [n, n_embd]
    be.MatMul(l.wq, 0, xn, n, q);                            // [n, q_dim]
    be.MatMul(l.wk, 0, xn, n, k);                            // [n, kv_dim]
    be.MatMul(l.wv, 0, xn, n, v);                            // [n, kv_dim]
    be.Rope(q, k, pos, c.n_head, c.n_head_kv, c.head_dim, rope);
    be.Attention(il, q, k, v, rows, c.n_head, c.n_head_kv, c.head_dim, attn);  // [n, q_dim]
    be.MatMul(l.wo, 0, attn, n, tmp);                                          // [n, n_embd]
    be.AddScaled(x, tmp, 1.0f, n * c.n_embd);
    // ---- feed-forward ----
    be.RmsNorm(x, l.ffn_norm, n, c.n_embd, c.rms_eps, xn);
    if (c.is_moe()) {
      MoeFeedForward(il, n);
    } else {
      FeedForward(il, n);
    }
  }
  // ---- output ----
  float* logits_buf = nullptr;
  if (m > 0) {
    be.GatherRows(x, out_rows, c.n_embd, tmp);  // [m, n_embd] rows that want logits
    be.RmsNorm(tmp, weights_.output_norm, m, c.n_embd, c.rms_eps, xn);
    logits_buf = Scratch(kLogits, m * c.n_vocab);
    be.MatMul(weights_.output, 0, xn, m, logits_buf);  // [m, n_vocab]
  }
  PARAPET_RETURN_IF_ERROR(be.EndStep());
  if (m == 0) return Status::Ok();
  return be.Read(logits, logits_buf, sizeof(float) * static_cast<size_t>(m * c.n_vocab));
}

void Model::FeedForward(int layer, int64_t n) {
  const ModelConfig& c = config_;
  const LayerWeights& l = weights_.layers[static_cast<size_t>(layer)];
  Backend& be = *backend_;
  float* x = Scratch(kX, n * c.n_embd);
  float* xn = Scratch(kXn, n * c.n_embd);
  float* tmp = Scratch(kTmp, n * c.n_embd);
  float* gate = Scratch(kGate, n * c.n_ff);
  float* up = Scratch(kUp, n * c.n_ff);
  be.MatMul(l.ffn_gate, 0, xn, n, gate);  // [n, n_ff]
  be.MatMul(l.ffn_up, 0, xn, n, up);      // [n, n_ff]
  be.SwiGlu(gate, up, n * c.n_ff);
  be.MatMul(l.ffn_down, 0, gate, n, tmp);  // [n, n_embd]
  be.AddScaled(x, tmp, 1.0f, n * c.n_embd);
}

void Model::MoeFeedForward(int layer, int64_t n) {
  const ModelConfig& c = config_;
  const LayerWeights& l = weights_.layers[static_cast<size_t>(layer)];
  Backend& be = *backend_;
  const int32_t k = c.n_expert_used;
  float* x = Scratch(kX, n * c.n_embd);
  float* xn = Scratch(kXn, n * c.n_embd);
  float* router = Scratch(kRouter, n * c.n_expert);
  auto* ids = static_cast<int32_t*>(be.Buffer(kIds, sizeof(int32_t) * static_cast<size_t>(n * k)));
  float* weights = Scratch(kWeights, n * k);
  be.MatMul(l.ffn_router, 0, xn, n, router);  // [n, n_expert]
  // Routing: softmax over experts -> top-k -> renormalise the k weights.
  be.Route(router, n, c.n_expert, k, ids, weights);  // [n, k] ids and weights
  // x += sum of the k experts' outputs, weighted  [n, n_embd]
  be.MoeFfn(ExpertWeights{&l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}, xn, ids, weights, n,
            k, x);
}

}  // namespace parapet::engine
