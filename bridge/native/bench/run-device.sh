#!/usr/bin/env bash
# Runs the device driver (device.c) against an emulated edu and NVMe in the CPU placements the
# README's latency table uses: unpinned, both on one CPU (taskset -c 0), and the server on CPU 1
# with the program on CPU 0 (a `serve --device edu --device nvme` spinning 50 µs). The load
# average is printed first: these figures mean little on a busy machine.
# Usage: bridge/native/bench/run-device.sh [iterations]   (from the repository root)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
N="${1:-20000}"
DEV="$ROOT/bridge/target/native/bench/device"
"$ROOT/run.sh" --version >/dev/null # builds if needed
echo "== unpinned ($(uptime | sed 's/.*load/load/'))"
"$ROOT/run.sh" exec --device edu --device nvme -- "$DEV" "$N"
echo "== one CPU (taskset -c 0) ($(uptime | sed 's/.*load/load/'))"
taskset -c 0 "$ROOT/run.sh" exec --device edu --device nvme -- "$DEV" "$N"
echo "== server on CPU 1, program on CPU 0 ($(uptime | sed 's/.*load/load/'))"
dir=$(mktemp -d)
taskset -c 1 "$ROOT/run.sh" serve --socket "$dir/sock" --device edu --device nvme --spin-us 50 >"$dir/out" 2>&1 &
server=$!
for _ in $(seq 300); do grep -q 'run programs with' "$dir/out" && break; sleep 0.1; done
grep -q 'run programs with' "$dir/out" || { echo "serve did not start in 30 s" >&2; kill "$server"; exit 1; }
# The line names the shim, the socket and the testbed: run the program with exactly that.
read -ra env < <(sed -n 's/.*run programs with: \(.*\) PROGRAM$/\1/p' "$dir/out")
env "${env[@]}" IOMMUFD4J_SPIN_US=50 taskset -c 0 "$DEV" "$N"
kill "$server"
wait "$server" 2>/dev/null || true
rm -rf "$dir"
