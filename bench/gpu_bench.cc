// GPU throughput benchmark for the CUDA backend: prompt processing (pp) and batch-1 decode (tg)
// tokens/s on Mixtral-shaped layer stacks synthesised in-process (d_model 4096, 8 experts top-2,
// expert FFN 14336, 32 heads / 8 KV heads, vocabulary 32000; --layers of them, random weights in
// each encoding) and on GGUF files given with --models. Decode is compared with the memory-bound
// ceiling: the weight bytes one token reads (all non-expert tensors but the embedding, plus k/n
// of the expert tensors) at the device-to-device copy bandwidth measured in the same process.
//
//   parapet_gpu_bench [--encodings Q8_0,Q4_K,...] [--layers 4] [--dir DIR] [--prompt 512]
//                     [--decode 64] [--reps 5] [--models a.gguf,b.gguf] [--keep]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synthetic_model.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model.h"

namespace parapet::bench {
namespace {

struct Args {
  std::vector<std::string> encodings = {"Q8_0", "Q4_K", "Q4_K_M", "Q6_K", "Q4_0", "F16"};
  std::vector<std::string> models;
  int layers = 4;
  std::string dir = "/tmp/parapet-gpu-bench";
  int prompt = 512;
  int decode = 64;
  int reps = 5;
  bool keep = false;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

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

// `n` tokens as one batch (pp) or one at a time with greedy feedback (tg); seconds, or < 0 on
// error.
double RunTokens(engine::Model& m, int n, bool one_batch) {
  auto kv = m.NewKvCache(n + 1);
  std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
  auto t0 = std::chrono::steady_clock::now();
  if (one_batch) {
    std::vector<engine::BatchToken> batch;
    for (int i = 0; i < n; ++i)
      batch.push_back({(i * 7919 + 13) % m.config().n_vocab, i, kv.get(), i == n - 1});
    Status s = m.Forward(batch, logits.data());
    if (!s.ok()) {
      std::fprintf(stderr, "forward failed: %s\n", s.ToString().c_str());
      return -1;
    }
  } else {
    engine::TokenId tok = 1;
    for (int i = 0; i < n; ++i) {
      engine::BatchToken b{tok, i, kv.get(), true};
      Status s = m.Forward({&b, 1}, logits.data());
      if (!s.ok()) {
        std::fprintf(stderr, "forward failed: %s\n", s.ToString().c_str());
        return -1;
      }
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

void Bench(const std::string& label, const std::string& path, const Args& a, double copy_gbs) {
  auto t0 = std::chrono::steady_clock::now();
  auto m = engine::Model::Load(path, engine::ModelOptions{.n_threads = 4, .backend = "cuda"});
  if (!m.ok()) {
    std::printf("%-22s load failed: %s\n", label.c_str(), m.status().ToString().c_str());
    return;
  }
  const double load_s = Seconds(t0);
  const engine::ModelConfig& c = (*m)->config();
  const int prompt = std::min(a.prompt, c.n_ctx_train - 1);
  const int decode = std::min(a.decode, c.n_ctx_train - 1);
  if (RunTokens(**m, prompt, true) < 0 || RunTokens(**m, decode, false) < 0) return;  // warm-up
  std::vector<double> pp, tg;
  for (int r = 0; r < a.reps; ++r) {
    pp.push_back(prompt / RunTokens(**m, prompt, true));
    tg.push_back(decode / RunTokens(**m, decode, false));
  }
  const double pp_med = Median(pp), tg_med = Median(tg);
  const double active = ActiveBytesPerToken(**m);
  const double gbs = active * tg_med / 1e9;
  const double ceiling = copy_gbs * 1e9 / active;
  std::printf("%-22s %6d %9.1f %10.0f %10.1f %9.0f %10.0f %8.1f%%  (load %.1fs)\n", label.c_str(),
              c.n_layer, active / 1e6, pp_med, tg_med, gbs, ceiling, 100.0 * tg_med / ceiling,
              load_s);
  std::fflush(stdout);
}

int Main(const Args& a) {
  auto desc = engine::cuda::DeviceDescription();
  if (!desc.ok()) {
    std::fprintf(stderr, "%s\n", desc.status().ToString().c_str());
    return 2;
  }
  auto bw = engine::cuda::MeasureCopyBandwidthGBs(size_t{2} << 30);
  if (!bw.ok()) {
    std::fprintf(stderr, "%s\n", bw.status().ToString().c_str());
    return 2;
  }
  std::printf("device: %s\ndevice-to-device copy bandwidth (read + write): %.0f GB/s\n",
              desc->c_str(), *bw);
  std::printf(
      "prompt %d tokens as one batch (pp); %d tokens decoded one at a time (tg); median "
      "of %d\n",
      a.prompt, a.decode, a.reps);
  std::printf("%-22s %6s %9s %10s %10s %9s %10s %9s\n", "model", "layers", "MB/token", "pp tok/s",
              "tg tok/s", "tg GB/s", "ceil tok/s", "of ceil");
  std::fflush(stdout);
  for (const std::string& path : a.models) {
    Bench(std::filesystem::path(path).stem().string(), path, a, *bw);
  }
  std::filesystem::create_directories(a.dir);
  SyntheticShape shape;
  shape.n_embd = 4096;
  shape.n_layer = a.layers;
  shape.n_head = 32;
  shape.n_head_kv = 8;
  shape.n_ff = 14336;
  shape.n_expert = 8;
  shape.n_expert_used = 2;
  shape.n_vocab = 32000;
  shape.n_ctx = 4096;
  for (const std::string& enc : a.encodings) {
    const std::string path = a.dir + "/mixtral-" + std::to_string(a.layers) + "L-" + enc + ".gguf";
    if (!std::filesystem::exists(path)) {
      auto t0 = std::chrono::steady_clock::now();
      Status s = WriteSyntheticModel(path, shape, enc);
      if (!s.ok()) {
        std::printf("%-22s synthesis failed: %s\n", enc.c_str(), s.ToString().c_str());
        continue;
      }
      std::fprintf(stderr, "wrote %s in %.1fs\n", path.c_str(), Seconds(t0));
    }
    Bench("mixtral-shaped " + enc, path, a, *bw);
    if (!a.keep) std::filesystem::remove(path);
  }
  return 0;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
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
    if (arg == "--encodings")
      a.encodings = parapet::bench::Split(value());
    else if (arg == "--models")
      a.models = parapet::bench::Split(value());
    else if (arg == "--layers")
      a.layers = std::atoi(value().c_str());
    else if (arg == "--dir")
      a.dir = value();
    else if (arg == "--prompt")
      a.prompt = std::atoi(value().c_str());
    else if (arg == "--decode")
      a.decode = std::atoi(value().c_str());
    else if (arg == "--reps")
      a.reps = std::atoi(value().c_str());
    else if (arg == "--keep")
      a.keep = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (a.layers < 1 || a.prompt < 1 || a.decode < 1 || a.reps < 1) {
    std::fprintf(stderr, "--layers, --prompt, --decode and --reps must be >= 1\n");
    return 2;
  }
  return parapet::bench::Main(a);
}
