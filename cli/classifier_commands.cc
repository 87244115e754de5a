// `parapet classifier train | eval` and `parapet classify`: the classifier stage's models
// (pipeline/internal/classifier_model.h), trained, measured and tried from the command line.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/labelled_data.h"
#include "common/json_writer.h"
#include "engine/model.h"
#include "gateway/guard_models.h"
#include "pipeline/guard_model.h"
#include "pipeline/internal/classifier_model.h"
#include "pipeline/internal/guard_prompt.h"

namespace parapet::cli {
namespace {

using pipeline::internal::ClassifierModel;
using pipeline::internal::TrainingExample;

struct TrainArgs {
  std::vector<std::string> data;
  std::string out, text_col = "text", label_col = "label";
  pipeline::internal::TrainOptions o;
};

int RunTrain(const TrainArgs& a) {
  std::vector<TrainingExample> examples;
  for (const std::string& f : a.data) {
    std::vector<LabelledText> rows;
    Status s = LoadLabelledTexts(f, a.text_col, a.label_col, /*label_optional=*/false, rows);
    if (!s.ok()) return InputError(s.message());
    for (LabelledText& r : rows) examples.push_back({std::move(r.text), std::move(r.label)});
  }
  if (examples.empty()) return InputError("no examples in --data");
  const auto t0 = std::chrono::steady_clock::now();
  Status s = pipeline::internal::TrainClassifier(examples, a.o, a.out);
  if (!s.ok()) return InputError(s.message());
  Result<std::shared_ptr<const ClassifierModel>> m = ClassifierModel::Load(a.out);
  if (!m.ok()) return InputError(m.status().message());
  std::string labels;
  for (const std::string& l : (*m)->labels()) labels += (labels.empty() ? "" : ", ") + l;
  std::printf("trained %s on %zu examples in %.1f s: labels %s, %llu bytes\n", a.out.c_str(),
              examples.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              labels.c_str(), static_cast<unsigned long long>((*m)->file_bytes()));
  return 0;
}

struct EvalArgs {
  std::string model, data, label, text_col = "text", label_col = "label";
  std::string guard_model, guard_template = "llama-guard-3";
  int threads = 0;
  double threshold = 0.5;
  double flag_threshold = 0.5;
  int window_words = 256;
  bool json = false;
};

// A guard model (gateway/guard_models.h) as a classifier: P(unsafe) of each text as a user turn,
// under the template's default taxonomy.
class GuardScoring {
 public:
  static Result<std::unique_ptr<GuardScoring>> Load(const EvalArgs& a) {
    const std::optional<pipeline::GuardTemplate> t =
        pipeline::GuardTemplateFromName(a.guard_template);
    if (!t) {
      return InvalidArgumentError(
          "--guard-template: llama-guard-3, llama-guard-3-1b or "
          "llama-guard-2, not '" +
          a.guard_template + "'");
    }
    gateway::GuardModelConfig c;
    c.path = a.guard_model;
    c.max_sequences = 1;
    engine::ModelOptions o;
    o.n_threads = a.threads;
    PARAPET_ASSIGN_OR_RETURN(std::shared_ptr<gateway::GuardModel> m,
                             gateway::GuardModel::Load(c, o));
    return std::unique_ptr<GuardScoring>(new GuardScoring(std::move(m), *t));
  }
  Result<double> Score(const std::string& text) const {
    const pipeline::internal::GuardTurn turn{pipeline::internal::GuardRole::kUser, text};
    pipeline::GuardCheck check;
    check.prompt = renderer_.Render(pipeline::internal::GuardRole::kUser, {&turn, 1});
    check.continue_at = 2;  // the score only
    PARAPET_ASSIGN_OR_RETURN(const pipeline::GuardScore s, model_->Score(check));
    return s.p_unsafe;
  }

 private:
  GuardScoring(std::shared_ptr<gateway::GuardModel> m, pipeline::GuardTemplate t)
      : model_(std::move(m)), renderer_(t, {}) {}
  std::shared_ptr<gateway::GuardModel> model_;
  pipeline::internal::GuardPromptRenderer renderer_;
};

int RunEval(const EvalArgs& a) {
  if (a.model.empty() == a.guard_model.empty()) {
    return InputError("classifier eval: give --model (fastText) or --guard-model (GGUF)");
  }
  std::vector<LabelledText> examples;
  Status s = LoadLabelledTexts(a.data, a.text_col, a.label_col, /*label_optional=*/false, examples);
  if (!s.ok()) return InputError(s.message());
  if (examples.empty()) return InputError(a.data + ": no examples");
  std::string positive = a.label;
  std::function<Result<double>(const std::string&)> score_text;
  std::shared_ptr<const ClassifierModel> cm;
  std::unique_ptr<GuardScoring> gm;
  if (!a.model.empty()) {
    Result<std::shared_ptr<const ClassifierModel>> m = ClassifierModel::Load(a.model);
    if (!m.ok()) return InputError(m.status().message());
    cm = *m;
    const std::vector<std::string>& labels = cm->labels();
    if (positive.empty()) {  // the first label that is not "benign"
      for (const std::string& l : labels) {
        if (l != "benign") {
          positive = l;
          break;
        }
      }
    }
    auto it = std::find(labels.begin(), labels.end(), positive);
    if (it == labels.end()) return InputError("--label: the model has no label '" + positive + "'");
    const size_t li = static_cast<size_t>(it - labels.begin());
    score_text = [&cm, li, w = static_cast<size_t>(a.window_words)](
                     const std::string& t) -> Result<double> { return cm->ScoreText(t, w)[li]; };
  } else {
    Result<std::unique_ptr<GuardScoring>> g = GuardScoring::Load(a);
    if (!g.ok()) return InputError(g.status().message());
    gm = std::move(g).value();
    score_text = [&gm](const std::string& t) { return gm->Score(t); };
  }
  // With a guard model and no --label: every label but "benign" / "safe" is unsafe.
  auto is_positive = [any = positive.empty(), positive](const std::string& label) {
    return any ? label != "benign" && label != "safe" : label == positive;
  };
  const std::string model_name = a.model.empty() ? a.guard_model : a.model;
  if (positive.empty()) positive = "unsafe";
  std::vector<std::pair<double, bool>> scored;  // score, is positive
  std::vector<double> micros;
  for (const LabelledText& e : examples) {
    const auto t0 = std::chrono::steady_clock::now();
    Result<double> sc = score_text(e.text);
    if (!sc.ok()) return InputError(sc.status().message());
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    scored.emplace_back(*sc, is_positive(e.label));
  }
  const double n_pos = static_cast<double>(
      std::count_if(scored.begin(), scored.end(), [](const auto& p) { return p.second; }));
  const double n_neg = static_cast<double>(scored.size()) - n_pos;
  // The fields both JSON shapes start with.
  auto begin_json = [&](JsonWriter& w) {
    w.BeginObject();
    w.StringField("model", model_name);
    w.StringField("label", positive);
    w.IntField("examples", static_cast<int64_t>(scored.size()));
    w.IntField("positives", static_cast<int64_t>(n_pos));
    w.DoubleField("threshold", a.threshold);
  };
  if (n_pos == 0 || n_neg == 0) {
    // One class only (say, a slice of benign look-alikes): how many would be acted on.
    double at = 0, at_flag = 0;
    for (const auto& [score, pos] : scored) {
      at += score >= a.threshold ? 1 : 0;
      at_flag += score >= a.flag_threshold ? 1 : 0;
    }
    const double n = static_cast<double>(scored.size());
    if (a.json) {
      JsonWriter w;
      begin_json(w);
      w.DoubleField("rate_at_threshold", at / n);
      w.DoubleField("flag_threshold", a.flag_threshold);
      w.DoubleField("rate_at_flag_threshold", at_flag / n);
      w.EndObject();
      std::printf("%s\n", w.str().c_str());
      return 0;
    }
    std::printf("%s on %s: %zu examples, all %s '%s'\n", model_name.c_str(), a.data.c_str(),
                scored.size(), n_pos > 0 ? "labelled" : "not", positive.c_str());
    std::printf("  scored >= %.3f (threshold): %.2f%%   >= %.3f (flag threshold): %.2f%%\n",
                a.threshold, 100 * at / n, a.flag_threshold, 100 * at_flag / n);
    return 0;
  }
  double tp = 0, fp = 0;
  for (const auto& [score, pos] : scored) {
    if (score >= a.threshold) (pos ? tp : fp) += 1;
  }
  const double precision = tp + fp > 0 ? tp / (tp + fp) : 0, recall = tp / n_pos;
  const double fpr = fp / n_neg;
  const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
  // Ranked by score: ROC-AUC, average precision (AUPRC), FPR at 95% recall, recall at 2% FPR.
  std::sort(scored.begin(), scored.end(),
            [](const auto& x, const auto& y) { return x.first > y.first; });
  double auc = 0, ap = 0, fpr95 = 1, recall2 = 0;
  double seen_pos = 0, seen_neg = 0;
  for (size_t i = 0; i < scored.size();) {
    size_t j = i;  // a run of equal scores counts as one step
    double run_pos = 0, run_neg = 0;
    for (; j < scored.size() && scored[j].first == scored[i].first; ++j) {
      (scored[j].second ? run_pos : run_neg) += 1;
    }
    auc += run_neg * (seen_pos + run_pos / 2);
    seen_pos += run_pos;
    seen_neg += run_neg;
    if (run_pos > 0) ap += run_pos * (seen_pos / (seen_pos + seen_neg));
    if (seen_pos / n_pos >= 0.95 && fpr95 == 1) fpr95 = seen_neg / n_neg;
    if (seen_neg / n_neg <= 0.02) recall2 = seen_pos / n_pos;
    i = j;
  }
  auc /= n_pos * n_neg;
  ap /= n_pos;
  std::sort(micros.begin(), micros.end());
  double mean_us = 0;
  for (double u : micros) mean_us += u;
  mean_us /= static_cast<double>(micros.size());
  const double p99_us = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
  if (a.json) {
    JsonWriter w;
    begin_json(w);
    w.DoubleField("precision", precision);
    w.DoubleField("recall", recall);
    w.DoubleField("f1", f1);
    w.DoubleField("fpr", fpr);
    w.DoubleField("roc_auc", auc);
    w.DoubleField("auprc", ap);
    w.DoubleField("fpr_at_95_recall", fpr95);
    w.DoubleField("recall_at_2pct_fpr", recall2);
    w.DoubleField("mean_us", mean_us);
    w.DoubleField("p99_us", p99_us);
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("%s on %s: %zu examples, %.0f '%s'\n", model_name.c_str(), a.data.c_str(),
              scored.size(), n_pos, positive.c_str());
  std::printf("  at threshold %.3f: precision %.4f  recall %.4f  F1 %.4f  FPR %.4f\n", a.threshold,
              precision, recall, f1, fpr);
  std::printf("  ROC-AUC %.4f  AUPRC %.4f  FPR at 95%% recall %.4f  recall at 2%% FPR %.4f\n", auc,
              ap, fpr95, recall2);
  std::printf("  latency per text: mean %.1f us, p99 %.1f us\n", mean_us, p99_us);
  return 0;
}

struct ClassifyArgs {
  std::string model, text, file;
  int window_words = 256;
  bool json = false;
};

int RunClassify(const ClassifyArgs& a) {
  Result<std::shared_ptr<const ClassifierModel>> m = ClassifierModel::Load(a.model);
  if (!m.ok()) return InputError(m.status().message());
  std::vector<std::string> texts;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return InputError(a.file + ": cannot open");
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(line, ec);
      if (ec || !v.is_object() || !v.as_object().contains("text") ||
          !v.as_object().at("text").is_string()) {
        return InputError(a.file + ":" + std::to_string(line_no) +
                          ": want a JSON object with a string \"text\"");
      }
      texts.emplace_back(v.as_object().at("text").as_string());
    }
  } else {
    texts.push_back(a.text);
  }
  for (const std::string& t : texts) {
    const std::vector<double> sc = (*m)->ScoreText(t, static_cast<size_t>(a.window_words));
    if (a.json) {
      JsonWriter w;
      w.BeginObject();
      w.Key("labels");
      w.BeginObject();
      for (size_t i = 0; i < sc.size(); ++i) w.DoubleField((*m)->labels()[i], sc[i]);
      w.EndObject();
      w.EndObject();
      std::printf("%s\n", w.str().c_str());
    } else {
      std::vector<size_t> order(sc.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return sc[x] > sc[y]; });
      std::string line;
      for (size_t i : order) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%s%s %.4f", line.empty() ? "" : "  ",
                      (*m)->labels()[i].c_str(), sc[i]);
        line += buf;
      }
      std::printf("%s\n", line.c_str());
    }
  }
  return 0;
}

}  // namespace

void AddClassifierCommands(CLI::App& app, Action* run) {
  CLI::App* cls = app.add_subcommand("classifier", "Train and measure classifier-stage models");
  cls->require_subcommand(1);

  auto t = std::make_shared<TrainArgs>();
  CLI::App* train =
      cls->add_subcommand("train", "Train a fastText model (reproducible with --seed)");
  train->add_option("--data", t->data, "JSONL {\"text\",\"label\"} or CSV (repeatable)")
      ->required();
  train->add_option("--out", t->out, "the model to write (.bin, or .ftz with --quantize)")
      ->required();
  train->add_option("--text-column", t->text_col, "text field / CSV column (default text)");
  train->add_option("--label-column", t->label_col, "label field / CSV column (default label)");
  train->add_option("--seed", t->o.seed, "random seed (default 1)");
  train->add_option("--epoch", t->o.epoch, "epochs (default 25)")->check(CLI::Range(1, 1000));
  train->add_option("--lr", t->o.lr, "learning rate (default 0.5)")
      ->check(CLI::Range(0.0001, 10.0));
  train->add_option("--dim", t->o.dim, "vector size (default 50)")->check(CLI::Range(2, 1000));
  train->add_option("--word-ngrams", t->o.word_ngrams, "word n-grams (default 2)")
      ->check(CLI::Range(1, 5));
  train->add_option("--minn", t->o.minn, "shortest character n-gram (default 0: none)")
      ->check(CLI::Range(0, 10));
  train->add_option("--maxn", t->o.maxn, "longest character n-gram")->check(CLI::Range(0, 10));
  train->add_option("--bucket", t->o.bucket, "n-gram hash buckets (default 200000)")
      ->check(CLI::Range(1000, 100000000));
  train->add_option("--min-count", t->o.min_count, "drop words seen fewer times (default 1)")
      ->check(CLI::Range(1, 1000000));
  train->add_option("--loss", t->o.loss, "softmax (default) | ova | hs | ns");
  train->add_flag("--quantize", t->o.quantize, "write a quantised (.ftz) model");
  train->add_option("--cutoff", t->o.cutoff, "with --quantize: keep this many words/n-grams");
  train->callback([t, run] { *run = [t] { return RunTrain(*t); }; });

  auto e = std::make_shared<EvalArgs>();
  CLI::App* eval = cls->add_subcommand("eval", "Precision, recall, ROC-AUC, AUPRC, latency");
  eval->add_option("--model", e->model, "a fastText model");
  eval->add_option("--guard-model", e->guard_model,
                   "or a guard model (GGUF, Llama Guard-style): P(unsafe) of each text");
  eval->add_option("--guard-template", e->guard_template,
                   "its prompt: llama-guard-3 (default) | llama-guard-3-1b | llama-guard-2");
  eval->add_option("--threads", e->threads, "guard model: compute threads (default: all)");
  eval->add_option("--data", e->data, "labelled JSONL or CSV")->required();
  eval->add_option("--label", e->label, "the positive label (default: the first not 'benign')");
  eval->add_option("--threshold", e->threshold, "decision threshold (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  eval->add_option("--flag-threshold", e->flag_threshold,
                   "a second threshold whose rate is reported on one-class data (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  eval->add_option("--window-words", e->window_words, "words per window (default 256)")
      ->check(CLI::Range(8, 1 << 20));
  eval->add_option("--text-column", e->text_col, "text field / CSV column");
  eval->add_option("--label-column", e->label_col, "label field / CSV column");
  eval->add_flag("--json", e->json, "one JSON object");
  eval->callback([e, run] { *run = [e] { return RunEval(*e); }; });

  auto c = std::make_shared<ClassifyArgs>();
  CLI::App* classify = app.add_subcommand("classify", "Score a text (or JSONL texts) with a model");
  classify->add_option("--model", c->model, "the model")->required();
  classify->add_option("--file", c->file, "JSONL with a \"text\" field per line");
  classify->add_option("--window-words", c->window_words, "words per window (default 256)")
      ->check(CLI::Range(8, 1 << 20));
  classify->add_flag("--json", c->json, "{\"labels\":{label: score}} per input, in order");
  classify->add_option("TEXT", c->text, "the text");
  classify->callback([c, run] {
    *run = [c] {
      if (c->file.empty() == c->text.empty()) return InputError("give TEXT or --file");
      return RunClassify(*c);
    };
  });
}

}  // namespace parapet::cli
