#include "gateway/internal/http_format.h"

#include <gtest/gtest.h>

#include "tests/gateway/http_client_util.h"

namespace parapet::gateway::internal {
namespace {

TEST(HttpFormat, RequestIdsAreRandomHex) {
  std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_TRUE(testing::MatchesShape(a, "req_" + std::string(24, 'x'))) << a;
  EXPECT_NE(a, b);
}

TEST(HttpFormat, DateIsImfFixdate) {
  std::string date = HttpDate();
  EXPECT_TRUE(testing::MatchesShape(date, "Aaa, 99 Aaa 9999 99:99:99 GMT")) << date;
  EXPECT_NE(std::string("SunMonTueWedThuFriSat").find(date.substr(0, 3)), std::string::npos);
  EXPECT_NE(std::string("JanFebMarAprMayJunJulAugSepOctNovDec").find(date.substr(8, 3)),
            std::string::npos);
}

TEST(HttpFormat, ChunkFraming) {
  EXPECT_EQ(Chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(Chunk(std::string(26, 'x')), "1a\r\n" + std::string(26, 'x') + "\r\n");
}

TEST(HttpFormat, CompleteResponseAndStreamHead) {
  Response r(http::status::ok, 11);
  r.body() = "{}";
  std::string bytes = FormatResponse(r, {"req_1", 11, true, true, 60}, /*with_body=*/true);
  EXPECT_EQ(bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("x-request-id: req_1\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Server: parapet\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Strict-Transport-Security: max-age=60\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 6), "\r\n\r\n{}");

  ResponseHeader h;
  h.result(http::status::ok);
  std::string head = FormatStreamHead(h, {"req_2", 10, false, false, 60});
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos);          // HTTP/1.0: ends at close
  EXPECT_EQ(head.find("Strict-Transport-Security"), std::string::npos);  // not TLS
}

TEST(HttpFormat, TransportErrorsAreOpenAiShaped) {
  ServerOptions o;
  Response r = TransportErrorResponse(TransportError::kOverloaded, o);
  EXPECT_EQ(r.result(), http::status::service_unavailable);
  EXPECT_EQ(r[http::field::retry_after], "1");
  EXPECT_EQ(r.body(), R"({"error":{"message":"the server is at its connection limit; retry later",)"
                      R"("type":"server_error","param":null,"code":"server_overloaded"}})");
  r = TransportErrorResponse(TransportError::kHeaderTooLarge, o);
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_NE(r.body().find("16384 bytes"), std::string::npos);
}

}  // namespace
}  // namespace parapet::gateway::internal
