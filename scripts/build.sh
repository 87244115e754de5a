#!/usr/bin/env bash
# Configures and builds Parapet into ./build (Release with debug info), 2 parallel jobs by
# default (PARAPET_JOBS overrides). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${PARAPET_JOBS:-2}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j "$jobs"
