// SignalWatcher: the serve command's signal loop. SIGHUP asks for a reload (the TLS certificate,
// later the policies); SIGTERM and SIGINT ask for a graceful shutdown. Built on asio::signal_set
// with its own io_context, so callbacks run on the thread that calls Run(), never in a signal
// handler. Construct it before starting other threads' work; Stop() may be called from any
// thread.
#pragma once

#include <functional>
#include <memory>

namespace parapet::gateway {

class SignalWatcher {
 public:
  // Starts catching SIGHUP, SIGTERM and SIGINT (signals that arrive before Run() are queued).
  SignalWatcher();
  // REQUIRES: Run() is not running (Stop() it first).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Blocks. On SIGHUP runs `on_reload` and keeps waiting; returns the signal number on SIGTERM
  // or SIGINT, or 0 after Stop().
  int Run(const std::function<void()>& on_reload);
  // Makes Run() return 0. Thread-safe.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parapet::gateway
