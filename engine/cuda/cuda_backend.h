// The CUDA backend (engine/backend.h on an NVIDIA GPU): weights uploaded once and kept in their
// quantised formats (device_layout.h), activations and KV caches in device memory, quantised
// GEMV kernels, device-side MoE routing and grouping, and decode steps replayed as CUDA graphs
// (step_graphs.h). Selected with ModelOptions::backend = "cuda" / `--backend cuda`; compiled in
// only when CMake finds nvcc (engine/backend_registry.cc). This header names no CUDA type.
// Thread-safety: as Backend (one operation at a time).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "engine/backend.h"

namespace parapet::engine::cuda {

// A backend on CUDA device 0. Errors: Unavailable when no usable device is present (the message
// gives the CUDA runtime's reason).
Result<std::unique_ptr<Backend>> NewCudaBackend();

// "NVIDIA H200 (sm_90, 139.8 GiB)" for device 0. Errors: Unavailable as above.
Result<std::string> DeviceDescription();

// Device-to-device copy bandwidth of device 0 in GB/s, counting bytes read plus bytes written
// (best of a few copies of `bytes`).
Result<double> MeasureCopyBandwidthGBs(size_t bytes);

}  // namespace parapet::engine::cuda
