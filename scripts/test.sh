#!/usr/bin/env bash
# The test command: installs what is missing, builds, fuzzes the GGUF reader for a bounded time
# under ASan/UBSan, then runs every test suite through CTest (unit, golden-output, CLI and
# bad-input tests; CTest's summary is the last thing printed). Exit status 0 only if everything
# passed.
#   PARAPET_FUZZ_SECONDS  fuzzing time (default 60; 0 skips the fuzz step)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
fuzz_seconds=${PARAPET_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
ctest --test-dir build --output-on-failure -j 2 --timeout 900
