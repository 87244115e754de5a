// Byte-level BPE tokenizer (see bpe_tokenizer.h).
#include "engine/internal/bpe_tokenizer.h"

#include <queue>

#include "common/utf8.h"
#include "engine/gguf/gguf_file.h"
#include "engine/internal/unicode.h"

namespace parapet::engine::internal {

namespace {

constexpr std::string_view kKeyPre = "tokenizer.ggml.pre";
constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";
constexpr size_t kNone = static_cast<size_t>(-1);

struct PreTokenizerInfo {
  std::string_view name;
  PreTokenizer kind;
  bool llama3_defaults;  // llama.cpp turns on ignore_merges and add_bos for these
};

constexpr PreTokenizerInfo kPreTokenizers[] = {
    {"default", PreTokenizer::kDefault, false},
    {"gpt-2", PreTokenizer::kGpt2, false},
    {"phi-2", PreTokenizer::kGpt2, false},
    {"mpt", PreTokenizer::kGpt2, false},
    {"olmo", PreTokenizer::kGpt2, false},
    {"llama3", PreTokenizer::kLlama3, true},
    {"llama-v3", PreTokenizer::kLlama3, true},
    {"llama-bpe", PreTokenizer::kLlama3, true},
    {"falcon3", PreTokenizer::kLlama3, true},
    {"pixtral", PreTokenizer::kLlama3, true},
    {"dbrx", PreTokenizer::kLlama3, false},
    {"smaug-bpe", PreTokenizer::kLlama3, false},
    {"deepseek-llm", PreTokenizer::kDeepseekLlm, false},
};

uint64_t MergeKey(TokenId left, TokenId right) {
  return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
}

}  // namespace

// One word's merge state. Symbols start as one per byte and form a linked list in word order;
// a merged-away symbol has id -2.
class BpeTokenizer::Session {
 public:
  explicit Session(const BpeTokenizer& tok) : tok_(tok) {}

  // Appends the tokens of `word` (raw bytes of one pre-tokenizer word) to `out`.
  void EncodeWord(std::string_view word, std::vector<TokenId>& out) {
    symbols_.clear();
    for (size_t i = 0; i < word.size(); ++i) {
      const size_t next = i + 1 < word.size() ? i + 1 : kNone;
      symbols_.push_back(
          Symbol{i == 0 ? kNone : i - 1, next, tok_.byte_tokens_[static_cast<uint8_t>(word[i])]});
    }
    for (size_t i = 1; i < symbols_.size(); ++i) TryAddBigram(i - 1, i);
    while (!queue_.empty()) {
      const Bigram bigram = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[bigram.left];
      Symbol& right = symbols_[bigram.right];
      // Stale when either side has changed since the candidate was made.
      if (left.id != bigram.left_id || right.id != bigram.right_id) continue;
      left.id = bigram.result;
      right.id = kMerged;
      left.next = right.next;
      if (right.next != kNone) symbols_[right.next].prev = bigram.left;
      TryAddBigram(left.prev, bigram.left);
      TryAddBigram(bigram.left, left.next);
    }
    for (size_t i = symbols_.empty() ? kNone : 0; i != kNone; i = symbols_[i].next) {
      if (symbols_[i].id >= 0) {
        out.push_back(symbols_[i].id);
      } else {  // an unmerged byte without a token (merges only produce tokens)
        const auto& fallback = tok_.byte_fallback_[static_cast<uint8_t>(word[i])];
        out.insert(out.end(), fallback.begin(), fallback.end());
      }
    }
  }

 private:
  static constexpr TokenId kMerged = -2;

  struct Symbol {
    size_t prev;
    size_t next;
    TokenId id;  // -1: a byte without a token
  };
  struct Bigram {
    int32_t rank;
    size_t left;
    size_t right;
    TokenId left_id;
    TokenId right_id;
    TokenId result;
  };
  // Lowest rank first; equal ranks: leftmost first.
  struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };

  void TryAddBigram(size_t left, size_t right) {
    if (left == kNone || right == kNone) return;
    const TokenId left_id = symbols_[left].id, right_id = symbols_[right].id;
    if (left_id < 0 || right_id < 0) return;
    const Merge* merge = tok_.FindMerge(left_id, right_id);
    if (merge == nullptr) return;
    queue_.push(Bigram{merge->rank, left, right, left_id, right_id, merge->result});
  }

  const BpeTokenizer& tok_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(const gguf::GgufFile& file) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  const std::optional<std::string_view> pre = file.GetString(kKeyPre);
  if (file.Find(kKeyPre) != nullptr && !pre) {
    return InvalidArgumentError(std::string(kKeyPre) + ": has the wrong type (want a string)");
  }
  t->pre_ = pre && !pre->empty() ? std::string(*pre) : "default";
  const PreTokenizerInfo* info = nullptr;
  for (const PreTokenizerInfo& candidate : kPreTokenizers) {
    if (candidate.name == t->pre_) info = &candidate;
  }
  if (info == nullptr) {
    return InvalidArgumentError(std::string(kKeyPre) + ": unsupported pre-tokenizer '" + t->pre_ +
                                "'");
  }
  t->pre_kind_ = info->kind;
  t->ignore_merges_ = info->llama3_defaults;

  PARAPET_ASSIGN_OR_RETURN(std::vector<float> scores,
                           t->LoadVocab(file, {.add_bos = info->llama3_defaults}));
  (void)scores;  // BPE does not use scores
  t->add_space_prefix_ = false;
  PARAPET_RETURN_IF_ERROR(t->LoadMerges(file));

  for (int b = 0; b < 256; ++b) {
    const std::string ch = ByteToUtf8(static_cast<uint8_t>(b));
    t->byte_tokens_[static_cast<size_t>(b)] = t->LookupToken(ch);
    for (char part : ch) {
      const TokenId id = t->LookupToken(std::string_view(&part, 1));
      if (id >= 0) t->byte_fallback_[static_cast<size_t>(b)].push_back(id);
    }
  }
  return std::unique_ptr<Tokenizer>(std::move(t));
}

Status BpeTokenizer::LoadMerges(const gguf::GgufFile& file) {
  const std::vector<std::string_view>* merges = file.GetStringArray(kKeyMerges);
  if (merges == nullptr) {
    return InvalidArgumentError(std::string(kKeyMerges) + ": missing or not a string array");
  }
  merges_.reserve(merges->size());
  std::string joined;
  for (size_t i = 0; i < merges->size(); ++i) {
    const std::string_view merge = (*merges)[i];
    auto error = [&](std::string_view problem) {
      return InvalidArgumentError(std::string(kKeyMerges) + "[" + std::to_string(i) + "] '" +
                                  std::string(merge) + "': " + std::string(problem));
    };
    const size_t space = merge.size() < 2 ? std::string_view::npos : merge.find(' ', 1);
    if (space == std::string_view::npos) return error("not of the form 'left right'");
    const std::string_view left = merge.substr(0, space), right = merge.substr(space + 1);
    joined.assign(left).append(right);
    const TokenId left_id = LookupToken(left), right_id = LookupToken(right);
    const TokenId result = LookupToken(joined);
    if (left_id < 0 || right_id < 0) return error("a part is not in the vocabulary");
    if (result < 0) return error("the merged text is not in the vocabulary");
    if (i > static_cast<size_t>(INT32_MAX)) return error("too many merges");
    // As in llama.cpp, a repeated pair keeps its first rank.
    merges_.emplace(MergeKey(left_id, right_id), Merge{static_cast<int32_t>(i), result});
  }
  return Status::Ok();
}

const BpeTokenizer::Merge* BpeTokenizer::FindMerge(TokenId left, TokenId right) const {
  auto it = merges_.find(MergeKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text, bool add_bos, bool parse_special,
                                          std::span<const TextSpan> literal) const {
  std::vector<TokenId> out;
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  Session session(*this);
  std::string encoded;
  for (const Fragment& fragment : PartitionSpecial(text, parse_special, literal)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      continue;
    }
    const DecodedText decoded = DecodeUtf8Lossy(fragment.text);
    size_t cp = 0;
    for (size_t n_cps : SplitWords(pre_kind_, decoded.cps)) {
      const size_t begin = decoded.offsets[cp], end = decoded.offsets[cp + n_cps];
      cp += n_cps;
      const std::string_view word = fragment.text.substr(begin, end - begin);
      if (ignore_merges_) {
        encoded.clear();
        for (char ch : word) AppendUtf8(ByteToCodepoint(static_cast<uint8_t>(ch)), &encoded);
        if (const TokenId id = LookupToken(encoded); id >= 0) {
          out.push_back(id);
          continue;
        }
      }
      session.EncodeWord(word, out);
    }
  }
  return out;
}

std::string BpeTokenizer::NormalPiece(std::string_view text) const {
  // Map GPT-2 byte characters back to bytes; anything else is kept as it is.
  std::string piece;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t n = Utf8SequenceLength(rest);
    const int byte = n > 0 ? CodepointToByte(Utf8Decode(rest)) : -1;
    const size_t consumed = n > 0 ? n : 1;
    if (byte >= 0) {
      piece += static_cast<char>(byte);
    } else {
      piece += rest.substr(0, consumed);
    }
    rest.remove_prefix(consumed);
  }
  return piece;
}

}  // namespace parapet::engine::internal
