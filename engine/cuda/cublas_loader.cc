// CublasApi: see cublas_loader.h.
#include "engine/cuda/cublas_loader.h"

#include <dlfcn.h>

#include <string>

namespace parapet::engine::cuda {
namespace {

template <typename F>
bool Bind(void* lib, const char* name, F* f) {
  *f = reinterpret_cast<F>(dlsym(lib, name));
  return *f != nullptr;
}

const CublasApi* Load() {
  // The toolkit's library found at build time first, then the loader's search path.
  const std::string names[] = {
#ifdef PARAPET_CUBLAS_PATH
      PARAPET_CUBLAS_PATH,
#endif
      "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR), "libcublas.so"};
  void* lib = nullptr;
  for (const std::string& n : names) {
    if ((lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
  }
  if (lib == nullptr) return nullptr;
  static CublasApi api;
  if (!Bind(lib, "cublasCreate_v2", &api.create) || !Bind(lib, "cublasDestroy_v2", &api.destroy) ||
      !Bind(lib, "cublasSetStream_v2", &api.set_stream) ||
      !Bind(lib, "cublasGemmEx", &api.gemm_ex) ||
      !Bind(lib, "cublasGetStatusString", &api.status_string)) {
    return nullptr;
  }
  return &api;
}

}  // namespace

const CublasApi* LoadCublas() {
  static const CublasApi* api = Load();
  return api;
}

}  // namespace parapet::engine::cuda
