#!/usr/bin/env bash
# The audit trail end to end (figures in bench/README.md). Run after scripts/build.sh:
#   bench/audit_gateway_bench.sh [SECONDS]
# 1-token completions on the demo model over HTTPS at 64 keep-alive connections (wrk), with the
# default policy, without and with --audit-dir (admission and completion records made durable
# per request, group commit), in the same run on the same disk. Prints requests/s and latency
# p50/p99 of both and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}s"
parapet=build/cli/parapet
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_init parapet-audit-bench

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$parapet" audit keygen --out "$work/keys" >/dev/null
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"stories260K","prompt":"Once upon a time","max_tokens":1,"temperature":0}'
LUA
# run LABEL ARGS...: serve, load for $duration, stop.
run() {
  local label=$1
  shift
  start_gateway --model models/stories260K.gguf --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
    --threads 1 --io-threads 1 --max-seqs 64 --max-queue 1024 \
    --policy examples/policies/default.yaml "$@"
  wrk -t2 -c64 -d"$duration" --latency -s "$work/post.lua" "$url/v1/completions" >"$work/wrk.$label.txt"
  stop_gateway
}
run plain
run audited --audit-dir "$work/log" --audit-keys "$work/keys"
rps() { grep 'Requests/sec' "$work/wrk.$1.txt" | awk '{print $2}'; }
pct() { grep -E "^ +$2%" "$work/wrk.$1.txt" | awk '{print $2}'; }
echo "without audit: $(rps plain) req/s, latency p50 $(pct plain 50) p99 $(pct plain 99)"
echo "with audit:    $(rps audited) req/s, latency p50 $(pct audited 50) p99 $(pct audited 99)"
awk -v a="$(rps audited)" -v b="$(rps plain)" 'BEGIN{printf "ratio: %.2fx\n", a / b}'
"$parapet" audit verify "$work/log" --pubkey "$work/keys/signing.pub" | tail -1
