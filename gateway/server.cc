// Server: the io_context, its threads, the listener with its connection cap, and shutdown.
#include "gateway/server.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "gateway/exchange.h"
#include "gateway/internal/session.h"
#include "gateway/internal/stream.h"
#include "gateway/tls_context.h"

namespace parapet::gateway {
namespace {

namespace asio = boost::asio;
using internal::ErrorCode;
using internal::Tcp;

// After an accept error that means "out of descriptors or memory", wait before retrying so
// the listener does not spin.
constexpr int kAcceptBackoffMs = 100;
// Time for aborted sessions to unwind after the grace period before the io threads stop.
constexpr int kForceCloseWaitMs = 1000;

bool IsResourceError(const ErrorCode& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

int ThreadCount(const ServerOptions& o) {
  if (o.io_threads > 0) return o.io_threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Result<Tcp::endpoint> ListenEndpoint(const ServerOptions& o) {
  std::string host = o.listen_host == "localhost" ? "127.0.0.1" : o.listen_host;
  ErrorCode ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return InvalidArgumentError("server option listen_host: \"" + o.listen_host +
                                "\" is not an IP address or \"localhost\"");
  }
  return Tcp::endpoint(address, o.listen_port);
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, std::shared_ptr<TlsContext> tls_context,
       std::shared_ptr<Handler> handler)
      : tls(std::move(tls_context)),
        acceptor(asio::make_strand(ioc)),
        backoff(acceptor.get_executor()),
        shared(std::make_shared<internal::SessionShared>()) {
    shared->options = options;
    shared->handler = std::move(handler);
    shared->stats = std::make_shared<ServerStats>();
    shared->registry = std::make_shared<internal::SessionRegistry>();
  }

  Status Listen();
  void DoAccept();
  void OnAccept(const ErrorCode& ec, Tcp::socket socket);
  void StartSession(Tcp::socket socket);
  void CloseAcceptor();
  void Shutdown(int grace_ms);

  asio::io_context ioc;  // first: destroyed last
  std::shared_ptr<TlsContext> tls;
  Tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::shared_ptr<internal::SessionShared> shared;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::atomic<bool> shut_down{false};
};

Status Server::Impl::Listen() {
  const ServerOptions& o = shared->options;
  PARAPET_ASSIGN_OR_RETURN(Tcp::endpoint endpoint, ListenEndpoint(o));
  std::string where = "listen " + o.listen_host + ":" + std::to_string(o.listen_port);
  ErrorCode ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return UnavailableError(where + ": " + ec.message());
  port = acceptor.local_endpoint(ec).port();
  if (ec) return UnavailableError(where + ": " + ec.message());
  return Status::Ok();
}

void Server::Impl::DoAccept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](const ErrorCode& ec, Tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(const ErrorCode& ec, Tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    PARAPET_LOG(kWarning) << "accept failed: " << ec.message();
    if (!IsResourceError(ec)) return DoAccept();
    backoff.expires_after(std::chrono::milliseconds(kAcceptBackoffMs));
    backoff.async_wait([this](const ErrorCode& wait_ec) {
      if (!wait_ec && acceptor.is_open()) DoAccept();
    });
    return;
  }
  StartSession(std::move(socket));
  DoAccept();
}

// Over the cap, a few extra connections get a 503 with Retry-After (cheap, and clients back
// off properly); past that allowance they are closed at once.
void Server::Impl::StartSession(Tcp::socket socket) {
  const ServerOptions& o = shared->options;
  ServerStats& stats = *shared->stats;
  ServerStats::Add(stats.connections_accepted);
  size_t live = shared->registry->size();
  size_t cap = static_cast<size_t>(o.max_connections);
  size_t allowance = cap / 8 + 16;
  if (live >= cap + allowance) {
    ServerStats::Add(stats.connections_rejected);
    ErrorCode ignored;
    socket.close(ignored);
    return;
  }
  bool reject = live >= cap;
  if (reject) ServerStats::Add(stats.connections_rejected);
  ErrorCode ignored;
  socket.set_option(Tcp::no_delay(true), ignored);
  std::unique_ptr<internal::Stream> stream =
      tls ? internal::MakeTlsStream(std::move(socket), tls->current())
          : internal::MakePlainStream(std::move(socket));
  internal::Session::Create(std::move(stream), shared, reject)->Start();
}

void Server::Impl::CloseAcceptor() {
  std::promise<void> done;
  asio::post(acceptor.get_executor(), [&] {
    ErrorCode ignored;
    acceptor.close(ignored);
    backoff.cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void Server::Impl::Shutdown(int grace_ms) {
  if (shut_down.exchange(true)) return;
  CloseAcceptor();
  for (auto& session : shared->registry->Snapshot()) session->BeginShutdown();
  if (!shared->registry->WaitEmpty(grace_ms)) {
    std::vector<std::shared_ptr<internal::Session>> left = shared->registry->Snapshot();
    PARAPET_LOG(kInfo) << "shutdown: grace period over, aborting " << left.size()
                       << " connection(s)";
    for (auto& session : left) session->ForceClose();
    left.clear();
    shared->registry->WaitEmpty(kForceCloseWaitMs);
  }
  work.reset();
  ioc.stop();
  for (std::thread& t : threads) t.join();
  threads.clear();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::shared_ptr<TlsContext> tls,
                                              std::shared_ptr<Handler> handler) {
  PARAPET_RETURN_IF_ERROR(options.Validate());
  PARAPET_CHECK(handler != nullptr);
  auto impl = std::make_unique<Impl>(options, std::move(tls), std::move(handler));
  PARAPET_RETURN_IF_ERROR(impl->Listen());
  impl->work.emplace(impl->ioc.get_executor());
  Impl* raw = impl.get();
  asio::post(raw->acceptor.get_executor(), [raw] { raw->DoAccept(); });
  for (int i = 0; i < ThreadCount(options); ++i) {
    raw->threads.emplace_back([raw] { raw->ioc.run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { impl_->Shutdown(0); }

uint16_t Server::port() const { return impl_->port; }

void Server::Shutdown(int grace_ms) { impl_->Shutdown(grace_ms); }

ServerStatsSnapshot Server::stats() const { return impl_->shared->stats->snapshot(); }

}  // namespace parapet::gateway
