// The engine against llama.cpp: for every golden file in ../shared/data/engine/golden, the
// production Model (CPU backend) must reproduce llama.cpp's prompt ids exactly, its greedy
// token ids exactly (peaky models), and its top-5 log-probabilities at every step within a
// per-encoding tolerance (teacher-forced, so one near-tie cannot derail the rest).
//
// Tolerances (nats, max |Δ logprob| over every top-5 id of every step), with the maxima
// measured on the CPU backend (AVX-512) in brackets:
//   F32 0.01 [0.0023–0.0030], F16 0.02 [0.0030] — only summation order and llama.cpp's F16 KV
//     cache differ (the float64 reference is 0.0024 / 0.0045 from llama.cpp);
//   quantised 0.2 [0.054–0.123] — weights are identical and activations are quantised to
//     Q8_0 / Q8_K as llama.cpp does, but the F16 KV cache, the accumulation order and
//     rounding-boundary flips in activation quantisation are amplified through 4 quantised
//     layers (the float64 reference, which keeps activations in float, is 0.06–0.11 away);
//   stories260K files 0.03 [0.011–0.026] (trained, not peaky; the float64 reference is
//     0.011 / 0.026 away).
// The measured maxima are printed on every run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/generator.h"
#include "engine/model.h"
#include "tests/engine/golden_util.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine {
namespace {

using testing::Golden;
using testing::GoldenRun;

double Tolerance(const std::string& model) {
  if (model.rfind("stories260K", 0) == 0) return 0.03;
  if (model.find("-F32") != std::string::npos) return 0.01;
  if (model.find("-F16") != std::string::npos) return 0.02;
  return 0.2;
}

bool IsPeaky(const std::string& model) { return model.rfind("peaky-", 0) == 0; }

std::vector<std::string> GoldenFiles() {
  std::vector<std::string> out;
  std::string dir = testing::SharedDataPath("engine/golden");
  if (dir.empty()) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".json") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string path = testing::SharedDataPath("engine/golden/" + GetParam());
    if (path.empty()) GTEST_SKIP() << "golden " << GetParam() << " not found";
    auto g = testing::LoadGolden(path);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    golden_ = std::move(g).value();
    std::string model_path = testing::GoldenModelPath(golden_.model);
    if (model_path.empty()) {
      GTEST_SKIP() << "model " << golden_.model << " not found (is ../shared present and "
                   << "prepare_engine_fixtures run?)";
    }
    auto m = Model::Load(model_path, ModelOptions{.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value();
  }

  Golden golden_;
  std::unique_ptr<Model> model_;
};

TEST_P(GoldenTest, PromptIdsMatchExactly) {
  for (const GoldenRun& run : golden_.runs) {
    const Tokenizer& t = model_->tokenizer();
    std::vector<TokenId> ids = t.Encode(run.prompt, t.add_bos_default());
    EXPECT_EQ(std::vector<int>(ids.begin(), ids.end()), run.prompt_ids) << run.prompt;
  }
}

TEST_P(GoldenTest, TeacherForcedLogprobsWithinTolerance) {
  const double tol = Tolerance(golden_.model);
  const int n_vocab = model_->config().n_vocab;
  double max_delta = 0;
  int argmax_checked = 0;
  for (const GoldenRun& run : golden_.runs) {
    auto kv =
        model_->NewKvCache(static_cast<int32_t>(run.prompt_ids.size() + run.generated_ids.size()));
    std::vector<BatchToken> batch;
    for (size_t i = 0; i < run.prompt_ids.size(); ++i) {
      batch.push_back(
          {run.prompt_ids[i], static_cast<int32_t>(i), kv.get(), i + 1 == run.prompt_ids.size()});
    }
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    ASSERT_TRUE(model_->Forward(batch, logits.data()).ok());
    for (size_t k = 0; k < run.steps.size(); ++k) {
      std::vector<double> lp = testing::LogSoftmax(logits.data(), n_vocab);
      for (const auto& [id, golden_lp] : run.steps[k].top5) {
        double d = std::abs(lp[static_cast<size_t>(id)] - golden_lp);
        max_delta = std::max(max_delta, d);
        EXPECT_LE(d, tol) << run.prompt << " step " << k << " id " << id;
      }
      if (run.steps[k].margin >= 0.3) {
        int argmax =
            static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        EXPECT_EQ(argmax, run.generated_ids[k]) << run.prompt << " step " << k;
        ++argmax_checked;
      }
      BatchToken next{run.generated_ids[k], static_cast<int32_t>(run.prompt_ids.size() + k),
                      kv.get(), true};
      ASSERT_TRUE(model_->Forward({&next, 1}, logits.data()).ok());
    }
  }
  std::printf("[golden] %-32s max|dlogprob| %.4f (tolerance %.2f), argmax checked at %d steps\n",
              golden_.model.c_str(), max_delta, tol, argmax_checked);
}

// Free-running greedy decoding reproduces llama.cpp's ids: all of them on the peaky models; on
// the trained stories260K files up to the first near-tie (margin below twice the log-prob
// tolerance), where rounding may legitimately pick the other token.
TEST_P(GoldenTest, FreeRunningGreedyMatches) {
  const double tie = 2 * Tolerance(golden_.model);
  for (const GoldenRun& run : golden_.runs) {
    size_t n_exact = run.generated_ids.size();
    if (!IsPeaky(golden_.model)) {
      for (size_t k = 0; k < run.steps.size(); ++k) {
        if (run.steps[k].margin < tie) {
          n_exact = k + 1;  // step k's own choice may differ; everything before must not
          break;
        }
      }
    }
    GenerateOptions opt;
    opt.sampling.temperature = 0;
    opt.max_tokens = static_cast<int32_t>(run.generated_ids.size());
    std::vector<TokenId> prompt(run.prompt_ids.begin(), run.prompt_ids.end());
    auto r = Generate(*model_, prompt, opt);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_GE(r->generated_ids.size(), n_exact - 1);
    std::vector<int> got(r->generated_ids.begin(), r->generated_ids.begin() + (n_exact - 1));
    std::vector<int> want(run.generated_ids.begin(), run.generated_ids.begin() + (n_exact - 1));
    EXPECT_EQ(got, want) << run.prompt << " (first " << n_exact - 1 << " tokens)";
    if (n_exact == run.generated_ids.size()) {
      EXPECT_EQ(r->generated_ids.back(), run.generated_ids.back()) << run.prompt;
      EXPECT_EQ(r->text, run.generated_text) << run.prompt;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LlamaCpp, GoldenTest, ::testing::ValuesIn(GoldenFiles()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name =
                               param_info.param.substr(0, param_info.param.size() - 5);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

// Each expert of the perm model is a permutation of the dense FFN's hidden units, so whatever
// the router picks, greedy output must equal the dense model's.
TEST(MoePermutation, GeneratesExactlyTheDenseTokens) {
  PARAPET_REQUIRE_SHARED(dense_path, "models/stories260K.gguf");
  PARAPET_REQUIRE_SHARED(perm_path, "models/stories260K-moe4x2-perm.gguf");
  auto dense = Model::Load(dense_path, ModelOptions{.n_threads = 2});
  auto perm = Model::Load(perm_path, ModelOptions{.n_threads = 2});
  ASSERT_TRUE(dense.ok() && perm.ok());
  ASSERT_TRUE((*perm)->config().is_moe());
  for (const char* prompt : {"Once upon a time", "The quick brown fox", "In the beginning"}) {
    std::vector<TokenId> ids = (*dense)->tokenizer().Encode(prompt, true);
    GenerateOptions opt;
    opt.sampling.temperature = 0;
    opt.max_tokens = 100;
    auto a = Generate(**dense, ids, opt);
    auto b = Generate(**perm, ids, opt);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->generated_ids, b->generated_ids) << prompt;
  }
}

}  // namespace
}  // namespace parapet::engine
