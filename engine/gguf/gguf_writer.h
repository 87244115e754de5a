// GgufWriter: builds a GGUF v3 file (format in gguf_file.h) from metadata and tensors held in
// memory. Used by tests (hand-made and corrupted models), fuzz seeds and the benchmark's
// synthesised models. Keys and tensors are written in insertion order. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/gguf/gguf_file.h"

namespace parapet::engine::gguf {

class GgufWriter {
 public:
  void SetU32(std::string_view key, uint32_t v);
  void SetI32(std::string_view key, int32_t v);
  void SetU64(std::string_view key, uint64_t v);
  void SetF32(std::string_view key, float v);
  void SetBool(std::string_view key, bool v);
  void SetString(std::string_view key, std::string_view v);
  void SetStringArray(std::string_view key, const std::vector<std::string>& v);
  void SetF32Array(std::string_view key, const std::vector<float>& v);
  void SetI32Array(std::string_view key, const std::vector<int32_t>& v);

  // Adds a tensor. `ne` in ggml order (ne[0] = row length). `data` must hold exactly the
  // tensor's byte size for `type` (checked).
  void AddTensor(std::string_view name, TensorType type, std::vector<int64_t> ne, std::string data);

  void set_alignment(uint32_t alignment) { alignment_ = alignment; }

  // The whole file image.
  std::string Serialize() const;
  // Writes the file to `path` (truncating). IO errors become Internal.
  Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    std::string data;
  };
  void AddKv(std::string_view key, ValueType type, std::string encoded_value);
  template <typename T>
  void AddScalar(std::string_view key, ValueType type, T v);
  template <typename T>
  void AddArray(std::string_view key, ValueType elem_type, const std::vector<T>& v);
  std::string Header() const;

  uint32_t alignment_ = 32;
  uint64_t n_kv_ = 0;
  std::string kv_bytes_;
  std::vector<Tensor> tensors_;
};

}  // namespace parapet::engine::gguf
