// Labelled text files for the CLI's measuring commands (`classifier train | eval`,
// `policy eval`): JSON Lines `{"text": ..., "label": ...}` or CSV with a header row naming the
// columns (RFC 4180 quoting). Errors name the file and line.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace parapet::cli {

struct LabelledText {
  std::string text;
  std::string label;  // empty when the file has no label column and none is required
};

// Appends the rows of `path` (a .csv file is CSV, anything else JSONL) to `out`. The label
// column is required unless `label_optional`; integer labels in JSONL read as their decimal text.
Status LoadLabelledTexts(const std::string& path, const std::string& text_col,
                         const std::string& label_col, bool label_optional,
                         std::vector<LabelledText>& out);

}  // namespace parapet::cli
