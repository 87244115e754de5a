// `parapet tokenize` and `parapet generate`: the engine from the command line.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/json_writer.h"
#include "engine/chat_template.h"
#include "engine/generator.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model.h"

namespace parapet::cli {
namespace {

// ---- tokenize ----

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool no_bos = false;
  bool parse_special = false;
  bool json = false;
};

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(path + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunTokenize(const TokenizeArgs& a) {
  std::string text = a.text;
  if (!a.file.empty()) {
    auto r = ReadWholeFile(a.file);
    if (!r.ok()) return InputError(r.status().message());
    text = std::move(r).value();
  }
  auto file = engine::gguf::GgufFile::Open(a.model);
  if (!file.ok()) return InputError(file.status().message());
  auto tok = engine::Tokenizer::FromGguf(**file);
  if (!tok.ok()) return InputError(a.model + ": " + tok.status().message());
  const engine::Tokenizer& t = **tok;
  std::vector<engine::TokenId> ids =
      t.Encode(text, !a.no_bos && t.add_bos_default(), a.parse_special);
  if (a.json) {
    JsonWriter w;
    w.BeginArray();
    for (engine::TokenId id : ids) w.Int(id);
    w.EndArray();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  for (engine::TokenId id : ids) {
    std::string piece;
    AppendJsonString(t.TokenToPiece(id, /*render_special=*/true), &piece);
    std::printf("%6d -> %s\n", id, piece.c_str());
  }
  return 0;
}

// ---- generate ----

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int32_t max_tokens = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.0f;
  int64_t seed = -1;
  int threads = 0;
  std::string backend = "cpu";
  bool json = false;
  int32_t logprobs = 0;
  bool chat = false;
  std::string chat_template;
  std::vector<std::string> stop;
  int32_t ctx = 0;
  bool ignore_eos = false;
};

Result<std::vector<engine::TokenId>> PromptIds(const engine::Model& m, const GenerateArgs& a,
                                               const std::string& text) {
  const engine::Tokenizer& t = m.tokenizer();
  if (!a.chat) return t.Encode(text, t.add_bos_default(), /*parse_special=*/false);
  Result<engine::ChatTemplate> tmpl =
      engine::ResolveChatTemplate(m.file().GetString("tokenizer.chat_template"), a.chat_template);
  if (!tmpl.ok()) return InvalidArgumentError("--chat-template: " + tmpl.status().message());
  engine::ChatMessage msg{"user", text};
  return engine::EncodeChat(t, *tmpl, {&msg, 1});
}

void WriteJson(const std::vector<engine::TokenId>& prompt_ids, const engine::GenerateResult& r,
               int32_t logprobs, uint64_t seed) {
  JsonWriter w;
  w.BeginObject();
  w.Key("prompt_ids");
  w.BeginArray();
  for (engine::TokenId id : prompt_ids) w.Int(id);
  w.EndArray();
  w.Key("generated_ids");
  w.BeginArray();
  for (engine::TokenId id : r.generated_ids) w.Int(id);
  w.EndArray();
  w.StringField("text", r.text);
  w.StringField("finish_reason", r.finish_reason);
  w.IntField("seed", static_cast<int64_t>(seed));
  w.Key("timings");
  w.BeginObject();
  w.IntField("prompt_tokens", r.prompt_tokens);
  w.DoubleField("prompt_ms", r.prompt_ms);
  w.IntField("generated_tokens", r.generated_tokens);
  w.DoubleField("decode_ms", r.decode_ms);
  w.EndObject();
  if (logprobs > 0) {
    w.Key("steps");
    w.BeginArray();
    for (const engine::SampleResult& s : r.steps) {
      w.BeginObject();
      w.Key("top");
      w.BeginArray();
      for (const engine::TokenLogprob& t : s.top) {
        w.BeginArray();
        w.Int(t.id);
        w.Double(t.logprob);
        w.EndArray();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  std::printf("%s\n", w.str().c_str());
}

int RunGenerate(const GenerateArgs& a) {
  std::string text = a.prompt;
  if (!a.prompt_file.empty()) {
    auto r = ReadWholeFile(a.prompt_file);
    if (!r.ok()) return InputError(r.status().message());
    text = std::move(r).value();
  }
  engine::GenerateOptions opt;
  opt.sampling.temperature = a.temperature;
  opt.sampling.top_k = a.top_k;
  opt.sampling.top_p = a.top_p;
  opt.sampling.min_p = a.min_p;
  opt.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  opt.sampling.n_logprobs = a.logprobs;
  opt.max_tokens = a.max_tokens;
  opt.stop = a.stop;
  opt.n_ctx = a.ctx;
  opt.stop_at_end_of_generation = !a.ignore_eos;
  if (Status s = engine::ValidateSamplingParams(opt.sampling); !s.ok()) {
    return InputError(s.message());
  }
  auto loaded = engine::Model::Load(a.model, engine::ModelOptions{a.threads, a.backend});
  if (!loaded.ok()) return InputError(loaded.status().message());
  engine::Model& m = **loaded;
  auto ids = PromptIds(m, a, text);
  if (!ids.ok()) return InputError(ids.status().message());
  // Without --json the prompt is echoed and the continuation streamed after it; the prompt is
  // printed with the first piece, so an error before generation starts leaves stdout empty.
  bool echoed = false;
  auto echo_prompt = [&] {
    if (!echoed) std::fputs(text.c_str(), stdout);
    echoed = true;
  };
  engine::TextCallback stream;
  if (!a.json) {
    stream = [&](std::string_view piece) {
      echo_prompt();
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  auto r = engine::Generate(m, *ids, opt, stream);
  if (!r.ok()) return InputError(r.status().message());
  if (!a.json) echo_prompt();
  if (a.json) {
    WriteJson(*ids, *r, a.logprobs, opt.sampling.seed);
    return 0;
  }
  std::printf("\n");
  std::fflush(stdout);
  const bool context_full = r->finish_reason == "length" && r->generated_tokens < a.max_tokens;
  std::fprintf(stderr,
               "parapet: prompt %d tokens in %.1f ms (%.1f tok/s), generated %d tokens in %.1f ms "
               "(%.1f tok/s), finish: %s%s\n",
               r->prompt_tokens, r->prompt_ms,
               r->prompt_tokens * 1000.0 / std::max(r->prompt_ms, 1e-9), r->generated_tokens,
               r->decode_ms, r->generated_tokens * 1000.0 / std::max(r->decode_ms, 1e-9),
               r->finish_reason.c_str(), context_full ? " (the context window is full)" : "");
  return 0;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, Action* run) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("--model,-m", a->model, "GGUF model or vocabulary file")->required();
  auto* text = cmd->add_option("text", a->text, "Text to tokenize");
  auto* file = cmd->add_option("--file,-f", a->file, "Read the text from a file");
  text->excludes(file);
  cmd->add_flag("--no-bos", a->no_bos, "Do not add the BOS token");
  cmd->add_flag("--parse-special", a->parse_special, "Recognise special-token texts like <s>");
  cmd->add_flag("--json", a->json, "Print exactly one JSON array of ids");
  cmd->callback([a, run, text, file] {
    if (text->count() == 0 && file->count() == 0) {
      throw CLI::RequiredError("TEXT or --file");
    }
    *run = [a] { return RunTokenize(*a); };
  });
}

void AddGenerateCommand(CLI::App& app, Action* run) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  cmd->add_option("--model,-m", a->model, "GGUF model file")->required();
  auto* prompt = cmd->add_option("--prompt,-p", a->prompt, "Prompt text (BOS is added)");
  auto* pfile = cmd->add_option("--prompt-file", a->prompt_file, "Read the prompt from a file");
  prompt->excludes(pfile);
  cmd->add_option("--max-tokens,-n", a->max_tokens, "Tokens to generate at most")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temperature,-t", a->temperature, "Sampling temperature; 0 = greedy")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", a->top_k, "Keep the K most likely tokens; 0 = off")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass in (0, 1]");
  cmd->add_option("--min-p", a->min_p, "Drop tokens below min_p x the top probability");
  cmd->add_option("--seed,-s", a->seed, "Random seed (default: random, reported with --json)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  cmd->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::Range(1, 256));
  cmd->add_option("--backend", a->backend, "Compute backend: cpu, or cuda in builds with CUDA")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--ctx", a->ctx, "Context size (default: prompt + max tokens)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--stop", a->stop, "Stop string (repeatable, up to 4)");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_flag("--json", a->json, "Print exactly one JSON object");
  cmd->add_option("--logprobs", a->logprobs, "With --json: top-N log-probabilities per step")
      ->check(CLI::Range(0, 20));
  cmd->add_flag("--chat", a->chat, "Apply the model's chat template to the prompt (one user turn)");
  cmd->add_option("--chat-template", a->chat_template, "mistral | llama2 | chatml | llama3");
  cmd->callback([a, run, prompt, pfile] {
    if (prompt->count() == 0 && pfile->count() == 0) {
      throw CLI::RequiredError("--prompt or --prompt-file");
    }
    *run = [a] { return RunGenerate(*a); };
  });
}

}  // namespace parapet::cli
