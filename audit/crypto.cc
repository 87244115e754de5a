// The audit trail's cryptography over OpenSSL 3's EVP interfaces.
#include "audit/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/json_writer.h"

#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <sstream>

namespace parapet::audit {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

Hash Digest(std::initializer_list<std::string_view> parts) {
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (std::string_view p : parts) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
  Hash h{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), h.data(), &n);
  return h;
}

std::string_view View(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The note key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
uint32_t KeyId(std::string_view name, const std::array<uint8_t, 32>& pub) {
  const char type = 0x01;
  const Hash h = Digest({name, "\n", std::string_view(&type, 1),
                         std::string_view(reinterpret_cast<const char*>(pub.data()), 32)});
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
}

std::string IdHex(uint32_t id) {
  const uint8_t b[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                        static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  return Hex(b);
}

bool ValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '+' || static_cast<unsigned char>(c) <= ' ') return false;
  }
  return true;
}

// Splits "a+b+c..." into at most `parts` parts (base64, last, may itself contain '+').
std::vector<std::string_view> SplitPlus(std::string_view s, size_t parts) {
  std::vector<std::string_view> out;
  size_t at = 0;
  for (size_t p; out.size() + 1 < parts && (p = s.find('+', at)) != std::string_view::npos;
       at = p + 1) {
    out.push_back(s.substr(at, p - at));
  }
  out.push_back(s.substr(at));
  return out;
}

// "<name>+<hex id>+<base64(0x01 || 32 bytes)>" -> name, id, the 32 bytes.
Status ParseKeyParts(std::string_view name, std::string_view id_hex, std::string_view b64,
                     std::string& out_name, uint32_t& out_id, std::array<uint8_t, 32>& out) {
  if (!ValidKeyName(name)) return InvalidArgumentError("bad key name");
  if (id_hex.size() != 8) return InvalidArgumentError("bad key id");
  uint32_t id = 0;
  for (char c : id_hex) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return InvalidArgumentError("bad key id");
    id = (id << 4) | static_cast<uint32_t>(v);
  }
  std::optional<std::string> raw = FromBase64(b64);
  if (!raw || raw->size() != 33 || (*raw)[0] != 0x01) {
    return InvalidArgumentError("bad key material (want base64 of 0x01 and 32 bytes: Ed25519)");
  }
  std::copy(raw->begin() + 1, raw->end(), out.begin());
  out_name = std::string(name);
  out_id = id;
  return Status::Ok();
}

}  // namespace

// ---- hashing ----

Hash Sha256(std::string_view data) { return Digest({data}); }

Result<Hash> Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return DataLossError(path + ": read error");
  Hash h{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), h.data(), &n);
  return h;
}

Hash LeafHash(std::string_view leaf) {
  const char zero = 0x00;
  return Digest({std::string_view(&zero, 1), leaf});
}

Hash NodeHash(const Hash& l, const Hash& r) {
  const char one = 0x01;
  return Digest({std::string_view(&one, 1), View(l), View(r)});
}

Hash MerkleRoot(std::span<const Hash> leaves) {
  if (leaves.empty()) return Sha256("");
  // Bottom-up, an odd last node moving up unchanged: the same tree as RFC 6962's split at the
  // largest power of two below n.
  std::vector<Hash> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    std::vector<Hash> up;
    up.reserve((level.size() + 1) / 2);
    for (size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(NodeHash(level[i], level[i + 1]));
    if (level.size() % 2 == 1) up.push_back(level.back());
    level = std::move(up);
  }
  return level[0];
}

void MerkleAccumulator::Add(const Hash& leaf) {
  Hash h = leaf;
  int height = 0;
  while (!heights_.empty() && heights_.back() == height) {
    h = NodeHash(stack_.back(), h);
    stack_.pop_back();
    heights_.pop_back();
    ++height;
  }
  stack_.push_back(h);
  heights_.push_back(height);
  ++size_;
}

Hash MerkleAccumulator::Root() const {
  if (stack_.empty()) return Sha256("");
  Hash h = stack_.back();
  for (size_t i = stack_.size() - 1; i-- > 0;) h = NodeHash(stack_[i], h);
  return h;
}

// ---- encodings ----

std::string Hex(std::span<const uint8_t> bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::optional<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Hash h{};
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (char c : hex.substr(2 * i, 2)) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    h[i] = static_cast<uint8_t>(v);
  }
  return h;
}

std::string Base64(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> FromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  // Canonical only: unused bits of the last character must be zero (else two texts would
  // decode to the same bytes, and a changed signature line could pass as the same).
  if (Base64({reinterpret_cast<const uint8_t*>(out.data()), out.size()}) != text) {
    return std::nullopt;
  }
  return out;
}

// ---- secret keys, HMAC ----

SecretKey SecretKey::Generate() {
  SecretKey k;
  k.key_.resize(32);
  RAND_bytes(reinterpret_cast<unsigned char*>(k.key_.data()), 32);
  k.id_ = Hex(Sha256(k.key_)).substr(0, 8);
  return k;
}

Result<SecretKey> SecretKey::Parse(std::string_view text, std::string_view what) {
  std::optional<Hash> raw = HashFromHex(text);
  if (!raw) return InvalidArgumentError(std::string(what) + " is 64 lowercase hex characters");
  SecretKey k;
  k.key_.assign(reinterpret_cast<const char*>(raw->data()), raw->size());
  k.id_ = Hex(Sha256(k.key_)).substr(0, 8);
  return k;
}

Result<SecretKey> SecretKey::Load(const std::string& path, std::string_view what) {
  PARAPET_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  Result<SecretKey> k = Parse(text, what);
  if (!k.ok()) return InvalidArgumentError(path + ": " + k.status().message());
  return k;
}

std::string SecretKey::Serialize() const {
  return Hex({reinterpret_cast<const uint8_t*>(key_.data()), key_.size()}) + "\n";
}

Result<HmacKey> HmacKey::Parse(std::string_view text) {
  PARAPET_ASSIGN_OR_RETURN(SecretKey k, SecretKey::Parse(text, "an HMAC key"));
  return HmacKey(std::move(k));
}

Result<HmacKey> HmacKey::Load(const std::string& path) {
  PARAPET_ASSIGN_OR_RETURN(SecretKey k, SecretKey::Load(path, "an HMAC key"));
  return HmacKey(std::move(k));
}

std::string HmacKey::Tag(std::string_view text) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const std::string& key = key_.bytes();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), md, &n);
  return "hmac-sha256:" + id() + ":" + Hex({md, n});
}

// ---- the content store ----

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::string Aad(std::string_view request_id, std::string_view part) {
  return std::string(request_id) + "\n" + std::string(part);
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Result<ContentKey> ContentKey::Parse(std::string_view text) {
  PARAPET_ASSIGN_OR_RETURN(SecretKey k, SecretKey::Parse(text, "a content key"));
  return ContentKey(std::move(k));
}

Result<ContentKey> ContentKey::Load(const std::string& path) {
  PARAPET_ASSIGN_OR_RETURN(SecretKey k, SecretKey::Load(path, "a content key"));
  return ContentKey(std::move(k));
}

std::string ContentKey::Seal(std::string_view request_id, std::string_view part,
                             std::string_view text) const {
  unsigned char nonce[12];
  RAND_bytes(nonce, sizeof(nonce));
  const std::string aad = Aad(request_id, part);
  std::string out(text.size() + 16, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0, m = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.bytes().data()), nonce);
  EVP_EncryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(aad.data()),
                    static_cast<int>(aad.size()));
  EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                    reinterpret_cast<const unsigned char*>(text.data()),
                    static_cast<int>(text.size()));
  EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &m);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                      reinterpret_cast<unsigned char*>(out.data()) + text.size());
  std::string line = "{\"request_id\":";
  AppendJsonString(request_id, &line);
  line += ",\"part\":";
  AppendJsonString(part, &line);
  line += ",\"key_id\":\"" + id() + "\",\"nonce\":\"" + Base64({nonce, 12}) + "\",\"data\":\"" +
          Base64(Bytes(out)) + "\"}";
  return line;
}

Result<std::string> ContentKey::Open(std::string_view line, std::string* request_id,
                                     std::string* part) const {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("not a content store line");
  const boost::json::object& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
  };
  if (str("key_id") != id()) return InvalidArgumentError("sealed with key " + str("key_id"));
  std::optional<std::string> nonce = FromBase64(str("nonce"));
  std::optional<std::string> data = FromBase64(str("data"));
  if (!nonce || nonce->size() != 12 || !data || data->size() < 16) {
    return InvalidArgumentError("malformed nonce or data");
  }
  const std::string aad = Aad(str("request_id"), str("part"));
  const size_t len = data->size() - 16;
  std::string out(len, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0, m = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.bytes().data()),
                     reinterpret_cast<const unsigned char*>(nonce->data()));
  EVP_DecryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(aad.data()),
                    static_cast<int>(aad.size()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                    reinterpret_cast<const unsigned char*>(data->data()), static_cast<int>(len));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, data->data() + len);
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + n, &m) != 1) {
    return InvalidArgumentError("does not decrypt (changed, or another key)");
  }
  if (request_id != nullptr) *request_id = str("request_id");
  if (part != nullptr) *part = str("part");
  return out;
}

// ---- Ed25519 keys ----

Result<VerifierKey> VerifierKey::Parse(std::string_view text) {
  const std::vector<std::string_view> p = SplitPlus(text, 3);
  if (p.size() != 3) return InvalidArgumentError("a verifier key is <name>+<hex id>+<base64 key>");
  VerifierKey k;
  PARAPET_RETURN_IF_ERROR(ParseKeyParts(p[0], p[1], p[2], k.name_, k.id_, k.public_));
  if (KeyId(k.name_, k.public_) != k.id_) {
    return InvalidArgumentError("the key id does not match the key");
  }
  return k;
}

Result<VerifierKey> VerifierKey::Load(const std::string& path) {
  PARAPET_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  Result<VerifierKey> k = Parse(text);
  if (!k.ok()) return InvalidArgumentError(path + ": " + k.status().message());
  return k;
}

std::string VerifierKey::Serialize() const {
  std::array<uint8_t, 33> raw{};
  raw[0] = 0x01;
  std::copy(public_.begin(), public_.end(), raw.begin() + 1);
  return name_ + "+" + IdHex(id_) + "+" + Base64(raw);
}

bool VerifierKey::Verify(std::string_view message, std::span<const uint8_t> signature) const {
  if (signature.size() != 64) return false;
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_.data(), 32));
  if (key == nullptr) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

namespace {

Status FillPublic(const std::array<uint8_t, 32>& seed, std::array<uint8_t, 32>& pub) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32));
  size_t n = 32;
  if (key == nullptr || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &n) != 1 || n != 32) {
    return InternalError("OpenSSL could not derive the Ed25519 public key");
  }
  return Status::Ok();
}

}  // namespace

Result<SigningKey> SigningKey::Generate(std::string name) {
  if (!ValidKeyName(name)) return InvalidArgumentError("a key name has no '+' and no spaces");
  SigningKey k;
  if (RAND_bytes(k.seed_.data(), 32) != 1) return InternalError("no randomness from OpenSSL");
  PARAPET_RETURN_IF_ERROR(FillPublic(k.seed_, k.verifier_.public_));
  k.verifier_.name_ = std::move(name);
  k.verifier_.id_ = KeyId(k.verifier_.name_, k.verifier_.public_);
  return k;
}

Result<SigningKey> SigningKey::Parse(std::string_view text) {
  const std::vector<std::string_view> p = SplitPlus(text, 5);
  if (p.size() != 5 || p[0] != "PRIVATE" || p[1] != "KEY") {
    return InvalidArgumentError("a signing key is PRIVATE+KEY+<name>+<hex id>+<base64 seed>");
  }
  SigningKey k;
  uint32_t id = 0;
  PARAPET_RETURN_IF_ERROR(ParseKeyParts(p[2], p[3], p[4], k.verifier_.name_, id, k.seed_));
  PARAPET_RETURN_IF_ERROR(FillPublic(k.seed_, k.verifier_.public_));
  k.verifier_.id_ = KeyId(k.verifier_.name_, k.verifier_.public_);
  if (k.verifier_.id_ != id) return InvalidArgumentError("the key id does not match the key");
  return k;
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  PARAPET_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  Result<SigningKey> k = Parse(text);
  if (!k.ok()) return InvalidArgumentError(path + ": " + k.status().message());
  return k;
}

std::string SigningKey::Serialize() const {
  std::array<uint8_t, 33> raw{};
  raw[0] = 0x01;
  std::copy(seed_.begin(), seed_.end(), raw.begin() + 1);
  return "PRIVATE+KEY+" + verifier_.name_ + "+" + IdHex(verifier_.id_) + "+" + Base64(raw);
}

Result<std::vector<uint8_t>> SigningKey::Sign(std::string_view message) const {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), 32));
  MdCtx ctx(EVP_MD_CTX_new());
  std::vector<uint8_t> sig(64);
  size_t n = sig.size();
  if (key == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &n,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      n != 64) {
    return InternalError("OpenSSL could not sign");
  }
  return sig;
}

// ---- signed notes ----

namespace {
constexpr std::string_view kDash = "\xE2\x80\x94 ";  // "— "
}

Result<std::string> SignNote(std::string_view text, const SigningKey& key) {
  if (text.empty() || text.back() != '\n') return InvalidArgumentError("note text must end in \\n");
  PARAPET_ASSIGN_OR_RETURN(std::vector<uint8_t> sig, key.Sign(text));
  std::vector<uint8_t> blob;
  const uint32_t id = key.verifier().id();
  blob = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
          static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  blob.insert(blob.end(), sig.begin(), sig.end());
  return std::string(text) + "\n" + std::string(kDash) + key.verifier().name() + " " +
         Base64(blob) + "\n";
}

Result<std::string> OpenNote(std::string_view note, const VerifierKey& key) {
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return InvalidArgumentError("not a signed note");
  const std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  bool named = false;
  while (!sigs.empty()) {
    const size_t eol = sigs.find('\n');
    if (eol == std::string_view::npos) return InvalidArgumentError("signature line without \\n");
    std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    if (!line.starts_with(kDash)) return InvalidArgumentError("malformed signature line");
    line.remove_prefix(kDash.size());
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return InvalidArgumentError("malformed signature line");
    if (line.substr(0, sp) != key.name()) continue;
    named = true;
    std::optional<std::string> blob = FromBase64(line.substr(sp + 1));
    if (!blob || blob->size() != 68) continue;
    const auto* b = reinterpret_cast<const uint8_t*>(blob->data());
    const uint32_t id =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    if (id == key.id() && key.Verify(text, {b + 4, 64})) return std::string(text);
  }
  return InvalidArgumentError(named ? "the signature by '" + key.name() + "' does not verify"
                                    : "no signature by '" + key.name() + "'");
}

std::string CheckpointText(const Checkpoint& c) {
  return c.origin + "\n" + std::to_string(c.size) + "\n" + Base64(c.root) + "\n";
}

Result<Checkpoint> ParseCheckpointText(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) return InvalidArgumentError("checkpoint without final \\n");
    lines.push_back(text.substr(at, eol - at));
    at = eol + 1;
  }
  if (lines.size() < 3) return InvalidArgumentError("a checkpoint has origin, size and root");
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (lines[1].empty() || lines[1].size() > 19) return InvalidArgumentError("bad tree size");
  for (char ch : lines[1]) {
    if (ch < '0' || ch > '9') return InvalidArgumentError("bad tree size");
    c.size = c.size * 10 + static_cast<uint64_t>(ch - '0');
  }
  std::optional<std::string> root = FromBase64(lines[2]);
  if (!root || root->size() != 32) return InvalidArgumentError("bad root hash");
  std::copy(root->begin(), root->end(), c.root.begin());
  return c;
}

}  // namespace parapet::audit
