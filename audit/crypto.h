// The audit trail's cryptography (OpenSSL 3): SHA-256 and RFC 6962 Merkle hashing, the HMAC that
// hides content, Ed25519 keys in the C2SP note formats, and C2SP signed notes for checkpoints.
// Formats: audit/FORMAT.md.
//
// Thread-safety: free functions are thread-safe; keys are immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parapet::audit {

using Hash = std::array<uint8_t, 32>;

Hash Sha256(std::string_view data);
// SHA-256 of a file's contents, read in chunks (model weights: gigabytes).
Result<Hash> Sha256File(const std::string& path);
Hash LeafHash(std::string_view leaf);         // SHA-256(0x00 || leaf), RFC 6962
Hash NodeHash(const Hash& l, const Hash& r);  // SHA-256(0x01 || l || r), RFC 6962
// The RFC 6962 Merkle tree hash of `leaves` (leaf hashes, in order); SHA-256("") when empty.
Hash MerkleRoot(std::span<const Hash> leaves);

// Appends leaves one at a time and gives the root of everything so far, in O(log n) memory
// (the roots of the perfect subtrees, largest first).
class MerkleAccumulator {
 public:
  void Add(const Hash& leaf);
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  std::vector<Hash> stack_;  // perfect subtree roots, sizes strictly decreasing
  std::vector<int> heights_;
  uint64_t size_ = 0;
};

std::string Hex(std::span<const uint8_t> bytes);
std::optional<Hash> HashFromHex(std::string_view hex);  // 64 hex characters
std::string Base64(std::span<const uint8_t> bytes);
std::optional<std::string> FromBase64(std::string_view text);  // canonical encodings only

// 32 random bytes kept as 64 lowercase hex characters and a newline (hmac.key, content.key); the
// id is the first 8 hex characters of SHA-256 of the bytes.
class SecretKey {
 public:
  static SecretKey Generate();
  // `what` names the key in errors ("an HMAC key").
  static Result<SecretKey> Parse(std::string_view text, std::string_view what);
  static Result<SecretKey> Load(const std::string& path, std::string_view what);
  std::string Serialize() const;  // 64 hex + "\n"
  const std::string& bytes() const { return key_; }
  const std::string& id() const { return id_; }

 private:
  std::string key_;
  std::string id_;
};

// The deployment's content key (hmac.key).
class HmacKey {
 public:
  static HmacKey Generate() { return HmacKey(SecretKey::Generate()); }
  static Result<HmacKey> Load(const std::string& path);
  static Result<HmacKey> Parse(std::string_view text);  // the file's contents
  std::string Serialize() const { return key_.Serialize(); }

  const std::string& id() const { return key_.id(); }
  // "hmac-sha256:<id>:<hex>" of `text`.
  std::string Tag(std::string_view text) const;

 private:
  explicit HmacKey(SecretKey key) : key_(std::move(key)) {}
  SecretKey key_;
};

// The key of the optional encrypted content store (audit.content_dir): 32 random bytes, stored
// like the HMAC key. Seal makes one store line — AES-256-GCM over the text, the request id and
// part ("prompt" | "output") bound in as associated data:
//   {"request_id":"…","part":"prompt","key_id":"<8 hex>","nonce":"<b64 12 bytes>","data":"<b64>"}
class ContentKey {
 public:
  static ContentKey Generate() { return ContentKey(SecretKey::Generate()); }
  static Result<ContentKey> Load(const std::string& path);
  static Result<ContentKey> Parse(std::string_view text);
  std::string Serialize() const { return key_.Serialize(); }
  const std::string& id() const { return key_.id(); }

  std::string Seal(std::string_view request_id, std::string_view part,
                   std::string_view text) const;  // without "\n"
  // The text of a store line sealed with this key; an error when it is not (or was changed).
  Result<std::string> Open(std::string_view line, std::string* request_id = nullptr,
                           std::string* part = nullptr) const;

 private:
  explicit ContentKey(SecretKey key) : key_(std::move(key)) {}
  SecretKey key_;
};

// An Ed25519 verifier key in the C2SP note format: "<name>+<hex id>+<base64(0x01 || pub)>".
class VerifierKey {
 public:
  static Result<VerifierKey> Parse(std::string_view text);
  static Result<VerifierKey> Load(const std::string& path);

  const std::string& name() const { return name_; }
  uint32_t id() const { return id_; }
  std::string Serialize() const;
  bool Verify(std::string_view message, std::span<const uint8_t> signature) const;

 private:
  friend class SigningKey;
  std::string name_;
  uint32_t id_ = 0;
  std::array<uint8_t, 32> public_{};
};

// An Ed25519 signing key: "PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>".
class SigningKey {
 public:
  static Result<SigningKey> Generate(std::string name);
  static Result<SigningKey> Parse(std::string_view text);
  static Result<SigningKey> Load(const std::string& path);

  std::string Serialize() const;
  const VerifierKey& verifier() const { return verifier_; }
  // The 64-byte Ed25519 signature of `message`.
  Result<std::vector<uint8_t>> Sign(std::string_view message) const;

 private:
  std::array<uint8_t, 32> seed_{};
  VerifierKey verifier_;
};

// C2SP signed notes: `text` (lines, ending in "\n"), a blank line, then signature lines
// "— <name> <base64(4-byte key id || signature)>".
Result<std::string> SignNote(std::string_view text, const SigningKey& key);
// The note's text when a signature by `key` verifies; an error saying why not otherwise.
Result<std::string> OpenNote(std::string_view note, const VerifierKey& key);

// A C2SP tlog checkpoint body: origin, tree size, base64 root hash.
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
};
std::string CheckpointText(const Checkpoint& c);
Result<Checkpoint> ParseCheckpointText(std::string_view text);

}  // namespace parapet::audit
