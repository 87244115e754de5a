#include "gateway/server_options.h"

#include <gtest/gtest.h>

namespace parapet::gateway {
namespace {

TEST(ServerOptions, DefaultsAreValid) {
  ServerOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.max_header_bytes, 16u * 1024);
  EXPECT_EQ(o.max_body_bytes, 4u * 1024 * 1024);
}

TEST(ServerOptions, ErrorsNameTheField) {
  ServerOptions o;
  o.header_timeout_ms = 0;
  Status s = o.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("header_timeout_ms"), std::string::npos);

  o = ServerOptions();
  o.max_header_bytes = 10;
  EXPECT_NE(o.Validate().message().find("max_header_bytes"), std::string::npos);

  o = ServerOptions();
  o.stream_buffer_limit_bytes = 0;
  EXPECT_NE(o.Validate().message().find("stream_buffer_limit_bytes"), std::string::npos);

  o = ServerOptions();
  o.hsts_max_age_s = -1;
  EXPECT_NE(o.Validate().message().find("hsts_max_age_s"), std::string::npos);
}

}  // namespace
}  // namespace parapet::gateway
