#!/usr/bin/env bash
# A guard model in the request path, end to end (figures in bench/README.md). Run after
# scripts/build.sh:
#   bench/guard_gateway_bench.sh [--requests N] [--concurrency K]
# Serves the Mixtral-shaped synthetic chat model (Q4_0, bench-models/, written once by
# parapet_model_bench) with a Llama-3.2-1B-shaped synthetic guard (Q8_0, written once by
# parapet_guard_bench): first with an input policy of one cheap regex stage (the baseline), then
# with a guard_model stage added (threshold 1: it scores and never blocks, so every request runs
# the same work), once evaluating the guard's whole prompt in every check (reuse_prefix: false)
# and once with its instruction prefix cached (the default). Sends N sequential completions of 8
# tokens (the added latency of one input check) and K concurrent ones (checks batched on the
# guard's lane of the scheduler); prints p50 latency, requests/s and the guard's prompt tokens
# evaluated / reused per check. Then how checks and generation share the one scheduler: K streams
# of 96 tokens alone and with guard checks (/v1/moderations) sent back to back meanwhile — chat
# tokens/s and check p50 (the first check, evaluated with the streams' own input checks, aside).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=5
concurrency=4
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--concurrency K]" >&2; exit 2 ;;
  esac
done
parapet=build/cli/parapet
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_init parapet-guard-gw-bench

mkdir -p bench-models
[ -f bench-models/mixtral-shaped-Q4_0.gguf ] ||
  build/bench/parapet_model_bench --encodings Q4_0 --prompt 1 --decode 1 --reps 1 >/dev/null
guard=bench-models/guard-1b-16L-Q8_0.gguf
[ -f "$guard" ] || build/bench/parapet_guard_bench --dir bench-models --checks 1 --concurrency 1 >/dev/null
model=bench-models/mixtral-shaped-Q4_0.gguf

cat >"$work/baseline.yaml" <<'YAML'
version: 1
policies:
  default:
    input:
      - {id: deny, type: regex, action: block, patterns: [{id: x, pattern: 'pipe\s*bomb'}]}
YAML
cat >"$work/guard.yaml" <<'YAML'
version: 1
policies:
  default:
    input:
      - {id: deny, type: regex, action: block, patterns: [{id: x, pattern: 'pipe\s*bomb'}]}
      - {id: guard, type: guard_model, model: guard-1b-16L-Q8_0, threshold: 1.0, timeout_ms: 120000}
YAML

body() {
  echo "{\"model\":\"mixtral-shaped-Q4_0\",\"prompt\":\"Request $1: how do I get my neighbour's dog to stop barking at night without hurting it? We have tried everything our vet suggested.\",\"max_tokens\":${2:-8},\"temperature\":0,\"ignore_eos\":true}"
}
# Prints the seconds one request takes (completion of $2 tokens, default 8).
one() { curl -s -o /dev/null -w '%{time_total}' "$url/v1/completions" -d "$(body "$1" "${2:-}")"; }
# Prints the seconds one moderation request (the input policy alone: one guard check) takes.
check() {
  curl -s -o /dev/null -w '%{time_total}' "$url/v1/moderations" \
    -d "{\"input\":\"Check $1: how do I get my neighbour's dog to stop barking at night?\"}"
}
# Prints the seconds $concurrency completions of $stream_tokens tokens take, all at once.
streams() {
  local s e i spids=()
  s=$(date +%s.%N)
  for i in $(seq 1 "$concurrency"); do one $((200 + i)) "$stream_tokens" >/dev/null & spids+=($!); done
  wait "${spids[@]}"
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f", e - s}'
}
stream_tokens=96
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# The same guard with its instruction prefix evaluated in every check (no KV reuse).
printf 'guard_models:\n  - {path: %s, reuse_prefix: false}\n' "$PWD/$guard" >"$work/no-reuse.yaml"

declare -A p50 rps
for run in baseline no-reuse guard; do
  policy=$run
  guard_args=(--guard-model "$guard")
  if [ "$run" = no-reuse ]; then
    policy=guard
    guard_args=(--config "$work/no-reuse.yaml")
  fi
  start_gateway --model "$model" --insecure-http --threads 2 --max-seqs 8 --io-threads 1 \
    --policy "$work/$policy.yaml" "${guard_args[@]}"
  one 0 >/dev/null  # warm-up (and, with the guard, the cached prefix)
  p50[$run]=$(for i in $(seq 1 "$requests"); do one "$i"; echo; done | median)
  start=$(date +%s.%N)
  cpids=()
  for i in $(seq 1 "$concurrency"); do one $((100 + i)) >/dev/null & cpids+=($!); done
  wait "${cpids[@]}"
  end=$(date +%s.%N)
  rps[$run]=$(awk -v n="$concurrency" -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", n / (e - s)}')
  echo "$run: one request p50 ${p50[$run]} s; $concurrency at once: ${rps[$run]} requests/s"
  if [ "$policy" = guard ]; then
    curl -s "$url/metrics" | awk '
      /^parapet_guard_prompt_tokens_total.*evaluated/ {e = $NF}
      /^parapet_guard_prompt_tokens_total.*reused/ {r = $NF}
      /^parapet_guard_checks_total/ {c += $NF}
      END {printf "guard: %d checks, %.0f prompt tokens evaluated and %.0f reused per check\n", c, e / c, r / c}'
  fi
  if [ "$run" = guard ]; then
    # Checks and generation on the one scheduler: guard checks alone, chat streams alone, then
    # both at once (checks sent back to back while the streams decode).
    idle_check=$(for i in $(seq 1 "$requests"); do check "$i"; echo; done | median)
    alone=$(streams)
    streams >"$work/with" &
    spid=$!
    : >"$work/checks"
    n=100  # every check a different text: a repeated one would be served from the last one's cache
    while kill -0 "$spid" 2>/dev/null; do
      n=$((n + 1))
      check "$n" >>"$work/checks"
      echo >>"$work/checks"
    done
    wait "$spid"
    with=$(cat "$work/with")
    # The first check is evaluated together with the streams' own input checks: not counted.
    busy_check=$(tail -n +2 "$work/checks" | median)
    n_checks=$(($(grep -c . "$work/checks") - 1))
    awk -v k="$concurrency" -v t="$stream_tokens" -v a="$alone" -v w="$with" -v ic="$idle_check" \
      -v bc="$busy_check" -v n="$n_checks" 'BEGIN{
        printf "chat: %d streams x %d tokens alone %.1f tok/s; with %d guard checks meanwhile %.1f tok/s (%.2fx)\n", k, t, k * t / a, n, k * t / w, a / w
        printf "guard check p50: idle %.3f s; while the streams decode %.3f s (%.2fx)\n", ic, bc, bc / ic }'
  fi
  stop_gateway
done
awk -v a="${p50[baseline]}" -v b="${p50[guard]}" -v n="${p50[no-reuse]}" 'BEGIN{
  printf "added by the guard check: %.3f s per request (p50 %.3f -> %.3f s); without prefix reuse %.3f s (%.2fx)\n", b - a, a, b, n - a, (n - a) / (b - a) }'
