#!/usr/bin/env bash
# Decompresses the engine's golden-test models from the read-only shared data folder into the
# build tree and checks their sha256. Usage: prepare_fixtures.sh SHARED_DIR OUT_DIR
set -euo pipefail
shared=$1
out=$2
src="$shared/data/engine/models"
if [ ! -d "$src" ]; then
  echo "prepare_fixtures: $src not found; engine golden tests will be skipped"
  exit 0
fi
mkdir -p "$out/engine"
for xz in "$src"/*.gguf.xz; do
  gguf="$out/engine/$(basename "${xz%.xz}")"
  if [ ! -s "$gguf" ] || [ "$xz" -nt "$gguf" ]; then
    xz -dc "$xz" >"$gguf.tmp" && mv "$gguf.tmp" "$gguf"
  fi
done
sed 's|  models/|  |' "$src/../SHA256SUMS.gguf" | (cd "$out/engine" && sha256sum -c --quiet -)
echo "prepare_fixtures: $(ls "$out"/engine/*.gguf | wc -l) models ready in $out/engine"
