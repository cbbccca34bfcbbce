#!/usr/bin/env bash
# Runs the NVMe benchmark (nvme.c) under `exec --device nvme` on a memory-backed namespace and on
# a file-backed one (a sparse file in a new temporary directory, removed afterwards), through the
# cdev, then the group and container on memory. The load average is printed before each: these
# figures mean little on a busy machine (the CPU columns least so).
# Usage: bridge/native/bench/run-nvme.sh [seconds per test, default 3]   (from the repository root)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
SECONDS_PER_TEST="${1:-3}"
BENCH="$ROOT/bridge/target/native/bench/nvme"
"$ROOT/run.sh" --version >/dev/null # builds if needed
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== memory-backed namespace, cdev ($(uptime | sed 's/.*load/load/'))"
"$ROOT/run.sh" exec --device nvme,size=64M -- "$BENCH" "$SECONDS_PER_TEST" cdev
echo "== file-backed namespace, cdev ($(uptime | sed 's/.*load/load/'))"
"$ROOT/run.sh" exec --device "nvme,backing=$dir/disk.img,size=64M" -- "$BENCH" "$SECONDS_PER_TEST" cdev
echo "== memory-backed namespace, group and container ($(uptime | sed 's/.*load/load/'))"
"$ROOT/run.sh" exec --device nvme,size=64M -- "$BENCH" "$SECONDS_PER_TEST" group
