// Input-policy latency: examples/policies/default.yaml (unicode, pii, regex deny list) on one user
// message of 1 KB and of 16 KB, as the gateway runs it per request, single thread. Prints p50 and
// p99 over many runs (and the per-stage split of the median run).
//   parapet_policy_bench [--policy FILE] [--runs N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "policies/policy_set.h"

namespace {

// Prose-like text with an email and a phone number every ~500 bytes (so pii has work to do).
std::string Prompt(size_t bytes) {
  const char* words[] = {"the",    "model",   "answer", "question", "about",  "history",
                         "please", "explain", "why",    "network",  "server", "policy"};
  std::string s;
  size_t i = 0;
  while (s.size() < bytes) {
    if (i % 80 == 79) {
      s += "contact jane.doe" + std::to_string(i) + "@example.com or (415) 555-2671. ";
    } else {
      s += words[(i * 7) % 12];
      s += ' ';
    }
    ++i;
  }
  s.resize(bytes);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file = std::string(PARAPET_SOURCE_DIR) + "/examples/policies/default.yaml";
  int runs = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--policy") == 0) file = argv[i + 1];
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(10, std::atoi(argv[i + 1]));
  }
  auto set = parapet::policies::PolicySet::Load(file, parapet::policies::CompileContext{});
  if (!set.ok()) {
    std::fprintf(stderr, "%s\n", set.status().message().c_str());
    return 2;
  }
  const parapet::policies::Policy& policy = (*set)->default_policy();
  std::printf("policy %s from %s, %d runs per size, one thread\n", policy.name().c_str(),
              file.c_str(), runs);
  for (size_t bytes : {size_t{1024}, size_t{16384}}) {
    const std::vector<parapet::policies::Turn> turns = {{"user", Prompt(bytes)}};
    std::vector<double> us;
    std::string action;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      parapet::policies::InputDecision d = policy.EvaluateInput(turns);
      const auto t1 = std::chrono::steady_clock::now();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      action = parapet::pipeline::ActionName(d.verdict.action);
    }
    std::sort(us.begin(), us.end());
    std::printf("%6zu bytes: p50 %8.1f us  p99 %8.1f us  (%s)\n", bytes, us[us.size() / 2],
                us[us.size() * 99 / 100], action.c_str());
  }
  return 0;
}
