// Test helpers for the integration suite: a real `parapet serve` process on a loopback port,
// certificates made with OpenSSL (valid, expired), /metrics parsing and a shell-command runner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace parapet::gateway::testing {

// `parapet serve ARGS... --port 0`, started and waited for ("parapet: serving ... on URL").
class GatewayProcess {
 public:
  // Null (and *error set) when it does not come up within 60 s.
  static std::unique_ptr<GatewayProcess> Start(const std::vector<std::string>& args,
                                               std::string* error);
  ~GatewayProcess();  // SIGKILL if still running

  uint16_t port() const { return port_; }
  const std::string& url() const { return url_; }
  void Signal(int sig) const;
  // SIGTERM, then waits up to `timeout_ms`; returns the exit code (128 + N: killed by signal N;
  // -1: still running at the timeout).
  int Stop(int timeout_ms = 20000);
  // What the server wrote to stderr so far.
  std::string log() const;

 private:
  GatewayProcess() = default;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string url_;
  std::string log_file_;
};

// A fresh temporary directory (removed by the caller or left in /tmp).
std::string MakeTempDir();

// Writes a P-256 key and a self-signed certificate for localhost / 127.0.0.1, valid from
// now + not_before_days to now + not_after_days, to DIR/NAME.crt and DIR/NAME.key.
bool WriteCert(const std::string& dir, const std::string& name, int not_before_days,
               int not_after_days);

// Runs `command` through /bin/sh; returns its exit code and stdout+stderr in *output.
int RunCommand(const std::string& command, std::string* output);

// Parses Prometheus text: "name{labels}" (as written) -> value.
std::map<std::string, double> ParseMetrics(const std::string& text);

// The built `parapet` binary.
std::string ParapetBinary();

}  // namespace parapet::gateway::testing
