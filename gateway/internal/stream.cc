// Plain and TLS implementations of the session's Stream seam.
#include "gateway/internal/stream.h"

#include <openssl/ssl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "gateway/internal/openssl_util.h"

namespace parapet::gateway::internal {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

void CloseSocket(Tcp::socket& socket) {
  ErrorCode ignored;
  socket.shutdown(Tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

class PlainStream final : public Stream {
 public:
  explicit PlainStream(Tcp::socket socket) : socket_(std::move(socket)) {}

  bool tls() const override { return false; }
  void AsyncHandshake(Callback cb) override {
    asio::post(socket_.get_executor(), [cb = std::move(cb)] { cb(ErrorCode()); });
  }
  void AsyncReadSome(asio::mutable_buffer buffer, IoCallback cb) override {
    socket_.async_read_some(buffer, std::move(cb));
  }
  void AsyncWrite(std::vector<asio::const_buffer> buffers, IoCallback cb) override {
    asio::async_write(socket_, std::move(buffers), std::move(cb));
  }
  void AsyncShutdown(Callback cb) override {
    ShutdownSend();
    asio::post(socket_.get_executor(), [cb = std::move(cb)] { cb(ErrorCode()); });
  }
  void ShutdownSend() override {
    ErrorCode ignored;
    socket_.shutdown(Tcp::socket::shutdown_send, ignored);
  }
  void Close() override { CloseSocket(socket_); }
  std::string PeerSubject() const override { return ""; }
  Tcp::socket& socket() override { return socket_; }

 private:
  Tcp::socket socket_;
};

class TlsStream final : public Stream {
 public:
  TlsStream(Tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)), stream_(std::move(socket), *context_) {}

  bool tls() const override { return true; }
  void AsyncHandshake(Callback cb) override {
    stream_.async_handshake(ssl::stream_base::server, std::move(cb));
  }
  void AsyncReadSome(asio::mutable_buffer buffer, IoCallback cb) override {
    stream_.async_read_some(buffer, std::move(cb));
  }
  void AsyncWrite(std::vector<asio::const_buffer> buffers, IoCallback cb) override {
    asio::async_write(stream_, std::move(buffers), std::move(cb));
  }
  void AsyncShutdown(Callback cb) override { stream_.async_shutdown(std::move(cb)); }
  void ShutdownSend() override {
    ErrorCode ignored;
    stream_.next_layer().shutdown(Tcp::socket::shutdown_send, ignored);
  }
  void Close() override { CloseSocket(stream_.next_layer()); }
  std::string PeerSubject() const override {
    SSL* ssl = const_cast<ssl::stream<Tcp::socket>&>(stream_).native_handle();
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
    return SubjectString(cert);
  }
  Tcp::socket& socket() override { return stream_.next_layer(); }

 private:
  std::shared_ptr<ssl::context> context_;  // outlives stream_: the SSL object refers to it
  ssl::stream<Tcp::socket> stream_;
};

}  // namespace

std::string RemoteAddress(Tcp::socket& socket) {
  ErrorCode ec;
  Tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "";
  std::string address = ep.address().to_string();
  if (ep.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(ep.port());
}

std::unique_ptr<Stream> MakePlainStream(Tcp::socket socket) {
  return std::make_unique<PlainStream>(std::move(socket));
}

std::unique_ptr<Stream> MakeTlsStream(Tcp::socket socket, std::shared_ptr<ssl::context> context) {
  return std::make_unique<TlsStream>(std::move(socket), std::move(context));
}

}  // namespace parapet::gateway::internal
