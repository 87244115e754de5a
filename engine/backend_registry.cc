// Backend registry: maps a backend name to its factory. The only place that knows which
// backends this build contains (PARAPET_HAVE_CUDA is set by engine/CMakeLists.txt when the CUDA
// backend is compiled in).
#include <string>

#include "engine/backend.h"

#if PARAPET_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace parapet::engine {

std::string BuiltBackends() {
#if PARAPET_HAVE_CUDA
  return "cpu, cuda";
#else
  return "cpu";
#endif
}

Result<std::unique_ptr<Backend>> NewBackend(const std::string& name, int n_threads) {
  if (name == "cpu") return NewCpuBackend(n_threads);
#if PARAPET_HAVE_CUDA
  if (name == "cuda") return cuda::NewCudaBackend();
#endif
  return InvalidArgumentError("unknown backend '" + name + "' (available: " + BuiltBackends() +
                              ")");
}

}  // namespace parapet::engine
