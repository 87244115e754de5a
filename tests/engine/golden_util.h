// Golden outputs produced by llama.cpp (format "golden-greedy-v1", described in
// ../shared/data/engine/README.md): prompts, token ids and per-step top-5 log-probabilities.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace parapet::testing {

struct GoldenStep {
  std::vector<std::pair<int, float>> top5;  // (id, logprob), sorted by logit
  float margin = 0;                         // top1 - top2 logprob
};

struct GoldenRun {
  std::string prompt;
  std::vector<int> prompt_ids;
  std::vector<int> generated_ids;
  std::string generated_text;
  std::vector<GoldenStep> steps;
};

struct Golden {
  std::string model;  // file name, e.g. "peaky-moe-Q4_K_M.gguf"
  std::vector<GoldenRun> runs;
};

Result<Golden> LoadGolden(const std::string& path);

// Where the model a golden file refers to lives: ../shared/data/models for stories260K files,
// the build tree's decompressed fixtures otherwise. "" when absent.
std::string GoldenModelPath(const std::string& model_file);

// Log-softmax of `logits` computed in double.
std::vector<double> LogSoftmax(const float* logits, int n);

}  // namespace parapet::testing
