#include "audit/crypto.h"

#include <gtest/gtest.h>

namespace parapet::audit {
namespace {

TEST(AuditCrypto, Rfc6962Hashing) {
  // RFC 6962 / CT test vectors: the empty tree and a one-leaf tree of the empty string.
  EXPECT_EQ(Hex(MerkleRoot({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(LeafHash("")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  // The accumulator agrees with the batch root at every size, and the split is RFC 6962's.
  std::vector<Hash> leaves;
  MerkleAccumulator acc;
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(LeafHash("leaf " + std::to_string(i)));
    acc.Add(leaves.back());
    ASSERT_EQ(acc.Root(), MerkleRoot(leaves)) << i;
  }
  const std::vector<Hash> three(leaves.begin(), leaves.begin() + 3);
  EXPECT_EQ(MerkleRoot(three), NodeHash(NodeHash(leaves[0], leaves[1]), leaves[2]));
  const std::vector<Hash> five(leaves.begin(), leaves.begin() + 5);
  EXPECT_EQ(MerkleRoot(five),
            NodeHash(NodeHash(NodeHash(leaves[0], leaves[1]), NodeHash(leaves[2], leaves[3])),
                     leaves[4]));
}

TEST(AuditCrypto, EncodingsRoundTrip) {
  const std::string bytes = "\x00\x01\xfe\xff parapet";
  const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(FromBase64(Base64(span)), bytes);
  EXPECT_EQ(Base64({}), "");
  EXPECT_FALSE(FromBase64("abc").has_value());
  EXPECT_FALSE(FromBase64("ab!=").has_value());
  EXPECT_EQ(FromBase64("QQ=="), "A");
  EXPECT_FALSE(FromBase64("QR==").has_value());  // the same byte with unused bits set
  const Hash h = Sha256("x");
  EXPECT_EQ(HashFromHex(Hex(h)), h);
  EXPECT_FALSE(HashFromHex("zz").has_value());
}

TEST(AuditCrypto, HmacTagsAreKeyedAndStable) {
  Result<HmacKey> k = HmacKey::Parse(std::string(64, 'a'));
  ASSERT_TRUE(k.ok());
  const std::string tag = k->Tag("hello");
  EXPECT_EQ(tag.rfind("hmac-sha256:" + k->id() + ":", 0), 0u);
  EXPECT_EQ(tag, HmacKey::Parse(k->Serialize().substr(0, 64))->Tag("hello"));
  EXPECT_NE(tag, HmacKey::Generate().Tag("hello"));
  EXPECT_FALSE(HmacKey::Parse("short").ok());
}

TEST(AuditCrypto, ContentIsSealedToItsRequestAndPart) {
  const ContentKey k = ContentKey::Generate();
  const std::string line = k.Seal("req-1", "prompt", "mail bob@example.com");
  EXPECT_EQ(line.find("bob@"), std::string::npos) << line;
  std::string id, part;
  Result<std::string> text = k.Open(line, &id, &part);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "mail bob@example.com");
  EXPECT_EQ(id, "req-1");
  EXPECT_EQ(part, "prompt");
  // Moved to another request or part, changed, or another key: it does not open.
  std::string moved = line;
  moved.replace(moved.find("req-1"), 5, "req-2");
  EXPECT_FALSE(k.Open(moved).ok());
  std::string other_part = line;
  other_part.replace(other_part.find("prompt"), 6, "output");
  EXPECT_FALSE(k.Open(other_part).ok());
  std::string flipped = line;
  const size_t data = flipped.find("\"data\":\"") + 8;
  flipped[data] = flipped[data] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(k.Open(flipped).ok());
  EXPECT_FALSE(ContentKey::Generate().Open(line).ok());
  Result<ContentKey> again = ContentKey::Parse(k.Serialize().substr(0, 64));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Open(line).ok());
}

TEST(AuditCrypto, SignedNotesVerifyAndRejectTampering) {
  Result<SigningKey> key = SigningKey::Generate("parapet-test");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  // Keys round-trip through their text forms.
  Result<SigningKey> again = SigningKey::Parse(key->Serialize());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->verifier().Serialize(), key->verifier().Serialize());
  Result<VerifierKey> pub = VerifierKey::Parse(key->verifier().Serialize());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();

  Checkpoint c{"parapet.audit/abc", 42, Sha256("root")};
  Result<std::string> note = SignNote(CheckpointText(c), *key);
  ASSERT_TRUE(note.ok());
  EXPECT_NE(note->find("\n\n\xE2\x80\x94 parapet-test "), std::string::npos) << *note;
  Result<std::string> text = OpenNote(*note, *pub);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  Result<Checkpoint> parsed = ParseCheckpointText(*text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->size, 42u);
  EXPECT_EQ(parsed->root, c.root);
  EXPECT_EQ(parsed->origin, "parapet.audit/abc");

  std::string forged = *note;
  forged[forged.find("42")] = '9';  // a different tree size
  EXPECT_FALSE(OpenNote(forged, *pub).ok());
  // Another key with the same name: the id differs, the signature does not verify.
  Result<SigningKey> other = SigningKey::Generate("parapet-test");
  EXPECT_FALSE(OpenNote(*SignNote(CheckpointText(c), *other), *pub).ok());
  EXPECT_FALSE(OpenNote("no blank line", *pub).ok());
  EXPECT_FALSE(VerifierKey::Parse("name+00000000+AAAA").ok());
  EXPECT_FALSE(SigningKey::Parse("PRIVATE+KEY+x").ok());
}

}  // namespace
}  // namespace parapet::audit
