// AVX-512 VNNI build of the quantised vec-dot kernels (vpdpbusd / vpdpwssd); the code is in
// internal/vec_dot_q_avx512_impl.h. Chosen at kAvx512 when the CPU reports avx512vnni.
// Thread-safe (pure functions).

// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized on their own _mm512_undefined_*()
// placeholders; silenced for this file, before any header pulls them in.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/cpu/internal/vec_dot_tables.h"

#if defined(PARAPET_X86_64)

#define PARAPET_AVX512_Q_TABLE Avx512VnniKernel
#include "engine/cpu/internal/vec_dot_q_avx512_impl.h"

#else

namespace parapet::engine::cpu::internal {
const VecDotKernel* Avx512VnniKernel(TensorType) { return nullptr; }
}  // namespace parapet::engine::cpu::internal

#endif
