// Exchange and Handler: the seam between the HTTP/TLS transport (Server, Session) and the code
// that answers requests (the OpenAI API, health and metrics routes). A Session reads one complete
// request, wraps it in an Exchange and hands it to the Handler; the handler answers through the
// Exchange, at once or later from another thread (the engine's scheduler thread streams tokens).
//
// Thread-safety: every Exchange method may be called from any thread; the Session serialises the
// actual socket work on its strand. Handler::Handle is called on the session's strand and must
// not block.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace parapet::gateway {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using ResponseHeader = http::response_header<>;

// What the transport knows about the client.
struct PeerInfo {
  std::string remote_address;       // "127.0.0.1:53412" or "[::1]:53412"
  bool tls = false;                 // connection is HTTPS
  std::string client_cert_subject;  // mTLS: the verified client certificate's subject, else ""
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual const Request& request() const = 0;
  virtual const PeerInfo& peer() const = 0;
  // A unique id for this request ("req_" + 24 hex digits). The session adds it as the
  // x-request-id header of every response it sends for this exchange.
  virtual const std::string& request_id() const = 0;

  // Sends a complete response. The session sets Content-Length, keep-alive, x-request-id and,
  // on TLS connections, Strict-Transport-Security. Exactly one of Respond or StartStream per
  // exchange; later calls are ignored.
  virtual void Respond(Response response) = 0;

  // Starts a streamed response: sends `header` (chunked transfer encoding is set by the
  // session) and then every Write as it arrives, in order.
  virtual void StartStream(ResponseHeader header) = 0;
  // Queues `data` for the stream. Returns false, dropping the data, when the exchange is aborted
  // or the queued but unsent bytes would exceed the session's stream buffer limit (a client that
  // does not read is then disconnected and the exchange aborted). REQUIRES: StartStream called.
  virtual bool Write(std::string data) = 0;
  // Ends the stream (terminating chunk); the connection then reads the next request.
  virtual void End() = 0;

  // Runs `fn` once, on some thread, if the exchange is aborted before its response was fully
  // sent: client disconnect, write failure, a deadline, or server shutdown past its grace
  // period. Registered after the abort, `fn` runs at once. At most one callback (a later one
  // replaces an earlier one that has not run).
  virtual void OnAbort(std::function<void()> fn) = 0;
  virtual bool aborted() const = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Answers `exchange` (now or later, from any thread). Called on the session's strand.
  virtual void Handle(std::shared_ptr<Exchange> exchange) = 0;
};

// {"error":{"message":...,"type":...,"param":...,"code":...}}: the OpenAI error shape. `param`
// and `code` are JSON null when empty.
std::string ErrorBody(std::string_view type, std::string_view message, std::string_view param = {},
                      std::string_view code = {});

}  // namespace parapet::gateway
