// Policy stage throughput (Google Benchmark): the regex stage with 10, 100 and 1000 deny-list
// patterns, and the pii stage with every detector, each over ~1 MiB of text; bytes/s is the
// figure to read. Single-threaded; the stages are thread-safe, so a request's cost is per core.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "pipeline/stages/pii_stage.h"
#include "pipeline/stages/regex_stage.h"

namespace parapet::pipeline {
namespace {

std::string RandomWord(std::mt19937& rng, int min_len, int max_len) {
  std::uniform_int_distribution<int> len(min_len, max_len), letter(0, 25);
  std::string w(static_cast<size_t>(len(rng)), 'a');
  for (char& ch : w) ch = static_cast<char>('a' + letter(rng));
  return w;
}

// ~1 MiB of random lower-case words in sentences.
std::string Words(std::mt19937& rng) {
  std::string text;
  while (text.size() < (1u << 20)) text += RandomWord(rng, 2, 9) + (rng() % 12 ? " " : ".\n");
  return text;
}

void Run(benchmark::State& state, const Stage& stage, const std::string& text) {
  Input in;
  in.messages.push_back({"user", ScanText(text)});
  for (auto _ : state) {
    StageResult out;
    Status s = stage.Inspect(in, out);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    benchmark::DoNotOptimize(out.findings.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}

// arg: number of patterns
void BM_RegexStage(benchmark::State& state) {
  std::mt19937 rng(42);
  const std::string text = Words(rng);
  RegexStageConfig c;
  for (int64_t i = 0; i < state.range(0); ++i) {
    c.patterns.push_back(
        {.id = "p" + std::to_string(i),
         .pattern = RandomWord(rng, 6, 10) + R"(\w*(?:\W+\w+){0,3}?\W+)" + RandomWord(rng, 5, 8),
         .case_insensitive = true,
         .word_boundary = true});
  }
  auto stage = NewRegexStage(c);
  if (!stage.ok()) {
    state.SkipWithError(stage.status().ToString().c_str());
    return;
  }
  Run(state, **stage, text);
}
BENCHMARK(BM_RegexStage)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_PiiStage(benchmark::State& state) {
  const std::string para =
      "Thanks for the update on the quarterly report, the numbers from 2023 look fine and the "
      "meeting is at 10:30 in room 4.2. Version 1.2.3 shipped; order 12345678 is on its way. ";
  std::string text;
  for (int i = 0; text.size() < (1u << 20); ++i) {
    text += para;
    if (i % 20 == 0)
      text += "Reach me at jane" + std::to_string(i) + "@example.com or 415-555-2671. ";
  }
  PiiStageConfig c;
  for (const std::string& n : PiiDetectorNames()) c.detectors.push_back({.name = n});
  auto stage = NewPiiStage(c);
  if (!stage.ok()) {
    state.SkipWithError(stage.status().ToString().c_str());
    return;
  }
  Run(state, **stage, text);
}
BENCHMARK(BM_PiiStage)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace parapet::pipeline

BENCHMARK_MAIN();
