#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test suite (unit,
# golden-output, CLI and bad-input tests), then the GGUF fuzz target for a bounded time under
# ASan/UBSan. Exit status 0 only if everything passed.
#   PARAPET_FUZZ_SECONDS  fuzzing time (default 60; 0 skips the fuzz step)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j 2 --timeout 900
fuzz_seconds=${PARAPET_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
