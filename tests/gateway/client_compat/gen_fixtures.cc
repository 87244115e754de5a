// Writes the API layer's encoder outputs (chat, chat stream, completion with echo logprobs,
// completion stream, models, an error) into the current directory, for check.mjs to feed to the
// official openai npm client. Built and run by run.sh; not part of the test binaries.
#include <fstream>
#include <limits>
#include <string>
#include <vector>
#include "gateway/openai_request.h"
#include "gateway/openai_response.h"
using namespace parapet::gateway;
void Put(const char* path, const std::string& s) { std::ofstream(path) << s; }
int main() {
  ResponseMeta meta{NewResponseId("chatcmpl-"), 1700000000, "mixtral", "fp_0123abcd"};
  ChatCompletion c;
  c.meta = meta;
  c.content = "Hello \xE2\x82\xAC!";
  c.finish_reason = "stop";
  c.with_logprobs = true;
  c.logprobs = {{"Hello", -0.1, {{"Hello", -0.1}, {"Hi", -2.3}}},
                {" \xE2\x82", -0.2, {{" \xE2\x82", -0.2}}},
                {"\xAC", -0.01, {}},
                {"!", -0.5, {}}};
  c.usage = {10, 4};
  Put("chat.json", EncodeChatCompletion(c));
  ChatChunkEncoder enc(meta, true, true);
  std::string sse = SseComment("keepalive") + SseData(enc.RoleChunk());
  sse += SseData(
      enc.ContentChunk("Hello", std::vector<TokenLogprob>{{"Hello", -0.1, {{"Hello", -0.1}}}}));
  sse += SseData(
      enc.ContentChunk(" world", std::vector<TokenLogprob>{{" world", -0.3, {{" world", -0.3}}}}));
  sse += SseData(
      enc.FinishChunk("content_filter", ContentFilterInfo{"pii.email", "No e-mail addresses."}));
  sse += SseData(enc.UsageChunk({10, 2})) + SseDone();
  Put("chat_stream.txt", sse);
  CompletionResult r;
  r.meta = meta;
  r.meta.id = NewResponseId("cmpl-");
  r.text = "The cat sat";
  r.finish_reason = "length";
  r.with_logprobs = true;
  r.logprobs = {{"The", std::numeric_limits<double>::quiet_NaN(), {}},
                {" cat", -3.0, {{" cat", -3.0}, {" dog", -3.5}}},
                {" sat", -1.0, {{" sat", -1.0}}}};
  r.usage = {2, 1};
  Put("completion.json", EncodeCompletion(r));
  CompletionChunkEncoder cenc(r.meta, true, true);
  std::string csse =
      SseData(cenc.TextChunk(" sat", std::vector<TokenLogprob>{{" sat", -1.0, {{" sat", -1.0}}}}));
  csse += SseData(cenc.FinishChunk("stop")) + SseData(cenc.UsageChunk({2, 1})) + SseDone();
  Put("completion_stream.txt", csse);
  std::vector<ModelInfo> models = {{"mixtral", 1700000000, "parapet"}};
  Put("models.json", EncodeModelList(models));
  auto bad = ParseChatCompletionRequest(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})");
  Put("error.json", bad.error().Body());
}
