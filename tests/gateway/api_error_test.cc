#include "gateway/api_error.h"

#include <gtest/gtest.h>

#include "gateway/rate_limiter.h"

namespace parapet::gateway {
namespace {

TEST(ApiError, BodyMapsOneToOneToErrorBody) {
  ApiError e = InvalidParam("messages[2].content", "bad", "invalid_value");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.Body(), R"({"error":{"message":"bad","type":"invalid_request_error",)"
                      R"("param":"messages[2].content","code":"invalid_value"}})");
  EXPECT_EQ(ServerError("internal error").Body(),
            R"({"error":{"message":"internal error","type":"server_error","param":null,)"
            R"("code":null}})");
}

TEST(ApiError, Factories) {
  EXPECT_EQ(InvalidType("n", "an integer", "a string").message,
            "Invalid type for 'n': expected an integer, but got a string instead.");
  EXPECT_EQ(MissingParam("model").message, "Missing required parameter: 'model'.");
  EXPECT_EQ(MissingParam("model").code, "missing_required_parameter");
  EXPECT_EQ(UnrecognizedParam("foo").message, "Unrecognized request argument supplied: foo");
  EXPECT_EQ(UnrecognizedParam("foo").param, "foo");
  EXPECT_EQ(UnsupportedParam("tools").message, "'tools' is not supported by this server.");
  EXPECT_EQ(InvalidJson(InvalidArgumentError("invalid JSON at byte 3: duplicate key")).message,
            "We could not parse the JSON body of your request: invalid JSON at byte 3: duplicate "
            "key");
  ApiError key = InvalidApiKey();
  EXPECT_EQ(key.http_status, 401);
  EXPECT_EQ(key.code, "invalid_api_key");
  ApiError model = ModelNotFound("gpt-4");
  EXPECT_EQ(model.http_status, 404);
  EXPECT_EQ(model.param, "model");
  EXPECT_EQ(model.message, "The model 'gpt-4' does not exist");
  ApiError limited = RateLimited("tokens", "Rate limit reached for tokens per minute.");
  EXPECT_EQ(limited.http_status, 429);
  EXPECT_EQ(limited.type, "tokens");
  EXPECT_EQ(limited.code, "rate_limit_exceeded");
  EXPECT_EQ(Overloaded("queue full").http_status, 503);
}

TEST(ApiError, RateLimitedError) {
  Admission limited;
  limited.outcome = Admission::Outcome::kLimited;
  limited.limited_by = "requests";
  limited.retry_after_s = 3;
  ApiError e = RateLimitedError(limited);
  EXPECT_EQ(e.http_status, 429);
  EXPECT_EQ(e.type, "requests");
  EXPECT_EQ(e.message,
            "Rate limit reached for this key on requests per second. Please try again in 3s.");
  Admission too_large;
  too_large.outcome = Admission::Outcome::kTooLarge;
  too_large.limited_by = "tokens";
  e = RateLimitedError(too_large);
  EXPECT_EQ(e.type, "tokens");
  EXPECT_EQ(e.code, "rate_limit_exceeded");
  EXPECT_EQ(e.message,
            "Request too large for this key's limit on tokens per minute: reduce the prompt or "
            "max_tokens.");
}

TEST(ApiError, LongModelNameIsCut) {
  ApiError e = ModelNotFound(std::string(10000, 'm'));
  EXPECT_LT(e.message.size(), 400u);
}

TEST(ApiResult, HoldsValueOrError) {
  ApiResult<int> ok = 5;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 5);
  ApiResult<int> bad = MissingParam("x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "x");
}

}  // namespace
}  // namespace parapet::gateway
