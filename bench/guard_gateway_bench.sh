#!/usr/bin/env bash
# A guard model in the request path, end to end (figures in bench/README.md). Run after
# scripts/build.sh:
#   bench/guard_gateway_bench.sh [--requests N] [--concurrency K]
# Serves the Mixtral-shaped synthetic chat model (Q4_0, bench-models/, written once by
# parapet_model_bench) with a Llama-3.2-1B-shaped synthetic guard (Q8_0, written once by
# parapet_guard_bench), first with an input policy of one cheap regex stage (the baseline), then
# with a guard_model stage (threshold 1: it scores and never blocks, so every request runs the
# same work). Sends N sequential completions of 8 tokens (the added latency of one input check)
# and K concurrent ones (checks batched by the guard's scheduler); prints p50 latency, requests/s
# and the guard's prompt tokens evaluated / reused per check.
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
  echo "{\"model\":\"mixtral-shaped-Q4_0\",\"prompt\":\"Request $1: how do I get my neighbour's dog to stop barking at night without hurting it? We have tried everything our vet suggested.\",\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}"
}
# Prints the seconds one request takes.
one() { curl -s -o /dev/null -w '%{time_total}' "$url/v1/completions" -d "$(body "$1")"; }
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A p50 rps
for policy in baseline guard; do
  start_gateway --model "$model" --insecure-http --threads 2 --max-seqs 8 --io-threads 1 \
    --policy "$work/$policy.yaml" --guard-model "$guard"
  one 0 >/dev/null  # warm-up (and, with the guard, the cached prefix)
  p50[$policy]=$(for i in $(seq 1 "$requests"); do one "$i"; echo; done | median)
  start=$(date +%s.%N)
  cpids=()
  for i in $(seq 1 "$concurrency"); do one $((100 + i)) >/dev/null & cpids+=($!); done
  wait "${cpids[@]}"
  end=$(date +%s.%N)
  rps[$policy]=$(awk -v n="$concurrency" -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", n / (e - s)}')
  echo "$policy policy: one request p50 ${p50[$policy]} s; $concurrency at once: ${rps[$policy]} requests/s"
  if [ $policy = guard ]; then
    curl -s "$url/metrics" | awk '
      /^parapet_guard_prompt_tokens_total.*evaluated/ {e = $NF}
      /^parapet_guard_prompt_tokens_total.*reused/ {r = $NF}
      /^parapet_guard_checks_total/ {c += $NF}
      END {printf "guard: %d checks, %.0f prompt tokens evaluated and %.0f reused per check\n", c, e / c, r / c}'
  fi
  stop_gateway
done
awk -v a="${p50[baseline]}" -v b="${p50[guard]}" \
  'BEGIN{printf "added by the guard check: %.3f s per request (p50 %.3f -> %.3f s)\n", b - a, a, b}'
