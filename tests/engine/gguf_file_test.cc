#include "engine/gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/gguf/gguf_writer.h"
#include "tests/engine/test_data_util.h"

namespace parapet::engine::gguf {
namespace {

std::string SmallModelImage() {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetU32("llama.block_count", 2);
  w.SetF32("llama.rope.freq_base", 10000.0f);
  w.SetBool("tokenizer.ggml.add_bos_token", true);
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
  w.SetF32Array("tokenizer.ggml.scores", {0, 0, 0, -1.5f});
  w.SetI32Array("tokenizer.ggml.token_type", {2, 3, 3, 1});
  w.AddTensor("token_embd.weight", TensorType::kF32, {4, 4}, std::string(64, '\1'));
  w.AddTensor("blk.0.attn_q.weight", TensorType::kQ8_0, {32, 2}, std::string(68, '\2'));
  return w.Serialize();
}

TEST(GgufFile, ReadsWriterOutput) {
  std::string image = SmallModelImage();
  auto f = GgufFile::FromBuffer(image);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.GetString("general.architecture"), "llama");
  EXPECT_EQ(g.GetInt("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(*g.GetFloat("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(g.GetBool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(g.GetInt("general.architecture"), std::nullopt);  // wrong type
  ASSERT_NE(g.GetStringArray("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(g.GetStringArray("tokenizer.ggml.tokens")->at(3), "a");
  EXPECT_EQ(g.GetFloatArray("tokenizer.ggml.scores")->at(3), -1.5f);
  EXPECT_EQ(g.GetIntArray("tokenizer.ggml.token_type")->at(0), 2);
  ASSERT_EQ(g.tensors().size(), 2u);
  const TensorInfo* q = g.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, TensorType::kQ8_0);
  EXPECT_EQ(q->ne[0], 32);
  EXPECT_EQ(q->ne[1], 2);
  EXPECT_EQ(q->n_bytes, 68u);
  EXPECT_EQ(q->data[0], 2);
  EXPECT_EQ((q->data - reinterpret_cast<const uint8_t*>(image.data())) % 32, 0);
}

TEST(GgufFile, OpensRealModel) {
  PARAPET_REQUIRE_SHARED(path, "models/stories260K.gguf");
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->GetString("general.architecture"), "llama");
  EXPECT_EQ((*f)->GetInt("llama.embedding_length"), 64);
  EXPECT_NE((*f)->FindTensor("token_embd.weight"), nullptr);
}

TEST(GgufFile, MissingFileIsNotFound) {
  auto f = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}

// Every proper prefix of a valid file must be rejected with a clear error (never a crash).
TEST(GgufFile, EveryTruncationIsRejected) {
  std::string image = SmallModelImage();
  for (size_t n = 0; n < image.size(); ++n) {
    std::string cut = image.substr(0, n);
    auto f = GgufFile::FromBuffer(cut, "cut.gguf");
    // Cutting only trailing padding after the last tensor's bytes is the one harmless case.
    if (f.ok()) {
      EXPECT_GE(n, image.size() - 31) << "prefix of " << n << " bytes accepted";
      continue;
    }
    EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(f.status().message().find("cut.gguf"), std::string::npos);
  }
}

// Random bit flips: any outcome is fine except a crash, a hang or an out-of-bounds read (run
// under ASan in the sanitizer build).
TEST(GgufFile, BitFlipsNeverCrash) {
  std::string image = SmallModelImage();
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string m = image;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
    auto f = GgufFile::FromBuffer(m);
    if (!f.ok()) {
      ++rejected;
      EXPECT_FALSE(f.status().message().empty());
      continue;
    }
    for (const TensorInfo& t : (*f)->tensors()) {  // touch every byte the file claims
      volatile uint8_t sink = 0;
      for (uint64_t i = 0; i < t.n_bytes; ++i) sink = sink + t.data[i];
    }
  }
  EXPECT_GT(rejected, 1000);
}

struct BadCase {
  const char* name;
  std::string image;
  const char* expect;
};

std::string Le64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string Le32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

TEST(GgufFile, HostileHeadersGetSpecificErrors) {
  std::string base = SmallModelImage();
  std::vector<BadCase> cases = {
      {"magic", "GGML" + base.substr(4), "bad magic"},
      {"version", "GGUF" + Le32(7) + base.substr(8), "unsupported GGUF version 7"},
      {"huge tensor count", base.substr(0, 8) + Le64(uint64_t{1} << 62) + base.substr(16),
       "tensor count"},
      {"huge kv count", base.substr(0, 16) + Le64(uint64_t{1} << 40) + base.substr(24),
       "metadata count"},
      {"huge key length", base.substr(0, 24) + Le64(uint64_t{1} << 50) + base.substr(32),
       "implausible"},
      {"empty", "", "too small"},
  };
  for (const BadCase& c : cases) {
    auto f = GgufFile::FromBuffer(c.image, c.name);
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.status().message().find(c.expect), std::string::npos)
        << c.name << ": " << f.status().message();
  }
}

TEST(GgufFile, RejectsBadTensorDescriptions) {
  {
    GgufWriter w;
    w.AddTensor("a", TensorType::kF32, {8}, std::string(32, '\0'));
    w.AddTensor("a", TensorType::kF32, {8}, std::string(32, '\0'));
    auto f = GgufFile::FromBuffer(w.Serialize());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("duplicate tensor name 'a'"), std::string::npos);
  }
  {
    // Q8_0 tensor whose row length is not a multiple of 32: patch ne[0] from 32 to 33.
    GgufWriter w;
    w.AddTensor("q", TensorType::kQ8_0, {32}, std::string(34, '\0'));
    std::string img = w.Serialize();
    size_t pos = img.find(Le64(32), 24 + 8 + 1 + 4);
    ASSERT_NE(pos, std::string::npos);
    img.replace(pos, 8, Le64(33));
    auto f = GgufFile::FromBuffer(img);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("not a multiple"), std::string::npos)
        << f.status().message();
  }
  {
    // Unknown tensor type.
    GgufWriter w;
    w.AddTensor("t", TensorType::kF32, {8}, std::string(32, '\0'));
    std::string img = w.Serialize();
    size_t pos = img.find(Le32(0), 24 + 8 + 1 + 4 + 8);
    img.replace(pos, 4, Le32(99));
    auto f = GgufFile::FromBuffer(img);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("unknown tensor type 99"), std::string::npos)
        << f.status().message();
  }
}

}  // namespace
}  // namespace parapet::engine::gguf
