// The pii stage's candidate patterns and their checks.
#include "pipeline/internal/pii_recognizers.h"

#include <cctype>
#include <initializer_list>
#include <string>

#include "pipeline/internal/validators.h"

namespace parapet::pipeline::internal {
namespace {

// ---- helpers over the surrounding text ----

std::string_view Sub(const PiiCandidate& c, Span s) {
  return c.text.substr(s.begin, s.end - s.begin);
}

char At(std::string_view t, size_t i) { return i < t.size() ? t[i] : '\0'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// True when one of `words` starts a word (case-insensitively) in the `window` bytes before
// `begin` ("call" counts in "called me", not in "recall").
bool ContextBefore(std::string_view t, size_t begin, size_t window,
                   std::initializer_list<const char*> words) {
  size_t from = begin > window ? begin - window : 0;
  std::string low(t.substr(from, begin - from));
  for (char& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* w : words) {
    for (size_t at = low.find(w); at != std::string::npos; at = low.find(w, at + 1)) {
      char prev = at > 0 ? low[at - 1] : from > 0 ? t[from - 1] : ' ';
      if (!std::isalpha(static_cast<unsigned char>(prev))) return true;
    }
  }
  return false;
}

// A digit run continued by '-' or '.' plus a digit on either side belongs to a longer number
// ("123-45-6789-01", "1.2.3.4.5"); one touching a letter or digit is part of a longer token.
bool PartOfLongerNumber(std::string_view t, Span s) {
  char before = s.begin > 0 ? t[s.begin - 1] : '\0';
  char before2 = s.begin > 1 ? t[s.begin - 2] : '\0';
  if ((before == '-' || before == '.') && IsDigit(before2)) return true;
  if (IsAlnum(before)) return true;  // also inside a hex id or a word ("ab12345678cd")
  char after = At(t, s.end);
  if ((after == '-' || after == '.') && IsDigit(At(t, s.end + 1))) return true;
  return IsAlnum(after);
}

// Offsets in `s` (relative to span.begin) where a separator run ends a digit group.
std::vector<size_t> GroupEnds(std::string_view s) {
  std::vector<size_t> ends;
  for (size_t i = 1; i < s.size(); ++i) {
    if (!IsAlnum(s[i]) && IsAlnum(s[i - 1])) ends.push_back(i);
  }
  return ends;
}

const std::initializer_list<const char*> kPhoneWords = {
    "phone", "telephone", "tel:",     "tel.",    "call",     "mobile",       "cell",       "fax",
    "desk",  "contact",   "whatsapp", "text me", "reach me", "answering at", "messages to"};

// ---- checks ----

bool AcceptAll(const PiiCandidate&, const PiiCheckOptions&, Span*, double* score) {
  *score = 1.0;
  return true;
}

bool CheckEmail(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  std::string_view v = Sub(c, *span);
  std::string_view local = v.substr(0, v.find('@'));
  if (local.front() == '.' || local.back() == '.' || v.find("..") != std::string_view::npos) {
    return false;
  }
  *score = 1.0;
  return true;
}

bool CardDigitsOk(std::string_view v) {
  bool dash = v.find('-') != std::string_view::npos, space = v.find(' ') != std::string_view::npos;
  return !(dash && space) && CreditCardValid(DigitsOnly(v));
}

bool CheckCard(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  std::string_view v = Sub(c, *span);
  bool ok = CardDigitsOk(v);
  if (!ok) {  // a grouped card followed by more digit groups: try shorter group prefixes
    std::vector<size_t> ends = GroupEnds(v);
    for (size_t k = ends.size(); k-- > 0 && !ok;) {
      if (CardDigitsOk(v.substr(0, ends[k]))) {
        span->end = span->begin + ends[k];
        ok = true;
      }
    }
  }
  if (!ok) return false;
  *score =
      ContextBefore(c.text, span->begin, 24, {"order", "invoice", "tracking", "ref"}) ? 0.5 : 1.0;
  return true;
}

bool CheckIban(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  std::string_view v = Sub(c, *span);
  std::vector<size_t> ends = GroupEnds(v);
  ends.push_back(v.size());
  for (size_t k = ends.size(); k-- > 0;) {
    std::string compact;
    for (char ch : v.substr(0, ends[k])) {
      if (ch != ' ')
        compact.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    }
    if (IbanValid(compact)) {
      span->end = span->begin + ends[k];
      *score = 1.0;
      return true;
    }
  }
  return false;
}

bool CheckSsn(const PiiCandidate& c, const PiiCheckOptions& o, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  std::string_view v = Sub(c, *span);
  if (!SsnValid(DigitsOnly(v))) return false;
  bool ctx = ContextBefore(c.text, span->begin, 32, {"ssn", "social security", "social sec"});
  bool dashed = v.find('-') != std::string_view::npos;
  bool spaced = v.find(' ') != std::string_view::npos;
  if (!dashed && !spaced && o.ssn_unformatted_needs_context && !ctx) return false;
  *score = ctx ? 0.95 : dashed ? 0.85 : 0.6;
  return true;
}

bool CheckIpv4(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  if (!Ipv4Valid(Sub(c, *span))) return false;
  char before = span->begin > 0 ? c.text[span->begin - 1] : '\0';
  if (before == 'v' || before == 'V') return false;  // "v1.2.3.4": a version
  if (ContextBefore(c.text, span->begin, 16, {"version", "ver.", "release", "build"})) {
    return false;
  }
  *score = 0.9;
  return true;
}

bool CheckIpv6(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  auto word = [](char ch) { return IsAlnum(ch) || ch == '_' || ch == ':'; };
  if ((span->begin > 0 && word(c.text[span->begin - 1])) || word(At(c.text, span->end))) {
    return false;
  }
  std::string_view v = Sub(c, *span);
  bool hex = false;
  for (char ch : v) hex = hex || std::isxdigit(static_cast<unsigned char>(ch));
  if (!hex || !Ipv6Valid(v)) return false;
  *score = 0.9;
  return true;
}

// The digits of a phone candidate without its extension ("x123", "ext. 12").
std::string PhoneDigits(std::string_view v) {
  size_t x = v.find_first_of("xXeE");
  return DigitsOnly(v.substr(0, x));
}

bool CheckPhoneIntl(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  if (span->begin > 0 && (IsAlnum(c.text[span->begin - 1]))) return false;
  std::string d = PhoneDigits(Sub(c, *span));
  if (d.size() < 8 || d.size() > 15) return false;
  *score = ContextBefore(c.text, span->begin, 32, kPhoneWords) ? 0.95 : 0.8;
  return true;
}

bool CheckPhoneUs(const PiiCandidate& c, const PiiCheckOptions& o, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  std::string d = PhoneDigits(Sub(c, *span));
  if (d.size() == 11 && d[0] == '1') d.erase(0, 1);
  if (d.size() == 13 && d.compare(0, 3, "001") == 0) d.erase(0, 3);
  if (!NanpValid(d, o.phone_reject_fiction)) return false;
  *score = ContextBefore(c.text, span->begin, 32, kPhoneWords) ? 0.95 : 0.75;
  return true;
}

bool CheckPhoneBare(const PiiCandidate& c, const PiiCheckOptions& o, Span* span, double* score) {
  if (!ContextBefore(c.text, span->begin, 32, kPhoneWords)) return false;
  if (!CheckPhoneUs(c, o, span, score)) return false;
  *score = 0.7;
  return true;
}

// A national number with a trunk prefix ("07700 063 966", "(08) 8747 6301", "03.93.92.16.85").
bool CheckPhoneTrunk(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  std::string_view v = Sub(c, *span);
  std::string d = DigitsOnly(v);
  if (d.size() < 9 || d.size() > 11 || d[1] == '0') return false;  // "00": international prefix
  // US-shaped numbers that failed the NANP rules ("(015) 555-2671") and SSN shapes stay out.
  if (v.size() >= 5 && v[0] == '(' && v[4] == ')' && d.size() == 10) return false;
  if (v.size() == 11 && v[3] == '-' && v[6] == '-') return false;
  *score = ContextBefore(c.text, span->begin, 40, kPhoneWords) ? 0.9 : 0.6;
  return true;
}

// Any 7..15-digit group run, when a phone word comes just before ("Phone: 451 5986") or a
// line label just after ("416 60 039 office").
bool CheckPhoneContext(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  if (PartOfLongerNumber(c.text, *span)) return false;
  std::string d = PhoneDigits(Sub(c, *span));
  if (d.size() < 7 || d.size() > 15) return false;
  std::string after(c.text.substr(span->end, 10));
  for (char& ch : after) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  bool label_after = after.find("office") != std::string::npos ||
                     after.find("fax") != std::string::npos ||
                     after.find("mobile") != std::string::npos;
  if (!label_after && !ContextBefore(c.text, span->begin, 40, kPhoneWords)) return false;
  *score = 0.7;
  return true;
}

bool CheckJwt(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  std::string_view v = Sub(c, *span);
  size_t dot1 = v.find('.');
  size_t dot2 = v.find('.', dot1 + 1);
  std::string payload;
  if (!JwtHeaderValid(v.substr(0, dot1)) ||
      !Base64UrlDecode(v.substr(dot1 + 1, dot2 - dot1 - 1), &payload) || payload.empty() ||
      payload[0] != '{') {
    return false;
  }
  *score = 1.0;
  return true;
}

bool IsUuid(std::string_view v) {
  if (v.size() != 36) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_pos != (v[i] == '-')) return false;
    if (!dash_pos && !std::isxdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

bool CheckGenericSecret(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  std::string_view v = Sub(c, *span);
  if (IsUuid(v) || ShannonEntropy(v) < 3.5) return false;
  *score = 0.8;
  return true;
}

bool CheckSlack(const PiiCandidate& c, const PiiCheckOptions&, Span* span, double* score) {
  std::string_view v = Sub(c, *span);
  size_t dashes = 0;
  for (char ch : v) dashes += ch == '-';
  if (dashes < 2) return false;
  *score = 1.0;
  return true;
}

}  // namespace

const char* PiiDetectorName(PiiDetector d) {
  static const char* const kNames[kNumPiiDetectors] = {
      "private_key", "aws_key",        "github_token", "slack_token", "stripe_key",
      "jwt",         "generic_secret", "credit_card",  "iban",        "us_ssn",
      "email",       "ip_address",     "phone"};
  return kNames[static_cast<int>(d)];
}

const std::vector<PiiRecognizer>& PiiRecognizers() {
  using D = PiiDetector;
  static const std::vector<PiiRecognizer> kRecognizers = {
      {D::kPrivateKey, "SECRET_PRIVATE_KEY",
       R"re(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:(?s:.*?)-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|(?s:.*)))re",
       AcceptAll},
      {D::kAwsKey, "SECRET_AWS_ACCESS_KEY", R"re(\b(?:AKIA|ASIA)[A-Z2-7]{16}\b)re", AcceptAll},
      {D::kAwsKey, "SECRET_AWS_SECRET_KEY",
       R"re((?i)aws_?secret(?:_?access)?(?:_?key)?["']?\s*(?:[:=]|=>)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$))re",
       AcceptAll},
      {D::kGithubToken, "SECRET_GITHUB_TOKEN",
       R"re(\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255})\b)re", AcceptAll},
      {D::kSlackToken, "SECRET_SLACK_TOKEN", R"re(\bxox[baprs]-[A-Za-z0-9-]{10,250})re",
       CheckSlack},
      {D::kStripeKey, "SECRET_STRIPE_KEY", R"re(\b[rs]k_live_[A-Za-z0-9]{20,247}\b)re", AcceptAll},
      {D::kJwt, "SECRET_JWT", R"re(\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)re",
       CheckJwt},
      {D::kGenericSecret, "SECRET_GENERIC",
       R"re((?i)[a-z0-9_.-]*(?:api[_-]?key|secret|token|passw(?:or)?d|pwd|access[_-]?key|auth[_-]?key|credentials?)["']?\s*(?:[:=]|=>)\s*["']?([A-Za-z0-9+/=_.~!@#$%^&*-]{20,200}))re",
       CheckGenericSecret},
      {D::kCreditCard, "CREDIT_CARD", R"re(\b\d(?:[ -]?\d){11,18}\b)re", CheckCard},
      {D::kIban, "IBAN", R"re((?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b)re",
       CheckIban},
      {D::kUsSsn, "US_SSN", R"re(\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{9}\b)re",
       CheckSsn},
      {D::kEmail, "EMAIL",
       R"re(\b[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b)re",
       CheckEmail},
      {D::kIpAddress, "IP_ADDRESS", R"re(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)re", CheckIpv4},
      {D::kIpAddress, "IP_ADDRESS", R"re((?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})re", CheckIpv6},
      {D::kPhone, "PHONE",
       R"re(\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){2,7}(?: ?(?:x|ext\.?) ?\d{1,5})?)re",
       CheckPhoneIntl},
      {D::kPhone, "PHONE",
       R"re((?:\+1[ .-]?|\b001[ .-]?|\b1[ .-]?)?(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}(?: ?(?:x|ext\.?) ?\d{1,5}|\b))re",
       CheckPhoneUs},
      {D::kPhone, "PHONE", R"re(\b\d{10}\b)re", CheckPhoneBare},
      {D::kPhone, "PHONE",
       R"re(\b0\d{1,4}(?:[ .-]\d{2,4}){1,4}\b|\(0\d{1,4}\) ?\d{3,4}[ .-]?\d{3,4}\b)re",
       CheckPhoneTrunk},
      {D::kPhone, "PHONE", R"re(\(?\d{2,5}\)?(?:[ .-]?\(?\d{2,5}\)?){1,5}(?:x\d{1,5})?)re",
       CheckPhoneContext},
  };
  return kRecognizers;
}

}  // namespace parapet::pipeline::internal
