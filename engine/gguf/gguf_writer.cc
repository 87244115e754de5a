// GgufWriter implementation.
#include "engine/gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace parapet::engine::gguf {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

void PutString(std::string* out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::AddKv(std::string_view key, ValueType type, std::string encoded_value) {
  PutString(&kv_bytes_, key);
  Put<uint32_t>(&kv_bytes_, static_cast<uint32_t>(type));
  kv_bytes_ += encoded_value;
  ++n_kv_;
}

template <typename T>
void GgufWriter::AddScalar(std::string_view key, ValueType type, T v) {
  std::string e;
  Put(&e, v);
  AddKv(key, type, e);
}

void GgufWriter::SetU32(std::string_view key, uint32_t v) { AddScalar(key, ValueType::kUint32, v); }
void GgufWriter::SetI32(std::string_view key, int32_t v) { AddScalar(key, ValueType::kInt32, v); }
void GgufWriter::SetU64(std::string_view key, uint64_t v) { AddScalar(key, ValueType::kUint64, v); }
void GgufWriter::SetF32(std::string_view key, float v) { AddScalar(key, ValueType::kFloat32, v); }
void GgufWriter::SetBool(std::string_view key, bool v) {
  AddKv(key, ValueType::kBool, std::string(1, v ? '\1' : '\0'));
}
void GgufWriter::SetString(std::string_view key, std::string_view v) {
  std::string e;
  PutString(&e, v);
  AddKv(key, ValueType::kString, e);
}
void GgufWriter::SetStringArray(std::string_view key, const std::vector<std::string>& v) {
  std::string e;
  Put<uint32_t>(&e, static_cast<uint32_t>(ValueType::kString));
  Put<uint64_t>(&e, v.size());
  for (const std::string& s : v) PutString(&e, s);
  AddKv(key, ValueType::kArray, e);
}
template <typename T>
void GgufWriter::AddArray(std::string_view key, ValueType elem_type, const std::vector<T>& v) {
  std::string e;
  Put<uint32_t>(&e, static_cast<uint32_t>(elem_type));
  Put<uint64_t>(&e, v.size());
  for (const T& x : v) Put(&e, x);
  AddKv(key, ValueType::kArray, e);
}

void GgufWriter::SetF32Array(std::string_view key, const std::vector<float>& v) {
  AddArray(key, ValueType::kFloat32, v);
}
void GgufWriter::SetI32Array(std::string_view key, const std::vector<int32_t>& v) {
  AddArray(key, ValueType::kInt32, v);
}

void GgufWriter::AddTensor(std::string_view name, TensorType type, std::vector<int64_t> ne,
                           std::string data) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  PARAPET_CHECK(!ne.empty() && ne.size() <= 4);
  PARAPET_CHECK(ne[0] % Traits(type).block_elems == 0);
  PARAPET_CHECK(data.size() == RowBytes(type, n));
  tensors_.push_back(Tensor{std::string(name), type, std::move(ne), std::move(data)});
}

std::string GgufWriter::Header() const {
  std::string out = "GGUF";
  Put<uint32_t>(&out, 3);
  Put<uint64_t>(&out, tensors_.size());
  uint64_t n_kv = n_kv_;
  std::string align_kv;
  if (alignment_ != 32) {
    PutString(&align_kv, "general.alignment");
    Put<uint32_t>(&align_kv, static_cast<uint32_t>(ValueType::kUint32));
    Put<uint32_t>(&align_kv, alignment_);
    ++n_kv;
  }
  Put<uint64_t>(&out, n_kv);
  out += align_kv;
  out += kv_bytes_;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(&out, t.name);
    Put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) Put<uint64_t>(&out, static_cast<uint64_t>(d));
    Put<uint32_t>(&out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&out, offset);
    offset = AlignUp(offset + t.data.size(), alignment_);
  }
  out.resize(AlignUp(out.size(), alignment_), '\0');
  return out;
}

std::string GgufWriter::Serialize() const {
  std::string out = Header();
  for (const Tensor& t : tensors_) {
    out += t.data;
    out.resize(AlignUp(out.size(), alignment_), '\0');
  }
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return InternalError(path + ": cannot create: " + std::strerror(errno));
  std::string header = Header();
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  static const char kZeros[64] = {};
  for (const Tensor& t : tensors_) {
    if (!ok) break;
    ok = std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
    size_t pad = AlignUp(t.data.size(), alignment_) - t.data.size();
    while (ok && pad > 0) {
      size_t n = pad < sizeof kZeros ? pad : sizeof kZeros;
      ok = std::fwrite(kZeros, 1, n, f) == n;
      pad -= n;
    }
  }
  if (std::fclose(f) != 0) ok = false;
  if (!ok) return InternalError(path + ": write failed");
  return Status::Ok();
}

}  // namespace parapet::engine::gguf
