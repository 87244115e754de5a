// CpuBackend: the Backend on host memory. Matrix products run through the SIMD vec-dot kernels
// of engine/cpu/vec_dot.h (activations converted once per product into the kernel's format, as
// llama.cpp does), split over a ThreadPool by weight rows so that each weight byte is read once
// per product whatever the batch size. Not thread-safe: one operation at a time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

#include "common/check.h"
#include "engine/backend.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cpu/vec_dot.h"
#include "engine/kv_cache.h"
#include "engine/quants.h"

namespace parapet::engine {
namespace {

constexpr int kActBlock = 8;  // activation rows per kernel call (weight row reuse in prefill)
// Matmul tasks per thread. Few and long: each task streams its rows from memory, and the
// hardware prefetchers need a stream to run a while before they reach full rate (16 short tasks
// per thread decoded ~15% slower); four still let a thread take over part of a descheduled
// one's share.
constexpr int kChunksPerThread = 4;
// Below this many multiply-adds an operation runs on the calling thread: waking workers would
// cost more than it saves (tiny models, small batches).
constexpr int64_t kMinParallelWork = 1 << 15;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads) : pool_(n_threads) {}

  const char* name() const override { return "cpu"; }

  // ---- memory: host memory, weights read in place ----

  void* Buffer(int slot, size_t bytes) override {
    PARAPET_CHECK(slot >= 0 && slot < 64);
    if (buffers_.size() <= static_cast<size_t>(slot))
      buffers_.resize(static_cast<size_t>(slot) + 1);
    Slot& b = buffers_[static_cast<size_t>(slot)];
    if (b.bytes < bytes) {
      b.data = std::make_unique<uint8_t[]>(bytes);
      b.bytes = bytes;
    }
    return b.data.get();
  }
  std::unique_ptr<KvCache> NewKvCache(int32_t n_layer, int32_t n_embd_kv, int32_t n_ctx) override {
    return std::make_unique<KvCache>(n_layer, n_embd_kv, n_ctx);
  }
  Status UploadTensor(const WeightTensor&) override { return Status::Ok(); }
  Status UploadVector(const float*, int64_t) override { return Status::Ok(); }
  void Write(void* dst, const void* host_src, size_t bytes) override {
    std::memcpy(dst, host_src, bytes);
  }
  Status Read(void* host_dst, const void* src, size_t bytes) override {
    if (host_dst != src) std::memcpy(host_dst, src, bytes);
    return Status::Ok();
  }
  Status CopyKvPositions(const KvCache& from, KvCache& to, int32_t n) override {
    PARAPET_CHECK(from.n_layer() == to.n_layer() && from.n_embd_kv() == to.n_embd_kv());
    PARAPET_CHECK(n >= 0 && n <= from.n_ctx() && n <= to.n_ctx());
    // Per layer, positions [0, n) are one contiguous run of n * n_embd_kv floats.
    const size_t bytes = sizeof(float) * static_cast<size_t>(n) * from.n_embd_kv();
    for (int32_t l = 0; l < from.n_layer() && n > 0; ++l) {
      std::memcpy(to.k(l, 0), from.k(l, 0), bytes);
      std::memcpy(to.v(l, 0), from.v(l, 0), bytes);
    }
    return Status::Ok();
  }
  void BeginStep(uint64_t) override {}
  Status EndStep() override { return Status::Ok(); }

  // ---- ops ----

  void Embed(const WeightTensor& table, std::span<const int32_t> tokens, float* x) override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      DequantizeRow(table.type, table.row(0, tokens[i]), x + i * table.cols, table.cols);
    }
  }

  void GatherRows(const float* x, std::span<const int32_t> rows, int64_t dim, float* y) override {
    for (size_t j = 0; j < rows.size(); ++j) {
      std::memcpy(y + j * dim, x + rows[j] * dim, sizeof(float) * dim);
    }
  }

  void Route(const float* logits, int64_t n, int32_t n_expert, int32_t k, int32_t* ids,
             float* weights) override {
    std::vector<int32_t> order(static_cast<size_t>(n_expert));
    std::vector<float> p(static_cast<size_t>(n_expert));
    for (int64_t i = 0; i < n; ++i) {
      const float* logit = logits + i * n_expert;
      const float mx = *std::max_element(logit, logit + n_expert);
      float sum = 0;
      for (int32_t e = 0; e < n_expert; ++e) {
        sum += p[static_cast<size_t>(e)] = std::exp(logit[e] - mx);
      }
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
        ids[i * k + j] = e;
        weights[i * k + j] = p[static_cast<size_t>(e)] / wsum;
      }
    }
  }

  // Groups the (token, expert) pairs by expert and runs each expert once over its rows.
  void MoeFfn(const ExpertWeights& w, const float* x, const int32_t* ids, const float* weights,
              int64_t n, int32_t k, float* out) override {
    const int64_t n_embd = w.gate->cols;
    const int64_t n_ff = w.gate->rows;
    std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(w.gate->n_mats));
    for (int64_t i = 0; i < n; ++i) {
      for (int32_t j = 0; j < k; ++j) {
        routed[static_cast<size_t>(ids[i * k + j])].emplace_back(i, weights[i * k + j]);
      }
    }
    ffn_out_.assign(static_cast<size_t>(n * n_embd), 0.0f);
    float* f = ffn_out_.data();
    for (size_t e = 0; e < routed.size(); ++e) {
      const auto& list = routed[e];
      if (list.empty()) continue;
      const int64_t m = static_cast<int64_t>(list.size());
      gathered_.resize(static_cast<size_t>(m * n_embd));
      for (int64_t j = 0; j < m; ++j) {  // [m, n_embd] rows routed to expert e
        std::memcpy(gathered_.data() + j * n_embd, x + list[static_cast<size_t>(j)].first * n_embd,
                    sizeof(float) * n_embd);
      }
      gate_.resize(static_cast<size_t>(m * n_ff));
      up_.resize(static_cast<size_t>(m * n_ff));
      expert_out_.resize(static_cast<size_t>(m * n_embd));
      const auto mat = static_cast<int64_t>(e);
      MatMul(*w.gate, mat, gathered_.data(), m, gate_.data());  // [m, n_ff]
      MatMul(*w.up, mat, gathered_.data(), m, up_.data());      // [m, n_ff]
      SwiGlu(gate_.data(), up_.data(), m * n_ff);
      MatMul(*w.down, mat, gate_.data(), m, expert_out_.data());  // [m, n_embd]
      for (int64_t j = 0; j < m; ++j) {
        const auto& [row, weight] = list[static_cast<size_t>(j)];
        AddScaled(f + row * n_embd, expert_out_.data() + j * n_embd, weight, n_embd);
      }
    }
    AddScaled(out, f, 1.0f, n * n_embd);
  }

  void MatMul(const WeightTensor& w, int64_t mat, const float* x, int64_t n, float* y) override {
    const cpu::VecDotKernel& k = cpu::GetVecDotKernel(w.type);
    const uint8_t* act;
    size_t stride;
    if (k.act_type == TensorType::kF32) {
      act = reinterpret_cast<const uint8_t*>(x);
      stride = static_cast<size_t>(w.cols) * sizeof(float);
    } else {
      stride = RowBytes(k.act_type, w.cols);
      if (act_.size() < stride * static_cast<size_t>(n)) act_.resize(stride * n);
      uint8_t* dst = act_.data();
      auto quantize = [&](int64_t i, int) {
        k.quantize_act(x + i * w.cols, dst + i * stride, w.cols);
      };
      ParallelFor(n, n * w.cols, quantize);
      act = dst;
    }
    // Rows go in groups of kMaxDotRows. With a multi-row kernel a group's rows lie a quarter of
    // the matrix apart (g, g + quarter, ...), so a task reads four sequential streams far apart,
    // which the hardware prefetchers follow (four adjacent rows, interleaved within one page,
    // halved the rate from memory); otherwise group g is rows 4g .. 4g + 3, read in order. Tasks
    // are kChunksPerThread chunks of groups per thread; rows past the last full group
    // form one more task.
    const int64_t rows = w.rows;
    const int64_t n_groups = rows / cpu::kMaxDotRows;
    const bool spread = k.dot_rows != nullptr;
    const int64_t r_step = spread ? n_groups : 1;
    const int64_t chunk =
        std::max<int64_t>(1, n_groups / (int64_t{pool_.n_threads()} * kChunksPerThread));
    const int64_t n_chunks = (n_groups + chunk - 1) / chunk;
    const int left = static_cast<int>(rows - n_groups * cpu::kMaxDotRows);
    ParallelFor(n_chunks + (left > 0 ? 1 : 0), rows * w.cols * n, [&](int64_t c, int) {
      if (c == n_chunks) {
        return DotRows(k, w, mat, n_groups * cpu::kMaxDotRows, 1, left, act, stride, n, y);
      }
      const int64_t g_end = std::min(n_groups, (c + 1) * chunk);
      for (int64_t g = c * chunk; g < g_end; ++g) {
        const int64_t r0 = spread ? g : g * cpu::kMaxDotRows;
        DotRows(k, w, mat, r0, r_step, cpu::kMaxDotRows, act, stride, n, y);
      }
    });
  }

  void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
               float* y) override {
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * dim;
      float* yi = y + i * dim;
      double sum = 0;  // double, as ggml accumulates
      for (int64_t d = 0; d < dim; ++d) sum += static_cast<double>(xi[d] * xi[d]);
      const float scale = 1.0f / std::sqrt(static_cast<float>(sum / dim) + eps);
      for (int64_t d = 0; d < dim; ++d) yi[d] = xi[d] * scale * weight[d];
    }
  }

  void Rope(float* q, float* k, std::span<const int32_t> pos, int32_t n_head, int32_t n_head_kv,
            int32_t head_dim, const RopeParams& p) override {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    std::vector<float> cs(static_cast<size_t>(p.n_rot));  // cos, sin per pair
    for (size_t i = 0; i < pos.size(); ++i) {
      float theta = static_cast<float>(pos[i]);
      for (int32_t d = 0; d < p.n_rot; d += 2) {
        const float ff = p.freq_factors != nullptr ? p.freq_factors[d / 2] : 1.0f;
        const float t = p.freq_scale * (theta / ff);
        cs[static_cast<size_t>(d)] = std::cos(t);
        cs[static_cast<size_t>(d) + 1] = std::sin(t);
        theta *= theta_scale;
      }
      RotateHeads(q + i * n_head * head_dim, n_head, head_dim, p.n_rot, cs.data());
      RotateHeads(k + i * n_head_kv * head_dim, n_head_kv, head_dim, p.n_rot, cs.data());
    }
  }

  void Attention(int32_t layer, const float* q, const float* k, const float* v,
                 std::span<const AttentionRow> rows, int32_t n_head, int32_t n_head_kv,
                 int32_t head_dim, float* out) override {
    const int32_t kv_dim = n_head_kv * head_dim;
    for (size_t i = 0; i < rows.size(); ++i) {
      KvCache* kv = rows[i].kv;
      PARAPET_CHECK(rows[i].pos >= 0 && rows[i].pos < kv->n_ctx());
      std::memcpy(kv->k(layer, rows[i].pos), k + i * kv_dim, sizeof(float) * kv_dim);
      std::memcpy(kv->v(layer, rows[i].pos), v + i * kv_dim, sizeof(float) * kv_dim);
    }
    const int32_t group = n_head / n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const int64_t n_tasks = static_cast<int64_t>(rows.size()) * n_head;
    int max_pos = 0;
    for (const AttentionRow& r : rows) max_pos = std::max(max_pos, r.pos);
    if (scores_.size() < static_cast<size_t>(pool_.n_threads()) * (max_pos + 1)) {
      scores_.resize(static_cast<size_t>(pool_.n_threads()) * (max_pos + 1));
    }
    auto head_task = [&](int64_t task, int thread) {
      const size_t i = static_cast<size_t>(task / n_head);
      const int32_t h = static_cast<int32_t>(task % n_head);
      const int32_t kvh = h / group;
      const KvCache& kv = *rows[i].kv;
      const int32_t n_pos = rows[i].pos + 1;
      const float* qh = q + (i * n_head + h) * head_dim;
      float* s = scores_.data() + static_cast<size_t>(thread) * (max_pos + 1);
      float mx = -INFINITY;
      for (int32_t t = 0; t < n_pos; ++t) {
        s[t] = Dot(qh, kv.k(layer, t) + kvh * head_dim, head_dim) * scale;
        mx = std::max(mx, s[t]);
      }
      float sum = 0;
      for (int32_t t = 0; t < n_pos; ++t) {
        s[t] = std::exp(s[t] - mx);
        sum += s[t];
      }
      const float inv = 1.0f / sum;
      float* oh = out + (i * n_head + h) * head_dim;
      std::fill(oh, oh + head_dim, 0.0f);
      for (int32_t t = 0; t < n_pos; ++t) {
        const float* vt = kv.v(layer, t) + kvh * head_dim;
        const float a = s[t] * inv;
        for (int32_t d = 0; d < head_dim; ++d) oh[d] += a * vt[d];
      }
    };
    ParallelFor(n_tasks, n_tasks * (max_pos + 1) * head_dim * 2, head_task);
  }

  void SwiGlu(float* gate, const float* up, int64_t n_elems) override {
    for (int64_t i = 0; i < n_elems; ++i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }

  void AddScaled(float* y, const float* x, float scale, int64_t n_elems) override {
    if (scale == 1.0f) {
      for (int64_t i = 0; i < n_elems; ++i) y[i] += x[i];
    } else {
      for (int64_t i = 0; i < n_elems; ++i) y[i] += scale * x[i];
    }
  }

 private:
  // Runs fn over [0, n_tasks) on the pool, or inline when `work` (multiply-adds) is small.
  void ParallelFor(int64_t n_tasks, int64_t work, const std::function<void(int64_t, int)>& fn) {
    if (work < kMinParallelWork) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
      return;
    }
    pool_.Run(n_tasks, fn);
  }

  // y[j * w.rows + r] = W[mat] row r · activation row j for the n_rows rows r = r0 + i * r_step
  // and j < n; activation rows go to the kernel kActBlock at a time.
  static void DotRows(const cpu::VecDotKernel& k, const WeightTensor& w, int64_t mat, int64_t r0,
                      int64_t r_step, int n_rows, const uint8_t* act, size_t stride, int64_t n,
                      float* y) {
    const uint8_t* wr = w.row(mat, r0);
    const size_t w_stride = static_cast<size_t>(r_step) * w.row_bytes;
    float tmp[kActBlock][cpu::kMaxDotRows];
    for (int64_t j0 = 0; j0 < n; j0 += kActBlock) {
      const int nb = static_cast<int>(std::min<int64_t>(kActBlock, n - j0));
      const uint8_t* a = act + j0 * stride;
      if (k.dot_rows != nullptr) {
        k.dot_rows(w.cols, wr, w_stride, n_rows, a, stride, nb, tmp[0], cpu::kMaxDotRows);
      } else {
        for (int i = 0; i < n_rows; ++i) {
          float col[kActBlock];
          k.dot(w.cols, wr + i * w_stride, a, stride, nb, col);
          for (int jj = 0; jj < nb; ++jj) tmp[jj][i] = col[jj];
        }
      }
      for (int jj = 0; jj < nb; ++jj) {
        float* yj = y + (j0 + jj) * w.rows + r0;
        for (int i = 0; i < n_rows; ++i) yj[i * r_step] = tmp[jj][i];
      }
    }
  }

  // Dot product of n floats in kDotLanes interleaved partial sums (which the compiler turns into
  // vector registers; a single running sum would stay scalar without -ffast-math).
  static float Dot(const float* a, const float* b, int32_t n) {
    constexpr int kDotLanes = 8;
    float part[kDotLanes] = {};
    int32_t d = 0;
    for (; d + kDotLanes <= n; d += kDotLanes) {
      for (int j = 0; j < kDotLanes; ++j) part[j] += a[d + j] * b[d + j];
    }
    for (; d < n; ++d) part[0] += a[d] * b[d];
    float sum = 0;
    for (float p : part) sum += p;
    return sum;
  }

  static void RotateHeads(float* x, int32_t n_heads, int32_t head_dim, int32_t n_rot,
                          const float* cs) {
    for (int32_t h = 0; h < n_heads; ++h) {
      float* xh = x + h * head_dim;
      for (int32_t d = 0; d < n_rot; d += 2) {
        const float x0 = xh[d];
        const float x1 = xh[d + 1];
        xh[d] = x0 * cs[d] - x1 * cs[d + 1];
        xh[d + 1] = x0 * cs[d + 1] + x1 * cs[d];
      }
    }
  }

  struct Slot {
    std::unique_ptr<uint8_t[]> data;
    size_t bytes = 0;
  };

  cpu::ThreadPool pool_;
  std::vector<Slot> buffers_;
  std::vector<float> gathered_;    // [m, n_embd] rows routed to one expert
  std::vector<float> gate_;        // [m, n_ff]
  std::vector<float> up_;          // [m, n_ff]
  std::vector<float> expert_out_;  // [m, n_embd]
  std::vector<float> ffn_out_;     // [n, n_embd] sum of the experts' outputs
  std::vector<uint8_t> act_;
  std::vector<float> scores_;
};

}  // namespace

std::unique_ptr<Backend> NewCpuBackend(int n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace parapet::engine
