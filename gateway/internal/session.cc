// Session: the per-connection HTTP/1.1 state machine over the Stream seam (see session.h).
//
// Phases: kHandshake → kHeader (first request) → kBody? → kExchange → (keep-alive) kIdle →
// kHeader → ...; an error reply or a last response moves to kFinalReply, then kClosing (drain,
// bounded by close_linger_ms) and kClosed. One read and one write may be outstanding at a time;
// reads land in read_chunk_ and are appended to buffer_ on completion, so buffer_ is only ever
// touched synchronously on the strand.
#include "gateway/internal/session.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <deque>
#include <optional>

#include "common/logging.h"
#include "gateway/internal/exchange_impl.h"
#include "gateway/internal/http_format.h"
#include "gateway/internal/stream.h"

namespace parapet::gateway::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr size_t kMaxBuffersPerWrite = 64;

enum class Phase { kHandshake, kIdle, kHeader, kBody, kExchange, kFinalReply, kClosing, kClosed };

// One queued write; `last` completes the response it belongs to.
struct Outgoing {
  std::string bytes;
  uint64_t stream_bytes = 0;  // payload counted against the exchange's stream buffer limit
  bool last = false;
};

std::string FormatEndpoint(Tcp::socket& socket) {
  ErrorCode ec;
  Tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "";
  std::string address = ep.address().to_string();
  if (ep.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(ep.port());
}

// Connection header for a streamed response head (Beast's keep_alive() lives on message only).
void SetConnection(ResponseHeader& header, bool keep_alive) {
  if (!keep_alive) {
    header.set(http::field::connection, "close");
  } else if (header.version() == 10) {
    header.set(http::field::connection, "keep-alive");
  } else {
    header.erase(http::field::connection);
  }
}

class SessionImpl final : public Session, public std::enable_shared_from_this<SessionImpl> {
 public:
  SessionImpl(std::unique_ptr<Stream> stream, std::shared_ptr<const SessionShared> shared,
              bool reject)
      : stream_(std::move(stream)),
        shared_(std::move(shared)),
        opt_(shared_->options),
        stats_(*shared_->stats),
        executor_(stream_->socket().get_executor()),
        read_timer_(executor_),
        write_timer_(executor_),
        reject_(reject) {
    stats_.connections_active.fetch_add(1, std::memory_order_relaxed);
    peer_.tls = stream_->tls();
    peer_.remote_address = FormatEndpoint(stream_->socket());
  }

  ~SessionImpl() override {
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

  void PostRespond(std::shared_ptr<ExchangeImpl> ex, Response response) override {
    asio::post(executor_, [self = shared_from_this(), ex = std::move(ex),
                           r = std::move(response)]() mutable { self->DoRespond(ex, r); });
  }
  void PostStartStream(std::shared_ptr<ExchangeImpl> ex, ResponseHeader header) override {
    asio::post(executor_, [self = shared_from_this(), ex = std::move(ex),
                           h = std::move(header)]() mutable { self->DoStartStream(ex, h); });
  }
  void PostWrite(std::shared_ptr<ExchangeImpl> ex, std::string data) override {
    asio::post(executor_, [self = shared_from_this(), ex = std::move(ex),
                           d = std::move(data)]() mutable { self->DoStreamWrite(ex, d); });
  }
  void PostEnd(std::shared_ptr<ExchangeImpl> ex) override {
    asio::post(executor_, [self = shared_from_this(), ex = std::move(ex)] { self->DoEnd(ex); });
  }
  void PostOverflow(std::shared_ptr<ExchangeImpl> ex) override {
    asio::post(executor_,
               [self = shared_from_this(), ex = std::move(ex)] { self->DoOverflow(ex); });
  }

 private:
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
    parser_.reset();
    if (first_request_) {
      phase_ = Phase::kHeader;
    } else if (buffer_.size() > 0) {
      phase_ = Phase::kHeader;
      ArmReadTimer(opt_.header_timeout_ms);
    } else {
      phase_ = Phase::kIdle;
      ArmReadTimer(opt_.idle_timeout_ms);
    }
    ProcessInput();
  }

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opt_.max_header_bytes));
    parser_->body_limit(opt_.max_body_bytes);
    header_checked_ = false;
  }

  // Feeds buffered bytes to the parser until the request is complete, more bytes are needed,
  // or the request is refused.
  void ProcessInput() {
    for (;;) {
      if (!parser_) NewParser();
      if (parser_->is_done()) return OnRequest();
      if (buffer_.size() == 0) return DoRead();
      ErrorCode ec;
      size_t n = parser_->put(buffer_.data(), ec);
      buffer_.consume(n);
      if (ec == http::error::need_more) return DoRead();
      if (ec) return OnParseError(ec);
      if (parser_->is_header_done() && !header_checked_) {
        header_checked_ = true;
        if (!OnHeader()) return;
      } else if (n == 0) {
        return DoRead();
      }
    }
  }

  // The header is complete. Refuses what must be refused before any body byte is read.
  bool OnHeader() {
    if (reject_) {
      ServerStats::Add(stats_.responses_503_overloaded);
      SendError(http::status::service_unavailable, "server_error",
                "the server is at its connection limit; retry later", "server_overloaded");
      return false;
    }
    auto length = parser_->content_length();
    if (length && *length > opt_.max_body_bytes) {
      ServerStats::Add(stats_.responses_413_body_too_large);
      SendBodyTooLarge();
      return false;
    }
    if (parser_->is_done()) return true;
    phase_ = Phase::kBody;
    ArmReadTimer(opt_.body_timeout_ms);
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      Queue({std::string(kContinue), 0, false});
    }
    return true;
  }

  void OnParseError(const ErrorCode& ec) {
    if (ec == http::error::header_limit) {
      ServerStats::Add(stats_.responses_431_header_too_large);
      SendError(http::status::request_header_fields_too_large, "invalid_request_error",
                "request header exceeds " + std::to_string(opt_.max_header_bytes) + " bytes",
                "request_header_too_large");
    } else if (ec == http::error::body_limit) {
      ServerStats::Add(stats_.responses_413_body_too_large);
      SendBodyTooLarge();
    } else {
      ServerStats::Add(stats_.responses_400_malformed);
      SendError(http::status::bad_request, "invalid_request_error",
                "malformed HTTP request: " + ec.message(), "malformed_request");
    }
  }

  void OnRequest() {
    CancelReadTimer();
    phase_ = Phase::kExchange;
    ServerStats::Add(stats_.requests);
    Request request = parser_->release();
    parser_.reset();
    request_version_ = request.version() == 10 ? 10 : 11;
    keep_alive_ = request.keep_alive();
    head_request_ = request.method() == http::verb::head;
    response_started_ = streaming_ = stream_ended_ = false;
    exchange_ = std::make_shared<ExchangeImpl>(std::move(request), peer_, NewRequestId(),
                                               weak_from_this(), opt_.stream_buffer_limit_bytes);
    WatchForDisconnect();
    shared_->handler->Handle(exchange_);
  }

  // While the handler works, a pending read notices a client that goes away. Pipelined bytes
  // collect in buffer_, up to about one header's worth; past that, reading pauses.
  void WatchForDisconnect() {
    if (buffer_.size() < opt_.max_header_bytes + kReadChunkBytes) DoRead();
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

  void Append(size_t n) {
    buffer_.commit(asio::buffer_copy(buffer_.prepare(n), asio::buffer(read_chunk_.data(), n)));
  }

  void OnClientGone(const ErrorCode& ec) {
    PARAPET_LOG(kDebug) << "client " << peer_.remote_address << " went away during "
                        << (exchange_ ? exchange_->request_id() : "") << ": " << ec.message();
    Close();  // aborts the exchange
  }

  // ---- responses ----

  void DoRespond(const std::shared_ptr<ExchangeImpl>& ex, Response& response) {
    if (ex != exchange_ || response_started_) return;
    response_started_ = true;
    keep_alive_ = keep_alive_ && !shutting_down_ && response.keep_alive();
    response.version(request_version_);
    response.keep_alive(keep_alive_);
    AddStandardHeaders(response, ex->request_id(), peer_.tls, opt_.hsts_max_age_s);
    response.prepare_payload();
    std::string bytes = SerializeHead(response);
    if (!head_request_) bytes += response.body();
    Queue({std::move(bytes), 0, true});
  }

  void DoStartStream(const std::shared_ptr<ExchangeImpl>& ex, ResponseHeader& header) {
    if (ex != exchange_ || response_started_) return;
    response_started_ = streaming_ = true;
    // HTTP/1.0 has no chunked coding: the body runs to the connection's close.
    chunked_ = request_version_ == 11;
    keep_alive_ = keep_alive_ && chunked_ && !shutting_down_ &&
                  !beast::iequals(header[http::field::connection], "close");
    header.version(request_version_);
    SetConnection(header, keep_alive_);
    header.erase(http::field::content_length);
    if (chunked_) header.set(http::field::transfer_encoding, "chunked");
    AddStandardHeaders(header, ex->request_id(), peer_.tls, opt_.hsts_max_age_s);
    Queue({SerializeHead(header), 0, false});
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

  void SendBodyTooLarge() {
    SendError(http::status::payload_too_large, "invalid_request_error",
              "request body exceeds " + std::to_string(opt_.max_body_bytes) + " bytes",
              "request_too_large");
  }

  // An error the transport answers itself; the connection closes after it (at once when
  // `close_hard`, else after draining what the client still sends).
  void SendError(http::status status, std::string_view type, const std::string& message,
                 std::string_view code, bool close_hard = false) {
    CancelReadTimer();
    phase_ = Phase::kFinalReply;
    close_after_write_ = true;
    close_hard_ = close_hard;
    Response response = ErrorResponse(status, type, message, code);
    if (status == http::status::service_unavailable) {
      response.set(http::field::retry_after, std::to_string(opt_.overload_retry_after_s));
    }
    AddStandardHeaders(response, NewRequestId(), peer_.tls, opt_.hsts_max_age_s);
    response.prepare_payload();
    Queue({SerializeHead(response) + response.body(), 0, false});
  }

  // ---- writing ----

  void Queue(Outgoing out) {
    write_queue_.push_back(std::move(out));
    DoWrite();
  }

  void DoWrite() {
    if (writing_ || write_queue_.empty() || phase_ == Phase::kClosed) return;
    writing_ = true;
    in_flight_.clear();
    while (!write_queue_.empty() && in_flight_.size() < kMaxBuffersPerWrite) {
      in_flight_.push_back(std::move(write_queue_.front()));
      write_queue_.pop_front();
    }
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(in_flight_.size());
    for (const Outgoing& o : in_flight_) buffers.push_back(asio::buffer(o.bytes));
    ArmWriteTimer();
    stream_->AsyncWrite(
        std::move(buffers),
        [self = shared_from_this()](const ErrorCode& ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(const ErrorCode& ec) {
    writing_ = false;
    CancelWriteTimer();
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      PARAPET_LOG(kDebug) << "write to " << peer_.remote_address << " failed: " << ec.message();
      return Close();
    }
    bool response_done = false;
    for (const Outgoing& o : in_flight_) {
      if (exchange_ && o.stream_bytes > 0) exchange_->Unqueue(o.stream_bytes);
      response_done = response_done || o.last;
    }
    in_flight_.clear();
    if (response_done) FinishResponse();
    if (writing_) return;  // FinishResponse started the next request's error reply
    if (!write_queue_.empty()) return DoWrite();
    if (close_after_write_ && phase_ == Phase::kFinalReply) {
      close_hard_ ? Close() : BeginLingerClose();
    }
  }

  void FinishResponse() {
    if (exchange_) exchange_->MarkFinished();
    exchange_.reset();
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
        phase_ == Phase::kHandshake || phase_ == Phase::kIdle ||
        (phase_ == Phase::kHeader && first_request_ && buffer_.size() == 0 && !parser_);
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
    phase_ = Phase::kClosed;
    CancelReadTimer();
    CancelWriteTimer();
    write_queue_.clear();
    stream_->Close();
  }

  // ---- deadlines ----

  void ArmReadTimer(int timeout_ms) {
    uint64_t gen = ++read_timer_gen_;
    read_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    read_timer_.async_wait([self = shared_from_this(), gen](const ErrorCode&) {
      if (gen == self->read_timer_gen_ && self->phase_ != Phase::kClosed) self->OnReadTimeout();
    });
  }
  void CancelReadTimer() {
    ++read_timer_gen_;
    read_timer_.cancel();
  }
  void ArmWriteTimer() {
    uint64_t gen = ++write_timer_gen_;
    write_timer_.expires_after(std::chrono::milliseconds(opt_.write_timeout_ms));
    write_timer_.async_wait([self = shared_from_this(), gen](const ErrorCode&) {
      if (gen != self->write_timer_gen_ || self->phase_ == Phase::kClosed) return;
      ServerStats::Add(self->stats_.timeouts_write);
      self->Close();
    });
  }
  void CancelWriteTimer() {
    ++write_timer_gen_;
    write_timer_.cancel();
  }

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
        return SendError(http::status::request_timeout, "invalid_request_error",
                         "request not received in time", "request_timeout", /*close_hard=*/true);
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
  asio::steady_timer read_timer_;
  asio::steady_timer write_timer_;
  uint64_t read_timer_gen_ = 0;
  uint64_t write_timer_gen_ = 0;
  uint64_t registry_id_ = 0;
  const bool reject_;
  PeerInfo peer_;

  Phase phase_ = Phase::kHandshake;
  bool first_request_ = true;
  bool shutting_down_ = false;
  bool reading_ = false;
  std::array<char, kReadChunkBytes> read_chunk_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool header_checked_ = false;

  // The exchange in flight and its response state.
  std::shared_ptr<ExchangeImpl> exchange_;
  unsigned request_version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool response_started_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  bool stream_ended_ = false;

  bool writing_ = false;
  bool close_after_write_ = false;
  bool close_hard_ = false;
  std::deque<Outgoing> write_queue_;
  std::vector<Outgoing> in_flight_;  // the buffers of the outstanding write point into these
};

}  // namespace

std::shared_ptr<Session> Session::Create(std::unique_ptr<Stream> stream,
                                         std::shared_ptr<const SessionShared> shared, bool reject) {
  auto registry = shared->registry;
  auto session = std::make_shared<SessionImpl>(std::move(stream), std::move(shared), reject);
  session->set_registry_id(registry->Add(session));
  return session;
}

// ---- SessionRegistry ----

uint64_t SessionRegistry::Add(std::weak_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_id_++;
  live_.emplace(id, std::move(session));
  return id;
}

void SessionRegistry::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(id);
  if (live_.empty()) cv_.notify_all();
}

size_t SessionRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

std::vector<std::shared_ptr<Session>> SessionRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, weak] : live_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool SessionRegistry::WaitEmpty(int64_t timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return live_.empty(); });
}

}  // namespace parapet::gateway::internal
