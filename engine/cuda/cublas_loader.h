// CublasApi: the few cuBLAS entry points the CUDA backend uses, loaded with dlopen on first use,
// so that binaries linked with the engine do not load the (large) cuBLAS library unless a
// large-batch product runs on a GPU. Without cuBLAS those products use the GEMV kernels.
// Thread-safe (loaded once).
#pragma once

#include <cublas_v2.h>

namespace parapet::engine::cuda {

struct CublasApi {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                            int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                            cublasGemmAlgo_t) = nullptr;
  const char* (*status_string)(cublasStatus_t) = nullptr;
};

// The loaded API, or nullptr when libcublas cannot be loaded.
const CublasApi* LoadCublas();

}  // namespace parapet::engine::cuda
