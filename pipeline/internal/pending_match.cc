// Pending matches: an RE2-syntax parser just deep enough to rewrite a pattern into the pattern of
// its prefixes.
#include "pipeline/internal/pending_match.h"

#include <re2/re2.h>

#include <algorithm>

namespace parapet::pipeline::internal {
namespace {

struct Node {
  enum Kind { kEmpty, kAtom, kAssert, kConcat, kAlt, kRepeat, kGroup };
  Kind kind = kEmpty;
  std::string text;  // kAtom / kAssert: the source; kGroup: its flags ("" = none)
  std::vector<Node> kids;
  int min = 0, max = -1;  // kRepeat; max -1 = unbounded
};

Node Make(Node::Kind kind, std::string text = {}, std::vector<Node> kids = {}) {
  Node n;
  n.kind = kind;
  n.text = std::move(text);
  n.kids = std::move(kids);
  return n;
}

size_t Utf8Length(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

bool IsFlagChar(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'; }

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<Node> Parse() {
    Node n;
    PARAPET_RETURN_IF_ERROR(GroupBody(n));
    if (i_ != p_.size()) return InvalidArgumentError("unbalanced ')'");
    return n;
  }

 private:
  bool At(std::string_view s) const { return p_.substr(i_).starts_with(s); }

  // A group's contents: an optional leading flag group "(?i)" (it applies to the whole rest of
  // the group, every alternative included), then alternatives.
  Status GroupBody(Node& out) {
    std::string flags;
    if (At("(?")) {
      size_t j = i_ + 2;
      while (j < p_.size() && IsFlagChar(p_[j])) ++j;
      if (j > i_ + 2 && j < p_.size() && p_[j] == ')') {
        flags = std::string(p_.substr(i_ + 2, j - i_ - 2));
        i_ = j + 1;
      }
    }
    Node alt;
    PARAPET_RETURN_IF_ERROR(Alternation(alt));
    out = flags.empty() ? std::move(alt) : Make(Node::kGroup, flags, {std::move(alt)});
    return Status::Ok();
  }

  Status Alternation(Node& out) {
    std::vector<Node> alts;
    for (;;) {
      Node c;
      PARAPET_RETURN_IF_ERROR(Concatenation(c));
      alts.push_back(std::move(c));
      if (i_ < p_.size() && p_[i_] == '|') {
        ++i_;
        continue;
      }
      break;
    }
    out = alts.size() == 1 ? std::move(alts[0]) : Make(Node::kAlt, "", std::move(alts));
    return Status::Ok();
  }

  Status Concatenation(Node& out) {
    std::vector<Node> items;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      Node a;
      PARAPET_RETURN_IF_ERROR(Repetition(a));
      items.push_back(std::move(a));
    }
    out = Make(Node::kConcat, "", std::move(items));
    return Status::Ok();
  }

  // {n}, {n,}, {n,m} at i_: true and the bounds, or false (then '{' is a literal).
  bool Counts(int& min, int& max) {
    size_t j = i_ + 1;
    auto number = [&](int& v) {
      size_t start = j;
      v = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9' && j - start < 5) {
        v = v * 10 + (p_[j] - '0');
        ++j;
      }
      return j > start;
    };
    if (!number(min)) return false;
    if (j < p_.size() && p_[j] == '}') {
      max = min;
    } else if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (j < p_.size() && p_[j] == '}') {
        max = -1;
      } else if (!number(max) || j >= p_.size() || p_[j] != '}') {
        return false;
      }
    } else {
      return false;
    }
    i_ = j + 1;
    return true;
  }

  Status Repetition(Node& out) {
    Node a;
    PARAPET_RETURN_IF_ERROR(Atom(a));
    while (i_ < p_.size()) {
      int min = 0, max = -1;
      const char c = p_[i_];
      if (c == '*') {
        ++i_;
      } else if (c == '+') {
        min = 1;
        ++i_;
      } else if (c == '?') {
        max = 1;
        ++i_;
      } else if (c != '{' || !Counts(min, max)) {
        break;
      }
      if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy: the same strings
      Node r = Make(Node::kRepeat, "", {std::move(a)});
      r.min = min;
      r.max = max;
      a = std::move(r);
    }
    out = std::move(a);
    return Status::Ok();
  }

  // "\x{..}" / "\p{..}" and friends: i_ at the letter; consumes to the closing brace.
  void BracedOrOne(size_t& j) const {
    if (j + 1 < p_.size() && p_[j + 1] == '{') {
      size_t close = p_.find('}', j + 1);
      j = close == std::string_view::npos ? p_.size() : close + 1;
    } else {
      j += 2;
    }
  }

  Status Atom(Node& out) {
    const size_t start = i_;
    const char c = p_[i_];
    if (c == '(') {
      std::string flags;
      if (At("(?:")) {
        i_ += 3;
      } else if (At("(?P<") || At("(?<")) {
        size_t close = p_.find('>', i_);
        if (close == std::string_view::npos) return InvalidArgumentError("bad group name");
        i_ = close + 1;
      } else if (At("(?")) {
        size_t j = i_ + 2;
        while (j < p_.size() && IsFlagChar(p_[j])) ++j;
        if (j >= p_.size() || p_[j] != ':') {
          return InvalidArgumentError("unsupported: a flag group inside a group");
        }
        flags = std::string(p_.substr(i_ + 2, j - i_ - 2));
        i_ = j + 1;
      } else {
        ++i_;
      }
      Node inner;
      PARAPET_RETURN_IF_ERROR(GroupBody(inner));
      if (i_ >= p_.size() || p_[i_] != ')') return InvalidArgumentError("missing ')'");
      ++i_;
      out = Make(Node::kGroup, flags, {std::move(inner)});
      return Status::Ok();
    }
    if (c == '[') {
      size_t j = i_ + 1;
      if (j < p_.size() && p_[j] == '^') ++j;
      if (j < p_.size() && p_[j] == ']') ++j;
      while (j < p_.size() && p_[j] != ']') {
        if (p_[j] == '\\' && j + 1 < p_.size()) {
          const char e = p_[j + 1];
          if (e == 'x' || e == 'p' || e == 'P') {
            ++j;
            BracedOrOne(j);
            if (e == 'x' && p_[j - 1] != '}') j = std::min(p_.size(), j + 1);  // \xHH
          } else {
            j += 1 + Utf8Length(static_cast<unsigned char>(e));
          }
        } else if (p_.substr(j).starts_with("[:")) {
          size_t close = p_.find(":]", j + 2);
          j = close == std::string_view::npos ? p_.size() : close + 2;
        } else {
          j += Utf8Length(static_cast<unsigned char>(p_[j]));
        }
      }
      if (j >= p_.size()) return InvalidArgumentError("missing ']'");
      i_ = j + 1;
      out = Make(Node::kAtom, std::string(p_.substr(start, i_ - start)));
      return Status::Ok();
    }
    if (c == '\\') {
      if (i_ + 1 >= p_.size()) return InvalidArgumentError("trailing '\\'");
      const char e = p_[i_ + 1];
      size_t j = i_ + 1;
      Node::Kind kind = Node::kAtom;
      if (e == 'Q' || e == 'E') return InvalidArgumentError("unsupported: \\Q...\\E");
      if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
        kind = Node::kAssert;
        j += 1;
      } else if (e == 'p' || e == 'P') {
        BracedOrOne(j);
      } else if (e == 'x') {
        if (j + 1 < p_.size() && p_[j + 1] == '{') {
          BracedOrOne(j);
        } else {
          j = std::min(p_.size(), j + 3);
        }
      } else if (e >= '0' && e <= '7') {
        ++j;
        while (j < p_.size() && j < i_ + 4 && p_[j] >= '0' && p_[j] <= '7') ++j;
      } else {
        j += Utf8Length(static_cast<unsigned char>(e));
      }
      i_ = std::min(j, p_.size());
      out = Make(kind, std::string(p_.substr(start, i_ - start)));
      return Status::Ok();
    }
    if (c == '^' || c == '$') {
      ++i_;
      out = Make(Node::kAssert, std::string(1, c));
      return Status::Ok();
    }
    if (c == '*' || c == '+' || c == '?')
      return InvalidArgumentError("missing repetition argument");
    if (c == '{') {
      ++i_;
      out = Make(Node::kAtom, "\\{");
      return Status::Ok();
    }
    i_ = std::min(p_.size(), i_ + Utf8Length(static_cast<unsigned char>(c)));
    out = Make(Node::kAtom, std::string(p_.substr(start, i_ - start)));
    return Status::Ok();
  }

  std::string_view p_;
  size_t i_ = 0;
};

std::string Quantifier(int min, int max) {
  if (max < 0) return min == 0 ? "*" : "{" + std::to_string(min) + ",}";
  return "{" + std::to_string(min) + "," + std::to_string(max) + "}";
}

std::string GroupOpen(const std::string& flags) {
  return flags.empty() ? "(?:" : "(?" + flags + ":";
}

// The node's language, assertions dropped, groups non-capturing.
std::string Full(const Node& n) {
  switch (n.kind) {
    case Node::kEmpty:
    case Node::kAssert:
      return "";
    case Node::kAtom:
      return n.text;
    case Node::kConcat: {
      std::string out;
      for (const Node& k : n.kids) out += Full(k);
      return out;
    }
    case Node::kAlt: {
      std::string out = "(?:";
      for (size_t i = 0; i < n.kids.size(); ++i) out += (i ? "|" : "") + Full(n.kids[i]);
      return out + ")";
    }
    case Node::kRepeat: {
      const std::string k = Full(n.kids[0]);
      return k.empty() ? "" : "(?:" + k + ")" + Quantifier(n.min, n.max);
    }
    case Node::kGroup:
      return GroupOpen(n.text) + Full(n.kids[0]) + ")";
  }
  return "";
}

std::string Pref(const Node& n);

// Pref of kids[i..] of a concatenation.
std::string PrefFrom(const std::vector<Node>& kids, size_t i) {
  if (i == kids.size()) return "";
  if (i + 1 == kids.size()) return Pref(kids[i]);
  const std::string full = Full(kids[i]);
  if (full.empty()) return PrefFrom(kids, i + 1);  // an assertion: Pref = ε, and ε ⊂ the rest
  return "(?:" + Pref(kids[i]) + "|" + full + PrefFrom(kids, i + 1) + ")";
}

std::string Pref(const Node& n) {
  switch (n.kind) {
    case Node::kEmpty:
    case Node::kAssert:
      return "";
    case Node::kAtom:
      return "(?:" + n.text + ")?";
    case Node::kConcat:
      return PrefFrom(n.kids, 0);
    case Node::kAlt: {
      std::string out = "(?:";
      for (size_t i = 0; i < n.kids.size(); ++i) out += (i ? "|" : "") + Pref(n.kids[i]);
      return out + ")";
    }
    case Node::kRepeat: {
      const std::string full = Full(n.kids[0]);
      if (n.max == 0 || full.empty()) return "";
      std::string whole;  // complete repetitions before the partial one
      if (n.max < 0) {
        whole = "(?:" + full + ")*";
      } else if (n.max > 1) {
        whole = "(?:" + full + "){0," + std::to_string(n.max - 1) + "}";
      }
      return "(?:" + whole + Pref(n.kids[0]) + ")";
    }
    case Node::kGroup:
      return GroupOpen(n.text) + Pref(n.kids[0]) + ")";
  }
  return "";
}

// Characters; kUnbounded for * + {n,}.
constexpr size_t kUnbounded = ~size_t{0};

size_t MaxChars(const Node& n) {
  switch (n.kind) {
    case Node::kEmpty:
    case Node::kAssert:
      return 0;
    case Node::kAtom:
      return 1;
    case Node::kConcat: {
      size_t total = 0;
      for (const Node& k : n.kids) {
        const size_t m = MaxChars(k);
        if (m == kUnbounded) return kUnbounded;
        total += m;
      }
      return total;
    }
    case Node::kAlt: {
      size_t most = 0;
      for (const Node& k : n.kids) most = std::max(most, MaxChars(k));
      return most;
    }
    case Node::kRepeat: {
      const size_t m = MaxChars(n.kids[0]);
      if (m == 0 || n.max == 0) return 0;
      if (n.max < 0 || m == kUnbounded) return kUnbounded;
      return m * static_cast<size_t>(n.max);
    }
    case Node::kGroup:
      return MaxChars(n.kids[0]);
  }
  return kUnbounded;
}

}  // namespace

Result<std::optional<size_t>> MaxMatchChars(std::string_view pattern) {
  PARAPET_ASSIGN_OR_RETURN(const Node n, Parser(pattern).Parse());
  const size_t m = MaxChars(n);
  return m == kUnbounded ? std::optional<size_t>() : std::optional<size_t>(m);
}

Result<std::string> PrefixClosurePattern(std::string_view pattern) {
  PARAPET_ASSIGN_OR_RETURN(const Node n, Parser(pattern).Parse());
  return Pref(n);
}

Result<std::string> StrippedPattern(std::string_view pattern) {
  PARAPET_ASSIGN_OR_RETURN(const Node n, Parser(pattern).Parse());
  return Full(n);
}

PendingMatcher::PendingMatcher(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}
PendingMatcher::~PendingMatcher() = default;

std::unique_ptr<PendingMatcher> PendingMatcher::Build(const std::vector<std::string>& patterns,
                                                      int right_context, int64_t max_mem_bytes) {
  std::string combined = "(?:";
  for (size_t i = 0; i < patterns.size(); ++i) {
    Result<std::string> pref = PrefixClosurePattern(patterns[i]);
    if (!pref.ok()) return nullptr;
    combined += (i ? "|" : "") + *pref;
    if (right_context > 0) {
      Result<std::string> full = StrippedPattern(patterns[i]);
      if (!full.ok()) return nullptr;
      combined += "|(?:" + *full + ")(?s:.){0," + std::to_string(right_context) + "}";
    }
  }
  combined += ")\\z";
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(max_mem_bytes);
  auto re = std::make_unique<RE2>(combined, o);
  if (!re->ok()) return nullptr;
  return std::unique_ptr<PendingMatcher>(new PendingMatcher(std::move(re)));
}

size_t PendingMatcher::PendingFrom(std::string_view text) const {
  re2::StringPiece m;
  if (!re_->Match(text, 0, text.size(), RE2::UNANCHORED, &m, 1)) return text.size();
  return static_cast<size_t>(m.data() - text.data());
}

std::optional<size_t> LazyPendingMatcher::PendingFrom(const ScanText& text) const {
  std::call_once(once_,
                 [this] { matcher_ = PendingMatcher::Build(patterns_, right_context_, max_mem_); });
  if (matcher_ == nullptr) return std::nullopt;
  const size_t p = matcher_->PendingFrom(text.text());
  return text.ToOriginal(Span{p, p}).begin;
}

}  // namespace parapet::pipeline::internal
