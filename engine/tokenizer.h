// Tokenizer: text <-> token ids for the vocabularies GGUF files carry in their metadata
// (`tokenizer.ggml.*`), matching llama.cpp token for token.
//   - SentencePiece-style (`tokenizer.ggml.model = "llama"`): score-ordered bigram merges over
//     UTF-8 characters, "▁" for spaces, optional space prefix, byte fallback (<0xAB> tokens).
//   - GPT-2-style byte-level BPE (`tokenizer.ggml.model = "gpt2"`): a pre-tokenizer regex chosen
//     by `tokenizer.ggml.pre` (default/gpt-2, llama-bpe/llama3, deepseek-llm, ...), byte-to-unicode
//     mapping, rank-ordered merges from `tokenizer.ggml.merges`.
// Special/control tokens (<s>, </s>, <|eot_id|>, [INST] ...) are matched in the input text only
// when `parse_special` is set; otherwise they are tokenized as plain text.
//
// Metadata read (GGUF keys; see engine/internal/*_tokenizer.h for the model-specific ones):
//   tokenizer.ggml.model          string: "llama" or "gpt2" (required)
//   tokenizer.ggml.tokens         string[n_vocab], non-empty (required); ids are positions
//   tokenizer.ggml.token_type     int[n_vocab] (TokenType values; default all kNormal)
//   tokenizer.ggml.scores         float[n_vocab] (SentencePiece merge priority; default 0)
//   tokenizer.ggml.merges         string[] "left right" (gpt2 only, required)
//   tokenizer.ggml.pre            string (gpt2 only; default "default")
//   tokenizer.ggml.add_space_prefix  bool (llama only; default true)
//   tokenizer.ggml.add_bos_token  bool (default: true for llama and llama-bpe, else false)
//   tokenizer.ggml.{bos,eos,eot,eom}_token_id  integer; -1 or 0xFFFFFFFF mean "none"
//       (defaults: BOS 1 and EOS 2 for llama, none otherwise)
// A missing required key, a wrong type, an array whose length differs from n_vocab, an id
// outside the vocabulary, or a merge naming unknown tokens is an InvalidArgument error.
//
// Thread-safety: immutable after FromGguf(); all const methods may be called concurrently.
// StreamDecoder is per-stream state and not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace parapet::engine {

namespace gguf {
class GgufFile;
}
namespace internal {
class SpecialTokenTrie;
}

using TokenId = int32_t;

enum class TokenizerKind { kSentencePiece, kBpe };

// A byte range [begin, end) of a text.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

// Token attributes from `tokenizer.ggml.token_type` (llama.cpp's llama_token_type numbering).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Builds the tokenizer from a model's (or vocabulary-only) GGUF metadata. Fails with
  // InvalidArgument naming the key when a required key is missing or malformed, or when the
  // tokenizer model / pre-tokenizer is not supported.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);

  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids for `text`. `add_bos`: prepend BOS (callers usually pass add_bos_default()).
  // `parse_special`: recognise control (and unknown) token texts in `text`. User-defined tokens
  // are always recognised, as in llama.cpp. `literal`: sorted, disjoint spans of `text` (e.g. the
  // message contents inside a rendered chat template) in which control texts are never
  // recognised, even with parse_special: a user who types "<|im_end|>" or "[INST]" gets plain
  // text, not a turn boundary. Never fails: invalid UTF-8 is encoded byte by byte.
  virtual std::vector<TokenId> Encode(std::string_view text, bool add_bos,
                                      bool parse_special = false,
                                      std::span<const TextSpan> literal = {}) const = 0;

  // The bytes one token stands for when detokenizing: byte tokens give their byte, "▁" becomes a
  // space (SentencePiece), byte-level BPE maps back to raw bytes. Control tokens give "" unless
  // `render_special`, in which case their text is returned. May be a partial UTF-8 sequence.
  // "" for ids outside [0, n_vocab()).
  // Out-of-range ids give "".
  std::string TokenToPiece(TokenId id, bool render_special = false) const;

  // Concatenated pieces of `ids`. With `strip_leading_space` (SentencePiece models that add a
  // space prefix) one leading space of the first non-empty piece is removed (a BOS before it
  // renders as ""), so that Decode(Encode(s, add_bos)) == s for ordinary text.
  std::string Decode(std::span<const TokenId> ids, bool render_special = false,
                     bool strip_leading_space = true) const;

  virtual TokenizerKind kind() const = 0;
  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  TokenId bos_id() const { return bos_id_; }
  TokenId eos_id() const { return eos_id_; }
  bool add_bos_default() const { return add_bos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  const std::string& pre() const { return pre_; }  // pre-tokenizer name ("" for SentencePiece)

  // True for tokens that end generation: EOS, EOT, EOM, and the control tokens <|eot_id|>,
  // <|eom_id|>, <|end_of_text|>, <|im_end|>, <|endoftext|>, <end_of_turn>, </s>.
  bool IsEndOfGeneration(TokenId id) const;
  // The raw vocabulary text of a token (e.g. "▁the", "<0x0A>"). REQUIRES: 0 <= id < n_vocab().
  const std::string& TokenText(TokenId id) const { return tokens_[static_cast<size_t>(id)]; }
  TokenType token_type(TokenId id) const { return types_[static_cast<size_t>(id)]; }
  // Id of the token whose vocabulary text is exactly `text`.
  std::optional<TokenId> FindToken(std::string_view text) const;

 protected:
  Tokenizer() = default;

  // llama.cpp's per-model defaults, used where the GGUF file has no key.
  struct VocabDefaults {
    TokenId bos_id = -1;
    TokenId eos_id = -1;
    bool add_bos = false;
  };
  // Reads and validates what every model shares: `tokenizer.ggml.tokens`, `.token_type`, the
  // special ids (`.bos_token_id`, `.eos_token_id`, `.eot_token_id`, `.eom_token_id`) and
  // `.add_bos_token`; fills the members below. Returns `tokenizer.ggml.scores` (empty when
  // absent). Errors are InvalidArgument naming the key.
  Result<std::vector<float>> LoadVocab(const gguf::GgufFile& file, const VocabDefaults& defaults);

  // A piece of the input after special-token partitioning: a special token, or raw text.
  struct Fragment {
    TokenId token = -1;     // >= 0: the special token
    std::string_view text;  // token < 0: the text (non-empty)
  };
  // llama.cpp's special-token partitioning: the special tokens (user-defined always; control and
  // unknown only with `parse_special`) are cut out of the text, longest token first, each one
  // at all its non-overlapping occurrences, left to right. Views point into `text`.
  // Occurrences of control/unknown tokens that overlap a `literal` span are left in the text.
  std::vector<Fragment> PartitionSpecial(std::string_view text, bool parse_special,
                                         std::span<const TextSpan> literal = {}) const;
  // The bytes a normal token's vocabulary text stands for ("▁" or GPT-2 byte characters mapped
  // back); TokenToPiece handles the other token types.
  virtual std::string NormalPiece(std::string_view text) const = 0;
  // The byte a byte token ("<0xHH>", checked by LoadVocab) stands for.
  static char ByteTokenValue(std::string_view text);
  // Id of the vocabulary entry `text`, or -1.
  TokenId LookupToken(std::string_view text) const {
    auto it = token_ids_.find(text);
    return it == token_ids_.end() ? -1 : it->second;
  }

  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::vector<TokenId> end_of_generation_;
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  bool add_bos_ = false;
  bool add_space_prefix_ = false;
  std::string pre_;
  std::unordered_map<std::string_view, TokenId> token_ids_;  // views into tokens_; first id wins
  // The control, user-defined and unknown tokens, to find them in a text.
  std::shared_ptr<const internal::SpecialTokenTrie> special_trie_;

 private:
  // Parts of LoadVocab: fill end_of_generation_ / special_trie_.
  void BuildEndOfGeneration(TokenId eot_id, TokenId eom_id);
  void BuildSpecialTokens();
  bool SpecialBefore(TokenId a, TokenId b) const;
  // Where PartitionPiece may cut special tokens.
  struct SpecialScope {
    std::string_view text;  // the whole input, to turn piece views into offsets
    bool parse_special = false;
    std::span<const TextSpan> literal;
    bool Allows(TokenId id, TokenType type, const char* at, size_t len) const;
  };
  void PartitionPiece(std::string_view piece, TokenId after, const SpecialScope& scope,
                      std::vector<Fragment>& out) const;
};

// Incremental detokenization for streaming: Push() returns the text that became complete,
// holding back a trailing partial UTF-8 sequence until the bytes that complete it arrive. The
// output is always valid UTF-8 (bytes that cannot form a character become U+FFFD), so it equals
// Decode() whenever Decode() returns valid UTF-8.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space = true)
      : tokenizer_(tokenizer), strip_leading_space_(strip_leading_space) {}
  std::string Push(TokenId id);
  // Returns whatever is still held (invalid bytes become U+FFFD).
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool strip_leading_space_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace parapet::engine
