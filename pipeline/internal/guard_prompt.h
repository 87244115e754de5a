// Guard prompts: the Llama Guard prompt formats rendered as the models' chat templates render them
// (the `tokenizer.chat_template` of the published Hugging Face / GGUF files), and the parser of
// what the models answer. Used by the guard_model stage (stages/guard_model_stage.h).
//
// Llama Guard 3 (8B), checking the last user message (role "User"; "Agent" for a response):
//
//   <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n
//   Task: Check if there is unsafe content in 'User' messages in conversations according our
//   safety policy with the below categories.\n\n                       (one line in the prompt)
//   <BEGIN UNSAFE CONTENT CATEGORIES>\n
//   S1: Violent Crimes.\n ... S14: Code Interpreter Abuse.\n
//   <END UNSAFE CONTENT CATEGORIES>\n\n
//   <BEGIN CONVERSATION>\n\n
//   User: {message, whitespace-stripped}\n\n                            (one per turn)
//   <END CONVERSATION>\n\n
//   Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n
//    - First line must read 'safe' or 'unsafe'.\n
//    - If unsafe, a second line must include a comma-separated list of violated categories.
//   <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
//
// Llama Guard 3 1B: the same with S1–S13 and a space before `<|eot_id|>` (its template has one).
// Llama Guard 2: "[INST] Task: ..." with the S1–S11 list written "S1: Violent Crimes. " (a
// trailing space, as in its template), the same conversation and instructions, and " [/INST]" at
// the end; no BOS in the text (GuardPrompt::add_bos).
//
// Two deliberate differences from the Jinja templates, both about where the model's answer
// starts: the Llama 3 assistant header is followed by its "\n\n" (the templates end at
// `<|end_header_id|>` and the model's first generated token is then "\n\n"; with it in the prompt
// the first generated token is the verdict, which is where P(unsafe) is read), and Llama Guard 3
// 8B's template puts a stray space before `<|begin_of_text|>`, which is left out.
//
// A category with a description is rendered as llama-recipes' `build_custom_prompt(...,
// with_policy=True)` does: "S1: Name.\n{description}". A name gets a final "." unless it has one.
//
// Thread-safety: GuardPromptRenderer is immutable after construction; the functions are pure.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pipeline/guard_model.h"

namespace parapet::pipeline::internal {

// Whose message the guard judges: the user's ("User": input) or the model's ("Agent": output).
enum class GuardRole { kUser, kAgent };

struct GuardTurn {
  GuardRole role = GuardRole::kUser;
  std::string_view content;
};

// The categories a template's model was trained on, as its chat template lists them.
std::vector<GuardCategory> DefaultGuardTaxonomy(GuardTemplate t);

class GuardPromptRenderer {
 public:
  // `taxonomy` empty: the template's default.
  GuardPromptRenderer(GuardTemplate t, std::vector<GuardCategory> taxonomy);

  // The prompt asking whether the last turn of `role` in `turns` is safe. Turns are rendered in
  // order, each as "User: " / "Agent: " + its content with leading and trailing ASCII whitespace
  // removed + "\n\n". The models expect turns that alternate, start with User and end with
  // `role`; the stage arranges them so (a response without its prompt is one Agent turn).
  GuardPrompt Render(GuardRole role, std::span<const GuardTurn> turns) const;

  const std::vector<GuardCategory>& taxonomy() const { return taxonomy_; }
  GuardTemplate prompt_template() const { return template_; }

 private:
  GuardTemplate template_;
  std::vector<GuardCategory> taxonomy_;
  std::string prefix_[2];  // by GuardRole
  std::string suffix_[2];
};

// What a guard model answered.
struct GuardVerdict {
  bool unsafe = false;
  std::vector<std::string> categories;  // codes in the order given, duplicates dropped
};

// Parses a guard model's answer: the first line "safe" or "unsafe"; after "unsafe", optionally a
// line of comma-separated category codes ("S1", "S1,S9", "S1, S9"). Whitespace around the text,
// the lines and the codes, and blank lines, are tolerated. Anything else — another first line,
// text after "safe", a third line, an empty or malformed code — is an Internal error quoting the
// answer ("could not decide": the policy's on_error applies).
Result<GuardVerdict> ParseGuardOutput(std::string_view text);

}  // namespace parapet::pipeline::internal
