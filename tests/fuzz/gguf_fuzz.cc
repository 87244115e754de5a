// libFuzzer target for everything that reads an untrusted GGUF file: the container parser, the
// hyperparameters, the tensor binding and the tokenizer built from metadata (which then encodes
// and decodes a short text). Any crash, hang, sanitizer report or oversized allocation is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/gguf/gguf_file.h"
#include "engine/model_config.h"
#include "engine/tokenizer.h"
#include "engine/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace parapet::engine;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = gguf::GgufFile::FromBuffer(bytes, "fuzz.gguf");
  if (!file.ok()) return 0;
  auto config = ModelConfig::FromGguf(**file);
  if (config.ok()) {
    ModelConfig c = *config;
    auto weights = Weights::FromGguf(**file, &c);
    (void)weights.ok();
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (tok.ok()) {
    std::vector<TokenId> ids = (*tok)->Encode("Hello world \xE2\x96\x81 <s> \xFF!", true, true);
    (void)(*tok)->Decode(ids);
  }
  return 0;
}
