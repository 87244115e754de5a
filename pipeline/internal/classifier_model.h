// A fastText text classifier (Debian's libfasttext): the classifier stage's model, and the
// trainer behind `parapet classifier train`. Text is normalised the same way for training and
// scoring (ClassifierText): NFKC without invisible characters, case folded (the unicode stage's
// normaliser), punctuation split off words, whitespace runs collapsed — so "ＩＧＮＯＲＥ" and
// "ignore," are the word "ignore" to the model.
//
// Thread-safety: a loaded model is immutable; Scores may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fasttext {
class DenseMatrix;
class Dictionary;
class FastText;
}  // namespace fasttext

namespace parapet::pipeline::internal {

// The classifier's view of a text (see above).
std::string ClassifierText(std::string_view text);

class ClassifierModel {
 public:
  // Loads a fastText .bin or .ftz. Errors name the file and what is wrong: missing, not a
  // fastText model, a version this library cannot read, truncated, not a supervised model.
  static Result<std::shared_ptr<const ClassifierModel>> Load(const std::string& path);
  ~ClassifierModel();

  // Label names without fastText's "__label__" prefix, in the model's order.
  const std::vector<std::string>& labels() const { return labels_; }
  // Every label's probability for an already normalised text, in labels() order.
  std::vector<double> Scores(std::string_view normalized) const;
  // For a raw text: normalised (ClassifierText), split into windows of `window_words` words
  // overlapping by half, each label's highest probability over the windows.
  // With `words`, also the number of words in the normalised text (tokens with a letter or
  // digit; punctuation tokens do not count).
  std::vector<double> ScoreText(std::string_view text, size_t window_words,
                                size_t* words = nullptr) const;
  // fastText's own reader and predictor (predictLine) on one normalised text: the oracle the
  // direct path is tested against, and the path for quantised and non-softmax models.
  std::vector<double> PredictLine(std::string_view normalized) const;
  const std::string& path() const { return path_; }
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  // One token's model inputs: its input-matrix rows (word and character n-grams) and its hash
  // (for word n-grams), as fastText's Dictionary::getLine computes them.
  struct TokenRows {
    uint32_t hash = 0;
    uint32_t begin = 0, end = 0;  // into Features::rows
  };
  struct Features {
    std::vector<int32_t> rows;
    std::vector<TokenRows> tokens;  // the text's words, then the end-of-line token
  };

  ClassifierModel() = default;
  // The direct path (dense softmax models, the ones `classifier train` writes without
  // --quantize): features are computed once per word and each window sums its rows, instead of
  // re-reading every window through fastText's text reader. Same results as predictLine.
  bool direct() const { return input_ != nullptr; }
  int32_t WordId(std::string_view token, uint32_t hash) const;  // -1: not in the vocabulary
  void AppendToken(std::string_view token, Features& f) const;
  Features Featurize(std::string_view normalized) const;  // ends with the end-of-line token
  // Probabilities for tokens [b, e) of `f` plus the end-of-line token.
  std::vector<double> ScoreWindow(const Features& f, size_t b, size_t e) const;

  std::unique_ptr<fasttext::FastText> ft_;
  std::shared_ptr<const fasttext::Dictionary> dict_;
  std::shared_ptr<const fasttext::DenseMatrix> input_, output_;
  int32_t nwords_ = 0;
  int word_ngrams_ = 1;
  uint64_t bucket_ = 0;
  bool subwords_ = false;
  int minn_ = 0, maxn_ = 0;
  std::string label_prefix_;
  std::vector<std::string> words_;  // the vocabulary's words, by id
  std::vector<int32_t> slots_;      // open addressing on the fastText hash: word id or -1
  uint32_t slot_mask_ = 0;
  std::vector<std::string> labels_;
  std::string path_;
  uint64_t file_bytes_ = 0;
};

struct TrainingExample {
  std::string text;  // raw: ClassifierText is applied when training
  std::string label;
};

struct TrainOptions {
  int epoch = 25;
  double lr = 0.5;
  int dim = 50;
  int word_ngrams = 2;
  int minn = 0;  // character n-grams (0: none)
  int maxn = 0;
  int bucket = 200000;  // word n-gram hash buckets (bucket x dim floats before quantisation)
  int min_count = 1;    // words seen fewer times are dropped from the vocabulary
  std::string loss = "softmax";  // softmax | ova | hs | ns
  int seed = 1;                  // with one thread, training is reproducible
  bool quantize = false;         // .ftz: product quantisation (and cutoff, below)
  size_t cutoff = 0;             // quantize: keep this many words/n-grams (0: all)
};

// Trains a supervised model on `examples` (one thread: the same seed gives the same file) and
// writes it to `out` (a quantised model when options.quantize).
Status TrainClassifier(const std::vector<TrainingExample>& examples, const TrainOptions& options,
                       const std::string& out);

}  // namespace parapet::pipeline::internal
