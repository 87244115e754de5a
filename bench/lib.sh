# Shared by the gateway benchmark scripts (sourced). Needs $parapet (the binary), $work (a
# scratch directory) and the array `pids` (processes to kill on exit).

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
