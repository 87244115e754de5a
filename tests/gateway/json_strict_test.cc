#include "gateway/json_strict.h"

#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <string>

namespace parapet::gateway {
namespace {

TEST(ParseStrictJson, AcceptsOrdinaryDocuments) {
  auto v = ParseStrictJson(R"( {"a":[1,-2,3.5,true,false,null],"b":{"c":"d\u00e9\ud83d\ude00"},)"
                           R"("e":18446744073709551615,"f":-9223372036854775808,"g":1e-400} )");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(boost::json::serialize(*v),
            "{\"a\":[1,-2,3.5E0,true,false,null],\"b\":{\"c\":\"d\xC3\xA9\xF0\x9F\x98\x80\"},"
            "\"e\":18446744073709551615,\"f\":-9223372036854775808,\"g\":0E0}");
  EXPECT_TRUE(v->at("e").is_uint64());
  EXPECT_TRUE(v->at("f").is_int64());
}

TEST(ParseStrictJson, ScalarsAndEscapes) {
  auto v = ParseStrictJson(R"("a\nb\u0041\"")");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->as_string(), "a\nbA\"");
  ASSERT_TRUE(ParseStrictJson("0").ok());
  ASSERT_TRUE(ParseStrictJson("[]").ok());
  ASSERT_TRUE(ParseStrictJson("{}").ok());
}

TEST(ParseStrictJson, UsesGivenStorage) {
  boost::json::monotonic_resource mr;
  auto v = ParseStrictJson(R"({"k":["a long enough string to allocate", 1]})", {}, &mr);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->storage().get(), &mr);
}

struct BadCase {
  const char* name;
  std::string text;
  const char* message;  // expected Status message
};

TEST(ParseStrictJson, RejectsTable) {
  std::string deep65(65, '[');
  deep65 += std::string(65, ']');
  const BadCase cases[] = {
      {"empty", "", "invalid JSON at byte 0: unexpected end of input"},
      {"truncated", "[1,2,", "invalid JSON at byte 5: unexpected end of input"},
      {"trailing", "{\"a\":1} x", "invalid JSON at byte 8: unexpected data after the value"},
      {"two values", "[1] ]", "invalid JSON at byte 4: unexpected data after the value"},
      {"invalid utf8 in string", "\"ab\xff\"", "invalid JSON at byte 3: invalid UTF-8"},
      {"invalid utf8 in key", "{\"k\xc3\x28\":1}", "invalid JSON at byte 3: invalid UTF-8"},
      {"overlong utf8", "\"\xc0\xaf\"", "invalid JSON at byte 1: invalid UTF-8"},
      {"surrogate bytes", "\"\xed\xa0\x80\"", "invalid JSON at byte 1: invalid UTF-8"},
      {"lone surrogate escape", R"("\ud800")",
       "invalid JSON at byte 7: invalid string (bad escape or unpaired surrogate)"},
      {"duplicate key", R"({"a":1,"b":2,"a":3})", "invalid JSON at byte 15: duplicate key"},
      {"duplicate nested key", R"({"a":{"x":1,"x":1}})", "invalid JSON at byte 14: duplicate key"},
      {"duplicate escaped key", R"({"ab":1,"a\u0062":2})",
       "invalid JSON at byte 16: duplicate key"},
      {"too deep", deep65, "invalid JSON at byte 64: nesting too deep"},
      {"int overflow", "123456789012345678901234567890",
       "invalid JSON at byte 30: integer out of range"},
      {"negative int overflow", "-9223372036854775809",
       "invalid JSON at byte 20: integer out of range"},
      {"double overflow", "[1e400]", "invalid JSON at byte 6: number out of range"},
      {"NaN", "NaN", "invalid JSON at byte 0: syntax error"},
      {"comment", "[1 /* c */]", "invalid JSON at byte 3: syntax error"},
      {"single quotes", "{'a':1}", "invalid JSON at byte 1: syntax error"},
      {"control char", "\"a\x01\"", "invalid JSON at byte 2: syntax error"},
  };
  for (const BadCase& c : cases) {
    auto v = ParseStrictJson(c.text);
    ASSERT_FALSE(v.ok()) << c.name;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(v.status().message(), c.message) << c.name;
  }
}

TEST(ParseStrictJson, DepthLimitIsInclusive) {
  std::string deep64 = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseStrictJson(deep64).ok());
  StrictJsonOptions options;
  options.max_depth = 2;
  EXPECT_TRUE(ParseStrictJson(R"({"a":[1]})", options).ok());
  EXPECT_FALSE(ParseStrictJson(R"({"a":[[1]]})", options).ok());
  // A very deep document fails cleanly (no recursion in the parser).
  EXPECT_FALSE(ParseStrictJson(std::string(100000, '[')).ok());
}

TEST(ParseStrictJson, SizeLimit) {
  StrictJsonOptions options;
  options.max_bytes = 8;
  EXPECT_TRUE(ParseStrictJson("[1,2,3]", options).ok());
  auto v = ParseStrictJson("[1,2,3,4]", options);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "JSON document of 9 bytes exceeds the limit of 8");
}

TEST(ParseStrictJson, SameKeyInSiblingObjectsIsFine) {
  EXPECT_TRUE(ParseStrictJson(R"([{"a":1},{"a":2},{"a":{"a":3}}])").ok());
}

TEST(ParseStrictJson, LongStringsAndManyKeys) {
  std::string big = "\"" + std::string(100000, 'x') + "\"";
  auto v = ParseStrictJson(big);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->as_string().size(), 100000u);
  std::string obj = "{";
  for (int i = 0; i < 5000; ++i) obj += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + "1";
  obj += "}";
  v = ParseStrictJson(obj);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->as_object().size(), 5000u);
}

}  // namespace
}  // namespace parapet::gateway
