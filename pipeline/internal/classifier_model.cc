// ClassifierModel: libfasttext behind Status-returning calls (fastText reports errors by throwing).
#include "pipeline/internal/classifier_model.h"

#include <fasttext/fasttext.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pipeline/internal/unicode_text.h"

namespace parapet::pipeline::internal {
namespace {

constexpr int32_t kFastTextMagic = 793712314;  // FASTTEXT_FILEFORMAT_MAGIC_INT32
constexpr int32_t kFastTextVersion = 12;
const std::string kLabelPrefix = "__label__";

// fastText's string hash (Dictionary::hash): FNV-1a over the bytes, each sign-extended first.
constexpr uint32_t kFnvBasis = 2166136261u;
inline uint32_t FnvStep(uint32_t h, char c) {
  return (h ^ static_cast<uint32_t>(static_cast<int8_t>(c))) * 16777619u;
}
uint32_t FastTextHash(std::string_view s) {
  uint32_t h = kFnvBasis;
  for (char c : s) h = FnvStep(h, c);
  return h;
}

bool IsWordByte(unsigned char c) { return c >= 0x80 || std::isalnum(c) != 0; }

// Reads fixed-size values from the model bytes, refusing to go past the end.
class Cursor {
 public:
  explicit Cursor(std::string_view b) : b_(b) {}
  template <typename T>
  bool Read(T& v) {
    if (b_.size() - at_ < sizeof(T)) return false;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  bool Skip(uint64_t n) {
    if (b_.size() - at_ < n) return false;
    at_ += static_cast<size_t>(n);
    return true;
  }
  bool SkipCString() {  // a NUL-terminated word
    const size_t nul = b_.find('\0', at_);
    if (nul == std::string_view::npos) return false;
    at_ = nul + 1;
    return true;
  }
  uint64_t left() const { return b_.size() - at_; }

 private:
  std::string_view b_;
  size_t at_ = 0;
};

// fastText's own loader trusts sizes in the file (a damaged dictionary makes it loop until
// memory runs out), so the layout is walked here first: header, arguments, dictionary, and the
// input matrix's size against the bytes left. "" when it holds.
std::string CheckLayout(std::string_view bytes) {
  Cursor c(bytes);
  int32_t magic = 0, version = 0;
  if (!c.Read(magic) || !c.Read(version)) return "too short";
  int32_t args[12];
  for (int32_t& a : args) {
    if (!c.Read(a)) return "truncated arguments";
  }
  double t = 0;
  if (!c.Read(t)) return "truncated arguments";
  const int32_t dim = args[0];
  if (dim < 1 || dim > 100000) return "implausible vector size " + std::to_string(dim);
  int32_t size = 0, nwords = 0, nlabels = 0;
  int64_t ntokens = 0, pruneidx = 0;
  if (!c.Read(size) || !c.Read(nwords) || !c.Read(nlabels) || !c.Read(ntokens) ||
      !c.Read(pruneidx)) {
    return "truncated dictionary";
  }
  if (size < 0 || nwords < 0 || nlabels < 0 || static_cast<int64_t>(nwords) + nlabels != size) {
    return "inconsistent dictionary sizes";
  }
  for (int32_t i = 0; i < size; ++i) {
    int64_t count = 0;
    int8_t type = 0;
    if (!c.SkipCString() || !c.Read(count) || !c.Read(type)) return "truncated dictionary";
  }
  if (pruneidx > 0 && !c.Skip(static_cast<uint64_t>(pruneidx) * 8)) return "truncated dictionary";
  bool quant = false;
  if (!c.Read(quant)) return "truncated before the matrices";
  if (quant) {
    bool qnorm = false;
    int64_t m = 0, n = 0;
    int32_t codesize = 0;
    if (!c.Read(qnorm) || !c.Read(m) || !c.Read(n) || !c.Read(codesize) || m < 0 || n < 0 ||
        codesize < 0 || static_cast<uint64_t>(codesize) > c.left()) {
      return "truncated or damaged quantised matrix";
    }
  } else {
    int64_t m = 0, n = 0;
    if (!c.Read(m) || !c.Read(n) || m < 0 || n < 0 || n != dim ||
        (m > 0 && static_cast<uint64_t>(n) > c.left() / 4 / static_cast<uint64_t>(m))) {
      return "truncated or damaged input matrix";
    }
  }
  return "";
}

}  // namespace

std::string ClassifierText(std::string_view text) {
  NormalizeOptions o;
  o.nfkc = true;
  o.casefold = true;
  o.strip_invisible = true;
  std::string normalized;
  std::vector<uint32_t> origin;
  NormalizeWithOrigin(text, o, normalized, origin);
  // Punctuation apart from words, whitespace runs to one space.
  std::string out;
  out.reserve(normalized.size() + 16);
  bool space = true;  // at the start: no leading space
  for (unsigned char c : normalized) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
      if (!space) out += ' ';
      space = true;
    } else if (IsWordByte(c)) {
      out += static_cast<char>(c);
      space = false;
    } else {
      if (!space) out += ' ';
      out += static_cast<char>(c);
      out += ' ';
      space = true;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

ClassifierModel::~ClassifierModel() = default;

Result<std::shared_ptr<const ClassifierModel>> ClassifierModel::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open the classifier model");
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string bytes = buf.str();
  if (bytes.size() < 8) return InvalidArgumentError(path + ": not a fastText model (too short)");
  int32_t magic = 0, version = 0;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 4);
  if (magic != kFastTextMagic) {
    return InvalidArgumentError(path + ": not a fastText model (.bin or .ftz)");
  }
  if (version > kFastTextVersion) {
    return InvalidArgumentError(path + ": fastText format version " + std::to_string(version) +
                                " is newer than this library reads (" +
                                std::to_string(kFastTextVersion) + ")");
  }
  if (const std::string why = CheckLayout(bytes); !why.empty()) {
    return InvalidArgumentError(path + ": truncated or damaged fastText model (" + why + ")");
  }
  std::shared_ptr<ClassifierModel> m(new ClassifierModel());
  m->ft_ = std::make_unique<fasttext::FastText>();
  std::istringstream stream(bytes);
  stream.seekg(8);  // loadModel(istream&) reads what follows the magic number and version
  try {
    m->ft_->loadModel(stream);
  } catch (const std::exception& e) {
    return InvalidArgumentError(path + ": not a usable fastText model (" + e.what() + ")");
  }
  // A short file leaves the stream failed; bytes after the model mean it is not one either.
  if (stream.fail() || stream.peek() != std::char_traits<char>::eof()) {
    return InvalidArgumentError(path + ": truncated or damaged fastText model");
  }
  if (m->ft_->getArgs().model != fasttext::model_name::sup) {
    return InvalidArgumentError(path + ": a word-vector model, not a classifier");
  }
  std::shared_ptr<const fasttext::Dictionary> dict = m->ft_->getDictionary();
  for (int32_t i = 0; i < dict->nlabels(); ++i) {
    std::string l = dict->getLabel(i);
    if (l.starts_with(kLabelPrefix)) l.erase(0, kLabelPrefix.size());
    m->labels_.push_back(std::move(l));
  }
  if (m->labels_.empty()) return InvalidArgumentError(path + ": a classifier without labels");
  const fasttext::Args args = m->ft_->getArgs();
  if (!m->ft_->isQuant() && args.loss == fasttext::loss_name::softmax) {
    m->dict_ = dict;
    m->input_ = m->ft_->getInputMatrix();
    m->output_ = m->ft_->getOutputMatrix();
    m->nwords_ = dict->nwords();
    m->word_ngrams_ = args.wordNgrams;
    m->bucket_ = static_cast<uint64_t>(std::max(args.bucket, 0));
    m->subwords_ = args.maxn > 0;
    m->minn_ = args.minn;
    m->maxn_ = args.maxn;
    m->label_prefix_ = args.label;
    // The words in a table of our own: fastText's is 30M slots, one cache miss per lookup.
    size_t slots = 2;
    while (slots < 2 * static_cast<size_t>(m->nwords_)) slots *= 2;
    m->slots_.assign(slots, -1);
    m->slot_mask_ = static_cast<uint32_t>(slots - 1);
    m->words_.reserve(static_cast<size_t>(m->nwords_));
    for (int32_t i = 0; i < m->nwords_; ++i) {
      m->words_.push_back(dict->getWord(i));
      uint32_t k = FastTextHash(m->words_.back()) & m->slot_mask_;
      while (m->slots_[k] >= 0) k = (k + 1) & m->slot_mask_;
      m->slots_[k] = i;
    }
    if (m->output_->rows() != static_cast<int64_t>(m->labels_.size()) ||
        m->output_->cols() != m->input_->cols()) {
      return InvalidArgumentError(path + ": the output matrix does not match the labels");
    }
  }
  m->path_ = path;
  m->file_bytes_ = bytes.size();
  return std::shared_ptr<const ClassifierModel>(std::move(m));
}

std::vector<double> ClassifierModel::PredictLine(std::string_view normalized) const {
  std::vector<double> scores(labels_.size(), 0.0);
  std::istringstream line{std::string(normalized) + "\n"};
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  ft_->predictLine(line, predictions, -1, 0.0);
  for (const auto& [p, label] : predictions) {
    const std::string_view name =
        std::string_view(label).substr(label.starts_with(kLabelPrefix) ? kLabelPrefix.size() : 0);
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (labels_[i] == name) scores[i] = static_cast<double>(p);
    }
  }
  return scores;
}

// fastText's Dictionary::getLine for one token: in-vocabulary words contribute their id (and,
// with character n-grams, their precomputed n-gram rows); unknown words their character n-grams
// only; every word its hash for the word n-grams. Label tokens are not input.
int32_t ClassifierModel::WordId(std::string_view token, uint32_t h) const {
  for (uint32_t i = h & slot_mask_;; i = (i + 1) & slot_mask_) {
    const int32_t id = slots_[i];
    if (id < 0 || words_[static_cast<size_t>(id)] == token) return id;
  }
}

void ClassifierModel::AppendToken(std::string_view token, Features& f) const {
  const uint32_t h = FastTextHash(token);
  const int32_t id = WordId(token, h);
  if (id < 0 && token.starts_with(label_prefix_)) return;  // a label, not input
  TokenRows t;
  t.hash = h;
  t.begin = static_cast<uint32_t>(f.rows.size());
  if (id >= 0) {
    if (!subwords_) {
      f.rows.push_back(id);
    } else {
      const std::vector<int32_t>& sub = dict_->getSubwords(id);
      f.rows.insert(f.rows.end(), sub.begin(), sub.end());
    }
  } else if (subwords_ && token != fasttext::Dictionary::EOS) {
    // Dictionary::computeSubwords on "<token>", without building each n-gram's string: the
    // character n-grams of minn..maxn UTF-8 characters, hashed into the buckets.
    thread_local std::string word;
    word.assign(fasttext::Dictionary::BOW).append(token).append(fasttext::Dictionary::EOW);
    for (size_t i = 0; i < word.size(); ++i) {
      if ((word[i] & 0xC0) == 0x80) continue;
      uint32_t g = kFnvBasis;
      for (size_t j = i, n = 1; j < word.size() && n <= static_cast<size_t>(maxn_); ++n) {
        g = FnvStep(g, word[j++]);
        while (j < word.size() && (word[j] & 0xC0) == 0x80) g = FnvStep(g, word[j++]);
        if (n >= static_cast<size_t>(minn_) && !(n == 1 && (i == 0 || j == word.size()))) {
          f.rows.push_back(nwords_ + static_cast<int32_t>(g % static_cast<uint32_t>(bucket_)));
        }
      }
    }
  }
  t.end = static_cast<uint32_t>(f.rows.size());
  f.tokens.push_back(t);
}

ClassifierModel::Features ClassifierModel::Featurize(std::string_view normalized) const {
  Features f;
  f.rows.reserve(normalized.size());
  f.tokens.reserve(normalized.size() / 4 + 2);
  // fastText splits on these; ClassifierText leaves single spaces only.
  auto is_space = [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
  };
  for (size_t i = 0; i < normalized.size();) {
    if (is_space(normalized[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < normalized.size() && !is_space(normalized[j])) ++j;
    AppendToken(normalized.substr(i, j - i), f);
    i = j;
  }
  AppendToken(fasttext::Dictionary::EOS, f);
  return f;
}

std::vector<double> ClassifierModel::ScoreWindow(const Features& f, size_t b, size_t e) const {
  // The rows in fastText's order: each token's rows, the end-of-line token's, then the word
  // n-grams (hashes of runs of up to word_ngrams tokens, end-of-line included).
  thread_local std::vector<int32_t> rows;
  thread_local std::vector<int32_t> hashes;  // fastText keeps them signed, then sign-extends
  rows.clear();
  hashes.clear();
  auto add = [&](const TokenRows& t) {
    rows.insert(rows.end(), f.rows.begin() + t.begin, f.rows.begin() + t.end);
    hashes.push_back(static_cast<int32_t>(t.hash));
  };
  for (size_t t = b; t < e; ++t) add(f.tokens[t]);
  add(f.tokens.back());  // the end of line, always the last token
  for (size_t i = 0; i < hashes.size(); ++i) {
    uint64_t h = static_cast<uint64_t>(static_cast<int64_t>(hashes[i]));
    for (size_t j = i + 1; j < hashes.size() && j < i + static_cast<size_t>(word_ngrams_); ++j) {
      h = h * 116049371 + static_cast<uint64_t>(static_cast<int64_t>(hashes[j]));
      const int32_t id = static_cast<int32_t>(h % bucket_);
      if (id >= 0) rows.push_back(nwords_ + id);
    }
  }
  std::vector<double> scores(labels_.size(), 0.0);
  if (rows.empty()) return scores;
  const int64_t dim = input_->cols();
  thread_local std::vector<fasttext::real> hidden;
  hidden.assign(static_cast<size_t>(dim), 0.0f);
  // Rows are scattered over a matrix of several MB: fetch a few ahead. The sum keeps fastText's
  // order (row by row), so the result is the same.
  constexpr size_t kAhead = 8;
  const fasttext::real* base = input_->data();
  fasttext::real* __restrict h = hidden.data();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i + kAhead < rows.size()) {
      __builtin_prefetch(base + static_cast<int64_t>(rows[i + kAhead]) * dim);
    }
    const fasttext::real* __restrict row = base + static_cast<int64_t>(rows[i]) * dim;
    for (int64_t k = 0; k < dim; ++k) h[k] += row[k];
  }
  const fasttext::real scale = static_cast<fasttext::real>(1.0 / static_cast<double>(rows.size()));
  for (fasttext::real& x : hidden) x *= scale;
  // Softmax over the labels, then fastText's reporting: exp(log(p + 1e-5)), capped at 1.
  std::vector<fasttext::real> out(labels_.size());
  fasttext::real max = 0;
  for (size_t l = 0; l < out.size(); ++l) {
    const fasttext::real* row = output_->data() + static_cast<int64_t>(l) * dim;
    fasttext::real d = 0;
    for (int64_t k = 0; k < dim; ++k) d += row[k] * hidden[static_cast<size_t>(k)];
    out[l] = d;
    max = l == 0 ? d : std::max(max, d);
  }
  fasttext::real z = 0;
  for (fasttext::real& x : out) {
    x = std::exp(x - max);
    z += x;
  }
  for (size_t l = 0; l < out.size(); ++l) {
    const fasttext::real p = out[l] / z;
    const fasttext::real logp = static_cast<fasttext::real>(std::log(p + 1e-5));
    scores[l] = std::min(1.0, static_cast<double>(std::exp(logp)));
  }
  return scores;
}

std::vector<double> ClassifierModel::Scores(std::string_view normalized) const {
  if (!direct()) return PredictLine(normalized);
  const Features f = Featurize(normalized);
  return ScoreWindow(f, 0, f.tokens.size() - 1);
}

std::vector<double> ClassifierModel::ScoreText(std::string_view text, size_t window_words,
                                               size_t* words) const {
  const std::string normalized = ClassifierText(text);
  if (words != nullptr) {
    *words = 0;
    bool counted = false;  // this token has been counted
    for (const char c : normalized) {
      if (c == ' ') {
        counted = false;
      } else if (!counted && IsWordByte(static_cast<unsigned char>(c))) {
        ++*words;
        counted = true;
      }
    }
  }
  if (direct()) {
    const Features f = Featurize(normalized);
    const size_t n_words = f.tokens.size() - 1;  // the last token is the end of line
    if (window_words == 0 || n_words <= window_words) return ScoreWindow(f, 0, n_words);
    std::vector<double> best(labels_.size(), 0.0);
    const size_t stride = std::max<size_t>(1, window_words / 2);
    for (size_t w = 0;; w += stride) {
      const size_t end = std::min(n_words, w + window_words);
      const std::vector<double> s = ScoreWindow(f, w, end);
      for (size_t i = 0; i < best.size(); ++i) best[i] = std::max(best[i], s[i]);
      if (end == n_words) break;
    }
    return best;
  }
  std::vector<size_t> starts = {0};  // byte offsets of the words
  for (size_t i = 0; i < normalized.size(); ++i) {
    if (normalized[i] == ' ') starts.push_back(i + 1);
  }
  const size_t n_words = normalized.empty() ? 0 : starts.size();
  if (window_words == 0 || n_words <= window_words) return PredictLine(normalized);
  std::vector<double> best(labels_.size(), 0.0);
  const size_t stride = std::max<size_t>(1, window_words / 2);
  for (size_t w = 0;; w += stride) {
    const size_t end_word = std::min(n_words, w + window_words);
    const size_t b = starts[w];
    const size_t e = end_word == n_words ? normalized.size() : starts[end_word] - 1;
    const std::vector<double> s = PredictLine(std::string_view(normalized).substr(b, e - b));
    for (size_t i = 0; i < best.size(); ++i) best[i] = std::max(best[i], s[i]);
    if (end_word == n_words) break;
  }
  return best;
}

Status TrainClassifier(const std::vector<TrainingExample>& examples, const TrainOptions& o,
                       const std::string& out) {
  if (examples.empty()) return InvalidArgumentError("no training examples");
  char tmpl[] = "/tmp/parapet-train-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return InternalError("cannot create a temporary training file");
  close(fd);
  const std::string input = tmpl;
  {
    std::ofstream f(input, std::ios::binary | std::ios::trunc);
    for (const TrainingExample& e : examples) {
      std::string label = e.label;
      for (char& c : label) {
        if (c == ' ' || c == '\t' || c == '\n') c = '_';
      }
      f << kLabelPrefix << label << ' ' << ClassifierText(e.text) << '\n';
    }
    if (!f) {
      std::remove(input.c_str());
      return InternalError("cannot write the training file " + input);
    }
  }
  fasttext::Args a;
  a.input = input;
  a.model = fasttext::model_name::sup;
  a.epoch = o.epoch;
  a.lr = o.lr;
  a.dim = o.dim;
  a.wordNgrams = o.word_ngrams;
  a.minn = o.minn;
  a.maxn = o.maxn;
  a.bucket = o.bucket;
  a.minCount = o.min_count;
  a.thread = 1;  // reproducible: one thread, one seed
  a.seed = o.seed;
  a.verbose = 0;
  if (o.loss == "softmax") {
    a.loss = fasttext::loss_name::softmax;
  } else if (o.loss == "ova") {
    a.loss = fasttext::loss_name::ova;
  } else if (o.loss == "hs") {
    a.loss = fasttext::loss_name::hs;
  } else if (o.loss == "ns") {
    a.loss = fasttext::loss_name::ns;
  } else {
    std::remove(input.c_str());
    return InvalidArgumentError("--loss: softmax, ova, hs or ns");
  }
  Status result;
  try {
    fasttext::FastText ft;
    ft.train(a);
    if (o.quantize) {
      fasttext::Args q = a;
      q.input = input;
      q.qnorm = true;
      q.cutoff = o.cutoff;
      q.retrain = o.cutoff > 0;
      ft.quantize(q);
    }
    ft.saveModel(out);
  } catch (const std::exception& e) {
    result = InvalidArgumentError(std::string("training failed: ") + e.what());
  }
  std::remove(input.c_str());
  if (result.ok()) {
    std::ifstream check(out, std::ios::binary);
    if (!check) result = InvalidArgumentError(out + ": could not be written");
  }
  return result;
}

}  // namespace parapet::pipeline::internal
