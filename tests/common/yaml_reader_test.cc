#include "common/yaml_reader.h"

#include <gtest/gtest.h>

namespace parapet {
namespace {

TEST(YamlMapReader, TypedReadsListsAndUnknownKeys) {
  Result<YAML::Node> doc = LoadYaml("a: 3\nwords: [x, y]\none: z\nbad: [1, [2]]\n", "f.yaml");
  ASSERT_TRUE(doc.ok());
  YamlMapReader r(*doc, "", "f.yaml");
  int32_t a = 0;
  ASSERT_TRUE(r.GetInRange<int32_t>("a", a, 0, 5).ok());
  EXPECT_EQ(a, 3);
  std::vector<std::string> words, one, bad;
  ASSERT_TRUE(r.GetStringList("words", words).ok());
  EXPECT_EQ(words, (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(r.GetStringList("one", one, /*allow_scalar=*/true).ok());
  EXPECT_EQ(one, (std::vector<std::string>{"z"}));
  EXPECT_EQ(r.GetStringList("bad", bad).message(), "f.yaml:4:10: bad[1]: must be a string");
  EXPECT_TRUE(r.Finish().ok());
  YamlMapReader strict(*doc, "", "f.yaml");
  EXPECT_EQ(strict.Finish().message(), "f.yaml:1:1: a: unknown key");
}

TEST(YamlMapReader, SyntaxErrorsNameTheLine) {
  Result<YAML::Node> doc = LoadYaml("a: [1, 2\nb: 3\n", "f.yaml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message().rfind("f.yaml:", 0), 0u) << doc.status().message();
}

}  // namespace
}  // namespace parapet
