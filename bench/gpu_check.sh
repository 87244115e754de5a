#!/usr/bin/env bash
# GPU check for the CUDA backend, for a GPU machine with nothing but this repository (no -dev
# packages, no network): builds the engine alone (PARAPET_ENGINE_ONLY, CUDA on, GoogleTest from
# a source tree), runs the CUDA host tests and the `gpu` test label, then benchmarks decode and
# prefill on the MoE fixtures and on Mixtral-shaped layer stacks (bench/gpu_bench.cc), ending
# with a table of tokens/s, GB/s and the fraction of the memory-bound ceiling.
#
# Environment (all optional):
#   OUT                    folder for the full log (gpu_check.log); default ./gpu-check-out
#   PARAPET_SHARED_DIR     shared data folder holding data/engine/models/*.gguf.xz (default ../shared)
#   PARAPET_GTEST_SOURCE_DIR  GoogleTest sources (default third_party/googletest, /usr/src/googletest)
#   PARAPET_CUDA_ARCHS     CMAKE_CUDA_ARCHITECTURES (default 90, Hopper)
#   PARAPET_GPU_LAYERS     layers of the Mixtral-shaped stacks (default 4)
#   PARAPET_GPU_ENCODINGS  their encodings (default Q8_0,Q4_K,Q4_K_M,Q6_K,F16)
# Finishes in well under 8 minutes on an H200 (build ~1 min, tests ~1 min, bench ~3 min).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$repo/gpu-check-out}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
build=${PARAPET_GPU_BUILD:-$repo/build-gpu}
shared=${PARAPET_SHARED_DIR:-$repo/../shared}
gtest=${PARAPET_GTEST_SOURCE_DIR:-}
if [ -z "$gtest" ]; then
  for d in "$repo/third_party/googletest" /usr/src/googletest; do
    if [ -f "$d/CMakeLists.txt" ]; then gtest=$d; break; fi
  done
fi
archs=${PARAPET_CUDA_ARCHS:-90}
start=$(date +%s)
section() { echo; echo "==== $* ($(($(date +%s) - start))s) ===="; }

section environment
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvcc --version | tail -2
cmake --version | head -1
echo "repo $repo, shared $shared, gtest ${gtest:-none}, archs $archs"

section build
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARAPET_ENGINE_ONLY=ON \
  -DPARAPET_CUDA=ON -DPARAPET_WERROR=OFF -DCMAKE_CUDA_ARCHITECTURES="$archs" \
  -DPARAPET_GTEST_SOURCE_DIR="$gtest" -DPARAPET_SHARED_DIR="$shared" >"$out/cmake.log" 2>&1 ||
  { cat "$out/cmake.log"; echo "configure failed"; exit 1; }
grep -E "CUDA backend" "$out/cmake.log"
if ! cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1; then
  grep -E "error|FAILED" "$out/build.log" | head -40
  echo "build failed"
  exit 1
fi
echo "build ok"

section "tests (CUDA host logic + label gpu)"
if ! command -v xz >/dev/null; then  # prepare_fixtures.sh needs xz; decompress here instead
  mkdir -p "$build/testdata/engine"
  for f in "$shared"/data/engine/models/*.gguf.xz; do
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' \
      "$f" "$build/testdata/engine/$(basename "${f%.xz}")"
  done
fi
ctest --test-dir "$build" --output-on-failure -j 4 --timeout 150 2>&1 | tail -40
tests_rc=${PIPESTATUS[0]}
ctest --test-dir "$build" -L gpu -N | tail -1

section "gpu test details"
"$(find "$build/tests" -name parapet_gpu_tests -type f | head -1)" 2>&1 | grep -E "^\[ +(OK|FAILED|SKIPPED) +\]|Failure|error|Expected|Which is|actual" | head -60

section benchmark
fixtures=""
for f in "$build"/testdata/engine/peaky-moe-{Q8_0,Q4_K_M,F16}.gguf; do
  [ -f "$f" ] && fixtures="$fixtures${fixtures:+,}$f"
done
timeout 300 "$build/bench/parapet_gpu_bench" --models "$fixtures" \
  --layers "${PARAPET_GPU_LAYERS:-4}" \
  --encodings "${PARAPET_GPU_ENCODINGS:-Q8_0,Q4_K,Q4_K_M,Q6_K,F16}" \
  --dir "${TMPDIR:-/tmp}/parapet-gpu-bench" | tee "$out/bench.txt"
bench_rc=${PIPESTATUS[0]}

section summary
echo "tests: $([ "$tests_rc" = 0 ] && echo passed || echo "FAILED (rc $tests_rc)"); bench rc $bench_rc"
cat "$out/bench.txt"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
