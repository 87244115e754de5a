// Fault injection for Session (STYLE 24): fail the n-th socket read or write, for every n that
// falls inside a two-request conversation, and check the connection always ends cleanly: no
// hang, the session is destroyed, and every request the handler saw was either answered in full
// or aborted.
#include "gateway/internal/session.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "gateway/internal/stream.h"
#include "tests/gateway/http_client_util.h"
#include "tests/gateway/test_handler_util.h"

namespace parapet::gateway::internal {
namespace {

namespace asio = boost::asio;

// Forwards to a real stream, but its `fail_at`-th read-or-write (from 0) completes at once
// with connection_reset instead of touching the socket.
class FaultyStream final : public Stream {
 public:
  FaultyStream(std::unique_ptr<Stream> inner, int fail_at)
      : inner_(std::move(inner)), fail_at_(fail_at) {}

  bool tls() const override { return inner_->tls(); }
  void AsyncHandshake(Callback cb) override { inner_->AsyncHandshake(std::move(cb)); }
  void AsyncReadSome(asio::mutable_buffer buffer, IoCallback cb) override {
    if (ops_++ == fail_at_) return Fail(std::move(cb));
    inner_->AsyncReadSome(buffer, std::move(cb));
  }
  void AsyncWrite(std::vector<asio::const_buffer> buffers, IoCallback cb) override {
    if (ops_++ == fail_at_) return Fail(std::move(cb));
    inner_->AsyncWrite(std::move(buffers), std::move(cb));
  }
  void AsyncShutdown(Callback cb) override { inner_->AsyncShutdown(std::move(cb)); }
  void ShutdownSend() override { inner_->ShutdownSend(); }
  void Close() override { inner_->Close(); }
  std::string PeerSubject() const override { return inner_->PeerSubject(); }
  Tcp::socket& socket() override { return inner_->socket(); }

 private:
  void Fail(IoCallback cb) {
    asio::post(inner_->socket().get_executor(),
               [cb = std::move(cb)] { cb(asio::error::connection_reset, 0); });
  }

  std::unique_ptr<Stream> inner_;
  const int fail_at_;
  int ops_ = 0;
};

TEST(SessionFaults, EveryFailedReadOrWriteEndsTheConnectionCleanly) {
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  Tcp::acceptor acceptor(ioc, Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::thread runner([&] { ioc.run(); });
  const uint16_t port = acceptor.local_endpoint().port();
  int clean_runs = 0;
  for (int fail_at = 0; fail_at < 16; ++fail_at) {
    SCOPED_TRACE("fail_at " + std::to_string(fail_at));
    auto handler = std::make_shared<testing::TestHandler>();
    auto shared = std::make_shared<SessionShared>();
    shared->options.close_linger_ms = 100;
    shared->handler = handler;
    shared->stats = std::make_shared<ServerStats>();
    shared->registry = std::make_shared<SessionRegistry>();
    auto client = testing::TestClient::Connect(port);
    ASSERT_NE(client, nullptr);
    ErrorCode ec;
    Tcp::socket socket(acceptor.accept(asio::make_strand(ioc), ec));
    ASSERT_FALSE(ec) << ec.message();
    auto stream = std::make_unique<FaultyStream>(MakePlainStream(std::move(socket)), fail_at);
    Session::Create(std::move(stream), shared, /*reject=*/false)->Start();

    int complete = 0;
    client->Send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nping");
    std::optional<testing::TestResponse> r = client->ReadResponse(1000);
    if (r.has_value()) {
      EXPECT_EQ(r->body, "ping");
      ++complete;
      client->Send("GET /stream?n=3 HTTP/1.1\r\nHost: a\r\n\r\n");
      r = client->ReadResponse(1000);
      if (r.has_value()) {
        EXPECT_EQ(r->body, "chunk-0\nchunk-1\nchunk-2\n");
        ++complete;
      }
    }
    client->Close();
    EXPECT_TRUE(shared->registry->WaitEmpty(2000));
    EXPECT_EQ(handler->requests(), complete + handler->aborts());
    if (complete == 2) ++clean_runs;
  }
  EXPECT_GT(clean_runs, 0);  // the last fail points lie past the conversation
  work.reset();
  ioc.stop();
  runner.join();
}

}  // namespace
}  // namespace parapet::gateway::internal
