// API key generation, hashing and constant-time lookup (formats: api_keys.h).
#include "gateway/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>

namespace parapet::gateway {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr std::string_view kKeyPrefix = "pk-";

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> digest{};
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail on valid arguments short of memory exhaustion.
  PARAPET_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) ==
                    1 &&
                len == digest.size());
  return digest;
}

std::string Base64Url(const uint8_t* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "sha256:<64 hex>" -> digest; false on any other shape.
bool ParseHash(std::string_view hash, std::array<uint8_t, 32>* digest) {
  if (hash.substr(0, kHashPrefix.size()) != kHashPrefix) return false;
  std::string_view hex = hash.substr(kHashPrefix.size());
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*digest)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

Result<NewKey> NewApiKey() {
  uint8_t random[32];
  if (RAND_bytes(random, sizeof random) != 1) {
    return InternalError("the OpenSSL random generator failed");
  }
  NewKey key;
  key.key = std::string(kKeyPrefix) + Base64Url(random, sizeof random);
  key.hash = HashApiKey(key.key);
  OPENSSL_cleanse(random, sizeof random);
  return key;
}

std::string HashApiKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<uint8_t, 32> digest = Sha256(key);
  std::string out(kHashPrefix);
  for (uint8_t b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<std::string_view> ParseBearer(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.empty()) return InvalidArgumentError("missing Authorization header");
  bool scheme_ok = authorization.size() > kScheme.size();
  for (size_t i = 0; scheme_ok && i < kScheme.size(); ++i) {
    scheme_ok = std::tolower(static_cast<unsigned char>(authorization[i])) == kScheme[i];
  }
  if (!scheme_ok || authorization[kScheme.size()] != ' ') {
    return InvalidArgumentError("Authorization header is not 'Bearer <key>'");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return InvalidArgumentError("Authorization header has an empty key");
  for (char c : token) {
    if (!IsTokenChar(c)) return InvalidArgumentError("Authorization header key has bad characters");
  }
  return token;
}

Result<KeyStore> KeyStore::Create(std::vector<ApiKeyEntry> entries) {
  KeyStore store;
  store.digests_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const ApiKeyEntry& e = entries[i];
    std::string name = e.name.empty() ? "api_keys[" + std::to_string(i) + "]" : e.name;
    std::array<uint8_t, 32> digest{};
    if (!ParseHash(e.hash, &digest)) {
      return InvalidArgumentError(name + ": bad hash format, expected sha256:<64 hex digits>");
    }
    if (e.tenant.empty()) return InvalidArgumentError(name + ": empty tenant");
    for (const auto& other : store.digests_) {
      if (other == digest) return InvalidArgumentError(name + ": duplicate hash");
    }
    store.digests_.push_back(digest);
  }
  store.entries_ = std::move(entries);
  return store;
}

const ApiKeyEntry* KeyStore::Lookup(std::string_view key) const {
  std::array<uint8_t, 32> digest = Sha256(key);
  // Visit every entry and select branch-free, so the time taken depends only on the number
  // of configured keys.
  size_t match = entries_.size();
  for (size_t i = 0; i < digests_.size(); ++i) {
    size_t equal = static_cast<size_t>(CRYPTO_memcmp(digest.data(), digests_[i].data(), 32) == 0);
    match = equal * i + (1 - equal) * match;
  }
  return match < entries_.size() ? &entries_[match] : nullptr;
}

Result<const ApiKeyEntry*> KeyStore::Authenticate(std::string_view authorization) const {
  auto token = ParseBearer(authorization);
  if (!token.ok()) return token.status();
  const ApiKeyEntry* entry = Lookup(*token);
  if (entry == nullptr) return NotFoundError("unknown API key");
  return entry;
}

}  // namespace parapet::gateway
