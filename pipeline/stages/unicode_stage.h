// The "unicode" stage: makes text look to later stages the way a reader sees it. For every message
// it replaces invalid UTF-8 with U+FFFD, strips invisible characters (zero-width, bidi controls),
// applies NFKC (full-width "ｂｏｍｂ" -> "bomb", ligatures, composed accents), optionally case
// folds, and rewrites the message's ScanText with an exact byte map back to the original. It also
// reports words that mix look-alike scripts ("pаypal" with a Cyrillic "а") as MIXED_SCRIPT.
//
// Mixed-script rule: a word is a maximal run of letters, marks and digits in the normalised text.
// Each letter is given one of five confusable scripts — Latin, Greek, Cyrillic, Armenian, Cherokee
// — or none (other scripts, and μ/Ω, which NFKC makes of the micro and ohm signs in "5µm", "kΩ").
// A word whose letters come from two or more of the five scripts is reported: one finding per
// word, span = the word's original bytes, rule id "<id>.mixed_script", type "MIXED_SCRIPT".
//
// Immutable after construction; Inspect is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

enum class UnicodeNormalization { kNfkc, kNone };

struct UnicodeStageConfig {
  std::string id = "unicode";  // the stage's id in its policy; non-empty
  Mode mode = Mode::kEnforce;
  UnicodeNormalization normalize = UnicodeNormalization::kNfkc;  // YAML: nfkc | none
  bool casefold = false;        // Unicode case folding after NFKC ("Straße" -> "strasse")
  bool strip_invisible = true;  // remove zero-width characters and bidi controls
  bool strip_variation_selectors =
      false;                 // also remove U+FE00..FE0F, U+E0100..E01EF (emoji use them)
  bool strip_marks = false;  // remove combining marks ("bómb" -> "bomb"); needs nfkc
  Action mixed_script_action = Action::kFlag;  // allow (no check) | flag | block
};

// Builds the stage. Errors (InvalidArgument) name the field: "<id>.mixed_script_action: ...".
Result<std::unique_ptr<Stage>> NewUnicodeStage(const UnicodeStageConfig& config);

}  // namespace parapet::pipeline
