// API keys: generation, hashing and lookup. Keys are configured only as SHA-256 hashes, so the
// configuration file holds no secret:
//   key  = "pk-" + 43 base64url characters (32 bytes from OpenSSL RAND_bytes)
//   hash = "sha256:" + 64 lower-case hex digits of SHA-256(key bytes)
// A KeyStore maps a presented key to its tenant and per-key limits. Lookup hashes the presented
// key and compares the digest with EVERY configured digest using CRYPTO_memcmp, without an early
// exit, so timing reveals neither which entry matched nor how many bytes did.
//
// Thread-safety: a KeyStore is immutable after Create; share it as shared_ptr<const KeyStore>.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gateway/rate_limiter.h"

namespace parapet::gateway {

struct NewKey {
  std::string key;   // give to the client; never stored
  std::string hash;  // put in the configuration
};

// A fresh random key and its hash. Internal error if the OpenSSL RNG fails.
Result<NewKey> NewApiKey();

// "sha256:<hex>" of `key`.
std::string HashApiKey(std::string_view key);

// One configured key.
struct ApiKeyEntry {
  std::string name;    // label for logs and errors (e.g. "api_keys[2]"); never the key
  std::string hash;    // "sha256:<64 hex>" (upper-case hex accepted)
  std::string tenant;  // tenant id the key maps to
  RateLimits limits;   // per-key limits
};

// The token of an "Authorization" header value: exactly "Bearer <token>" (scheme
// case-insensitive, one or more spaces, token non-empty with no spaces or control characters).
// InvalidArgument otherwise.
Result<std::string_view> ParseBearer(std::string_view authorization);

class KeyStore {
 public:
  // Validates every entry: InvalidArgument naming the entry ("api_keys[1]: bad hash format,
  // expected sha256:<64 hex digits>", "...: duplicate hash", "...: empty tenant").
  static Result<KeyStore> Create(std::vector<ApiKeyEntry> entries);

  // True when no key is configured (the gateway then runs without auth).
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // The entry whose hash matches `key`, or nullptr. Constant time in the key's position.
  // The returned pointer lives as long as the store.
  const ApiKeyEntry* Lookup(std::string_view key) const;

  // ParseBearer + Lookup: InvalidArgument for a malformed or missing header (empty string),
  // NotFound for an unknown key. The handler answers both with 401 (ApiError InvalidApiKey).
  Result<const ApiKeyEntry*> Authenticate(std::string_view authorization) const;

 private:
  KeyStore() = default;

  std::vector<ApiKeyEntry> entries_;
  std::vector<std::array<uint8_t, 32>> digests_;  // [entries_.size()] parsed hashes
};

}  // namespace parapet::gateway
