#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts the gateway on the shipped demo model
# (examples/demo.yaml: https://127.0.0.1:8443, self-signed certificate for localhost generated at
# start). It prints a working curl command; Ctrl-C (SIGINT) or SIGTERM stops it gracefully.
# Arguments are passed to `parapet serve` (e.g. --port 9443, --insecure-http).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/cli/parapet serve --config examples/demo.yaml "$@"
