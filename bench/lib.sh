# Shared by the gateway benchmark scripts (sourced). Needs $parapet (the binary); bench_init
# makes $work (a scratch directory) and the array `pids` (processes to kill on exit).

# bench_init NAME: a scratch directory /tmp/NAME.XXXXXX in $work, removed on exit, and `pids`,
# every process in it killed on exit.
bench_init() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# Starts `parapet serve ARGS...` and sets $url once it listens.
start_gateway() {
  "$parapet" serve --port 0 "$@" >"$work/serve.out" 2>"$work/serve.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    kill -0 "${pids[-1]}" 2>/dev/null || break
    url=$(grep -o 'https\?://[0-9.:]*' "$work/serve.out" 2>/dev/null | head -1 || true)
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "gateway did not start:"; cat "$work/serve.log"; exit 1
}

stop_gateway() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }
