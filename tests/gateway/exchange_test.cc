#include "gateway/exchange.h"

#include <gtest/gtest.h>

namespace parapet::gateway {
namespace {

TEST(ErrorBody, OpenAiShapeWithNulls) {
  EXPECT_EQ(ErrorBody("invalid_request_error", "bad \"x\""),
            R"({"error":{"message":"bad \"x\"","type":"invalid_request_error","param":null,)"
            R"("code":null}})");
  EXPECT_EQ(ErrorBody("invalid_request_error", "m", "n", "c"),
            R"({"error":{"message":"m","type":"invalid_request_error","param":"n","code":"c"}})");
}

}  // namespace
}  // namespace parapet::gateway
