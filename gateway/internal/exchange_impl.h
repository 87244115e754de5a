// ExchangeImpl: the Exchange a Session hands to the Handler for one request. Its methods may be
// called from any thread: they check cheap atomic state here and post the socket work to the
// session's strand through a SessionLink. It never owns the session, so a handler thread never
// keeps a connection (or the io_context behind it) alive, and never destroys one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/exchange.h"

namespace parapet::gateway::internal {

class Session;

// How an exchange reaches its session from any thread without owning it. The session sets
// `session` when it creates the link and clears it when it closes or is destroyed; posting
// under `mu` therefore never races with the session's destruction.
struct SessionLink {
  std::mutex mu;
  Session* session = nullptr;  // GUARDED_BY(mu)
};

class ExchangeImpl final : public Exchange, public std::enable_shared_from_this<ExchangeImpl> {
 public:
  ExchangeImpl(Request request, PeerInfo peer, std::string request_id,
               std::shared_ptr<SessionLink> link, uint64_t stream_buffer_limit_bytes);

  const Request& request() const override { return request_; }
  const PeerInfo& peer() const override { return peer_; }
  const std::string& request_id() const override { return request_id_; }
  void Respond(Response response) override;
  void StartStream(ResponseHeader header) override;
  bool Write(std::string data) override;
  void End() override;
  void OnAbort(std::function<void()> fn) override;
  bool aborted() const override { return aborted_.load(std::memory_order_acquire); }

  // Session side (strand). Runs the abort callback once, unless the response was fully sent.
  void MarkAborted();
  // The response was fully sent: abort can no longer happen.
  void MarkFinished();
  // `n` queued stream bytes were written or dropped.
  void Unqueue(uint64_t n) { queued_bytes_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  enum Kind : int { kNone, kComplete, kStream };

  const Request request_;
  const PeerInfo peer_;
  const std::string request_id_;
  const std::shared_ptr<SessionLink> link_;
  const uint64_t stream_buffer_limit_bytes_;

  std::atomic<int> kind_{kNone};  // set once by Respond or StartStream
  std::atomic<bool> ended_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<uint64_t> queued_bytes_{0};
  std::mutex mu_;
  bool finished_ = false;           // GUARDED_BY(mu_)
  std::function<void()> on_abort_;  // GUARDED_BY(mu_)
};

}  // namespace parapet::gateway::internal
