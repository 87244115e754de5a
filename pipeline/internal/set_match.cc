// MatchSet: RE2::Set matching with errors as Status.
#include "pipeline/internal/set_match.h"

#include <algorithm>

namespace parapet::pipeline::internal {
namespace {

const char* SetErrorName(RE2::Set::ErrorKind k) {
  switch (k) {
    case RE2::Set::kNoError:
      return "no error";
    case RE2::Set::kNotCompiled:
      return "not compiled";
    case RE2::Set::kOutOfMemory:
      return "DFA out of memory";
    case RE2::Set::kInconsistent:
      return "inconsistent result";
  }
  return "unknown";
}

}  // namespace

Status MatchSet(const RE2::Set& set, const std::string& text, std::string_view stage, int32_t index,
                std::vector<int>& hits) {
  hits.clear();
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (!set.Match(text, &hits, &info) && info.kind != RE2::Set::kNoError) {
    return ResourceExhaustedError(std::string(stage) + ": RE2::Set match failed (" +
                                  SetErrorName(info.kind) + ") on message " +
                                  std::to_string(index) + "; could not decide");
  }
  std::sort(hits.begin(), hits.end());
  return Status::Ok();
}

}  // namespace parapet::pipeline::internal
