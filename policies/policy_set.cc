// PolicySet: YAML -> resolved (extends) -> compiled policies, routes, versions, tests.
#include "policies/policy_set.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <list>
#include <set>
#include <sstream>

#include "common/yaml_reader.h"
#include "policies/internal/stage_parsers.h"

namespace parapet::policies {
namespace {

// A policy's YAML with `extends` applied, node by node so that errors keep their positions.
// Careful: assigning to a YAML::Node that already refers to a node rewrites that node in the
// document (yaml-cpp's reference semantics), so handles are only ever copy-constructed here
// (map emplace after erase, list insert) — never assigned.
struct RawPolicy {
  std::string name;
  std::map<std::string, YAML::Node> fields;  // scalar and mapping settings
  std::list<YAML::Node> stages;              // `input:` entries, parent's first
  std::list<YAML::Node> output_stages;       // `output.stages:` entries, parent's first
  std::map<std::string, YAML::Node> output;  // other `output:` settings (holdback_chars)
  std::vector<YAML::Node> tests;             // `tests:` entries, parent's first
};

// Adds `item` to `stages`: a stage with an id already there replaces it in place; a new one is
// appended.
void MergeStage(std::list<YAML::Node>& stages, const YAML::Node& item);

const std::set<std::string> kPolicyKeys = {"extends", "description", "on_error", "scan",
                                           "mask",    "message",     "on_block", "refusal",
                                           "input",   "output",      "tests"};

std::string StageId(const YAML::Node& stage) {
  return stage.IsMap() && stage["id"] && stage["id"].IsScalar() ? stage["id"].Scalar() : "";
}

void MergeStage(std::list<YAML::Node>& stages, const YAML::Node& item) {
  const std::string id = StageId(item);
  auto same = std::find_if(stages.begin(), stages.end(),
                           [&](const YAML::Node& s) { return !id.empty() && StageId(s) == id; });
  if (same != stages.end()) {
    stages.insert(stages.erase(same), item);
  } else {
    stages.push_back(item);
  }
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// The canonical form of a node: JSON-like text with mapping keys sorted and every scalar quoted,
// so that comments, flow or block style and quoting do not change it.
void CanonicalNode(const YAML::Node& n, std::string& out) {
  auto quoted = [&out](const std::string& s) {
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  };
  if (n.IsMap()) {
    std::map<std::string, YAML::Node> sorted;
    for (auto it = n.begin(); it != n.end(); ++it) sorted[it->first.Scalar()] = it->second;
    out += '{';
    for (const auto& [k, v] : sorted) {
      quoted(k);
      out += ':';
      CanonicalNode(v, out);
      out += ',';
    }
    out += '}';
  } else if (n.IsSequence()) {
    out += '[';
    for (const YAML::Node& v : n) {
      CanonicalNode(v, out);
      out += ',';
    }
    out += ']';
  } else if (n.IsScalar()) {
    quoted(n.Scalar());
  } else {
    out += "null";
  }
}

void CanonicalMap(const std::map<std::string, YAML::Node>& m, std::string& out) {
  for (const auto& [k, v] : m) {
    out += k + ":";
    CanonicalNode(v, out);
    out += ",";
  }
}

void CanonicalList(std::string_view key, const auto& list, std::string& out) {
  out += std::string(key) + ":[";
  for (const YAML::Node& n : list) {
    CanonicalNode(n, out);
    out += ",";
  }
  out += "]";
}

// The canonical form of a resolved policy: its settings, stages and tests. A policy without an
// output section has the same form (and version) as before output sections existed.
std::string Canonical(const RawPolicy& p) {
  std::string out = "{";
  CanonicalMap(p.fields, out);
  CanonicalList("input", p.stages, out);
  if (!p.output.empty() || !p.output_stages.empty()) {
    out += ",output:{";
    CanonicalMap(p.output, out);
    CanonicalList("stages", p.output_stages, out);
    out += "}";
  }
  out += ",";
  CanonicalList("tests", p.tests, out);
  return out + "}";
}

class Loader {
 public:
  Loader(std::string_view file, std::string_view base_dir, const CompileContext& context)
      : file_(file), base_dir_(base_dir), context_(context) {}

  Status Resolve(const YAML::Node& policies, std::map<std::string, RawPolicy>& out);
  Result<std::unique_ptr<const Policy>> Compile(const RawPolicy& raw);

 private:
  Status ResolveOne(const std::string& name, const YAML::Node& policies,
                    std::map<std::string, RawPolicy>& out, std::set<std::string>& visiting);
  Status ReadScope(const RawPolicy& raw, ScanScope& scope);
  Status ReadOutput(const std::string& field, const YAML::Node& node, RawPolicy& p);
  Status CompileStages(const std::list<YAML::Node>& list, const std::string& field,
                       std::set<std::string>& ids,
                       std::vector<std::unique_ptr<const pipeline::Stage>>& out);
  Status ReadTest(YamlMapReader& r, PolicyTest& t);
  Status Err(const YAML::Node& at, std::string_view field, std::string_view message) const {
    return YamlError(file_, at, field, message);
  }

  std::string file_;
  std::string base_dir_;
  const CompileContext& context_;
};

Status Loader::Resolve(const YAML::Node& policies, std::map<std::string, RawPolicy>& out) {
  if (!policies.IsMap() || policies.size() == 0) {
    return Err(policies, "policies", "must be a mapping of at least one named policy");
  }
  std::set<std::string> visiting;
  for (auto it = policies.begin(); it != policies.end(); ++it) {
    PARAPET_RETURN_IF_ERROR(ResolveOne(it->first.Scalar(), policies, out, visiting));
  }
  return Status::Ok();
}

Status Loader::ResolveOne(const std::string& name, const YAML::Node& policies,
                          std::map<std::string, RawPolicy>& out, std::set<std::string>& visiting) {
  if (out.count(name) != 0) return Status::Ok();
  const std::string field = "policies." + name;
  const YAML::Node node = policies[name];
  if (!node.IsMap()) return Err(node, field, "must be a mapping");
  if (!visiting.insert(name).second) return Err(node, field + ".extends", "inheritance cycle");
  RawPolicy p;
  if (const YAML::Node parent = node["extends"]) {
    if (!parent.IsScalar() || !policies[parent.Scalar()]) {
      return Err(parent, field + ".extends", "no policy named '" + parent.Scalar() + "'");
    }
    PARAPET_RETURN_IF_ERROR(ResolveOne(parent.Scalar(), policies, out, visiting));
    const RawPolicy& base = out.at(parent.Scalar());
    p.fields = base.fields;  // into empty containers: copy-constructed handles
    p.stages = base.stages;
    p.output_stages = base.output_stages;
    p.output = base.output;
    p.tests = base.tests;
  }
  p.name = name;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (kPolicyKeys.count(key) == 0) return Err(it->first, field + "." + key, "unknown key");
    if (key == "extends") continue;
    if (key == "output") {
      PARAPET_RETURN_IF_ERROR(ReadOutput(field + ".output", it->second, p));
      continue;
    }
    if (key == "input" || key == "tests") {
      // A named handle: iterating `it->second` directly would walk a destroyed temporary.
      const YAML::Node list = it->second;
      if (!list.IsSequence()) return Err(list, field + "." + key, "must be a list");
      for (const YAML::Node& item : list) {
        if (key == "tests") {
          p.tests.push_back(item);
          continue;
        }
        MergeStage(p.stages, item);  // a parent's stage with this id is replaced in place
      }
      continue;
    }
    p.fields.erase(key);
    p.fields.emplace(key, it->second);
  }
  visiting.erase(name);
  out.emplace(name, std::move(p));
  return Status::Ok();
}

Status Loader::ReadOutput(const std::string& field, const YAML::Node& node, RawPolicy& p) {
  if (!node.IsMap()) return Err(node, field, "must be a mapping (holdback_chars, message, stages)");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key == "stages") {
      const YAML::Node list = it->second;  // named: see ResolveOne
      if (!list.IsSequence()) return Err(list, field + ".stages", "must be a list");
      for (const YAML::Node& item : list) MergeStage(p.output_stages, item);
    } else if (key == "holdback_chars" || key == "message") {
      p.output.erase(key);
      p.output.emplace(key, it->second);
    } else {
      return Err(it->first, field + "." + key, "unknown key (holdback_chars, message, stages)");
    }
  }
  return Status::Ok();
}

Status Loader::CompileStages(const std::list<YAML::Node>& list, const std::string& field,
                             std::set<std::string>& ids,
                             std::vector<std::unique_ptr<const pipeline::Stage>>& out) {
  size_t i = 0;
  std::vector<std::pair<std::string, pipeline::Mode>> earlier;
  for (auto it = list.begin(); it != list.end(); ++it, ++i) {
    const YAML::Node& s = *it;
    const std::string sf = field + "[" + std::to_string(i) + "]";
    if (!s.IsMap()) return Err(s, sf, "must be a mapping with id and type");
    YamlMapReader sr(s, sf, file_);
    internal::StageCommon c;
    c.base_dir = base_dir_;
    c.output = field.ends_with(".output.stages");
    PARAPET_RETURN_IF_ERROR(sr.Get("id", c.id));
    PARAPET_RETURN_IF_ERROR(sr.Get("type", c.type));
    std::string mode = "enforce";
    PARAPET_RETURN_IF_ERROR(sr.Get("mode", mode));
    if (c.id.empty()) return sr.Fail("id", "every stage needs an id");
    if (!ids.insert(c.id).second) {
      return sr.Fail("id", "duplicate stage id '" + c.id + "' (ids are unique in a policy)");
    }
    if (c.type.empty()) return sr.Fail("type", "every stage needs a type");
    if (mode != "enforce" && mode != "shadow") return sr.Fail("mode", "must be enforce or shadow");
    c.mode = mode == "shadow" ? pipeline::Mode::kShadow : pipeline::Mode::kEnforce;
    c.earlier = earlier;
    PARAPET_ASSIGN_OR_RETURN(std::unique_ptr<const pipeline::Stage> stage,
                             internal::ParseStage(sr, c, context_));
    PARAPET_RETURN_IF_ERROR(sr.Finish());
    earlier.emplace_back(c.id, c.mode);
    out.push_back(std::move(stage));
  }
  return Status::Ok();
}

Status Loader::ReadScope(const RawPolicy& raw, ScanScope& scope) {
  auto it = raw.fields.find("scan");
  if (it == raw.fields.end()) return Status::Ok();
  const std::string field = "policies." + raw.name + ".scan";
  if (!it->second.IsMap()) return Err(it->second, field, "must be a mapping");
  YamlMapReader r(it->second, field, file_);
  std::vector<std::string> roles;
  PARAPET_RETURN_IF_ERROR(r.GetStringList("roles", roles));
  if (!roles.empty()) scope.roles = std::set<std::string>(roles.begin(), roles.end());
  for (const std::string& role : scope.roles) {
    if (role != "system" && role != "user" && role != "assistant") {
      return r.Fail("roles", "roles are system, user and assistant; got '" + role + "'");
    }
  }
  std::string turns = "all";
  PARAPET_RETURN_IF_ERROR(r.Get("turns", turns));
  if (turns != "all" && turns != "last") return r.Fail("turns", "must be all or last");
  scope.last_turn_only = turns == "last";
  return r.Finish();
}

Status Loader::ReadTest(YamlMapReader& r, PolicyTest& t) {
  PARAPET_RETURN_IF_ERROR(r.Get("name", t.name));
  std::string input;
  PARAPET_RETURN_IF_ERROR(r.Get("input", input));
  if (!input.empty()) t.turns.push_back(Turn{"user", input});
  if (r.node()["output"]) {
    // With `output`, `input` / `messages` are the request the response answers (context for
    // stages that judge the exchange, like guard_model).
    t.is_output = true;
    PARAPET_RETURN_IF_ERROR(r.Get("output", t.output));
  }
  PARAPET_RETURN_IF_ERROR(r.List("messages", [&](YamlMapReader& m) -> Status {
    Turn turn;
    PARAPET_RETURN_IF_ERROR(m.Get("role", turn.role));
    PARAPET_RETURN_IF_ERROR(m.Get("content", turn.content));
    t.turns.push_back(std::move(turn));
    return Status::Ok();
  }));
  if (t.turns.empty() && !t.is_output) {
    return r.Fail("input", "a test needs `input`, `messages` or `output`");
  }
  PARAPET_RETURN_IF_ERROR(r.Section("expect", [&](YamlMapReader& e) -> Status {
    PARAPET_RETURN_IF_ERROR(e.Get("action", t.expect_action));
    if (!t.expect_action.empty() && t.expect_action != "allow" && t.expect_action != "flag" &&
        t.expect_action != "redact" && t.expect_action != "block") {
      return e.Fail("action", "must be allow, flag, redact or block");
    }
    PARAPET_RETURN_IF_ERROR(e.GetStringList("rules", t.expect_rules, true));
    PARAPET_RETURN_IF_ERROR(e.GetStringList("absent", t.expect_absent, true));
    if (e.node()["redacted"]) {
      t.has_expect_redacted = true;
      PARAPET_RETURN_IF_ERROR(e.Get("redacted", t.expect_redacted));
    }
    return Status::Ok();
  }));
  if (t.expect_action.empty()) return r.Fail("expect", "a test needs expect.action");
  return Status::Ok();
}

Result<std::unique_ptr<const Policy>> Loader::Compile(const RawPolicy& raw) {
  const std::string field = "policies." + raw.name;
  Policy::Options o;
  o.name = raw.name;
  o.version = Sha256Hex(Canonical(raw));
  PARAPET_RETURN_IF_ERROR(ReadScope(raw, o.scope));
  // Plain settings: read through a reader over a synthetic map of the resolved fields.
  YAML::Node settings(YAML::NodeType::Map);
  for (const auto& [k, v] : raw.fields) {
    if (k != "scan") settings[k] = v;  // fresh child nodes: this binds, it rewrites nothing
  }
  YamlMapReader r(settings, field, file_);
  std::string description, on_error = "block", on_block = "error";
  PARAPET_RETURN_IF_ERROR(r.Get("description", description));
  PARAPET_RETURN_IF_ERROR(r.Get("on_error", on_error));
  PARAPET_RETURN_IF_ERROR(r.Get("mask", o.mask));
  PARAPET_RETURN_IF_ERROR(r.Get("message", o.message));
  PARAPET_RETURN_IF_ERROR(r.Get("on_block", on_block));
  PARAPET_RETURN_IF_ERROR(r.Get("refusal", o.refusal));
  if (on_error != "block" && on_error != "allow")
    return r.Fail("on_error", "must be block or allow");
  if (on_block != "error" && on_block != "refusal") {
    return r.Fail("on_block", "must be error or refusal");
  }
  o.on_error = on_error == "block" ? pipeline::OnError::kBlock : pipeline::OnError::kAllow;
  o.on_block = on_block == "error" ? BlockResponse::kError : BlockResponse::kRefusal;

  std::vector<std::unique_ptr<const pipeline::Stage>> stages, output_stages;
  std::set<std::string> ids;
  PARAPET_RETURN_IF_ERROR(CompileStages(raw.stages, field + ".input", ids, stages));
  PARAPET_RETURN_IF_ERROR(
      CompileStages(raw.output_stages, field + ".output.stages", ids, output_stages));
  if (auto h = raw.output.find("holdback_chars"); h != raw.output.end()) {
    YAML::Node out(YAML::NodeType::Map);
    out["holdback_chars"] = h->second;
    YamlMapReader hr(out, field + ".output", file_);
    int64_t holdback = 0;
    PARAPET_RETURN_IF_ERROR(hr.GetInRange<int64_t>("holdback_chars", holdback, 1, 65536));
    o.holdback_chars = static_cast<size_t>(holdback);
  }
  if (auto m = raw.output.find("message"); m != raw.output.end()) {
    if (!m->second.IsScalar() || m->second.Scalar().empty()) {
      return Err(m->second, field + ".output.message", "must be a non-empty string");
    }
    o.output_message = m->second.Scalar();
  }
  for (size_t k = 0; k < raw.tests.size(); ++k) {
    const YAML::Node& t = raw.tests[k];
    const std::string tf = field + ".tests[" + std::to_string(k) + "]";
    if (!t.IsMap()) return Err(t, tf, "must be a mapping");
    YamlMapReader tr(t, tf, file_);
    PolicyTest test;
    PARAPET_RETURN_IF_ERROR(ReadTest(tr, test));
    PARAPET_RETURN_IF_ERROR(tr.Finish());
    if (test.name.empty()) test.name = "tests[" + std::to_string(k) + "]";
    o.tests.push_back(std::move(test));
  }
  return std::unique_ptr<const Policy>(
      new Policy(std::move(o), std::move(stages), std::move(output_stages)));
}

Status ReadRoute(YamlMapReader& r, Route& route) {
  PARAPET_RETURN_IF_ERROR(r.Get("tenant", route.tenant));
  PARAPET_RETURN_IF_ERROR(r.Get("api_key", route.api_key));
  PARAPET_RETURN_IF_ERROR(r.Get("route", route.route));
  PARAPET_RETURN_IF_ERROR(r.Get("model", route.model));
  PARAPET_RETURN_IF_ERROR(r.Get("policy", route.policy));
  if (route.policy.empty()) return r.Fail("policy", "a route needs a policy");
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const PolicySet>> PolicySet::Parse(std::string_view yaml,
                                                          std::string_view file,
                                                          std::string_view base_dir,
                                                          const CompileContext& context) {
  PARAPET_ASSIGN_OR_RETURN(const YAML::Node root, LoadYaml(yaml, file));
  auto set = std::shared_ptr<PolicySet>(new PolicySet());
  PARAPET_RETURN_IF_ERROR(
      GuardYaml(file, [&] { return set->Build(root, file, base_dir, context); }));
  return std::shared_ptr<const PolicySet>(std::move(set));
}

Status PolicySet::Build(const YAML::Node& root, std::string_view file, std::string_view base_dir,
                        const CompileContext& context) {
  YamlMapReader r(root, "", file);
  PARAPET_RETURN_IF_ERROR(r.CheckIsMap());
  if (!root["version"]) return YamlError(file, root, "version", "is required (version: 1)");
  int32_t version = 0;
  PARAPET_RETURN_IF_ERROR(r.GetInRange<int32_t>("version", version, 1, 1));
  if (!root["policies"]) return YamlError(file, root, "policies", "is required");
  PolicySet* set = this;
  set->file_ = std::string(file);
  PARAPET_RETURN_IF_ERROR(r.Get("default", set->default_));
  r.MarkSeen("policies");
  Loader loader(file, base_dir, context);
  std::map<std::string, RawPolicy> raw;
  PARAPET_RETURN_IF_ERROR(loader.Resolve(root["policies"], raw));
  for (const auto& [name, p] : raw) {
    PARAPET_ASSIGN_OR_RETURN(std::unique_ptr<const Policy> policy, loader.Compile(p));
    set->policies_.emplace(name, std::move(policy));
  }
  PARAPET_RETURN_IF_ERROR(r.List("routes", [&](YamlMapReader& rr) -> Status {
    Route route;
    PARAPET_RETURN_IF_ERROR(ReadRoute(rr, route));
    if (set->policies_.count(route.policy) == 0) {
      return rr.Fail("policy", "no policy named '" + route.policy + "'");
    }
    set->routes_.push_back(std::move(route));
    return Status::Ok();
  }));
  if (set->default_.empty()) {
    if (set->policies_.count("default") != 0) {
      set->default_ = "default";
    } else if (set->policies_.size() == 1) {
      set->default_ = set->policies_.begin()->first;
    } else {
      return r.Fail("default", "name the default policy (several policies, none called default)");
    }
  } else if (set->policies_.count(set->default_) == 0) {
    return r.Fail("default", "no policy named '" + set->default_ + "'");
  }
  return r.Finish();
}

Result<std::shared_ptr<const PolicySet>> PolicySet::Load(const std::string& path,
                                                         const CompileContext& context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open the policy file");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return Parse(text.str(), path, dir.empty() ? "." : dir, context);
}

const Policy* PolicySet::Find(std::string_view name) const {
  auto it = policies_.find(name);
  return it == policies_.end() ? nullptr : it->second.get();
}

const Policy* PolicySet::Select(const RequestContext& q) const {
  auto match = [](const std::string& want, const std::string& have) {
    return want.empty() || want == have;
  };
  for (const Route& r : routes_) {
    if (match(r.tenant, q.tenant) && match(r.api_key, q.api_key) && match(r.route, q.route) &&
        match(r.model, q.model)) {
      return Find(r.policy);
    }
  }
  return Find(default_);
}

std::vector<std::string> PolicySet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, p] : policies_) out.push_back(name);
  return out;
}

// ---- tests ----

namespace {

// The output stages streamed byte by byte must decide as they do on the whole text; "" when they
// do, else why not.
std::string CheckStreaming(const Policy& policy, const std::string& response,
                           std::span<const Turn> prompt, const OutputDecision& whole) {
  pipeline::StreamGuardOptions options = policy.stream_options();
  for (const Turn& t : prompt) options.context.push_back({t.role, t.content});
  pipeline::StreamGuard guard(policy.output(), std::move(options));
  std::string streamed;
  for (char c : response) streamed += guard.Push(std::string_view(&c, 1));
  streamed += guard.Finish();
  const bool whole_blocked = whole.verdict.action == pipeline::Action::kBlock;
  if (guard.blocked() == whole_blocked && (whole_blocked || streamed == whole.text)) return "";
  return "streamed, the output " +
         std::string(guard.blocked() ? "was blocked" : "was \"" + streamed + "\"") +
         " (a rule may match more than holdback_chars=" +
         std::to_string(policy.options().holdback_chars) + " characters)";
}

}  // namespace

std::string CheckPolicyTest(const Policy& policy, const PolicyTest& test) {
  pipeline::Verdict verdict;
  std::string redacted, why;
  if (test.is_output) {
    OutputDecision d = policy.EvaluateOutput(test.output, test.turns);
    why = CheckStreaming(policy, test.output, test.turns, d);
    verdict = std::move(d.verdict);
    redacted = std::move(d.text);
  } else {
    InputDecision d = policy.EvaluateInput(test.turns);
    verdict = std::move(d.verdict);
    // The last turn the policy scans (or the last turn).
    if (!d.turns.empty()) redacted = d.turns.back().content;
    for (auto it = d.turns.rbegin(); it != d.turns.rend(); ++it) {
      if (policy.options().scope.roles.count(it->role) != 0) {
        redacted = it->content;
        break;
      }
    }
  }
  std::set<std::string> fired;
  std::string fired_list;
  for (const pipeline::Finding& f : verdict.findings) {
    if (f.action == pipeline::Action::kAllow) continue;  // a score, not a hit
    if (fired.insert(f.rule_id).second) fired_list += (fired_list.empty() ? "" : ", ") + f.rule_id;
  }
  auto add = [&why](const std::string& reason) { why += (why.empty() ? "" : "; ") + reason; };
  const std::string got = pipeline::ActionName(verdict.action);
  if (got != test.expect_action) add("expected " + test.expect_action + ", got " + got);
  for (const std::string& rule : test.expect_rules) {
    if (fired.count(rule) == 0) add("rule " + rule + " did not fire");
  }
  for (const std::string& rule : test.expect_absent) {
    if (fired.count(rule) != 0) add("rule " + rule + " fired");
  }
  if (test.has_expect_redacted && redacted != test.expect_redacted) {
    add("redacted text was \"" + redacted + "\"");
  }
  if (!why.empty()) why += " (rules fired: " + (fired_list.empty() ? "none" : fired_list) + ")";
  return why;
}

std::vector<TestFailure> RunPolicyTests(const PolicySet& set, int* n_run) {
  std::vector<TestFailure> failures;
  int n = 0;
  for (const std::string& name : set.names()) {
    const Policy& p = *set.Find(name);
    for (const PolicyTest& t : p.options().tests) {
      ++n;
      std::string why = CheckPolicyTest(p, t);
      if (!why.empty()) failures.push_back(TestFailure{name, t.name, std::move(why)});
    }
  }
  if (n_run != nullptr) *n_run = n;
  return failures;
}

}  // namespace parapet::policies
