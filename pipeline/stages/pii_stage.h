// PiiStage: the "pii" policy stage. Finds personal data and secrets in each message: email,
// phone (international +CC and US/NANP), credit card (Luhn + issuer prefix), IBAN (country length
// + mod-97), US SSN (never-issued ranges), IPv4/IPv6, and secrets (AWS keys, GitHub / Slack /
// Stripe tokens, JWTs, PEM private keys, generic high-entropy key=value). The candidate regexes
// of all enabled detectors form ONE unanchored RE2::Set (one pass says which detectors have
// candidates); each such detector's RE2 then yields candidates that a validator
// (pipeline/internal/validators.h) accepts or drops, so an order number is not a card.
// Overlapping findings keep the more specific detector (secrets > card > iban > ssn > email >
// ip > phone).
//
// Thread-safety: immutable after NewPiiStage; Inspect may run on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/stage.h"

namespace parapet::pipeline {

struct PiiDetectorConfig {
  // "email" | "phone" | "credit_card" | "iban" | "us_ssn" | "ip_address" | "aws_key" |
  // "github_token" | "slack_token" | "stripe_key" | "jwt" | "private_key" | "generic_secret";
  // the group "secrets" (alias "api_key") enables every secret detector.
  std::string name;
  std::optional<Action> action;  // default: redact for personal data, block for secrets
};

struct PiiStageConfig {
  std::string id = "pii";  // finding rule ids are "<id>.<detector name>"
  Mode mode = Mode::kEnforce;
  std::vector<PiiDetectorConfig> detectors;  // at least one; each name at most once
  double min_score = 0.0;                    // findings scoring below this are dropped; [0, 1]
  // A bare 9-digit run counts as an SSN only with "ssn" / "social security" just before it.
  bool ssn_unformatted_needs_context = true;
  bool phone_reject_fiction = false;          // drop NANP 555-0100..555-0199 (reserved for fiction)
  int64_t max_mem_bytes = int64_t{32} << 20;  // RE2 memory bound (the Set and each RE2)
};

// The detector names NewPiiStage accepts (groups excluded), in priority order.
const std::vector<std::string>& PiiDetectorNames();

// Builds a pii stage. On failure an InvalidArgument error naming the field, e.g.
// "pii.detectors[2].name: unknown detector 'passport'".
Result<std::unique_ptr<Stage>> NewPiiStage(const PiiStageConfig& config);

}  // namespace parapet::pipeline
