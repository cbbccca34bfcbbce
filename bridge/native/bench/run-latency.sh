#!/usr/bin/env bash
# Runs the latency driver through the bridge in every configuration the README reports:
# unpinned, both on one CPU (taskset -c 0), and server on CPU 1 with the program on CPU 0;
# each with the mailbox (default) and with socket frames only (IOMMUFD4J_MAILBOX=0).
# Usage: bridge/native/bench/run-latency.sh [iterations]   (from the repository root)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
N="${1:-20000}"
LAT="$ROOT/bridge/target/native/bench/latency"
SHIM="$ROOT/bridge/target/native/libiommufd4j-shim.so"
"$ROOT/run.sh" --version >/dev/null   # builds if needed
for transport in mailbox socket; do
  mb=1; [ "$transport" = socket ] && mb=0
  echo "== unpinned, $transport"
  IOMMUFD4J_MAILBOX=$mb "$ROOT/run.sh" exec -- "$LAT" "$N"
  echo "== one CPU (taskset -c 0), $transport"
  IOMMUFD4J_MAILBOX=$mb taskset -c 0 "$ROOT/run.sh" exec -- "$LAT" "$N"
  echo "== server on CPU 1, program on CPU 0, $transport"
  dir=$(mktemp -d); sock="$dir/sock"
  taskset -c 1 "$ROOT/run.sh" serve --socket "$sock" --spin-us 50 2>/dev/null &
  server=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  LD_PRELOAD="$SHIM" IOMMUFD4J_SOCKET="$sock" IOMMUFD4J_MAILBOX=$mb IOMMUFD4J_SPIN_US=50 \
    taskset -c 0 "$LAT" "$N"
  kill "$server"; wait "$server" 2>/dev/null || true; rm -rf "$dir"
done
