#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan + UBSan (into ./build-fuzz) and fuzzes the
# GGUF reader, the OpenAI request parsers and the policy loader for SECONDS in all (default 60), starting from the
# committed seed corpora. New inputs go to a scratch corpus in the build tree; a crash leaves its
# input in build-fuzz/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (scripts/setup.sh installs it)" >&2
  exit 2
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPARAPET_FUZZ=ON -DPARAPET_SANITIZE=address,undefined -DPARAPET_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" >/dev/null
cmake --build build-fuzz -j "${PARAPET_JOBS:-2}" --target parapet_gguf_fuzz parapet_openai_request_fuzz \
  parapet_policy_fuzz
mkdir -p build-fuzz/corpus-gguf build-fuzz/corpus-openai-request build-fuzz/corpus-policy
cd build-fuzz
# The time is shared: half for the GGUF reader, a quarter each for the OpenAI request parsers
# and the policy loader.
quarter=$((seconds / 4))
./parapet_gguf_fuzz -max_total_time="$((seconds - 2 * quarter))" -rss_limit_mb=2048 -timeout=10 \
  -max_len=65536 -print_final_stats=1 corpus-gguf ../tests/fuzz/corpus/gguf
./parapet_openai_request_fuzz -max_total_time="$((quarter > 0 ? quarter : 1))" -rss_limit_mb=2048 \
  -timeout=10 -max_len=65536 -print_final_stats=1 corpus-openai-request \
  ../tests/fuzz/corpus/openai_request
./parapet_policy_fuzz -max_total_time="$((quarter > 0 ? quarter : 1))" -rss_limit_mb=2048 \
  -timeout=10 -max_len=16384 -print_final_stats=1 corpus-policy ../tests/fuzz/corpus/policy
