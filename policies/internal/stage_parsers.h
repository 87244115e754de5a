// Stage parsers: one YAML stage entry (`input:` list item) -> a built pipeline::Stage. The
// entry's common keys (id, type, mode) are read by the caller; each type reads its own keys.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/yaml_reader.h"
#include "pipeline/stage.h"

namespace parapet::policies {
struct CompileContext;
}

namespace parapet::policies::internal {

struct StageCommon {
  std::string id;
  std::string type;
  pipeline::Mode mode = pipeline::Mode::kEnforce;
  std::string base_dir;  // for files the stage names (keyword lists, models)
  bool output = false;   // an output stage (scores a response as it grows)
  // The stages before this one in the same list (input, or output.stages), in order.
  std::vector<std::pair<std::string, pipeline::Mode>> earlier;
};

// Reads the type-specific keys through `r` (which has already read id/type/mode) and builds the
// stage. Errors name file, line and field; an unknown type lists the known ones.
Result<std::unique_ptr<const pipeline::Stage>> ParseStage(YamlMapReader& r, const StageCommon& c,
                                                          const CompileContext& context);

// "allow" | "flag" | "redact" | "block" at `key` (absent: `out` unchanged).
Status ReadAction(YamlMapReader& r, const char* key, pipeline::Action& out);

}  // namespace parapet::policies::internal
