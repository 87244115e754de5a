// ExchangeImpl: thread-safe front of one request/response on a Session.
#include "gateway/internal/exchange_impl.h"

#include "gateway/internal/session.h"

namespace parapet::gateway::internal {

ExchangeImpl::ExchangeImpl(Request request, PeerInfo peer, std::string request_id,
                           std::shared_ptr<SessionLink> link, uint64_t stream_buffer_limit_bytes)
    : request_(std::move(request)),
      peer_(std::move(peer)),
      request_id_(std::move(request_id)),
      link_(std::move(link)),
      stream_buffer_limit_bytes_(stream_buffer_limit_bytes) {}

void ExchangeImpl::Respond(Response response) {
  int expected = kNone;
  if (!kind_.compare_exchange_strong(expected, kComplete)) return;
  std::lock_guard<std::mutex> lock(link_->mu);
  if (link_->session) link_->session->PostRespond(shared_from_this(), std::move(response));
}

void ExchangeImpl::StartStream(ResponseHeader header) {
  int expected = kNone;
  if (!kind_.compare_exchange_strong(expected, kStream)) return;
  std::lock_guard<std::mutex> lock(link_->mu);
  if (link_->session) link_->session->PostStartStream(shared_from_this(), std::move(header));
}

bool ExchangeImpl::Write(std::string data) {
  if (kind_.load() != kStream || ended_.load() || aborted()) return false;
  uint64_t n = data.size();
  uint64_t queued = queued_bytes_.fetch_add(n, std::memory_order_relaxed) + n;
  std::lock_guard<std::mutex> lock(link_->mu);
  if (link_->session == nullptr) {
    Unqueue(n);
    return false;
  }
  if (queued > stream_buffer_limit_bytes_) {
    Unqueue(n);
    link_->session->PostOverflow(shared_from_this());
    return false;
  }
  link_->session->PostWrite(shared_from_this(), std::move(data));
  return true;
}

void ExchangeImpl::End() {
  if (kind_.load() != kStream || ended_.exchange(true)) return;
  std::lock_guard<std::mutex> lock(link_->mu);
  if (link_->session) link_->session->PostEnd(shared_from_this());
}

void ExchangeImpl::OnAbort(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted()) {
      on_abort_ = std::move(fn);
      return;
    }
  }
  if (fn) fn();
}

void ExchangeImpl::MarkAborted() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || aborted()) return;
    aborted_.store(true, std::memory_order_release);
    fn = std::move(on_abort_);
  }
  if (fn) fn();
}

void ExchangeImpl::MarkFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  on_abort_ = nullptr;
}

}  // namespace parapet::gateway::internal
