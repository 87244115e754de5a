#include "gateway/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/gateway/http_client_util.h"
#include "tests/gateway/test_handler_util.h"

namespace parapet::gateway {
namespace {

using testing::NowMs;
using testing::TestClient;
using testing::TestHandler;
using testing::TestResponse;

ServerOptions TestOptions() {
  ServerOptions o;
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.io_threads = 2;
  o.close_linger_ms = 200;
  return o;
}

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

std::string Post(const std::string& target, const std::string& body) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(const ServerOptions& options) {
    auto server = Server::Start(options, nullptr, handler_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::unique_ptr<TestClient> Connect() {
    std::string error;
    auto client = TestClient::Connect(server_->port(), &error);
    EXPECT_NE(client, nullptr) << error;
    return client;
  }

  std::shared_ptr<TestHandler> handler_ = std::make_shared<TestHandler>();
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsWithStandardHeaders) {
  StartServer(TestOptions());
  auto client = Connect();
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    std::string body = "hello " + std::to_string(i);
    ASSERT_TRUE(client->Send(Post("/echo", body)));
    std::optional<TestResponse> r = client->ReadResponse();
    ASSERT_TRUE(r.has_value()) << "request " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body);
    EXPECT_EQ(r->header("x-echo-method"), "POST");
    EXPECT_TRUE(testing::MatchesShape(r->header("x-request-id"), "req_" + std::string(24, 'x')));
    ids.insert(r->header("x-request-id"));
    EXPECT_EQ(r->header("server"), "parapet");
    EXPECT_FALSE(r->header("date").empty());
    EXPECT_EQ(r->header("strict-transport-security"), "");  // plain HTTP: no HSTS
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_EQ(server_->stats().requests, 3u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/slow?ms=50") + Post("/echo", "two") + Post("/echo", "three")));
  for (const char* want : {"slow", "two", "three"}) {
    std::optional<TestResponse> r = client->ReadResponse();
    ASSERT_TRUE(r.has_value()) << want;
    EXPECT_EQ(r->body, want);
  }
}

TEST_F(ServerTest, HugeHeaderGets431AndClose) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/echo", "X-Big: " + std::string(100 * 1024, 'a') + "\r\n")));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  EXPECT_NE(r->body.find("request_header_too_large"), std::string::npos);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client->WaitClosed(2000));
  EXPECT_EQ(server_->stats().responses_431_header_too_large, 1u);
}

TEST_F(ServerTest, OversizedContentLengthGets413WithoutSendingTheBody) {
  ServerOptions o = TestOptions();
  o.max_body_bytes = 1000;
  StartServer(o);
  auto client = Connect();
  ASSERT_TRUE(client->Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));  // body never sent
  std::optional<TestResponse> r = client->ReadResponse(2000);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("request_too_large"), std::string::npos);
  EXPECT_TRUE(client->WaitClosed(2000));
  EXPECT_EQ(handler_->requests(), 0);
}

TEST_F(ServerTest, ChunkedBodyOverLimitGets413) {
  ServerOptions o = TestOptions();
  o.max_body_bytes = 1000;
  StartServer(o);
  auto client = Connect();
  ASSERT_TRUE(client->Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           std::string("7d0\r\n") + std::string(2000, 'b') + "\r\n0\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, MalformedRequestGets400) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send("THIS IS NOT HTTP\r\n\r\n"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("malformed_request"), std::string::npos);
  EXPECT_FALSE(r->header("x-request-id").empty());
  EXPECT_TRUE(client->WaitClosed(2000));
  EXPECT_EQ(server_->stats().responses_400_malformed, 1u);
}

TEST_F(ServerTest, ExpectContinueGets100ThenTheResponse) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  std::optional<TestResponse> interim = client->ReadHead();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->Send("ping"));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ping");
}

TEST_F(ServerTest, SlowlorisHeaderIsCutOffAtTheHeaderDeadline) {
  ServerOptions o = TestOptions();
  o.header_timeout_ms = 500;
  StartServer(o);
  auto client = Connect();
  const std::string request = Get("/echo", "X-Slow: " + std::string(100, 's') + "\r\n");
  int64_t start = NowMs();
  bool closed = false;
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    client->Send(request.substr(i, 1));  // may fail once the server has closed
    closed = client->WaitClosed(200);
  }
  int64_t elapsed = NowMs() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 450);
  EXPECT_LE(elapsed, 1500);
  EXPECT_EQ(handler_->requests(), 0);
  EXPECT_EQ(server_->stats().timeouts_header, 1u);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o = TestOptions();
  o.idle_timeout_ms = 300;
  StartServer(o);
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/echo")));
  ASSERT_TRUE(client->ReadResponse().has_value());
  int64_t start = NowMs();
  EXPECT_TRUE(client->WaitClosed(3000));
  int64_t elapsed = NowMs() - start;
  EXPECT_GE(elapsed, 250);
  EXPECT_LE(elapsed, 1500);
  EXPECT_EQ(server_->stats().timeouts_idle, 1u);
}

TEST_F(ServerTest, ConnectionsOverTheCapGet503WithRetryAfter) {
  ServerOptions o = TestOptions();
  o.max_connections = 2;
  StartServer(o);
  auto a = Connect();
  auto b = Connect();
  for (auto* c : {a.get(), b.get()}) {
    ASSERT_TRUE(c->Send(Get("/echo")));
    ASSERT_TRUE(c->ReadResponse().has_value());
  }
  auto over = Connect();
  ASSERT_TRUE(over->Send(Get("/echo")));
  std::optional<TestResponse> r = over->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_TRUE(over->WaitClosed(2000));
  EXPECT_EQ(server_->stats().connections_rejected, 1u);
  // The connections within the cap still work.
  ASSERT_TRUE(a->Send(Get("/echo")));
  EXPECT_EQ(a->ReadResponse()->status, 200);
}

TEST_F(ServerTest, StreamedChunksArriveInOrderAndKeepAliveContinues) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/stream?n=50&delay_ms=1")));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_FALSE(r->header("x-request-id").empty());
  std::string want;
  for (int i = 0; i < 50; ++i) want += "chunk-" + std::to_string(i) + "\n";
  EXPECT_EQ(r->body, want);
  ASSERT_TRUE(client->Send(Post("/echo", "after")));
  EXPECT_EQ(client->ReadResponse()->body, "after");
}

TEST_F(ServerTest, ClientDisconnectMidStreamAbortsPromptly) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/hold-stream")));
  ASSERT_TRUE(client->ReadHead().has_value());
  EXPECT_EQ(client->ReadChunk().value_or("?"), "first");
  std::shared_ptr<Exchange> held = handler_->held();
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(held->aborted());
  int64_t start = NowMs();
  client->Close();
  ASSERT_TRUE(handler_->WaitAborts(1, 2000));
  int64_t latency = handler_->last_abort_ms() - start;
  EXPECT_LE(latency, 100) << "OnAbort ran " << latency << " ms after the disconnect";
  std::printf("[ measure ] disconnect → OnAbort: %lld ms\n", static_cast<long long>(latency));
  EXPECT_TRUE(held->aborted());
  EXPECT_FALSE(held->Write("more"));
  bool late_ran = false;
  held->OnAbort([&] { late_ran = true; });  // registered after the abort: runs at once
  EXPECT_TRUE(late_ran);
  EXPECT_EQ(server_->stats().exchanges_aborted, 1u);
}

TEST_F(ServerTest, ClientThatDoesNotReadIsDisconnectedAtTheStreamBufferLimit) {
  ServerOptions o = TestOptions();
  o.stream_buffer_limit_bytes = 256 * 1024;
  StartServer(o);
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/flood?chunk=65536")));  // and never read
  ASSERT_TRUE(handler_->WaitAborts(1, 5000));
  EXPECT_TRUE(handler_->flood_rejected());
  EXPECT_EQ(server_->stats().stream_buffer_overflows, 1u);
}

TEST_F(ServerTest, ClientThatStopsReadingHitsTheWriteDeadline) {
  ServerOptions o = TestOptions();
  o.write_timeout_ms = 300;
  o.stream_buffer_limit_bytes = 256 * 1024 * 1024;  // the deadline, not the buffer, must end it
  StartServer(o);
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/flood?chunk=65536&delay_ms=1")));  // and never read
  ASSERT_TRUE(handler_->WaitAborts(1, 10000));
  EXPECT_EQ(server_->stats().timeouts_write, 1u);
  EXPECT_EQ(server_->stats().stream_buffer_overflows, 0u);
}

TEST_F(ServerTest, HeadAndHttp10) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send("HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n" + Post("/echo", "next")));
  std::optional<TestResponse> head = client->ReadHead();  // no body follows a HEAD answer
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(client->ReadResponse()->body, "next");

  auto old = Connect();  // HTTP/1.0 keep-alive, then a stream that ends with the connection
  ASSERT_TRUE(old->Send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  std::optional<TestResponse> r = old->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("connection"), "keep-alive");
  ASSERT_TRUE(old->Send("GET /stream?n=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  r = old->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(r->body, "chunk-0\nchunk-1\nchunk-2\n");
}

TEST_F(ServerTest, ShutdownWaitsForTheExchangeInFlight) {
  StartServer(TestOptions());
  auto idle = Connect();
  ASSERT_TRUE(idle->Send(Get("/echo")));
  ASSERT_TRUE(idle->ReadResponse().has_value());
  auto busy = Connect();
  ASSERT_TRUE(busy->Send(Get("/slow?ms=300")));
  ASSERT_TRUE(handler_->WaitRequests(2, 2000));
  int64_t start = NowMs();
  server_->Shutdown(3000);
  int64_t elapsed = NowMs() - start;
  EXPECT_GE(elapsed, 200);
  EXPECT_LT(elapsed, 2000);
  std::optional<TestResponse> r = busy->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "slow");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(idle->WaitClosed(1000));
  EXPECT_EQ(handler_->aborts(), 0);
  EXPECT_EQ(TestClient::Connect(server_->port()), nullptr);  // no longer accepting
}

TEST_F(ServerTest, ShutdownAbortsWhatOutlivesTheGracePeriod) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/hold")));
  ASSERT_TRUE(handler_->WaitRequests(1, 2000));
  int64_t start = NowMs();
  server_->Shutdown(200);
  int64_t elapsed = NowMs() - start;
  EXPECT_EQ(handler_->aborts(), 1);
  EXPECT_GE(elapsed, 150);
  EXPECT_LT(elapsed, 1500);
  EXPECT_TRUE(client->WaitClosed(1000));
}

TEST_F(ServerTest, HandlerThreadsMayOutliveTheServer) {
  StartServer(TestOptions());
  auto client = Connect();
  ASSERT_TRUE(client->Send(Get("/hold-stream")));
  ASSERT_TRUE(client->ReadHead().has_value());
  std::shared_ptr<Exchange> held = handler_->held();
  ASSERT_NE(held, nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) held->Write("x");  // races with the shutdown below
  });
  server_.reset();  // Shutdown(0): aborts the exchange, stops the io threads
  EXPECT_TRUE(held->aborted());
  EXPECT_FALSE(held->Write("after"));
  stop = true;
  writer.join();
}

TEST_F(ServerTest, RequestIsAnsweredWhilePipelinedBytesFillTheReadBuffer) {
  ServerOptions o = TestOptions();
  o.max_header_bytes = 1024;
  StartServer(o);
  auto client = Connect();
  // Far more pipelined bytes than the session buffers while the handler works: reading pauses,
  // and the session must still be there to send the answer.
  ASSERT_TRUE(client->Send(Get("/slow?ms=200") + std::string(64 * 1024, 'z')));
  std::optional<TestResponse> r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "slow");
  r = client->ReadResponse();  // the bytes after it: a "request line" past the header limit
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
}

TEST_F(ServerTest, StartReportsBadHostAndBusyPort) {
  ServerOptions o = TestOptions();
  o.listen_host = "not-an-address";
  auto bad = Server::Start(o, nullptr, handler_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("listen_host"), std::string::npos);

  StartServer(TestOptions());
  o = TestOptions();
  o.listen_port = server_->port();
  auto busy = Server::Start(o, nullptr, handler_);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parapet::gateway
