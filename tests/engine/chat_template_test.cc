#include "engine/chat_template.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parapet::engine {
namespace {

// The conversation of llama.cpp's tests/test-chat-template.cpp; the expected strings below are
// that test's `expected_output` for the template llama.cpp detects in each case.
const std::vector<ChatMessage> kConversation = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};

std::string Render(ChatTemplate tmpl, const std::vector<ChatMessage>& messages = kConversation,
                   bool add_assistant_prefix = true) {
  Result<std::string> r = ApplyChatTemplate(tmpl, messages, add_assistant_prefix);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

// ---- real tokenizer_config.json / GGUF templates ----

// mistralai/Mixtral-8x7B-Instruct-v0.1 and Mistral-7B-Instruct-v0.1/v0.2 as first published (and
// as most Mixtral GGUF files carry it).
constexpr char kMixtralOriginal[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] "
    "' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}";

// Mistral's official "v1" template with a system message (Mixtral-8x7B-Instruct-v0.1 and
// Mistral-7B-Instruct-v0.2 since 2024).
constexpr char kMistralV1Official[] =
    "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = "
    "messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- "
    "set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in "
    "loop_messages %}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n       "
    " "
    "{{- raise_exception('After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...') }}\n    {%- endif %}\n    {%- if message['role'] == "
    "'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' "
    "[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else "
    "%}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n  "
    "  {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + "
    "eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are "
    "supported, with the exception of an initial optional system message!') }}\n    {%- endif "
    "%}\n{%- endfor %}\n";

// meta-llama/Llama-2-7b-chat-hf.
constexpr char kLlama2Chat[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] "
    "== 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != "
    "false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
    "message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
    "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% "
    "endfor %}";

// teknium/OpenHermes-2.5-Mistral-7B.
constexpr char kOpenHermes[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' }}{% endif %}";

// Qwen/Qwen2-7B-Instruct.
constexpr char kQwen2[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif "
    "%}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// meta-llama/Meta-Llama-3-8B-Instruct.
constexpr char kLlama3Instruct[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% "
    "endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

// mistralai/Mistral-Large-Instruct-2411 ("v7").
constexpr char kMistralV7Official[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' "
    "+ message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' "
    "+ message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and "
    "assistant roles are supported!') }}{% endif %}{% endfor %}";

// The lines of Mistral-Large-Instruct-2407 ("v3") and Mistral-Nemo-Instruct-2407
// ("v3-tekken") that tell them apart (the full templates are long tool-calling ones).
constexpr char kMistralV3Excerpt[] =
    "{{- \"[AVAILABLE_TOOLS] [\" }}\n{%- if loop.last and system_message is defined %}\n{{- "
    "\"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}";
constexpr char kMistralV3TekkenExcerpt[] =
    "{{- \"[AVAILABLE_TOOLS][\" }}\n{%- if loop.last and system_message is defined %}\n{{- "
    "\"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}";

// Families llama.cpp knows that Parapet does not render.
constexpr char kGemma[] =
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% "
    "endif %}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + message['content'] "
    "| trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt "
    "%}{{'<start_of_turn>model\\n'}}{% endif %}";
constexpr char kPhi3[] =
    "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + "
    "message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";
constexpr char kPhi4[] =
    "{% for message in messages %}{% if (message['role'] == 'system') "
    "%}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}{% endfor "
    "%}";
constexpr char kZephyr[] =
    "{% for message in messages %}{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}{% "
    "endfor %}";

TEST(ChatTemplate, DetectsRealTemplates) {
  struct Case {
    const char* name;
    const char* jinja;
    ChatTemplate want;
  };
  const Case cases[] = {
      {"Mixtral-8x7B-Instruct (original)", kMixtralOriginal, ChatTemplate::kMistral},
      {"Mistral v1 (Mixtral-8x7B-Instruct now)", kMistralV1Official, ChatTemplate::kMistralV1},
      {"Llama-2-7b-chat", kLlama2Chat, ChatTemplate::kLlama2SysStrip},
      {"OpenHermes-2.5", kOpenHermes, ChatTemplate::kChatMl},
      {"Qwen2-7B-Instruct", kQwen2, ChatTemplate::kChatMl},
      {"Meta-Llama-3-8B-Instruct", kLlama3Instruct, ChatTemplate::kLlama3},
      {"Mistral-Large-2411 (v7)", kMistralV7Official, ChatTemplate::kMistralV7},
      {"Mistral-Large-2407 (v3)", kMistralV3Excerpt, ChatTemplate::kMistralV3},
      {"Mistral-Nemo (v3-tekken)", kMistralV3TekkenExcerpt, ChatTemplate::kMistralV3Tekken},
  };
  for (const Case& c : cases) {
    const std::optional<ChatTemplate> got = DetectChatTemplate(c.jinja);
    ASSERT_TRUE(got.has_value()) << c.name;
    EXPECT_EQ(*got, c.want) << c.name << ": got " << ChatTemplateName(*got);
  }
}

TEST(ChatTemplate, DetectsLlama2Variants) {
  EXPECT_EQ(DetectChatTemplate("[INST] <<SYS>> {{ bos_token + '[INST] ' }}"),
            ChatTemplate::kLlama2SysBos);
  EXPECT_EQ(DetectChatTemplate("{{ '[INST] <<SYS>>\\n' + message['content'] }}"),
            ChatTemplate::kLlama2);
  EXPECT_EQ(DetectChatTemplate("mistral-like, no markers"), ChatTemplate::kMistral);
}

TEST(ChatTemplate, UnknownTemplatesAreNotGuessed) {
  for (const char* jinja : {kGemma, kPhi3, kPhi4, kZephyr, "", "{{ messages }}"}) {
    EXPECT_FALSE(DetectChatTemplate(jinja).has_value()) << jinja;
  }
}

// ---- rendering: llama.cpp's expected outputs ----

TEST(ChatTemplate, RendersChatMl) {
  EXPECT_EQ(
      Render(ChatTemplate::kChatMl),
      "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_"
      "end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are "
      "you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
      "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, RendersLlama3) {
  EXPECT_EQ(Render(ChatTemplate::kLlama3),
            "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
            "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_"
            "header_id|>assistant<|end_header_id|>\n\nHi "
            "there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are "
            "you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an "
            "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother "
            "question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, RendersMistral) {
  // Mistral-7B-Instruct-v0.2 / Mixtral original template (llama.cpp's "llama2").
  EXPECT_EQ(Render(ChatTemplate::kMistral),
            "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you "
            "[/INST]   I am an assistant   </s>[INST] Another question [/INST]");
}

TEST(ChatTemplate, RendersMistralOfficialVersions) {
  EXPECT_EQ(Render(ChatTemplate::kMistralV1),
            " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you "
            "[/INST]    I am an assistant   </s> [INST] Another question [/INST]");
  EXPECT_EQ(Render(ChatTemplate::kMistralV3),
            "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are "
            "you[/INST] I am an assistant</s>[INST] Another question[/INST]");
  EXPECT_EQ(Render(ChatTemplate::kMistralV3Tekken),
            "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are "
            "you[/INST]   I am an assistant   </s>[INST]Another question[/INST]");
  EXPECT_EQ(Render(ChatTemplate::kMistralV7),
            "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi "
            "there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another "
            "question[/INST]");
}

TEST(ChatTemplate, RendersLlama2Variants) {
  // llama2-sys-bos: TheBloke/FusionNet_34Bx2_MoE-AWQ; llama2-sys-strip: vigogne-2-70b-chat.
  EXPECT_EQ(Render(ChatTemplate::kLlama2SysBos),
            "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi "
            "there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another "
            "question [/INST]");
  EXPECT_EQ(Render(ChatTemplate::kLlama2SysStrip),
            "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi "
            "there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question "
            "[/INST]");
  // llama2-sys has no case in llama.cpp's suite; this is its renderer's output.
  EXPECT_EQ(Render(ChatTemplate::kLlama2),
            "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi "
            "there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another "
            "question [/INST]");
}

TEST(ChatTemplate, AssistantPrefixOnlyWhereTheTemplateHasOne) {
  const std::vector<ChatMessage> one = {{"user", "Hi"}};
  EXPECT_EQ(Render(ChatTemplate::kChatMl, one, false), "<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(Render(ChatTemplate::kLlama3, one, false),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  for (ChatTemplate t : {ChatTemplate::kMistral, ChatTemplate::kMistralV1, ChatTemplate::kLlama2,
                         ChatTemplate::kMistralV7}) {
    EXPECT_EQ(Render(t, one, true), Render(t, one, false)) << ChatTemplateName(t);
  }
}

TEST(ChatTemplate, NeverStartsWithBos) {
  for (const char* name :
       {"mistral", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
        "mistral-v7-tekken", "llama2", "llama2-sys-bos", "llama2-sys-strip", "chatml", "llama3"}) {
    const std::string out = Render(*ChatTemplateFromName(name));
    EXPECT_FALSE(out.starts_with("<s>")) << name;
    EXPECT_FALSE(out.starts_with("<|begin_of_text|>")) << name;
  }
}

// Every template reports where each message's content landed (trimmed where the template
// trims), in order and disjoint, so the tokenizer can keep user text free of control tokens.
TEST(ChatTemplate, ContentSpansCoverEachMessage) {
  for (const char* name :
       {"mistral", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
        "mistral-v7-tekken", "llama2", "llama2-sys-bos", "llama2-sys-strip", "chatml", "llama3"}) {
    const ChatTemplate tmpl = *ChatTemplateFromName(name);
    auto r = RenderChatTemplate(tmpl, kConversation, true);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(r->text, Render(tmpl)) << name;
    ASSERT_EQ(r->content_spans.size(), kConversation.size()) << name;
    size_t prev_end = 0;
    for (size_t i = 0; i < kConversation.size(); ++i) {
      const TextSpan& span = r->content_spans[i];
      EXPECT_GE(span.begin, prev_end) << name;
      prev_end = span.end;
      const std::string got = r->text.substr(span.begin, span.end - span.begin);
      // Contents may be trimmed, never changed otherwise.
      EXPECT_NE(kConversation[i].content.find(got), std::string::npos) << name << ": " << got;
      EXPECT_FALSE(got.empty()) << name;
    }
  }
}

// ---- names ----

TEST(ChatTemplate, NamesRoundTrip) {
  for (const char* name :
       {"mistral", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
        "mistral-v7-tekken", "llama2", "llama2-sys-bos", "llama2-sys-strip", "chatml", "llama3"}) {
    const std::optional<ChatTemplate> t = ChatTemplateFromName(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_STREQ(ChatTemplateName(*t), name);
  }
  EXPECT_EQ(ChatTemplateFromName("llama2-sys"), ChatTemplate::kLlama2);
  EXPECT_FALSE(ChatTemplateFromName("gemma").has_value());
  EXPECT_FALSE(ChatTemplateFromName("ChatML").has_value());
}

// ---- errors ----

TEST(ChatTemplate, RejectsEmptyListAndUnknownRoles) {
  Result<std::string> r = ApplyChatTemplate(ChatTemplate::kChatMl, {}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  const std::vector<ChatMessage> tool = {{"user", "Hi"}, {"tool", "{}"}};
  r = ApplyChatTemplate(ChatTemplate::kLlama3, tool, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("messages[1].role"), std::string::npos);
}

TEST(ChatTemplate, AlternatingTemplatesRejectOtherOrders) {
  const std::vector<std::vector<ChatMessage>> bad = {
      {{"user", "a"}, {"user", "b"}},
      {{"assistant", "a"}, {"user", "b"}},
      {{"system", "s"}, {"assistant", "a"}},
      {{"user", "a"}, {"system", "s"}},
      {{"system", "s"}},
  };
  for (ChatTemplate t : {ChatTemplate::kMistral, ChatTemplate::kMistralV1, ChatTemplate::kMistralV3,
                         ChatTemplate::kLlama2, ChatTemplate::kLlama2SysStrip}) {
    for (const auto& messages : bad) {
      Result<std::string> r = ApplyChatTemplate(t, messages, true);
      ASSERT_FALSE(r.ok()) << ChatTemplateName(t);
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
    // Ending on an assistant turn is allowed.
    EXPECT_TRUE(
        ApplyChatTemplate(t, std::vector<ChatMessage>{{"user", "a"}, {"assistant", "b"}}, false)
            .ok());
  }
  // ChatML, Llama-3 and v7 take any order.
  for (ChatTemplate t : {ChatTemplate::kChatMl, ChatTemplate::kLlama3, ChatTemplate::kMistralV7}) {
    for (const auto& messages : bad) EXPECT_TRUE(ApplyChatTemplate(t, messages, true).ok());
  }
}

}  // namespace
}  // namespace parapet::engine

namespace parapet::engine {
namespace {

TEST(ChatTemplate, ResolvesByNameThenFromTheModel) {
  EXPECT_EQ(*ResolveChatTemplate(std::nullopt, "chatml"), ChatTemplate::kChatMl);
  EXPECT_EQ(*ResolveChatTemplate("{{ anything }}", "llama3"), ChatTemplate::kLlama3);
  Result<ChatTemplate> unknown = ResolveChatTemplate(std::nullopt, "gemma");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown chat template 'gemma'"), std::string::npos);
  Result<ChatTemplate> none = ResolveChatTemplate(std::nullopt, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("has no chat template"), std::string::npos);
  Result<ChatTemplate> odd = ResolveChatTemplate("{{ not a known template }}", "");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("not one Parapet recognises"), std::string::npos);
}

}  // namespace
}  // namespace parapet::engine
