// Model throughput benchmark: prompt processing (pp) and decode (tg) tokens/s on a
// Mixtral-shaped model synthesised with random weights, per tensor encoding, with the same
// shapes and test sizes as `llama-bench -p 128 -n 64` so results compare directly with the
// llama.cpp figures in ../shared/data/engine/README.md. A memory-read bandwidth probe runs in the
// same process, so decode can also be read as a fraction of what the machine can stream.
//
//   parapet_model_bench [--threads N] [--encodings Q4_0,Q8_0,Q4_K_M] [--dir DIR]
//                       [--prompt 128] [--decode 64] [--reps 3] [--dense]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/synthetic_model.h"
#include "engine/cpu/vec_dot.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model.h"

namespace parapet::bench {
namespace {

struct Args {
  int threads = 2;
  std::vector<std::string> encodings = {"Q4_0", "Q8_0", "Q4_K_M"};
  std::string dir = "bench-models";
  int prompt = 128;
  int decode = 64;
  int reps = 3;
  bool dense = false;
};

// llama.cpp's figures on this machine type (2 threads), from ../shared/data/engine/README.md.
const std::map<std::string, std::pair<double, double>> kLlamaCpp = {
    {"Q4_0", {385, 188}}, {"Q8_0", {275, 108}}, {"Q4_K_M", {312, 133}}};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Streams a 1 GiB buffer with `threads` threads; returns GB/s (best of 3).
double ReadBandwidthGBs(int threads) {
  const size_t n = (size_t{1} << 30) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n, 1);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = lo; i + 4 <= hi; i += 4) {
          s0 += buf[i];
          s1 += buf[i + 1];
          s2 += buf[i + 2];
          s3 += buf[i + 3];
        }
        sums[static_cast<size_t>(t)] = s0 + s1 + s2 + s3;
      });
    }
    for (auto& th : ts) th.join();
    double s = Seconds(t0);
    if (sums[0] == 42) std::printf(" ");  // keep the loop
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s / 1e9);
  }
  return best;
}

// Bytes of weights one decode step reads: everything but the experts, plus k/n of them.
double ActiveBytesPerToken(const engine::Model& m) {
  const engine::ModelConfig& c = m.config();
  double total = 0;
  for (const auto& t : m.file().tensors()) {
    double b = static_cast<double>(t.n_bytes);
    if (t.name == "token_embd.weight") continue;  // one row per token
    if (c.is_moe() && t.name.find("_exps.") != std::string_view::npos)
      b = b * c.n_expert_used / c.n_expert;
    total += b;
  }
  return total;
}

// Runs `n` tokens as one batch (pp) or one at a time (tg) from an empty context; seconds.
double RunTokens(engine::Model& m, int n, bool one_batch) {
  auto kv = m.NewKvCache(n + 1);
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab) * (one_batch ? 1 : 1));
  std::vector<engine::BatchToken> batch;
  auto t0 = std::chrono::steady_clock::now();
  if (one_batch) {
    for (int i = 0; i < n; ++i)
      batch.push_back({(i * 7919 + 13) % m.config().n_vocab, i, kv.get(), i == n - 1});
    Status s = m.Forward(batch, logits.data());
    if (!s.ok()) std::fprintf(stderr, "forward failed: %s\n", s.ToString().c_str());
  } else {
    engine::TokenId tok = 1;
    for (int i = 0; i < n; ++i) {
      engine::BatchToken b{tok, i, kv.get(), true};
      Status s = m.Forward({&b, 1}, logits.data());
      if (!s.ok()) std::fprintf(stderr, "forward failed: %s\n", s.ToString().c_str());
      tok = static_cast<engine::TokenId>(std::max_element(logits.begin(), logits.end()) -
                                         logits.begin());
    }
  }
  return Seconds(t0);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

int Main(const Args& a) {
  std::filesystem::create_directories(a.dir);
  const double bw = ReadBandwidthGBs(a.threads);
  std::printf("simd: %s, threads: %d, memory read bandwidth: %.1f GB/s\n",
              engine::cpu::SimdLevelName(engine::cpu::DetectSimdLevel()), a.threads, bw);
  std::printf("%-8s %9s %12s %12s %10s %10s %9s %9s %9s\n", "encoding", "size_MB", "pp tok/s",
              "tg tok/s", "llama pp", "llama tg", "pp ratio", "tg ratio", "tg GB/s");
  SyntheticShape shape;
  if (a.dense) shape.n_expert = 0;
  for (const std::string& enc : a.encodings) {
    std::string path = a.dir + "/mixtral-shaped-" + enc + (a.dense ? "-dense" : "") + ".gguf";
    if (!std::filesystem::exists(path)) {
      std::fprintf(stderr, "writing %s ...\n", path.c_str());
      Status s = WriteSyntheticModel(path, shape, enc);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 2;
      }
    }
    auto m = engine::Model::Load(path, engine::ModelOptions{.n_threads = a.threads});
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
      return 2;
    }
    RunTokens(**m, a.prompt, true);  // warm the page cache: every expert gets touched
    RunTokens(**m, a.decode, false);
    std::vector<double> pp, tg;
    for (int r = 0; r < a.reps; ++r) {
      pp.push_back(a.prompt / RunTokens(**m, a.prompt, true));
      tg.push_back(a.decode / RunTokens(**m, a.decode, false));
    }
    const double pp_med = Median(pp), tg_med = Median(tg);
    auto ref = kLlamaCpp.count(enc) ? kLlamaCpp.at(enc) : std::make_pair(0.0, 0.0);
    const double gbs = ActiveBytesPerToken(**m) * tg_med / 1e9;
    std::printf("%-8s %9.0f %12.1f %12.1f %10.0f %10.0f %9.2f %9.2f %9.1f\n", enc.c_str(),
                static_cast<double>((*m)->file().size_bytes()) / 1e6, pp_med, tg_med, ref.first,
                ref.second, ref.first > 0 ? pp_med / ref.first : 0,
                ref.second > 0 ? tg_med / ref.second : 0, gbs);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace parapet::bench

int main(int argc, char** argv) {
  parapet::bench::Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads")
      a.threads = std::atoi(value().c_str());
    else if (arg == "--encodings")
      a.encodings = parapet::bench::Split(value());
    else if (arg == "--dir")
      a.dir = value();
    else if (arg == "--prompt")
      a.prompt = std::atoi(value().c_str());
    else if (arg == "--decode")
      a.decode = std::atoi(value().c_str());
    else if (arg == "--reps")
      a.reps = std::atoi(value().c_str());
    else if (arg == "--dense")
      a.dense = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (a.threads < 1 || a.prompt < 1 || a.decode < 1 || a.reps < 1) {
    std::fprintf(stderr, "--threads, --prompt, --decode and --reps must be >= 1\n");
    return 2;
  }
  return parapet::bench::Main(a);
}
