#!/usr/bin/env bash
# Installs every Debian 12 package Parapet's build and tests need. Idempotent: when all packages
# are already present it changes nothing and does not touch the network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git xz-utils
  clang libclang-rt-14-dev clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libboost1.81-dev libboost-json1.81-dev libssl-dev openssl libyaml-cpp-dev
  libre2-dev libutf8proc-dev libfasttext-dev
  curl nghttp2-client wrk nginx
  python3  # scripts/classifier_data.py rebuilds the classifiers' held-out test split in tests/cli
  chromium  # renders the audit HTML report in tests/audit (headless)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the integration tests' official `openai` client. A machine that already has a
# `node` (e.g. from another package source) keeps it; otherwise Debian's nodejs + npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# nginx (installed for the HTTPS benchmark's baseline) must not hold ports on its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
fi

# The official OpenAI client for the integration tests, pinned by package-lock.json, from the
# npm registry (once; later runs find it installed).
cd "$(dirname "$0")/../tests/integration"
if [ ! -d node_modules/openai ]; then
  echo "setup: npm ci (tests/integration: the openai client)"
  npm ci --no-audit --no-fund --loglevel=error
fi
