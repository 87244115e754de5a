#include "common/utf8.h"

#include <gtest/gtest.h>

#include "common/json_writer.h"

namespace parapet {
namespace {

TEST(Utf8, SequenceLengths) {
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9"), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xE2\x96\x81"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF"), 0u);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80"), 0u);  // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xE2\x96"), 0u);      // truncated
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);
}

TEST(Utf8, IsValid) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("a\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("a\xC3"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(Utf8IncompleteTail("abc"), 0u);
  EXPECT_EQ(Utf8IncompleteTail("ab\xE2\x96"), 2u);
  EXPECT_EQ(Utf8IncompleteTail("ab\xF0"), 1u);
  EXPECT_EQ(Utf8IncompleteTail("ab\xE2\x96\x81"), 0u);
}

TEST(Utf8, EncodeDecodeRoundTrip) {
  for (uint32_t cp : {0x41u, 0xE9u, 0x2581u, 0x1F600u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    EXPECT_EQ(Utf8Decode(s), cp);
  }
}

TEST(JsonWriter, EscapesAndNests) {
  JsonWriter w;
  w.BeginObject();
  w.Key("t");
  w.String("a\"b\\\n\x01\xFF");
  w.Key("ids");
  w.BeginArray();
  w.Int(1);
  w.Int(-2);
  w.EndArray();
  w.Key("x");
  w.Double(0.5);
  w.EndObject();
  EXPECT_EQ(w.str(), "{\"t\":\"a\\\"b\\\\\\n\\u0001\xEF\xBF\xBD\",\"ids\":[1,-2],\"x\":0.5}");
}

}  // namespace
}  // namespace parapet
