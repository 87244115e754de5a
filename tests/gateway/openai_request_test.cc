#include "gateway/openai_request.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/sampler.h"

namespace parapet::gateway {
namespace {

// Wraps chat fields around a valid minimal body.
std::string Chat(const std::string& extra) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}])";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}
std::string Completion(const std::string& extra) {
  std::string body = R"({"model":"m","prompt":"hi")";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

TEST(ParseChatCompletionRequest, MinimalDefaults) {
  auto r = ParseChatCompletionRequest(Chat(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "m");
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, "user");
  EXPECT_EQ(r->messages[0].content, "hi");
  EXPECT_FALSE(r->max_tokens.has_value());
  EXPECT_EQ(r->sampling.temperature, 1.0);
  EXPECT_EQ(r->sampling.top_p, 1.0);
  EXPECT_EQ(r->sampling.top_k, 0);
  EXPECT_FALSE(r->sampling.seed.has_value());
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_FALSE(r->logprobs);
}

TEST(ParseChatCompletionRequest, EveryField) {
  auto r = ParseChatCompletionRequest(
      R"({"model":"mixtral","messages":[{"role":"developer","content":"be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"name":"u1"},)"
      R"({"role":"assistant","content":null,"refusal":null},{"role":"system","content":""}],)"
      R"("max_completion_tokens":20,"max_tokens":20,"temperature":0,"top_p":0.5,"top_k":40,)"
      R"("min_p":0.05,"seed":-1,"stop":["x","y"],"stream":true,"stream_options":{"include_usage":true},)"
      R"("ignore_eos":true,"logprobs":true,"top_logprobs":20,"n":1,"presence_penalty":0,"frequency_penalty":0.0,)"
      R"("user":"abc","response_format":{"type":"text"},"logit_bias":{},"parallel_tool_calls":true,)"
      R"("store":false,"metadata":{"k":"v"},"service_tier":"auto","tools":null,"suffix":null})");
  ASSERT_TRUE(r.ok()) << r.error().param << ": " << r.error().message;
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "ab");
  EXPECT_EQ(r->messages[1].name, "u1");
  EXPECT_EQ(r->messages[2].role, "assistant");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->max_tokens, 20);
  EXPECT_EQ(r->sampling.temperature, 0.0);
  EXPECT_EQ(r->sampling.top_p, 0.5);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_DOUBLE_EQ(r->sampling.min_p, 0.05);
  EXPECT_TRUE(r->sampling.ignore_eos);
  EXPECT_EQ(r->sampling.seed, UINT64_MAX);
  EXPECT_EQ(r->stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_TRUE(r->logprobs);
  EXPECT_EQ(r->top_logprobs, 20);
  EXPECT_EQ(r->user, "abc");
}

TEST(ParseChatCompletionRequest, StopAsStringAndMaxCompletionTokensAlone) {
  auto r = ParseChatCompletionRequest(Chat(R"("stop":"END","max_completion_tokens":7)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r->max_tokens, 7);
  r = ParseChatCompletionRequest(Chat(R"("seed":18446744073709551615,"temperature":2)"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sampling.seed, UINT64_MAX);
}

struct BadRequest {
  std::string body;
  std::string param;
  int http_status = 400;
};

void ExpectChatRejects(const std::vector<BadRequest>& cases) {
  for (const BadRequest& c : cases) {
    auto r = ParseChatCompletionRequest(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().param, c.param) << c.body << " -> " << r.error().message;
    EXPECT_EQ(r.error().http_status, c.http_status) << c.body;
    EXPECT_EQ(r.error().type, "invalid_request_error") << c.body;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(ParseChatCompletionRequest, RejectsTable) {
  ExpectChatRejects({
      {"[]", ""},
      {"{\"model\":\"m\"", ""},  // invalid JSON
      {R"({"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":null,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":1,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":[]})", "messages"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":["hi"]})", "messages[0]"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","content":"x"}]})",
       "messages[1].role"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":[]}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":)"
       R"([{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}}]}]})",
       "messages[1].content[1].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"text":"a"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content[0].text"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]})",
       "messages[0].content[0].text"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","x":1}]}]})",
       "messages[0].content[0].x"},
      {R"({"model":"m","messages":[{"role":"user","content":[7]}]})", "messages[0].content[0]"},
      {R"({"model":"m","messages":[{"role":"user","content":"x","name":3}]})", "messages[0].name"},
      {R"({"model":"m","messages":[{"role":"user","content":"x","color":"red"}]})",
       "messages[0].color"},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{}]}]})",
       "messages[0].tool_calls"},
      {Chat(R"("max_tokens":0)"), "max_tokens"},
      {Chat(R"("max_tokens":-5)"), "max_tokens"},
      {Chat(R"("max_tokens":"5")"), "max_tokens"},
      {Chat(R"("max_tokens":5.0)"), "max_tokens"},
      {Chat(R"("max_tokens":4294967296)"), "max_tokens"},
      {Chat(R"("max_completion_tokens":0)"), "max_completion_tokens"},
      {Chat(R"("max_tokens":5,"max_completion_tokens":6)"), "max_tokens"},
      {Chat(R"("temperature":2.5)"), "temperature"},
      {Chat(R"("temperature":-0.1)"), "temperature"},
      {Chat(R"("temperature":"hot")"), "temperature"},
      {Chat(R"("top_p":0)"), "top_p"},
      {Chat(R"("top_p":1.01)"), "top_p"},
      {Chat(R"("top_k":-1)"), "top_k"},
      {Chat(R"("top_k":1.5)"), "top_k"},
      {Chat(R"("min_p":1.5)"), "min_p"},
      {Chat(R"("ignore_eos":1)"), "ignore_eos"},
      {Chat(R"("seed":1.5)"), "seed"},
      {Chat(R"("seed":"1")"), "seed"},
      {Chat(R"("stop":5)"), "stop"},
      {Chat(R"("stop":"")"), "stop"},
      {Chat(R"("stop":["a",""])"), "stop[1]"},
      {Chat(R"("stop":["a",2])"), "stop[1]"},
      {Chat(R"("stop":["a","b","c","d","e"])"), "stop"},
      {Chat(R"("stream":"yes")"), "stream"},
      {Chat(R"("stream_options":{"include_usage":true})"), "stream_options"},
      {Chat(R"("stream":false,"stream_options":{"include_usage":true})"), "stream_options"},
      {Chat(R"("stream":true,"stream_options":{"include_usage":1})"),
       "stream_options.include_usage"},
      {Chat(R"("stream":true,"stream_options":{"x":1})"), "stream_options.x"},
      {Chat(R"("stream":true,"stream_options":[])"), "stream_options"},
      {Chat(R"("logprobs":1)"), "logprobs"},
      {Chat(R"("top_logprobs":2)"), "top_logprobs"},
      {Chat(R"("logprobs":false,"top_logprobs":2)"), "top_logprobs"},
      {Chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs"},
      {Chat(R"("n":2)"), "n"},
      {Chat(R"("n":0)"), "n"},
      {Chat(R"("n":"1")"), "n"},
      {Chat(R"("presence_penalty":0.5)"), "presence_penalty"},
      {Chat(R"("frequency_penalty":-1)"), "frequency_penalty"},
      {Chat(R"("frequency_penalty":"0")"), "frequency_penalty"},
      {Chat(R"("user":7)"), "user"},
      {Chat(R"("response_format":{"type":"json_object"})"), "response_format"},
      {Chat(R"("response_format":{"type":"json_schema","json_schema":{}})"), "response_format"},
      {Chat(R"("response_format":{"type":"yaml"})"), "response_format.type"},
      {Chat(R"("response_format":{})"), "response_format.type"},
      {Chat(R"("response_format":"text")"), "response_format"},
      {Chat(R"("tools":[{"type":"function","function":{"name":"f"}}])"), "tools"},
      {Chat(R"("tool_choice":"auto")"), "tool_choice"},
      {Chat(R"("functions":[])"), "functions"},
      {Chat(R"("function_call":"none")"), "function_call"},
      {Chat(R"("logit_bias":{"50256":-100})"), "logit_bias"},
      {Chat(R"("logit_bias":[])"), "logit_bias"},
      {Chat(R"("audio":{})"), "audio"},
      {Chat(R"("modalities":["text","audio"])"), "modalities"},
      {Chat(R"("reasoning_effort":"low")"), "reasoning_effort"},
      {Chat(R"("store":"no")"), "store"},
      {Chat(R"("metadata":1)"), "metadata"},
      {Chat(R"("echo":true)"), "echo"},
      {Chat(R"("best_of":1)"), "best_of"},
      {Chat(R"("frobnicate":1)"), "frobnicate"},
  });
}

TEST(ParseChatCompletionRequest, ErrorWording) {
  auto r = ParseChatCompletionRequest(Chat(R"("n":2)"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Body(),
            R"({"error":{"message":"'n' is not supported by this server: only n=1 is supported",)"
            R"("type":"invalid_request_error","param":"n","code":"unsupported_parameter"}})");
  r = ParseChatCompletionRequest(Chat(R"("frobnicate":1)"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "Unrecognized request argument supplied: frobnicate");
  r = ParseChatCompletionRequest(Chat(R"("max_tokens":"5")"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "Invalid type for 'max_tokens': expected an integer, but got a string instead.");
  EXPECT_EQ(r.error().code, "invalid_type");
  r = ParseChatCompletionRequest(Chat(R"("temperature":3)"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "Invalid 'temperature': expected a number in [0, 2], but got 3 instead.");
  r = ParseChatCompletionRequest(std::string("{\"model\":\"\xff\"}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_json");
  EXPECT_EQ(r.error().message,
            "We could not parse the JSON body of your request: invalid JSON at byte 10: invalid "
            "UTF-8");
}

TEST(ParseChatCompletionRequest, UnknownKeyIsTruncatedInError) {
  std::string key(1000, 'k');
  auto r = ParseChatCompletionRequest(Chat("\"" + key + "\":1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().param, std::string(64, 'k'));
}

TEST(ParseCompletionRequest, Defaults) {
  auto r = ParseCompletionRequest(Completion(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "m");
  EXPECT_FALSE(r->prompt_is_tokens);
  EXPECT_EQ(r->prompt_text, "hi");
  EXPECT_EQ(r->max_tokens, 16);
  EXPECT_FALSE(r->logprobs.has_value());
  EXPECT_FALSE(r->echo);
}

TEST(ParseCompletionRequest, PromptForms) {
  auto r = ParseCompletionRequest(R"({"model":"m","prompt":[1,2,3]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->prompt_is_tokens);
  EXPECT_EQ(r->prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  r = ParseCompletionRequest(R"({"model":"m","prompt":["only one"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->prompt_is_tokens);
  EXPECT_EQ(r->prompt_text, "only one");
  r = ParseCompletionRequest(R"({"model":"m","prompt":[[5,6]]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_tokens, (std::vector<int32_t>{5, 6}));
  r = ParseCompletionRequest(R"({"model":"m","prompt":""})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_text, "");
}

TEST(ParseCompletionRequest, EvaluationHarnessShape) {
  // lm-evaluation-harness local-completions, loglikelihood: echo + max_tokens 0 + logprobs.
  auto r = ParseCompletionRequest(
      R"({"model":"m","prompt":[1,450,4996],"max_tokens":0,"temperature":0,"logprobs":1,)"
      R"("seed":1234,"echo":true})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->max_tokens, 0);
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(r->logprobs, 1);
  EXPECT_EQ(r->sampling.seed, 1234u);
  r = ParseCompletionRequest(Completion(
      R"("max_tokens":5,"stop":["\n"],"stream":true,"stream_options":{"include_usage":true},)"
      R"("n":1,"best_of":1,"suffix":"","logit_bias":{},"presence_penalty":0,"user":"u","top_k":3,)"
      R"("min_p":0.1,"top_p":0.9,"logprobs":0)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->logprobs, 0);
}

TEST(ParseCompletionRequest, RejectsTable) {
  const BadRequest cases[] = {
      {R"({"prompt":"x"})", "model"},
      {R"({"model":"m"})", "prompt"},
      {R"({"model":"m","prompt":null})", "prompt"},
      {R"({"model":"m","prompt":5})", "prompt"},
      {R"({"model":"m","prompt":[]})", "prompt"},
      {R"({"model":"m","prompt":["a","b"]})", "prompt"},
      {R"({"model":"m","prompt":[[1],[2]]})", "prompt"},
      {R"({"model":"m","prompt":[1,"a"]})", "prompt[1]"},
      {R"({"model":"m","prompt":[1,-2]})", "prompt[1]"},
      {R"({"model":"m","prompt":[1,2.5]})", "prompt[1]"},
      {R"({"model":"m","prompt":[[]]})", "prompt[0]"},
      {R"({"model":"m","prompt":[{}]})", "prompt[0]"},
      {R"({"model":"m","prompt":[true]})", "prompt[0]"},
      {Completion(R"("max_tokens":0)"), "max_tokens"},
      {Completion(R"("max_tokens":-1)"), "max_tokens"},
      {Completion(R"("logprobs":6)"), "logprobs"},
      {Completion(R"("logprobs":true)"), "logprobs"},
      {Completion(R"("echo":"yes")"), "echo"},
      {Completion(R"("n":3)"), "n"},
      {Completion(R"("best_of":2)"), "best_of"},
      {Completion(R"("suffix":"tail")"), "suffix"},
      {Completion(R"("suffix":1)"), "suffix"},
      {Completion(R"("presence_penalty":1)"), "presence_penalty"},
      {Completion(R"("logit_bias":{"1":1})"), "logit_bias"},
      {Completion(R"("stream_options":{"include_usage":true})"), "stream_options"},
      {Completion(R"("temperature":5)"), "temperature"},
      {Completion(R"("messages":[])"), "messages"},
      {Completion(R"("top_logprobs":1)"), "top_logprobs"},
  };
  for (const BadRequest& c : cases) {
    auto r = ParseCompletionRequest(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().param, c.param) << c.body << " -> " << r.error().message;
    EXPECT_EQ(r.error().http_status, 400);
  }
}

// Every range the parsers accept is one the engine's sampler accepts.
TEST(ParseChatCompletionRequest, RangesAgreeWithTheEngine) {
  static_assert(kMaxChatTopLogprobs <= engine::kMaxLogprobs);
  static_assert(kMaxCompletionLogprobs <= engine::kMaxLogprobs);
  for (const char* extra : {R"("temperature":0,"top_p":1e-9,"min_p":0,"top_k":0)",
                            R"("temperature":2,"top_p":1,"min_p":1,"top_k":2147483647)"}) {
    auto r = ParseChatCompletionRequest(
        Chat(std::string(extra) + R"(,"logprobs":true,"top_logprobs":20)"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    engine::SamplingParams p;
    p.temperature = static_cast<float>(r->sampling.temperature);
    p.top_p = static_cast<float>(r->sampling.top_p);
    p.min_p = static_cast<float>(r->sampling.min_p);
    p.top_k = r->sampling.top_k;
    p.n_logprobs = r->top_logprobs;
    EXPECT_TRUE(engine::ValidateSamplingParams(p).ok()) << extra;
  }
}

}  // namespace
}  // namespace parapet::gateway
