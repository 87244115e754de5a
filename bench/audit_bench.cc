// Audited requests per second: each "request" is what the gateway makes durable per request — an
// admission record (waited for before generation) and a completion record (waited for before the
// last byte) — from 1, 16 and 64 concurrent writers, through the AuditWriter (group commit: one
// fdatasync per batch). The baseline, measured in the same run on the same disk: the same records
// appended by the same threads to one O_APPEND file with one fdatasync per record (what a logger
// that syncs each write does). Prints requests/s, the ratio, and the latency the two waits add per
// request (p50/p99).
//   parapet_audit_bench [--dir DIR] [--seconds S]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/record.h"
#include "audit/writer.h"

namespace {

using Clock = std::chrono::steady_clock;

parapet::audit::AdmissionRecord Admission(int i) {
  parapet::audit::AdmissionRecord a;
  a.request_id = "chatcmpl-bench" + std::to_string(i);
  a.tenant = "acme";
  a.key_id = "sha256:" + std::string(64, 'a');
  a.route = "/v1/chat/completions";
  a.model = "mixtral";
  a.model_sha256 = std::string(64, 'b');
  a.policy = "default";
  a.policy_version = std::string(64, 'c');
  a.prompt_hmac = "hmac-sha256:01234567:" + std::string(64, 'd');
  a.prompt_chars = 812;
  a.prompt_tokens = 203;
  a.messages = 3;
  a.decision = "redact";
  a.findings.push_back({"pii", "pii.email", "EMAIL", "redact", "enforce", 1, 1, 9, 25});
  return a;
}

parapet::audit::CompletionRecord Completion(int i) {
  parapet::audit::CompletionRecord c;
  c.request_id = "chatcmpl-bench" + std::to_string(i);
  c.finish_reason = "stop";
  c.prompt_tokens = 203;
  c.completion_tokens = 57;
  c.ttft_ms = 41.2;
  c.duration_ms = 1310.5;
  c.output_hmac = "hmac-sha256:01234567:" + std::string(64, 'e');
  c.output_chars = 240;
  return c;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Result {
  double requests_per_s = 0;
  std::vector<double> latency_us;
};

// Runs `threads` writers for `seconds`; `request(i)` makes one request durable.
template <typename F>
Result Run(int threads, double seconds, F request) {
  std::atomic<bool> stop{false};
  std::atomic<int> counter{0};
  std::mutex mu;
  Result r;
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      std::vector<double> lat;
      while (!stop.load()) {
        const int i = counter.fetch_add(1);
        const auto a = Clock::now();
        request(i);
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      r.latency_us.insert(r.latency_us.end(), lat.begin(), lat.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& t : ts) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  r.requests_per_s = static_cast<double>(r.latency_us.size()) / elapsed;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "bench-audit";
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  namespace fs = std::filesystem;
  auto key = parapet::audit::SigningKey::Generate("bench");
  std::printf(
      "audit records on %s (%.0f s per run); a request = admission + completion, each "
      "waited for\n",
      fs::absolute(dir).c_str(), seconds);
  std::printf("%8s  %14s  %14s  %6s  %12s  %12s\n", "writers", "baseline req/s", "audited req/s",
              "ratio", "audit p50", "audit p99");
  for (int threads : {1, 16, 64}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    // Baseline: one fdatasync per record, appends serialised by a mutex.
    const std::string path = dir + "/baseline.jsonl";
    const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0640);
    std::mutex file_mu;
    auto write_synced = [&](const std::string& line) {
      std::lock_guard<std::mutex> lock(file_mu);
      if (write(fd, line.data(), line.size()) < 0 || fdatasync(fd) != 0) std::abort();
    };
    const Result base = Run(threads, seconds, [&](int i) {
      write_synced(parapet::audit::EncodeAdmission(Admission(i)) + "\n");
      write_synced(parapet::audit::EncodeCompletion(Completion(i)) + "\n");
    });
    close(fd);
    // The audit writer.
    parapet::audit::WriterOptions o;
    o.dir = dir + "/log";
    o.signing_key = *key;
    o.min_free_bytes = 0;
    o.warn_free_bytes = 0;
    auto w = parapet::audit::AuditWriter::Open(o);
    if (!w.ok()) {
      std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
      return 2;
    }
    const Result audited = Run(threads, seconds, [&](int i) {
      (void)(*w)->AppendSync("admission", parapet::audit::EncodeAdmission(Admission(i)));
      (void)(*w)->AppendSync("completion", parapet::audit::EncodeCompletion(Completion(i)));
    });
    const parapet::audit::WriterStats s = (*w)->stats();
    (*w)->Close();
    std::printf(
        "%8d  %14.0f  %14.0f  %5.1fx  %9.0f us  %9.0f us   (%.1f records per fdatasync)\n", threads,
        base.requests_per_s, audited.requests_per_s, audited.requests_per_s / base.requests_per_s,
        Percentile(audited.latency_us, 0.5), Percentile(audited.latency_us, 0.99),
        static_cast<double>(s.records) / static_cast<double>(std::max<uint64_t>(1, s.batches)));
  }
  fs::remove_all(dir);
  return 0;
}
