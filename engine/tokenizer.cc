// Tokenizer: the factory, the vocabulary shared by all tokenizer models (metadata loading and
// validation, special-token partitioning, end-of-generation ids), Decode and StreamDecoder. The
// models themselves live in internal/spm_tokenizer.cc and internal/bpe_tokenizer.cc.
#include "engine/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/utf8.h"
#include "engine/gguf/gguf_file.h"
#include "engine/internal/bpe_tokenizer.h"
#include "engine/internal/spm_tokenizer.h"

namespace parapet::engine {

namespace internal {

// A byte trie over the special tokens' texts, used to learn in one pass over a text which special
// tokens occur in it at all (usually none), so partitioning only searches for those.
class SpecialTokenTrie {
 public:
  void Insert(std::string_view text, TokenId id) {
    uint32_t node = 0;
    for (char ch : text) {
      const uint64_t key = EdgeKey(node, ch);
      auto it = children_.find(key);
      if (it == children_.end()) {
        it = children_.emplace(key, static_cast<uint32_t>(node_token_.size())).first;
        node_token_.push_back(-1);
      }
      node = it->second;
    }
    node_token_[node] = id;
  }

  // Ids of the special tokens that occur in `text`, each once, in ascending order.
  std::vector<TokenId> FindAll(std::string_view text) const {
    std::vector<TokenId> found;
    for (size_t start = 0; start < text.size(); ++start) {
      uint32_t node = 0;
      for (size_t pos = start; pos < text.size(); ++pos) {
        auto it = children_.find(EdgeKey(node, text[pos]));
        if (it == children_.end()) break;
        node = it->second;
        if (node_token_[node] >= 0) found.push_back(node_token_[node]);
      }
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
  }

 private:
  static uint64_t EdgeKey(uint32_t node, char ch) {
    return (uint64_t{node} << 8) | static_cast<uint8_t>(ch);
  }

  std::unordered_map<uint64_t, uint32_t> children_;  // (node << 8 | byte) -> child node
  std::vector<TokenId> node_token_{-1};              // token whose text ends at the node; 0 = root
};

}  // namespace internal

namespace {

constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kKeyTokenType = "tokenizer.ggml.token_type";
constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
constexpr std::string_view kKeyBos = "tokenizer.ggml.bos_token_id";
constexpr std::string_view kKeyEos = "tokenizer.ggml.eos_token_id";
constexpr std::string_view kKeyEot = "tokenizer.ggml.eot_token_id";
constexpr std::string_view kKeyEom = "tokenizer.ggml.eom_token_id";
constexpr std::string_view kKeyAddBos = "tokenizer.ggml.add_bos_token";

// Texts that end generation when the vocabulary has them as control tokens (a subset of
// llama.cpp's list, which also accepts non-control tokens and re-types them).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",    "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>",
    "<end_of_turn>", "</s>",
};

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";  // U+FFFD

Status KeyError(std::string_view key, std::string_view problem) {
  return InvalidArgumentError(std::string(key) + ": " + std::string(problem));
}

// True when the key exists; then `value_ok` tells whether it had the expected type.
Status CheckType(const gguf::GgufFile& file, std::string_view key, bool value_ok,
                 std::string_view expected) {
  if (file.Find(key) != nullptr && !value_ok) {
    return KeyError(key, "has the wrong type (want " + std::string(expected) + ")");
  }
  return Status::Ok();
}

TokenType TokenTypeFromInt(int64_t v) {
  if (v < static_cast<int64_t>(TokenType::kUndefined) ||
      v > static_cast<int64_t>(TokenType::kByte)) {
    return TokenType::kUndefined;  // llama.cpp treats unknown values the same way
  }
  return static_cast<TokenType>(v);
}

// A byte token's text is "<0xHH>".
bool IsByteTokenText(std::string_view text) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  return text.size() == 6 && text.substr(0, 3) == "<0x" && hex(text[3]) && hex(text[4]) &&
         text[5] == '>';
}

// An optional special-token id. Absent: `fallback` (dropped when outside the vocabulary, as in
// llama.cpp). -1 or 0xFFFFFFFF (how converters write "none"): no token. Otherwise it must be a
// valid id.
Result<TokenId> ReadTokenId(const gguf::GgufFile& file, std::string_view key, TokenId fallback,
                            size_t n_vocab) {
  const std::optional<int64_t> v = file.GetInt(key);
  PARAPET_RETURN_IF_ERROR(CheckType(file, key, v.has_value(), "an integer"));
  if (!v) return fallback >= 0 && static_cast<size_t>(fallback) < n_vocab ? fallback : -1;
  if (*v == -1 || *v == std::numeric_limits<uint32_t>::max()) return TokenId{-1};
  if (*v < 0 || static_cast<uint64_t>(*v) >= n_vocab) {
    return KeyError(key, "id " + std::to_string(*v) + " is outside the vocabulary (" +
                             std::to_string(n_vocab) + " tokens)");
  }
  return static_cast<TokenId>(*v);
}

Result<std::vector<TokenType>> ReadTokenTypes(const gguf::GgufFile& file, size_t n_vocab) {
  const std::optional<std::vector<int64_t>> raw = file.GetIntArray(kKeyTokenType);
  PARAPET_RETURN_IF_ERROR(CheckType(file, kKeyTokenType, raw.has_value(), "an integer array"));
  if (!raw) return std::vector<TokenType>(n_vocab, TokenType::kNormal);
  if (raw->size() != n_vocab) {
    return KeyError(kKeyTokenType, "has " + std::to_string(raw->size()) + " entries for " +
                                       std::to_string(n_vocab) + " tokens");
  }
  std::vector<TokenType> types;
  types.reserve(n_vocab);
  for (int64_t v : *raw) types.push_back(TokenTypeFromInt(v));
  return types;
}

Result<std::vector<float>> ReadScores(const gguf::GgufFile& file, size_t n_vocab) {
  std::optional<std::vector<float>> scores = file.GetFloatArray(kKeyScores);
  PARAPET_RETURN_IF_ERROR(CheckType(file, kKeyScores, scores.has_value(), "a number array"));
  if (!scores) return std::vector<float>();
  if (scores->size() != n_vocab) {
    return KeyError(kKeyScores, "has " + std::to_string(scores->size()) + " entries for " +
                                    std::to_string(n_vocab) + " tokens");
  }
  for (size_t i = 0; i < scores->size(); ++i) {
    if (std::isnan((*scores)[i]))
      return KeyError(kKeyScores, "entry " + std::to_string(i) + " is NaN");
  }
  return std::move(*scores);
}

// Appends `bytes` as UTF-8, each byte that starts no valid sequence replaced by U+FFFD.
void AppendValidUtf8(std::string_view bytes, std::string& out) {
  while (!bytes.empty()) {
    const size_t n = Utf8SequenceLength(bytes);
    if (n == 0) {
      out += kReplacementUtf8;
      bytes.remove_prefix(1);
    } else {
      out += bytes.substr(0, n);
      bytes.remove_prefix(n);
    }
  }
}

}  // namespace

// ---- construction ----

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  const std::optional<std::string_view> model = file.GetString(kKeyModel);
  Result<std::unique_ptr<Tokenizer>> result = KeyError(kKeyModel, "missing or not a string");
  if (model && *model == "llama") {
    result = internal::CreateSpmTokenizer(file);
  } else if (model && *model == "gpt2") {
    result = internal::CreateBpeTokenizer(file);
  } else if (model) {
    result = KeyError(kKeyModel, "unsupported tokenizer model '" + std::string(*model) +
                                     "' (supported: llama, gpt2)");
  }
  if (!result.ok()) return result.status().WithContext(file.name());
  return result;
}

Result<std::vector<float>> Tokenizer::LoadVocab(const gguf::GgufFile& file,
                                                const VocabDefaults& defaults) {
  const std::vector<std::string_view>* tokens = file.GetStringArray(kKeyTokens);
  if (tokens == nullptr) return KeyError(kKeyTokens, "missing or not a string array");
  if (tokens->empty()) return KeyError(kKeyTokens, "is empty");
  if (tokens->size() > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
    return KeyError(kKeyTokens, "has too many entries");
  }
  const size_t n_vocab = tokens->size();
  tokens_.assign(tokens->begin(), tokens->end());
  PARAPET_ASSIGN_OR_RETURN(types_, ReadTokenTypes(file, n_vocab));
  PARAPET_ASSIGN_OR_RETURN(std::vector<float> scores, ReadScores(file, n_vocab));

  token_ids_.clear();
  token_ids_.reserve(n_vocab);
  for (size_t i = 0; i < n_vocab; ++i) {
    // Empty texts cannot be looked up or matched (llama.cpp renames them "[EMPTY_<id>]").
    if (!tokens_[i].empty()) token_ids_.emplace(tokens_[i], static_cast<TokenId>(i));
    if (types_[i] == TokenType::kByte && !IsByteTokenText(tokens_[i])) {
      return KeyError(kKeyTokenType, "token " + std::to_string(i) + " is a byte token but '" +
                                         tokens_[i] + "' is not of the form <0xHH>");
    }
  }

  PARAPET_ASSIGN_OR_RETURN(bos_id_, ReadTokenId(file, kKeyBos, defaults.bos_id, n_vocab));
  PARAPET_ASSIGN_OR_RETURN(eos_id_, ReadTokenId(file, kKeyEos, defaults.eos_id, n_vocab));
  PARAPET_ASSIGN_OR_RETURN(TokenId eot_id, ReadTokenId(file, kKeyEot, -1, n_vocab));
  PARAPET_ASSIGN_OR_RETURN(TokenId eom_id, ReadTokenId(file, kKeyEom, -1, n_vocab));

  const std::optional<bool> add_bos = file.GetBool(kKeyAddBos);
  PARAPET_RETURN_IF_ERROR(CheckType(file, kKeyAddBos, add_bos.has_value(), "a bool"));
  add_bos_ = add_bos.value_or(defaults.add_bos);
  if (add_bos_ && bos_id_ < 0) return KeyError(kKeyAddBos, "is true but there is no BOS token");

  BuildEndOfGeneration(eot_id, eom_id);
  BuildSpecialTokens();
  return scores;
}

char Tokenizer::ByteTokenValue(std::string_view text) {
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
  };
  return static_cast<char>(nibble(text[3]) * 16 + nibble(text[4]));
}

void Tokenizer::BuildEndOfGeneration(TokenId eot_id, TokenId eom_id) {
  end_of_generation_.clear();
  for (TokenId id : {eos_id_, eot_id, eom_id}) {
    if (id >= 0) end_of_generation_.push_back(id);
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    const TokenId id = LookupToken(text);
    if (id >= 0 && token_type(id) == TokenType::kControl) end_of_generation_.push_back(id);
  }
  std::sort(end_of_generation_.begin(), end_of_generation_.end());
  end_of_generation_.erase(std::unique(end_of_generation_.begin(), end_of_generation_.end()),
                           end_of_generation_.end());
}

void Tokenizer::BuildSpecialTokens() {
  auto trie = std::make_shared<internal::SpecialTokenTrie>();
  for (TokenId id = 0; id < n_vocab(); ++id) {
    const TokenType t = token_type(id);
    const bool special =
        t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
    if (special && !TokenText(id).empty()) trie->Insert(TokenText(id), id);
  }
  special_trie_ = std::move(trie);
}

// ---- special tokens ----

// True when special token `a` is cut out before `b`: longer text first, then lower id. (llama.cpp
// sorts by length only, leaving ties to std::sort; ties only matter for overlapping texts.)
bool Tokenizer::SpecialBefore(TokenId a, TokenId b) const {
  const size_t la = TokenText(a).size(), lb = TokenText(b).size();
  return la != lb ? la > lb : a < b;
}

std::vector<Tokenizer::Fragment> Tokenizer::PartitionSpecial(
    std::string_view text, bool parse_special, std::span<const TextSpan> literal) const {
  std::vector<Fragment> fragments;
  if (!text.empty())
    PartitionPiece(text, -1, SpecialScope{text, parse_special, literal}, fragments);
  return fragments;
}

bool Tokenizer::SpecialScope::Allows(TokenId /*id*/, TokenType type, const char* at,
                                     size_t len) const {
  if (type == TokenType::kUserDefined) return true;  // ordinary vocabulary text
  if (!parse_special) return false;
  const size_t begin = static_cast<size_t>(at - text.data());
  const size_t end = begin + len;
  for (const TextSpan& s : literal) {
    if (begin < s.end && s.begin < end) return false;
  }
  return true;
}

// llama.cpp applies the special tokens one after the other to every raw fragment. The same
// result, computed per piece: find the first token in that order (after `after`) that occurs in
// `piece`, cut out all its occurrences, and partition each gap with the tokens after it. Pieces
// without special tokens cost one trie scan.
void Tokenizer::PartitionPiece(std::string_view piece, TokenId after, const SpecialScope& scope,
                               std::vector<Fragment>& out) const {
  // Finds the next occurrence of `id` at or after `from` that the scope allows.
  auto next_allowed = [&](TokenId id, size_t from) {
    const std::string& special = TokenText(id);
    for (size_t at = piece.find(special, from); at != std::string_view::npos;
         at = piece.find(special, at + 1)) {
      if (scope.Allows(id, token_type(id), piece.data() + at, special.size())) return at;
    }
    return std::string_view::npos;
  };
  TokenId best = -1;
  if (special_trie_ != nullptr) {
    for (TokenId id : special_trie_->FindAll(piece)) {
      if (after >= 0 && !SpecialBefore(after, id)) continue;
      if (best >= 0 && !SpecialBefore(id, best)) continue;
      if (next_allowed(id, 0) != std::string_view::npos) best = id;
    }
  }
  if (best < 0) {
    out.push_back(Fragment{-1, piece});
    return;
  }
  const size_t len = TokenText(best).size();
  for (size_t at = next_allowed(best, 0); at != std::string_view::npos;
       at = next_allowed(best, 0)) {
    if (at > 0) PartitionPiece(piece.substr(0, at), best, scope, out);
    out.push_back(Fragment{best, {}});
    piece.remove_prefix(at + len);
  }
  if (!piece.empty()) PartitionPiece(piece, best, scope, out);
}

// ---- queries ----

std::string Tokenizer::TokenToPiece(TokenId id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return "";
  const std::string& text = TokenText(id);
  switch (token_type(id)) {
    case TokenType::kNormal:
      return NormalPiece(text);
    case TokenType::kByte:
      return std::string(1, ByteTokenValue(text));
    case TokenType::kUserDefined:
      return text;
    case TokenType::kControl:
    case TokenType::kUnknown:
      return render_special ? text : "";
    case TokenType::kUnused:
    case TokenType::kUndefined:
      return "";
  }
  return "";
}

bool Tokenizer::IsEndOfGeneration(TokenId id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

std::optional<TokenId> Tokenizer::FindToken(std::string_view text) const {
  const TokenId id = LookupToken(text);
  if (id < 0) return std::nullopt;
  return id;
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, bool render_special,
                              bool strip_leading_space) const {
  std::string text;
  bool strip = strip_leading_space && add_space_prefix_;
  for (TokenId id : ids) {
    std::string piece = TokenToPiece(id, render_special);
    if (strip && !piece.empty()) {
      strip = false;
      if (piece.front() == ' ') piece.erase(0, 1);
    }
    text += piece;
  }
  return text;
}

// ---- StreamDecoder ----

std::string StreamDecoder::Push(TokenId id) {
  std::string piece = tokenizer_.TokenToPiece(id);
  if (first_ && !piece.empty()) {
    first_ = false;
    if (strip_leading_space_ && tokenizer_.add_space_prefix() && piece.front() == ' ') {
      piece.erase(0, 1);
    }
  }
  pending_ += piece;
  const size_t complete = pending_.size() - Utf8IncompleteTail(pending_);
  std::string out;
  AppendValidUtf8(std::string_view(pending_).substr(0, complete), out);
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::Flush() {
  // What is held is one truncated sequence.
  std::string out = pending_.empty() ? "" : std::string(kReplacementUtf8);
  pending_.clear();
  return out;
}

}  // namespace parapet::engine
