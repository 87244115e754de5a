#!/usr/bin/env bash
# The streaming output guard under load (figures in bench/README.md). Run after scripts/build.sh:
#   bench/output_guard_bench.sh [--rounds N]
# 16 concurrent streamed completions (64 tokens each, ignore_eos) on the Mixtral-shaped synthetic
# model in Q4_0 (written once into bench-models/ by parapet_model_bench), served with
# examples/policies/default.yaml and with the same policy minus its output section (input stages
# only), in alternating rounds. Prints aggregate decode tokens/s of each round and the ratio of
# the medians, and the guard's generation -> release latency per token (p50/p99 from the
# gateway's parapet_output_release_seconds histogram: bucket upper bounds).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
[ "${1:-}" = "--rounds" ] && rounds=$2
parapet=build/cli/parapet
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_init parapet-guard-bench

mkdir -p bench-models
[ -f bench-models/mixtral-shaped-Q4_0.gguf ] ||
  build/bench/parapet_model_bench --encodings Q4_0 --prompt 1 --decode 1 --reps 1 >/dev/null
model=bench-models/mixtral-shaped-Q4_0.gguf
# The same policy without its output section (and without its tests, some of which are output
# tests; they sit after it at the end of the file).
awk '/^    output:/{skip=1} !skip' examples/policies/default.yaml >"$work/input-only.yaml"
grep -q '^    output:' "$work/input-only.yaml" && { echo "could not strip the output section"; exit 1; }

body='{"model":"mixtral-shaped-Q4_0","prompt":[1,2,3,4],"max_tokens":64,"temperature":0,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}'
# One round: 16 concurrent streams; prints aggregate tokens/s.
round() {
  local start end tokens=0
  start=$(date +%s.%N)
  local cpids=()
  for i in $(seq 1 16); do
    curl -s -N "$url/v1/completions" -d "$body" -o "$work/out.$i" &
    cpids+=($!)
  done
  wait "${cpids[@]}"
  end=$(date +%s.%N)
  for i in $(seq 1 16); do
    t=$(grep -o '"completion_tokens":[0-9]*' "$work/out.$i" | tail -1 | cut -d: -f2)
    tokens=$((tokens + ${t:-0}))
  done
  awk -v t="$tokens" -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", t / (e - s)}'
}

declare -A rates
for policy in input-only default; do rates[$policy]=""; done
for r in $(seq 1 "$rounds"); do
  for policy in input-only default; do
    file=$([ $policy = default ] && echo examples/policies/default.yaml || echo "$work/input-only.yaml")
    start_gateway --model "$model" --insecure-http --threads 2 --max-seqs 16 --io-threads 1 \
      --policy "$file"
    curl -s "$url/v1/completions" -d "${body/\"stream\":true/\"stream\":false}" >/dev/null  # warm-up
    rate=$(round)
    rates[$policy]="${rates[$policy]} $rate"
    echo "round $r, $policy policy: 16 streams x 64 tokens: $rate tok/s aggregate"
    if [ $policy = default ]; then curl -s "$url/metrics" >"$work/metrics.$r"; fi
    stop_gateway
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
a=$(echo "${rates[input-only]}" | median)
b=$(echo "${rates[default]}" | median)
awk -v a="$a" -v b="$b" 'BEGIN{printf "median: input-only %.1f tok/s, with the output guard %.1f tok/s (%.3fx, %.1f%% change)\n", a, b, b / a, (b / a - 1) * 100}'

# Release latency: p50/p99 over all rounds from the cumulative histogram buckets.
total=$(cat "$work"/metrics.* | awk '/^parapet_output_release_seconds_count/ {t += $NF} END {print t + 0}')
if [ "$total" = 0 ]; then echo "no release latencies recorded"; exit 1; fi
cat "$work"/metrics.* |
  sed -n 's/^parapet_output_release_seconds_bucket{le="\([0-9.e+-]*\)"} \([0-9]*\)$/\1 \2/p' |
  awk '{n[$1] += $2} END {for (l in n) print l, n[l]}' | sort -g |
  awk -v total="$total" '
    !p50 && $2 >= 0.5 * total { p50 = $1 }
    !p99 && $2 >= 0.99 * total { p99 = $1 }
    END { printf "generation -> release per token (%d tokens): p50 <= %g s, p99 <= %g s\n", total, p50, p99 }'
