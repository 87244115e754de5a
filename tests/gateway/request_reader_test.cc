#include "gateway/internal/request_reader.h"

#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>
#include <vector>

namespace parapet::gateway::internal {
namespace {

// Parses everything parseable; false on a parse error.
bool Drain(RequestReader& reader, std::vector<Request>* out) {
  for (;;) {
    boost::system::error_code ec;
    switch (reader.Parse(&ec)) {
      case RequestReader::Event::kNeedMore:
        return true;
      case RequestReader::Event::kHeader:
        break;
      case RequestReader::Event::kRequest:
        out->push_back(reader.Release());
        break;
      case RequestReader::Event::kError:
        ADD_FAILURE() << ec.message();
        return false;
    }
  }
}

TEST(RequestReader, PipelinedRequestsParseTheSameAtEverySplit) {
  const std::string wire =
      "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "GET /three HTTP/1.0\r\n\r\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    RequestReader reader(16 * 1024, 1024);
    std::vector<Request> got;
    reader.Append(wire.data(), split);
    ASSERT_TRUE(Drain(reader, &got));
    reader.Append(wire.data() + split, wire.size() - split);
    ASSERT_TRUE(Drain(reader, &got));
    ASSERT_EQ(got.size(), 3u) << "split at " << split;
    EXPECT_EQ(got[0].target(), "/one");
    EXPECT_EQ(got[0].body(), "hello");
    EXPECT_EQ(got[1].body(), "abc");
    EXPECT_EQ(got[2].target(), "/three");
    EXPECT_EQ(got[2].version(), 10);
    EXPECT_TRUE(reader.idle());
  }
}

TEST(RequestReader, ReportsTheHeaderBeforeTheBody) {
  RequestReader reader(16 * 1024, 1 << 20);
  EXPECT_TRUE(reader.idle());
  std::string head =
      "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n";
  reader.Append(head.data(), head.size());
  EXPECT_FALSE(reader.idle());
  boost::system::error_code ec;
  ASSERT_EQ(reader.Parse(&ec), RequestReader::Event::kHeader);
  EXPECT_EQ(reader.content_length().value_or(0), 4000u);
  EXPECT_TRUE(reader.expects_continue());
  EXPECT_FALSE(reader.complete());
  EXPECT_EQ(reader.Parse(&ec), RequestReader::Event::kNeedMore);
}

TEST(RequestReader, LimitsAndSyntaxErrors) {
  boost::system::error_code ec;
  RequestReader big_header(1024, 1024);
  std::string wire = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n";
  big_header.Append(wire.data(), wire.size());
  EXPECT_EQ(big_header.Parse(&ec), RequestReader::Event::kError);
  EXPECT_EQ(ec, http::error::header_limit);

  RequestReader big_chunked(1024, 10);
  wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n" + std::string(20, 'b');
  big_chunked.Append(wire.data(), wire.size());
  RequestReader::Event e = big_chunked.Parse(&ec);
  if (e == RequestReader::Event::kHeader) e = big_chunked.Parse(&ec);
  EXPECT_EQ(e, RequestReader::Event::kError);
  EXPECT_EQ(ec, http::error::body_limit);

  RequestReader garbage(1024, 1024);
  wire = "NOT HTTP AT ALL\r\n\r\n";
  garbage.Append(wire.data(), wire.size());
  EXPECT_EQ(garbage.Parse(&ec), RequestReader::Event::kError);
}

}  // namespace
}  // namespace parapet::gateway::internal
