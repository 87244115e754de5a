// Stage: one policy check over a request's (or a response's) text — regex, keywords, pii,
// unicode, length, later classifier and guard model. Stages are built once from their
// configuration (policies/ compiles YAML into these), immutable afterwards and thread-safe: many
// requests call Inspect at once. A stage reports findings; what the request then gets (allow,
// flag, redact, block) is the chain's decision (StageChain), from each finding's action.
//
// "Decided no" is not "could not decide" (STYLE 9): a stage that ran and found nothing returns
// OK with no findings; one that could not finish (RE2 out of its memory budget, a model error)
// returns an error Status, and the policy's `on_error` says what happens then.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pipeline/scan_text.h"

namespace parapet::pipeline {

enum class Action { kAllow, kFlag, kRedact, kBlock };
enum class Mode { kEnforce, kShadow };  // shadow: findings are recorded, never acted on

const char* ActionName(Action a);  // "allow" | "flag" | "redact" | "block"

// One message the policy chose to scan (by role; all turns or only the last).
struct Message {
  std::string role;  // "system" | "user" | "assistant"
  ScanText text;
};

// A turn that is not scanned but gives context to stages that judge a conversation: when the
// output stages judge a response, the request's turns (guard_model renders the prompt the response
// answers). Never rewritten; no finding points at it.
struct ContextTurn {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// What the stages of one chain inspect. A rewriting stage changes messages[i].text in place.
struct Input {
  std::vector<Message> messages;
  // Oldest first; usually empty on input. A view: the caller keeps the turns alive for the run.
  std::span<const ContextTurn> context;
};

struct Finding {
  std::string rule_id;   // stable id for audit and errors: "pii.email", "deny.weapons"
  std::string type;      // what was found, for masks like "[{type}]": "EMAIL", "CREDIT_CARD"
  int32_t message = -1;  // index into Input::messages; -1 for whole-input findings (length)
  Span span;             // bytes of that message's ORIGINAL text; empty for whole-input findings
  double score = 1.0;    // confidence in [0, 1]; 1 for deterministic rules
  Action action = Action::kFlag;  // what the stage's configuration asks for on this finding
};

struct StageResult {
  std::vector<Finding> findings;
};

// Counts tokens the way the served model does (the gateway wires it to the engine's tokenizer);
// the pipeline never includes engine headers. Thread-safe.
class TokenCounter {
 public:
  virtual ~TokenCounter() = default;
  virtual int64_t CountTokens(std::string_view text) const = 0;
};

// What one earlier stage of the current StageChain::Run did, for Stage::ShouldRun.
struct PriorStage {
  std::string_view id;
  Mode mode = Mode::kEnforce;
  bool ran = true;                    // false: it was skipped (its own ShouldRun)
  bool error = false;                 // it ran and could not decide
  Action strongest = Action::kAllow;  // the strongest action among its findings
};

// The run so far, before a stage: the chain's decision (enforcing stages) and each earlier stage
// of this run, in order. Stages the run does not include (StageSelection) are not listed.
struct PriorStages {
  Action action = Action::kAllow;
  std::span<const PriorStage> stages;
};

class Stage {
 public:
  virtual ~Stage() = default;
  Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // The stage's id from the policy ("pii", "deny-list"); unique within a policy.
  virtual const std::string& id() const = 0;
  // Its type: "regex" | "keywords" | "pii" | "unicode" | "length" | ...
  virtual std::string_view type() const = 0;
  virtual Mode mode() const = 0;

  // Inspects `input`, appending findings to `out` (spans in original-text offsets, via
  // ScanText::ToOriginal). May rewrite message texts (unicode). OK = decided (maybe nothing
  // found); an error = could not decide. Thread-safe (const; `input` and `out` are per call).
  virtual Status Inspect(Input& input, StageResult& out) const = 0;

  // Whether the chain should run this stage, given what the stages before it did in this run.
  // True (the default): always. A stage that returns false is skipped: no Inspect, no findings,
  // a StageReport with `skipped` set. Used by expensive stages (guard_model) to run only where a
  // cheap one flagged, or not after a block. Thread-safe.
  virtual bool ShouldRun(const PriorStages& prior) const {
    (void)prior;
    return true;
  }

  // For the streaming output guard (stream_guard.h). False (the default): the stage is local —
  // each finding lies within a short stretch of text and is decided by the text around it — so
  // the guard runs it on a window around the text not yet released. True: its findings depend
  // on the whole text (length limits), so the guard runs it on everything generated so far.
  virtual bool whole_text() const { return false; }

  // Expensive per run (a model forward pass, not a scan): the stream guard runs a chain with such
  // whole-text stages at sentence ends and every holdback_chars / 2 characters instead of on
  // every generated piece. False (the default) for the scanning stages.
  virtual bool costly() const { return false; }

  // For the stream guard's early release, called after Inspect on the same input (a text that is
  // still growing, in messages[0]): the offset in messages[0]'s ORIGINAL text from which a match
  // of this stage could still be in progress — started, but able to grow or change with text not
  // generated yet (text.size() when none could). Findings before it are final, and so is the
  // text. nullopt (the default): the stage cannot tell; the guard holds back holdback_chars.
  virtual std::optional<size_t> PendingFrom(const Input& input) const {
    (void)input;
    return std::nullopt;
  }

  // Rules of this stage whose matches can span more than `chars` characters (rule id and why),
  // for `policy check` warnings on output stages: a streamed response can only be held back so
  // far. Stages with author-written patterns (regex) report them; the default reports none.
  virtual std::vector<std::string> RulesLongerThan(size_t chars) const {
    (void)chars;
    return {};
  }
};

}  // namespace parapet::pipeline
