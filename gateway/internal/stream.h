// Stream: the session's small seam over a plain TCP socket or a TLS stream, so one Session
// implementation serves both (STYLE 22) without Beast templates above this line. Completion
// callbacks run on the socket's executor (the session's strand). Not thread-safe: use from the
// strand only. At most one read and one write may be outstanding at a time.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace parapet::gateway::internal {

using ErrorCode = boost::system::error_code;
using Tcp = boost::asio::ip::tcp;

class Stream {
 public:
  using Callback = std::function<void(const ErrorCode&)>;
  using IoCallback = std::function<void(const ErrorCode&, std::size_t)>;

  virtual ~Stream() = default;

  virtual bool tls() const = 0;
  // TLS: the server handshake. Plain: completes (posted) with success.
  virtual void AsyncHandshake(Callback cb) = 0;
  // Reads at least one byte into `buffer` (EOF and resets arrive as errors).
  virtual void AsyncReadSome(boost::asio::mutable_buffer buffer, IoCallback cb) = 0;
  // Writes all of `buffers`; the memory they point to must stay valid until `cb` runs.
  virtual void AsyncWrite(std::vector<boost::asio::const_buffer> buffers, IoCallback cb) = 0;
  // TLS: sends close_notify and waits for the peer's. Plain: shuts down the sending side.
  // REQUIRES: no read outstanding.
  virtual void AsyncShutdown(Callback cb) = 0;
  // Shuts down the TCP sending side (no TLS close_notify); reads may continue.
  virtual void ShutdownSend() = 0;
  // Cancels outstanding operations (they complete with operation_aborted) and closes.
  virtual void Close() = 0;
  // After a TLS handshake with a verified client certificate: its subject (RFC 2253); else "".
  virtual std::string PeerSubject() const = 0;
  virtual Tcp::socket& socket() = 0;
};

// "127.0.0.1:53412" or "[::1]:53412"; "" when the socket is not connected.
std::string RemoteAddress(Tcp::socket& socket);

std::unique_ptr<Stream> MakePlainStream(Tcp::socket socket);
std::unique_ptr<Stream> MakeTlsStream(Tcp::socket socket,
                                      std::shared_ptr<boost::asio::ssl::context> context);

}  // namespace parapet::gateway::internal
