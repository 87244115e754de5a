// GgufFile: a validated, read-only view of a GGUF v2/v3 file (the llama.cpp model format),
// memory-mapped from disk or borrowed from a caller's buffer.
//
// Format (little-endian; see the GGUF specification):
//   header   : "GGUF" u32 version, u64 n_tensors, u64 n_kv
//   kv[n_kv] : string key, u32 value_type, value
//              value_type: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
//                          9 array (u32 elem_type, u64 count, elems), 10 u64, 11 i64, 12 f64
//              string    : u64 length, bytes (not NUL-terminated)
//   tensors[n_tensors] : string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset
//   padding to `general.alignment` (default 32), then the tensor data section; each tensor's
//   offset is relative to the start of that section and is a multiple of the alignment.
//
// Open() checks everything before returning: magic, version, counts against the bytes that
// remain, string and array lengths, key uniqueness, value types, tensor names, dims (1..4, each
// > 0, element count without overflow), known tensor types with whole blocks per row, offsets
// aligned, data inside the file and tensors not overlapping. A bad file yields a DataLoss or
// InvalidArgument status naming the problem and the byte offset; nothing is allocated in
// proportion to a count before that count has been checked against the file size.
//
// Thread-safety: immutable after Open(); all const methods may be called concurrently. Views
// (string_view, tensor data pointers) stay valid for the lifetime of the GgufFile.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace parapet::engine::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Name of a value type ("u32", "string", ...), or "?" for an unknown number.
const char* ValueTypeName(ValueType type);

// One metadata entry. Scalars are decoded; strings and arrays point into the file.
struct MetadataValue {
  ValueType type = ValueType::kUint8;
  // Scalars (for kBool: 0/1). Integers are stored widened; `u64` keeps full uint64 range.
  int64_t i64 = 0;
  uint64_t u64 = 0;
  double f64 = 0;
  std::string_view str;  // kString
  // kArray: element type, count, and the raw bytes of the elements (for numeric arrays).
  ValueType elem_type = ValueType::kUint8;
  uint64_t count = 0;
  const uint8_t* elems = nullptr;
  std::vector<std::string_view> strings;  // kArray of kString, decoded once at Open()
};

struct MetadataEntry {
  std::string_view key;
  MetadataValue value;
};

struct TensorInfo {
  std::string_view name;
  TensorType type = TensorType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;           // relative to the data section
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
  const uint8_t* data = nullptr;  // inside the mapped file

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
};

struct OpenOptions {
  // Upper bound on metadata entries and tensors, so a hostile header cannot make Open() spend
  // unbounded time; real models have < 1,000 of each.
  uint64_t max_kv = 1 << 20;
  uint64_t max_tensors = 1 << 20;
};

class GgufFile {
 public:
  // Maps `path` read-only and validates it. Errors name the path.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path,
                                                const OpenOptions& options = {});
  // Validates a GGUF image held in memory. The caller keeps `bytes` alive and unchanged for the
  // lifetime of the result. Errors are prefixed by `name`.
  static Result<std::unique_ptr<GgufFile>> FromBuffer(std::string_view bytes,
                                                      std::string name = "<buffer>",
                                                      const OpenOptions& options = {});

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t size_bytes() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<MetadataEntry>& metadata() const { return metadata_; }
  const MetadataValue* Find(std::string_view key) const;

  // Typed lookups: nullopt when the key is absent or has an incompatible type. Any integer type
  // converts to GetInt (u64 values above INT64_MAX do not); f32/f64 (and integers) to GetFloat.
  std::optional<int64_t> GetInt(std::string_view key) const;
  std::optional<double> GetFloat(std::string_view key) const;
  std::optional<bool> GetBool(std::string_view key) const;
  std::optional<std::string_view> GetString(std::string_view key) const;
  // Arrays: nullptr when absent or of another element type.
  const std::vector<std::string_view>* GetStringArray(std::string_view key) const;
  // Numeric arrays converted to float / int64 (empty optional when absent or not numeric).
  std::optional<std::vector<float>> GetFloatArray(std::string_view key) const;
  std::optional<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  class Parser;

  std::string name_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap of size_ bytes
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<MetadataEntry> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace parapet::engine::gguf
