// Session: the per-connection HTTP/1.1 state machine over the Stream seam (see session.h).
//
// Phases: kHandshake → kHeader (first request) → kBody? → kExchange → (keep-alive) kIdle →
// kHeader → ...; an error reply or a last response moves to kFinalReply, then kClosing (drain,
// bounded by close_linger_ms) and kClosed. One read and one write may be outstanding at a time;
// reads land in read_chunk_ and are appended to the RequestReader on completion, so its buffer
// is only ever touched synchronously on the strand.
#include "gateway/internal/session.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>
#include <optional>

#include "common/logging.h"
#include "gateway/internal/deadline.h"
#include "gateway/internal/exchange_impl.h"
#include "gateway/internal/http_format.h"
#include "gateway/internal/request_reader.h"
#include "gateway/internal/stream.h"
#include "gateway/internal/write_queue.h"

namespace parapet::gateway::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

constexpr size_t kReadChunkBytes = 16 * 1024;

enum class Phase { kHandshake, kIdle, kHeader, kBody, kExchange, kFinalReply, kClosing, kClosed };

class SessionImpl final : public Session, public std::enable_shared_from_this<SessionImpl> {
 public:
  SessionImpl(std::unique_ptr<Stream> stream, std::shared_ptr<const SessionShared> shared,
              bool reject)
      : stream_(std::move(stream)),
        shared_(std::move(shared)),
        opt_(shared_->options),
        stats_(*shared_->stats),
        executor_(stream_->socket().get_executor()),
        read_deadline_(executor_),
        writes_(*stream_, executor_, opt_.write_timeout_ms),
        reject_(reject),
        reader_(opt_.max_header_bytes, opt_.max_body_bytes) {
    stats_.connections_active.fetch_add(1, std::memory_order_relaxed);
    link_->session = this;  // no exchange can see the link yet
    peer_.tls = stream_->tls();
    peer_.remote_address = RemoteAddress(stream_->socket());
  }

  ~SessionImpl() override {
    Detach();
    stats_.connections_active.fetch_sub(1, std::memory_order_relaxed);
    shared_->registry->Remove(registry_id_);
  }

  void set_registry_id(uint64_t id) { registry_id_ = id; }

  void Start() override {
    asio::post(executor_, [self = shared_from_this()] { self->DoHandshake(); });
  }
  void BeginShutdown() override {
    asio::post(executor_, [self = shared_from_this()] { self->OnServerShutdown(); });
  }
  void ForceClose() override {
    asio::post(executor_, [self = shared_from_this()] { self->Close(); });
  }

  // Called under the link's mutex from any thread. The session may be dying (its destructor
  // waits for that mutex): then the weak lock fails and the call is dropped.
  void PostRespond(std::shared_ptr<ExchangeImpl> ex, Response response) override {
    OnStrand([ex = std::move(ex), r = std::move(response)](SessionImpl& s) mutable {
      s.DoRespond(ex, r);
    });
  }
  void PostStartStream(std::shared_ptr<ExchangeImpl> ex, ResponseHeader header) override {
    OnStrand([ex = std::move(ex), h = std::move(header)](SessionImpl& s) mutable {
      s.DoStartStream(ex, h);
    });
  }
  void PostWrite(std::shared_ptr<ExchangeImpl> ex, std::string data) override {
    OnStrand([ex = std::move(ex), d = std::move(data)](SessionImpl& s) mutable {
      s.DoStreamWrite(ex, d);
    });
  }
  void PostEnd(std::shared_ptr<ExchangeImpl> ex) override {
    OnStrand([ex = std::move(ex)](SessionImpl& s) { s.DoEnd(ex); });
  }
  void PostOverflow(std::shared_ptr<ExchangeImpl> ex) override {
    OnStrand([ex = std::move(ex)](SessionImpl& s) { s.DoOverflow(ex); });
  }

 private:
  template <typename Fn>
  void OnStrand(Fn fn) {
    std::shared_ptr<SessionImpl> self = weak_from_this().lock();
    if (!self) return;
    asio::post(executor_, [self = std::move(self), fn = std::move(fn)]() mutable { fn(*self); });
  }

  // Stops exchanges from reaching this session.
  void Detach() {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->session = nullptr;
  }

  // ---- handshake and request reading ----

  void DoHandshake() {
    phase_ = Phase::kHandshake;
    ArmReadTimer(opt_.handshake_timeout_ms);
    stream_->AsyncHandshake(
        [self = shared_from_this()](const ErrorCode& ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(const ErrorCode& ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      ServerStats::Add(stats_.tls_handshake_failures);
      PARAPET_LOG(kDebug) << "TLS handshake with " << peer_.remote_address
                          << " failed: " << ec.message();
      Close();
      return;
    }
    peer_.client_cert_subject = stream_->PeerSubject();
    // The first request's header deadline counts from here: a silent new connection is a
    // slow header, not an idle keep-alive connection.
    ArmReadTimer(opt_.header_timeout_ms);
    StartRequest();
  }

  void StartRequest() {
    if (first_request_) {
      phase_ = Phase::kHeader;
    } else if (!reader_.idle()) {
      phase_ = Phase::kHeader;
      ArmReadTimer(opt_.header_timeout_ms);
    } else {
      phase_ = Phase::kIdle;
      ArmReadTimer(opt_.idle_timeout_ms);
    }
    ProcessInput();
  }

  // Parses what has arrived until the request is complete, more bytes are needed, or the
  // request is refused.
  void ProcessInput() {
    for (;;) {
      ErrorCode ec;
      switch (reader_.Parse(&ec)) {
        case RequestReader::Event::kNeedMore:
          return DoRead();
        case RequestReader::Event::kError:
          return OnParseError(ec);
        case RequestReader::Event::kRequest:
          return OnRequest();
        case RequestReader::Event::kHeader:
          if (!OnHeader()) return;
          break;
      }
    }
  }

  // The header is complete. Refuses what must be refused before any body byte is read.
  bool OnHeader() {
    if (reject_) {
      ServerStats::Add(stats_.responses_503_overloaded);
      SendError(TransportError::kOverloaded);
      return false;
    }
    std::optional<uint64_t> length = reader_.content_length();
    if (length && *length > opt_.max_body_bytes) {
      ServerStats::Add(stats_.responses_413_body_too_large);
      SendError(TransportError::kBodyTooLarge);
      return false;
    }
    if (reader_.complete()) return true;
    phase_ = Phase::kBody;
    ArmReadTimer(opt_.body_timeout_ms);
    if (reader_.expects_continue()) {
      Queue({std::string(kContinue), 0, false});
    }
    return true;
  }

  void OnParseError(const ErrorCode& ec) {
    if (ec == http::error::header_limit) {
      ServerStats::Add(stats_.responses_431_header_too_large);
      SendError(TransportError::kHeaderTooLarge);
    } else if (ec == http::error::body_limit) {
      ServerStats::Add(stats_.responses_413_body_too_large);
      SendError(TransportError::kBodyTooLarge);
    } else {
      ServerStats::Add(stats_.responses_400_malformed);
      SendError(TransportError::kMalformed, ec.message());
    }
  }

  void OnRequest() {
    CancelReadTimer();
    phase_ = Phase::kExchange;
    ServerStats::Add(stats_.requests);
    Request request = reader_.Release();
    request_version_ = request.version() == 10 ? 10 : 11;
    keep_alive_ = request.keep_alive();
    head_request_ = request.method() == http::verb::head;
    response_started_ = streaming_ = stream_ended_ = false;
    exchange_ = std::make_shared<ExchangeImpl>(std::move(request), peer_, NewRequestId(), link_,
                                               opt_.stream_buffer_limit_bytes);
    hold_ = shared_from_this();  // alive until the response is sent, even with no read pending
    WatchForDisconnect();
    shared_->handler->Handle(exchange_);
  }

  // While the handler works, a pending read notices a client that goes away. Pipelined bytes
  // collect in the reader, up to about one header's worth; past that, reading pauses.
  void WatchForDisconnect() {
    if (reader_.buffered() < opt_.max_header_bytes + kReadChunkBytes) DoRead();
  }

  void DoRead() {
    if (reading_ || phase_ == Phase::kClosed) return;
    reading_ = true;
    stream_->AsyncReadSome(
        asio::buffer(read_chunk_),
        [self = shared_from_this()](const ErrorCode& ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const ErrorCode& ec, size_t n) {
    reading_ = false;
    switch (phase_) {
      case Phase::kClosed:
        return;
      case Phase::kFinalReply:  // the write path closes; keep draining meanwhile
        if (!ec) DoRead();
        return;
      case Phase::kClosing:
        ec ? Close() : DoRead();
        return;
      case Phase::kExchange:
        if (ec) return OnClientGone(ec);
        Append(n);
        return WatchForDisconnect();
      default:
        if (ec) return Close();
        Append(n);
        if (phase_ == Phase::kIdle) {
          phase_ = Phase::kHeader;
          ArmReadTimer(opt_.header_timeout_ms);
        }
        return ProcessInput();
    }
  }

  void Append(size_t n) { reader_.Append(read_chunk_.data(), n); }

  void OnClientGone(const ErrorCode& ec) {
    PARAPET_LOG(kDebug) << "client " << peer_.remote_address << " went away during "
                        << (exchange_ ? exchange_->request_id() : "") << ": " << ec.message();
    Close();  // aborts the exchange
  }

  // ---- responses ----

  HeadContext Head(std::string_view request_id) const {
    return {request_id, request_version_, keep_alive_, peer_.tls, opt_.hsts_max_age_s};
  }

  void DoRespond(const std::shared_ptr<ExchangeImpl>& ex, Response& response) {
    if (ex != exchange_ || response_started_) return;
    response_started_ = true;
    keep_alive_ = keep_alive_ && !shutting_down_ && response.keep_alive();
    Queue({FormatResponse(response, Head(ex->request_id()), !head_request_), 0, true});
  }

  void DoStartStream(const std::shared_ptr<ExchangeImpl>& ex, ResponseHeader& header) {
    if (ex != exchange_ || response_started_) return;
    response_started_ = streaming_ = true;
    // HTTP/1.0 has no chunked coding: the body runs to the connection's close.
    chunked_ = request_version_ == 11;
    keep_alive_ = keep_alive_ && chunked_ && !shutting_down_ &&
                  !beast::iequals(header[http::field::connection], "close");
    Queue({FormatStreamHead(header, Head(ex->request_id())), 0, false});
  }

  void DoStreamWrite(const std::shared_ptr<ExchangeImpl>& ex, std::string& data) {
    uint64_t n = data.size();
    if (ex != exchange_ || !streaming_ || stream_ended_ || head_request_ || n == 0) {
      ex->Unqueue(n);
      return;
    }
    Queue({chunked_ ? Chunk(data) : std::move(data), n, false});
  }

  void DoEnd(const std::shared_ptr<ExchangeImpl>& ex) {
    if (ex != exchange_ || !streaming_ || stream_ended_) return;
    stream_ended_ = true;
    bool framed = chunked_ && !head_request_;
    Queue({framed ? std::string(kLastChunk) : std::string(), 0, true});
  }

  void DoOverflow(const std::shared_ptr<ExchangeImpl>& ex) {
    if (ex != exchange_) return;
    ServerStats::Add(stats_.stream_buffer_overflows);
    PARAPET_LOG(kInfo) << "client " << peer_.remote_address << " reads too slowly; dropping "
                       << ex->request_id();
    Close();
  }

  // An error the transport answers itself; the connection closes after it (at once after a
  // timeout, else after draining what the client still sends).
  void SendError(TransportError error, std::string_view detail = {}) {
    CancelReadTimer();
    phase_ = Phase::kFinalReply;
    close_after_write_ = true;
    close_hard_ = error == TransportError::kTimeout;
    Response response = TransportErrorResponse(error, opt_, detail);
    std::string id = NewRequestId();
    HeadContext head{id, 11, /*keep_alive=*/false, peer_.tls, opt_.hsts_max_age_s};
    Queue({FormatResponse(response, head, /*with_body=*/true), 0, false});
  }

  // ---- writing ----

  void Queue(WriteQueue::Item item) {
    writes_.Push(std::move(item));
    StartWrite();
  }

  void StartWrite() {
    if (phase_ == Phase::kClosed) return;
    writes_.Start([self = shared_from_this()](const ErrorCode& ec,
                                              WriteQueue::Written w) { self->OnWrite(ec, w); },
                  [self = shared_from_this()] {
                    if (self->phase_ == Phase::kClosed) return;
                    ServerStats::Add(self->stats_.timeouts_write);
                    self->Close();
                  });
  }

  void OnWrite(const ErrorCode& ec, const WriteQueue::Written& written) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      PARAPET_LOG(kDebug) << "write to " << peer_.remote_address << " failed: " << ec.message();
      return Close();
    }
    if (exchange_) exchange_->Unqueue(written.stream_bytes);
    if (written.response_done) FinishResponse();
    if (writes_.writing()) return;  // FinishResponse started the next request's error reply
    if (!writes_.empty()) return StartWrite();
    if (close_after_write_ && phase_ == Phase::kFinalReply) {
      close_hard_ ? Close() : BeginLingerClose();
    }
  }

  void FinishResponse() {
    if (exchange_) exchange_->MarkFinished();
    exchange_.reset();
    hold_.reset();  // the completion handler running this still holds the session
    if (!keep_alive_ || shutting_down_ || reject_) {
      phase_ = Phase::kFinalReply;
      close_after_write_ = true;
      return;
    }
    first_request_ = false;
    StartRequest();
  }

  // ---- closing ----

  // Half-closes and drains what the client still sends (so it sees our last response rather
  // than a reset), for at most close_linger_ms.
  void BeginLingerClose() {
    phase_ = Phase::kClosing;
    ArmReadTimer(opt_.close_linger_ms);
    if (stream_->tls() && !reading_) {
      stream_->AsyncShutdown([self = shared_from_this()](const ErrorCode&) { self->Close(); });
      return;
    }
    stream_->ShutdownSend();
    DoRead();
  }

  void OnServerShutdown() {
    shutting_down_ = true;
    bool between_requests =
        phase_ == Phase::kHandshake ||
        ((phase_ == Phase::kIdle || phase_ == Phase::kHeader) && reader_.idle());
    if (between_requests) Close();
  }

  void AbortExchange() {
    if (!exchange_) return;
    ServerStats::Add(stats_.exchanges_aborted);
    std::shared_ptr<ExchangeImpl> ex = std::move(exchange_);
    exchange_.reset();
    ex->MarkAborted();
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    AbortExchange();
    Detach();
    hold_.reset();  // every caller runs from a handler that holds the session
    phase_ = Phase::kClosed;
    CancelReadTimer();
    writes_.Clear();
    stream_->Close();
  }

  // ---- deadlines ----

  void ArmReadTimer(int timeout_ms) {
    read_deadline_.Arm(timeout_ms, [self = shared_from_this()] {
      if (self->phase_ != Phase::kClosed) self->OnReadTimeout();
    });
  }
  void CancelReadTimer() { read_deadline_.Cancel(); }

  void OnReadTimeout() {
    switch (phase_) {
      case Phase::kHandshake:
        ServerStats::Add(stats_.timeouts_handshake);
        return Close();
      case Phase::kIdle:
        ServerStats::Add(stats_.timeouts_idle);
        return Close();
      case Phase::kHeader:
      case Phase::kBody:
        ServerStats::Add(phase_ == Phase::kHeader ? stats_.timeouts_header : stats_.timeouts_body);
        ServerStats::Add(stats_.responses_408_timeout);
        return SendError(TransportError::kTimeout);
      case Phase::kClosing:
        return Close();
      default:
        return;
    }
  }

  const std::unique_ptr<Stream> stream_;
  const std::shared_ptr<const SessionShared> shared_;
  const ServerOptions& opt_;
  ServerStats& stats_;
  const asio::any_io_executor executor_;  // the strand
  Deadline read_deadline_;                // handshake, header, body, idle, closing drain
  WriteQueue writes_;
  uint64_t registry_id_ = 0;
  const bool reject_;
  PeerInfo peer_;

  Phase phase_ = Phase::kHandshake;
  bool first_request_ = true;
  bool shutting_down_ = false;
  bool reading_ = false;
  std::array<char, kReadChunkBytes> read_chunk_;
  RequestReader reader_;

  // The exchange in flight and its response state.
  const std::shared_ptr<SessionLink> link_ = std::make_shared<SessionLink>();
  std::shared_ptr<SessionImpl> hold_;  // self, while an exchange is in flight
  std::shared_ptr<ExchangeImpl> exchange_;
  unsigned request_version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool response_started_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  bool stream_ended_ = false;

  bool close_after_write_ = false;
  bool close_hard_ = false;
};

}  // namespace

std::shared_ptr<Session> Session::Create(std::unique_ptr<Stream> stream,
                                         std::shared_ptr<const SessionShared> shared, bool reject) {
  auto registry = shared->registry;
  auto session = std::make_shared<SessionImpl>(std::move(stream), std::move(shared), reject);
  session->set_registry_id(registry->Add(session));
  return session;
}

}  // namespace parapet::gateway::internal
