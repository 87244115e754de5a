// Run-time choice of the vec-dot kernels: CPU feature detection and the per-level lookup.
#include "engine/cpu/vec_dot.h"

#include <cstdlib>
#include <cstring>

#include "common/check.h"
#include "engine/cpu/internal/vec_dot_tables.h"
#include "engine/quants.h"

namespace parapet::engine::cpu {
namespace {

SimdLevel HardwareSimdLevel() {
#if defined(PARAPET_X86_64)
  __builtin_cpu_init();
  // libgcc also checks that the OS saves the YMM / ZMM state (XGETBV) before reporting these.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  if (avx512) return SimdLevel::kAvx512;
  if (avx2) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kScalar;
}

SimdLevel CachedHardwareSimdLevel() {
  static const SimdLevel level = HardwareSimdLevel();
  return level;
}

SimdLevel ComputeSimdLevel() {
  SimdLevel level = CachedHardwareSimdLevel();
  const char* cap = std::getenv("PARAPET_SIMD");
  if (cap == nullptr) return level;
  SimdLevel wanted = level;
  if (std::strcmp(cap, "scalar") == 0) wanted = SimdLevel::kScalar;
  if (std::strcmp(cap, "avx2") == 0) wanted = SimdLevel::kAvx2;
  return wanted < level ? wanted : level;
}

}  // namespace

namespace internal {

bool CpuHasAvx512Vnni() {
#if defined(PARAPET_X86_64)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return has;
#else
  return false;
#endif
}

void QuantizeActF32(const float* x, void* dst, int64_t n) {
  std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
}
void QuantizeActF16(const float* x, void* dst, int64_t n) {
  QuantizeActivationRow(TensorType::kF16, x, dst, n);
}
void QuantizeActBf16(const float* x, void* dst, int64_t n) {
  QuantizeActivationRow(TensorType::kBF16, x, dst, n);
}
void QuantizeActQ8_0(const float* x, void* dst, int64_t n) {
  QuantizeActivationRow(TensorType::kQ8_0, x, dst, n);
}
void QuantizeActQ8_K(const float* x, void* dst, int64_t n) {
  QuantizeActivationRow(TensorType::kQ8_K, x, dst, n);
}

}  // namespace internal

SimdLevel DetectSimdLevel() {
  static const SimdLevel level = ComputeSimdLevel();
  return level;
}

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

bool VecDotSupports(TensorType weight_type) {
  return internal::ScalarKernel(weight_type) != nullptr;
}

const VecDotKernel& GetVecDotKernel(TensorType weight_type) {
  return GetVecDotKernel(weight_type, DetectSimdLevel());
}

const VecDotKernel& GetVecDotKernel(TensorType weight_type, SimdLevel level) {
  PARAPET_CHECK_MSG(VecDotSupports(weight_type), Traits(weight_type).name);
  PARAPET_CHECK(level <= CachedHardwareSimdLevel());
  // Each level falls back to the one below for a type it has no kernel of its own for.
  const VecDotKernel* kernel = nullptr;
  if (level == SimdLevel::kAvx512) {
    if (internal::CpuHasAvx512Vnni()) kernel = internal::Avx512VnniKernel(weight_type);
    if (kernel == nullptr) kernel = internal::Avx512Kernel(weight_type);
  }
  if (kernel == nullptr && level >= SimdLevel::kAvx2) kernel = internal::Avx2Kernel(weight_type);
  if (kernel == nullptr) kernel = internal::ScalarKernel(weight_type);
  return *kernel;
}

}  // namespace parapet::engine::cpu
