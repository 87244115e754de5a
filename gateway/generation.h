// Generation: one admitted chat or text completion running on the engine. It is the
// engine::TokenSink of its request and turns the engine's tokens into the OpenAI response: SSE
// chunks as they come (stream) or one JSON body at the end. GenerationTracker is the thread that
// sends ": keepalive" comments on quiet streams (queued, long prefill) and cancels generations
// whose deadline passed.
//
// Output policy: when the request's policy has output stages, every piece of text goes through a
// pipeline::StreamGuard first (streams and whole responses alike): the client gets only what the
// guard releases, redactions applied; when it blocks, the generation is cancelled at once and the
// response ends with finish_reason "content_filter" and the rule id and policy message in
// `content_filter_results.policy` (streams: a last chunk, then [DONE]).
//
// Cancellation: when the client goes away (Exchange::OnAbort), the deadline passes or the output
// guard blocks, the generation asks the scheduler to cancel it; the engine stops before its next
// decode step and frees the sequence's KV reservation, and OnDone reports why.
//
// Thread-safety: a Generation's methods run on the scheduler thread (OnText, OnDone — or, with a
// costly output guard, a serial worker executor they post to), the tracker thread (Tick) and
// network threads (Start, the abort callback); one mutex orders them. The
// Exchange it writes to is itself thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/scheduler.h"
#include "gateway/api_error.h"
#include "gateway/exchange.h"
#include "gateway/openai_response.h"
#include "gateway/request_audit.h"
#include "pipeline/stream_guard.h"
#include "policies/policy_set.h"

namespace parapet::gateway {

using SteadyClock = std::chrono::steady_clock;

// "x-parapet-policy: <name>; version=<sha256>": the input policy a response was decided under.
inline constexpr const char* kPolicyHeader = "x-parapet-policy";

// Response heads shared by generations and the handler (the policy header when not empty).
ResponseHeader StreamHeader(const std::string& policy_header);
Response JsonResponse(http::status status, std::string body, const std::string& policy_header);

// What a request asked for, as the Generation needs it to shape the response.
struct GenerationSpec {
  enum class Kind { kChat, kCompletion };
  Kind kind = Kind::kChat;
  ResponseMeta meta;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;  // report per-token logprobs
  // Completions with echo: the prompt text (prepended to the output) and, with logprobs, the
  // prompt tokens to report (their scores come from the engine's prompt scores).
  bool echo = false;
  std::string echo_text;
  std::vector<engine::TokenId> echo_ids;  // the prompt ids as the client sees them
  size_t echo_skip = 0;                   // leading prompt ids not echoed (an added BOS)
  bool echo_strip_space = false;     // the first echoed piece carries the tokenizer's added space
  SteadyClock::time_point started;   // request arrival
  SteadyClock::time_point deadline;  // cancel if not finished by then
  int64_t keepalive_ms = 5000;       // SSE comment after this long without a write
  std::string policy_header;         // x-parapet-policy value, "" without a policy
  // The request's policy, pinned (the set keeps it alive across reloads); null without one.
  // When it has output stages, a StreamGuard stands between the engine and the client.
  std::shared_ptr<const policies::PolicySet> policy_set;
  const policies::Policy* policy = nullptr;
  // The request's turns (after input redaction), for output stages that judge the response in
  // its conversation (guard_model).
  std::vector<pipeline::ContextTurn> guard_context;
  // Set when the output policy has costly stages (a guard model): the engine's text is handed to
  // this serial executor and guarded there, so a guard check does not stall the scheduler thread
  // (every other stream's decoding). Unset: guarded on the scheduler thread.
  std::optional<boost::asio::any_io_executor> guard_executor;
  // The request's audit records (null without an audit trail): the completion record is made
  // durable before the response's last byte goes out.
  std::shared_ptr<RequestAudit> audit;
};

// How a generation ended, for metrics and the rate limiter.
struct GenerationOutcome {
  int http_status = 200;  // what the client got (200 for every stream once started)
  // "stop" | "length" | "content_filter" | "cancelled" | "error" | "timeout"
  std::string finish_reason;
  // "client_gone" | "deadline" | "content_filter" | "" when not cancelled
  std::string cancel_reason;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double ttft_s = -1;     // arrival to the first token; < 0 when none came
  double duration_s = 0;  // arrival to the end
  // The output guard (when the policy has output stages): what it acted on (enforced findings;
  // shadow ones with mode "shadow") and, per released token, seconds from generation to release.
  std::string policy;         // the policy's name
  std::string output_action;  // "allow" | "flag" | "redact" | "block"; "" without guard
  std::vector<pipeline::Finding> output_findings;
  std::vector<pipeline::Finding> output_shadow;
  std::vector<double> release_latency_s;
};

class Generation : public engine::TokenSink, public std::enable_shared_from_this<Generation> {
 public:
  using FinishFn = std::function<void(const GenerationOutcome&)>;

  // `on_finish` runs once, on the scheduler thread (or spec.guard_executor), after the response was
  // handed to the exchange. `tokenizer` and `scheduler` must outlive the Generation's engine work.
  Generation(std::shared_ptr<Exchange> exchange, GenerationSpec spec,
             const engine::Tokenizer& tokenizer, engine::Scheduler& scheduler, FinishFn on_finish);

  // Submits `request` to the scheduler and, for a stream, sends the response header and first
  // chunk. On failure nothing was sent and the caller answers with the error (503 + Retry-After
  // for a full queue, 400 for a request the engine cannot run).
  ApiResult<uint64_t> Start(engine::GenerationRequest request);

  // Tracker: a keepalive comment on a quiet stream; cancellation past the deadline.
  void Tick(SteadyClock::time_point now);
  bool finished() const;

  // engine::TokenSink (scheduler thread): delivered at once, or posted to spec.guard_executor.
  void OnText(std::string_view text, engine::TokenId id,
              const engine::SampleResult& sample) override;
  void OnDone(const Status& status, std::string_view finish_reason,
              const engine::GenerateResult& summary) override;

 private:
  void DeliverText(std::string_view text, const engine::SampleResult& sample);
  void DeliverDone(const Status& status, std::string_view finish_reason,
                   const engine::GenerateResult& summary);
  TokenLogprob ToLogprob(const engine::SampleResult& sample) const;
  void WriteLocked(std::string data);
  // Final responses (REQUIRES: mu_ held).
  // `tail` is what the output guard released at the end; `filter` is set when it blocked.
  // `audited`: false when the completion record could not be written under on_failure: reject —
  // the response then ends with an error instead of its normal end.
  void FinishStream(const Status& status, std::string_view reason, const std::string& tail,
                    const std::optional<ContentFilterInfo>& filter,
                    const engine::GenerateResult& summary, GenerationOutcome& out, bool audited);
  void FinishBody(const Status& status, std::string_view reason, const std::string& tail,
                  const std::optional<ContentFilterInfo>& filter,
                  const engine::GenerateResult& summary, GenerationOutcome& out, bool audited);
  audit::CompletionRecord CompletionRecordFor(const Status& status, const std::string& tail,
                                              const engine::GenerateResult& summary,
                                              const GenerationOutcome& out) const;
  std::string CompletionText(const engine::GenerateResult& summary, const std::string& tail) const;
  // The output guard's part of OnText / OnDone (REQUIRES: mu_ held). GuardText returns the text
  // to send now; GuardFinish the rest, at the end.
  std::string GuardText(std::string_view text);
  std::string GuardFinish();
  void NoteReleased(SteadyClock::time_point now);
  std::optional<ContentFilterInfo> FilterInfo() const;
  std::vector<TokenLogprob> AllLogprobs(const engine::GenerateResult& summary) const;

  const std::shared_ptr<Exchange> exchange_;
  const GenerationSpec spec_;
  const engine::Tokenizer& tokenizer_;
  engine::Scheduler& scheduler_;
  const FinishFn on_finish_;

  // Why the generation was cancelled. Atomic (like id_) so that the abort callback never takes
  // mu_: the transport may run it from inside an Exchange call made under mu_.
  enum Cancel : int { kNotCancelled = 0, kClientGone, kDeadline, kContentFilter };
  std::atomic<int> cancel_{kNotCancelled};
  std::atomic<uint64_t> id_{0};  // scheduler id once submitted

  mutable std::mutex mu_;
  bool done_ = false;                            // GUARDED_BY(mu_) OnDone ran
  SteadyClock::time_point last_write_;           // GUARDED_BY(mu_)
  SteadyClock::time_point first_token_;          // GUARDED_BY(mu_) {} until the first token
  std::vector<TokenLogprob> pending_;            // GUARDED_BY(mu_) logprobs of tokens not yet sent
  std::optional<ChatChunkEncoder> chat_chunks_;  // streams only
  std::optional<CompletionChunkEncoder> completion_chunks_;  // streams only
  // Output guard (policies with output stages).
  std::optional<pipeline::StreamGuard> guard_;  // GUARDED_BY(mu_)
  // Per token still held back: the end of its text in the response, and when it was generated.
  std::deque<std::pair<size_t, SteadyClock::time_point>> unreleased_;  // GUARDED_BY(mu_)
  size_t pushed_bytes_ = 0;                                            // GUARDED_BY(mu_)
  std::string released_;  // GUARDED_BY(mu_) released so far (non-streams, and audited streams)
  std::vector<double> latencies_;  // GUARDED_BY(mu_) generation -> release, seconds
};

// The thread that calls Tick on every live generation every `period`.
class GenerationTracker {
 public:
  explicit GenerationTracker(std::chrono::milliseconds period = std::chrono::milliseconds(100));
  ~GenerationTracker();  // stops and joins the thread
  GenerationTracker(const GenerationTracker&) = delete;
  GenerationTracker& operator=(const GenerationTracker&) = delete;

  void Add(const std::shared_ptr<Generation>& generation);
  size_t size() const;

 private:
  void Run();

  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                  // GUARDED_BY(mu_)
  std::map<Generation*, std::weak_ptr<Generation>> live_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace parapet::gateway
