// `parapet model info FILE`: what a GGUF model is, without running it.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/json_writer.h"
#include "engine/chat_template.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model.h"

namespace parapet::cli {
namespace {

struct InfoArgs {
  std::string path;
  bool json = false;
};

struct TypeCount {
  int tensors = 0;
  uint64_t bytes = 0;
};

std::string ChatFamily(const engine::gguf::GgufFile& f) {
  std::optional<std::string_view> jinja = f.GetString("tokenizer.chat_template");
  if (!jinja) return "none";
  std::optional<engine::ChatTemplate> t = engine::DetectChatTemplate(*jinja);
  return t ? engine::ChatTemplateName(*t) : "unrecognised";
}

int RunInfo(const InfoArgs& a) {
  auto loaded = engine::Model::Load(a.path, engine::ModelOptions{.n_threads = 1});
  if (!loaded.ok()) return InputError(loaded.status().message());
  const engine::Model& m = **loaded;
  const engine::ModelConfig& c = m.config();
  std::map<std::string, TypeCount> types;
  uint64_t n_params = 0;
  uint64_t n_expert_params = 0;
  for (const auto& t : m.file().tensors()) {
    TypeCount& tc = types[engine::Traits(t.type).name];
    ++tc.tensors;
    tc.bytes += t.n_bytes;
    n_params += static_cast<uint64_t>(t.n_elements);
    if (t.name.find("_exps.") != std::string_view::npos) {
      n_expert_params += static_cast<uint64_t>(t.n_elements);
    }
  }
  uint64_t n_active = n_params;
  if (c.is_moe())
    n_active = n_params - n_expert_params + n_expert_params / c.n_expert * c.n_expert_used;
  const engine::Tokenizer& tok = m.tokenizer();
  const char* tok_kind =
      tok.kind() == engine::TokenizerKind::kSentencePiece ? "sentencepiece" : "bpe";
  if (a.json) {
    JsonWriter w;
    w.BeginObject();
    w.StringField("file", a.path);
    w.StringField("architecture", c.arch);
    w.StringField("name", c.name);
    w.IntField("parameters", static_cast<int64_t>(n_params));
    w.IntField("active_parameters", static_cast<int64_t>(n_active));
    w.IntField("experts", c.n_expert);
    w.IntField("experts_used", c.n_expert_used);
    w.IntField("context_length", c.n_ctx_train);
    w.IntField("embedding_length", c.n_embd);
    w.IntField("layers", c.n_layer);
    w.IntField("heads", c.n_head);
    w.IntField("kv_heads", c.n_head_kv);
    w.IntField("feed_forward_length", c.n_ff);
    w.DoubleField("rope_freq_base", c.rope_freq_base);
    w.Key("tensor_types");
    w.BeginObject();
    for (const auto& [name, tc] : types) {
      w.Key(name);
      w.BeginObject();
      w.IntField("tensors", tc.tensors);
      w.IntField("bytes", static_cast<int64_t>(tc.bytes));
      w.EndObject();
    }
    w.EndObject();
    w.StringField("tokenizer", tok_kind);
    w.StringField("pre_tokenizer", tok.pre());
    w.IntField("vocab_size", tok.n_vocab());
    w.StringField("chat_template", ChatFamily(m.file()));
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("file:            %s (GGUF v%u, %.1f MiB)\n", a.path.c_str(), m.file().version(),
              static_cast<double>(m.file().size_bytes()) / (1 << 20));
  std::printf("architecture:    %s%s%s\n", c.arch.c_str(),
              c.name.empty() ? "" : "  name: ", c.name.c_str());
  std::printf("parameters:      %llu (%.2f M)", static_cast<unsigned long long>(n_params),
              static_cast<double>(n_params) / 1e6);
  if (c.is_moe()) std::printf(", %.2f M active per token", static_cast<double>(n_active) / 1e6);
  std::printf("\n");
  if (c.is_moe()) {
    std::printf("experts:         %d total, %d used per token\n", c.n_expert, c.n_expert_used);
  } else {
    std::printf("experts:         none (dense)\n");
  }
  std::printf("context length:  %d\n", c.n_ctx_train);
  std::printf(
      "shape:           %d layers, d_model %d, %d heads / %d KV heads (head dim %d), FFN %d\n",
      c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff);
  std::printf("rope:            freq_base %g, %d dims%s\n", c.rope_freq_base, c.n_rot,
              m.weights().rope_freqs != nullptr ? ", rope_freqs scaling" : "");
  std::printf("output:          %s\n", m.weights().tied_output ? "tied to token_embd" : "separate");
  std::printf("tensor types:   ");
  for (const auto& [name, tc] : types) {
    std::printf(" %s x%d (%.1f MiB)", name.c_str(), tc.tensors,
                static_cast<double>(tc.bytes) / (1 << 20));
  }
  std::printf("\n");
  std::printf("tokenizer:       %s%s%s, %d tokens (BOS %d, EOS %d)\n", tok_kind,
              tok.pre().empty() ? "" : ", pre ", tok.pre().c_str(), tok.n_vocab(), tok.bos_id(),
              tok.eos_id());
  std::printf("chat template:   %s\n", ChatFamily(m.file()).c_str());
  return 0;
}

}  // namespace

void AddModelCommands(CLI::App& app, Action* run) {
  CLI::App* model = app.add_subcommand("model", "Inspect GGUF model files");
  model->require_subcommand(1);
  auto args = std::make_shared<InfoArgs>();
  CLI::App* info = model->add_subcommand("info", "Describe a GGUF model: shape, experts, types");
  info->add_option("file", args->path, "GGUF model file")->required();
  info->add_flag("--json", args->json, "Print one JSON object");
  info->callback([args, run] { *run = [args] { return RunInfo(*args); }; });
}

}  // namespace parapet::cli
