// CudaBackend: the Backend on CUDA device 0 (cuda_backend.h). Host code: owns the stream, the
// device buffers, the uploaded weights, the staging area for per-step host inputs and the step
// graphs; the kernels are in the .cu files beside it. Every CUDA call is checked; the first
// failure becomes the backend's Status and sticks (state after a device fault is unknown).
// Not thread-safe: one operation at a time.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/check.h"
#include "engine/cuda/attention.cuh"
#include "engine/cuda/cublas_loader.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/dequant.cuh"
#include "engine/cuda/device_layout.h"
#include "engine/cuda/elementwise.cuh"
#include "engine/cuda/gemv.cuh"
#include "engine/cuda/launch_config.h"
#include "engine/cuda/moe.cuh"
#include "engine/cuda/norm_rope.cuh"
#include "engine/cuda/staging_arena.h"
#include "engine/cuda/step_graphs.h"
#include "engine/kv_cache.h"
#include "engine/quants.h"

namespace parapet::engine::cuda {
namespace {

// Buffer slots the backend uses itself, past the caller's (< 64).
enum InternalSlot : int {
  kActQ = 64,   // int8 activations of the current product
  kActD,        // their (scale, scale * sum) per 32
  kMoePerm,     // [n*k] pairs sorted by expert
  kMoeOffsets,  // [n_expert + 1]
  kMoeGate,     // [n*k, n_ff]
  kMoeUp,       // [n*k, n_ff]
  kMoeDown,     // [n*k, n_embd]
  kMoeActQ,     // int8 of kMoeGate for the down product
  kMoeActD,
  kGemmW,  // fp16 weights of a large-batch product
  kGemmX,  // fp16 activations of it
  kSlotCount,
};

constexpr size_t kInitialStagingBytes = size_t{4} << 20;
constexpr size_t kMaxGraphs = 16;
constexpr size_t kUploadChunkBytes = size_t{64} << 20;
// Batches of at least this many rows run as fp16 GEMMs on cuBLAS (weights dequantised once per
// product) instead of passes of the GEMV kernel over kGemvMaxRows rows each: from here on the
// passes read more bytes than dequantising writes and the GEMM reads.
constexpr int64_t kGemmMinRows = 64;

// Tags for staged copies derived from the same host span.
enum StageTag : int { kTagPositions = 1, kTagRows, kTagGather, kTagUnique };

std::string ErrorText(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

struct DeviceWeight {
  TensorType type = TensorType::kF32;
  DeviceLayout layout;
  int64_t rows = 0;
  int64_t cols = 0;
  uint8_t* q = nullptr;
  uint16_t* d = nullptr;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend()
      : arena_(kInitialStagingBytes),
        graphs_(kMaxGraphs, [](void* g) { cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(g)); }),
        buffers_(kSlotCount) {}

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    graphs_.Invalidate();
    for (Buf& b : buffers_) cudaFree(b.ptr);
    FreeRetired();
    for (auto& [host, w] : weights_) {
      cudaFree(w.q);
      cudaFree(w.d);
    }
    for (auto& [host, v] : vectors_) cudaFree(v);
    cudaFreeHost(stage_host_);
    cudaFree(stage_dev_);
    if (cublas_ != nullptr) cublas_api_->destroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status Init() {
    if (!Ok(cudaStreamCreate(&stream_), "cudaStreamCreate") ||
        !Ok(cudaMallocHost(&stage_host_, arena_.capacity()), "cudaMallocHost") ||
        !Ok(cudaMalloc(&stage_dev_, arena_.capacity()), "cudaMalloc")) {
      return status_;
    }
    return Status::Ok();
  }

  const char* name() const override { return "cuda"; }

  // ---- memory ----

  void* Buffer(int slot, size_t bytes) override {
    Buf& b = buffers_[static_cast<size_t>(slot)];
    if (b.bytes >= bytes) return b.ptr;
    if (mode_ == Mode::kReplay) {  // cannot happen for an honest key; never replay stale graphs
      Fail(InternalError("CUDA backend: a replayed step asked for a larger buffer"));
      return b.ptr;
    }
    size_t size = 256;
    while (size < bytes) size *= 2;
    void* p = nullptr;
    if (!Ok(cudaMalloc(&p, size), "cudaMalloc (activation buffer)")) return nullptr;
    if (b.ptr != nullptr) retired_.push_back(b.ptr);  // enqueued work may still read it
    b.ptr = p;
    b.bytes = size;
    if (slot == kActQ || slot == kActD) quantized_ = Quantized{};
    GraphsInvalid();
    return p;
  }

  std::unique_ptr<KvCache> NewKvCache(int32_t n_layer, int32_t n_embd_kv, int32_t n_ctx) override {
    const size_t half = KvCache::BytesFor(n_layer, n_embd_kv, n_ctx) / 2;
    void* p = nullptr;
    if (cudaMalloc(&p, 2 * half) != cudaSuccess) {
      cudaGetLastError();  // out of memory is not a device fault: the cache reports it on use
      return std::make_unique<KvCache>(n_layer, n_embd_kv, n_ctx, nullptr, nullptr, nullptr);
    }
    auto* k = static_cast<float*>(p);
    std::shared_ptr<void> owner(p, [](void* q) { cudaFree(q); });
    return std::make_unique<KvCache>(n_layer, n_embd_kv, n_ctx, k, k + half / sizeof(float),
                                     std::move(owner));
  }

  Status UploadTensor(const WeightTensor& w) override {
    if (!status_.ok()) return status_;
    if (auto it = weights_.find(w.data); it != weights_.end()) {  // uploaded again: replace
      Ok(cudaStreamSynchronize(stream_), "UploadTensor");
      cudaFree(it->second.q);
      cudaFree(it->second.d);
      weights_.erase(it);
    }
    DeviceWeight dw;
    dw.type = w.type;
    dw.layout = LayoutFor(w.type, w.cols);
    dw.rows = w.rows;
    dw.cols = w.cols;
    if (!dw.layout.supported) {
      return InvalidArgumentError("tensor " + std::string(w.name) + ": type " +
                                  Traits(w.type).name + " with " + std::to_string(w.cols) +
                                  " columns is not supported by the CUDA backend");
    }
    const int64_t n_rows = w.rows * w.n_mats;
    if (!Ok(cudaMalloc(&dw.q, dw.layout.q_row_bytes * n_rows), "cudaMalloc (weights)")) {
      return status_;
    }
    weights_[w.data] = dw;  // owned from here on (freed by the destructor)
    if (dw.layout.d_row_elems > 0 &&
        !Ok(cudaMalloc(&dw.d, 2 * dw.layout.d_row_elems * n_rows), "cudaMalloc (scales)")) {
      return status_;
    }
    weights_[w.data] = dw;
    if (RepackIsCopy(w.type)) {
      Ok(cudaMemcpy(dw.q, w.data, dw.layout.q_row_bytes * n_rows, cudaMemcpyHostToDevice),
         "weight upload");
      return status_;
    }
    const int64_t chunk_rows =
        std::max<int64_t>(1, static_cast<int64_t>(kUploadChunkBytes / w.row_bytes));
    std::vector<uint8_t> q(dw.layout.q_row_bytes * static_cast<size_t>(chunk_rows));
    std::vector<uint16_t> d(dw.layout.d_row_elems * static_cast<size_t>(chunk_rows));
    for (int64_t r = 0; r < n_rows && status_.ok(); r += chunk_rows) {
      const int64_t m = std::min(chunk_rows, n_rows - r);
      RepackRows(w.type, w.cols, w.data + r * w.row_bytes, m, q.data(), d.data());
      Ok(cudaMemcpy(dw.q + r * dw.layout.q_row_bytes, q.data(), dw.layout.q_row_bytes * m,
                    cudaMemcpyHostToDevice),
         "weight upload");
      Ok(cudaMemcpy(dw.d + r * dw.layout.d_row_elems, d.data(), 2 * dw.layout.d_row_elems * m,
                    cudaMemcpyHostToDevice),
         "weight upload");
    }
    return status_;
  }

  Status UploadVector(const float* v, int64_t n) override {
    if (!status_.ok()) return status_;
    if (auto it = vectors_.find(v); it != vectors_.end()) {  // uploaded again: replace
      Ok(cudaStreamSynchronize(stream_), "UploadVector");
      cudaFree(it->second);
      vectors_.erase(it);
    }
    float* p = nullptr;
    if (!Ok(cudaMalloc(&p, sizeof(float) * n), "cudaMalloc (vector)")) return status_;
    vectors_[v] = p;
    Ok(cudaMemcpy(p, v, sizeof(float) * n, cudaMemcpyHostToDevice), "vector upload");
    return status_;
  }

  void Write(void* dst, const void* host_src, size_t bytes) override {
    Touched();
    const void* staged = Stage(host_src, bytes, kTagUnique);
    if (staged != nullptr && Launching()) {
      Ok(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyDeviceToDevice, stream_), "Write");
    }
  }

  Status Read(void* host_dst, const void* src, size_t bytes) override {
    if (!status_.ok()) return status_;
    Ok(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "Read");
    Ok(cudaStreamSynchronize(stream_), "Read");
    if (!in_step_) {
      arena_.Reset();
      FreeRetired();
    }
    return status_;
  }

  // Device-to-device copies on the stream, so the next step (eager or a replayed graph, which
  // reads cache pointers and positions from the staging area and so does not care how the
  // cache was filled) sees them. Not inside a step: a capture would record the copy into the
  // graph and replay it with later steps.
  Status CopyKvPositions(const KvCache& from, KvCache& to, int32_t n) override {
    PARAPET_CHECK(!in_step_);
    PARAPET_CHECK(from.n_layer() == to.n_layer() && from.n_embd_kv() == to.n_embd_kv());
    PARAPET_CHECK(n >= 0 && n <= from.n_ctx() && n <= to.n_ctx());
    if (!status_.ok()) return status_;
    if (n == 0) return Status::Ok();
    if (from.k(0, 0) == nullptr || to.k(0, 0) == nullptr) {
      return ResourceExhaustedError("CUDA backend: no device memory for the KV cache");
    }
    Touched();
    // Per layer, positions [0, n) are one contiguous run of n * n_embd_kv floats.
    const size_t bytes = sizeof(float) * static_cast<size_t>(n) * from.n_embd_kv();
    for (int32_t l = 0; l < from.n_layer() && status_.ok(); ++l) {
      Ok(cudaMemcpyAsync(to.k(l, 0), from.k(l, 0), bytes, cudaMemcpyDeviceToDevice, stream_),
         "KV copy");
      Ok(cudaMemcpyAsync(to.v(l, 0), from.v(l, 0), bytes, cudaMemcpyDeviceToDevice, stream_),
         "KV copy");
    }
    return status_;
  }

  // ---- steps ----

  void BeginStep(uint64_t key) override {
    Touched();
    in_step_ = true;
    step_error_ = Status::Ok();
    arena_.Reset();
    key_ = key;
    tainted_ = false;
    mode_ = Mode::kEager;
    if (!status_.ok()) return;
    switch (graphs_.Decide(key)) {
      case StepGraphs::Action::kEager:
        break;
      case StepGraphs::Action::kReplay:
        mode_ = Mode::kReplay;
        break;
      case StepGraphs::Action::kCapture:
        if (Ok(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "BeginCapture")) {
          mode_ = Mode::kCapture;
        }
        break;
    }
  }

  Status EndStep() override {
    in_step_ = false;
    if (mode_ == Mode::kCapture) {
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      const bool captured = Ok(cudaStreamEndCapture(stream_, &graph), "EndCapture");
      mode_ = Mode::kEager;
      if (captured && Ok(cudaGraphInstantiate(&exec, graph, 0), "GraphInstantiate") &&
          step_error_.ok()) {  // a failed step captured only part of its work: run none of it
        Ok(cudaGraphLaunch(exec, stream_), "GraphLaunch");
      }
      if (graph != nullptr) cudaGraphDestroy(graph);
      Ok(cudaStreamSynchronize(stream_), "step");
      if (exec != nullptr) {
        if (!tainted_ && status_.ok() && step_error_.ok()) {
          graphs_.Store(key_, exec);
        } else {
          cudaGraphExecDestroy(exec);
        }
      }
    } else if (mode_ == Mode::kReplay) {
      mode_ = Mode::kEager;
      if (status_.ok() && step_error_.ok()) {
        Ok(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graphs_.Graph(key_)), stream_),
           "GraphLaunch");
      }
    }
    if (status_.ok()) Ok(cudaStreamSynchronize(stream_), "step");
    FreeRetired();
    if (tainted_) graphs_.Invalidate();
    if (!status_.ok()) return status_;
    return step_error_;
  }

  // ---- ops ----

  void Embed(const WeightTensor& table, std::span<const int32_t> tokens, float* x) override {
    // Rows are decoded on the host from the mapped file (a few KiB per token) and staged.
    embed_.resize(tokens.size() * static_cast<size_t>(table.cols));
    for (size_t i = 0; i < tokens.size(); ++i) {
      DequantizeRow(table.type, table.row(0, tokens[i]), embed_.data() + i * table.cols,
                    table.cols);
    }
    Write(x, embed_.data(), sizeof(float) * embed_.size());
  }

  void MatMul(const WeightTensor& w, int64_t mat, const float* x, int64_t n, float* y) override {
    const DeviceWeight* dw = Weight(w);
    if (dw == nullptr || !Launching()) return;
    if (n >= kGemmMinRows && dw->type != TensorType::kF32 && mode_ == Mode::kEager && Cublas()) {
      return Gemm(*dw, mat, x, n, y);
    }
    GemvArgs a = Args(*dw);
    a.mat = mat;
    a.n = n;
    a.y = y;
    a.rows_per_block = GemvRowsPerBlock(n);
    if (!SetActivations(*dw, x, n, kActQ, kActD, &a)) return;
    if (y == quantized_.x) quantized_ = Quantized{};  // overwritten
    Ok(LaunchGemv(a, stream_), "MatMul");
  }

  void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
               float* y) override {
    Touched();
    const float* w = Vector(weight);
    // The products after a norm read its output: quantise it to int8 in the same kernel (the
    // quantised copy is what SetActivations would make; float-weight products ignore it).
    const bool quantize = dim % 32 == 0;
    int8_t* q = nullptr;
    float* d = nullptr;
    if (quantize) {
      q = static_cast<int8_t*>(Buffer(kActQ, static_cast<size_t>(n * dim)));
      d = static_cast<float*>(Buffer(kActD, sizeof(float) * 2 * n * (dim / 32)));
    }
    if (w == nullptr || !Launching()) return;
    if (Ok(LaunchRmsNorm(x, w, n, dim, eps, y, q, d, stream_), "RmsNorm") && quantize) {
      quantized_ = Quantized{y, n, dim, kActQ};
    }
  }

  void Rope(float* q, float* k, std::span<const int32_t> pos, int32_t n_head, int32_t n_head_kv,
            int32_t head_dim, const RopeParams& p) override {
    Touched();
    const auto* dpos =
        static_cast<const int32_t*>(Stage(pos.data(), pos.size_bytes(), kTagPositions));
    const float* ff = p.freq_factors != nullptr ? Vector(p.freq_factors) : nullptr;
    if (dpos == nullptr || (p.freq_factors != nullptr && ff == nullptr) || !Launching()) return;
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    Ok(LaunchRope(q, k, dpos, static_cast<int64_t>(pos.size()), n_head, n_head_kv, head_dim,
                  p.n_rot, theta_scale, p.freq_scale, ff, stream_),
       "Rope");
  }

  void Attention(int32_t layer, const float* q, const float* k, const float* v,
                 std::span<const AttentionRow> rows, int32_t n_head, int32_t n_head_kv,
                 int32_t head_dim, float* out) override {
    Touched();
    rows_.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      KvCache* kv = rows[i].kv;
      rows_[i] = AttentionRowInfo{kv->k(0, 0), kv->v(0, 0), kv->n_ctx(), rows[i].pos};
      if (rows_[i].k == nullptr) {
        StepFail(ResourceExhaustedError("CUDA backend: no device memory for the KV cache"));
        return;
      }
    }
    const auto* drows = static_cast<const AttentionRowInfo*>(
        Stage(rows.data(), rows_.size() * sizeof(AttentionRowInfo), kTagRows, rows_.data()));
    if (drows == nullptr || !Launching()) return;
    Ok(LaunchAttention(layer, q, k, v, drows, static_cast<int64_t>(rows.size()), n_head, n_head_kv,
                       head_dim, out, stream_),
       "Attention");
  }

  void SwiGlu(float* gate, const float* up, int64_t n_elems) override {
    Touched();
    if (Launching()) Ok(LaunchSwiGlu(gate, up, n_elems, stream_), "SwiGlu");
  }

  void AddScaled(float* y, const float* x, float scale, int64_t n_elems) override {
    Touched();
    if (Launching()) Ok(LaunchAddScaled(y, x, scale, n_elems, stream_), "AddScaled");
  }

  void GatherRows(const float* x, std::span<const int32_t> rows, int64_t dim, float* y) override {
    Touched();
    const auto* drows =
        static_cast<const int32_t*>(Stage(rows.data(), rows.size_bytes(), kTagGather));
    if (drows == nullptr || !Launching()) return;
    Ok(LaunchGatherRows(x, drows, static_cast<int64_t>(rows.size()), dim, y, stream_),
       "GatherRows");
  }

  // Also groups the pairs by expert for the MoeFfn that follows (one launch for both).
  void Route(const float* logits, int64_t n, int32_t n_expert, int32_t k, int32_t* ids,
             float* weights) override {
    routed_ = Routed{};  // writes no activations: the quantised norm output stays valid
    auto* perm = static_cast<int32_t*>(Buffer(kMoePerm, sizeof(int32_t) * n * k));
    auto* offsets = static_cast<int32_t*>(Buffer(kMoeOffsets, sizeof(int32_t) * (n_expert + 1)));
    if (!Launching()) return;
    if (Ok(LaunchRoute(logits, n, n_expert, k, ids, weights, offsets, perm, stream_), "Route")) {
      routed_ = Routed{ids, n * k, n_expert};
    }
  }

  void MoeFfn(const ExpertWeights& w, const float* x, const int32_t* ids, const float* weights,
              int64_t n, int32_t k, float* out) override {
    const DeviceWeight* gate = Weight(*w.gate);
    const DeviceWeight* up = Weight(*w.up);
    const DeviceWeight* down = Weight(*w.down);
    if (gate == nullptr || up == nullptr || down == nullptr) return;
    const auto n_expert = static_cast<int32_t>(w.gate->n_mats);
    const int64_t n_pairs = n * k;
    const int64_t n_ff = w.gate->rows;
    const int64_t n_embd = w.down->rows;
    auto* perm = static_cast<int32_t*>(Buffer(kMoePerm, sizeof(int32_t) * n_pairs));
    auto* offsets = static_cast<int32_t*>(Buffer(kMoeOffsets, sizeof(int32_t) * (n_expert + 1)));
    auto* g = static_cast<float*>(Buffer(kMoeGate, sizeof(float) * n_pairs * n_ff));
    auto* u = static_cast<float*>(Buffer(kMoeUp, sizeof(float) * n_pairs * n_ff));
    auto* dn = static_cast<float*>(Buffer(kMoeDown, sizeof(float) * n_pairs * n_embd));
    const bool grouped_by_route =
        routed_.ids == ids && routed_.n_pairs == n_pairs && routed_.n_expert == n_expert;
    routed_ = Routed{};
    if (out == quantized_.x) quantized_ = Quantized{};  // written below
    if (!Launching()) return;
    // (token, expert) pairs sorted by expert, on the device (done by Route when it made `ids`).
    const int rpb = GemvRowsPerBlock(n);
    if (rpb != 1 && !grouped_by_route &&
        !Ok(LaunchGroupByExpert(ids, n_pairs, n_expert, offsets, perm, stream_), "MoE group")) {
      return;
    }
    // One token: a block column per (token, expert) pair, no empty blocks. Batches: columns per
    // expert and group of rows in the expert-sorted order.
    auto GroupedArgs = [&](const DeviceWeight& dw, float* y, int32_t x_div) {
      GemvArgs a = Args(dw);
      a.y = y;
      a.x_div = x_div;
      a.rows_per_block = rpb;
      a.perm = perm;
      if (rpb == 1) {
        a.ids = ids;
        a.n = n_pairs;
      } else {
        a.offsets = offsets;
        a.n_expert = n_expert;
        a.groups_per_expert = GemvGroupsPerExpert(n, rpb);
      }
      return a;
    };
    auto grouped = [&](const DeviceWeight& dw, const float* in, int64_t in_rows, int32_t x_div,
                       int act_q, int act_d, float* y) {
      GemvArgs a = GroupedArgs(dw, y, x_div);
      return SetActivations(dw, in, in_rows, act_q, act_d, &a) &&
             Ok(LaunchGemv(a, stream_), "MoE expert product");
    };
    // gate/up read token p / k of x; the shared int8 copy of x serves both when types agree.
    if (!grouped(*gate, x, n, k, kActQ, kActD, g)) return;
    const bool reuse = up->layout.int8_act == gate->layout.int8_act;
    if (reuse) {
      GemvArgs a = GroupedArgs(*up, u, k);
      if (up->layout.int8_act) {
        a.xq = static_cast<const int8_t*>(buffers_[kActQ].ptr);
        a.xd = static_cast<const float*>(buffers_[kActD].ptr);
      } else {
        a.x = x;
      }
      if (!Ok(LaunchGemv(a, stream_), "MoE expert product")) return;
    } else if (!grouped(*up, x, n, k, kActQ, kActD, u)) {
      return;
    }
    if (down->layout.int8_act) {  // SwiGLU fused into the down product's activation quantisation
      auto* q = static_cast<int8_t*>(Buffer(kMoeActQ, static_cast<size_t>(n_pairs * n_ff)));
      auto* d = static_cast<float*>(Buffer(kMoeActD, sizeof(float) * 2 * n_pairs * (n_ff / 32)));
      if (!Launching() ||
          !Ok(LaunchQuantizeActivations(g, u, n_pairs, n_ff, q, d, stream_), "MoE SwiGlu")) {
        return;
      }
      GemvArgs a = GroupedArgs(*down, dn, 1);
      a.xq = q;
      a.xd = d;
      if (!Ok(LaunchGemv(a, stream_), "MoE expert product")) return;
    } else {
      if (!Ok(LaunchSwiGlu(g, u, n_pairs * n_ff, stream_), "MoE SwiGlu")) return;
      if (!grouped(*down, g, n_pairs, 1, kMoeActQ, kMoeActD, dn)) return;
    }
    Ok(LaunchCombineExperts(dn, ids, weights, n, k, n_embd, out, stream_), "MoE combine");
  }

 private:
  enum class Mode { kEager, kCapture, kReplay };
  // The activations last quantised into slot `slot` (x == nullptr: none).
  struct Quantized {
    const float* x = nullptr;
    int64_t n = 0;
    int64_t cols = 0;
    int slot = 0;
    bool operator==(const Quantized&) const = default;
  };
  // The ids last written by Route, whose pairs it grouped into kMoePerm / kMoeOffsets.
  struct Routed {
    const int32_t* ids = nullptr;
    int64_t n_pairs = 0;
    int32_t n_expert = 0;
  };
  struct Buf {
    void* ptr = nullptr;
    size_t bytes = 0;
  };

  // y = W[mat] · x for a large batch: W and x to fp16, one cuBLAS GEMM with fp32 accumulation
  // (tensor cores); y is column-major [rows, n] = row-major [n, rows].
  void Gemm(const DeviceWeight& dw, int64_t mat, const float* x, int64_t n, float* y) {
    auto* w16 = static_cast<__half*>(Buffer(kGemmW, sizeof(__half) * dw.rows * dw.cols));
    auto* x16 = static_cast<__half*>(Buffer(kGemmX, sizeof(__half) * n * dw.cols));
    if (!Launching()) return;
    if (y == quantized_.x) quantized_ = Quantized{};
    const uint16_t* wd = dw.d != nullptr ? dw.d + mat * dw.rows * dw.layout.d_row_elems : nullptr;
    if (!Ok(LaunchDequantize(static_cast<int>(dw.type),
                             dw.q + mat * dw.rows * dw.layout.q_row_bytes, wd,
                             dw.layout.q_row_bytes, dw.layout.d_row_elems, dw.rows, dw.cols,
                             dw.layout.n_chunks, w16, stream_),
            "weight dequantisation") ||
        !Ok(LaunchToHalf(x, n * dw.cols, x16, stream_), "activation conversion")) {
      return;
    }
    const float alpha = 1.0f, beta = 0.0f;
    CublasOk(cublas_api_->gemm_ex(
                 cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(dw.rows), static_cast<int>(n),
                 static_cast<int>(dw.cols), &alpha, w16, CUDA_R_16F, static_cast<int>(dw.cols), x16,
                 CUDA_R_16F, static_cast<int>(dw.cols), &beta, y, CUDA_R_32F,
                 static_cast<int>(dw.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "cublasGemmEx");
  }
  bool CublasOk(cublasStatus_t e, const char* what) {
    if (e == CUBLAS_STATUS_SUCCESS) return true;
    Fail(InternalError(std::string("CUDA backend: ") + what +
                       " failed: " + cublas_api_->status_string(e)));
    return false;
  }
  // Whether cuBLAS is there, its handle created on first use.
  bool Cublas() {
    if (cublas_ != nullptr) return true;
    if (cublas_tried_) return false;
    cublas_tried_ = true;
    cublas_api_ = LoadCublas();
    if (cublas_api_ == nullptr) return false;
    cublasHandle_t h = nullptr;
    if (!CublasOk(cublas_api_->create(&h), "cublasCreate")) return false;
    cublas_ = h;
    return CublasOk(cublas_api_->set_stream(cublas_, stream_), "cublasSetStream");
  }

  // Records a CUDA failure (the first one sticks). Returns e == cudaSuccess.
  bool Ok(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return true;
    cudaGetLastError();
    Fail(InternalError(std::string("CUDA backend: ") + what + " failed: " + ErrorText(e)));
    return false;
  }
  void Fail(Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  // A failure of this step only (bad input, out of memory for one cache).
  void StepFail(Status s) {
    if (step_error_.ok()) step_error_ = std::move(s);
  }
  // Whether ops enqueue work now (not when replaying a graph, nor after an error).
  bool Launching() const { return status_.ok() && step_error_.ok() && mode_ != Mode::kReplay; }

  // Forgets what the activation and routing caches hold: called by every op that may write
  // device memory other than a product's output.
  void Touched() {
    quantized_ = Quantized{};
    routed_ = Routed{};
  }

  void GraphsInvalid() {
    if (mode_ == Mode::kCapture) {
      tainted_ = true;  // this capture mixes buffers; run it once, keep nothing
    } else {
      graphs_.Invalidate();
    }
  }
  void FreeRetired() {
    for (void* p : retired_) cudaFree(p);
    retired_.clear();
  }

  const DeviceWeight* Weight(const WeightTensor& w) {
    auto it = weights_.find(w.data);
    if (it != weights_.end()) return &it->second;
    StepFail(InternalError("CUDA backend: tensor " + std::string(w.name) + " was not uploaded"));
    return nullptr;
  }
  const float* Vector(const float* v) {
    auto it = vectors_.find(v);
    if (it != vectors_.end()) return it->second;
    StepFail(InternalError("CUDA backend: a norm/rope vector was not uploaded"));
    return nullptr;
  }

  static GemvArgs Args(const DeviceWeight& dw) {
    GemvArgs a;
    a.type = static_cast<int>(dw.type);
    a.wq = dw.q;
    a.wd = dw.d;
    a.q_row_bytes = dw.layout.q_row_bytes;
    a.d_row_elems = dw.layout.d_row_elems;
    a.rows = dw.rows;
    a.cols = dw.cols;
    a.n_chunks = dw.layout.n_chunks;
    return a;
  }

  // Points `a` at x's n rows, quantised into slots act_q/act_d first for int8 kernels.
  bool SetActivations(const DeviceWeight& dw, const float* x, int64_t n, int act_q, int act_d,
                      GemvArgs* a) {
    if (!dw.layout.int8_act) {
      a->x = x;
      return true;
    }
    auto* q = static_cast<int8_t*>(Buffer(act_q, static_cast<size_t>(n * dw.cols)));
    auto* d = static_cast<float*>(Buffer(act_d, sizeof(float) * 2 * n * (dw.cols / 32)));
    if (!Launching()) return false;
    a->xq = q;
    a->xd = d;
    // wq/wk/wv (and gate/up) read the same activations: quantise them once.
    const Quantized now{x, n, dw.cols, act_q};
    if (quantized_ == now) return true;
    quantized_ = Quantized{};
    if (!Ok(LaunchQuantizeActivations(x, nullptr, n, dw.cols, q, d, stream_),
            "activation quantisation")) {
      return false;
    }
    quantized_ = now;
    return true;
  }
  // Copies host bytes into the staging area; returns their device address (nullptr on error).
  // `data` is what is copied when it differs from the memo key `key`.
  const void* Stage(const void* key, size_t bytes, int tag, const void* data = nullptr) {
    if (!status_.ok() || !step_error_.ok()) return nullptr;
    if (data == nullptr) data = key;
    StagingArena::Slot s =
        tag == kTagUnique ? arena_.TakeUnique(bytes) : arena_.Take(key, tag, bytes);
    if (!s.fits) {
      if (mode_ != Mode::kEager) {  // sized by the step's eager run, so a different step
        Fail(InternalError("CUDA backend: staging area overflow in a captured step"));
        return nullptr;
      }
      if (!GrowStaging(arena_.used() + bytes + StagingArena::kAlign)) return nullptr;
      s = tag == kTagUnique ? arena_.TakeUnique(bytes) : arena_.Take(key, tag, bytes);
    }
    if (s.fresh) {
      std::memcpy(stage_host_ + s.offset, data, bytes);
      if (mode_ != Mode::kReplay) {
        Ok(cudaMemcpyAsync(stage_dev_ + s.offset, stage_host_ + s.offset, bytes,
                           cudaMemcpyHostToDevice, stream_),
           "staging copy");
      }
    }
    return stage_dev_ + s.offset;
  }
  bool GrowStaging(size_t need) {
    size_t cap = arena_.capacity();
    while (cap < need) cap *= 2;
    uint8_t* host = nullptr;
    uint8_t* dev = nullptr;
    if (!Ok(cudaStreamSynchronize(stream_), "staging") ||
        !Ok(cudaMallocHost(&host, cap), "cudaMallocHost (staging)") ||
        !Ok(cudaMalloc(&dev, cap), "cudaMalloc (staging)")) {
      return false;
    }
    std::memcpy(host, stage_host_, arena_.used());  // this step's earlier inputs
    Ok(cudaMemcpy(dev, stage_dev_, arena_.used(), cudaMemcpyDeviceToDevice), "staging");
    cudaFreeHost(stage_host_);
    cudaFree(stage_dev_);
    stage_host_ = host;
    stage_dev_ = dev;
    arena_.set_capacity(cap);
    graphs_.Invalidate();
    return status_.ok();
  }

  cudaStream_t stream_ = nullptr;
  const CublasApi* cublas_api_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  bool cublas_tried_ = false;
  Status status_;      // first device failure; sticky
  Status step_error_;  // first failure of the current step
  Mode mode_ = Mode::kEager;
  bool in_step_ = false;
  bool tainted_ = false;
  uint64_t key_ = 0;
  StagingArena arena_;
  uint8_t* stage_host_ = nullptr;  // pinned
  uint8_t* stage_dev_ = nullptr;
  StepGraphs graphs_;
  std::vector<Buf> buffers_;
  std::vector<void*> retired_;
  std::unordered_map<const void*, DeviceWeight> weights_;
  std::unordered_map<const float*, float*> vectors_;
  std::vector<float> embed_;
  std::vector<AttentionRowInfo> rows_;
  Quantized quantized_;
  Routed routed_;
};

Status DeviceUnavailable(cudaError_t e) {
  return UnavailableError("CUDA backend: no usable CUDA device (" +
                          (e == cudaSuccess ? std::string("no device found") : ErrorText(e)) + ")");
}

}  // namespace

Result<std::unique_ptr<Backend>> NewCudaBackend() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) return DeviceUnavailable(e);
  if (const cudaError_t s = cudaSetDevice(0); s != cudaSuccess) return DeviceUnavailable(s);
  auto be = std::make_unique<CudaBackend>();
  PARAPET_RETURN_IF_ERROR(be->Init());
  return std::unique_ptr<Backend>(std::move(be));
}

Result<std::string> DeviceDescription() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) return DeviceUnavailable(e);
  cudaDeviceProp p{};
  if (const cudaError_t s = cudaGetDeviceProperties(&p, 0); s != cudaSuccess) {
    return DeviceUnavailable(s);
  }
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f", static_cast<double>(p.totalGlobalMem) / (1 << 30));
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         mem + " GiB, " + std::to_string(p.multiProcessorCount) + " SMs)";
}

Result<double> MeasureCopyBandwidthGBs(size_t bytes) {
  void* a = nullptr;
  void* b = nullptr;
  cudaEvent_t t0 = nullptr, t1 = nullptr;
  cudaError_t e = cudaMalloc(&a, bytes);
  if (e == cudaSuccess) e = cudaMalloc(&b, bytes);
  if (e == cudaSuccess) e = cudaMemset(a, 1, bytes);
  if (e == cudaSuccess) e = cudaEventCreate(&t0);
  if (e == cudaSuccess) e = cudaEventCreate(&t1);
  double best = 0;
  for (int rep = 0; rep < 6 && e == cudaSuccess; ++rep) {
    cudaEventRecord(t0);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(t1);
    e = cudaEventSynchronize(t1);
    float ms = 0;
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, t0, t1);
    if (rep > 0 && ms > 0) best = std::max(best, 2.0 * static_cast<double>(bytes) / (ms * 1e6));
  }
  cudaFree(a);
  cudaFree(b);
  if (t0 != nullptr) cudaEventDestroy(t0);
  if (t1 != nullptr) cudaEventDestroy(t1);
  if (e != cudaSuccess) return UnavailableError("CUDA copy bandwidth: " + ErrorText(e));
  return best;
}

}  // namespace parapet::engine::cuda
