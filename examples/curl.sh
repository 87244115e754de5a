#!/usr/bin/env bash
# curl against a running gateway: models, a chat completion, a stream, the legacy completions
# endpoint with log-probabilities. Usage: examples/curl.sh [URL] [CA_FILE]
# (the demo prints its self-signed certificate's path at start; PARAPET_API_KEY if keys are set)
set -euo pipefail
url=${1:-https://127.0.0.1:8443}
ca=${2:+--cacert $2}
auth=()
[ -n "${PARAPET_API_KEY:-}" ] && auth=(-H "Authorization: Bearer $PARAPET_API_KEY")
# shellcheck disable=SC2086
c() { curl -sS $ca "${auth[@]}" -H 'Content-Type: application/json' "$@"; echo; }
c "$url/v1/models"
c "$url/v1/chat/completions" -d '{"model":"stories260K","max_tokens":40,
  "messages":[{"role":"user","content":"Tell me a story"}]}'
c -N "$url/v1/chat/completions" -d '{"model":"stories260K","max_tokens":20,"stream":true,
  "stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello"}]}'
c "$url/v1/completions" -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":8,
  "logprobs":2,"echo":true}'
