// Output-guard cost per streamed token: a policy's output stages (default:
// examples/policies/default.yaml) guarding a 2 KB story-like response that arrives in
// tokenizer-sized pieces (1-6 bytes, words with their leading space), single thread.
// Prints, per token: the guard's CPU time (p50/p99), how many tokens later its text was released
// (p50/p99), and the generation -> release latency that makes at a given per-stream decode rate;
// plus the baseline of the same stages run once over the whole response (what a non-streaming
// check costs), measured in the same run.
//   parapet_stream_guard_bench [--policy FILE] [--runs N] [--rate TOKENS_PER_S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline/stream_guard.h"
#include "policies/policy_set.h"

namespace {

// Story-like prose with a name every sentence and an email every ~600 bytes.
std::string Response(size_t bytes) {
  const char* words[] = {"Once",  "upon", "a",   "time",  "there", "was",  "little", "girl",
                         "named", "Lily", "she", "liked", "to",    "play", "in",     "the",
                         "park",  "with", "her", "big",   "red",   "ball", "and",    "mom"};
  std::string s;
  for (size_t i = 0; s.size() < bytes; ++i) {
    if (i % 120 == 119) {
      s += " write to jane.doe" + std::to_string(i) + "@example.com.";
    } else {
      if (!s.empty()) s += ' ';
      s += words[(i * 7 + i / 5) % 24];
      if (i % 11 == 10) s += '.';
    }
  }
  s.resize(bytes);
  return s;
}

// Tokenizer-like pieces: words split into 1-6 byte chunks, a leading space on the first.
std::vector<std::string> Pieces(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  unsigned x = 12345;
  while (i < text.size()) {
    x = x * 1103515245 + 12345;
    size_t n = 1 + (x >> 16) % 6;
    size_t space = text.find(' ', i + 1);
    if (space != std::string::npos && space > i) n = std::min(n, space - i);
    n = std::min(n, text.size() - i);
    out.push_back(text.substr(i, n));
    i += n;
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string file = std::string(PARAPET_SOURCE_DIR) + "/examples/policies/default.yaml";
  int runs = 200;
  double rate = 20;  // tokens/s per stream: roughly one of 16 streams of a Mixtral-class model
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--policy") == 0) file = argv[i + 1];
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rate") == 0) rate = std::max(0.1, std::atof(argv[i + 1]));
  }
  auto set = parapet::policies::PolicySet::Load(file, parapet::policies::CompileContext{});
  if (!set.ok()) {
    std::fprintf(stderr, "%s\n", set.status().message().c_str());
    return 2;
  }
  const parapet::policies::Policy& policy = (*set)->default_policy();
  if (!policy.has_output()) {
    std::fprintf(stderr, "%s: policy %s has no output stages\n", file.c_str(),
                 policy.name().c_str());
    return 2;
  }
  const std::string text = Response(2048);
  const std::vector<std::string> pieces = Pieces(text);
  std::printf(
      "policy %s from %s: %zu output stages, holdback_chars %zu; %zu-byte response in %zu "
      "tokens; %d runs\n",
      policy.name().c_str(), file.c_str(), policy.output().size(), policy.options().holdback_chars,
      text.size(), pieces.size(), runs);

  std::vector<double> cpu_us, delay_tokens, whole_us, stream_total_us;
  std::string released;
  for (int r = 0; r < runs; ++r) {
    parapet::pipeline::StreamGuard guard(policy.output(), policy.stream_options());
    std::vector<size_t> ends;  // response offset where token i ends
    size_t pushed = 0, next = 0;
    released.clear();
    double total = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      released += guard.Push(pieces[i]);
      const auto t1 = std::chrono::steady_clock::now();
      const double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
      cpu_us.push_back(us);
      total += us;
      pushed += pieces[i].size();
      ends.push_back(pushed);
      for (; next < ends.size() && ends[next] <= guard.released_bytes(); ++next) {
        delay_tokens.push_back(static_cast<double>(i - next));
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    released += guard.Finish();
    total +=
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    for (; next < ends.size(); ++next) {
      delay_tokens.push_back(static_cast<double>(pieces.size() - next));  // released at the end
    }
    stream_total_us.push_back(total);
    const auto w0 = std::chrono::steady_clock::now();
    const parapet::policies::OutputDecision d = policy.EvaluateOutput(text);
    whole_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0).count());
    if (d.text != released) {
      std::fprintf(stderr, "streamed result differs from the whole-text result\n");
      return 1;
    }
  }
  const double d50 = Percentile(delay_tokens, 0.5), d99 = Percentile(delay_tokens, 0.99);
  const double c50 = Percentile(cpu_us, 0.5), c99 = Percentile(cpu_us, 0.99);
  std::printf("guard CPU per token:        p50 %7.2f us   p99 %7.2f us\n", c50, c99);
  std::printf("release delay (tokens):     p50 %7.1f      p99 %7.1f\n", d50, d99);
  std::printf("generation -> release at %.0f tok/s per stream: p50 %.1f ms   p99 %.1f ms\n", rate,
              d50 / rate * 1e3 + c50 / 1e3, d99 / rate * 1e3 + c99 / 1e3);
  const double s50 = Percentile(stream_total_us, 0.5), w50 = Percentile(whole_us, 0.5);
  std::printf(
      "whole response: streamed %.0f us total vs %.0f us for one whole-text check (%.1fx)\n", s50,
      w50, s50 / w50);
  return 0;
}
