// The unicode stage: normalisation with an origin map (internal/unicode_text) and the
// mixed-script check.
#include "pipeline/stages/unicode_stage.h"

#include <string_view>
#include <vector>

#include "pipeline/internal/unicode_text.h"

namespace parapet::pipeline {
namespace {

using internal::DecodeLenient;

enum ScriptBit : uint8_t {
  kLatin = 1,
  kGreek = 2,
  kCyrillic = 4,
  kArmenian = 8,
  kCherokee = 16,
};

// The confusable script of a letter, or 0. Ranges are the Unicode blocks of the five scripts.
uint8_t ConfusableScript(uint32_t cp) {
  if (cp < 0x80) return kLatin;              // callers pass letters only
  if (cp == 0x3BC || cp == 0x3A9) return 0;  // μ, Ω: unit symbols after NFKC
  if (cp == 0xAA || cp == 0xBA || (cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x250 && cp <= 0x2AF) ||
      (cp >= 0x1D00 && cp <= 0x1D7F) || (cp >= 0x1E00 && cp <= 0x1EFF) ||
      (cp >= 0x2C60 && cp <= 0x2C7F) || (cp >= 0xA720 && cp <= 0xA7FF) ||
      (cp >= 0xAB30 && cp <= 0xAB6F) || (cp >= 0xFF21 && cp <= 0xFF5A)) {
    return kLatin;
  }
  if ((cp >= 0x370 && cp <= 0x3FF) || (cp >= 0x1F00 && cp <= 0x1FFF)) return kGreek;
  if ((cp >= 0x400 && cp <= 0x52F) || (cp >= 0x1C80 && cp <= 0x1C8F) ||
      (cp >= 0x2DE0 && cp <= 0x2DFF) || (cp >= 0xA640 && cp <= 0xA69F)) {
    return kCyrillic;
  }
  if ((cp >= 0x531 && cp <= 0x58F) || (cp >= 0xFB13 && cp <= 0xFB17)) return kArmenian;
  if ((cp >= 0x13A0 && cp <= 0x13FF) || (cp >= 0xAB70 && cp <= 0xABBF)) return kCherokee;
  return 0;
}

bool TwoOrMoreBits(uint8_t bits) { return (bits & (bits - 1)) != 0; }

class UnicodeStage final : public Stage {
 public:
  explicit UnicodeStage(const UnicodeStageConfig& config)
      : config_(config), rule_id_(config.id + ".mixed_script") {
    options_.nfkc = config.normalize == UnicodeNormalization::kNfkc;
    options_.casefold = config.casefold;
    options_.strip_invisible = config.strip_invisible;
    options_.strip_variation_selectors = config.strip_variation_selectors;
    options_.strip_marks = config.strip_marks;
  }

  const std::string& id() const override { return config_.id; }
  std::string_view type() const override { return "unicode"; }
  Mode mode() const override { return config_.mode; }

  // The trailing word (it may still grow: mixed-script words) and the last character (a
  // combining mark still to come composes with it).
  std::optional<size_t> PendingFrom(const Input& input) const override {
    if (input.messages.empty()) return std::nullopt;
    const ScanText& st = input.messages[0].text;
    const std::string& t = st.text();
    size_t p = t.size();
    while (p > 0) {
      const size_t prev = internal::PreviousCharStart(t, p);
      if (!internal::IsWordChar(DecodeLenient(t, prev).cp)) break;
      p = prev;
    }
    if (p == t.size() && p > 0) p = internal::PreviousCharStart(t, p);
    return st.ToOriginal(Span{p, p}).begin;
  }

  Status Inspect(Input& input, StageResult& out) const override {
    std::string normalized;
    std::vector<uint32_t> origin;
    for (size_t i = 0; i < input.messages.size(); ++i) {
      ScanText& text = input.messages[i].text;
      // ASCII is its own NFKC, holds no invisible characters and only Latin letters: nothing
      // to do unless case folding has capitals to fold.
      if (IsPlainAscii(text.text())) continue;
      internal::NormalizeWithOrigin(text.text(), options_, normalized, origin);
      if (normalized != text.text()) text.Rewrite(std::move(normalized), std::move(origin));
      if (config_.mixed_script_action != Action::kAllow) {
        FindMixedScript(text, static_cast<int32_t>(i), out);
      }
    }
    return Status::Ok();
  }

 private:
  bool IsPlainAscii(std::string_view s) const {
    unsigned char any = 0;
    bool upper = false;
    for (char c : s) {
      any |= static_cast<unsigned char>(c);
      upper |= c >= 'A' && c <= 'Z';
    }
    return any < 0x80 && !(options_.casefold && upper);
  }

  // Reports every word of text.text() whose letters span two or more confusable scripts.
  void FindMixedScript(const ScanText& text, int32_t message, StageResult& out) const {
    std::string_view s = text.text();
    size_t word_begin = 0;
    uint8_t scripts = 0;
    bool in_word = false;
    for (size_t pos = 0; pos <= s.size();) {
      internal::DecodedChar d{0, 1};
      bool word_char = false;
      if (pos < s.size()) {
        auto b = static_cast<unsigned char>(s[pos]);
        d = b < 0x80 ? internal::DecodedChar{b, 1} : DecodeLenient(s, pos);
        word_char = internal::IsWordChar(d.cp);
      }
      if (word_char) {
        if (!in_word) {
          in_word = true;
          word_begin = pos;
          scripts = 0;
        }
        if (internal::IsLetter(d.cp)) scripts |= ConfusableScript(d.cp);
      } else if (in_word) {
        in_word = false;
        if (TwoOrMoreBits(scripts)) {
          out.findings.push_back(Finding{.rule_id = rule_id_,
                                         .type = "MIXED_SCRIPT",
                                         .message = message,
                                         .span = text.ToOriginal(Span{word_begin, pos}),
                                         .score = 1.0,
                                         .action = config_.mixed_script_action});
        }
      }
      pos += d.len;
    }
  }

  const UnicodeStageConfig config_;
  const std::string rule_id_;
  internal::NormalizeOptions options_;
};

}  // namespace

Result<std::unique_ptr<Stage>> NewUnicodeStage(const UnicodeStageConfig& config) {
  if (config.id.empty()) return InvalidArgumentError("unicode.id: empty stage id");
  if (config.mixed_script_action == Action::kRedact) {
    return InvalidArgumentError(config.id +
                                ".mixed_script_action: redact is not supported (allow | flag | "
                                "block)");
  }
  if (config.strip_marks && config.normalize != UnicodeNormalization::kNfkc) {
    return InvalidArgumentError(config.id + ".strip_marks: needs normalize: nfkc");
  }
  return std::unique_ptr<Stage>(new UnicodeStage(config));
}

}  // namespace parapet::pipeline
