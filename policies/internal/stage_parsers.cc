// Stage parsers: the YAML keys of each stage type (SCHEMA.md) -> its config struct -> the stage.
#include "policies/internal/stage_parsers.h"

#include <map>

#include "pipeline/stages/pii_stage.h"
#include "pipeline/stages/regex_stage.h"
#include "policies/policy_set.h"

namespace parapet::policies::internal {
namespace {

using StagePtr = std::unique_ptr<const pipeline::Stage>;
using Parser = Result<StagePtr> (*)(YamlMapReader&, const StageCommon&, const CompileContext&);

// A factory error ("regex.patterns[1].pattern: ...") placed at the stage's position.
template <typename T>
Result<StagePtr> Built(YamlMapReader& r, Result<std::unique_ptr<T>> stage) {
  if (!stage.ok()) return YamlError(r.file(), r.node(), r.path(), stage.status().message());
  return StagePtr(std::move(stage).value());
}

Status ReadOptionalAction(YamlMapReader& r, const char* key, std::optional<pipeline::Action>& out) {
  if (!r.node()[key]) {
    r.MarkSeen(key);
    return Status::Ok();
  }
  pipeline::Action a = pipeline::Action::kFlag;
  PARAPET_RETURN_IF_ERROR(ReadAction(r, key, a));
  out = a;
  return Status::Ok();
}

template <typename P>
Status ReadPatternFlags(YamlMapReader& p, P& pat) {
  PARAPET_RETURN_IF_ERROR(p.Get("id", pat.id));
  PARAPET_RETURN_IF_ERROR(p.Get("pattern", pat.pattern));
  PARAPET_RETURN_IF_ERROR(p.Get("case_insensitive", pat.case_insensitive));
  PARAPET_RETURN_IF_ERROR(p.Get("literal", pat.literal));
  PARAPET_RETURN_IF_ERROR(p.Get("dot_nl", pat.dot_nl));
  return p.Get("word_boundary", pat.word_boundary);
}

Result<StagePtr> ParseRegex(YamlMapReader& r, const StageCommon& c, const CompileContext&) {
  pipeline::RegexStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  PARAPET_RETURN_IF_ERROR(ReadAction(r, "action", cfg.action));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_mem_bytes", cfg.max_mem_bytes, 1 << 16, int64_t{1} << 32));
  PARAPET_RETURN_IF_ERROR(r.List("patterns", [&](YamlMapReader& p) -> Status {
    pipeline::RegexPatternConfig pat;
    PARAPET_RETURN_IF_ERROR(ReadPatternFlags(p, pat));
    PARAPET_RETURN_IF_ERROR(p.Get("longest_match", pat.longest_match));
    PARAPET_RETURN_IF_ERROR(p.Get("type", pat.type));
    PARAPET_RETURN_IF_ERROR(ReadOptionalAction(p, "action", pat.action));
    cfg.patterns.push_back(std::move(pat));
    return Status::Ok();
  }));
  PARAPET_RETURN_IF_ERROR(r.List("allow", [&](YamlMapReader& p) -> Status {
    pipeline::RegexAllowConfig pat;
    PARAPET_RETURN_IF_ERROR(ReadPatternFlags(p, pat));
    cfg.allow.push_back(std::move(pat));
    return Status::Ok();
  }));
  return Built(r, pipeline::NewRegexStage(cfg));
}

Result<StagePtr> ParsePii(YamlMapReader& r, const StageCommon& c, const CompileContext&) {
  pipeline::PiiStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  // `detectors:` is a list of names, or of {name, action} mappings.
  r.MarkSeen("detectors");
  const YAML::Node list = r.node()["detectors"];
  if (!list || !list.IsSequence()) return r.Fail("detectors", "must be a list of detectors");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = r.Field("detectors") + "[" + std::to_string(i) + "]";
    pipeline::PiiDetectorConfig d;
    if (list[i].IsScalar()) {
      d.name = list[i].Scalar();
    } else if (list[i].IsMap()) {
      YamlMapReader dr(list[i], field, r.file());
      PARAPET_RETURN_IF_ERROR(dr.Get("name", d.name));
      PARAPET_RETURN_IF_ERROR(ReadOptionalAction(dr, "action", d.action));
      PARAPET_RETURN_IF_ERROR(dr.Finish());
    } else {
      return r.Error(list[i], field, "must be a detector name or {name, action}");
    }
    cfg.detectors.push_back(std::move(d));
  }
  PARAPET_RETURN_IF_ERROR(r.GetInRange<double>("min_score", cfg.min_score, 0, 1));
  PARAPET_RETURN_IF_ERROR(
      r.Get("ssn_unformatted_needs_context", cfg.ssn_unformatted_needs_context));
  PARAPET_RETURN_IF_ERROR(r.Get("phone_reject_fiction", cfg.phone_reject_fiction));
  // (The detectors need about 400 KB; a smaller bound is reported by the factory.)
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_mem_bytes", cfg.max_mem_bytes, 1 << 16, int64_t{1} << 32));
  return Built(r, pipeline::NewPiiStage(cfg));
}

const std::map<std::string, Parser, std::less<>>& Parsers() {
  static const std::map<std::string, Parser, std::less<>> kParsers = {
      {"regex", &ParseRegex},
      {"pii", &ParsePii},
  };
  return kParsers;
}

}  // namespace

Status ReadAction(YamlMapReader& r, const char* key, pipeline::Action& out) {
  std::string a;
  PARAPET_RETURN_IF_ERROR(r.Get(key, a));
  if (a.empty()) return Status::Ok();
  if (a == "allow") {
    out = pipeline::Action::kAllow;
  } else if (a == "flag") {
    out = pipeline::Action::kFlag;
  } else if (a == "redact") {
    out = pipeline::Action::kRedact;
  } else if (a == "block") {
    out = pipeline::Action::kBlock;
  } else {
    return r.Fail(key, "must be allow, flag, redact or block");
  }
  return Status::Ok();
}

Result<StagePtr> ParseStage(YamlMapReader& r, const StageCommon& c, const CompileContext& context) {
  auto it = Parsers().find(c.type);
  if (it == Parsers().end()) {
    std::string known;
    for (const auto& [name, parser] : Parsers()) known += (known.empty() ? "" : ", ") + name;
    return r.Fail("type", "unknown stage type '" + c.type + "' (known: " + known + ")");
  }
  return it->second(r, c, context);
}

}  // namespace parapet::policies::internal
