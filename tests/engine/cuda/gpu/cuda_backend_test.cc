// GPU parity tests for the CUDA backend (engine/cuda/cuda_backend.h), CTest label `gpu`: every
// op against the CPU backend (and matrix products against a double-precision reference) on
// random inputs of several shapes, including ones that are not multiples of the kernels' block
// sizes; then greedy generation on the fixture models, token for token against the CPU, also
// from a cache seeded with another cache's positions (CopyKvPositions: a cached prompt prefix,
// through Model and through the Scheduler's CachePrefix).
// Skipped (GTEST_SKIP) when no CUDA device is usable.
//
// Tolerances: relative L2 error ||gpu - ref|| / ||ref||. Float-weight products (F32/F16/BF16)
// run in fp32: 1e-5. Quantised weights take int8 activations per 32 (the CPU uses Q8_0/Q8_K):
// 2e-2 against the float reference (with at least 16 outputs) and no worse than twice the
// CPU's own error + 2e-3. The routed expert FFN against the CPU: 3e-2 quantised, 2e-3 for F16
// weights (the CPU rounds F16 products' activations to fp16, the GPU does not).
// Batches of 64+ rows go through cuBLAS with fp16 operands: 3e-3.
// Element-wise ops, norm, rope, attention: 1e-5 (attention 1e-4: online softmax). KV copies:
// exact.
#include "engine/cuda/cuda_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/quants.h"
#include "engine/scheduler.h"
#include "tests/engine/scheduler_test_util.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

double RelErr(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}
double RelErr(const std::vector<float>& got, const std::vector<float>& want) {
  return RelErr(got, std::vector<double>(want.begin(), want.end()));
}

std::vector<float> Random(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct Matrix {
  std::vector<uint8_t> bytes;
  WeightTensor w;
};

Matrix RandomMatrix(TensorType type, int64_t rows, int64_t cols, int64_t n_mats,
                    std::mt19937& rng) {
  Matrix m;
  m.w.name = "w";
  m.w.type = type;
  m.w.cols = cols;
  m.w.rows = rows;
  m.w.n_mats = n_mats;
  m.w.row_bytes = RowBytes(type, cols);
  m.w.mat_bytes = m.w.row_bytes * rows;
  m.bytes.resize(m.w.mat_bytes * n_mats);
  for (int64_t r = 0; r < rows * n_mats; ++r) {
    const std::vector<float> x = Random(static_cast<size_t>(cols), rng);
    QuantizeRow(type, x.data(), m.bytes.data() + r * m.w.row_bytes, cols);
  }
  m.w.data = m.bytes.data();
  return m;
}

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto be = cuda::NewCudaBackend();
    if (!be.ok()) GTEST_SKIP() << be.status().ToString();
    gpu_ = std::move(be).value();
    cpu_ = NewCpuBackend(2);
  }

  // Copies host floats into a fresh GPU buffer slot.
  float* ToGpu(int slot, const std::vector<float>& v) {
    auto* p = static_cast<float*>(gpu_->Buffer(slot, sizeof(float) * v.size()));
    gpu_->Write(p, v.data(), sizeof(float) * v.size());
    return p;
  }
  // Fills a slot with NaN (so that unwritten outputs show) and returns it.
  float* Poisoned(int slot, size_t n) { return ToGpu(slot, std::vector<float>(n, std::nanf(""))); }
  std::vector<float> FromGpu(const float* p, size_t n) {
    std::vector<float> v(n);
    Status s = gpu_->Read(v.data(), p, sizeof(float) * n);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v;
  }

  std::unique_ptr<Backend> gpu_;
  std::unique_ptr<Backend> cpu_;
};

TEST_F(CudaBackendTest, MatMulMatchesReferenceForEveryType) {
  std::mt19937 rng(1);
  struct Shape {
    int64_t cols, rows, n;
  };
  // n >= 64 takes the cuBLAS path (fp16 weights and activations) for all but F32 weights.
  const Shape shapes[] = {{256, 1, 1},  {512, 37, 1},  {768, 130, 3},
                          {256, 67, 9}, {1024, 5, 17}, {512, 70, 80}};
  for (TensorType type :
       {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ4_0,
        TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K}) {
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(Traits(type).name) + " cols " + std::to_string(s.cols) + " rows " +
                   std::to_string(s.rows) + " n " + std::to_string(s.n));
      Matrix m = RandomMatrix(type, s.rows, s.cols, 2, rng);
      ASSERT_TRUE(gpu_->UploadTensor(m.w).ok());
      const std::vector<float> x = Random(static_cast<size_t>(s.n * s.cols), rng);
      // Reference: matrix 1 dequantised, in double.
      std::vector<double> ref(static_cast<size_t>(s.n * s.rows));
      std::vector<float> wrow(static_cast<size_t>(s.cols));
      for (int64_t r = 0; r < s.rows; ++r) {
        DequantizeRow(type, m.w.row(1, r), wrow.data(), s.cols);
        for (int64_t i = 0; i < s.n; ++i) {
          double acc = 0;
          for (int64_t c = 0; c < s.cols; ++c) acc += double{wrow[c]} * x[i * s.cols + c];
          ref[static_cast<size_t>(i * s.rows + r)] = acc;
        }
      }
      std::vector<float> y_cpu(ref.size());
      cpu_->MatMul(m.w, 1, x.data(), s.n, y_cpu.data());
      float* gx = ToGpu(0, x);
      float* gy = Poisoned(1, ref.size());
      gpu_->MatMul(m.w, 1, gx, s.n, gy);
      const std::vector<float> y = FromGpu(gy, ref.size());
      const double e_gpu = RelErr(y, ref);
      const double e_cpu = RelErr(y_cpu, ref);
      if (s.n >= 64 && type != TensorType::kF32) {
        EXPECT_LT(e_gpu, 3e-3);  // fp16 activations (and fp16-rounded dequantised weights)
      } else if (type == TensorType::kF32 || type == TensorType::kF16 ||
                 type == TensorType::kBF16) {
        EXPECT_LT(e_gpu, 1e-5);
      } else {
        // With a handful of outputs one dot product with cancellation dominates the relative
        // error (measured on an H200: Q4_0, 1 row, 0.093 — the CPU's own error is as large), so
        // the absolute bound needs enough outputs; the bound relative to the CPU always holds.
        if (s.rows * s.n >= 16) {
          EXPECT_LT(e_gpu, 2e-2);
        }
        EXPECT_LT(e_gpu, 2 * e_cpu + 2e-3) << "cpu error " << e_cpu;
      }
    }
  }
}

TEST_F(CudaBackendTest, RoutingAndExpertFfnMatchCpu) {
  std::mt19937 rng(2);
  const int32_t n_expert = 4, k = 2;
  const int64_t n_embd = 256, n_ff = 512;
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kF16}) {
    Matrix gate = RandomMatrix(type, n_ff, n_embd, n_expert, rng);
    Matrix up = RandomMatrix(type, n_ff, n_embd, n_expert, rng);
    Matrix down = RandomMatrix(type == TensorType::kQ4_K ? TensorType::kQ6_K : type, n_embd, n_ff,
                               n_expert, rng);
    for (Matrix* m : {&gate, &up, &down}) ASSERT_TRUE(gpu_->UploadTensor(m->w).ok());
    const ExpertWeights ew{&gate.w, &up.w, &down.w};
    for (int64_t n : {1, 5, 11}) {
      SCOPED_TRACE(std::string(Traits(type).name) + " n " + std::to_string(n));
      const std::vector<float> logits = Random(static_cast<size_t>(n * n_expert), rng, 2.0f);
      const std::vector<float> x = Random(static_cast<size_t>(n * n_embd), rng, 0.1f);
      std::vector<int32_t> ids(static_cast<size_t>(n * k));
      const std::vector<float> init = Random(x.size(), rng);  // MoeFfn adds to out
      std::vector<float> w(ids.size()), out_cpu = init;
      cpu_->Route(logits.data(), n, n_expert, k, ids.data(), w.data());
      cpu_->MoeFfn(ew, x.data(), ids.data(), w.data(), n, k, out_cpu.data());

      float* g_logits = ToGpu(0, logits);
      float* gx = ToGpu(1, x);
      auto* g_ids = static_cast<int32_t*>(gpu_->Buffer(2, sizeof(int32_t) * ids.size()));
      auto* g_w = static_cast<float*>(gpu_->Buffer(3, sizeof(float) * w.size()));
      float* g_out = ToGpu(4, init);
      gpu_->Route(g_logits, n, n_expert, k, g_ids, g_w);
      gpu_->MoeFfn(ew, gx, g_ids, g_w, n, k, g_out);
      std::vector<int32_t> ids_gpu(ids.size());
      ASSERT_TRUE(gpu_->Read(ids_gpu.data(), g_ids, sizeof(int32_t) * ids.size()).ok());
      EXPECT_EQ(ids_gpu, ids);
      EXPECT_LT(RelErr(FromGpu(g_w, w.size()), w), 1e-6);
      // F16 weights: the CPU rounds activations to fp16 (as ggml does; relative 2^-11 per
      // element), the GPU keeps them in fp32: measured 3.4e-4 - 4.1e-4 on an H200.
      const double tol = type == TensorType::kF16 ? 2e-3 : 3e-2;
      EXPECT_LT(RelErr(FromGpu(g_out, x.size()), out_cpu), tol);
      // ids that Route did not write: MoeFfn groups the pairs itself.
      auto* g_ids2 = static_cast<int32_t*>(gpu_->Buffer(5, sizeof(int32_t) * ids.size()));
      gpu_->Write(g_ids2, ids.data(), sizeof(int32_t) * ids.size());
      float* g_out2 = ToGpu(6, init);
      gpu_->MoeFfn(ew, gx, g_ids2, g_w, n, k, g_out2);
      EXPECT_LT(RelErr(FromGpu(g_out2, x.size()), out_cpu), tol) << "grouped by MoeFfn";
    }
  }
}

TEST_F(CudaBackendTest, ElementwiseNormAndRopeMatchCpu) {
  std::mt19937 rng(3);
  for (int64_t dim : {64, 100, 4096}) {
    const int64_t n = 3;
    const std::vector<float> x = Random(static_cast<size_t>(n * dim), rng);
    std::vector<float> w = Random(static_cast<size_t>(dim), rng);
    ASSERT_TRUE(gpu_->UploadVector(w.data(), dim).ok());
    std::vector<float> y_cpu(x.size());
    cpu_->RmsNorm(x.data(), w.data(), n, dim, 1e-5f, y_cpu.data());
    float* gx = ToGpu(0, x);
    float* gy = Poisoned(1, x.size());
    gpu_->RmsNorm(gx, w.data(), n, dim, 1e-5f, gy);
    EXPECT_LT(RelErr(FromGpu(gy, x.size()), y_cpu), 1e-6) << "rmsnorm dim " << dim;

    const std::vector<float> up = Random(x.size(), rng);
    std::vector<float> g_cpu = x;
    cpu_->SwiGlu(g_cpu.data(), up.data(), static_cast<int64_t>(x.size()));
    float* gg = ToGpu(2, x);
    gpu_->SwiGlu(gg, ToGpu(3, up), static_cast<int64_t>(x.size()));
    EXPECT_LT(RelErr(FromGpu(gg, x.size()), g_cpu), 1e-6) << "swiglu";

    std::vector<float> a_cpu = x;
    cpu_->AddScaled(a_cpu.data(), up.data(), 0.37f, static_cast<int64_t>(x.size()));
    float* ga = ToGpu(4, x);
    gpu_->AddScaled(ga, ToGpu(5, up), 0.37f, static_cast<int64_t>(x.size()));
    EXPECT_EQ(FromGpu(ga, x.size()), a_cpu) << "add_scaled rounds as the CPU";

    const std::vector<int32_t> rows = {2, 0};
    std::vector<float> r_cpu(2 * dim);
    cpu_->GatherRows(x.data(), rows, dim, r_cpu.data());
    float* gr = Poisoned(6, r_cpu.size());
    gpu_->GatherRows(gx, rows, dim, gr);
    EXPECT_EQ(FromGpu(gr, r_cpu.size()), r_cpu) << "gather";
  }
  // RoPE: GQA heads, partial rotation, with and without frequency factors.
  for (bool factors : {false, true}) {
    const int32_t n_head = 4, n_head_kv = 2, head_dim = 32, n_rot = 24;
    std::vector<float> ff = Random(n_rot / 2, rng);
    for (float& f : ff) f = 1.0f + std::fabs(f);
    ASSERT_TRUE(gpu_->UploadVector(ff.data(), n_rot / 2).ok());
    const RopeParams p{n_rot, 10000.0f, 0.5f, factors ? ff.data() : nullptr};
    const std::vector<int32_t> pos = {0, 7, 1000, 4095, 33};
    const int64_t n = static_cast<int64_t>(pos.size());
    std::vector<float> q = Random(static_cast<size_t>(n * n_head * head_dim), rng);
    std::vector<float> k = Random(static_cast<size_t>(n * n_head_kv * head_dim), rng);
    float* gq = ToGpu(0, q);
    float* gk = ToGpu(1, k);
    cpu_->Rope(q.data(), k.data(), pos, n_head, n_head_kv, head_dim, p);
    gpu_->Rope(gq, gk, pos, n_head, n_head_kv, head_dim, p);
    EXPECT_LT(RelErr(FromGpu(gq, q.size()), q), 1e-5) << "rope q, factors " << factors;
    EXPECT_LT(RelErr(FromGpu(gk, k.size()), k), 1e-5) << "rope k, factors " << factors;
  }
}

TEST_F(CudaBackendTest, AttentionMatchesCpu) {
  std::mt19937 rng(4);
  for (int32_t head_dim : {32, 64, 80, 128}) {
    const int32_t n_head = 8, n_head_kv = 2, n_layer = 2, layer = 1;
    const int32_t kv_dim = n_head_kv * head_dim;
    auto kv_cpu_a = cpu_->NewKvCache(n_layer, kv_dim, 300);
    auto kv_cpu_b = cpu_->NewKvCache(n_layer, kv_dim, 64);
    auto kv_gpu_a = gpu_->NewKvCache(n_layer, kv_dim, 300);
    auto kv_gpu_b = gpu_->NewKvCache(n_layer, kv_dim, 64);
    // A 260-token prompt for sequence a and 3 tokens for b in one batch, then one decode
    // step of each.
    for (int step = 0; step < 2; ++step) {
      std::vector<AttentionRow> rc, rg;
      const int32_t na = step == 0 ? 260 : 1, nb = step == 0 ? 3 : 1;
      const int32_t pa = step == 0 ? 0 : 260, pb = step == 0 ? 0 : 3;
      for (int32_t i = 0; i < na; ++i) {
        rc.push_back({kv_cpu_a.get(), pa + i});
        rg.push_back({kv_gpu_a.get(), pa + i});
      }
      for (int32_t i = 0; i < nb; ++i) {
        rc.push_back({kv_cpu_b.get(), pb + i});
        rg.push_back({kv_gpu_b.get(), pb + i});
      }
      const int64_t n = static_cast<int64_t>(rc.size());
      const std::vector<float> q = Random(static_cast<size_t>(n * n_head * head_dim), rng);
      const std::vector<float> k = Random(static_cast<size_t>(n * kv_dim), rng);
      const std::vector<float> v = Random(static_cast<size_t>(n * kv_dim), rng);
      std::vector<float> out(q.size());
      cpu_->Attention(layer, q.data(), k.data(), v.data(), rc, n_head, n_head_kv, head_dim,
                      out.data());
      float* go = Poisoned(3, out.size());
      gpu_->Attention(layer, ToGpu(0, q), ToGpu(1, k), ToGpu(2, v), rg, n_head, n_head_kv, head_dim,
                      go);
      EXPECT_LT(RelErr(FromGpu(go, out.size()), out), 1e-4)
          << "head_dim " << head_dim << " step " << step;
    }
  }
}

TEST_F(CudaBackendTest, CopyKvPositionsMatchesCpu) {
  std::mt19937 rng(5);
  const int32_t n_layer = 3, kv_dim = 96, n_from = 40, n_to = 57, n = 33;
  auto cpu_from = cpu_->NewKvCache(n_layer, kv_dim, n_from);
  auto cpu_to = cpu_->NewKvCache(n_layer, kv_dim, n_to);
  auto gpu_from = gpu_->NewKvCache(n_layer, kv_dim, n_from);
  auto gpu_to = gpu_->NewKvCache(n_layer, kv_dim, n_to);
  const size_t from_floats = static_cast<size_t>(n_layer) * n_from * kv_dim;
  const size_t to_floats = static_cast<size_t>(n_layer) * n_to * kv_dim;
  const std::vector<float> k = Random(from_floats, rng), v = Random(from_floats, rng);
  const std::vector<float> poison(to_floats, std::nanf(""));
  std::copy(k.begin(), k.end(), cpu_from->k(0, 0));
  std::copy(v.begin(), v.end(), cpu_from->v(0, 0));
  std::copy(poison.begin(), poison.end(), cpu_to->k(0, 0));
  std::copy(poison.begin(), poison.end(), cpu_to->v(0, 0));
  gpu_->Write(gpu_from->k(0, 0), k.data(), sizeof(float) * from_floats);
  gpu_->Write(gpu_from->v(0, 0), v.data(), sizeof(float) * from_floats);
  gpu_->Write(gpu_to->k(0, 0), poison.data(), sizeof(float) * to_floats);
  gpu_->Write(gpu_to->v(0, 0), poison.data(), sizeof(float) * to_floats);
  ASSERT_TRUE(cpu_->CopyKvPositions(*cpu_from, *cpu_to, n).ok());
  ASSERT_TRUE(gpu_->CopyKvPositions(*gpu_from, *gpu_to, n).ok());
  const std::vector<float> gk = FromGpu(gpu_to->k(0, 0), to_floats);
  const std::vector<float> gv = FromGpu(gpu_to->v(0, 0), to_floats);
  for (int32_t l = 0; l < n_layer; ++l) {
    for (int32_t p = 0; p < n_to; ++p) {
      const size_t at = (static_cast<size_t>(l) * n_to + p) * kv_dim;
      for (int32_t d = 0; d < kv_dim; d += 17) {
        if (p < n) {  // copied, bit for bit, on both backends
          const size_t src = (static_cast<size_t>(l) * n_from + p) * kv_dim + d;
          ASSERT_EQ(gk[at + d], k[src]) << "layer " << l << " pos " << p;
          ASSERT_EQ(gv[at + d], v[src]) << "layer " << l << " pos " << p;
          ASSERT_EQ(cpu_to->k(l, p)[d], k[src]);
          ASSERT_EQ(cpu_to->v(l, p)[d], v[src]);
        } else {  // untouched
          ASSERT_TRUE(std::isnan(gk[at + d])) << "layer " << l << " pos " << p;
          ASSERT_TRUE(std::isnan(cpu_to->k(l, p)[d]));
        }
      }
    }
  }
}

// Greedy generation: prompt as one batch, then one token at a time (decode steps are captured
// and replayed as CUDA graphs from the third on); the GPU must pick the CPU's tokens. The prompt
// from position kv.n_past() on is evaluated (the cache holds the positions before it).
std::vector<TokenId> GreedyFrom(Model& m, KvCache& kv, const std::vector<TokenId>& prompt,
                                int n_new, std::vector<float>* first_logits) {
  std::vector<BatchToken> batch;
  for (size_t i = static_cast<size_t>(kv.n_past()); i < prompt.size(); ++i) {
    batch.push_back({prompt[i], static_cast<int32_t>(i), &kv, i + 1 == prompt.size()});
  }
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  std::vector<TokenId> out;
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int t = 0; t < n_new; ++t) {
    Status s = m.Forward(batch, logits.data());
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
    if (t == 0 && first_logits != nullptr) *first_logits = logits;
    const auto next =
        static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    batch = {{next, pos++, &kv, true}};
  }
  return out;
}

std::vector<TokenId> Greedy(Model& m, const std::vector<TokenId>& prompt, int n_new,
                            std::vector<float>* first_logits) {
  auto kv = m.NewKvCache(static_cast<int32_t>(prompt.size()) + n_new + 1);
  return GreedyFrom(m, *kv, prompt, n_new, first_logits);
}

// As Greedy, but the first n_prefix prompt positions are evaluated into a cache of their own
// (in chunks of 5, no logits) and copied into the sequence's cache (Model::CopyKvPrefix).
std::vector<TokenId> GreedySeeded(Model& m, const std::vector<TokenId>& prompt, int32_t n_prefix,
                                  int n_new, std::vector<float>* first_logits) {
  auto prefix = m.NewKvCache(n_prefix);
  for (int32_t start = 0; start < n_prefix; start += 5) {
    std::vector<BatchToken> chunk;
    for (int32_t i = start; i < std::min(n_prefix, start + 5); ++i) {
      chunk.push_back({prompt[static_cast<size_t>(i)], i, prefix.get(), false});
    }
    Status s = m.Forward(chunk, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  auto kv = m.NewKvCache(static_cast<int32_t>(prompt.size()) + n_new + 1);
  Status s = m.CopyKvPrefix(*prefix, n_prefix, *kv);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return {};
  return GreedyFrom(m, *kv, prompt, n_new, first_logits);
}

TEST(CudaGeneration, GreedyTokensMatchCpuOnFixtures) {
  {
    auto probe = cuda::NewCudaBackend();
    if (!probe.ok()) GTEST_SKIP() << probe.status().ToString();
  }
  int tested = 0;
  for (const char* name :
       {"peaky-moe-F32.gguf", "peaky-moe-F16.gguf", "peaky-moe-Q8_0.gguf", "peaky-moe-Q4_0.gguf",
        "peaky-moe-Q4_K_M.gguf", "peaky-moe-Q6_K.gguf", "peaky-dense-Q8_0.gguf",
        "peaky-dense-F32.gguf", "peaky-llama3-Q8_0.gguf", "peaky-llama3-Q4_K_M.gguf"}) {
    const std::string path = ::parapet::testing::EngineFixturePath(name);
    if (path.empty()) continue;
    SCOPED_TRACE(name);
    auto cpu = Model::Load(path, ModelOptions{.n_threads = 2, .backend = "cpu"});
    auto gpu = Model::Load(path, ModelOptions{.n_threads = 2, .backend = "cuda"});
    ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
    ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
    const std::vector<TokenId> prompt =
        (*cpu)->tokenizer().Encode("Once upon a time, there was a little", true);
    std::vector<float> lc, lg;
    const std::vector<TokenId> want = Greedy(**cpu, prompt, 24, &lc);
    const std::vector<TokenId> got = Greedy(**gpu, prompt, 24, &lg);
    EXPECT_EQ(got, want);
    EXPECT_LT(RelErr(lg, lc), 5e-2);  // tokens are the criterion; logits loosely
    ++tested;
  }
  if (tested == 0) GTEST_SKIP() << "no engine fixtures under " << PARAPET_TEST_DATA_DIR;
}

// A cache seeded from another cache's positions (a cached prompt prefix) continues exactly as
// one filled by Forward: the decode steps replay graphs captured on other caches before.
TEST(CudaGeneration, PrefixSeededCacheMatchesFullPrefill) {
  {
    auto probe = cuda::NewCudaBackend();
    if (!probe.ok()) GTEST_SKIP() << probe.status().ToString();
  }
  int tested = 0;
  for (const char* name : {"peaky-moe-Q8_0.gguf", "peaky-dense-Q8_0.gguf", "peaky-llama3-Q8_0.gguf",
                           "peaky-llama3-Q4_K_M.gguf"}) {
    const std::string path = ::parapet::testing::EngineFixturePath(name);
    if (path.empty()) continue;
    SCOPED_TRACE(name);
    auto cpu = Model::Load(path, ModelOptions{.n_threads = 2, .backend = "cpu"});
    auto gpu = Model::Load(path, ModelOptions{.n_threads = 2, .backend = "cuda"});
    ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
    ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
    const std::vector<TokenId> prompt = (*cpu)->tokenizer().Encode(
        "Task: check the conversation below. Once upon a time, there was a little", true);
    const auto n_prefix = static_cast<int32_t>(prompt.size()) - 3;
    std::vector<float> lc, lg_full, lg_seeded;
    const std::vector<TokenId> want = Greedy(**cpu, prompt, 24, &lc);
    const std::vector<TokenId> full = Greedy(**gpu, prompt, 24, &lg_full);  // captures graphs
    const std::vector<TokenId> seeded = GreedySeeded(**gpu, prompt, n_prefix, 24, &lg_seeded);
    EXPECT_EQ(full, want);
    EXPECT_EQ(seeded, want);
    EXPECT_EQ(GreedySeeded(**cpu, prompt, n_prefix, 24, nullptr), want);
    // The same device computations on the same values: equal up to the batch split of the prompt.
    EXPECT_LT(RelErr(lg_seeded, lg_full), 1e-3);
    ++tested;
  }
  if (tested == 0) GTEST_SKIP() << "no engine fixtures under " << PARAPET_TEST_DATA_DIR;
}

// Scheduler::CachePrefix and prefixed requests on the GPU (chunks of at most 8 tokens, so
// prefix, prompt and decode steps all go through captured graphs) against the same requests
// without the prefix.
TEST(CudaGeneration, SchedulerPrefixReuseMatchesFullPrompt) {
  {
    auto probe = cuda::NewCudaBackend();
    if (!probe.ok()) GTEST_SKIP() << probe.status().ToString();
  }
  const std::string path = ::parapet::testing::EngineFixturePath("peaky-llama3-Q8_0.gguf");
  if (path.empty()) GTEST_SKIP() << "no peaky-llama3-Q8_0.gguf under " << PARAPET_TEST_DATA_DIR;
  auto gpu = Model::Load(path, ModelOptions{.n_threads = 2, .backend = "cuda"});
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
  const Tokenizer& tok = (*gpu)->tokenizer();
  const std::vector<TokenId> prefix =
      tok.Encode("Task: check if there is unsafe content in the conversation below.", true);
  std::vector<GenerationRequest> plain;
  for (const char* text : {" Once upon a time", " The dog ran to the park and"}) {
    std::vector<TokenId> prompt = prefix;
    const std::vector<TokenId> rest = tok.Encode(text, false);
    prompt.insert(prompt.end(), rest.begin(), rest.end());
    GenerationRequest r{prompt, GenerateOptions{}};
    r.options.sampling.temperature = 0;
    r.options.max_tokens = 16;
    r.first_token_scores = {0, 1, 2, 3};
    plain.push_back(std::move(r));
  }
  Scheduler scheduler(**gpu, SchedulerOptions{.max_sequences = 4, .max_batch_tokens = 8});
  auto cached = scheduler.CachePrefix(prefix);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  std::vector<std::shared_ptr<RecordingSink>> got, want;
  for (const GenerationRequest& r : plain) {
    GenerationRequest reuse = r;
    reuse.prefix = *cached;
    got.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(scheduler.Submit(std::move(reuse), got.back()).ok());
  }
  for (auto& s : got) s->Wait();
  for (const GenerationRequest& r : plain) {
    want.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(scheduler.Submit(r, want.back()).ok());
  }
  for (auto& s : want) s->Wait();
  for (size_t i = 0; i < plain.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(got[i]->status().ok()) << got[i]->status().ToString();
    ASSERT_TRUE(want[i]->status().ok()) << want[i]->status().ToString();
    const GenerateResult& g = got[i]->summary();
    const GenerateResult& w = want[i]->summary();
    EXPECT_EQ(g.generated_ids, w.generated_ids);
    ASSERT_EQ(g.first_token_logprobs.size(), 4u);
    ASSERT_EQ(w.first_token_logprobs.size(), 4u);
    for (size_t j = 0; j < 4; ++j) {
      EXPECT_NEAR(g.first_token_logprobs[j], w.first_token_logprobs[j], 1e-3);
    }
    EXPECT_EQ(g.prompt_tokens_evaluated, w.prompt_tokens - static_cast<int32_t>(prefix.size()));
  }
  EXPECT_EQ(scheduler.stats().prompt_tokens_reused, 2 * prefix.size());
}

}  // namespace
}  // namespace parapet::engine
