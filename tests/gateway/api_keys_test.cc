#include "gateway/api_keys.h"

#include <gtest/gtest.h>

#include <set>

namespace parapet::gateway {
namespace {

TEST(ApiKeys, HashIsSha256Hex) {
  // SHA-256("abc"), FIPS 180-2 test vector.
  EXPECT_EQ(HashApiKey("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeys, NewKeyShape) {
  std::set<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    auto k = NewApiKey();
    ASSERT_TRUE(k.ok());
    ASSERT_EQ(k->key.size(), 3u + 43u) << k->key;
    EXPECT_EQ(k->key.substr(0, 3), "pk-");
    for (char c : k->key.substr(3)) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << k->key;
    }
    EXPECT_EQ(k->hash, HashApiKey(k->key));
    keys.insert(k->key);
  }
  EXPECT_EQ(keys.size(), 100u);
}

TEST(ParseBearer, AcceptsAndRejects) {
  auto t = ParseBearer("Bearer pk-abc");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "pk-abc");
  t = ParseBearer("bearer   pk-abc");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "pk-abc");
  for (const char* bad :
       {"", "Bearer", "Bearer ", "Bearer  ", "Basic dXNlcjpwYXNz", "Bearerpk-abc", "Bearer pk abc",
        "Bearer pk-abc ", "Bearer\tpk-abc", "pk-abc", "Bearer pk-\x01"}) {
    EXPECT_FALSE(ParseBearer(bad).ok()) << bad;
  }
}

std::vector<ApiKeyEntry> Entries(const std::vector<std::string>& keys) {
  std::vector<ApiKeyEntry> entries;
  for (size_t i = 0; i < keys.size(); ++i) {
    entries.push_back({"", HashApiKey(keys[i]), "tenant" + std::to_string(i),
                       RateLimits{static_cast<double>(i + 1), 0, 0}});
  }
  return entries;
}

TEST(KeyStore, LookupFindsTheMatchingEntry) {
  auto store = KeyStore::Create(Entries({"pk-one", "pk-two", "pk-three"}));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 3u);
  EXPECT_FALSE(store->empty());
  const ApiKeyEntry* e = store->Lookup("pk-two");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->tenant, "tenant1");
  EXPECT_EQ(e->limits.requests_per_second, 2);
  EXPECT_EQ(store->Lookup("pk-three")->tenant, "tenant2");
  EXPECT_EQ(store->Lookup("pk-one")->tenant, "tenant0");
  EXPECT_EQ(store->Lookup("pk-four"), nullptr);
  EXPECT_EQ(store->Lookup(""), nullptr);
  EXPECT_EQ(store->Lookup("pk-tw"), nullptr);
}

TEST(KeyStore, UpperCaseHexAccepted) {
  std::string hash = HashApiKey("pk-x");
  for (size_t i = 7; i < hash.size(); ++i) hash[i] = static_cast<char>(std::toupper(hash[i]));
  auto store = KeyStore::Create({{"k", hash, "t", {}}});
  ASSERT_TRUE(store.ok());
  EXPECT_NE(store->Lookup("pk-x"), nullptr);
}

TEST(KeyStore, Authenticate) {
  auto store = KeyStore::Create(Entries({"pk-one"}));
  ASSERT_TRUE(store.ok());
  auto e = store->Authenticate("Bearer pk-one");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->tenant, "tenant0");
  EXPECT_EQ(store->Authenticate("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Authenticate("Basic x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Authenticate("Bearer pk-two").status().code(), StatusCode::kNotFound);
  // The error never contains the presented key.
  EXPECT_EQ(store->Authenticate("Bearer pk-secret").status().message().find("pk-secret"),
            std::string::npos);
}

TEST(KeyStore, EmptyStore) {
  auto store = KeyStore::Create({});
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(store->empty());
  EXPECT_EQ(store->Lookup("anything"), nullptr);
}

TEST(KeyStore, ValidationNamesTheEntry) {
  std::string good = HashApiKey("pk-a");
  struct Case {
    std::vector<ApiKeyEntry> entries;
    std::string message;
  };
  const Case cases[] = {
      {{{"", "sha256:abc", "t", {}}},
       "api_keys[0]: bad hash format, expected sha256:<64 hex digits>"},
      {{{"", good, "t", {}}, {"", good.substr(7), "t", {}}},
       "api_keys[1]: bad hash format, expected sha256:<64 hex digits>"},
      {{{"ops", "sha256:" + std::string(64, 'g'), "t", {}}},
       "ops: bad hash format, expected sha256:<64 hex digits>"},
      {{{"", "md5:" + std::string(64, 'a'), "t", {}}},
       "api_keys[0]: bad hash format, expected sha256:<64 hex digits>"},
      {{{"", good + "0", "t", {}}},
       "api_keys[0]: bad hash format, expected sha256:<64 hex digits>"},
      {{{"", good, "", {}}}, "api_keys[0]: empty tenant"},
      {{{"", good, "t", {}}, {"", good, "u", {}}}, "api_keys[1]: duplicate hash"},
  };
  for (const Case& c : cases) {
    auto store = KeyStore::Create(c.entries);
    ASSERT_FALSE(store.ok()) << c.message;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store.status().message(), c.message);
  }
}

}  // namespace
}  // namespace parapet::gateway
