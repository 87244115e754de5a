#include "gateway/openai_response.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <limits>
#include <set>

#include "gateway/json_strict.h"

namespace parapet::gateway {
namespace {

ResponseMeta Meta(std::string id = "chatcmpl-abc") {
  return ResponseMeta{std::move(id), 1700000000, "mixtral", "fp_1234"};
}

// Every encoder output must pass our own strict decoder (valid UTF-8, no duplicate keys).
boost::json::value Strict(const std::string& json) {
  auto v = ParseStrictJson(json);
  EXPECT_TRUE(v.ok()) << v.status().ToString() << " in " << json;
  return v.ok() ? *v : boost::json::value();
}

TEST(EncodeChatCompletion, Golden) {
  ChatCompletion c;
  c.meta = Meta();
  c.content = "Hello \"world\"\n";
  c.finish_reason = "stop";
  c.usage = {5, 3};
  EXPECT_EQ(EncodeChatCompletion(c),
            R"({"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,)"
            R"("model":"mixtral","choices":[{"index":0,"message":{"role":"assistant",)"
            R"("content":"Hello \"world\"\n","refusal":null},"logprobs":null,)"
            R"("finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,)"
            R"("total_tokens":8},"system_fingerprint":"fp_1234"})");
}

TEST(EncodeChatCompletion, LogprobsGolden) {
  ChatCompletion c;
  c.meta = Meta();
  c.content = "Hi";
  c.finish_reason = "length";
  c.with_logprobs = true;
  c.logprobs = {{"Hi", -0.25, {{"Hi", -0.25}, {"Hey", -1.5}}}};
  c.usage = {1, 1};
  EXPECT_EQ(EncodeChatCompletion(c),
            R"({"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,)"
            R"("model":"mixtral","choices":[{"index":0,"message":{"role":"assistant",)"
            R"("content":"Hi","refusal":null},"logprobs":{"content":[{"token":"Hi",)"
            R"("logprob":-0.25,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.25,)"
            R"("bytes":[72,105]},{"token":"Hey","logprob":-1.5,"bytes":[72,101,121]}]}],)"
            R"("refusal":null},"finish_reason":"length"}],"usage":{"prompt_tokens":1,)"
            R"("completion_tokens":1,"total_tokens":2},"system_fingerprint":"fp_1234"})");
}

TEST(EncodeChatCompletion, ByteTokensAndInfinities) {
  ChatCompletion c;
  c.meta = Meta();
  c.finish_reason = "stop";
  c.with_logprobs = true;
  const double inf = std::numeric_limits<double>::infinity();
  c.logprobs = {{"\xE2\x82", -0.5, {{"\xE2\x82", -0.5}, {"\xFF", -inf}}}, {"\xAC", -0.1, {}}};
  boost::json::value v = Strict(EncodeChatCompletion(c));
  const auto& content = v.at("choices").at(0).at("logprobs").at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("token").as_string(), "bytes:\\xe2\\x82");
  EXPECT_EQ(content[0].at("bytes"), boost::json::parse("[226,130]"));
  EXPECT_EQ(content[0].at("top_logprobs").at(1).at("logprob").to_number<double>(), -9999.0);
  EXPECT_EQ(content[0].at("top_logprobs").at(1).at("bytes"), boost::json::parse("[255]"));
  EXPECT_EQ(content[1].at("token").as_string(), "bytes:\\xac");
}

TEST(EncodeChatCompletion, ContentFilterExtension) {
  ChatCompletion c;
  c.meta = Meta();
  c.content = "I can't help with that.";
  c.finish_reason = "content_filter";
  c.content_filter = ContentFilterInfo{"weapons.nerve-agent", "Blocked by policy."};
  boost::json::value v = Strict(EncodeChatCompletion(c));
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "content_filter");
  EXPECT_EQ(choice.at("content_filter_results"),
            boost::json::parse(R"({"policy":{"filtered":true,"rule_id":"weapons.nerve-agent",)"
                               R"("message":"Blocked by policy."}})"));
}

TEST(ChatChunkEncoder, StreamGolden) {
  ChatChunkEncoder enc(Meta(), /*include_usage=*/false, /*with_logprobs=*/false);
  const std::string head =
      R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"mixtral","system_fingerprint":"fp_1234","choices":[{"index":0,)";
  EXPECT_EQ(enc.RoleChunk(), head + R"("delta":{"role":"assistant","content":"","refusal":null},)"
                                    R"("logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(enc.ContentChunk("Hel"),
            head + R"("delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(enc.FinishChunk("stop"),
            head + R"("delta":{},"logprobs":null,"finish_reason":"stop"}]})");
}

TEST(ChatChunkEncoder, IncludeUsage) {
  ChatChunkEncoder enc(Meta(), /*include_usage=*/true, /*with_logprobs=*/true);
  for (const std::string& chunk :
       {enc.RoleChunk(), enc.ContentChunk("a", std::vector<TokenLogprob>{{"a", -1, {}}}),
        enc.FinishChunk("length")}) {
    boost::json::value v = Strict(chunk);
    ASSERT_TRUE(v.as_object().contains("usage")) << chunk;
    EXPECT_TRUE(v.at("usage").is_null());
    EXPECT_EQ(v.at("choices").as_array().size(), 1u);
  }
  EXPECT_EQ(enc.UsageChunk({7, 2}),
            R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,)"
            R"("model":"mixtral","system_fingerprint":"fp_1234","choices":[],"usage":)"
            R"({"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}})");
  boost::json::value content =
      Strict(enc.ContentChunk("a", std::vector<TokenLogprob>{{"a", -1, {}}}));
  EXPECT_EQ(content.at("choices").at(0).at("logprobs"),
            boost::json::parse(R"({"content":[{"token":"a","logprob":-1,"bytes":[97],)"
                               R"("top_logprobs":[]}],"refusal":null})"));
}

TEST(ChatChunkEncoder, ContentFilterFinishAndEmptyFingerprint) {
  ResponseMeta meta = Meta();
  meta.system_fingerprint.clear();
  ChatChunkEncoder enc(meta, false, false);
  boost::json::value v =
      Strict(enc.FinishChunk("content_filter", ContentFilterInfo{"pii.email", "No emails."}));
  EXPECT_TRUE(v.at("system_fingerprint").is_null());
  EXPECT_EQ(v.at("choices").at(0).at("content_filter_results").at("policy").at("rule_id"),
            "pii.email");
}

TEST(EncodeCompletion, Golden) {
  CompletionResult c;
  c.meta = Meta("cmpl-xyz");
  c.text = " world";
  c.finish_reason = "length";
  c.usage = {2, 1};
  EXPECT_EQ(EncodeCompletion(c),
            R"({"id":"cmpl-xyz","object":"text_completion","created":1700000000,)"
            R"("model":"mixtral","choices":[{"text":" world","index":0,"logprobs":null,)"
            R"("finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":1,)"
            R"("total_tokens":3},"system_fingerprint":"fp_1234"})");
}

TEST(EncodeCompletion, EchoLogprobsGolden) {
  CompletionResult c;
  c.meta = Meta("cmpl-xyz");
  c.text = "Hello world";
  c.finish_reason = "length";
  c.with_logprobs = true;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  c.logprobs = {{"Hello", nan, {}}, {" world", -2.5, {{" world", -2.5}, {" there", -3}}}};
  c.usage = {2, 0};
  EXPECT_EQ(EncodeCompletion(c),
            R"({"id":"cmpl-xyz","object":"text_completion","created":1700000000,)"
            R"("model":"mixtral","choices":[{"text":"Hello world","index":0,"logprobs":)"
            R"({"tokens":["Hello"," world"],"token_logprobs":[null,-2.5],"top_logprobs":)"
            R"([null,{" world":-2.5," there":-3}],"text_offset":[0,5]},"finish_reason":"length"}],)"
            R"("usage":{"prompt_tokens":2,"completion_tokens":0,"total_tokens":2},)"
            R"("system_fingerprint":"fp_1234"})");
}

TEST(EncodeCompletion, TextOffsetsCountCharactersAcrossByteTokens) {
  CompletionResult c;
  c.meta = Meta("cmpl-1");
  c.with_logprobs = true;
  // "é" split into two byte tokens, then "x", then a stray byte, then "€" whole.
  c.logprobs = {{"\xC3", -1, {{"\xC3", -1}, {"\xC3", -2}, {"\xC4", -3}}},
                {"\xA9", -1, {}},
                {"x", -1, {}},
                {"\xFF", -1, {}},
                {"\xE2\x82\xAC", -1, {}}};
  boost::json::value v = Strict(EncodeCompletion(c));
  const auto& lp = v.at("choices").at(0).at("logprobs");
  EXPECT_EQ(lp.at("text_offset"), boost::json::parse("[0,0,1,2,3]"));
  EXPECT_EQ(lp.at("tokens").at(0), "bytes:\\xc3");
  // Duplicate display keys are dropped (first wins) so the object stays valid.
  EXPECT_EQ(lp.at("top_logprobs").at(0),
            boost::json::parse(R"({"bytes:\\xc3":-1,"bytes:\\xc4":-3})"));
}

TEST(CompletionChunkEncoder, StreamKeepsOffsetsAcrossChunks) {
  CompletionChunkEncoder enc(Meta("cmpl-s"), /*include_usage=*/true, /*with_logprobs=*/true);
  boost::json::value a =
      Strict(enc.TextChunk("ab", std::vector<TokenLogprob>{{"a", -1, {}}, {"b", -1, {}}}));
  boost::json::value b = Strict(enc.TextChunk("c", std::vector<TokenLogprob>{{"c", -1, {}}}));
  EXPECT_EQ(a.at("choices").at(0).at("logprobs").at("text_offset"), boost::json::parse("[0,1]"));
  EXPECT_EQ(b.at("choices").at(0).at("logprobs").at("text_offset"), boost::json::parse("[2]"));
  EXPECT_TRUE(b.at("usage").is_null());
  EXPECT_EQ(b.at("object"), "text_completion");
  EXPECT_TRUE(b.at("choices").at(0).at("finish_reason").is_null());
  boost::json::value f = Strict(enc.FinishChunk("stop"));
  EXPECT_EQ(f.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(f.at("choices").at(0).at("text"), "");
  boost::json::value u = Strict(enc.UsageChunk({3, 4}));
  EXPECT_TRUE(u.at("choices").as_array().empty());
  EXPECT_EQ(u.at("usage").at("total_tokens"), 7);
}

TEST(CompletionChunkEncoder, NoUsageKeyWithoutIncludeUsage) {
  CompletionChunkEncoder enc(Meta("cmpl-s"), false, false);
  boost::json::value a = Strict(enc.TextChunk("hi"));
  EXPECT_FALSE(a.as_object().contains("usage"));
  EXPECT_TRUE(a.at("choices").at(0).at("logprobs").is_null());
}

TEST(EncodeModelList, Golden) {
  std::vector<ModelInfo> models = {{"mixtral", 1700000000, "parapet"}, {"guard", 1, "acme"}};
  EXPECT_EQ(
      EncodeModelList(models),
      R"({"object":"list","data":[{"id":"mixtral","object":"model","created":1700000000,)"
      R"("owned_by":"parapet"},{"id":"guard","object":"model","created":1,"owned_by":"acme"}]})");
  EXPECT_EQ(EncodeModelList({}), R"({"object":"list","data":[]})");
  EXPECT_EQ(EncodeModel(models[1]),
            R"({"id":"guard","object":"model","created":1,"owned_by":"acme"})");
}

TEST(Sse, Framing) {
  EXPECT_EQ(SseData(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(SseDone(), "data: [DONE]\n\n");
  EXPECT_EQ(SseComment("keepalive"), ": keepalive\n\n");
  EXPECT_EQ(SseComment("a\nb\rc"), ": a b c\n\n");
}

TEST(NewResponseId, ShapeAndUniqueness) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewResponseId("chatcmpl-");
    ASSERT_EQ(id.size(), 9u + 24u);
    ASSERT_EQ(id.rfind("chatcmpl-", 0), 0u);
    for (char c : id.substr(9)) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(DisplayToken, ValidTextUnchanged) {
  EXPECT_EQ(DisplayToken("hello"), "hello");
  EXPECT_EQ(DisplayToken("\xE2\x82\xAC"), "\xE2\x82\xAC");
  EXPECT_EQ(DisplayToken(""), "");
  EXPECT_EQ(DisplayToken("a\xFF"), "bytes:\\x61\\xff");
}

TEST(EncodeChatCompletion, InvalidUtf8ContentIsRepairedNotDropped) {
  ChatCompletion c;
  c.meta = Meta();
  c.content = "ok\xFF";
  c.finish_reason = "stop";
  boost::json::value v = Strict(EncodeChatCompletion(c));
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "ok\xEF\xBF\xBD");
}

}  // namespace
}  // namespace parapet::gateway
