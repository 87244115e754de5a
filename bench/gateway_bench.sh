#!/usr/bin/env bash
# Gateway benchmarks (figures in bench/README.md). Run after scripts/build.sh:
#   bench/gateway_bench.sh [--quick]
# 1. HTTPS serving: requests/s and p50/p99 latency of short completions (1 token on the demo
#    model) at 64 concurrent TLS keep-alive connections (wrk), next to nginx serving a small
#    static file over TLS with the same certificate on the same machine: the ceiling for an
#    HTTPS server here.
# 2. Continuous batching: aggregate decode tokens/s at 1, 4 and 16 concurrent streams on the
#    Mixtral-shaped synthetic model in Q4_0 (bench/synthetic_model.h, written once into
#    bench-models/ by parapet_model_bench), 64 tokens per stream.
# Needs wrk and nginx (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
duration=$([ $quick = 1 ] && echo 5s || echo 15s)
parapet=build/cli/parapet
work=$(mktemp -d /tmp/parapet-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

echo "== 1. HTTPS: 64 connections, $duration each (wrk -t2 -c64 --latency) =="
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"stories260K","prompt":"Once upon a time","max_tokens":1,"temperature":0}'
LUA
start_gateway --model models/stories260K.gguf --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --threads 1 --io-threads 1 --max-seqs 64 --max-queue 1024
wrk -t2 -c64 -d"$duration" --latency -s "$work/post.lua" "$url/v1/completions" | tee "$work/wrk-parapet.txt"
echo "== parapet GET /healthz (the transport alone: TLS, HTTP, routing; no engine) =="
wrk -t2 -c64 -d"$duration" --latency "$url/healthz" | tee "$work/wrk-healthz.txt"
stop_gateway

mkdir -p "$work/www" "$work/nginx"
echo '{"object":"text_completion","choices":[{"text":",","index":0,"finish_reason":"length"}]}' \
  >"$work/www/completion.json"
chmod 755 "$work" "$work/www"; chmod 644 "$work/www/completion.json"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:18443 ssl;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $work/www;
    location = /completion.json { default_type application/json; }
  }
}
NGINX
nginx -c "$work/nginx.conf"
sleep 0.5
echo "== nginx, static file over TLS, same certificate (1 worker) =="
wrk -t2 -c64 -d"$duration" --latency https://127.0.0.1:18443/completion.json | tee "$work/wrk-nginx.txt"
kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"

rps() { grep 'Requests/sec' "$1" | awk '{print $2}'; }
ratio() { awk -v a="$(rps "$1")" -v b="$(rps "$work/wrk-nginx.txt")" 'BEGIN{printf "%.2f", a/b}'; }
echo "HTTPS summary: nginx $(rps "$work/wrk-nginx.txt") req/s;" \
  "parapet completions $(rps "$work/wrk-parapet.txt") req/s ($(ratio "$work/wrk-parapet.txt")x);" \
  "parapet /healthz $(rps "$work/wrk-healthz.txt") req/s ($(ratio "$work/wrk-healthz.txt")x)"

echo "== 2. Continuous batching: Mixtral-shaped Q4_0, 64 tokens per stream =="
mkdir -p bench-models
[ -f bench-models/mixtral-shaped-Q4_0.gguf ] ||
  build/bench/parapet_model_bench --encodings Q4_0 --prompt 1 --decode 1 --reps 1 >/dev/null
start_gateway --model bench-models/mixtral-shaped-Q4_0.gguf --insecure-http --threads 2 \
  --max-seqs 16 --io-threads 1
body='{"model":"mixtral-shaped-Q4_0","prompt":[1,2,3,4],"max_tokens":64,"temperature":0,"ignore_eos":true}'
curl -s "$url/v1/completions" -d "$body" >/dev/null  # warm-up
for n in 1 4 16; do
  start=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    curl -s "$url/v1/completions" -d "$body" -o "$work/out.$i" &
  done
  wait $(jobs -p | grep -v "${pids[-1]}") 2>/dev/null || true
  end=$(date +%s.%N)
  tokens=0
  for i in $(seq 1 "$n"); do
    t=$(grep -o '"completion_tokens":[0-9]*' "$work/out.$i" | cut -d: -f2)
    tokens=$((tokens + ${t:-0}))
  done
  awk -v n="$n" -v t="$tokens" -v s="$start" -v e="$end" \
    'BEGIN{printf "streams %2d: %4d tokens in %.2f s = %.1f tok/s aggregate\n", n, t, e - s, t / (e - s)}'
done
stop_gateway
