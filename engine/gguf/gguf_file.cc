// GgufFile: parsing and validation. Every read goes through Parser, which bounds-checks against
// the file size and reports the byte offset of the first problem.
#include "engine/gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace parapet::engine::gguf {
namespace {

constexpr uint64_t kMaxStringBytes = 1 << 24;  // 16 MiB: far above any real key or token text
constexpr uint64_t kMaxAlignment = 1 << 16;

size_t ValueSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

bool IsKnownValueType(uint32_t t) { return t <= 12; }

}  // namespace

const char* ValueTypeName(ValueType type) {
  static const char* const kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                       "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(type);
  return i < 13 ? kNames[i] : "?";
}

// ---- Parser ----

class GgufFile::Parser {
 public:
  Parser(GgufFile* f, const OpenOptions& options) : f_(f), options_(options) {}

  Status Run() {
    PARAPET_RETURN_IF_ERROR(ReadHeader());
    PARAPET_RETURN_IF_ERROR(ReadMetadata());
    PARAPET_RETURN_IF_ERROR(ReadAlignment());
    PARAPET_RETURN_IF_ERROR(ReadTensorInfos());
    return PlaceTensors();
  }

 private:
  Status Error(const std::string& what) const {
    return DataLossError(what + " (at byte " + std::to_string(pos_) + ")");
  }
  uint64_t Remaining() const { return f_->size_ - pos_; }

  template <typename T>
  Status Read(T* out, const char* what) {
    if (Remaining() < sizeof(T)) return Error(std::string("file truncated reading ") + what);
    std::memcpy(out, f_->base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string_view* out, const char* what) {
    uint64_t len = 0;
    PARAPET_RETURN_IF_ERROR(Read(&len, what));
    if (len > kMaxStringBytes) {
      return Error(std::string(what) + " length " + std::to_string(len) + " is implausible");
    }
    if (len > Remaining()) return Error(std::string("file truncated inside ") + what);
    *out = std::string_view(reinterpret_cast<const char*>(f_->base_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

  Status ReadHeader() {
    char magic[4];
    if (f_->size_ < 4) return Error("file too small to be GGUF");
    std::memcpy(magic, f_->base_, 4);
    if (std::memcmp(magic, "GGUF", 4) != 0) return Error("not a GGUF file (bad magic)");
    pos_ = 4;
    PARAPET_RETURN_IF_ERROR(Read(&f_->version_, "version"));
    if (f_->version_ != 2 && f_->version_ != 3) {
      return Error("unsupported GGUF version " + std::to_string(f_->version_) +
                   " (supported: 2, 3)");
    }
    PARAPET_RETURN_IF_ERROR(Read(&n_tensors_, "tensor count"));
    PARAPET_RETURN_IF_ERROR(Read(&n_kv_, "metadata count"));
    // Each kv needs >= 8+4+1 bytes, each tensor info >= 8+4+8+4+8 bytes.
    if (n_kv_ > options_.max_kv || n_kv_ > Remaining() / 13) {
      return Error("metadata count " + std::to_string(n_kv_) + " exceeds what the file can hold");
    }
    if (n_tensors_ > options_.max_tensors || n_tensors_ > Remaining() / 32) {
      return Error("tensor count " + std::to_string(n_tensors_) +
                   " exceeds what the file can hold");
    }
    return Status::Ok();
  }

  Status ReadScalar(ValueType t, MetadataValue* v, const std::string& key) {
    switch (t) {
#define PARAPET_GGUF_INT(kType, CType)              \
  case ValueType::kType: {                          \
    CType x{};                                      \
    PARAPET_RETURN_IF_ERROR(Read(&x, key.c_str())); \
    v->i64 = static_cast<int64_t>(x);               \
    v->u64 = static_cast<uint64_t>(x);              \
    v->f64 = static_cast<double>(x);                \
    return Status::Ok();                            \
  }
      PARAPET_GGUF_INT(kUint8, uint8_t)
      PARAPET_GGUF_INT(kInt8, int8_t)
      PARAPET_GGUF_INT(kUint16, uint16_t)
      PARAPET_GGUF_INT(kInt16, int16_t)
      PARAPET_GGUF_INT(kUint32, uint32_t)
      PARAPET_GGUF_INT(kInt32, int32_t)
      PARAPET_GGUF_INT(kUint64, uint64_t)
      PARAPET_GGUF_INT(kInt64, int64_t)
#undef PARAPET_GGUF_INT
      case ValueType::kBool: {
        uint8_t b;
        PARAPET_RETURN_IF_ERROR(Read(&b, key.c_str()));
        if (b > 1) return Error("metadata '" + key + "': bool value " + std::to_string(b));
        v->i64 = b;
        v->u64 = b;
        v->f64 = b;
        return Status::Ok();
      }
      case ValueType::kFloat32: {
        float x = 0;
        PARAPET_RETURN_IF_ERROR(Read(&x, key.c_str()));
        v->f64 = x;
        return Status::Ok();
      }
      case ValueType::kFloat64: {
        PARAPET_RETURN_IF_ERROR(Read(&v->f64, key.c_str()));
        return Status::Ok();
      }
      case ValueType::kString:
        return ReadString(&v->str, key.c_str());
      case ValueType::kArray:
        break;
    }
    return Error("metadata '" + key + "': unexpected value type");
  }

  Status ReadArray(MetadataValue* v, const std::string& key) {
    uint32_t elem_type = 0;
    PARAPET_RETURN_IF_ERROR(Read(&elem_type, "array element type"));
    if (!IsKnownValueType(elem_type) || elem_type == static_cast<uint32_t>(ValueType::kArray)) {
      return Error("metadata '" + key + "': unsupported array element type " +
                   std::to_string(elem_type));
    }
    v->elem_type = static_cast<ValueType>(elem_type);
    PARAPET_RETURN_IF_ERROR(Read(&v->count, "array length"));
    size_t elem_size = ValueSize(v->elem_type);
    if (v->elem_type == ValueType::kString) {
      if (v->count > Remaining() / 8) {
        return Error("metadata '" + key + "': array length " + std::to_string(v->count) +
                     " exceeds the file");
      }
      v->strings.reserve(v->count);
      for (uint64_t i = 0; i < v->count; ++i) {
        std::string_view s;
        PARAPET_RETURN_IF_ERROR(ReadString(&s, "array string"));
        v->strings.push_back(s);
      }
      return Status::Ok();
    }
    if (v->count > Remaining() / elem_size) {
      return Error("metadata '" + key + "': array of " + std::to_string(v->count) +
                   " elements exceeds the file");
    }
    v->elems = f_->base_ + pos_;
    pos_ += v->count * elem_size;
    if (v->elem_type == ValueType::kBool) {
      for (uint64_t i = 0; i < v->count; ++i) {
        if (v->elems[i] > 1) return Error("metadata '" + key + "': bad bool in array");
      }
    }
    return Status::Ok();
  }

  Status ReadMetadata() {
    std::unordered_set<std::string_view> seen;
    f_->metadata_.reserve(n_kv_);
    for (uint64_t i = 0; i < n_kv_; ++i) {
      MetadataEntry e;
      PARAPET_RETURN_IF_ERROR(ReadString(&e.key, "metadata key"));
      std::string key(e.key);
      if (e.key.empty()) return Error("empty metadata key");
      if (!seen.insert(e.key).second) return Error("duplicate metadata key '" + key + "'");
      uint32_t type = 0;
      PARAPET_RETURN_IF_ERROR(Read(&type, "metadata value type"));
      if (!IsKnownValueType(type)) {
        return Error("metadata '" + key + "': unknown value type " + std::to_string(type));
      }
      e.value.type = static_cast<ValueType>(type);
      if (e.value.type == ValueType::kArray) {
        PARAPET_RETURN_IF_ERROR(ReadArray(&e.value, key));
      } else {
        PARAPET_RETURN_IF_ERROR(ReadScalar(e.value.type, &e.value, key));
      }
      f_->metadata_.push_back(std::move(e));
    }
    return Status::Ok();
  }

  Status ReadAlignment() {
    const MetadataValue* a = f_->Find("general.alignment");
    if (a == nullptr) return Status::Ok();
    if (a->type != ValueType::kUint32) return Error("general.alignment must be a u32");
    if (a->u64 == 0 || a->u64 > kMaxAlignment || (a->u64 & (a->u64 - 1)) != 0) {
      return Error("general.alignment " + std::to_string(a->u64) + " is not a power of two");
    }
    f_->alignment_ = a->u64;
    return Status::Ok();
  }

  Status ReadTensorInfo(TensorInfo* t) {
    PARAPET_RETURN_IF_ERROR(ReadString(&t->name, "tensor name"));
    std::string name(t->name);
    if (t->name.empty()) return Error("empty tensor name");
    uint32_t n_dims = 0;
    PARAPET_RETURN_IF_ERROR(Read(&n_dims, "tensor dims"));
    if (n_dims == 0 || n_dims > 4) {
      return Error("tensor '" + name + "': " + std::to_string(n_dims) + " dims (must be 1..4)");
    }
    t->n_dims = static_cast<int>(n_dims);
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      PARAPET_RETURN_IF_ERROR(Read(&ne, "tensor dim"));
      if (ne == 0 || ne > (uint64_t{1} << 40)) {
        return Error("tensor '" + name + "': dim " + std::to_string(d) + " = " +
                     std::to_string(ne));
      }
      t->ne[d] = static_cast<int64_t>(ne);
      if (n > std::numeric_limits<int64_t>::max() / t->ne[d]) {
        return Error("tensor '" + name + "': element count overflows");
      }
      n *= t->ne[d];
    }
    t->n_elements = n;
    uint32_t type = 0;
    PARAPET_RETURN_IF_ERROR(Read(&type, "tensor type"));
    const TensorTypeTraits* traits = GetTensorTypeTraits(type);
    if (traits == nullptr) {
      return Error("tensor '" + name + "': unknown tensor type " + std::to_string(type));
    }
    t->type = static_cast<TensorType>(type);
    if (t->ne[0] % traits->block_elems != 0) {
      return Error("tensor '" + name + "': row length " + std::to_string(t->ne[0]) +
                   " is not a multiple of the " + traits->name + " block size");
    }
    t->n_bytes =
        static_cast<uint64_t>(n / traits->block_elems) * static_cast<uint64_t>(traits->block_bytes);
    PARAPET_RETURN_IF_ERROR(Read(&t->offset, "tensor offset"));
    if (t->offset % f_->alignment_ != 0) {
      return Error("tensor '" + name + "': offset " + std::to_string(t->offset) +
                   " is not aligned to " + std::to_string(f_->alignment_));
    }
    return Status::Ok();
  }

  Status ReadTensorInfos() {
    std::unordered_set<std::string_view> seen;
    f_->tensors_.resize(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      PARAPET_RETURN_IF_ERROR(ReadTensorInfo(&f_->tensors_[i]));
      if (!seen.insert(f_->tensors_[i].name).second) {
        return Error("duplicate tensor name '" + std::string(f_->tensors_[i].name) + "'");
      }
    }
    return Status::Ok();
  }

  Status PlaceTensors() {
    uint64_t a = f_->alignment_;
    uint64_t data = (pos_ + a - 1) / a * a;
    if (n_tensors_ > 0 && data > f_->size_) return Error("file truncated before tensor data");
    f_->data_offset_ = data;
    uint64_t data_size = f_->size_ - std::min(data, f_->size_);
    std::vector<const TensorInfo*> order;
    order.reserve(f_->tensors_.size());
    for (TensorInfo& t : f_->tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
        return DataLossError(
            "tensor '" + std::string(t.name) + "': data [" + std::to_string(data + t.offset) +
            ", " + std::to_string(data + t.offset + t.n_bytes) + ") lies outside the file (size " +
            std::to_string(f_->size_) + "; truncated?)");
      }
      t.data = f_->base_ + data + t.offset;
      order.push_back(&t);
    }
    std::sort(order.begin(), order.end(),
              [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      if (order[i - 1]->offset + order[i - 1]->n_bytes > order[i]->offset) {
        return DataLossError("tensors '" + std::string(order[i - 1]->name) + "' and '" +
                             std::string(order[i]->name) + "' overlap");
      }
    }
    return Status::Ok();
  }

  GgufFile* f_;
  const OpenOptions& options_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

// ---- GgufFile ----

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path,
                                                 const OpenOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFoundError(msg) : InvalidArgumentError(msg);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path + ": not a regular file");
  }
  auto size = static_cast<uint64_t>(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return InternalError(path + ": mmap failed: " + std::strerror(err));
    }
  }
  ::close(fd);
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = path;
  f->mapping_ = map;
  f->base_ = static_cast<const uint8_t*>(map);
  f->size_ = size;
  Parser parser(f.get(), options);
  Status s = parser.Run();
  if (!s.ok()) return s.WithContext(path);
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(std::string_view bytes, std::string name,
                                                       const OpenOptions& options) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->name_ = std::move(name);
  f->base_ = reinterpret_cast<const uint8_t*>(bytes.data());
  f->size_ = bytes.size();
  Parser parser(f.get(), options);
  Status s = parser.Run();
  if (!s.ok()) return s.WithContext(f->name_);
  return f;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

const MetadataValue* GgufFile::Find(std::string_view key) const {
  for (const MetadataEntry& e : metadata_) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

std::optional<int64_t> GgufFile::GetInt(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v == nullptr) return std::nullopt;
  switch (v->type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kInt64:
      return v->i64;
    case ValueType::kUint64:
      if (v->u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return v->i64;
    default:
      return std::nullopt;
  }
}

std::optional<double> GgufFile::GetFloat(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == ValueType::kString || v->type == ValueType::kArray ||
      v->type == ValueType::kBool) {
    return std::nullopt;
  }
  return v->f64;
}

std::optional<bool> GgufFile::GetBool(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v == nullptr || v->type != ValueType::kBool) return std::nullopt;
  return v->i64 != 0;
}

std::optional<std::string_view> GgufFile::GetString(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v == nullptr || v->type != ValueType::kString) return std::nullopt;
  return v->str;
}

const std::vector<std::string_view>* GgufFile::GetStringArray(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v == nullptr || v->type != ValueType::kArray || v->elem_type != ValueType::kString) {
    return nullptr;
  }
  return &v->strings;
}

namespace {

template <typename Out>
std::optional<std::vector<Out>> ConvertArray(const MetadataValue* v) {
  if (v == nullptr || v->type != ValueType::kArray || v->elem_type == ValueType::kString) {
    return std::nullopt;
  }
  std::vector<Out> out(v->count);
  const uint8_t* p = v->elems;
  for (uint64_t i = 0; i < v->count; ++i) {
    switch (v->elem_type) {
#define PARAPET_GGUF_ELEM(kType, CType)               \
  case ValueType::kType: {                            \
    CType x;                                          \
    std::memcpy(&x, p + i * sizeof(CType), sizeof x); \
    out[i] = static_cast<Out>(x);                     \
    break;                                            \
  }
      PARAPET_GGUF_ELEM(kUint8, uint8_t)
      PARAPET_GGUF_ELEM(kInt8, int8_t)
      PARAPET_GGUF_ELEM(kBool, uint8_t)
      PARAPET_GGUF_ELEM(kUint16, uint16_t)
      PARAPET_GGUF_ELEM(kInt16, int16_t)
      PARAPET_GGUF_ELEM(kUint32, uint32_t)
      PARAPET_GGUF_ELEM(kInt32, int32_t)
      PARAPET_GGUF_ELEM(kFloat32, float)
      PARAPET_GGUF_ELEM(kUint64, uint64_t)
      PARAPET_GGUF_ELEM(kInt64, int64_t)
      PARAPET_GGUF_ELEM(kFloat64, double)
#undef PARAPET_GGUF_ELEM
      default:
        return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  return ConvertArray<float>(Find(key));
}

std::optional<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const MetadataValue* v = Find(key);
  if (v != nullptr && v->type == ValueType::kArray &&
      (v->elem_type == ValueType::kFloat32 || v->elem_type == ValueType::kFloat64)) {
    return std::nullopt;
  }
  return ConvertArray<int64_t>(v);
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace parapet::engine::gguf
