// Classifier-stage latency on one core: the shipped fastText models (models/prompt-attack.bin,
// models/harmful-content.bin) scoring 1 KB and 16 KB of prose, the text preparation alone
// (ClassifierText), and the default input policy (examples/policies/default.yaml, both
// classifiers included) with its per-stage split; fastText's own predictLine on the same text as
// the baseline for the direct scoring path. Prints p50 and p99 over many runs.
//   parapet_classifier_bench [--runs N] [--models DIR] [--policy FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "pipeline/internal/classifier_model.h"
#include "policies/policy_set.h"

namespace {

using Clock = std::chrono::steady_clock;

// Ordinary prose (a user asking about a deployment), repeated to `bytes` and cut at a space.
std::string Prose(size_t bytes) {
  const std::string paragraph =
      "We are moving our web application from a single virtual machine to a small Kubernetes "
      "cluster next quarter. The application is written in Python with a PostgreSQL database, "
      "and it serves about two thousand requests per minute at peak. Could you explain how to "
      "plan the migration step by step, what to monitor during the switch, and how to roll "
      "back quickly if the new setup misbehaves? ";
  std::string s;
  while (s.size() < bytes) s += paragraph;
  s.resize(bytes);
  return s;
}

struct Stats {
  double p50, p99;
};

template <typename F>
Stats Measure(int runs, F&& f) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(runs));
  for (int r = 0; r < runs; ++r) {
    const Clock::time_point t0 = Clock::now();
    f();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string models = std::string(PARAPET_SOURCE_DIR) + "/models";
  std::string policy_file = std::string(PARAPET_SOURCE_DIR) + "/examples/policies/default.yaml";
  int runs = 3000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(10, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--models") == 0) models = argv[i + 1];
    if (std::strcmp(argv[i], "--policy") == 0) policy_file = argv[i + 1];
  }
  using parapet::pipeline::internal::ClassifierModel;
  using parapet::pipeline::internal::ClassifierText;
  std::printf("%d runs per line, one thread\n", runs);
  volatile size_t sink = 0;
  for (size_t bytes : {size_t{1024}, size_t{16384}}) {
    const std::string text = Prose(bytes);
    const Stats prep = Measure(runs, [&] { sink = sink + ClassifierText(text).size(); });
    std::printf("%6zu bytes  text preparation          p50 %8.1f us  p99 %8.1f us\n", bytes,
                prep.p50, prep.p99);
    for (const char* name : {"prompt-attack", "harmful-content"}) {
      auto m = ClassifierModel::Load(models + "/" + name + ".bin");
      if (!m.ok()) {
        std::fprintf(stderr, "%s\n", m.status().message().c_str());
        return 2;
      }
      double score = 0;
      const Stats s = Measure(runs, [&] { score = (*m)->ScoreText(text, 256)[1]; });
      std::printf("%6zu bytes  %-16s score %.3f  p50 %8.1f us  p99 %8.1f us\n", bytes, name, score,
                  s.p50, s.p99);
      if (bytes <= 1024) {  // one window: the same work through fastText's own reader
        const Stats b = Measure(runs, [&] { score = (*m)->PredictLine(ClassifierText(text))[1]; });
        std::printf(
            "%6zu bytes  %-16s fastText predictLine (baseline) p50 %8.1f us  p99 %8.1f us"
            "  -> direct path %.2fx faster\n",
            bytes, name, b.p50, b.p99, b.p50 / s.p50);
      }
    }
  }
  auto set = parapet::policies::PolicySet::Load(policy_file, parapet::policies::CompileContext{});
  if (!set.ok()) {
    std::fprintf(stderr, "%s\n", set.status().message().c_str());
    return 2;
  }
  const parapet::policies::Policy& policy = (*set)->default_policy();
  for (size_t bytes : {size_t{1024}, size_t{16384}}) {
    const std::vector<parapet::policies::Turn> turns = {{"user", Prose(bytes)}};
    std::map<std::string, std::vector<double>> per_stage;
    std::string action;
    const Stats s = Measure(runs, [&] {
      parapet::policies::InputDecision d = policy.EvaluateInput(turns);
      for (const parapet::pipeline::StageReport& r : d.verdict.stages) {
        per_stage[r.stage_id].push_back(r.micros);
      }
      action = parapet::pipeline::ActionName(d.verdict.action);
    });
    std::printf("%6zu bytes  policy %s (%s): p50 %8.1f us  p99 %8.1f us; stage medians:", bytes,
                policy.name().c_str(), action.c_str(), s.p50, s.p99);
    for (const auto& [id, us] : per_stage) std::printf(" %s %.1f", id.c_str(), Median(us));
    std::printf(" us\n");
  }
  return 0;
}
