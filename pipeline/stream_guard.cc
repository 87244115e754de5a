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
      whole_text_stages_(chain.has_whole_text_stages()) {
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

void StreamGuard::Collect(const Verdict& v, size_t offset, size_t horizon,
                          std::vector<Finding>& act) {
  for (const StageReport& r : v.stages) stage_errors_ += r.status.ok() ? 0 : 1;
  for (Finding f : v.findings) {
    if (f.message < 0) {
      // Whole-input (a length limit, a stage error): final at once, recorded once.
      if (whole_rules_.insert(f.rule_id).second) act.push_back(std::move(f));
      continue;
    }
    f.span.begin += offset;
    f.span.end += offset;
    const bool fresh = f.span.begin >= decided_ && f.span.begin < horizon;
    // A match longer than the hold-back that completed only now: act on what is left of it.
    const bool long_tail = f.span.begin < decided_ && f.span.end > consumed_ &&
                           (f.action == Action::kRedact || f.action == Action::kBlock);
    if (fresh || long_tail) act.push_back(std::move(f));
  }
  for (Finding f : v.shadow) {
    if (f.message < 0) {
      if (whole_rules_.insert("shadow:" + f.rule_id).second) shadow_.push_back(std::move(f));
      continue;
    }
    f.span.begin += offset;
    f.span.end += offset;
    if (f.span.begin >= decided_ && f.span.begin < horizon) shadow_.push_back(std::move(f));
  }
}

void StreamGuard::ReleaseTo(size_t end, std::string& out) {
  if (end <= consumed_) return;
  out.append(text_, consumed_, end - consumed_);
  consumed_ = end;
}

void StreamGuard::Pass(bool at_end, std::string& out) {
  const size_t n = text_.size();
  const size_t horizon =
      at_end ? n : std::max(decided_, BackChars(text_, n, options_.holdback_chars));
  std::vector<Finding> act;
  {
    // Local stages: from holdback_chars of context before the undecided text to the end.
    const size_t w = BackChars(text_, decided_, options_.holdback_chars);
    Input window;
    window.messages.push_back(Message{"assistant", ScanText(text_.substr(w))});
    const Verdict v =
        chain_.Run(window, whole_text_stages_ ? StageSelection::kLocal : StageSelection::kAll);
    Collect(v, w, horizon, act);
  }
  if (whole_text_stages_) {
    Input all;
    all.messages.push_back(Message{"assistant", ScanText(text_)});
    Collect(chain_.Run(all, StageSelection::kWholeText), 0, horizon, act);
  }
  // Whole-input findings first, then in text order (ties: stage order, as Redact merges).
  std::stable_sort(act.begin(), act.end(), [](const Finding& a, const Finding& b) {
    const bool wa = a.message < 0, wb = b.message < 0;
    if (wa != wb) return wa;
    return a.span.begin < b.span.begin;
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
  ReleaseTo(std::max(consumed_, horizon), out);
  decided_ = std::max(decided_, horizon);
}

}  // namespace parapet::pipeline
