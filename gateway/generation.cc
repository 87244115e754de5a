// Generation: engine tokens -> OpenAI responses; GenerationTracker: keepalives and deadlines.
#include "gateway/generation.h"

#include <boost/asio/post.hpp>
#include <cmath>
#include <limits>

#include "common/logging.h"
#include "engine/tokenizer.h"

namespace parapet::gateway {
namespace {

double SecondsBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

ResponseHeader StreamHeader(const std::string& policy_header) {
  ResponseHeader h;
  if (!policy_header.empty()) h.set(kPolicyHeader, policy_header);
  h.result(http::status::ok);
  h.version(11);
  h.set(http::field::content_type, "text/event-stream; charset=utf-8");
  h.set(http::field::cache_control, "no-cache");
  h.set("X-Accel-Buffering", "no");  // proxies must not buffer the stream
  return h;
}

Response JsonResponse(http::status status, std::string body, const std::string& policy_header) {
  Response r(status, 11);
  if (!policy_header.empty()) r.set(kPolicyHeader, policy_header);
  r.set(http::field::content_type, "application/json");
  r.body() = std::move(body);
  return r;
}

namespace {

// The error a finished-but-failed generation reports, and its HTTP status for non-streams.
ApiError FailureError(const Status& status, bool timed_out) {
  if (timed_out) {
    ApiError e{504, "timeout", "the request did not finish within the server's deadline", "",
               "request_timeout"};
    return e;
  }
  if (status.code() == StatusCode::kResourceExhausted ||
      status.code() == StatusCode::kUnavailable) {
    return Overloaded("the engine could not run the request; retry later");
  }
  return ServerError("the engine failed while generating");
}

}  // namespace

// ---- Generation ----

Generation::Generation(std::shared_ptr<Exchange> exchange, GenerationSpec spec,
                       const engine::Tokenizer& tokenizer, engine::Scheduler& scheduler,
                       FinishFn on_finish)
    : exchange_(std::move(exchange)),
      spec_(std::move(spec)),
      tokenizer_(tokenizer),
      scheduler_(scheduler),
      on_finish_(std::move(on_finish)) {
  if (spec_.policy != nullptr && spec_.policy->has_output()) {
    pipeline::StreamGuardOptions o = spec_.policy->stream_options();
    o.context = spec_.guard_context;  // the request, for stages that judge the exchange
    guard_.emplace(spec_.policy->output(), std::move(o));
  }
}

ApiResult<uint64_t> Generation::Start(engine::GenerationRequest request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Held across Submit: the scheduler's first OnText waits until the stream header is out.
    Result<uint64_t> id = scheduler_.Submit(std::move(request), shared_from_this());
    if (!id.ok()) {
      if (id.status().code() == StatusCode::kResourceExhausted) {
        return Overloaded("the server is at capacity (" + id.status().message() + "); retry later");
      }
      if (id.status().code() == StatusCode::kInvalidArgument) {
        return InvalidParam("", id.status().message());
      }
      PARAPET_LOG(kError) << "generation submit failed: " << id.status().ToString();
      return Overloaded("the engine is not available");
    }
    id_.store(*id);
    last_write_ = SteadyClock::now();
    if (spec_.stream) {
      exchange_->StartStream(StreamHeader(spec_.policy_header));
      if (spec_.kind == GenerationSpec::Kind::kChat) {
        chat_chunks_.emplace(spec_.meta, spec_.include_usage, spec_.logprobs);
        WriteLocked(SseData(chat_chunks_->RoleChunk()));
      } else {
        completion_chunks_.emplace(spec_.meta, spec_.include_usage, spec_.logprobs);
        if (spec_.echo && !spec_.echo_text.empty()) {
          WriteLocked(SseData(completion_chunks_->TextChunk(spec_.echo_text)));
        }
      }
    }
  }
  // Client gone: cancel (the scheduler drops it before its next decode step). Registered
  // unlocked: an exchange already aborted runs the callback at once.
  std::weak_ptr<Generation> weak = weak_from_this();
  exchange_->OnAbort([weak] {
    if (std::shared_ptr<Generation> g = weak.lock()) {
      int expected = kNotCancelled;
      g->cancel_.compare_exchange_strong(expected, kClientGone);
      g->scheduler_.Cancel(g->id_.load());  // a finished id is ignored
    }
  });
  return id_.load();
}

bool Generation::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

void Generation::Tick(SteadyClock::time_point now) {
  uint64_t cancel_id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_ || id_.load() == 0) return;
    int expected = kNotCancelled;
    if (now >= spec_.deadline && cancel_.compare_exchange_strong(expected, kDeadline)) {
      cancel_id = id_.load();
    } else if (spec_.stream && now - last_write_ >= std::chrono::milliseconds(spec_.keepalive_ms)) {
      WriteLocked(SseComment("keepalive"));
    }
  }
  if (cancel_id != 0) scheduler_.Cancel(cancel_id);
}

void Generation::WriteLocked(std::string data) {
  last_write_ = SteadyClock::now();
  exchange_->Write(std::move(data));  // false = client gone; OnAbort handles that
}

TokenLogprob Generation::ToLogprob(const engine::SampleResult& sample) const {
  TokenLogprob t;
  t.token = tokenizer_.TokenToPiece(sample.id);
  t.logprob = sample.logprob;
  t.top.reserve(sample.top.size());
  for (const engine::TokenLogprob& alt : sample.top) {
    t.top.emplace_back(tokenizer_.TokenToPiece(alt.id), alt.logprob);
  }
  return t;
}

void Generation::OnText(std::string_view text, engine::TokenId /*id*/,
                        const engine::SampleResult& sample) {
  if (!spec_.guard_executor) return DeliverText(text, sample);
  boost::asio::post(*spec_.guard_executor, [self = shared_from_this(), t = std::string(text),
                                            sample] { self->DeliverText(t, sample); });
}

void Generation::OnDone(const Status& status, std::string_view finish_reason,
                        const engine::GenerateResult& summary) {
  if (!spec_.guard_executor) return DeliverDone(status, finish_reason, summary);
  boost::asio::post(*spec_.guard_executor,
                    [self = shared_from_this(), status, reason = std::string(finish_reason),
                     summary] { self->DeliverDone(status, reason, summary); });
}

void Generation::DeliverText(std::string_view text, const engine::SampleResult& sample) {
  uint64_t cancel_id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_token_ == SteadyClock::time_point{}) first_token_ = SteadyClock::now();
    if (done_) return;
    std::string guarded;
    if (guard_) {
      if (guard_->blocked()) return;  // cancelled; the engine may still be finishing a step
      guarded = GuardText(text);
      int expected = kNotCancelled;
      if (guard_->blocked() && cancel_.compare_exchange_strong(expected, kContentFilter)) {
        cancel_id = id_.load();  // stop generating now: nothing more can reach the client
      }
      if (!spec_.stream || spec_.audit != nullptr) released_ += guarded;
      text = guarded;
    } else if (spec_.logprobs) {
      pending_.push_back(ToLogprob(sample));
    }
    if (spec_.stream && !text.empty()) {  // empty: held back (partial character, stop string)
      if (chat_chunks_) {
        WriteLocked(SseData(chat_chunks_->ContentChunk(text, pending_)));
      } else {
        WriteLocked(SseData(completion_chunks_->TextChunk(text, pending_)));
      }
      pending_.clear();
    }
  }
  if (cancel_id != 0) scheduler_.Cancel(cancel_id);
}

std::string Generation::GuardText(std::string_view text) {
  const SteadyClock::time_point generated = SteadyClock::now();
  std::string out = guard_->Push(text);
  pushed_bytes_ += text.size();
  if (!text.empty()) unreleased_.emplace_back(pushed_bytes_, generated);
  NoteReleased(SteadyClock::now());
  return out;
}

std::string Generation::GuardFinish() {
  std::string out = guard_->Finish();
  NoteReleased(SteadyClock::now());
  return out;
}

void Generation::NoteReleased(SteadyClock::time_point now) {
  while (!unreleased_.empty() && unreleased_.front().first <= guard_->released_bytes()) {
    latencies_.push_back(SecondsBetween(unreleased_.front().second, now));
    unreleased_.pop_front();
  }
}

std::optional<ContentFilterInfo> Generation::FilterInfo() const {
  if (!guard_ || !guard_->blocked()) return std::nullopt;
  // Never the matched text: the rule id and the policy's own message.
  return ContentFilterInfo{guard_->block().rule_id, spec_.policy->output_message()};
}

void Generation::DeliverDone(const Status& status, std::string_view finish_reason,
                             const engine::GenerateResult& summary) {
  GenerationOutcome out;
  std::string tail;  // what the output guard still held
  std::optional<ContentFilterInfo> filter;
  std::string reason;
  std::optional<audit::CompletionRecord> record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    const int cancel = cancel_.load();
    if (guard_ && status.ok() && (cancel == kNotCancelled || cancel == kContentFilter)) {
      tail = GuardFinish();
    }
    const SteadyClock::time_point now = SteadyClock::now();
    out.prompt_tokens = summary.prompt_tokens;
    out.completion_tokens = summary.generated_tokens;
    out.duration_s = SecondsBetween(spec_.started, now);
    if (first_token_ != SteadyClock::time_point{}) {
      out.ttft_s = SecondsBetween(spec_.started, first_token_);
    }
    out.cancel_reason = cancel == kClientGone      ? "client_gone"
                        : cancel == kDeadline      ? "deadline"
                        : cancel == kContentFilter ? "content_filter"
                                                   : "";
    filter = FilterInfo();
    reason = filter ? "content_filter" : std::string(finish_reason);
    out.finish_reason = reason;
    // What the client gets (Finish* send it): the status and, for failures, the reason.
    const bool timed_out = cancel == kDeadline;
    if (timed_out) out.finish_reason = "timeout";
    out.http_status = spec_.stream                ? 200
                      : cancel == kClientGone     ? 499
                      : !status.ok() || timed_out ? FailureError(status, timed_out).http_status
                                                  : 200;
    if (spec_.policy != nullptr) out.policy = spec_.policy->name();
    if (guard_) {
      pipeline::Action action = pipeline::Action::kAllow;
      for (const pipeline::Finding& f : guard_->findings()) {
        if (static_cast<int>(f.action) > static_cast<int>(action)) action = f.action;
      }
      out.output_action = pipeline::ActionName(action);
      out.output_findings = guard_->findings();
      out.output_shadow = guard_->shadow();
      out.release_latency_s = std::move(latencies_);
    }
    if (!status.ok()) {
      PARAPET_LOG(kError) << "generation failed: " << status.ToString();
    }
    if (spec_.audit == nullptr) {
      if (spec_.stream) {
        FinishStream(status, reason, tail, filter, summary, out, true);
      } else {
        FinishBody(status, reason, tail, filter, summary, out, true);
      }
    } else {
      record = CompletionRecordFor(status, tail, summary, out);
    }
  }
  if (!record) {
    if (on_finish_) on_finish_(out);
    return;
  }
  // The completion record is durable before the response's last byte.
  const std::string output = guard_ ? released_ + tail : summary.text;
  spec_.audit->Complete(std::move(*record), output,
                        [self = shared_from_this(), status, reason, tail, filter,
                         summary = engine::GenerateResult(summary), out](bool ok) mutable {
                          {
                            std::lock_guard<std::mutex> lock(self->mu_);
                            if (self->spec_.stream) {
                              self->FinishStream(status, reason, tail, filter, summary, out, ok);
                            } else {
                              self->FinishBody(status, reason, tail, filter, summary, out, ok);
                            }
                          }
                          if (self->on_finish_) self->on_finish_(out);
                        });
}

audit::CompletionRecord Generation::CompletionRecordFor(const Status& status,
                                                        const std::string& tail,
                                                        const engine::GenerateResult& summary,
                                                        const GenerationOutcome& out) const {
  audit::CompletionRecord r;
  r.request_id = spec_.meta.id;
  r.status = out.http_status;
  r.finish_reason = out.finish_reason;
  r.error = !status.ok() ? status.message() : out.cancel_reason;
  r.prompt_tokens = summary.prompt_tokens;
  r.completion_tokens = summary.generated_tokens;
  r.ttft_ms = out.ttft_s < 0 ? -1 : out.ttft_s * 1000;
  r.duration_ms = out.duration_s * 1000;
  const std::string text = guard_ ? released_ + tail : summary.text;
  r.output_hmac = spec_.audit->Tag(text);
  r.output_chars = audit::CountChars(text);
  if (guard_) {
    r.decision = out.output_action;
    r.findings = AuditFindings(guard_->findings(), guard_->shadow(), guard_->text());
  }
  return r;
}

void Generation::FinishStream(const Status& status, std::string_view reason,
                              const std::string& tail,
                              const std::optional<ContentFilterInfo>& filter,
                              const engine::GenerateResult& summary, GenerationOutcome& out,
                              bool audited) {
  out.http_status = 200;
  if (cancel_.load() == kClientGone) return;  // nobody to tell
  const bool timed_out = cancel_.load() == kDeadline;
  if (!status.ok() || timed_out || !audited) {
    if (timed_out) out.finish_reason = "timeout";
    // Headers are out: the error travels as an SSE event, which the OpenAI clients raise.
    WriteLocked(SseData(audited
                            ? FailureError(status, timed_out).Body()
                            : Overloaded("the audit log could not record this response").Body()));
    exchange_->End();
    return;
  }
  const Usage usage{summary.prompt_tokens, summary.generated_tokens};
  if (chat_chunks_) {
    if (!pending_.empty() || !tail.empty()) {
      WriteLocked(SseData(chat_chunks_->ContentChunk(tail, pending_)));
    }
    WriteLocked(SseData(chat_chunks_->FinishChunk(reason, filter)));
    if (spec_.include_usage) WriteLocked(SseData(chat_chunks_->UsageChunk(usage)));
  } else {
    if (!pending_.empty() || !tail.empty()) {
      WriteLocked(SseData(completion_chunks_->TextChunk(tail, pending_)));
    }
    WriteLocked(SseData(completion_chunks_->FinishChunk(reason, filter)));
    if (spec_.include_usage) WriteLocked(SseData(completion_chunks_->UsageChunk(usage)));
  }
  pending_.clear();
  WriteLocked(SseDone());
  exchange_->End();
}

void Generation::FinishBody(const Status& status, std::string_view reason, const std::string& tail,
                            const std::optional<ContentFilterInfo>& filter,
                            const engine::GenerateResult& summary, GenerationOutcome& out,
                            bool audited) {
  if (cancel_.load() == kClientGone) {
    out.http_status = 499;  // client closed the request (nginx's convention; metrics only)
    return;
  }
  const bool timed_out = cancel_.load() == kDeadline;
  if (!status.ok() || timed_out || !audited) {
    if (timed_out) out.finish_reason = "timeout";
    const ApiError e = audited ? FailureError(status, timed_out)
                               : Overloaded("the audit log could not record this response");
    out.http_status = e.http_status;
    exchange_->Respond(
        JsonResponse(static_cast<http::status>(e.http_status), e.Body(), spec_.policy_header));
    return;
  }
  out.http_status = 200;
  const Usage usage{summary.prompt_tokens, summary.generated_tokens};
  if (spec_.kind == GenerationSpec::Kind::kChat) {
    ChatCompletion c;
    c.meta = spec_.meta;
    c.content = guard_ ? released_ + tail : summary.text;
    c.finish_reason = std::string(reason);
    c.content_filter = filter;
    c.with_logprobs = spec_.logprobs;
    if (spec_.logprobs) {
      for (const engine::SampleResult& s : summary.steps) c.logprobs.push_back(ToLogprob(s));
    }
    c.usage = usage;
    exchange_->Respond(
        JsonResponse(http::status::ok, EncodeChatCompletion(c), spec_.policy_header));
    return;
  }
  CompletionResult c;
  c.meta = spec_.meta;
  c.text = CompletionText(summary, tail);
  c.finish_reason = std::string(reason);
  c.content_filter = filter;
  c.with_logprobs = spec_.logprobs;
  if (spec_.logprobs) c.logprobs = AllLogprobs(summary);
  c.usage = usage;
  exchange_->Respond(JsonResponse(http::status::ok, EncodeCompletion(c), spec_.policy_header));
}

std::string Generation::CompletionText(const engine::GenerateResult& summary,
                                       const std::string& tail) const {
  const std::string text = guard_ ? released_ + tail : summary.text;
  return spec_.echo ? spec_.echo_text + text : text;
}

std::vector<TokenLogprob> Generation::AllLogprobs(const engine::GenerateResult& summary) const {
  std::vector<TokenLogprob> all;
  if (spec_.echo) {
    // prompt_steps[i] scores prompt token i + 1; the very first prompt token has no score.
    for (size_t i = spec_.echo_skip; i < spec_.echo_ids.size(); ++i) {
      if (i == 0 || i - 1 >= summary.prompt_steps.size()) {
        TokenLogprob t;
        t.token = tokenizer_.TokenToPiece(spec_.echo_ids[i]);
        t.logprob = std::numeric_limits<double>::quiet_NaN();
        all.push_back(std::move(t));
      } else {
        all.push_back(ToLogprob(summary.prompt_steps[i - 1]));
      }
      // SentencePiece adds a space before the text; the echoed text does not have it, so the
      // first piece drops it and text offsets line up with the echoed prompt.
      if (i == spec_.echo_skip && spec_.echo_strip_space && all.back().token.starts_with(' ')) {
        all.back().token.erase(0, 1);
      }
    }
  }
  for (const engine::SampleResult& s : summary.steps) all.push_back(ToLogprob(s));
  return all;
}

// ---- GenerationTracker ----

GenerationTracker::GenerationTracker(std::chrono::milliseconds period)
    : period_(period), thread_([this] { Run(); }) {}

GenerationTracker::~GenerationTracker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void GenerationTracker::Add(const std::shared_ptr<Generation>& generation) {
  std::lock_guard<std::mutex> lock(mu_);
  live_[generation.get()] = generation;
}

size_t GenerationTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void GenerationTracker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period_, [&] { return stopping_; });
    if (stopping_) break;
    std::vector<std::shared_ptr<Generation>> live;
    for (auto it = live_.begin(); it != live_.end();) {
      std::shared_ptr<Generation> g = it->second.lock();
      if (g == nullptr || g->finished()) {
        it = live_.erase(it);
      } else {
        live.push_back(std::move(g));
        ++it;
      }
    }
    lock.unlock();
    const SteadyClock::time_point now = SteadyClock::now();
    for (const std::shared_ptr<Generation>& g : live) g->Tick(now);
    live.clear();  // release outside the tracker's lock
    lock.lock();
  }
}

}  // namespace parapet::gateway
