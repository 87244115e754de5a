// Tests for the CPU backend's MatMul (engine/backend.h NewCpuBackend): every row count (multiples
// of the kernels' row groups and not), several batch sizes, inline and on the thread pool,
// against a double-precision reference from the dequantised weights and activations.
#include "engine/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/vec_dot.h"
#include "engine/quants.h"

namespace parapet::engine {
namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  WeightTensor w;
};

// n_mats random matrices of [rows, cols] in `type`.
Matrix RandomMatrix(TensorType type, int64_t rows, int64_t cols, int64_t n_mats,
                    std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Matrix m;
  m.w.name = "w";
  m.w.type = type;
  m.w.cols = cols;
  m.w.rows = rows;
  m.w.n_mats = n_mats;
  m.w.row_bytes = RowBytes(type, cols);
  m.w.mat_bytes = m.w.row_bytes * rows;
  m.bytes.resize(m.w.mat_bytes * n_mats);
  std::vector<float> x(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows * n_mats; ++r) {
    for (float& v : x) v = dist(rng);
    QuantizeRow(type, x.data(), m.bytes.data() + r * m.w.row_bytes, cols);
  }
  m.w.data = m.bytes.data();
  return m;
}

// y[j * rows + r] and the sum of |products|, from the dequantised weight row and activation
// row j as the kernel sees it (converted to its activation type and back).
void Reference(const WeightTensor& w, int64_t mat, const std::vector<float>& x, int64_t n,
               std::vector<double>* y, std::vector<double>* abs_sum) {
  const TensorType act_type = cpu::GetVecDotKernel(w.type).act_type;
  std::vector<float> wr(static_cast<size_t>(w.cols)), a(static_cast<size_t>(w.cols));
  std::vector<uint8_t> q(RowBytes(act_type, w.cols));
  for (int64_t j = 0; j < n; ++j) {
    QuantizeActivationRow(act_type, x.data() + j * w.cols, q.data(), w.cols);
    DequantizeRow(act_type, q.data(), a.data(), w.cols);
    for (int64_t r = 0; r < w.rows; ++r) {
      DequantizeRow(w.type, w.row(mat, r), wr.data(), w.cols);
      double s = 0, s_abs = 0;
      for (int64_t i = 0; i < w.cols; ++i) {
        s += static_cast<double>(wr[i]) * a[i];
        s_abs += std::fabs(static_cast<double>(wr[i]) * a[i]);
      }
      y->push_back(s);
      abs_sum->push_back(s_abs);
    }
  }
}

class CpuBackendMatMul : public ::testing::TestWithParam<TensorType> {};

TEST_P(CpuBackendMatMul, MatchesReference) {
  const TensorType type = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::unique_ptr<Backend> be = NewCpuBackend(2);
  constexpr int64_t kCols = 256;
  for (int64_t rows : {1, 3, 4, 7, 13, 64, 258}) {
    const Matrix m = RandomMatrix(type, rows, kCols, 2, rng);
    for (int64_t n : {1, 3, 9, 17}) {
      std::vector<float> x(static_cast<size_t>(n * kCols));
      for (float& v : x) v = dist(rng);
      std::vector<float> y(static_cast<size_t>(n * rows) + 1, -12345.0f);
      be->MatMul(m.w, 1, x.data(), n, y.data());
      ASSERT_EQ(y.back(), -12345.0f) << "wrote past y[n * rows - 1]";
      std::vector<double> ref, abs_sum;
      Reference(m.w, 1, x, n, &ref, &abs_sum);
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_NEAR(y[i], ref[i], 1e-5 * abs_sum[i] + 1e-30)
            << Traits(type).name << " rows=" << rows << " n=" << n << " at " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(WeightTypes, CpuBackendMatMul,
                         ::testing::Values(TensorType::kF32, TensorType::kF16, TensorType::kQ4_0,
                                           TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ6_K),
                         [](const auto& param_info) {
                           return std::string(Traits(param_info.param).name);
                         });

}  // namespace
}  // namespace parapet::engine
