// StreamGuard: windowed re-scans, final findings, bounded release.
#include "pipeline/stream_guard.h"

#include <algorithm>

#include "common/check.h"

namespace parapet::pipeline {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The byte offset `k` characters before `from` (0 when there are fewer).
size_t BackChars(const std::string& s, size_t from, size_t k) {
  size_t pos = from;
  while (k > 0 && pos > 0) {
    --pos;
    while (pos > 0 && IsContinuation(s[pos])) --pos;
    --k;
  }
  return pos;
}

// The length of the UTF-8 sequence a lead byte starts (1 for ASCII and invalid bytes).
size_t SequenceLength(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  if (c < 0xF8) return 4;
  return 1;
}

std::string MaskFor(const std::string& mask, const std::string& type) {
  std::string m = mask;
  for (size_t p = 0; (p = m.find("{type}", p)) != std::string::npos; p += type.size()) {
    m.replace(p, 6, type);
  }
  return m;
}

}  // namespace

StreamGuard::StreamGuard(const StageChain& chain, StreamGuardOptions options)
    : chain_(chain),
      options_(std::move(options)),
      whole_text_stages_(chain.has_whole_text_stages()),
      costly_whole_text_(chain.has_costly_whole_text_stages()) {
  PARAPET_CHECK(options_.holdback_chars >= 1);
}

size_t StreamGuard::held_chars() const {
  size_t n = 0;
  for (size_t i = consumed_; i < text_.size(); ++i) n += IsContinuation(text_[i]) ? 0 : 1;
  return n;
}

std::string StreamGuard::Push(std::string_view bytes) {
  std::string out;
  if (blocked_ || finished_ || bytes.empty()) return out;
  std::string data = std::move(partial_);
  partial_.clear();
  data.append(bytes);
  // Keep an incomplete character at the end for the next piece.
  for (size_t i = data.size(), back = 0; i > 0 && back < 4; ++back) {
    --i;
    if (IsContinuation(data[i])) continue;
    if (data.size() - i < SequenceLength(static_cast<unsigned char>(data[i]))) {
      partial_ = data.substr(i);
      data.resize(i);
    }
    break;
  }
  if (data.empty()) return out;
  text_ += data;
  Pass(/*at_end=*/false, out);
  return out;
}

std::string StreamGuard::Finish() {
  std::string out;
  if (finished_) return out;
  finished_ = true;
  if (blocked_) return out;
  text_ += partial_;  // an unfinished character at the very end goes to the stages as it is
  partial_.clear();
  Pass(/*at_end=*/true, out);
  return out;
}

void StreamGuard::Gather(const Verdict& v, size_t offset, std::vector<Finding>& found,
                         std::vector<Finding>& shadow) {
  for (const StageReport& r : v.stages) stage_errors_ += r.status.ok() ? 0 : 1;
  for (const auto& [from, into] : {std::pair{&v.findings, &found}, std::pair{&v.shadow, &shadow}}) {
    for (Finding f : *from) {
      if (f.message >= 0) {
        f.span.begin += offset;
        f.span.end += offset;
      }
      into->push_back(std::move(f));
    }
  }
}

bool StreamGuard::WholeTextDue(bool at_end) const {
  if (at_end || !costly_whole_text_) return true;
  size_t chars = 0;
  for (size_t i = whole_checked_; i < text_.size(); ++i) {
    const char c = text_[i];
    if (c == '.' || c == '!' || c == '?' || c == '\n') return true;
    if (!IsContinuation(c)) ++chars;
  }
  return 2 * chars >= options_.holdback_chars;
}

void StreamGuard::ReleaseTo(size_t end, std::string& out) {
  if (end <= consumed_) return;
  out.append(text_, consumed_, end - consumed_);
  consumed_ = end;
}

void StreamGuard::Pass(bool at_end, std::string& out) {
  const size_t n = text_.size();
  // The hard bound: text holdback_chars behind the end is decided, whatever the stages say.
  const size_t bound = at_end ? n : BackChars(text_, n, options_.holdback_chars);
  size_t horizon = bound;
  std::vector<Finding> found, shadow;
  {
    // Local stages: from holdback_chars of context before the undecided text to the end.
    const size_t w = BackChars(text_, decided_, options_.holdback_chars);
    Input window;
    window.messages.push_back(Message{"assistant", ScanText(text_.substr(w))});
    window.context = options_.context;
    const Verdict v = chain_.Run(
        window, whole_text_stages_ ? StageSelection::kLocal : StageSelection::kAll, !at_end);
    if (!at_end) {
      // Early release: up to the earliest match any stage says could still be in progress.
      size_t pending = n;
      for (const StageReport& r : v.stages) {
        pending = std::min(pending, r.pending_from.has_value() ? w + *r.pending_from : 0);
      }
      horizon = std::max(bound, pending);
    }
    Gather(v, w, found, shadow);
  }
  if (whole_text_stages_ && WholeTextDue(at_end)) {
    // Stages about the whole response (length, a guard model) run on every piece — or, with a
    // costly one among them (a guard model: a forward pass per check), at sentence ends, when the
    // text they have not seen reaches half the hold-back, and at the end. Nothing they have not
    // seen is released.
    Input all;
    all.messages.push_back(Message{"assistant", ScanText(text_)});
    all.context = options_.context;
    Gather(chain_.Run(all, StageSelection::kWholeText), 0, found, shadow);
    whole_checked_ = n;
  }
  // A finding is final when it starts before the bound, or ends before the horizon (one that
  // reaches past it may still change: a pii candidate still growing can win an overlap with it,
  // an allow pattern can exempt it). Decide up to the first one that is not final yet.
  size_t limit = std::max(decided_, horizon);
  if (whole_text_stages_) limit = std::max(decided_, std::min(limit, whole_checked_));
  for (const auto* list : {&found, &shadow}) {
    for (const Finding& f : *list) {
      if (f.message >= 0 && f.span.end > f.span.begin && f.span.begin >= decided_ &&
          f.span.begin >= bound && f.span.end > horizon) {
        limit = std::min(limit, std::max(decided_, f.span.begin));
      }
    }
  }
  std::vector<Finding> act;
  for (Finding& f : found) {
    if (f.message < 0 || f.span.end == f.span.begin) {
      // About the whole text (a length limit, a stage error, a classifier score): final at
      // once, acted on once per rule and action.
      if (whole_rules_.insert(f.rule_id + ":" + ActionName(f.action)).second) {
        act.push_back(std::move(f));
      }
      continue;
    }
    const bool fresh = f.span.begin >= decided_ && f.span.begin < limit;
    // A match longer than the hold-back that completed only now: act on what is left of it.
    const bool long_tail = f.span.begin < decided_ && f.span.end > consumed_ &&
                           (f.action == Action::kRedact || f.action == Action::kBlock);
    if (fresh || long_tail) act.push_back(std::move(f));
  }
  for (Finding& f : shadow) {
    if (f.message < 0 || f.span.end == f.span.begin
            ? whole_rules_.insert("shadow:" + f.rule_id + ":" + ActionName(f.action)).second
            : f.span.begin >= decided_ && f.span.begin < limit) {
      shadow_.push_back(std::move(f));
    }
  }
  // Whole-input findings first, then in text order; at one position a block first, then stage
  // order (as Redact merges).
  std::stable_sort(act.begin(), act.end(), [](const Finding& a, const Finding& b) {
    const bool wa = a.message < 0 || a.span.end == a.span.begin;
    const bool wb = b.message < 0 || b.span.end == b.span.begin;
    if (wa != wb) return wa;
    if (a.span.begin != b.span.begin) return a.span.begin < b.span.begin;
    return a.action == Action::kBlock && b.action != Action::kBlock;
  });
  for (Finding& f : act) {
    if (f.action == Action::kBlock) {
      blocked_ = true;
      block_index_ = findings_.size();
      findings_.push_back(std::move(f));
      return;  // nothing more goes out
    }
    if (f.action == Action::kRedact && f.message >= 0 && f.span.end > f.span.begin) {
      if (f.span.begin < mask_end_ && mask_end_ == consumed_) {
        consumed_ = mask_end_ = std::max(mask_end_, f.span.end);  // merges into the last mask
      } else {
        ReleaseTo(f.span.begin, out);
        out += MaskFor(options_.mask, f.type);
        consumed_ = mask_end_ = std::max(consumed_, f.span.end);
      }
    }
    findings_.push_back(std::move(f));
  }
  ReleaseTo(std::max(consumed_, limit), out);
  decided_ = limit;
}

}  // namespace parapet::pipeline
