// BpeTokenizer: the byte-level BPE tokenizer of `tokenizer.ggml.model = "gpt2"` vocabularies
// (GPT-2, Llama 3, DeepSeek LLM), matching llama.cpp's llm_tokenizer_bpe:
//   - a pre-tokenizer chosen by `tokenizer.ggml.pre` splits the text into words;
//   - each word's bytes are written as GPT-2's byte characters (0x20 -> "Ġ" ...);
//   - the adjacent pair with the lowest rank in `tokenizer.ggml.merges` ("left right" strings,
//     rank = position) is merged, repeatedly (ties: leftmost first);
//   - with ignore_merges (Llama 3) a word that is itself a vocabulary entry is taken whole.
// Supported `tokenizer.ggml.pre` values: default (also when absent), gpt-2, phi-2, mpt, olmo
// (the GPT-2 regex); llama3, llama-v3, llama-bpe, falcon3, pixtral (Llama-3 regex, BOS added,
// ignore_merges); dbrx, smaug-bpe (Llama-3 regex); deepseek-llm.
// Invalid UTF-8 bytes are pre-tokenized like U+FFFD but keep their own byte.
//
// Thread-safety: immutable after Create(); all const methods may be called concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/internal/unicode_pretokenizer.h"
#include "engine/tokenizer.h"

namespace parapet::engine::internal {

class BpeTokenizer final : public Tokenizer {
 public:
  // Builds the tokenizer from `file` (REQUIRES: tokenizer.ggml.model is "gpt2"). Errors are
  // InvalidArgument naming the key (an unsupported `tokenizer.ggml.pre`, a malformed merge or
  // one whose parts or result are not vocabulary entries, ...).
  static Result<std::unique_ptr<Tokenizer>> Create(const gguf::GgufFile& file);

  std::vector<TokenId> Encode(std::string_view text, bool add_bos, bool parse_special = false,
                              std::span<const TextSpan> literal = {}) const override;
  std::string NormalPiece(std::string_view text) const override;
  TokenizerKind kind() const override { return TokenizerKind::kBpe; }

 private:
  struct Merge {
    int32_t rank;
    TokenId result;
  };
  class Session;

  BpeTokenizer() = default;
  Status LoadMerges(const gguf::GgufFile& file);
  // The merge of the adjacent tokens (left, right), or nullptr.
  const Merge* FindMerge(TokenId left, TokenId right) const;

  PreTokenizer pre_kind_ = PreTokenizer::kDefault;
  bool ignore_merges_ = false;
  std::unordered_map<uint64_t, Merge> merges_;  // key: left << 32 | right
  // The token of each byte's GPT-2 character, or -1 (then the byte is dropped unless one of the
  // character's UTF-8 bytes is a token by itself, as llama.cpp does).
  std::array<TokenId, 256> byte_tokens_{};
  std::array<std::vector<TokenId>, 256> byte_fallback_;
};

inline Result<std::unique_ptr<Tokenizer>> CreateBpeTokenizer(const gguf::GgufFile& file) {
  return BpeTokenizer::Create(file);
}

}  // namespace parapet::engine::internal
