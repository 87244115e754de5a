// `parapet policy check | test | explain | eval`: the policy author's tools.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/labelled_data.h"
#include "common/json_writer.h"
#include "common/yaml_reader.h"
#include "gateway/guard_models.h"
#include "pipeline/guard_model.h"
#include "policies/policy_set.h"

namespace parapet::cli {
namespace {

using policies::PolicySet;

// --guard-model FILE (repeatable) and --threads: guard models loaded on the built-in engine, as
// `parapet serve --guard-model` loads them (named by the file stem), so guard_model stages run.
struct GuardModelArgs {
  std::vector<std::string> files;
  int threads = 0;
};

void AddGuardModelOptions(CLI::App* cmd, GuardModelArgs& g) {
  cmd->add_option("--guard-model", g.files,
                  "a guard model (GGUF) for guard_model stages, named by its file stem "
                  "(repeatable); without one those stages cannot decide (on_error)");
  cmd->add_option("--threads", g.threads, "CPU threads for guard models (default: all)");
}

// The loaded guard models and the compile context that resolves stages to them. Without any,
// the context leaves guard_model stages unresolved: they compile, and a check is Unavailable.
class GuardModels {
 public:
  static Result<std::unique_ptr<GuardModels>> Load(const GuardModelArgs& a) {
    std::unique_ptr<GuardModels> g(new GuardModels());
    for (const std::string& f : a.files) {
      gateway::GuardModelConfig c;
      c.path = f;
      engine::ModelOptions o;
      o.n_threads = a.threads;
      PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<gateway::GuardModel> m,
                               gateway::GuardModel::Load(c, o));
      if (Status s = g->registry_.Add(m); !s.ok())
        return InvalidArgumentError("--guard-model: " + s.message());
      g->models_.push_back(std::move(m));
    }
    if (!g->models_.empty()) g->context_.guard_models = &g->registry_;
    return g;
  }
  const policies::CompileContext& context() const { return context_; }
  bool empty() const { return models_.empty(); }

 private:
  GuardModels() = default;
  std::vector<std::shared_ptr<gateway::GuardModel>> models_;
  pipeline::GuardModelRegistry registry_;
  policies::CompileContext context_;
};

// Without --guard-model, a note per guard_model stage: it compiled, but its model is unchecked.
void NoteGuardModels(const std::string& file, const PolicySet& set, const GuardModels& models) {
  if (!models.empty()) return;
  for (const std::string& n : set.names()) {
    const policies::Policy& p = *set.Find(n);
    for (const auto* chain : {&p.input(), &p.output()}) {
      for (const auto& stage : chain->stages()) {
        if (stage->type() != "guard_model") continue;
        std::fprintf(stderr,
                     "%s: note: policy %s: guard_model stage %s: no --guard-model given, so its "
                     "model is not checked and its checks cannot decide (on_error)\n",
                     file.c_str(), n.c_str(), stage->id().c_str());
      }
    }
  }
}

// check: every file compiles. Exit 0, or 2 with one line per bad file. Warnings (output rules
// longer than the hold-back) go to stderr and do not change the exit code.
int RunCheck(const std::vector<std::string>& files, const GuardModelArgs& g) {
  Result<std::unique_ptr<GuardModels>> models = GuardModels::Load(g);
  if (!models.ok()) return InputError(models.status().message());
  int rc = 0;
  for (const std::string& f : files) {
    Result<std::shared_ptr<const PolicySet>> set = PolicySet::Load(f, (*models)->context());
    if (!set.ok()) {
      std::fprintf(stderr, "parapet: %s\n", set.status().message().c_str());
      rc = 2;
      continue;
    }
    std::string names;
    for (const std::string& n : (*set)->names()) {
      names +=
          (names.empty() ? "" : ", ") + n + " (" + (*set)->Find(n)->version().substr(0, 12) + ")";
    }
    std::printf("%s: ok: %s\n", f.c_str(), names.c_str());
    for (const std::string& n : (*set)->names()) {
      for (const std::string& w : (*set)->Find(n)->StreamWarnings()) {
        std::fprintf(stderr, "%s: warning: %s\n", f.c_str(), w.c_str());
      }
    }
    NoteGuardModels(f, **set, **models);
  }
  return rc;
}

// --cases F.jsonl: {"name":...,"input":...,"expect":"block","rules":[...]} per line, for the
// default policy.
Status LoadCases(const std::string& path, std::vector<policies::PolicyTest>& out) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot open the cases file");
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    // A deliberately small reader: the YAML parser reads JSON too.
    Result<YAML::Node> doc = LoadYaml(line, path + ":" + std::to_string(line_no));
    if (!doc.ok()) return doc.status();
    YamlMapReader r(*doc, "", path + ":" + std::to_string(line_no));
    policies::PolicyTest t;
    std::string input;
    PARAPET_RETURN_IF_ERROR(r.Get("name", t.name));
    PARAPET_RETURN_IF_ERROR(r.Get("input", input));
    PARAPET_RETURN_IF_ERROR(r.Get("expect", t.expect_action));
    PARAPET_RETURN_IF_ERROR(r.GetStringList("rules", t.expect_rules, true));
    PARAPET_RETURN_IF_ERROR(r.Finish());
    if (input.empty() || t.expect_action.empty()) {
      return InvalidArgumentError(path + ":" + std::to_string(line_no) +
                                  ": a case needs input and expect");
    }
    if (t.name.empty()) t.name = "line " + std::to_string(line_no);
    t.turns.push_back({"user", input});
    out.push_back(std::move(t));
  }
  return Status::Ok();
}

// test: each file's own tests plus --cases (for the default policy); a table of failures;
// exit 1 on any failure.
int RunTest(const std::vector<std::string>& files, const std::string& cases,
            const GuardModelArgs& g) {
  Result<std::unique_ptr<GuardModels>> models = GuardModels::Load(g);
  if (!models.ok()) return InputError(models.status().message());
  int rc = 0;
  for (const std::string& f : files) {
    Result<std::shared_ptr<const PolicySet>> set = PolicySet::Load(f, (*models)->context());
    if (!set.ok()) {
      std::fprintf(stderr, "parapet: %s\n", set.status().message().c_str());
      rc = 2;
      continue;
    }
    NoteGuardModels(f, **set, **models);
    int n = 0;
    std::vector<policies::TestFailure> failures = policies::RunPolicyTests(**set, &n);
    if (!cases.empty()) {
      std::vector<policies::PolicyTest> extra;
      Status s = LoadCases(cases, extra);
      if (!s.ok()) return InputError(s.message());
      const policies::Policy& p = (*set)->default_policy();
      for (const policies::PolicyTest& t : extra) {
        ++n;
        std::string why = policies::CheckPolicyTest(p, t);
        if (!why.empty()) failures.push_back({p.name(), t.name, why});
      }
    }
    for (const policies::TestFailure& x : failures) {
      std::printf("FAIL  %s  %-20s %-32s %s\n", f.c_str(), x.policy.c_str(), x.test.c_str(),
                  x.reason.c_str());
    }
    std::printf("%s: %d tests, %zu failed\n", f.c_str(), n, failures.size());
    if (!failures.empty() && rc == 0) rc = 1;
  }
  return rc;
}

// explain: which stages ran, what they found (spans), the verdict, and the time per stage.
// With `output`, TEXT is a model response and the output stages judge it.
int RunExplain(const std::string& file, const std::string& name, const std::string& text,
               bool output, bool json, const GuardModelArgs& g) {
  Result<std::unique_ptr<GuardModels>> models = GuardModels::Load(g);
  if (!models.ok()) return InputError(models.status().message());
  Result<std::shared_ptr<const PolicySet>> set = PolicySet::Load(file, (*models)->context());
  if (!set.ok()) return InputError(set.status().message());
  NoteGuardModels(file, **set, **models);
  const policies::Policy* p = name.empty() ? &(*set)->default_policy() : (*set)->Find(name);
  if (p == nullptr) return InputError("--name: no policy named '" + name + "' in " + file);
  policies::InputDecision d;
  if (output) {
    policies::OutputDecision o = p->EvaluateOutput(text);
    d.verdict = std::move(o.verdict);
    d.changed = d.verdict.action == pipeline::Action::kRedact;
    d.turns = {{"assistant", std::move(o.text)}};
  } else {
    const std::vector<policies::Turn> turns = {{"user", text}};
    d = p->EvaluateInput(turns);
  }
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.StringField("policy", p->name());
    w.StringField("version", p->version());
    w.StringField("section", output ? "output" : "input");
    w.StringField("action", pipeline::ActionName(d.verdict.action));
    w.StringField("text", d.turns[0].content);
    w.Key("stages");
    w.BeginArray();
    for (const pipeline::StageReport& s : d.verdict.stages) {
      w.BeginObject();
      w.StringField("id", s.stage_id);
      w.StringField("type", s.type);
      w.StringField("mode", s.mode == pipeline::Mode::kShadow ? "shadow" : "enforce");
      w.DoubleField("micros", s.micros);
      w.StringField("status", s.skipped ? "skipped" : s.status.ok() ? "ok" : s.status.ToString());
      w.IntField("findings", static_cast<int64_t>(s.n_findings));
      w.EndObject();
    }
    w.EndArray();
    w.Key("findings");
    w.BeginArray();
    for (const auto* list : {&d.verdict.findings, &d.verdict.shadow}) {
      for (const pipeline::Finding& f : *list) {
        w.BeginObject();
        w.StringField("rule", f.rule_id);
        w.StringField("type", f.type);
        w.StringField("action", pipeline::ActionName(f.action));
        w.Key("shadow");
        w.Bool(list == &d.verdict.shadow);
        w.IntField("begin", static_cast<int64_t>(f.span.begin));
        w.IntField("end", static_cast<int64_t>(f.span.end));
        w.DoubleField("score", f.score);
        w.EndObject();
      }
    }
    w.EndArray();
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("policy %s (version %s), %s stages\n", p->name().c_str(),
              p->version().substr(0, 12).c_str(), output ? "output" : "input");
  for (const pipeline::StageReport& s : d.verdict.stages) {
    std::printf("  stage %-16s %-9s %-7s %8.1f us  %s, %zu finding(s)\n", s.stage_id.c_str(),
                s.type.c_str(), s.mode == pipeline::Mode::kShadow ? "shadow" : "enforce", s.micros,
                s.skipped       ? "skipped"
                : s.status.ok() ? "ok"
                                : s.status.ToString().c_str(),
                s.n_findings);
  }
  for (const auto* list : {&d.verdict.findings, &d.verdict.shadow}) {
    for (const pipeline::Finding& f : *list) {
      std::printf("  %s %-28s %-14s bytes [%zu, %zu) %s score %.3f\n",
                  list == &d.verdict.shadow ? "shadow " : "finding", f.rule_id.c_str(),
                  f.type.c_str(), f.span.begin, f.span.end, pipeline::ActionName(f.action),
                  f.score);
    }
  }
  std::printf("verdict: %s\n", pipeline::ActionName(d.verdict.action));
  if (d.changed) std::printf("redacted: %s\n", d.turns[0].content.c_str());
  if (const pipeline::Finding* f = d.verdict.deciding()) {
    std::printf("blocked by %s: %s\n", f->rule_id.c_str(), p->options().message.c_str());
  }
  return 0;
}

// eval: the policy over a data set — per label, the share of texts allowed, flagged, redacted and
// blocked; which rules acted how often; the time per text. How a policy author measures
// over-blocking on benign look-alikes and recall on attacks before shipping a threshold.
struct EvalArgs {
  std::string file, name, data, text_col = "text", label_col = "label";
  bool output = false, json = false;
  GuardModelArgs guard;
};

int RunPolicyEval(const EvalArgs& a) {
  Result<std::unique_ptr<GuardModels>> models = GuardModels::Load(a.guard);
  if (!models.ok()) return InputError(models.status().message());
  Result<std::shared_ptr<const PolicySet>> set = PolicySet::Load(a.file, (*models)->context());
  if (!set.ok()) return InputError(set.status().message());
  NoteGuardModels(a.file, **set, **models);
  const policies::Policy* p = a.name.empty() ? &(*set)->default_policy() : (*set)->Find(a.name);
  if (p == nullptr) return InputError("--name: no policy named '" + a.name + "' in " + a.file);
  std::vector<LabelledText> rows;
  Status s = LoadLabelledTexts(a.data, a.text_col, a.label_col, /*label_optional=*/true, rows);
  if (!s.ok()) return InputError(s.message());
  if (rows.empty()) return InputError(a.data + ": no texts");
  constexpr int kActions = 4;  // allow, flag, redact, block
  std::map<std::string, std::array<int64_t, kActions>> by_label;
  std::map<std::string, int64_t> rule_counts;  // "rule action" -> texts
  std::vector<double> micros;
  micros.reserve(rows.size());
  int64_t errors = 0;
  for (const LabelledText& r : rows) {
    const auto t0 = std::chrono::steady_clock::now();
    pipeline::Verdict v;
    if (a.output) {
      v = p->EvaluateOutput(r.text).verdict;
    } else {
      const std::vector<policies::Turn> turns = {{"user", r.text}};
      v = p->EvaluateInput(turns).verdict;
    }
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    by_label[r.label.empty() ? "all" : r.label][static_cast<size_t>(v.action)] += 1;
    for (const pipeline::StageReport& st : v.stages) errors += st.status.ok() ? 0 : 1;
    std::map<std::string, bool> seen;  // one count per rule and text
    for (const pipeline::Finding& f : v.findings) {
      if (f.action == pipeline::Action::kAllow) continue;  // scores only
      const std::string key = f.rule_id + " " + pipeline::ActionName(f.action);
      if (!seen[key]) ++rule_counts[key];
      seen[key] = true;
    }
  }
  std::sort(micros.begin(), micros.end());
  const double p50 = micros[micros.size() / 2];
  const double p99 = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
  const pipeline::Action actions[kActions] = {pipeline::Action::kAllow, pipeline::Action::kFlag,
                                              pipeline::Action::kRedact, pipeline::Action::kBlock};
  if (a.json) {
    JsonWriter w;
    w.BeginObject();
    w.StringField("policy", p->name());
    w.StringField("version", p->version());
    w.StringField("section", a.output ? "output" : "input");
    w.IntField("texts", static_cast<int64_t>(rows.size()));
    w.Key("labels");
    w.BeginObject();
    for (const auto& [label, counts] : by_label) {
      int64_t n = 0;
      for (int64_t c : counts) n += c;
      w.Key(label);
      w.BeginObject();
      w.IntField("texts", n);
      for (pipeline::Action act : actions) {
        w.DoubleField(
            pipeline::ActionName(act),
            static_cast<double>(counts[static_cast<size_t>(act)]) / static_cast<double>(n));
      }
      w.EndObject();
    }
    w.EndObject();
    w.Key("rules");
    w.BeginObject();
    for (const auto& [key, n] : rule_counts) w.IntField(key, n);
    w.EndObject();
    w.IntField("stage_errors", errors);
    w.DoubleField("p50_us", p50);
    w.DoubleField("p99_us", p99);
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("policy %s (version %s), %s stages, %zu texts from %s\n", p->name().c_str(),
              p->version().substr(0, 12).c_str(), a.output ? "output" : "input", rows.size(),
              a.data.c_str());
  std::printf("  %-16s %7s %8s %8s %8s %8s\n", "label", "texts", "allow", "flag", "redact",
              "block");
  for (const auto& [label, counts] : by_label) {
    int64_t n = 0;
    for (int64_t c : counts) n += c;
    std::printf("  %-16s %7lld", label.c_str(), static_cast<long long>(n));
    for (pipeline::Action act : actions) {
      std::printf(" %7.2f%%", 100.0 * static_cast<double>(counts[static_cast<size_t>(act)]) /
                                  static_cast<double>(n));
    }
    std::printf("\n");
  }
  for (const auto& [key, n] : rule_counts) {
    std::printf("  rule %-40s %lld text(s)\n", key.c_str(), static_cast<long long>(n));
  }
  if (errors > 0) std::printf("  stage errors: %lld\n", static_cast<long long>(errors));
  std::printf("  time per text: p50 %.1f us, p99 %.1f us\n", p50, p99);
  return 0;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, Action* run) {
  CLI::App* policy = app.add_subcommand("policy", "Check, test, explain and measure policy files");
  policy->require_subcommand(1);

  auto files = std::make_shared<std::vector<std::string>>();
  auto check_guard = std::make_shared<GuardModelArgs>();
  CLI::App* check = policy->add_subcommand("check", "Compile policy files; report every error");
  check->add_option("FILE", *files, "policy files")->required();
  AddGuardModelOptions(check, *check_guard);
  check->callback([files, check_guard, run] {
    *run = [files, check_guard] { return RunCheck(*files, *check_guard); };
  });

  auto test_files = std::make_shared<std::vector<std::string>>();
  auto cases = std::make_shared<std::string>();
  auto test_guard = std::make_shared<GuardModelArgs>();
  CLI::App* test = policy->add_subcommand("test", "Run the policies' tests (exit 1 on a failure)");
  test->add_option("FILE", *test_files, "policy files")->required();
  test->add_option("--cases", *cases,
                   "extra cases, JSONL: {\"input\":...,\"expect\":\"block\",\"rules\":[...]}");
  AddGuardModelOptions(test, *test_guard);
  test->callback([test_files, cases, test_guard, run] {
    *run = [test_files, cases, test_guard] { return RunTest(*test_files, *cases, *test_guard); };
  });

  struct ExplainArgs {
    std::string file, name, text;
    bool output = false, json = false;
    GuardModelArgs guard;
  };
  auto e = std::make_shared<ExplainArgs>();
  CLI::App* explain = policy->add_subcommand(
      "explain", "Show which stages fire on a text, the spans, the verdict and the time taken");
  explain->add_option("--policy", e->file, "policy file")->required();
  explain->add_option("--name", e->name, "policy name (default: the file's default)");
  explain->add_option("TEXT", e->text, "the text to evaluate as a user message")->required();
  explain->add_flag("--output", e->output,
                    "TEXT is a model response: run the policy's output stages on it");
  explain->add_flag("--json", e->json, "one JSON object");
  AddGuardModelOptions(explain, e->guard);
  explain->callback([e, run] {
    *run = [e] { return RunExplain(e->file, e->name, e->text, e->output, e->json, e->guard); };
  });

  auto v = std::make_shared<EvalArgs>();
  CLI::App* eval = policy->add_subcommand(
      "eval", "Run a policy over a data set: allow/flag/redact/block rates per label, rules, time");
  eval->add_option("--policy", v->file, "policy file")->required();
  eval->add_option("--name", v->name, "policy name (default: the file's default)");
  eval->add_option("--data", v->data, "JSONL {\"text\", \"label\"} or CSV (label optional)")
      ->required();
  eval->add_option("--text-column", v->text_col, "text field / CSV column (default text)");
  eval->add_option("--label-column", v->label_col, "label field / CSV column (default label)");
  eval->add_flag("--output", v->output, "the texts are model responses: run the output stages");
  eval->add_flag("--json", v->json, "one JSON object");
  AddGuardModelOptions(eval, v->guard);
  eval->callback([v, run] { *run = [v] { return RunPolicyEval(*v); }; });
}

}  // namespace parapet::cli
