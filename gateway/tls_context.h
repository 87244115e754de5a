// TlsContext: the server's OpenSSL 3 context (through boost::asio::ssl) with certificate reload.
// Settings follow Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only; TLS 1.2 suites
// ECDHE-{ECDSA,RSA}-{AES128-GCM-SHA256,AES256-GCM-SHA384,CHACHA20-POLY1305} and
// DHE-RSA-{AES128-GCM-SHA256,AES256-GCM-SHA384,CHACHA20-POLY1305} (ffdhe2048 via auto DH);
// TLS 1.3 default suites; groups X25519, P-256, P-384; the client's cipher preference; no
// compression, no renegotiation, no session tickets (server-side session cache only); ALPN
// "http/1.1". Optional mTLS: with a client CA file, a client must present a certificate that
// verifies against it.
//
// Reload() builds a complete new context from the same files and swaps it in only if every check
// passes; sessions hold the context they started with (shared_ptr), so existing connections are
// unaffected and new ones get the new certificate. Thread-safe: current() and Reload() may be
// called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace parapet::gateway {

struct TlsOptions {
  // PEM certificate chain: the server certificate first, then intermediates.
  std::string cert_file;
  // PEM private key (unencrypted) matching the first certificate of cert_file.
  std::string key_file;
  // PEM CA certificates for client-certificate authentication (mTLS); empty: none requested.
  std::string client_ca_file;
};

class TlsContext {
 public:
  // Loads and checks the files: readable, the key matches the certificate, the certificate is
  // valid now (not expired, not before notBefore). Errors name the file and the reason,
  // including OpenSSL's error text.
  static Result<std::shared_ptr<TlsContext>> Create(const TlsOptions& options);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  // Re-reads the files. OK: new connections use the new context. On error the current context
  // stays in use and the error (naming the file and reason) is returned for the caller to log.
  Status Reload();

  // The context for a new connection. Never null.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  // SHA-256 fingerprint ("AB:CD:...") of the current server certificate.
  std::string fingerprint() const;
  const TlsOptions& options() const { return options_; }
  bool client_auth() const { return !options_.client_ca_file.empty(); }

 private:
  explicit TlsContext(TlsOptions options) : options_(std::move(options)) {}

  const TlsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;  // GUARDED_BY(mu_)
  std::string fingerprint_;                             // GUARDED_BY(mu_)
};

}  // namespace parapet::gateway
