// TestHandler and test helpers (see test_handler_util.h).
#include "tests/gateway/test_handler_util.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "tests/gateway/http_client_util.h"

namespace parapet::gateway::testing {
namespace {

std::string Path(const std::string& target) { return target.substr(0, target.find('?')); }

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool WaitFor(const std::atomic<int>& value, int n, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (value.load() < n) {
    if (NowMs() > deadline) return false;
    SleepMs(2);
  }
  return true;
}

Response TextResponse(std::string body) {
  Response r(http::status::ok, 11);
  r.set(http::field::content_type, "text/plain");
  r.body() = std::move(body);
  return r;
}

}  // namespace

TestHandler::~TestHandler() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void TestHandler::Spawn(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  threads_.emplace_back(std::move(fn));
}

void TestHandler::Hold(const std::shared_ptr<Exchange>& exchange) {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = exchange;
}

std::shared_ptr<Exchange> TestHandler::held() {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

bool TestHandler::WaitAborts(int n, int timeout_ms) const {
  return WaitFor(aborts_, n, timeout_ms);
}
bool TestHandler::WaitRequests(int n, int timeout_ms) const {
  return WaitFor(requests_, n, timeout_ms);
}

void TestHandler::Handle(std::shared_ptr<Exchange> ex) {
  ++requests_;
  ex->OnAbort([this] {
    last_abort_ms_ = NowMs();
    ++aborts_;
  });
  const std::string target(ex->request().target());
  const std::string path = Path(target);
  if (path == "/echo") {
    Response r = TextResponse(ex->request().body());
    r.set("x-echo-method", std::string(ex->request().method_string()));
    ex->Respond(std::move(r));
  } else if (path == "/peer") {
    const PeerInfo& p = ex->peer();
    ex->Respond(TextResponse(p.remote_address + "|" + (p.tls ? "tls" : "plain") + "|" +
                             p.client_cert_subject));
  } else if (path == "/stream") {
    int64_t n = QueryInt(target, "n", 3), delay = QueryInt(target, "delay_ms", 0);
    ResponseHeader h;
    h.result(http::status::ok);
    h.set(http::field::content_type, "text/event-stream");
    ex->StartStream(std::move(h));
    Spawn([ex, n, delay] {
      for (int64_t i = 0; i < n; ++i) {
        ex->Write("chunk-" + std::to_string(i) + "\n");
        if (delay > 0) SleepMs(delay);
      }
      ex->End();
    });
  } else if (path == "/slow") {
    int64_t ms = QueryInt(target, "ms", 100);
    Spawn([ex, ms] {
      SleepMs(ms);
      ex->Respond(TextResponse("slow"));
    });
  } else if (path == "/hold") {
    Hold(ex);
  } else if (path == "/hold-stream") {
    Hold(ex);
    ResponseHeader h;
    h.result(http::status::ok);
    ex->StartStream(std::move(h));
    ex->Write("first");
  } else if (path == "/flood") {
    Hold(ex);
    ex->StartStream(ResponseHeader());
    size_t chunk = static_cast<size_t>(QueryInt(target, "chunk", 65536));
    int64_t delay = QueryInt(target, "delay_ms", 0);
    Spawn([this, ex, chunk, delay] {
      for (int i = 0; i < 100000; ++i) {
        if (!ex->Write(std::string(chunk, 'x'))) {
          flood_rejected_ = true;
          return;
        }
        if (delay > 0) SleepMs(delay);
      }
    });
  } else {
    Response r(http::status::not_found, 11);
    r.body() = ErrorBody("invalid_request_error", "no route " + path);
    ex->Respond(std::move(r));
  }
}

int64_t QueryInt(const std::string& target, const std::string& key, int64_t fallback) {
  size_t q = target.find('?');
  if (q == std::string::npos) return fallback;
  std::string query = "&" + target.substr(q + 1);
  size_t at = query.find("&" + key + "=");
  if (at == std::string::npos) return fallback;
  return std::atoll(query.c_str() + at + key.size() + 2);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "parapet-test-XXXXXX").string();
  path_ = ::mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace parapet::gateway::testing
