// The "guard_model" stage: a Llama Guard–class safety LLM judges the user's message (input) or
// the model's response (output), through the GuardScorer seam (pipeline/guard_model.h; the
// gateway wires it to the engine).
//
// One check per Inspect: the conversation is rendered with the configured template and taxonomy
// (internal/guard_prompt.h) and scored with a deadline of `timeout_ms` from the start of the
// check. The score is P(unsafe) from the first generated token; at or above `threshold` the
// answer is unsafe and the violated categories come from a short greedy continuation
// ("unsafe\nS1,S9"), each mapped to an action (`category_actions`, else `default_action`).
//
// Findings (no span: they are about the whole judged message, like the classifier's):
//   "<id>.unsafe"  type UNSAFE, score = P(unsafe), always reported — action allow (score only)
//                  when safe or when the answer named categories; `default_action` when unsafe
//                  with no category named
//   "<id>.<code>"  type = the code ("S9"), score = P(unsafe), one per category named, with that
//                  category's action
// `message` is the judged message's index (input: the last user or system message; output: 0).
//
// Which turns: on input (role "User"), `conversation: last` renders the last user/system message
// alone; `all` renders every scanned message in order (user and system as "User", assistant as
// "Agent", consecutive turns of one role joined by a blank line, turns after the last user one
// dropped). On output (role "Agent"), Input::context supplies the request's turns: `last` renders
// the last user turn and the response, `all` the whole conversation then the response; without
// context the response is rendered alone.
//
// Could not decide (an error Status, the policy's on_error applies): the scorer's error
// (DeadlineExceeded past the budget, ResourceExhausted, ...), a score outside [0, 1], an answer
// that does not parse or names a code outside the taxonomy, no scorer (the policy was compiled
// without the model: `parapet policy` commands have no engine).
//
// Chaining: `run_if_flagged_by` lists earlier stages; the check runs only when one of them
// reported a flag-or-stronger finding, could not decide, or was not part of this run (so the
// guard is never skipped on missing evidence). `skip_if_blocked` (default true) skips the check
// when an enforcing stage before it already blocked. Skips go through Stage::ShouldRun.
//
// Thread-safety: immutable after NewGuardModelStage; Inspect may run on many threads at once (the
// scorer is thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/guard_model.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

enum class GuardConversation {
  kLast,  // input: the last user message; output: the last user turn + the response
  kAll,   // every turn in scope (input) / in the request (output)
};

struct GuardModelStageConfig {
  std::string id = "guard";
  Mode mode = Mode::kEnforce;
  std::string model;  // the registry's model id (for errors; the scorer is passed separately)
  GuardTemplate prompt_template = GuardTemplate::kLlamaGuard3;
  std::vector<GuardCategory> taxonomy;  // empty: the template's default (S1–S14 for LG3 8B)
  double threshold = 0.5;               // unsafe when P(unsafe) >= threshold; in [0, 1]
  std::map<std::string, Action> category_actions;  // code -> allow | flag | block
  Action default_action = Action::kBlock;          // unsafe categories not in the map
  int64_t timeout_ms = 2000;                       // per-check budget; >= 1
  int32_t max_continuation_tokens = 16;            // for the category line; >= 1
  GuardConversation conversation = GuardConversation::kLast;
  bool output = false;  // judges the response (role Agent) rather than the user's message
  std::vector<std::string> run_if_flagged_by;  // earlier stage ids; empty: always run
  bool skip_if_blocked = true;
};

// Builds the stage. `scorer` null: the stage is built (the policy validates) but every check is
// Unavailable — for compiling policies without an engine. Errors name the field:
// "<id>.threshold: ...", "<id>.categories: 'S15' is not in the taxonomy (S1..S14)".
Result<std::unique_ptr<Stage>> NewGuardModelStage(const GuardModelStageConfig& config,
                                                  std::shared_ptr<const GuardScorer> scorer);

}  // namespace parapet::pipeline
