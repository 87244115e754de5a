// SpmTokenizer: the SentencePiece-style tokenizer of `tokenizer.ggml.model = "llama"` vocabularies
// (Llama 1/2, Mistral, Mixtral, TinyStories), matching llama.cpp's llm_tokenizer_spm:
//   - spaces become "▁" (U+2581); with `tokenizer.ggml.add_space_prefix` (default true) a "▁" is
//     put before the text and after every special token;
//   - the text is cut into UTF-8 characters, then the adjacent pair whose concatenation is the
//     vocabulary entry with the highest score is merged, repeatedly (ties: leftmost first);
//   - a final piece that is not in the vocabulary is emitted as byte tokens <0xHH>.
// Invalid UTF-8 bytes are single-byte pieces (and so end up as byte tokens).
//
// Thread-safety: immutable after Create(); all const methods may be called concurrently.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer.h"

namespace parapet::engine::internal {

class SpmSession;

class SpmTokenizer final : public Tokenizer {
 public:
  // Builds the tokenizer from `file` (REQUIRES: tokenizer.ggml.model is "llama"). Errors are
  // InvalidArgument naming the key.
  static Result<std::unique_ptr<Tokenizer>> Create(const gguf::GgufFile& file);

  std::vector<TokenId> Encode(std::string_view text, bool add_bos, bool parse_special = false,
                              std::span<const TextSpan> literal = {}) const override;
  std::string NormalPiece(std::string_view text) const override;
  TokenizerKind kind() const override { return TokenizerKind::kSentencePiece; }

 private:
  SpmTokenizer() = default;

  // Appends the tokens of one text fragment whose spaces are already "▁".
  void EncodeEscaped(std::string_view text, std::vector<TokenId>& out) const;
  // Appends the tokens of the pieces `session` ended with.
  void AppendPieces(const SpmSession& session, std::vector<TokenId>& out) const;
  // Appends the byte tokens for `bytes`.
  void AppendBytes(std::string_view bytes, std::vector<TokenId>& out) const;

  std::vector<float> scores_;
  bool split_before_spaces_ = false;  // see CanSplitBeforeSpaces in the .cc
  // The token for each byte: <0xHH>, else the one-byte text, else the unknown token, else -1.
  std::array<TokenId, 256> byte_tokens_{};
};

inline Result<std::unique_ptr<Tokenizer>> CreateSpmTokenizer(const gguf::GgufFile& file) {
  return SpmTokenizer::Create(file);
}

}  // namespace parapet::engine::internal
