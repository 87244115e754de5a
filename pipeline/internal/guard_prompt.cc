// Guard prompts: templates, default taxonomies, the answer parser.
#include "pipeline/internal/guard_prompt.h"

namespace parapet::pipeline::internal {
namespace {

constexpr std::string_view kLlama3Header =
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n";
constexpr std::string_view kLlama3Footer =
    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

const char* RoleName(GuardRole r) { return r == GuardRole::kUser ? "User" : "Agent"; }

// "S1: Violent Crimes." (+ " " for Llama Guard 2) (+ "\n" + description).
std::string CategoryLine(GuardTemplate t, const GuardCategory& c) {
  std::string line = c.code + ": " + c.name;
  if (line.empty() || line.back() != '.') line += '.';
  if (t == GuardTemplate::kLlamaGuard2) line += ' ';
  const std::string_view description = Strip(c.description);
  if (!description.empty()) line += "\n" + std::string(description);
  return line + "\n";
}

std::string Prefix(GuardTemplate t, const std::vector<GuardCategory>& taxonomy, GuardRole role) {
  std::string s = t == GuardTemplate::kLlamaGuard2 ? "[INST] " : std::string(kLlama3Header);
  s += "Task: Check if there is unsafe content in '";
  s += RoleName(role);
  s += "' messages in conversations according our safety policy with the below categories.\n\n";
  s += "<BEGIN UNSAFE CONTENT CATEGORIES>\n";
  for (const GuardCategory& c : taxonomy) s += CategoryLine(t, c);
  s += "<END UNSAFE CONTENT CATEGORIES>\n\n";
  s += "<BEGIN CONVERSATION>\n\n";
  return s;
}

std::string Suffix(GuardTemplate t, GuardRole role) {
  std::string s = "<END CONVERSATION>\n\n";
  s += "Provide your safety assessment for ONLY THE LAST ";
  s += RoleName(role);
  s += " message in the above conversation:\n";
  s += " - First line must read 'safe' or 'unsafe'.\n";
  s += " - If unsafe, a second line must include a comma-separated list of violated categories.";
  switch (t) {
    case GuardTemplate::kLlamaGuard3:
      s += kLlama3Footer;
      break;
    case GuardTemplate::kLlamaGuard3_1B:
      s += " ";
      s += kLlama3Footer;
      break;
    case GuardTemplate::kLlamaGuard2:
      s += " [/INST]";
      break;
  }
  return s;
}

// The answer, quoted for an error message: newlines escaped, cut at 80 bytes.
std::string Quote(std::string_view text) {
  std::string q = "\"";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    if (text[i] == '\n') {
      q += "\\n";
    } else if (text[i] == '"' || text[i] == '\\') {
      q += '\\';
      q += text[i];
    } else {
      q += text[i];
    }
  }
  if (text.size() > 80) q += "...";
  return q + "\"";
}

Status Malformed(std::string_view text, std::string_view why) {
  return InternalError("guard model answer " + Quote(text) + " is not in the expected format (" +
                       std::string(why) + ")");
}

bool IsCodeChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

std::vector<GuardCategory> DefaultGuardTaxonomy(GuardTemplate t) {
  // Names as the models' chat templates list them (the model cards' tables use longer titles,
  // "Sex-Related Crimes", "Suicide & Self-Harm"; the models were prompted with these).
  static const char* const kLlamaGuard3[] = {"Violent Crimes",
                                             "Non-Violent Crimes",
                                             "Sex Crimes",
                                             "Child Exploitation",
                                             "Defamation",
                                             "Specialized Advice",
                                             "Privacy",
                                             "Intellectual Property",
                                             "Indiscriminate Weapons",
                                             "Hate",
                                             "Self-Harm",
                                             "Sexual Content",
                                             "Elections",
                                             "Code Interpreter Abuse"};
  static const char* const kLlamaGuard2[] = {"Violent Crimes",
                                             "Non-Violent Crimes",
                                             "Sex Crimes",
                                             "Child Exploitation",
                                             "Specialized Advice",
                                             "Privacy",
                                             "Intellectual Property",
                                             "Indiscriminate Weapons",
                                             "Hate",
                                             "Self-Harm",
                                             "Sexual Content"};
  std::span<const char* const> names = kLlamaGuard3;
  if (t == GuardTemplate::kLlamaGuard3_1B) names = names.first(13);  // no S14 in the 1B model
  if (t == GuardTemplate::kLlamaGuard2) names = kLlamaGuard2;
  std::vector<GuardCategory> out;
  for (size_t i = 0; i < names.size(); ++i) {
    out.push_back(GuardCategory{"S" + std::to_string(i + 1), names[i], ""});
  }
  return out;
}

GuardPromptRenderer::GuardPromptRenderer(GuardTemplate t, std::vector<GuardCategory> taxonomy)
    : template_(t), taxonomy_(taxonomy.empty() ? DefaultGuardTaxonomy(t) : std::move(taxonomy)) {
  for (GuardRole r : {GuardRole::kUser, GuardRole::kAgent}) {
    prefix_[static_cast<int>(r)] = Prefix(t, taxonomy_, r);
    suffix_[static_cast<int>(r)] = Suffix(t, r);
  }
}

GuardPrompt GuardPromptRenderer::Render(GuardRole role, std::span<const GuardTurn> turns) const {
  GuardPrompt p;
  p.prefix = prefix_[static_cast<int>(role)];
  for (const GuardTurn& t : turns) {
    p.conversation += RoleName(t.role);
    p.conversation += ": ";
    p.conversation += Strip(t.content);
    p.conversation += "\n\n";
  }
  p.suffix = suffix_[static_cast<int>(role)];
  p.add_bos = template_ == GuardTemplate::kLlamaGuard2;
  return p;
}

Result<GuardVerdict> ParseGuardOutput(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    const std::string_view line = Strip(rest.substr(0, nl));
    if (!line.empty()) lines.push_back(line);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (lines.empty()) return Malformed(text, "empty");
  GuardVerdict v;
  if (lines[0] == "safe") {
    if (lines.size() > 1) return Malformed(text, "text after 'safe'");
    return v;
  }
  if (lines[0] != "unsafe") return Malformed(text, "the first line is neither 'safe' nor 'unsafe'");
  v.unsafe = true;
  if (lines.size() > 2) return Malformed(text, "more than two lines");
  if (lines.size() == 1) return v;
  for (std::string_view rest = lines[1];;) {
    const size_t comma = rest.find(',');
    const std::string_view code = Strip(rest.substr(0, comma));
    if (code.empty()) return Malformed(text, "an empty category");
    for (char c : code) {
      if (!IsCodeChar(c)) return Malformed(text, "a category is not a code like S1");
    }
    bool seen = false;
    for (const std::string& c : v.categories) seen = seen || c == code;
    if (!seen) v.categories.emplace_back(code);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return v;
}

}  // namespace parapet::pipeline::internal
