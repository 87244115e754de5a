// RegexStage: the "regex" policy stage. Deny patterns (each with an id, flags, a finding type and
// an action) and allow patterns are compiled into ONE unanchored RE2::Set, so one pass over a
// message says which patterns match; each matching pattern's own RE2 then finds its spans (all
// non-overlapping, leftmost matches). A deny match that overlaps an allow match is exempt.
// Every RE2 and the Set are bounded by `max_mem_bytes`; a pattern that does not compile or does
// not fit is a factory error, and a Set that runs out of memory while matching is an error Status
// (could not decide), never a silent "no match".
//
// Thread-safety: immutable after NewRegexStage; Inspect may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

struct RegexPatternConfig {
  std::string id;       // required; [A-Za-z0-9_.-]+, unique within the stage (allow included)
  std::string pattern;  // required; RE2 syntax (or a literal string when `literal`)
  bool case_insensitive = false;  // (?i)
  bool literal = false;           // `pattern` is matched as plain text, not a regex
  bool longest_match = false;     // leftmost-longest spans instead of leftmost-first
  bool dot_nl = false;            // (?s): `.` also matches '\n'
  bool word_boundary = false;     // wrap as \b(?:pattern)\b
  std::optional<Action> action;   // default: the stage's action
  std::string type;               // finding type; default: the id upper-cased ('-' -> '_')
};

struct RegexAllowConfig {
  std::string id;       // required; unique within the stage
  std::string pattern;  // required; spans it matches exempt overlapping deny findings
  bool case_insensitive = false;
  bool literal = false;
  bool dot_nl = false;
  bool word_boundary = false;
};

struct RegexStageConfig {
  std::string id = "regex";        // the stage id; finding rule ids are "<id>.<pattern id>"
  Mode mode = Mode::kEnforce;      // shadow: the chain records findings but never acts on them
  Action action = Action::kBlock;  // default action of the deny patterns
  // Memory bound of the RE2::Set and of each pattern's RE2 (RE2::Options::set_max_mem), bytes.
  int64_t max_mem_bytes = int64_t{32} << 20;
  std::vector<RegexPatternConfig> patterns;  // deny patterns; at least one
  std::vector<RegexAllowConfig> allow;       // exemptions
};

// Builds a regex stage. On failure an InvalidArgument error naming the field, e.g.
// "regex.patterns[3].pattern (id 'x'): missing ): foo(bar"; or a pattern or Set over max_mem_bytes.
Result<std::unique_ptr<Stage>> NewRegexStage(const RegexStageConfig& config);

}  // namespace parapet::pipeline
