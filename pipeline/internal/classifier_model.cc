// ClassifierModel: libfasttext behind Status-returning calls (fastText reports errors by throwing).
#include "pipeline/internal/classifier_model.h"

#include <fasttext/fasttext.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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
  m->path_ = path;
  m->file_bytes_ = bytes.size();
  return std::shared_ptr<const ClassifierModel>(std::move(m));
}

std::vector<double> ClassifierModel::Scores(std::string_view normalized) const {
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

std::vector<double> ClassifierModel::ScoreText(std::string_view text, size_t window_words) const {
  const std::string normalized = ClassifierText(text);
  std::vector<size_t> starts = {0};  // byte offsets of the words
  for (size_t i = 0; i < normalized.size(); ++i) {
    if (normalized[i] == ' ') starts.push_back(i + 1);
  }
  const size_t n_words = normalized.empty() ? 0 : starts.size();
  if (window_words == 0 || n_words <= window_words) return Scores(normalized);
  std::vector<double> best(labels_.size(), 0.0);
  const size_t stride = std::max<size_t>(1, window_words / 2);
  for (size_t w = 0;; w += stride) {
    const size_t end_word = std::min(n_words, w + window_words);
    const size_t b = starts[w];
    const size_t e = end_word == n_words ? normalized.size() : starts[end_word] - 1;
    const std::vector<double> s = Scores(std::string_view(normalized).substr(b, e - b));
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
  a.minCount = 1;
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
