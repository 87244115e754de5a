#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace parapet::engine {
namespace {

// Whole-text reference: the text cut at the earliest-starting occurrence of any stop string.
struct Reference {
  std::string text;
  bool stopped;
};
Reference Cut(const std::string& text, const std::vector<std::string>& stops) {
  size_t first = std::string::npos;
  for (const std::string& s : stops) first = std::min(first, text.find(s));
  if (first == std::string::npos) return {text, false};
  return {text.substr(0, first), true};
}

// Streams `pieces` through a matcher, stopping when it says so, then flushes.
Reference Stream(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher matcher(stops);
  Reference out{"", false};
  for (const std::string& piece : pieces) {
    StopMatcher::Output o = matcher.Push(piece);
    out.text += o.text;
    if (o.stopped) {
      out.stopped = true;
      return out;
    }
    EXPECT_LT(matcher.held_bytes(), kMaxStopStringBytes);
  }
  out.text += matcher.Flush();
  out.stopped = matcher.stopped();
  return out;
}

void ExpectSame(const Reference& got, const Reference& want, const std::string& context) {
  EXPECT_EQ(got.text, want.text) << context;
  EXPECT_EQ(got.stopped, want.stopped) << context;
}

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher matcher({});
  StopMatcher::Output o = matcher.Push("Hello");
  EXPECT_EQ(o.text, "Hello");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopMatcher, CutsAtStopInOnePush) {
  StopMatcher matcher({"END"});
  StopMatcher::Output o = matcher.Push("Hello END world");
  EXPECT_EQ(o.text, "Hello ");
  EXPECT_TRUE(o.stopped);
  EXPECT_TRUE(matcher.stopped());
  // Once stopped, later pushes and Flush() produce nothing.
  o = matcher.Push("more");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopMatcher, HoldsBackAPossibleStopThenReleasesIt) {
  StopMatcher matcher({"Hello!"});
  EXPECT_EQ(matcher.Push("Say Hel").text, "Say ");
  EXPECT_EQ(matcher.held_bytes(), 3u);
  StopMatcher::Output o = matcher.Push("lo?");
  EXPECT_EQ(o.text, "Hello?");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(matcher.Push("Hell").text, "");
  EXPECT_EQ(matcher.Flush(), "Hell");  // end of stream: the held text was not a stop after all
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopMatcher, StopSplitAtEveryPosition) {
  const std::vector<std::string> stops = {"</answer>", "\n\nUser:"};
  const std::string texts[] = {
      "The result is 42.</answer> ignored",
      "Line one.\n\nUser: next turn",
      "No stop here, but </answ and \n\nUse look close.",
      "</answer>",
  };
  for (const std::string& text : texts) {
    const Reference want = Cut(text, stops);
    // Every split into two pieces, and every split into three pieces.
    for (size_t a = 0; a <= text.size(); ++a) {
      ExpectSame(Stream(stops, {text.substr(0, a), text.substr(a)}), want,
                 text + " split at " + std::to_string(a));
      for (size_t b = a; b <= text.size(); ++b) {
        ExpectSame(Stream(stops, {text.substr(0, a), text.substr(a, b - a), text.substr(b)}), want,
                   text + " split at " + std::to_string(a) + "," + std::to_string(b));
      }
    }
    // One byte at a time.
    std::vector<std::string> bytes;
    for (char c : text) bytes.push_back(std::string(1, c));
    ExpectSame(Stream(stops, bytes), want, text + " byte by byte");
  }
}

TEST(StopMatcher, StopSetByPushThatCompletesIt) {
  StopMatcher matcher({"STOP"});
  EXPECT_FALSE(matcher.Push("abc ST").stopped);
  StopMatcher::Output o = matcher.Push("OP tail");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");  // "abc " went out with the first push
}

TEST(StopMatcher, OverlappingStopsCutAtTheEarliestStart) {
  // "bc" completes first, but "abcd" starts earlier: the matcher waits to see which wins.
  const std::vector<std::string> stops = {"abcd", "bc"};
  StopMatcher matcher(stops);
  StopMatcher::Output o = matcher.Push("xabc");
  EXPECT_EQ(o.text, "x");
  EXPECT_FALSE(o.stopped);
  o = matcher.Push("d");
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(o.stopped);

  StopMatcher other(stops);
  EXPECT_EQ(other.Push("xabc").text, "x");
  o = other.Push("e");
  EXPECT_EQ(o.text, "a");
  EXPECT_TRUE(o.stopped);

  // A pending match at end of stream is still a stop.
  StopMatcher flushed(stops);
  EXPECT_EQ(flushed.Push("xabc").text, "x");
  EXPECT_EQ(flushed.Flush(), "a");
  EXPECT_TRUE(flushed.stopped());
}

TEST(StopMatcher, RandomChunkingsMatchWholeText) {
  // Small alphabet, overlapping and self-overlapping stops: many near misses. Fixed seed.
  const std::vector<std::vector<std::string>> stop_sets = {
      {"aab"}, {"abab", "ba"}, {"abcab", "bca", "cc", "aaaa"}, {"c"}};
  std::mt19937 gen(1234);
  for (const auto& stops : stop_sets) {
    for (int trial = 0; trial < 500; ++trial) {
      std::string text;
      const size_t len = gen() % 40;
      for (size_t i = 0; i < len; ++i) text += static_cast<char>('a' + gen() % 3);
      std::vector<std::string> pieces;
      for (size_t i = 0; i < text.size();) {
        const size_t n = std::min<size_t>(gen() % 5, text.size() - i);  // includes empty pieces
        pieces.push_back(text.substr(i, n));
        i += n;
      }
      ExpectSame(Stream(stops, pieces), Cut(text, stops), "text '" + text + "'");
    }
  }
}

TEST(StopMatcher, MultiByteStopSplitInsideACharacter) {
  const std::vector<std::string> stops = {
      "\xE2\x80\x94"
      "END"};  // "—END"
  const std::string text =
      "a\xE2\x80\x94"
      "b\xE2\x80\x94"
      "END c";
  const Reference want = Cut(text, stops);
  EXPECT_EQ(want.text,
            "a\xE2\x80\x94"
            "b");
  for (size_t a = 0; a <= text.size(); ++a) {
    ExpectSame(Stream(stops, {text.substr(0, a), text.substr(a)}), want, std::to_string(a));
  }
}

TEST(StopMatcher, ValidatesStopStrings) {
  EXPECT_TRUE(ValidateStopStrings(std::vector<std::string>{}).ok());
  EXPECT_TRUE(
      ValidateStopStrings(std::vector<std::string>{"a", "b", "c", std::string(256, 'x')}).ok());
  struct Case {
    std::vector<std::string> stops;
    const char* needle;
  };
  const Case cases[] = {
      {{"a", "b", "c", "d", "e"}, "at most 4"},
      {{"a", ""}, "stop[1] is empty"},
      {{std::string(257, 'x')}, "stop[0] is 257 bytes"},
      {{"ok", "\xC3"}, "stop[1] is not valid UTF-8"},
      {{"\xED\xA0\x80"}, "stop[0] is not valid UTF-8"},  // a surrogate
  };
  for (const Case& c : cases) {
    const Status s = ValidateStopStrings(c.stops);
    ASSERT_FALSE(s.ok()) << c.needle;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace parapet::engine
