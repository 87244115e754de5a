// The pii stage's recognizers: per detector, RE2 candidate patterns plus a check that sees the
// candidate in its surrounding text (checksums from validators.h, context words, boundaries) and
// accepts it with a score, possibly narrowing its span. Static data and pure functions;
// thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "pipeline/scan_text.h"

namespace parapet::pipeline::internal {

// Detectors, in priority order: on overlap the lower value wins.
enum class PiiDetector {
  kPrivateKey,
  kAwsKey,
  kGithubToken,
  kSlackToken,
  kStripeKey,
  kJwt,
  kGenericSecret,
  kCreditCard,
  kIban,
  kUsSsn,
  kEmail,
  kIpAddress,
  kPhone,
};
constexpr int kNumPiiDetectors = 13;
constexpr bool IsSecret(PiiDetector d) { return d <= PiiDetector::kGenericSecret; }

struct PiiCheckOptions {
  bool ssn_unformatted_needs_context = true;
  bool phone_reject_fiction = false;
};

// A candidate as the pattern matched it: the whole match, or its first capture group when the
// pattern has one (the value after a "key =" prefix).
struct PiiCandidate {
  std::string_view text;  // the whole message text
  Span span;              // the candidate, in `text`
};

// Accepts `c` (returns true, sets *score in (0, 1], may narrow *span) or rejects it.
using PiiCheck = bool (*)(const PiiCandidate& c, const PiiCheckOptions& o, Span* span,
                          double* score);

struct PiiRecognizer {
  PiiDetector detector;
  const char* type;     // the finding type: "EMAIL", "SECRET_JWT", ...
  const char* pattern;  // RE2 syntax; at most one capturing group (the value)
  PiiCheck check;
};

// Every recognizer, grouped by detector in PiiDetector order.
const std::vector<PiiRecognizer>& PiiRecognizers();

// The detector's config name ("credit_card", ...).
const char* PiiDetectorName(PiiDetector d);

}  // namespace parapet::pipeline::internal
