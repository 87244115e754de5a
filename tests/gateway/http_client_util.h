// A small blocking HTTP/1.1 client for the transport tests: POSIX sockets, optional TLS through
// OpenSSL directly (so the tests exercise the server with an independent client), timeouts on
// every read, and a response reader that records each chunk of a chunked body as it arrives.
// Not thread-safe: one thread per client.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace parapet::gateway::testing {

struct TestResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::vector<std::string> chunks;  // a chunked body, chunk by chunk
  bool chunked = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct TlsClientOptions {
  std::string ca_file;             // trust anchor for verifying the server; empty: no verification
  std::string host = "localhost";  // SNI and the name checked against the certificate
  std::string cert_file;           // client certificate (mTLS), optional
  std::string key_file;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
};

class TestClient {
 public:
  ~TestClient();

  // Connects to 127.0.0.1:port. Null on failure (error text in *error when given).
  static std::unique_ptr<TestClient> Connect(uint16_t port, std::string* error = nullptr);
  static std::unique_ptr<TestClient> ConnectTls(uint16_t port, const TlsClientOptions& options,
                                                std::string* error = nullptr);

  bool Send(std::string_view data);
  // Reads one response; nullopt on timeout, close before a full response, or a parse error.
  std::optional<TestResponse> ReadResponse(int timeout_ms = 3000);
  // Reads up to the end of the response head only (for streamed responses read chunk by chunk).
  std::optional<TestResponse> ReadHead(int timeout_ms = 3000);
  // Reads the next chunk of a chunked body; nullopt on timeout/close; "" for the last chunk.
  std::optional<std::string> ReadChunk(int timeout_ms = 3000);
  // True when the server closes (EOF or reset) within timeout_ms; bytes read meanwhile are kept.
  bool WaitClosed(int timeout_ms);
  // Closes now; with `reset`, sends a TCP RST (SO_LINGER 0).
  void Close(bool reset = false);

  // The server certificate's SHA-256 fingerprint (TLS only).
  std::string PeerFingerprint() const;
  std::string NegotiatedAlpn() const;
  std::string NegotiatedVersion() const;
  const std::string& received() const { return in_; }

 private:
  TestClient() = default;
  // Appends at least one byte to in_; false on EOF, error or timeout.
  bool Fill(int timeout_ms);
  bool ReadLine(std::string* line, int64_t deadline_ms);
  bool ReadExactly(size_t n, std::string* out, int64_t deadline_ms);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string in_;
  bool closed_ = false;
};

// True when `s` has the shape of `shape`: in the shape 'A' is an upper-case letter, 'a' a
// lower-case one, '9' a digit, 'x' a lower-case hex digit, anything else itself. (std::regex
// trips GCC 12's -Wmaybe-uninitialized under the sanitizers.)
bool MatchesShape(std::string_view s, std::string_view shape);

// Milliseconds since an arbitrary epoch (steady clock).
int64_t NowMs();

}  // namespace parapet::gateway::testing
