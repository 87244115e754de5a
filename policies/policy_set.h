// PolicySet: one policy file compiled — named policies (with `extends:` resolved), the routes
// that pick a policy for a request, and the default. Loading parses the YAML strictly
// (SCHEMA.md; errors are "file:line:col: field: message"), builds every stage (a bad regex or an
// unknown stage type is an error naming the stage), and computes each policy's version: the
// SHA-256 of its canonical form (the resolved policy re-emitted as YAML: comments, formatting
// and key quoting do not change it).
//
// Thread-safety: immutable once loaded; share as shared_ptr<const PolicySet>.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policies/policy.h"

namespace YAML {
class Node;
}

namespace parapet::pipeline {
class TokenCounter;
class GuardModelRegistry;
}  // namespace parapet::pipeline

namespace parapet::policies {

// What stages may need from their surroundings. Both outlive every policy compiled with them.
struct CompileContext {
  const pipeline::TokenCounter* token_counter = nullptr;  // for token limits; may be null
  // The guard models this process loaded: a guard_model stage's `model:` must name one (an
  // unknown name is a load error). Null: validation only (`parapet policy` commands, which have
  // no engine) — the name is accepted unresolved and the stage's checks are Unavailable, so
  // on_error decides.
  const pipeline::GuardModelRegistry* guard_models = nullptr;
};

// Picks a policy: every non-empty field must equal the request's.
struct Route {
  std::string tenant;
  std::string api_key;  // the API key's configured id
  std::string route;    // "/v1/chat/completions", ...
  std::string model;
  std::string policy;
};

// Who is asking, for routing.
struct RequestContext {
  std::string tenant;
  std::string api_key;
  std::string route;
  std::string model;
};

class PolicySet {
 public:
  // Parses and compiles YAML text; `file` names it in errors; relative file references (keyword
  // lists) resolve against `base_dir`.
  static Result<std::shared_ptr<const PolicySet>> Parse(std::string_view yaml,
                                                        std::string_view file,
                                                        std::string_view base_dir,
                                                        const CompileContext& context);
  static Result<std::shared_ptr<const PolicySet>> Load(const std::string& path,
                                                       const CompileContext& context);

  // The first route that matches, else the default policy. Never null.
  const Policy* Select(const RequestContext& request) const;
  const Policy* Find(std::string_view name) const;  // null if unknown
  const Policy& default_policy() const { return *Find(default_); }
  std::vector<std::string> names() const;
  const std::string& file() const { return file_; }

 private:
  PolicySet() = default;
  Status Build(const YAML::Node& root, std::string_view file, std::string_view base_dir,
               const CompileContext& context);

  std::string file_;
  std::map<std::string, std::unique_ptr<const Policy>, std::less<>> policies_;
  std::vector<Route> routes_;
  std::string default_;
};

// ---- policy tests ----

struct TestFailure {
  std::string policy;
  std::string test;
  std::string reason;  // "expected block, got redact (rules: pii.email)"
};

// Runs every policy's `tests:`; the failures (empty = all passed). `n_run` gets the count.
std::vector<TestFailure> RunPolicyTests(const PolicySet& set, int* n_run = nullptr);

// Runs one case against one policy; "" when it passes, else the reason.
std::string CheckPolicyTest(const Policy& policy, const PolicyTest& test);

}  // namespace parapet::policies
