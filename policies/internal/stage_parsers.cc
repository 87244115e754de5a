// Stage parsers: the YAML keys of each stage type (SCHEMA.md) -> its config struct -> the stage.
#include "policies/internal/stage_parsers.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "pipeline/guard_model.h"
#include "pipeline/stages/classifier_stage.h"
#include "pipeline/stages/guard_model_stage.h"
#include "pipeline/stages/keywords_stage.h"
#include "pipeline/stages/length_stage.h"
#include "pipeline/stages/pii_stage.h"
#include "pipeline/stages/regex_stage.h"
#include "pipeline/stages/unicode_stage.h"
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

Result<StagePtr> ParseUnicode(YamlMapReader& r, const StageCommon& c, const CompileContext&) {
  pipeline::UnicodeStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  std::string normalize = "nfkc";
  PARAPET_RETURN_IF_ERROR(r.Get("normalize", normalize));
  if (normalize != "nfkc" && normalize != "none")
    return r.Fail("normalize", "must be nfkc or none");
  cfg.normalize = normalize == "nfkc" ? pipeline::UnicodeNormalization::kNfkc
                                      : pipeline::UnicodeNormalization::kNone;
  PARAPET_RETURN_IF_ERROR(r.Get("casefold", cfg.casefold));
  PARAPET_RETURN_IF_ERROR(r.Get("strip_invisible", cfg.strip_invisible));
  PARAPET_RETURN_IF_ERROR(r.Get("strip_variation_selectors", cfg.strip_variation_selectors));
  PARAPET_RETURN_IF_ERROR(r.Get("strip_marks", cfg.strip_marks));
  PARAPET_RETURN_IF_ERROR(ReadAction(r, "mixed_script_action", cfg.mixed_script_action));
  return Built(r, pipeline::NewUnicodeStage(cfg));
}

Result<StagePtr> ParseKeywords(YamlMapReader& r, const StageCommon& c, const CompileContext&) {
  pipeline::KeywordsStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  std::string match = "word";
  PARAPET_RETURN_IF_ERROR(r.Get("match", match));
  if (match != "word" && match != "substring") return r.Fail("match", "must be word or substring");
  cfg.whole_word = match == "word";
  PARAPET_RETURN_IF_ERROR(r.Get("case_sensitive", cfg.case_sensitive));
  PARAPET_RETURN_IF_ERROR(r.List("lists", [&](YamlMapReader& l) -> Status {
    pipeline::KeywordList list;
    PARAPET_RETURN_IF_ERROR(l.Get("name", list.name));
    PARAPET_RETURN_IF_ERROR(l.GetStringList("words", list.words));
    PARAPET_RETURN_IF_ERROR(l.Get("file", list.file));
    PARAPET_RETURN_IF_ERROR(ReadAction(l, "action", list.action));
    if (!list.file.empty() && std::filesystem::path(list.file).is_relative()) {
      list.file = (std::filesystem::path(c.base_dir) / list.file).lexically_normal().string();
    }
    cfg.lists.push_back(std::move(list));
    return Status::Ok();
  }));
  return Built(r, pipeline::NewKeywordsStage(cfg));
}

Result<StagePtr> ParseLength(YamlMapReader& r, const StageCommon& c,
                             const CompileContext& context) {
  pipeline::LengthStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  constexpr int64_t kMax = int64_t{1} << 40;
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_chars_per_message", cfg.max_chars_per_message, 0, kMax));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("max_chars_total", cfg.max_chars_total, 0, kMax));
  PARAPET_RETURN_IF_ERROR(
      r.GetInRange<int64_t>("max_tokens_per_message", cfg.max_tokens_per_message, 0, kMax));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("max_tokens_total", cfg.max_tokens_total, 0, kMax));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("max_messages", cfg.max_messages, 0, kMax));
  PARAPET_RETURN_IF_ERROR(ReadAction(r, "action", cfg.action));
  // The counter outlives every policy compiled with it (CompileContext's contract): non-owning.
  std::shared_ptr<const pipeline::TokenCounter> counter(std::shared_ptr<void>(),
                                                        context.token_counter);
  return Built(r, pipeline::NewLengthStage(cfg, counter));
}

Result<StagePtr> ParseClassifier(YamlMapReader& r, const StageCommon& c, const CompileContext&) {
  pipeline::ClassifierStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  cfg.whole_text = c.output;
  PARAPET_RETURN_IF_ERROR(r.Get("model", cfg.model));
  if (cfg.model.empty()) return r.Fail("model", "a classifier needs a model (.bin or .ftz)");
  cfg.model = (std::filesystem::path(c.base_dir) / cfg.model).lexically_normal().string();
  PARAPET_RETURN_IF_ERROR(ReadAction(r, "action", cfg.action));
  PARAPET_RETURN_IF_ERROR(r.GetStringList("roles", cfg.roles));
  for (const std::string& role : cfg.roles) {
    if (c.output) return r.Fail("roles", "output stages read the response; roles is for input");
    if (role != "system" && role != "user" && role != "assistant") {
      return r.Fail("roles", "roles are system, user and assistant; got '" + role + "'");
    }
  }
  int64_t window = cfg.window_words;
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("window_words", window, 8, 1 << 20));
  cfg.window_words = static_cast<int>(window);
  int64_t min_words = cfg.min_words;
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("min_words", min_words, 1, 1000));
  cfg.min_words = static_cast<int>(min_words);
  PARAPET_RETURN_IF_ERROR(r.List("labels", [&](YamlMapReader& l) -> Status {
    pipeline::ClassifierLabelConfig label;
    PARAPET_RETURN_IF_ERROR(l.Get("label", label.label));
    if (label.label.empty()) return l.Fail("label", "every entry names a label of the model");
    if (l.node()["threshold"]) {
      PARAPET_RETURN_IF_ERROR(l.GetInRange<double>("threshold", label.threshold, 0.0, 1.0));
    }
    if (l.node()["flag"]) {
      PARAPET_RETURN_IF_ERROR(l.GetInRange<double>("flag", label.flag_threshold, 0.0, 1.0));
    }
    PARAPET_RETURN_IF_ERROR(ReadOptionalAction(l, "action", label.action));
    cfg.labels.push_back(std::move(label));
    return Status::Ok();
  }));
  return Built(r, pipeline::NewClassifierStage(cfg));
}

// `model:` through the registry; null (accepted unresolved) when compiling without one.
Result<std::shared_ptr<const pipeline::GuardScorer>> ResolveGuardModel(
    YamlMapReader& r, const std::string& model, const CompileContext& context) {
  if (context.guard_models == nullptr) return std::shared_ptr<const pipeline::GuardScorer>();
  std::shared_ptr<const pipeline::GuardScorer> scorer = context.guard_models->Find(model);
  if (scorer != nullptr) return scorer;
  std::string loaded;
  for (const std::string& n : context.guard_models->names()) {
    loaded += (loaded.empty() ? "" : ", ") + n;
  }
  return r.Fail("model", "no guard model '" + model + "' is loaded (" +
                             (loaded.empty() ? "none is; load one with --guard-model FILE"
                                             : "loaded: " + loaded) +
                             ")");
}

Status ReadGuardCategories(YamlMapReader& r, pipeline::GuardModelStageConfig& cfg) {
  PARAPET_RETURN_IF_ERROR(r.List("taxonomy", [&](YamlMapReader& e) -> Status {
    pipeline::GuardCategory cat;
    PARAPET_RETURN_IF_ERROR(e.Get("code", cat.code));
    PARAPET_RETURN_IF_ERROR(e.Get("name", cat.name));
    PARAPET_RETURN_IF_ERROR(e.Get("description", cat.description));
    if (cat.code.empty()) return e.Fail("code", "every category has a code (S1)");
    if (cat.name.empty()) return e.Fail("name", "every category has a name");
    cfg.taxonomy.push_back(std::move(cat));
    return Status::Ok();
  }));
  return r.Section("categories", [&](YamlMapReader& m) -> Status {
    for (auto it = m.node().begin(); it != m.node().end(); ++it) {
      const std::string code = it->first.Scalar();
      pipeline::Action action = pipeline::Action::kBlock;
      PARAPET_RETURN_IF_ERROR(ReadAction(m, code.c_str(), action));
      cfg.category_actions[code] = action;
    }
    return Status::Ok();
  });
}

// run_if_flagged_by: earlier enforcing stages of the same list (a shadow stage never acts, so it
// cannot decide whether the guard runs either).
Status ReadRunIf(YamlMapReader& r, const StageCommon& c, std::vector<std::string>& out) {
  PARAPET_RETURN_IF_ERROR(r.GetStringList("run_if_flagged_by", out, true));
  for (const std::string& id : out) {
    auto it = std::find_if(c.earlier.begin(), c.earlier.end(),
                           [&](const auto& e) { return e.first == id; });
    if (it == c.earlier.end()) {
      return r.Fail("run_if_flagged_by",
                    "'" + id + "' is not a stage before this one in the same list");
    }
    if (it->second == pipeline::Mode::kShadow) {
      return r.Fail("run_if_flagged_by", "'" + id + "' is a shadow stage (it never acts)");
    }
  }
  return Status::Ok();
}

Result<StagePtr> ParseGuardModel(YamlMapReader& r, const StageCommon& c,
                                 const CompileContext& context) {
  pipeline::GuardModelStageConfig cfg;
  cfg.id = c.id;
  cfg.mode = c.mode;
  cfg.output = c.output;
  PARAPET_RETURN_IF_ERROR(r.Get("model", cfg.model));
  if (cfg.model.empty()) {
    return r.Fail("model", "a guard_model stage names a loaded guard model (model: llama-guard-3)");
  }
  PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<const pipeline::GuardScorer> scorer,
                           ResolveGuardModel(r, cfg.model, context));
  std::string name = pipeline::GuardTemplateName(cfg.prompt_template);
  PARAPET_RETURN_IF_ERROR(r.Get("template", name));
  const std::optional<pipeline::GuardTemplate> t = pipeline::GuardTemplateFromName(name);
  if (!t) return r.Fail("template", "must be llama-guard-3, llama-guard-3-1b or llama-guard-2");
  cfg.prompt_template = *t;
  PARAPET_RETURN_IF_ERROR(ReadGuardCategories(r, cfg));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<double>("threshold", cfg.threshold, 0.0, 1.0));
  PARAPET_RETURN_IF_ERROR(ReadAction(r, "default_action", cfg.default_action));
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("timeout_ms", cfg.timeout_ms, 1, 600000));
  int64_t tokens = cfg.max_continuation_tokens;
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int64_t>("max_continuation_tokens", tokens, 1, 256));
  cfg.max_continuation_tokens = static_cast<int32_t>(tokens);
  std::string conversation = "last";
  PARAPET_RETURN_IF_ERROR(r.Get("conversation", conversation));
  if (conversation != "last" && conversation != "all") {
    return r.Fail("conversation", "must be last or all");
  }
  cfg.conversation = conversation == "last" ? pipeline::GuardConversation::kLast
                                            : pipeline::GuardConversation::kAll;
  PARAPET_RETURN_IF_ERROR(ReadRunIf(r, c, cfg.run_if_flagged_by));
  PARAPET_RETURN_IF_ERROR(r.Get("skip_if_blocked", cfg.skip_if_blocked));
  return Built(r, pipeline::NewGuardModelStage(cfg, std::move(scorer)));
}

const std::map<std::string, Parser, std::less<>>& Parsers() {
  static const std::map<std::string, Parser, std::less<>> kParsers = {
      {"regex", &ParseRegex},
      {"pii", &ParsePii},
      {"unicode", &ParseUnicode},
      {"keywords", &ParseKeywords},
      {"length", &ParseLength},
      {"classifier", &ParseClassifier},
      {"guard_model", &ParseGuardModel},
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
