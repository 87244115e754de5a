// Policy: one compiled, named policy — which messages to scan, the input and output stage
// chains, what a block looks like to the client, and the policy's own tests. Built by PolicySet
// (policy_set.h) from YAML (SCHEMA.md); immutable, shared as shared_ptr<const PolicySet>,
// thread-safe.
#pragma once

#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "pipeline/stage_chain.h"
#include "pipeline/stream_guard.h"

namespace parapet::policies {

// One chat turn as the policy sees it.
struct Turn {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// Which turns the input stages inspect.
struct ScanScope {
  std::set<std::string> roles = {"user", "system"};
  bool last_turn_only = false;  // only the last turn whose role is in `roles`
};

enum class BlockResponse {
  kError,    // HTTP 400 content_policy_violation with the rule id and the message
  kRefusal,  // a normal completion whose content is `refusal`, finish_reason content_filter
};

// A policy test case (the `tests:` section): input turns, or a response (`output`) for the
// output stages.
struct PolicyTest {
  std::string name;
  std::vector<Turn> turns;  // the input; for an output test, the request the output answers
  bool is_output = false;
  std::string output;                      // the response text, when is_output
  std::string expect_action;               // "allow" | "flag" | "redact" | "block"
  std::vector<std::string> expect_rules;   // rule ids that must all fire (enforcing findings)
  std::vector<std::string> expect_absent;  // rule ids that must not fire
  bool has_expect_redacted = false;
  std::string expect_redacted;  // the last scanned turn (or the output) after redaction
};

// The outcome of the input policy on one request.
struct InputDecision {
  pipeline::Verdict verdict;
  // The turns as the engine should see them: contents with redactions applied (equal to the
  // request's turns when nothing was redacted). Same size and order as the request's turns.
  std::vector<Turn> turns;
  bool changed = false;  // a redaction changed some turn
  // The request turn behind each scanned message (findings' `message` indexes this).
  std::vector<size_t> scanned;
};

// The outcome of the output policy on a complete response (non-streaming, tests).
struct OutputDecision {
  pipeline::Verdict verdict;
  std::string text;  // the response with redactions applied; "" when blocked
};

class Policy {
 public:
  struct Options {
    std::string name;
    std::string version;  // sha256 hex of the policy's canonical form
    ScanScope scope;
    pipeline::OnError on_error = pipeline::OnError::kBlock;
    std::string mask = "[{type}]";
    std::string message = "The request was blocked by the content policy.";
    BlockResponse on_block = BlockResponse::kError;
    std::string refusal = "I can't help with that.";
    std::vector<PolicyTest> tests;
    // Output: characters a streamed response may be held back at most (StreamGuard).
    size_t holdback_chars = 64;
    // What a client reads when the output stages block ("" = `message`).
    std::string output_message;
  };
  Policy(Options options, std::vector<std::unique_ptr<const pipeline::Stage>> input_stages,
         std::vector<std::unique_ptr<const pipeline::Stage>> output_stages = {});

  const std::string& name() const { return o_.name; }
  const std::string& version() const { return o_.version; }
  const Options& options() const { return o_; }
  const pipeline::StageChain& input() const { return input_; }
  const pipeline::StageChain& output() const { return output_; }
  bool has_output() const { return output_.size() > 0; }
  // Options for a StreamGuard over this policy's output stages.
  pipeline::StreamGuardOptions stream_options() const { return {o_.holdback_chars, o_.mask}; }
  // Output rules that can match more than holdback_chars characters: a streamed response may
  // show the start of such a match before it is recognised. For `policy check` and the log.
  std::vector<std::string> StreamWarnings() const;
  const std::string& output_message() const {
    return o_.output_message.empty() ? o_.message : o_.output_message;
  }

  // Runs the input stages over the turns in scope and applies redactions.
  InputDecision EvaluateInput(std::span<const Turn> turns) const;
  // Runs the output stages over a complete response and applies redactions. `prompt`: the
  // request's turns, context for stages that judge the response in its conversation
  // (guard_model); may be empty.
  OutputDecision EvaluateOutput(const std::string& response,
                                std::span<const Turn> prompt = {}) const;

 private:
  Options o_;
  pipeline::StageChain input_;
  pipeline::StageChain output_;
};

}  // namespace parapet::policies
