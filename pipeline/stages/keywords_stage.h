// The "keywords" stage: word and phrase lists matched in one pass (Aho–Corasick) over each
// message's current text — the normalised text when a unicode stage ran before it, which is how
// full-width, zero-width and combining-mark tricks are defeated; keywords themselves are NFKC
// normalised when the stage is built.
//
// Matching: case-insensitive by default (simple Unicode lowercase of both sides); whitespace runs
// in the text and in a phrase are equivalent ("bomb  \n maker" matches "bomb maker"); whole-word
// by default: a match must not have a letter, mark or digit (Unicode categories L, M, N) right
// before or after it on a side where the keyword itself starts or ends with one ("class" does not
// match "classic", "ass" does not match "class"; "c++" matches in "c++x"). Every occurrence is
// reported (overlaps too): rule id "<id>.<list name>" (unnamed lists: "<id>.<list index>"), type
// = the list name upper-cased ("KEYWORD" for unnamed lists), span = the original bytes, action =
// the list's.
//
// Immutable after construction; Inspect is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

struct KeywordList {
  std::string name;                // optional; [A-Za-z0-9_-], unique within the stage
  std::vector<std::string> words;  // inline keywords and phrases (UTF-8, non-empty)
  std::string file;                // optional keyword file (LoadKeywordFile); added to `words`
  Action action = Action::kBlock;  // the action of this list's findings
};

struct KeywordsStageConfig {
  std::string id = "keywords";  // the stage's id in its policy; non-empty
  Mode mode = Mode::kEnforce;
  std::vector<KeywordList> lists;             // at least one, with at least one keyword in all
  bool whole_word = true;                     // false = `match: substring`
  bool case_sensitive = false;                // true: compare bytes as they are
  size_t max_table_bytes = 64 * 1024 * 1024;  // budget of the automaton's transition table
};

// Reads a keyword file: UTF-8, one keyword or phrase per line; leading and trailing whitespace is
// trimmed; blank lines and lines whose first non-blank character is '#' are skipped. Errors:
// NotFound "<path>: cannot open"; InvalidArgument "<path>:<line>: invalid UTF-8" or
// "<path>:<line>: empty keyword" (a line of invisible characters only).
Result<std::vector<std::string>> LoadKeywordFile(const std::string& path);

// Builds the stage, loading list files. Errors (InvalidArgument, NotFound, ResourceExhausted)
// name the field: "<id>.lists[2].words[0]: empty keyword".
Result<std::unique_ptr<Stage>> NewKeywordsStage(const KeywordsStageConfig& config);

}  // namespace parapet::pipeline
