// Policy: scanning the turns in scope and applying the verdict's redactions.
#include "policies/policy.h"

namespace parapet::policies {

Policy::Policy(Options options, std::vector<std::unique_ptr<const pipeline::Stage>> input_stages,
               std::vector<std::unique_ptr<const pipeline::Stage>> output_stages)
    : o_(std::move(options)),
      input_(std::move(input_stages), o_.on_error),
      output_(std::move(output_stages), o_.on_error) {}

std::vector<std::string> Policy::StreamWarnings() const {
  std::vector<std::string> out;
  for (const auto& stage : output_.stages()) {
    for (std::string& w : stage->RulesLongerThan(o_.holdback_chars)) {
      out.push_back("policy " + o_.name + ": output rule " + std::move(w) +
                    ", more than holdback_chars=" + std::to_string(o_.holdback_chars) +
                    "; a streamed response may show the start of such a match before it is "
                    "recognised");
    }
  }
  return out;
}

OutputDecision Policy::EvaluateOutput(const std::string& response,
                                      std::span<const Turn> prompt) const {
  OutputDecision d;
  std::vector<pipeline::ContextTurn> context;
  for (const Turn& t : prompt) context.push_back(pipeline::ContextTurn{t.role, t.content});
  pipeline::Input input;
  input.messages.push_back(pipeline::Message{"assistant", pipeline::ScanText(response)});
  input.context = context;
  d.verdict = output_.Run(input);
  if (d.verdict.action != pipeline::Action::kBlock) {
    d.text = pipeline::Redact(response, d.verdict.findings, 0, o_.mask);
  }
  return d;
}

InputDecision Policy::EvaluateInput(std::span<const Turn> turns) const {
  InputDecision d;
  d.turns.assign(turns.begin(), turns.end());
  // Which request turns are scanned, in order; index[i] = the turn behind message i.
  std::vector<size_t> index;
  for (size_t i = 0; i < turns.size(); ++i) {
    if (o_.scope.roles.count(turns[i].role) != 0) index.push_back(i);
  }
  if (o_.scope.last_turn_only && index.size() > 1) index.erase(index.begin(), index.end() - 1);
  pipeline::Input input;
  for (size_t i : index) {
    input.messages.push_back(
        pipeline::Message{turns[i].role, pipeline::ScanText(turns[i].content)});
  }
  d.verdict = input_.Run(input);
  d.scanned = index;
  if (d.verdict.action == pipeline::Action::kRedact) {
    for (size_t m = 0; m < index.size(); ++m) {
      std::string redacted = pipeline::Redact(turns[index[m]].content, d.verdict.findings,
                                              static_cast<int32_t>(m), o_.mask);
      if (redacted != d.turns[index[m]].content) {
        d.turns[index[m]].content = std::move(redacted);
        d.changed = true;
      }
    }
  }
  return d;
}

}  // namespace parapet::policies
