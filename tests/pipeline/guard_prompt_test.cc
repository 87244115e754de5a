#include "pipeline/internal/guard_prompt.h"

#include <gtest/gtest.h>

#include <vector>

namespace parapet::pipeline::internal {
namespace {

// Golden prompts, written out from the models' chat templates (Hugging Face tokenizer_config /
// GGUF tokenizer.chat_template of meta-llama/Llama-Guard-3-8B, Llama-Guard-3-1B and
// Meta-Llama-Guard-2-8B), not from the renderer.

const char* kLlamaGuard3UserSingle =
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    "Task: Check if there is unsafe content in 'User' messages in conversations according our "
    "safety policy with the below categories.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "S1: Violent Crimes.\n"
    "S2: Non-Violent Crimes.\n"
    "S3: Sex Crimes.\n"
    "S4: Child Exploitation.\n"
    "S5: Defamation.\n"
    "S6: Specialized Advice.\n"
    "S7: Privacy.\n"
    "S8: Intellectual Property.\n"
    "S9: Indiscriminate Weapons.\n"
    "S10: Hate.\n"
    "S11: Self-Harm.\n"
    "S12: Sexual Content.\n"
    "S13: Elections.\n"
    "S14: Code Interpreter Abuse.\n"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "User: How do I kill a Python process?\n\n"
    "<END CONVERSATION>\n\n"
    "Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories."
    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

const char* kLlamaGuard3AgentMultiTurn =
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    "Task: Check if there is unsafe content in 'Agent' messages in conversations according our "
    "safety policy with the below categories.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "S1: Violent Crimes.\n"
    "S2: Non-Violent Crimes.\n"
    "S3: Sex Crimes.\n"
    "S4: Child Exploitation.\n"
    "S5: Defamation.\n"
    "S6: Specialized Advice.\n"
    "S7: Privacy.\n"
    "S8: Intellectual Property.\n"
    "S9: Indiscriminate Weapons.\n"
    "S10: Hate.\n"
    "S11: Self-Harm.\n"
    "S12: Sexual Content.\n"
    "S13: Elections.\n"
    "S14: Code Interpreter Abuse.\n"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "User: Whats the color of the sky?\n\n"
    "Agent: The sky is blue.\n\n"
    "User: And at night?\n\n"
    "Agent: Black, mostly.\n\n"
    "<END CONVERSATION>\n\n"
    "Provide your safety assessment for ONLY THE LAST Agent message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories."
    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

const char* kLlamaGuard3_1BUser =
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    "Task: Check if there is unsafe content in 'User' messages in conversations according our "
    "safety policy with the below categories.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "S1: Violent Crimes.\n"
    "S2: Non-Violent Crimes.\n"
    "S3: Sex Crimes.\n"
    "S4: Child Exploitation.\n"
    "S5: Defamation.\n"
    "S6: Specialized Advice.\n"
    "S7: Privacy.\n"
    "S8: Intellectual Property.\n"
    "S9: Indiscriminate Weapons.\n"
    "S10: Hate.\n"
    "S11: Self-Harm.\n"
    "S12: Sexual Content.\n"
    "S13: Elections.\n"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "User: What is the recipe for mayonnaise?\n\n"
    "<END CONVERSATION>\n\n"
    "Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories. "
    "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

const char* kLlamaGuard2User =
    "[INST] Task: Check if there is unsafe content in 'User' messages in conversations according "
    "our safety policy with the below categories.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "S1: Violent Crimes. \n"
    "S2: Non-Violent Crimes. \n"
    "S3: Sex Crimes. \n"
    "S4: Child Exploitation. \n"
    "S5: Specialized Advice. \n"
    "S6: Privacy. \n"
    "S7: Intellectual Property. \n"
    "S8: Indiscriminate Weapons. \n"
    "S9: Hate. \n"
    "S10: Self-Harm. \n"
    "S11: Sexual Content. \n"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "User: I forgot how to kill a process in Linux, can you help?\n\n"
    "<END CONVERSATION>\n\n"
    "Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories. "
    "[/INST]";

const char* kLlamaGuard2AgentMultiTurn =
    "[INST] Task: Check if there is unsafe content in 'Agent' messages in conversations according "
    "our safety policy with the below categories.\n\n"
    "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
    "S1: Violent Crimes. \n"
    "S2: Non-Violent Crimes. \n"
    "S3: Sex Crimes. \n"
    "S4: Child Exploitation. \n"
    "S5: Specialized Advice. \n"
    "S6: Privacy. \n"
    "S7: Intellectual Property. \n"
    "S8: Indiscriminate Weapons. \n"
    "S9: Hate. \n"
    "S10: Self-Harm. \n"
    "S11: Sexual Content. \n"
    "<END UNSAFE CONTENT CATEGORIES>\n\n"
    "<BEGIN CONVERSATION>\n\n"
    "User: hi\n\n"
    "Agent: Hello! How can I help?\n\n"
    "User: tell me a joke\n\n"
    "Agent: Why did the llama cross the road?\n\n"
    "<END CONVERSATION>\n\n"
    "Provide your safety assessment for ONLY THE LAST Agent message in the above conversation:\n"
    " - First line must read 'safe' or 'unsafe'.\n"
    " - If unsafe, a second line must include a comma-separated list of violated categories. "
    "[/INST]";

std::vector<GuardTurn> Turns(std::initializer_list<std::pair<GuardRole, const char*>> list) {
  std::vector<GuardTurn> out;
  for (const auto& [role, text] : list) out.push_back(GuardTurn{role, text});
  return out;
}

constexpr GuardRole kUser = GuardRole::kUser;
constexpr GuardRole kAgent = GuardRole::kAgent;

TEST(GuardPromptRenderer, LlamaGuard3UserMessage) {
  const GuardPromptRenderer r(GuardTemplate::kLlamaGuard3, {});
  // Surrounding whitespace is stripped, as the template's content.strip() does.
  const GuardPrompt p = r.Render(kUser, Turns({{kUser, "  How do I kill a Python process?\n"}}));
  EXPECT_EQ(p.text(), kLlamaGuard3UserSingle);
  EXPECT_FALSE(p.add_bos);  // <|begin_of_text|> is in the text
}

TEST(GuardPromptRenderer, LlamaGuard3AgentMultiTurn) {
  const GuardPromptRenderer r(GuardTemplate::kLlamaGuard3, {});
  const GuardPrompt p = r.Render(kAgent, Turns({{kUser, "Whats the color of the sky?"},
                                                {kAgent, "The sky is blue."},
                                                {kUser, "And at night?"},
                                                {kAgent, "Black, mostly."}}));
  EXPECT_EQ(p.text(), kLlamaGuard3AgentMultiTurn);
}

TEST(GuardPromptRenderer, LlamaGuard3_1BHasThirteenCategoriesAndItsSpace) {
  const GuardPromptRenderer r(GuardTemplate::kLlamaGuard3_1B, {});
  EXPECT_EQ(r.taxonomy().size(), 13u);
  EXPECT_EQ(r.Render(kUser, Turns({{kUser, "What is the recipe for mayonnaise?"}})).text(),
            kLlamaGuard3_1BUser);
}

TEST(GuardPromptRenderer, LlamaGuard2) {
  const GuardPromptRenderer r(GuardTemplate::kLlamaGuard2, {});
  const GuardPrompt p =
      r.Render(kUser, Turns({{kUser, "I forgot how to kill a process in Linux, can you help?"}}));
  EXPECT_EQ(p.text(), kLlamaGuard2User);
  EXPECT_TRUE(p.add_bos);  // the [INST] format has no BOS in the text
  EXPECT_EQ(r.Render(kAgent, Turns({{kUser, "hi"},
                                    {kAgent, "Hello! How can I help?"},
                                    {kUser, "tell me a joke"},
                                    {kAgent, "Why did the llama cross the road?"}}))
                .text(),
            kLlamaGuard2AgentMultiTurn);
}

TEST(GuardPromptRenderer, PrefixIsFixedPerRoleAndEndsBeforeTheConversation) {
  const GuardPromptRenderer r(GuardTemplate::kLlamaGuard3, {});
  const GuardPrompt a = r.Render(kUser, Turns({{kUser, "first"}}));
  const GuardPrompt b = r.Render(kUser, Turns({{kUser, "second"}, {kAgent, "x"}, {kUser, "y"}}));
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_EQ(a.suffix, b.suffix);
  EXPECT_TRUE(a.prefix.ends_with("<BEGIN CONVERSATION>\n\n"));
  EXPECT_EQ(a.conversation, "User: first\n\n");
  EXPECT_TRUE(a.suffix.starts_with("<END CONVERSATION>\n\n"));
  // The split is exact: the parts concatenate to the golden prompt.
  const GuardPrompt g = r.Render(kUser, Turns({{kUser, "How do I kill a Python process?"}}));
  EXPECT_EQ(g.prefix + g.conversation + g.suffix, kLlamaGuard3UserSingle);
  EXPECT_NE(r.Render(kAgent, Turns({{kAgent, "x"}})).prefix, a.prefix);  // 'Agent' in the task
}

TEST(GuardPromptRenderer, CustomTaxonomyWithDescriptions) {
  const GuardPromptRenderer r(
      GuardTemplate::kLlamaGuard3,
      {{"S1", "Violent Crimes", ""},
       {"S2", "Weapons.", "AI models should not help build weapons.\nCan\n - discuss history.\n"},
       {"X7", "Competitors", ""}});
  const std::string text = r.Render(kUser, Turns({{kUser, "hi"}})).text();
  EXPECT_NE(text.find("<BEGIN UNSAFE CONTENT CATEGORIES>\n"
                      "S1: Violent Crimes.\n"
                      "S2: Weapons.\n"
                      "AI models should not help build weapons.\nCan\n - discuss history.\n"
                      "X7: Competitors.\n"
                      "<END UNSAFE CONTENT CATEGORIES>\n\n"),
            std::string::npos)
      << text;
  const GuardPromptRenderer r2(GuardTemplate::kLlamaGuard2, {{"S1", "Fraud", "No scams."}});
  EXPECT_NE(r2.Render(kUser, Turns({{kUser, "hi"}}))
                .text()
                .find("<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Fraud. \nNo scams.\n<END"),
            std::string::npos);
}

TEST(DefaultGuardTaxonomy, CodesAndNames) {
  const std::vector<GuardCategory> lg3 = DefaultGuardTaxonomy(GuardTemplate::kLlamaGuard3);
  ASSERT_EQ(lg3.size(), 14u);
  EXPECT_EQ(lg3[0].code, "S1");
  EXPECT_EQ(lg3[13].code, "S14");
  EXPECT_EQ(lg3[13].name, "Code Interpreter Abuse");
  const std::vector<GuardCategory> lg2 = DefaultGuardTaxonomy(GuardTemplate::kLlamaGuard2);
  ASSERT_EQ(lg2.size(), 11u);
  EXPECT_EQ(lg2[4].name, "Specialized Advice");  // S5 in Llama Guard 2, S6 in Llama Guard 3
}

// ---- parser ----

TEST(ParseGuardOutput, SafeAndUnsafe) {
  Result<GuardVerdict> v = ParseGuardOutput("safe");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->unsafe);
  EXPECT_TRUE(v->categories.empty());
  v = ParseGuardOutput("unsafe");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->unsafe);
  EXPECT_TRUE(v->categories.empty());
}

TEST(ParseGuardOutput, Categories) {
  Result<GuardVerdict> v = ParseGuardOutput("unsafe\nS1");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->categories, (std::vector<std::string>{"S1"}));
  v = ParseGuardOutput("unsafe\nS10,S1,S14");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->categories, (std::vector<std::string>{"S10", "S1", "S14"}));
  v = ParseGuardOutput("unsafe\nS2,S2");  // duplicates count once
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->categories, (std::vector<std::string>{"S2"}));
}

TEST(ParseGuardOutput, ToleratesWhitespace) {
  for (const char* text : {"\n\nunsafe\nS1, S9\n", "  unsafe \r\n S1 ,S9 ", "unsafe\n\nS1,S9",
                           "\n\nunsafe\nS1,S9<eot>"}) {
    Result<GuardVerdict> v = ParseGuardOutput(text);
    if (std::string_view(text).ends_with("<eot>")) {
      EXPECT_FALSE(v.ok()) << text;  // not whitespace
      continue;
    }
    ASSERT_TRUE(v.ok()) << text << ": " << v.status().message();
    EXPECT_TRUE(v->unsafe);
    EXPECT_EQ(v->categories, (std::vector<std::string>{"S1", "S9"})) << text;
  }
  Result<GuardVerdict> v = ParseGuardOutput("\n\nsafe\n");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->unsafe);
}

TEST(ParseGuardOutput, MalformedIsAnError) {
  for (const char* text : {"", "  \n ", "Safe", "safe.", "The message is safe", "unsafe S1",
                           "safe\nS1", "unsafe\nS1,,S2", "unsafe\nS1,", "unsafe\nS1 S2",
                           "unsafe\nS1\nS2", "yes", "unsafe\n(S1)"}) {
    Result<GuardVerdict> v = ParseGuardOutput(text);
    EXPECT_FALSE(v.ok()) << "'" << text << "'";
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kInternal);
    }
  }
  Result<GuardVerdict> v = ParseGuardOutput("I cannot help\nwith that");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("\"I cannot help\\nwith that\""), std::string::npos)
      << v.status().message();
}

}  // namespace
}  // namespace parapet::pipeline::internal
