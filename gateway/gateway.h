// Gateway: one running `parapet serve` — the model, the engine's scheduler, API keys, rate
// limits, metrics, the API handler and the HTTP/TLS server, built from a GatewayConfig and torn
// down in order. The CLI's serve command and the integration tests both start it this way.
//
// Thread-safety: port(), url() and Reload() may be called from any thread; Shutdown() once,
// from a thread that is not one of the server's.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "gateway/config.h"

namespace parapet::gateway {

class Gateway {
 public:
  // Loads the model and starts serving. Errors name what failed (model file, certificate, port).
  // Progress lines go to the log.
  static Result<std::unique_ptr<Gateway>> Start(const GatewayConfig& config);
  ~Gateway();  // Shutdown() with the configured grace, if not done yet
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  uint16_t port() const;
  // "https://127.0.0.1:8443" (or http:// with insecure_http).
  std::string url() const;
  const std::string& model_id() const;
  // The self-signed certificate's file when one was generated, else "".
  const std::string& generated_cert_file() const;
  // SIGHUP: re-reads the TLS certificate and key, the audit keys (new ones: a recorded key
  // rotation) and the policy file. Each one that fails keeps its previous version in use (and
  // is logged); the first failure is returned.
  Status Reload();
  // Stops accepting, lets requests in flight finish up to the configured grace, then cancels
  // the rest and stops the engine. Only port(), url() and model_id() remain usable.
  void Shutdown();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  static Status OpenAudit(Impl& impl);
  Status ReloadAuditKeys();
  std::unique_ptr<Impl> impl_;
};

}  // namespace parapet::gateway
