#!/bin/sh
# Checks the API layer's response shapes against the official `openai` npm client.
# Usage: tests/gateway/client_compat/run.sh BUILD_DIR NODE_MODULES_PARENT
#   BUILD_DIR: a configured and built tree (needs gateway/ and common/ libraries);
#   NODE_MODULES_PARENT: a directory where `npm install openai` was run.
set -eu
build=$(cd "$1" && pwd)
modules=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
c++ -std=c++20 -O1 -I"$src" "$here/gen_fixtures.cc" -o "$work/gen" \
  "$build/gateway/libparapet_gateway.a" "$build/common/libparapet_common.a" \
  -lboost_json -lssl -lcrypto
cp "$here/check.mjs" "$work/"
ln -s "$modules/node_modules" "$work/node_modules"
cd "$work" && ./gen && node check.mjs
