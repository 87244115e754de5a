#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the engine on the shipped demo model.
# Arguments are passed to `parapet generate` (default: a story from "Once upon a time").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ $# -eq 0 ]; then
  set -- --prompt "Once upon a time" --max-tokens 120 --temperature 0.8 --seed 42
fi
exec build/cli/parapet generate --model models/stories260K.gguf "$@"
