// TestClient implementation (see http_client_util.h).
#include "tests/gateway/http_client_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace parapet::gateway::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Waits for `events` on fd until deadline; false on timeout.
bool PollUntil(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

int ConnectSocket(uint16_t port, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (error) *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += out.empty() ? buf : std::string("; ") + buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

}  // namespace

bool MatchesShape(std::string_view s, std::string_view shape) {
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool ok = false;
    switch (shape[i]) {
      case 'A':
        ok = std::isupper(c);
        break;
      case 'a':
        ok = std::islower(c);
        break;
      case '9':
        ok = std::isdigit(c);
        break;
      case 'x':
        ok = std::isdigit(c) || (c >= 'a' && c <= 'f');
        break;
      default:
        ok = c == static_cast<unsigned char>(shape[i]);
    }
    if (!ok) return false;
  }
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TestClient::~TestClient() { Close(); }

std::unique_ptr<TestClient> TestClient::Connect(uint16_t port, std::string* error) {
  int fd = ConnectSocket(port, error);
  if (fd < 0) return nullptr;
  std::unique_ptr<TestClient> client(new TestClient());
  client->fd_ = fd;
  SetNonBlocking(fd);
  return client;
}

std::unique_ptr<TestClient> TestClient::ConnectTls(uint16_t port, const TlsClientOptions& o,
                                                   std::string* error) {
  int fd = ConnectSocket(port, error);
  if (fd < 0) return nullptr;
  std::unique_ptr<TestClient> client(new TestClient());
  client->fd_ = fd;
  ERR_clear_error();
  SSL_CTX* ctx = client->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, o.min_version);
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (!o.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM);
  }
  SSL* ssl = client->ssl_ = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, o.host.c_str());
  if (!o.ca_file.empty()) SSL_set1_host(ssl, o.host.c_str());
  static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
  SSL_set_alpn_protos(ssl, kAlpn, sizeof(kAlpn) - 1);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (SSL_connect(ssl) != 1) {
    if (error) *error = "TLS handshake: " + SslErrors();
    return nullptr;
  }
  SetNonBlocking(fd);
  return client;
}

bool TestClient::Send(std::string_view data) {
  int64_t deadline = NowMs() + 3000;
  while (!data.empty()) {
    ssize_t n;
    if (ssl_) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) {
        int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) return false;
        if (!PollUntil(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return false;
        }
        continue;
      }
    } else {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) return false;
        if (!PollUntil(fd_, POLLOUT, deadline)) return false;
        continue;
      }
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool TestClient::Fill(int timeout_ms) {
  if (closed_ || fd_ < 0) return false;
  int64_t deadline = NowMs() + timeout_ms;
  char buf[16384];
  for (;;) {
    if (ssl_) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        return true;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (!PollUntil(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return false;
        continue;
      }
      ERR_clear_error();
    } else {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!PollUntil(fd_, POLLIN, deadline)) return false;
        continue;
      }
    }
    closed_ = true;
    return false;
  }
}

bool TestClient::ReadLine(std::string* line, int64_t deadline) {
  for (;;) {
    size_t eol = in_.find("\r\n");
    if (eol != std::string::npos) {
      *line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      return true;
    }
    int64_t left = deadline - NowMs();
    if (left <= 0 || !Fill(static_cast<int>(left))) return false;
  }
}

bool TestClient::ReadExactly(size_t n, std::string* out, int64_t deadline) {
  while (in_.size() < n) {
    int64_t left = deadline - NowMs();
    if (left <= 0 || !Fill(static_cast<int>(left))) return false;
  }
  *out = in_.substr(0, n);
  in_.erase(0, n);
  return true;
}

std::optional<TestResponse> TestClient::ReadHead(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  std::string line;
  if (!ReadLine(&line, deadline) || line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
    return std::nullopt;
  }
  TestResponse r;
  r.status = std::atoi(line.c_str() + 9);
  for (;;) {
    if (!ReadLine(&line, deadline)) return std::nullopt;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    r.headers[Lower(line.substr(0, colon))] = Trim(std::string_view(line).substr(colon + 1));
  }
  r.chunked = Lower(r.header("transfer-encoding")) == "chunked";
  return r;
}

std::optional<std::string> TestClient::ReadChunk(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  std::string line;
  if (!ReadLine(&line, deadline)) return std::nullopt;
  size_t size = std::strtoul(line.c_str(), nullptr, 16);
  if (size == 0) {
    while (ReadLine(&line, deadline) && !line.empty()) {
    }
    return std::string();
  }
  std::string data;
  if (!ReadExactly(size, &data, deadline) || !ReadLine(&line, deadline) || !line.empty()) {
    return std::nullopt;
  }
  return data;
}

std::optional<TestResponse> TestClient::ReadResponse(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  std::optional<TestResponse> r = ReadHead(timeout_ms);
  if (!r) return std::nullopt;
  if (r->chunked) {
    for (;;) {
      std::optional<std::string> chunk = ReadChunk(static_cast<int>(deadline - NowMs()));
      if (!chunk) return std::nullopt;
      if (chunk->empty()) break;
      r->body += *chunk;
      r->chunks.push_back(std::move(*chunk));
    }
  } else if (r->headers.count("content-length")) {
    size_t n = std::stoul(r->header("content-length"));
    if (!ReadExactly(n, &r->body, deadline)) return std::nullopt;
  } else if (r->status >= 200 && r->status != 204 && r->status != 304) {
    WaitClosed(static_cast<int>(deadline - NowMs()));
    r->body = std::move(in_);
    in_.clear();
  }
  return r;
}

bool TestClient::WaitClosed(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (!closed_) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    Fill(static_cast<int>(left));
  }
  return true;
}

void TestClient::Close(bool reset) {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  if (fd_ >= 0) {
    if (reset) {
      linger l{1, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    ::close(fd_);
  }
  fd_ = -1;
}

std::string TestClient::PeerFingerprint() const {
  if (!ssl_) return "";
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (!cert) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  std::string out;
  char hex[4];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof(hex), i ? ":%02X" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

std::string TestClient::NegotiatedAlpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  if (ssl_) SSL_get0_alpn_selected(ssl_, &data, &len);
  if (data == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string TestClient::NegotiatedVersion() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

}  // namespace parapet::gateway::testing
