// SentencePiece-style tokenizer (see spm_tokenizer.h).
#include "engine/internal/spm_tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "engine/gguf/gguf_file.h"
#include "engine/internal/unicode.h"

namespace parapet::engine::internal {

namespace {

constexpr std::string_view kKeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"
constexpr size_t kNone = static_cast<size_t>(-1);

// A piece of the text being merged; pieces form a linked list in text order.
struct Symbol {
  size_t prev;
  size_t next;
  size_t begin;  // byte offset in the text
  size_t size;   // 0 once merged into its left neighbour
};

// A candidate merge of symbol `left` with its right neighbour into the vocabulary entry with
// `score`. 16 bytes, to keep the heap small.
struct Bigram {
  size_t left;
  float score;
  uint32_t size;  // bytes of the merged text when the candidate was made (a token: small)
};

// Highest score first; equal scores: leftmost first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

// Merge state, reused across the chunks of one Encode call.
class SpmSession {
 public:
  SpmSession(const std::vector<float>& scores, const Tokenizer& vocab)
      : scores_(scores), vocab_(vocab) {}

  // Runs the merges over `text`; afterwards symbols() lists the final pieces from symbol 0
  // along `next`.
  void Merge(std::string_view text) {
    text_ = text;
    symbols_.clear();
    heap_.clear();
    for (size_t pos = 0; pos < text_.size();) {
      const size_t n = Utf8CharLength(text_.substr(pos));
      symbols_.push_back(Symbol{symbols_.empty() ? kNone : symbols_.size() - 1, kNone, pos, n});
      if (symbols_.size() > 1) symbols_[symbols_.size() - 2].next = symbols_.size() - 1;
      pos += n;
    }
    for (size_t i = 1; i < symbols_.size(); ++i) TryAddBigram(i - 1, i);
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), BigramOrder());
      const Bigram bigram = heap_.back();
      heap_.pop_back();
      Symbol& left = symbols_[bigram.left];
      // Stale if either side changed since the candidate was made: the sizes no longer add up
      // (a merged-away left has size 0; while the left is unchanged its neighbour is the same).
      if (left.size == 0 || left.next == kNone ||
          left.size + symbols_[left.next].size != bigram.size) {
        continue;
      }
      Symbol& right = symbols_[left.next];
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next != kNone) symbols_[right.next].prev = bigram.left;
      TryAddBigram(left.prev, bigram.left);
      TryAddBigram(bigram.left, left.next);
    }
  }

  const std::vector<Symbol>& symbols() const { return symbols_; }
  std::string_view Text(const Symbol& s) const { return text_.substr(s.begin, s.size); }

 private:
  void TryAddBigram(size_t left, size_t right) {
    if (left == kNone || right == kNone) return;
    const size_t size = symbols_[left].size + symbols_[right].size;
    if (size > UINT32_MAX) return;  // longer than any token could be
    const std::optional<TokenId> id = vocab_.FindToken(text_.substr(symbols_[left].begin, size));
    if (!id) return;
    heap_.push_back(Bigram{left, scores_[static_cast<size_t>(*id)], static_cast<uint32_t>(size)});
    std::push_heap(heap_.begin(), heap_.end(), BigramOrder());
  }

  const std::vector<float>& scores_;
  const Tokenizer& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::vector<Bigram> heap_;  // max-heap under BigramOrder
};

namespace {

// True when no vocabulary entry has a "▁" right after something else. Then no merge can join a
// character to a following "▁", and the text can be merged in independent chunks that each start
// at such a "▁" (a word with its leading space): the same result, with much smaller heaps.
bool CanSplitBeforeSpaces(const std::vector<std::string>& tokens) {
  for (const std::string& t : tokens) {
    for (size_t at = t.find(kSpaceMarker, 1); at != std::string::npos;
         at = t.find(kSpaceMarker, at + 1)) {
      if (at < kSpaceMarker.size() ||
          t.compare(at - kSpaceMarker.size(), kSpaceMarker.size(), kSpaceMarker) != 0) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::Create(const gguf::GgufFile& file) {
  std::unique_ptr<SpmTokenizer> t(new SpmTokenizer());
  // llama.cpp's defaults for "llama" vocabularies: BOS 1, EOS 2, BOS added.
  PARAPET_ASSIGN_OR_RETURN(t->scores_,
                           t->LoadVocab(file, {.bos_id = 1, .eos_id = 2, .add_bos = true}));
  if (t->scores_.empty()) t->scores_.assign(t->tokens_.size(), 0.0f);

  const std::optional<bool> add_space_prefix = file.GetBool(kKeyAddSpacePrefix);
  if (file.Find(kKeyAddSpacePrefix) != nullptr && !add_space_prefix) {
    return InvalidArgumentError(std::string(kKeyAddSpacePrefix) +
                                ": has the wrong type (want a bool)");
  }
  t->add_space_prefix_ = add_space_prefix.value_or(true);
  t->split_before_spaces_ = CanSplitBeforeSpaces(t->tokens_);

  TokenId unknown = -1;
  for (size_t i = 0; i < t->types_.size() && unknown < 0; ++i) {
    if (t->types_[i] == TokenType::kUnknown) unknown = static_cast<TokenId>(i);
  }
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    TokenId id = t->LookupToken(hex);
    if (id < 0) id = t->LookupToken(std::string(1, static_cast<char>(b)));
    t->byte_tokens_[static_cast<size_t>(b)] = id >= 0 ? id : unknown;
  }
  return std::unique_ptr<Tokenizer>(std::move(t));
}

std::vector<TokenId> SpmTokenizer::Encode(std::string_view text, bool add_bos, bool parse_special,
                                          std::span<const TextSpan> literal) const {
  std::vector<TokenId> out;
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  bool after_special = true;  // the text start counts as following a special token
  std::string escaped;
  for (const Fragment& fragment : PartitionSpecial(text, parse_special, literal)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    escaped.clear();
    if (add_space_prefix_ && after_special) escaped += kSpaceMarker;
    for (char ch : fragment.text) {
      if (ch == ' ') {
        escaped += kSpaceMarker;
      } else {
        escaped += ch;
      }
    }
    EncodeEscaped(escaped, out);
    after_special = false;
  }
  return out;
}

void SpmTokenizer::EncodeEscaped(std::string_view text, std::vector<TokenId>& out) const {
  SpmSession session(scores_, *this);
  size_t chunk_begin = 0;
  while (chunk_begin < text.size()) {
    size_t chunk_end = text.size();
    if (split_before_spaces_) {
      // The next "▁" that follows something other than "▁".
      for (size_t at = text.find(kSpaceMarker, chunk_begin + 1); at != std::string_view::npos;
           at = text.find(kSpaceMarker, at + 1)) {
        if (text.substr(at - std::min(at, kSpaceMarker.size()), kSpaceMarker.size()) !=
            kSpaceMarker) {
          chunk_end = at;
          break;
        }
      }
    }
    session.Merge(text.substr(chunk_begin, chunk_end - chunk_begin));
    AppendPieces(session, out);
    chunk_begin = chunk_end;
  }
}

// Every merged piece is a vocabulary entry (merges are only proposed for those), so only single
// characters can be missing: they become byte tokens.
void SpmTokenizer::AppendPieces(const SpmSession& session, std::vector<TokenId>& out) const {
  const std::vector<Symbol>& symbols = session.symbols();
  for (size_t i = symbols.empty() ? kNone : 0; i != kNone; i = symbols[i].next) {
    const std::string_view piece = session.Text(symbols[i]);
    const TokenId id = LookupToken(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      AppendBytes(piece, out);
    }
  }
}

void SpmTokenizer::AppendBytes(std::string_view bytes, std::vector<TokenId>& out) const {
  for (char ch : bytes) {
    const TokenId id = byte_tokens_[static_cast<uint8_t>(ch)];
    if (id >= 0) out.push_back(id);
  }
}

std::string SpmTokenizer::NormalPiece(std::string_view text) const {
  std::string piece;
  piece.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
      piece += ' ';
      pos += kSpaceMarker.size();
    } else {
      piece += text[pos++];
    }
  }
  return piece;
}

}  // namespace parapet::engine::internal
